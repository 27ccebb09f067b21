/*
 * test_sptest.c — the test-support library itself: JSON paths (dots,
 * brackets, numeric segments), getters, and the assertions on values that
 * hold. (A failing assertion fails its test, which cmocka cannot expect; its
 * message was checked by hand: "JSON items[0].count: expected 2, got 3".)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "platform/error.h"
#include "sptest.h"

static const char *DOC = "{\"items\":[{\"count\":3,\"share\":0.25,\"key\":\"call\"},"
                         "{\"key\":\"chat\",\"tags\":[\"a\",\"b\"]}],"
                         "\"ok\":true,\"off\":false,\"none\":null,\"7\":\"seven\","
                         "\"a.b\":1,\"error\":{\"code\":\"nope\"}}";

static void test_paths(void **state)
{
    (void)state;
    cJSON *j = cJSON_Parse(DOC);
    assert_non_null(j);
    assert_ptr_equal(sptest_json_at(j, ""), j);
    assert_ptr_equal(sptest_json_at(j, NULL), j);
    assert_ptr_equal(sptest_json_at(j, "items.1"), sptest_json_at(j, "items[1]"));
    assert_string_equal(sptest_json_str(j, "items.1.tags.1"), "b");
    assert_string_equal(sptest_json_str(j, "items[1].tags[0]"), "a");
    /* A numeric segment names a member of an object. */
    assert_string_equal(sptest_json_str(j, "7"), "seven");
    /* Absent, out of range, wrong kind of step, malformed. */
    assert_null(sptest_json_at(j, "items.2"));
    assert_null(sptest_json_at(j, "items.-1"));
    assert_null(sptest_json_at(j, "items.x"));
    assert_null(sptest_json_at(j, "ok[0]"));
    assert_null(sptest_json_at(j, "items[0"));
    assert_null(sptest_json_at(j, "items..0"));
    assert_null(sptest_json_at(j, ".items"));
    assert_null(sptest_json_at(j, "Items"));
    assert_null(sptest_json_at(NULL, "items"));
    /* A dot always separates: "a.b" the member is not reachable. */
    assert_null(sptest_json_at(j, "a.b"));
    /* str is NULL for what is not a string; num_or_nan is NAN for null. */
    assert_null(sptest_json_str(j, "items.0.count"));
    assert_true(sptest_json_num(j, "items.0.share") == 0.25);
    assert_true(isnan(sptest_json_num_or_nan(j, "none")));
    assert_string_equal(sptest_json_need_str(j, "items.0.key"), "call");
    char buf[64];
    assert_string_equal(sptest_json_show(j, "items.1.tags", buf, sizeof buf), "[\"a\",\"b\"]");
    assert_string_equal(sptest_json_show(j, "nothing", buf, sizeof buf), "<missing>");
    cJSON_Delete(j);
}

static void test_assertions_that_hold(void **state)
{
    (void)state;
    cJSON *j = cJSON_Parse(DOC);
    sptest_assert_json_int(j, "items[0].count", 3);
    sptest_assert_json_num(j, "items.0.share", 0.25);
    sptest_assert_json_str(j, "items.1.key", "chat");
    sptest_assert_json_bool(j, "ok", 1);
    sptest_assert_json_bool(j, "off", 0);
    sptest_assert_json_null(j, "none");
    sptest_assert_json_absent(j, "items.0.missing");
    sptest_assert_json_len(j, "items", 2);
    sptest_assert_json_len(j, "error", 1);
    cJSON_Delete(j);
}

static sp_handler_result_t answer(sp_request_t *req, void *ud)
{
    (void)ud;
    const sp_auth_t *auth = sp_request_auth(req);
    sp_response_t *resp = sp_request_response(req);
    sp_response_set_header(resp, "X-Seen-Tenant", auth && auth->tenant_id ? auth->tenant_id : "-");
    sp_response_set_header(resp, "X-Seen-Query", sp_request_query(req, "q") ? "yes" : "no");
    const char *h = sp_request_header(req, "X-In");
    if (!h) {
        sp_response_error(resp, 400, "no_header", "X-In is missing");
        return SP_HANDLER_DONE;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "in", h);
    cJSON_AddStringToObject(j, "subject", auth ? auth->subject : "-");
    cJSON_AddNumberToObject(j, "scopes", auth ? (double)auth->n_scopes : -1);
    sp_response_json(resp, 201, j);
    cJSON_Delete(j);
    return SP_HANDLER_DONE;
}

static void test_call(void **state)
{
    (void)state;
    sp_router_t *r = sp_router_new();
    assert_int_equal(sp_router_add(r, "POST", "/x", NULL, answer, NULL), 0);
    const char *const scopes[] = {"a:read", "b:write", NULL};
    sptest_caller_t who = {.tenant_id = "t1", .scopes = scopes};
    const char *h[] = {"X-In", "hello", NULL};
    sptest_resp_t a = sptest_call(r, &who, "POST", "/x?q=1", "{}", h);
    EXPECT_OK(a, 201);
    assert_int_equal(a.dispatch, SP_HANDLER_DONE);
    sptest_assert_json_str(a.json, "in", "hello");
    sptest_assert_json_str(a.json, "subject", SPTEST_SUBJECT);
    sptest_assert_json_int(a.json, "scopes", 2);
    assert_string_equal(sptest_resp_header(&a, "x-seen-tenant"), "t1");
    assert_string_equal(sptest_resp_header(&a, "X-Seen-Query"), "yes");
    assert_null(sptest_resp_header(&a, "X-Nothing"));
    assert_string_equal(sptest_err_code(&a), "");
    sptest_resp_free(&a);
    sptest_resp_free(&a); /* a zeroed answer frees again */

    sptest_resp_t b = sptest_call(r, NULL, "POST", "/x", NULL, NULL);
    EXPECT(b, 400, "no_header");
    assert_string_equal(sptest_resp_header(&b, "X-Seen-Tenant"), "-");
    sptest_resp_free(&b);
    b = sptest_call(r, NULL, "GET", "/x", NULL, NULL);
    EXPECT(b, 405, "method_not_allowed");
    sptest_resp_free(&b);
    sp_router_destroy(&r);
}

static void test_env(void **state)
{
    (void)state;
    unsetenv("SPTEST_SELF_TEST_UNSET");
    setenv("SPTEST_SELF_TEST_SET", "v", 1);
    assert_null(sptest_env("SPTEST_SELF_TEST_UNSET"));
    assert_string_equal(sptest_env("SPTEST_SELF_TEST_SET"), "v");
    assert_int_equal(sptest_env_require((const char *const[]){"SPTEST_SELF_TEST_SET", NULL}), 0);
    assert_int_equal(sptest_env_require((const char *const[]){"SPTEST_SELF_TEST_SET",
                                                              "SPTEST_SELF_TEST_UNSET", NULL}),
                     -1);
    char a[9], b[9];
    sptest_run_id(a);
    sptest_run_id(b);
    assert_int_equal(strlen(a), 8);
    assert_string_not_equal(a, b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_assertions_that_hold),
        cmocka_unit_test(test_call),
        cmocka_unit_test(test_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
