/*
 * test_csv.c — CSV quoting and the formula guard, export cursors, snippets
 * cut to whole UTF-8 characters, and the KPI arithmetic over sums.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "../src/csv.h"
#include "../src/export.h"
#include "../src/interactions.h"
#include "../src/kpis.h"
#include "platform/error.h"

static const char *text_cell(const char *s)
{
    static char out[256];
    sp_buf_t b;
    sp_buf_init(&b, 0);
    aq_csv_text(&b, s);
    snprintf(out, sizeof out, "%s", sp_buf_data(&b));
    sp_buf_cleanup(&b);
    return out;
}

static const char *plain_cell(const char *s)
{
    static char out[256];
    sp_buf_t b;
    sp_buf_init(&b, 0);
    aq_csv_plain(&b, s);
    snprintf(out, sizeof out, "%s", sp_buf_data(&b));
    sp_buf_cleanup(&b);
    return out;
}

static void test_quoting(void **state)
{
    (void)state;
    assert_string_equal(text_cell("plain"), "plain");
    assert_string_equal(text_cell(""), "");
    assert_string_equal(text_cell(NULL), "");
    assert_string_equal(text_cell("a,b"), "\"a,b\"");
    assert_string_equal(text_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
    assert_string_equal(text_cell("two\nlines"), "\"two\nlines\"");
    assert_string_equal(text_cell("cr\rhere"), "\"cr\rhere\"");
    assert_string_equal(text_cell(" padded "), "\" padded \"");
    assert_string_equal(text_cell("olá, ação"), "\"olá, ação\"");
    assert_string_equal(text_cell("\""), "\"\"\"\"");
}

static void test_formula_guard(void **state)
{
    (void)state;
    assert_string_equal(text_cell("=HYPERLINK(\"http://x\")"), "\"'=HYPERLINK(\"\"http://x\"\")\"");
    assert_string_equal(text_cell("+1"), "\"'+1\"");
    assert_string_equal(text_cell("-2+3"), "\"'-2+3\"");
    assert_string_equal(text_cell("@SUM(A1)"), "\"'@SUM(A1)\"");
    assert_string_equal(text_cell("\tx"), "\"'\tx\"");
    assert_string_equal(text_cell("a=b"), "a=b"); /* only a leading sign is a formula */
    /* Numbers are not text: a negative sentiment stays a number. */
    assert_string_equal(plain_cell("-0.5"), "-0.5");
    assert_string_equal(plain_cell("2024-03-04T10:15:00Z"), "2024-03-04T10:15:00Z");
    assert_string_equal(plain_cell("a,b"), "\"a,b\"");
}

static void test_rows(void **state)
{
    (void)state;
    sp_buf_t b;
    sp_buf_init(&b, 0);
    aq_csv_plain(&b, "id");
    aq_csv_sep(&b);
    aq_csv_text(&b, "x,y");
    aq_csv_sep(&b);
    aq_csv_text(&b, "");
    aq_csv_eol(&b);
    assert_int_equal(sp_buf_failed(&b), 0);
    assert_string_equal(sp_buf_data(&b), "id,\"x,y\",\r\n");
    sp_buf_cleanup(&b);
}

static void test_export_cursor(void **state)
{
    (void)state;
    long long t;
    char id[37];
    assert_int_equal(
        aq_export_cursor_parse("1709547300_00000000-0000-4000-8000-00000000a001", &t, id), 0);
    assert_int_equal(t, 1709547300);
    assert_string_equal(id, "00000000-0000-4000-8000-00000000a001");
    const char *bad[] = {"",
                         "_00000000-0000-4000-8000-00000000a001",
                         "17095473001_00000000-0000-4000-8000-00000000a001",
                         "12x_00000000-0000-4000-8000-00000000a001",
                         "1709547300",
                         "1709547300_00000000-0000-4000-8000-00000000a00'",
                         "1709547300_00000000-0000-4000-8000-00000000a001x",
                         NULL};
    for (int i = 0; bad[i]; i++)
        assert_int_equal(aq_export_cursor_parse(bad[i], &t, id), SP_EINVAL);
    assert_int_equal(aq_export_cursor_parse(NULL, &t, id), SP_EINVAL);
}

static void test_snippet_keeps_whole_characters(void **state)
{
    (void)state;
    sp_arena_t *a = sp_arena_new();
    assert_string_equal(aq_snippet(a, "plain"), "plain");
    assert_string_equal(aq_snippet(a, ""), "");
    /* "ção" cut after the first byte of ç; "ã" cut before its last byte. */
    assert_string_equal(aq_snippet(a, "\xa7\xc3\xa3o fim"), "\xc3\xa3o fim");
    assert_string_equal(aq_snippet(a, "fim a\xc3"), "fim a");
    assert_string_equal(aq_snippet(a, "emoji \xf0\x9f\x98"), "emoji ");
    assert_string_equal(aq_snippet(a, "emoji \xf0\x9f\x98\x80"), "emoji \xf0\x9f\x98\x80");
    assert_string_equal(aq_snippet(a, "\x80\x80"), "");
    sp_arena_destroy(&a);
}

static aq_sums_t sums(double n, double sent, double pos, double neg)
{
    aq_sums_t s = {{0}};
    s.v[AQ_S_N] = n;
    s.v[AQ_S_SENT] = sent;
    s.v[AQ_S_POS] = pos;
    s.v[AQ_S_NEG] = neg;
    return s;
}

static void test_kpis(void **state)
{
    (void)state;
    double v;
    aq_sums_t s = sums(3, 0.2000000029802322 + 0.5 - 0.5, 2, 1);
    s.v[AQ_S_PROM] = 3, s.v[AQ_S_DETR] = 1, s.v[AQ_S_NPS_N] = 5;
    s.v[AQ_S_CSAT_SUM] = 9, s.v[AQ_S_CSAT_N] = 2;
    s.v[AQ_S_RES] = 2, s.v[AQ_S_ESC] = 1, s.v[AQ_S_CHURN] = 0;
    s.v[AQ_S_DUR] = 180000, s.v[AQ_S_TIMED] = 2, s.v[AQ_S_SIL] = 0.4000000059604645;
    assert_true(aq_kpi_value(AQ_K_VOLUME, &s, &v) && v == 3);
    assert_true(aq_kpi_value(AQ_K_SENTIMENT, &s, &v) && v == 0.066667);
    assert_true(aq_kpi_value(AQ_K_POSITIVE, &s, &v) && v == 0.666667);
    assert_true(aq_kpi_value(AQ_K_NEGATIVE, &s, &v) && v == 0.333333);
    assert_true(aq_kpi_value(AQ_K_NPS, &s, &v) && v == 40); /* (3 - 1) / 5 */
    assert_true(aq_kpi_value(AQ_K_CSAT, &s, &v) && v == 4.5);
    assert_true(aq_kpi_value(AQ_K_RESOLUTION, &s, &v) && v == 0.666667);
    assert_true(aq_kpi_value(AQ_K_ESCALATION, &s, &v) && v == 0.333333);
    assert_true(aq_kpi_value(AQ_K_CHURN, &s, &v) && v == 0);
    assert_true(aq_kpi_value(AQ_K_AHT, &s, &v) && v == 90);
    assert_true(aq_kpi_value(AQ_K_SILENCE, &s, &v) && v == 0.2); /* float32 noise rounded off */

    /* Empty denominators are null, not 0 and not NaN; volume is 0. */
    aq_sums_t z = sums(0, 0, 0, 0);
    for (int k = 1; k < AQ_K_COUNT; k++)
        assert_false(aq_kpi_value((aq_kpi_t)k, &z, &v));
    assert_true(aq_kpi_value(AQ_K_VOLUME, &z, &v) && v == 0);
    /* NPS spans -100..100. */
    aq_sums_t d = {{0}};
    d.v[AQ_S_DETR] = 4, d.v[AQ_S_NPS_N] = 4;
    assert_true(aq_kpi_value(AQ_K_NPS, &d, &v) && v == -100);
    assert_false(signbit(aq_round6(-0.0000001)));
}

static void test_kpi_names_and_needs(void **state)
{
    (void)state;
    for (int k = 0; k < AQ_K_COUNT; k++) {
        assert_int_equal(aq_kpi_parse(aq_kpi_name((aq_kpi_t)k)), k);
        assert_true(aq_kpi_needs((aq_kpi_t)k) != 0);
    }
    assert_int_equal(aq_kpi_parse("volume; DROP"), -1);
    assert_null(aq_kpi_name(AQ_K_COUNT));
    /* topics_hourly answers exactly volume, sentiment and negatives. */
    unsigned t = aq_src_sums(AQ_SRC_TOPICS);
    assert_true((aq_kpi_needs(AQ_K_VOLUME) & ~t) == 0);
    assert_true((aq_kpi_needs(AQ_K_SENTIMENT) & ~t) == 0);
    assert_true((aq_kpi_needs(AQ_K_NEGATIVE) & ~t) == 0);
    assert_false((aq_kpi_needs(AQ_K_POSITIVE) & ~t) == 0);
    assert_false((aq_kpi_needs(AQ_K_NPS) & ~t) == 0);
}

static void test_sums_sql(void **state)
{
    (void)state;
    sp_buf_t b;
    sp_buf_init(&b, 0);
    unsigned m = AQ_SUM_BIT(AQ_S_N) | AQ_SUM_BIT(AQ_S_POS);
    assert_int_equal(aq_sums_select(&b, AQ_SRC_HOURLY, m, NULL, "s_"), 0);
    assert_string_equal(sp_buf_data(&b), "sum((interactions)) AS s_n, sum((positive)) AS s_pos");
    sp_buf_cleanup(&b);
    assert_int_equal(aq_sums_select(&b, AQ_SRC_RAW, m, "occurred_at >= toDateTime(7)", NULL), 0);
    assert_string_equal(sp_buf_data(&b), "sumIf((1), occurred_at >= toDateTime(7)), "
                                         "sumIf((sentiment > 0.05), occurred_at >= toDateTime(7))");
    sp_buf_cleanup(&b);
    /* A sum topics_hourly lacks is a constant 0, never a missing column. */
    assert_int_equal(aq_sums_select(&b, AQ_SRC_TOPICS, m, NULL, NULL), 0);
    assert_string_equal(sp_buf_data(&b), "sum((interactions)), 0");
    sp_buf_cleanup(&b);
}

static void test_compare_json(void **state)
{
    (void)state;
    cJSON *o = cJSON_CreateObject();
    aq_kpi_compare_json(o, "a", 1, 3, 1, 2);
    aq_kpi_compare_json(o, "b", 1, 1, 1, 0);
    aq_kpi_compare_json(o, "c", 0, 0, 1, 2);
    aq_kpi_compare_json(o, "d", 1, -1, 1, -2);
    char *text = cJSON_PrintUnformatted(o);
    assert_string_equal(text,
                        "{\"a\":{\"value\":3,\"previous\":2,\"change\":1,\"change_pct\":50},"
                        "\"b\":{\"value\":1,\"previous\":0,\"change\":1,\"change_pct\":null},"
                        "\"c\":{\"value\":null,\"previous\":2,\"change\":null,"
                        "\"change_pct\":null},"
                        "\"d\":{\"value\":-1,\"previous\":-2,\"change\":1,\"change_pct\":50}}");
    cJSON_free(text);
    cJSON_Delete(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quoting),
        cmocka_unit_test(test_formula_guard),
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_export_cursor),
        cmocka_unit_test(test_snippet_keeps_whole_characters),
        cmocka_unit_test(test_kpis),
        cmocka_unit_test(test_kpi_names_and_needs),
        cmocka_unit_test(test_sums_sql),
        cmocka_unit_test(test_compare_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
