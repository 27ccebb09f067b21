/*
 * test_cors.c — the gateway's CORS rules (cors.c), with no server:
 * exact-origin matching for actual requests (gw_cors_allow_if_listed), and
 * preflights on the gateway's own OPTIONS routes (gw_cors_register) against
 * a tenant-manager played by an in-process RPC server on a loopback port
 * that answers ListAllowedOrigins (or fails, when told to).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/cors.h"
#include "platform/error.h"
#include "platform/log.h"
#include "platform/rpc.h"
#include "gw_test.h"
#include "sptest.h"
#include "tenant.pb-c.h"

#define APP     "https://app.example.com"
#define OTHER   "https://console.other.example"
#define EXPOSED "X-Request-Id, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After"

static sp_rpc_server_t *TM;
static sp_service_t *SVC;
static gw_t GW;
static int tm_down; /* the fake tenant-manager fails ListAllowedOrigins */

/* tenant-manager.ListAllowedOrigins: the origins some active tenant allows. */
static int list_allowed_origins(sp_rpc_call_t *call, const uint8_t *in, size_t in_len,
                                sp_arena_t *arena, uint8_t **out, size_t *out_len, void *ud)
{
    (void)call, (void)in, (void)in_len, (void)ud;
    if (tm_down)
        return SP_EUNAVAILABLE;
    char *origins[] = {APP, OTHER};
    Serphona__Tenant__V1__AllowedOrigins ao = SERPHONA__TENANT__V1__ALLOWED_ORIGINS__INIT;
    ao.origins = origins;
    ao.n_origins = 2;
    return sp_rpc_pack(arena, &ao.base, out, out_len);
}

static int setup(void **state)
{
    (void)state;
    sp_log_init("test_cors", SP_LOG_ERROR);
    TM = sp_rpc_server_new("tenant-manager", "tcp://127.0.0.1:*", NULL, 1);
    if (!TM ||
        sp_rpc_server_add_method(TM, "tenant-manager.ListAllowedOrigins", list_allowed_origins,
                                 NULL) != 0 ||
        sp_rpc_server_start(TM) != 0)
        return -1;
    if (gw_test_init("test_cors", &SVC, &GW) != 0)
        return -1;
    GW.rpc_timeout_ms = 2000;
    if (gw_test_connect(&GW, sp_rpc_client_new(sp_rpc_server_endpoint(TM))) != 0)
        return -1;
    static const char *const paths[] = {"/v1/auth/login", "/v1/auth/refresh", NULL};
    return gw_cors_register(&GW, paths) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    gw_test_disconnect(&GW);
    sp_service_destroy(&SVC);
    sp_rpc_server_destroy(&TM);
    return 0;
}

/* ---- actual requests -------------------------------------------------------------- */

/* A GET with Origin origin (NULL = none), put through gw_cors_allow_if_listed
 * with the n origins of list; the response is read back through r's
 * accessors. */
static sp_request_t *actual(const char *origin, char *const *list, size_t n)
{
    sp_request_t *req = sp_request_new();
    assert_non_null(req);
    assert_int_equal(sp_request_set_method(req, "GET"), 0);
    assert_int_equal(sp_request_set_path(req, "/v1/users/me"), 0);
    if (origin)
        assert_int_equal(sp_request_add_header(req, "Origin", origin), 0);
    gw_cors_allow_if_listed(&GW, req, list, n);
    return req;
}

static const char *resp_header(sp_request_t *req, const char *name)
{
    return sp_response_header(sp_request_response(req), name);
}

static void test_listed_origin_is_allowed_exactly(void **state)
{
    (void)state;
    char *list[] = {APP, OTHER};
    sp_request_t *req = actual(APP, list, 2);
    assert_string_equal(resp_header(req, "Access-Control-Allow-Origin"), APP);
    assert_string_equal(resp_header(req, "Vary"), "Origin");
    assert_string_equal(resp_header(req, "Access-Control-Expose-Headers"), EXPOSED);
    assert_null(resp_header(req, "Access-Control-Allow-Credentials"));
    sp_request_destroy(&req);
    req = actual(OTHER, list, 2);
    assert_string_equal(resp_header(req, "Access-Control-Allow-Origin"), OTHER);
    sp_request_destroy(&req);

    /* With the refresh cookie the browser must be allowed to send it. */
    GW.refresh_cookie = 1;
    req = actual(APP, list, 2);
    assert_string_equal(resp_header(req, "Access-Control-Allow-Credentials"), "true");
    sp_request_destroy(&req);
    GW.refresh_cookie = 0;
}

static void test_unlisted_origins_get_no_allow(void **state)
{
    (void)state;
    char *list[] = {APP};
    /* Not byte-for-byte one of the list: case, trailing slash, another
     * scheme or port, a suffix or prefix of a listed origin, "null". */
    static const char *const near[] = {
        "https://APP.example.com",
        "HTTPS://app.example.com",
        "https://app.example.com/",
        "http://app.example.com",
        "https://app.example.com:443",
        "https://app.example.com.evil.test",
        "https://evil-app.example.com",
        "https://app.example.co",
        " https://app.example.com",
        "https://app.example.com ",
        "null",
        "",
    };
    for (size_t i = 0; i < sizeof near / sizeof *near; i++) {
        sp_request_t *req = actual(near[i], list, 1);
        if (resp_header(req, "Access-Control-Allow-Origin"))
            fail_msg("origin \"%s\" was allowed", near[i]);
        /* The answer still depends on Origin, so caches must key on it. */
        assert_string_equal(resp_header(req, "Vary"), "Origin");
        assert_null(resp_header(req, "Access-Control-Expose-Headers"));
        sp_request_destroy(&req);
    }
    /* No tenant origins at all. */
    sp_request_t *req = actual(APP, NULL, 0);
    assert_null(resp_header(req, "Access-Control-Allow-Origin"));
    sp_request_destroy(&req);
}

static void test_no_origin_no_cors_headers(void **state)
{
    (void)state;
    char *list[] = {APP};
    sp_request_t *req = actual(NULL, list, 1);
    assert_int_equal(sp_response_header_count(sp_request_response(req)), 0);
    sp_request_destroy(&req);
}

/* ---- preflights --------------------------------------------------------------------- */

static sptest_resp_t preflight(const char *path, const char *const *headers)
{
    return sptest_call(sp_service_router(SVC), NULL, "OPTIONS", path, NULL, headers);
}

static void test_preflight_of_an_allowed_origin(void **state)
{
    (void)state;
    const char *h[] = {"Origin", APP, "Access-Control-Request-Method", "POST", NULL};
    sptest_resp_t r = preflight("/v1/auth/login", h);
    EXPECT_OK(r, 204);
    assert_string_equal(sptest_resp_header(&r, "Access-Control-Allow-Origin"), APP);
    assert_string_equal(sptest_resp_header(&r, "Vary"), "Origin");
    assert_string_equal(sptest_resp_header(&r, "Access-Control-Allow-Methods"),
                        "GET, POST, PUT, PATCH, DELETE, OPTIONS");
    assert_string_equal(sptest_resp_header(&r, "Access-Control-Allow-Headers"),
                        "Authorization, Content-Type, Idempotency-Key, X-Request-Id, traceparent");
    assert_string_equal(sptest_resp_header(&r, "Access-Control-Max-Age"), "600");
    sptest_resp_free(&r);

    /* The headers the browser asks for are echoed; an empty ask is not. */
    const char *ask[] = {"Origin",
                         OTHER,
                         "Access-Control-Request-Method",
                         "PATCH",
                         "Access-Control-Request-Headers",
                         "content-type, x-custom",
                         NULL};
    r = preflight("/v1/auth/refresh", ask);
    EXPECT_OK(r, 204);
    assert_string_equal(sptest_resp_header(&r, "Access-Control-Allow-Origin"), OTHER);
    assert_string_equal(sptest_resp_header(&r, "Access-Control-Allow-Headers"),
                        "content-type, x-custom");
    sptest_resp_free(&r);
    const char *empty[] = {
        "Origin", APP, "Access-Control-Request-Method", "GET", "Access-Control-Request-Headers",
        "",       NULL};
    r = preflight("/v1/auth/login", empty);
    EXPECT_OK(r, 204);
    assert_string_equal(sptest_resp_header(&r, "Access-Control-Allow-Headers"),
                        "Authorization, Content-Type, Idempotency-Key, X-Request-Id, traceparent");
    sptest_resp_free(&r);
}

static void test_preflight_of_an_unknown_origin(void **state)
{
    (void)state;
    static const char *const origins[] = {"https://evil.test", "https://app.example.com/",
                                          "https://APP.example.com", "null"};
    for (size_t i = 0; i < sizeof origins / sizeof *origins; i++) {
        const char *h[] = {"Origin", origins[i], "Access-Control-Request-Method", "POST", NULL};
        sptest_resp_t r = preflight("/v1/auth/login", h);
        EXPECT(r, 403, "origin_not_allowed");
        assert_null(sptest_resp_header(&r, "Access-Control-Allow-Origin"));
        assert_string_equal(sptest_resp_header(&r, "Vary"), "Origin");
        sptest_resp_free(&r);
    }
}

static void test_options_that_is_not_a_preflight(void **state)
{
    (void)state;
    /* Without Origin, or without Access-Control-Request-Method, OPTIONS is
     * not a preflight, and the gateway answers no other OPTIONS. */
    const char *no_method[] = {"Origin", APP, NULL};
    const char *no_origin[] = {"Access-Control-Request-Method", "POST", NULL};
    const char *const *not_preflights[] = {no_method, no_origin, NULL};
    for (size_t i = 0; i < 3; i++) {
        sptest_resp_t r = preflight("/v1/auth/login", not_preflights[i]);
        EXPECT(r, 405, "method_not_allowed");
        assert_null(sptest_resp_header(&r, "Access-Control-Allow-Origin"));
        sptest_resp_free(&r);
    }
    /* Exact paths only: an unknown path stays a 404. */
    const char *h[] = {"Origin", APP, "Access-Control-Request-Method", "POST", NULL};
    static const char *const unknown[] = {"/v1/auth/login/", "/v1/auth/loginX", "/v1/auth"};
    for (size_t i = 0; i < sizeof unknown / sizeof *unknown; i++) {
        sptest_resp_t r = preflight(unknown[i], h);
        EXPECT(r, 404, "route_not_found");
        sptest_resp_free(&r);
    }

    /* gw_cors_preflight leaves other methods alone. */
    sp_request_t *req = sp_request_new();
    assert_int_equal(sp_request_set_method(req, "POST"), 0);
    assert_int_equal(sp_request_set_path(req, "/v1/auth/login"), 0);
    assert_int_equal(sp_request_add_header(req, "Origin", APP), 0);
    assert_int_equal(sp_request_add_header(req, "Access-Control-Request-Method", "POST"), 0);
    assert_int_equal(gw_cors_preflight(&GW, req), 0);
    assert_int_equal(sp_response_header_count(sp_request_response(req)), 0);
    sp_request_destroy(&req);
}

static void test_preflight_when_origins_cannot_be_read(void **state)
{
    (void)state;
    tm_down = 1;
    const char *h[] = {"Origin", APP, "Access-Control-Request-Method", "POST", NULL};
    sptest_resp_t r = preflight("/v1/auth/login", h);
    EXPECT(r, 503, "auth_unavailable");
    assert_null(sptest_resp_header(&r, "Access-Control-Allow-Origin"));
    sptest_resp_free(&r);
    tm_down = 0;
}

/* Tenant administration is the operators' tree; /v1/tenants/current is a
 * tenant's own. */
static void test_operator_paths(void **state)
{
    (void)state;
    const char *ops[] = {
        "/v1/tenants",           "/v1/tenants/",         "/v1/tenants/0190c6a2-7b1e-7c3d-8e4f-1234",
        "/v1/tenants/x/suspend", "/v1/tenants/currentX", NULL};
    const char *mine[] = {"/v1/tenants/current",
                          "/v1/tenants/current/taxonomy",
                          "/v1/tenantsX",
                          "/v1/users",
                          "/v1/auth/login",
                          "/",
                          NULL};
    for (int i = 0; ops[i]; i++)
        assert_true(gw_cors_is_operator_path(ops[i]));
    for (int i = 0; mine[i]; i++)
        assert_false(gw_cors_is_operator_path(mine[i]));
    assert_false(gw_cors_is_operator_path(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_operator_paths),
        cmocka_unit_test(test_listed_origin_is_allowed_exactly),
        cmocka_unit_test(test_unlisted_origins_get_no_allow),
        cmocka_unit_test(test_no_origin_no_cors_headers),
        cmocka_unit_test(test_preflight_of_an_allowed_origin),
        cmocka_unit_test(test_preflight_of_an_unknown_origin),
        cmocka_unit_test(test_options_that_is_not_a_preflight),
        cmocka_unit_test(test_preflight_when_origins_cannot_be_read),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
