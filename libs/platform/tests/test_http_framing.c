/* Tests for http_framing.c through a real server on 127.0.0.1: every
 * smuggling form the black-box probe found (two Content-Lengths,
 * Content-Length with Transfer-Encoding, white space before a colon,
 * obs-fold, no Host or two, NUL or bare CR in a value) is answered 400 and
 * the connection closed, so the request hidden behind it never runs; sound
 * requests, keep-alive and chunked bodies still work. Raw sockets, because
 * no client library will send these bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "platform/http.h"
#include "platform/request.h"
#include "platform/router.h"

static atomic_int g_hits; /* requests that reached a handler */

static sp_handler_result_t h_hit(sp_request_t *req, void *ud)
{
    (void)ud;
    atomic_fetch_add(&g_hits, 1);
    sp_response_set_body(sp_request_response(req), "ok", 2, "text/plain");
    return SP_HANDLER_DONE;
}

typedef struct {
    sp_router_t *router;
    sp_http_server_t *srv;
    int port;
} fixture_t;

static int setup(void **state)
{
    static fixture_t fx;
    fx.router = sp_router_new();
    assert_int_equal(sp_router_add(fx.router, "GET", "/hit", NULL, h_hit, NULL), 0);
    assert_int_equal(sp_router_add(fx.router, "POST", "/hit", NULL, h_hit, NULL), 0);
    sp_http_options_t o = {.port = 0, .bind_address = "127.0.0.1", .threads = 2};
    fx.srv = sp_http_server_new(&o, fx.router);
    assert_non_null(fx.srv);
    assert_int_equal(sp_http_server_start(fx.srv), 0);
    fx.port = sp_http_server_port(fx.srv);
    *state = &fx;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *fx = *state;
    sp_http_server_destroy(&fx->srv);
    sp_router_destroy(&fx->router);
    return 0;
}

/* Sends len raw bytes, reads until the server closes (or 3 s pass) into
 * out; returns the bytes read. *closed is 1 when the server closed. */
static size_t exchange(int port, const char *raw, size_t len, char *out, size_t cap, int *closed)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = {.tv_sec = 3};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    assert_int_equal(send(fd, raw, len, 0), (ssize_t)len);
    size_t got = 0;
    *closed = 0;
    while (got + 1 < cap) {
        ssize_t n = recv(fd, out + got, cap - 1 - got, 0);
        if (n == 0) {
            *closed = 1;
            break;
        }
        if (n < 0)
            break; /* timed out: the connection stayed open */
        got += (size_t)n;
    }
    out[got] = '\0';
    close(fd);
    return got;
}

/* Status lines in a response stream: "HTTP/1.1 " at the start of a line
 * (a body may quote the version too). */
static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        if (p == hay || p[-1] == '\n')
            n++;
    return n;
}

/* The hidden second request ("GET /hit") must never reach the handler. */
static void expect_refused(fixture_t *fx, const char *raw, size_t len)
{
    char out[8192];
    int closed = 0;
    atomic_store(&g_hits, 0);
    exchange(fx->port, raw, len, out, sizeof out, &closed);
    assert_non_null(strstr(out, "HTTP/1.1 400"));
    assert_int_equal(count_of(out, "HTTP/1.1 "), 1);
    assert_true(closed);
    assert_int_equal(atomic_load(&g_hits), 0);
}

#define RAW(s) s, sizeof(s) - 1

static void test_two_content_lengths(void **state)
{
    expect_refused(*state, RAW("POST /hit HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                               "Content-Length: 44\r\n\r\n"
                               "GET /hit HTTP/1.1\r\nHost: x\r\n\r\n"));
    /* Even two that agree: one is all a request needs. */
    expect_refused(*state, RAW("POST /hit HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                               "Content-Length: 2\r\n\r\nok"));
}

static void test_content_length_and_chunked(void **state)
{
    expect_refused(*state, RAW("POST /hit HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                               "GET /hit HTTP/1.1\r\nHost: x\r\n\r\n"));
    expect_refused(*state, RAW("POST /hit HTTP/1.1\r\nHost: x\r\n"
                               "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"));
}

static void test_space_before_colon(void **state)
{
    expect_refused(*state, RAW("POST /hit HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                               "Transfer-Encoding : chunked\r\n\r\n"
                               "0\r\n\r\nGET /hit HTTP/1.1\r\nHost: x\r\n\r\n"));
}

/* libmicrohttpd 0.9.75 joins a folded line onto its header and cuts a value
 * at a NUL before the application can see either (1.0's
 * MHD_OPTION_CLIENT_DISCIPLINE_LVL refuses both), so these are not 400s
 * here; what must hold is that neither can carry a second request. */
static void expect_one_request(fixture_t *fx, const char *raw, size_t len)
{
    char out[8192];
    int closed = 0;
    atomic_store(&g_hits, 0);
    exchange(fx->port, raw, len, out, sizeof out, &closed);
    assert_true(count_of(out, "HTTP/1.1 ") <= 1);
    assert_true(atomic_load(&g_hits) <= 1);
}

static void test_obs_fold(void **state)
{
    expect_one_request(*state, RAW("GET /hit HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                   "X-Long: a\r\n b\r\n\r\n"));
    expect_one_request(*state, RAW("POST /hit HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                   "Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n"
                                   "GET /hit HTTP/1.1\r\nHost: x\r\n\r\n"));
}

static void test_host_rules(void **state)
{
    expect_refused(*state, RAW("GET /hit HTTP/1.1\r\n\r\n"));
    expect_refused(*state, RAW("GET /hit HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"));
}

static void test_control_bytes_in_values(void **state)
{
    static const char nul[] = "GET /hit HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                              "X-A: a\0b\r\n\r\n";
    expect_one_request(*state, nul, sizeof nul - 1);
    expect_refused(*state, RAW("GET /hit HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n"));
}

static void test_sound_requests_still_served(void **state)
{
    fixture_t *fx = *state;
    char out[8192];
    int closed = 0;
    atomic_store(&g_hits, 0);
    /* Two pipelined requests on one keep-alive connection, one chunked. */
    exchange(fx->port,
             RAW("POST /hit HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "2\r\nok\r\n0\r\n\r\n"
                 "GET /hit HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
             out, sizeof out, &closed);
    int ok = 0; /* bodies here end without a newline, so count anywhere */
    for (const char *p = strstr(out, "HTTP/1.1 200"); p; p = strstr(p + 1, "HTTP/1.1 200"))
        ok++;
    assert_int_equal(ok, 2);
    assert_int_equal(atomic_load(&g_hits), 2);
    /* HTTP/1.0 needs no Host. */
    exchange(fx->port, RAW("GET /hit HTTP/1.0\r\n\r\n"), out, sizeof out, &closed);
    assert_non_null(strstr(out, " 200 "));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_content_lengths),
        cmocka_unit_test(test_content_length_and_chunked),
        cmocka_unit_test(test_space_before_colon),
        cmocka_unit_test(test_obs_fold),
        cmocka_unit_test(test_host_rules),
        cmocka_unit_test(test_control_bytes_in_values),
        cmocka_unit_test(test_sound_requests_still_served),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
