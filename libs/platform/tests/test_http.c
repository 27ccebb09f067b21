/* Tests for http.c and http_exchange.c: a real server on 127.0.0.1 (port 0)
 * driven by libcurl — routing, query decoding, error shapes, body limits,
 * request ids, traceparent, CORS and metrics. The server's concurrency,
 * stop, logs and options are in test_http_server.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http_fixture.h"

/* ---- tests ----------------------------------------------------------------- */

static void test_get_path_param_json(void **state)
{
    const char *hdrs[] = {"traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                          NULL};
    reply_t r = http_do(g_fx.port, "GET", "/v1/items/42", NULL, 0, hdrs);
    assert_int_equal(r.rc, CURLE_OK);
    assert_int_equal(r.status, 200);
    char ct[128];
    assert_non_null(reply_header(&r, "Content-Type", ct, sizeof ct));
    assert_string_equal(ct, "application/json");
    cJSON *root = cJSON_Parse(r.body);
    assert_non_null(root);
    assert_string_equal(cJSON_GetObjectItem(root, "id")->valuestring, "42");
    assert_string_equal(cJSON_GetObjectItem(root, "remote_addr")->valuestring, "127.0.0.1");
    assert_string_equal(cJSON_GetObjectItem(root, "traceparent")->valuestring,
                        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    cJSON_Delete(root);
    reply_free(&r);
}

static void test_post_json_echo(void **state)
{
    const char *in = "{\"a\":1,\"b\":\"x\"}";
    const char *hdrs[] = {"Content-Type: application/json", NULL};
    reply_t r = http_do(g_fx.port, "POST", "/v1/echo", in, (long)strlen(in), hdrs);
    assert_int_equal(r.status, 200);
    cJSON *root = cJSON_Parse(r.body);
    assert_non_null(root);
    assert_int_equal(cJSON_GetObjectItem(root, "a")->valueint, 1);
    assert_string_equal(cJSON_GetObjectItem(root, "b")->valuestring, "x");
    cJSON_Delete(root);
    reply_free(&r);
}

static void test_malformed_json_is_400(void **state)
{
    char code[64];
    const char *json[] = {"Content-Type: application/json", NULL};
    reply_t r = http_do(g_fx.port, "POST", "/v1/echo", "{bad", 4, json);
    assert_int_equal(r.status, 400);
    assert_non_null(error_code(&r, code, sizeof code));
    assert_string_equal(code, "invalid_json");
    char rid[160];
    assert_non_null(reply_header(&r, "X-Request-Id", rid, sizeof rid));
    reply_free(&r);
}

/* The probe's findings at the HTTP layer: another Content-Type on a JSON
 * route is 415, a second document or a NUL escape is 400, and a query
 * parameter that decodes to invalid UTF-8 or a NUL never reaches a handler. */
static void test_strict_bodies_and_encodings(void **state)
{
    char code[64];
    reply_t r = http_do(g_fx.port, "POST", "/v1/echo", "{}", 2, NULL); /* curl: form type */
    assert_int_equal(r.status, 415);
    assert_string_equal(error_code(&r, code, sizeof code), "unsupported_media_type");
    reply_free(&r);
    const char *json[] = {"Content-Type: application/json; charset=utf-8", NULL};
    const char *bad[] = {"{}{}", "{}xyz", "007", "\"a\\u0000b\"", "\xef\xbb\xbf{}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        r = http_do(g_fx.port, "POST", "/v1/echo", bad[i], (long)strlen(bad[i]), json);
        assert_int_equal(r.status, 400);
        assert_string_equal(error_code(&r, code, sizeof code), "invalid_json");
        reply_free(&r);
    }
    const char *queries[] = {"/v1/query?name=%ff%fe", "/v1/query?name=%c0%af",
                             "/v1/query?name=%ed%a0%80", "/v1/query?name=UTC%00x",
                             "/v1/query?n%00ame=x"};
    for (size_t i = 0; i < sizeof queries / sizeof *queries; i++) {
        r = http_get(g_fx.port, queries[i]);
        assert_int_equal(r.status, 400);
        assert_string_equal(error_code(&r, code, sizeof code), "invalid_encoding");
        reply_free(&r);
    }
}

static void test_query_decoding(void **state)
{
    reply_t r = http_get(g_fx.port, "/v1/query?name=J%C3%BCrgen%20X&tag=a%26b&flag");
    assert_int_equal(r.status, 200);
    cJSON *root = cJSON_Parse(r.body);
    assert_non_null(root);
    assert_string_equal(cJSON_GetObjectItem(root, "name")->valuestring, "J\xc3\xbcrgen X");
    assert_string_equal(cJSON_GetObjectItem(root, "tag")->valuestring, "a&b");
    assert_string_equal(cJSON_GetObjectItem(root, "raw")->valuestring,
                        "name=J%C3%BCrgen%20X&tag=a%26b&flag");
    cJSON_Delete(root);
    reply_free(&r);

    r = http_get(g_fx.port, "/v1/query");
    assert_int_equal(r.status, 200);
    root = cJSON_Parse(r.body);
    assert_string_equal(cJSON_GetObjectItem(root, "raw")->valuestring, "");
    assert_null(cJSON_GetObjectItem(root, "name"));
    cJSON_Delete(root);
    reply_free(&r);
}

static void test_404_and_405_shapes(void **state)
{
    char code[64], allow[64];
    reply_t r = http_get(g_fx.port, "/nope/at/all");
    assert_int_equal(r.status, 404);
    assert_non_null(error_code(&r, code, sizeof code));
    assert_string_equal(code, "route_not_found");
    reply_free(&r);

    r = http_do(g_fx.port, "DELETE", "/v1/items/1", NULL, 0, NULL);
    assert_int_equal(r.status, 405);
    assert_non_null(error_code(&r, code, sizeof code));
    assert_string_equal(code, "method_not_allowed");
    assert_non_null(reply_header(&r, "Allow", allow, sizeof allow));
    assert_non_null(strstr(allow, "GET"));
    reply_free(&r);
}

static void test_body_limit(void **state)
{
    char code[64];
    char *big = malloc(4 * MAX_BODY);
    assert_non_null(big);
    memset(big, 'x', 4 * MAX_BODY);

    /* Exactly at the limit is fine. */
    reply_t r = http_do(g_fx.port, "POST", "/v1/upload", big, MAX_BODY, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal((int)strtol(r.body, NULL, 10), MAX_BODY);
    reply_free(&r);

    /* Declared Content-Length over the limit. */
    r = http_do(g_fx.port, "POST", "/v1/upload", big, MAX_BODY + 1, NULL);
    assert_int_equal(r.status, 413);
    assert_non_null(error_code(&r, code, sizeof code));
    assert_string_equal(code, "payload_too_large");
    reply_free(&r);

    /* Far over the limit (curl asks "Expect: 100-continue" first; the 413
     * goes out before any of the body is sent). */
    size_t huge_len = 2u << 20;
    char *huge = malloc(huge_len);
    assert_non_null(huge);
    memset(huge, 'y', huge_len);
    r = http_do(g_fx.port, "POST", "/v1/upload", huge, (long)huge_len, NULL);
    free(huge);
    assert_int_equal(r.status, 413);
    assert_non_null(error_code(&r, code, sizeof code));
    assert_string_equal(code, "payload_too_large");
    reply_free(&r);

    /* Chunked body that grows past the limit. */
    const char *chunked[] = {"Transfer-Encoding: chunked", NULL};
    r = http_do(g_fx.port, "POST", "/v1/upload", big, 4 * MAX_BODY, chunked);
    assert_int_equal(r.status, 413);
    assert_non_null(error_code(&r, code, sizeof code));
    assert_string_equal(code, "payload_too_large");
    reply_free(&r);

    /* Small chunked bodies are assembled. */
    r = http_do(g_fx.port, "POST", "/v1/upload", big, 100, chunked);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "100");
    reply_free(&r);
    free(big);

    /* The server is still fine afterwards. */
    r = http_get(g_fx.port, "/v1/items/1");
    assert_int_equal(r.status, 200);
    reply_free(&r);
}

static void test_request_id(void **state)
{
    char rid[200], rid2[200];

    const char *good[] = {"X-Request-Id: abc.DEF_123-x", NULL};
    reply_t r = http_do(g_fx.port, "GET", "/v1/items/1", NULL, 0, good);
    assert_non_null(reply_header(&r, "X-Request-Id", rid, sizeof rid));
    assert_string_equal(rid, "abc.DEF_123-x");
    cJSON *root = cJSON_Parse(r.body);
    assert_string_equal(cJSON_GetObjectItem(root, "request_id")->valuestring, "abc.DEF_123-x");
    cJSON_Delete(root);
    reply_free(&r);

    /* Unsafe characters: replaced by a fresh id. */
    const char *bad[] = {"X-Request-Id: bad id\"<script>", NULL};
    r = http_do(g_fx.port, "GET", "/v1/items/1", NULL, 0, bad);
    assert_non_null(reply_header(&r, "X-Request-Id", rid, sizeof rid));
    assert_int_equal(strlen(rid), 36); /* a UUID */
    assert_null(strchr(rid, ' '));
    reply_free(&r);

    /* Too long (129 characters): replaced. */
    char longhdr[200] = "X-Request-Id: ";
    memset(longhdr + strlen(longhdr), 'a', 129);
    const char *toolong[] = {longhdr, NULL};
    r = http_do(g_fx.port, "GET", "/v1/items/1", NULL, 0, toolong);
    assert_non_null(reply_header(&r, "X-Request-Id", rid, sizeof rid));
    assert_int_equal(strlen(rid), 36);
    reply_free(&r);

    /* None: two requests get two different ids, on errors too. */
    r = http_get(g_fx.port, "/missing");
    assert_int_equal(r.status, 404);
    assert_non_null(reply_header(&r, "X-Request-Id", rid, sizeof rid));
    reply_free(&r);
    r = http_get(g_fx.port, "/missing");
    assert_non_null(reply_header(&r, "X-Request-Id", rid2, sizeof rid2));
    reply_free(&r);
    assert_int_equal(strlen(rid), 36);
    assert_string_not_equal(rid, rid2);
}

/* The traceparent the handler saw for one GET /v1/items/1 with the given
 * extra header (NULL = none), copied into out. */
static void traceparent_seen(const char *header, char *out, size_t cap)
{
    const char *hdrs[] = {header, NULL};
    reply_t r = http_do(g_fx.port, "GET", "/v1/items/1", NULL, 0, header ? hdrs : NULL);
    assert_int_equal(r.status, 200);
    cJSON *root = cJSON_Parse(r.body);
    assert_non_null(root);
    cJSON *tp = cJSON_GetObjectItem(root, "traceparent");
    assert_true(cJSON_IsString(tp));
    snprintf(out, cap, "%s", tp->valuestring);
    cJSON_Delete(root);
    reply_free(&r);
}

static void test_traceparent_started_when_missing(void **state)
{
    char a[128], b[128], trace_id[SP_TRACE_ID_LEN + 1], span_id[SP_SPAN_ID_LEN + 1];

    /* No traceparent: the server starts a trace, version 00, sampled. */
    traceparent_seen(NULL, a, sizeof a);
    assert_int_equal(strlen(a), SP_TRACEPARENT_LEN);
    assert_int_equal(sp_trace_parse(a, trace_id, span_id), 0);
    assert_int_equal(strncmp(a, "00-", 3), 0);
    assert_string_equal(a + 52, "-01");
    traceparent_seen(NULL, b, sizeof b);
    assert_int_equal(sp_trace_parse(b, NULL, NULL), 0);
    assert_int_not_equal(strncmp(a + 3, b + 3, SP_TRACE_ID_LEN), 0);

    /* Malformed ones (all-zero trace id, upper case, garbage) start a new
     * trace too; a valid one is kept as it is. */
    const char *bad[] = {
        "traceparent: 00-00000000000000000000000000000000-b7ad6b7169203331-01",
        "traceparent: 00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
        "traceparent: hello",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        traceparent_seen(bad[i], a, sizeof a);
        assert_int_equal(sp_trace_parse(a, NULL, NULL), 0);
        assert_string_not_equal(a, bad[i] + strlen("traceparent: "));
    }
    traceparent_seen("traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", a,
                     sizeof a);
    assert_string_equal(a, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
}

/* The access log line of a request carries its trace. */
static void test_access_log_has_trace(void **state)
{
    FILE *log = tmpfile();
    assert_non_null(log);
    sp_log_init("test_http", SP_LOG_INFO);
    sp_log_set_output(log);
    const char *hdrs[] = {"traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                          "X-Request-Id: trace-log-test", NULL};
    reply_t r = http_do(g_fx.port, "GET", "/v1/items/7", NULL, 0, hdrs);
    assert_int_equal(r.status, 200);
    reply_free(&r);
    sp_log_set_output(NULL);
    sp_log_init("test_http", SP_LOG_WARN);

    rewind(log);
    char line[4096];
    int found = 0;
    while (fgets(line, sizeof line, log)) {
        cJSON *o = cJSON_Parse(line);
        assert_non_null(o);
        cJSON *rid = cJSON_GetObjectItem(o, "request_id");
        if (cJSON_IsString(rid) && strcmp(rid->valuestring, "trace-log-test") == 0) {
            found = 1;
            assert_string_equal(cJSON_GetObjectItem(o, "trace_id")->valuestring,
                                "4bf92f3577b34da6a3ce929d0e0e4736");
            assert_string_equal(cJSON_GetObjectItem(o, "span_id")->valuestring, "00f067aa0ba902b7");
        }
        cJSON_Delete(o);
    }
    fclose(log);
    assert_true(found);
}

static void test_cors(void **state)
{
    char v[256];
    const char *pre_ok[] = {"Origin: " ORIGIN_OK, "Access-Control-Request-Method: POST",
                            "Access-Control-Request-Headers: content-type, authorization", NULL};
    reply_t r = http_do(g_fx.port, "OPTIONS", "/v1/echo", NULL, 0, pre_ok);
    assert_int_equal(r.status, 204);
    assert_non_null(reply_header(&r, "Access-Control-Allow-Origin", v, sizeof v));
    assert_string_equal(v, ORIGIN_OK);
    assert_non_null(reply_header(&r, "Access-Control-Allow-Methods", v, sizeof v));
    assert_non_null(strstr(v, "POST"));
    assert_non_null(reply_header(&r, "Access-Control-Allow-Headers", v, sizeof v));
    assert_non_null(strstr(v, "authorization"));
    assert_non_null(reply_header(&r, "Access-Control-Max-Age", v, sizeof v));
    assert_non_null(reply_header(&r, "Vary", v, sizeof v));
    assert_string_equal(v, "Origin");
    reply_free(&r);

    /* A normal request from an allowed origin. */
    const char *get_ok[] = {"Origin: " ORIGIN_OK, NULL};
    r = http_do(g_fx.port, "GET", "/v1/items/3", NULL, 0, get_ok);
    assert_int_equal(r.status, 200);
    assert_non_null(reply_header(&r, "Access-Control-Allow-Origin", v, sizeof v));
    assert_string_equal(v, ORIGIN_OK);
    assert_non_null(reply_header(&r, "Vary", v, sizeof v));
    reply_free(&r);

    /* Unknown origin: no CORS headers at all, preflight not answered. */
    const char *pre_bad[] = {"Origin: https://evil.example", "Access-Control-Request-Method: POST",
                             NULL};
    r = http_do(g_fx.port, "OPTIONS", "/v1/echo", NULL, 0, pre_bad);
    assert_int_not_equal(r.status, 204);
    assert_null(reply_header(&r, "Access-Control-Allow-Origin", v, sizeof v));
    assert_null(reply_header(&r, "Access-Control-Allow-Methods", v, sizeof v));
    reply_free(&r);
    const char *get_bad[] = {"Origin: https://evil.example", NULL};
    r = http_do(g_fx.port, "GET", "/v1/items/3", NULL, 0, get_bad);
    assert_int_equal(r.status, 200);
    assert_null(reply_header(&r, "Access-Control-Allow-Origin", v, sizeof v));
    reply_free(&r);
}

/* 50 requests whose handlers answer from another thread after 100 ms, on a
 * pool of 2 threads: if a pending request held its thread, at most 2 could
 * be pending at once and the batch would take >= 2.5 s. */

static void test_metrics(void **state)
{
    reply_t r = http_get(g_fx.port, "/v1/items/9");
    reply_free(&r);
    char *text = sp_metrics_render(NULL);
    assert_non_null(text);
    assert_non_null(strstr(text, "serphona_http_requests_total{method=\"GET\",status=\"200\"}"));
    assert_non_null(strstr(text, "serphona_http_requests_total{method=\"GET\",status=\"404\"}"));
    assert_non_null(strstr(text, "serphona_http_request_duration_seconds_count{method=\"GET\"}"));
    free(text);
    /* MHD finishes a request (and the gauge drops) just after the client has
     * the last byte, so allow it a moment. */
    int idle = 0;
    for (int i = 0; i < 200 && !idle; i++) {
        text = sp_metrics_render(NULL);
        assert_non_null(text);
        idle = strstr(text, "serphona_http_in_flight_requests 0\n") != NULL;
        free(text);
        if (!idle)
            usleep(5000);
    }
    assert_true(idle);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_path_param_json),
        cmocka_unit_test(test_post_json_echo),
        cmocka_unit_test(test_traceparent_started_when_missing),
        cmocka_unit_test(test_access_log_has_trace),
        cmocka_unit_test(test_malformed_json_is_400),
        cmocka_unit_test(test_strict_bodies_and_encodings),
        cmocka_unit_test(test_query_decoding),
        cmocka_unit_test(test_404_and_405_shapes),
        cmocka_unit_test(test_body_limit),
        cmocka_unit_test(test_request_id),
        cmocka_unit_test(test_cors),
        cmocka_unit_test(test_metrics),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
