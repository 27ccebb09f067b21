/*
 * rpc_bench — RPC round trip through the platform (client DEALER -> server
 * ROUTER -> broker -> worker -> typed handler -> reply) against a bare czmq
 * REQ/REP echo, both over TCP loopback in the same process and run.
 *
 * Prints calls/s and mean microseconds per call for each, and the ratio.
 * Usage: rpc_bench [CALLS]   (default 20000)
 */
#include "platform/log.h"
#include "platform/rpc.h"
#include "ping.pb-c.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void echo_actor(zsock_t *pipe, void *args)
{
    zsock_t *rep = zsock_new_rep("tcp://127.0.0.1:*");
    zsock_signal(pipe, 0);
    zstr_send(pipe, strrchr(zsock_endpoint(rep), ':') + 1);
    zpoller_t *poller = zpoller_new(pipe, rep, NULL);
    for (;;) {
        void *which = zpoller_wait(poller, -1);
        if (which == rep) {
            zmsg_t *msg = zmsg_recv(rep);
            if (msg)
                zmsg_send(&msg, rep);
        } else {
            break; /* $TERM from the pipe, or interrupted */
        }
    }
    zpoller_destroy(&poller);
    zsock_destroy(&rep);
    (void)args;
}

static double bench_bare(int calls, const char *payload)
{
    zactor_t *server = zactor_new(echo_actor, NULL);
    char *port = zstr_recv(server);
    char endpoint[64];
    snprintf(endpoint, sizeof(endpoint), "tcp://127.0.0.1:%s", port);
    zstr_free(&port);
    zsock_t *req = zsock_new_req(endpoint);
    for (int i = 0; i < 1000; i++) { /* warm-up */
        zstr_send(req, payload);
        char *r = zstr_recv(req);
        zstr_free(&r);
    }
    double t0 = now_s();
    for (int i = 0; i < calls; i++) {
        zstr_send(req, payload);
        char *r = zstr_recv(req);
        zstr_free(&r);
    }
    double elapsed = now_s() - t0;
    zsock_destroy(&req);
    zactor_destroy(&server);
    return elapsed;
}

static double bench_platform(int calls, const char *payload)
{
    sp_rpc_server_t *srv = sp_rpc_server_new("bench", "tcp://127.0.0.1:*", NULL, 4);
    if (!srv || sp_rpc_server_start(srv) != 0) {
        fprintf(stderr, "cannot start the platform RPC server\n");
        exit(1);
    }
    sp_rpc_client_t *cl = sp_rpc_client_new(sp_rpc_server_endpoint(srv));
    Serphona__Ping__V1__PingRequest in = SERPHONA__PING__V1__PING_REQUEST__INIT;
    in.payload = (char *)payload;
    double t0 = 0;
    for (int i = -1000; i < calls; i++) { /* the first 1000 warm up */
        if (i == 0)
            t0 = now_s();
        ProtobufCMessage *out = NULL;
        int rc = sp_rpc_client_call_typed(cl, "bench.Ping", NULL, &in.base,
                                          &serphona__ping__v1__ping_reply__descriptor, 5000, &out);
        if (rc != 0) {
            fprintf(stderr, "platform call failed: %d\n", rc);
            exit(1);
        }
        protobuf_c_message_free_unpacked(out, NULL);
    }
    double elapsed = now_s() - t0;
    sp_rpc_client_destroy(&cl);
    sp_rpc_server_destroy(&srv);
    return elapsed;
}

int main(int argc, char **argv)
{
    int calls = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 20000;
    if (calls <= 0)
        calls = 20000;
    sp_log_init("rpc-bench", SP_LOG_WARN);
    const char *payload = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    double bare = bench_bare(calls, payload);
    double platform = bench_platform(calls, payload);
    printf("rpc round trip, %d sequential calls, 64-byte payload, TCP loopback\n", calls);
    printf("  bare czmq REQ/REP echo:   %9.0f calls/s  %7.1f us/call\n", calls / bare,
           bare / calls * 1e6);
    printf("  platform DEALER->ROUTER:  %9.0f calls/s  %7.1f us/call\n", calls / platform,
           platform / calls * 1e6);
    printf("  ratio platform/bare throughput: %.2f\n", bare / platform);
    zsys_shutdown();
    return 0;
}
