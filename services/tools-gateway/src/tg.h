/*
 * tg.h — the tools-gateway's shared context: its dependencies, its settings
 * and the small reply helpers every resource file uses.
 *
 * Tenancy rule of every handler: the tenant comes from the caller's auth
 * context (a partner API key resolved on the public port, or the console
 * user forwarded by the auth-gateway), never from the path, query or body.
 */
#ifndef TG_H
#define TG_H

#include <stddef.h>
#include <stdint.h>

#include "platform/config.h"
#include "platform/db.h"
#include "platform/events.h"
#include "platform/redis.h"
#include "platform/request.h"
#include "platform/router.h"
#include "platform/rpc.h"
#include "platform/service.h"

typedef struct tg_route tg_route_t;
typedef struct tg_worker tg_worker_t;
typedef struct tg_backlog tg_backlog_t;
typedef struct tg_reconciler tg_reconciler_t;

typedef struct {
    sp_service_t *svc;               /* NULL in tests, which set the fields below */
    sp_db_pool_t *db;                /* NULL: sp_service_db(svc) at first use */
    sp_redis_pool_t *redis;          /* NULL: sp_service_redis(svc) */
    sp_events_producer_t *producer;  /* NULL: sp_service_producer(svc) */
    const char *topic;               /* the interactions topic, prefixed */
    sp_rpc_client_t *tenant_manager; /* for ResolveApiKey */
    struct sp_tenants *tenants;      /* ResolveApiKey behind the cache (partner_auth.h) */
    sp_router_t *router;             /* the service's router (RPC, and behind the public one) */
    sp_router_t *public_router;      /* what the public HTTP port serves */

    int batch_max;          /* interactions per POST /v1/ingest/interactions */
    int publish_timeout_ms; /* longest wait for Kafka's acknowledgements */
    int publish_threads;    /* publisher completion threads (publisher.h) */
    int retry_after_s;      /* Retry-After of a 503 */
    int api_key_cache_s;    /* how long a resolved API key is cached (0 = never) */
    size_t upload_max_bytes;
    int upload_chunk; /* rows validated and published at once */
    int upload_workers;
    int upload_poll_ms;    /* how often idle workers look for queued jobs */
    int upload_lease_s;    /* a claimed job is another worker's after this */
    int upload_errors_max; /* row errors kept per job */

    /* Backpressure (backlog.h): the processor's lag on the topic. */
    const char *kafka_brokers; /* set when the threads start (main.c) */
    const char *backlog_group; /* the processor's consumer group */
    int backlog_max;           /* above this, ingestion answers 503 */
    int backlog_interval_ms;   /* how often the lag is measured */
    int backlog_retry_after_s; /* Retry-After of a 503 ingestion_backlog */
    /* Accepted => analysed (reconciler.h). */
    int reconcile_grace_s;     /* pending this long: published again */
    int reconcile_interval_s;  /* between reconciler passes */
    int reconcile_batch;       /* re-published per pass at most */
    int ledger_retention_days; /* settled ledger rows kept this long */

    tg_worker_t *worker;
    tg_backlog_t *backlog;       /* NULL in tests: never over */
    tg_reconciler_t *reconciler; /* NULL in tests */
    tg_route_t *routes;          /* the public port's route records (partner_auth.c) */
} tg_t;

/* Reads the settings (SERPHONA_INGEST_*, SERPHONA_API_KEY_CACHE_S) from cfg
 * into tg; svc may be NULL in tests. Errors are recorded in cfg. */
void tg_init(tg_t *tg, sp_service_t *svc, sp_config_t *cfg);

/* Frees what the context owns (route records, the public router). The
 * worker is stopped separately (upload_worker.h). */
void tg_cleanup(tg_t *tg);

/* The dependencies: the field when set, else the service's. */
sp_db_pool_t *tg_db(tg_t *tg);
sp_redis_pool_t *tg_redis(tg_t *tg);
sp_events_producer_t *tg_producer(tg_t *tg);

/* Answers 503 with Retry-After (tg->retry_after_s) and the given code. */
void tg_reply_unavailable(tg_t *tg, sp_request_t *req, const char *code, const char *message);

/* Answers a failed database call: 503 "database_unavailable" when it cannot
 * be reached or is busy, else 500 "internal". */
void tg_reply_db_error(tg_t *tg, sp_request_t *req, int rc);

/* Sets status and a JSON text body (application/json). */
void tg_reply_json_text(sp_request_t *req, int status, const char *json_text);

#endif
