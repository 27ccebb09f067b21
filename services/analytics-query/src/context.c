/*
 * context.c — the shared dependencies and limits of analytics-query.
 */
#include "context.h"

#include "platform/error.h"

void aq_settings_defaults(aq_settings_t *set)
{
    set->query_timeout_ms = 10000;
    set->max_range_days = 731;
    set->cache_ttl_s = 60;
    set->list_max_limit = 200;
    set->list_max_offset = 10000;
    set->export_max_rows = 50000;
    set->export_max_bytes = (size_t)8 << 20;
    set->tenant_timeout_ms = 500;
}

void aq_settings_read(aq_ctx_t *ctx, sp_service_t *svc)
{
    sp_config_t *cfg = sp_service_config(svc);
    aq_settings_t *s = &ctx->set;
    s->query_timeout_ms =
        sp_config_int(cfg, "SERPHONA_ANALYTICS_QUERY_TIMEOUT_MS", s->query_timeout_ms, 100, 600000,
                      "Longest a ClickHouse query may run (max_execution_time), in ms.");
    s->max_range_days = sp_config_int(cfg, "SERPHONA_ANALYTICS_MAX_RANGE_DAYS", s->max_range_days,
                                      1, 3660, "Longest from..to window of a query, in days.");
    s->cache_ttl_s = sp_config_int(cfg, "SERPHONA_ANALYTICS_CACHE_TTL", s->cache_ttl_s, 0, 3600,
                                   "Seconds dashboard answers stay in Redis (0 = no cache).");
    s->export_max_rows =
        sp_config_int(cfg, "SERPHONA_ANALYTICS_EXPORT_MAX_ROWS", s->export_max_rows, 1, 1000000,
                      "Most rows in one CSV export response (the rest via its cursor).");
    s->export_max_bytes = (size_t)sp_config_int(
        cfg, "SERPHONA_ANALYTICS_EXPORT_MAX_BYTES", (int)s->export_max_bytes, 65536, 48 << 20,
        "Most bytes in one CSV export response (the rest via its cursor).");
}

int aq_ctx_init(aq_ctx_t *ctx, sp_service_t *svc)
{
    ctx->svc = svc;
    ctx->ch = NULL;
    ctx->redis = NULL;
    ctx->tenants = NULL;
    ctx->tenant_client = NULL;
    ctx->ch_ready = 0;
    aq_settings_defaults(&ctx->set);
    return pthread_mutex_init(&ctx->lock, NULL) == 0 ? SP_OK : SP_ENOMEM;
}

void aq_ctx_cleanup(aq_ctx_t *ctx)
{
    sp_tenants_destroy(&ctx->tenant_client);
    pthread_mutex_destroy(&ctx->lock);
}

sp_ch_t *aq_ctx_ch(aq_ctx_t *ctx)
{
    sp_ch_t *ch = ctx->ch ? ctx->ch : (ctx->svc ? sp_service_clickhouse(ctx->svc) : NULL);
    if (!ch)
        return NULL;
    pthread_mutex_lock(&ctx->lock);
    if (!ctx->ch_ready) {
        /* The server stops a query at max_execution_time; the transport waits
         * a little longer so that the server's own error arrives first. */
        sp_ch_set_timeout(ch, ctx->set.query_timeout_ms + 2000);
        ctx->ch_ready = 1;
    }
    pthread_mutex_unlock(&ctx->lock);
    return ch;
}

sp_redis_pool_t *aq_ctx_redis(aq_ctx_t *ctx)
{
    if (ctx->redis)
        return ctx->redis;
    return ctx->svc ? sp_service_redis(ctx->svc) : NULL;
}

sp_tenants_t *aq_ctx_tenant_client(aq_ctx_t *ctx)
{
    pthread_mutex_lock(&ctx->lock);
    if (!ctx->tenant_client) {
        /* Off the request path: a dashboard reads the zone from the auth
         * context, the cache or the last known value (tenants.h). */
        sp_tenants_opts_t o = {.tm = ctx->tenants,
                               .redis = ctx->redis,
                               .svc = ctx->svc,
                               .timeout_ms = ctx->set.tenant_timeout_ms,
                               .cache_ttl_s = SP_TENANTS_TTL_MAX_S,
                               .backoff_ms = 5000};
        ctx->tenant_client = sp_tenants_new(&o);
    }
    sp_tenants_t *t = ctx->tenant_client;
    pthread_mutex_unlock(&ctx->lock);
    return t;
}
