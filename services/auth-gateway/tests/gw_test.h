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
#include "platform/log.h"

/* Fills *svc and *gw for the test program prog, logging errors only.
 * Returns 0, or -1 when the service object cannot be made. */
static int gw_test_init(const char *prog, sp_service_t **svc, gw_t *gw)
{
    setenv("SERPHONA_LOG_LEVEL", "error", 1);
    sp_log_init(prog, SP_LOG_ERROR);
    char *argv[] = {(char *)prog, NULL};
    *svc = sp_service_new("auth-gateway", 1, argv);
    memset(gw, 0, sizeof *gw);
    gw->svc = *svc;
    return *svc ? 0 : -1;
}

#endif
