/*
 * test_rollup_backfill.c — deploy/clickhouse/003_rollup_by_channel.sql on a
 * database that already holds interactions (SERPHONA_TEST_CH_URL): the
 * backfill folds interactions_hourly over agent_id exactly, a re-run of the
 * file (a migration interrupted after the copy) copies nothing more, and the
 * view keeps both rollups equal afterwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "platform/ch_migrate.h"
#include "platform/clickhouse.h"
#include "platform/error.h"
#include "platform/log.h"

#define T "aaaaaaaa-0000-4000-8000-0000000000a0"

static char dbname[64];
static char tmpdir[64];
static const char *url;
static sp_ch_t *ch;

/* Three agents in one (hour, channel, language), one more hour and channel:
 * 5 interactions, 5 interactions_hourly rows, 3 rows without agents. */
static const char *BEFORE =
    "{\"tenant_id\":\"" T "\",\"interaction_id\":\"00000000-0000-4000-8000-000000000001\","
    "\"channel\":\"call\",\"occurred_at\":\"2024-03-04 10:05:00\",\"language\":\"en\","
    "\"agent_id\":\"ag1\",\"sentiment\":0.5,\"duration_ms\":60000,\"silence_ratio\":0.25,"
    "\"resolved\":1,\"csat\":5,\"nps\":10,\"version\":1}\n"
    "{\"tenant_id\":\"" T "\",\"interaction_id\":\"00000000-0000-4000-8000-000000000002\","
    "\"channel\":\"call\",\"occurred_at\":\"2024-03-04 10:20:00\",\"language\":\"en\","
    "\"agent_id\":\"ag2\",\"sentiment\":-0.5,\"escalated\":1,\"churn_risk\":1,\"csat\":-1,"
    "\"nps\":3,\"version\":1}\n"
    "{\"tenant_id\":\"" T "\",\"interaction_id\":\"00000000-0000-4000-8000-000000000003\","
    "\"channel\":\"call\",\"occurred_at\":\"2024-03-04 10:59:59\",\"language\":\"en\","
    "\"agent_id\":\"ag3\",\"sentiment\":0,\"duration_ms\":30000,\"silence_ratio\":0.5,"
    "\"csat\":2,\"nps\":-1,\"version\":1}\n"
    "{\"tenant_id\":\"" T "\",\"interaction_id\":\"00000000-0000-4000-8000-000000000004\","
    "\"channel\":\"chat\",\"occurred_at\":\"2024-03-04 10:30:00\",\"language\":\"en\","
    "\"agent_id\":\"ag1\",\"sentiment\":0.25,\"csat\":-1,\"nps\":-1,\"version\":1}\n"
    "{\"tenant_id\":\"" T "\",\"interaction_id\":\"00000000-0000-4000-8000-000000000005\","
    "\"channel\":\"call\",\"occurred_at\":\"2024-03-04 11:00:00\",\"language\":\"en\","
    "\"agent_id\":\"ag1\",\"sentiment\":0.75,\"csat\":-1,\"nps\":9,\"version\":1}\n";

static const char *AFTER =
    "{\"tenant_id\":\"" T "\",\"interaction_id\":\"00000000-0000-4000-8000-000000000006\","
    "\"channel\":\"call\",\"occurred_at\":\"2024-03-04 10:40:00\",\"language\":\"en\","
    "\"agent_id\":\"ag4\",\"sentiment\":-0.25,\"duration_ms\":1000,\"csat\":1,\"nps\":0,"
    "\"version\":1}\n";

/* Every column of a rollup without agents, summed per key, as text. */
#define ROLLUP_SELECT                                                                              \
    "SELECT tenant_id, hour, channel, language, sum(interactions), "                               \
    "round(sum(sentiment_sum), 6), sum(positive), sum(negative), sum(resolved), "                  \
    "sum(escalated), sum(churn_risk), sum(duration_ms_sum), sum(timed), "                          \
    "round(sum(silence_ratio_sum), 6), sum(csat_sum), sum(csat_count), sum(nps_promoters), "       \
    "sum(nps_detractors), sum(nps_count) FROM "
#define ROLLUP_GROUP                                                                               \
    " GROUP BY tenant_id, hour, channel, language ORDER BY tenant_id, hour, channel, language "    \
    "FORMAT TabSeparated"

static char *query(const char *sql, const char *body)
{
    char *out = NULL;
    int rc = sp_ch_exec(ch, sql, body, body ? strlen(body) : 0, &out, NULL);
    if (rc != 0)
        fail_msg("ClickHouse: %s failed: %s", sql, sp_strerror(rc));
    return out;
}

static long number(const char *sql)
{
    char *out = query(sql, NULL);
    long n = strtol(out, NULL, 10);
    free(out);
    return n;
}

/* Copies deploy/clickhouse/<name> into tmpdir as <as>. */
static void copy_migration(const char *name, const char *as)
{
    char src[256], dst[256], buf[4096];
    snprintf(src, sizeof src, "deploy/clickhouse/%s", name);
    snprintf(dst, sizeof dst, "%s/%s", tmpdir, as);
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    if (!in || !out)
        fail_msg("cannot copy %s to %s", src, dst);
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    fclose(out);
}

static void migrate(void)
{
    assert_int_equal(sp_ch_migrate(url, NULL, NULL, dbname, tmpdir), 0);
}

/* interactions_hourly folded over agents equals interactions_hourly_channel. */
static void assert_rollups_agree(void)
{
    char *by_agent = query(ROLLUP_SELECT "interactions_hourly" ROLLUP_GROUP, NULL);
    char *by_channel = query(ROLLUP_SELECT "interactions_hourly_channel" ROLLUP_GROUP, NULL);
    assert_true(strlen(by_agent) > 0);
    assert_string_equal(by_channel, by_agent);
    free(by_agent);
    free(by_channel);
}

static int setup(void **state)
{
    (void)state;
    url = getenv("SERPHONA_TEST_CH_URL");
    if (!url) {
        fprintf(stderr, "SERPHONA_TEST_CH_URL is not set (tests/run-all.sh sets it)\n");
        return -1;
    }
    snprintf(dbname, sizeof dbname, "t_aqbf_%d_%ld", (int)getpid(), (long)time(NULL));
    snprintf(tmpdir, sizeof tmpdir, "/tmp/aqbf.XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    ch = sp_ch_new(url, dbname, NULL, NULL);
    return ch ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    sp_ch_t *admin = sp_ch_new(url, NULL, NULL, NULL);
    char sql[128];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", dbname);
    if (admin)
        sp_ch_exec(admin, sql, NULL, 0, NULL, NULL);
    sp_ch_destroy(&admin);
    sp_ch_destroy(&ch);
    const char *names[] = {"001_interactions.sql", "002_interaction_keys.sql",
                           "003_rollup_by_channel.sql", "004_rerun.sql"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char p[256];
        snprintf(p, sizeof p, "%s/%s", tmpdir, names[i]);
        unlink(p);
    }
    rmdir(tmpdir);
    return 0;
}

static void test_backfill_once_then_view(void **state)
{
    (void)state;
    /* The schema before this change, with history in it. */
    copy_migration("001_interactions.sql", "001_interactions.sql");
    copy_migration("002_interaction_keys.sql", "002_interaction_keys.sql");
    migrate();
    free(query("INSERT INTO interactions FORMAT JSONEachRow", BEFORE));
    assert_int_equal(number("SELECT count() FROM interactions_hourly"), 5);

    /* The new file: the history is copied, folded over agents. */
    copy_migration("003_rollup_by_channel.sql", "003_rollup_by_channel.sql");
    migrate();
    assert_int_equal(number("SELECT count() FROM interactions_hourly_channel"), 3);
    assert_int_equal(number("SELECT sum(interactions) FROM interactions_hourly_channel"), 5);
    assert_int_equal(number("SELECT sum(interactions) FROM interactions_hourly_channel WHERE "
                            "channel = 'call' AND hour = toDateTime('2024-03-04 10:00:00')"),
                     3);
    assert_rollups_agree();

    /* The same file again (as a migration interrupted after the copy runs
     * it): the guard sees a non-empty table and copies nothing. */
    copy_migration("003_rollup_by_channel.sql", "004_rerun.sql");
    migrate();
    assert_int_equal(number("SELECT sum(interactions) FROM interactions_hourly_channel"), 5);
    assert_rollups_agree();

    /* New interactions reach both rollups through their views. */
    free(query("INSERT INTO interactions FORMAT JSONEachRow", AFTER));
    assert_int_equal(number("SELECT sum(interactions) FROM interactions_hourly_channel"), 6);
    assert_int_equal(number("SELECT sum(interactions) FROM interactions_hourly_channel WHERE "
                            "channel = 'call' AND hour = toDateTime('2024-03-04 10:00:00')"),
                     4);
    assert_rollups_agree();
}

int main(void)
{
    sp_log_init("test_rollup_backfill", SP_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_backfill_once_then_view, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
