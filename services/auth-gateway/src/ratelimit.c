/*
 * ratelimit.c — per-tenant and per-caller rate limits (ratelimit.h).
 */
#include "ratelimit.h"

#include "platform/error.h"
#include "platform/log.h"
#include "platform/metrics.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SHARDS      16
#define BUCKETS     256
#define MAX_ENTRIES 65536
#define SYNC_MS     1000 /* settle with Redis at least this often */
#define EXACT_BELOW 200  /* limits per minute settled on every request */

typedef struct rl_entry {
    struct rl_entry *next;
    int limit;
    int64_t remaining; /* Redis's count at the last settlement, minus local grants */
    int pending;       /* granted locally since then */
    int64_t synced_ms, reset_at_ms, blocked_until_ms;
    char key[];
} rl_entry_t;

typedef struct {
    pthread_mutex_t mu;
    rl_entry_t *buckets[BUCKETS];
    size_t count;
} rl_shard_t;

struct gw_rl {
    rl_shard_t shards[SHARDS];
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint32_t hash_of(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static void shard_clear(rl_shard_t *sh)
{
    for (int b = 0; b < BUCKETS; b++) {
        rl_entry_t *e = sh->buckets[b];
        while (e) {
            rl_entry_t *next = e->next;
            free(e);
            e = next;
        }
        sh->buckets[b] = NULL;
    }
    sh->count = 0;
}

gw_rl_t *gw_rl_new(void)
{
    gw_rl_t *rl = calloc(1, sizeof(*rl));
    if (rl)
        for (int i = 0; i < SHARDS; i++)
            pthread_mutex_init(&rl->shards[i].mu, NULL);
    return rl;
}

void gw_rl_destroy(gw_rl_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gw_rl_t *rl = *self_p;
    for (int i = 0; i < SHARDS; i++) {
        shard_clear(&rl->shards[i]);
        pthread_mutex_destroy(&rl->shards[i].mu);
    }
    free(rl);
    *self_p = NULL;
}

/* The entry of key in its (locked) shard, created when missing; NULL when
 * out of memory. */
static rl_entry_t *entry_of(rl_shard_t *sh, uint32_t h, const char *key)
{
    rl_entry_t **head = &sh->buckets[(h / SHARDS) % BUCKETS];
    for (rl_entry_t *e = *head; e; e = e->next)
        if (strcmp(e->key, key) == 0)
            return e;
    if (sh->count >= MAX_ENTRIES / SHARDS)
        shard_clear(sh); /* bounded memory; the next requests settle with Redis */
    size_t len = strlen(key);
    rl_entry_t *e = calloc(1, sizeof(*e) + len + 1);
    if (!e)
        return NULL;
    memcpy(e->key, key, len + 1);
    e->next = *head;
    *head = e;
    sh->count++;
    return e;
}

/* One request against key's bucket: locally when the batch allows, else by
 * settling with Redis. Returns 0 with *out, or the Redis error. */
static int take(gw_rl_t *rl, sp_redis_pool_t *redis, const char *key, int limit,
                sp_rate_result_t *out)
{
    int batch = limit < EXACT_BELOW ? 1 : limit / 100 > 100 ? 100 : limit / 100;
    uint32_t h = hash_of(key);
    rl_shard_t *sh = &rl->shards[h % SHARDS];
    int64_t now = now_ms();
    int cost = 1;
    memset(out, 0, sizeof(*out));
    out->limit = limit;

    pthread_mutex_lock(&sh->mu);
    rl_entry_t *e = entry_of(sh, h, key);
    if (e) {
        if (e->limit != limit) { /* the plan changed */
            memset(&e->limit, 0, offsetof(rl_entry_t, key) - offsetof(rl_entry_t, limit));
            e->limit = limit;
        }
        if (e->blocked_until_ms > now) {
            out->retry_after_ms = e->blocked_until_ms - now;
            out->reset_after_ms = e->reset_at_ms > now ? e->reset_at_ms - now : out->retry_after_ms;
            pthread_mutex_unlock(&sh->mu);
            return SP_OK;
        }
        if (batch > 1 && e->remaining > 0 && e->pending + 1 < batch &&
            now - e->synced_ms < SYNC_MS) {
            e->remaining--;
            e->pending++;
            out->allowed = 1;
            out->remaining = (int)e->remaining;
            out->reset_after_ms = e->reset_at_ms > now ? e->reset_at_ms - now : 0;
            pthread_mutex_unlock(&sh->mu);
            return SP_OK;
        }
        cost += e->pending;
        e->pending = 0;
    }
    pthread_mutex_unlock(&sh->mu);

    int rc = sp_redis_rate_limit_n(redis, key, limit, 60, limit, cost, out);
    if (rc != 0 || !e)
        return rc;
    now = now_ms();
    pthread_mutex_lock(&sh->mu);
    /* The entry may have been dropped meanwhile (shard full); look again. */
    e = entry_of(sh, h, key);
    if (e && e->limit == limit) {
        e->remaining = out->remaining;
        e->synced_ms = now;
        e->reset_at_ms = now + out->reset_after_ms;
        e->blocked_until_ms = out->allowed ? 0 : now + out->retry_after_ms;
    }
    pthread_mutex_unlock(&sh->mu);
    return SP_OK;
}

static sp_counter_t *m_limited;
static pthread_once_t metrics_once = PTHREAD_ONCE_INIT;

static void metrics_init(void)
{
    m_limited = sp_counter_new("serphona_gateway_rate_limited_total",
                               "Requests refused by the gateway's rate limits.", 1, "scope");
}

static void set_int_header(sp_response_t *resp, const char *name, long long v)
{
    char text[32];
    snprintf(text, sizeof text, "%lld", v);
    sp_response_set_header(resp, name, text);
}

static long long ceil_s(int64_t ms)
{
    return ms <= 0 ? 0 : (long long)((ms + 999) / 1000);
}

int gw_ratelimit_apply(const gw_t *gw, sp_request_t *req, const char *tenant_id,
                       const char *caller_key, const gw_limits_t *limits)
{
    sp_redis_pool_t *redis = gw_redis(gw);
    sp_arena_t *arena = sp_request_arena(req);
    sp_response_t *resp = sp_request_response(req);
    int user_rpm = limits && limits->user_requests_per_minute > 0 ? limits->user_requests_per_minute
                                                                  : gw->default_user_rpm;
    int tenant_rpm = limits && limits->tenant_requests_per_minute > 0
                         ? limits->tenant_requests_per_minute
                         : gw->default_tenant_rpm;
    const char *tid = tenant_id && *tenant_id ? tenant_id : NULL;
    char *ukey = sp_arena_printf(arena, "sp:rl:c:%s:%s", tid ? tid : "-", caller_key);
    char *tkey = tid ? sp_arena_printf(arena, "sp:rl:t:%s", tid) : NULL;
    if (!redis || !ukey || (tid && !tkey))
        return SP_OK;

    sp_rate_result_t u, t;
    int rc = take(gw->rl, redis, ukey, user_rpm, &u);
    if (rc == 0 && u.allowed && tid)
        rc = take(gw->rl, redis, tkey, tenant_rpm, &t);
    else
        t = u;
    if (rc != 0) {
        sp_log_warn("rate limit not applied: Redis: %s", sp_strerror(rc));
        return SP_OK;
    }
    /* Report the bucket that binds: the refusing one, else the emptier. */
    const sp_rate_result_t *bind = &u;
    const char *scope = "caller";
    if (u.allowed && (!t.allowed || t.remaining < u.remaining)) {
        bind = &t;
        scope = "tenant";
    }
    set_int_header(resp, "RateLimit-Limit", bind->limit);
    set_int_header(resp, "RateLimit-Remaining", bind->remaining);
    set_int_header(resp, "RateLimit-Reset", ceil_s(bind->reset_after_ms));
    if (bind->allowed)
        return SP_OK;
    long long retry = ceil_s(bind->retry_after_ms);
    if (retry < 1)
        retry = 1;
    pthread_once(&metrics_once, metrics_init);
    sp_counter_add(m_limited, 1, scope);
    sp_response_error(resp, 429, "rate_limited", "too many requests for this %s; retry in %lld s",
                      bind == &u ? "user or API key" : "tenant", retry);
    set_int_header(resp, "Retry-After", retry);
    return SP_EDENIED;
}
