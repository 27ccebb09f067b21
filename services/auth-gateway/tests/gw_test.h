/*
 * gw_test.h — the context of the auth-gateway's pure unit tests
 * (test_proxy.c, test_cors.c, test_tokens.c): an "auth-gateway" service
 * object that serves nothing and has no Redis (so gw_redis answers NULL and
 * every lookup goes to the RPC clients the test points at loopback), and a
 * zeroed gw_t on it. Static functions only: each test binary includes this
 * once.
 */
#ifndef GW_TEST_H
#define GW_TEST_H

#include <stdlib.h>
#include <string.h>

#include "../src/gateway.h"
#include "../src/tenancy.h"
#include "platform/rpc.h"
#include "platform/tenant_client.h"
#include "platform/log.h"

/* Fills *svc and *gw for the test program prog, logging errors only.
 * Returns 0, or -1 when the service object cannot be made. */
static inline int gw_test_init(const char *prog, sp_service_t **svc, gw_t *gw)
{
    setenv("SERPHONA_LOG_LEVEL", "error", 1);
    sp_log_init(prog, SP_LOG_ERROR);
    char *argv[] = {(char *)prog, NULL};
    *svc = sp_service_new("auth-gateway", 1, argv);
    memset(gw, 0, sizeof *gw);
    gw->svc = *svc;
    return *svc ? 0 : -1;
}

/* Connects gw to tenant-manager at tm (owned by gw from now on) through the
 * gateway's tenant client, as gateway.c does. Call after setting
 * gw->rpc_timeout_ms. Returns 0 or -1. */
static inline int gw_test_connect(gw_t *gw, sp_rpc_client_t *tm)
{
    gw->tm = tm;
    gw->tenants = tm ? gw_tenancy_new(gw) : NULL;
    return gw->tenants ? 0 : -1;
}

/* Undoes gw_test_connect: the tenant client first, it uses the RPC client. */
static inline void gw_test_disconnect(gw_t *gw)
{
    sp_tenants_destroy(&gw->tenants);
    sp_rpc_client_destroy(&gw->tm);
}

#endif
