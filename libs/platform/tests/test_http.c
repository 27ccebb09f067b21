/* Tests for http.c: a real server on 127.0.0.1 (port 0) driven by libcurl —
 * routing, query decoding, error shapes, body limits, request ids, CORS,
 * suspend/resume under concurrency, graceful stop, and many requests in a
 * row for the sanitizers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "platform/error.h"
#include "platform/http.h"
#include "platform/log.h"
#include "platform/metrics.h"
#include "platform/request.h"
#include "platform/trace.h"
#include "platform/router.h"

#define MAX_BODY  4096
#define ORIGIN_OK "https://console.example"

/* ---- handlers ------------------------------------------------------------ */

static atomic_int g_pending;     /* async requests started, not completed */
static atomic_int g_max_pending; /* high-water mark of g_pending */
static atomic_int g_async_done;  /* async completions so far */

static sp_handler_result_t h_item(sp_request_t *req, void *ud)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", sp_request_param(req, "id"));
    cJSON_AddStringToObject(o, "request_id", sp_request_id(req));
    cJSON_AddStringToObject(o, "remote_addr", sp_request_remote_addr(req));
    const char *tp = sp_request_traceparent(req);
    if (tp)
        cJSON_AddStringToObject(o, "traceparent", tp);
    sp_response_json(sp_request_response(req), 200, o);
    cJSON_Delete(o);
    return SP_HANDLER_DONE;
}

static sp_handler_result_t h_echo(sp_request_t *req, void *ud)
{
    cJSON *in = NULL;
    if (sp_request_json(req, &in) != 0)
        return SP_HANDLER_DONE;
    sp_response_json(sp_request_response(req), 200, in);
    return SP_HANDLER_DONE;
}

static sp_handler_result_t h_query(sp_request_t *req, void *ud)
{
    cJSON *o = cJSON_CreateObject();
    const char *name = sp_request_query(req, "name"), *tag = sp_request_query(req, "tag");
    if (name)
        cJSON_AddStringToObject(o, "name", name);
    if (tag)
        cJSON_AddStringToObject(o, "tag", tag);
    cJSON_AddStringToObject(o, "raw", sp_request_raw_query(req));
    sp_response_json(sp_request_response(req), 200, o);
    cJSON_Delete(o);
    return SP_HANDLER_DONE;
}

static sp_handler_result_t h_upload(sp_request_t *req, void *ud)
{
    size_t len = 0;
    sp_request_body(req, &len);
    char text[32];
    int n = snprintf(text, sizeof text, "%zu", len);
    sp_response_set_body(sp_request_response(req), text, (size_t)n, "text/plain");
    return SP_HANDLER_DONE;
}

typedef struct {
    sp_request_t *req;
    int ms;
} async_job_t;

static void *complete_later(void *arg)
{
    async_job_t *job = arg;
    usleep((useconds_t)job->ms * 1000);
    sp_response_set_body(sp_request_response(job->req), "{\"async\":true}", 14, "application/json");
    atomic_fetch_sub(&g_pending, 1);
    sp_request_complete(job->req);
    free(job);
    atomic_fetch_add(&g_async_done, 1);
    return NULL;
}

/* Answers from another thread after ?ms= milliseconds (default 100). */
static sp_handler_result_t h_async(sp_request_t *req, void *ud)
{
    const char *ms = sp_request_query(req, "ms");
    async_job_t *job = malloc(sizeof *job);
    assert_non_null(job);
    job->req = req;
    job->ms = ms ? (int)strtol(ms, NULL, 10) : 100;
    int now = atomic_fetch_add(&g_pending, 1) + 1;
    int seen = atomic_load(&g_max_pending);
    while (now > seen && !atomic_compare_exchange_weak(&g_max_pending, &seen, now))
        ;
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    assert_int_equal(pthread_create(&t, &attr, complete_later, job), 0);
    pthread_attr_destroy(&attr);
    return SP_HANDLER_ASYNC;
}

/* Completes before even returning ASYNC: the transport must not suspend. */
static sp_handler_result_t h_async_now(sp_request_t *req, void *ud)
{
    sp_response_set_body(sp_request_response(req), "now", 3, "text/plain");
    sp_request_complete(req);
    return SP_HANDLER_ASYNC;
}

static sp_router_t *make_router(void)
{
    sp_router_t *r = sp_router_new();
    assert_non_null(r);
    assert_int_equal(sp_router_add(r, "GET", "/v1/items/{id}", NULL, h_item, NULL), 0);
    assert_int_equal(sp_router_add(r, "POST", "/v1/echo", NULL, h_echo, NULL), 0);
    assert_int_equal(sp_router_add(r, "GET", "/v1/query", NULL, h_query, NULL), 0);
    assert_int_equal(sp_router_add(r, "POST", "/v1/upload", NULL, h_upload, NULL), 0);
    assert_int_equal(sp_router_add(r, "GET", "/v1/async", NULL, h_async, NULL), 0);
    assert_int_equal(sp_router_add(r, "GET", "/v1/async-now", NULL, h_async_now, NULL), 0);
    return r;
}

/* ---- client ---------------------------------------------------------------- */

typedef struct {
    long status;
    char *body;
    size_t len;
    char *head;
    size_t hlen;
    CURLcode rc;
} reply_t;

static void append(char **buf, size_t *len, const char *data, size_t n)
{
    char *grown = realloc(*buf, *len + n + 1);
    assert_non_null(grown);
    memcpy(grown + *len, data, n);
    *len += n;
    grown[*len] = '\0';
    *buf = grown;
}

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    reply_t *r = ud;
    append(&r->body, &r->len, data, size * n);
    return size * n;
}

static size_t on_head(char *data, size_t size, size_t n, void *ud)
{
    reply_t *r = ud;
    append(&r->head, &r->hlen, data, size * n);
    return size * n;
}

static void reply_free(reply_t *r)
{
    free(r->body);
    free(r->head);
    memset(r, 0, sizeof *r);
}

/* The value of response header name (last occurrence) copied into out, or
 * NULL when absent. */
static const char *reply_header(const reply_t *r, const char *name, char *out, size_t cap)
{
    const char *found = NULL;
    size_t nlen = strlen(name);
    for (const char *line = r->head; line && *line;) {
        const char *eol = strstr(line, "\r\n");
        size_t llen = eol ? (size_t)(eol - line) : strlen(line);
        if (llen > nlen && strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
            const char *v = line + nlen + 1;
            while (*v == ' ')
                v++;
            size_t vlen = llen - (size_t)(v - line);
            if (vlen >= cap)
                vlen = cap - 1;
            memcpy(out, v, vlen);
            out[vlen] = '\0';
            found = out;
        }
        line = eol ? eol + 2 : line + llen;
    }
    return found;
}

static CURL *easy_for(int port, const char *method, const char *path, const char *body, long blen,
                      struct curl_slist *hdrs, reply_t *out)
{
    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_head);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, blen);
    }
    if (hdrs)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    return c;
}

/* One request; hdrs is a NULL-terminated list of "Name: value" or NULL. */
static reply_t http_do(int port, const char *method, const char *path, const char *body, long blen,
                       const char *const *hdrs)
{
    reply_t r = {0};
    struct curl_slist *list = NULL;
    for (size_t i = 0; hdrs && hdrs[i]; i++)
        list = curl_slist_append(list, hdrs[i]);
    CURL *c = easy_for(port, method, path, body, blen, list, &r);
    r.rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_easy_cleanup(c);
    curl_slist_free_all(list);
    return r;
}

static reply_t http_get(int port, const char *path)
{
    return http_do(port, "GET", path, NULL, 0, NULL);
}

/* error.code of a platform error body, copied into out. */
static const char *error_code(const reply_t *r, char *out, size_t cap)
{
    cJSON *root = cJSON_Parse(r->body ? r->body : "");
    const cJSON *code = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "error"), "code");
    const char *ret = NULL;
    if (cJSON_IsString(code)) {
        snprintf(out, cap, "%s", code->valuestring);
        ret = out;
    }
    cJSON_Delete(root);
    return ret;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Waits (up to 10 s) until every async completion thread has finished, so
 * none outlives the test and the leak checker sees a quiet process. */
static void wait_async_quiet(void)
{
    for (int i = 0; i < 1000 && atomic_load(&g_pending) > 0; i++)
        usleep(10000);
    assert_int_equal(atomic_load(&g_pending), 0);
    usleep(20000); /* the completion thread's last lines after the decrement */
}

/* ---- fixture ------------------------------------------------------------- */

typedef struct {
    sp_router_t *router;
    sp_http_server_t *srv;
    int port;
} fixture_t;

static fixture_t g_fx;

static sp_http_server_t *start_server(const sp_http_options_t *o, int *port)
{
    sp_http_server_t *srv = sp_http_server_new(o, g_fx.router);
    assert_non_null(srv);
    assert_int_equal(sp_http_server_start(srv), 0);
    *port = sp_http_server_port(srv);
    assert_true(*port > 0);
    return srv;
}

static int group_setup(void **state)
{
    sp_log_init("test_http", SP_LOG_WARN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    g_fx.router = make_router();
    sp_http_options_t o = {
        .threads = 2,
        .max_body_bytes = MAX_BODY,
        .cors_origins = ORIGIN_OK ", https://other.example",
        .service = "test_http",
    };
    g_fx.srv = start_server(&o, &g_fx.port);
    return 0;
}

static int group_teardown(void **state)
{
    sp_http_server_destroy(&g_fx.srv);
    assert_null(g_fx.srv);
    sp_router_destroy(&g_fx.router);
    curl_global_cleanup();
    return 0;
}

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
    reply_t r = http_do(g_fx.port, "POST", "/v1/echo", "{bad", 4, NULL);
    assert_int_equal(r.status, 400);
    assert_non_null(error_code(&r, code, sizeof code));
    assert_string_equal(code, "invalid_json");
    char rid[160];
    assert_non_null(reply_header(&r, "X-Request-Id", rid, sizeof rid));
    reply_free(&r);
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
static void test_async_concurrency(void **state)
{
    enum { N = 50 };
    atomic_store(&g_max_pending, 0);
    int done_before = atomic_load(&g_async_done);
    reply_t replies[N];
    CURL *easy[N];
    memset(replies, 0, sizeof replies);
    CURLM *m = curl_multi_init();
    assert_non_null(m);
    for (int i = 0; i < N; i++) {
        easy[i] = easy_for(g_fx.port, "GET", "/v1/async?ms=100", NULL, 0, NULL, &replies[i]);
        curl_multi_add_handle(m, easy[i]);
    }
    double t0 = now_s();
    int running = 1;
    while (running) {
        assert_int_equal(curl_multi_perform(m, &running), CURLM_OK);
        if (running)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    double took = now_s() - t0;
    for (int i = 0; i < N; i++) {
        long status = 0;
        curl_easy_getinfo(easy[i], CURLINFO_RESPONSE_CODE, &status);
        assert_int_equal(status, 200);
        assert_string_equal(replies[i].body, "{\"async\":true}");
        char rid[160];
        assert_non_null(reply_header(&replies[i], "X-Request-Id", rid, sizeof rid));
        curl_multi_remove_handle(m, easy[i]);
        curl_easy_cleanup(easy[i]);
        reply_free(&replies[i]);
    }
    curl_multi_cleanup(m);
    wait_async_quiet();
    assert_int_equal(atomic_load(&g_async_done) - done_before, N);
    assert_true(atomic_load(&g_max_pending) > 10);
    assert_true(took < 2.4);

    /* A handler that completes before returning ASYNC is answered too. */
    reply_t r = http_get(g_fx.port, "/v1/async-now");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "now");
    reply_free(&r);
}

typedef struct {
    int port;
    const char *path;
    reply_t reply;
} client_job_t;

static void *client_thread(void *arg)
{
    client_job_t *job = arg;
    job->reply = http_get(job->port, job->path);
    return NULL;
}

static int can_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    int ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return ok;
}

/* stop() waits for a suspended request to finish within the grace period. */
static void test_stop_waits_for_async(void **state)
{
    int port;
    sp_http_options_t o = {.threads = 2, .shutdown_grace_ms = 5000};
    sp_http_server_t *srv = start_server(&o, &port);
    client_job_t job = {.port = port, .path = "/v1/async?ms=300"};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, client_thread, &job), 0);
    for (int i = 0; i < 500 && atomic_load(&g_pending) == 0; i++)
        usleep(2000);
    assert_int_equal(atomic_load(&g_pending), 1);

    double t0 = now_s();
    sp_http_server_stop(srv);
    double took = now_s() - t0;
    pthread_join(t, NULL);
    assert_int_equal(job.reply.rc, CURLE_OK);
    assert_int_equal(job.reply.status, 200);
    assert_string_equal(job.reply.body, "{\"async\":true}");
    assert_true(took >= 0.15 && took < 4.0);
    assert_int_equal(sp_http_server_port(srv), -1);
    assert_false(can_connect(port));
    reply_free(&job.reply);

    sp_http_server_stop(srv); /* idempotent */
    sp_http_server_destroy(&srv);
    assert_null(srv);
    sp_http_server_destroy(&srv); /* NULL is fine */
    wait_async_quiet();
}

/* Past the grace period a pending request is answered 503, and the handler's
 * late completion only frees it (ASan checks there is no leak or UAF). */
static void test_stop_grace_expires(void **state)
{
    int port;
    sp_http_options_t o = {.threads = 1, .shutdown_grace_ms = 100};
    sp_http_server_t *srv = start_server(&o, &port);
    int done_before = atomic_load(&g_async_done);
    client_job_t job = {.port = port, .path = "/v1/async?ms=800"};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, client_thread, &job), 0);
    for (int i = 0; i < 500 && atomic_load(&g_pending) == 0; i++)
        usleep(2000);
    assert_int_equal(atomic_load(&g_pending), 1);

    double t0 = now_s();
    sp_http_server_destroy(&srv);
    double took = now_s() - t0;
    pthread_join(t, NULL);
    char code[64];
    assert_int_equal(job.reply.status, 503);
    assert_non_null(error_code(&job.reply, code, sizeof code));
    assert_string_equal(code, "shutting_down");
    assert_true(took < 0.7);
    reply_free(&job.reply);

    wait_async_quiet();
    assert_int_equal(atomic_load(&g_async_done) - done_before, 1);
}

/* Sends raw bytes on a fresh connection; the first response line (or "" when
 * the server just closed) goes into out. */
static void raw_exchange(const char *bytes, char *out, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_fx.port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    assert_int_equal(write(fd, bytes, strlen(bytes)), (ssize_t)strlen(bytes));
    ssize_t n = read(fd, out, cap - 1);
    close(fd);
    out[n > 0 ? n : 0] = '\0';
    char *eol = strstr(out, "\r\n");
    if (eol)
        *eol = '\0';
}

/* Malformed HTTP is answered 400 by libmicrohttpd itself (or, when it is not
 * HTTP at all, the connection is dropped), and the server carries on. */
static void test_malformed_http(void **state)
{
    char line[512];
    raw_exchange("GET /v1/items/1 HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n", line, sizeof line);
    assert_string_equal(line, "HTTP/1.1 400 Bad Request");
    raw_exchange("GET /v1/items/1 FOO\r\nHost: x\r\n\r\n", line, sizeof line);
    assert_string_equal(line, "HTTP/1.1 400 Bad Request");
    raw_exchange("POST /v1/upload HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", line,
                 sizeof line);
    assert_string_equal(line, "HTTP/1.1 400 Bad Request");
    raw_exchange("GARBAGE\r\n\r\n", line, sizeof line);
    assert_null(strstr(line, "200"));
    raw_exchange("GET /v1/items/5 HTTP/1.1\r\nHost: x\r\n\r\n", line, sizeof line);
    assert_string_equal(line, "HTTP/1.1 200 OK");
}

/* The access log has method, path, status and the request id, but never the
 * query string. */
static void test_access_log(void **state)
{
    FILE *out = tmpfile();
    assert_non_null(out);
    sp_log_init("test_http", SP_LOG_INFO);
    sp_log_set_output(out);
    const char *hdrs[] = {"X-Request-Id: log-check-1", NULL};
    reply_t r = http_do(g_fx.port, "GET", "/v1/query?name=topsecret", NULL, 0, hdrs);
    assert_int_equal(r.status, 200);
    reply_free(&r);
    /* The line is written before the response goes out, but give the
     * server thread a moment all the same. */
    usleep(20000);
    sp_log_set_output(NULL);
    sp_log_init("test_http", SP_LOG_WARN);

    char text[8192] = {0};
    rewind(out);
    size_t n = fread(text, 1, sizeof text - 1, out);
    fclose(out);
    assert_true(n > 0);
    const char *line = strstr(text, "GET /v1/query 200");
    assert_non_null(line);
    assert_non_null(strstr(text, "\"request_id\":\"log-check-1\""));
    assert_null(strstr(text, "topsecret"));
}

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

/* Bad options are refused at creation, a taken port at start. */
static void test_options_and_bind_failure(void **state)
{
    sp_http_options_t bad_addr = {.bind_address = "localhost.invalid"};
    assert_null(sp_http_server_new(&bad_addr, g_fx.router));
    sp_http_options_t bad_port = {.port = 70000};
    assert_null(sp_http_server_new(&bad_port, g_fx.router));
    assert_null(sp_http_server_new(NULL, NULL));

    sp_http_options_t taken = {.port = g_fx.port};
    sp_http_server_t *srv = sp_http_server_new(&taken, g_fx.router);
    assert_non_null(srv);
    assert_int_equal(sp_http_server_port(srv), -1);
    assert_int_equal(sp_http_server_start(srv), SP_EIO);
    assert_int_equal(sp_http_server_start(srv), SP_EINVAL);
    sp_http_server_destroy(&srv);

    /* The IPv6 loopback works too, where the machine has it. */
    sp_http_options_t v6 = {.bind_address = "::1", .threads = 1};
    srv = sp_http_server_new(&v6, g_fx.router);
    assert_non_null(srv);
    if (sp_http_server_start(srv) == 0) {
        char url[64];
        snprintf(url, sizeof url, "http://[::1]:%d/v1/items/6", sp_http_server_port(srv));
        reply_t r = {0};
        CURL *c = curl_easy_init();
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
        assert_int_equal(curl_easy_perform(c), CURLE_OK);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
        curl_easy_cleanup(c);
        assert_int_equal(r.status, 200);
        reply_free(&r);
    }
    sp_http_server_destroy(&srv);
}

/* Many requests on one kept-alive connection, and some on fresh ones. */
static void test_many_sequential(void **state)
{
    reply_t r = {0};
    CURL *c = easy_for(g_fx.port, "GET", "/v1/items/7", NULL, 0, NULL, &r);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(curl_easy_perform(c), CURLE_OK);
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        assert_int_equal(status, 200);
        reply_free(&r);
    }
    curl_easy_cleanup(c);
    for (int i = 0; i < 50; i++) {
        r = http_do(g_fx.port, "POST", "/v1/echo", "[1,2,3]", 7, NULL);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, "[1,2,3]");
        reply_free(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_path_param_json),
        cmocka_unit_test(test_post_json_echo),
        cmocka_unit_test(test_traceparent_started_when_missing),
        cmocka_unit_test(test_access_log_has_trace),
        cmocka_unit_test(test_malformed_json_is_400),
        cmocka_unit_test(test_query_decoding),
        cmocka_unit_test(test_404_and_405_shapes),
        cmocka_unit_test(test_body_limit),
        cmocka_unit_test(test_request_id),
        cmocka_unit_test(test_cors),
        cmocka_unit_test(test_async_concurrency),
        cmocka_unit_test(test_stop_waits_for_async),
        cmocka_unit_test(test_stop_grace_expires),
        cmocka_unit_test(test_malformed_http),
        cmocka_unit_test(test_access_log),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_options_and_bind_failure),
        cmocka_unit_test(test_many_sequential),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
