/*
 * tools-gateway — the partner-facing HTTP API (:8090): ingestion, tool registry and execution, MCP
 * and webhooks; also served over ZeroMQ RPC behind the auth-gateway.
 */
#include "backlog.h"
#include "interactions.h"
#include "ledger_events.h"
#include "partner_auth.h"
#include "platform/service.h"
#include "publisher.h"
#include "reconciler.h"
#include "reconciliation.h"
#include "tg.h"
#include "upload_worker.h"
#include "uploads.h"

static tg_t tg;

/* Background threads start once the dependencies are connected: the
 * backlog monitor first, so uploads and the reconciler see its bound. */
static int start_threads(void *ud)
{
    tg_t *t = ud;
    /* Declared (required) by sp_service_use_kafka_producer. */
    t->kafka_brokers = sp_config_str(sp_service_config(t->svc), "SERPHONA_KAFKA_BROKERS", NULL,
                                     "Kafka bootstrap servers, host:port[,host:port].");
    /* Group ids carry the topic prefix, as the processor's own does. */
    t->backlog = tg_backlog_new(t->kafka_brokers, sp_service_topic(t->svc, t->backlog_group),
                                t->topic, t->backlog_max, t->backlog_interval_ms);
    t->reconciler = tg_reconciler_new(t);
    if (!t->backlog || !t->reconciler)
        return -1;
    int rc = tg_backlog_start(t->backlog);
    if (rc == 0)
        rc = tg_publisher_start(t->publish_threads);
    if (rc == 0)
        rc = tg_worker_start(t->worker);
    return rc ? rc : tg_reconciler_start(t->reconciler);
}

/* Shutdown hooks run in reverse order: the upload workers stop first (they
 * publish synchronously), then the publisher's completion threads (the
 * servers have already let their suspended requests finish). */
static void stop_publisher(void *ud)
{
    (void)ud;
    tg_publisher_stop();
}

static void stop_workers(void *ud)
{
    tg_t *t = ud;
    tg_reconciler_destroy(&t->reconciler);
    tg_worker_destroy(&t->worker);
    tg_backlog_destroy(&t->backlog);
}

int main(int argc, char **argv)
{
    sp_service_t *svc = sp_service_new("tools-gateway", argc, argv);
    if (!svc)
        return 1;
    tg_init(&tg, svc, sp_service_config(svc));
    tg.router = sp_service_router(svc);
    tg.topic = sp_service_topic(svc, SP_EVENTS_TOPIC_INTERACTIONS);
    tg.tenant_manager = sp_service_client(svc, "tenant-manager");
    tg.worker = tg_worker_new(&tg);
    int rc = tg.topic && tg.tenant_manager && tg.worker ? 0 : -1;
    if (rc || sp_service_use_postgres(svc, "tools") != 0 || sp_service_use_redis(svc) != 0 ||
        sp_service_use_kafka_producer(svc) != 0 || sp_service_serve_rpc(svc) != 0 ||
        tg_public_router_init(&tg) != 0 || tg_interactions_register(&tg) != 0 ||
        tg_uploads_register(&tg) != 0 || tg_reconciliation_register(&tg) != 0 ||
        tg_ledger_events_register(&tg, svc) != 0 ||
        sp_service_serve_http_router(svc, tg.public_router) != 0 ||
        sp_service_on_start(svc, start_threads, &tg) != 0 ||
        sp_service_on_shutdown(svc, stop_publisher, &tg) != 0 ||
        sp_service_on_shutdown(svc, stop_workers, &tg) != 0) {
        rc = sp_service_fail(svc);
        stop_workers(&tg);
        tg_cleanup(&tg);
        return rc;
    }
    rc = sp_service_run(svc);
    tg_cleanup(&tg);
    return rc;
}
