/*
 * test_rpc_peers.c — the RPC server and client against hostile peers (bad
 * bytes, no server) and while stopping, plus the shared helpers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "rpc_fixture.h"

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
        cmocka_unit_test_setup_teardown(test_malformed_bytes, setup, teardown),
        cmocka_unit_test(test_no_server),
        cmocka_unit_test_setup_teardown(test_stop_finishes_in_flight, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
