/*
 * events_fixture.h — what the events tests share: librdkafka's mock cluster
 * hosted in-process (real Kafka protocol over loopback, random ports) and
 * helpers to publish numbered events and read offsets back. Included by
 * test_events_*.c after cmocka.h; the helpers are static inline so a test
 * file need not use them all.
 */
#ifndef SP_TEST_EVENTS_FIXTURE_H
#define SP_TEST_EVENTS_FIXTURE_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "platform/error.h"
#include "platform/events.h"
#include "platform/log.h"
#include "platform/metrics.h"

#include "platform/clock.h"

/* ---- fixtures ------------------------------------------------------------ */

typedef struct {
    rd_kafka_t *host;
    rd_kafka_mock_cluster_t *mc;
    char bootstraps[512];
} cluster_t;

static inline void cluster_start(cluster_t *c, int brokers)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();

    assert_int_equal(rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr),
                     RD_KAFKA_CONF_OK);
    c->host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    assert_non_null(c->host);
    c->mc = rd_kafka_mock_cluster_new(c->host, brokers);
    assert_non_null(c->mc);
    snprintf(c->bootstraps, sizeof c->bootstraps, "%s", rd_kafka_mock_cluster_bootstraps(c->mc));
}

static inline void cluster_topic(cluster_t *c, const char *topic, int partitions)
{
    assert_int_equal(rd_kafka_mock_topic_create(c->mc, topic, partitions, 1), 0);
}

static inline void cluster_stop(cluster_t *c)
{
    rd_kafka_mock_cluster_destroy(c->mc);
    rd_kafka_destroy(c->host);
    /* Every librdkafka thread has gone when this returns, so LeakSanitizer
     * sees no half-torn-down client state. */
    assert_int_equal(rd_kafka_wait_destroyed(10000), 0);
}

/* The offset committed for group on topic/partition, via a separate client
 * that never joins the group (RD_KAFKA_OFFSET_INVALID when none). */
static inline int64_t committed_offset(const char *brokers, const char *group, const char *topic,
                                       int32_t partition)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk;
    rd_kafka_topic_partition_list_t *l;
    int64_t off;

    assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof errstr),
                     RD_KAFKA_CONF_OK);
    assert_int_equal(rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof errstr),
                     RD_KAFKA_CONF_OK);
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    assert_non_null(rk);
    l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, partition);
    assert_int_equal(rd_kafka_committed(rk, l, 10000), 0);
    off = l->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return off;
}

/* Messages in topic/partition (high watermark), queried from the broker. */
static inline int64_t high_watermark(const char *brokers, const char *topic, int32_t partition)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk;
    int64_t lo = -1, hi = -1;

    assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof errstr),
                     RD_KAFKA_CONF_OK);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    assert_non_null(rk);
    assert_int_equal(rd_kafka_query_watermark_offsets(rk, topic, partition, &lo, &hi, 10000), 0);
    rd_kafka_destroy(rk);
    return hi;
}

static inline void make_event(Serphona__Events__V1__Event *ev, const char *tenant, int n)
{
    char payload[64];
    int len = snprintf(payload, sizeof payload, "{\"n\":%d}", n);
    assert_int_equal(sp_events_event_init(ev, "usage.recorded", tenant, payload, (size_t)len, NULL),
                     0);
}

/* Publishes count events numbered from first, each acknowledged. */
static inline void publish_n(sp_events_producer_t *prod, const char *topic, int first, int count)
{
    for (int i = first; i < first + count; i++) {
        Serphona__Events__V1__Event ev;
        make_event(&ev, "tenant-a", i);
        assert_int_equal(sp_events_publish_sync(prod, topic, "tenant-a", &ev, 10000), 0);
        sp_events_event_cleanup(&ev);
    }
}

/* Parses the "n" a make_event payload carries. */
static inline int payload_n(const sp_events_message_t *m)
{
    char buf[64] = {0}, *end;
    assert_non_null(m->event);
    size_t len = m->event->payload.len < sizeof buf - 1 ? m->event->payload.len : sizeof buf - 1;
    memcpy(buf, m->event->payload.data, len);
    assert_memory_equal(buf, "{\"n\":", 5);
    long n = strtol(buf + 5, &end, 10);
    assert_string_equal(end, "}");
    return (int)n;
}

#endif
