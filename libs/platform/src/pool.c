/*
 * pool.c — a bounded pool of opaque connections.
 *
 * The pool is a fixed array of slots guarded by one mutex, plus a stack of
 * free slot indexes; a condition variable wakes waiters when a slot is
 * released. A slot keeps its connection while it is acquired, so release can
 * find the slot by pointer. Callbacks run outside the lock.
 */
#include "platform/pool.h"

#include "platform/clock.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "platform/error.h"
#include "platform/log.h"

struct sp_pool {
    char *name;
    int size;
    sp_pool_ops_t ops;
    void *ctx;
    void **conns;    /* per slot; NULL until opened and after a close */
    int *free_slots; /* stack of free slot indexes */
    int nfree;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

sp_pool_t *sp_pool_new(const char *name, int size, const sp_pool_ops_t *ops, void *ctx)
{
    if (!name || size < 1 || !ops || !ops->open || !ops->close)
        return NULL;
    sp_pool_t *pool = calloc(1, sizeof(*pool));
    if (!pool)
        return NULL;
    pool->name = strdup(name);
    pool->conns = calloc((size_t)size, sizeof(*pool->conns));
    pool->free_slots = calloc((size_t)size, sizeof(*pool->free_slots));
    if (!pool->name || !pool->conns || !pool->free_slots)
        goto fail_alloc;
    pool->size = size;
    pool->ops = *ops;
    pool->ctx = ctx;
    /* Slots are handed out from the top of the stack: slot 0 first. */
    for (int i = 0; i < size; i++)
        pool->free_slots[i] = size - 1 - i;
    pool->nfree = size;

    /* Waits are measured on the monotonic clock, so a wall-clock step does
     * not stretch or cut an acquire timeout. */
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0)
        goto fail_alloc;
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&pool->cv, &attr);
    pthread_condattr_destroy(&attr);
    if (rc != 0)
        goto fail_alloc;
    pthread_mutex_init(&pool->mu, NULL);
    return pool;

fail_alloc:
    free(pool->free_slots);
    free(pool->conns);
    free(pool->name);
    free(pool);
    return NULL;
}

void sp_pool_destroy(sp_pool_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sp_pool_t *pool = *self_p;
    *self_p = NULL;
    if (pool->nfree != pool->size)
        sp_log_error("%s: pool destroyed with %d connection(s) still acquired", pool->name,
                     pool->size - pool->nfree);
    /* Only idle connections are closed: closing one a holder still uses
     * would turn a leak into a use-after-free. */
    for (int i = 0; i < pool->nfree; i++) {
        int slot = pool->free_slots[i];
        if (pool->conns[slot])
            pool->ops.close(pool->ctx, pool->conns[slot]);
    }
    pthread_cond_destroy(&pool->cv);
    pthread_mutex_destroy(&pool->mu);
    free(pool->free_slots);
    free(pool->conns);
    free(pool->name);
    free(pool);
}

int sp_pool_size(const sp_pool_t *pool)
{
    return pool->size;
}

/* Gives a slot back, with conn as its connection (NULL: empty). */
static void put_slot(sp_pool_t *pool, int slot, void *conn)
{
    pthread_mutex_lock(&pool->mu);
    pool->conns[slot] = conn;
    pool->free_slots[pool->nfree++] = slot;
    pthread_cond_signal(&pool->cv);
    pthread_mutex_unlock(&pool->mu);
}

int sp_pool_acquire(sp_pool_t *pool, int timeout_ms, void **out, int *reused)
{
    *out = NULL;
    if (reused)
        *reused = 0;
    struct timespec deadline = sp_clock_timespec_in(CLOCK_MONOTONIC, timeout_ms);

    pthread_mutex_lock(&pool->mu);
    while (pool->nfree == 0) {
        /* A wake-up can be spurious, or another waiter can take the slot
         * first: only a passed deadline ends the wait. */
        if (timeout_ms <= 0 ||
            pthread_cond_timedwait(&pool->cv, &pool->mu, &deadline) == ETIMEDOUT) {
            if (pool->nfree > 0)
                break;
            pthread_mutex_unlock(&pool->mu);
            sp_log_warn("%s: no free connection within %d ms (pool size %d)", pool->name,
                        timeout_ms, pool->size);
            return SP_ETIMEDOUT;
        }
    }
    int slot = pool->free_slots[--pool->nfree];
    void *conn = pool->conns[slot];
    pthread_mutex_unlock(&pool->mu);

    if (conn) {
        int rc = pool->ops.check ? pool->ops.check(pool->ctx, conn) : 0;
        if (rc != 0) {
            pool->ops.close(pool->ctx, conn);
            put_slot(pool, slot, NULL);
            return rc;
        }
        if (reused)
            *reused = 1;
    } else {
        int rc = pool->ops.open(pool->ctx, &conn);
        if (rc != 0 || !conn) {
            put_slot(pool, slot, NULL);
            return rc != 0 ? rc : SP_EINTERNAL;
        }
        /* The slot is ours alone until released; the lock only publishes
         * the pointer to release's search. */
        pthread_mutex_lock(&pool->mu);
        pool->conns[slot] = conn;
        pthread_mutex_unlock(&pool->mu);
    }
    *out = conn;
    return 0;
}

void sp_pool_release(sp_pool_t *pool, void *conn, int broken)
{
    if (!conn)
        return;
    pthread_mutex_lock(&pool->mu);
    int slot = -1;
    for (int i = 0; i < pool->size; i++) {
        if (pool->conns[i] == conn) {
            slot = i;
            break;
        }
    }
    assert(slot >= 0 && "connection released to a pool it does not belong to");
    if (slot < 0) {
        pthread_mutex_unlock(&pool->mu);
        return;
    }
    if (broken)
        pool->conns[slot] = NULL;
    pool->free_slots[pool->nfree++] = slot;
    pthread_cond_signal(&pool->cv);
    pthread_mutex_unlock(&pool->mu);
    if (broken)
        pool->ops.close(pool->ctx, conn);
}
