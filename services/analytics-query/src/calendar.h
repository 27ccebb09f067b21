/*
 * calendar.h — civil dates and the buckets of a time series.
 *
 * Time series are cut into calendar buckets in the tenant's timezone: days,
 * ISO weeks (starting on Monday) and months. ClickHouse turns each hourly
 * rollup row into the local date of its bucket (toDate(hour, tz), then
 * toMonday / toStartOfMonth); this module does the same arithmetic on plain
 * day numbers so that the service can list every bucket of a window, and
 * fill the ones without data, without knowing any timezone rules: a bucket
 * is identified by its first local date, which no DST change can move.
 *
 * Days are counted from 1970-01-01 (day 0, a Thursday), proleptic Gregorian.
 */
#ifndef AQ_CALENDAR_H
#define AQ_CALENDAR_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    AQ_IV_DAY = 0,
    AQ_IV_WEEK = 1,
    AQ_IV_MONTH = 2,
} aq_interval_t;

/* Day number of y-m-d (any valid civil date). */
int64_t aq_days_from_civil(int y, int m, int d);

/* The civil date of day number z. */
void aq_civil_from_days(int64_t z, int *y, int *m, int *d);

/* Days in month m (1..12) of year y. */
int aq_days_in_month(int y, int m);

/* Parses exactly "YYYY-MM-DD" (a valid date) into a day number. Returns 0 or
 * SP_EINVAL. */
int aq_date_parse(const char *s, int64_t *day);

/* Writes day as "YYYY-MM-DD" into out (at least 11 bytes). */
void aq_date_format(int64_t day, char out[11]);

/* "day", "week" or "month" -> *out. Returns 0 or SP_EINVAL. */
int aq_interval_parse(const char *s, aq_interval_t *out);
const char *aq_interval_name(aq_interval_t iv);

/* The first day of the bucket holding day: day itself, its Monday, or the
 * first of its month. */
int64_t aq_bucket_floor(int64_t day, aq_interval_t iv);

/* The first day of the bucket after the one starting on bucket_start. */
int64_t aq_bucket_next(int64_t bucket_start, aq_interval_t iv);

/* How many buckets cover the days first..last (inclusive; 0 when last <
 * first). */
size_t aq_bucket_count(int64_t first, int64_t last, aq_interval_t iv);

/* The ClickHouse expression of the bucket (a Date) of DateTime column col in
 * timezone tz_literal (already a quoted literal), printed into out (cap
 * bytes). Returns 0, or SP_ETOOBIG when out is too small. */
int aq_bucket_sql(aq_interval_t iv, const char *col, const char *tz_literal, char *out, size_t cap);

/* Unix seconds -> "YYYY-MM-DDTHH:MM:SSZ" into out (at least 21 bytes). */
void aq_time_format_utc(int64_t t, char out[21]);

#endif
