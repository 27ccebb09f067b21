/*
 * context.h — what every analytics-query handler shares: the dependencies
 * (ClickHouse, Redis, the tenant-manager client) and the limits read from the
 * configuration at start.
 *
 * One aq_ctx_t lives for the whole process and is passed as the user data of
 * every route and of the cache-invalidation consumer. In the service its
 * dependencies come from the sp_service_t (available once sp_service_run has
 * connected them); unit tests leave svc NULL and set ch / redis directly.
 */
#ifndef AQ_CONTEXT_H
#define AQ_CONTEXT_H

#include <pthread.h>
#include <stddef.h>

#include "platform/clickhouse.h"
#include "platform/redis.h"
#include "platform/rpc.h"
#include "platform/service.h"
#include "platform/tenant_client.h"

typedef struct {
    int query_timeout_ms;    /* ClickHouse max_execution_time for one query */
    int max_range_days;      /* longest from..to window a request may ask for */
    int cache_ttl_s;         /* dashboard answers in Redis; 0 disables the cache */
    int list_max_limit;      /* page size cap of the interaction list */
    int list_max_offset;     /* deepest offset the list pages to */
    int export_max_rows;     /* rows of one CSV export response */
    size_t export_max_bytes; /* bytes of one CSV export response */
    int tenant_timeout_ms;   /* wait for tenant-manager.GetTenantState */
} aq_settings_t;

typedef struct {
    sp_service_t *svc;        /* NULL in unit tests */
    sp_ch_t *ch;              /* set by tests; else the service's, from first use */
    sp_redis_pool_t *redis;   /* set by tests; else the service's; NULL = no cache */
    sp_rpc_client_t *tenants; /* tenant-manager; NULL = every tenant is on UTC */
    aq_settings_t set;
    pthread_mutex_t lock;        /* guards ch_ready and tenant_client */
    sp_tenants_t *tenant_client; /* over tenants and redis, from first use */
    int ch_ready;                /* the ClickHouse client's timeout has been set */
} aq_ctx_t;

/* Settings as the service defaults them (tests start from these). */
void aq_settings_defaults(aq_settings_t *set);

/* Reads the SERPHONA_ANALYTICS_* variables into ctx->set (errors are recorded
 * in the service's config and reported by sp_service_run). */
void aq_settings_read(aq_ctx_t *ctx, sp_service_t *svc);

/* Sets up ctx (lock, defaults) for svc (may be NULL). Returns 0 or SP_ENOMEM. */
int aq_ctx_init(aq_ctx_t *ctx, sp_service_t *svc);
void aq_ctx_cleanup(aq_ctx_t *ctx);

/* The ClickHouse client, with its transport timeout matched to
 * query_timeout_ms on first use; NULL before the service connected it. */
sp_ch_t *aq_ctx_ch(aq_ctx_t *ctx);

/* The Redis pool, or NULL (no cache). */
sp_redis_pool_t *aq_ctx_redis(aq_ctx_t *ctx);

/* The tenant-manager client over ctx->tenants and the Redis pool, created
 * on first use (so after tests set them); NULL when out of memory. */
sp_tenants_t *aq_ctx_tenant_client(aq_ctx_t *ctx);

#endif
