/*
 * test_events.c — the events module against librdkafka's mock cluster,
 * hosted in-process: real Kafka protocol over loopback, random ports.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

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

/* ---- fixtures ------------------------------------------------------------ */

typedef struct {
    rd_kafka_t *host;
    rd_kafka_mock_cluster_t *mc;
    char bootstraps[512];
} cluster_t;

static void cluster_start(cluster_t *c, int brokers)
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

static void cluster_topic(cluster_t *c, const char *topic, int partitions)
{
    assert_int_equal(rd_kafka_mock_topic_create(c->mc, topic, partitions, 1), 0);
}

static void cluster_stop(cluster_t *c)
{
    rd_kafka_mock_cluster_destroy(c->mc);
    rd_kafka_destroy(c->host);
    /* Every librdkafka thread has gone when this returns, so LeakSanitizer
     * sees no half-torn-down client state. */
    assert_int_equal(rd_kafka_wait_destroyed(10000), 0);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The offset committed for group on topic/partition, via a separate client
 * that never joins the group (RD_KAFKA_OFFSET_INVALID when none). */
static int64_t committed_offset(const char *brokers, const char *group, const char *topic,
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
static int64_t high_watermark(const char *brokers, const char *topic, int32_t partition)
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

static void make_event(Serphona__Events__V1__Event *ev, const char *tenant, int n)
{
    char payload[64];
    int len = snprintf(payload, sizeof payload, "{\"n\":%d}", n);
    assert_int_equal(sp_events_event_init(ev, "usage.recorded", tenant, payload, (size_t)len, NULL),
                     0);
}

/* Publishes count events numbered from first, each acknowledged. */
static void publish_n(sp_events_producer_t *prod, const char *topic, int first, int count)
{
    for (int i = first; i < first + count; i++) {
        Serphona__Events__V1__Event ev;
        make_event(&ev, "tenant-a", i);
        assert_int_equal(sp_events_publish_sync(prod, topic, "tenant-a", &ev, 10000), 0);
        sp_events_event_cleanup(&ev);
    }
}

/* Parses the "n" a make_event payload carries. */
static int payload_n(const sp_events_message_t *m)
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
    int64_t until = mono_ms() + 30000;
    while ((r.got < 1 || r.undecodable < 1) && mono_ms() < until)
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

/* ---- retries: a failed message is redelivered, never skipped -------------- */

typedef struct {
    int seq[64];
    int n_seq;      /* handler calls, in order; failures recorded as -(n+1) */
    int fail_n;     /* the payload number to fail */
    int fail_times; /* how many times still to fail it */
    int done;       /* successful calls */
} retry_t;

static int retry_handler(const sp_events_message_t *m, void *ud)
{
    retry_t *r = ud;
    int n = payload_n(m);

    if (n == r->fail_n && r->fail_times > 0) {
        r->fail_times--;
        if (r->n_seq < 64)
            r->seq[r->n_seq++] = -(n + 1);
        return -1;
    }
    if (r->n_seq < 64)
        r->seq[r->n_seq++] = n;
    r->done++;
    return 0;
}

static void test_handler_failure_redelivers(void **state)
{
    cluster_t c;
    retry_t r = {.fail_n = 1, .fail_times = 3};
    const char *topic = "retry.t";
    (void)state;

    cluster_start(&c, 1);
    cluster_topic(&c, topic, 1);
    sp_events_producer_t *prod = sp_events_producer_new(c.bootstraps, NULL);
    assert_non_null(prod);
    publish_n(prod, topic, 0, 4);

    const char *topics[] = {topic};
    sp_events_consumer_t *cons =
        sp_events_consumer_new(c.bootstraps, "retry-group", topics, 1, retry_handler, &r);
    assert_non_null(cons);

    /* Until the failing message succeeds, nothing past it may be committed,
     * even when asked to commit explicitly. */
    int64_t until = mono_ms() + 30000;
    int checked = 0;
    while (r.done < 4 && mono_ms() < until) {
        int rc = sp_events_consumer_poll_once(cons, 200);
        assert_true(rc >= 0);
        if (rc == 2 && r.fail_times == 0 && !checked) {
            assert_int_equal(sp_events_consumer_commit(cons), 0);
            assert_int_equal(committed_offset(c.bootstraps, "retry-group", topic, 0), 1);
            checked = 1;
        }
    }
    assert_true(checked);
    assert_int_equal(r.done, 4);
    int expect[] = {0, -2, -2, -2, 1, 2, 3};
    assert_int_equal(r.n_seq, 7);
    assert_memory_equal(r.seq, expect, sizeof expect);

    assert_int_equal(sp_events_consumer_commit(cons), 0);
    assert_int_equal(committed_offset(c.bootstraps, "retry-group", topic, 0), 4);

    sp_events_consumer_destroy(&cons);
    sp_events_producer_destroy(&prod);
    cluster_stop(&c);
}

/* ---- restart: a new member resumes after the durable messages ------------ */

typedef struct {
    sp_events_consumer_t *cons;
    int stop_after;
    int seen[64];
    int n;
} resume_t;

static int resume_handler(const sp_events_message_t *m, void *ud)
{
    resume_t *r = ud;

    int idx = r->n;

    assert_true(idx < 64);
    r->seen[idx] = payload_n(m);
    __atomic_store_n(&r->n, idx + 1, __ATOMIC_SEQ_CST); /* read by the test thread */
    if (r->stop_after > 0 && idx + 1 == r->stop_after)
        sp_events_consumer_stop(r->cons);
    return 0;
}

typedef struct {
    sp_events_consumer_t *cons;
    int rc;
} runner_t;

static void *run_thread(void *arg)
{
    runner_t *run = arg;
    run->rc = sp_events_consumer_run(run->cons);
    return NULL;
}

static void test_restart_resumes_after_durable(void **state)
{
    cluster_t c;
    const char *topic = "resume.t";
    const char *topics[] = {topic};
    resume_t a = {.stop_after = 4}, b = {0};
    int all[10] = {0};
    (void)state;

    cluster_start(&c, 3);
    cluster_topic(&c, topic, 3);
    sp_events_producer_t *prod = sp_events_producer_new(c.bootstraps, NULL);
    assert_non_null(prod);
    publish_n(prod, topic, 0, 10);

    /* First member: stops itself after 4 messages; run() then commits and
     * leaves the group. */
    a.cons = sp_events_consumer_new(c.bootstraps, "resume-group", topics, 1, resume_handler, &a);
    assert_non_null(a.cons);
    assert_int_equal(sp_events_consumer_run(a.cons), 0);
    assert_int_equal(a.n, 4);
    assert_int_equal(sp_events_consumer_poll_once(a.cons, 0), SP_ESHUTDOWN);
    sp_events_consumer_destroy(&a.cons);

    /* Second member in the same group, run on a thread and stopped from
     * here: gets exactly the other six. */
    b.cons = sp_events_consumer_new(c.bootstraps, "resume-group", topics, 1, resume_handler, &b);
    assert_non_null(b.cons);
    runner_t run = {.cons = b.cons, .rc = -100};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, run_thread, &run), 0);
    int64_t until = mono_ms() + 30000;
    while (__atomic_load_n(&b.n, __ATOMIC_SEQ_CST) < 6 && mono_ms() < until) {
        struct timespec ts = {0, 50000000L};
        nanosleep(&ts, NULL);
    }
    /* Give a duplicate the chance to show up before stopping. */
    struct timespec grace = {1, 500000000L};
    nanosleep(&grace, NULL);
    sp_events_consumer_stop(b.cons);
    pthread_join(th, NULL);
    assert_int_equal(run.rc, 0);
    assert_int_equal(b.n, 6);

    for (int i = 0; i < a.n; i++)
        all[a.seen[i]]++;
    for (int i = 0; i < b.n; i++)
        all[b.seen[i]]++;
    for (int i = 0; i < 10; i++)
        assert_int_equal(all[i], 1);

    sp_events_consumer_destroy(&b.cons);
    sp_events_producer_destroy(&prod);
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
    int64_t t0 = mono_ms();
    int rc = sp_events_publish_sync(prod, topic, "tenant-a", &ev, 1500);
    int64_t took = mono_ms() - t0;
    assert_true(rc == SP_EUNAVAILABLE || rc == SP_ETIMEDOUT);
    assert_true(took >= 1400 && took < 3000);

    t0 = mono_ms();
    assert_int_not_equal(sp_events_ping(c.bootstraps, 1000), 0);
    assert_int_not_equal(sp_events_producer_ping(prod, 1000), 0);
    assert_true(mono_ms() - t0 < 5000);

    /* A message still queued when the producer is destroyed is reported
     * undelivered instead of hanging the shutdown. */
    assert_int_equal(sp_events_publish(prod, topic, "tenant-a", &ev, count_cb, &d), 0);
    assert_int_equal(sp_events_producer_flush(prod, 200), SP_ETIMEDOUT);
    t0 = mono_ms();
    sp_events_producer_destroy(&prod);
    assert_true(mono_ms() - t0 < 9000);
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

/* ---- batch mode: offsets stored only after a successful flush ------------ */

typedef struct {
    int accepted[128]; /* payload numbers accepted, in order */
    int n_accepted;
    int batch;       /* accepted since the last flush */
    int flushed[32]; /* sizes of successful flushes */
    int n_flushed;
    int fail_flushes; /* how many flushes still to fail */
    int failed_flushes;
    int fail_n; /* the payload number the handler fails, once */
    int64_t last_flush_ms;
    sp_events_consumer_t *cons;
    int stop_after;
} batch_t;

static int batch_handler(const sp_events_message_t *m, void *ud)
{
    batch_t *b = ud;
    int n = payload_n(m);

    if (n == b->fail_n) {
        b->fail_n = -1;
        return -1;
    }
    assert_true(b->n_accepted < 128);
    b->accepted[b->n_accepted++] = n;
    b->batch++;
    if (b->stop_after > 0 && b->n_accepted == b->stop_after)
        sp_events_consumer_stop(b->cons);
    return 0;
}

static int batch_flush(void *ud)
{
    batch_t *b = ud;

    assert_true(b->batch > 0); /* never called for an empty batch */
    if (b->fail_flushes > 0) {
        b->fail_flushes--;
        b->failed_flushes++;
        /* The contract: forget what was accepted since the last flush. */
        b->n_accepted -= b->batch;
        b->batch = 0;
        return -1;
    }
    assert_true(b->n_flushed < 32);
    b->flushed[b->n_flushed++] = b->batch;
    b->batch = 0;
    b->last_flush_ms = mono_ms();
    return 0;
}

static sp_events_consumer_t *batch_consumer(cluster_t *c, const char *group, const char *topic,
                                            batch_t *b, size_t max, int wait_ms)
{
    const char *topics[] = {topic};
    sp_events_consumer_t *cons =
        sp_events_consumer_new(c->bootstraps, group, topics, 1, batch_handler, b);
    assert_non_null(cons);
    assert_int_equal(sp_events_consumer_set_batch(cons, max, wait_ms, batch_flush), 0);
    b->cons = cons;
    return cons;
}

static void test_batch_flush_by_size_and_time(void **state)
{
    cluster_t c;
    batch_t b = {.fail_n = -1};
    const char *topic = "batch.size";
    (void)state;

    cluster_start(&c, 1);
    cluster_topic(&c, topic, 1);
    sp_events_producer_t *prod = sp_events_producer_new(c.bootstraps, NULL);
    assert_non_null(prod);
    publish_n(prod, topic, 0, 10);

    sp_events_consumer_t *cons = batch_consumer(&c, "batch-size", topic, &b, 4, 700);
    assert_int_equal(sp_events_consumer_set_batch(cons, 0, 10, batch_flush), SP_EINVAL);
    assert_int_equal(sp_events_consumer_set_batch(cons, 1, -1, batch_flush), SP_EINVAL);
    assert_int_equal(sp_events_consumer_set_batch(cons, 1, 10, NULL), SP_EINVAL);

    /* Two full batches go by size; the last two wait for the timer. */
    int64_t until = mono_ms() + 30000;
    while (b.n_accepted < 10 && mono_ms() < until)
        assert_true(sp_events_consumer_poll_once(cons, 50) >= 0);
    int64_t accepted_at = mono_ms();
    assert_int_equal(b.n_accepted, 10);
    assert_int_equal(b.n_flushed, 2);
    assert_int_equal(sp_events_consumer_pending(cons), 2);
    /* Accepted is not durable: only the flushed 8 may be committed. */
    assert_int_equal(sp_events_consumer_commit(cons), 0);
    assert_int_equal(committed_offset(c.bootstraps, "batch-size", topic, 0), 8);

    /* Polling with a long timeout still flushes on time. */
    while (b.n_flushed < 3 && mono_ms() < until)
        assert_true(sp_events_consumer_poll_once(cons, 5000) >= 0);
    assert_int_equal(b.n_flushed, 3);
    assert_int_equal(b.flushed[0], 4);
    assert_int_equal(b.flushed[1], 4);
    assert_int_equal(b.flushed[2], 2);
    assert_true(b.last_flush_ms - accepted_at < 1500);
    assert_int_equal(sp_events_consumer_pending(cons), 0);
    assert_int_equal(sp_events_consumer_commit(cons), 0);
    assert_int_equal(committed_offset(c.bootstraps, "batch-size", topic, 0), 10);
    for (int i = 0; i < 10; i++)
        assert_int_equal(b.accepted[i], i);
    /* Set-up after polling is refused. */
    assert_int_equal(sp_events_consumer_set_batch(cons, 4, 10, batch_flush), SP_EINVAL);

    sp_events_consumer_destroy(&cons);
    sp_events_producer_destroy(&prod);
    cluster_stop(&c);
}

static void test_batch_flush_failure_rewinds(void **state)
{
    cluster_t c;
    batch_t b = {.fail_n = -1, .fail_flushes = 2};
    const char *topic = "batch.fail";
    (void)state;

    cluster_start(&c, 1);
    cluster_topic(&c, topic, 2);
    sp_events_producer_t *prod = sp_events_producer_new(c.bootstraps, NULL);
    assert_non_null(prod);
    publish_n(prod, topic, 0, 12); /* all keyed alike: one partition */

    sp_events_consumer_t *cons = batch_consumer(&c, "batch-fail", topic, &b, 5, 200);
    int64_t until = mono_ms() + 30000;
    int checked = 0;
    while ((b.n_flushed == 0 || b.n_accepted < 12 || sp_events_consumer_pending(cons) > 0) &&
           mono_ms() < until) {
        int rc = sp_events_consumer_poll_once(cons, 100);
        assert_true(rc >= 0);
        if (rc == 2 && !checked) {
            /* Nothing of a failed batch is committed. */
            assert_int_equal(sp_events_consumer_commit(cons), 0);
            assert_true(committed_offset(c.bootstraps, "batch-fail", topic, 0) < 0);
            assert_true(committed_offset(c.bootstraps, "batch-fail", topic, 1) < 0);
            checked = 1;
        }
    }
    assert_true(checked);
    assert_int_equal(b.failed_flushes, 2);
    /* After the two failures everything came again, in order, exactly once
     * in what was kept. */
    assert_int_equal(b.n_accepted, 12);
    for (int i = 0; i < 12; i++)
        assert_int_equal(b.accepted[i], i);
    int total = 0;
    for (int i = 0; i < b.n_flushed; i++)
        total += b.flushed[i];
    assert_int_equal(total, 12);
    assert_int_equal(sp_events_consumer_commit(cons), 0);
    /* All 12 share a key, hence a partition; the other has no commit. */
    int64_t p0 = committed_offset(c.bootstraps, "batch-fail", topic, 0);
    int64_t p1 = committed_offset(c.bootstraps, "batch-fail", topic, 1);
    assert_true((p0 == 12 && p1 < 0) || (p1 == 12 && p0 < 0));

    sp_events_consumer_destroy(&cons);
    sp_events_producer_destroy(&prod);
    cluster_stop(&c);
}

static void test_batch_handler_failure_flushes_first(void **state)
{
    cluster_t c;
    batch_t b = {.fail_n = 3};
    const char *topic = "batch.hfail";
    (void)state;

    cluster_start(&c, 1);
    cluster_topic(&c, topic, 1);
    sp_events_producer_t *prod = sp_events_producer_new(c.bootstraps, NULL);
    assert_non_null(prod);
    publish_n(prod, topic, 0, 6);

    sp_events_consumer_t *cons = batch_consumer(&c, "batch-hfail", topic, &b, 100, 60000);
    int64_t until = mono_ms() + 30000;
    int rc = 0;
    while (rc != 2 && mono_ms() < until)
        assert_true((rc = sp_events_consumer_poll_once(cons, 100)) >= 0);
    assert_int_equal(rc, 2);
    /* 0..2 were flushed before 3 is retried, although the batch is neither
     * full nor old. */
    assert_int_equal(b.n_flushed, 1);
    assert_int_equal(b.flushed[0], 3);
    assert_int_equal(sp_events_consumer_commit(cons), 0);
    assert_int_equal(committed_offset(c.bootstraps, "batch-hfail", topic, 0), 3);
    while (b.n_accepted < 6 && mono_ms() < until)
        assert_true(sp_events_consumer_poll_once(cons, 100) >= 0);
    int expect[] = {0, 1, 2, 3, 4, 5};
    assert_int_equal(b.n_accepted, 6);
    assert_memory_equal(b.accepted, expect, sizeof expect);
    /* Destroy without run flushes the rest and commits it. */
    sp_events_consumer_destroy(&cons);
    assert_int_equal(b.n_flushed, 2);
    assert_int_equal(b.flushed[1], 3);
    assert_int_equal(committed_offset(c.bootstraps, "batch-hfail", topic, 0), 6);

    sp_events_producer_destroy(&prod);
    cluster_stop(&c);
}

static void test_batch_run_flushes_at_stop(void **state)
{
    cluster_t c;
    batch_t a = {.fail_n = -1, .stop_after = 7}, b = {.fail_n = -1};
    const char *topic = "batch.stop";
    int all[20] = {0};
    (void)state;

    cluster_start(&c, 1);
    cluster_topic(&c, topic, 1);
    sp_events_producer_t *prod = sp_events_producer_new(c.bootstraps, NULL);
    assert_non_null(prod);
    publish_n(prod, topic, 0, 20);

    /* Stops itself after 7 accepted (one flushed batch of 5 + 2 pending):
     * run() flushes those 2 before leaving the group. */
    sp_events_consumer_t *cons = batch_consumer(&c, "batch-stop", topic, &a, 5, 60000);
    assert_int_equal(sp_events_consumer_run(cons), 0);
    assert_int_equal(a.n_accepted, 7);
    assert_int_equal(a.n_flushed, 2);
    assert_int_equal(a.flushed[1], 2);
    sp_events_consumer_destroy(&cons);
    assert_int_equal(a.n_flushed, 2); /* nothing left to flush at destroy */

    cons = batch_consumer(&c, "batch-stop", topic, &b, 50, 100);
    int64_t until = mono_ms() + 30000;
    while ((b.n_accepted < 13 || sp_events_consumer_pending(cons) > 0) && mono_ms() < until)
        assert_true(sp_events_consumer_poll_once(cons, 100) >= 0);
    assert_int_equal(b.n_accepted, 13);
    for (int i = 0; i < a.n_accepted; i++)
        all[a.accepted[i]]++;
    for (int i = 0; i < b.n_accepted; i++)
        all[b.accepted[i]]++;
    for (int i = 0; i < 20; i++)
        assert_int_equal(all[i], 1);
    sp_events_consumer_destroy(&cons);
    sp_events_producer_destroy(&prod);
    cluster_stop(&c);
}

static void test_bad_arguments(void **state)
{
    const char *topics[] = {"x"};
    (void)state;
    assert_null(sp_events_producer_new(NULL, NULL));
    assert_null(sp_events_producer_new("", NULL));
    assert_null(sp_events_consumer_new("127.0.0.1:1", "g", topics, 0, retry_handler, NULL));
    assert_null(sp_events_consumer_new("127.0.0.1:1", "", topics, 1, retry_handler, NULL));
    assert_null(sp_events_consumer_new("127.0.0.1:1", "g", topics, 1, NULL, NULL));
    assert_int_equal(sp_events_consumer_set_batch(NULL, 1, 1, batch_flush), SP_EINVAL);
    assert_int_equal(sp_events_consumer_pending(NULL), 0);
    assert_int_equal(sp_events_ping(NULL, 100), SP_EINVAL);
    sp_events_consumer_destroy(NULL);
    sp_events_producer_destroy(NULL);
}

/* ---- consumer lag gauge and log context ------------------------------------ */

typedef struct {
    int handled;
    double lag_seen[8]; /* serphona_events_consumer_lag while handling message i */
} lag_t;

/* The value of serphona_events_consumer_lag{topic,partition="0"}, or -1. */
static double lag_metric(const char *topic)
{
    char *text = sp_metrics_render(NULL), want[256];
    double v = -1;
    assert_non_null(text);
    snprintf(want, sizeof want, "serphona_events_consumer_lag{topic=\"%s\",partition=\"0\"} ",
             topic);
    const char *at = strstr(text, want);
    if (at)
        v = strtod(at + strlen(want), NULL);
    free(text);
    return v;
}

static int lag_handler(const sp_events_message_t *m, void *ud)
{
    lag_t *l = ud;
    int n = payload_n(m);
    if (l->handled < 8)
        l->lag_seen[l->handled] = lag_metric(m->topic);
    l->handled++;
    sp_log_info("handled %d", n);
    return 0;
}

static void test_consumer_lag_and_log_context(void **state)
{
    cluster_t c;
    lag_t l;
    const char *topic = "lag.serphona.interactions.v1";
    const char *tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    (void)state;

    memset(&l, 0, sizeof l);
    cluster_start(&c, 1);
    cluster_topic(&c, topic, 1);
    sp_events_producer_t *prod = sp_events_producer_new(c.bootstraps, "lag-producer");
    assert_non_null(prod);
    publish_n(prod, topic, 0, 4);
    Serphona__Events__V1__Event ev;
    make_event(&ev, "tenant-t", 4);
    assert_int_equal(sp_events_event_set_traceparent(&ev, tp), 0);
    assert_int_equal(sp_events_publish_sync(prod, topic, "tenant-t", &ev, 10000), 0);
    sp_events_event_cleanup(&ev);
    sp_events_producer_destroy(&prod);

    FILE *log = tmpfile();
    assert_non_null(log);
    sp_log_init("test-events", SP_LOG_INFO);
    sp_log_set_output(log);
    const char *topics[] = {topic};
    sp_events_consumer_t *cons =
        sp_events_consumer_new(c.bootstraps, "lag-group", topics, 1, lag_handler, &l);
    assert_non_null(cons);
    int64_t until = mono_ms() + 30000;
    while (l.handled < 5 && mono_ms() < until)
        assert_true(sp_events_consumer_poll_once(cons, 200) >= 0);
    assert_int_equal(l.handled, 5);
    /* High watermark 5: message i has 4 - i messages behind it. */
    for (int i = 0; i < 5; i++)
        assert_true(l.lag_seen[i] == (double)(4 - i));
    assert_true(lag_metric(topic) == 0);
    sp_events_consumer_destroy(&cons);
    sp_log_set_output(NULL);
    sp_log_init("test-events",
                getenv("TEST_VERBOSE") && *getenv("TEST_VERBOSE") ? SP_LOG_DEBUG : SP_LOG_ERROR);

    /* The handler's lines carry the event's tenant, and its trace when the
     * event has one. */
    rewind(log);
    char line[4096];
    int plain = 0, traced = 0;
    while (fgets(line, sizeof line, log)) {
        if (!strstr(line, "\"msg\":\"handled "))
            continue;
        if (strstr(line, "\"msg\":\"handled 4\"")) {
            traced++;
            assert_non_null(strstr(line, "\"tenant_id\":\"tenant-t\""));
            assert_non_null(strstr(line, "\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\""));
            assert_non_null(strstr(line, "\"span_id\":\"00f067aa0ba902b7\""));
        } else {
            plain++;
            assert_non_null(strstr(line, "\"tenant_id\":\"tenant-a\""));
            assert_null(strstr(line, "trace_id"));
        }
    }
    fclose(log);
    assert_int_equal(plain, 4);
    assert_int_equal(traced, 1);
    cluster_stop(&c);
}

int main(void)
{
    const char *v = getenv("TEST_VERBOSE");
    sp_log_init("test-events", v && *v ? SP_LOG_DEBUG : SP_LOG_ERROR);

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_init),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_publish_sync_roundtrip),
        cmocka_unit_test(test_consumer_lag_and_log_context),
        cmocka_unit_test(test_handler_failure_redelivers),
        cmocka_unit_test(test_restart_resumes_after_durable),
        cmocka_unit_test(test_broker_down_does_not_hang),
        cmocka_unit_test(test_destroy_flushes),
        cmocka_unit_test(test_batch_flush_by_size_and_time),
        cmocka_unit_test(test_batch_flush_failure_rewinds),
        cmocka_unit_test(test_batch_handler_failure_flushes_first),
        cmocka_unit_test(test_batch_run_flushes_at_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
