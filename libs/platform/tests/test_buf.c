/* Unit tests for buf.c: appends of every kind concatenate exactly (binary
 * data included) across many growth steps, formatted appends that fit and
 * that do not fit the room at hand, fixed storage that is used in place and
 * then outgrown without touching the storage past its end, a maximum that
 * fails the buffer stickily with SP_ETOOBIG, and take/cleanup handing over or
 * freeing everything (ASan reports any leak or overrun). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/buf.h"
#include "platform/error.h"

static void test_empty(void **state)
{
    sp_buf_t b;
    sp_buf_init(&b, 0);
    assert_string_equal(sp_buf_data(&b), "");
    assert_int_equal(sp_buf_len(&b), 0);
    assert_int_equal(sp_buf_failed(&b), 0);
    size_t len = 99;
    char *s = sp_buf_take(&b, &len);
    assert_non_null(s);
    assert_string_equal(s, "");
    assert_int_equal(len, 0);
    free(s);
    sp_buf_cleanup(&b);
    sp_buf_cleanup(NULL);
}

static void test_append_grows_and_concatenates(void **state)
{
    sp_buf_t b;
    sp_buf_init(&b, 0);
    /* Build the same text alongside in a plain array to compare. */
    enum { N = 5000 };
    char *expect = malloc(N * 8);
    assert_non_null(expect);
    size_t elen = 0;
    for (int i = 0; i < N; i++) {
        char piece[16];
        int n = snprintf(piece, sizeof(piece), "%d,", i);
        switch (i % 4) {
        case 0:
            assert_int_equal(sp_buf_append(&b, piece, (size_t)n), 0);
            break;
        case 1:
            assert_int_equal(sp_buf_puts(&b, piece), 0);
            break;
        case 2:
            assert_int_equal(sp_buf_appendf(&b, "%d,", i), 0);
            break;
        default:
            for (int k = 0; k < n; k++)
                assert_int_equal(sp_buf_putc(&b, piece[k]), 0);
        }
        memcpy(expect + elen, piece, (size_t)n);
        elen += (size_t)n;
    }
    expect[elen] = '\0';
    assert_int_equal(sp_buf_len(&b), elen);
    assert_string_equal(sp_buf_data(&b), expect);
    /* Zero-length appends change nothing. */
    assert_int_equal(sp_buf_append(&b, NULL, 0), 0);
    assert_int_equal(sp_buf_appendf(&b, "%s", ""), 0);
    assert_int_equal(sp_buf_len(&b), elen);
    size_t len = 0;
    char *s = sp_buf_take(&b, &len);
    assert_non_null(s);
    assert_int_equal(len, elen);
    assert_memory_equal(s, expect, elen + 1);
    free(s);
    /* Taken: the buffer is empty and usable again. */
    assert_int_equal(sp_buf_len(&b), 0);
    assert_int_equal(sp_buf_puts(&b, "again"), 0);
    assert_string_equal(sp_buf_data(&b), "again");
    sp_buf_cleanup(&b);
    assert_int_equal(sp_buf_len(&b), 0);
    assert_string_equal(sp_buf_data(&b), "");
    free(expect);
}

static void test_binary_and_long_format(void **state)
{
    sp_buf_t b;
    sp_buf_init(&b, 0);
    const char bin[] = {'a', '\0', 'b', '\0', '\xff'};
    assert_int_equal(sp_buf_append(&b, bin, sizeof(bin)), 0);
    assert_int_equal(sp_buf_len(&b), sizeof(bin));
    assert_memory_equal(sp_buf_data(&b), bin, sizeof(bin));
    assert_int_equal(sp_buf_data(&b)[sizeof(bin)], '\0');
    /* A formatted piece far larger than the room at hand. */
    char big[3000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(sp_buf_appendf(&b, "[%s|%d]", big, 42), 0);
    assert_int_equal(sp_buf_len(&b), sizeof(bin) + 1 + 2999 + 4);
    const char *d = sp_buf_data(&b);
    assert_int_equal(d[sizeof(bin)], '[');
    assert_int_equal(d[sizeof(bin) + 1 + 2998], 'x');
    assert_string_equal(d + sizeof(bin) + 1 + 2999, "|42]");
    sp_buf_cleanup(&b);
}

static void test_fixed_storage(void **state)
{
    /* Guard bytes after the storage catch a write past its end. */
    char storage[24];
    memset(storage, '#', sizeof(storage));
    sp_buf_t b;
    sp_buf_init_fixed(&b, storage, 16, 0);
    assert_string_equal(sp_buf_data(&b), "");
    assert_int_equal(sp_buf_puts(&b, "0123456789"), 0);
    assert_ptr_equal(sp_buf_data(&b), storage); /* in place, no heap */
    assert_int_equal(sp_buf_appendf(&b, "%s", "abcd"), 0);
    assert_ptr_equal(sp_buf_data(&b), storage);
    assert_string_equal(storage, "0123456789abcd");
    /* 15 bytes + NUL fill the storage exactly; one more moves to the heap. */
    assert_int_equal(sp_buf_putc(&b, 'e'), 0);
    assert_ptr_equal(sp_buf_data(&b), storage);
    assert_int_equal(sp_buf_appendf(&b, "%s", "FGH"), 0);
    assert_ptr_not_equal(sp_buf_data(&b), storage);
    assert_string_equal(sp_buf_data(&b), "0123456789abcdeFGH");
    for (size_t i = 16; i < sizeof(storage); i++)
        assert_int_equal(storage[i], '#');
    /* take of a heap buffer hands that memory over; cleanup of the buffer
     * afterwards does not free it twice. */
    char *s = sp_buf_take(&b, NULL);
    assert_string_equal(s, "0123456789abcdeFGH");
    free(s);
    sp_buf_cleanup(&b);

    /* take of contents still in the storage copies them. */
    assert_int_equal(sp_buf_puts(&b, "short"), 0);
    assert_ptr_equal(sp_buf_data(&b), storage);
    size_t len = 0;
    s = sp_buf_take(&b, &len);
    assert_ptr_not_equal(s, storage);
    assert_string_equal(s, "short");
    assert_int_equal(len, 5);
    free(s);
    sp_buf_cleanup(&b);
}

static void test_max_is_sticky(void **state)
{
    sp_buf_t b;
    sp_buf_init(&b, 10);
    assert_int_equal(sp_buf_puts(&b, "0123456789"), 0); /* exactly max */
    assert_int_equal(sp_buf_len(&b), 10);
    assert_int_equal(sp_buf_putc(&b, 'x'), SP_ETOOBIG);
    assert_int_equal(sp_buf_failed(&b), SP_ETOOBIG);
    /* Contents discarded; later appends, even small ones, keep failing. */
    assert_int_equal(sp_buf_len(&b), 0);
    assert_string_equal(sp_buf_data(&b), "");
    assert_int_equal(sp_buf_puts(&b, ""), SP_ETOOBIG);
    assert_int_equal(sp_buf_appendf(&b, "%d", 1), SP_ETOOBIG);
    assert_null(sp_buf_take(&b, NULL));
    /* take (like cleanup) clears the error. */
    assert_int_equal(sp_buf_failed(&b), 0);
    assert_int_equal(sp_buf_appendf(&b, "%s", "abc"), 0);
    /* A formatted piece that crosses the maximum fails too. */
    assert_int_equal(sp_buf_appendf(&b, "%s", "defghijk"), SP_ETOOBIG);
    sp_buf_cleanup(&b);
    assert_int_equal(sp_buf_failed(&b), 0);

    /* Fixed storage larger than the maximum: the maximum still holds. */
    char storage[64];
    sp_buf_init_fixed(&b, storage, sizeof(storage), 4);
    assert_int_equal(sp_buf_puts(&b, "abcd"), 0);
    assert_int_equal(sp_buf_appendf(&b, "%c", 'e'), SP_ETOOBIG);
    assert_string_equal(sp_buf_data(&b), "");
    sp_buf_cleanup(&b);
    assert_int_equal(sp_buf_puts(&b, "ok"), 0);
    assert_string_equal(sp_buf_data(&b), "ok");
    sp_buf_cleanup(&b);
}

static void test_huge_append_is_enomem(void **state)
{
    sp_buf_t b;
    sp_buf_init(&b, 0);
    assert_int_equal(sp_buf_puts(&b, "abc"), 0);
    /* A length that cannot be represented with the NUL. */
    assert_int_equal(sp_buf_append(&b, "x", SIZE_MAX - 1), SP_ENOMEM);
    assert_int_equal(sp_buf_failed(&b), SP_ENOMEM);
    assert_int_equal(sp_buf_putc(&b, 'y'), SP_ENOMEM);
    sp_buf_cleanup(&b);
    assert_int_equal(sp_buf_putc(&b, 'y'), 0);
    assert_string_equal(sp_buf_data(&b), "y");
    sp_buf_cleanup(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_append_grows_and_concatenates),
        cmocka_unit_test(test_binary_and_long_format),
        cmocka_unit_test(test_fixed_storage),
        cmocka_unit_test(test_max_is_sticky),
        cmocka_unit_test(test_huge_append_is_enomem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
