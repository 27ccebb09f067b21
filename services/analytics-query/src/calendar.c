/*
 * calendar.c — civil-date arithmetic (after Howard Hinnant's
 * days_from_civil / civil_from_days) and time-series buckets.
 */
#include "calendar.h"

#include <stdio.h>
#include <string.h>

#include "platform/error.h"

int64_t aq_days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void aq_civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const int64_t doe = z - era * 146097;
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

int aq_days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return days[(m - 1) % 12];
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return SP_EINVAL;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return SP_OK;
}

int aq_date_parse(const char *s, int64_t *day)
{
    int y, m, d;
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-' || digits(s, 4, &y) || digits(s + 5, 2, &m) ||
        digits(s + 8, 2, &d))
        return SP_EINVAL;
    if (m < 1 || m > 12 || d < 1 || d > aq_days_in_month(y, m))
        return SP_EINVAL;
    *day = aq_days_from_civil(y, m, d);
    return SP_OK;
}

void aq_date_format(int64_t day, char out[11])
{
    int y, m, d;
    aq_civil_from_days(day, &y, &m, &d);
    snprintf(out, 11, "%04u-%02u-%02u", (unsigned)y % 10000u, (unsigned)m % 100u,
             (unsigned)d % 100u);
}

int aq_interval_parse(const char *s, aq_interval_t *out)
{
    static const char *const names[] = {"day", "week", "month"};
    for (int i = 0; i < 3; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (aq_interval_t)i;
            return SP_OK;
        }
    return SP_EINVAL;
}

const char *aq_interval_name(aq_interval_t iv)
{
    return iv == AQ_IV_WEEK ? "week" : iv == AQ_IV_MONTH ? "month" : "day";
}

int64_t aq_bucket_floor(int64_t day, aq_interval_t iv)
{
    if (iv == AQ_IV_WEEK) {
        /* Day 0 was a Thursday, so Monday-based weekday = (day + 3) mod 7. */
        int64_t wd = ((day + 3) % 7 + 7) % 7;
        return day - wd;
    }
    if (iv == AQ_IV_MONTH) {
        int y, m, d;
        aq_civil_from_days(day, &y, &m, &d);
        return day - (d - 1);
    }
    return day;
}

int64_t aq_bucket_next(int64_t bucket_start, aq_interval_t iv)
{
    if (iv == AQ_IV_WEEK)
        return bucket_start + 7;
    if (iv == AQ_IV_MONTH) {
        int y, m, d;
        aq_civil_from_days(bucket_start, &y, &m, &d);
        return bucket_start - (d - 1) + aq_days_in_month(y, m);
    }
    return bucket_start + 1;
}

size_t aq_bucket_count(int64_t first, int64_t last, aq_interval_t iv)
{
    if (last < first)
        return 0;
    size_t n = 0;
    int64_t end = aq_bucket_floor(last, iv);
    for (int64_t b = aq_bucket_floor(first, iv); b <= end; b = aq_bucket_next(b, iv))
        n++;
    return n;
}

int aq_bucket_sql(aq_interval_t iv, const char *col, const char *tz_literal, char *out, size_t cap)
{
    int n;
    if (iv == AQ_IV_WEEK)
        n = snprintf(out, cap, "toMonday(toDate(%s, %s))", col, tz_literal);
    else if (iv == AQ_IV_MONTH)
        n = snprintf(out, cap, "toStartOfMonth(toDate(%s, %s))", col, tz_literal);
    else
        n = snprintf(out, cap, "toDate(%s, %s)", col, tz_literal);
    return n < 0 || (size_t)n >= cap ? SP_ETOOBIG : SP_OK;
}

void aq_time_format_utc(int64_t t, char out[21])
{
    int64_t day = t >= 0 ? t / 86400 : (t - 86399) / 86400;
    int64_t sec = t - day * 86400;
    int y, m, d;
    aq_civil_from_days(day, &y, &m, &d);
    snprintf(out, 21, "%04u-%02u-%02uT%02u:%02u:%02uZ", (unsigned)y % 10000u, (unsigned)m % 100u,
             (unsigned)d % 100u, (unsigned)(sec / 3600) % 100u, (unsigned)(sec / 60 % 60) % 100u,
             (unsigned)(sec % 60) % 100u);
}
