/* Tests for clickhouse.c against a real ClickHouse 18.16
 * (deploy/local/clickhouse.sh; SERPHONA_TEST_CH_URL = http://127.0.0.1:PORT):
 * ping, DDL, INSERT ... FORMAT JSONEachRow, SELECT ... FORMAT JSON, literal
 * quoting, errors, timeouts, concurrent use. Each run works in its own
 * database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "platform/clock.h"
#include "platform/clickhouse.h"
#include "platform/error.h"
#include "platform/log.h"

static const char *ch_url;
static char db[64];

static void exec_ok(sp_ch_t *ch, const char *sql)
{
    assert_int_equal(sp_ch_exec(ch, sql, NULL, 0, NULL, NULL), 0);
}

static int setup(void **state)
{
    sp_ch_t *ch = sp_ch_new(ch_url, NULL, NULL, NULL);
    if (!ch)
        return -1;
    char sql[128];
    snprintf(sql, sizeof(sql), "CREATE DATABASE IF NOT EXISTS %s", db);
    int rc = sp_ch_exec(ch, sql, NULL, 0, NULL, NULL);
    sp_ch_destroy(&ch);
    return rc;
}

static int teardown(void **state)
{
    sp_ch_t *ch = sp_ch_new(ch_url, NULL, NULL, NULL);
    if (!ch)
        return -1;
    char sql[128];
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", db);
    int rc = sp_ch_exec(ch, sql, NULL, 0, NULL, NULL);
    sp_ch_destroy(&ch);
    return rc;
}

static void test_ping(void **state)
{
    sp_ch_t *ch = sp_ch_new(ch_url, NULL, NULL, NULL);
    assert_non_null(ch);
    assert_int_equal(sp_ch_ping(ch), 0);
    sp_ch_destroy(&ch);
    assert_null(ch);
    sp_ch_destroy(&ch);

    ch = sp_ch_new("http://127.0.0.1:1", NULL, NULL, NULL);
    assert_non_null(ch);
    long long t0 = sp_clock_mono_ms();
    assert_int_equal(sp_ch_ping(ch), SP_EUNAVAILABLE);
    char *out = (char *)1;
    assert_int_equal(sp_ch_exec(ch, "SELECT 1", NULL, 0, &out, NULL), SP_EUNAVAILABLE);
    assert_null(out);
    assert_true(sp_clock_mono_ms() - t0 < 2000);
    sp_ch_destroy(&ch);

    assert_null(sp_ch_new(NULL, NULL, NULL, NULL));
    assert_null(sp_ch_new("127.0.0.1:8123", NULL, NULL, NULL));
}

static void test_table_insert_select(void **state)
{
    /* The database comes from the client; the default user is named
     * explicitly to exercise authentication. Trailing slashes are fine. */
    char url[256];
    snprintf(url, sizeof(url), "%s/", ch_url);
    sp_ch_t *ch = sp_ch_new(url, db, "default", "");
    assert_non_null(ch);
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(sp_ch_exec(ch, "SELECT currentDatabase()", NULL, 0, &out, &len), 0);
    char expect[80];
    snprintf(expect, sizeof(expect), "%s\n", db);
    assert_string_equal(out, expect);
    assert_int_equal(len, strlen(expect));
    free(out);

    exec_ok(ch, "CREATE TABLE events (tenant_id String, id UInt32, day Date, body String, "
                "score Float64) ENGINE = MergeTree() PARTITION BY toYYYYMM(day) "
                "ORDER BY (tenant_id, id)");

    const char rows[] =
        "{\"tenant_id\":\"t-a\",\"id\":1,\"day\":\"2026-11-01\",\"body\":\"hello\",\"score\":0.5}\n"
        "{\"tenant_id\":\"t-a\",\"id\":2,\"day\":\"2026-11-02\",\"body\":\"it's \\\\ \\\"q\\\" "
        "\\u00e9\\nx\",\"score\":-1}\n"
        "{\"tenant_id\":\"t-b\",\"id\":3,\"day\":\"2026-10-30\",\"body\":\"other\",\"score\":2}\n";
    assert_int_equal(
        sp_ch_exec(ch, "INSERT INTO events FORMAT JSONEachRow", rows, sizeof(rows) - 1, &out, NULL),
        0);
    assert_string_equal(out, "");
    free(out);

    /* Tenant filter with a quoted literal, FORMAT JSON parsed back. */
    sp_arena_t *arena = sp_arena_new();
    char *sql = sp_arena_printf(arena,
                                "SELECT id, body, score FROM events WHERE tenant_id = %s "
                                "ORDER BY id FORMAT JSON",
                                sp_ch_quote(arena, "t-a"));
    assert_int_equal(sp_ch_exec(ch, sql, NULL, 0, &out, &len), 0);
    cJSON *root = cJSON_Parse(out);
    assert_non_null(root);
    assert_int_equal(cJSON_GetObjectItem(root, "rows")->valueint, 2);
    cJSON *data = cJSON_GetObjectItem(root, "data");
    assert_int_equal(cJSON_GetArraySize(data), 2);
    cJSON *second = cJSON_GetArrayItem(data, 1);
    assert_int_equal(cJSON_GetObjectItem(second, "id")->valueint, 2);
    const char *body = cJSON_GetObjectItem(second, "body")->valuestring;
    assert_string_equal(body, "it's \\ \"q\" \xc3\xa9\nx");
    assert_true(cJSON_GetObjectItem(second, "score")->valuedouble == -1.0);

    /* The same awkward string, quoted by sp_ch_quote, finds that row and
     * only that row: the literal cannot break out of its quotes. */
    sql = sp_arena_printf(arena, "SELECT count() FROM events WHERE body = %s",
                          sp_ch_quote(arena, body));
    cJSON_Delete(root);
    free(out);
    assert_int_equal(sp_ch_exec(ch, sql, NULL, 0, &out, NULL), 0);
    assert_string_equal(out, "1\n");
    free(out);
    sql = sp_arena_printf(arena, "SELECT count() FROM events WHERE tenant_id = %s",
                          sp_ch_quote(arena, "t-a' OR '1'='1"));
    assert_int_equal(sp_ch_exec(ch, sql, NULL, 0, &out, NULL), 0);
    assert_string_equal(out, "0\n");
    free(out);
    sql = sp_arena_printf(arena, "SELECT %s = concat('a', unhex('01'), 'b', unhex('7f'), '\\t')",
                          sp_ch_quote(arena, "a\x01"
                                             "b\x7f\t"));
    assert_int_equal(sp_ch_exec(ch, sql, NULL, 0, &out, NULL), 0);
    assert_string_equal(out, "1\n");
    free(out);
    assert_string_equal(sp_ch_quote(arena, "it's \\"), "'it\\'s \\\\'");
    assert_string_equal(sp_ch_quote(arena, ""), "''");
    sp_arena_destroy(&arena);

    /* Output is not needed: out NULL is fine. */
    assert_int_equal(sp_ch_exec(ch, "SELECT 1", NULL, 0, NULL, NULL), 0);
    sp_ch_destroy(&ch);
}

static void test_errors(void **state)
{
    sp_ch_t *ch = sp_ch_new(ch_url, db, NULL, NULL);
    assert_non_null(ch);
    char *out = (char *)1;
    assert_int_equal(sp_ch_exec(ch, "SELEKT nonsense FROM", NULL, 0, &out, NULL), SP_EDB);
    assert_null(out);
    assert_int_equal(sp_ch_exec(ch, "SELECT * FROM no_such_table_here", NULL, 0, NULL, NULL),
                     SP_EDB);
    /* Bad data in an insert. */
    exec_ok(ch, "CREATE TABLE nums (n UInt32) ENGINE = MergeTree() ORDER BY n");
    const char bad[] = "{\"n\":\"not a number\"}\n";
    assert_int_equal(
        sp_ch_exec(ch, "INSERT INTO nums FORMAT JSONEachRow", bad, sizeof(bad) - 1, NULL, NULL),
        SP_EDB);
    /* A failure late in a query is an error, not a 200 with partial data. */
    assert_int_equal(sp_ch_exec(ch,
                                "SELECT throwIf(number = 99999) FROM system.numbers "
                                "LIMIT 100000",
                                NULL, 0, &out, NULL),
                     SP_EDB);
    assert_null(out);
    /* Literals and insert data in server errors stay out of the log. */
    FILE *log = tmpfile();
    assert_non_null(log);
    sp_log_set_output(log);
    assert_int_equal(sp_ch_exec(ch, "SELECT 1 +, 'top-secret-literal'", NULL, 0, NULL, NULL),
                     SP_EDB);
    const char secret_row[] = "{\"n\":\"top-secret-row\"}\n";
    assert_int_equal(sp_ch_exec(ch, "INSERT INTO nums FORMAT JSONEachRow", secret_row,
                                sizeof(secret_row) - 1, NULL, NULL),
                     SP_EDB);
    sp_log_set_output(NULL);
    char text[4096];
    rewind(log);
    size_t got = fread(text, 1, sizeof(text) - 1, log);
    text[got] = '\0';
    fclose(log);
    assert_non_null(strstr(text, "Code: 62"));
    assert_non_null(strstr(text, "Code: 27"));
    assert_null(strstr(text, "top-secret"));

    /* Unknown user. */
    sp_ch_t *other = sp_ch_new(ch_url, NULL, "nobody", "x");
    assert_non_null(other);
    assert_int_equal(sp_ch_exec(other, "SELECT 1", NULL, 0, NULL, NULL), SP_EDB);
    sp_ch_destroy(&other);
    /* Timeout. */
    sp_ch_set_timeout(ch, 300);
    long long t0 = sp_clock_mono_ms();
    assert_int_equal(sp_ch_exec(ch, "SELECT sleep(2)", NULL, 0, NULL, NULL), SP_ETIMEDOUT);
    assert_true(sp_clock_mono_ms() - t0 < 1500);
    assert_int_equal(sp_ch_exec(ch, NULL, NULL, 0, NULL, NULL), SP_EINVAL);
    sp_ch_destroy(&ch);
}

typedef struct {
    sp_ch_t *ch;
    int ok;
} worker_t;

static void *worker(void *arg)
{
    worker_t *w = arg;
    for (int i = 0; i < 10; i++) {
        char *out = NULL;
        char sql[64];
        snprintf(sql, sizeof(sql), "SELECT %d + 1", i);
        char expect[16];
        snprintf(expect, sizeof(expect), "%d\n", i + 1);
        if (sp_ch_exec(w->ch, sql, NULL, 0, &out, NULL) == 0 && strcmp(out, expect) == 0)
            w->ok++;
        free(out);
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    sp_ch_t *ch = sp_ch_new(ch_url, NULL, NULL, NULL);
    assert_non_null(ch);
    worker_t w[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker_t){.ch = ch};
        assert_int_equal(pthread_create(&th[i], NULL, worker, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].ok, 10);
    }
    sp_ch_destroy(&ch);
}

int main(void)
{
    ch_url = getenv("SERPHONA_TEST_CH_URL");
    if (!ch_url || !*ch_url) {
        fprintf(stderr, "test_clickhouse: FAIL: SERPHONA_TEST_CH_URL must be the HTTP URL of a "
                        "running ClickHouse (http://127.0.0.1:PORT); start one with "
                        "deploy/local/clickhouse.sh\n");
        return 1;
    }
    snprintf(db, sizeof(db), "sp_test_%d_%ld", (int)getpid(), (long)time(NULL) % 100000);
    sp_log_init("test_clickhouse", SP_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ping),
        cmocka_unit_test(test_table_insert_select),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_concurrent),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
