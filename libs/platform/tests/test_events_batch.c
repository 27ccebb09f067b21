/*
 * test_events_batch.c — the consumer's batch mode against librdkafka's mock
 * cluster: offsets are stored only after a successful flush.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "events_fixture.h"

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
    b->last_flush_ms = sp_clock_mono_ms();
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
    int64_t until = sp_clock_mono_ms() + 30000;
    while (b.n_accepted < 10 && sp_clock_mono_ms() < until)
        assert_true(sp_events_consumer_poll_once(cons, 50) >= 0);
    int64_t accepted_at = sp_clock_mono_ms();
    assert_int_equal(b.n_accepted, 10);
    assert_int_equal(b.n_flushed, 2);
    assert_int_equal(sp_events_consumer_pending(cons), 2);
    /* Accepted is not durable: only the flushed 8 may be committed. */
    assert_int_equal(sp_events_consumer_commit(cons), 0);
    assert_int_equal(committed_offset(c.bootstraps, "batch-size", topic, 0), 8);

    /* Polling with a long timeout still flushes on time. */
    while (b.n_flushed < 3 && sp_clock_mono_ms() < until)
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
    int64_t until = sp_clock_mono_ms() + 30000;
    int checked = 0;
    while ((b.n_flushed == 0 || b.n_accepted < 12 || sp_events_consumer_pending(cons) > 0) &&
           sp_clock_mono_ms() < until) {
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
    int64_t until = sp_clock_mono_ms() + 30000;
    int rc = 0;
    while (rc != 2 && sp_clock_mono_ms() < until)
        assert_true((rc = sp_events_consumer_poll_once(cons, 100)) >= 0);
    assert_int_equal(rc, 2);
    /* 0..2 were flushed before 3 is retried, although the batch is neither
     * full nor old. */
    assert_int_equal(b.n_flushed, 1);
    assert_int_equal(b.flushed[0], 3);
    assert_int_equal(sp_events_consumer_commit(cons), 0);
    assert_int_equal(committed_offset(c.bootstraps, "batch-hfail", topic, 0), 3);
    while (b.n_accepted < 6 && sp_clock_mono_ms() < until)
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
    int64_t until = sp_clock_mono_ms() + 30000;
    while ((b.n_accepted < 13 || sp_events_consumer_pending(cons) > 0) &&
           sp_clock_mono_ms() < until)
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

int main(void)
{
    const char *v = getenv("TEST_VERBOSE");
    sp_log_init("test-events-batch", v && *v ? SP_LOG_DEBUG : SP_LOG_ERROR);

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_flush_by_size_and_time),
        cmocka_unit_test(test_batch_flush_failure_rewinds),
        cmocka_unit_test(test_batch_handler_failure_flushes_first),
        cmocka_unit_test(test_batch_run_flushes_at_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
