/*
 * rpc_fixture.h — what the RPC tests share: a server with HTTP handlers and
 * typed methods on a loopback port, a client connected to it, and envelope
 * helpers. Include after cmocka.h; helpers are static inline so a test file
 * need not use them all.
 */
#ifndef SP_TEST_RPC_FIXTURE_H
#define SP_TEST_RPC_FIXTURE_H

#include "platform/clock.h"
#include "platform/error.h"
#include "platform/log.h"
#include "platform/metrics.h"
#include "platform/request.h"
#include "platform/router.h"
#include "platform/rpc.h"

#include "ping.pb-c.h"

#include <arpa/inet.h>
#include <czmq.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SERVICE "testsvc"

typedef struct {
    sp_router_t *router;
    sp_rpc_server_t *server;
    sp_rpc_client_t *client;
    atomic_int handler_runs; /* handlers that must not run bump this */
    atomic_int sleep_runs;
} fixture_t;

static inline void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- handlers ------------------------------------------------------------ */

/* POST /v1/items/{id}: echoes the path param, a JSON field and the tenant. */
static inline sp_handler_result_t item_handler(sp_request_t *req, void *ud)
{
    cJSON *body;
    if (sp_request_json(req, &body) != 0)
        return SP_HANDLER_DONE;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(body, "name");
    const sp_auth_t *auth = sp_request_auth(req);
    cJSON *out = cJSON_CreateObject();
    /* test_trace_in_log_lines looks for this line and its trace. */
    sp_log_debug("item handler for %s", sp_request_param(req, "id"));
    cJSON_AddStringToObject(out, "id", sp_request_param(req, "id"));
    cJSON_AddStringToObject(out, "name", cJSON_IsString(name) ? name->valuestring : "");
    cJSON_AddStringToObject(out, "tenant", auth && auth->tenant_id ? auth->tenant_id : "");
    cJSON_AddStringToObject(out, "q", sp_request_query(req, "q") ? sp_request_query(req, "q") : "");
    cJSON_AddStringToObject(out, "request_id", sp_request_id(req) ? sp_request_id(req) : "");
    sp_response_json(sp_request_response(req), 201, out);
    sp_response_set_header(sp_request_response(req), "X-Item", "yes");
    cJSON_Delete(out);
    return SP_HANDLER_DONE;
}

/* GET /v1/counted: must not run in the deadline test. */
static inline sp_handler_result_t counted_handler(sp_request_t *req, void *ud)
{
    fixture_t *f = ud;
    atomic_fetch_add(&f->handler_runs, 1);
    sp_response_set_body(sp_request_response(req), "ran", 3, "text/plain");
    return SP_HANDLER_DONE;
}

static inline void *complete_later(void *arg)
{
    sp_request_t *req = arg;
    sleep_ms(50);
    sp_response_set_body(sp_request_response(req), "later", 5, "text/plain");
    sp_response_set_status(sp_request_response(req), 202);
    sp_request_complete(req);
    return NULL;
}

/* GET /v1/async: completes from another thread. */
static inline sp_handler_result_t async_handler(sp_request_t *req, void *ud)
{
    pthread_t t;
    if (pthread_create(&t, NULL, complete_later, req) != 0)
        return SP_HANDLER_DONE;
    pthread_detach(t);
    return SP_HANDLER_ASYNC;
}

/* testsvc.Sleep: sleeps 300 ms, then answers with an empty message. */
static inline int sleep_method(sp_rpc_call_t *call, const uint8_t *in, size_t in_len,
                               sp_arena_t *arena, uint8_t **out, size_t *out_len, void *ud)
{
    fixture_t *f = ud;
    atomic_fetch_add(&f->sleep_runs, 1);
    sleep_ms(300);
    *out = NULL;
    *out_len = 0;
    return 0;
}

/* testsvc.Counted: must not run in the deadline test. */
static inline int counted_method(sp_rpc_call_t *call, const uint8_t *in, size_t in_len,
                                 sp_arena_t *arena, uint8_t **out, size_t *out_len, void *ud)
{
    fixture_t *f = ud;
    atomic_fetch_add(&f->handler_runs, 1);
    return 0;
}

/* testsvc.Fail: fails with a message. */
static inline int fail_method(sp_rpc_call_t *call, const uint8_t *in, size_t in_len,
                              sp_arena_t *arena, uint8_t **out, size_t *out_len, void *ud)
{
    call->error_message = "quota exhausted";
    return SP_EDENIED;
}

/* ---- fixture ------------------------------------------------------------- */

static inline int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->router = sp_router_new();
    assert_non_null(f->router);
    assert_int_equal(sp_router_add(f->router, "POST", "/v1/items/{id}", NULL, item_handler, f), 0);
    assert_int_equal(sp_router_add(f->router, "GET", "/v1/counted", NULL, counted_handler, f), 0);
    assert_int_equal(sp_router_add(f->router, "GET", "/v1/async", NULL, async_handler, f), 0);
    f->server = sp_rpc_server_new(SERVICE, "tcp://127.0.0.1:*", f->router, 4);
    assert_non_null(f->server);
    assert_true(sp_rpc_server_port(f->server) > 0);
    assert_int_equal(sp_rpc_server_add_method(f->server, SERVICE ".Sleep", sleep_method, f), 0);
    assert_int_equal(sp_rpc_server_add_method(f->server, SERVICE ".Counted", counted_method, f), 0);
    assert_int_equal(sp_rpc_server_add_method(f->server, SERVICE ".Fail", fail_method, f), 0);
    assert_int_equal(sp_rpc_server_add_method(f->server, SERVICE ".Ping", fail_method, f),
                     SP_EEXISTS);
    assert_int_equal(sp_rpc_server_add_method(f->server, "http", fail_method, f), SP_EEXISTS);
    assert_int_equal(sp_rpc_server_start(f->server), 0);
    assert_int_equal(sp_rpc_server_add_method(f->server, SERVICE ".Late", fail_method, f),
                     SP_EINVAL);
    f->client = sp_rpc_client_new(sp_rpc_server_endpoint(f->server));
    assert_non_null(f->client);
    *state = f;
    return 0;
}

static inline int teardown(void **state)
{
    fixture_t *f = *state;
    sp_rpc_client_destroy(&f->client);
    sp_rpc_server_destroy(&f->server);
    assert_null(f->server);
    sp_router_destroy(&f->router);
    free(f);
    return 0;
}

/* A port nothing listens on: bind port 0, read it, close. */
static inline int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t len = sizeof sa;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

static inline int ping(sp_rpc_client_t *cl, const char *payload, int timeout_ms,
                       Serphona__Ping__V1__PingReply **out)
{
    Serphona__Ping__V1__PingRequest in = SERPHONA__PING__V1__PING_REQUEST__INIT;
    in.payload = (char *)payload;
    return sp_rpc_client_call_typed(cl, SERVICE ".Ping", NULL, &in.base,
                                    &serphona__ping__v1__ping_reply__descriptor, timeout_ms,
                                    (ProtobufCMessage **)out);
}

/* An "http" envelope; strings must outlive the call. */
typedef struct {
    Serphona__Rpc__V1__Envelope env;
    Serphona__Rpc__V1__HttpRequest http;
    Serphona__Rpc__V1__AuthContext auth;
    Serphona__Rpc__V1__Header hdr;
    Serphona__Rpc__V1__Header *hdrs[1];
} http_env_t;

static inline void http_env_init(http_env_t *h, const char *method, const char *path,
                                 const char *query, const char *body)
{
    serphona__rpc__v1__envelope__init(&h->env);
    serphona__rpc__v1__http_request__init(&h->http);
    serphona__rpc__v1__auth_context__init(&h->auth);
    serphona__rpc__v1__header__init(&h->hdr);
    h->hdr.name = "Content-Type";
    h->hdr.value = "application/json";
    h->hdrs[0] = &h->hdr;
    h->http.method = (char *)method;
    h->http.path = (char *)path;
    h->http.query = (char *)query;
    h->http.headers = h->hdrs;
    h->http.n_headers = 1;
    h->http.body.data = (uint8_t *)body;
    h->http.body.len = strlen(body);
    h->http.remote_addr = "203.0.113.9";
    h->auth.tenant_id = "tenant-42";
    h->auth.subject = "user-1";
    h->env.method = "http";
    h->env.auth = &h->auth;
    h->env.body_case = SERPHONA__RPC__V1__ENVELOPE__BODY_HTTP_REQUEST;
    h->env.http_request = &h->http;
}

#endif
