/*
 * timestamp.c — RFC 3339 parsing and formatting (timestamp.h), without
 * timegm/strptime: those depend on the locale and the C library, and we want
 * one exact grammar that the tests pin down.
 */
#include "timestamp.h"

#include <stdio.h>
#include <string.h>

#include "platform/error.h"

/* Howard Hinnant's days_from_civil: exact for every proleptic Gregorian date. */
int64_t tg_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Reads exactly n digits at *p; returns the value or -1. */
static int digits(const char **p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *p += n;
    return v;
}

int tg_rfc3339_parse(const char *s, int64_t *unix_ms)
{
    static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (!s || !unix_ms)
        return SP_EINVAL;
    const char *p = s;
    int year = digits(&p, 4);
    if (year < 0 || *p++ != '-')
        return SP_EINVAL;
    int month = digits(&p, 2);
    if (month < 1 || month > 12 || *p++ != '-')
        return SP_EINVAL;
    int day = digits(&p, 2);
    unsigned maxday = mdays[month - 1] + (month == 2 && is_leap(year));
    if (day < 1 || (unsigned)day > maxday)
        return SP_EINVAL;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return SP_EINVAL;
    p++;
    int hour = digits(&p, 2);
    if (hour < 0 || hour > 23 || *p++ != ':')
        return SP_EINVAL;
    int min = digits(&p, 2);
    if (min < 0 || min > 59 || *p++ != ':')
        return SP_EINVAL;
    int sec = digits(&p, 2);
    if (sec < 0 || sec > 60)
        return SP_EINVAL;
    int ms = 0;
    if (sec == 60) {
        /* A leap second: the instant just before the next minute. */
        sec = 59;
        ms = 999;
    }
    if (*p == '.') {
        p++;
        int n = 0, frac = 0;
        while (*p >= '0' && *p <= '9') {
            if (n < 3)
                frac = frac * 10 + (*p - '0');
            n++;
            p++;
        }
        if (n == 0)
            return SP_EINVAL;
        for (int i = n; i < 3; i++)
            frac *= 10;
        if (ms == 0)
            ms = frac;
    }
    int offset_min;
    if (*p == 'Z' || *p == 'z') {
        offset_min = 0;
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        p++;
        int oh = digits(&p, 2);
        if (oh < 0 || oh > 23 || *p++ != ':')
            return SP_EINVAL;
        int om = digits(&p, 2);
        if (om < 0 || om > 59)
            return SP_EINVAL;
        offset_min = sign * (oh * 60 + om);
    } else {
        return SP_EINVAL;
    }
    if (*p != '\0')
        return SP_EINVAL;
    int64_t days = tg_days_from_civil(year, (unsigned)month, (unsigned)day);
    int64_t secs = days * 86400 + hour * 3600 + min * 60 + sec - (int64_t)offset_min * 60;
    *unix_ms = secs * 1000 + ms;
    return SP_OK;
}

void tg_rfc3339_format(int64_t unix_ms, char out[TG_RFC3339_LEN])
{
    int64_t secs = unix_ms >= 0 ? unix_ms / 1000 : (unix_ms - 999) / 1000;
    int ms = (int)(unix_ms - secs * 1000);
    int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    int rem = (int)(secs - days * 86400);
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    /* A wider scratch buffer: the compiler cannot see that every field has
     * its width, and a truncation warning is an error here. */
    char tmp[64];
    snprintf(tmp, sizeof(tmp), "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", (int)(y % 10000), m, d,
             rem / 3600, rem / 60 % 60, rem % 60, ms);
    memcpy(out, tmp, TG_RFC3339_LEN - 1);
    out[TG_RFC3339_LEN - 1] = '\0';
}
