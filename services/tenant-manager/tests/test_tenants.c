/*
 * test_tenants.c — tenants through the service's router and typed RPCs
 * against the real database: validation with its stable codes, operator
 * and tenant views, list/search/pagination, suspend/reactivate/delete,
 * plans and limits, the cache keys DELeted on every change, and the purge
 * of deleted tenants.
 */
#include "tm_test.h"

#include <hiredis/hiredis.h>

typedef Serphona__Tenant__V1__TenantState state_t;
#define P_ACTIVE    SERPHONA__TENANT__V1__PRINCIPAL_STATUS__PRINCIPAL_ACTIVE
#define P_SUSPENDED SERPHONA__TENANT__V1__PRINCIPAL_STATUS__PRINCIPAL_TENANT_SUSPENDED
#define P_NOT_FOUND SERPHONA__TENANT__V1__PRINCIPAL_STATUS__PRINCIPAL_NOT_FOUND

static state_t *tenant_state(sp_arena_t *a, const char *id)
{
    Serphona__Tenant__V1__GetTenantStateRequest in =
        SERPHONA__TENANT__V1__GET_TENANT_STATE_REQUEST__INIT;
    in.tenant_id = (char *)id;
    ProtobufCMessage *out = NULL;
    assert_int_equal(rpc(tm_rpc_get_tenant_state, &in.base,
                         &serphona__tenant__v1__tenant_state__descriptor, a, &out),
                     0);
    return (state_t *)out;
}

static int limits(sp_arena_t *a, const char *id, Serphona__Tenant__V1__Limits **lim)
{
    Serphona__Tenant__V1__GetLimitsRequest in = SERPHONA__TENANT__V1__GET_LIMITS_REQUEST__INIT;
    in.tenant_id = (char *)id;
    return rpc(tm_rpc_get_limits, &in.base, &serphona__tenant__v1__limits__descriptor, a,
               (ProtobufCMessage **)lim);
}

static Serphona__Tenant__V1__AllowedOrigins *origins(sp_arena_t *a)
{
    Serphona__Tenant__V1__ListAllowedOriginsRequest in =
        SERPHONA__TENANT__V1__LIST_ALLOWED_ORIGINS_REQUEST__INIT;
    ProtobufCMessage *out = NULL;
    assert_int_equal(rpc(tm_rpc_list_allowed_origins, &in.base,
                         &serphona__tenant__v1__allowed_origins__descriptor, a, &out),
                     0);
    return (Serphona__Tenant__V1__AllowedOrigins *)out;
}

static int has_origin(const Serphona__Tenant__V1__AllowedOrigins *o, const char *origin)
{
    for (size_t i = 0; i < o->n_origins; i++)
        if (strcmp(o->origins[i], origin) == 0)
            return 1;
    return 0;
}

static void expect_create_error(const char *body, int status, const char *code)
{
    sptest_resp_t r = call(&OPERATOR, "POST", "/v1/tenants", body);
    EXPECT(r, status, code);
    sptest_resp_free(&r);
}

static void test_create_validation(void **state)
{
    (void)state;
    char body[512];
    const char *bad_slugs[] = {"ab",  "-abc", "abc-",  "a--bc",
                               "ABC", "ab_c", "a b c", "0123456789012345678901234567890123456789x"};
    for (size_t i = 0; i < sizeof(bad_slugs) / sizeof(*bad_slugs); i++) {
        snprintf(body, sizeof(body), "{\"slug\":\"%s\",\"name\":\"N\"}", bad_slugs[i]);
        expect_create_error(body, 400, "invalid_slug");
    }
    expect_create_error("{\"slug\":42,\"name\":\"N\"}", 400, "invalid_slug");
    expect_create_error("{\"name\":\"N\"}", 400, "invalid_slug");
    expect_create_error("[1]", 400, "invalid_body");
    expect_create_error("{not json", 400, "invalid_json");
    char *slug = unique("%s-%s", "val");
    const struct {
        const char *extra;
        int status;
        const char *code;
    } cases[] = {
        {"", 400, "invalid_name"},
        {",\"name\":\"\"", 400, "invalid_name"},
        {",\"name\":\"N\",\"plan\":\"platinum\"", 400, "unknown_plan"},
        {",\"name\":\"N\",\"plan\":7", 400, "invalid_plan"},
        {",\"name\":\"N\",\"owner_email\":\"nope\"", 400, "invalid_email"},
        {",\"name\":\"N\",\"settings\":[]", 400, "invalid_settings"},
        {",\"name\":\"N\",\"settings\":{\"colour\":\"red\"}", 400, "unknown_setting"},
        {",\"name\":\"N\",\"settings\":{\"locale\":\"english please\"}", 400, "invalid_locale"},
        {",\"name\":\"N\",\"settings\":{\"timezone\":\"Mars/Olympus\"}", 400, "invalid_timezone"},
        {",\"name\":\"N\",\"settings\":{\"retention_days\":0}", 400, "invalid_retention_days"},
        {",\"name\":\"N\",\"settings\":{\"retention_days\":3651}", 400, "invalid_retention_days"},
        {",\"name\":\"N\",\"settings\":{\"retention_days\":1.5}", 400, "invalid_retention_days"},
        {",\"name\":\"N\",\"settings\":{\"allowed_origins\":[\"ftp://x.com\"]}", 400,
         "invalid_origin"},
        {",\"name\":\"N\",\"settings\":{\"allowed_origins\":[\"https://x.com/app\"]}", 400,
         "invalid_origin"},
        {",\"name\":\"N\",\"settings\":{\"allowed_origins\":[\"https://X.com\"]}", 400,
         "invalid_origin"},
        {",\"name\":\"N\",\"settings\":{\"allowed_origins\":[\"https://x.com:99999\"]}", 400,
         "invalid_origin"},
        {",\"name\":\"N\",\"settings\":{\"allowed_origins\":\"https://x.com\"}", 400,
         "invalid_origin"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        snprintf(body, sizeof(body), "{\"slug\":\"%s\"%s}", slug, cases[i].extra);
        expect_create_error(body, cases[i].status, cases[i].code);
    }
    /* Nothing was created by any refused request. */
    char path[128];
    snprintf(path, sizeof(path), "/v1/tenants?q=%s", slug);
    sptest_resp_t r = call(&OPERATOR, "GET", path, NULL);
    EXPECT_OK(r, 200);
    sptest_assert_json_int(r.json, "total", 0);
    sptest_resp_free(&r);
    free(slug);
}

static void test_create_defaults_settings_and_slug_taken(void **state)
{
    (void)state;
    char *slug = unique("%s-%s", "create");
    char body[512];
    snprintf(body, sizeof(body), "{\"slug\":\"%s\",\"name\":\"Create Co\"}", slug);
    sptest_resp_t r = call(&OPERATOR, "POST", "/v1/tenants", body);
    EXPECT_OK(r, 201);
    sptest_assert_json_str(r.json, "tenant.slug", slug);
    sptest_assert_json_str(r.json, "tenant.status", "active");
    sptest_assert_json_str(r.json, "tenant.plan", "trial");
    sptest_assert_json_str(r.json, "tenant.settings.locale", "en-US");
    sptest_assert_json_str(r.json, "tenant.settings.timezone", "UTC");
    sptest_assert_json_int(r.json, "tenant.settings.retention_days", 365);
    sptest_assert_json_null(r.json, "owner_invite");
    assert_true(sp_uuid_valid(sptest_json_str(r.json, "tenant.id")));
    sptest_resp_free(&r);
    /* The slug is unique: 409 whatever the case of the rest. */
    snprintf(body, sizeof(body), "{\"slug\":\"%s\",\"name\":\"Another\"}", slug);
    expect_create_error(body, 409, "slug_taken");

    char *slug2 = unique("%s-%s", "settings");
    snprintf(body, sizeof(body),
             "{\"slug\":\"%s\",\"name\":\"S\",\"plan\":\"growth\",\"settings\":{\"locale\":"
             "\"fr-FR\",\"timezone\":\"Europe/Paris\",\"retention_days\":90,\"allowed_origins\":"
             "[\"https://console.%s.example\",\"http://localhost:5173\"]}}",
             slug2, slug2);
    r = call(&OPERATOR, "POST", "/v1/tenants", body);
    EXPECT_OK(r, 201);
    sptest_assert_json_str(r.json, "tenant.plan", "growth");
    sptest_assert_json_str(r.json, "tenant.settings.locale", "fr-FR");
    sptest_assert_json_str(r.json, "tenant.settings.timezone", "Europe/Paris");
    sptest_assert_json_int(r.json, "tenant.settings.retention_days", 90);
    cJSON *ao = cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(r.json, "tenant"), "settings"), "allowed_origins");
    assert_int_equal(cJSON_GetArraySize(ao), 2);
    char id[SP_UUID_STR_LEN];
    snprintf(id, sizeof(id), "%s", sptest_json_str(r.json, "tenant.id"));
    sptest_resp_free(&r);

    sp_arena_t *a = sp_arena_new();
    state_t *st = tenant_state(a, id);
    assert_int_equal(st->status, P_ACTIVE);
    assert_string_equal(st->slug, slug2);
    assert_string_equal(st->timezone, "Europe/Paris");
    assert_string_equal(st->locale, "fr-FR");
    assert_int_equal(st->retention_days, 90);
    assert_int_equal(st->n_allowed_origins, 2);
    char origin[128];
    snprintf(origin, sizeof(origin), "https://console.%s.example", slug2);
    assert_true(has_origin(origins(a), origin));
    Serphona__Tenant__V1__Limits *lim = NULL;
    if (limits(a, id, &lim) != 0 || !lim) {
        fail_msg("GetLimits failed");
        abort();
    }
    assert_string_equal(lim->plan, "growth");
    assert_int_equal(lim->seats, 25);
    assert_true(lim->tenant_requests_per_minute > 0 && lim->user_requests_per_minute > 0);
    sp_arena_destroy(&a);
    free(slug);
    free(slug2);
}

static void test_permissions(void **state)
{
    (void)state;
    tenant_fx_t fx;
    make_tenant(&fx, "perm", "trial");
    /* A tenant owner is no operator, and no one unauthenticated is. */
    sptest_resp_t r =
        call(&fx.owner, "POST", "/v1/tenants", "{\"slug\":\"zzz-perm\",\"name\":\"N\"}");
    EXPECT(r, 403, "forbidden");
    sptest_resp_free(&r);
    r = call(&fx.owner, "GET", "/v1/tenants", NULL);
    EXPECT(r, 403, "forbidden");
    sptest_resp_free(&r);
    char path[128];
    snprintf(path, sizeof(path), "/v1/tenants/%s", fx.id);
    r = call(&fx.owner, "GET", path, NULL); /* even its own id: operators only */
    EXPECT(r, 403, "forbidden");
    sptest_resp_free(&r);
    r = call(NULL, "GET", "/v1/tenants/current", NULL);
    EXPECT(r, 401, "unauthenticated");
    sptest_resp_free(&r);
    /* An operator has no tenant, so the tenant's own routes are not his. */
    r = call(&OPERATOR, "GET", "/v1/tenants/current", NULL);
    EXPECT(r, 403, "forbidden");
    sptest_resp_free(&r);
    /* Roles on the own tenant: viewers read, only owner/admin write. */
    sptest_caller_t viewer = {fx.id, "00000000-0000-4000-8000-000000000001", "viewer", NULL};
    sptest_caller_t analyst = {fx.id, "00000000-0000-4000-8000-000000000002", "analyst", NULL};
    sptest_caller_t admin = {fx.id, "00000000-0000-4000-8000-000000000003", "admin", NULL};
    r = call(&viewer, "GET", "/v1/tenants/current", NULL);
    EXPECT_OK(r, 200);
    sptest_assert_json_str(r.json, "id", fx.id);
    sptest_assert_json_str(r.json, "limits.plan", "trial");
    sptest_resp_free(&r);
    r = call(&viewer, "GET", "/v1/tenants/current/limits", NULL);
    EXPECT_OK(r, 200);
    sptest_assert_json_int(r.json, "seats", 5);
    sptest_resp_free(&r);
    r = call(&analyst, "PATCH", "/v1/tenants/current", "{\"name\":\"Renamed\"}");
    EXPECT(r, 403, "forbidden");
    sptest_resp_free(&r);
    r = call(&admin, "PATCH", "/v1/tenants/current",
             "{\"name\":\"Renamed by admin\",\"settings\":{\"timezone\":\"America/New_York\"}}");
    EXPECT_OK(r, 200);
    sptest_assert_json_str(r.json, "name", "Renamed by admin");
    sptest_assert_json_str(r.json, "settings.timezone", "America/New_York");
    sptest_assert_json_str(r.json, "settings.locale", "en-US"); /* untouched */
    sptest_resp_free(&r);
    /* The tenant comes from the auth context only: an id in the body is an
     * unknown field, refused (not silently ignored), and changes nothing. */
    r = call(&admin, "PATCH", "/v1/tenants/current",
             "{\"id\":\"00000000-0000-4000-8000-000000000000\",\"name\":\"Still mine\"}");
    EXPECT(r, 400, "unknown_field");
    sptest_resp_free(&r);
    r = call(&admin, "GET", "/v1/tenants/current", NULL);
    EXPECT_OK(r, 200);
    sptest_assert_json_str(r.json, "id", fx.id);
    sptest_assert_json_str(r.json, "name", "Renamed by admin");
    sptest_resp_free(&r);
}

static void test_list_search_paginate(void **state)
{
    (void)state;
    char tag[32], body[256], path[256];
    snprintf(tag, sizeof(tag), "lst%s", RUN);
    for (int i = 0; i < 3; i++) {
        snprintf(body, sizeof(body), "{\"slug\":\"%s-%d\",\"name\":\"List %d\"}", tag, i, i);
        sptest_resp_t r = call(&OPERATOR, "POST", "/v1/tenants", body);
        EXPECT_OK(r, 201);
        sptest_resp_free(&r);
    }
    snprintf(path, sizeof(path), "/v1/tenants?q=%s&per_page=2", tag);
    sptest_resp_t r = call(&OPERATOR, "GET", path, NULL);
    EXPECT_OK(r, 200);
    sptest_assert_json_int(r.json, "total", 3);
    sptest_assert_json_len(r.json, "items", 2);
    sptest_assert_json_int(r.json, "page", 1);
    char first[64];
    snprintf(first, sizeof(first), "%s",
             sptest_json_str(cJSON_GetArrayItem(cJSON_GetObjectItem(r.json, "items"), 0), "slug"));
    sptest_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/tenants?q=%s&per_page=2&page=2", tag);
    r = call(&OPERATOR, "GET", path, NULL);
    EXPECT_OK(r, 200);
    cJSON *items = cJSON_GetObjectItem(r.json, "items");
    assert_int_equal(cJSON_GetArraySize(items), 1);
    assert_string_not_equal(sptest_json_str(cJSON_GetArrayItem(items, 0), "slug"), first);
    sptest_resp_free(&r);
    /* Wildcards in q are literal. */
    r = call(&OPERATOR, "GET", "/v1/tenants?q=%25", NULL);
    EXPECT_OK(r, 200);
    sptest_assert_json_int(r.json, "total", 0);
    sptest_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/tenants?q=%s&status=suspended", tag);
    r = call(&OPERATOR, "GET", path, NULL);
    EXPECT_OK(r, 200);
    sptest_assert_json_int(r.json, "total", 0);
    sptest_resp_free(&r);
    r = call(&OPERATOR, "GET", "/v1/tenants?status=weird", NULL);
    EXPECT(r, 400, "invalid_status");
    sptest_resp_free(&r);
    r = call(&OPERATOR, "GET", "/v1/tenants?per_page=0", NULL);
    EXPECT(r, 400, "invalid_pagination");
    sptest_resp_free(&r);
    r = call(&OPERATOR, "GET", "/v1/tenants?page=x", NULL);
    EXPECT(r, 400, "invalid_pagination");
    sptest_resp_free(&r);
    r = call(&OPERATOR, "GET", "/v1/tenants/plans", NULL);
    EXPECT_OK(r, 200);
    sptest_assert_json_len(r.json, "items", 3);
    sptest_resp_free(&r);
}

/* Sets every cache key of a tenant and its owner in Redis. */
static void set_cache(const tenant_fx_t *fx)
{
    char key[160];
    const char *prefixes[] = {"sp:tenant:", "sp:limits:"};
    for (int i = 0; i < 2; i++) {
        snprintf(key, sizeof(key), "%s%s", prefixes[i], fx->id);
        assert_int_equal(sp_redis_cache_set(T.redis, key, "x", 1, 60), 0);
    }
    snprintf(key, sizeof(key), "sp:principal:%s:%s", fx->id, fx->owner_id);
    assert_int_equal(sp_redis_cache_set(T.redis, key, "x", 1, 60), 0);
    assert_int_equal(sp_redis_cache_set(T.redis, "sp:origins", "x", 1, 60), 0);
}

/* Whether prefix + a (+ ":" + b) is in Redis. */
static int cached(const char *prefix, const char *a, const char *b)
{
    char key[160], *v = NULL;
    snprintf(key, sizeof(key), "%s%s%s%s", prefix, a, b ? ":" : "", b ? b : "");
    int rc = sp_redis_cache_get(T.redis, key, &v, NULL);
    free(v);
    return rc == 0;
}

static void test_status_changes_and_cache(void **state)
{
    (void)state;
    tenant_fx_t fx;
    make_tenant(&fx, "status", "trial");
    char path[128];
    sp_arena_t *a = sp_arena_new();

    set_cache(&fx);
    snprintf(path, sizeof(path), "/v1/tenants/%s/suspend", fx.id);
    sptest_resp_t r = call(&OPERATOR, "POST", path, NULL);
    EXPECT_OK(r, 200);
    sptest_assert_json_str(r.json, "status", "suspended");
    assert_non_null(sptest_json_str(r.json, "suspended_at"));
    sptest_resp_free(&r);
    assert_false(cached("sp:tenant:", fx.id, NULL));
    assert_false(cached("sp:limits:", fx.id, NULL));
    assert_false(cached("sp:principal:", fx.id, fx.owner_id));
    assert_false(cached("sp:origins", "", NULL));
    assert_int_equal(tenant_state(a, fx.id)->status, P_SUSPENDED);
    /* Idempotent. */
    r = call(&OPERATOR, "POST", path, NULL);
    EXPECT_OK(r, 200);
    sptest_resp_free(&r);

    set_cache(&fx);
    snprintf(path, sizeof(path), "/v1/tenants/%s/reactivate", fx.id);
    r = call(&OPERATOR, "POST", path, NULL);
    EXPECT_OK(r, 200);
    sptest_assert_json_str(r.json, "status", "active");
    sptest_resp_free(&r);
    assert_false(cached("sp:tenant:", fx.id, NULL));
    assert_false(cached("sp:principal:", fx.id, fx.owner_id));
    assert_int_equal(tenant_state(a, fx.id)->status, P_ACTIVE);

    set_cache(&fx);
    snprintf(path, sizeof(path), "/v1/tenants/%s", fx.id);
    r = call(&OPERATOR, "PATCH", path, "{\"settings\":{\"allowed_origins\":[]}}");
    EXPECT_OK(r, 200);
    sptest_resp_free(&r);
    assert_false(cached("sp:tenant:", fx.id, NULL));
    assert_false(cached("sp:origins", "", NULL));
    assert_true(cached("sp:principal:", fx.id, fx.owner_id)); /* untouched */

    set_cache(&fx);
    r = call(&OPERATOR, "DELETE", path, NULL);
    EXPECT_OK(r, 200);
    sptest_assert_json_str(r.json, "status", "deleted");
    sptest_resp_free(&r);
    assert_false(cached("sp:tenant:", fx.id, NULL));
    assert_false(cached("sp:principal:", fx.id, fx.owner_id));
    assert_int_equal(tenant_state(a, fx.id)->status, P_NOT_FOUND);
    Serphona__Tenant__V1__Limits *lim = NULL;
    assert_int_equal(limits(a, fx.id, &lim), SP_ENOTFOUND);
    /* The tenant's users no longer see it; operators still do. */
    r = call(&fx.owner, "GET", "/v1/tenants/current", NULL);
    EXPECT(r, 404, "tenant_not_found");
    sptest_resp_free(&r);
    r = call(&OPERATOR, "GET", path, NULL);
    EXPECT_OK(r, 200);
    sptest_assert_json_str(r.json, "status", "deleted");
    sptest_resp_free(&r);
    /* Deleting again is a no-op; suspending a deleted tenant is a 404. */
    r = call(&OPERATOR, "DELETE", path, NULL);
    EXPECT_OK(r, 200);
    sptest_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/tenants/%s/suspend", fx.id);
    r = call(&OPERATOR, "POST", path, NULL);
    EXPECT(r, 404, "tenant_not_found");
    sptest_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/tenants/%s", fx.id);
    r = call(&OPERATOR, "PATCH", path, "{\"name\":\"x\"}");
    EXPECT(r, 404, "tenant_not_found");
    sptest_resp_free(&r);
    /* Restored before the purge. */
    snprintf(path, sizeof(path), "/v1/tenants/%s/reactivate", fx.id);
    r = call(&OPERATOR, "POST", path, NULL);
    EXPECT_OK(r, 200);
    sptest_assert_json_str(r.json, "status", "active");
    sptest_assert_json_null(r.json, "deleted_at");
    sptest_resp_free(&r);

    /* Unknown and malformed ids. */
    const char *bad[] = {"/v1/tenants/00000000-0000-4000-8000-000000000000",
                         "/v1/tenants/not-a-uuid"};
    for (int i = 0; i < 2; i++) {
        r = call(&OPERATOR, "GET", bad[i], NULL);
        EXPECT(r, 404, "tenant_not_found");
        sptest_resp_free(&r);
    }
    assert_int_equal(tenant_state(a, "not-a-uuid")->status, P_NOT_FOUND);
    assert_int_equal(tenant_state(a, "00000000-0000-4000-8000-000000000000")->status, P_NOT_FOUND);
    sp_arena_destroy(&a);
}

static void test_plans_and_limits(void **state)
{
    (void)state;
    tenant_fx_t fx;
    make_tenant(&fx, "plan", "trial");
    char path[128];
    snprintf(path, sizeof(path), "/v1/tenants/%s/plan", fx.id);
    const struct {
        const char *body;
        const char *code;
    } bad[] = {
        {"{}", "invalid_plan"},
        {"{\"plan\":\"gold\"}", "unknown_plan"},
        {"{\"plan\":\"growth\",\"limit_overrides\":{\"seats\":0}}", "invalid_limit"},
        {"{\"plan\":\"growth\",\"limit_overrides\":{\"seats\":-3}}", "invalid_limit"},
        {"{\"plan\":\"growth\",\"limit_overrides\":{\"seats\":2.5}}", "invalid_limit"},
        {"{\"plan\":\"growth\",\"limit_overrides\":{\"wishes\":3}}", "invalid_limit"},
        {"{\"plan\":\"growth\",\"limit_overrides\":[]}", "invalid_limit"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        sptest_resp_t r = call(&OPERATOR, "PUT", path, bad[i].body);
        EXPECT(r, 400, bad[i].code);
        sptest_resp_free(&r);
    }
    assert_int_equal(sp_redis_cache_set(T.redis, "sp:limits:x", "x", 1, 60), 0);
    char key[96];
    snprintf(key, sizeof(key), "sp:limits:%s", fx.id);
    assert_int_equal(sp_redis_cache_set(T.redis, key, "x", 1, 60), 0);
    sptest_resp_t r =
        call(&OPERATOR, "PUT", path,
             "{\"plan\":\"growth\",\"limit_overrides\":{\"user_requests_per_minute\":7,"
             "\"agents\":0,\"monthly_interactions\":123456789012}}");
    EXPECT_OK(r, 200);
    sptest_assert_json_str(r.json, "plan", "growth");
    sptest_assert_json_int(r.json, "limits.user_requests_per_minute", 7);
    sptest_assert_json_int(r.json, "limits.seats", 25);
    sptest_resp_free(&r);
    char *v = NULL;
    assert_int_equal(sp_redis_cache_get(T.redis, key, &v, NULL), SP_ENOTFOUND);
    sp_arena_t *a = sp_arena_new();
    Serphona__Tenant__V1__Limits *lim = NULL;
    assert_int_equal(limits(a, fx.id, &lim), 0);
    assert_string_equal(lim->plan, "growth");
    assert_int_equal(lim->user_requests_per_minute, 7);
    assert_int_equal(lim->agents, 0);
    assert_int_equal(lim->monthly_interactions, 123456789012LL);
    assert_int_equal(lim->seats, 25);
    assert_int_equal(lim->tenant_requests_per_minute, 3000);
    /* Overrides are replaced as a whole. */
    r = call(&OPERATOR, "PUT", path, "{\"plan\":\"enterprise\"}");
    EXPECT_OK(r, 200);
    sptest_resp_free(&r);
    assert_int_equal(limits(a, fx.id, &lim), 0);
    assert_int_equal(lim->user_requests_per_minute, 1200);
    assert_int_equal(lim->seats, 500);
    assert_int_equal(limits(a, "nope", &lim), SP_ENOTFOUND);
    sp_arena_destroy(&a);
}

/* The rows of a tenant in every tenant table, counted by the owner role
 * inside the tenant's own scope (RLS is forced on the owner too). */
static int tenant_rows(const char *tenant_id)
{
    char sql[512];
    snprintf(sql, sizeof(sql),
             "BEGIN; SELECT set_config('app.tenant_id', '%s', true); SELECT (SELECT count(*) "
             "FROM tenant.users) + (SELECT count(*) FROM tenant.invites) + (SELECT count(*) FROM "
             "tenant.api_keys) + (SELECT count(*) FROM tenant.audit_log)",
             tenant_id);
    char *v = sptest_pg_owner_value(sql);
    int n = (int)strtol(v, NULL, 10);
    free(v);
    return n;
}

static void test_purge(void **state)
{
    (void)state;
    tenant_fx_t old, recent, restored;
    make_tenant(&old, "purge-old", "trial");
    make_tenant(&recent, "purge-new", "trial");
    make_tenant(&restored, "purge-back", "trial");
    sptest_resp_t r =
        call(&old.owner, "POST", "/v1/api-keys", "{\"name\":\"k\",\"scopes\":[\"ingest:write\"]}");
    EXPECT_OK(r, 201);
    sptest_resp_free(&r);
    const tenant_fx_t *all[] = {&old, &recent, &restored};
    char path[128], sql[256];
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "/v1/tenants/%s", all[i]->id);
        r = call(&OPERATOR, "DELETE", path, NULL);
        EXPECT_OK(r, 200);
        sptest_resp_free(&r);
    }
    /* old and restored were deleted 31 days ago; restored came back since. */
    snprintf(sql, sizeof(sql),
             "UPDATE tenant.tenants SET deleted_at = now() - interval '31 days' WHERE id IN "
             "('%s', '%s')",
             old.id, restored.id);
    sptest_pg_owner_exec(sql);
    snprintf(sql, sizeof(sql),
             "UPDATE tenant.tenants SET status = 'active', deleted_at = NULL WHERE id = '%s'",
             restored.id);
    sptest_pg_owner_exec(sql);
    assert_true(tenant_rows(old.id) >= 4);
    int purged = -1;
    assert_int_equal(tm_tenants_purge(T.db, 30, &purged), 0);
    assert_true(purged >= 1);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM tenant.tenants WHERE id = '%s'", old.id);
    char *v = sptest_pg_owner_value(sql);
    assert_string_equal(v, "0");
    free(v);
    assert_int_equal(tenant_rows(old.id), 0);
    /* Inside the grace period, or restored: kept with all rows. */
    const tenant_fx_t *kept[] = {&recent, &restored};
    for (int i = 0; i < 2; i++) {
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM tenant.tenants WHERE id = '%s'",
                 kept[i]->id);
        v = sptest_pg_owner_value(sql);
        assert_string_equal(v, "1");
        free(v);
        assert_true(tenant_rows(kept[i]->id) > 0);
    }
    /* The purged slug is free again. */
    char body[160];
    snprintf(body, sizeof(body), "{\"slug\":\"%s\",\"name\":\"Reborn\"}", old.slug);
    r = call(&OPERATOR, "POST", "/v1/tenants", body);
    EXPECT_OK(r, 201);
    sptest_resp_free(&r);
    /* Nothing left to purge: a second run purges nothing new. */
    assert_int_equal(tm_tenants_purge(T.db, 30, &purged), 0);
    assert_int_equal(purged, 0);
}

static void test_allowed_origins_follow_status(void **state)
{
    (void)state;
    char *slug = unique("%s-%s", "origins");
    char body[256], origin[128], path[128];
    snprintf(origin, sizeof(origin), "https://%s.example.org", slug);
    snprintf(body, sizeof(body),
             "{\"slug\":\"%s\",\"name\":\"O\",\"settings\":{\"allowed_origins\":[\"%s\"]}}", slug,
             origin);
    sptest_resp_t r = call(&OPERATOR, "POST", "/v1/tenants", body);
    EXPECT_OK(r, 201);
    snprintf(path, sizeof(path), "/v1/tenants/%s/suspend", sptest_json_str(r.json, "tenant.id"));
    sptest_resp_free(&r);
    sp_arena_t *a = sp_arena_new();
    assert_true(has_origin(origins(a), origin));
    r = call(&OPERATOR, "POST", path, NULL);
    EXPECT_OK(r, 200);
    sptest_resp_free(&r);
    assert_false(has_origin(origins(a), origin));
    sp_arena_destroy(&a);
    free(slug);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_validation),
        cmocka_unit_test(test_create_defaults_settings_and_slug_taken),
        cmocka_unit_test(test_permissions),
        cmocka_unit_test(test_list_search_paginate),
        cmocka_unit_test(test_status_changes_and_cache),
        cmocka_unit_test(test_plans_and_limits),
        cmocka_unit_test(test_purge),
        cmocka_unit_test(test_allowed_origins_follow_status),
    };
    return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
