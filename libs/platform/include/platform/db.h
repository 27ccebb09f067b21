/*
 * db.h — PostgreSQL access: a connection pool, tenant-scoped transactions and
 * the schema migrations runner (over libpq).
 *
 * Services connect as a role that owns nothing and cannot bypass row-level
 * security. Every tenant table has a policy on current_setting('app.tenant_id');
 * sp_db_tx_begin() sets that setting with SET LOCAL semantics, so it ends with
 * the transaction and a pooled connection never carries one tenant's id into
 * the next request.
 *
 * Statements are always parameterised (PQexecParams, text format); parameters
 * are never logged because they may hold secrets or customer text. libpq's own
 * error text is logged at the boundary and translated to SP_* codes:
 *   SP_EDB           the server refused the statement (see sp_db_tx_sqlstate)
 *   SP_EUNAVAILABLE  the server cannot be reached or the connection broke
 *   SP_ETIMEDOUT     no pooled connection became free in time
 *
 * All functions are thread-safe on a pool; a transaction belongs to one thread
 * at a time.
 */
#ifndef SP_DB_H
#define SP_DB_H

#include <libpq-fe.h>

#include "platform/arena.h"

typedef struct sp_db_pool sp_db_pool_t;
typedef struct sp_db_tx sp_db_tx_t;

/* A pool of at most size connections (size >= 1) to conninfo (a libpq
 * keyword string or postgresql:// URL). Nothing is connected yet: connections
 * open lazily on first acquire, so a pool can be created while the database
 * is down. A connect_timeout of 3 s applies unless conninfo sets one. Returns
 * NULL on a bad argument or out of memory. Free with sp_db_pool_destroy. */
sp_db_pool_t *sp_db_pool_new(const char *conninfo, int size);

/* Closes every connection. All connections must have been released. Accepts
 * NULL and sets *self_p to NULL. */
void sp_db_pool_destroy(sp_db_pool_t **self_p);

/* How long sp_db_tx_begin waits for a free connection (default 5000 ms). */
void sp_db_pool_set_acquire_timeout(sp_db_pool_t *pool, int timeout_ms);

/* Takes a connection, waiting up to timeout_ms (0 = do not wait) for one to
 * be released. A connection that broke earlier is reset (PQreset) here, so the
 * pool recovers by itself after a server restart. Returns 0 and *out, or
 * SP_ETIMEDOUT (pool exhausted), SP_EUNAVAILABLE (cannot connect; the slot is
 * returned to the pool). Give it back with sp_db_pool_release. */
int sp_db_pool_acquire(sp_db_pool_t *pool, int timeout_ms, PGconn **out);

/* Returns conn to the pool. A connection left inside a transaction is rolled
 * back first; a broken one is kept for a reset on its next acquire. */
void sp_db_pool_release(sp_db_pool_t *pool, PGconn *conn);

/* Checks the database answers `SELECT 1`, for /health/ready. Uses a dedicated
 * connection (so it answers even when every pooled connection is busy) with a
 * 2 s connect timeout and a 1 s statement deadline. Returns 0 or
 * SP_EUNAVAILABLE. */
int sp_db_ping(sp_db_pool_t *pool);

/* Acquires a connection (waiting up to the pool's acquire timeout) and starts
 * a transaction. With a tenant_id, sets app.tenant_id for this transaction
 * only (set_config(..., true), parameterised). A stale connection found dead
 * at BEGIN is reset and BEGIN retried once, as nothing has run yet. Returns 0
 * and *out, or SP_ETIMEDOUT, SP_EUNAVAILABLE, SP_EDB, SP_ENOMEM. End it with
 * exactly one of sp_db_tx_commit / sp_db_tx_rollback. */
int sp_db_tx_begin(sp_db_pool_t *pool, const char *tenant_id, sp_db_tx_t **out);

/* Runs one parameterised statement: sql with $1..$nparams, params as text
 * (a NULL element is SQL NULL). On 0, *res (when res is not NULL) is the
 * result, owned by the caller (PQclear); with res NULL it is cleared here. On
 * failure *res is NULL and the return is SP_EDB (the transaction is now
 * aborted; sp_db_tx_sqlstate says why) or SP_EUNAVAILABLE (the connection is
 * lost, now or by an earlier statement; only rollback is left). */
int sp_db_tx_query(sp_db_tx_t *tx, const char *sql, int nparams, const char *const *params,
                   PGresult **res);

/* sp_db_tx_query whose result is PQclear'ed when arena is destroyed. */
int sp_db_tx_query_arena(sp_db_tx_t *tx, sp_arena_t *arena, const char *sql, int nparams,
                         const char *const *params, PGresult **res);

/* The five-character SQLSTATE of the last statement if it failed ("23505"
 * for a unique violation), or "" when it succeeded. Valid until the tx ends. */
const char *sp_db_tx_sqlstate(const sp_db_tx_t *tx);

/* The constraint named by the last failure (for a 409 that says which field),
 * or "" when none. Valid until the tx ends. */
const char *sp_db_tx_constraint(const sp_db_tx_t *tx);

/* The underlying connection, for libpq calls this module does not wrap
 * (PQescapeLiteral, COPY). Do not close it or end the transaction on it. */
PGconn *sp_db_tx_conn(sp_db_tx_t *tx);

/* Commits, releases the connection, frees the tx and sets *tx_p to NULL.
 * If a statement failed earlier or COMMIT itself fails (a deferred
 * constraint), the transaction is rolled back and SP_EDB returned;
 * SP_EUNAVAILABLE when the connection broke (the outcome is then unknown). */
int sp_db_tx_commit(sp_db_tx_t **tx_p);

/* Rolls back, releases the connection, frees the tx and sets *tx_p to NULL.
 * Accepts NULL and *tx_p == NULL, so cleanup paths can call it
 * unconditionally. */
void sp_db_tx_rollback(sp_db_tx_t **tx_p);

/* Applies the migrations in dir to schema, connecting with owner_conninfo
 * (the role that owns the schema). Files are named NNN_name.sql (digits,
 * underscore, [A-Za-z0-9_-], .sql) and run in numeric order; each one not yet
 * recorded in <schema>.schema_migrations runs in its own transaction with
 * search_path = schema and is recorded there. Files must not contain
 * BEGIN/COMMIT. The run holds an advisory lock on the schema, so concurrent
 * runs (several replicas starting) apply each file exactly once. Afterwards
 * app_role (unless NULL) gets USAGE on the schema, SELECT/INSERT/UPDATE/
 * DELETE on its tables and USAGE/SELECT on its sequences, now and by default
 * for future ones; never on schema_migrations. Other files in dir (README)
 * are ignored. Returns 0, SP_EINVAL (a malformed or duplicate NNN_*.sql name,
 * bad argument), SP_EIO (dir or a file unreadable), SP_EUNAVAILABLE (cannot
 * connect) or SP_EDB (a statement failed; that file was rolled back and the
 * log names it). */
int sp_db_migrate(const char *owner_conninfo, const char *schema, const char *dir,
                  const char *app_role);

#endif
