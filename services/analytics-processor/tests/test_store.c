/*
 * test_store.c — a batch into a real ClickHouse (store.h): rows and rollups
 * written once, replays found and skipped so no rollup counts twice, and an
 * unreachable server reported as unavailable (a retry, never poison).
 */
#include "ap_test.h"

#define T1 "11111111-1111-4111-8111-111111111111"
#define T2 "22222222-2222-4222-8222-222222222222"
#define H  1763798400000LL /* 2025-11-22T08:00:00Z, an hour boundary */

static int setup(void **state)
{
    (void)state;
    return ap_db_setup("t_apstore");
}

/* The flush's ClickHouse half, as processor.c runs it. */
static int store(ap_batch_t *b)
{
    ap_batch_dedupe(b);
    int rc = ap_store_lookup(ap_ch, b);
    if (rc < 0)
        return rc;
    return ap_store_insert(ap_ch, b);
}

static void test_insert_once_and_skip_replays(void **state)
{
    ap_batch_t *b = ap_batch_new();
    ap_entry_t e;
    (void)state;

    ap_add(b, T1, 1, H + 60000, 0.5, 5, 10);
    ap_add(b, T1, 2, H + 120000, -0.5, -1, 3);
    ap_add(b, T2, 1, H + 60000, 0.25, 4, -1); /* same id, other tenant */
    ap_add(b, T1, 1, H + 60000, 0.5, 5, 10);  /* replay inside the batch */
    assert_int_equal(store(b), 0);
    assert_int_equal(ap_batch_new_count(b, NULL), 3);

    sptest_assert_ch_num(ap_ch, 3, "SELECT count() FROM interactions");
    sptest_assert_ch_num(ap_ch, 6, "SELECT count() FROM utterances");
    sptest_assert_ch_num(ap_ch, 3, "SELECT count() FROM interaction_keys");
    sptest_assert_ch_num(
        ap_ch, 2, "SELECT sum(interactions) FROM interactions_hourly WHERE tenant_id = '" T1 "'");
    sptest_assert_ch_num(
        ap_ch, 5, "SELECT sum(csat_sum) FROM interactions_hourly WHERE tenant_id = '" T1 "'");
    sptest_assert_ch_num(ap_ch, 1, "SELECT sum(nps_promoters) FROM interactions_hourly");
    sptest_assert_ch_num(ap_ch, 1, "SELECT sum(nps_detractors) FROM interactions_hourly");
    sptest_assert_ch_num(ap_ch, 3, "SELECT sum(interactions) FROM topics_hourly");
    sptest_assert_ch_num(ap_ch, (double)H / 1000,
                         "SELECT toUnixTimestamp(min(hour)) FROM interactions_hourly");

    /* A replay of the whole batch plus one new interaction: only the new
     * one is written, every KPI counts each interaction once. */
    ap_batch_reset(b);
    ap_add(b, T1, 2, H + 120000, -0.5, -1, 3);
    ap_add(b, T1, 1, H + 60000, 0.5, 5, 10);
    ap_add(b, T2, 1, H + 60000, 0.25, 4, -1);
    ap_add(b, T2, 7, H + 180000, 0.75, -1, -1);
    assert_int_equal(store(b), 0);
    assert_int_equal(ap_batch_new_count(b, NULL), 1);
    for (size_t i = 0; i < 3; i++) {
        ap_batch_entry(b, i, &e);
        assert_int_equal(e.state, AP_ENTRY_DUP_STORED);
    }
    sptest_assert_ch_num(ap_ch, 4, "SELECT count() FROM interactions");
    sptest_assert_ch_num(ap_ch, 8, "SELECT count() FROM utterances");
    sptest_assert_ch_num(ap_ch, 4, "SELECT sum(interactions) FROM interactions_hourly");
    sptest_assert_ch_num(ap_ch, 2, "SELECT sum(csat_count) FROM interactions_hourly");
    sptest_assert_ch_num(ap_ch, 4, "SELECT sum(interactions) FROM topics_hourly");
    double s = sptest_ch_num(ap_ch, "SELECT sum(sentiment_sum) FROM interactions_hourly");
    assert_true(s > 0.999 && s < 1.001); /* 0.5 - 0.5 + 0.25 + 0.75 */

    /* Only replays: nothing is sent at all. */
    ap_batch_reset(b);
    ap_add(b, T2, 7, H + 180000, 0.75, -1, -1);
    assert_int_equal(store(b), 0);
    assert_int_equal(ap_batch_new_count(b, NULL), 0);
    sptest_assert_ch_num(ap_ch, 4, "SELECT count() FROM interactions");
    ap_batch_destroy(&b);
}

static void test_unreachable_is_unavailable(void **state)
{
    ap_batch_t *b = ap_batch_new();
    (void)state;

    /* Port 1 on loopback: nothing listens there. */
    sp_ch_t *down = sp_ch_new("http://127.0.0.1:1", "x", NULL, NULL);
    ap_add(b, T1, 42, H, 0, -1, -1);
    int rc = ap_store_lookup(down, b);
    assert_true(rc == SP_EUNAVAILABLE || rc == SP_ETIMEDOUT);
    assert_int_equal(ap_store_insert(down, b), rc);
    sp_ch_destroy(&down);

    /* A server that refuses the statement (no such table): SP_EDB. */
    sp_ch_t *nodb =
        sp_ch_new(sptest_env("SERPHONA_TEST_CH_URL"), "no_such_database_here", NULL, NULL);
    assert_int_equal(ap_store_lookup(nodb, b), SP_EDB);
    sp_ch_destroy(&nodb);
    ap_batch_destroy(&b);
}

int main(void)
{
    /* Quiet unless asked: the failure cases log errors on purpose. */
    sp_log_init("test-store",
                getenv("TEST_VERBOSE") ? SP_LOG_DEBUG : (sp_log_level_t)(SP_LOG_ERROR + 1));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_insert_once_and_skip_replays),
        cmocka_unit_test(test_unreachable_is_unavailable),
    };
    return cmocka_run_group_tests(tests, setup, ap_db_teardown);
}
