/*
 * cache.c — generation-keyed Redis cache of dashboard answers.
 */
#include "cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "filters.h"
#include "platform/clock.h"
#include "platform/crypto.h"
#include "platform/error.h"
#include "platform/log.h"
#include "platform/metrics.h"
#include "platform/redis.h"
#include "platform/text.h"

#define GEN_TTL_S 86400

static sp_counter_t *lookups, *invalidations;
static pthread_once_t metrics_once = PTHREAD_ONCE_INIT;

static void declare_metrics(void)
{
    lookups = sp_counter_new("serphona_analytics_cache_total",
                             "Dashboard cache lookups of analytics-query.", 1, "result");
    invalidations = sp_counter_new("serphona_analytics_cache_invalidations_total",
                                   "Tenant cache generations bumped by new analyses.", 0);
}

/* The tenant's generation as text ("0" when never bumped); NULL on error. */
static char *generation(sp_redis_pool_t *redis, sp_arena_t *arena, const char *tenant)
{
    char key[96];
    snprintf(key, sizeof key, "sp:analytics:gen:%s", tenant);
    char *val = NULL;
    size_t len = 0;
    int rc = sp_redis_cache_get(redis, key, &val, &len);
    if (rc == SP_ENOTFOUND)
        return sp_arena_strdup(arena, "0");
    if (rc != 0)
        return NULL;
    /* Only digits go into a key. */
    for (size_t i = 0; i < len; i++)
        if (val[i] < '0' || val[i] > '9') {
            free(val);
            return NULL;
        }
    char *gen = sp_arena_strndup(arena, val, len);
    free(val);
    return gen;
}

int aq_cache_lookup(aq_ctx_t *ctx, sp_request_t *req, const char *tenant, const char *route,
                    const char *canon, char **key)
{
    pthread_once(&metrics_once, declare_metrics);
    *key = NULL;
    sp_redis_pool_t *redis = aq_ctx_redis(ctx);
    if (!redis || ctx->set.cache_ttl_s <= 0 || !sp_uuid_valid(tenant))
        return 0;
    sp_arena_t *arena = sp_request_arena(req);
    char *gen = generation(redis, arena, tenant);
    char *material = sp_arena_printf(arena, "%s\n%s", route, canon);
    if (!gen || !material) {
        sp_counter_add(lookups, 1, "error");
        return 0;
    }
    uint8_t digest[SP_SHA256_LEN];
    sp_sha256(material, strlen(material), digest);
    char hex[SP_SHA256_LEN * 2 + 1];
    sp_hex_encode(digest, SP_SHA256_LEN, hex);
    char *k = sp_arena_printf(arena, "sp:analytics:cache:%s:%s:%s", tenant, gen, hex);
    if (!k)
        return 0;
    char *val = NULL;
    size_t len = 0;
    int rc = sp_redis_cache_get(redis, k, &val, &len);
    if (rc == 0) {
        sp_response_t *resp = sp_request_response(req);
        int set = sp_response_set_body(resp, val, len, "application/json");
        free(val);
        if (set == 0 && sp_response_set_header(resp, "X-Cache", "hit") == 0) {
            sp_response_set_status(resp, 200);
            sp_counter_add(lookups, 1, "hit");
            return 1;
        }
        return 0;
    }
    sp_counter_add(lookups, 1, rc == SP_ENOTFOUND ? "miss" : "error");
    if (rc == SP_ENOTFOUND)
        *key = k;
    return 0;
}

int aq_cache_reply(aq_ctx_t *ctx, sp_request_t *req, const char *key, const cJSON *body)
{
    sp_response_t *resp = sp_request_response(req);
    char *text = cJSON_PrintUnformatted(body);
    if (!text) {
        sp_response_error(resp, 500, "internal_error", "out of memory");
        return SP_ENOMEM;
    }
    size_t len = strlen(text);
    int rc = sp_response_set_body(resp, text, len, "application/json");
    if (rc == 0)
        rc = sp_response_set_header(resp, "X-Cache", "miss");
    if (rc == 0 && key) {
        sp_redis_pool_t *redis = aq_ctx_redis(ctx);
        if (redis && sp_redis_cache_set(redis, key, text, len, ctx->set.cache_ttl_s) != 0)
            sp_log_debug("could not cache a dashboard answer");
    }
    free(text);
    if (rc != 0) {
        sp_response_error(resp, 500, "internal_error", "out of memory");
        return SP_ENOMEM;
    }
    sp_response_set_status(resp, 200);
    return SP_OK;
}

int aq_cache_bump(sp_redis_pool_t *redis, const char *tenant)
{
    char key[96], ttl[16];
    snprintf(key, sizeof key, "sp:analytics:gen:%s", tenant);
    snprintf(ttl, sizeof ttl, "%d", GEN_TTL_S);
    const char *incr[] = {"INCR", key};
    const char *expire[] = {"EXPIRE", key, ttl};
    redisReply *r = NULL;
    int rc = sp_redis_command(redis, &r, 2, incr, NULL);
    if (rc != 0)
        return rc;
    int bad = r->type != REDIS_REPLY_INTEGER;
    freeReplyObject(r);
    if (bad)
        return SP_EPROTO;
    /* The generation outlives every answer cached under it by far; expiring
     * it only keeps Redis free of tenants that went quiet. */
    if ((rc = sp_redis_command(redis, &r, 3, expire, NULL)) != 0)
        return rc;
    freeReplyObject(r);
    return SP_OK;
}

int aq_cache_on_event(const sp_events_message_t *msg, void *ud)
{
    aq_ctx_t *ctx = ud;
    pthread_once(&metrics_once, declare_metrics);
    const Serphona__Events__V1__Event *ev = msg->event;
    if (!ev || !ev->type || strcmp(ev->type, "analysis.completed") != 0 ||
        !sp_uuid_valid(ev->tenant_id))
        return 0;
    if (ctx->set.cache_ttl_s <= 0)
        return 0;
    int64_t now = sp_clock_wall_ms();
    if (ev->occurred_at_unix_ms > 0 &&
        ev->occurred_at_unix_ms < now - 2000LL * ctx->set.cache_ttl_s)
        return 0;
    sp_redis_pool_t *redis = aq_ctx_redis(ctx);
    if (!redis)
        return 0;
    int rc = aq_cache_bump(redis, ev->tenant_id);
    if (rc != 0) {
        sp_log_warn("could not drop a tenant's cached dashboards: %s", sp_strerror(rc));
        return rc;
    }
    sp_counter_add(invalidations, 1);
    return 0;
}

int aq_cache_subscribe(aq_ctx_t *ctx, sp_service_t *svc)
{
    static const char *const topics[] = {SP_EVENTS_TOPIC_ANALYSES};
    return sp_service_add_consumer(svc, AQ_CACHE_GROUP, topics, 1, aq_cache_on_event, ctx);
}
