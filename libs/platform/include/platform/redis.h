/*
 * redis.h — Redis access over hiredis: a connection pool, an atomic rate
 * limiter, a TTL cache and idempotency keys.
 *
 * Connections open lazily and are dropped on any I/O or protocol error; the
 * next use reconnects, so the pool recovers by itself after a Redis restart.
 * A command that fails on a connection that was idle in the pool is retried
 * once on a fresh connection (a stale socket, not a server answer).
 * hiredis errors are logged here and translated:
 *   SP_EUNAVAILABLE  cannot connect, connection lost, or timed out
 *   SP_ETIMEDOUT     no pooled connection became free in time
 *   SP_EPROTO        Redis answered with an error or an unexpected reply
 * Keys and values are never logged.
 *
 * Every function is thread-safe on a pool.
 */
#ifndef SP_REDIS_H
#define SP_REDIS_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sp_redis_pool sp_redis_pool_t;

/* A pool of at most size connections to host:port, authenticating with
 * password when not NULL. timeout_ms bounds connecting, each command, and
 * waiting for a free connection. Nothing is connected yet. Returns NULL on a
 * bad argument or out of memory. Free with sp_redis_pool_destroy. */
sp_redis_pool_t *sp_redis_pool_new(const char *host, int port, const char *password, int size,
                                   int timeout_ms);

/* Closes every connection (all must be idle). Accepts NULL; sets *self_p NULL. */
void sp_redis_pool_destroy(sp_redis_pool_t **self_p);

/* A connection of its own to the pool's server (not one of the pool's),
 * authenticated, with the pool's timeout on each command, for long-lived
 * uses the pool cannot serve, such as a subscriber. The caller owns it and
 * frees it with redisFree. NULL (logged) when it cannot connect. */
redisContext *sp_redis_pool_connect(sp_redis_pool_t *pool);

/* PING; 0 when Redis answers PONG, else SP_EUNAVAILABLE / SP_ETIMEDOUT. For
 * /health/ready: bounded by the pool's timeout. */
int sp_redis_ping(sp_redis_pool_t *pool);

/* Runs one command given as binary-safe arguments (argvlen NULL means each
 * argv[i] is a C string). On 0, *out is the reply, freed by the caller with
 * freeReplyObject; a Redis error reply is returned as 0 with
 * out->type == REDIS_REPLY_ERROR. Returns SP_EUNAVAILABLE, SP_ETIMEDOUT,
 * SP_ENOMEM otherwise (and *out NULL). For commands this header does not
 * wrap (GETDEL, INCR, HSET ...). */
int sp_redis_command(sp_redis_pool_t *pool, redisReply **out, int argc, const char **argv,
                     const size_t *argvlen);

typedef struct {
    int allowed;            /* 1 when this request is within the limit */
    int limit;              /* the limit per period, for RateLimit-Limit */
    int remaining;          /* requests still allowed now, for RateLimit-Remaining */
    int64_t retry_after_ms; /* when denied: wait this long (Retry-After); else 0 */
    int64_t reset_after_ms; /* until the bucket is full again (RateLimit-Reset) */
} sp_rate_result_t;

/*
 * One request against the limit `limit` per `period_seconds` on key, with up
 * to `burst` requests at once (burst <= 0 means burst = limit). GCRA in a Lua
 * script run atomically by Redis on Redis's own clock (TIME), so several
 * gateway replicas share one limit and client clocks do not matter. A denied
 * request does not consume anything. The key expires when the bucket is full
 * again. Returns 0 and *out (allowed or not), SP_EINVAL for a non-positive
 * limit or period, or an SP_E* from the connection; callers decide whether to
 * fail open when Redis is down.
 */
int sp_redis_rate_limit(sp_redis_pool_t *pool, const char *key, int limit, int period_seconds,
                        int burst, sp_rate_result_t *out);

/* sp_redis_rate_limit for cost requests at once (cost >= 1), all allowed or
 * all refused together: for callers that admit requests locally and settle
 * with Redis in batches. SP_EINVAL for cost < 1. */
int sp_redis_rate_limit_n(sp_redis_pool_t *pool, const char *key, int limit, int period_seconds,
                          int burst, int cost, sp_rate_result_t *out);

/* SET key value EX ttl_seconds (ttl_seconds > 0). value is binary-safe.
 * Returns 0, SP_EINVAL, or an SP_E* from the connection. */
int sp_redis_cache_set(sp_redis_pool_t *pool, const char *key, const void *value, size_t len,
                       int ttl_seconds);

/* GET key. On 0, *value is a malloc'd copy (NUL-terminated after len bytes,
 * caller frees) and *len its length (len may be NULL). Returns SP_ENOTFOUND
 * when the key is absent or expired, SP_EUNAVAILABLE, SP_ETIMEDOUT,
 * SP_EPROTO (not a string), SP_ENOMEM. */
int sp_redis_cache_get(sp_redis_pool_t *pool, const char *key, char **value, size_t *len);

/* DEL key. Returns 0 when it existed, SP_ENOTFOUND when it did not, or an
 * SP_E* from the connection. */
int sp_redis_cache_del(sp_redis_pool_t *pool, const char *key);

/* SET key value NX EX ttl_seconds: claims key (an idempotency key, a lock)
 * only when nobody holds it. value is a C string. Returns 0 when claimed,
 * SP_EEXISTS when the key already exists, SP_EINVAL, or an SP_E* from the
 * connection. */
int sp_redis_set_nx(sp_redis_pool_t *pool, const char *key, const char *value, int ttl_seconds);

#endif
