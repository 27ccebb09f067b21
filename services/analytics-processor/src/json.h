/*
 * json.h — the few JSON writers the processor needs to render ClickHouse
 * rows (JSONEachRow) and event payloads, appending to an sp_buf_t.
 *
 * Strings are written as JSON string literals: quote, backslash and control
 * characters escaped, valid UTF-8 copied as is, and every byte that is not
 * part of a valid UTF-8 sequence replaced by U+FFFD, so what comes out is
 * always valid JSON and valid UTF-8 whatever a producer put in a protobuf
 * string. Errors are the buffer's sticky errors (check sp_buf_failed once at
 * the end).
 */
#ifndef AP_JSON_H
#define AP_JSON_H

#include <stddef.h>

#include "platform/buf.h"

/* Appends the len bytes at s (s may be NULL when len is 0) as a JSON
 * string literal. */
void ap_json_str(sp_buf_t *b, const char *s, size_t len);

/* Appends the C string s (NULL = "") as a JSON string literal. */
void ap_json_cstr(sp_buf_t *b, const char *s);

/* Appends "key": followed by the string value (NULL = ""). key is a
 * literal of the caller's and is not escaped. */
void ap_json_kv_str(sp_buf_t *b, const char *key, const char *value);

/* Appends an array of n C strings. */
void ap_json_str_array(sp_buf_t *b, const char *const *v, size_t n);

/* Appends a finite double with up to 6 significant decimals; NaN and
 * infinities (never produced on purpose) are written as 0. */
void ap_json_num(sp_buf_t *b, double v);

#endif
