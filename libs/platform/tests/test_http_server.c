/* Tests for http.c and http_exchange.c: suspend/resume under concurrency,
 * graceful stop, malformed HTTP, access log, options and bind
 * failure, and many requests in a row for the sanitizers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http_fixture.h"

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
    double t0 = ((double)sp_clock_mono_us() / 1e6);
    int running = 1;
    while (running) {
        assert_int_equal(curl_multi_perform(m, &running), CURLM_OK);
        if (running)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    double took = ((double)sp_clock_mono_us() / 1e6) - t0;
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

    double t0 = ((double)sp_clock_mono_us() / 1e6);
    sp_http_server_stop(srv);
    double took = ((double)sp_clock_mono_us() / 1e6) - t0;
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

    double t0 = ((double)sp_clock_mono_us() / 1e6);
    sp_http_server_destroy(&srv);
    double took = ((double)sp_clock_mono_us() / 1e6) - t0;
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
    const char *json[] = {"Content-Type: application/json", NULL};
    for (int i = 0; i < 50; i++) {
        r = http_do(g_fx.port, "POST", "/v1/echo", "[1,2,3]", 7, json);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, "[1,2,3]");
        reply_free(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_async_concurrency),  cmocka_unit_test(test_stop_waits_for_async),
        cmocka_unit_test(test_stop_grace_expires), cmocka_unit_test(test_malformed_http),
        cmocka_unit_test(test_access_log),         cmocka_unit_test(test_options_and_bind_failure),
        cmocka_unit_test(test_many_sequential),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
