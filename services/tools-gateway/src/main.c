/*
 * tools-gateway — the partner-facing HTTP API (:8090): ingestion, tool registry and execution, MCP
 * and webhooks; also served over ZeroMQ RPC behind the auth-gateway.
 */
#include "platform/service.h"

int main(int argc, char **argv)
{
    sp_service_t *svc = sp_service_new("tools-gateway", argc, argv);
    if (!svc)
        return 1;
    if (sp_service_use_postgres(svc, "tools") != 0 || sp_service_use_redis(svc) != 0 ||
        sp_service_use_kafka_producer(svc) != 0 || sp_service_serve_rpc(svc) != 0 ||
        sp_service_serve_http(svc) != 0)
        return sp_service_fail(svc);
    return sp_service_run(svc);
}
