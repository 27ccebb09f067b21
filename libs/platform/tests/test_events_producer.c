/*
 * test_events_producer.c — the Event envelope and the producer (round trip,
 * broker down, flush at destroy) against librdkafka's mock cluster.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "events_fixture.h"

/* ---- envelope ------------------------------------------------------------ */

static void test_event_init(void **state)
{
    Serphona__Events__V1__Event ev, ev2;
    (void)state;

    assert_int_equal(sp_events_event_init(&ev, "interaction.recorded", "t1", "{}", 2, NULL), 0);
    assert_int_equal(strlen(ev.event_id), 36);
    assert_int_equal(ev.event_id[14], '7'); /* version nibble */
    assert_true(strchr("89ab", ev.event_id[19]) != NULL);
    assert_string_equal(ev.type, "interaction.recorded");
    assert_string_equal(ev.tenant_id, "t1");
    assert_string_equal(ev.content_type, "application/json");
    assert_string_equal(ev.traceparent, "");
    assert_int_equal(ev.payload.len, 2);
    assert_memory_equal(ev.payload.data, "{}", 2);
    assert_true(ev.occurred_at_unix_ms > 1600000000000LL);

    const char *tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    assert_int_equal(sp_events_event_set_traceparent(&ev, tp), 0);
    assert_string_equal(ev.traceparent, tp);
    assert_int_equal(sp_events_event_set_traceparent(&ev, NULL), 0);
    assert_string_equal(ev.traceparent, "");

    /* Ids are unique and time-ordered. */
    assert_int_equal(sp_events_event_init(&ev2, "x.y", "t1", NULL, 0, "application/x-protobuf"), 0);
    assert_true(strcmp(ev.event_id, ev2.event_id) < 0);
    assert_int_equal(ev2.payload.len, 0);
    assert_string_equal(ev2.content_type, "application/x-protobuf");

    sp_events_event_cleanup(&ev);
    sp_events_event_cleanup(&ev2);
    sp_events_event_cleanup(&ev2); /* idempotent */
    sp_events_event_cleanup(NULL);

    assert_int_equal(sp_events_event_init(&ev, NULL, "t", NULL, 0, NULL), SP_EINVAL);
    assert_int_equal(sp_events_event_init(&ev, "a.b", NULL, NULL, 0, NULL), SP_EINVAL);
    assert_int_equal(sp_events_event_init(&ev, "a.b", "t", NULL, 3, NULL), SP_EINVAL);
}

/* ---- round trip ------------------------------------------------------------ */

typedef struct {
    int got;
    int undecodable;
    char event_id[64], type[64], tenant[64], traceparent[128], content_type[64];
    char key[64], payload[64];
    int64_t occurred_at;
    char h_type[64], h_tenant[64], h_tp[128], h_event_id[64];
} roundtrip_t;

static void copy_header(const sp_events_message_t *m, const char *name, char *out, size_t cap)
{
    const void *v;
    size_t len;
    out[0] = '\0';
    if (sp_events_message_header(m, name, &v, &len) == 0 && v && len < cap) {
        memcpy(out, v, len);
        out[len] = '\0';
    }
}

static int roundtrip_handler(const sp_events_message_t *m, void *ud)
{
    roundtrip_t *r = ud;

    if (!m->event) {
        r->undecodable++;
        assert_int_equal(m->value_len, 7);
        assert_memory_equal(m->value, "garbage", 7);
        return 0;
    }
    r->got++;
    snprintf(r->event_id, sizeof r->event_id, "%s", m->event->event_id);
    snprintf(r->type, sizeof r->type, "%s", m->event->type);
    snprintf(r->tenant, sizeof r->tenant, "%s", m->event->tenant_id);
    snprintf(r->traceparent, sizeof r->traceparent, "%s", m->event->traceparent);
    snprintf(r->content_type, sizeof r->content_type, "%s", m->event->content_type);
    snprintf(r->payload, sizeof r->payload, "%.*s", (int)m->event->payload.len,
             (const char *)m->event->payload.data);
    snprintf(r->key, sizeof r->key, "%.*s", (int)m->key_len, (const char *)m->key);
    r->occurred_at = m->event->occurred_at_unix_ms;
    copy_header(m, SP_EVENTS_HDR_TYPE, r->h_type, sizeof r->h_type);
    copy_header(m, SP_EVENTS_HDR_TENANT_ID, r->h_tenant, sizeof r->h_tenant);
    copy_header(m, SP_EVENTS_HDR_TRACEPARENT, r->h_tp, sizeof r->h_tp);
    copy_header(m, SP_EVENTS_HDR_EVENT_ID, r->h_event_id, sizeof r->h_event_id);
    assert_int_equal(sp_events_message_header(m, "nope", NULL, NULL), SP_ENOTFOUND);
    return 0;
}

/* Produces a raw, non-Event record with a plain librdkafka producer. */
static void produce_raw(const char *brokers, const char *topic, const char *value)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk;

    assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof errstr),
                     RD_KAFKA_CONF_OK);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    assert_non_null(rk);
    assert_int_equal(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
                                       RD_KAFKA_V_VALUE((void *)value, strlen(value)),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                     0);
    assert_int_equal(rd_kafka_flush(rk, 10000), 0);
    rd_kafka_destroy(rk);
}

static void test_publish_sync_roundtrip(void **state)
{
    cluster_t c;
    roundtrip_t r;
    Serphona__Events__V1__Event ev;
    const char *topic = "rt.serphona.interactions.v1";
    const char *tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    (void)state;

    memset(&r, 0, sizeof r);
    cluster_start(&c, 3);
    cluster_topic(&c, topic, 6);
    assert_int_equal(sp_events_ping(c.bootstraps, 5000), 0);

    sp_events_producer_t *prod = sp_events_producer_new(c.bootstraps, "test-producer");
    assert_non_null(prod);
    assert_int_equal(sp_events_producer_ping(prod, 5000), 0);
    assert_int_equal(sp_events_event_init(&ev, "interaction.recorded", "tenant-42",
                                          "{\"text\":\"hi\"}", 13, NULL),
                     0);
    assert_int_equal(sp_events_event_set_traceparent(&ev, tp), 0);
    assert_int_equal(sp_events_publish_sync(prod, topic, "tenant-42", &ev, 10000), 0);
    /* The delivery report may still be finishing on the poll thread. */
    assert_int_equal(sp_events_producer_flush(prod, 1000), 0);
    assert_int_equal(sp_events_producer_pending(prod), 0);
    produce_raw(c.bootstraps, topic, "garbage");

    /* Bad arguments fail without queueing anything. */
    assert_int_equal(sp_events_publish_sync(prod, topic, NULL, NULL, 1000), SP_EINVAL);
    assert_int_equal(sp_events_publish_sync(prod, "", NULL, &ev, 1000), SP_EINVAL);
    assert_int_equal(sp_events_publish_sync(prod, topic, NULL, &ev, 0), SP_EINVAL);

    const char *topics[] = {topic};
    sp_events_consumer_t *cons =
        sp_events_consumer_new(c.bootstraps, "rt-group", topics, 1, roundtrip_handler, &r);
    assert_non_null(cons);
    int64_t until = sp_clock_mono_ms() + 30000;
    while ((r.got < 1 || r.undecodable < 1) && sp_clock_mono_ms() < until)
        assert_true(sp_events_consumer_poll_once(cons, 200) >= 0);
    assert_int_equal(r.got, 1);
    assert_int_equal(r.undecodable, 1);

    assert_string_equal(r.event_id, ev.event_id);
    assert_string_equal(r.type, "interaction.recorded");
    assert_string_equal(r.tenant, "tenant-42");
    assert_string_equal(r.traceparent, tp);
    assert_string_equal(r.content_type, "application/json");
    assert_string_equal(r.payload, "{\"text\":\"hi\"}");
    assert_string_equal(r.key, "tenant-42");
    assert_true(r.occurred_at == ev.occurred_at_unix_ms);
    assert_string_equal(r.h_type, "interaction.recorded");
    assert_string_equal(r.h_tenant, "tenant-42");
    assert_string_equal(r.h_tp, tp);
    assert_string_equal(r.h_event_id, ev.event_id);

    sp_events_consumer_destroy(&cons);
    assert_null(cons);
    sp_events_producer_destroy(&prod);
    assert_null(prod);
    sp_events_event_cleanup(&ev);
    cluster_stop(&c);
}

/* ---- broker down ------------------------------------------------------------ */

typedef struct {
    pthread_mutex_t mtx;
    int calls, ok, shutdown, other;
} dr_count_t;

static void count_cb(int err, void *ud)
{
    dr_count_t *d = ud;
    pthread_mutex_lock(&d->mtx);
    d->calls++;
    if (err == 0)
        d->ok++;
    else if (err == SP_ESHUTDOWN)
        d->shutdown++;
    else
        d->other++;
    pthread_mutex_unlock(&d->mtx);
}

static void test_broker_down_does_not_hang(void **state)
{
    cluster_t c;
    const char *topic = "down.t";
    Serphona__Events__V1__Event ev;
    dr_count_t d = {.mtx = PTHREAD_MUTEX_INITIALIZER};
    (void)state;

    cluster_start(&c, 3);
    cluster_topic(&c, topic, 2);
    sp_events_producer_t *prod = sp_events_producer_new(c.bootstraps, NULL);
    assert_non_null(prod);
    publish_n(prod, topic, 0, 1);

    assert_int_equal(rd_kafka_mock_broker_set_down(c.mc, -1), 0);
    make_event(&ev, "tenant-a", 99);
    int64_t t0 = sp_clock_mono_ms();
    int rc = sp_events_publish_sync(prod, topic, "tenant-a", &ev, 1500);
    int64_t took = sp_clock_mono_ms() - t0;
    assert_true(rc == SP_EUNAVAILABLE || rc == SP_ETIMEDOUT);
    assert_true(took >= 1400 && took < 3000);

    t0 = sp_clock_mono_ms();
    assert_int_not_equal(sp_events_ping(c.bootstraps, 1000), 0);
    assert_int_not_equal(sp_events_producer_ping(prod, 1000), 0);
    assert_true(sp_clock_mono_ms() - t0 < 5000);

    /* A message still queued when the producer is destroyed is reported
     * undelivered instead of hanging the shutdown. */
    assert_int_equal(sp_events_publish(prod, topic, "tenant-a", &ev, count_cb, &d), 0);
    assert_int_equal(sp_events_producer_flush(prod, 200), SP_ETIMEDOUT);
    t0 = sp_clock_mono_ms();
    sp_events_producer_destroy(&prod);
    assert_true(sp_clock_mono_ms() - t0 < 9000);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.ok, 0);

    sp_events_event_cleanup(&ev);
    cluster_stop(&c);
}

/* ---- destroy flushes ------------------------------------------------------ */

static void test_destroy_flushes(void **state)
{
    cluster_t c;
    const char *topic = "flush.t";
    dr_count_t d = {.mtx = PTHREAD_MUTEX_INITIALIZER};
    (void)state;

    cluster_start(&c, 1);
    cluster_topic(&c, topic, 1);
    sp_events_producer_t *prod = sp_events_producer_new(c.bootstraps, NULL);
    assert_non_null(prod);
    for (int i = 0; i < 50; i++) {
        Serphona__Events__V1__Event ev;
        make_event(&ev, "tenant-b", i);
        assert_int_equal(sp_events_publish(prod, topic, "tenant-b", &ev, count_cb, &d), 0);
        sp_events_event_cleanup(&ev);
    }
    /* No flush: destroy must deliver them. */
    sp_events_producer_destroy(&prod);
    assert_int_equal(d.calls, 50);
    assert_int_equal(d.ok, 50);
    assert_int_equal(high_watermark(c.bootstraps, topic, 0), 50);

    /* And explicit flush works on a live producer. */
    prod = sp_events_producer_new(c.bootstraps, NULL);
    assert_non_null(prod);
    Serphona__Events__V1__Event ev;
    make_event(&ev, "tenant-b", 50);
    assert_int_equal(sp_events_publish(prod, topic, NULL, &ev, NULL, NULL), 0);
    sp_events_event_cleanup(&ev);
    assert_int_equal(sp_events_producer_flush(prod, 10000), 0);
    assert_int_equal(sp_events_producer_pending(prod), 0);
    assert_int_equal(high_watermark(c.bootstraps, topic, 0), 51);
    sp_events_producer_destroy(&prod);
    sp_events_producer_destroy(&prod); /* NULL is fine */

    cluster_stop(&c);
}

int main(void)
{
    const char *v = getenv("TEST_VERBOSE");
    sp_log_init("test-events-producer", v && *v ? SP_LOG_DEBUG : SP_LOG_ERROR);

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_init),
        cmocka_unit_test(test_publish_sync_roundtrip),
        cmocka_unit_test(test_broker_down_does_not_hang),
        cmocka_unit_test(test_destroy_flushes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
