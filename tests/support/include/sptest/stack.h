/*
 * sptest/stack.h — fixtures for unit tests that need the private
 * PostgreSQL / Redis / ClickHouse / Kafka stack.
 *
 * The stack is described by SERPHONA_TEST_* variables, which
 * tests/run-all.sh and tests/with-stack.sh export:
 *   SERPHONA_TEST_PG_URL          app role (subject to row-level security)
 *   SERPHONA_TEST_PG_OWNER_URL    schema owner (migrations, inspection)
 *   SERPHONA_TEST_REDIS_PORT      Redis on 127.0.0.1
 *   SERPHONA_TEST_CH_URL          ClickHouse HTTP base URL
 *   SERPHONA_TEST_KAFKA_BROKERS   the dev broker
 * A test that calls these is a server test: list it in the Makefile's
 * SERVER_TESTS. When a variable is unset, the fixture says which one and
 * how to get it, and fails (returns NULL / -1, or exits for the ones that
 * must answer), so a server test never passes by testing nothing.
 */
#ifndef SPTEST_STACK_H
#define SPTEST_STACK_H

#include "platform/clickhouse.h"
#include "platform/db.h"
#include "platform/redis.h"

/* The value of variable name, or NULL after printing which variable is
 * missing and how to run the test (tests/with-stack.sh). */
const char *sptest_env(const char *name);

/* 0 when every variable of names (NULL-terminated) is set, else -1 after
 * naming each missing one. For a group setup to return:
 *   sptest_env_require((const char *const[]){"SERPHONA_TEST_CH_URL", NULL}) */
int sptest_env_require(const char *const *names);

/* Eight hex characters of randomness (and the NUL), to keep the names a run
 * creates (slugs, topics, groups) apart from other runs. */
void sptest_run_id(char out[9]);

/* ---- PostgreSQL ----------------------------------------------------------- */

/* Migrates schema from dir (e.g. "services/tenant-manager/migrations") as
 * the owner, granting to the app role. 0, or -1 after printing why. */
int sptest_pg_migrate(const char *schema, const char *dir);

/* A pool of size connections as the app role; NULL when unset or failing. */
sp_db_pool_t *sptest_pg_app_pool(int size);

/* Runs sql as the schema owner on a connection of its own (setup and
 * inspection only). The first value of the first row, malloc'd (the caller
 * frees), or NULL when there is none. Fails the test when sql fails. */
char *sptest_pg_owner_value(const char *sql);

/* The same, discarding the result. */
void sptest_pg_owner_exec(const char *sql);

/* ---- Redis ---------------------------------------------------------------- */

/* A pool of size connections to the test Redis (2 s timeout); NULL when
 * unset or failing. */
sp_redis_pool_t *sptest_redis_pool(int size);

/* Deletes every key matching the glob pattern (KEYS: test data only). */
void sptest_redis_del_matching(sp_redis_pool_t *pool, const char *pattern);

/* ---- ClickHouse ----------------------------------------------------------- */

#define SPTEST_CH_DB_LEN 64

/* Creates a fresh database named "<prefix>_<pid>_<time>" (written to name)
 * with the schema of deploy/clickhouse, and returns a client on it (free
 * with sp_ch_destroy), or NULL after printing why. */
sp_ch_t *sptest_ch_create(const char *prefix, char name[SPTEST_CH_DB_LEN]);

/* Drops database name (if it exists). */
void sptest_ch_drop(const char *name);

/* Runs sql with body (NULL = none) on ch; fails the test with ClickHouse's
 * error when it fails. */
void sptest_ch_exec(sp_ch_t *ch, const char *sql, const char *body);

/* The first number the query printf(fmt, ...) answers, or -1 when it fails. */
double sptest_ch_num(sp_ch_t *ch, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Fails the test, showing the query and its answer, unless the first number
 * the query printf(fmt, ...) answers is expected. */
#define sptest_assert_ch_num(ch, expected, ...)                                                    \
    sptest_ch_check_num((ch), (double)(expected), __FILE__, __LINE__, __VA_ARGS__)
void sptest_ch_check_num(sp_ch_t *ch, double expected, const char *file, int line, const char *fmt,
                         ...) __attribute__((format(printf, 5, 6)));

/* ---- Kafka ---------------------------------------------------------------- */

/* The dev broker's bootstrap list, or NULL (printed) when unset. */
const char *sptest_kafka_brokers(void);

#endif
