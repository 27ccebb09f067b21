/*
 * test_auth.c — operator bootstrap, Authenticate and GetPrincipal against
 * the real database: every result of both RPCs, the no-oracle rules (unknown
 * tenant, unknown email and wrong password answer alike and take alike
 * long), rehashing of weaker hashes, and passwords/tokens helpers.
 */
#include "tm_test.h"

#include "../src/operators.h"
#include "../src/passwords.h"
#include "../src/tokens.h"

typedef Serphona__Tenant__V1__AuthenticateReply areply_t;
#define A_OK        SERPHONA__TENANT__V1__AUTHENTICATE_REPLY__RESULT__OK
#define A_INVALID   SERPHONA__TENANT__V1__AUTHENTICATE_REPLY__RESULT__INVALID_CREDENTIALS
#define A_SUSPENDED SERPHONA__TENANT__V1__AUTHENTICATE_REPLY__RESULT__TENANT_SUSPENDED
#define A_DISABLED  SERPHONA__TENANT__V1__AUTHENTICATE_REPLY__RESULT__USER_DISABLED
#define P_ACTIVE    SERPHONA__TENANT__V1__PRINCIPAL_STATUS__PRINCIPAL_ACTIVE
#define P_SUSPENDED SERPHONA__TENANT__V1__PRINCIPAL_STATUS__PRINCIPAL_TENANT_SUSPENDED
#define P_DISABLED  SERPHONA__TENANT__V1__PRINCIPAL_STATUS__PRINCIPAL_USER_DISABLED
#define P_NOT_FOUND SERPHONA__TENANT__V1__PRINCIPAL_STATUS__PRINCIPAL_NOT_FOUND

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_password_hash_format_and_verify(void **state)
{
    (void)state;
    char h1[TM_PASSWORD_HASH_MAX], h2[TM_PASSWORD_HASH_MAX];
    assert_int_equal(tm_password_hash("a long password 1", 1000, h1), 0);
    assert_int_equal(tm_password_hash("a long password 1", 1000, h2), 0);
    assert_int_equal(strncmp(h1, "pbkdf2_sha256$1000$", 19), 0);
    assert_string_not_equal(h1, h2); /* per-password salt */
    assert_true(tm_password_verify("a long password 1", h1));
    assert_false(tm_password_verify("a long password 2", h1));
    assert_false(tm_password_verify("a long password 1", "pbkdf2_sha256$1000$xx"));
    assert_false(tm_password_verify("a long password 1", "md5$abc"));
    assert_false(tm_password_verify("a long password 1", NULL));
    assert_true(tm_password_needs_rehash(h1, TM_PBKDF2_MIN_ITERATIONS));
    assert_false(tm_password_needs_rehash(h1, 1000));
    /* The stored string is self-describing: its own rounds verify it. */
    char h3[TM_PASSWORD_HASH_MAX];
    assert_int_equal(tm_password_hash("x", TM_PBKDF2_MIN_ITERATIONS, h3), 0);
    assert_int_equal(strncmp(h3, "pbkdf2_sha256$210000$", 21), 0);
    assert_true(tm_password_verify("x", h3));
}

static void test_password_policy(void **state)
{
    (void)state;
    const char *msg = NULL;
    assert_string_equal(tm_password_policy("short", "a@b.c", &msg), "password_too_short");
    assert_non_null(msg);
    /* Code points, not bytes: 11 two-byte characters are still too short. */
    assert_string_equal(tm_password_policy("ééééééééééé", "a@b.c", &msg), "password_too_short");
    assert_null(tm_password_policy("éééééééééééé", "a@b.c", &msg));
    char big[300];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_string_equal(tm_password_policy(big, "a@b.c", &msg), "password_too_long");
    assert_string_equal(tm_password_policy("my-ALICE-password", "alice@example.com", &msg),
                        "password_contains_email");
    assert_null(tm_password_policy("correct horse battery", "alice@example.com", &msg));
    /* A one-letter local part would forbid half the alphabet; not applied. */
    assert_null(tm_password_policy("a perfectly fine one", "a@example.com", &msg));
}

static void test_tokens(void **state)
{
    (void)state;
    sp_arena_t *a = sp_arena_new();
    char *tok = NULL, lookup[TM_LOOKUP_LEN + 1], lookup2[TM_LOOKUP_LEN + 1];
    uint8_t hash[SP_SHA256_LEN], hash2[SP_SHA256_LEN];
    char hex[2 * SP_SHA256_LEN + 1];
    assert_int_equal(tm_token_new(a, "sk_live", &tok, lookup, hash), 0);
    assert_int_equal(strncmp(tok, "sk_live_", 8), 0);
    assert_int_equal(strlen(tok), 8 + 12 + 1 + 43);
    assert_int_equal(tm_token_parse(tok, "sk_live", lookup2, hash2), 0);
    assert_string_equal(lookup, lookup2);
    assert_memory_equal(hash, hash2, sizeof(hash));
    tm_token_hash_hex(hash, hex);
    assert_true(tm_token_hash_eq(hash2, hex));
    hex[5] = hex[5] == '0' ? '1' : '0';
    assert_false(tm_token_hash_eq(hash2, hex));
    assert_int_equal(tm_token_parse(tok, "inv", lookup2, hash2), SP_EINVAL);
    char *bad = sp_arena_strdup(a, tok);
    bad[strlen(bad) - 1] = '\0'; /* short secret */
    assert_int_equal(tm_token_parse(bad, "sk_live", lookup2, hash2), SP_EINVAL);
    bad = sp_arena_strdup(a, tok);
    bad[9] = 'Z'; /* not hex */
    assert_int_equal(tm_token_parse(bad, "sk_live", lookup2, hash2), SP_EINVAL);
    assert_int_equal(tm_token_parse("", "sk_live", lookup2, hash2), SP_EINVAL);
    assert_int_equal(tm_token_parse(NULL, "sk_live", lookup2, hash2), SP_EINVAL);
    sp_arena_destroy(&a);
}

static void test_operator_bootstrap(void **state)
{
    (void)state;
    sptest_pg_owner_exec("DELETE FROM tenant.operators");
    char id[SP_UUID_STR_LEN], id2[SP_UUID_STR_LEN];
    int created = 0;
    const char *why = NULL;
    char *email = unique("boot.%s.%s@serphona.test", "op");
    /* A weak password is refused with a reason, and nothing is created. */
    assert_int_equal(tm_operator_upsert(&T, email, "short", 1, 0, id, &created, &why), SP_EINVAL);
    assert_non_null(why);
    assert_int_equal(
        tm_operator_upsert(&T, "not-an-email", "long enough password", 1, 0, id, &created, &why),
        SP_EINVAL);
    char *n = sptest_pg_owner_value("SELECT count(*) FROM tenant.operators");
    assert_string_equal(n, "0");
    free(n);
    /* Empty table: created. */
    assert_int_equal(
        tm_operator_upsert(&T, email, "bootstrap password 1", 1, 0, id, &created, &why), 0);
    assert_int_equal(created, 1);
    assert_true(sp_uuid_valid(id));
    /* Not empty any more: a start-up with other settings does nothing. */
    char *other = unique("other.%s.%s@serphona.test", "op");
    assert_int_equal(
        tm_operator_upsert(&T, other, "bootstrap password 2", 1, 0, id2, &created, &why), 0);
    assert_int_equal(created, 0);
    assert_string_equal(id2, "");
    n = sptest_pg_owner_value("SELECT count(*) FROM tenant.operators");
    assert_string_equal(n, "1");
    free(n);
    /* The stored hash is PBKDF2 with at least 210000 rounds, never the
     * password. */
    char *h = sptest_pg_owner_value("SELECT password_hash FROM tenant.operators");
    assert_int_equal(strncmp(h, "pbkdf2_sha256$210000$", 21), 0);
    assert_null(strstr(h, "bootstrap"));
    free(h);

    sp_arena_t *a = sp_arena_new();
    areply_t *r = authenticate(a, "", email, "bootstrap password 1");
    assert_int_equal(r->result, A_OK);
    assert_string_equal(r->user_id, id);
    assert_string_equal(r->tenant_id, "");
    assert_int_equal(r->n_roles, 1);
    assert_string_equal(r->roles[0], "platform_operator");
    /* --create-operator on an existing email resets its password. */
    assert_int_equal(
        tm_operator_upsert(&T, email, "bootstrap password 3", 0, 1, id2, &created, &why), 0);
    assert_int_equal(created, 0);
    assert_string_equal(id2, id);
    assert_int_equal(authenticate(a, "", email, "bootstrap password 1")->result, A_INVALID);
    assert_int_equal(authenticate(a, "", email, "bootstrap password 3")->result, A_OK);
    /* Email is matched case-insensitively. */
    char upper[128];
    snprintf(upper, sizeof(upper), "  %s", email);
    for (char *c = upper; *c; c++)
        if (*c >= 'a' && *c <= 'z')
            *c = (char)(*c - 32);
    assert_int_equal(authenticate(a, "", upper, "bootstrap password 3")->result, A_OK);

    Serphona__Tenant__V1__Principal *p = principal(a, NULL, id);
    assert_int_equal(p->status, P_ACTIVE);
    assert_string_equal(p->roles[0], "platform_operator");
    assert_string_equal(p->email, email);

    /* A disabled operator: USER_DISABLED after the right password only. */
    sptest_pg_owner_exec("UPDATE tenant.operators SET status = 'disabled'");
    assert_int_equal(authenticate(a, "", email, "bootstrap password 3")->result, A_DISABLED);
    assert_int_equal(authenticate(a, "", email, "wrong password 3")->result, A_INVALID);
    assert_int_equal(principal(a, NULL, id)->status, P_DISABLED);
    sptest_pg_owner_exec("UPDATE tenant.operators SET status = 'active'");
    sp_arena_destroy(&a);
    free(email);
    free(other);
}

static void test_tenant_login(void **state)
{
    (void)state;
    tenant_fx_t fx;
    make_tenant(&fx, "login", "trial");
    sp_arena_t *a = sp_arena_new();
    const char *pw = "owner password 12345";

    areply_t *r = authenticate(a, fx.slug, fx.owner_email, pw);
    assert_int_equal(r->result, A_OK);
    assert_string_equal(r->tenant_id, fx.id);
    assert_string_equal(r->user_id, fx.owner_id);
    assert_string_equal(r->email, fx.owner_email);
    assert_int_equal(r->n_roles, 1);
    assert_string_equal(r->roles[0], "owner");
    char sql[256];
    snprintf(sql, sizeof(sql),
             "BEGIN; SELECT set_config('app.tenant_id', '%s', true); SELECT "
             "last_login_at IS NOT NULL FROM tenant.users WHERE id = '%s'",
             fx.id, fx.owner_id);
    char *v = sptest_pg_owner_value(sql);
    assert_string_equal(v, "t");
    free(v);

    /* Every failure answers the same, with no ids. */
    const char *cases[][3] = {
        {fx.slug, fx.owner_email, "wrong password 123"},
        {fx.slug, "nobody@example.com", pw},
        {"no-such-tenant-xyz", fx.owner_email, pw},
        {"BAD SLUG", fx.owner_email, pw},
        {fx.slug, "not an email", pw},
        {fx.slug, fx.owner_email, ""},
        {"", fx.owner_email, pw}, /* a tenant user is no operator */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        r = authenticate(a, cases[i][0], cases[i][1], cases[i][2]);
        assert_int_equal(r->result, A_INVALID);
        assert_string_equal(r->user_id, "");
        assert_string_equal(r->tenant_id, "");
        assert_int_equal(r->n_roles, 0);
    }

    /* Unknown accounts cost a password check too (no timing oracle). */
    double t0 = now_s();
    authenticate(a, fx.slug, fx.owner_email, "wrong password 123");
    double wrong = now_s() - t0;
    t0 = now_s();
    authenticate(a, fx.slug, "nobody@example.com", "wrong password 123");
    double unknown_user = now_s() - t0;
    t0 = now_s();
    authenticate(a, "no-such-tenant-xyz", fx.owner_email, "wrong password 123");
    double unknown_tenant = now_s() - t0;
    assert_true(unknown_user > wrong * 0.3);
    assert_true(unknown_tenant > wrong * 0.3);

    Serphona__Tenant__V1__Principal *p = principal(a, fx.id, fx.owner_id);
    assert_int_equal(p->status, P_ACTIVE);
    assert_string_equal(p->tenant_slug, fx.slug);
    assert_string_equal(p->roles[0], "owner");
    /* Wrong tenant for the user, malformed ids: not found. */
    tenant_fx_t other;
    make_tenant(&other, "login-other", "trial");
    assert_int_equal(principal(a, other.id, fx.owner_id)->status, P_NOT_FOUND);
    assert_int_equal(principal(a, fx.id, "not-a-uuid")->status, P_NOT_FOUND);
    assert_int_equal(principal(a, "x", fx.owner_id)->status, P_NOT_FOUND);
    assert_int_equal(principal(a, NULL, fx.owner_id)->status, P_NOT_FOUND);

    /* Suspended tenant: said only after the right password. */
    char path[128];
    snprintf(path, sizeof(path), "/v1/tenants/%s/suspend", fx.id);
    sptest_resp_t s = call(&OPERATOR, "POST", path, NULL);
    EXPECT_OK(s, 200);
    sptest_resp_free(&s);
    assert_int_equal(authenticate(a, fx.slug, fx.owner_email, pw)->result, A_SUSPENDED);
    assert_int_equal(authenticate(a, fx.slug, fx.owner_email, "wrong password 123")->result,
                     A_INVALID);
    assert_int_equal(principal(a, fx.id, fx.owner_id)->status, P_SUSPENDED);
    snprintf(path, sizeof(path), "/v1/tenants/%s/reactivate", fx.id);
    s = call(&OPERATOR, "POST", path, NULL);
    EXPECT_OK(s, 200);
    sptest_resp_free(&s);
    assert_int_equal(authenticate(a, fx.slug, fx.owner_email, pw)->result, A_OK);

    /* Disabled user (a second owner disables the first). */
    char *email2 = unique("second.%s.%s@example.com", "login");
    char body[256];
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"role\":\"owner\"}", email2);
    s = call(&fx.owner, "POST", "/v1/users/invites", body);
    EXPECT_OK(s, 201);
    char *id2 = accept(sptest_json_str(s.json, "token"), "second owner pass 1", NULL);
    assert_non_null(id2);
    sptest_resp_free(&s);
    sptest_caller_t owner2 = {fx.id, id2, "owner", NULL};
    snprintf(path, sizeof(path), "/v1/users/%s/disable", fx.owner_id);
    s = call(&owner2, "POST", path, NULL);
    EXPECT_OK(s, 200);
    sptest_resp_free(&s);
    assert_int_equal(authenticate(a, fx.slug, fx.owner_email, pw)->result, A_DISABLED);
    assert_int_equal(authenticate(a, fx.slug, fx.owner_email, "wrong password 123")->result,
                     A_INVALID);
    assert_int_equal(principal(a, fx.id, fx.owner_id)->status, P_DISABLED);
    /* Deleted user: not found. */
    snprintf(path, sizeof(path), "/v1/users/%s", fx.owner_id);
    s = call(&owner2, "DELETE", path, NULL);
    EXPECT_OK(s, 204);
    sptest_resp_free(&s);
    assert_int_equal(principal(a, fx.id, fx.owner_id)->status, P_NOT_FOUND);
    assert_int_equal(authenticate(a, fx.slug, fx.owner_email, pw)->result, A_INVALID);
    /* Deleted tenant: not found, and its users cannot log in. */
    snprintf(path, sizeof(path), "/v1/tenants/%s", fx.id);
    s = call(&OPERATOR, "DELETE", path, NULL);
    EXPECT_OK(s, 200);
    sptest_resp_free(&s);
    assert_int_equal(principal(a, fx.id, id2)->status, P_NOT_FOUND);
    assert_int_equal(authenticate(a, fx.slug, email2, "second owner pass 1")->result, A_INVALID);
    free(email2);
    free(id2);
    sp_arena_destroy(&a);
}

static void test_weaker_hash_is_upgraded_on_login(void **state)
{
    (void)state;
    tenant_fx_t fx;
    make_tenant(&fx, "rehash", "trial");
    char weak[TM_PASSWORD_HASH_MAX], sql[512];
    assert_int_equal(tm_password_hash("an old weak hash 1", 1000, weak), 0);
    snprintf(sql, sizeof(sql),
             "BEGIN; SELECT set_config('app.tenant_id', '%s', true); UPDATE tenant.users SET "
             "password_hash = '%s' WHERE id = '%s'; COMMIT",
             fx.id, weak, fx.owner_id);
    sptest_pg_owner_exec(sql);
    sp_arena_t *a = sp_arena_new();
    assert_int_equal(authenticate(a, fx.slug, fx.owner_email, "an old weak hash 1")->result, A_OK);
    snprintf(sql, sizeof(sql),
             "BEGIN; SELECT set_config('app.tenant_id', '%s', true); SELECT password_hash FROM "
             "tenant.users WHERE id = '%s'",
             fx.id, fx.owner_id);
    char *h = sptest_pg_owner_value(sql);
    assert_int_equal(strncmp(h, "pbkdf2_sha256$210000$", 21), 0);
    free(h);
    assert_int_equal(authenticate(a, fx.slug, fx.owner_email, "an old weak hash 1")->result, A_OK);
    sp_arena_destroy(&a);
}

static void test_malformed_requests(void **state)
{
    (void)state;
    sp_arena_t *a = sp_arena_new();
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    uint8_t *out = NULL;
    size_t out_len = 0;
    sp_rpc_call_t c = {.service = "tenant-manager", .method = "x", .request_id = "r"};
    assert_int_equal(tm_rpc_authenticate(&c, junk, sizeof(junk), a, &out, &out_len, &T), SP_EPROTO);
    assert_int_equal(tm_rpc_get_principal(&c, junk, sizeof(junk), a, &out, &out_len, &T),
                     SP_EPROTO);
    /* An empty request is a valid (all-default) message: invalid login. */
    assert_int_equal(tm_rpc_authenticate(&c, NULL, 0, a, &out, &out_len, &T), 0);
    sp_arena_destroy(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_password_hash_format_and_verify),
        cmocka_unit_test(test_password_policy),
        cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_operator_bootstrap),
        cmocka_unit_test(test_tenant_login),
        cmocka_unit_test(test_weaker_hash_is_upgraded_on_login),
        cmocka_unit_test(test_malformed_requests),
    };
    return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
