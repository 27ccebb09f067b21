/*
 * test_api_keys.c — API keys through the router and ResolveApiKey against
 * the real database: validation, scopes a caller may grant, the secret shown
 * once and stored only as a hash, every ResolveApiKey result, last-used
 * time, revocation, and another tenant's keys answering 404.
 */
#include "tm_test.h"

typedef Serphona__Tenant__V1__ResolveApiKeyReply rreply_t;
#define K_OK        SERPHONA__TENANT__V1__RESOLVE_API_KEY_REPLY__RESULT__OK
#define K_INVALID   SERPHONA__TENANT__V1__RESOLVE_API_KEY_REPLY__RESULT__INVALID
#define K_REVOKED   SERPHONA__TENANT__V1__RESOLVE_API_KEY_REPLY__RESULT__REVOKED
#define K_EXPIRED   SERPHONA__TENANT__V1__RESOLVE_API_KEY_REPLY__RESULT__EXPIRED
#define K_SUSPENDED SERPHONA__TENANT__V1__RESOLVE_API_KEY_REPLY__RESULT__TENANT_SUSPENDED

static rreply_t *resolve(sp_arena_t *a, const char *key)
{
    Serphona__Tenant__V1__ResolveApiKeyRequest in =
        SERPHONA__TENANT__V1__RESOLVE_API_KEY_REQUEST__INIT;
    in.key = (char *)key;
    ProtobufCMessage *out = NULL;
    assert_int_equal(rpc(tm_rpc_resolve_api_key, &in.base,
                         &serphona__tenant__v1__resolve_api_key_reply__descriptor, a, &out),
                     0);
    return (rreply_t *)out;
}

/* Creates a key; returns the reply (caller frees). */
static sptest_resp_t create(const sptest_caller_t *by, const char *body)
{
    return call(by, "POST", "/v1/api-keys", body);
}

/* Sets, or tells whether Redis still holds, the tools-gateway's cache key
 * of key: sp:apikey:<hex sha256(key)>. */
static int apikey_cache(const char *key, int set)
{
    uint8_t h[SP_SHA256_LEN];
    char hex[2 * SP_SHA256_LEN + 1], name[100], *v = NULL;
    sp_sha256(key, strlen(key), h);
    sp_hex_encode(h, sizeof(h), hex);
    snprintf(name, sizeof(name), "sp:apikey:%s", hex);
    if (set)
        return sp_redis_cache_set(T.redis, name, "x", 1, 60);
    int rc = sp_redis_cache_get(T.redis, name, &v, NULL);
    free(v);
    return rc == 0;
}

static char *tenant_sql(const char *tenant_id, const char *sql)
{
    char buf[1024];
    snprintf(buf, sizeof(buf), "BEGIN; SELECT set_config('app.tenant_id', '%s', true); %s",
             tenant_id, sql);
    return sptest_pg_owner_value(buf);
}

static void test_create_validation(void **state)
{
    (void)state;
    tenant_fx_t fx;
    make_tenant(&fx, "keyval", "trial");
    sptest_caller_t admin = {fx.id, "00000000-0000-4000-8000-0000000000ad", "admin", NULL};
    sptest_caller_t analyst = {fx.id, "00000000-0000-4000-8000-0000000000a1", "analyst", NULL};
    const struct {
        const sptest_caller_t *by;
        const char *body;
        int status;
        const char *code;
    } bad[] = {
        {&fx.owner, "{\"scopes\":[\"ingest:write\"]}", 400, "invalid_name"},
        {&fx.owner, "{\"name\":\"\",\"scopes\":[\"ingest:write\"]}", 400, "invalid_name"},
        {&fx.owner, "{\"name\":\"k\"}", 400, "invalid_scope"},
        {&fx.owner, "{\"name\":\"k\",\"scopes\":[]}", 400, "invalid_scope"},
        {&fx.owner, "{\"name\":\"k\",\"scopes\":\"ingest:write\"}", 400, "invalid_scope"},
        {&fx.owner, "{\"name\":\"k\",\"scopes\":[\"ingest:everything\"]}", 400, "invalid_scope"},
        {&fx.owner, "{\"name\":\"k\",\"scopes\":[\"platform:admin\"]}", 400, "invalid_scope"},
        {&fx.owner, "{\"name\":\"k\",\"scopes\":[7]}", 400, "invalid_scope"},
        {&fx.owner, "{\"name\":\"k\",\"scopes\":[\"ingest:write\"],\"expires_at\":\"tomorrow\"}",
         400, "invalid_expiry"},
        {&fx.owner,
         "{\"name\":\"k\",\"scopes\":[\"ingest:write\"],\"expires_at\":\"2001-01-01T00:00:00Z\"}",
         400, "invalid_expiry"},
        {&fx.owner, "{\"name\":\"k\",\"scopes\":[\"ingest:write\"],\"expires_at\":5}", 400,
         "invalid_expiry"},
        /* billing:write belongs to owners: an admin cannot mint it. */
        {&admin, "{\"name\":\"k\",\"scopes\":[\"billing:write\"]}", 403, "scope_not_allowed"},
        /* analysts have no api_keys:write at all */
        {&analyst, "{\"name\":\"k\",\"scopes\":[\"ingest:write\"]}", 403, "forbidden"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        sptest_resp_t r = create(bad[i].by, bad[i].body);
        EXPECT(r, bad[i].status, bad[i].code);
        sptest_resp_free(&r);
    }
    sptest_resp_t r = call(&fx.owner, "GET", "/v1/api-keys", NULL);
    EXPECT_OK(r, 200);
    sptest_assert_json_int(r.json, "total", 0);
    sptest_resp_free(&r);
    /* An API key with api_keys:write can mint keys within its own scopes. */
    const char *const scopes[] = {"api_keys:write", "ingest:write", NULL};
    sptest_caller_t key = {fx.id, "00000000-0000-4000-8000-0000000000cc", NULL, scopes};
    r = create(&key, "{\"name\":\"child\",\"scopes\":[\"ingest:write\"]}");
    EXPECT_OK(r, 201);
    sptest_assert_json_str(r.json, "created_by", "00000000-0000-4000-8000-0000000000cc");
    sptest_resp_free(&r);
    r = create(&key, "{\"name\":\"child\",\"scopes\":[\"analytics:read\"]}");
    EXPECT(r, 403, "scope_not_allowed");
    sptest_resp_free(&r);
}

static void test_lifecycle_and_resolve(void **state)
{
    (void)state;
    tenant_fx_t fx;
    make_tenant(&fx, "keys", "trial");
    sp_arena_t *a = sp_arena_new();
    sptest_resp_t r = create(&fx.owner, "{\"name\":\"Partner CRM\",\"scopes\":[\"ingest:write\","
                                        "\"tools:read\",\"ingest:write\"],\"expires_at\":"
                                        "\"2999-01-01T00:00:00Z\"}");
    EXPECT_OK(r, 201);
    char *key = strdup(sptest_json_str(r.json, "key"));
    char id[SP_UUID_STR_LEN], prefix[16];
    snprintf(id, sizeof(id), "%s", sptest_json_str(r.json, "id"));
    snprintf(prefix, sizeof(prefix), "%s", sptest_json_str(r.json, "prefix"));
    assert_int_equal(strncmp(key, "sk_live_", 8), 0);
    assert_int_equal(strncmp(key + 8, prefix, 12), 0);
    sptest_assert_json_str(r.json, "status", "active");
    sptest_assert_json_len(r.json, "scopes", 2); /* deduped */
    sptest_assert_json_null(r.json, "last_used_at");
    sptest_resp_free(&r);

    /* Only the SHA-256 is stored; list and get never show the secret. */
    char sql[512];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM tenant.api_keys WHERE secret_hash = "
             "sha256(convert_to('%s', 'UTF8'))",
             key);
    char *v = tenant_sql(fx.id, sql);
    assert_string_equal(v, "1");
    free(v);
    const char *secret = key + 8 + 12 + 1;
    r = call(&fx.owner, "GET", "/v1/api-keys", NULL);
    EXPECT_OK(r, 200);
    sptest_assert_json_int(r.json, "total", 1);
    assert_null(strstr(r.text, secret));
    assert_null(strstr(r.text, "\"key\""));
    sptest_resp_free(&r);
    char path[128];
    snprintf(path, sizeof(path), "/v1/api-keys/%s", id);
    r = call(&fx.owner, "GET", path, NULL);
    EXPECT_OK(r, 200);
    assert_null(strstr(r.text, secret));
    sptest_resp_free(&r);
    /* The audit entry does not hold it either. */
    r = call(&fx.owner, "GET", "/v1/audit-log?action=api_key.created", NULL);
    EXPECT_OK(r, 200);
    sptest_assert_json_len(r.json, "items", 1);
    assert_null(strstr(r.text, secret));
    sptest_resp_free(&r);

    rreply_t *k = resolve(a, key);
    assert_int_equal(k->result, K_OK);
    assert_string_equal(k->key_id, id);
    assert_string_equal(k->tenant_id, fx.id);
    assert_string_equal(k->name, "Partner CRM");
    assert_int_equal(k->n_scopes, 2);
    assert_string_equal(k->scopes[0], "ingest:write");
    assert_string_equal(k->scopes[1], "tools:read");
    r = call(&fx.owner, "GET", path, NULL);
    assert_non_null(sptest_json_str(r.json, "last_used_at"));
    sptest_resp_free(&r);

    /* INVALID: wrong secret with a real prefix, garbage, other kinds. */
    char *wrong = strdup(key);
    wrong[strlen(wrong) - 2] = wrong[strlen(wrong) - 2] == 'A' ? 'B' : 'A';
    const char *invalid[] = {
        wrong,        "",
        "sk_live_",   "sk_live_000000000000_x",
        "Bearer abc", "inv_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
    for (size_t i = 0; i < sizeof(invalid) / sizeof(*invalid); i++) {
        k = resolve(a, invalid[i]);
        assert_int_equal(k->result, K_INVALID);
        assert_string_equal(k->tenant_id, "");
        assert_int_equal(k->n_scopes, 0);
    }

    /* Suspended tenant, then expired, then revoked; the tools-gateway's
     * cached resolution is dropped by each status change and revocation. */
    assert_int_equal(apikey_cache(key, 1), 0);
    snprintf(path, sizeof(path), "/v1/tenants/%s/suspend", fx.id);
    r = call(&OPERATOR, "POST", path, NULL);
    EXPECT_OK(r, 200);
    sptest_resp_free(&r);
    assert_false(apikey_cache(key, 0));
    assert_int_equal(apikey_cache(key, 1), 0);
    k = resolve(a, key);
    assert_int_equal(k->result, K_SUSPENDED);
    assert_int_equal(k->n_scopes, 0);
    snprintf(path, sizeof(path), "/v1/tenants/%s/reactivate", fx.id);
    r = call(&OPERATOR, "POST", path, NULL);
    EXPECT_OK(r, 200);
    sptest_resp_free(&r);
    assert_false(apikey_cache(key, 0));
    snprintf(sql, sizeof(sql),
             "UPDATE tenant.api_keys SET expires_at = now() - interval '1 s' WHERE id = '%s'; "
             "COMMIT",
             id);
    free(tenant_sql(fx.id, sql));
    assert_int_equal(resolve(a, key)->result, K_EXPIRED);
    snprintf(path, sizeof(path), "/v1/api-keys/%s", id);
    r = call(&fx.owner, "GET", path, NULL);
    sptest_assert_json_str(r.json, "status", "expired");
    sptest_resp_free(&r);
    snprintf(sql, sizeof(sql),
             "UPDATE tenant.api_keys SET expires_at = NULL WHERE id = '%s'; COMMIT", id);
    free(tenant_sql(fx.id, sql));
    assert_int_equal(resolve(a, key)->result, K_OK);
    assert_int_equal(apikey_cache(key, 1), 0);
    for (int i = 0; i < 2; i++) { /* idempotent */
        r = call(&fx.owner, "DELETE", path, NULL);
        EXPECT_OK(r, 200);
        sptest_assert_json_str(r.json, "status", "revoked");
        sptest_resp_free(&r);
    }
    assert_false(apikey_cache(key, 0));
    k = resolve(a, key);
    assert_int_equal(k->result, K_REVOKED);
    assert_string_equal(k->key_id, id);
    r = call(&fx.owner, "GET", "/v1/api-keys?status=revoked", NULL);
    EXPECT_OK(r, 200);
    sptest_assert_json_int(r.json, "total", 1);
    sptest_resp_free(&r);
    r = call(&fx.owner, "GET", "/v1/api-keys?status=active", NULL);
    EXPECT_OK(r, 200);
    sptest_assert_json_int(r.json, "total", 0);
    sptest_resp_free(&r);
    r = call(&fx.owner, "GET", "/v1/api-keys?status=lost", NULL);
    EXPECT(r, 400, "invalid_status");
    sptest_resp_free(&r);
    /* A deleted tenant's keys are unknown. */
    r = create(&fx.owner, "{\"name\":\"second\",\"scopes\":[\"ingest:write\"]}");
    EXPECT_OK(r, 201);
    char *key2 = strdup(sptest_json_str(r.json, "key"));
    sptest_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/tenants/%s", fx.id);
    r = call(&OPERATOR, "DELETE", path, NULL);
    EXPECT_OK(r, 200);
    sptest_resp_free(&r);
    assert_int_equal(resolve(a, key2)->result, K_INVALID);
    free(key);
    free(key2);
    free(wrong);
    sp_arena_destroy(&a);
}

static void test_other_tenants_keys(void **state)
{
    (void)state;
    tenant_fx_t a, b;
    make_tenant(&a, "kiso-a", "trial");
    make_tenant(&b, "kiso-b", "trial");
    sptest_resp_t r = create(&a.owner, "{\"name\":\"A's key\",\"scopes\":[\"ingest:write\"]}");
    EXPECT_OK(r, 201);
    char id[SP_UUID_STR_LEN], path[128];
    snprintf(id, sizeof(id), "%s", sptest_json_str(r.json, "id"));
    char *key = strdup(sptest_json_str(r.json, "key"));
    sptest_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/api-keys/%s", id);
    r = call(&b.owner, "GET", path, NULL);
    EXPECT(r, 404, "api_key_not_found");
    sptest_resp_free(&r);
    r = call(&b.owner, "DELETE", path, NULL);
    EXPECT(r, 404, "api_key_not_found");
    sptest_resp_free(&r);
    r = call(&b.owner, "GET", "/v1/api-keys", NULL);
    EXPECT_OK(r, 200);
    sptest_assert_json_int(r.json, "total", 0);
    sptest_resp_free(&r);
    r = call(&b.owner, "GET", "/v1/api-keys/not-a-uuid", NULL);
    EXPECT(r, 404, "api_key_not_found");
    sptest_resp_free(&r);
    /* Still alive for A. */
    sp_arena_t *ar = sp_arena_new();
    assert_int_equal(resolve(ar, key)->result, K_OK);
    sp_arena_destroy(&ar);
    free(key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_validation),
        cmocka_unit_test(test_lifecycle_and_resolve),
        cmocka_unit_test(test_other_tenants_keys),
    };
    return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
