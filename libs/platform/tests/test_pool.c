/* Unit tests for pool.c with fake connections: connections open lazily and
 * are reused, an exhausted pool times out (and wakes a waiter on release), a
 * connection released broken or failing its check is closed and replaced, a
 * failed open leaves the slot usable, many threads never hold more than
 * `size` connections and every acquire is matched, and destroy closes every
 * connection exactly once (ASan reports any fake connection leaked). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "platform/clock.h"
#include "platform/error.h"
#include "platform/log.h"
#include "platform/pool.h"

typedef struct {
    int id;
    int healthy; /* cleared by a test to make check fail */
    int in_use;  /* set while acquired, to catch a double hand-out */
} fake_conn_t;

typedef struct {
    pthread_mutex_t mu;
    int opened, closed, checked;
    int fail_open;  /* next opens fail with SP_EUNAVAILABLE */
    int open_delay; /* microseconds, to widen races */
} fake_ctx_t;

static int fake_open(void *ctx, void **out)
{
    fake_ctx_t *f = ctx;
    if (f->open_delay)
        usleep((useconds_t)f->open_delay);
    pthread_mutex_lock(&f->mu);
    if (f->fail_open) {
        f->fail_open--;
        pthread_mutex_unlock(&f->mu);
        return SP_EUNAVAILABLE;
    }
    fake_conn_t *c = calloc(1, sizeof(*c));
    if (!c) {
        pthread_mutex_unlock(&f->mu);
        return SP_ENOMEM;
    }
    c->id = ++f->opened;
    c->healthy = 1;
    pthread_mutex_unlock(&f->mu);
    *out = c;
    return 0;
}

static int fake_check(void *ctx, void *conn)
{
    fake_ctx_t *f = ctx;
    fake_conn_t *c = conn;
    pthread_mutex_lock(&f->mu);
    f->checked++;
    pthread_mutex_unlock(&f->mu);
    return c->healthy ? 0 : SP_EUNAVAILABLE;
}

static void fake_close(void *ctx, void *conn)
{
    fake_ctx_t *f = ctx;
    fake_conn_t *c = conn;
    assert_false(c->in_use);
    pthread_mutex_lock(&f->mu);
    f->closed++;
    pthread_mutex_unlock(&f->mu);
    free(c);
}

static const sp_pool_ops_t fake_ops = {
    .open = fake_open,
    .check = fake_check,
    .close = fake_close,
};

static int setup(void **state)
{
    fake_ctx_t *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    pthread_mutex_init(&f->mu, NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fake_ctx_t *f = *state;
    pthread_mutex_destroy(&f->mu);
    free(f);
    return 0;
}

static fake_conn_t *take(sp_pool_t *pool, int timeout_ms, int expect_reused)
{
    void *conn = NULL;
    int reused = -1;
    assert_int_equal(sp_pool_acquire(pool, timeout_ms, &conn, &reused), 0);
    assert_non_null(conn);
    assert_int_equal(reused, expect_reused);
    fake_conn_t *c = conn;
    assert_false(c->in_use);
    c->in_use = 1;
    return c;
}

static void give(sp_pool_t *pool, fake_conn_t *c, int broken)
{
    c->in_use = 0;
    sp_pool_release(pool, c, broken);
}

static void test_new_rejects_bad_arguments(void **state)
{
    fake_ctx_t *f = *state;
    sp_pool_ops_t no_close = {.open = fake_open};
    assert_null(sp_pool_new("t", 0, &fake_ops, f));
    assert_null(sp_pool_new(NULL, 1, &fake_ops, f));
    assert_null(sp_pool_new("t", 1, NULL, f));
    assert_null(sp_pool_new("t", 1, &no_close, f));
    sp_pool_t *pool = sp_pool_new("t", 3, &fake_ops, f);
    assert_non_null(pool);
    assert_int_equal(sp_pool_size(pool), 3);
    sp_pool_destroy(&pool);
    assert_null(pool);
    sp_pool_destroy(&pool);
    sp_pool_destroy(NULL);
    assert_int_equal(f->opened, 0);
}

static void test_lazy_open_and_reuse(void **state)
{
    fake_ctx_t *f = *state;
    sp_pool_t *pool = sp_pool_new("t", 2, &fake_ops, f);
    assert_non_null(pool);
    /* Nothing opens until an acquire needs it. */
    assert_int_equal(f->opened, 0);
    fake_conn_t *a = take(pool, 100, 0);
    assert_int_equal(f->opened, 1);
    assert_int_equal(f->checked, 0);
    give(pool, a, 0);
    /* The idle connection is handed out again, after a check. */
    fake_conn_t *b = take(pool, 100, 1);
    assert_ptr_equal(a, b);
    assert_int_equal(f->opened, 1);
    assert_int_equal(f->checked, 1);
    /* With one held, the second slot opens its own. */
    fake_conn_t *c = take(pool, 100, 0);
    assert_ptr_not_equal(b, c);
    assert_int_equal(f->opened, 2);
    give(pool, c, 0);
    give(pool, b, 0);
    sp_pool_release(pool, NULL, 0); /* ignored */
    sp_pool_destroy(&pool);
    assert_int_equal(f->closed, 2);
}

typedef struct {
    sp_pool_t *pool;
    fake_conn_t *to_release;
    int delay_ms;
} releaser_t;

static void *release_later(void *arg)
{
    releaser_t *r = arg;
    usleep((useconds_t)r->delay_ms * 1000);
    give(r->pool, r->to_release, 0);
    return NULL;
}

static void test_exhaustion_times_out(void **state)
{
    fake_ctx_t *f = *state;
    sp_pool_t *pool = sp_pool_new("t", 1, &fake_ops, f);
    assert_non_null(pool);
    fake_conn_t *a = take(pool, 100, 0);

    void *conn = (void *)1;
    int reused = -1;
    long long t0 = sp_clock_mono_ms();
    assert_int_equal(sp_pool_acquire(pool, 200, &conn, &reused), SP_ETIMEDOUT);
    long long waited = sp_clock_mono_ms() - t0;
    assert_null(conn);
    assert_int_equal(reused, 0);
    assert_true(waited >= 190 && waited < 2000);
    /* timeout 0 (and below) does not wait at all. */
    t0 = sp_clock_mono_ms();
    assert_int_equal(sp_pool_acquire(pool, 0, &conn, NULL), SP_ETIMEDOUT);
    assert_int_equal(sp_pool_acquire(pool, -5, &conn, NULL), SP_ETIMEDOUT);
    assert_true(sp_clock_mono_ms() - t0 < 100);

    /* A waiter is woken by a release well before its timeout. */
    releaser_t r = {.pool = pool, .to_release = a, .delay_ms = 100};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, release_later, &r), 0);
    t0 = sp_clock_mono_ms();
    fake_conn_t *b = take(pool, 5000, 1);
    assert_true(sp_clock_mono_ms() - t0 < 2500);
    pthread_join(th, NULL);
    assert_ptr_equal(a, b);
    give(pool, b, 0);
    assert_int_equal(f->opened, 1);
    sp_pool_destroy(&pool);
    assert_int_equal(f->closed, 1);
}

static void test_broken_connection_is_replaced(void **state)
{
    fake_ctx_t *f = *state;
    sp_pool_t *pool = sp_pool_new("t", 1, &fake_ops, f);
    assert_non_null(pool);

    /* Released as broken: closed at once, the next acquire opens anew. */
    fake_conn_t *a = take(pool, 100, 0);
    assert_int_equal(a->id, 1);
    give(pool, a, 1);
    assert_int_equal(f->closed, 1);
    fake_conn_t *b = take(pool, 100, 0);
    assert_int_equal(b->id, 2);
    assert_int_equal(f->opened, 2);

    /* Broke while idle: the check refuses it, the acquire returns the check's
     * code, and the one after opens a fresh connection. */
    b->healthy = 0;
    give(pool, b, 0);
    void *conn = (void *)1;
    assert_int_equal(sp_pool_acquire(pool, 100, &conn, NULL), SP_EUNAVAILABLE);
    assert_null(conn);
    assert_int_equal(f->closed, 2);
    fake_conn_t *c = take(pool, 100, 0);
    assert_int_equal(c->id, 3);
    give(pool, c, 0);

    /* A failed open returns its code and leaves the slot free. */
    c = take(pool, 100, 1);
    give(pool, c, 1);
    f->fail_open = 1;
    assert_int_equal(sp_pool_acquire(pool, 100, &conn, NULL), SP_EUNAVAILABLE);
    assert_null(conn);
    c = take(pool, 0, 0);
    assert_int_equal(c->id, 4);
    give(pool, c, 0);

    sp_pool_destroy(&pool);
    assert_int_equal(f->opened, 4);
    assert_int_equal(f->closed, 4);
}

enum { THREADS = 8, ITERATIONS = 2000, POOL_SIZE = 3 };

typedef struct {
    sp_pool_t *pool;
    pthread_mutex_t mu;
    int held, max_held;
    long acquired, released, failures;
} shared_t;

static void *worker(void *arg)
{
    shared_t *s = arg;
    for (int i = 0; i < ITERATIONS; i++) {
        void *conn = NULL;
        if (sp_pool_acquire(s->pool, 10000, &conn, NULL) != 0) {
            pthread_mutex_lock(&s->mu);
            s->failures++;
            pthread_mutex_unlock(&s->mu);
            continue;
        }
        fake_conn_t *c = conn;
        pthread_mutex_lock(&s->mu);
        /* Two threads holding one connection would show here. */
        if (c->in_use)
            s->failures++;
        c->in_use = 1;
        s->acquired++;
        if (++s->held > s->max_held)
            s->max_held = s->held;
        pthread_mutex_unlock(&s->mu);
        if (i % 64 == 0)
            sched_yield();
        pthread_mutex_lock(&s->mu);
        s->held--;
        c->in_use = 0;
        s->released++;
        pthread_mutex_unlock(&s->mu);
        sp_pool_release(s->pool, c, 0);
    }
    return NULL;
}

static void test_concurrent_acquire_release(void **state)
{
    fake_ctx_t *f = *state;
    f->open_delay = 1000;
    shared_t s = {.pool = sp_pool_new("t", POOL_SIZE, &fake_ops, f)};
    assert_non_null(s.pool);
    pthread_mutex_init(&s.mu, NULL);
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, worker, &s), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(s.failures, 0);
    assert_int_equal(s.acquired, (long)THREADS * ITERATIONS);
    assert_int_equal(s.released, (long)THREADS * ITERATIONS);
    assert_int_equal(s.held, 0);
    assert_true(s.max_held >= 1 && s.max_held <= POOL_SIZE);
    /* Never more connections than slots, and nothing closed while in use. */
    assert_true(f->opened >= 1 && f->opened <= POOL_SIZE);
    assert_int_equal(f->closed, 0);

    /* Every slot is free again: all of them can be held at once, and no
     * further one. */
    fake_conn_t *held[POOL_SIZE];
    for (int i = 0; i < POOL_SIZE; i++) {
        void *conn = NULL;
        assert_int_equal(sp_pool_acquire(s.pool, 0, &conn, NULL), 0);
        held[i] = conn;
    }
    void *conn = NULL;
    assert_int_equal(sp_pool_acquire(s.pool, 0, &conn, NULL), SP_ETIMEDOUT);
    assert_int_equal(f->opened, POOL_SIZE);
    for (int i = 0; i < POOL_SIZE; i++)
        sp_pool_release(s.pool, held[i], 0);

    sp_pool_destroy(&s.pool);
    assert_int_equal(f->closed, POOL_SIZE);
    pthread_mutex_destroy(&s.mu);
}

static void test_destroy_closes_every_idle_connection(void **state)
{
    fake_ctx_t *f = *state;
    sp_pool_t *pool = sp_pool_new("t", 4, &fake_ops, f);
    assert_non_null(pool);
    fake_conn_t *c[4];
    for (int i = 0; i < 4; i++)
        c[i] = take(pool, 0, 0);
    /* One goes back broken (closed now), one slot is left never reopened. */
    give(pool, c[0], 1);
    for (int i = 1; i < 4; i++)
        give(pool, c[i], 0);
    assert_int_equal(f->closed, 1);
    sp_pool_destroy(&pool);
    assert_null(pool);
    assert_int_equal(f->opened, 4);
    assert_int_equal(f->closed, 4);
}

int main(void)
{
    sp_log_init("test_pool", SP_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_new_rejects_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lazy_open_and_reuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exhaustion_times_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broken_connection_is_replaced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_acquire_release, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_closes_every_idle_connection, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
