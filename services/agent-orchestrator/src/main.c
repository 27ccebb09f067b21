/*
 * agent-orchestrator — agent configurations, conversations and the LLM tool-call loop, served over
 * ZeroMQ RPC; publishes conversation events to Kafka.
 */
#include "platform/service.h"

int main(int argc, char **argv)
{
    sp_service_t *svc = sp_service_new("agent-orchestrator", argc, argv);
    if (!svc)
        return 1;
    if (sp_service_use_postgres(svc, "agent") != 0 || sp_service_use_kafka_producer(svc) != 0 ||
        sp_service_serve_rpc(svc) != 0)
        return sp_service_fail(svc);
    return sp_service_run(svc);
}
