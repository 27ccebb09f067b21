/* Unit tests for text.c and clock.c: UUID validation accepts every canonical
 * form and refuses every near miss; FNV-1a matches the published test
 * vectors; the clocks move forward and deadlines count down to 0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "platform/clock.h"
#include "platform/error.h"
#include "platform/text.h"

static void test_uuid_valid(void **state)
{
    (void)state;
    assert_true(sp_uuid_valid("0190c6a2-7b1e-7c3d-8e4f-1234567890ab"));
    assert_true(sp_uuid_valid("0190C6A2-7B1E-7C3D-8E4F-1234567890AB"));
    assert_false(sp_uuid_valid(NULL));
    assert_false(sp_uuid_valid(""));
    assert_false(sp_uuid_valid("0190c6a2-7b1e-7c3d-8e4f-1234567890a"));   /* short */
    assert_false(sp_uuid_valid("0190c6a2-7b1e-7c3d-8e4f-1234567890abc")); /* long */
    assert_false(sp_uuid_valid("0190c6a2x7b1e-7c3d-8e4f-1234567890ab"));  /* dash */
    assert_false(sp_uuid_valid("0190c6a2-7b1e-7c3d-8e4f-1234567890ag"));  /* hex */
    assert_false(sp_uuid_valid("0190c6a2-7b1e-7c3d-8e4f-12345678-0ab"));  /* extra dash */
}

static void test_fnv1a_vectors(void **state)
{
    (void)state;
    /* Vectors from the FNV reference (draft-eastlake-fnv). */
    assert_int_equal(sp_fnv1a32(""), 0x811c9dc5u);
    assert_int_equal(sp_fnv1a32("a"), 0xe40c292cu);
    assert_int_equal(sp_fnv1a32("foobar"), 0xbf9cf968u);
    assert_true(sp_fnv1a64("", 0) == 0xcbf29ce484222325ull);
    assert_true(sp_fnv1a64("a", 1) == 0xaf63dc4c8601ec8cull);
    assert_true(sp_fnv1a64("foobar", 6) == 0x85944171f73967e8ull);
}

static void test_email_normalize(void **state)
{
    (void)state;
    char out[SP_EMAIL_MAX];
    /* Every padding and case variant of one address is the same key. */
    const char *same[] = {"Enum3@Acme.test", " enum3@acme.test", "\tenum3@acme.test",
                          "enum3@acme.test ", " \t ENUM3@ACME.TEST\t"};
    for (size_t i = 0; i < sizeof same / sizeof *same; i++) {
        assert_int_equal(sp_email_normalize(same[i], out), 0);
        assert_string_equal(out, "enum3@acme.test");
    }
    const char *bad[] = {NULL,      "",       "  ",   "a@",      "@b.c",     "a@@b.c",
                         "a b@c.d", "a@b.c.", "a@.b", "<a@b.c>", "a@b\x01c", "ab.cd"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(sp_email_normalize(bad[i], out), SP_EINVAL);
    char longest[300];
    memset(longest, 'a', sizeof longest);
    memcpy(longest + 250, "@b.cd", 6); /* 255 bytes: one too many */
    assert_int_equal(sp_email_normalize(longest, out), SP_EINVAL);
    memcpy(longest + 249, "@b.cd", 6); /* 254 bytes: the longest allowed */
    assert_int_equal(sp_email_normalize(longest, out), 0);
}

static void test_clocks(void **state)
{
    (void)state;
    int64_t w = sp_clock_wall_ms();
    assert_true(w > 1700000000000LL); /* after 2023 */
    int64_t m0 = sp_clock_mono_ms(), u0 = sp_clock_mono_us();
    assert_true(sp_clock_mono_ms() >= m0);
    assert_true(sp_clock_elapsed_s(u0) >= 0.0);
    assert_int_equal(sp_clock_remaining_ms(0), -1);
    assert_int_equal(sp_clock_remaining_ms(w - 1000), 0);
    int64_t left = sp_clock_remaining_ms(sp_clock_wall_ms() + 60000);
    assert_true(left > 59000 && left <= 60000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uuid_valid),
        cmocka_unit_test(test_fnv1a_vectors),
        cmocka_unit_test(test_email_normalize),
        cmocka_unit_test(test_clocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
