/*
 * cors.c — tenant-driven CORS (cors.h).
 */
#include "cors.h"
#include "tenancy.h"

#include "platform/error.h"
#include "platform/tenant_client.h"

#include <string.h>
#include <strings.h>

#define ALLOW_METHODS "GET, POST, PUT, PATCH, DELETE, OPTIONS"
#define ALLOW_HEADERS "Authorization, Content-Type, Idempotency-Key, X-Request-Id, traceparent"
#define EXPOSE_HEADERS                                                                             \
    "X-Request-Id, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After"

static int listed(const char *origin, char *const *origins, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(origins[i], origin) == 0)
            return 1;
    return 0;
}

static void allow(const gw_t *gw, sp_response_t *resp, const char *origin)
{
    sp_response_set_header(resp, "Access-Control-Allow-Origin", origin);
    sp_response_set_header(resp, "Vary", "Origin");
    sp_response_set_header(resp, "Access-Control-Expose-Headers", EXPOSE_HEADERS);
    if (gw->refresh_cookie)
        sp_response_set_header(resp, "Access-Control-Allow-Credentials", "true");
}

void gw_cors_allow_if_listed(const gw_t *gw, sp_request_t *req, char *const *origins, size_t n)
{
    const char *origin = sp_request_header(req, "Origin");
    if (!origin)
        return;
    sp_response_set_header(sp_request_response(req), "Vary", "Origin");
    if (listed(origin, origins, n))
        allow(gw, sp_request_response(req), origin);
}

void gw_cors_allow_any_tenant(const gw_t *gw, sp_request_t *req)
{
    if (!sp_request_header(req, "Origin"))
        return;
    char **origins = NULL;
    size_t n = 0;
    if (gw_allowed_origins(gw, sp_request_arena(req), &origins, &n) == 0)
        gw_cors_allow_if_listed(gw, req, origins, n);
}

void gw_cors_allow_for_slug(const gw_t *gw, sp_request_t *req, const char *slug)
{
    if (!sp_request_header(req, "Origin") || !slug || !*slug)
        return;
    const sp_tenants_origins_t *ao = NULL;
    if (sp_tenants_origins(gw->tenants, sp_request_arena(req), &ao) != SP_OK)
        return;
    for (size_t i = 0; i < ao->n_tenants; i++)
        if (strcasecmp(ao->tenants[i]->slug, slug) == 0) {
            gw_cors_allow_if_listed(gw, req, ao->tenants[i]->origins, ao->tenants[i]->n_origins);
            return;
        }
    sp_response_set_header(sp_request_response(req), "Vary", "Origin");
}

void gw_cors_allow_for_tenant(const gw_t *gw, sp_request_t *req, const char *tenant_id)
{
    if (!sp_request_header(req, "Origin") || !tenant_id || !*tenant_id)
        return;
    const sp_tenants_state_t *st = NULL;
    if (sp_tenants_state(gw->tenants, sp_request_arena(req), tenant_id, &st) == SP_OK && st)
        gw_cors_allow_if_listed(gw, req, st->allowed_origins, st->n_allowed_origins);
}

int gw_cors_is_operator_path(const char *path)
{
    static const char prefix[] = "/v1/tenants";
    if (!path || strncmp(path, prefix, sizeof prefix - 1) != 0)
        return 0;
    const char *rest = path + sizeof prefix - 1;
    if (*rest == '\0' || strcmp(rest, "/") == 0)
        return 1;
    if (*rest != '/')
        return 0; /* /v1/tenantsX: not this tree */
    return strncmp(rest, "/current", 8) != 0 || (rest[8] != '\0' && rest[8] != '/');
}

int gw_cors_preflight(const gw_t *gw, sp_request_t *req)
{
    if (strcmp(sp_request_method(req), "OPTIONS") != 0)
        return 0;
    const char *origin = sp_request_header(req, "Origin");
    if (!origin || !sp_request_header(req, "Access-Control-Request-Method"))
        return 0;
    sp_response_t *resp = sp_request_response(req);
    if (gw_cors_is_operator_path(sp_request_path(req))) {
        /* Platform origins were already answered by the HTTP server. */
        sp_response_set_header(resp, "Vary", "Origin");
        sp_response_error(resp, 403, "origin_not_allowed",
                          "operator routes allow only the platform's own origins");
        return 1;
    }
    char **origins = NULL;
    size_t n = 0;
    int rc = gw_allowed_origins(gw, sp_request_arena(req), &origins, &n);
    if (rc != 0) {
        sp_response_error(resp, 503, "auth_unavailable",
                          "the allowed origins cannot be read right now");
        return 1;
    }
    if (!listed(origin, origins, n)) {
        sp_response_set_header(resp, "Vary", "Origin");
        sp_response_error(resp, 403, "origin_not_allowed", "no tenant allows this origin");
        return 1;
    }
    sp_response_set_status(resp, 204);
    allow(gw, resp, origin);
    const char *want = sp_request_header(req, "Access-Control-Request-Headers");
    sp_response_set_header(resp, "Access-Control-Allow-Methods", ALLOW_METHODS);
    sp_response_set_header(resp, "Access-Control-Allow-Headers",
                           want && *want ? want : ALLOW_HEADERS);
    sp_response_set_header(resp, "Access-Control-Max-Age", "600");
    return 1;
}

static sp_handler_result_t options_any(sp_request_t *req, void *ud)
{
    if (!gw_cors_preflight(ud, req))
        sp_response_error(sp_request_response(req), 405, "method_not_allowed",
                          "OPTIONS is only answered as a CORS preflight");
    return SP_HANDLER_DONE;
}

int gw_cors_register(gw_t *gw, const char *const *paths)
{
    int rc = SP_OK;
    for (size_t i = 0; paths[i] && rc == SP_OK; i++)
        rc = sp_router_add(sp_service_router(gw->svc), "OPTIONS", paths[i], NULL, options_any, gw);
    return rc;
}
