/*
 * db.c — PostgreSQL pool, tenant-scoped transactions and migrations (libpq).
 *
 * The pool is platform/pool.h holding PGconn pointers: this file supplies how
 * to open, reset and close one, and what to undo before one goes back.
 */
#include "platform/db.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "platform/clock.h"
#include "platform/error.h"
#include "platform/log.h"
#include "platform/migrations.h"
#include "platform/pool.h"

/* libpq's default is to wait forever; a dead host must not stall a request
 * thread for minutes. conninfo may still override it. */
#define DEFAULT_CONNECT_TIMEOUT "3"
/* Readiness probes must answer within about two seconds. */
#define PING_CONNECT_TIMEOUT       "2"
#define PING_DEADLINE_MS           1000
#define DEFAULT_ACQUIRE_TIMEOUT_MS 5000
/* A migration file larger than this is surely a mistake (a data dump). */
/* Only this much of a statement's text goes into a log line. */
#define LOG_SQL_MAX 160

struct sp_db_pool {
    char *conninfo;
    int acquire_timeout_ms; /* atomic: set while transactions begin */
    sp_pool_t *conns;       /* the pooled sessions (PGconn *) */
    pthread_mutex_t ping_mu;
    PGconn *ping_conn; /* guarded by ping_mu */
};

struct sp_db_tx {
    sp_db_pool_t *pool;
    PGconn *conn;
    int lost; /* the connection broke: only rollback is left */
    char sqlstate[6];
    char constraint[64];
};

/* ---- helpers --------------------------------------------------------- */

/* libpq messages end with a newline and may span lines; the logger escapes
 * newlines, but the trailing one is noise. */
static int msg_len(const char *msg)
{
    size_t n = msg ? strlen(msg) : 0;
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        n--;
    return (int)n;
}

/* Server NOTICEs ("schema already exists, skipping") would otherwise go to
 * stderr unformatted. */
static void notice_processor(void *arg, const char *message)
{
    (void)arg;
    sp_log_debug("db: server notice: %.*s", msg_len(message), message);
}

/* Connects with a connect_timeout. When override_timeout is set it wins over
 * conninfo's own value (keywords after the expanded dbname take precedence),
 * otherwise conninfo's value wins. Returns NULL only when out of memory; a
 * failed connection is returned with status CONNECTION_BAD. */
static PGconn *open_conn(const char *conninfo, const char *timeout, int override_timeout)
{
    const char *keys[3], *vals[3];
    if (override_timeout) {
        keys[0] = "dbname", vals[0] = conninfo;
        keys[1] = "connect_timeout", vals[1] = timeout;
    } else {
        keys[0] = "connect_timeout", vals[0] = timeout;
        keys[1] = "dbname", vals[1] = conninfo;
    }
    keys[2] = NULL, vals[2] = NULL;
    PGconn *conn = PQconnectdbParams(keys, vals, 1);
    if (conn)
        PQsetNoticeProcessor(conn, notice_processor, NULL);
    return conn;
}

/* SQLSTATEs that mean the session is gone, whatever PQstatus says yet:
 * class 08 (connection exception) and 57P01..57P03 (admin shutdown, crash
 * shutdown, cannot connect now). */
static int is_connection_state(const char *state)
{
    if (!state)
        return 0;
    if (strncmp(state, "08", 2) == 0)
        return 1;
    return strcmp(state, "57P01") == 0 || strcmp(state, "57P02") == 0 ||
           strcmp(state, "57P03") == 0;
}

static void copy_field(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

/*
 * Logs a refused statement. The primary message is logged, never DETAIL
 * (which carries key values) nor the parameters; for data exceptions (class
 * 22) the primary message quotes the offending input, so it is cut before
 * the first quote.
 */
static void log_statement_error(const PGresult *res, const char *sql)
{
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    const char *constraint = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
    if (!state)
        state = "";
    if (!primary)
        primary = PQresultErrorMessage(res);
    int plen = msg_len(primary);
    if (strncmp(state, "22", 2) == 0) {
        const char *quote = strchr(primary, '"');
        if (quote && quote - primary < plen)
            plen = (int)(quote - primary);
    }
    int sqllen = (int)strlen(sql);
    if (sqllen > LOG_SQL_MAX)
        sqllen = LOG_SQL_MAX;
    /* Integrity violations and serialization failures are expected outcomes
     * that callers turn into 409/retries; the rest are bugs or outages. */
    if (strncmp(state, "23", 2) == 0 || strncmp(state, "40", 2) == 0)
        sp_log_info("db: statement refused (SQLSTATE %s%s%s): %.*s; sql: %.*s", state,
                    constraint ? ", constraint " : "", constraint ? constraint : "", plen, primary,
                    sqllen, sql);
    else
        sp_log_error("db: statement failed (SQLSTATE %s): %.*s; sql: %.*s", state, plen, primary,
                     sqllen, sql);
}

/*
 * Runs one statement. Returns 0 (and *res_out when asked), SP_EDB with
 * sqlstate/constraint filled, SP_EUNAVAILABLE when the connection broke, or
 * SP_ENOMEM.
 */
static int run_params(PGconn *conn, const char *sql, int nparams, const char *const *params,
                      PGresult **res_out, char *sqlstate, char *constraint, size_t constraint_cap)
{
    if (res_out)
        *res_out = NULL;
    if (sqlstate)
        sqlstate[0] = '\0';
    if (constraint)
        constraint[0] = '\0';
    PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    if (!res) {
        if (PQstatus(conn) != CONNECTION_OK) {
            sp_log_error("db: connection lost: %.*s", msg_len(PQerrorMessage(conn)),
                         PQerrorMessage(conn));
            return SP_EUNAVAILABLE;
        }
        return SP_ENOMEM;
    }
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) {
        if (res_out)
            *res_out = res;
        else
            PQclear(res);
        return 0;
    }
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (PQstatus(conn) != CONNECTION_OK || is_connection_state(state) || !state) {
        /* libpq reports a dropped socket as a fatal result without SQLSTATE. */
        sp_log_error("db: connection lost: %.*s", msg_len(PQresultErrorMessage(res)),
                     PQresultErrorMessage(res));
        PQclear(res);
        return SP_EUNAVAILABLE;
    }
    if (sqlstate)
        copy_field(sqlstate, 6, state);
    if (constraint)
        copy_field(constraint, constraint_cap, PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME));
    if (st == PGRES_FATAL_ERROR || st == PGRES_NONFATAL_ERROR) {
        log_statement_error(res, sql);
    } else {
        /* COPY and other modes are not supported through this path. */
        sp_log_error("db: unexpected result status %s; sql: %.*s", PQresStatus(st), LOG_SQL_MAX,
                     sql);
    }
    PQclear(res);
    return SP_EDB;
}

static int run_simple(PGconn *conn, const char *sql)
{
    return run_params(conn, sql, 0, NULL, NULL, NULL, NULL, 0);
}

/*
 * Runs sql asynchronously and waits at most timeout_ms for its result, so a
 * hung server cannot stall a health probe. Returns 0 or SP_EUNAVAILABLE; on a
 * timeout the connection is left mid-query and must be closed.
 */
static int run_with_deadline(PGconn *conn, const char *sql, int timeout_ms)
{
    if (!PQsendQuery(conn, sql))
        return SP_EUNAVAILABLE;
    long long deadline = sp_clock_mono_ms() + timeout_ms;
    int sock = PQsocket(conn);
    while (PQisBusy(conn)) {
        long long left = deadline - sp_clock_mono_ms();
        if (left <= 0)
            return SP_EUNAVAILABLE;
        struct pollfd pfd = {.fd = sock, .events = POLLIN};
        int n = poll(&pfd, 1, (int)left);
        if (n < 0 && errno != EINTR)
            return SP_EUNAVAILABLE;
        if (n > 0 && !PQconsumeInput(conn))
            return SP_EUNAVAILABLE;
    }
    int rc = 0;
    PGresult *res;
    while ((res = PQgetResult(conn)) != NULL) {
        ExecStatusType st = PQresultStatus(res);
        if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
            rc = SP_EUNAVAILABLE;
        PQclear(res);
    }
    return rc;
}

/* ---- pool ------------------------------------------------------------ */

/* Opens a pooled connection (sp_pool_ops_t.open). A failed PGconn is not
 * kept: the next acquire of the slot connects afresh. */
static int pool_open(void *ctx, void **out)
{
    sp_db_pool_t *pool = ctx;
    PGconn *conn = open_conn(pool->conninfo, DEFAULT_CONNECT_TIMEOUT, 0);
    if (!conn)
        return SP_ENOMEM;
    if (PQstatus(conn) != CONNECTION_OK) {
        sp_log_error("db: cannot connect: %.*s", msg_len(PQerrorMessage(conn)),
                     PQerrorMessage(conn));
        PQfinish(conn);
        return SP_EUNAVAILABLE;
    }
    *out = conn;
    return 0;
}

/* A connection that broke while idle or in use is reset in place before it
 * is handed out again (sp_pool_ops_t.check). */
static int pool_check(void *ctx, void *c)
{
    (void)ctx;
    PGconn *conn = c;
    if (PQstatus(conn) == CONNECTION_OK)
        return 0;
    sp_log_info("db: resetting a broken pooled connection");
    PQreset(conn);
    if (PQstatus(conn) == CONNECTION_OK)
        return 0;
    sp_log_error("db: cannot connect: %.*s", msg_len(PQerrorMessage(conn)), PQerrorMessage(conn));
    return SP_EUNAVAILABLE;
}

static void pool_close(void *ctx, void *conn)
{
    (void)ctx;
    PQfinish(conn);
}

static const sp_pool_ops_t pool_ops = {
    .open = pool_open,
    .check = pool_check,
    .close = pool_close,
};

sp_db_pool_t *sp_db_pool_new(const char *conninfo, int size)
{
    if (!conninfo || size < 1)
        return NULL;
    sp_db_pool_t *pool = calloc(1, sizeof(*pool));
    if (!pool)
        return NULL;
    pool->conninfo = strdup(conninfo);
    if (!pool->conninfo)
        goto fail_alloc;
    pool->acquire_timeout_ms = DEFAULT_ACQUIRE_TIMEOUT_MS;
    pool->conns = sp_pool_new("db", size, &pool_ops, pool);
    if (!pool->conns)
        goto fail_alloc;
    pthread_mutex_init(&pool->ping_mu, NULL);
    return pool;

fail_alloc:
    free(pool->conninfo);
    free(pool);
    return NULL;
}

void sp_db_pool_destroy(sp_db_pool_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sp_db_pool_t *pool = *self_p;
    *self_p = NULL;
    sp_pool_destroy(&pool->conns);
    if (pool->ping_conn)
        PQfinish(pool->ping_conn);
    pthread_mutex_destroy(&pool->ping_mu);
    free(pool->conninfo);
    free(pool);
}

void sp_db_pool_set_acquire_timeout(sp_db_pool_t *pool, int timeout_ms)
{
    __atomic_store_n(&pool->acquire_timeout_ms, timeout_ms < 0 ? 0 : timeout_ms, __ATOMIC_RELAXED);
}

int sp_db_pool_acquire(sp_db_pool_t *pool, int timeout_ms, PGconn **out)
{
    void *conn = NULL;
    int rc = sp_pool_acquire(pool->conns, timeout_ms, &conn, NULL);
    *out = conn;
    return rc;
}

void sp_db_pool_release(sp_db_pool_t *pool, PGconn *conn)
{
    if (!conn)
        return;
    int discard = 0;
    if (PQstatus(conn) == CONNECTION_OK) {
        PGTransactionStatusType ts = PQtransactionStatus(conn);
        if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) {
            /* A caller forgot to end its transaction; never hand its state
             * (or its SET LOCAL tenant) to the next user. */
            sp_log_warn("db: connection released inside a transaction; rolling back");
            PQclear(PQexec(conn, "ROLLBACK"));
        } else if (ts == PQTRANS_ACTIVE) {
            /* A query is still in flight; the session cannot be reused. */
            discard = 1;
        }
    }
    /* A broken connection is kept: the next acquire resets it. */
    sp_pool_release(pool->conns, conn, discard);
}

int sp_db_ping(sp_db_pool_t *pool)
{
    pthread_mutex_lock(&pool->ping_mu);
    int rc = SP_EUNAVAILABLE;
    /* A kept session may have died while idle (server restart); then one
     * fresh connection gets a second chance before we report the server
     * down. */
    for (int attempt = 0; attempt < 2; attempt++) {
        int reused = pool->ping_conn != NULL;
        if (!pool->ping_conn)
            pool->ping_conn = open_conn(pool->conninfo, PING_CONNECT_TIMEOUT, 1);
        else if (PQstatus(pool->ping_conn) != CONNECTION_OK)
            PQreset(pool->ping_conn);
        if (!pool->ping_conn) {
            rc = SP_ENOMEM;
            break;
        }
        if (PQstatus(pool->ping_conn) != CONNECTION_OK) {
            sp_log_warn("db: ping: cannot connect: %.*s", msg_len(PQerrorMessage(pool->ping_conn)),
                        PQerrorMessage(pool->ping_conn));
            rc = SP_EUNAVAILABLE;
            break;
        }
        rc = run_with_deadline(pool->ping_conn, "SELECT 1", PING_DEADLINE_MS);
        if (rc == 0)
            break;
        if (!reused || attempt == 1)
            sp_log_warn("db: ping failed: %.*s", msg_len(PQerrorMessage(pool->ping_conn)),
                        PQerrorMessage(pool->ping_conn));
        /* The session may be mid-query; start afresh. */
        PQfinish(pool->ping_conn);
        pool->ping_conn = NULL;
        if (!reused)
            break;
    }
    pthread_mutex_unlock(&pool->ping_mu);
    return rc;
}

/* ---- transactions ---------------------------------------------------- */

int sp_db_tx_begin(sp_db_pool_t *pool, const char *tenant_id, sp_db_tx_t **out)
{
    *out = NULL;
    sp_db_tx_t *tx = calloc(1, sizeof(*tx));
    if (!tx)
        return SP_ENOMEM;
    tx->pool = pool;
    int timeout_ms = __atomic_load_n(&pool->acquire_timeout_ms, __ATOMIC_RELAXED);
    int rc = sp_db_pool_acquire(pool, timeout_ms, &tx->conn);
    if (rc != 0)
        goto fail_acquire;

    rc = run_simple(tx->conn, "BEGIN");
    if (rc == SP_EUNAVAILABLE) {
        /* An idle pooled session may have died (server restart, idle
         * timeout) without us noticing; nothing has run yet, so reconnecting
         * and retrying is safe. */
        sp_log_info("db: pooled connection was dead at BEGIN; reconnecting");
        PQreset(tx->conn);
        rc = PQstatus(tx->conn) == CONNECTION_OK ? run_simple(tx->conn, "BEGIN") : SP_EUNAVAILABLE;
    }
    if (rc != 0)
        goto fail_begin;
    if (tenant_id) {
        const char *params[1] = {tenant_id};
        rc = run_params(tx->conn, "SELECT set_config('app.tenant_id', $1, true)", 1, params, NULL,
                        tx->sqlstate, tx->constraint, sizeof(tx->constraint));
        if (rc != 0)
            goto fail_begin;
    }
    *out = tx;
    return 0;

fail_begin:
    /* release() rolls back an open transaction and keeps a broken
     * connection for a reset on the next acquire. */
    sp_db_pool_release(pool, tx->conn);
fail_acquire:
    free(tx);
    return rc;
}

int sp_db_tx_query(sp_db_tx_t *tx, const char *sql, int nparams, const char *const *params,
                   PGresult **res)
{
    if (res)
        *res = NULL;
    if (tx->lost)
        return SP_EUNAVAILABLE;
    int rc = run_params(tx->conn, sql, nparams, params, res, tx->sqlstate, tx->constraint,
                        sizeof(tx->constraint));
    if (rc == SP_EUNAVAILABLE)
        tx->lost = 1;
    return rc;
}

static void clear_result(void *res)
{
    PQclear(res);
}

int sp_db_tx_query_arena(sp_db_tx_t *tx, sp_arena_t *arena, const char *sql, int nparams,
                         const char *const *params, PGresult **res)
{
    PGresult *r = NULL;
    int rc = sp_db_tx_query(tx, sql, nparams, params, &r);
    if (res)
        *res = NULL;
    if (rc != 0)
        return rc;
    /* On failure sp_arena_defer has already cleared r. */
    if (sp_arena_defer(arena, clear_result, r) != 0)
        return SP_ENOMEM;
    if (res)
        *res = r;
    return 0;
}

const char *sp_db_tx_sqlstate(const sp_db_tx_t *tx)
{
    return tx->sqlstate;
}

const char *sp_db_tx_constraint(const sp_db_tx_t *tx)
{
    return tx->constraint;
}

PGconn *sp_db_tx_conn(sp_db_tx_t *tx)
{
    return tx->conn;
}

int sp_db_tx_commit(sp_db_tx_t **tx_p)
{
    assert(tx_p && *tx_p);
    sp_db_tx_t *tx = *tx_p;
    *tx_p = NULL;
    int rc;
    if (tx->lost || PQstatus(tx->conn) != CONNECTION_OK) {
        rc = SP_EUNAVAILABLE;
    } else if (PQtransactionStatus(tx->conn) == PQTRANS_INERROR) {
        /* COMMIT of an aborted transaction "succeeds" as a ROLLBACK; say so. */
        sp_log_warn("db: commit of a failed transaction; rolled back");
        PQclear(PQexec(tx->conn, "ROLLBACK"));
        rc = SP_EDB;
    } else {
        rc = run_params(tx->conn, "COMMIT", 0, NULL, NULL, tx->sqlstate, tx->constraint,
                        sizeof(tx->constraint));
    }
    sp_db_pool_release(tx->pool, tx->conn);
    free(tx);
    return rc;
}

void sp_db_tx_rollback(sp_db_tx_t **tx_p)
{
    if (!tx_p || !*tx_p)
        return;
    sp_db_tx_t *tx = *tx_p;
    *tx_p = NULL;
    if (!tx->lost && PQstatus(tx->conn) == CONNECTION_OK &&
        PQtransactionStatus(tx->conn) != PQTRANS_IDLE)
        PQclear(PQexec(tx->conn, "ROLLBACK"));
    sp_db_pool_release(tx->pool, tx->conn);
    free(tx);
}

/* ---- migrations ------------------------------------------------------ */

/* Runs a (possibly multi-statement) trusted script with PQexec. Migration
 * text is ours, not user input, so the full server message is logged. */
static int run_script(PGconn *conn, const char *sql, const char *what)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) {
        PQclear(res);
        return 0;
    }
    int lost = PQstatus(conn) != CONNECTION_OK;
    const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(conn);
    sp_log_error("db: migrate: %s failed: %.*s", what, msg_len(msg), msg);
    PQclear(res);
    return lost ? SP_EUNAVAILABLE : SP_EDB;
}

static char *format_sql(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *format_sql(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    return n < 0 ? NULL : s;
}

/* Applies one migration file in its own transaction and records it. */
static int apply_one(PGconn *conn, const char *qschema, const char *dir, const sp_migration_t *m)
{
    char *path = format_sql("%s/%s", dir, m->name);
    char *body = NULL, *prologue = NULL, *record = NULL;
    int rc = SP_ENOMEM;
    if (!path)
        goto done;
    rc = sp_migrations_read("db", dir, m->name, &body);
    if (rc != 0)
        goto done;
    rc = SP_ENOMEM;
    prologue = format_sql("BEGIN; SET LOCAL search_path = %s", qschema);
    record = format_sql("INSERT INTO %s.schema_migrations (version, name, applied_at) "
                        "VALUES ($1::integer, $2, now())",
                        qschema);
    if (!prologue || !record)
        goto done;
    rc = run_script(conn, prologue, "BEGIN");
    if (rc != 0)
        goto done;
    rc = run_script(conn, body, m->name);
    if (rc == 0) {
        char version[16];
        snprintf(version, sizeof(version), "%d", m->version);
        const char *params[2] = {version, m->name};
        rc = run_params(conn, record, 2, params, NULL, NULL, NULL, 0);
    }
    if (rc == 0)
        rc = run_script(conn, "COMMIT", m->name);
    if (rc != 0) {
        if (PQstatus(conn) == CONNECTION_OK)
            PQclear(PQexec(conn, "ROLLBACK"));
        sp_log_error("db: migrate: migration %s/%s failed and was rolled back", dir, m->name);
    } else {
        sp_log_info("db: migrate: applied %s", m->name);
    }
done:
    free(record);
    free(prologue);
    free(body);
    free(path);
    return rc;
}

static int grant_app_role(PGconn *conn, const char *qschema, const char *qrole)
{
    char *sql = format_sql(
        "BEGIN;"
        "GRANT USAGE ON SCHEMA %1$s TO %2$s;"
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %1$s TO %2$s;"
        "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %1$s TO %2$s;"
        "REVOKE ALL ON %1$s.schema_migrations FROM %2$s;"
        "ALTER DEFAULT PRIVILEGES IN SCHEMA %1$s "
        "  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %2$s;"
        "ALTER DEFAULT PRIVILEGES IN SCHEMA %1$s GRANT USAGE, SELECT ON SEQUENCES TO %2$s;"
        "COMMIT",
        qschema, qrole);
    if (!sql)
        return SP_ENOMEM;
    int rc = run_script(conn, sql, "granting privileges to the app role");
    if (rc != 0 && PQstatus(conn) == CONNECTION_OK)
        PQclear(PQexec(conn, "ROLLBACK"));
    free(sql);
    return rc;
}

/* Loads the versions already recorded, sorted ascending. */
static int load_applied(PGconn *conn, const char *qschema, int **out, int *count)
{
    *out = NULL;
    *count = 0;
    char *sql = format_sql("SELECT version FROM %s.schema_migrations ORDER BY version", qschema);
    if (!sql)
        return SP_ENOMEM;
    PGresult *res = NULL;
    int rc = run_params(conn, sql, 0, NULL, &res, NULL, NULL, 0);
    free(sql);
    if (rc != 0)
        return rc;
    int n = PQntuples(res);
    int *versions = calloc((size_t)(n > 0 ? n : 1), sizeof(*versions));
    if (!versions) {
        PQclear(res);
        return SP_ENOMEM;
    }
    for (int i = 0; i < n; i++)
        versions[i] = (int)strtol(PQgetvalue(res, i, 0), NULL, 10);
    PQclear(res);
    *out = versions;
    *count = n;
    return 0;
}

static int int_cmp(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int sp_db_migrate(const char *owner_conninfo, const char *schema, const char *dir,
                  const char *app_role)
{
    if (!owner_conninfo || !schema || !*schema || !dir || (app_role && !*app_role))
        return SP_EINVAL;
    sp_migration_t *list = NULL;
    size_t count = 0;
    int *applied = NULL, napplied = 0;
    char *qschema = NULL, *qrole = NULL, *ddl = NULL;
    int locked = 0, ran = 0;
    const char *lock_params[1] = {schema};
    int rc = sp_migrations_list("db", dir, &list, &count);
    if (rc != 0)
        return rc;

    PGconn *conn = open_conn(owner_conninfo, DEFAULT_CONNECT_TIMEOUT, 0);
    if (!conn) {
        rc = SP_ENOMEM;
        goto done;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        sp_log_error("db: migrate: cannot connect: %.*s", msg_len(PQerrorMessage(conn)),
                     PQerrorMessage(conn));
        rc = SP_EUNAVAILABLE;
        goto done;
    }
    qschema = PQescapeIdentifier(conn, schema, strlen(schema));
    qrole = app_role ? PQescapeIdentifier(conn, app_role, strlen(app_role)) : NULL;
    if (!qschema || (app_role && !qrole)) {
        rc = SP_ENOMEM;
        goto done;
    }

    /* One session-level lock per schema for the whole run: a second replica
     * starting at the same moment waits here, then finds everything applied.
     * The two-key form keeps us clear of other advisory-lock users. */
    rc = run_params(conn, "SELECT pg_advisory_lock(hashtext('serphona.migrate'), hashtext($1))", 1,
                    lock_params, NULL, NULL, NULL, 0);
    if (rc != 0)
        goto done;
    locked = 1;

    rc = SP_ENOMEM;
    ddl = format_sql("CREATE SCHEMA IF NOT EXISTS %1$s;"
                     "CREATE TABLE IF NOT EXISTS %1$s.schema_migrations ("
                     "  version integer PRIMARY KEY,"
                     "  name text NOT NULL,"
                     "  applied_at timestamptz NOT NULL DEFAULT now())",
                     qschema);
    if (!ddl)
        goto done;
    rc = run_script(conn, ddl, "creating the schema and schema_migrations");
    if (rc != 0)
        goto done;
    rc = load_applied(conn, qschema, &applied, &napplied);
    if (rc != 0)
        goto done;

    for (size_t i = 0; i < count; i++) {
        if (bsearch(&list[i].version, applied, (size_t)napplied, sizeof(*applied), int_cmp))
            continue;
        rc = apply_one(conn, qschema, dir, &list[i]);
        if (rc != 0)
            goto done;
        ran++;
    }
    if (qrole) {
        rc = grant_app_role(conn, qschema, qrole);
        if (rc != 0)
            goto done;
    }
    sp_log_info("db: migrate: schema %s up to date (%d applied now, %zu files)", schema, ran,
                count);
    rc = 0;

done:
    if (locked && PQstatus(conn) == CONNECTION_OK)
        run_params(conn, "SELECT pg_advisory_unlock(hashtext('serphona.migrate'), hashtext($1))", 1,
                   lock_params, NULL, NULL, NULL, 0);
    free(ddl);
    if (qrole)
        PQfreemem(qrole);
    if (qschema)
        PQfreemem(qschema);
    free(applied);
    if (conn)
        PQfinish(conn);
    sp_migrations_free(list, count);
    return rc;
}
