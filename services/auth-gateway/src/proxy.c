/*
 * proxy.c — path prefix -> owning service, forwarded over ZeroMQ.
 */
#include "proxy.h"

#include "platform/error.h"
#include "platform/forward.h"
#include "platform/log.h"

#include <stdlib.h>

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

typedef struct {
    sp_rpc_client_t *client;
    int timeout_ms;
} upstream_t;

static sp_handler_result_t forward(sp_request_t *req, void *ud)
{
    const upstream_t *up = ud;
    /* No identity yet: tokens arrive with the identity work; until then the
     * back services see unauthenticated requests and refuse protected routes. */
    return sp_forward(up->client, req, NULL, up->timeout_ms);
}

static void free_upstreams(void *ud)
{
    free(ud);
}

#define N_OWNERS (sizeof(OWNERS) / sizeof(*OWNERS))

int gw_proxy_register(sp_service_t *svc)
{
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
