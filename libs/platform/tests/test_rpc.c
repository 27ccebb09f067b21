/*
 * test_rpc.c — the RPC server and client over real TCP sockets on loopback.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

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

static int64_t now_unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- handlers ------------------------------------------------------------ */

/* POST /v1/items/{id}: echoes the path param, a JSON field and the tenant. */
static sp_handler_result_t item_handler(sp_request_t *req, void *ud)
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
static sp_handler_result_t counted_handler(sp_request_t *req, void *ud)
{
    fixture_t *f = ud;
    atomic_fetch_add(&f->handler_runs, 1);
    sp_response_set_body(sp_request_response(req), "ran", 3, "text/plain");
    return SP_HANDLER_DONE;
}

static void *complete_later(void *arg)
{
    sp_request_t *req = arg;
    sleep_ms(50);
    sp_response_set_body(sp_request_response(req), "later", 5, "text/plain");
    sp_response_set_status(sp_request_response(req), 202);
    sp_request_complete(req);
    return NULL;
}

/* GET /v1/async: completes from another thread. */
static sp_handler_result_t async_handler(sp_request_t *req, void *ud)
{
    pthread_t t;
    if (pthread_create(&t, NULL, complete_later, req) != 0)
        return SP_HANDLER_DONE;
    pthread_detach(t);
    return SP_HANDLER_ASYNC;
}

/* testsvc.Sleep: sleeps 300 ms, then answers with an empty message. */
static int sleep_method(sp_rpc_call_t *call, const uint8_t *in, size_t in_len, sp_arena_t *arena,
                        uint8_t **out, size_t *out_len, void *ud)
{
    fixture_t *f = ud;
    atomic_fetch_add(&f->sleep_runs, 1);
    sleep_ms(300);
    *out = NULL;
    *out_len = 0;
    return 0;
}

/* testsvc.Counted: must not run in the deadline test. */
static int counted_method(sp_rpc_call_t *call, const uint8_t *in, size_t in_len, sp_arena_t *arena,
                          uint8_t **out, size_t *out_len, void *ud)
{
    fixture_t *f = ud;
    atomic_fetch_add(&f->handler_runs, 1);
    return 0;
}

/* testsvc.Fail: fails with a message. */
static int fail_method(sp_rpc_call_t *call, const uint8_t *in, size_t in_len, sp_arena_t *arena,
                       uint8_t **out, size_t *out_len, void *ud)
{
    call->error_message = "quota exhausted";
    return SP_EDENIED;
}

/* ---- fixture ------------------------------------------------------------- */

static int setup(void **state)
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

static int teardown(void **state)
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
static int free_port(void)
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

static int ping(sp_rpc_client_t *cl, const char *payload, int timeout_ms,
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

static void http_env_init(http_env_t *h, const char *method, const char *path, const char *query,
                          const char *body)
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

/* ---- tests --------------------------------------------------------------- */

static void test_ping_typed(void **state)
{
    fixture_t *f = *state;
    Serphona__Ping__V1__PingReply *reply = NULL;
    int64_t before = now_unix_ms();
    assert_int_equal(ping(f->client, "hello", 2000, &reply), 0);
    assert_non_null(reply);
    assert_string_equal(reply->service, SERVICE);
    assert_string_equal(reply->payload, "hello");
    assert_true(reply->server_time_unix_ms >= before - 1000);
    assert_true(reply->server_time_unix_ms <= now_unix_ms() + 1000);
    protobuf_c_message_free_unpacked(&reply->base, NULL);

    char *text = sp_metrics_render(NULL);
    assert_non_null(text);
    assert_non_null(
        strstr(text, "serphona_rpc_server_requests_total{method=\"testsvc.Ping\",status=\"ok\"}"));
    assert_non_null(
        strstr(text, "serphona_rpc_client_requests_total{method=\"testsvc.Ping\",result=\"ok\"}"));
    assert_non_null(
        strstr(text, "serphona_rpc_server_duration_seconds_count{method=\"testsvc.Ping\"}"));
    free(text);
}

static void test_http_forwarded(void **state)
{
    fixture_t *f = *state;
    http_env_t h;
    http_env_init(&h, "POST", "/v1/items/abc123", "q=x%20y", "{\"name\":\"widget\"}");
    h.env.request_id = "req-http-1";
    Serphona__Rpc__V1__Envelope *reply = NULL;
    assert_int_equal(sp_rpc_client_call(f->client, &h.env, 2000, &reply), 0);
    assert_non_null(reply);
    assert_string_equal(reply->request_id, "req-http-1");
    assert_int_equal(reply->status, SERPHONA__RPC__V1__STATUS__STATUS_OK);
    assert_int_equal(reply->body_case, SERPHONA__RPC__V1__ENVELOPE__BODY_HTTP_RESPONSE);
    const Serphona__Rpc__V1__HttpResponse *r = reply->http_response;
    assert_int_equal(r->status, 201);
    int saw_item = 0, saw_ct = 0;
    for (size_t i = 0; i < r->n_headers; i++) {
        if (strcasecmp(r->headers[i]->name, "X-Item") == 0 &&
            strcmp(r->headers[i]->value, "yes") == 0)
            saw_item = 1;
        if (strcasecmp(r->headers[i]->name, "Content-Type") == 0 &&
            strstr(r->headers[i]->value, "application/json"))
            saw_ct = 1;
    }
    assert_true(saw_item);
    assert_true(saw_ct);
    cJSON *json = cJSON_ParseWithLength((const char *)r->body.data, r->body.len);
    assert_non_null(json);
    assert_string_equal(cJSON_GetObjectItem(json, "id")->valuestring, "abc123");
    assert_string_equal(cJSON_GetObjectItem(json, "name")->valuestring, "widget");
    assert_string_equal(cJSON_GetObjectItem(json, "tenant")->valuestring, "tenant-42");
    assert_string_equal(cJSON_GetObjectItem(json, "q")->valuestring, "x y");
    assert_string_equal(cJSON_GetObjectItem(json, "request_id")->valuestring, "req-http-1");
    cJSON_Delete(json);
    serphona__rpc__v1__envelope__free_unpacked(reply, NULL);

    /* Invalid JSON reaches the same handler and gets the platform's 400. */
    http_env_init(&h, "POST", "/v1/items/abc123", "", "{not json");
    assert_int_equal(sp_rpc_client_call(f->client, &h.env, 2000, &reply), 0);
    assert_int_equal(reply->status, SERPHONA__RPC__V1__STATUS__STATUS_OK);
    assert_int_equal(reply->http_response->status, 400);
    serphona__rpc__v1__envelope__free_unpacked(reply, NULL);
}

/* A handler served over RPC logs with the envelope's request id, tenant and
 * trace. */
static void test_trace_in_log_lines(void **state)
{
    fixture_t *f = *state;
    FILE *log = tmpfile();
    assert_non_null(log);
    sp_log_init("test_rpc", SP_LOG_DEBUG);
    sp_log_set_output(log);
    http_env_t h;
    http_env_init(&h, "POST", "/v1/items/traced-1", "", "{\"name\":\"t\"}");
    h.env.request_id = "req-trace-1";
    h.env.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    Serphona__Rpc__V1__Envelope *reply = NULL;
    assert_int_equal(sp_rpc_client_call(f->client, &h.env, 2000, &reply), 0);
    assert_int_equal(reply->http_response->status, 201);
    serphona__rpc__v1__envelope__free_unpacked(reply, NULL);
    sp_log_set_output(NULL);
    sp_log_init("test_rpc", SP_LOG_ERROR);

    rewind(log);
    char line[4096];
    int found = 0;
    while (fgets(line, sizeof line, log)) {
        cJSON *o = cJSON_Parse(line);
        assert_non_null(o);
        cJSON *msg = cJSON_GetObjectItem(o, "msg");
        if (cJSON_IsString(msg) && strcmp(msg->valuestring, "item handler for traced-1") == 0) {
            found = 1;
            assert_string_equal(cJSON_GetObjectItem(o, "request_id")->valuestring, "req-trace-1");
            assert_string_equal(cJSON_GetObjectItem(o, "tenant_id")->valuestring, "tenant-42");
            assert_string_equal(cJSON_GetObjectItem(o, "trace_id")->valuestring,
                                "4bf92f3577b34da6a3ce929d0e0e4736");
            assert_string_equal(cJSON_GetObjectItem(o, "span_id")->valuestring, "00f067aa0ba902b7");
        }
        cJSON_Delete(o);
    }
    fclose(log);
    assert_true(found);
}

static void test_http_async_handler(void **state)
{
    fixture_t *f = *state;
    http_env_t h;
    http_env_init(&h, "GET", "/v1/async", "", "");
    Serphona__Rpc__V1__Envelope *reply = NULL;
    assert_int_equal(sp_rpc_client_call(f->client, &h.env, 2000, &reply), 0);
    assert_int_equal(reply->status, SERPHONA__RPC__V1__STATUS__STATUS_OK);
    assert_int_equal(reply->http_response->status, 202);
    assert_int_equal(reply->http_response->body.len, 5);
    assert_memory_equal(reply->http_response->body.data, "later", 5);
    serphona__rpc__v1__envelope__free_unpacked(reply, NULL);
}

static void test_http_404_and_405(void **state)
{
    fixture_t *f = *state;
    http_env_t h;
    http_env_init(&h, "GET", "/v1/nothing/here", "", "");
    Serphona__Rpc__V1__Envelope *reply = NULL;
    assert_int_equal(sp_rpc_client_call(f->client, &h.env, 2000, &reply), 0);
    assert_int_equal(reply->status, SERPHONA__RPC__V1__STATUS__STATUS_OK);
    assert_int_equal(reply->http_response->status, 404);
    assert_non_null(memmem(reply->http_response->body.data, reply->http_response->body.len,
                           "route_not_found", 15));
    serphona__rpc__v1__envelope__free_unpacked(reply, NULL);

    http_env_init(&h, "DELETE", "/v1/counted", "", "");
    assert_int_equal(sp_rpc_client_call(f->client, &h.env, 2000, &reply), 0);
    assert_int_equal(reply->http_response->status, 405);
    serphona__rpc__v1__envelope__free_unpacked(reply, NULL);

    /* "http" without an http_request body is the caller's mistake. */
    Serphona__Rpc__V1__Envelope env = SERPHONA__RPC__V1__ENVELOPE__INIT;
    env.method = "http";
    assert_int_equal(sp_rpc_client_call(f->client, &env, 2000, &reply), 0);
    assert_int_equal(reply->status, SERPHONA__RPC__V1__STATUS__STATUS_BAD_REQUEST);
    serphona__rpc__v1__envelope__free_unpacked(reply, NULL);
}

static void test_unknown_method_and_errors(void **state)
{
    fixture_t *f = *state;
    Serphona__Rpc__V1__Envelope env = SERPHONA__RPC__V1__ENVELOPE__INIT;
    env.method = SERVICE ".NoSuchThing";
    Serphona__Rpc__V1__Envelope *reply = NULL;
    assert_int_equal(sp_rpc_client_call(f->client, &env, 2000, &reply), 0);
    assert_int_equal(reply->status, SERPHONA__RPC__V1__STATUS__STATUS_NOT_FOUND);
    assert_int_equal(strlen(reply->request_id), 32); /* generated */
    assert_string_equal(reply->method, SERVICE ".NoSuchThing");
    serphona__rpc__v1__envelope__free_unpacked(reply, NULL);

    Serphona__Ping__V1__PingRequest in = SERPHONA__PING__V1__PING_REQUEST__INIT;
    ProtobufCMessage *out = NULL;
    assert_int_equal(sp_rpc_client_call_typed(f->client, "other.Ping", NULL, &in.base,
                                              &serphona__ping__v1__ping_reply__descriptor, 2000,
                                              &out),
                     SP_ENOTFOUND);
    assert_null(out);

    /* A method's own error and message travel back. */
    env.method = SERVICE ".Fail";
    assert_int_equal(sp_rpc_client_call(f->client, &env, 2000, &reply), 0);
    assert_int_equal(reply->status, SERPHONA__RPC__V1__STATUS__STATUS_PERMISSION_DENIED);
    assert_string_equal(reply->error_message, "quota exhausted");
    serphona__rpc__v1__envelope__free_unpacked(reply, NULL);

    /* A typed body that is not a PingRequest. */
    Serphona__Rpc__V1__TypedMessage bad = SERPHONA__RPC__V1__TYPED_MESSAGE__INIT;
    bad.data.data = (uint8_t *)"\xff\xff\xff";
    bad.data.len = 3;
    env.method = SERVICE ".Ping";
    env.body_case = SERPHONA__RPC__V1__ENVELOPE__BODY_MESSAGE;
    env.message = &bad;
    assert_int_equal(sp_rpc_client_call(f->client, &env, 2000, &reply), 0);
    assert_int_equal(reply->status, SERPHONA__RPC__V1__STATUS__STATUS_BAD_REQUEST);
    serphona__rpc__v1__envelope__free_unpacked(reply, NULL);

    /* Bad arguments never reach the wire. */
    env.method = "";
    assert_int_equal(sp_rpc_client_call(f->client, &env, 2000, &reply), SP_EINVAL);
    env.method = SERVICE ".Ping";
    assert_int_equal(sp_rpc_client_call(f->client, &env, 0, &reply), SP_EINVAL);
}

static void test_deadline_exceeded(void **state)
{
    fixture_t *f = *state;
    http_env_t h;
    http_env_init(&h, "GET", "/v1/counted", "", "");
    h.env.deadline_unix_ms = now_unix_ms() - 1000;
    Serphona__Rpc__V1__Envelope *reply = NULL;
    assert_int_equal(sp_rpc_client_call(f->client, &h.env, 2000, &reply), 0);
    assert_int_equal(reply->status, SERPHONA__RPC__V1__STATUS__STATUS_DEADLINE_EXCEEDED);
    assert_int_equal(reply->body_case, SERPHONA__RPC__V1__ENVELOPE__BODY__NOT_SET);
    serphona__rpc__v1__envelope__free_unpacked(reply, NULL);

    Serphona__Rpc__V1__Envelope env = SERPHONA__RPC__V1__ENVELOPE__INIT;
    env.method = SERVICE ".Counted";
    env.deadline_unix_ms = now_unix_ms() - 1;
    assert_int_equal(sp_rpc_client_call(f->client, &env, 2000, &reply), 0);
    assert_int_equal(reply->status, SERPHONA__RPC__V1__STATUS__STATUS_DEADLINE_EXCEEDED);
    serphona__rpc__v1__envelope__free_unpacked(reply, NULL);
    assert_int_equal(atomic_load(&f->handler_runs), 0);

    /* The same requests with time left do run: the test above can fail. */
    h.env.deadline_unix_ms = 0;
    assert_int_equal(sp_rpc_client_call(f->client, &h.env, 2000, &reply), 0);
    assert_int_equal(reply->http_response->status, 200);
    serphona__rpc__v1__envelope__free_unpacked(reply, NULL);
    assert_int_equal(atomic_load(&f->handler_runs), 1);
}

static void test_client_timeout_late_reply(void **state)
{
    fixture_t *f = *state;
    Serphona__Rpc__V1__Envelope env = SERPHONA__RPC__V1__ENVELOPE__INIT;
    env.method = SERVICE ".Sleep";
    env.request_id = "slow-1";
    Serphona__Rpc__V1__Envelope *reply = NULL;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* The server deadline (100 ms) passes while the method sleeps; the
     * worker still replies OK, but only after the client gave up. */
    assert_int_equal(sp_rpc_client_call(f->client, &env, 100, &reply), SP_ETIMEDOUT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_null(reply);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_true(ms >= 90 && ms < 280);
    /* Let the late reply arrive and be dropped, then reuse the id. */
    sleep_ms(400);
    assert_int_equal(atomic_load(&f->sleep_runs), 1);
    Serphona__Ping__V1__PingReply *pong = NULL;
    assert_int_equal(ping(f->client, "after", 2000, &pong), 0);
    assert_string_equal(pong->payload, "after");
    protobuf_c_message_free_unpacked(&pong->base, NULL);
    env.method = SERVICE ".Ping";
    assert_int_equal(sp_rpc_client_call(f->client, &env, 2000, &reply), 0);
    assert_string_equal(reply->request_id, "slow-1");
    serphona__rpc__v1__envelope__free_unpacked(reply, NULL);
}

/* ---- concurrency ----------------------------------------------------------- */

#define N_THREADS    4
#define N_PER_THREAD 50

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    int ok;
    int bad;
} tally_t;

typedef struct {
    tally_t *tally;
    char expect[32];
} expect_t;

static void on_ping_reply(int status, const Serphona__Rpc__V1__Envelope *reply, void *ud)
{
    expect_t *e = ud;
    int good = 0;
    if (status == 0 && reply->status == SERPHONA__RPC__V1__STATUS__STATUS_OK &&
        reply->body_case == SERPHONA__RPC__V1__ENVELOPE__BODY_MESSAGE) {
        Serphona__Ping__V1__PingReply *p = serphona__ping__v1__ping_reply__unpack(
            NULL, reply->message->data.len, reply->message->data.data);
        good = p && strcmp(p->payload, e->expect) == 0;
        if (p)
            serphona__ping__v1__ping_reply__free_unpacked(p, NULL);
    }
    pthread_mutex_lock(&e->tally->mu);
    e->tally->done++;
    if (good)
        e->tally->ok++;
    else
        e->tally->bad++;
    pthread_cond_broadcast(&e->tally->cv);
    pthread_mutex_unlock(&e->tally->mu);
}

typedef struct {
    sp_rpc_client_t *client;
    tally_t *tally;
    expect_t *expects; /* N_PER_THREAD */
    int thread_no;
    int submit_failures;
} submitter_t;

static void *submit_many(void *arg)
{
    submitter_t *s = arg;
    for (int i = 0; i < N_PER_THREAD; i++) {
        expect_t *e = &s->expects[i];
        e->tally = s->tally;
        snprintf(e->expect, sizeof e->expect, "t%d-%d", s->thread_no, i);
        Serphona__Ping__V1__PingRequest in = SERPHONA__PING__V1__PING_REQUEST__INIT;
        in.payload = e->expect;
        uint8_t buf[64];
        Serphona__Rpc__V1__TypedMessage body = SERPHONA__RPC__V1__TYPED_MESSAGE__INIT;
        body.data.data = buf;
        body.data.len = serphona__ping__v1__ping_request__pack(&in, buf);
        Serphona__Rpc__V1__Envelope env = SERPHONA__RPC__V1__ENVELOPE__INIT;
        env.method = SERVICE ".Ping";
        env.body_case = SERPHONA__RPC__V1__ENVELOPE__BODY_MESSAGE;
        env.message = &body;
        if (sp_rpc_client_call_async(s->client, &env, 5000, on_ping_reply, e) != 0)
            s->submit_failures++;
    }
    return NULL;
}

static void test_concurrent_async(void **state)
{
    fixture_t *f = *state;
    tally_t tally = {.done = 0};
    pthread_mutex_init(&tally.mu, NULL);
    pthread_cond_init(&tally.cv, NULL);
    static expect_t expects[N_THREADS][N_PER_THREAD];
    submitter_t subs[N_THREADS];
    pthread_t threads[N_THREADS];
    for (int t = 0; t < N_THREADS; t++) {
        subs[t] = (submitter_t){f->client, &tally, expects[t], t, 0};
        assert_int_equal(pthread_create(&threads[t], NULL, submit_many, &subs[t]), 0);
    }
    for (int t = 0; t < N_THREADS; t++) {
        pthread_join(threads[t], NULL);
        assert_int_equal(subs[t].submit_failures, 0);
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&tally.mu);
    while (tally.done < N_THREADS * N_PER_THREAD)
        if (pthread_cond_timedwait(&tally.cv, &tally.mu, &until) != 0)
            break;
    int done = tally.done, ok = tally.ok;
    pthread_mutex_unlock(&tally.mu);
    assert_int_equal(done, N_THREADS * N_PER_THREAD);
    assert_int_equal(ok, N_THREADS * N_PER_THREAD);
    pthread_cond_destroy(&tally.cv);
    pthread_mutex_destroy(&tally.mu);
}

/* ---- hostile peers ------------------------------------------------------------ */

static zmsg_t *recv_with_timeout(zsock_t *sock, int ms)
{
    zmq_pollitem_t item = {zsock_resolve(sock), 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, ms) <= 0)
        return NULL;
    return zmsg_recv(sock);
}

static void test_malformed_bytes(void **state)
{
    fixture_t *f = *state;
    zsock_t *raw = zsock_new_dealer(sp_rpc_server_endpoint(f->server));
    assert_non_null(raw);
    zsock_set_linger(raw, 0);

    /* Garbage where the envelope belongs: BAD_REQUEST comes back. */
    zmsg_t *msg = zmsg_new();
    zmsg_addmem(msg, "", 0);
    zmsg_addmem(msg, "\xff\xff\xff\xff\x0a\x99garbage", 13);
    assert_int_equal(zmsg_send(&msg, raw), 0);
    zmsg_t *got = recv_with_timeout(raw, 2000);
    assert_non_null(got);
    assert_int_equal(zmsg_size(got), 2);
    zframe_t *payload = zmsg_last(got);
    Serphona__Rpc__V1__Envelope *reply =
        serphona__rpc__v1__envelope__unpack(NULL, zframe_size(payload), zframe_data(payload));
    assert_non_null(reply);
    assert_int_equal(reply->status, SERPHONA__RPC__V1__STATUS__STATUS_BAD_REQUEST);
    serphona__rpc__v1__envelope__free_unpacked(reply, NULL);
    zmsg_destroy(&got);

    /* Shapes the server cannot route are dropped: too many frames, a
     * non-empty delimiter, an empty message body. */
    msg = zmsg_new();
    for (int i = 0; i < 5; i++)
        zmsg_addstr(msg, "x");
    assert_int_equal(zmsg_send(&msg, raw), 0);
    msg = zmsg_new();
    zmsg_addstr(msg, "not-empty");
    zmsg_addstr(msg, "payload");
    assert_int_equal(zmsg_send(&msg, raw), 0);
    /* No delimiter at all: still answered (empty bytes are a valid, empty
     * envelope with no method, hence NOT_FOUND). */
    zsock_send(raw, "b", "", (size_t)0);
    got = recv_with_timeout(raw, 2000);
    assert_non_null(got);
    assert_int_equal(zmsg_size(got), 1);
    payload = zmsg_first(got);
    reply = serphona__rpc__v1__envelope__unpack(NULL, zframe_size(payload), zframe_data(payload));
    assert_non_null(reply);
    assert_int_equal(reply->status, SERPHONA__RPC__V1__STATUS__STATUS_NOT_FOUND);
    serphona__rpc__v1__envelope__free_unpacked(reply, NULL);
    zmsg_destroy(&got);
    zsock_destroy(&raw);

    /* The server still serves. */
    Serphona__Ping__V1__PingReply *pong = NULL;
    assert_int_equal(ping(f->client, "still-alive", 2000, &pong), 0);
    assert_string_equal(pong->payload, "still-alive");
    protobuf_c_message_free_unpacked(&pong->base, NULL);
}

static void on_shutdown_reply(int status, const Serphona__Rpc__V1__Envelope *reply, void *ud)
{
    int *out = ud;
    *out = status;
}

static void test_no_server(void **state)
{
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", free_port());
    sp_rpc_client_t *cl = sp_rpc_client_new(ep);
    assert_non_null(cl);
    Serphona__Ping__V1__PingReply *pong = NULL;
    assert_int_equal(ping(cl, "anyone?", 150, &pong), SP_ETIMEDOUT);
    assert_null(pong);

    /* Destroy ends what is still pending, exactly once, with SP_ESHUTDOWN. */
    int status = 12345;
    Serphona__Rpc__V1__Envelope env = SERPHONA__RPC__V1__ENVELOPE__INIT;
    env.method = SERVICE ".Ping";
    assert_int_equal(sp_rpc_client_call_async(cl, &env, 60000, on_shutdown_reply, &status), 0);
    sp_rpc_client_destroy(&cl);
    assert_null(cl);
    assert_int_equal(status, SP_ESHUTDOWN);
    sp_rpc_client_destroy(&cl); /* NULL is fine */
}

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    int status;
    int reply_status;
} one_t;

static void on_one_reply(int status, const Serphona__Rpc__V1__Envelope *reply, void *ud)
{
    one_t *o = ud;
    pthread_mutex_lock(&o->mu);
    o->status = status;
    o->reply_status = reply ? (int)reply->status : -1;
    o->done = 1;
    pthread_cond_signal(&o->cv);
    pthread_mutex_unlock(&o->mu);
}

static void *stop_server(void *arg)
{
    sp_rpc_server_stop(arg);
    return NULL;
}

static int wait_one(one_t *o, int seconds)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += seconds;
    pthread_mutex_lock(&o->mu);
    while (!o->done)
        if (pthread_cond_timedwait(&o->cv, &o->mu, &until) != 0)
            break;
    int done = o->done;
    pthread_mutex_unlock(&o->mu);
    return done;
}

static void test_stop_finishes_in_flight(void **state)
{
    fixture_t *f = *state;
    one_t o = {.done = 0}, refused = {.done = 0};
    pthread_mutex_init(&o.mu, NULL);
    pthread_cond_init(&o.cv, NULL);
    pthread_mutex_init(&refused.mu, NULL);
    pthread_cond_init(&refused.cv, NULL);
    Serphona__Rpc__V1__Envelope env = SERPHONA__RPC__V1__ENVELOPE__INIT;
    env.method = SERVICE ".Sleep";
    assert_int_equal(sp_rpc_client_call_async(f->client, &env, 5000, on_one_reply, &o), 0);
    /* Wait until the worker is inside the method, then stop. */
    for (int i = 0; i < 200 && atomic_load(&f->sleep_runs) == 0; i++)
        sleep_ms(5);
    assert_int_equal(atomic_load(&f->sleep_runs), 1);
    pthread_t stopper;
    assert_int_equal(pthread_create(&stopper, NULL, stop_server, f->server), 0);
    /* While draining, new requests are refused rather than left to time out. */
    sleep_ms(50);
    env.method = SERVICE ".Ping";
    assert_int_equal(sp_rpc_client_call_async(f->client, &env, 5000, on_one_reply, &refused), 0);
    assert_true(wait_one(&refused, 3));
    assert_int_equal(refused.status, 0);
    assert_int_equal(refused.reply_status, SERPHONA__RPC__V1__STATUS__STATUS_UNAVAILABLE);
    pthread_mutex_lock(&o.mu);
    int finished_early = o.done;
    pthread_mutex_unlock(&o.mu);
    assert_false(finished_early);
    pthread_join(stopper, NULL);
    sp_rpc_server_stop(f->server); /* idempotent */
    assert_true(wait_one(&o, 3));
    assert_int_equal(o.status, 0);
    assert_int_equal(o.reply_status, SERPHONA__RPC__V1__STATUS__STATUS_OK);
    pthread_cond_destroy(&refused.cv);
    pthread_mutex_destroy(&refused.mu);
    assert_int_equal(sp_rpc_server_start(f->server), SP_EINVAL);
    pthread_cond_destroy(&o.cv);
    pthread_mutex_destroy(&o.mu);

    /* Nothing listens any more. */
    Serphona__Ping__V1__PingReply *pong = NULL;
    assert_int_equal(ping(f->client, "gone", 150, &pong), SP_ETIMEDOUT);
}

static void test_helpers(void **state)
{
    char a[SP_RPC_REQUEST_ID_LEN], b[SP_RPC_REQUEST_ID_LEN];
    sp_rpc_request_id_new(a);
    sp_rpc_request_id_new(b);
    assert_int_equal(strlen(a), 32);
    assert_int_equal(strspn(a, "0123456789abcdef"), 32);
    assert_string_not_equal(a, b);
    for (int s = 0; s <= 6; s++)
        assert_int_equal(sp_rpc_err_to_status(sp_rpc_status_to_err(s)), s);
    assert_int_equal(sp_rpc_status_to_err(99), SP_EPROTO);
    assert_int_equal(sp_rpc_err_to_status(SP_EDB), SERPHONA__RPC__V1__STATUS__STATUS_INTERNAL);
    assert_string_equal(sp_rpc_status_name(3), "deadline_exceeded");

    sp_arena_t *arena = sp_arena_new();
    Serphona__Ping__V1__PingReply in = SERPHONA__PING__V1__PING_REPLY__INIT;
    in.service = "svc";
    in.payload = "p";
    in.server_time_unix_ms = 7;
    uint8_t *buf;
    size_t len;
    assert_int_equal(sp_rpc_pack(arena, &in.base, &buf, &len), 0);
    Serphona__Ping__V1__PingReply *out = (Serphona__Ping__V1__PingReply *)sp_rpc_unpack(
        arena, &serphona__ping__v1__ping_reply__descriptor, buf, len);
    assert_non_null(out);
    assert_string_equal(out->service, "svc");
    assert_int_equal(out->server_time_unix_ms, 7);
    assert_null(sp_rpc_unpack(arena, &serphona__ping__v1__ping_reply__descriptor,
                              (const uint8_t *)"\xff", 1));
    sp_arena_destroy(&arena);

    assert_null(sp_rpc_server_new(SERVICE, "bogus://nowhere", NULL, 1));
    assert_null(sp_rpc_client_new(""));
}

int main(void)
{
    sp_log_init("test_rpc", SP_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_helpers),
        cmocka_unit_test_setup_teardown(test_ping_typed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_forwarded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trace_in_log_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_async_handler, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_404_and_405, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_method_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline_exceeded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_timeout_late_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_async, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_bytes, setup, teardown),
        cmocka_unit_test(test_no_server),
        cmocka_unit_test_setup_teardown(test_stop_finishes_in_flight, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
