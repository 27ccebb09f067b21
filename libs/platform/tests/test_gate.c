/* Unit tests for gate.c: a bounded gate refuses exactly past its bound and
 * takes slots again once they are given back, also under contention from
 * several threads; an unbounded gate never refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>

#include "platform/gate.h"

static void test_bounded(void **state)
{
    (void)state;
    sp_gate_t g = SP_GATE_INIT(2);
    assert_int_equal(sp_gate_enter(&g), 1);
    assert_int_equal(sp_gate_enter(&g), 1);
    assert_int_equal(sp_gate_enter(&g), 0);
    assert_int_equal(sp_gate_used(&g), 2);
    sp_gate_leave(&g);
    assert_int_equal(sp_gate_enter(&g), 1);
    assert_int_equal(sp_gate_enter(&g), 0);
}

static void test_unbounded(void **state)
{
    (void)state;
    sp_gate_t g;
    sp_gate_init(&g, 0);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(sp_gate_enter(&g), 1);
    assert_int_equal(sp_gate_used(&g), 1000);
}

static sp_gate_t shared = SP_GATE_INIT(3);
static atomic_int peak, overshoot;

static void *contend(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20000; i++) {
        if (!sp_gate_enter(&shared))
            continue;
        int now = sp_gate_used(&shared);
        if (now > 3)
            atomic_fetch_add(&overshoot, 1);
        int p = atomic_load(&peak);
        while (now > p && !atomic_compare_exchange_weak(&peak, &p, now))
            ;
        sp_gate_leave(&shared);
    }
    return NULL;
}

static void test_contended_bound_holds(void **state)
{
    (void)state;
    pthread_t t[6];
    for (int i = 0; i < 6; i++)
        assert_int_equal(pthread_create(&t[i], NULL, contend, NULL), 0);
    for (int i = 0; i < 6; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&overshoot), 0);
    assert_true(atomic_load(&peak) <= 3);
    assert_int_equal(sp_gate_used(&shared), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounded),
        cmocka_unit_test(test_unbounded),
        cmocka_unit_test(test_contended_bound_holds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
