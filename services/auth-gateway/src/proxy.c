/*
 * proxy.c — path prefix -> owning service, forwarded over ZeroMQ with the
 * verified auth context (proxy.h).
 */
#include "proxy.h"
#include "cors.h"
#include "ratelimit.h"
#include "tokens.h"

#include "platform/error.h"
#include "platform/forward.h"
#include "platform/log.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *pattern; /* router pattern; a final "*" segment also matches the bare prefix */
    const char *service;
} route_owner_t;

/* Who owns which part of the public API (DESIGN.md "The services"). */
static const route_owner_t OWNERS[] = {
    {"/v1/tenants/*", "tenant-manager"},
    {"/v1/users/*", "tenant-manager"},
    {"/v1/api-keys/*", "tenant-manager"},
    {"/v1/audit-log/*", "tenant-manager"},
    {"/v1/system/tenant-manager", "tenant-manager"},
    {"/v1/billing/*", "billing"},
    {"/v1/system/billing", "billing"},
    {"/v1/agents/*", "agent-orchestrator"},
    {"/v1/conversations/*", "agent-orchestrator"},
    {"/v1/knowledge-bases/*", "agent-orchestrator"},
    {"/v1/system/agent-orchestrator", "agent-orchestrator"},
    {"/v1/tools/*", "tools-gateway"},
    {"/v1/ingest/*", "tools-gateway"},
    {"/v1/webhooks/*", "tools-gateway"},
    {"/v1/system/tools-gateway", "tools-gateway"},
    {"/v1/system/analytics-processor", "analytics-processor"},
    {"/v1/analytics/*", "analytics-query"},
    {"/v1/system/analytics-query", "analytics-query"},
};
#define N_OWNERS (sizeof(OWNERS) / sizeof(*OWNERS))

/* Routes the back services serve without a permission, forwarded without
 * credentials: the service decides (an invite token in the body, or nothing
 * secret at all). Keep this list short; everything else needs a caller. A
 * pattern's final "*" matches one or more segments. */
static const struct {
    const char *method, *pattern;
} PUBLIC_ROUTES[] = {
    {"POST", "/v1/users/invites/accept"},
    {"*", "/v1/system/*"},
};

typedef struct {
    const gw_t *gw;
    sp_rpc_client_t *client;
    int timeout_ms;
} upstream_t;

int gw_proxy_is_public(const char *method, const char *path)
{
    for (size_t i = 0; i < sizeof PUBLIC_ROUTES / sizeof *PUBLIC_ROUTES; i++) {
        if (strcmp(PUBLIC_ROUTES[i].method, "*") != 0 &&
            strcmp(PUBLIC_ROUTES[i].method, method) != 0)
            continue;
        const char *pat = PUBLIC_ROUTES[i].pattern;
        size_t plen = strlen(pat);
        if (plen >= 2 && strcmp(pat + plen - 2, "/*") == 0) {
            if (strncmp(path, pat, plen - 1) == 0 && path[plen - 1] != '\0')
                return 1;
        } else if (strcmp(path, pat) == 0) {
            return 1;
        }
    }
    return 0;
}

static sp_handler_result_t forward(sp_request_t *req, void *ud)
{
    const upstream_t *up = ud;
    const gw_t *gw = up->gw;
    if (gw->auth_disabled)
        return sp_forward(up->client, req, NULL, up->timeout_ms);
    if (gw_cors_preflight(gw, req))
        return SP_HANDLER_DONE;

    gw_caller_t caller;
    switch (gw_authenticate(gw, req, &caller)) {
    case GW_AUTH_REFUSED:
        return SP_HANDLER_DONE;
    case GW_AUTH_NONE:
        if (!gw_proxy_is_public(sp_request_method(req), sp_request_path(req))) {
            gw_unauthorized(req, "unauthenticated", "authentication is required");
            return SP_HANDLER_DONE;
        }
        if (!gw_cors_is_operator_path(sp_request_path(req)))
            gw_cors_allow_any_tenant(gw, req);
        return sp_forward(up->client, req, NULL, up->timeout_ms);
    case GW_AUTH_OK:
        break;
    }
    if (gw_ratelimit_apply(gw, req, caller.auth.tenant_id, caller.caller_key, caller.limits) != 0)
        return SP_HANDLER_DONE;
    /* Operators have no tenant of their own: only the platform's origins
     * (answered by the HTTP server) ever reach their responses. */
    if (caller.tenant)
        gw_cors_allow_if_listed(gw, req, caller.tenant->allowed_origins,
                                caller.tenant->n_allowed_origins);
    return sp_forward(up->client, req, &caller.auth, up->timeout_ms);
}

static void free_upstreams(void *ud)
{
    free(ud);
}

int gw_proxy_register(gw_t *gw)
{
    sp_service_t *svc = gw->svc;
    int timeout = sp_config_int(sp_service_config(svc), "SERPHONA_UPSTREAM_TIMEOUT_MS", 10000, 10,
                                600000, "How long the gateway waits for a back service.");
    /* One upstream per route entry keeps the lookup trivial; the RPC client
     * itself is shared per service by sp_service_client. */
    upstream_t *ups = calloc(N_OWNERS, sizeof(*ups));
    if (!ups || sp_service_on_shutdown(svc, free_upstreams, ups) != 0) {
        free(ups);
        return SP_ENOMEM;
    }
    for (size_t i = 0; i < N_OWNERS; i++) {
        ups[i].gw = gw;
        ups[i].client = sp_service_client(svc, OWNERS[i].service);
        ups[i].timeout_ms = timeout;
        if (!ups[i].client) {
            sp_log_error("no RPC client for %s", OWNERS[i].service);
            return SP_ENOMEM;
        }
        int rc =
            sp_router_add(sp_service_router(svc), "*", OWNERS[i].pattern, NULL, forward, &ups[i]);
        if (rc != 0) {
            sp_log_error("cannot route %s: %s", OWNERS[i].pattern, sp_strerror(rc));
            return rc;
        }
    }
    return SP_OK;
}
