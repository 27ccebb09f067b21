/*
 * serphona-cli — a small operator tool on libplatform.
 *
 *   serphona-cli ping ENDPOINT SERVICE
 *       typed "<SERVICE>.Ping" over ZeroMQ; prints the reply as JSON
 *   serphona-cli produce BROKERS TOPIC TYPE TENANT JSON
 *       publishes one event (acks=all) keyed by TENANT; prints its event id
 *   serphona-cli consume BROKERS TOPIC GROUP COUNT TIMEOUT_MS
 *       consumes COUNT events in GROUP, committing each, and prints one JSON
 *       line per event; exits 1 when fewer arrived before the timeout
 *
 * Exit codes: 0 success, 1 the operation failed, 2 usage.
 */
#include "platform/error.h"
#include "platform/events.h"
#include "platform/log.h"
#include "platform/rpc.h"
#include "ping.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int usage(void)
{
    fprintf(stderr, "usage: serphona-cli ping ENDPOINT SERVICE\n"
                    "       serphona-cli produce BROKERS TOPIC TYPE TENANT JSON\n"
                    "       serphona-cli consume BROKERS TOPIC GROUP COUNT TIMEOUT_MS\n");
    return 2;
}

static int cmd_ping(const char *endpoint, const char *service)
{
    sp_rpc_client_t *client = sp_rpc_client_new(endpoint);
    if (!client)
        return 1;
    char method[128];
    snprintf(method, sizeof(method), "%s.Ping", service);
    Serphona__Ping__V1__PingRequest in = SERPHONA__PING__V1__PING_REQUEST__INIT;
    in.payload = "serphona-cli";
    ProtobufCMessage *out = NULL;
    int rc = sp_rpc_client_call_typed(client, method, NULL, &in.base,
                                      &serphona__ping__v1__ping_reply__descriptor, 3000, &out);
    if (rc == 0) {
        Serphona__Ping__V1__PingReply *r = (Serphona__Ping__V1__PingReply *)out;
        printf("{\"service\":\"%s\",\"payload\":\"%s\",\"server_time_unix_ms\":%lld}\n", r->service,
               r->payload, (long long)r->server_time_unix_ms);
        protobuf_c_message_free_unpacked(out, NULL);
    } else {
        fprintf(stderr, "ping %s at %s failed: %s\n", service, endpoint, sp_strerror(rc));
    }
    sp_rpc_client_destroy(&client);
    return rc == 0 ? 0 : 1;
}

static int cmd_produce(const char *brokers, const char *topic, const char *type, const char *tenant,
                       const char *json)
{
    sp_events_producer_t *prod = sp_events_producer_new(brokers, "serphona-cli");
    if (!prod)
        return 1;
    Serphona__Events__V1__Event ev = SERPHONA__EVENTS__V1__EVENT__INIT;
    int rc = sp_events_event_init(&ev, type, tenant, json, strlen(json), "application/json");
    if (rc == 0)
        rc = sp_events_publish_sync(prod, topic, tenant, &ev, 10000);
    if (rc == 0)
        printf("%s\n", ev.event_id);
    else
        fprintf(stderr, "produce to %s failed: %s\n", topic, sp_strerror(rc));
    sp_events_event_cleanup(&ev);
    sp_events_producer_destroy(&prod);
    return rc == 0 ? 0 : 1;
}

typedef struct {
    int seen;
} consume_state_t;

static void print_json_string(const char *s, size_t len)
{
    putchar('"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static int on_message(const sp_events_message_t *msg, void *ud)
{
    consume_state_t *st = ud;
    const Serphona__Events__V1__Event *ev = msg->event;
    if (!ev) {
        printf("{\"undecodable\":true,\"partition\":%d,\"offset\":%lld}\n", msg->partition,
               (long long)msg->offset);
    } else {
        printf("{\"event_id\":\"%s\",\"type\":\"%s\",\"tenant_id\":\"%s\",\"partition\":%d,"
               "\"offset\":%lld,\"payload\":",
               ev->event_id, ev->type, ev->tenant_id, msg->partition, (long long)msg->offset);
        print_json_string((const char *)ev->payload.data, ev->payload.len);
        printf("}\n");
    }
    fflush(stdout);
    st->seen++;
    return 0;
}

static int cmd_consume(const char *brokers, const char *topic, const char *group, int count,
                       int timeout_ms)
{
    consume_state_t st = {0};
    const char *topics[] = {topic};
    sp_events_consumer_t *cons = sp_events_consumer_new(brokers, group, topics, 1, on_message, &st);
    if (!cons)
        return 1;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        if (st.seen >= count)
            break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (elapsed >= timeout_ms)
            break;
        int rc = sp_events_consumer_poll_once(cons, 200);
        if (rc < 0)
            break;
    }
    int rc = sp_events_consumer_commit(cons);
    sp_events_consumer_destroy(&cons);
    if (st.seen < count) {
        fprintf(stderr, "consumed %d of %d events before the timeout\n", st.seen, count);
        return 1;
    }
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    sp_log_init("serphona-cli", SP_LOG_WARN);
    if (argc == 4 && strcmp(argv[1], "ping") == 0)
        return cmd_ping(argv[2], argv[3]);
    if (argc == 7 && strcmp(argv[1], "produce") == 0)
        return cmd_produce(argv[2], argv[3], argv[4], argv[5], argv[6]);
    if (argc == 7 && strcmp(argv[1], "consume") == 0)
        return cmd_consume(argv[2], argv[3], argv[4], (int)strtol(argv[5], NULL, 10),
                           (int)strtol(argv[6], NULL, 10));
    return usage();
}
