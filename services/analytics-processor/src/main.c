/*
 * analytics-processor — turns interaction events from Kafka into analysed
 * rows in ClickHouse and emits analysis, usage and dead-letter events
 * (processor.h); applies each tenant's retention (retention.h). Its RPC port
 * answers ping and status only.
 */
#include "platform/service.h"
#include "processor.h"
#include "retention.h"

int main(int argc, char **argv)
{
    sp_service_t *svc = sp_service_new("analytics-processor", argc, argv);
    ap_processor_t *proc = NULL;
    ap_retention_t *retention = NULL;
    int rc;

    if (!svc)
        return 1;
    if (sp_service_migrate_clickhouse(svc) != 0 || sp_service_use_kafka_producer(svc) != 0 ||
        sp_service_serve_rpc(svc) != 0 || !(proc = ap_processor_new(svc)) ||
        !(retention = ap_retention_new(svc)))
        rc = sp_service_fail(svc);
    else
        rc = sp_service_run(svc);
    /* Both outlive the service: its shutdown hook stops the retention
     * thread, and its producer reports deliveries to the processor until
     * it is destroyed. */
    ap_retention_destroy(&retention);
    ap_processor_destroy(&proc);
    return rc;
}
