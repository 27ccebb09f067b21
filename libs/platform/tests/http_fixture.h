/*
 * http_fixture.h — what the HTTP server tests share: handlers (sync and
 * async), a router, a libcurl client with reply helpers, and a server on
 * 127.0.0.1 (port 0) started once per test group. Include after cmocka.h;
 * helpers are static inline so a test file need not use them all.
 */
#ifndef SP_TEST_HTTP_FIXTURE_H
#define SP_TEST_HTTP_FIXTURE_H

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

#include "platform/clock.h"
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

static inline sp_handler_result_t h_item(sp_request_t *req, void *ud)
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

static inline sp_handler_result_t h_echo(sp_request_t *req, void *ud)
{
    cJSON *in = NULL;
    if (sp_request_json(req, &in) != 0)
        return SP_HANDLER_DONE;
    sp_response_json(sp_request_response(req), 200, in);
    return SP_HANDLER_DONE;
}

static inline sp_handler_result_t h_query(sp_request_t *req, void *ud)
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

static inline sp_handler_result_t h_upload(sp_request_t *req, void *ud)
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

static inline void *complete_later(void *arg)
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
static inline sp_handler_result_t h_async(sp_request_t *req, void *ud)
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
static inline sp_handler_result_t h_async_now(sp_request_t *req, void *ud)
{
    sp_response_set_body(sp_request_response(req), "now", 3, "text/plain");
    sp_request_complete(req);
    return SP_HANDLER_ASYNC;
}

static inline sp_router_t *make_router(void)
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

static inline void append(char **buf, size_t *len, const char *data, size_t n)
{
    char *grown = realloc(*buf, *len + n + 1);
    assert_non_null(grown);
    memcpy(grown + *len, data, n);
    *len += n;
    grown[*len] = '\0';
    *buf = grown;
}

static inline size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    reply_t *r = ud;
    append(&r->body, &r->len, data, size * n);
    return size * n;
}

static inline size_t on_head(char *data, size_t size, size_t n, void *ud)
{
    reply_t *r = ud;
    append(&r->head, &r->hlen, data, size * n);
    return size * n;
}

static inline void reply_free(reply_t *r)
{
    free(r->body);
    free(r->head);
    memset(r, 0, sizeof *r);
}

/* The value of response header name (last occurrence) copied into out, or
 * NULL when absent. */
static inline const char *reply_header(const reply_t *r, const char *name, char *out, size_t cap)
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

static inline CURL *easy_for(int port, const char *method, const char *path, const char *body,
                             long blen, struct curl_slist *hdrs, reply_t *out)
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
static inline reply_t http_do(int port, const char *method, const char *path, const char *body,
                              long blen, const char *const *hdrs)
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

static inline reply_t http_get(int port, const char *path)
{
    return http_do(port, "GET", path, NULL, 0, NULL);
}

/* error.code of a platform error body, copied into out. */
static inline const char *error_code(const reply_t *r, char *out, size_t cap)
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

/* Waits (up to 10 s) until every async completion thread has finished, so
 * none outlives the test and the leak checker sees a quiet process. */
static inline void wait_async_quiet(void)
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

static inline sp_http_server_t *start_server(const sp_http_options_t *o, int *port)
{
    sp_http_server_t *srv = sp_http_server_new(o, g_fx.router);
    assert_non_null(srv);
    assert_int_equal(sp_http_server_start(srv), 0);
    *port = sp_http_server_port(srv);
    assert_true(*port > 0);
    return srv;
}

static inline int group_setup(void **state)
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

static inline int group_teardown(void **state)
{
    sp_http_server_destroy(&g_fx.srv);
    assert_null(g_fx.srv);
    sp_router_destroy(&g_fx.router);
    curl_global_cleanup();
    return 0;
}

#endif
