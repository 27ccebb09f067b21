/* Unit tests for trace.c: W3C traceparent parsing (the specification's
 * valid and invalid forms) and generation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "platform/error.h"
#include "platform/trace.h"

static void test_parse_valid(void **state)
{
    char trace_id[SP_TRACE_ID_LEN + 1] = "", span_id[SP_SPAN_ID_LEN + 1] = "";
    assert_int_equal(sp_trace_parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                                    trace_id, span_id),
                     0);
    assert_string_equal(trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_string_equal(span_id, "00f067aa0ba902b7");
    /* Not sampled, and NULL outputs. */
    assert_int_equal(
        sp_trace_parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", NULL, NULL), 0);
    /* A future version may carry more fields after a dash. */
    assert_int_equal(sp_trace_parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xyz",
                                    trace_id, NULL),
                     0);
    assert_int_equal(
        sp_trace_parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", NULL, NULL), 0);
}

static void test_parse_invalid(void **state)
{
    const char *bad[] = {
        "",
        "00",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",   /* short */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-", /* v00 too long */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-011", /* v00 too long */
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  /* forbidden version */
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  /* zero trace id */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  /* zero span id */
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  /* upper case */
        "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",  /* not hex */
        "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  /* separator */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0z",  /* flags */
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", /* v01 without dash */
    };
    char trace_id[SP_TRACE_ID_LEN + 1] = "untouched";
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (sp_trace_parse(bad[i], trace_id, NULL) != SP_EINVAL)
            fail_msg("accepted %s", bad[i]);
        assert_string_equal(trace_id, "untouched");
    }
    assert_int_equal(sp_trace_parse(NULL, NULL, NULL), SP_EINVAL);
}

static void test_new(void **state)
{
    char a[SP_TRACEPARENT_LEN + 1], b[SP_TRACEPARENT_LEN + 1];
    assert_int_equal(sp_trace_new(a), 0);
    assert_int_equal(sp_trace_new(b), 0);
    assert_int_equal(strlen(a), SP_TRACEPARENT_LEN);
    assert_int_equal(sp_trace_parse(a, NULL, NULL), 0);
    assert_int_equal(sp_trace_parse(b, NULL, NULL), 0);
    assert_int_equal(strncmp(a, "00-", 3), 0);
    assert_string_equal(a + 52, "-01");
    /* Fresh trace and span ids every time. */
    assert_int_not_equal(memcmp(a + 3, b + 3, SP_TRACE_ID_LEN), 0);
    assert_int_not_equal(memcmp(a + 36, b + 36, SP_SPAN_ID_LEN), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_invalid),
        cmocka_unit_test(test_new),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
