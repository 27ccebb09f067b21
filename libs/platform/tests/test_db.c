/* Tests for db.c against a real PostgreSQL (deploy/local/postgres.sh):
 * pool exhaustion, tenant-scoped transactions, parameters, row-level
 * security through the app role, migrations (once, concurrently, failing),
 * reconnect after the server kills our sessions, ping.
 *
 * Needs SERPHONA_TEST_PG_URL (the app role) and SERPHONA_TEST_PG_OWNER_URL
 * (the owner role); every schema and table name carries a per-run suffix. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "platform/clock.h"
#include "platform/db.h"
#include "platform/error.h"
#include "platform/log.h"

static const char *app_url;
static const char *owner_url;
static char run_id[32];

static const char tenant_a[] = "11111111-1111-4111-8111-111111111111";
static const char tenant_b[] = "22222222-2222-4222-8222-222222222222";

/* conninfo with an extra URL query parameter. */
static char *url_with(const char *url, const char *param)
{
    char *s = NULL;
    assert_true(asprintf(&s, "%s%c%s", url, strchr(url, '?') ? '&' : '?', param) > 0);
    return s;
}

/* Runs sql through a direct owner connection (setup/cleanup). */
static void quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

static void owner_exec(const char *sql)
{
    PGconn *c = PQconnectdb(owner_url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PQsetNoticeProcessor(c, quiet, NULL);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("owner_exec(%s): %s", sql, PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(c);
}

/* One text value from a query through tx (the caller's expectations). */
static char *tx_value(sp_db_tx_t *tx, const char *sql, int nparams, const char *const *params)
{
    PGresult *res = NULL;
    assert_int_equal(sp_db_tx_query(tx, sql, nparams, params, &res), 0);
    assert_int_equal(PQntuples(res), 1);
    char *v = PQgetisnull(res, 0, 0) ? NULL : strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return v;
}

/* A fresh migrations directory under /tmp holding the given files. */
static char *make_dir(void)
{
    char *dir = NULL;
    static int seq;
    assert_true(asprintf(&dir, "/tmp/sp-test-mig-%s-%d", run_id, ++seq) > 0);
    assert_int_equal(mkdir(dir, 0700), 0);
    return dir;
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void remove_dir(char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(dir);
}

static void drop_schema(const char *schema)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS \"%s\" CASCADE", schema);
    owner_exec(sql);
}

/* ---- pool ---------------------------------------------------------------- */

typedef struct {
    sp_db_pool_t *pool;
    int rc;
    long long waited_ms;
} waiter_t;

static void *acquire_waiter(void *arg)
{
    waiter_t *w = arg;
    long long t0 = sp_clock_mono_ms();
    PGconn *c = NULL;
    w->rc = sp_db_pool_acquire(w->pool, 5000, &c);
    w->waited_ms = sp_clock_mono_ms() - t0;
    if (w->rc == 0)
        sp_db_pool_release(w->pool, c);
    return NULL;
}

static void test_pool_exhaustion(void **state)
{
    sp_db_pool_t *pool = sp_db_pool_new(app_url, 2);
    assert_non_null(pool);
    PGconn *a = NULL, *b = NULL, *c = NULL;
    assert_int_equal(sp_db_pool_acquire(pool, 1000, &a), 0);
    assert_int_equal(sp_db_pool_acquire(pool, 1000, &b), 0);
    assert_ptr_not_equal(a, b);
    assert_int_equal(PQstatus(a), CONNECTION_OK);

    long long t0 = sp_clock_mono_ms();
    assert_int_equal(sp_db_pool_acquire(pool, 300, &c), SP_ETIMEDOUT);
    long long waited = sp_clock_mono_ms() - t0;
    assert_null(c);
    assert_true(waited >= 250 && waited < 2000);
    assert_int_equal(sp_db_pool_acquire(pool, 0, &c), SP_ETIMEDOUT);

    /* A waiter is woken by a release, well before its timeout. */
    waiter_t w = {.pool = pool};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, acquire_waiter, &w), 0);
    usleep(150 * 1000);
    sp_db_pool_release(pool, a);
    pthread_join(th, NULL);
    assert_int_equal(w.rc, 0);
    assert_true(w.waited_ms >= 100 && w.waited_ms < 3000);

    /* The released connection is reused, not reopened. */
    assert_int_equal(sp_db_pool_acquire(pool, 0, &c), 0);
    assert_ptr_equal(c, a);
    sp_db_pool_release(pool, c);
    sp_db_pool_release(pool, b);

    /* tx_begin obeys the pool's acquire timeout. */
    sp_db_pool_set_acquire_timeout(pool, 100);
    sp_db_tx_t *t1 = NULL, *t2 = NULL, *t3 = NULL;
    assert_int_equal(sp_db_tx_begin(pool, NULL, &t1), 0);
    assert_int_equal(sp_db_tx_begin(pool, NULL, &t2), 0);
    assert_int_equal(sp_db_tx_begin(pool, NULL, &t3), SP_ETIMEDOUT);
    assert_null(t3);
    sp_db_tx_rollback(&t1);
    assert_null(t1);
    assert_int_equal(sp_db_tx_commit(&t2), 0);
    sp_db_tx_rollback(&t3); /* NULL is fine */
    sp_db_pool_destroy(&pool);
    assert_null(pool);
    sp_db_pool_destroy(&pool);
}

/* ---- transactions ---------------------------------------------------------- */

static void test_tenant_is_transaction_local(void **state)
{
    /* Size 1: the second transaction necessarily reuses the same session. */
    sp_db_pool_t *pool = sp_db_pool_new(app_url, 1);
    assert_non_null(pool);
    sp_db_tx_t *tx = NULL;
    assert_int_equal(sp_db_tx_begin(pool, tenant_a, &tx), 0);
    char *pid1 = tx_value(tx, "SELECT pg_backend_pid()::text", 0, NULL);
    char *t = tx_value(tx, "SELECT current_setting('app.tenant_id', true)", 0, NULL);
    assert_string_equal(t, tenant_a);
    free(t);
    char *user = tx_value(tx, "SELECT current_user::text", 0, NULL);
    assert_string_equal(user, "serphona_app");
    free(user);
    assert_int_equal(sp_db_tx_commit(&tx), 0);
    assert_null(tx);

    assert_int_equal(sp_db_tx_begin(pool, NULL, &tx), 0);
    char *pid2 = tx_value(tx, "SELECT pg_backend_pid()::text", 0, NULL);
    assert_string_equal(pid1, pid2);
    t = tx_value(tx, "SELECT current_setting('app.tenant_id', true)", 0, NULL);
    /* After SET LOCAL ends the placeholder reads as "" (NULL if never set). */
    assert_true(t == NULL || t[0] == '\0');
    free(t);
    sp_db_tx_rollback(&tx);

    /* A rolled-back tenant transaction does not leak either. */
    assert_int_equal(sp_db_tx_begin(pool, tenant_b, &tx), 0);
    sp_db_tx_rollback(&tx);
    assert_int_equal(sp_db_tx_begin(pool, NULL, &tx), 0);
    t = tx_value(tx, "SELECT current_setting('app.tenant_id', true)", 0, NULL);
    assert_true(t == NULL || t[0] == '\0');
    free(t);
    assert_int_equal(sp_db_tx_commit(&tx), 0);

    /* A connection released mid-transaction is rolled back by the pool. */
    PGconn *c = NULL;
    assert_int_equal(sp_db_pool_acquire(pool, 1000, &c), 0);
    PQclear(PQexec(c, "BEGIN"));
    PQclear(PQexec(c, "SELECT set_config('app.tenant_id', 'leak', true)"));
    sp_db_pool_release(pool, c);
    assert_int_equal(sp_db_tx_begin(pool, NULL, &tx), 0);
    t = tx_value(tx, "SELECT current_setting('app.tenant_id', true)", 0, NULL);
    assert_true(t == NULL || t[0] == '\0');
    free(t);
    assert_int_equal(sp_db_tx_commit(&tx), 0);

    free(pid1);
    free(pid2);
    sp_db_pool_destroy(&pool);
}

static void test_parameters_verbatim_and_sqlstate(void **state)
{
    sp_db_pool_t *pool = sp_db_pool_new(app_url, 1);
    assert_non_null(pool);
    sp_db_tx_t *tx = NULL;
    assert_int_equal(sp_db_tx_begin(pool, NULL, &tx), 0);
    assert_int_equal(sp_db_tx_query(tx,
                                    "CREATE TEMP TABLE inj (id int PRIMARY KEY, v text) "
                                    "ON COMMIT DROP",
                                    0, NULL, NULL),
                     0);
    const char *evil = "x'); DROP TABLE inj; -- \\' \"$1\" \xc3\xa9";
    const char *p[2] = {"1", evil};
    assert_int_equal(sp_db_tx_query(tx, "INSERT INTO inj (id, v) VALUES ($1, $2)", 2, p, NULL), 0);
    assert_string_equal(sp_db_tx_sqlstate(tx), "");
    const char *p1[1] = {"1"};
    char *v = tx_value(tx, "SELECT v FROM inj WHERE id = $1", 1, p1);
    assert_string_equal(v, evil);
    free(v);
    /* A NULL parameter is SQL NULL. */
    const char *pn[2] = {"2", NULL};
    assert_int_equal(sp_db_tx_query(tx, "INSERT INTO inj (id, v) VALUES ($1, $2)", 2, pn, NULL), 0);
    const char *p2[1] = {"2"};
    v = tx_value(tx, "SELECT v FROM inj WHERE id = $1", 1, p2);
    assert_null(v);

    /* Arena-owned result. */
    sp_arena_t *arena = sp_arena_new();
    PGresult *res = NULL;
    assert_int_equal(sp_db_tx_query_arena(tx, arena, "SELECT count(*) FROM inj", 0, NULL, &res), 0);
    assert_string_equal(PQgetvalue(res, 0, 0), "2");
    sp_arena_destroy(&arena);

    /* Unique violation: SP_EDB with SQLSTATE and constraint; the failed
     * transaction cannot be committed. */
    PGresult *bad = (PGresult *)1;
    assert_int_equal(sp_db_tx_query(tx, "INSERT INTO inj (id, v) VALUES ($1, $2)", 2, p, &bad),
                     SP_EDB);
    assert_null(bad);
    assert_string_equal(sp_db_tx_sqlstate(tx), "23505");
    assert_string_equal(sp_db_tx_constraint(tx), "inj_pkey");
    assert_int_equal(sp_db_tx_query(tx, "SELECT 1", 0, NULL, NULL), SP_EDB);
    assert_string_equal(sp_db_tx_sqlstate(tx), "25P02");
    assert_int_equal(sp_db_tx_commit(&tx), SP_EDB);
    assert_null(tx);

    /* Two statements in one string are refused: parameterised only. */
    assert_int_equal(sp_db_tx_begin(pool, NULL, &tx), 0);
    assert_int_equal(sp_db_tx_query(tx, "SELECT 1; SELECT 2", 0, NULL, NULL), SP_EDB);
    sp_db_tx_rollback(&tx);

    /* The pool still works after all that. */
    assert_int_equal(sp_db_tx_begin(pool, NULL, &tx), 0);
    v = tx_value(tx, "SELECT 40 + 2", 0, NULL);
    /* A failed assert ends the test, so v is not leaked there. */
    assert_string_equal(v, "42"); // NOLINT(clang-analyzer-unix.Malloc)
    free(v);
    assert_int_equal(sp_db_tx_commit(&tx), 0);
    sp_db_pool_destroy(&pool);
}

/* ---- row-level security ---------------------------------------------------- */

static const char rls_migration[] =
    "CREATE TABLE notes (\n"
    "  id bigserial PRIMARY KEY,\n"
    "  tenant_id uuid NOT NULL,\n"
    "  body text NOT NULL);\n"
    "ALTER TABLE notes ENABLE ROW LEVEL SECURITY;\n"
    "ALTER TABLE notes FORCE ROW LEVEL SECURITY;\n"
    "-- NULLIF: once set in a session the setting reads '' after the tx ends.\n"
    "CREATE POLICY tenant_isolation ON notes\n"
    "  USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)\n"
    "  WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);\n";

static int count_rows(sp_db_pool_t *pool, const char *tenant, const char *sql)
{
    sp_db_tx_t *tx = NULL;
    assert_int_equal(sp_db_tx_begin(pool, tenant, &tx), 0);
    PGresult *res = NULL;
    assert_int_equal(sp_db_tx_query(tx, sql, 0, NULL, &res), 0);
    int n = PQntuples(res);
    /* Every visible row belongs to the tenant. */
    for (int i = 0; i < n && tenant; i++)
        assert_string_equal(PQgetvalue(res, i, 0), tenant);
    PQclear(res);
    assert_int_equal(sp_db_tx_commit(&tx), 0);
    return n;
}

static void insert_note(sp_db_pool_t *pool, const char *ctx_tenant, const char *row_tenant,
                        const char *schema, int expect)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "INSERT INTO \"%s\".notes (tenant_id, body) VALUES ($1, $2)",
             schema);
    sp_db_tx_t *tx = NULL;
    assert_int_equal(sp_db_tx_begin(pool, ctx_tenant, &tx), 0);
    const char *p[2] = {row_tenant, "hello"};
    int rc = sp_db_tx_query(tx, sql, 2, p, NULL);
    assert_int_equal(rc, expect);
    if (rc == 0) {
        assert_int_equal(sp_db_tx_commit(&tx), 0);
    } else {
        assert_string_equal(sp_db_tx_sqlstate(tx), "42501");
        sp_db_tx_rollback(&tx);
    }
}

static void test_rls_isolates_tenants(void **state)
{
    char schema[64];
    snprintf(schema, sizeof(schema), "sp_test_rls_%s", run_id);
    char *dir = make_dir();
    write_file(dir, "001_notes.sql", rls_migration);
    assert_int_equal(sp_db_migrate(owner_url, schema, dir, "serphona_app"), 0);

    sp_db_pool_t *pool = sp_db_pool_new(app_url, 2);
    assert_non_null(pool);
    insert_note(pool, tenant_a, tenant_a, schema, 0);
    insert_note(pool, tenant_a, tenant_a, schema, 0);
    insert_note(pool, tenant_b, tenant_b, schema, 0);
    /* WITH CHECK: tenant A cannot write a row for B, nor anyone without a tenant. */
    insert_note(pool, tenant_a, tenant_b, schema, SP_EDB);
    insert_note(pool, NULL, tenant_a, schema, SP_EDB);

    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT tenant_id::text FROM \"%s\".notes", schema);
    assert_int_equal(count_rows(pool, tenant_a, sql), 2);
    assert_int_equal(count_rows(pool, tenant_b, sql), 1);
    assert_int_equal(count_rows(pool, NULL, sql), 0);

    /* UPDATE/DELETE across tenants touch nothing. */
    sp_db_tx_t *tx = NULL;
    assert_int_equal(sp_db_tx_begin(pool, tenant_b, &tx), 0);
    snprintf(sql, sizeof(sql), "DELETE FROM \"%s\".notes WHERE tenant_id = $1", schema);
    const char *pa[1] = {tenant_a};
    PGresult *res = NULL;
    assert_int_equal(sp_db_tx_query(tx, sql, 1, pa, &res), 0);
    assert_string_equal(PQcmdTuples(res), "0");
    PQclear(res);
    /* The app role owns nothing, so it cannot switch RLS off. */
    snprintf(sql, sizeof(sql), "ALTER TABLE \"%s\".notes DISABLE ROW LEVEL SECURITY", schema);
    assert_int_equal(sp_db_tx_query(tx, sql, 0, NULL, NULL), SP_EDB);
    assert_string_equal(sp_db_tx_sqlstate(tx), "42501");
    sp_db_tx_rollback(&tx);

    /* FORCE binds the owner too: with row_security off its query errors
     * instead of bypassing the policy. */
    PGconn *c = PQconnectdb(owner_url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\".notes", schema);
    res = PQexec(c, "SET row_security = off");
    PQclear(res);
    res = PQexec(c, sql);
    assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
    PQclear(res);
    PQfinish(c);

    sp_db_pool_destroy(&pool);
    drop_schema(schema);
    remove_dir(dir);
}

/* ---- migrations ------------------------------------------------------------- */

static int owner_count(const char *sql)
{
    PGconn *c = PQconnectdb(owner_url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("owner_count(%s): %s", sql, PQresultErrorMessage(r));
    int n = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    PQfinish(c);
    return n;
}

static void test_migrations_apply_once(void **state)
{
    char schema[64], sql[256];
    snprintf(schema, sizeof(schema), "sp_test_mig_%s", run_id);
    char *dir = make_dir();
    write_file(dir, "001_init.sql", "CREATE TABLE items (id serial PRIMARY KEY, v text);\n");
    write_file(dir, "002_seed.sql", "INSERT INTO items (v) VALUES ('a'), ('b');\n");
    write_file(dir, "README.md", "not a migration\n");
    assert_int_equal(sp_db_migrate(owner_url, schema, dir, "serphona_app"), 0);

    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM \"%s\".schema_migrations WHERE (version, name) IN "
             "((1, '001_init.sql'), (2, '002_seed.sql'))",
             schema);
    assert_int_equal(owner_count(sql), 2);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\".items", schema);
    assert_int_equal(owner_count(sql), 2);

    /* Second run: no-op (a re-run of 001 would fail, of 002 would double). */
    assert_int_equal(sp_db_migrate(owner_url, schema, dir, "serphona_app"), 0);
    assert_int_equal(owner_count(sql), 2);

    /* A new file is picked up; a number gap is fine; order is numeric. */
    write_file(dir, "010_more.sql", "INSERT INTO items (v) VALUES ('c');\n");
    write_file(dir, "9_before.sql", "ALTER TABLE items ADD COLUMN w int NOT NULL DEFAULT 9;\n");
    assert_int_equal(sp_db_migrate(owner_url, schema, dir, "serphona_app"), 0);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\".items WHERE w = 9", schema);
    assert_int_equal(owner_count(sql), 3);

    /* The app role got DML on the tables and the sequence, not on schema_migrations. */
    sp_db_pool_t *pool = sp_db_pool_new(app_url, 1);
    sp_db_tx_t *tx = NULL;
    assert_int_equal(sp_db_tx_begin(pool, NULL, &tx), 0);
    snprintf(sql, sizeof(sql), "INSERT INTO \"%s\".items (v) VALUES ('app')", schema);
    assert_int_equal(sp_db_tx_query(tx, sql, 0, NULL, NULL), 0);
    snprintf(sql, sizeof(sql), "SELECT * FROM \"%s\".schema_migrations", schema);
    assert_int_equal(sp_db_tx_query(tx, sql, 0, NULL, NULL), SP_EDB);
    assert_string_equal(sp_db_tx_sqlstate(tx), "42501");
    sp_db_tx_rollback(&tx);
    assert_int_equal(sp_db_tx_begin(pool, NULL, &tx), 0);
    snprintf(sql, sizeof(sql), "CREATE TABLE \"%s\".nope (id int)", schema);
    assert_int_equal(sp_db_tx_query(tx, sql, 0, NULL, NULL), SP_EDB);
    sp_db_tx_rollback(&tx);
    sp_db_pool_destroy(&pool);

    drop_schema(schema);
    remove_dir(dir);
}

static void test_migrations_failures(void **state)
{
    char schema[64], sql[256];
    snprintf(schema, sizeof(schema), "sp_test_migbad_%s", run_id);

    /* A malformed name is refused before anything runs. */
    char *dir = make_dir();
    write_file(dir, "001_ok.sql", "CREATE TABLE ok (id int);\n");
    write_file(dir, "002-bad name.sql", "SELECT 1;\n");
    assert_int_equal(sp_db_migrate(owner_url, schema, dir, "serphona_app"), SP_EINVAL);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_namespace WHERE nspname = '%s'", schema);
    assert_int_equal(owner_count(sql), 0);
    remove_dir(dir);

    /* Two files with one version. */
    dir = make_dir();
    write_file(dir, "001_a.sql", "SELECT 1;\n");
    write_file(dir, "0001_b.sql", "SELECT 1;\n");
    assert_int_equal(sp_db_migrate(owner_url, schema, dir, NULL), SP_EINVAL);
    remove_dir(dir);

    assert_int_equal(sp_db_migrate(owner_url, schema, "/nonexistent/sp-test", NULL), SP_EIO);

    /* A failing file rolls back entirely; earlier files stay applied. */
    dir = make_dir();
    write_file(dir, "001_ok.sql", "CREATE TABLE ok (id int);\n");
    write_file(dir, "002_broken.sql",
               "CREATE TABLE half (id int);\nINSERT INTO ok VALUES (1);\nSELECT no_such_fn();\n");
    assert_int_equal(sp_db_migrate(owner_url, schema, dir, "serphona_app"), SP_EDB);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\".schema_migrations", schema);
    assert_int_equal(owner_count(sql), 1);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_tables WHERE schemaname = '%s' AND tablename = 'half'",
             schema);
    assert_int_equal(owner_count(sql), 0);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\".ok", schema);
    assert_int_equal(owner_count(sql), 0);

    /* Fixing the file lets the next run through. */
    write_file(dir, "002_broken.sql", "CREATE TABLE half (id int);\n");
    assert_int_equal(sp_db_migrate(owner_url, schema, dir, "serphona_app"), 0);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\".schema_migrations", schema);
    assert_int_equal(owner_count(sql), 2);

    /* Bad credentials: unavailable, not a crash. */
    assert_int_equal(sp_db_migrate("postgresql://nobody:x@127.0.0.1:1/none", schema, dir, NULL),
                     SP_EUNAVAILABLE);

    drop_schema(schema);
    remove_dir(dir);
}

typedef struct {
    const char *schema;
    const char *dir;
    int rc;
} migrate_arg_t;

static void *migrate_thread(void *arg)
{
    migrate_arg_t *m = arg;
    m->rc = sp_db_migrate(owner_url, m->schema, m->dir, "serphona_app");
    return NULL;
}

static void test_migrations_concurrent(void **state)
{
    char schema[64], sql[256];
    snprintf(schema, sizeof(schema), "sp_test_migcc_%s", run_id);
    char *dir = make_dir();
    /* Not idempotent and slow enough for the two runs to overlap. */
    write_file(dir, "001_t.sql", "CREATE TABLE t (n int); SELECT pg_sleep(0.3);\n");
    write_file(dir, "002_row.sql", "INSERT INTO t VALUES (1);\n");
    migrate_arg_t a = {schema, dir, -100}, b = {schema, dir, -100};
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, migrate_thread, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, migrate_thread, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_int_equal(a.rc, 0);
    assert_int_equal(b.rc, 0);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\".t", schema);
    assert_int_equal(owner_count(sql), 1);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\".schema_migrations", schema);
    assert_int_equal(owner_count(sql), 2);
    drop_schema(schema);
    remove_dir(dir);
}

/* ---- reconnect and ping ------------------------------------------------------- */

/* Terminates every session whose application_name is app, from a separate
 * app-role session (a role may signal its own sessions). Returns how many. */
static int terminate_sessions(const char *app)
{
    PGconn *c = PQconnectdb(app_url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    const char *p[1] = {app};
    PGresult *r = PQexecParams(c,
                               "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) "
                               "FROM pg_stat_activity "
                               "WHERE application_name = $1 AND pid <> pg_backend_pid()",
                               1, NULL, p, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    int n = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    PQfinish(c);
    /* Termination is asynchronous; give the backends a moment to exit. */
    usleep(200 * 1000);
    return n;
}

static void test_reconnect_after_terminate(void **state)
{
    char app[64], param[96];
    snprintf(app, sizeof(app), "sp_test_%s", run_id);
    snprintf(param, sizeof(param), "application_name=%s", app);
    char *url = url_with(app_url, param);
    sp_db_pool_t *pool = sp_db_pool_new(url, 2);
    assert_non_null(pool);

    sp_db_tx_t *tx = NULL;
    assert_int_equal(sp_db_tx_begin(pool, tenant_a, &tx), 0);
    char *pid1 = tx_value(tx, "SELECT pg_backend_pid()::text", 0, NULL);
    assert_int_equal(sp_db_tx_commit(&tx), 0);
    assert_int_equal(sp_db_ping(pool), 0);

    /* Idle pooled sessions killed (as on a server restart): the next
     * transaction reconnects transparently. */
    assert_true(terminate_sessions(app) >= 1);
    assert_int_equal(sp_db_tx_begin(pool, tenant_a, &tx), 0);
    char *pid2 = tx_value(tx, "SELECT pg_backend_pid()::text", 0, NULL);
    assert_string_not_equal(pid1, pid2);
    char *t = tx_value(tx, "SELECT current_setting('app.tenant_id', true)", 0, NULL);
    assert_string_equal(t, tenant_a);
    free(t);
    assert_int_equal(sp_db_tx_commit(&tx), 0);
    /* The ping connection recovers too. */
    assert_int_equal(sp_db_ping(pool), 0);

    /* Killed in the middle of a transaction: that transaction fails as
     * unavailable, the next one works. */
    assert_int_equal(sp_db_tx_begin(pool, NULL, &tx), 0);
    assert_true(terminate_sessions(app) >= 1);
    assert_int_equal(sp_db_tx_query(tx, "SELECT 1", 0, NULL, NULL), SP_EUNAVAILABLE);
    assert_int_equal(sp_db_tx_query(tx, "SELECT 1", 0, NULL, NULL), SP_EUNAVAILABLE);
    assert_int_equal(sp_db_tx_commit(&tx), SP_EUNAVAILABLE);
    assert_int_equal(sp_db_tx_begin(pool, NULL, &tx), 0);
    char *v = tx_value(tx, "SELECT 'back'", 0, NULL);
    assert_string_equal(v, "back");
    free(v);
    sp_db_tx_rollback(&tx);

    free(pid1);
    free(pid2);
    sp_db_pool_destroy(&pool);
    free(url);
}

static void test_ping(void **state)
{
    sp_db_pool_t *pool = sp_db_pool_new(app_url, 1);
    assert_non_null(pool);
    assert_int_equal(sp_db_ping(pool), 0);
    /* Answers even when the pool is starved. */
    PGconn *c = NULL;
    assert_int_equal(sp_db_pool_acquire(pool, 1000, &c), 0);
    long long t0 = sp_clock_mono_ms();
    assert_int_equal(sp_db_ping(pool), 0);
    assert_true(sp_clock_mono_ms() - t0 < 1000);
    sp_db_pool_release(pool, c);
    sp_db_pool_destroy(&pool);

    /* A server that is down: quick SP_EUNAVAILABLE, from ping and from tx. */
    pool = sp_db_pool_new("postgresql://serphona_app:x@127.0.0.1:1/serphona", 1);
    assert_non_null(pool);
    t0 = sp_clock_mono_ms();
    assert_int_equal(sp_db_ping(pool), SP_EUNAVAILABLE);
    assert_int_equal(sp_db_ping(pool), SP_EUNAVAILABLE);
    sp_db_tx_t *tx = NULL;
    assert_int_equal(sp_db_tx_begin(pool, NULL, &tx), SP_EUNAVAILABLE);
    assert_null(tx);
    assert_true(sp_clock_mono_ms() - t0 < 2000);
    sp_db_pool_destroy(&pool);

    assert_null(sp_db_pool_new(NULL, 1));
    assert_null(sp_db_pool_new(app_url, 0));
}

int main(void)
{
    app_url = getenv("SERPHONA_TEST_PG_URL");
    owner_url = getenv("SERPHONA_TEST_PG_OWNER_URL");
    if (!app_url || !*app_url || !owner_url || !*owner_url) {
        fprintf(stderr,
                "test_db: FAIL: SERPHONA_TEST_PG_URL (app role) and SERPHONA_TEST_PG_OWNER_URL "
                "(owner role) must point at a running PostgreSQL; start one with "
                "deploy/local/postgres.sh\n");
        return 1;
    }
    snprintf(run_id, sizeof(run_id), "%d_%ld", (int)getpid(), (long)time(NULL) % 100000);
    sp_log_init("test_db", SP_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_exhaustion),
        cmocka_unit_test(test_tenant_is_transaction_local),
        cmocka_unit_test(test_parameters_verbatim_and_sqlstate),
        cmocka_unit_test(test_rls_isolates_tenants),
        cmocka_unit_test(test_migrations_apply_once),
        cmocka_unit_test(test_migrations_failures),
        cmocka_unit_test(test_migrations_concurrent),
        cmocka_unit_test(test_reconnect_after_terminate),
        cmocka_unit_test(test_ping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
