/* Unit tests of the auth-gateway's Redis-backed pieces against a real Redis
 * (127.0.0.1:$SERPHONA_TEST_REDIS_PORT): the invalidated local cache
 * (localcache.c), refresh-token families (sessions.c), login lockout with
 * backoff (lockout.c) and the batched rate limits (ratelimit.c). The HTTP
 * flows on top are covered black-box by tests/integration/test_auth.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../src/gateway.h"
#include "../src/localcache.h"
#include "../src/lockout.h"
#include "../src/ratelimit.h"
#include "../src/sessions.h"
#include "platform/error.h"
#include "platform/log.h"

static int redis_port;
static sp_redis_pool_t *pool;

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static gw_t test_gw(void)
{
    gw_t gw = {.redis = pool,
               .access_ttl_s = 900,
               .refresh_ttl_s = 3600,
               .leeway_s = 30,
               .login_max_failures = 2,
               .login_ip_max_failures = 3,
               .login_window_s = 60,
               .lockout_base_s = 1,
               .lockout_max_s = 4,
               .default_tenant_rpm = 1000,
               .default_user_rpm = 1000};
    return gw;
}

static void redis_do(const char *a, const char *b, const char *c)
{
    const char *argv[3] = {a, b, c};
    redisReply *r = NULL;
    assert_int_equal(sp_redis_command(pool, &r, c ? 3 : 2, argv, NULL), 0);
    freeReplyObject(r);
}

static long num(const char *text)
{
    assert_non_null(text);
    char *end = NULL;
    long v = strtol(text, &end, 10);
    assert_true(end != text);
    return v;
}

static long long evalsha_calls(void)
{
    const char *argv[] = {"INFO", "commandstats"};
    redisReply *r = NULL;
    assert_int_equal(sp_redis_command(pool, &r, 2, argv, NULL), 0);
    const char *p = strstr(r->str, "cmdstat_evalsha:calls=");
    long long n = p ? strtoll(p + strlen("cmdstat_evalsha:calls="), NULL, 10) : 0;
    freeReplyObject(r);
    return n;
}

/* ---- localcache ---------------------------------------------------------------- */

static void test_local_cache_follows_redis(void **state)
{
    static const char *const PREFIXES[] = {"sp:principal:", "sp:revoked:", NULL};
    gw_l1_t *l1 = gw_l1_new(1024, 60000, PREFIXES);
    assert_non_null(l1);
    sp_arena_t *arena = sp_arena_new();
    int present = 0;
    const char *val = NULL;
    size_t len = 0;
    char key[96];
    snprintf(key, sizeof key, "sp:principal:t-%d:u-%ld", (int)getpid(), (long)time(NULL));

    /* Not listening yet: it stores and serves nothing. */
    gw_l1_put(l1, key, "v1", 2, gw_l1_epoch(l1));
    assert_int_equal(gw_l1_get(l1, key, arena, &present, &val, &len), 0);

    assert_int_equal(gw_l1_start(l1, pool), 0);
    for (int i = 0; i < 100 && !gw_l1_active(l1); i++)
        sleep_ms(50);
    assert_true(gw_l1_active(l1));

    /* The key exists in Redis (so deleting it is a change Redis reports);
     * let the invalidation of this SET pass before caching. */
    uint64_t e0 = gw_l1_epoch(l1);
    redis_do("SET", key, "v1");
    for (int i = 0; i < 100 && gw_l1_epoch(l1) == e0; i++)
        sleep_ms(20);
    assert_true(gw_l1_epoch(l1) != e0);
    gw_l1_put(l1, key, "v1", 2, gw_l1_epoch(l1));
    assert_int_equal(gw_l1_get(l1, key, arena, &present, &val, &len), 1);
    assert_true(present);
    assert_int_equal(len, 2);
    assert_memory_equal(val, "v1", 2);

    /* Any write to the key in Redis, by anyone, drops the local copy. */
    redis_do("DEL", key, NULL);
    int dropped = 0;
    for (int i = 0; i < 100 && !dropped; i++) {
        dropped = gw_l1_get(l1, key, arena, &present, &val, &len) == 0;
        if (!dropped)
            sleep_ms(20);
    }
    assert_true(dropped);

    /* Absence is cached too, and a SET (a revocation marker) ends it. */
    char marker[96];
    snprintf(marker, sizeof marker, "sp:revoked:s-%d-%ld", (int)getpid(), (long)time(NULL));
    gw_l1_put(l1, marker, NULL, 0, gw_l1_epoch(l1));
    assert_int_equal(gw_l1_get(l1, marker, arena, &present, &val, &len), 1);
    assert_false(present);
    redis_do("SET", marker, "1");
    dropped = 0;
    for (int i = 0; i < 100 && !dropped; i++) {
        dropped = gw_l1_get(l1, marker, arena, &present, &val, &len) == 0;
        if (!dropped)
            sleep_ms(20);
    }
    assert_true(dropped);

    /* A value fetched before an invalidation is not stored after it. */
    uint64_t before = gw_l1_epoch(l1);
    redis_do("DEL", marker, NULL);
    for (int i = 0; i < 100 && gw_l1_epoch(l1) == before; i++)
        sleep_ms(20);
    assert_true(gw_l1_epoch(l1) != before);
    gw_l1_put(l1, key, "stale", 5, before);
    assert_int_equal(gw_l1_get(l1, key, arena, &present, &val, &len), 0);

    /* Stopped: nothing is served, since changes would go unheard. */
    gw_l1_put(l1, key, "v2", 2, gw_l1_epoch(l1));
    assert_int_equal(gw_l1_get(l1, key, arena, &present, &val, &len), 1);
    gw_l1_stop(l1);
    assert_false(gw_l1_active(l1));
    assert_int_equal(gw_l1_get(l1, key, arena, &present, &val, &len), 0);
    sp_arena_destroy(&arena);
    gw_l1_destroy(&l1);
    assert_null(l1);
}

static void test_local_cache_expires(void **state)
{
    static const char *const PREFIXES[] = {"sp:tenant:", NULL};
    gw_l1_t *l1 = gw_l1_new(1024, 100, PREFIXES);
    assert_int_equal(gw_l1_start(l1, pool), 0);
    for (int i = 0; i < 100 && !gw_l1_active(l1); i++)
        sleep_ms(50);
    sp_arena_t *arena = sp_arena_new();
    int present;
    const char *val;
    size_t len;
    gw_l1_put(l1, "sp:tenant:x", "v", 1, gw_l1_epoch(l1));
    assert_int_equal(gw_l1_get(l1, "sp:tenant:x", arena, &present, &val, &len), 1);
    sleep_ms(150);
    assert_int_equal(gw_l1_get(l1, "sp:tenant:x", arena, &present, &val, &len), 0);
    sp_arena_destroy(&arena);
    gw_l1_destroy(&l1);
}

/* ---- sessions ----------------------------------------------------------------------- */

static void test_refresh_family(void **state)
{
    gw_t gw = test_gw();
    sp_arena_t *arena = sp_arena_new();
    const char *sid = NULL, *rt1 = NULL, *rt2 = NULL, *rt3 = NULL;
    assert_int_equal(gw_session_create(&gw, arena, "tenant-1", "user-1", &sid, &rt1), 0);
    assert_int_equal(strlen(rt1), 47);
    assert_int_equal(strncmp(rt1, "rt1.", 4), 0);

    /* Only a hash is stored: the token text is in no key. */
    char key[128];
    snprintf(key, sizeof key, "sp:rt:%s", rt1 + 4);
    const char *argv[] = {"EXISTS", key};
    redisReply *r = NULL;
    assert_int_equal(sp_redis_command(pool, &r, 2, argv, NULL), 0);
    assert_int_equal(r->integer, 0);
    freeReplyObject(r);

    gw_refresh_result_t res;
    gw_session_t s;
    assert_int_equal(gw_session_rotate(&gw, arena, rt1, &res, &s, &rt2), 0);
    assert_int_equal(res, GW_REFRESH_OK);
    assert_string_equal(s.sid, sid);
    assert_string_equal(s.tenant_id, "tenant-1");
    assert_string_equal(s.user_id, "user-1");
    assert_string_not_equal(rt2, rt1);
    const char *of = NULL, *of_tenant = NULL;
    assert_int_equal(gw_session_of(&gw, arena, rt1, &of, &of_tenant), 0);
    assert_string_equal(of, sid);
    assert_string_equal(of_tenant, "tenant-1");

    /* rt1 again: reuse; the family is revoked, rt2 dies with it. */
    assert_int_equal(gw_session_rotate(&gw, arena, rt1, &res, &s, &rt3), 0);
    assert_int_equal(res, GW_REFRESH_REUSED);
    assert_string_equal(s.sid, sid);
    assert_int_equal(gw_session_rotate(&gw, arena, rt2, &res, &s, &rt3), 0);
    assert_int_equal(res, GW_REFRESH_INVALID);
    char *marker = gw_session_revoked_key(arena, sid);
    const char *margv[] = {"TTL", marker};
    assert_int_equal(sp_redis_command(pool, &r, 2, margv, NULL), 0);
    assert_true(r->integer > 900 && r->integer <= 935);
    freeReplyObject(r);

    /* Unknown and malformed tokens. */
    assert_int_equal(gw_session_rotate(&gw, arena,
                                       "rt1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &res, &s,
                                       &rt3),
                     0);
    assert_int_equal(res, GW_REFRESH_INVALID);
    assert_int_equal(gw_session_rotate(&gw, arena, "garbage", &res, &s, &rt3), 0);
    assert_int_equal(res, GW_REFRESH_INVALID);
    assert_int_equal(gw_session_of(&gw, arena, "garbage", &of, &of_tenant), SP_ENOTFOUND);

    /* Logout: revoke; idempotent. */
    const char *sid2 = NULL, *rt = NULL;
    assert_int_equal(gw_session_create(&gw, arena, "", "operator-1", &sid2, &rt), 0);
    assert_int_equal(gw_session_revoke(&gw, sid2), 0);
    assert_int_equal(gw_session_revoke(&gw, sid2), 0);
    assert_int_equal(gw_session_rotate(&gw, arena, rt, &res, &s, &rt3), 0);
    assert_int_equal(res, GW_REFRESH_INVALID);
    sp_arena_destroy(&arena);
}

/* ---- lockout -------------------------------------------------------------------------- */

static void test_lockout_backoff(void **state)
{
    gw_t gw = test_gw();
    sp_arena_t *arena = sp_arena_new();
    char email[64], ip[32];
    snprintf(email, sizeof email, "u%d-%ld@x.test", (int)getpid(), (long)time(NULL));
    /* Addresses unique to this run: counts live for a minute in Redis. */
    char a251[32], a252[32], a253[32], a254[32];
    unsigned salt = (unsigned)getpid() ^ (unsigned)time(NULL);
    snprintf(ip, sizeof ip, "10.%u.%u.1", (salt >> 8) & 255, salt & 255);
    snprintf(a251, sizeof a251, "10.%u.%u.251", (salt >> 8) & 255, salt & 255);
    snprintf(a252, sizeof a252, "10.%u.%u.252", (salt >> 8) & 255, salt & 255);
    snprintf(a253, sizeof a253, "10.%u.%u.253", (salt >> 8) & 255, salt & 255);
    snprintf(a254, sizeof a254, "10.%u.%u.254", (salt >> 8) & 255, salt & 255);
    const char *acct = gw_lockout_account(arena, "Acme", email);
    /* Case does not make another account. */
    char upper[64];
    for (size_t i = 0; i <= strlen(email); i++)
        upper[i] = (char)(email[i] >= 'a' && email[i] <= 'z' ? email[i] - 32 : email[i]);
    assert_string_equal(gw_lockout_account(arena, "acme", upper), acct);
    assert_string_not_equal(gw_lockout_account(arena, "other", email), acct);

    /* Padding is not another account either: the email is normalised. */
    char padded[80];
    snprintf(padded, sizeof padded, " \t%s\t ", upper);
    assert_string_equal(gw_lockout_account(arena, "acme", padded), acct);

    int retry = 0;
    assert_int_equal(gw_lockout_claim(&gw, arena, acct, ip, &retry), 0);
    /* The 2nd claim reaches the threshold (2): it still goes on to its
     * password check, and locks the account for 1 s behind it. */
    assert_int_equal(gw_lockout_claim(&gw, arena, acct, ip, &retry), 0);
    assert_int_equal(gw_lockout_claim(&gw, arena, acct, a254, &retry), SP_EDENIED);
    assert_int_equal(retry, 1);
    /* After the lock, one attempt per lock period, each doubling it. */
    sleep_ms(1100);
    assert_int_equal(gw_lockout_claim(&gw, arena, acct, a253, &retry), 0); /* 3rd: 2 s */
    assert_int_equal(gw_lockout_claim(&gw, arena, acct, a254, &retry), SP_EDENIED);
    assert_int_equal(retry, 2);
    /* The address reaches its own threshold (3) with the 3rd claim from it. */
    char other_email[80];
    snprintf(other_email, sizeof other_email, "other-%s", email);
    const char *other = gw_lockout_account(arena, "acme", other_email);
    assert_int_equal(gw_lockout_claim(&gw, arena, other, ip, &retry), 0);
    assert_int_equal(gw_lockout_claim(&gw, arena, other, ip, &retry), SP_EDENIED);
    assert_int_equal(gw_lockout_claim(&gw, arena, other, a252, &retry), 0);
    /* An attempt never checked gives its claims back: the address a252 can
     * claim as often as it gives back. */
    for (int i = 0; i < 5; i++) {
        const char *fresh = gw_lockout_account(arena, "acme", "fresh@x.test");
        assert_int_equal(gw_lockout_claim(&gw, arena, fresh, a252, &retry), 0);
        gw_lockout_release(&gw, arena, fresh, a252);
    }
    /* Success clears the account's count and lock, so it starts over. */
    sleep_ms(2100);
    assert_int_equal(gw_lockout_claim(&gw, arena, acct, a251, &retry), 0); /* locks 4 s */
    gw_lockout_succeeded(&gw, arena, acct, a251);
    assert_int_equal(gw_lockout_claim(&gw, arena, acct, a251, &retry), 0);
    assert_int_equal(gw_lockout_claim(&gw, arena, acct, a251, &retry), 0);
    assert_int_equal(gw_lockout_claim(&gw, arena, acct, a251, &retry), SP_EDENIED);
    sp_arena_destroy(&arena);
}

/* ---- rate limits ------------------------------------------------------------------------ */

static int apply_n(gw_t *gw, const char *tenant, const char *caller, const gw_limits_t *limits,
                   int n, sp_request_t **last)
{
    int allowed = 0;
    for (int i = 0; i < n; i++) {
        sp_request_t *req = sp_request_new();
        if (gw_ratelimit_apply(gw, req, tenant, caller, limits) == 0)
            allowed++;
        if (last && i == n - 1)
            *last = req;
        else
            sp_request_destroy(&req);
    }
    return allowed;
}

static void test_rate_limits_exact_and_batched(void **state)
{
    gw_t gw = test_gw();
    gw.rl = gw_rl_new();
    char tenant[64], caller[64];
    snprintf(tenant, sizeof tenant, "t-%d-%ld", (int)getpid(), (long)time(NULL));
    snprintf(caller, sizeof caller, "u:%d", (int)getpid());

    /* Small limits are exact: the 6th of 5 is refused, with its headers. */
    gw_limits_t small = SERPHONA__TENANT__V1__LIMITS__INIT;
    small.user_requests_per_minute = 5;
    small.tenant_requests_per_minute = 100;
    sp_request_t *req = NULL;
    assert_int_equal(apply_n(&gw, tenant, caller, &small, 5, &req), 5);
    sp_response_t *resp = sp_request_response(req);
    assert_string_equal(sp_response_header(resp, "RateLimit-Limit"), "5");
    assert_string_equal(sp_response_header(resp, "RateLimit-Remaining"), "0");
    sp_request_destroy(&req);
    assert_int_equal(apply_n(&gw, tenant, caller, &small, 1, &req), 0);
    resp = sp_request_response(req);
    assert_int_equal(sp_response_status(resp), 429);
    assert_true(num(sp_response_header(resp, "Retry-After")) >= 1);
    assert_true(num(sp_response_header(resp, "Retry-After")) <= 12);
    sp_request_destroy(&req);
    /* Refusals are remembered locally: hammering costs Redis nothing. */
    long long calls = evalsha_calls();
    assert_int_equal(apply_n(&gw, tenant, caller, &small, 20, NULL), 0);
    assert_int_equal(evalsha_calls(), calls);

    /* A large limit settles in batches of limit/100. */
    gw_limits_t big = SERPHONA__TENANT__V1__LIMITS__INIT;
    big.user_requests_per_minute = 1000;
    big.tenant_requests_per_minute = 100000;
    char caller2[64];
    snprintf(caller2, sizeof caller2, "u:%d:b", (int)getpid());
    calls = evalsha_calls();
    assert_int_equal(apply_n(&gw, tenant, caller2, &big, 100, &req), 100);
    long long used = evalsha_calls() - calls;
    /* 100 requests: ~10 settlements of the caller's bucket (batch 10) and
     * ~1-2 of the tenant's (batch 100), not 200 round trips. */
    assert_true(used >= 10 && used <= 40);
    resp = sp_request_response(req);
    int remaining = num(sp_response_header(resp, "RateLimit-Remaining"));
    assert_true(remaining >= 890 && remaining <= 910);
    sp_request_destroy(&req);
    /* And the whole allowance is still honoured, to within one batch. */
    int allowed = apply_n(&gw, tenant, caller2, &big, 1000, NULL);
    assert_true(allowed >= 890 && allowed <= 980);
    gw_rl_destroy(&gw.rl);
}

int main(void)
{
    const char *port = getenv("SERPHONA_TEST_REDIS_PORT");
    redis_port = port ? (int)strtol(port, NULL, 10) : 0;
    if (redis_port <= 0) {
        fprintf(stderr, "test_gateway: FAIL: SERPHONA_TEST_REDIS_PORT must name the port of a "
                        "running Redis on 127.0.0.1; start one with deploy/local/redis.sh\n");
        return 1;
    }
    sp_log_init("test_gateway", SP_LOG_WARN);
    pool = sp_redis_pool_new("127.0.0.1", redis_port, NULL, 4, 2000);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_local_cache_follows_redis),
        cmocka_unit_test(test_local_cache_expires),
        cmocka_unit_test(test_refresh_family),
        cmocka_unit_test(test_lockout_backoff),
        cmocka_unit_test(test_rate_limits_exact_and_batched),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    sp_redis_pool_destroy(&pool);
    return rc;
}
