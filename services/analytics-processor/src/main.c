/*
 * analytics-processor — turns interaction events from Kafka into analysed rows in ClickHouse and
 * emits analysis events; its RPC port answers ping and status only.
 */
#include "platform/service.h"

int main(int argc, char **argv)
{
    sp_service_t *svc = sp_service_new("analytics-processor", argc, argv);
    if (!svc)
        return 1;
    if (sp_service_migrate_clickhouse(svc) != 0 || sp_service_use_kafka_producer(svc) != 0 ||
        sp_service_serve_rpc(svc) != 0)
        return sp_service_fail(svc);
    return sp_service_run(svc);
}
