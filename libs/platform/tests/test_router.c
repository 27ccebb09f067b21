/* Unit tests for router.c and request.c: matching, precedence, parameters,
 * errors in the platform's shape, permissions, and request parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "platform/error.h"
#include "platform/router.h"

static sp_handler_result_t tag_handler(sp_request_t *req, void *ud)
{
    sp_response_set_body(sp_request_response(req), ud, strlen(ud), "text/plain");
    return SP_HANDLER_DONE;
}

static sp_request_t *make_req(const char *method, const char *path)
{
    sp_request_t *req = sp_request_new();
    assert_non_null(req);
    assert_int_equal(sp_request_set_method(req, method), 0);
    assert_int_equal(sp_request_set_path(req, path), 0);
    return req;
}

static const char *body_of(sp_request_t *req)
{
    return sp_response_body(sp_request_response(req), NULL);
}

/* The error code of a platform error body, or NULL. */
static char code_buf[64];
static const char *error_code(sp_request_t *req)
{
    cJSON *root = cJSON_Parse(body_of(req));
    if (!root)
        return NULL;
    cJSON *code = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "error"), "code");
    const char *s = cJSON_GetStringValue(code);
    cJSON *msg = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "error"), "message");
    assert_non_null(cJSON_GetStringValue(msg)); /* every error has a message */
    snprintf(code_buf, sizeof(code_buf), "%s", s ? s : "");
    cJSON_Delete(root);
    return code_buf;
}

static sp_router_t *fixture_router(void)
{
    sp_router_t *r = sp_router_new();
    assert_non_null(r);
    assert_int_equal(sp_router_add(r, "GET", "/v1/users/{id}", NULL, tag_handler, "user"), 0);
    assert_int_equal(sp_router_add(r, "GET", "/v1/users/me", NULL, tag_handler, "me"), 0);
    assert_int_equal(sp_router_add(r, "DELETE", "/v1/users/{id}", NULL, tag_handler, "del"), 0);
    assert_int_equal(sp_router_add(r, "GET", "/v1/files/*", NULL, tag_handler, "files"), 0);
    assert_int_equal(sp_router_add(r, "GET", "/", NULL, tag_handler, "root"), 0);
    assert_int_equal(sp_router_add(r, "POST", "/v1/secret", "secrets:write", tag_handler, "secret"),
                     0);
    return r;
}

static void test_literal_beats_param(void **state)
{
    (void)state;
    sp_router_t *r = fixture_router();
    sp_request_t *req = make_req("GET", "/v1/users/me");
    assert_int_equal(sp_router_dispatch(r, req), SP_HANDLER_DONE);
    assert_string_equal(body_of(req), "me");
    sp_request_destroy(&req);

    req = make_req("GET", "/v1/users/42");
    sp_router_dispatch(r, req);
    assert_string_equal(body_of(req), "user");
    assert_string_equal(sp_request_param(req, "id"), "42");
    sp_request_destroy(&req);
    sp_router_destroy(&r);
    assert_null(r);
}

static void test_rest_and_root(void **state)
{
    (void)state;
    sp_router_t *r = fixture_router();
    sp_request_t *req = make_req("GET", "/v1/files/a/b/c.txt");
    sp_router_dispatch(r, req);
    assert_string_equal(body_of(req), "files");
    assert_string_equal(sp_request_param(req, "*"), "a/b/c.txt");
    sp_request_destroy(&req);

    req = make_req("GET", "/");
    sp_router_dispatch(r, req);
    assert_string_equal(body_of(req), "root");
    sp_request_destroy(&req);
    sp_router_destroy(&r);
}

static void test_not_found_and_method(void **state)
{
    (void)state;
    sp_router_t *r = fixture_router();
    const char *missing[] = {"/v1/nope",   "/v1/users", "/v1/users/1/extra",
                             "/v1/users/", "nope",      "//"};
    for (size_t i = 0; i < sizeof(missing) / sizeof(*missing); i++) {
        sp_request_t *req = make_req("GET", missing[i]);
        sp_router_dispatch(r, req);
        assert_int_equal(sp_response_status(sp_request_response(req)), 404);
        assert_string_equal(error_code(req), "route_not_found");
        sp_request_destroy(&req);
    }
    sp_request_t *req = make_req("PUT", "/v1/users/7");
    sp_router_dispatch(r, req);
    assert_int_equal(sp_response_status(sp_request_response(req)), 405);
    assert_string_equal(error_code(req), "method_not_allowed");
    assert_string_equal(sp_response_header(sp_request_response(req), "allow"), "GET, DELETE");
    sp_request_destroy(&req);
    sp_router_destroy(&r);
}

static void test_permissions(void **state)
{
    (void)state;
    sp_router_t *r = fixture_router();
    sp_request_t *req = make_req("POST", "/v1/secret");
    sp_router_dispatch(r, req);
    assert_int_equal(sp_response_status(sp_request_response(req)), 401);
    assert_string_equal(error_code(req), "unauthenticated");
    sp_request_destroy(&req);

    const char *wrong[] = {"secrets:read"};
    sp_auth_t auth = {.tenant_id = "t1", .subject = "u1", .scopes = wrong, .n_scopes = 1};
    req = make_req("POST", "/v1/secret");
    sp_request_set_auth(req, &auth);
    sp_router_dispatch(r, req);
    assert_int_equal(sp_response_status(sp_request_response(req)), 403);
    assert_string_equal(error_code(req), "forbidden");
    sp_request_destroy(&req);

    const char *right[] = {"secrets:read", "secrets:write"};
    auth.scopes = right;
    auth.n_scopes = 2;
    req = make_req("POST", "/v1/secret");
    sp_request_set_auth(req, &auth);
    sp_router_dispatch(r, req);
    assert_int_equal(sp_response_status(sp_request_response(req)), 200);
    assert_string_equal(body_of(req), "secret");
    assert_string_equal(sp_request_auth(req)->tenant_id, "t1");
    sp_request_destroy(&req);
    sp_router_destroy(&r);
}

static void test_bad_patterns(void **state)
{
    (void)state;
    sp_router_t *r = sp_router_new();
    assert_int_equal(sp_router_add(r, "GET", "no-slash", NULL, tag_handler, ""), SP_EINVAL);
    assert_int_equal(sp_router_add(r, "GET", "/a/*/b", NULL, tag_handler, ""), SP_EINVAL);
    assert_int_equal(sp_router_add(r, "GET", "/a/x{y}", NULL, tag_handler, ""), SP_EINVAL);
    assert_int_equal(sp_router_add(r, "GET", "/a/{id}", NULL, tag_handler, ""), 0);
    assert_int_equal(sp_router_add(r, "GET", "/a/{id}", NULL, tag_handler, ""), SP_EINVAL);
    sp_router_destroy(&r);
    sp_router_destroy(&r); /* NULL-safe */
}

static void count_route(const char *m, const char *p, const char *perm, void *ud)
{
    (void)m, (void)p, (void)perm;
    (*(int *)ud)++;
}

static void test_foreach(void **state)
{
    (void)state;
    sp_router_t *r = fixture_router();
    int n = 0;
    sp_router_foreach(r, count_route, &n);
    assert_int_equal(n, 6);
    sp_router_destroy(&r);
}

static void test_query_and_headers(void **state)
{
    (void)state;
    sp_request_t *req = make_req("GET", "/");
    assert_int_equal(sp_request_set_query(req, "from=2026-01-01&q=a%20b+c&flag&bad=%zz&&x="), 0);
    assert_string_equal(sp_request_query(req, "from"), "2026-01-01");
    assert_string_equal(sp_request_query(req, "q"), "a b c");
    assert_string_equal(sp_request_query(req, "flag"), "");
    assert_string_equal(sp_request_query(req, "bad"), "%zz");
    assert_string_equal(sp_request_query(req, "x"), "");
    assert_null(sp_request_query(req, "missing"));
    sp_request_add_header(req, "Content-Type", "application/json");
    assert_string_equal(sp_request_header(req, "content-type"), "application/json");
    assert_int_equal(sp_request_header_count(req), 1);
    sp_request_destroy(&req);
}

static void test_json_body(void **state)
{
    (void)state;
    const char *bad[] = {"", "{", "{\"a\":1}x", "nul", "[1,2"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        sp_request_t *req = make_req("POST", "/");
        sp_request_set_body(req, bad[i], strlen(bad[i]));
        cJSON *json = (cJSON *)1;
        assert_int_equal(sp_request_json(req, &json), SP_EINVAL);
        assert_null(json);
        assert_int_equal(sp_response_status(sp_request_response(req)), 400);
        assert_string_equal(error_code(req), "invalid_json");
        sp_request_destroy(&req);
    }
    sp_request_t *req = make_req("POST", "/");
    const char *good = " {\"name\":\"acme\"} \n";
    sp_request_set_body(req, good, strlen(good));
    cJSON *json = NULL;
    assert_int_equal(sp_request_json(req, &json), 0);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(json, "name")), "acme");
    sp_request_destroy(&req); /* frees the tree via the arena */
}

static void test_response_headers_replace(void **state)
{
    (void)state;
    sp_request_t *req = make_req("GET", "/");
    sp_response_t *resp = sp_request_response(req);
    sp_response_set_header(resp, "X-A", "1");
    sp_response_set_header(resp, "x-a", "2");
    assert_int_equal(sp_response_header_count(resp), 1);
    assert_string_equal(sp_response_header(resp, "X-A"), "2");
    sp_response_error(resp, 429, "rate_limited", "slow down after %d requests", 5);
    assert_int_equal(sp_response_status(resp), 429);
    assert_string_equal(error_code(req), "rate_limited");
    assert_string_equal(sp_response_header(resp, "content-type"), "application/json");
    sp_request_destroy(&req);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literal_beats_param),
        cmocka_unit_test(test_rest_and_root),
        cmocka_unit_test(test_not_found_and_method),
        cmocka_unit_test(test_permissions),
        cmocka_unit_test(test_bad_patterns),
        cmocka_unit_test(test_foreach),
        cmocka_unit_test(test_query_and_headers),
        cmocka_unit_test(test_json_body),
        cmocka_unit_test(test_response_headers_replace),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
