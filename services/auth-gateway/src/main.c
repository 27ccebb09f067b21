/*
 * auth-gateway — the public HTTP front door (:8080): logs users in, issues
 * and verifies their tokens, limits request rates, and forwards each request
 * by path prefix over ZeroMQ to the service that owns it, resuming the HTTP
 * connection when the reply arrives.
 *
 * SERPHONA_AUTH_DISABLED=1 (with SERPHONA_ALLOW_INSECURE=1) forwards without
 * any check; it exists only so `make bench` can measure what authentication
 * costs, and is refused otherwise.
 */
#include "platform/log.h"
#include "platform/service.h"

#include "cors.h"
#include "gateway.h"
#include "keys.h"
#include "login.h"
#include "proxy.h"

/* The gateway's own routes, for their CORS preflights. */
static const char *const OWN_PATHS[] = {"/v1/auth/login",         "/v1/auth/refresh",
                                        "/v1/auth/logout",        "/v1/auth/me",
                                        "/.well-known/jwks.json", NULL};

int main(int argc, char **argv)
{
    sp_service_t *svc = sp_service_new("auth-gateway", argc, argv);
    if (!svc)
        return 1;
    gw_t *gw = NULL;
    if (sp_service_use_redis(svc) != 0 || !(gw = gw_new(svc)) || gw_keys_register(gw) != 0 ||
        gw_login_register(gw) != 0 || gw_cors_register(gw, OWN_PATHS) != 0 ||
        gw_proxy_register(gw) != 0 || sp_service_serve_http(svc) != 0)
        return sp_service_fail(svc);
    if (gw->auth_disabled)
        sp_log_warn("SERPHONA_AUTH_DISABLED: requests are forwarded WITHOUT authentication "
                    "(benchmarks only)");
    return sp_service_run(svc);
}
