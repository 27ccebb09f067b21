/*
 * stack.c — fixtures over the private test stack (sptest/stack.h).
 */
#include "sptest/stack.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <libpq-fe.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "platform/ch_migrate.h"
#include "platform/crypto.h"
#include "platform/error.h"

#define CH_SCHEMA_DIR "deploy/clickhouse"
#define APP_ROLE      "serphona_app"

const char *sptest_env(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v) {
        fprintf(stderr,
                "%s is not set: this test needs the private server stack; run it with "
                "tests/with-stack.sh %s (make unit-test and make test do)\n",
                name, program_invocation_name);
        return NULL;
    }
    return v;
}

int sptest_env_require(const char *const *names)
{
    int rc = 0;
    for (size_t i = 0; names[i]; i++)
        if (!sptest_env(names[i]))
            rc = -1;
    return rc;
}

void sptest_run_id(char out[9])
{
    uint8_t rnd[4];
    assert_int_equal(sp_random_bytes(rnd, sizeof rnd), 0);
    sp_hex_encode(rnd, sizeof rnd, out);
}

int sptest_pg_migrate(const char *schema, const char *dir)
{
    const char *owner = sptest_env("SERPHONA_TEST_PG_OWNER_URL");
    if (!owner)
        return -1;
    int rc = sp_db_migrate(owner, schema, dir, APP_ROLE);
    if (rc != 0)
        fprintf(stderr, "migrating %s from %s failed: %s\n", schema, dir, sp_strerror(rc));
    return rc == 0 ? 0 : -1;
}

sp_db_pool_t *sptest_pg_app_pool(int size)
{
    const char *app = sptest_env("SERPHONA_TEST_PG_URL");
    return app ? sp_db_pool_new(app, size) : NULL;
}

char *sptest_pg_owner_value(const char *sql)
{
    const char *owner = sptest_env("SERPHONA_TEST_PG_OWNER_URL");
    assert_non_null(owner);
    PGconn *c = PQconnectdb(owner);
    if (PQstatus(c) != CONNECTION_OK) {
        print_error("ERROR: owner connection: %s\n", PQerrorMessage(c));
        PQfinish(c);
        fail();
    }
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        print_error("ERROR: owner sql %s: %s\n", sql, PQresultErrorMessage(r));
        PQclear(r);
        PQfinish(c);
        fail();
    }
    char *v = st == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0)
                  ? strdup(PQgetvalue(r, 0, 0))
                  : NULL;
    PQclear(r);
    PQfinish(c);
    return v;
}

void sptest_pg_owner_exec(const char *sql)
{
    free(sptest_pg_owner_value(sql));
}

sp_redis_pool_t *sptest_redis_pool(int size)
{
    const char *port = sptest_env("SERPHONA_TEST_REDIS_PORT");
    return port ? sp_redis_pool_new("127.0.0.1", (int)strtol(port, NULL, 10), NULL, size, 2000)
                : NULL;
}

void sptest_redis_del_matching(sp_redis_pool_t *pool, const char *pattern)
{
    const char *argv[] = {"KEYS", pattern};
    redisReply *r = NULL;
    assert_int_equal(sp_redis_command(pool, &r, 2, argv, NULL), 0);
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
        sp_redis_cache_del(pool, r->element[i]->str);
    freeReplyObject(r);
}

sp_ch_t *sptest_ch_create(const char *prefix, char name[SPTEST_CH_DB_LEN])
{
    const char *url = sptest_env("SERPHONA_TEST_CH_URL");
    if (!url)
        return NULL;
    snprintf(name, SPTEST_CH_DB_LEN, "%s_%d_%ld", prefix, (int)getpid(), (long)time(NULL));
    if (sp_ch_migrate(url, NULL, NULL, name, CH_SCHEMA_DIR) != 0) {
        fprintf(stderr, "migrating ClickHouse database %s failed\n", name);
        return NULL;
    }
    return sp_ch_new(url, name, NULL, NULL);
}

void sptest_ch_drop(const char *name)
{
    const char *url = sptest_env("SERPHONA_TEST_CH_URL");
    if (!url || !name[0])
        return;
    sp_ch_t *admin = sp_ch_new(url, NULL, NULL, NULL);
    char sql[128];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", name);
    sp_ch_exec(admin, sql, NULL, 0, NULL, NULL);
    sp_ch_destroy(&admin);
}

void sptest_ch_exec(sp_ch_t *ch, const char *sql, const char *body)
{
    char *out = NULL;
    int rc = sp_ch_exec(ch, sql, body, body ? strlen(body) : 0, &out, NULL);
    free(out);
    if (rc != 0)
        fail_msg("ClickHouse: %s failed: %s", sql, sp_strerror(rc));
}

static double ch_num(sp_ch_t *ch, const char *sql)
{
    char *out = NULL;
    if (sp_ch_exec(ch, sql, NULL, 0, &out, NULL) != 0)
        return -1;
    double v = out ? strtod(out, NULL) : -1;
    free(out);
    return v;
}

double sptest_ch_num(sp_ch_t *ch, const char *fmt, ...)
{
    char sql[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    return ch_num(ch, sql);
}

void sptest_ch_check_num(sp_ch_t *ch, double expected, const char *file, int line, const char *fmt,
                         ...)
{
    char sql[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    double got = ch_num(ch, sql);
    if (got == expected)
        return;
    print_error("ERROR: ClickHouse %s: expected %.17g, got %.17g\n", sql, expected, got);
    _fail(file, line);
}

const char *sptest_kafka_brokers(void)
{
    return sptest_env("SERPHONA_TEST_KAFKA_BROKERS");
}
