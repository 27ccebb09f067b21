/*
 * test_calendar.c — civil-date arithmetic and time-series bucket math:
 * Monday weeks across month and year ends, months across leap years,
 * bucket counts, and the bucket SQL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "../src/calendar.h"
#include "platform/error.h"

static int64_t day(const char *s)
{
    int64_t d;
    assert_int_equal(aq_date_parse(s, &d), 0);
    return d;
}

static const char *fmt(int64_t d)
{
    static char out[11];
    aq_date_format(d, out);
    return out;
}

static void test_civil_round_trip(void **state)
{
    (void)state;
    assert_int_equal(aq_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(aq_days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(aq_days_from_civil(2024, 2, 29), 19782);
    for (int64_t z = -800; z < 60000; z += 37) {
        int y, m, d;
        aq_civil_from_days(z, &y, &m, &d);
        assert_int_equal(aq_days_from_civil(y, m, d), z);
    }
    assert_string_equal(fmt(19782), "2024-02-29");
}

static void test_date_parse_strict(void **state)
{
    (void)state;
    int64_t d;
    assert_int_equal(aq_date_parse("2024-02-29", &d), 0);
    assert_int_equal(aq_date_parse("2023-02-29", &d), SP_EINVAL); /* not a leap year */
    assert_int_equal(aq_date_parse("2024-04-31", &d), SP_EINVAL);
    assert_int_equal(aq_date_parse("2024-00-10", &d), SP_EINVAL);
    assert_int_equal(aq_date_parse("2024-1-10", &d), SP_EINVAL);
    assert_int_equal(aq_date_parse("2024-01-10x", &d), SP_EINVAL);
    assert_int_equal(aq_date_parse("", &d), SP_EINVAL);
    assert_int_equal(aq_days_in_month(2000, 2), 29);
    assert_int_equal(aq_days_in_month(1900, 2), 28);
    assert_int_equal(aq_days_in_month(2024, 12), 31);
}

static void test_week_buckets_start_on_monday(void **state)
{
    (void)state;
    /* 2024-01-01 was a Monday; 2023-12-31 a Sunday. */
    assert_string_equal(fmt(aq_bucket_floor(day("2024-01-01"), AQ_IV_WEEK)), "2024-01-01");
    assert_string_equal(fmt(aq_bucket_floor(day("2024-01-07"), AQ_IV_WEEK)), "2024-01-01");
    assert_string_equal(fmt(aq_bucket_floor(day("2023-12-31"), AQ_IV_WEEK)), "2023-12-25");
    assert_string_equal(fmt(aq_bucket_floor(day("2024-03-01"), AQ_IV_WEEK)), "2024-02-26");
    /* Before day 0 (a Thursday) too. */
    assert_string_equal(fmt(aq_bucket_floor(day("1969-12-31"), AQ_IV_WEEK)), "1969-12-29");
    assert_string_equal(fmt(aq_bucket_next(day("2023-12-25"), AQ_IV_WEEK)), "2024-01-01");
}

static void test_month_buckets(void **state)
{
    (void)state;
    assert_string_equal(fmt(aq_bucket_floor(day("2024-02-29"), AQ_IV_MONTH)), "2024-02-01");
    assert_string_equal(fmt(aq_bucket_next(day("2024-02-01"), AQ_IV_MONTH)), "2024-03-01");
    assert_string_equal(fmt(aq_bucket_next(day("2023-02-01"), AQ_IV_MONTH)), "2023-03-01");
    assert_string_equal(fmt(aq_bucket_next(day("2024-12-01"), AQ_IV_MONTH)), "2025-01-01");
    assert_string_equal(fmt(aq_bucket_floor(day("2024-07-15"), AQ_IV_DAY)), "2024-07-15");
    assert_string_equal(fmt(aq_bucket_next(day("2024-02-28"), AQ_IV_DAY)), "2024-02-29");
}

static void test_bucket_counts(void **state)
{
    (void)state;
    assert_int_equal(aq_bucket_count(day("2024-03-01"), day("2024-03-07"), AQ_IV_DAY), 7);
    assert_int_equal(aq_bucket_count(day("2024-03-01"), day("2024-03-01"), AQ_IV_DAY), 1);
    assert_int_equal(aq_bucket_count(day("2024-03-02"), day("2024-03-01"), AQ_IV_DAY), 0);
    /* Fri 2024-03-01 .. Mon 2024-03-11: weeks of Feb 26, Mar 4, Mar 11. */
    assert_int_equal(aq_bucket_count(day("2024-03-01"), day("2024-03-11"), AQ_IV_WEEK), 3);
    assert_int_equal(aq_bucket_count(day("2024-01-31"), day("2024-03-01"), AQ_IV_MONTH), 3);
    assert_int_equal(aq_bucket_count(day("2023-01-01"), day("2024-12-31"), AQ_IV_MONTH), 24);
    assert_int_equal(aq_bucket_count(day("2024-01-01"), day("2024-12-31"), AQ_IV_DAY), 366);
}

static void test_interval_names_and_sql(void **state)
{
    (void)state;
    aq_interval_t iv;
    assert_int_equal(aq_interval_parse("week", &iv), 0);
    assert_int_equal(iv, AQ_IV_WEEK);
    assert_int_equal(aq_interval_parse("hour", &iv), SP_EINVAL);
    assert_int_equal(aq_interval_parse("Week", &iv), SP_EINVAL);
    assert_string_equal(aq_interval_name(AQ_IV_MONTH), "month");
    char sql[128];
    assert_int_equal(aq_bucket_sql(AQ_IV_DAY, "hour", "'UTC'", sql, sizeof sql), 0);
    assert_string_equal(sql, "toDate(hour, 'UTC')");
    assert_int_equal(aq_bucket_sql(AQ_IV_WEEK, "hour", "'Europe/Lisbon'", sql, sizeof sql), 0);
    assert_string_equal(sql, "toMonday(toDate(hour, 'Europe/Lisbon'))");
    assert_int_equal(aq_bucket_sql(AQ_IV_MONTH, "occurred_at", "'UTC'", sql, sizeof sql), 0);
    assert_string_equal(sql, "toStartOfMonth(toDate(occurred_at, 'UTC'))");
    assert_int_equal(aq_bucket_sql(AQ_IV_MONTH, "occurred_at", "'UTC'", sql, 10), SP_ETOOBIG);
}

static void test_time_format(void **state)
{
    (void)state;
    char out[21];
    aq_time_format_utc(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00Z");
    aq_time_format_utc(1709547300, out);
    assert_string_equal(out, "2024-03-04T10:15:00Z");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_civil_round_trip),
        cmocka_unit_test(test_date_parse_strict),
        cmocka_unit_test(test_week_buckets_start_on_monday),
        cmocka_unit_test(test_month_buckets),
        cmocka_unit_test(test_bucket_counts),
        cmocka_unit_test(test_interval_names_and_sql),
        cmocka_unit_test(test_time_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
