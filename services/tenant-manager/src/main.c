/*
 * tenant-manager — tenants, users, roles, API keys, settings, plan limits and the audit log, served
 * over ZeroMQ RPC.
 */
#include "platform/service.h"

int main(int argc, char **argv)
{
    sp_service_t *svc = sp_service_new("tenant-manager", argc, argv);
    if (!svc)
        return 1;
    if (sp_service_use_postgres(svc, "tenant") != 0 || sp_service_serve_rpc(svc) != 0)
        return sp_service_fail(svc);
    return sp_service_run(svc);
}
