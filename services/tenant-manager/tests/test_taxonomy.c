/*
 * test_taxonomy.c — tenants' own taxonomies through the router and
 * GetTaxonomy against the real database: the default until one is stored,
 * PUT validated by libnlp (400 invalid_taxonomy with its reason), the audit
 * entry, the cache key dropped, permissions, isolation between tenants and
 * DELETE back to the default.
 */
#include "tm_test.h"

#include "../src/taxonomy.h"
#include "nlp/taxonomy.h"

#define PATH "/v1/tenants/current/taxonomy"

static const char *const DOC =
    "{\"mode\":\"extend\",\"categories\":[{\"id\":\"loyalty_program\",\"name\":\"Loyalty\","
    "\"patterns\":{\"pt\":[\"pontos\"],\"en\":[\"loyalty points\"]}}]}";

static int setup(void **state)
{
    if (harness_setup(state) != 0)
        return -1;
    return tm_taxonomy_register(R, &T);
}

static Serphona__Tenant__V1__Taxonomy *get_rpc(sp_arena_t *a, const char *tenant_id, int *rc)
{
    Serphona__Tenant__V1__GetTaxonomyRequest in = SERPHONA__TENANT__V1__GET_TAXONOMY_REQUEST__INIT;
    in.tenant_id = (char *)tenant_id;
    ProtobufCMessage *out = NULL;
    *rc = rpc(tm_rpc_get_taxonomy, &in.base, &serphona__tenant__v1__taxonomy__descriptor, a, &out);
    return (Serphona__Tenant__V1__Taxonomy *)out;
}

static int is_customized(const sptest_resp_t *r)
{
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(r->json, "customized");
    assert_true(cJSON_IsBool(c));
    return cJSON_IsTrue(c);
}

/* Whether a category id is in the "taxonomy" document of a reply. */
static int has_category(const sptest_resp_t *r, const char *id)
{
    const cJSON *cats = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(r->json, "taxonomy"), "categories");
    const cJSON *c;
    cJSON_ArrayForEach(c, cats)
    {
        const char *cid = sptest_json_str(c, "id");
        if (cid && strcmp(cid, id) == 0)
            return 1;
    }
    return 0;
}

static int cache_present(const char *tenant_id)
{
    char key[96], *v = NULL;
    snprintf(key, sizeof(key), "sp:taxonomy:%s", tenant_id);
    int rc = sp_redis_cache_get(T.redis, key, &v, NULL);
    free(v);
    return rc == 0;
}

static void cache_set(const char *tenant_id)
{
    char key[96];
    snprintf(key, sizeof(key), "sp:taxonomy:%s", tenant_id);
    assert_int_equal(sp_redis_cache_set(T.redis, key, "x", 1, 60), 0);
}

static int audit_count(const sptest_caller_t *who, const char *action)
{
    char path[160];
    snprintf(path, sizeof(path), "/v1/audit-log?action=%s", action);
    sptest_resp_t r = call(who, "GET", path, NULL);
    EXPECT_OK(r, 200);
    int n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "items"));
    sptest_resp_free(&r);
    return n;
}

static void test_default_put_get_delete(void **state)
{
    (void)state;
    tenant_fx_t a;
    make_tenant(&a, "taxa", "trial");
    sp_arena_t *ar = sp_arena_new();
    int rc;

    /* The default until one is stored, as a document libnlp accepts back. */
    sptest_resp_t r = call(&a.owner, "GET", PATH, NULL);
    EXPECT_OK(r, 200);
    assert_false(is_customized(&r));
    assert_true(has_category(&r, "billing"));
    assert_false(has_category(&r, "loyalty_program"));
    char *def = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(r.json, "taxonomy"));
    nlp_taxonomy_t *tax = NULL;
    assert_int_equal(nlp_taxonomy_from_json(def, strlen(def), &tax, NULL, 0), 0);
    nlp_taxonomy_destroy(&tax);
    free(def);
    sptest_resp_free(&r);
    Serphona__Tenant__V1__Taxonomy *t = get_rpc(ar, a.id, &rc);
    assert_int_equal(rc, 0);
    assert_false(t->customized);
    assert_non_null(strstr(t->json, "\"billing\""));

    /* PUT: stored, audited, the cache key dropped. */
    cache_set(a.id);
    r = call(&a.owner, "PUT", PATH, DOC);
    EXPECT_OK(r, 200);
    assert_true(is_customized(&r));
    assert_true(has_category(&r, "loyalty_program"));
    sptest_assert_json_str(r.json, "updated_by", a.owner_id);
    assert_non_null(sptest_json_str(r.json, "updated_at"));
    sptest_resp_free(&r);
    assert_false(cache_present(a.id));
    assert_int_equal(audit_count(&a.owner, "taxonomy.update"), 1);

    r = call(&a.owner, "GET", PATH, NULL);
    EXPECT_OK(r, 200);
    assert_true(is_customized(&r));
    assert_true(has_category(&r, "loyalty_program"));
    assert_false(has_category(&r, "billing")); /* the document as stored, not the effective */
    sptest_resp_free(&r);
    t = get_rpc(ar, a.id, &rc);
    assert_int_equal(rc, 0);
    assert_true(t->customized);
    assert_string_equal(t->json, DOC);

    /* The audit entry carries before (none) and after (the document). */
    r = call(&a.owner, "GET", "/v1/audit-log?action=taxonomy.update", NULL);
    EXPECT_OK(r, 200);
    const cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r.json, "items"), 0);
    sptest_assert_json_null(e, "before");
    sptest_assert_json_str(e, "after.mode", "extend");
    sptest_assert_json_str(e, "resource.type", "taxonomy");
    sptest_assert_json_str(e, "resource.id", a.id);
    sptest_resp_free(&r);

    /* A second PUT audits the first document as before. */
    r = call(&a.owner, "PUT", PATH,
             "{\"mode\":\"replace\",\"categories\":[{\"id\":\"x1\","
             "\"patterns\":[\"foo bar\"]}]}");
    EXPECT_OK(r, 200);
    sptest_resp_free(&r);
    r = call(&a.owner, "GET", "/v1/audit-log?action=taxonomy.update", NULL);
    EXPECT_OK(r, 200);
    e = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r.json, "items"), 0);
    sptest_assert_json_str(e, "before.mode", "extend");
    sptest_assert_json_str(e, "after.mode", "replace");
    sptest_resp_free(&r);

    /* DELETE: back to the default, audited, cache dropped; again is a no-op. */
    cache_set(a.id);
    r = call(&a.owner, "DELETE", PATH, NULL);
    EXPECT_OK(r, 204);
    sptest_resp_free(&r);
    assert_false(cache_present(a.id));
    assert_int_equal(audit_count(&a.owner, "taxonomy.delete"), 1);
    r = call(&a.owner, "DELETE", PATH, NULL);
    EXPECT_OK(r, 204);
    sptest_resp_free(&r);
    assert_int_equal(audit_count(&a.owner, "taxonomy.delete"), 1);
    r = call(&a.owner, "GET", PATH, NULL);
    EXPECT_OK(r, 200);
    assert_false(is_customized(&r));
    sptest_resp_free(&r);
    t = get_rpc(ar, a.id, &rc);
    assert_int_equal(rc, 0);
    assert_false(t->customized);

    /* Unknown tenants. */
    get_rpc(ar, "00000000-0000-4000-8000-00000000dead", &rc);
    assert_int_equal(rc, SP_ENOTFOUND);
    get_rpc(ar, "nope", &rc);
    assert_int_equal(rc, SP_ENOTFOUND);
    sp_arena_destroy(&ar);
}

static void test_invalid_documents(void **state)
{
    (void)state;
    tenant_fx_t a;
    make_tenant(&a, "taxb", "trial");
    static const char *const bad[] = {
        "",
        "not json",
        "[]",
        "{\"categories\":[{\"id\":\"Bad Id\",\"patterns\":[\"x\"]}]}",
        "{\"categories\":[{\"id\":\"ok\",\"patterns\":{\"en\":[\"ab*\"]}}]}",
        "{\"categories\":[{\"id\":\"ok\",\"patterns\":[\"x\"],\"typo\":1}]}",
        "{\"mode\":\"merge\",\"categories\":[]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        sptest_resp_t r = call(&a.owner, "PUT", PATH, bad[i]);
        EXPECT(r, 400, "invalid_taxonomy");
        const char *msg = sptest_json_str(r.json, "error.message");
        assert_non_null(msg);
        assert_true(strlen(msg) > 0);
        sptest_resp_free(&r);
    }
    /* The reason names the field. */
    sptest_resp_t r = call(&a.owner, "PUT", PATH, bad[4]);
    assert_non_null(strstr(sptest_json_str(r.json, "error.message"), "categories[0]"));
    sptest_resp_free(&r);
    /* Nothing stored, nothing audited. */
    r = call(&a.owner, "GET", PATH, NULL);
    EXPECT_OK(r, 200);
    assert_false(is_customized(&r));
    sptest_resp_free(&r);
    assert_int_equal(audit_count(&a.owner, "taxonomy.*"), 0);
}

static void test_permissions_and_isolation(void **state)
{
    (void)state;
    tenant_fx_t a, b;
    make_tenant(&a, "taxc", "trial");
    make_tenant(&b, "taxd", "trial");
    sptest_caller_t viewer = {a.id, "00000000-0000-4000-8000-0000000000b1", "viewer", NULL};
    sptest_caller_t analyst = {a.id, "00000000-0000-4000-8000-0000000000b2", "analyst", NULL};

    sptest_resp_t r = call(&viewer, "PUT", PATH, DOC);
    EXPECT(r, 403, "forbidden");
    sptest_resp_free(&r);
    r = call(&viewer, "DELETE", PATH, NULL);
    EXPECT(r, 403, "forbidden");
    sptest_resp_free(&r);
    r = call(&viewer, "GET", PATH, NULL);
    EXPECT_OK(r, 200);
    sptest_resp_free(&r);
    r = call(&analyst, "PUT", PATH, DOC);
    EXPECT_OK(r, 200);
    sptest_resp_free(&r);

    /* B still has the default, through the route and the RPC. */
    r = call(&b.owner, "GET", PATH, NULL);
    EXPECT_OK(r, 200);
    assert_false(is_customized(&r));
    assert_false(has_category(&r, "loyalty_program"));
    sptest_resp_free(&r);
    sp_arena_t *ar = sp_arena_new();
    int rc;
    Serphona__Tenant__V1__Taxonomy *t = get_rpc(ar, b.id, &rc);
    assert_int_equal(rc, 0);
    assert_false(t->customized);
    t = get_rpc(ar, a.id, &rc);
    assert_int_equal(rc, 0);
    assert_true(t->customized);
    sp_arena_destroy(&ar);
    /* B's DELETE does not touch A's. */
    r = call(&b.owner, "DELETE", PATH, NULL);
    EXPECT_OK(r, 204);
    sptest_resp_free(&r);
    r = call(&a.owner, "GET", PATH, NULL);
    assert_true(is_customized(&r));
    sptest_resp_free(&r);
    /* A platform operator has no tenant of its own. */
    r = call(&OPERATOR, "GET", PATH, NULL);
    assert_true(r.status == 404 || r.status == 403);
    sptest_resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_put_get_delete),
        cmocka_unit_test(test_invalid_documents),
        cmocka_unit_test(test_permissions_and_isolation),
    };
    return cmocka_run_group_tests(tests, setup, harness_teardown);
}
