/*
 * json.c — see platform/json.h. A recursive-descent recogniser over the raw
 * bytes; cJSON builds the tree only once the text is known to be strict.
 */
#include "platform/json.h"

#include "platform/error.h"
#include "platform/text.h"

#include <string.h>

typedef struct {
    const unsigned char *p, *end;
    const char *why;
} scan_t;

static int fail(scan_t *s, const char *why)
{
    if (!s->why)
        s->why = why;
    return 0;
}

static void skip_ws(scan_t *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int hex4(scan_t *s, unsigned *out)
{
    if (s->end - s->p < 4)
        return fail(s, "a \\u escape needs four hex digits");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = s->p[i];
        unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                            : 16u;
        if (d == 16)
            return fail(s, "a \\u escape needs four hex digits");
        v = v * 16 + d;
    }
    s->p += 4;
    *out = v;
    return 1;
}

/* One escape after the backslash. */
static int escape(scan_t *s)
{
    if (s->p >= s->end)
        return fail(s, "unterminated string");
    unsigned char c = *s->p++;
    if (strchr("\"\\/bfnrt", c) && c)
        return 1;
    if (c != 'u')
        return fail(s, "unknown escape in a string");
    unsigned u;
    if (!hex4(s, &u))
        return 0;
    if (u == 0)
        return fail(s, "a string holds \\u0000 (NUL)");
    if (u >= 0xDC00 && u <= 0xDFFF)
        return fail(s, "a string holds an unpaired surrogate escape");
    if (u >= 0xD800 && u <= 0xDBFF) {
        unsigned lo;
        if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u')
            return fail(s, "a string holds an unpaired surrogate escape");
        s->p += 2;
        if (!hex4(s, &lo))
            return 0;
        if (lo < 0xDC00 || lo > 0xDFFF)
            return fail(s, "a string holds an unpaired surrogate escape");
    }
    return 1;
}

static int string(scan_t *s)
{
    s->p++; /* the opening quote */
    const unsigned char *run = s->p;
    while (s->p < s->end) {
        unsigned char c = *s->p;
        if (c == '"' || c == '\\' || c < 0x20) {
            if (!sp_utf8_valid((const char *)run, (size_t)(s->p - run)))
                return fail(s, "a string is not valid UTF-8");
            if (c == '"') {
                s->p++;
                return 1;
            }
            if (c < 0x20)
                return fail(s, "a string holds a control character");
            s->p++;
            if (!escape(s))
                return 0;
            run = s->p;
            continue;
        }
        s->p++;
    }
    return fail(s, "unterminated string");
}

static int digits(scan_t *s)
{
    const unsigned char *start = s->p;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
        s->p++;
    return s->p > start;
}

static int number(scan_t *s)
{
    if (*s->p == '-')
        s->p++;
    if (s->p >= s->end)
        return fail(s, "malformed number");
    if (*s->p == '0') {
        s->p++;
        if (s->p < s->end && *s->p >= '0' && *s->p <= '9')
            return fail(s, "a number has a leading zero");
    } else if (!digits(s)) {
        return fail(s, "malformed number");
    }
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (!digits(s))
            return fail(s, "malformed number");
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        if (!digits(s))
            return fail(s, "malformed number");
    }
    return 1;
}

static int literal(scan_t *s, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return fail(s, "not a JSON value");
    s->p += n;
    return 1;
}

static int value(scan_t *s, int depth);

/* An object or array after its opening bracket; close is '}' or ']'. */
static int container(scan_t *s, int depth, unsigned char close)
{
    if (depth > SP_JSON_MAX_DEPTH)
        return fail(s, "nested too deeply");
    s->p++;
    skip_ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        return 1;
    }
    for (;;) {
        skip_ws(s);
        if (close == '}') {
            if (s->p >= s->end || *s->p != '"')
                return fail(s, "an object member needs a string name");
            if (!string(s))
                return 0;
            skip_ws(s);
            if (s->p >= s->end || *s->p != ':')
                return fail(s, "an object member needs a ':'");
            s->p++;
        }
        if (!value(s, depth))
            return 0;
        skip_ws(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
            continue;
        }
        if (s->p < s->end && *s->p == close) {
            s->p++;
            return 1;
        }
        return fail(s, close == '}' ? "an object is not closed" : "an array is not closed");
    }
}

static int value(scan_t *s, int depth)
{
    skip_ws(s);
    if (s->p >= s->end)
        return fail(s, "a value is missing");
    switch (*s->p) {
    case '{':
        return container(s, depth + 1, '}');
    case '[':
        return container(s, depth + 1, ']');
    case '"':
        return string(s);
    case 't':
        return literal(s, "true");
    case 'f':
        return literal(s, "false");
    case 'n':
        return literal(s, "null");
    default:
        if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))
            return number(s);
        if (*s->p == 0xEF)
            return fail(s, "the text starts with a byte-order mark");
        return fail(s, "not a JSON value");
    }
}

const char *sp_json_problem(const char *text, size_t len)
{
    if (!text || len == 0)
        return "the text is empty";
    scan_t s = {(const unsigned char *)text, (const unsigned char *)text + len, NULL};
    if (!value(&s, 0))
        return s.why ? s.why : "not a JSON value";
    skip_ws(&s);
    if (s.p != s.end)
        return "there is data after the JSON value";
    return NULL;
}

int sp_json_parse(const char *text, size_t len, cJSON **out, const char **why)
{
    *out = NULL;
    const char *problem = sp_json_problem(text, len);
    if (problem) {
        if (why)
            *why = problem;
        return SP_EINVAL;
    }
    *out = cJSON_ParseWithLength(text, len);
    return *out ? SP_OK : SP_ENOMEM; /* the text is valid: only memory can fail */
}

const char *sp_json_unknown_member(const cJSON *obj, const char *const *allowed)
{
    for (const cJSON *m = obj ? obj->child : NULL; m; m = m->next) {
        const char *const *a = allowed;
        while (*a && strcmp(*a, m->string) != 0)
            a++;
        if (!*a)
            return m->string;
    }
    return NULL;
}
