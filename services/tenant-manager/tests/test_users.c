/*
 * test_users.c — users and invites through the router against the real
 * database: the invite -> accept flow and each way it is refused, seats,
 * list/search/pagination, role changes with the owner rules, disable /
 * enable / delete, and another tenant's ids answering 404.
 */
#include "tm_test.h"

#include "../src/tokens.h"

/* Invites email as role by caller; returns the token (caller frees) or NULL,
 * the reply status in *status. */
static char *invite(const sptest_caller_t *by, const char *email, const char *role, int *status,
                    char *id_out)
{
    char body[256];
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"role\":\"%s\"}", email, role);
    sptest_resp_t r = call(by, "POST", "/v1/users/invites", body);
    if (status)
        *status = r.status;
    char *tok = NULL;
    if (r.status == 201) {
        tok = strdup(sptest_json_str(r.json, "token"));
        if (id_out)
            snprintf(id_out, SP_UUID_STR_LEN, "%s", sptest_json_str(r.json, "id"));
        sptest_assert_json_str(r.json, "status", "pending");
        sptest_assert_json_str(r.json, "role", role);
    }
    sptest_resp_free(&r);
    return tok;
}

/* Invites and accepts; returns the new user as a caller. role must be a
 * literal; the id lives in a static slot (a test adds a handful). */
static sptest_caller_t add_user(const tenant_fx_t *fx, const char *local, const char *role)
{
    static char ids[32][SP_UUID_STR_LEN];
    static int n_ids;
    assert_true(n_ids < 32);
    char email[128];
    snprintf(email, sizeof(email), "%s.%s@example.com", local, RUN);
    char *tok = invite(&fx->owner, email, role, NULL, NULL);
    assert_non_null(tok);
    char *id = accept(tok, "a good password 42", NULL);
    assert_non_null(id);
    snprintf(ids[n_ids], SP_UUID_STR_LEN, "%s", id);
    free(tok);
    free(id);
    return (sptest_caller_t){fx->id, ids[n_ids++], role, NULL};
}

static void expect_accept(const char *body, int status, const char *code)
{
    sptest_resp_t r = call(NULL, "POST", "/v1/users/invites/accept", body);
    EXPECT(r, status, code);
    sptest_resp_free(&r);
}

static void test_invite_accept_flow_and_refusals(void **state)
{
    (void)state;
    tenant_fx_t fx;
    make_tenant(&fx, "invite", "trial");
    char email[128], body[512], invite_id[SP_UUID_STR_LEN];
    snprintf(email, sizeof(email), "Ana.Lyst.%s@Example.com", RUN);

    /* Validation. */
    const struct {
        const char *body;
        int status;
        const char *code;
    } bad[] = {
        {"{\"email\":\"nope\",\"role\":\"viewer\"}", 400, "invalid_email"},
        {"{\"role\":\"viewer\"}", 400, "invalid_email"},
        {"{\"email\":\"a@b.co\",\"role\":\"king\"}", 400, "invalid_role"},
        {"{\"email\":\"a@b.co\",\"role\":\"platform_operator\"}", 400, "invalid_role"},
        {"{\"email\":\"a@b.co\",\"role\":\"viewer\",\"display_name\":5}", 400,
         "invalid_display_name"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        sptest_resp_t r = call(&fx.owner, "POST", "/v1/users/invites", bad[i].body);
        EXPECT(r, bad[i].status, bad[i].code);
        sptest_resp_free(&r);
    }

    int st = 0;
    char *tok = invite(&fx.owner, email, "analyst", &st, invite_id);
    assert_non_null(tok);
    assert_int_equal(strncmp(tok, "inv_", 4), 0);
    /* The token is stored only as a hash. */
    char sql[512];
    snprintf(sql, sizeof(sql),
             "BEGIN; SELECT set_config('app.tenant_id', '%s', true); SELECT count(*) FROM "
             "tenant.invites WHERE token_hash = sha256(convert_to('%s', 'UTF8'))",
             fx.id, tok);
    char *v = sptest_pg_owner_value(sql);
    assert_string_equal(v, "1");
    free(v);

    /* Refusals at accept. */
    expect_accept("{\"password\":\"a good password 42\"}", 404, "invite_not_found");
    snprintf(body, sizeof(body),
             "{\"token\":\"%.20sAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
             "\"password\":\"a good password 42\"}",
             tok);
    expect_accept(body, 404, "invite_not_found"); /* right lookup, wrong secret */
    snprintf(body, sizeof(body), "{\"token\":\"%s\",\"password\":\"short\"}", tok);
    expect_accept(body, 400, "password_too_short");
    snprintf(body, sizeof(body), "{\"token\":\"%s\"}", tok);
    expect_accept(body, 400, "password_too_short");
    snprintf(body, sizeof(body), "{\"token\":\"%s\",\"password\":\"xx ana.lyst.%s yy\"}", tok, RUN);
    expect_accept(body, 400, "password_contains_email");

    /* Accepted: the user exists with the invite's role and a lower-cased
     * email, and can log in. */
    snprintf(body, sizeof(body),
             "{\"token\":\"%s\",\"password\":\"a good password 42\",\"display_name\":\"Ana\"}",
             tok);
    sptest_resp_t r = call(NULL, "POST", "/v1/users/invites/accept", body);
    EXPECT_OK(r, 201);
    sptest_assert_json_str(r.json, "tenant_id", fx.id);
    sptest_assert_json_str(r.json, "user.role", "analyst");
    sptest_assert_json_str(r.json, "user.display_name", "Ana");
    char lower[128];
    snprintf(lower, sizeof(lower), "ana.lyst.%s@example.com", RUN);
    sptest_assert_json_str(r.json, "user.email", lower);
    sptest_resp_free(&r);
    sp_arena_t *a = sp_arena_new();
    assert_int_equal(authenticate(a, fx.slug, email, "a good password 42")->result,
                     SERPHONA__TENANT__V1__AUTHENTICATE_REPLY__RESULT__OK);
    sp_arena_destroy(&a);
    /* Single use. */
    expect_accept(body, 410, "invite_used");
    /* Inviting an existing user: 409. */
    assert_null(invite(&fx.owner, email, "viewer", &st, NULL));
    assert_int_equal(st, 409);
    r = call(&fx.owner, "POST", "/v1/users/invites", "{\"email\":\"x@y.zz\",\"role\":\"viewer\"}");
    EXPECT_OK(r, 201);
    sptest_resp_free(&r);

    /* Re-inviting replaces a pending invite: the old token is revoked. */
    char email2[128];
    snprintf(email2, sizeof(email2), "twice.%s@example.com", RUN);
    char *t1 = invite(&fx.owner, email2, "viewer", NULL, NULL);
    char *t2 = invite(&fx.owner, email2, "viewer", NULL, NULL);
    assert_non_null(t1);
    assert_non_null(t2);
    assert_string_not_equal(t1, t2);
    snprintf(body, sizeof(body), "{\"token\":\"%s\",\"password\":\"a good password 42\"}", t1);
    expect_accept(body, 410, "invite_revoked");
    /* Explicit revoke, idempotent; accepted invites cannot be revoked. */
    char id3[SP_UUID_STR_LEN], path[128];
    char email3[128];
    snprintf(email3, sizeof(email3), "revoked.%s@example.com", RUN);
    char *t3 = invite(&fx.owner, email3, "viewer", NULL, id3);
    snprintf(path, sizeof(path), "/v1/users/invites/%s", id3);
    for (int i = 0; i < 2; i++) {
        r = call(&fx.owner, "DELETE", path, NULL);
        EXPECT_OK(r, 200);
        sptest_assert_json_str(r.json, "status", "revoked");
        sptest_resp_free(&r);
    }
    snprintf(body, sizeof(body), "{\"token\":\"%s\",\"password\":\"a good password 42\"}", t3);
    expect_accept(body, 410, "invite_revoked");
    snprintf(path, sizeof(path), "/v1/users/invites/%s", invite_id);
    r = call(&fx.owner, "DELETE", path, NULL);
    EXPECT(r, 409, "invite_used");
    sptest_resp_free(&r);
    r = call(&fx.owner, "DELETE", "/v1/users/invites/00000000-0000-4000-8000-000000000000", NULL);
    EXPECT(r, 404, "invite_not_found");
    sptest_resp_free(&r);

    /* Expired. */
    char email4[128], id4[SP_UUID_STR_LEN];
    snprintf(email4, sizeof(email4), "late.%s@example.com", RUN);
    char *t4 = invite(&fx.owner, email4, "viewer", NULL, id4);
    snprintf(sql, sizeof(sql),
             "BEGIN; SELECT set_config('app.tenant_id', '%s', true); UPDATE tenant.invites SET "
             "expires_at = now() - interval '1 second' WHERE id = '%s'; COMMIT",
             fx.id, id4);
    sptest_pg_owner_exec(sql);
    snprintf(body, sizeof(body), "{\"token\":\"%s\",\"password\":\"a good password 42\"}", t4);
    expect_accept(body, 410, "invite_expired");

    /* Listing invites with their states, never their tokens. */
    r = call(&fx.owner, "GET", "/v1/users/invites?status=revoked", NULL);
    EXPECT_OK(r, 200);
    assert_true(sptest_json_num(r.json, "total") >= 2);
    assert_null(strstr(r.text, "\"token\""));
    assert_null(strstr(r.text, t1 + 4));
    sptest_resp_free(&r);
    r = call(&fx.owner, "GET", "/v1/users/invites?status=expired", NULL);
    EXPECT_OK(r, 200);
    sptest_assert_json_int(r.json, "total", 1);
    sptest_resp_free(&r);
    r = call(&fx.owner, "GET", "/v1/users/invites?status=nope", NULL);
    EXPECT(r, 400, "invalid_status");
    sptest_resp_free(&r);

    /* A suspended tenant's invites cannot be accepted. */
    char email5[128];
    snprintf(email5, sizeof(email5), "suspended.%s@example.com", RUN);
    char *t5 = invite(&fx.owner, email5, "viewer", NULL, NULL);
    snprintf(path, sizeof(path), "/v1/tenants/%s/suspend", fx.id);
    r = call(&OPERATOR, "POST", path, NULL);
    EXPECT_OK(r, 200);
    sptest_resp_free(&r);
    snprintf(body, sizeof(body), "{\"token\":\"%s\",\"password\":\"a good password 42\"}", t5);
    expect_accept(body, 403, "tenant_suspended");
    snprintf(path, sizeof(path), "/v1/tenants/%s/reactivate", fx.id);
    r = call(&OPERATOR, "POST", path, NULL);
    EXPECT_OK(r, 200);
    sptest_resp_free(&r);
    expect_accept(body, 201, "");
    free(tok);
    free(t1);
    free(t2);
    free(t3);
    free(t4);
    free(t5);
}

static void test_seats(void **state)
{
    (void)state;
    tenant_fx_t fx;
    make_tenant(&fx, "seats", "trial");
    char path[128];
    snprintf(path, sizeof(path), "/v1/tenants/%s/plan", fx.id);
    sptest_resp_t r =
        call(&OPERATOR, "PUT", path, "{\"plan\":\"trial\",\"limit_overrides\":{\"seats\":3}}");
    EXPECT_OK(r, 200);
    sptest_resp_free(&r);
    /* owner + 1 user + 1 pending invite = 3 seats. */
    sptest_caller_t u1 = add_user(&fx, "seat1", "viewer");
    char e2[96], e3[96], id2[SP_UUID_STR_LEN];
    snprintf(e2, sizeof(e2), "seat2.%s@example.com", RUN);
    snprintf(e3, sizeof(e3), "seat3.%s@example.com", RUN);
    int st = 0;
    char *t2 = invite(&fx.owner, e2, "viewer", &st, id2);
    assert_non_null(t2);
    r = call(&fx.owner, "POST", "/v1/users/invites",
             "{\"email\":\"full@x.io\",\"role\":\"viewer\"}");
    EXPECT(r, 409, "seat_limit_reached");
    sptest_resp_free(&r);
    /* Re-inviting the pending email is not a new seat. */
    char *t2b = invite(&fx.owner, e2, "viewer", &st, id2);
    assert_non_null(t2b);
    /* Revoking the invite frees its seat. */
    snprintf(path, sizeof(path), "/v1/users/invites/%s", id2);
    r = call(&fx.owner, "DELETE", path, NULL);
    EXPECT_OK(r, 200);
    sptest_resp_free(&r);
    char *t3 = invite(&fx.owner, e3, "viewer", &st, NULL);
    assert_non_null(t3);
    /* Disabled users do not hold a seat; enabling one needs a free seat. */
    snprintf(path, sizeof(path), "/v1/users/%s/disable", u1.subject);
    r = call(&fx.owner, "POST", path, NULL);
    EXPECT_OK(r, 200);
    sptest_resp_free(&r);
    char *t4 = invite(&fx.owner, "fourth@example.com", "viewer", &st, NULL);
    assert_non_null(t4);
    snprintf(path, sizeof(path), "/v1/users/%s/enable", u1.subject);
    r = call(&fx.owner, "POST", path, NULL);
    EXPECT(r, 409, "seat_limit_reached");
    sptest_resp_free(&r);
    /* A plan that shrank under pending invites: accept is refused too. */
    snprintf(path, sizeof(path), "/v1/tenants/%s/plan", fx.id);
    r = call(&OPERATOR, "PUT", path, "{\"plan\":\"trial\",\"limit_overrides\":{\"seats\":1}}");
    EXPECT_OK(r, 200);
    sptest_resp_free(&r);
    char *none = accept(t3, "a good password 42", &st);
    assert_null(none);
    free(none);
    assert_int_equal(st, 409);
    free(t2);
    free(t2b);
    free(t3);
    free(t4);
}

static void test_list_search_paginate(void **state)
{
    (void)state;
    tenant_fx_t fx;
    make_tenant(&fx, "ulist", "growth");
    add_user(&fx, "zed-viewer", "viewer");
    add_user(&fx, "amy-analyst", "analyst");
    add_user(&fx, "bob-admin", "admin");
    sptest_resp_t r = call(&fx.owner, "GET", "/v1/users", NULL);
    EXPECT_OK(r, 200);
    sptest_assert_json_int(r.json, "total", 4);
    assert_null(strstr(r.text, "password"));
    assert_null(strstr(r.text, "pbkdf2"));
    sptest_resp_free(&r);
    r = call(&fx.owner, "GET", "/v1/users?per_page=3&page=2", NULL);
    EXPECT_OK(r, 200);
    sptest_assert_json_int(r.json, "total", 4);
    sptest_assert_json_len(r.json, "items", 1);
    sptest_resp_free(&r);
    r = call(&fx.owner, "GET", "/v1/users?q=AMY", NULL);
    EXPECT_OK(r, 200);
    sptest_assert_json_int(r.json, "total", 1);
    assert_string_equal(
        sptest_json_str(cJSON_GetArrayItem(cJSON_GetObjectItem(r.json, "items"), 0), "role"),
        "analyst");
    sptest_resp_free(&r);
    r = call(&fx.owner, "GET", "/v1/users?role=admin", NULL);
    EXPECT_OK(r, 200);
    sptest_assert_json_int(r.json, "total", 1);
    sptest_resp_free(&r);
    r = call(&fx.owner, "GET", "/v1/users?q=_", NULL); /* literal underscore */
    EXPECT_OK(r, 200);
    sptest_assert_json_int(r.json, "total", 0);
    sptest_resp_free(&r);
    r = call(&fx.owner, "GET", "/v1/users?role=emperor", NULL);
    EXPECT(r, 400, "invalid_role");
    sptest_resp_free(&r);
    r = call(&fx.owner, "GET", "/v1/users?status=gone", NULL);
    EXPECT(r, 400, "invalid_status");
    sptest_resp_free(&r);
    r = call(&fx.owner, "GET", "/v1/users?per_page=201", NULL);
    EXPECT(r, 400, "invalid_pagination");
    sptest_resp_free(&r);
    r = call(&fx.owner, "GET", "/v1/users/me", NULL);
    EXPECT_OK(r, 200);
    sptest_assert_json_str(r.json, "id", fx.owner_id);
    sptest_resp_free(&r);
}

static void test_roles_and_owner_rules(void **state)
{
    (void)state;
    tenant_fx_t fx;
    make_tenant(&fx, "roles", "growth");
    sptest_caller_t admin = add_user(&fx, "admin", "admin");
    sptest_caller_t viewer = add_user(&fx, "viewer", "viewer");
    char path[128];

    /* Viewers read but do not write. */
    sptest_resp_t r = call(&viewer, "GET", "/v1/users", NULL);
    EXPECT_OK(r, 200);
    sptest_resp_free(&r);
    r = call(&viewer, "POST", "/v1/users/invites", "{\"email\":\"v@x.io\",\"role\":\"viewer\"}");
    EXPECT(r, 403, "forbidden");
    sptest_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/users/%s", admin.subject);
    r = call(&viewer, "PATCH", path, "{\"role\":\"viewer\"}");
    EXPECT(r, 403, "forbidden");
    sptest_resp_free(&r);

    /* Admins manage non-owners, not owners. */
    r = call(&admin, "POST", "/v1/users/invites", "{\"email\":\"o@x.io\",\"role\":\"owner\"}");
    EXPECT(r, 403, "owner_required");
    sptest_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/users/%s", viewer.subject);
    r = call(&admin, "PATCH", path, "{\"role\":\"agent_manager\",\"display_name\":\"Vic\"}");
    EXPECT_OK(r, 200);
    sptest_assert_json_str(r.json, "role", "agent_manager");
    sptest_assert_json_str(r.json, "display_name", "Vic");
    sptest_resp_free(&r);
    r = call(&admin, "PATCH", path, "{\"role\":\"owner\"}");
    EXPECT(r, 403, "owner_required");
    sptest_resp_free(&r);
    r = call(&admin, "PATCH", path, "{\"role\":\"wizard\"}");
    EXPECT(r, 400, "invalid_role");
    sptest_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/users/%s", fx.owner_id);
    r = call(&admin, "PATCH", path, "{\"display_name\":\"x\"}");
    EXPECT(r, 403, "owner_required");
    sptest_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/users/%s/disable", fx.owner_id);
    r = call(&admin, "POST", path, NULL);
    EXPECT(r, 403, "owner_required");
    sptest_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/users/%s", fx.owner_id);
    r = call(&admin, "DELETE", path, NULL);
    EXPECT(r, 403, "owner_required");
    sptest_resp_free(&r);

    /* The principal cache is dropped on a role change. */
    char key[160];
    snprintf(key, sizeof(key), "sp:principal:%s:%s", fx.id, viewer.subject);
    assert_int_equal(sp_redis_cache_set(T.redis, key, "x", 1, 60), 0);
    snprintf(path, sizeof(path), "/v1/users/%s", viewer.subject);
    r = call(&fx.owner, "PATCH", path, "{\"role\":\"viewer\"}");
    EXPECT_OK(r, 200);
    sptest_resp_free(&r);
    char *v = NULL;
    assert_int_equal(sp_redis_cache_get(T.redis, key, &v, NULL), SP_ENOTFOUND);

    /* The last active owner stays: no demotion, disabling or deletion. */
    snprintf(path, sizeof(path), "/v1/users/%s", fx.owner_id);
    r = call(&fx.owner, "PATCH", path, "{\"role\":\"admin\"}");
    EXPECT(r, 409, "last_owner");
    sptest_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/users/%s/disable", fx.owner_id);
    r = call(&fx.owner, "POST", path, NULL);
    EXPECT(r, 409, "cannot_modify_self");
    sptest_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/users/%s", fx.owner_id);
    r = call(&fx.owner, "DELETE", path, NULL);
    EXPECT(r, 409, "cannot_modify_self");
    sptest_resp_free(&r);
    /* With a second owner, the first may be demoted. */
    sptest_caller_t owner2 = add_user(&fx, "owner2", "owner");
    snprintf(path, sizeof(path), "/v1/users/%s", fx.owner_id);
    r = call(&owner2, "PATCH", path, "{\"role\":\"admin\"}");
    EXPECT_OK(r, 200);
    sptest_assert_json_str(r.json, "role", "admin");
    sptest_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/users/%s", owner2.subject);
    r = call(&admin, "DELETE", path, NULL);
    EXPECT(r, 403, "owner_required");
    sptest_resp_free(&r);
    r = call(&owner2, "PATCH", path, "{\"role\":\"viewer\"}");
    EXPECT(r, 409, "last_owner");
    sptest_resp_free(&r);

    /* Disable (idempotent), enable, delete (then 404). */
    snprintf(path, sizeof(path), "/v1/users/%s/disable", viewer.subject);
    for (int i = 0; i < 2; i++) {
        r = call(&admin, "POST", path, NULL);
        EXPECT_OK(r, 200);
        sptest_assert_json_str(r.json, "status", "disabled");
        sptest_resp_free(&r);
    }
    r = call(&admin, "GET", "/v1/users?status=disabled", NULL);
    EXPECT_OK(r, 200);
    sptest_assert_json_int(r.json, "total", 1);
    sptest_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/users/%s/enable", viewer.subject);
    r = call(&admin, "POST", path, NULL);
    EXPECT_OK(r, 200);
    sptest_assert_json_str(r.json, "status", "active");
    sptest_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/users/%s", viewer.subject);
    r = call(&admin, "DELETE", path, NULL);
    EXPECT_OK(r, 204);
    sptest_resp_free(&r);
    r = call(&admin, "DELETE", path, NULL);
    EXPECT(r, 404, "user_not_found");
    sptest_resp_free(&r);
    r = call(&admin, "GET", path, NULL);
    EXPECT(r, 404, "user_not_found");
    sptest_resp_free(&r);
    r = call(&admin, "GET", "/v1/users/not-a-uuid", NULL);
    EXPECT(r, 404, "user_not_found");
    sptest_resp_free(&r);
}

static void test_other_tenants_ids_are_not_found(void **state)
{
    (void)state;
    tenant_fx_t a, b;
    make_tenant(&a, "iso-a", "trial");
    make_tenant(&b, "iso-b", "trial");
    char email[96], inv[SP_UUID_STR_LEN], path[160];
    snprintf(email, sizeof(email), "pending.%s@example.com", RUN);
    char *tok = invite(&a.owner, email, "viewer", NULL, inv);
    const struct {
        const char *method, *suffix, *body;
        const char *code;
    } probes[] = {
        {"GET", "", NULL, "user_not_found"},
        {"PATCH", "", "{\"display_name\":\"pwned\"}", "user_not_found"},
        {"POST", "/disable", NULL, "user_not_found"},
        {"POST", "/enable", NULL, "user_not_found"},
        {"DELETE", "", NULL, "user_not_found"},
    };
    for (size_t i = 0; i < sizeof(probes) / sizeof(*probes); i++) {
        snprintf(path, sizeof(path), "/v1/users/%s%s", a.owner_id, probes[i].suffix);
        sptest_resp_t r = call(&b.owner, probes[i].method, path, probes[i].body);
        EXPECT(r, 404, probes[i].code);
        sptest_resp_free(&r);
    }
    snprintf(path, sizeof(path), "/v1/users/invites/%s", inv);
    sptest_resp_t r = call(&b.owner, "DELETE", path, NULL);
    EXPECT(r, 404, "invite_not_found");
    sptest_resp_free(&r);
    /* Lists never show the other tenant. */
    r = call(&b.owner, "GET", "/v1/users", NULL);
    EXPECT_OK(r, 200);
    sptest_assert_json_int(r.json, "total", 1);
    assert_null(strstr(r.text, a.owner_id));
    sptest_resp_free(&r);
    r = call(&b.owner, "GET", "/v1/users/invites", NULL);
    EXPECT_OK(r, 200);
    sptest_assert_json_int(r.json, "total", 1); /* its own owner's, accepted */
    assert_null(strstr(r.text, inv));
    sptest_resp_free(&r);
    /* Inviting A's owner's email into B is fine: users are per tenant. */
    char *t2 = invite(&b.owner, a.owner_email, "viewer", NULL, NULL);
    assert_non_null(t2);
    /* A's data is intact. */
    r = call(&a.owner, "GET", "/v1/users/me", NULL);
    EXPECT_OK(r, 200);
    sptest_assert_json_str(r.json, "display_name", "");
    sptest_resp_free(&r);
    free(tok);
    free(t2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invite_accept_flow_and_refusals),
        cmocka_unit_test(test_seats),
        cmocka_unit_test(test_list_search_paginate),
        cmocka_unit_test(test_roles_and_owner_rules),
        cmocka_unit_test(test_other_tenants_ids_are_not_found),
    };
    return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
