/*
 * test_service.c — the service runtime: configuration errors, the operations
 * port, readiness from checks, the built-in status route over RPC, and a clean
 * exit on SIGTERM.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "platform/error.h"
#include "platform/log.h"
#include "platform/service.h"
#include "ping.pb-c.h"

#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

typedef struct {
    char data[8192];
    size_t len;
} body_t;

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
    body_t *b = ud;
    size_t take = size * n;
    if (take > sizeof(b->data) - 1 - b->len)
        take = sizeof(b->data) - 1 - b->len;
    memcpy(b->data + b->len, p, take);
    b->len += take;
    b->data[b->len] = '\0';
    return size * n;
}

/* GET http://127.0.0.1:port/path; returns the status (0 when unreachable). */
static long http_get(int port, const char *path, body_t *body)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    CURL *c = curl_easy_init();
    body->len = 0;
    body->data[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 3000L);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    return status;
}

static void test_bad_config_is_refused(void **state)
{
    (void)state;
    setenv("SERPHONA_OPS_PORT", "not-a-port", 1);
    setenv("SERPHONA_LOG_LEVEL", "loud", 1);
    assert_null(sp_service_new("billing", 0, NULL));
    unsetenv("SERPHONA_OPS_PORT");
    unsetenv("SERPHONA_LOG_LEVEL");
    assert_null(sp_service_new("no-such-service", 0, NULL));
}

static volatile int dependency_up = 1;

static int fake_dependency(void *ud)
{
    (void)ud;
    return dependency_up ? 0 : SP_EUNAVAILABLE;
}

typedef struct {
    sp_service_t *svc;
    int rc;
} run_t;

static void *run_service(void *arg)
{
    run_t *r = arg;
    r->rc = sp_service_run(r->svc);
    return NULL;
}

static void test_run_ready_status_and_sigterm(void **state)
{
    (void)state;
    char buf[16];
    int ops = free_port(), rpc = free_port();
    snprintf(buf, sizeof buf, "%d", ops);
    setenv("SERPHONA_OPS_PORT", buf, 1);
    snprintf(buf, sizeof buf, "%d", rpc);
    setenv("SERPHONA_RPC_PORT", buf, 1);
    setenv("SERPHONA_BIND_ADDR", "127.0.0.1", 1);
    setenv("SERPHONA_LOG_LEVEL", "error", 1);

    run_t r = {.svc = sp_service_new("billing", 0, NULL), .rc = -1};
    assert_non_null(r.svc);
    assert_int_equal(sp_service_add_ready_check(r.svc, "fake", fake_dependency, NULL), 0);
    assert_int_equal(sp_service_serve_rpc(r.svc), 0);
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, run_service, &r), 0);

    body_t body;
    long status = 0;
    for (int i = 0; i < 100 && status != 200; i++) {
        status = http_get(ops, "/health/live", &body);
        if (status != 200) {
            struct timespec ts = {0, 50 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    assert_int_equal(status, 200);
    assert_int_equal(http_get(ops, "/health/ready", &body), 200);
    assert_non_null(strstr(body.data, "\"fake\":\"ok\""));
    dependency_up = 0;
    assert_int_equal(http_get(ops, "/health/ready", &body), 503);
    assert_non_null(strstr(body.data, "\"status\":\"not_ready\""));
    assert_non_null(strstr(body.data, "\"fake\":\"dependency unavailable\""));
    dependency_up = 1;
    assert_int_equal(http_get(ops, "/metrics", &body), 200);
    assert_non_null(strstr(body.data, "serphona_build_info{service=\"billing\""));

    /* The built-in status route and ping, over RPC. */
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", rpc);
    sp_rpc_client_t *cl = sp_rpc_client_new(endpoint);
    Serphona__Ping__V1__PingRequest in = SERPHONA__PING__V1__PING_REQUEST__INIT;
    in.payload = "hi";
    ProtobufCMessage *out = NULL;
    assert_int_equal(sp_rpc_client_call_typed(cl, "billing.Ping", NULL, &in.base,
                                              &serphona__ping__v1__ping_reply__descriptor, 3000,
                                              &out),
                     0);
    assert_string_equal(((Serphona__Ping__V1__PingReply *)out)->service, "billing");
    protobuf_c_message_free_unpacked(out, NULL);

    Serphona__Rpc__V1__Envelope env = SERPHONA__RPC__V1__ENVELOPE__INIT;
    Serphona__Rpc__V1__HttpRequest http = SERPHONA__RPC__V1__HTTP_REQUEST__INIT;
    env.method = "http";
    env.body_case = SERPHONA__RPC__V1__ENVELOPE__BODY_HTTP_REQUEST;
    env.http_request = &http;
    http.method = "GET";
    http.path = "/v1/system/billing";
    Serphona__Rpc__V1__Envelope *reply = NULL;
    assert_int_equal(sp_rpc_client_call(cl, &env, 3000, &reply), 0);
    assert_int_equal(reply->body_case, SERPHONA__RPC__V1__ENVELOPE__BODY_HTTP_RESPONSE);
    assert_int_equal(reply->http_response->status, 200);
    assert_non_null(memmem(reply->http_response->body.data, reply->http_response->body.len,
                           "\"service\":\"billing\"", 19));
    serphona__rpc__v1__envelope__free_unpacked(reply, NULL);
    sp_rpc_client_destroy(&cl);

    /* SIGTERM: the service drains and sp_service_run returns 0. */
    kill(getpid(), SIGTERM);
    pthread_join(thread, NULL);
    assert_int_equal(r.rc, 0);
    assert_int_equal(http_get(ops, "/health/live", &body), 0); /* port closed */
    unsetenv("SERPHONA_OPS_PORT");
    unsetenv("SERPHONA_RPC_PORT");
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_config_is_refused),
        cmocka_unit_test(test_run_ready_status_and_sigterm),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
