/*
 * test_tenant_client.c — the tenant-manager client (tenant_client.h) against
 * real Redis (127.0.0.1:$SERPHONA_TEST_REDIS_PORT, see tests/with-stack.sh)
 * and a fake tenant-manager served in-process by a real RPC server: the key
 * names, cache hit and miss, invalidation by DEL, the API key cache and its
 * shorter TTL for refusals, the batched lookup, the back-off, and the
 * non-blocking peek (the default at once while tenant-manager hangs, the
 * real value after the background refresh, a change after forget).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "platform/clock.h"
#include "platform/error.h"
#include "platform/log.h"
#include "platform/redis.h"
#include "platform/rpc.h"
#include "platform/tenant_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TA      "11111111-1111-4111-8111-111111111111"
#define UNKNOWN "99999999-9999-4999-8999-999999999999"
#define USER    "22222222-2222-4222-8222-222222222222"
#define GOODKEY "sp_live_good_key_0001"

typedef struct {
    sp_rpc_server_t *server;
    sp_rpc_client_t *client;
    sp_redis_pool_t *redis;
    atomic_int calls;
    atomic_int delay_ms;      /* each method sleeps this long first */
    const char *volatile tz;  /* what GetTenantState answers */
    const char *volatile tax; /* what GetTaxonomy answers */
} fixture_t;

static fixture_t F;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- the fake tenant-manager --------------------------------------------- */

static int reply(sp_arena_t *arena, const ProtobufCMessage *msg, uint8_t **out, size_t *out_len)
{
    return sp_rpc_pack(arena, msg, out, out_len);
}

static void enter(void)
{
    atomic_fetch_add(&F.calls, 1);
    int d = atomic_load(&F.delay_ms);
    if (d > 0)
        sleep_ms(d);
}

static int get_state(sp_rpc_call_t *call, const uint8_t *in, size_t in_len, sp_arena_t *arena,
                     uint8_t **out, size_t *out_len, void *ud)
{
    enter();
    Serphona__Tenant__V1__GetTenantStateRequest *q =
        (Serphona__Tenant__V1__GetTenantStateRequest *)sp_rpc_unpack(
            arena, &serphona__tenant__v1__get_tenant_state_request__descriptor, in, in_len);
    if (!q)
        return SP_EINVAL;
    Serphona__Tenant__V1__TenantState st = SERPHONA__TENANT__V1__TENANT_STATE__INIT;
    st.tenant_id = q->tenant_id;
    st.timezone = (char *)F.tz;
    st.retention_days = 90;
    if (strcmp(q->tenant_id, UNKNOWN) == 0)
        st.status = SERPHONA__TENANT__V1__PRINCIPAL_STATUS__PRINCIPAL_NOT_FOUND;
    return reply(arena, &st.base, out, out_len);
}

static int get_principal(sp_rpc_call_t *call, const uint8_t *in, size_t in_len, sp_arena_t *arena,
                         uint8_t **out, size_t *out_len, void *ud)
{
    enter();
    static char *roles[] = {"admin"};
    Serphona__Tenant__V1__Principal p = SERPHONA__TENANT__V1__PRINCIPAL__INIT;
    p.tenant_id = TA;
    p.user_id = USER;
    p.roles = roles;
    p.n_roles = 1;
    return reply(arena, &p.base, out, out_len);
}

static int get_limits(sp_rpc_call_t *call, const uint8_t *in, size_t in_len, sp_arena_t *arena,
                      uint8_t **out, size_t *out_len, void *ud)
{
    enter();
    Serphona__Tenant__V1__Limits l = SERPHONA__TENANT__V1__LIMITS__INIT;
    l.plan = "pro";
    l.tenant_requests_per_minute = 600;
    return reply(arena, &l.base, out, out_len);
}

static int list_origins(sp_rpc_call_t *call, const uint8_t *in, size_t in_len, sp_arena_t *arena,
                        uint8_t **out, size_t *out_len, void *ud)
{
    enter();
    static char *origins[] = {"https://a.example", "https://b.example"};
    Serphona__Tenant__V1__AllowedOrigins o = SERPHONA__TENANT__V1__ALLOWED_ORIGINS__INIT;
    o.origins = origins;
    o.n_origins = 2;
    return reply(arena, &o.base, out, out_len);
}

static int resolve_key(sp_rpc_call_t *call, const uint8_t *in, size_t in_len, sp_arena_t *arena,
                       uint8_t **out, size_t *out_len, void *ud)
{
    enter();
    Serphona__Tenant__V1__ResolveApiKeyRequest *q =
        (Serphona__Tenant__V1__ResolveApiKeyRequest *)sp_rpc_unpack(
            arena, &serphona__tenant__v1__resolve_api_key_request__descriptor, in, in_len);
    if (!q)
        return SP_EINVAL;
    Serphona__Tenant__V1__ResolveApiKeyReply r = SERPHONA__TENANT__V1__RESOLVE_API_KEY_REPLY__INIT;
    if (strcmp(q->key, GOODKEY) == 0) {
        r.tenant_id = TA;
        r.key_id = "key-1";
    } else {
        r.result = SERPHONA__TENANT__V1__RESOLVE_API_KEY_REPLY__RESULT__INVALID;
    }
    return reply(arena, &r.base, out, out_len);
}

static int get_taxonomy(sp_rpc_call_t *call, const uint8_t *in, size_t in_len, sp_arena_t *arena,
                        uint8_t **out, size_t *out_len, void *ud)
{
    enter();
    Serphona__Tenant__V1__GetTaxonomyRequest *q =
        (Serphona__Tenant__V1__GetTaxonomyRequest *)sp_rpc_unpack(
            arena, &serphona__tenant__v1__get_taxonomy_request__descriptor, in, in_len);
    if (!q)
        return SP_EINVAL;
    if (strcmp(q->tenant_id, UNKNOWN) == 0)
        return SP_ENOTFOUND;
    Serphona__Tenant__V1__Taxonomy t = SERPHONA__TENANT__V1__TAXONOMY__INIT;
    t.json = (char *)F.tax;
    t.customized = 1;
    return reply(arena, &t.base, out, out_len);
}

static void del_all(void)
{
    char key[SP_TENANTS_KEY_MAX];
    for (int k = 0; k < SP_TENANTS_KINDS; k++) {
        sp_redis_cache_del(F.redis, sp_tenants_key(key, k, TA, USER));
        sp_redis_cache_del(F.redis, sp_tenants_key(key, k, UNKNOWN, USER));
    }
    sp_redis_cache_del(F.redis, sp_tenants_api_key_key(key, GOODKEY));
    sp_redis_cache_del(F.redis, sp_tenants_api_key_key(key, "sp_live_bad_key_0002"));
}

static int setup(void **state)
{
    const char *port = getenv("SERPHONA_TEST_REDIS_PORT");
    if (!port) {
        fprintf(stderr, "test_tenant_client: SERPHONA_TEST_REDIS_PORT must name a Redis port "
                        "(run it with tests/with-stack.sh)\n");
        return -1;
    }
    F.redis = sp_redis_pool_new("127.0.0.1", (int)strtol(port, NULL, 10), NULL, 4, 2000);
    F.server = sp_rpc_server_new("tenant-manager", "tcp://127.0.0.1:*", NULL, 4);
    if (!F.redis || !F.server)
        return -1;
    static const struct {
        const char *name;
        sp_rpc_method_fn fn;
    } M[] = {{"tenant-manager.GetTenantState", get_state},
             {"tenant-manager.GetPrincipal", get_principal},
             {"tenant-manager.GetLimits", get_limits},
             {"tenant-manager.ListAllowedOrigins", list_origins},
             {"tenant-manager.ResolveApiKey", resolve_key},
             {"tenant-manager.GetTaxonomy", get_taxonomy}};
    for (size_t i = 0; i < sizeof M / sizeof M[0]; i++)
        if (sp_rpc_server_add_method(F.server, M[i].name, M[i].fn, NULL) != 0)
            return -1;
    if (sp_rpc_server_start(F.server) != 0)
        return -1;
    F.client = sp_rpc_client_new(sp_rpc_server_endpoint(F.server));
    return F.client ? 0 : -1;
}

static int teardown(void **state)
{
    del_all();
    sp_rpc_client_destroy(&F.client);
    sp_rpc_server_destroy(&F.server);
    sp_redis_pool_destroy(&F.redis);
    return 0;
}

static int before(void **state)
{
    del_all();
    atomic_store(&F.calls, 0);
    atomic_store(&F.delay_ms, 0);
    F.tz = "Europe/Lisbon";
    F.tax = "{\"categories\":[]}";
    return 0;
}

/* A port nothing listens on: tenant-manager away. */
static char *dead_endpoint(char buf[64])
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    snprintf(buf, 64, "tcp://127.0.0.1:%d", ntohs(sa.sin_port));
    return buf;
}

static long long ttl_of(const char *key)
{
    redisReply *r = NULL;
    const char *argv[] = {"TTL", key};
    assert_int_equal(sp_redis_command(F.redis, &r, 2, argv, NULL), 0);
    long long ttl = r->type == REDIS_REPLY_INTEGER ? r->integer : -100;
    freeReplyObject(r);
    return ttl;
}

/* ---- tests ------------------------------------------------------------------ */

static void test_keys(void **state)
{
    char k[SP_TENANTS_KEY_MAX];
    assert_string_equal(sp_tenants_key(k, SP_TENANTS_PRINCIPAL, TA, USER),
                        "sp:principal:" TA ":" USER);
    assert_string_equal(sp_tenants_key(k, SP_TENANTS_PRINCIPAL, NULL, USER), "sp:principal::" USER);
    assert_string_equal(sp_tenants_key(k, SP_TENANTS_STATE, TA, NULL), "sp:tenant:" TA);
    assert_string_equal(sp_tenants_key(k, SP_TENANTS_LIMITS, TA, NULL), "sp:limits:" TA);
    assert_string_equal(sp_tenants_key(k, SP_TENANTS_ORIGINS, TA, NULL), "sp:origins");
    assert_string_equal(sp_tenants_key(k, SP_TENANTS_TAXONOMY, TA, NULL), "sp:taxonomy:" TA);
    assert_string_equal(sp_tenants_key(k, SP_TENANTS_APIKEY, "ab12", NULL), "sp:apikey:ab12");
    /* sha256("abc") */
    assert_string_equal(
        sp_tenants_api_key_key(k, "abc"),
        "sp:apikey:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_string_equal(sp_tenants_key_prefix(SP_TENANTS_STATE), "sp:tenant:");
    char big[200];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_null(sp_tenants_key(k, SP_TENANTS_STATE, big, NULL));
    assert_null(sp_tenants_key(k, SP_TENANTS_KINDS, TA, NULL));
}

static void test_cache_hit_miss_invalidation(void **state)
{
    sp_tenants_opts_t o = {.tm = F.client, .redis = F.redis, .cache_ttl_s = 30};
    sp_tenants_t *t = sp_tenants_new(&o);
    sp_arena_t *arena = sp_arena_new();
    const sp_tenants_state_t *st = NULL;
    char key[SP_TENANTS_KEY_MAX];

    assert_int_equal(sp_tenants_state(t, arena, TA, &st), 0);
    assert_string_equal(st->timezone, "Europe/Lisbon");
    assert_int_equal(atomic_load(&F.calls), 1);
    long long ttl = ttl_of(sp_tenants_key(key, SP_TENANTS_STATE, TA, NULL));
    assert_true(ttl > 0 && ttl <= 30);
    /* A hit: tenant-manager is not asked, even though its answer changed. */
    F.tz = "America/Sao_Paulo";
    assert_int_equal(sp_tenants_state(t, arena, TA, &st), 0);
    assert_string_equal(st->timezone, "Europe/Lisbon");
    assert_int_equal(atomic_load(&F.calls), 1);
    /* tenant-manager's invalidation: DEL of the same key. */
    assert_int_equal(sp_redis_cache_del(F.redis, key), 0);
    assert_int_equal(sp_tenants_state(t, arena, TA, &st), 0);
    assert_string_equal(st->timezone, "America/Sao_Paulo");
    assert_int_equal(atomic_load(&F.calls), 2);

    const sp_tenants_principal_t *p = NULL;
    const sp_tenants_limits_t *l = NULL;
    const sp_tenants_origins_t *orig = NULL;
    const sp_tenants_taxonomy_t *tax = NULL;
    assert_int_equal(sp_tenants_principal(t, arena, TA, USER, &p), 0);
    assert_string_equal(p->roles[0], "admin");
    assert_int_equal(sp_tenants_limits(t, arena, TA, &l), 0);
    assert_int_equal(l->tenant_requests_per_minute, 600);
    assert_int_equal(sp_tenants_origins(t, arena, &orig), 0);
    assert_int_equal(orig->n_origins, 2);
    assert_int_equal(sp_tenants_taxonomy(t, arena, TA, &tax), 0);
    assert_string_equal(tax->json, "{\"categories\":[]}");
    assert_int_equal(atomic_load(&F.calls), 6);
    assert_int_equal(sp_tenants_principal(t, arena, TA, USER, &p), 0);
    assert_int_equal(sp_tenants_limits(t, arena, TA, &l), 0);
    assert_int_equal(sp_tenants_origins(t, arena, &orig), 0);
    assert_int_equal(sp_tenants_taxonomy(t, arena, TA, &tax), 0);
    assert_int_equal(atomic_load(&F.calls), 6);
    /* Cached only: never asks. */
    const ProtobufCMessage *cm = NULL;
    assert_int_equal(sp_tenants_cached(t, arena, SP_TENANTS_STATE, TA, NULL, &cm), 0);
    assert_string_equal(((const sp_tenants_state_t *)cm)->timezone, "America/Sao_Paulo");
    assert_int_equal(sp_tenants_cached(t, arena, SP_TENANTS_STATE, UNKNOWN, NULL, &cm),
                     SP_ENOTFOUND);
    assert_int_equal(atomic_load(&F.calls), 6);
    /* An unknown tenant's taxonomy: SP_ENOTFOUND, and nothing cached. */
    assert_int_equal(sp_tenants_taxonomy(t, arena, UNKNOWN, &tax), SP_ENOTFOUND);
    assert_int_equal(ttl_of(sp_tenants_key(key, SP_TENANTS_TAXONOMY, UNKNOWN, NULL)), -2);

    /* Without Redis: every call asks. */
    sp_tenants_opts_t o2 = {.tm = F.client};
    sp_tenants_t *nocache = sp_tenants_new(&o2);
    assert_int_equal(sp_tenants_limits(nocache, arena, TA, &l), 0);
    assert_int_equal(sp_tenants_limits(nocache, arena, TA, &l), 0);
    assert_int_equal(atomic_load(&F.calls), 9);
    sp_tenants_destroy(&nocache);
    assert_null(nocache);
    sp_arena_destroy(&arena);
    sp_tenants_destroy(&t);
    sp_tenants_destroy(&t);
}

static void test_api_keys(void **state)
{
    sp_tenants_opts_t o = {.tm = F.client, .redis = F.redis};
    sp_tenants_t *t = sp_tenants_new(&o);
    sp_arena_t *arena = sp_arena_new();
    const sp_tenants_api_key_t *r = NULL;
    char key[SP_TENANTS_KEY_MAX];

    assert_int_equal(sp_tenants_resolve_api_key(t, arena, GOODKEY, 30, &r), 0);
    assert_int_equal(r->result, SERPHONA__TENANT__V1__RESOLVE_API_KEY_REPLY__RESULT__OK);
    assert_string_equal(r->tenant_id, TA);
    assert_int_equal(sp_tenants_resolve_api_key(t, arena, GOODKEY, 30, &r), 0);
    assert_int_equal(atomic_load(&F.calls), 1);
    long long ttl = ttl_of(sp_tenants_api_key_key(key, GOODKEY));
    assert_true(ttl > 10 && ttl <= 30);
    /* A refusal is cached 10 s at most. */
    assert_int_equal(sp_tenants_resolve_api_key(t, arena, "sp_live_bad_key_0002", 30, &r), 0);
    assert_int_equal(r->result, SERPHONA__TENANT__V1__RESOLVE_API_KEY_REPLY__RESULT__INVALID);
    ttl = ttl_of(sp_tenants_api_key_key(key, "sp_live_bad_key_0002"));
    assert_true(ttl > 0 && ttl <= 10);
    /* cache_s 0: tenant-manager every time (it stamps the last use). */
    assert_int_equal(sp_tenants_resolve_api_key(t, arena, GOODKEY, 0, &r), 0);
    assert_int_equal(sp_tenants_resolve_api_key(t, arena, GOODKEY, 0, &r), 0);
    assert_int_equal(atomic_load(&F.calls), 4);
    sp_arena_destroy(&arena);
    sp_tenants_destroy(&t);
}

static void test_lookup_one_round_trip(void **state)
{
    sp_tenants_opts_t o = {.tm = F.client, .redis = F.redis};
    sp_tenants_t *t = sp_tenants_new(&o);
    sp_arena_t *arena = sp_arena_new();
    assert_int_equal(sp_redis_cache_set(F.redis, "sp:test:marker", "1", 1, 30), 0);
    sp_tenants_query_t q = {.tenant_id = TA,
                            .user_id = USER,
                            .want_state = 1,
                            .want_limits = 1,
                            .marker_key = "sp:test:marker"};
    sp_tenants_answer_t a;
    assert_int_equal(sp_tenants_lookup(t, arena, &q, &a), 0);
    assert_non_null(a.principal);
    assert_non_null(a.state);
    assert_non_null(a.limits);
    assert_true(a.marker_checked && a.marker_present);
    assert_int_equal(atomic_load(&F.calls), 3);
    q.marker_key = "sp:test:nomarker";
    assert_int_equal(sp_tenants_lookup(t, arena, &q, &a), 0);
    assert_true(a.marker_checked && !a.marker_present);
    assert_string_equal(a.state->timezone, "Europe/Lisbon");
    assert_int_equal(atomic_load(&F.calls), 3); /* all from the cache */
    /* An operator: no tenant, so no state or limits. */
    sp_tenants_query_t op = {.tenant_id = "", .user_id = USER, .want_state = 1};
    assert_int_equal(sp_tenants_lookup(t, arena, &op, &a), 0);
    assert_non_null(a.principal);
    assert_null(a.state);
    char key[SP_TENANTS_KEY_MAX];
    sp_redis_cache_del(F.redis, sp_tenants_key(key, SP_TENANTS_PRINCIPAL, "", USER));
    sp_redis_cache_del(F.redis, "sp:test:marker");
    sp_arena_destroy(&arena);
    sp_tenants_destroy(&t);
}

static void *probe_main(void *arg)
{
    sp_arena_t *arena = sp_arena_new();
    const sp_tenants_limits_t *l = NULL;
    assert_int_equal(sp_tenants_limits(arg, arena, TA, &l), SP_EUNAVAILABLE);
    sp_arena_destroy(&arena);
    return NULL;
}

static void test_backoff(void **state)
{
    char ep[64];
    sp_rpc_client_t *dead = sp_rpc_client_new(dead_endpoint(ep));
    sp_tenants_opts_t o = {.tm = dead, .redis = F.redis, .timeout_ms = 200, .backoff_ms = 800};
    sp_tenants_t *t = sp_tenants_new(&o);
    sp_arena_t *arena = sp_arena_new();
    const sp_tenants_state_t *st = NULL;
    sp_tenants_stats_t s;

    int64_t t0 = sp_clock_mono_ms();
    assert_int_equal(sp_tenants_state(t, arena, TA, &st), SP_EUNAVAILABLE);
    assert_true(sp_clock_mono_ms() - t0 >= 150); /* one deadline */
    t0 = sp_clock_mono_ms();
    for (int i = 0; i < 20; i++)
        assert_int_equal(sp_tenants_state(t, arena, TA, &st), SP_EUNAVAILABLE);
    /* none waited: 20 deadlines would be 4 s (bounds leave room for ASan) */
    assert_true(sp_clock_mono_ms() - t0 < 2000);
    sp_tenants_stats(t, &s);
    assert_int_equal(s.rpcs, 1);
    assert_int_equal(s.skipped, 20);
    /* A cached answer is still served while backing off. */
    const sp_tenants_state_t *cached = NULL;
    sp_tenants_opts_t ok = {.tm = F.client, .redis = F.redis};
    sp_tenants_t *filler = sp_tenants_new(&ok);
    assert_int_equal(sp_tenants_state(filler, arena, TA, &cached), 0);
    assert_int_equal(sp_tenants_state(t, arena, TA, &st), 0);
    assert_string_equal(st->timezone, "Europe/Lisbon");
    /* After the back-off, one call probes tenant-manager while the others
     * still fail at once. */
    sleep_ms(900);
    pthread_t prober;
    assert_int_equal(pthread_create(&prober, NULL, probe_main, t), 0);
    sleep_ms(50);
    t0 = sp_clock_mono_ms();
    const sp_tenants_limits_t *l2 = NULL;
    assert_int_equal(sp_tenants_limits(t, arena, UNKNOWN, &l2), SP_EUNAVAILABLE);
    assert_true(sp_clock_mono_ms() - t0 < 190); /* under one 200 ms deadline */
    pthread_join(prober, NULL);
    const sp_tenants_limits_t *l = NULL;
    assert_int_equal(sp_tenants_limits(t, arena, TA, &l), SP_EUNAVAILABLE);
    sp_tenants_stats(t, &s);
    assert_int_equal(s.rpcs, 2);
    sp_tenants_destroy(&filler);
    sp_tenants_destroy(&t);
    sp_arena_destroy(&arena);
    sp_rpc_client_destroy(&dead);
}

/* Polls peek until it answers 0 or ms pass. */
static int peek_until(sp_tenants_t *t, sp_arena_t *arena, sp_tenants_kind_t kind, const char *id,
                      const ProtobufCMessage **out, uint64_t *ver, int ms)
{
    int rc = SP_EUNAVAILABLE;
    for (int waited = 0; waited <= ms; waited += 20) {
        rc = sp_tenants_peek(t, arena, kind, id, out, ver);
        if (rc != SP_EUNAVAILABLE)
            return rc;
        sleep_ms(20);
    }
    return rc;
}

static void test_peek_never_waits(void **state)
{
    sp_tenants_opts_t o = {.tm = F.client,
                           .redis = F.redis,
                           .timeout_ms = 400,
                           .backoff_ms = 300,
                           .peek_refresh_ms = 60000};
    sp_tenants_t *t = sp_tenants_new(&o);
    sp_arena_t *arena = sp_arena_new();
    const ProtobufCMessage *m = NULL;
    uint64_t v1 = 0, v2 = 0;

    /* tenant-manager hangs: the default (SP_EUNAVAILABLE) at once, every
     * time, while the refresher waits out its deadline. */
    atomic_store(&F.delay_ms, 1500);
    int64_t t0 = sp_clock_mono_ms();
    for (int i = 0; i < 50; i++)
        assert_int_equal(sp_tenants_peek(t, arena, SP_TENANTS_TAXONOMY, TA, &m, &v1),
                         SP_EUNAVAILABLE);
    assert_true(sp_clock_mono_ms() - t0 < 1000); /* the refresher's wait is 1.5 s */
    /* It comes back: the real value after the background refresh. */
    atomic_store(&F.delay_ms, 0);
    assert_int_equal(peek_until(t, arena, SP_TENANTS_TAXONOMY, TA, &m, &v1, 5000), 0);
    assert_string_equal(((const sp_tenants_taxonomy_t *)m)->json, "{\"categories\":[]}");
    int calls = atomic_load(&F.calls);
    /* Known now: answered from memory, nobody asked. */
    assert_int_equal(sp_tenants_peek(t, arena, SP_TENANTS_TAXONOMY, TA, &m, &v2), 0);
    assert_int_equal(v1, v2);
    assert_int_equal(atomic_load(&F.calls), calls);

    /* A change: tenant-manager DELs the key, a change event forgets it; the
     * last known value stands until the refresh lands. */
    F.tax = "{\"categories\":[{\"id\":\"x\",\"patterns\":[\"y\"]}]}";
    char key[SP_TENANTS_KEY_MAX];
    sp_redis_cache_del(F.redis, sp_tenants_key(key, SP_TENANTS_TAXONOMY, TA, NULL));
    atomic_store(&F.delay_ms, 300);
    sp_tenants_forget(t, TA);
    assert_int_equal(sp_tenants_peek(t, arena, SP_TENANTS_TAXONOMY, TA, &m, &v2), 0);
    assert_string_equal(((const sp_tenants_taxonomy_t *)m)->json, "{\"categories\":[]}");
    atomic_store(&F.delay_ms, 0);
    for (int waited = 0; waited < 3000 && v2 == v1; waited += 20) {
        sleep_ms(20);
        assert_int_equal(sp_tenants_peek(t, arena, SP_TENANTS_TAXONOMY, TA, &m, &v2), 0);
    }
    assert_int_not_equal(v1, v2);
    assert_string_equal(((const sp_tenants_taxonomy_t *)m)->json, F.tax);

    /* Unknown tenant: SP_ENOTFOUND once known; a state peek works too. */
    assert_int_equal(peek_until(t, arena, SP_TENANTS_TAXONOMY, UNKNOWN, &m, NULL, 3000),
                     SP_ENOTFOUND);
    assert_int_equal(peek_until(t, arena, SP_TENANTS_STATE, TA, &m, NULL, 3000), 0);
    assert_string_equal(((const sp_tenants_state_t *)m)->timezone, "Europe/Lisbon");
    assert_int_equal(sp_tenants_peek(t, arena, SP_TENANTS_PRINCIPAL, TA, &m, NULL), SP_EINVAL);
    sp_tenants_destroy(&t);

    /* peek_wait: a first use waits for the refresh while tenant-manager
     * answers... */
    t = sp_tenants_new(&o);
    sp_redis_cache_del(F.redis, sp_tenants_key(key, SP_TENANTS_TAXONOMY, TA, NULL));
    assert_int_equal(sp_tenants_peek_wait(t, arena, SP_TENANTS_TAXONOMY, TA, &m, NULL, 3000), 0);
    assert_string_equal(((const sp_tenants_taxonomy_t *)m)->json, F.tax);
    sp_tenants_destroy(&t);
    /* ...and while it hangs, only the first new tenant waits (bounded). */
    t = sp_tenants_new(&o);
    atomic_store(&F.delay_ms, 1500);
    sp_redis_cache_del(F.redis, sp_tenants_key(key, SP_TENANTS_STATE, TA, NULL));
    int64_t w0 = sp_clock_mono_ms();
    assert_int_equal(sp_tenants_peek_wait(t, arena, SP_TENANTS_STATE, TA, &m, NULL, 200),
                     SP_EUNAVAILABLE);
    int64_t waited = sp_clock_mono_ms() - w0;
    assert_true(waited >= 150 && waited < 1400); /* its budget, not tenant-manager's 1.5 s */
    w0 = sp_clock_mono_ms();
    assert_int_equal(sp_tenants_peek_wait(t, arena, SP_TENANTS_STATE, UNKNOWN, &m, NULL, 200),
                     SP_EUNAVAILABLE);
    assert_true(sp_clock_mono_ms() - w0 < 150); /* not its 200 ms budget */
    atomic_store(&F.delay_ms, 0);
    assert_int_equal(sp_tenants_peek(t, arena, SP_TENANTS_STATE, "", &m, NULL), SP_EINVAL);
    sp_arena_destroy(&arena);
    sp_tenants_destroy(&t);
}

static void test_peek_refresh_and_bounds(void **state)
{
    char ep[64];
    sp_rpc_client_t *dead = sp_rpc_client_new(dead_endpoint(ep));
    /* Away for good: nothing ever known, and never a wait. */
    sp_tenants_opts_t o = {.tm = dead, .timeout_ms = 300, .backoff_ms = 200, .peek_capacity = 8};
    sp_tenants_t *t = sp_tenants_new(&o);
    sp_arena_t *arena = sp_arena_new();
    const ProtobufCMessage *m = NULL;
    char id[40];
    int64_t t0 = sp_clock_mono_ms();
    for (int i = 0; i < 200; i++) {
        snprintf(id, sizeof id, "00000000-0000-4000-8000-%012d", i);
        assert_int_equal(sp_tenants_peek(t, arena, SP_TENANTS_STATE, id, &m, NULL),
                         SP_EUNAVAILABLE);
    }
    assert_true(sp_clock_mono_ms() - t0 < 3000); /* 200 deadlines would be a minute */
    sp_tenants_destroy(&t);                      /* waits for one refresh at most */
    sp_rpc_client_destroy(&dead);

    /* peek_refresh_ms: a known value is refreshed in the background. */
    sp_tenants_opts_t o2 = {.tm = F.client, .peek_refresh_ms = 100};
    t = sp_tenants_new(&o2);
    assert_int_equal(peek_until(t, arena, SP_TENANTS_STATE, TA, &m, NULL, 3000), 0);
    F.tz = "Asia/Tokyo";
    int found = 0;
    for (int waited = 0; waited < 3000 && !found; waited += 20) {
        sleep_ms(20);
        assert_int_equal(sp_tenants_peek(t, arena, SP_TENANTS_STATE, TA, &m, NULL), 0);
        found = strcmp(((const sp_tenants_state_t *)m)->timezone, "Asia/Tokyo") == 0;
    }
    assert_true(found);
    sp_tenants_stats_t s;
    sp_tenants_stats(t, &s);
    assert_true(s.refreshes >= 2);
    sp_tenants_destroy(&t);
    sp_arena_destroy(&arena);
}

int main(void)
{
    sp_log_init("test_tenant_client", SP_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys),
        cmocka_unit_test_setup(test_cache_hit_miss_invalidation, before),
        cmocka_unit_test_setup(test_api_keys, before),
        cmocka_unit_test_setup(test_lookup_one_round_trip, before),
        cmocka_unit_test_setup(test_backoff, before),
        cmocka_unit_test_setup(test_peek_never_waits, before),
        cmocka_unit_test_setup(test_peek_refresh_and_bounds, before),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
