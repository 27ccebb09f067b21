/*
 * tg.c — the tools-gateway context (tg.h).
 */
#include "tg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partner_auth.h"
#include "platform/error.h"
#include "platform/log.h"
#include "platform/tenant_client.h"

void tg_init(tg_t *tg, sp_service_t *svc, sp_config_t *cfg)
{
    memset(tg, 0, sizeof(*tg));
    tg->svc = svc;
    tg->batch_max = sp_config_int(cfg, "SERPHONA_INGEST_BATCH_MAX", 500, 1, 5000,
                                  "Most interactions in one POST /v1/ingest/interactions.");
    /* Below SP_EVENTS_MESSAGE_TIMEOUT_MS, so a 503 is answered before
     * librdkafka itself gives up on the messages. */
    tg->publish_timeout_ms = sp_config_int(
        cfg, "SERPHONA_INGEST_PUBLISH_TIMEOUT_MS", 5000, 100, SP_EVENTS_MESSAGE_TIMEOUT_MS - 1000,
        "Longest wait for Kafka to acknowledge a batch before answering 503.");
    tg->publish_threads =
        sp_config_int(cfg, "SERPHONA_INGEST_COMPLETION_THREADS", 2, 1, 16,
                      "Threads that answer ingestion requests once Kafka settled their batch.");
    tg->retry_after_s = sp_config_int(cfg, "SERPHONA_INGEST_RETRY_AFTER_S", 5, 1, 3600,
                                      "Retry-After of a 503 answered by the ingestion API.");
    tg->api_key_cache_s =
        sp_config_int(cfg, "SERPHONA_API_KEY_CACHE_S", 30, 0, 60,
                      "How long a resolved partner API key is cached in Redis (0 = never).");
    tg->upload_max_bytes = (size_t)sp_config_int(
        cfg, "SERPHONA_INGEST_UPLOAD_MAX_BYTES", 64 << 20, 1024, 1 << 30,
        "Largest upload file (also bounded by SERPHONA_HTTP_MAX_BODY_BYTES of the "
        "transport).");
    tg->upload_chunk = sp_config_int(cfg, "SERPHONA_INGEST_UPLOAD_CHUNK", 200, 1, 5000,
                                     "Upload rows validated and published at once.");
    tg->upload_workers = sp_config_int(cfg, "SERPHONA_INGEST_UPLOAD_WORKERS", 2, 1, 32,
                                       "Upload jobs processed at once.");
    tg->upload_poll_ms = sp_config_int(cfg, "SERPHONA_INGEST_UPLOAD_POLL_MS", 2000, 50, 60000,
                                       "How often idle upload workers look for queued jobs.");
    tg->upload_lease_s =
        sp_config_int(cfg, "SERPHONA_INGEST_UPLOAD_LEASE_S", 60, 5, 3600,
                      "A running upload job silent this long is taken over by another worker.");
    tg->upload_errors_max = sp_config_int(cfg, "SERPHONA_INGEST_UPLOAD_ERRORS_MAX", 100, 1, 10000,
                                          "Row errors kept per upload job.");
    tg->backlog_group =
        sp_config_str(cfg, "SERPHONA_INGEST_BACKLOG_GROUP", "analytics-processor",
                      "Consumer group whose lag on the interactions topic is the backlog "
                      "(prefixed with SERPHONA_KAFKA_TOPIC_PREFIX, as every group is).");
    /* The development broker keeps about 5 MB per partition and drops the
     * oldest records past it, read or not: 10,000 records over its 6
     * partitions is ~1,700 a partition, under 1 MB at the few hundred bytes
     * of a short interaction. Real Kafka sets far more (helm values). */
    tg->backlog_max = sp_config_int(
        cfg, "SERPHONA_INGEST_BACKLOG_MAX", 10000, 1, 1000000000,
        "Interactions published but not yet consumed by SERPHONA_INGEST_BACKLOG_GROUP "
        "(serphona_ingest_backlog) above which ingestion answers 503 ingestion_backlog.");
    tg->backlog_interval_ms =
        sp_config_int(cfg, "SERPHONA_INGEST_BACKLOG_INTERVAL_MS", 1000, 100, 60000,
                      "How often the backlog is measured from the broker.");
    tg->backlog_retry_after_s = sp_config_int(cfg, "SERPHONA_INGEST_BACKLOG_RETRY_AFTER_S", 2, 1,
                                              3600, "Retry-After of a 503 ingestion_backlog.");
    tg->reconcile_grace_s = sp_config_int(
        cfg, "SERPHONA_INGEST_RECONCILE_GRACE_S", 300, 1, 7 * 86400,
        "An accepted interaction not reported analysed after this long is published again.");
    tg->reconcile_interval_s = sp_config_int(cfg, "SERPHONA_INGEST_RECONCILE_INTERVAL_S", 10, 1,
                                             3600, "Seconds between reconciler passes.");
    tg->reconcile_batch =
        sp_config_int(cfg, "SERPHONA_INGEST_RECONCILE_BATCH", 2000, 1, 100000,
                      "Interactions published again per reconciler pass at most.");
    tg->ledger_retention_days = sp_config_int(
        cfg, "SERPHONA_INGEST_LEDGER_RETENTION_DAYS", 30, 1, 3650,
        "Days an analysed or dead-lettered interaction stays in the ingestion ledger (re-sends "
        "within it are answered duplicate; the reconciliation report covers it).");
}

void tg_cleanup(tg_t *tg)
{
    tg_routes_free(tg);
    sp_router_destroy(&tg->public_router);
    sp_tenants_destroy(&tg->tenants);
}

sp_db_pool_t *tg_db(tg_t *tg)
{
    return tg->db ? tg->db : (tg->svc ? sp_service_db(tg->svc) : NULL);
}

sp_redis_pool_t *tg_redis(tg_t *tg)
{
    return tg->redis ? tg->redis : (tg->svc ? sp_service_redis(tg->svc) : NULL);
}

sp_events_producer_t *tg_producer(tg_t *tg)
{
    return tg->producer ? tg->producer : (tg->svc ? sp_service_producer(tg->svc) : NULL);
}

void tg_reply_unavailable(tg_t *tg, sp_request_t *req, const char *code, const char *message)
{
    sp_response_t *resp = sp_request_response(req);
    char secs[16];
    snprintf(secs, sizeof(secs), "%d", tg->retry_after_s);
    sp_response_error(resp, 503, code, "%s", message);
    sp_response_set_header(resp, "Retry-After", secs);
}

void tg_reply_db_error(tg_t *tg, sp_request_t *req, int rc)
{
    if (rc == SP_EUNAVAILABLE || rc == SP_ETIMEDOUT)
        tg_reply_unavailable(tg, req, "database_unavailable",
                             "the database cannot be reached; retry later");
    else
        sp_response_error(sp_request_response(req), 500, "internal", "internal error");
}

void tg_reply_json_text(sp_request_t *req, int status, const char *json_text)
{
    sp_response_t *resp = sp_request_response(req);
    sp_response_set_status(resp, status);
    sp_response_set_body(resp, json_text, strlen(json_text), "application/json");
}
