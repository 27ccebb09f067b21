/*
 * test_audit.c — the audit log: entries for administrative changes with
 * who / what / when / from where / before / after, the filters and cursor
 * pagination of GET /v1/audit-log, writes in the same transaction as the
 * change, the append-only rule enforced by the database, and tenants never
 * seeing each other's entries.
 */
#include "tm_test.h"

static cJSON *items(const sptest_resp_t *r)
{
    return cJSON_GetObjectItem(r->json, "items");
}

static void test_entries_and_filters(void **state)
{
    (void)state;
    tenant_fx_t fx;
    make_tenant(&fx, "audit", "trial");
    char path[256], body[256];
    snprintf(path, sizeof(path), "/v1/tenants/%s", fx.id);
    sptest_resp_t r = call(&OPERATOR, "PATCH", path, "{\"name\":\"Audited Inc\"}");
    EXPECT_OK(r, 200);
    sptest_resp_free(&r);
    snprintf(body, sizeof(body), "{\"email\":\"aud.%s@example.com\",\"role\":\"viewer\"}", RUN);
    r = call(&fx.owner, "POST", "/v1/users/invites", body);
    EXPECT_OK(r, 201);
    char *tok = strdup(sptest_json_str(r.json, "token"));
    sptest_resp_free(&r);
    char *uid = accept(tok, "a good password 42", NULL);
    snprintf(path, sizeof(path), "/v1/users/%s", uid);
    r = call(&fx.owner, "PATCH", path, "{\"role\":\"analyst\"}");
    EXPECT_OK(r, 200);
    sptest_resp_free(&r);

    r = call(&fx.owner, "GET", "/v1/audit-log", NULL);
    EXPECT_OK(r, 200);
    /* Newest first: role change, accept, invite, owner accept, owner
     * invite, tenant update/creation ... */
    cJSON *it = items(&r);
    assert_true(cJSON_GetArraySize(it) >= 6);
    cJSON *e = cJSON_GetArrayItem(it, 0);
    sptest_assert_json_str(e, "action", "user.role_changed");
    sptest_assert_json_str(e, "actor.type", "user");
    sptest_assert_json_str(e, "actor.id", fx.owner_id);
    sptest_assert_json_str(e, "resource.type", "user");
    sptest_assert_json_str(e, "resource.id", uid);
    sptest_assert_json_str(e, "remote_addr", "198.51.100.7");
    sptest_assert_json_str(e, "request_id", "0123456789abcdef0123456789abcdef");
    sptest_assert_json_str(e, "before.role", "viewer");
    sptest_assert_json_str(e, "after.role", "analyst");
    assert_non_null(sptest_json_str(e, "occurred_at"));
    e = cJSON_GetArrayItem(it, 1);
    sptest_assert_json_str(e, "action", "user.invite_accepted");
    sptest_assert_json_str(e, "actor.type", "invitee");
    sptest_assert_json_str(e, "actor.id", uid);
    sptest_assert_json_null(e, "before");
    /* Passwords, hashes and tokens never reach the log. */
    assert_null(strstr(r.text, "pbkdf2"));
    assert_null(strstr(r.text, tok + 4));
    assert_null(strstr(r.text, "good password"));
    sptest_resp_free(&r);

    /* Operator actions land in the tenant's log, as the operator. */
    r = call(&fx.owner, "GET", "/v1/audit-log?actor_type=operator", NULL);
    EXPECT_OK(r, 200);
    /* newest first: the update, the owner invite made with the tenant, the
     * creation */
    sptest_assert_json_len(r.json, "items", 3);
    e = cJSON_GetArrayItem(items(&r), 0);
    sptest_assert_json_str(e, "action", "tenant.updated");
    sptest_assert_json_str(e, "before.name", "Tenant audit");
    sptest_assert_json_str(e, "after.name", "Audited Inc");
    e = cJSON_GetArrayItem(items(&r), 1);
    sptest_assert_json_str(e, "action", "user.invited");
    sptest_assert_json_str(e, "after.role", "owner");
    e = cJSON_GetArrayItem(items(&r), 2);
    sptest_assert_json_str(e, "action", "tenant.created");
    sptest_assert_json_str(e, "actor.id", OPERATOR.subject);
    sptest_resp_free(&r);

    const struct {
        const char *query;
        int count;
    } filters[] = {
        {"action=user.invited", 2},
        {"action=user.*", 5}, /* invited x2, invite_accepted x2, role_changed */
        {"action=tenant.*", 2},
        {"resource_type=tenant", 2},
        {"since=2000-01-01T00:00:00Z&until=2000-01-02T00:00:00Z", 0},
        {"since=2000-01-01T00:00:00Z&action=tenant.created", 1},
        {"until=2999-01-01T00:00:00Z&action=tenant.created", 1},
    };
    for (size_t i = 0; i < sizeof(filters) / sizeof(*filters); i++) {
        snprintf(path, sizeof(path), "/v1/audit-log?%s", filters[i].query);
        r = call(&fx.owner, "GET", path, NULL);
        EXPECT_OK(r, 200);
        int n = cJSON_GetArraySize(items(&r));
        if (n != filters[i].count)
            fail_msg("%s: %d entries, expected %d: %s", filters[i].query, n, filters[i].count,
                     r.text);
        sptest_resp_free(&r);
    }
    snprintf(path, sizeof(path), "/v1/audit-log?actor=%s&resource_id=%s", fx.owner_id, uid);
    r = call(&fx.owner, "GET", path, NULL);
    EXPECT_OK(r, 200);
    sptest_assert_json_len(r.json, "items", 1);
    sptest_resp_free(&r);

    const struct {
        const char *query, *code;
    } bad[] = {
        {"limit=0", "invalid_pagination"},   {"limit=201", "invalid_pagination"},
        {"limit=x", "invalid_pagination"},   {"cursor=abc", "invalid_cursor"},
        {"since=yesterday", "invalid_time"}, {"until=2020-13-45", "invalid_time"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        snprintf(path, sizeof(path), "/v1/audit-log?%s", bad[i].query);
        r = call(&fx.owner, "GET", path, NULL);
        EXPECT(r, 400, bad[i].code);
        sptest_resp_free(&r);
    }
    /* Only owners and admins read the log. */
    sptest_caller_t analyst = {fx.id, uid, "analyst", NULL};
    r = call(&analyst, "GET", "/v1/audit-log", NULL);
    EXPECT(r, 403, "forbidden");
    sptest_resp_free(&r);
    free(uid);
    free(tok);
}

static void test_cursor_pagination(void **state)
{
    (void)state;
    tenant_fx_t fx;
    make_tenant(&fx, "cursor", "growth");
    for (int i = 0; i < 5; i++) {
        char body[128];
        snprintf(body, sizeof(body), "{\"name\":\"key %d\",\"scopes\":[\"ingest:write\"]}", i);
        sptest_resp_t r = call(&fx.owner, "POST", "/v1/api-keys", body);
        EXPECT_OK(r, 201);
        sptest_resp_free(&r);
    }
    /* Total entries: tenant.created, user.invited, user.invite_accepted,
     * 5 x api_key.created = 8, read 3 at a time. */
    char seen[8][SP_UUID_STR_LEN];
    int n = 0, pages = 0;
    char cursor[SP_UUID_STR_LEN] = "";
    for (;;) {
        char path[160];
        snprintf(path, sizeof(path), "/v1/audit-log?limit=3%s%s", *cursor ? "&cursor=" : "",
                 cursor);
        sptest_resp_t r = call(&fx.owner, "GET", path, NULL);
        EXPECT_OK(r, 200);
        pages++;
        cJSON *e;
        cJSON_ArrayForEach(e, items(&r))
        {
            assert_true(n < 8);
            for (int k = 0; k < n; k++)
                assert_string_not_equal(seen[k], sptest_json_str(e, "id"));
            if (n > 0) /* strictly newest first */
                assert_true(strcmp(seen[n - 1], sptest_json_str(e, "id")) > 0);
            snprintf(seen[n++], SP_UUID_STR_LEN, "%s", sptest_json_str(e, "id"));
        }
        const char *next = sptest_json_str(r.json, "next_cursor");
        if (!next) {
            sptest_assert_json_null(r.json, "next_cursor");
            sptest_resp_free(&r);
            break;
        }
        snprintf(cursor, sizeof(cursor), "%s", next);
        sptest_resp_free(&r);
    }
    assert_int_equal(n, 8);
    assert_int_equal(pages, 3);
}

static void test_same_transaction_and_append_only(void **state)
{
    (void)state;
    tenant_fx_t fx;
    make_tenant(&fx, "atomic", "trial");
    /* A change and its entry commit or roll back together. */
    sp_request_t *req = sp_request_new();
    sp_auth_t auth = {.tenant_id = fx.id, .subject = fx.owner_id};
    assert_int_equal(sp_request_set_auth(req, &auth), 0);
    sp_db_tx_t *tx = NULL;
    assert_int_equal(sp_db_tx_begin(T.db, fx.id, &tx), 0);
    assert_int_equal(tm_audit(tx, req, "test.rolled_back", "test", "1", NULL, "{\"a\":1}"), 0);
    sp_db_tx_rollback(&tx);
    assert_int_equal(sp_db_tx_begin(T.db, fx.id, &tx), 0);
    assert_int_equal(tm_audit(tx, req, "test.committed", "test", "2", NULL, "{\"a\":2}"), 0);
    assert_int_equal(sp_db_tx_commit(&tx), 0);
    sp_request_destroy(&req);
    sptest_resp_t r = call(&fx.owner, "GET", "/v1/audit-log?action=test.*", NULL);
    EXPECT_OK(r, 200);
    sptest_assert_json_len(r.json, "items", 1);
    assert_string_equal(sptest_json_str(cJSON_GetArrayItem(items(&r), 0), "action"),
                        "test.committed");
    sptest_resp_free(&r);
    /* A refused change leaves no entry: the invite below fails after the
     * tenant row was locked and nothing is recorded. */
    r = call(&fx.owner, "POST", "/v1/users/invites",
             "{\"email\":\"dup@example.com\",\"role\":\"viewer\"}");
    EXPECT_OK(r, 201);
    sptest_resp_free(&r);
    char body[160];
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"role\":\"viewer\"}", fx.owner_email);
    r = call(&fx.owner, "POST", "/v1/users/invites", body);
    EXPECT(r, 409, "user_exists");
    sptest_resp_free(&r);
    r = call(&fx.owner, "GET", "/v1/audit-log?action=user.invited", NULL);
    EXPECT_OK(r, 200);
    sptest_assert_json_len(r.json, "items", 2); /* the owner's and dup's */
    sptest_resp_free(&r);

    /* The app role cannot rewrite or erase history. */
    assert_int_equal(sp_db_tx_begin(T.db, fx.id, &tx), 0);
    assert_int_equal(
        sp_db_tx_query(tx, "UPDATE tenant.audit_log SET action = 'forged'", 0, NULL, NULL), SP_EDB);
    sp_db_tx_rollback(&tx);
    assert_int_equal(sp_db_tx_begin(T.db, fx.id, &tx), 0);
    assert_int_equal(sp_db_tx_query(tx, "DELETE FROM tenant.audit_log", 0, NULL, NULL), SP_EDB);
    sp_db_tx_rollback(&tx);
    r = call(&fx.owner, "GET", "/v1/audit-log?action=test.committed", NULL);
    EXPECT_OK(r, 200);
    sptest_assert_json_len(r.json, "items", 1);
    sptest_resp_free(&r);
}

static void test_tenants_never_see_each_other(void **state)
{
    (void)state;
    tenant_fx_t a, b;
    make_tenant(&a, "alog-a", "trial");
    make_tenant(&b, "alog-b", "trial");
    sptest_resp_t r = call(&b.owner, "GET", "/v1/audit-log?limit=200", NULL);
    EXPECT_OK(r, 200);
    assert_null(strstr(r.text, a.id));
    assert_null(strstr(r.text, a.owner_id));
    assert_true(cJSON_GetArraySize(items(&r)) >= 3);
    sptest_resp_free(&r);
    char path[128];
    snprintf(path, sizeof(path), "/v1/audit-log?actor=%s", a.owner_id);
    r = call(&b.owner, "GET", path, NULL);
    EXPECT_OK(r, 200);
    sptest_assert_json_len(r.json, "items", 0);
    sptest_resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entries_and_filters),
        cmocka_unit_test(test_cursor_pagination),
        cmocka_unit_test(test_same_transaction_and_append_only),
        cmocka_unit_test(test_tenants_never_see_each_other),
    };
    return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
