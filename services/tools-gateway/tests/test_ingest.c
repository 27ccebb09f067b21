/*
 * test_ingest.c — the ingestion routes in-process against the unit stack
 * (tg_ingest_test.h): per-item results, deduplication by external id (in a
 * batch, across batches, per tenant), Idempotency-Key, durability (events
 * on the topic, 503 when Kafka does not acknowledge), and partner API keys
 * on the public router. Uploads: test_ingest_uploads.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tg_ingest_test.h"

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
    sptest_caller_t owner = {.tenant_id = TENANT_A, .role = "owner"};
    sptest_resp_t r = call(&owner, "POST", "/v1/ingest/interactions", BATCH, NULL);
    EXPECT_OK(r, 202);
    const cJSON *acc = cJSON_GetObjectItem(r.json, "accepted");
    const cJSON *rej = cJSON_GetObjectItem(r.json, "rejected");
    const cJSON *dup = cJSON_GetObjectItem(r.json, "duplicates");
    assert_string_equal(indexes(acc, "index"), "0,1,3");
    assert_string_equal(indexes(rej, "index"), "2,5");
    assert_string_equal(indexes(dup, "index"), "4");
    char id[SP_UUID_STR_LEN];
    tg_interaction_id(TENANT_A, "call-1", id);
    sptest_assert_json_str(acc->child, "interaction_id", id);
    sptest_assert_json_str(acc->child, "external_id", "call-1");
    sptest_assert_json_str(dup->child, "interaction_id", id);
    sptest_assert_json_str(rej->child, "code", "missing_field");
    sptest_assert_json_str(rej->child, "field", "occurred_at");
    sptest_assert_json_str(rej->child->next, "code", "out_of_range");
    sptest_assert_json_str(rej->child->next, "field", "rating");
    assert_true(strlen(sptest_json_need_str(rej->child, "message")) > 0);

    /* 202 means Kafka has them: exactly the three accepted, once each. */
    assert_int_equal(drain_topic(TENANT_A, 3, 0), 3);
    assert_true(seen_id(id));
    for (const cJSON *it = acc->child; it; it = it->next)
        assert_true(seen_id(sptest_json_need_str(it, "interaction_id")));
    assert_string_equal(SEEN.sources[0], "api");
    assert_int_equal(drain_topic(TENANT_A, 0, 1500), 0);
    sptest_resp_free(&r);

    /* Sent again: nothing new is accepted or published. */
    r = call(&owner, "POST", "/v1/ingest/interactions", BATCH, NULL);
    EXPECT_OK(r, 202);
    assert_string_equal(indexes(cJSON_GetObjectItem(r.json, "accepted"), "index"), "");
    assert_string_equal(indexes(cJSON_GetObjectItem(r.json, "duplicates"), "index"), "0,1,3,4");
    assert_string_equal(indexes(cJSON_GetObjectItem(r.json, "rejected"), "index"), "2,5");
    assert_string_equal(sptest_json_str(r.json, "duplicates.0.interaction_id"), id);
    assert_int_equal(drain_topic(TENANT_A, 0, 1500), 0);
    sptest_resp_free(&r);

    /* Another tenant's same external id is its own interaction. */
    sptest_caller_t other = {.tenant_id = TENANT_B, .role = "analyst"};
    r = call(&other, "POST", "/v1/ingest/interactions",
             "[{\"external_id\":\"call-1\",\"channel\":\"review\"," WHEN ",\"rating\":4}]", NULL);
    EXPECT_OK(r, 202);
    const cJSON *b = cJSON_GetObjectItem(r.json, "accepted")->child;
    assert_non_null(b);
    assert_string_not_equal(sptest_json_need_str(b, "interaction_id"), id);
    assert_int_equal(drain_topic(TENANT_B, 1, 0), 1);
    sptest_resp_free(&r);
}

static void test_body_errors_and_permissions(void **state)
{
    (void)state;
    sptest_caller_t owner = {.tenant_id = TENANT_A, .role = "owner"};
    sptest_resp_t r = call(&owner, "POST", "/v1/ingest/interactions", "{nope", NULL);
    EXPECT(r, 400, "invalid_json");
    sptest_resp_free(&r);
    r = call(&owner, "POST", "/v1/ingest/interactions", "{\"items\":[]}", NULL);
    EXPECT(r, 400, "invalid_body");
    sptest_resp_free(&r);
    r = call(&owner, "POST", "/v1/ingest/interactions", "{\"interactions\":[]}", NULL);
    EXPECT(r, 400, "empty_batch");
    sptest_resp_free(&r);
    /* One over the maximum. */
    size_t cap = (size_t)(T.batch_max + 1) * 8 + 32;
    char *big = malloc(cap);
    size_t off = (size_t)snprintf(big, cap, "[");
    for (int i = 0; i <= T.batch_max; i++)
        off += (size_t)snprintf(big + off, cap - off, "%s{}", i ? "," : "");
    snprintf(big + off, cap - off, "]");
    r = call(&owner, "POST", "/v1/ingest/interactions", big, NULL);
    EXPECT(r, 413, "batch_too_large");
    sptest_resp_free(&r);
    free(big);

    sptest_caller_t viewer = {.tenant_id = TENANT_A, .role = "viewer"};
    r = call(&viewer, "POST", "/v1/ingest/interactions", "[{}]", NULL);
    EXPECT(r, 403, "forbidden");
    sptest_resp_free(&r);
    r = call(NULL, "POST", "/v1/ingest/interactions", "[{}]", NULL);
    EXPECT(r, 401, "unauthenticated");
    sptest_resp_free(&r);
    r = call(&owner, "GET", "/v1/ingest/interactions", NULL, NULL);
    EXPECT(r, 405, "method_not_allowed");
    sptest_resp_free(&r);
}

static void test_idempotency_key(void **state)
{
    (void)state;
    sptest_caller_t owner = {.tenant_id = TENANT_A, .role = "admin"};
    char key[64], body[256], body2[256];
    snprintf(key, sizeof(key), "idem-%ld", (long)time(NULL));
    snprintf(body, sizeof(body),
             "[{\"external_id\":\"%s\",\"channel\":\"review\"," WHEN ",\"rating\":3}]", key);
    snprintf(body2, sizeof(body2),
             "[{\"external_id\":\"%s-2\",\"channel\":\"review\"," WHEN ",\"rating\":3}]", key);
    const char *h[] = {"Idempotency-Key", key, NULL};
    sptest_resp_t first = call(&owner, "POST", "/v1/ingest/interactions", body, h);
    EXPECT_OK(first, 202);
    assert_null(sptest_resp_header(&first, "Idempotent-Replayed"));
    assert_string_equal(indexes(cJSON_GetObjectItem(first.json, "accepted"), "index"), "0");
    /* The same request again: the first answer, word for word ("accepted",
     * not "duplicate"), and nothing published. */
    sptest_resp_t again = call(&owner, "POST", "/v1/ingest/interactions", body, h);
    EXPECT_OK(again, 202);
    assert_non_null(sptest_resp_header(&again, "Idempotent-Replayed"));
    assert_string_equal(sptest_resp_header(&again, "Idempotent-Replayed"), "true");
    assert_string_equal(again.text, first.text);
    assert_int_equal(drain_topic(TENANT_A, 0, 1500), 1); /* only the first */
    /* The key with another body. */
    sptest_resp_t other = call(&owner, "POST", "/v1/ingest/interactions", body2, h);
    EXPECT(other, 422, "idempotency_key_reused");
    /* Scoped per tenant: tenant B may use the same key. */
    sptest_caller_t b = {.tenant_id = TENANT_B, .role = "owner"};
    sptest_resp_t forb = call(&b, "POST", "/v1/ingest/interactions", body2, h);
    EXPECT_OK(forb, 202);
    assert_null(sptest_resp_header(&forb, "Idempotent-Replayed"));
    const char *bad[] = {"Idempotency-Key", "has space", NULL};
    sptest_resp_t invalid = call(&owner, "POST", "/v1/ingest/interactions", body, bad);
    EXPECT(invalid, 400, "invalid_idempotency_key");
    sptest_resp_free(&first);
    sptest_resp_free(&again);
    sptest_resp_free(&other);
    sptest_resp_free(&forb);
    sptest_resp_free(&invalid);
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

    sptest_caller_t owner = {.tenant_id = TENANT_A, .role = "owner"};
    char key[64], body[256];
    snprintf(key, sizeof(key), "down-%ld", (long)time(NULL));
    snprintf(body, sizeof(body),
             "[{\"external_id\":\"%s\",\"channel\":\"review\"," WHEN ",\"rating\":1}]", key);
    const char *h[] = {"Idempotency-Key", key, NULL};
    int64_t t0 = sp_clock_mono_ms();
    sptest_resp_t r = sptest_call(down.router, &owner, "POST", "/v1/ingest/interactions", body, h);
    int64_t ms = sp_clock_mono_ms() - t0;
    EXPECT(r, 503, "kafka_unavailable");
    assert_non_null(sptest_resp_header(&r, "Retry-After"));
    assert_true(strtol(sptest_resp_header(&r, "Retry-After"), NULL, 10) > 0);
    assert_true(ms >= 700 && ms < 3000);
    sptest_resp_free(&r);

    /* Nothing was recorded and the key was released: the retry, with the
     * same key, is accepted (not a duplicate, not a replay of the 503). */
    r = call(&owner, "POST", "/v1/ingest/interactions", body, h);
    EXPECT_OK(r, 202);
    assert_null(sptest_resp_header(&r, "Idempotent-Replayed"));
    assert_string_equal(indexes(cJSON_GetObjectItem(r.json, "accepted"), "index"), "0");
    assert_int_equal(drain_topic(TENANT_A, 1, 0), 1);
    sptest_resp_free(&r);

    /* Stopping the publisher settles what is pending at once: the
     * suspended request is answered (503), not left hanging. */
    down.publish_timeout_ms = 60000;
    pthread_t stopper;
    assert_int_equal(pthread_create(&stopper, NULL, stop_publisher_soon, NULL), 0);
    t0 = sp_clock_mono_ms();
    r = sptest_call(down.router, &owner, "POST", "/v1/ingest/interactions",
                    "[{\"external_id\":\"stop-1\",\"channel\":\"review\"," WHEN ",\"rating\":1}]",
                    NULL);
    ms = sp_clock_mono_ms() - t0;
    pthread_join(stopper, NULL);
    EXPECT(r, 503, "kafka_unavailable");
    assert_true(ms < 5000);
    sptest_resp_free(&r);
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
    sptest_resp_t r = sptest_call(pub, NULL, "POST", "/v1/ingest/interactions", body, h_ok);
    EXPECT_OK(r, 202);
    assert_string_equal(indexes(cJSON_GetObjectItem(r.json, "accepted"), "index"), "0");
    sptest_resp_free(&r);
    const char *h_x[] = {"X-Api-Key", k_ok, NULL};
    r = sptest_call(pub, NULL, "POST", "/v1/ingest/interactions", body, h_x);
    EXPECT_OK(r, 202);
    assert_string_equal(indexes(cJSON_GetObjectItem(r.json, "duplicates"), "index"), "0");
    sptest_resp_free(&r);
    assert_int_equal(drain_topic(TENANT_A, 1, 0), 1);

    r = sptest_call(pub, NULL, "POST", "/v1/ingest/interactions", body, NULL);
    EXPECT(r, 401, "unauthenticated");
    sptest_resp_free(&r);
    const char *h_basic[] = {"Authorization", "Basic dXNlcjpwYXNz", NULL};
    r = sptest_call(pub, NULL, "POST", "/v1/ingest/interactions", body, h_basic);
    EXPECT(r, 401, "invalid_api_key");
    sptest_resp_free(&r);
    const char *h_short[] = {"X-Api-Key", "short", NULL};
    r = sptest_call(pub, NULL, "POST", "/v1/ingest/interactions", body, h_short);
    EXPECT(r, 401, "invalid_api_key");
    sptest_resp_free(&r);
    const char *h_scope[] = {"X-Api-Key", k_scope, NULL};
    r = sptest_call(pub, NULL, "POST", "/v1/ingest/interactions", body, h_scope);
    EXPECT(r, 403, "insufficient_scope");
    sptest_resp_free(&r);
    const char *h_rev[] = {"X-Api-Key", k_revoked, NULL};
    r = sptest_call(pub, NULL, "POST", "/v1/ingest/interactions", body, h_rev);
    EXPECT(r, 401, "invalid_api_key");
    assert_non_null(strstr(r.text, "revoked"));
    sptest_resp_free(&r);
    const char *h_susp[] = {"X-Api-Key", k_susp, NULL};
    r = sptest_call(pub, NULL, "POST", "/v1/ingest/interactions", body, h_susp);
    EXPECT(r, 403, "tenant_suspended");
    sptest_resp_free(&r);
    /* Not cached and tenant-manager unreachable: 503, never let through. */
    T.tenant_manager = sp_rpc_client_new("tcp://127.0.0.1:9");
    const char *h_unknown[] = {"X-Api-Key", k_unknown, NULL};
    r = sptest_call(pub, NULL, "POST", "/v1/ingest/interactions", body, h_unknown);
    EXPECT(r, 503, "auth_unavailable");
    assert_non_null(sptest_resp_header(&r, "Retry-After"));
    sptest_resp_free(&r);
    sp_rpc_client_destroy(&T.tenant_manager);
    /* Routes the public port does not own go to the service router
     * unchanged (its 404 / 405). */
    r = sptest_call(pub, NULL, "GET", "/v1/nothing", NULL, NULL);
    EXPECT(r, 404, "route_not_found");
    sptest_resp_free(&r);
    r = sptest_call(pub, NULL, "DELETE", "/v1/ingest/interactions", NULL, h_ok);
    EXPECT(r, 405, "method_not_allowed");
    sptest_resp_free(&r);
    /* The RPC side never looks at API keys: a forwarded call with a key
     * header but no auth context is unauthenticated. */
    r = call(NULL, "POST", "/v1/ingest/interactions", body, h_x);
    EXPECT(r, 401, "unauthenticated");
    sptest_resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_reports_each_item),
        cmocka_unit_test(test_body_errors_and_permissions),
        cmocka_unit_test(test_idempotency_key),
        cmocka_unit_test(test_kafka_down_is_503_not_202),
        cmocka_unit_test(test_partner_api_keys),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
