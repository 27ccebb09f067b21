/*
 * test_events_loss.c — serphona_events_lost_total (events_loss.c): 0 and
 * present from the start in normal flow, retries included; exact when the
 * broker deleted unread records (an offset reset past them); the rules for
 * gaps, our own seeks and a restarted log, checked on the detector itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../src/events_internal.h"
#include "events_fixture.h"

static double lost_metric(const char *topic)
{
    char *text = sp_metrics_render(NULL), want[256];
    double v = -1;
    assert_non_null(text);
    snprintf(want, sizeof want, "serphona_events_lost_total{topic=\"%s\"} ", topic);
    const char *at = strstr(text, want);
    if (at)
        v = strtod(at + strlen(want), NULL);
    free(text);
    return v;
}

typedef struct {
    int handled;
    int fail_times; /* message 5 fails this many times first */
} count_t;

static int count_handler(const sp_events_message_t *m, void *ud)
{
    count_t *c = ud;
    int small = m->event && m->event->payload.len > 0 && m->event->payload.data[0] == '{';
    if (small && payload_n(m) == 5 && c->fail_times > 0) {
        c->fail_times--;
        return -1;
    }
    c->handled++;
    return 0;
}

static void consume(sp_events_consumer_t *cons, count_t *c, int want)
{
    int64_t until = sp_clock_mono_ms() + 30000;
    while (c->handled < want && sp_clock_mono_ms() < until)
        assert_true(sp_events_consumer_poll_once(cons, 200) >= 0);
    assert_int_equal(c->handled, want);
}

static void test_normal_flow_counts_nothing(void **state)
{
    cluster_t cl;
    const char *topic = "loss.ok.t";
    const char *topics[] = {topic};
    count_t c = {.fail_times = 2};
    (void)state;

    cluster_start(&cl, 1);
    cluster_topic(&cl, topic, 1);
    sp_events_producer_t *prod = sp_events_producer_new(cl.bootstraps, NULL);
    assert_non_null(prod);
    publish_n(prod, topic, 0, 20);
    sp_events_consumer_t *cons =
        sp_events_consumer_new(cl.bootstraps, "loss-ok", topics, 1, count_handler, &c);
    assert_non_null(cons);
    assert_true(lost_metric(topic) == 0); /* declared before anything arrived */
    consume(cons, &c, 20);                /* message 5 sought back twice */
    assert_true(lost_metric(topic) == 0);
    sp_events_consumer_destroy(&cons);
    sp_events_producer_destroy(&prod);
    cluster_stop(&cl);
}

static int64_t low_watermark(const char *brokers, const char *topic)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    int64_t lo = -1, hi = -1;

    assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof errstr),
                     RD_KAFKA_CONF_OK);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    assert_non_null(rk);
    assert_int_equal(rd_kafka_query_watermark_offsets(rk, topic, 0, &lo, &hi, 10000), 0);
    rd_kafka_destroy(rk);
    return lo;
}

static void test_records_deleted_unread_are_counted_exactly(void **state)
{
    cluster_t cl;
    const char *topic = "loss.gap.t";
    const char *topics[] = {topic};
    count_t a = {0}, b = {0};
    static char big[200 * 1024];
    (void)state;

    cluster_start(&cl, 1);
    cluster_topic(&cl, topic, 1);
    sp_events_producer_t *prod = sp_events_producer_new(cl.bootstraps, NULL);
    assert_non_null(prod);
    publish_n(prod, topic, 0, 10);
    sp_events_consumer_t *cons =
        sp_events_consumer_new(cl.bootstraps, "loss-gap", topics, 1, count_handler, &a);
    assert_non_null(cons);
    consume(cons, &a, 10);
    sp_events_consumer_destroy(&cons); /* commits 10 */

    /* 12 MB more, unread: the mock keeps about 5 MB of a partition and
     * deletes the oldest records past that, as the dev broker does. */
    memset(big, 'x', sizeof big);
    for (int i = 0; i < 60; i++) {
        Serphona__Events__V1__Event ev;
        assert_int_equal(
            sp_events_event_init(&ev, "usage.recorded", "tenant-a", big, sizeof big, NULL), 0);
        assert_int_equal(sp_events_publish_sync(prod, topic, "tenant-a", &ev, 10000), 0);
        sp_events_event_cleanup(&ev);
    }
    int64_t lo = low_watermark(cl.bootstraps, topic);
    int64_t hi = high_watermark(cl.bootstraps, topic, 0);
    assert_true(lo > 10);

    FILE *log = tmpfile();
    assert_non_null(log);
    sp_log_set_output(log);
    cons = sp_events_consumer_new(cl.bootstraps, "loss-gap", topics, 1, count_handler, &b);
    assert_non_null(cons);
    int64_t until = sp_clock_mono_ms() + 30000;
    while (b.handled < hi - lo && sp_clock_mono_ms() < until)
        assert_true(sp_events_consumer_poll_once(cons, 200) >= 0);
    sp_events_consumer_destroy(&cons);
    sp_log_set_output(NULL);
    assert_int_equal(b.handled, hi - lo);

    rewind(log);
    char line[4096], want[128];
    int found = 0;
    snprintf(want, sizeof want, "of %s[0] lost before this consumer got there: offsets 10..%lld",
             topic, (long long)lo - 1);
    while (fgets(line, sizeof line, log))
        if (strstr(line, want) && strstr(line, "\"level\":\"error\""))
            found++;
    fclose(log);
    assert_true(lost_metric(topic) == (double)(lo - 10));
    assert_int_equal(found, 1);
    sp_events_producer_destroy(&prod);
    cluster_stop(&cl);
}

/* The detector alone, on a consumer struct of its own (no broker: the
 * watermarks are unknown, as before a partition's first fetch). */
static void test_gap_rules(void **state)
{
    sp_events_consumer_t cons;
    char errstr[256];
    const char *topics[] = {"loss.rules.t"};
    (void)state;

    memset(&cons, 0, sizeof cons);
    cons.rk = rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), errstr, sizeof errstr);
    assert_non_null(cons.rk);
    sp_ev_loss_init(&cons, topics, 1);
    double base = lost_metric("loss.rules.t");

    sp_ev_loss_observe(&cons, "loss.rules.t", 0, 100, 0); /* first: nothing known */
    sp_ev_loss_observe(&cons, "loss.rules.t", 0, 101, 0);
    assert_true(lost_metric("loss.rules.t") == base);
    sp_ev_loss_observe(&cons, "loss.rules.t", 0, 105, 0); /* 102..104 gone */
    assert_true(lost_metric("loss.rules.t") == base + 3);
    sp_ev_loss_observe(&cons, "loss.rules.t", 0, 90, 1); /* our seek back */
    sp_ev_loss_observe(&cons, "loss.rules.t", 0, 91, 0);
    sp_ev_loss_observe(&cons, "loss.rules.t", 0, 50, 0); /* a redelivery */
    assert_true(lost_metric("loss.rules.t") == base + 3);
    sp_ev_loss_observe(&cons, "loss.rules.t", 1, 7, 0); /* another partition */
    assert_true(lost_metric("loss.rules.t") == base + 3);

    /* A reset noted before the first message: counted from where it was. */
    sp_ev_loss_reset(&cons, "loss.rules.t", 2, 1000);
    sp_ev_loss_observe(&cons, "loss.rules.t", 2, 1500, 0);
    assert_true(lost_metric("loss.rules.t") == base + 503);
    /* A reset after which the log starts at the same place loses nothing. */
    sp_ev_loss_reset(&cons, "loss.rules.t", 2, 1501);
    sp_ev_loss_observe(&cons, "loss.rules.t", 2, 1501, 0);
    assert_true(lost_metric("loss.rules.t") == base + 503);

    /* librdkafka's warning, as rdkafka_offset.c words it, notes the reset. */
    sp_ev_loss_log_cb(cons.rk, 4, "OFFSET", "x");
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_opaque(conf, &cons);
    rd_kafka_t *with_opaque = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    assert_non_null(with_opaque);
    sp_ev_loss_log_cb(with_opaque, 4, "OFFSET",
                      "[thrd:main]: loss.rules.t [3]: offset reset (at offset 3014 (leader epoch "
                      "-1), broker 1) "
                      "to cached BEGINNING offset offset 19004 (leader epoch -1): fetch failed due "
                      "to requested offset not available on the broker: Broker: Offset out of "
                      "range");
    sp_ev_loss_observe(&cons, "loss.rules.t", 3, 19004, 0);
    assert_true(lost_metric("loss.rules.t") == base + 503 + 15990);

    /* Forgotten partitions (a regular revoke) start afresh. */
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, "loss.rules.t", 0);
    sp_ev_loss_forget(&cons, l);
    rd_kafka_topic_partition_list_destroy(l);
    sp_ev_loss_observe(&cons, "loss.rules.t", 0, 5000, 0);
    assert_true(lost_metric("loss.rules.t") == base + 503 + 15990);

    rd_kafka_destroy(with_opaque);
    rd_kafka_destroy(cons.rk);
    sp_ev_loss_cleanup(&cons);
}

int main(void)
{
    const char *v = getenv("TEST_VERBOSE");
    sp_log_init("test-events-loss", v && *v ? SP_LOG_DEBUG : SP_LOG_ERROR);

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gap_rules),
        cmocka_unit_test(test_normal_flow_counts_nothing),
        cmocka_unit_test(test_records_deleted_unread_are_counted_exactly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
