/*
 * tenant-manager — tenants, users, roles, API keys, settings, plan limits and
 * the audit log, served over ZeroMQ RPC (routes forwarded by the gateway, and
 * typed methods for other services).
 *
 *   tenant-manager                    serve
 *   tenant-manager --create-operator  create (or reset) a platform operator
 */
#include "platform/service.h"

#include "api_keys.h"
#include "audit.h"
#include "auth.h"
#include "operators.h"
#include "taxonomy.h"
#include "tenants.h"
#include "users.h"

int main(int argc, char **argv)
{
    static tm_t tm;
    sp_service_t *svc = sp_service_new("tenant-manager", argc, argv);
    if (!svc)
        return 1;
    tm_init(&tm, svc, sp_service_config(svc));
    sp_router_t *router = sp_service_router(svc);
    if (sp_service_use_postgres(svc, TM_SCHEMA) != 0 || sp_service_use_redis(svc) != 0 ||
        tm_auth_register(&tm) != 0 || tm_tenants_register(router, &tm) != 0 ||
        tm_users_register(router, &tm) != 0 || tm_api_keys_register(router, &tm) != 0 ||
        tm_audit_register(router, &tm) != 0 || tm_taxonomy_register(router, &tm) != 0 ||
        sp_service_serve_rpc(svc) != 0)
        return sp_service_fail(svc);
    if (tm_operators_cli_wanted(argc, argv))
        return tm_operators_cli(&tm, svc);
    if (tm_startup(&tm, argc, argv) != 0)
        return sp_service_fail(svc);
    return sp_service_run(svc);
}
