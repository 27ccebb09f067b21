/*
 * test_rpc.c — the RPC server and client over real TCP sockets on loopback:
 * typed and forwarded HTTP calls, errors, deadlines and concurrency. Hostile
 * peers and shutdown are in test_rpc_peers.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "rpc_fixture.h"

/* ---- tests --------------------------------------------------------------- */

static void test_ping_typed(void **state)
{
    fixture_t *f = *state;
    Serphona__Ping__V1__PingReply *reply = NULL;
    int64_t before = sp_clock_wall_ms();
    assert_int_equal(ping(f->client, "hello", 2000, &reply), 0);
    assert_non_null(reply);
    assert_string_equal(reply->service, SERVICE);
    assert_string_equal(reply->payload, "hello");
    assert_true(reply->server_time_unix_ms >= before - 1000);
    assert_true(reply->server_time_unix_ms <= sp_clock_wall_ms() + 1000);
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
    h.env.deadline_unix_ms = sp_clock_wall_ms() - 1000;
    Serphona__Rpc__V1__Envelope *reply = NULL;
    assert_int_equal(sp_rpc_client_call(f->client, &h.env, 2000, &reply), 0);
    assert_int_equal(reply->status, SERPHONA__RPC__V1__STATUS__STATUS_DEADLINE_EXCEEDED);
    assert_int_equal(reply->body_case, SERPHONA__RPC__V1__ENVELOPE__BODY__NOT_SET);
    serphona__rpc__v1__envelope__free_unpacked(reply, NULL);

    Serphona__Rpc__V1__Envelope env = SERPHONA__RPC__V1__ENVELOPE__INIT;
    env.method = SERVICE ".Counted";
    env.deadline_unix_ms = sp_clock_wall_ms() - 1;
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
    int64_t t0 = sp_clock_mono_ms();
    /* The server deadline (100 ms) passes while the method sleeps; the
     * worker still replies OK, but only after the client gave up. */
    assert_int_equal(sp_rpc_client_call(f->client, &env, 100, &reply), SP_ETIMEDOUT);
    int64_t ms = sp_clock_mono_ms() - t0;
    assert_null(reply);
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

int main(void)
{
    sp_log_init("test_rpc", SP_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ping_typed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_forwarded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trace_in_log_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_async_handler, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_404_and_405, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_method_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline_exceeded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_timeout_late_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_async, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
