/*
 * test_ch_migrate.c — ClickHouse migrations against a real server
 * (SERPHONA_TEST_CH_URL): apply once, skip recorded files, stop on a failing
 * statement, and the real schema in deploy/clickhouse applies cleanly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "platform/ch_migrate.h"
#include "platform/error.h"
#include "platform/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *ch_url(void)
{
    const char *url = getenv("SERPHONA_TEST_CH_URL");
    if (!url) {
        fprintf(stderr, "SERPHONA_TEST_CH_URL is not set (tests/run-all.sh sets it)\n");
        exit(1);
    }
    return url;
}

static char dbname[64], tmpdir[64];

static void write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *query(const char *sql)
{
    sp_ch_t *ch = sp_ch_new(ch_url(), dbname, NULL, NULL);
    char *out = NULL;
    int rc = sp_ch_exec(ch, sql, NULL, 0, &out, NULL);
    sp_ch_destroy(&ch);
    return rc == 0 ? out : NULL;
}

static int setup(void **state)
{
    (void)state;
    snprintf(dbname, sizeof dbname, "t_chmig_%d_%ld", (int)getpid(), (long)time(NULL));
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sp-chmig-%d", (int)getpid());
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s", tmpdir, tmpdir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sp_ch_t *admin = sp_ch_new(ch_url(), NULL, NULL, NULL);
    char sql[128];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", dbname);
    sp_ch_exec(admin, sql, NULL, 0, NULL, NULL);
    sp_ch_destroy(&admin);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_applies_once_in_order(void **state)
{
    (void)state;
    write_file("001_first.sql", "-- a comment line\n"
                                "CREATE TABLE IF NOT EXISTS a (x UInt32) ENGINE = MergeTree() "
                                "ORDER BY x;\n"
                                "INSERT INTO a VALUES (1);\n");
    write_file("002_second.sql", "CREATE TABLE IF NOT EXISTS b (s String) ENGINE = Memory;\n"
                                 "INSERT INTO b VALUES ('x;y');\n");
    write_file("README", "not a migration");
    assert_int_equal(sp_ch_migrate(ch_url(), NULL, NULL, dbname, tmpdir), 0);
    char *out = query("SELECT count() FROM a FORMAT TabSeparated");
    assert_string_equal(out, "1\n");
    free(out);
    out = query("SELECT s FROM b FORMAT TabSeparated");
    assert_string_equal(out, "x;y\n"); /* a ';' inside a line does not split */
    free(out);
    /* Second run: nothing re-applied (the INSERT would add a row). */
    assert_int_equal(sp_ch_migrate(ch_url(), NULL, NULL, dbname, tmpdir), 0);
    out = query("SELECT count() FROM a FORMAT TabSeparated");
    assert_string_equal(out, "1\n");
    free(out);
    out = query("SELECT groupArray(version) FROM (SELECT version FROM schema_migrations "
                "ORDER BY version) FORMAT TabSeparated");
    assert_string_equal(out, "[1,2]\n");
    free(out);
}

static void test_failure_is_not_recorded(void **state)
{
    (void)state;
    write_file("001_ok.sql", "CREATE TABLE IF NOT EXISTS a (x UInt32) ENGINE = Memory;\n");
    write_file("002_bad.sql", "CREATE TABLE broken (x NoSuchType) ENGINE = Memory;\n");
    assert_int_equal(sp_ch_migrate(ch_url(), NULL, NULL, dbname, tmpdir), SP_EDB);
    char *out = query("SELECT count() FROM schema_migrations WHERE version = 2 FORMAT "
                      "TabSeparated");
    assert_string_equal(out, "0\n");
    free(out);
}

static void test_bad_names_refused(void **state)
{
    (void)state;
    write_file("1-bad.sql", "SELECT 1;\n");
    assert_int_equal(sp_ch_migrate(ch_url(), NULL, NULL, dbname, tmpdir), SP_EINVAL);
    assert_int_equal(sp_ch_migrate(ch_url(), NULL, NULL, "bad-name; DROP", tmpdir), SP_EINVAL);
}

static void test_real_schema_applies(void **state)
{
    (void)state;
    assert_int_equal(sp_ch_migrate(ch_url(), NULL, NULL, dbname, "deploy/clickhouse"), 0);
    /* The rollup view fires on insert. */
    char *out = query("INSERT INTO interactions (tenant_id, interaction_id, occurred_at, channel, "
                      "sentiment, topics, csat, nps, version) VALUES "
                      "('00000000-0000-0000-0000-000000000001', "
                      "'00000000-0000-0000-0000-0000000000a1', '2026-01-02 10:30:00', 'call', "
                      "0.5, ['billing','refund'], 4, 10, 1)");
    assert_non_null(out);
    free(out);
    out = query("SELECT sum(interactions), sum(csat_sum), sum(nps_promoters) FROM "
                "interactions_hourly FORMAT TabSeparated");
    assert_string_equal(out, "1\t4\t1\n");
    free(out);
    out = query("SELECT groupArray(topic) FROM (SELECT topic FROM topics_hourly ORDER BY topic) "
                "FORMAT TabSeparated");
    assert_string_equal(out, "['billing','refund']\n");
    free(out);
}

int main(void)
{
    sp_log_init("test_ch_migrate", SP_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_applies_once_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_is_not_recorded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_names_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_real_schema_applies, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
