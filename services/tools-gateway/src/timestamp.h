/*
 * timestamp.h — RFC 3339 date-times, the one timestamp form of the
 * ingestion API (occurred_at, a chat message's "at").
 */
#ifndef TG_TIMESTAMP_H
#define TG_TIMESTAMP_H

#include <stdint.h>

/* Room for "YYYY-MM-DDTHH:MM:SS.mmmZ" and the NUL. */
#define TG_RFC3339_LEN 25

/* Parses an RFC 3339 date-time: "2024-05-01T10:00:00Z",
 * "2024-05-01T10:00:00.123456+02:00" ('t' or a blank may replace 'T', 'z'
 * may replace 'Z'; digits of a fraction past milliseconds are truncated; a
 * leap second :60 counts as :59.999). The offset is required: a local time
 * without one names no instant. Calendar ranges are checked (month days,
 * leap years, hours < 24, offsets < 24 h). Returns 0 and *unix_ms, or
 * SP_EINVAL for anything else (years 0000..9999 only). */
int tg_rfc3339_parse(const char *s, int64_t *unix_ms);

/* Writes unix_ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC) into out. */
void tg_rfc3339_format(int64_t unix_ms, char out[TG_RFC3339_LEN]);

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1..12). */
int64_t tg_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
