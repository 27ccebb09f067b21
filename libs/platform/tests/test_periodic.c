/* Unit tests for periodic.c: the task runs at once and then on its
 * interval, a wake runs it early, destroy waits for a run in progress (so
 * what the task uses can be freed right after), and bad arguments are
 * refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <unistd.h>

#include "platform/clock.h"
#include "platform/periodic.h"

typedef struct {
    atomic_int runs;
    atomic_int inside;
    int sleep_ms;
} counter_t;

static void count_run(void *ud)
{
    counter_t *c = ud;
    atomic_fetch_add(&c->inside, 1);
    if (c->sleep_ms)
        usleep((useconds_t)c->sleep_ms * 1000);
    atomic_fetch_add(&c->runs, 1);
    atomic_fetch_sub(&c->inside, 1);
}

static void wait_runs(counter_t *c, int n, int limit_ms)
{
    int64_t until = sp_clock_mono_ms() + limit_ms;
    while (atomic_load(&c->runs) < n && sp_clock_mono_ms() < until)
        usleep(1000);
}

static void test_runs_at_start_and_on_interval(void **state)
{
    (void)state;
    counter_t c = {0};
    sp_periodic_t *p = sp_periodic_start("t-interval", 0, 50, count_run, &c);
    assert_non_null(p);
    wait_runs(&c, 3, 5000);
    assert_true(atomic_load(&c.runs) >= 3);
    sp_periodic_destroy(&p);
    assert_null(p);
    int after = atomic_load(&c.runs);
    usleep(120 * 1000);
    assert_int_equal(atomic_load(&c.runs), after); /* stopped for good */
}

static void test_wake_runs_early(void **state)
{
    (void)state;
    counter_t c = {0};
    sp_periodic_t *p = sp_periodic_start("t-wake", 0, 3600 * 1000, count_run, &c);
    wait_runs(&c, 1, 5000);
    assert_int_equal(atomic_load(&c.runs), 1);
    sp_periodic_wake(p);
    wait_runs(&c, 2, 5000);
    assert_int_equal(atomic_load(&c.runs), 2);
    sp_periodic_destroy(&p);
}

static void test_first_delay(void **state)
{
    (void)state;
    counter_t c = {0};
    sp_periodic_t *p = sp_periodic_start("t-delay", 3600 * 1000, 10, count_run, &c);
    usleep(50 * 1000);
    assert_int_equal(atomic_load(&c.runs), 0); /* still waiting the first delay */
    sp_periodic_wake(p);                       /* a wake ends it early */
    wait_runs(&c, 1, 5000);
    assert_true(atomic_load(&c.runs) >= 1);
    sp_periodic_destroy(&p);
}

static void test_destroy_waits_for_a_run(void **state)
{
    (void)state;
    counter_t c = {.sleep_ms = 100};
    sp_periodic_t *p = sp_periodic_start("t-slow", 0, 10, count_run, &c);
    while (atomic_load(&c.inside) == 0)
        usleep(1000);
    sp_periodic_destroy(&p);
    assert_int_equal(atomic_load(&c.inside), 0);
    assert_true(atomic_load(&c.runs) >= 1);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    counter_t c = {0};
    assert_null(sp_periodic_start("t-bad", 0, 0, count_run, &c));
    assert_null(sp_periodic_start("t-bad", -1, 10, count_run, &c));
    assert_null(sp_periodic_start("t-bad", 0, 10, NULL, &c));
    sp_periodic_wake(NULL);
    sp_periodic_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runs_at_start_and_on_interval),
        cmocka_unit_test(test_wake_runs_early),
        cmocka_unit_test(test_first_delay),
        cmocka_unit_test(test_destroy_waits_for_a_run),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
