/*
 * partner_auth.c — API-key authentication of the public port
 * (partner_auth.h).
 */
#include "partner_auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "platform/error.h"
#include "platform/log.h"
#include "platform/permissions.h"
#include "platform/tenant_client.h"
#include "tenant.pb-c.h"

#define RESOLVE_TIMEOUT_MS 2000

typedef sp_tenants_api_key_t reply_t;

struct tg_route {
    tg_t *tg;
    char *permission;
    sp_handler_fn fn;
    tg_route_t *next;
};

void tg_api_key_cache_key(const char *key, char out[10 + 64 + 1])
{
    char k[SP_TENANTS_KEY_MAX];
    snprintf(out, 10 + 64 + 1, "%s", sp_tenants_api_key_key(k, key));
}

/* The presented key: NULL when none; "" when the header is there but
 * unusable (another scheme, blanks, absurd length). */
static const char *presented_key(sp_request_t *req)
{
    const char *key = NULL;
    const char *authz = sp_request_header(req, "Authorization");
    if (authz) {
        if (strncasecmp(authz, "Bearer ", 7) != 0)
            return "";
        key = authz + 7;
        while (*key == ' ')
            key++;
    } else {
        key = sp_request_header(req, "X-Api-Key");
        if (!key)
            return NULL;
    }
    size_t n = strlen(key);
    if (n < 8 || n > 512)
        return "";
    for (const char *p = key; *p; p++)
        if (*p < 0x21 || *p > 0x7E)
            return "";
    return key;
}

/* Resolves key through the Redis cache, then tenant-manager (the platform
 * client caches refusals for 10 s at most). Returns 0 and *out (in the
 * request's arena), or SP_EUNAVAILABLE. */
static int resolve(tg_t *tg, sp_request_t *req, const char *key, const reply_t **out)
{
    if (!tg->tenants)
        return SP_EUNAVAILABLE;
    int rc = sp_tenants_resolve_api_key(tg->tenants, sp_request_arena(req), key,
                                        tg->api_key_cache_s, out);
    return rc == SP_OK ? SP_OK : SP_EUNAVAILABLE;
}

static sp_handler_result_t partner_route(sp_request_t *req, void *ud)
{
    tg_route_t *route = ud;
    tg_t *tg = route->tg;
    sp_response_t *resp = sp_request_response(req);
    const char *key = presented_key(req);
    if (!key) {
        sp_response_set_header(resp, "WWW-Authenticate", "Bearer realm=\"serphona\"");
        sp_response_error(resp, 401, "unauthenticated",
                          "an API key is required: Authorization: Bearer <key> or X-Api-Key");
        return SP_HANDLER_DONE;
    }
    const reply_t *r = NULL;
    if (!*key) {
        sp_response_set_header(resp, "WWW-Authenticate",
                               "Bearer realm=\"serphona\", error=\"invalid_token\"");
        sp_response_error(resp, 401, "invalid_api_key", "the API key is malformed");
        return SP_HANDLER_DONE;
    }
    if (resolve(tg, req, key, &r) != 0) {
        tg_reply_unavailable(tg, req, "auth_unavailable",
                             "the API key cannot be checked right now; retry later");
        return SP_HANDLER_DONE;
    }
    switch (r->result) {
    case SERPHONA__TENANT__V1__RESOLVE_API_KEY_REPLY__RESULT__OK:
        break;
    case SERPHONA__TENANT__V1__RESOLVE_API_KEY_REPLY__RESULT__REVOKED:
        sp_response_set_header(resp, "WWW-Authenticate",
                               "Bearer realm=\"serphona\", error=\"invalid_token\"");
        sp_response_error(resp, 401, "invalid_api_key", "the API key has been revoked");
        return SP_HANDLER_DONE;
    case SERPHONA__TENANT__V1__RESOLVE_API_KEY_REPLY__RESULT__EXPIRED:
        sp_response_set_header(resp, "WWW-Authenticate",
                               "Bearer realm=\"serphona\", error=\"invalid_token\"");
        sp_response_error(resp, 401, "invalid_api_key", "the API key has expired");
        return SP_HANDLER_DONE;
    case SERPHONA__TENANT__V1__RESOLVE_API_KEY_REPLY__RESULT__TENANT_SUSPENDED:
        sp_response_error(resp, 403, "tenant_suspended", "the tenant of this API key is suspended");
        return SP_HANDLER_DONE;
    default:
        sp_response_set_header(resp, "WWW-Authenticate",
                               "Bearer realm=\"serphona\", error=\"invalid_token\"");
        sp_response_error(resp, 401, "invalid_api_key", "the API key is not valid");
        return SP_HANDLER_DONE;
    }
    if (!r->tenant_id || !*r->tenant_id) {
        sp_response_error(resp, 401, "invalid_api_key", "the API key is not valid");
        return SP_HANDLER_DONE;
    }
    sp_auth_t auth = {.tenant_id = r->tenant_id,
                      .subject = r->key_id,
                      .scopes = (const char **)r->scopes,
                      .n_scopes = r->n_scopes};
    if (sp_permissions_authorize(&auth, route->permission, NULL) != 0) {
        sp_response_error(resp, 403, "insufficient_scope", "the API key lacks the scope %s",
                          route->permission);
        return SP_HANDLER_DONE;
    }
    if (sp_request_set_auth(req, &auth) != 0) {
        sp_response_error(resp, 500, "internal", "out of memory");
        return SP_HANDLER_DONE;
    }
    sp_log_set_context(sp_request_id(req), r->tenant_id);
    return route->fn(req, tg);
}

/* Everything else on the public port: the service's own routing. */
static sp_handler_result_t pass_through(sp_request_t *req, void *ud)
{
    tg_t *tg = ud;
    return sp_router_dispatch(tg->router, req);
}

int tg_public_router_init(tg_t *tg)
{
    /* A service-to-service client: no auth context, as the auth-gateway. */
    sp_tenants_opts_t o = {.tm = tg->tenant_manager,
                           .redis = tg->redis,
                           .svc = tg->svc,
                           .timeout_ms = RESOLVE_TIMEOUT_MS};
    if (!(tg->tenants = sp_tenants_new(&o)))
        return SP_ENOMEM;
    tg->public_router = sp_router_new();
    if (!tg->public_router)
        return SP_ENOMEM;
    return sp_router_add(tg->public_router, "*", "/*", NULL, pass_through, tg);
}

int tg_route_add(tg_t *tg, const char *method, const char *pattern, const char *permission,
                 sp_handler_fn fn)
{
    tg_route_t *route = calloc(1, sizeof(*route));
    if (!route)
        return SP_ENOMEM;
    route->tg = tg;
    route->fn = fn;
    route->permission = strdup(permission);
    route->next = tg->routes;
    tg->routes = route;
    if (!route->permission)
        return SP_ENOMEM;
    int rc = sp_router_add(tg->router, method, pattern, permission, fn, tg);
    if (rc == 0 && tg->public_router)
        rc = sp_router_add(tg->public_router, method, pattern, NULL, partner_route, route);
    return rc;
}

void tg_routes_free(tg_t *tg)
{
    while (tg->routes) {
        tg_route_t *next = tg->routes->next;
        free(tg->routes->permission);
        free(tg->routes);
        tg->routes = next;
    }
}
