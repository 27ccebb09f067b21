/*
 * test_ingest.c — the ingestion routes in-process against the unit stack's
 * real PostgreSQL (the "tools" schema, migrated here, app role under RLS),
 * Redis and dev Kafka broker: per-item results, deduplication by external
 * id (in a batch, across batches, per tenant), Idempotency-Key, durability
 * (events on the topic, 503 when Kafka does not acknowledge), partner API
 * keys on the public router, and upload jobs processed by the worker.
 *
 * Needs SERPHONA_TEST_PG_URL, SERPHONA_TEST_PG_OWNER_URL,
 * SERPHONA_TEST_REDIS_PORT and SERPHONA_TEST_KAFKA_BROKERS (tests/run-all.sh).
 */
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

#include "../src/interaction.h"
#include "../src/interactions.h"
#include "../src/partner_auth.h"
#include "../src/publisher.h"
#include "../src/tg.h"
#include "../src/upload_worker.h"
#include "../src/uploads.h"
#include "platform/crypto.h"
#include "platform/error.h"
#include "platform/log.h"
#include "platform/permissions.h"
#include "tenant.pb-c.h"

#define MIGRATIONS "services/tools-gateway/migrations"

static tg_t T;
static sp_config_t *CFG;
static char TOPIC[128];
static char TENANT_A[SP_UUID_STR_LEN], TENANT_B[SP_UUID_STR_LEN];
static sp_events_consumer_t *CONSUMER;
static const char *BROKERS;

/* ---- requests ---------------------------------------------------------------- */

typedef struct {
    int status;
    cJSON *json;
    char *text;
    char *retry_after, *replayed, *location;
} resp_t;

static void resp_free(resp_t *r)
{
    cJSON_Delete(r->json);
    free(r->text);
    free(r->retry_after);
    free(r->replayed);
    free(r->location);
    memset(r, 0, sizeof(*r));
}

typedef struct {
    const char *tenant_id;
    const char *role;
} caller_t;

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* Completion of a suspended request (the handler went SP_HANDLER_ASYNC and
 * answers from a publisher completion thread). */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
} waiter_t;

static void on_complete(sp_request_t *req, void *ud)
{
    (void)req;
    waiter_t *w = ud;
    pthread_mutex_lock(&w->mu);
    w->done = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Dispatches a request on router with an optional caller (NULL: none) and
 * headers ("Name", "value", ..., NULL), waiting for a suspended one. */
static resp_t call_on(sp_router_t *router, const caller_t *who, const char *method,
                      const char *path, const char *body, const char *const *headers)
{
    sp_request_t *req = sp_request_new();
    assert_non_null(req);
    const char *q = strchr(path, '?');
    char pathbuf[512];
    snprintf(pathbuf, sizeof(pathbuf), "%.*s", q ? (int)(q - path) : (int)strlen(path), path);
    assert_int_equal(sp_request_set_method(req, method), 0);
    assert_int_equal(sp_request_set_path(req, pathbuf), 0);
    if (q)
        assert_int_equal(sp_request_set_query(req, q + 1), 0);
    assert_int_equal(sp_request_set_id(req, "0123456789abcdef0123456789abcdef"), 0);
    if (body)
        assert_int_equal(sp_request_set_body(req, body, strlen(body)), 0);
    for (size_t i = 0; headers && headers[i]; i += 2)
        assert_int_equal(sp_request_add_header(req, headers[i], headers[i + 1]), 0);
    if (who) {
        const char *roles[1] = {who->role};
        sp_auth_t auth = {.tenant_id = who->tenant_id,
                          .subject = "00000000-0000-4000-8000-000000000001",
                          .roles = roles,
                          .n_roles = who->role ? 1 : 0};
        assert_int_equal(sp_request_set_auth(req, &auth), 0);
    }
    waiter_t w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    sp_request_on_complete(req, on_complete, &w);
    if (sp_router_dispatch(router, req) == SP_HANDLER_ASYNC) {
        pthread_mutex_lock(&w.mu);
        while (!w.done)
            pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
    }
    sp_response_t *resp = sp_request_response(req);
    resp_t out = {0};
    out.status = sp_response_status(resp);
    size_t len = 0;
    const char *text = sp_response_body(resp, &len);
    out.text = strndup(text ? text : "", len);
    out.json = len ? cJSON_ParseWithLength(text, len) : NULL;
    out.retry_after = dup_or_null(sp_response_header(resp, "Retry-After"));
    out.replayed = dup_or_null(sp_response_header(resp, "Idempotent-Replayed"));
    out.location = dup_or_null(sp_response_header(resp, "Location"));
    sp_request_destroy(&req);
    return out;
}

static resp_t call(const caller_t *who, const char *method, const char *path, const char *body,
                   const char *const *headers)
{
    return call_on(T.router, who, method, path, body, headers);
}

static const char *err_code(const resp_t *r)
{
    const cJSON *e = cJSON_GetObjectItem(r->json, "error");
    const cJSON *c = cJSON_GetObjectItem(e, "code");
    return cJSON_IsString(c) ? c->valuestring : "";
}

#define EXPECT(r, st, code)                                                                        \
    do {                                                                                           \
        if ((r).status != (st) || strcmp(err_code(&(r)), (code)) != 0)                             \
            fail_msg("expected %d %s, got %d %s", (st), (code), (r).status, (r).text);             \
    } while (0)

#define EXPECT_OK(r, st)                                                                           \
    do {                                                                                           \
        if ((r).status != (st))                                                                    \
            fail_msg("expected %d, got %d %s", (st), (r).status, (r).text);                        \
    } while (0)

/* The "index" (or "row") members of list, as "0,2,5". */
static char *indexes(const cJSON *list, const char *member)
{
    static char buf[512];
    buf[0] = '\0';
    for (const cJSON *it = list ? list->child : NULL; it; it = it->next)
        snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%d", buf[0] ? "," : "",
                 (int)cJSON_GetObjectItem(it, member)->valuedouble);
    return buf;
}

static const char *member_str(const cJSON *obj, const char *name)
{
    const cJSON *m = cJSON_GetObjectItem(obj, name);
    return cJSON_IsString(m) ? m->valuestring : "";
}

static int member_int(const cJSON *obj, const char *name)
{
    const cJSON *m = cJSON_GetObjectItem(obj, name);
    assert_true(cJSON_IsNumber(m));
    return (int)m->valuedouble;
}

/* ---- the topic ----------------------------------------------------------------- */

typedef struct {
    const char *tenant;
    char ids[64][SP_UUID_STR_LEN];
    char sources[64][16];
    int n;
    int bad;
} seen_t;

static int on_event(const sp_events_message_t *msg, void *ud)
{
    seen_t *seen = ud;
    const Serphona__Events__V1__Event *ev = msg->event;
    if (!ev || strcmp(ev->tenant_id, seen->tenant) != 0)
        return 0;
    if (strcmp(ev->type, "interaction.recorded") != 0 ||
        strcmp(ev->content_type, "application/x-protobuf") != 0 || msg->key_len != 36) {
        seen->bad++;
        return 0;
    }
    Serphona__Interactions__V1__Interaction *ix =
        serphona__interactions__v1__interaction__unpack(NULL, ev->payload.len, ev->payload.data);
    /* Keyed by interaction id, so one tenant spreads over every partition. */
    if (!ix || strcmp(ix->tenant_id, seen->tenant) != 0 ||
        memcmp(msg->key, ix->interaction_id, 36) != 0) {
        seen->bad++;
    } else if (seen->n < 64) {
        snprintf(seen->ids[seen->n], SP_UUID_STR_LEN, "%s", ix->interaction_id);
        snprintf(seen->sources[seen->n], 16, "%s", ix->source);
        seen->n++;
    }
    if (ix)
        serphona__interactions__v1__interaction__free_unpacked(ix, NULL);
    return 0;
}

static seen_t SEEN;

/* Polls the topic for events of tenant until want arrived (or, with want 0,
 * for quiet_ms), returning how many arrived. */
static int drain_topic(const char *tenant, int want, int quiet_ms)
{
    memset(&SEEN, 0, sizeof(SEEN));
    SEEN.tenant = tenant;
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        sp_events_consumer_poll_once(CONSUMER, 100);
        clock_gettime(CLOCK_MONOTONIC, &now);
        long ms = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
        if (want > 0 && SEEN.n >= want)
            break;
        if (ms > (want > 0 ? 20000 : quiet_ms))
            break;
    }
    assert_int_equal(SEEN.bad, 0);
    return SEEN.n;
}

static int seen_id(const char *id)
{
    for (int i = 0; i < SEEN.n; i++)
        if (strcmp(SEEN.ids[i], id) == 0)
            return 1;
    return 0;
}

/* ---- setup --------------------------------------------------------------------- */

static void new_tenant(char out[SP_UUID_STR_LEN])
{
    assert_int_equal(sp_uuid_v4(out), 0);
}

static int setup(void **state)
{
    (void)state;
    const char *app = getenv("SERPHONA_TEST_PG_URL");
    const char *owner = getenv("SERPHONA_TEST_PG_OWNER_URL");
    const char *redis_port = getenv("SERPHONA_TEST_REDIS_PORT");
    BROKERS = getenv("SERPHONA_TEST_KAFKA_BROKERS");
    if (!app || !owner || !redis_port || !BROKERS) {
        fprintf(stderr, "SERPHONA_TEST_PG_URL, SERPHONA_TEST_PG_OWNER_URL, "
                        "SERPHONA_TEST_REDIS_PORT and SERPHONA_TEST_KAFKA_BROKERS must be set "
                        "(tests/run-all.sh does)\n");
        return -1;
    }
    sp_log_init("tools-gateway-test", SP_LOG_ERROR);
    if (sp_db_migrate(owner, "tools", MIGRATIONS, "serphona_app") != 0)
        return -1;
    CFG = sp_config_new("tools-gateway");
    tg_init(&T, NULL, CFG);
    T.db = sp_db_pool_new(app, 4);
    T.redis = sp_redis_pool_new("127.0.0.1", (int)strtol(redis_port, NULL, 10), NULL, 4, 2000);
    T.producer = sp_events_producer_new(BROKERS, "tools-gateway-test");
    uint8_t rnd[4];
    char run[9];
    sp_random_bytes(rnd, sizeof(rnd));
    sp_hex_encode(rnd, sizeof(rnd), run);
    snprintf(TOPIC, sizeof(TOPIC), "tgtest%s.serphona.interactions.v1", run);
    T.topic = TOPIC;
    T.router = sp_router_new();
    if (!T.db || !T.redis || !T.producer || !T.router)
        return -1;
    sp_router_set_authorizer(T.router, sp_permissions_authorize, NULL);
    if (tg_public_router_init(&T) || tg_interactions_register(&T) || tg_uploads_register(&T))
        return -1;
    T.worker = tg_worker_new(&T);
    if (tg_publisher_start(2) != 0)
        return -1;
    new_tenant(TENANT_A);
    new_tenant(TENANT_B);

    /* The mock broker creates a topic when it is first produced to; a
     * consumer subscribed before that would see it missing. */
    Serphona__Events__V1__Event ev = SERPHONA__EVENTS__V1__EVENT__INIT;
    sp_events_event_init(&ev, "warm.up", "warmup", "{}", 2, NULL);
    int rc = sp_events_publish_sync(T.producer, TOPIC, "warmup", &ev, 10000);
    sp_events_event_cleanup(&ev);
    if (rc != 0)
        return -1;
    char group[64];
    snprintf(group, sizeof(group), "tgtest-%s", run);
    const char *topics[] = {TOPIC};
    CONSUMER = sp_events_consumer_new(BROKERS, group, topics, 1, on_event, &SEEN);
    return CONSUMER && T.worker ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    sp_events_consumer_destroy(&CONSUMER);
    tg_worker_destroy(&T.worker);
    tg_publisher_stop();
    tg_cleanup(&T);
    sp_router_destroy(&T.router);
    sp_events_producer_destroy(&T.producer);
    sp_redis_pool_destroy(&T.redis);
    sp_db_pool_destroy(&T.db);
    sp_config_destroy(&CFG);
    return 0;
}

/* ---- batches ------------------------------------------------------------------- */

#define WHEN "\"occurred_at\":\"2024-05-01T10:00:00Z\""
static const char *BATCH =
    "{\"interactions\":["
    "{\"external_id\":\"call-1\",\"channel\":\"call\"," WHEN ",\"language\":\"en\","
    "\"agent\":{\"id\":\"a1\",\"name\":\"Ana\"},\"utterances\":[{\"speaker\":\"agent\","
    "\"text\":\"Hello\",\"start_ms\":0,\"end_ms\":900},{\"speaker\":\"customer\",\"text\":\"Hi\","
    "\"start_ms\":800,\"end_ms\":2000}]},"
    "{\"external_id\":\"chat-1\",\"channel\":\"chat\"," WHEN ",\"utterances\":[{\"speaker\":"
    "\"customer\",\"text\":\"Where is my order?\"}]},"
    "{\"external_id\":\"bad-1\",\"channel\":\"email\",\"text\":\"no date\"},"
    "{\"external_id\":\"survey-1\",\"channel\":\"survey\"," WHEN ",\"survey\":{\"nps\":9}},"
    "{\"external_id\":\"call-1\",\"channel\":\"call\"," WHEN ",\"utterances\":[{\"speaker\":"
    "\"agent\",\"text\":\"again\",\"start_ms\":0,\"end_ms\":1}]},"
    "{\"external_id\":\"rev-1\",\"channel\":\"review\"," WHEN ",\"rating\":9}"
    "]}";

static void test_batch_reports_each_item(void **state)
{
    (void)state;
    caller_t owner = {TENANT_A, "owner"};
    resp_t r = call(&owner, "POST", "/v1/ingest/interactions", BATCH, NULL);
    EXPECT_OK(r, 202);
    const cJSON *acc = cJSON_GetObjectItem(r.json, "accepted");
    const cJSON *rej = cJSON_GetObjectItem(r.json, "rejected");
    const cJSON *dup = cJSON_GetObjectItem(r.json, "duplicates");
    assert_string_equal(indexes(acc, "index"), "0,1,3");
    assert_string_equal(indexes(rej, "index"), "2,5");
    assert_string_equal(indexes(dup, "index"), "4");
    char id[SP_UUID_STR_LEN];
    tg_interaction_id(TENANT_A, "call-1", id);
    assert_string_equal(member_str(acc->child, "interaction_id"), id);
    assert_string_equal(member_str(acc->child, "external_id"), "call-1");
    assert_string_equal(member_str(dup->child, "interaction_id"), id);
    assert_string_equal(member_str(rej->child, "code"), "missing_field");
    assert_string_equal(member_str(rej->child, "field"), "occurred_at");
    assert_string_equal(member_str(rej->child->next, "code"), "out_of_range");
    assert_string_equal(member_str(rej->child->next, "field"), "rating");
    assert_true(strlen(member_str(rej->child, "message")) > 0);

    /* 202 means Kafka has them: exactly the three accepted, once each. */
    assert_int_equal(drain_topic(TENANT_A, 3, 0), 3);
    assert_true(seen_id(id));
    for (const cJSON *it = acc->child; it; it = it->next)
        assert_true(seen_id(member_str(it, "interaction_id")));
    assert_string_equal(SEEN.sources[0], "api");
    assert_int_equal(drain_topic(TENANT_A, 0, 1500), 0);
    resp_free(&r);

    /* Sent again: nothing new is accepted or published. */
    r = call(&owner, "POST", "/v1/ingest/interactions", BATCH, NULL);
    EXPECT_OK(r, 202);
    assert_string_equal(indexes(cJSON_GetObjectItem(r.json, "accepted"), "index"), "");
    assert_string_equal(indexes(cJSON_GetObjectItem(r.json, "duplicates"), "index"), "0,1,3,4");
    assert_string_equal(indexes(cJSON_GetObjectItem(r.json, "rejected"), "index"), "2,5");
    assert_string_equal(
        member_str(cJSON_GetObjectItem(r.json, "duplicates")->child, "interaction_id"), id);
    assert_int_equal(drain_topic(TENANT_A, 0, 1500), 0);
    resp_free(&r);

    /* Another tenant's same external id is its own interaction. */
    caller_t other = {TENANT_B, "analyst"};
    r = call(&other, "POST", "/v1/ingest/interactions",
             "[{\"external_id\":\"call-1\",\"channel\":\"review\"," WHEN ",\"rating\":4}]", NULL);
    EXPECT_OK(r, 202);
    const cJSON *b = cJSON_GetObjectItem(r.json, "accepted")->child;
    assert_non_null(b);
    assert_string_not_equal(member_str(b, "interaction_id"), id);
    assert_int_equal(drain_topic(TENANT_B, 1, 0), 1);
    resp_free(&r);
}

static void test_body_errors_and_permissions(void **state)
{
    (void)state;
    caller_t owner = {TENANT_A, "owner"};
    resp_t r = call(&owner, "POST", "/v1/ingest/interactions", "{nope", NULL);
    EXPECT(r, 400, "invalid_json");
    resp_free(&r);
    r = call(&owner, "POST", "/v1/ingest/interactions", "{\"items\":[]}", NULL);
    EXPECT(r, 400, "invalid_body");
    resp_free(&r);
    r = call(&owner, "POST", "/v1/ingest/interactions", "{\"interactions\":[]}", NULL);
    EXPECT(r, 400, "empty_batch");
    resp_free(&r);
    /* One over the maximum. */
    size_t cap = (size_t)(T.batch_max + 1) * 8 + 32;
    char *big = malloc(cap);
    size_t off = (size_t)snprintf(big, cap, "[");
    for (int i = 0; i <= T.batch_max; i++)
        off += (size_t)snprintf(big + off, cap - off, "%s{}", i ? "," : "");
    snprintf(big + off, cap - off, "]");
    r = call(&owner, "POST", "/v1/ingest/interactions", big, NULL);
    EXPECT(r, 413, "batch_too_large");
    resp_free(&r);
    free(big);

    caller_t viewer = {TENANT_A, "viewer"};
    r = call(&viewer, "POST", "/v1/ingest/interactions", "[{}]", NULL);
    EXPECT(r, 403, "forbidden");
    resp_free(&r);
    r = call(NULL, "POST", "/v1/ingest/interactions", "[{}]", NULL);
    EXPECT(r, 401, "unauthenticated");
    resp_free(&r);
    r = call(&owner, "GET", "/v1/ingest/interactions", NULL, NULL);
    EXPECT(r, 405, "method_not_allowed");
    resp_free(&r);
}

static void test_idempotency_key(void **state)
{
    (void)state;
    caller_t owner = {TENANT_A, "admin"};
    char key[64], body[256], body2[256];
    snprintf(key, sizeof(key), "idem-%ld", (long)time(NULL));
    snprintf(body, sizeof(body),
             "[{\"external_id\":\"%s\",\"channel\":\"review\"," WHEN ",\"rating\":3}]", key);
    snprintf(body2, sizeof(body2),
             "[{\"external_id\":\"%s-2\",\"channel\":\"review\"," WHEN ",\"rating\":3}]", key);
    const char *h[] = {"Idempotency-Key", key, NULL};
    resp_t first = call(&owner, "POST", "/v1/ingest/interactions", body, h);
    EXPECT_OK(first, 202);
    assert_null(first.replayed);
    assert_string_equal(indexes(cJSON_GetObjectItem(first.json, "accepted"), "index"), "0");
    /* The same request again: the first answer, word for word ("accepted",
     * not "duplicate"), and nothing published. */
    resp_t again = call(&owner, "POST", "/v1/ingest/interactions", body, h);
    EXPECT_OK(again, 202);
    assert_non_null(again.replayed);
    assert_string_equal(again.replayed, "true");
    assert_string_equal(again.text, first.text);
    assert_int_equal(drain_topic(TENANT_A, 0, 1500), 1); /* only the first */
    /* The key with another body. */
    resp_t other = call(&owner, "POST", "/v1/ingest/interactions", body2, h);
    EXPECT(other, 422, "idempotency_key_reused");
    /* Scoped per tenant: tenant B may use the same key. */
    caller_t b = {TENANT_B, "owner"};
    resp_t forb = call(&b, "POST", "/v1/ingest/interactions", body2, h);
    EXPECT_OK(forb, 202);
    assert_null(forb.replayed);
    const char *bad[] = {"Idempotency-Key", "has space", NULL};
    resp_t invalid = call(&owner, "POST", "/v1/ingest/interactions", body, bad);
    EXPECT(invalid, 400, "invalid_idempotency_key");
    resp_free(&first);
    resp_free(&again);
    resp_free(&other);
    resp_free(&forb);
    resp_free(&invalid);
}

static void *stop_publisher_soon(void *arg)
{
    (void)arg;
    usleep(300 * 1000);
    tg_publisher_stop();
    return NULL;
}

/* Kafka that never answers: a producer on a port nobody listens on. */
static void test_kafka_down_is_503_not_202(void **state)
{
    (void)state;
    tg_t down = T;
    down.producer = sp_events_producer_new("127.0.0.1:9", "tools-gateway-test-down");
    down.publish_timeout_ms = 800;
    down.routes = NULL;
    down.public_router = NULL;
    down.router = sp_router_new();
    assert_non_null(down.router);
    sp_router_set_authorizer(down.router, sp_permissions_authorize, NULL);
    assert_int_equal(tg_interactions_register(&down), 0);

    caller_t owner = {TENANT_A, "owner"};
    char key[64], body[256];
    snprintf(key, sizeof(key), "down-%ld", (long)time(NULL));
    snprintf(body, sizeof(body),
             "[{\"external_id\":\"%s\",\"channel\":\"review\"," WHEN ",\"rating\":1}]", key);
    const char *h[] = {"Idempotency-Key", key, NULL};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    resp_t r = call_on(down.router, &owner, "POST", "/v1/ingest/interactions", body, h);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    EXPECT(r, 503, "kafka_unavailable");
    assert_non_null(r.retry_after);
    assert_true(strtol(r.retry_after, NULL, 10) > 0);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_true(ms >= 700 && ms < 3000);
    resp_free(&r);

    /* Nothing was recorded and the key was released: the retry, with the
     * same key, is accepted (not a duplicate, not a replay of the 503). */
    r = call(&owner, "POST", "/v1/ingest/interactions", body, h);
    EXPECT_OK(r, 202);
    assert_null(r.replayed);
    assert_string_equal(indexes(cJSON_GetObjectItem(r.json, "accepted"), "index"), "0");
    assert_int_equal(drain_topic(TENANT_A, 1, 0), 1);
    resp_free(&r);

    /* Stopping the publisher settles what is pending at once: the
     * suspended request is answered (503), not left hanging. */
    down.publish_timeout_ms = 60000;
    pthread_t stopper;
    assert_int_equal(pthread_create(&stopper, NULL, stop_publisher_soon, NULL), 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    r = call_on(down.router, &owner, "POST", "/v1/ingest/interactions",
                "[{\"external_id\":\"stop-1\",\"channel\":\"review\"," WHEN ",\"rating\":1}]",
                NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    pthread_join(stopper, NULL);
    EXPECT(r, 503, "kafka_unavailable");
    ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_true(ms < 5000);
    resp_free(&r);
    assert_int_equal(tg_publisher_start(2), 0);

    tg_routes_free(&down);
    sp_router_destroy(&down.router);
    sp_events_producer_destroy(&down.producer);
}

/* ---- partner API keys ------------------------------------------------------------ */

/* Caches a ResolveApiKey reply for key, as tools-gateway itself would. */
static void plant_key(const char *key, int result, const char *tenant, const char *scope)
{
    Serphona__Tenant__V1__ResolveApiKeyReply r = SERPHONA__TENANT__V1__RESOLVE_API_KEY_REPLY__INIT;
    r.result = result;
    r.key_id = "0b0b0b0b-0000-4000-8000-000000000001";
    r.tenant_id = (char *)tenant;
    char *scopes[] = {(char *)scope};
    r.scopes = scopes;
    r.n_scopes = scope ? 1 : 0;
    uint8_t buf[512];
    size_t len = protobuf_c_message_pack(&r.base, buf);
    char cache_key[80];
    tg_api_key_cache_key(key, cache_key);
    assert_int_equal(sp_redis_cache_set(T.redis, cache_key, buf, len, 60), 0);
}

static void test_partner_api_keys(void **state)
{
    (void)state;
    char k_ok[64], k_scope[64], k_revoked[64], k_susp[64], k_unknown[64];
    long t = (long)time(NULL);
    snprintf(k_ok, sizeof(k_ok), "sk_test_ok_%ld_%d", t, getpid());
    snprintf(k_scope, sizeof(k_scope), "sk_test_scope_%ld_%d", t, getpid());
    snprintf(k_revoked, sizeof(k_revoked), "sk_test_rev_%ld_%d", t, getpid());
    snprintf(k_susp, sizeof(k_susp), "sk_test_susp_%ld_%d", t, getpid());
    snprintf(k_unknown, sizeof(k_unknown), "sk_test_unknown_%ld_%d", t, getpid());
    plant_key(k_ok, SERPHONA__TENANT__V1__RESOLVE_API_KEY_REPLY__RESULT__OK, TENANT_A,
              "ingest:write");
    plant_key(k_scope, SERPHONA__TENANT__V1__RESOLVE_API_KEY_REPLY__RESULT__OK, TENANT_A,
              "analytics:read");
    plant_key(k_revoked, SERPHONA__TENANT__V1__RESOLVE_API_KEY_REPLY__RESULT__REVOKED, TENANT_A,
              NULL);
    plant_key(k_susp, SERPHONA__TENANT__V1__RESOLVE_API_KEY_REPLY__RESULT__TENANT_SUSPENDED,
              TENANT_A, NULL);
    char body[256];
    snprintf(body, sizeof(body),
             "[{\"external_id\":\"partner-%ld\",\"channel\":\"review\"," WHEN ",\"rating\":5}]", t);
    char bearer[96];
    snprintf(bearer, sizeof(bearer), "Bearer %s", k_ok);
    sp_router_t *pub = T.public_router;

    const char *h_ok[] = {"Authorization", bearer, NULL};
    resp_t r = call_on(pub, NULL, "POST", "/v1/ingest/interactions", body, h_ok);
    EXPECT_OK(r, 202);
    assert_string_equal(indexes(cJSON_GetObjectItem(r.json, "accepted"), "index"), "0");
    resp_free(&r);
    const char *h_x[] = {"X-Api-Key", k_ok, NULL};
    r = call_on(pub, NULL, "POST", "/v1/ingest/interactions", body, h_x);
    EXPECT_OK(r, 202);
    assert_string_equal(indexes(cJSON_GetObjectItem(r.json, "duplicates"), "index"), "0");
    resp_free(&r);
    assert_int_equal(drain_topic(TENANT_A, 1, 0), 1);

    r = call_on(pub, NULL, "POST", "/v1/ingest/interactions", body, NULL);
    EXPECT(r, 401, "unauthenticated");
    resp_free(&r);
    const char *h_basic[] = {"Authorization", "Basic dXNlcjpwYXNz", NULL};
    r = call_on(pub, NULL, "POST", "/v1/ingest/interactions", body, h_basic);
    EXPECT(r, 401, "invalid_api_key");
    resp_free(&r);
    const char *h_short[] = {"X-Api-Key", "short", NULL};
    r = call_on(pub, NULL, "POST", "/v1/ingest/interactions", body, h_short);
    EXPECT(r, 401, "invalid_api_key");
    resp_free(&r);
    const char *h_scope[] = {"X-Api-Key", k_scope, NULL};
    r = call_on(pub, NULL, "POST", "/v1/ingest/interactions", body, h_scope);
    EXPECT(r, 403, "insufficient_scope");
    resp_free(&r);
    const char *h_rev[] = {"X-Api-Key", k_revoked, NULL};
    r = call_on(pub, NULL, "POST", "/v1/ingest/interactions", body, h_rev);
    EXPECT(r, 401, "invalid_api_key");
    assert_non_null(strstr(r.text, "revoked"));
    resp_free(&r);
    const char *h_susp[] = {"X-Api-Key", k_susp, NULL};
    r = call_on(pub, NULL, "POST", "/v1/ingest/interactions", body, h_susp);
    EXPECT(r, 403, "tenant_suspended");
    resp_free(&r);
    /* Not cached and tenant-manager unreachable: 503, never let through. */
    T.tenant_manager = sp_rpc_client_new("tcp://127.0.0.1:9");
    const char *h_unknown[] = {"X-Api-Key", k_unknown, NULL};
    r = call_on(pub, NULL, "POST", "/v1/ingest/interactions", body, h_unknown);
    EXPECT(r, 503, "auth_unavailable");
    assert_non_null(r.retry_after);
    resp_free(&r);
    sp_rpc_client_destroy(&T.tenant_manager);
    /* Routes the public port does not own go to the service router
     * unchanged (its 404 / 405). */
    r = call_on(pub, NULL, "GET", "/v1/nothing", NULL, NULL);
    EXPECT(r, 404, "route_not_found");
    resp_free(&r);
    r = call_on(pub, NULL, "DELETE", "/v1/ingest/interactions", NULL, h_ok);
    EXPECT(r, 405, "method_not_allowed");
    resp_free(&r);
    /* The RPC side never looks at API keys: a forwarded call with a key
     * header but no auth context is unauthenticated. */
    r = call(NULL, "POST", "/v1/ingest/interactions", body, h_x);
    EXPECT(r, 401, "unauthenticated");
    resp_free(&r);
}

/* ---- uploads ------------------------------------------------------------------- */

static resp_t get_job(const caller_t *who, const char *id)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/ingest/uploads/%s", id);
    return call(who, "GET", path, NULL, NULL);
}

static void test_upload_csv_and_jsonl(void **state)
{
    (void)state;
    caller_t owner = {TENANT_A, "owner"};
    const char *csv = "\xEF\xBB\xBF"
                      "external_id;channel;occurred_at;rating;text;transcript\r\n"
                      "up-r1;review;2024-05-01T10:00:00Z;4;\"Good; \"\"fast\"\"\nand cheap\";\r\n"
                      "up-r2;review;2024-05-01T10:00:00Z;7;bad rating;\r\n"
                      "up-c1;call;2024-05-01T10:00:00Z;;;\"[0-2] agent: hi\n[2-3] customer: "
                      "yo\"\r\n"
                      "call-1;survey;2024-05-01T10:00:00Z;;;\r\n"
                      "up-r1;review;2024-05-01T10:00:00Z;4;again;\r\n";
    const char *h_csv[] = {"Content-Type", "text/csv; charset=utf-8", NULL};
    resp_t r = call(&owner, "POST", "/v1/ingest/uploads?filename=history.csv", csv, h_csv);
    EXPECT_OK(r, 202);
    char id[64];
    snprintf(id, sizeof(id), "%s", member_str(r.json, "job_id"));
    assert_string_equal(member_str(r.json, "status"), "queued");
    assert_string_equal(member_str(r.json, "format"), "csv");
    assert_string_equal(member_str(r.json, "filename"), "history.csv");
    assert_non_null(r.location);
    assert_non_null(strstr(r.location, id));
    resp_free(&r);

    assert_int_equal(tg_worker_drain(T.worker), 1);
    r = get_job(&owner, id);
    EXPECT_OK(r, 200);
    assert_string_equal(member_str(r.json, "status"), "completed");
    assert_int_equal(member_int(r.json, "rows_read"), 5);
    assert_int_equal(member_int(r.json, "accepted"), 2);
    /* Rows are file lines (the first row's text spans lines 2-3): line 4
     * has rating 7, line 7 a survey without answers, line 8 repeats 2. */
    assert_int_equal(member_int(r.json, "rejected"), 2);
    assert_int_equal(member_int(r.json, "duplicates"), 1);
    const cJSON *errors = cJSON_GetObjectItem(r.json, "errors");
    assert_string_equal(indexes(errors, "row"), "4,7");
    assert_string_equal(member_str(errors->child, "code"), "out_of_range");
    assert_false(cJSON_IsTrue(cJSON_GetObjectItem(r.json, "errors_truncated")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(r.json, "error")));
    assert_true(cJSON_IsString(cJSON_GetObjectItem(r.json, "finished_at")));
    resp_free(&r);
    assert_int_equal(drain_topic(TENANT_A, 2, 0), 2);
    assert_string_equal(SEEN.sources[0], "upload");

    const char *jsonl = "{\"external_id\":\"up-j1\",\"channel\":\"whatsapp\"," WHEN
                        ",\"utterances\":[{\"speaker\":\"customer\",\"text\":\"oi\"}]}\n"
                        "not json\n";
    const char *h_nd[] = {"Content-Type", "application/x-ndjson", NULL};
    r = call(&owner, "POST", "/v1/ingest/uploads", jsonl, h_nd);
    EXPECT_OK(r, 202);
    snprintf(id, sizeof(id), "%s", member_str(r.json, "job_id"));
    resp_free(&r);
    assert_int_equal(tg_worker_drain(T.worker), 1);
    r = get_job(&owner, id);
    assert_string_equal(member_str(r.json, "status"), "completed");
    assert_int_equal(member_int(r.json, "accepted"), 1);
    assert_int_equal(member_int(r.json, "rejected"), 1);
    assert_string_equal(member_str(cJSON_GetObjectItem(r.json, "errors")->child, "code"),
                        "invalid_json");
    resp_free(&r);
    assert_int_equal(drain_topic(TENANT_A, 1, 0), 1);

    /* Another tenant cannot see the job; the list shows one's own. */
    caller_t other = {TENANT_B, "owner"};
    r = get_job(&other, id);
    EXPECT(r, 404, "upload_not_found");
    resp_free(&r);
    r = get_job(&owner, "not-a-uuid");
    EXPECT(r, 404, "upload_not_found");
    resp_free(&r);
    r = call(&owner, "GET", "/v1/ingest/uploads?limit=1", NULL, NULL);
    EXPECT_OK(r, 200);
    const cJSON *list = cJSON_GetObjectItem(r.json, "uploads");
    assert_int_equal(cJSON_GetArraySize(list), 1);
    assert_string_equal(member_str(list->child, "job_id"), id);
    resp_free(&r);
    r = call(&owner, "GET", "/v1/ingest/uploads?limit=0", NULL, NULL);
    EXPECT(r, 400, "invalid_limit");
    resp_free(&r);
}

static void test_upload_refusals(void **state)
{
    (void)state;
    caller_t owner = {TENANT_A, "owner"};
    const char *h_csv[] = {"Content-Type", "text/csv", NULL};
    resp_t r = call(&owner, "POST", "/v1/ingest/uploads", "external_id,channel,when\n", h_csv);
    EXPECT(r, 400, "unknown_column");
    resp_free(&r);
    r = call(&owner, "POST", "/v1/ingest/uploads", "external_id,channel\n", h_csv);
    EXPECT(r, 400, "missing_column");
    resp_free(&r);
    r = call(&owner, "POST", "/v1/ingest/uploads", "", h_csv);
    EXPECT(r, 400, "empty_file");
    resp_free(&r);
    r = call(&owner, "POST", "/v1/ingest/uploads", "x\xff\n", h_csv);
    EXPECT(r, 400, "invalid_encoding");
    resp_free(&r);
    const char *h_xls[] = {"Content-Type", "application/vnd.ms-excel", NULL};
    r = call(&owner, "POST", "/v1/ingest/uploads", "a", h_xls);
    EXPECT(r, 415, "unsupported_media_type");
    resp_free(&r);
    r = call(&owner, "POST", "/v1/ingest/uploads?format=xlsx", "a", NULL);
    EXPECT(r, 400, "invalid_format");
    resp_free(&r);
    caller_t viewer = {TENANT_A, "viewer"};
    r = call(&viewer, "POST", "/v1/ingest/uploads?format=csv", "a", NULL);
    EXPECT(r, 403, "forbidden");
    resp_free(&r);

    /* Idempotency-Key: the same upload twice is one job. */
    char key[64];
    snprintf(key, sizeof(key), "upload-%ld", (long)time(NULL));
    const char *h_idem[] = {"Idempotency-Key", key, NULL};
    const char *file = "external_id,channel,occurred_at,rating\nidem-u1,review,"
                       "2024-05-01T10:00:00Z,2\n";
    resp_t a = call(&owner, "POST", "/v1/ingest/uploads?format=csv", file, h_idem);
    resp_t b = call(&owner, "POST", "/v1/ingest/uploads?format=csv", file, h_idem);
    EXPECT_OK(a, 202);
    EXPECT_OK(b, 202);
    assert_string_equal(member_str(a.json, "job_id"), member_str(b.json, "job_id"));
    assert_non_null(b.replayed);
    resp_free(&a);
    resp_free(&b);
    assert_int_equal(tg_worker_drain(T.worker), 1);
    assert_int_equal(drain_topic(TENANT_A, 1, 0), 1);
}

/* A job resumed after a crash skips the rows already recorded; the error
 * list is capped. */
static void test_upload_resume_and_error_cap(void **state)
{
    (void)state;
    caller_t owner = {TENANT_B, "owner"};
    char file[2048];
    size_t off = (size_t)snprintf(file, sizeof(file), "external_id,channel,occurred_at,rating\n");
    for (int i = 0; i < 3; i++)
        off += (size_t)snprintf(file + off, sizeof(file) - off,
                                "res-%d,review,2024-05-01T10:00:00Z,3\n", i);
    for (int i = 0; i < 5; i++)
        off += (size_t)snprintf(file + off, sizeof(file) - off,
                                "bad-%d,review,2024-05-01T10:00:00Z,0\n", i);
    resp_t r = call(&owner, "POST", "/v1/ingest/uploads?format=csv", file, NULL);
    EXPECT_OK(r, 202);
    char id[64];
    snprintf(id, sizeof(id), "%s", member_str(r.json, "job_id"));
    resp_free(&r);
    /* As if a worker had recorded the first two rows and died. */
    sp_db_tx_t *tx = NULL;
    assert_int_equal(sp_db_tx_begin(T.db, TENANT_B, &tx), 0);
    const char *p[] = {id};
    assert_int_equal(sp_db_tx_query(tx,
                                    "UPDATE tools.upload_jobs SET status = 'running', "
                                    "rows_read = 2, accepted = 2 WHERE id = $1",
                                    1, p, NULL),
                     0);
    assert_int_equal(sp_db_tx_commit(&tx), 0);

    int saved_max = T.upload_errors_max, saved_chunk = T.upload_chunk;
    T.upload_errors_max = 3;
    T.upload_chunk = 2; /* several chunks, so the cap spans chunks */
    assert_int_equal(tg_worker_drain(T.worker), 1);
    T.upload_errors_max = saved_max;
    T.upload_chunk = saved_chunk;
    r = get_job(&owner, id);
    assert_string_equal(member_str(r.json, "status"), "completed");
    assert_int_equal(member_int(r.json, "rows_read"), 8);
    assert_int_equal(member_int(r.json, "accepted"), 3);
    assert_int_equal(member_int(r.json, "rejected"), 5);
    assert_string_equal(indexes(cJSON_GetObjectItem(r.json, "errors"), "row"), "5,6,7");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(r.json, "errors_truncated")));
    resp_free(&r);
    /* Only the third good row was published by this run. */
    assert_int_equal(drain_topic(TENANT_B, 1, 0), 1);
    char rid[SP_UUID_STR_LEN];
    tg_interaction_id(TENANT_B, "res-2", rid);
    assert_true(seen_id(rid));
    assert_int_equal(drain_topic(TENANT_B, 0, 1000), 0);
    /* Nothing left in the queue. */
    assert_int_equal(tg_worker_drain(T.worker), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_reports_each_item),
        cmocka_unit_test(test_body_errors_and_permissions),
        cmocka_unit_test(test_idempotency_key),
        cmocka_unit_test(test_kafka_down_is_503_not_202),
        cmocka_unit_test(test_partner_api_keys),
        cmocka_unit_test(test_upload_csv_and_jsonl),
        cmocka_unit_test(test_upload_refusals),
        cmocka_unit_test(test_upload_resume_and_error_cap),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
