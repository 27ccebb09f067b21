/*
 * analytics-query — dashboard KPIs, time series, breakdowns and search over ClickHouse, served over
 * ZeroMQ RPC.
 */
#include "platform/service.h"

int main(int argc, char **argv)
{
    sp_service_t *svc = sp_service_new("analytics-query", argc, argv);
    if (!svc)
        return 1;
    if (sp_service_use_clickhouse(svc) != 0 || sp_service_serve_rpc(svc) != 0)
        return sp_service_fail(svc);
    return sp_service_run(svc);
}
