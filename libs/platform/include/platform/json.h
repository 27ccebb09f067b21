/*
 * json.h — strict JSON for what arrives from outside, on top of cJSON.
 *
 * cJSON is lenient where a request must not be: it accepts "007", data after
 * the value when told to, invalid UTF-8 in strings, and decodes "\u0000" to a
 * NUL that silently cuts a string short ("ingest:write\u0000platform:admin"
 * becomes "ingest:write"). Everything parsed from a request body or an
 * upload goes through sp_json_parse, which first checks the text against
 * RFC 8259 with these rules: exactly one value, surrounded by nothing but
 * JSON white space (no byte-order mark); strings valid UTF-8 (RFC 3629: no
 * overlong forms, no encoded surrogates), no control characters, escapes
 * well formed, no \u0000 and no unpaired surrogate escape; numbers without
 * leading zeros; nesting at most SP_JSON_MAX_DEPTH deep.
 */
#ifndef SP_JSON_H
#define SP_JSON_H

#include <stddef.h>

#include <cjson/cJSON.h>

#define SP_JSON_MAX_DEPTH 64

/* NULL when the len bytes at text are one strict JSON value (see above),
 * else a static, human-readable reason. */
const char *sp_json_problem(const char *text, size_t len);

/* Parses the len bytes at text after checking them with sp_json_problem.
 * Returns 0 with *out a tree the caller frees with cJSON_Delete, SP_EINVAL
 * with *why (static text) when the text is not strict JSON, or SP_ENOMEM. */
int sp_json_parse(const char *text, size_t len, cJSON **out, const char **why);

/* The first member of obj whose name is not in allowed (a NULL-terminated
 * list), or NULL when every member is known. For refusing unknown fields, so
 * a misspelt field is an error instead of being silently ignored. */
const char *sp_json_unknown_member(const cJSON *obj, const char *const *allowed);

#endif
