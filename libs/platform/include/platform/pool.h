/*
 * pool.h — a bounded pool of connections of any kind (libpq, hiredis ...).
 *
 * The pool holds at most `size` connections as opaque pointers and knows
 * nothing about them: the owner supplies callbacks to open, check and close
 * one. Connections open lazily, on the acquire that first needs one, and
 * every callback runs outside the pool's lock, so one slow connect never
 * blocks other acquirers or releasers. An acquirer that finds every
 * connection taken waits on a condition variable until one is released or
 * its timeout passes.
 *
 * The pool logs only its own conditions (exhaustion, destroying with
 * connections out), prefixed with the name given to sp_pool_new; the
 * callbacks log their library's errors themselves.
 *
 * Every function is thread-safe on a pool.
 */
#ifndef SP_POOL_H
#define SP_POOL_H

typedef struct sp_pool sp_pool_t;

typedef struct {
    /* Opens a connection into *out. Returns 0, or an SP_E* code that
     * sp_pool_acquire hands to its caller (the slot stays free for a later
     * attempt). Required. */
    int (*open)(void *ctx, void **out);
    /* Runs on an idle connection before it is handed out again; it may
     * repair the connection in place (reconnect). Returns 0 when conn is
     * usable, or an SP_E* code: the pool then closes conn and returns that
     * code from sp_pool_acquire, and the next acquire opens a fresh one.
     * Optional (NULL: idle connections are always usable). */
    int (*check)(void *ctx, void *conn);
    /* Closes and frees conn. Required. */
    void (*close)(void *ctx, void *conn);
} sp_pool_ops_t;

/* A pool of at most size (>= 1) connections managed by ops, which are called
 * with ctx. name prefixes the pool's log lines ("db", "redis"); it and ops
 * are copied. Nothing is opened yet. Returns NULL on a bad argument or out of
 * memory. Free with sp_pool_destroy. */
sp_pool_t *sp_pool_new(const char *name, int size, const sp_pool_ops_t *ops, void *ctx);

/* Closes every idle connection and frees the pool. All connections should
 * have been released: one still acquired is logged as an error and left to
 * its holder, not closed under it. Accepts NULL; sets *self_p to NULL. */
void sp_pool_destroy(sp_pool_t **self_p);

/* Takes a connection, waiting up to timeout_ms for one to be released
 * (timeout_ms <= 0: do not wait). A free slot without a connection is opened
 * with ops->open; an idle connection is first passed to ops->check. Returns 0
 * and *out, or SP_ETIMEDOUT (every connection is in use; logged as a
 * warning), or the code from ops->open / ops->check, with *out NULL. When
 * reused is not NULL it is set to 1 if *out was idle in the pool (so it may
 * have gone stale) and 0 if it was opened by this call. Give the connection
 * back with sp_pool_release. */
int sp_pool_acquire(sp_pool_t *pool, int timeout_ms, void **out, int *reused);

/* Returns conn, acquired from this pool, and wakes one waiter. When broken is
 * non-zero the connection is closed with ops->close (after the slot is freed)
 * and the next acquire of that slot opens a fresh one. NULL conn is ignored.
 * Releasing a connection the pool does not hold is a programmer error. */
void sp_pool_release(sp_pool_t *pool, void *conn, int broken);

/* The size the pool was created with. */
int sp_pool_size(const sp_pool_t *pool);

#endif
