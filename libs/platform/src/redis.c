/*
 * redis.c — hiredis connection pool, GCRA rate limiter, TTL cache.
 *
 * The pool is platform/pool.h holding redisContext pointers, as for
 * PostgreSQL; a context is freed on any error rather than reset.
 */
#include "platform/redis.h"

#include <errno.h>
#include <mbedtls/sha1.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "platform/error.h"
#include "platform/log.h"
#include "platform/pool.h"

struct sp_redis_pool {
    char *host;
    int port;
    char *password;
    int timeout_ms;
    sp_pool_t *conns;    /* redisContext *; dropped on any error */
    char script_sha[41]; /* SHA1 of RATE_SCRIPT, for EVALSHA */
};

/*
 * GCRA (generic cell rate algorithm): the key holds the "theoretical arrival
 * time" (TAT) of the next request in microseconds of Redis's clock. Each
 * request moves it forward by one emission interval (period / limit); a
 * request is allowed while TAT stays within burst intervals of now. One key,
 * one round trip, no background refill, and the key expires when the bucket
 * is full again. Returns {allowed, remaining, retry_after_ms, reset_after_ms}.
 */
static const char RATE_SCRIPT[] =
    "local limit = tonumber(ARGV[1])\n"
    "local period = tonumber(ARGV[2]) * 1000000\n"
    "local burst = tonumber(ARGV[3])\n"
    "local cost = tonumber(ARGV[4] or '1')\n"
    "local interval = period / limit\n"
    "local tolerance = interval * burst\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
    "local tat = tonumber(redis.call('GET', KEYS[1]))\n"
    "if not tat or tat < now then tat = now end\n"
    "local new_tat = tat + interval * cost\n"
    "local allow_at = new_tat - tolerance\n"
    "if allow_at > now then\n"
    "  return {0, 0, math.ceil((allow_at - now) / 1000), math.ceil((tat - now) / 1000)}\n"
    "end\n"
    "local ttl = math.ceil((new_tat - now) / 1000)\n"
    /* A huge limit's interval can be below the precision of TAT (a double
     * of microseconds since 1970), leaving ttl 0, which SET refuses. */
    "if ttl < 1 then ttl = 1 end\n"
    "redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', ttl)\n"
    "local remaining = math.floor((tolerance - (new_tat - now)) / interval + 0.001)\n"
    "if remaining < 0 then remaining = 0 end\n"
    "return {1, remaining, 0, ttl}\n";

/* ---- pool ------------------------------------------------------------ */

static struct timeval ms_to_tv(int ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    return tv;
}

/* Opens and authenticates a connection; NULL (logged) on failure. */
static redisContext *connect_one(sp_redis_pool_t *pool)
{
    redisContext *ctx = redisConnectWithTimeout(pool->host, pool->port, ms_to_tv(pool->timeout_ms));
    if (!ctx) {
        sp_log_error("redis: cannot allocate a connection");
        return NULL;
    }
    if (ctx->err) {
        sp_log_error("redis: cannot connect to %s:%d: %s", pool->host, pool->port, ctx->errstr);
        redisFree(ctx);
        return NULL;
    }
    if (redisSetTimeout(ctx, ms_to_tv(pool->timeout_ms)) != REDIS_OK) {
        sp_log_error("redis: cannot set the command timeout: %s", ctx->errstr);
        redisFree(ctx);
        return NULL;
    }
    if (pool->password) {
        const char *argv[2] = {"AUTH", pool->password};
        redisReply *r = redisCommandArgv(ctx, 2, argv, NULL);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            /* The reply text names the failure; it never echoes the password. */
            sp_log_error("redis: AUTH failed: %s", r ? r->str : ctx->errstr);
            if (r)
                freeReplyObject(r);
            redisFree(ctx);
            return NULL;
        }
        freeReplyObject(r);
    }
    return ctx;
}

redisContext *sp_redis_pool_connect(sp_redis_pool_t *pool)
{
    return pool ? connect_one(pool) : NULL;
}

/* sp_pool_ops_t.open: a failure to connect is logged by connect_one. */
static int pool_open(void *ctx, void **out)
{
    redisContext *c = connect_one(ctx);
    if (!c)
        return SP_EUNAVAILABLE;
    *out = c;
    return 0;
}

static void pool_close(void *ctx, void *conn)
{
    (void)ctx;
    redisFree(conn);
}

/* No check callback: a context is freed on its first error, so an idle one
 * can only have been closed by the server, which the command retry covers. */
static const sp_pool_ops_t pool_ops = {
    .open = pool_open,
    .close = pool_close,
};

sp_redis_pool_t *sp_redis_pool_new(const char *host, int port, const char *password, int size,
                                   int timeout_ms)
{
    if (!host || !*host || port <= 0 || port > 65535 || size < 1 || timeout_ms <= 0)
        return NULL;
    sp_redis_pool_t *pool = calloc(1, sizeof(*pool));
    if (!pool)
        return NULL;
    pool->host = strdup(host);
    pool->password = password ? strdup(password) : NULL;
    if (!pool->host || (password && !pool->password))
        goto fail_alloc;
    pool->port = port;
    pool->timeout_ms = timeout_ms;

    unsigned char digest[20];
    if (mbedtls_sha1_ret((const unsigned char *)RATE_SCRIPT, strlen(RATE_SCRIPT), digest) != 0)
        goto fail_alloc;
    for (int i = 0; i < 20; i++)
        snprintf(pool->script_sha + 2 * i, 3, "%02x", digest[i]);

    pool->conns = sp_pool_new("redis", size, &pool_ops, pool);
    if (!pool->conns)
        goto fail_alloc;
    return pool;

fail_alloc:
    free(pool->password);
    free(pool->host);
    free(pool);
    return NULL;
}

void sp_redis_pool_destroy(sp_redis_pool_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sp_redis_pool_t *pool = *self_p;
    *self_p = NULL;
    sp_pool_destroy(&pool->conns);
    if (pool->password) {
        explicit_bzero(pool->password, strlen(pool->password));
        free(pool->password);
    }
    free(pool->host);
    free(pool);
}

int sp_redis_command(sp_redis_pool_t *pool, redisReply **out, int argc, const char **argv,
                     const size_t *argvlen)
{
    *out = NULL;
    for (int attempt = 0;; attempt++) {
        int reused;
        void *conn;
        int rc = sp_pool_acquire(pool->conns, pool->timeout_ms, &conn, &reused);
        if (rc != 0)
            return rc;
        redisContext *ctx = conn;
        redisReply *reply = redisCommandArgv(ctx, argc, argv, argvlen);
        int saved_errno = errno;
        if (reply) {
            sp_pool_release(pool->conns, ctx, 0);
            *out = reply;
            return 0;
        }
        /* hiredis leaves a context unusable after any error: drop it. */
        int err = ctx->err;
        char errstr[128];
        snprintf(errstr, sizeof(errstr), "%s", ctx->errstr);
        sp_pool_release(pool->conns, ctx, 1);
        if (err == REDIS_ERR_OOM)
            return SP_ENOMEM;
        /* A connection idle in the pool may have been closed by a restarted
         * server; that shows as EOF or a reset, not as a timeout. Retry once
         * on a fresh connection. */
        int stale = err == REDIS_ERR_EOF ||
                    (err == REDIS_ERR_IO && (saved_errno == ECONNRESET || saved_errno == EPIPE));
        if (reused && stale && attempt == 0) {
            sp_log_info("redis: pooled connection was stale (%s); reconnecting", errstr);
            continue;
        }
        sp_log_error("redis: %s failed: %s", argc > 0 ? argv[0] : "command", errstr);
        return SP_EUNAVAILABLE;
    }
}

/* Runs a command whose reply must not be an error reply. */
static int command_ok(sp_redis_pool_t *pool, redisReply **out, int argc, const char **argv,
                      const size_t *argvlen)
{
    int rc = sp_redis_command(pool, out, argc, argv, argvlen);
    if (rc != 0)
        return rc;
    if ((*out)->type == REDIS_REPLY_ERROR) {
        sp_log_error("redis: %s refused: %s", argv[0], (*out)->str);
        freeReplyObject(*out);
        *out = NULL;
        return SP_EPROTO;
    }
    return 0;
}

int sp_redis_ping(sp_redis_pool_t *pool)
{
    const char *argv[1] = {"PING"};
    redisReply *r = NULL;
    int rc = command_ok(pool, &r, 1, argv, NULL);
    if (rc != 0)
        return rc == SP_ETIMEDOUT ? rc : SP_EUNAVAILABLE;
    int ok = r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
    freeReplyObject(r);
    return ok ? 0 : SP_EUNAVAILABLE;
}

/* ---- rate limiter ---------------------------------------------------- */

static int64_t reply_int(const redisReply *r)
{
    return r->type == REDIS_REPLY_INTEGER ? (int64_t)r->integer : -1;
}

int sp_redis_rate_limit(sp_redis_pool_t *pool, const char *key, int limit, int period_seconds,
                        int burst, sp_rate_result_t *out)
{
    return sp_redis_rate_limit_n(pool, key, limit, period_seconds, burst, 1, out);
}

int sp_redis_rate_limit_n(sp_redis_pool_t *pool, const char *key, int limit, int period_seconds,
                          int burst, int cost, sp_rate_result_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!key || limit <= 0 || period_seconds <= 0 || cost <= 0)
        return SP_EINVAL;
    if (burst <= 0)
        burst = limit;
    char slimit[16], speriod[16], sburst[16], scost[16];
    snprintf(slimit, sizeof(slimit), "%d", limit);
    snprintf(speriod, sizeof(speriod), "%d", period_seconds);
    snprintf(sburst, sizeof(sburst), "%d", burst);
    snprintf(scost, sizeof(scost), "%d", cost);

    /* EVALSHA first: only the 40-byte hash travels. Redis forgets scripts on
     * restart or SCRIPT FLUSH, answering NOSCRIPT; EVAL then sends the body
     * and caches it again. */
    const char *argv[8] = {"EVALSHA", pool->script_sha, "1", key, slimit, speriod, sburst, scost};
    redisReply *r = NULL;
    int rc = sp_redis_command(pool, &r, 8, argv, NULL);
    if (rc != 0)
        return rc;
    if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(r);
        argv[0] = "EVAL";
        argv[1] = RATE_SCRIPT;
        rc = sp_redis_command(pool, &r, 8, argv, NULL);
        if (rc != 0)
            return rc;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        sp_log_error("redis: rate limit script failed: %s", r->str);
        freeReplyObject(r);
        return SP_EPROTO;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 4) {
        sp_log_error("redis: rate limit script returned an unexpected reply (type %d)", r->type);
        freeReplyObject(r);
        return SP_EPROTO;
    }
    out->allowed = reply_int(r->element[0]) == 1;
    out->limit = limit;
    out->remaining = (int)reply_int(r->element[1]);
    out->retry_after_ms = reply_int(r->element[2]);
    out->reset_after_ms = reply_int(r->element[3]);
    freeReplyObject(r);
    if (out->remaining < 0 || out->retry_after_ms < 0 || out->reset_after_ms < 0) {
        sp_log_error("redis: rate limit script returned a non-integer field");
        return SP_EPROTO;
    }
    return 0;
}

/* ---- cache ----------------------------------------------------------- */

int sp_redis_cache_set(sp_redis_pool_t *pool, const char *key, const void *value, size_t len,
                       int ttl_seconds)
{
    if (!key || (!value && len > 0) || ttl_seconds <= 0)
        return SP_EINVAL;
    char ttl[16];
    snprintf(ttl, sizeof(ttl), "%d", ttl_seconds);
    const char *argv[5] = {"SET", key, value ? value : "", "EX", ttl};
    size_t argvlen[5] = {3, strlen(key), len, 2, strlen(ttl)};
    redisReply *r = NULL;
    int rc = command_ok(pool, &r, 5, argv, argvlen);
    if (rc != 0)
        return rc;
    freeReplyObject(r);
    return 0;
}

int sp_redis_cache_get(sp_redis_pool_t *pool, const char *key, char **value, size_t *len)
{
    *value = NULL;
    if (len)
        *len = 0;
    if (!key)
        return SP_EINVAL;
    const char *argv[2] = {"GET", key};
    redisReply *r = NULL;
    int rc = command_ok(pool, &r, 2, argv, NULL);
    if (rc != 0)
        return rc;
    if (r->type == REDIS_REPLY_NIL) {
        freeReplyObject(r);
        return SP_ENOTFOUND;
    }
    if (r->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        return SP_EPROTO;
    }
    char *copy = malloc(r->len + 1);
    if (!copy) {
        freeReplyObject(r);
        return SP_ENOMEM;
    }
    memcpy(copy, r->str, r->len);
    copy[r->len] = '\0';
    if (len)
        *len = r->len;
    *value = copy;
    freeReplyObject(r);
    return 0;
}

int sp_redis_cache_del(sp_redis_pool_t *pool, const char *key)
{
    if (!key)
        return SP_EINVAL;
    const char *argv[2] = {"DEL", key};
    redisReply *r = NULL;
    int rc = command_ok(pool, &r, 2, argv, NULL);
    if (rc != 0)
        return rc;
    int existed = r->type == REDIS_REPLY_INTEGER && r->integer > 0;
    freeReplyObject(r);
    return existed ? 0 : SP_ENOTFOUND;
}

int sp_redis_set_nx(sp_redis_pool_t *pool, const char *key, const char *value, int ttl_seconds)
{
    if (!key || !value || ttl_seconds <= 0)
        return SP_EINVAL;
    char ttl[16];
    snprintf(ttl, sizeof(ttl), "%d", ttl_seconds);
    const char *argv[6] = {"SET", key, value, "NX", "EX", ttl};
    redisReply *r = NULL;
    int rc = command_ok(pool, &r, 6, argv, NULL);
    if (rc != 0)
        return rc;
    /* OK when set; a nil reply when the key already existed. */
    int claimed = r->type == REDIS_REPLY_STATUS;
    freeReplyObject(r);
    return claimed ? 0 : SP_EEXISTS;
}
