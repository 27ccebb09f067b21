/*
 * billing — plans, subscriptions, usage meters, quotas and invoices, served over ZeroMQ RPC.
 */
#include "platform/service.h"

int main(int argc, char **argv)
{
    sp_service_t *svc = sp_service_new("billing", argc, argv);
    if (!svc)
        return 1;
    if (sp_service_use_postgres(svc, "billing") != 0 || sp_service_serve_rpc(svc) != 0)
        return sp_service_fail(svc);
    return sp_service_run(svc);
}
