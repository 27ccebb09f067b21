/* Tests for redis.c against a real Redis (deploy/local/redis.sh on
 * 127.0.0.1:$SERPHONA_TEST_REDIS_PORT): ping, the rate limiter (burst,
 * denial, recovery, atomicity under threads, NOSCRIPT), cache, set_nx,
 * reconnect after the server drops our connection. Keys carry a per-run
 * prefix so parallel runs do not collide. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "platform/clock.h"
#include "platform/error.h"
#include "platform/log.h"
#include "platform/redis.h"

static int redis_port;
static char prefix[64];

static sp_redis_pool_t *new_pool(int size)
{
    sp_redis_pool_t *pool = sp_redis_pool_new("127.0.0.1", redis_port, NULL, size, 2000);
    assert_non_null(pool);
    return pool;
}

static const char *key(const char *name)
{
    static char buf[4][128];
    static int n;
    char *k = buf[n++ % 4];
    snprintf(k, 128, "%s:%s", prefix, name);
    return k;
}

static void test_ping_and_bad_server(void **state)
{
    sp_redis_pool_t *pool = new_pool(1);
    assert_int_equal(sp_redis_ping(pool), 0);
    sp_redis_pool_destroy(&pool);
    assert_null(pool);

    /* Nothing listens on port 1. */
    pool = sp_redis_pool_new("127.0.0.1", 1, NULL, 1, 500);
    assert_non_null(pool);
    long long t0 = sp_clock_mono_ms();
    assert_int_equal(sp_redis_ping(pool), SP_EUNAVAILABLE);
    assert_true(sp_clock_mono_ms() - t0 < 1500);
    char *v = NULL;
    assert_int_equal(sp_redis_cache_get(pool, key("x"), &v, NULL), SP_EUNAVAILABLE);
    assert_null(v);
    sp_redis_pool_destroy(&pool);

    /* A password against a server without one: AUTH fails, unavailable. */
    pool = sp_redis_pool_new("127.0.0.1", redis_port, "wrong-password", 1, 1000);
    assert_non_null(pool);
    assert_int_equal(sp_redis_ping(pool), SP_EUNAVAILABLE);
    sp_redis_pool_destroy(&pool);

    assert_null(sp_redis_pool_new(NULL, redis_port, NULL, 1, 1000));
    assert_null(sp_redis_pool_new("127.0.0.1", redis_port, NULL, 0, 1000));
    assert_null(sp_redis_pool_new("127.0.0.1", 0, NULL, 1, 1000));
}

static void test_rate_limit_burst_deny_recover(void **state)
{
    sp_redis_pool_t *pool = new_pool(2);
    const char *k = key("rl:burst");
    sp_rate_result_t r;
    /* 5 per second with a burst of 3: interval 200 ms. */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sp_redis_rate_limit(pool, k, 5, 1, 3, &r), 0);
        assert_true(r.allowed);
        assert_int_equal(r.limit, 5);
        assert_int_equal(r.remaining, 2 - i);
        assert_int_equal(r.retry_after_ms, 0);
        assert_true(r.reset_after_ms > 0 && r.reset_after_ms <= 600);
    }
    assert_int_equal(sp_redis_rate_limit(pool, k, 5, 1, 3, &r), 0);
    assert_false(r.allowed);
    assert_int_equal(r.remaining, 0);
    assert_true(r.retry_after_ms > 0 && r.retry_after_ms <= 200);
    assert_true(r.reset_after_ms > 0 && r.reset_after_ms <= 600);
    /* Denied requests consume nothing: still denied, same wait or less. */
    int64_t wait = r.retry_after_ms;
    assert_int_equal(sp_redis_rate_limit(pool, k, 5, 1, 3, &r), 0);
    assert_false(r.allowed);
    assert_true(r.retry_after_ms <= wait);

    /* The key expires by itself once the bucket is full again. */
    const char *argv[2] = {"PTTL", k};
    redisReply *reply = NULL;
    assert_int_equal(sp_redis_command(pool, &reply, 2, argv, NULL), 0);
    assert_int_equal(reply->type, REDIS_REPLY_INTEGER);
    assert_true(reply->integer > 0 && reply->integer <= 600);
    freeReplyObject(reply);

    usleep((useconds_t)(wait + 30) * 1000);
    assert_int_equal(sp_redis_rate_limit(pool, k, 5, 1, 3, &r), 0);
    assert_true(r.allowed);
    assert_int_equal(r.remaining, 0);

    /* burst <= 0 means burst = limit; period and limit must be positive. */
    const char *k2 = key("rl:default-burst");
    for (int i = 0; i < 4; i++) {
        assert_int_equal(sp_redis_rate_limit(pool, k2, 4, 60, 0, &r), 0);
        assert_true(r.allowed);
    }
    assert_int_equal(sp_redis_rate_limit(pool, k2, 4, 60, 0, &r), 0);
    assert_false(r.allowed);
    /* 4 per minute: the next slot is 15 s away. */
    assert_true(r.retry_after_ms > 14000 && r.retry_after_ms <= 15000);
    assert_true(r.reset_after_ms > 59000 && r.reset_after_ms <= 60000);
    assert_int_equal(sp_redis_rate_limit(pool, k2, 0, 60, 0, &r), SP_EINVAL);
    assert_int_equal(sp_redis_rate_limit(pool, k2, 4, 0, 0, &r), SP_EINVAL);
    sp_redis_cache_del(pool, k);
    sp_redis_cache_del(pool, k2);
    sp_redis_pool_destroy(&pool);
}

typedef struct {
    sp_redis_pool_t *pool;
    const char *key;
    int allowed;
    int errors;
} rl_thread_t;

static void *rl_worker(void *arg)
{
    rl_thread_t *t = arg;
    for (int i = 0; i < 25; i++) {
        sp_rate_result_t r;
        if (sp_redis_rate_limit(t->pool, t->key, 100, 60, 20, &r) != 0)
            t->errors++;
        else if (r.allowed)
            t->allowed++;
    }
    return NULL;
}

static void test_rate_limit_atomic_and_noscript(void **state)
{
    sp_redis_pool_t *pool = new_pool(4);
    const char *k = key("rl:threads");
    /* Forget every cached script: the first call must fall back to EVAL. */
    const char *flush[2] = {"SCRIPT", "FLUSH"};
    redisReply *reply = NULL;
    assert_int_equal(sp_redis_command(pool, &reply, 2, flush, NULL), 0);
    freeReplyObject(reply);

    /* 100 requests from 4 threads against a burst of 20 at 100/min: exactly
     * 20 pass (the refill in the test's lifetime is well under one). */
    rl_thread_t t[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        t[i] = (rl_thread_t){.pool = pool, .key = k};
        assert_int_equal(pthread_create(&th[i], NULL, rl_worker, &t[i]), 0);
    }
    int allowed = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(t[i].errors, 0);
        allowed += t[i].allowed;
    }
    assert_int_equal(allowed, 20);
    sp_redis_cache_del(pool, k);
    sp_redis_pool_destroy(&pool);
}

static void test_cache(void **state)
{
    sp_redis_pool_t *pool = new_pool(2);
    const char *k = key("cache:a");
    const char value[] = "bin\0ary \xff value";
    assert_int_equal(sp_redis_cache_set(pool, k, value, sizeof(value), 1), 0);
    char *got = NULL;
    size_t len = 0;
    assert_int_equal(sp_redis_cache_get(pool, k, &got, &len), 0);
    assert_int_equal(len, sizeof(value));
    assert_memory_equal(got, value, sizeof(value));
    assert_int_equal(got[len], '\0');
    free(got);

    /* Overwrite with a longer TTL, delete, then it is gone. */
    assert_int_equal(sp_redis_cache_set(pool, k, "v2", 2, 60), 0);
    assert_int_equal(sp_redis_cache_get(pool, k, &got, NULL), 0);
    assert_string_equal(got, "v2");
    free(got);
    assert_int_equal(sp_redis_cache_del(pool, k), 0);
    assert_int_equal(sp_redis_cache_del(pool, k), SP_ENOTFOUND);
    got = (char *)1;
    assert_int_equal(sp_redis_cache_get(pool, k, &got, &len), SP_ENOTFOUND);
    assert_null(got);

    /* Expiry. */
    const char *k2 = key("cache:ttl");
    assert_int_equal(sp_redis_cache_set(pool, k2, "x", 1, 1), 0);
    assert_int_equal(sp_redis_cache_get(pool, k2, &got, NULL), 0);
    free(got);
    usleep(1200 * 1000);
    assert_int_equal(sp_redis_cache_get(pool, k2, &got, NULL), SP_ENOTFOUND);

    assert_int_equal(sp_redis_cache_set(pool, k2, "x", 1, 0), SP_EINVAL);

    /* Not a string: a protocol-level mismatch, not a crash. */
    const char *k3 = key("cache:list");
    const char *lpush[3] = {"LPUSH", k3, "e"};
    redisReply *reply = NULL;
    assert_int_equal(sp_redis_command(pool, &reply, 3, lpush, NULL), 0);
    freeReplyObject(reply);
    assert_int_equal(sp_redis_cache_get(pool, k3, &got, NULL), SP_EPROTO);
    assert_int_equal(sp_redis_cache_del(pool, k3), 0);

    /* A Redis error reply comes back as a reply through sp_redis_command. */
    const char *bad[1] = {"NOSUCHCOMMAND"};
    assert_int_equal(sp_redis_command(pool, &reply, 1, bad, NULL), 0);
    assert_int_equal(reply->type, REDIS_REPLY_ERROR);
    freeReplyObject(reply);
    assert_int_equal(sp_redis_ping(pool), 0);
    sp_redis_pool_destroy(&pool);
}

static void test_set_nx(void **state)
{
    sp_redis_pool_t *pool = new_pool(1);
    const char *k = key("idem:req-1");
    assert_int_equal(sp_redis_set_nx(pool, k, "first", 60), 0);
    assert_int_equal(sp_redis_set_nx(pool, k, "second", 60), SP_EEXISTS);
    char *got = NULL;
    assert_int_equal(sp_redis_cache_get(pool, k, &got, NULL), 0);
    assert_string_equal(got, "first");
    free(got);
    assert_int_equal(sp_redis_cache_del(pool, k), 0);
    assert_int_equal(sp_redis_set_nx(pool, k, "third", 1), 0);
    usleep(1200 * 1000);
    assert_int_equal(sp_redis_set_nx(pool, k, "fourth", 60), 0);
    assert_int_equal(sp_redis_cache_del(pool, k), 0);
    assert_int_equal(sp_redis_set_nx(pool, k, "x", 0), SP_EINVAL);
    sp_redis_pool_destroy(&pool);
}

static long long client_id(sp_redis_pool_t *pool)
{
    const char *argv[2] = {"CLIENT", "ID"};
    redisReply *r = NULL;
    assert_int_equal(sp_redis_command(pool, &r, 2, argv, NULL), 0);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    long long id = r->integer;
    freeReplyObject(r);
    return id;
}

static void test_reconnect_after_kill(void **state)
{
    sp_redis_pool_t *pool = new_pool(1);
    sp_redis_pool_t *killer = new_pool(1);
    long long id = client_id(pool);
    char sid[32];
    snprintf(sid, sizeof(sid), "%lld", id);
    const char *kill_argv[4] = {"CLIENT", "KILL", "ID", sid};
    redisReply *r = NULL;
    assert_int_equal(sp_redis_command(killer, &r, 4, kill_argv, NULL), 0);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    assert_int_equal(r->integer, 1);
    freeReplyObject(r);
    usleep(50 * 1000);

    /* The pooled connection is dead; the next call reconnects by itself. */
    assert_int_equal(sp_redis_set_nx(pool, key("reconnect"), "v", 60), 0);
    assert_true(client_id(pool) != id);
    assert_int_equal(sp_redis_cache_del(pool, key("reconnect")), 0);
    sp_redis_pool_destroy(&killer);
    sp_redis_pool_destroy(&pool);
}

int main(void)
{
    const char *port = getenv("SERPHONA_TEST_REDIS_PORT");
    if (!port || strtol(port, NULL, 10) <= 0) {
        fprintf(stderr, "test_redis: FAIL: SERPHONA_TEST_REDIS_PORT must name the port of a "
                        "running Redis on 127.0.0.1; start one with deploy/local/redis.sh\n");
        return 1;
    }
    redis_port = (int)strtol(port, NULL, 10);
    snprintf(prefix, sizeof(prefix), "sp-test:%d:%ld", (int)getpid(), (long)time(NULL));
    sp_log_init("test_redis", SP_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ping_and_bad_server),
        cmocka_unit_test(test_rate_limit_burst_deny_recover),
        cmocka_unit_test(test_rate_limit_atomic_and_noscript),
        cmocka_unit_test(test_cache),
        cmocka_unit_test(test_set_nx),
        cmocka_unit_test(test_reconnect_after_kill),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
