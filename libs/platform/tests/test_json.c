/* Unit tests for json.c and sp_utf8_valid: strict JSON accepts every RFC
 * 8259 form and refuses each leniency cJSON allows (the probe's inputs among
 * them: a document followed by "xyz", two documents, a BOM, "007",
 * "\u0000"); UTF-8 is checked to RFC 3629; unknown members are named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "platform/error.h"
#include "platform/json.h"
#include "platform/text.h"

static const char *problem(const char *s)
{
    return sp_json_problem(s, strlen(s));
}

static void test_accepts_valid(void **state)
{
    (void)state;
    const char *ok[] = {"{}",
                        "[]",
                        " {\"a\":[1,2.5,-0.1e+3,true,false,null]} \n",
                        "0",
                        "-0",
                        "\"x\"",
                        "\"caf\xc3\xa9 \\u00e9 \\ud83d\\ude00 \\\" \\\\ \\/ \\n\"",
                        "[[[[[[[[[[]]]]]]]]]]",
                        "1E5",
                        "{\"a\":{\"b\":{}}}"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        assert_null(problem(ok[i]));
}

static void test_refuses_lenient_forms(void **state)
{
    (void)state;
    const char *bad[] = {
        "{\"a\":1}xyz",                    /* trailing bytes */
        "{\"a\":1}{\"a\":2}",              /* two documents */
        "\xef\xbb\xbf{\"a\":1}",           /* BOM */
        "007",                             /* leading zeros */
        "{\"a\":007}",                     /* inside too */
        "\"ingest:write\\u0000platform\"", /* NUL escape */
        "\"\\ud800\"",                     /* lone high surrogate */
        "\"\\udc00x\"",                    /* lone low surrogate */
        "\"\\ud800\\u0041\"",              /* high + non-low */
        "\"a\xff\"",                       /* invalid UTF-8 */
        "\"\xc0\xaf\"",                    /* overlong */
        "\"\xed\xa0\x80\"",                /* encoded surrogate */
        "\"tab\there\"",                   /* raw control char */
        "\"\\x41\"",                       /* unknown escape */
        "\"\\u12\"",                       /* short \u */
        "{\"a\" 1}",
        "{a:1}",
        "[1,]",
        "{\"a\":1,}",
        "[1 2]",
        "01",
        "1.",
        ".5",
        "-",
        "1e",
        "tru",
        "nul",
        "",
        "   ",
        "\"open",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *why = problem(bad[i]);
        if (!why)
            fail_msg("accepted: %s", bad[i]);
    }
}

static void test_depth_bound(void **state)
{
    (void)state;
    char deep[2 * (SP_JSON_MAX_DEPTH + 2) + 1];
    size_t n = 0;
    for (int i = 0; i < SP_JSON_MAX_DEPTH; i++)
        deep[n++] = '[';
    for (int i = 0; i < SP_JSON_MAX_DEPTH; i++)
        deep[n++] = ']';
    assert_null(sp_json_problem(deep, n));
    n = 0;
    for (int i = 0; i < SP_JSON_MAX_DEPTH + 1; i++)
        deep[n++] = '[';
    for (int i = 0; i < SP_JSON_MAX_DEPTH + 1; i++)
        deep[n++] = ']';
    assert_non_null(sp_json_problem(deep, n));
}

static void test_embedded_nul_byte(void **state)
{
    (void)state;
    static const char raw[] = "{\"a\":\"x\0y\"}";
    assert_non_null(sp_json_problem(raw, sizeof raw - 1));
    static const char after[] = "{}\0";
    assert_non_null(sp_json_problem(after, sizeof after - 1));
}

static void test_parse_and_members(void **state)
{
    (void)state;
    cJSON *j = NULL;
    const char *why = NULL;
    assert_int_equal(sp_json_parse("{\"a\":1}x", 8, &j, &why), SP_EINVAL);
    assert_null(j);
    assert_non_null(why);
    const char *text = "{\"name\":\"x\",\"role\":\"admin\",\"rol\":1}";
    assert_int_equal(sp_json_parse(text, strlen(text), &j, &why), 0);
    const char *const allowed[] = {"name", "role", NULL};
    assert_string_equal(sp_json_unknown_member(j, allowed), "rol");
    cJSON_DeleteItemFromObject(j, "rol");
    assert_null(sp_json_unknown_member(j, allowed));
    cJSON_Delete(j);
}

static void test_utf8(void **state)
{
    (void)state;
    assert_true(sp_utf8_valid("", 0));
    assert_true(sp_utf8_valid("plain", 5));
    assert_true(sp_utf8_valid("\xc3\xa9", 2));
    assert_true(sp_utf8_valid("\xe2\x82\xac", 3));
    assert_true(sp_utf8_valid("\xf0\x9f\x98\x80", 4));
    assert_true(sp_utf8_valid("\xf4\x8f\xbf\xbf", 4)); /* U+10FFFF */
    assert_false(sp_utf8_valid("\xff\xfe", 2));
    assert_false(sp_utf8_valid("\xc0\xaf", 2));         /* overlong '/' */
    assert_false(sp_utf8_valid("\xe0\x80\xaf", 3));     /* overlong */
    assert_false(sp_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    assert_false(sp_utf8_valid("\xf4\x90\x80\x80", 4)); /* past U+10FFFF */
    assert_false(sp_utf8_valid("\xc3", 1));             /* truncated */
    assert_false(sp_utf8_valid("\x80", 1));             /* lone continuation */
    assert_false(sp_utf8_valid("a\0b", 3));             /* NUL */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts_valid),     cmocka_unit_test(test_refuses_lenient_forms),
        cmocka_unit_test(test_depth_bound),       cmocka_unit_test(test_embedded_nul_byte),
        cmocka_unit_test(test_parse_and_members), cmocka_unit_test(test_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
