/*
 * test_events_consumer.c — the consumer (redelivery, resume after restart,
 * lag gauge and log context, argument checks) against librdkafka's mock
 * cluster.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "events_fixture.h"

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
    int64_t until = sp_clock_mono_ms() + 30000;
    int checked = 0;
    while (r.done < 4 && sp_clock_mono_ms() < until) {
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
    int64_t until = sp_clock_mono_ms() + 30000;
    while (__atomic_load_n(&b.n, __ATOMIC_SEQ_CST) < 6 && sp_clock_mono_ms() < until) {
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

/* ---- bad arguments ---------------------------------------------------------- */

/* A flush that is never called: set_batch rejects the NULL consumer first. */
static int noop_flush(void *ud)
{
    (void)ud;
    return 0;
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
    assert_int_equal(sp_events_consumer_set_batch(NULL, 1, 1, noop_flush), SP_EINVAL);
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
    int64_t until = sp_clock_mono_ms() + 30000;
    while (l.handled < 5 && sp_clock_mono_ms() < until)
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
    sp_log_init("test-events-consumer", v && *v ? SP_LOG_DEBUG : SP_LOG_ERROR);

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_consumer_lag_and_log_context),
        cmocka_unit_test(test_handler_failure_redelivers),
        cmocka_unit_test(test_restart_resumes_after_durable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
