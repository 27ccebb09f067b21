/*
 * test_retention.c — per-tenant retention (retention.h): the hour-aligned
 * cutoff, the WHERE clause, and a pass against a real ClickHouse that
 * deletes exactly the expired rows of the right tenants from every table and
 * leaves alone a tenant whose retention could not be learnt.
 */
#include "ap_test.h"

#include "../src/retention.h"

#define T1     "11111111-1111-4111-8111-111111111111" /* 30 days */
#define T2     "22222222-2222-4222-8222-222222222222" /* 365 days */
#define T3     "33333333-3333-4333-8333-333333333333" /* lookup fails */
#define DAY_MS 86400000LL

static int setup(void **state)
{
    (void)state;
    return ap_db_setup("t_apret");
}

static void test_cutoff_and_where(void **state)
{
    (void)state;
    /* 2025-11-22T08:30:15Z minus 30 days, down to the hour. */
    int64_t now = 1763800215;
    int64_t c = ap_retention_cutoff(now, 30);
    assert_int_equal(c % 3600, 0);
    assert_true(c <= now - 30 * 86400 && c > now - 30 * 86400 - 3600);
    assert_int_equal(ap_retention_cutoff(1763798400, 1), 1763798400 - 86400); /* aligned */

    sp_buf_t w;
    sp_buf_init(&w, 0);
    assert_int_equal(ap_retention_where_add(&w, T1, "occurred_at", 100), 0);
    assert_int_equal(ap_retention_where_add(&w, T2, "hour", 200), 0);
    assert_int_equal(ap_retention_where_add(&w, "x'); DROP TABLE t; --", "hour", 1), SP_EINVAL);
    assert_string_equal(sp_buf_data(&w),
                        "(tenant_id = '" T1 "' AND occurred_at < toDateTime(100)) OR "
                        "(tenant_id = '" T2 "' AND hour < toDateTime(200))");
    sp_buf_cleanup(&w);
}

typedef struct {
    int calls;
} days_t;

static int days_of(const char *tenant, void *ud)
{
    days_t *d = ud;
    d->calls++;
    if (!strcmp(tenant, T1))
        return 30;
    if (!strcmp(tenant, T2))
        return 365;
    return 0; /* T3: tenant-manager did not answer */
}

static void wait_mutations(void)
{
    for (int i = 0; i < 300; i++) {
        if (sptest_ch_num(
                ap_ch,
                "SELECT count() FROM system.mutations WHERE database = currentDatabase() AND "
                "is_done = 0") == 0)
            return;
        usleep(100000);
    }
    fail_msg("mutations did not finish in 30 s");
}

static double rows_of(const char *table, const char *tenant)
{
    return sptest_ch_num(ap_ch, "SELECT count() FROM %s WHERE tenant_id = '%s'", table, tenant);
}

static void test_pass_deletes_expired_rows(void **state)
{
    ap_batch_t *b = ap_batch_new();
    days_t d = {0};
    (void)state;

    int64_t now_ms = (int64_t)time(NULL) * 1000;
    int64_t old_ms = now_ms - 100 * DAY_MS, recent_ms = now_ms - 1 * DAY_MS;
    ap_add(b, T1, 1, old_ms, 0.5, 5, 9);
    ap_add(b, T1, 2, old_ms + 3600000, 0.5, -1, -1);
    ap_add(b, T1, 3, recent_ms, -0.5, 4, 2);
    ap_add(b, T2, 4, old_ms, 0.1, -1, -1);
    ap_add(b, T3, 5, old_ms, 0.1, -1, -1);
    assert_int_equal(ap_store_insert(ap_ch, b), 0);
    ap_batch_destroy(&b);

    assert_int_equal(ap_retention_run_once(ap_ch, days_of, &d, now_ms / 1000), 1);
    assert_int_equal(d.calls, 3);
    wait_mutations();

    /* T1: the two expired interactions are gone from every table, the
     * recent one and its rollups stay. */
    assert_true(rows_of("interactions", T1) == 1);
    assert_true(rows_of("utterances", T1) == 2);
    assert_true(rows_of("interaction_keys", T1) == 1);
    sptest_assert_ch_num(
        ap_ch, 1, "SELECT sum(interactions) FROM interactions_hourly WHERE tenant_id = '" T1 "'");
    sptest_assert_ch_num(
        ap_ch, 4, "SELECT sum(csat_sum) FROM interactions_hourly WHERE tenant_id = '" T1 "'");
    sptest_assert_ch_num(ap_ch, 1,
                         "SELECT sum(interactions) FROM topics_hourly WHERE tenant_id = '" T1 "'");
    sptest_assert_ch_num(ap_ch, 1,
                         "SELECT sum(interactions) FROM interactions_hourly_channel WHERE "
                         "tenant_id = '" T1 "'");
    /* Whatever table a later migration adds with a tenant and a time (a new
     * rollup), none keeps T1's expired rows: the pass must know them all. */
    char *out = NULL;
    assert_int_equal(sp_ch_exec(ap_ch,
                                "SELECT table, if(has(groupArray(name), 'occurred_at'), "
                                "'occurred_at', 'hour') FROM system.columns "
                                "WHERE database = currentDatabase() AND name IN ('tenant_id', "
                                "'occurred_at', 'hour') AND table IN (SELECT name FROM "
                                "system.tables WHERE database = currentDatabase() AND engine "
                                "LIKE '%MergeTree') GROUP BY table HAVING has(groupArray(name), "
                                "'tenant_id') AND length(groupArray(name)) = 2 "
                                "FORMAT TabSeparated",
                                NULL, 0, &out, NULL),
                     0);
    int checked = 0;
    for (char *save = NULL, *line = strtok_r(out, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char *col = strchr(line, '\t');
        assert_non_null(col);
        *col++ = '\0';
        double expired =
            sptest_ch_num(ap_ch,
                          "SELECT count() FROM %s WHERE tenant_id = '" T1 "' AND %s < "
                          "toDateTime(%lld)",
                          line, col, (long long)(ap_retention_cutoff(now_ms / 1000, 30)));
        if (expired != 0)
            fail_msg("retention left expired rows in table %s", line);
        checked++;
    }
    free(out);
    assert_true(checked >= 6);

    /* T2 keeps a year, T3 could not be asked: both untouched. */
    const char *tables[] = {"interactions", "utterances", "interaction_keys", "interactions_hourly",
                            "topics_hourly"};
    for (size_t i = 0; i < 5; i++) {
        assert_true(rows_of(tables[i], T2) >= 1);
        assert_true(rows_of(tables[i], T3) >= 1);
    }

    /* Nothing left to expire: the next pass asks, deletes nothing. */
    assert_int_equal(ap_retention_run_once(ap_ch, days_of, &d, now_ms / 1000), 0);

    /* A year and a half later, T2's row expires too (and T1's last one). */
    assert_int_equal(ap_retention_run_once(ap_ch, days_of, &d, now_ms / 1000 + 400 * 86400), 2);
    wait_mutations();
    assert_true(rows_of("interactions", T2) == 0);
    assert_true(rows_of("interactions", T1) == 0);
    assert_true(rows_of("interactions", T3) == 1);
}

static void test_unreachable_clickhouse(void **state)
{
    days_t d = {0};
    (void)state;
    sp_ch_t *down = sp_ch_new("http://127.0.0.1:1", "x", NULL, NULL);
    int rc = ap_retention_run_once(down, days_of, &d, 1763800215);
    assert_true(rc == SP_EUNAVAILABLE || rc == SP_ETIMEDOUT);
    assert_int_equal(d.calls, 0);
    sp_ch_destroy(&down);
}

int main(void)
{
    sp_log_init("test-retention",
                getenv("TEST_VERBOSE") ? SP_LOG_DEBUG : (sp_log_level_t)(SP_LOG_ERROR + 1));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cutoff_and_where),
        cmocka_unit_test(test_pass_deletes_expired_rows),
        cmocka_unit_test(test_unreachable_clickhouse),
    };
    return cmocka_run_group_tests(tests, setup, ap_db_teardown);
}
