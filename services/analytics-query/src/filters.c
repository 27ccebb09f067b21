/*
 * filters.c — parsing, validation and SQL of the shared query parameters.
 */
#include "filters.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar.h"
#include "platform/buf.h"
#include "platform/clickhouse.h"
#include "platform/error.h"

#define DEFAULT_WINDOW_S (30 * 86400)
#define MAX_Q_BYTES      200
#define MAX_VALUE_BYTES  128

const char *const AQ_FILTER_PARAMS[] = {
    "from",
    "to",
    "channel",
    "agent",
    "language",
    "topic",
    "intent",
    "sentiment_min",
    "sentiment_max",
    "escalated",
    "resolved",
    "churn_risk",
    "q",
    NULL,
};

static const char *const CHANNELS[] = {"call",   "chat",   "whatsapp", "email",
                                       "survey", "review", NULL};

void aq_err_set(aq_err_t *err, int status, const char *code, const char *fmt, ...)
{
    err->status = status;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
}

/* ---- time bounds ------------------------------------------------------------ */

static int num(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int aq_bound_parse(const char *s, aq_bound_t *b)
{
    memset(b, 0, sizeof *b);
    size_t len = strlen(s);
    if (len < 10 || s[4] != '-' || s[7] != '-' || num(s, 4, &b->y) || num(s + 5, 2, &b->mo) ||
        num(s + 8, 2, &b->d))
        return SP_EINVAL;
    if (b->y < 2000 || b->y > 2099 || b->mo < 1 || b->mo > 12 || b->d < 1 ||
        b->d > aq_days_in_month(b->y, b->mo))
        return SP_EINVAL;
    if (len == 10) {
        b->kind = AQ_BOUND_DATE;
        return SP_OK;
    }
    const char *p = s + 10;
    if ((*p != 'T' && *p != ' ') || num(p + 1, 2, &b->h) || p[3] != ':' || num(p + 4, 2, &b->mi))
        return SP_EINVAL;
    p += 6;
    if (p[0] == ':') {
        if (num(p + 1, 2, &b->s))
            return SP_EINVAL;
        p += 3;
        if (*p == '.') { /* fractions of a second are accepted and dropped */
            p++;
            if (*p < '0' || *p > '9')
                return SP_EINVAL;
            while (*p >= '0' && *p <= '9')
                p++;
        }
    }
    if (b->h > 23 || b->mi > 59 || b->s > 59)
        return SP_EINVAL;
    int64_t local = aq_days_from_civil(b->y, b->mo, b->d) * 86400 + b->h * 3600 + b->mi * 60 + b->s;
    if (*p == '\0') {
        b->kind = AQ_BOUND_LOCAL;
        return SP_OK;
    }
    if ((p[0] == 'Z' || p[0] == 'z') && p[1] == '\0') {
        b->kind = AQ_BOUND_ABS;
        b->epoch = local;
        return SP_OK;
    }
    if (*p != '+' && *p != '-' && *p != ' ')
        return SP_EINVAL;
    int sign = *p == '-' ? -1 : 1, oh, om;
    p++;
    if (num(p, 2, &oh))
        return SP_EINVAL;
    p += 2;
    if (*p == ':')
        p++;
    if (num(p, 2, &om) || p[2] != '\0' || oh > 14 || om > 59)
        return SP_EINVAL;
    b->kind = AQ_BOUND_ABS;
    b->epoch = local - sign * (oh * 3600 + om * 60);
    return SP_OK;
}

int aq_filter_needs_tz(const aq_filter_t *f)
{
    return (f->from_b.kind == AQ_BOUND_DATE || f->from_b.kind == AQ_BOUND_LOCAL ||
            f->to_b.kind == AQ_BOUND_DATE || f->to_b.kind == AQ_BOUND_LOCAL);
}

/* Unix seconds of bound b (is_to: a date means the end of that day). */
static int bound_epoch(const aq_bound_t *b, int is_to, const char *tz, aq_local_fn conv, void *ud,
                       int64_t *out)
{
    if (b->kind == AQ_BOUND_ABS) {
        *out = b->epoch;
        return SP_OK;
    }
    int64_t day = aq_days_from_civil(b->y, b->mo, b->d);
    int64_t secs = (int64_t)b->h * 3600 + b->mi * 60 + b->s;
    if (b->kind == AQ_BOUND_DATE && is_to)
        day++;
    if (!tz || strcmp(tz, "UTC") == 0 || !conv) {
        *out = day * 86400 + secs;
        return SP_OK;
    }
    int y, m, d;
    aq_civil_from_days(day, &y, &m, &d);
    char local[32];
    snprintf(local, sizeof local, "%04d-%02d-%02d %02d:%02d:%02d", y % 10000, m, d,
             (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
    return conv(ud, tz, local, out);
}

int aq_filter_resolve(aq_filter_t *f, int64_t now, const char *tz, int max_range_days,
                      aq_local_fn conv, void *ud, aq_err_t *err)
{
    int64_t from = 0, to = 0;
    int rc;
    if (f->to_b.kind != AQ_BOUND_NONE) {
        if ((rc = bound_epoch(&f->to_b, 1, tz, conv, ud, &to)) != 0)
            goto fail_conv;
    } else {
        to = now;
    }
    if (f->from_b.kind != AQ_BOUND_NONE) {
        if ((rc = bound_epoch(&f->from_b, 0, tz, conv, ud, &from)) != 0)
            goto fail_conv;
    }
    /* Whole hours: from down, to up. */
    to = (to + 3599) / 3600 * 3600;
    if (f->from_b.kind == AQ_BOUND_NONE)
        from = to - DEFAULT_WINDOW_S;
    from = from / 3600 * 3600;
    if (from >= to) {
        aq_err_set(err, 400, "invalid_range", "from must be before to");
        return SP_EINVAL;
    }
    if (to - from > (int64_t)max_range_days * 86400) {
        aq_err_set(err, 400, "invalid_range", "the window is longer than %d days", max_range_days);
        return SP_EINVAL;
    }
    f->from = from;
    f->to = to;
    f->prev_from = from - (to - from);
    return SP_OK;

fail_conv:
    aq_err_set(err, 503, "timezone_unavailable", "could not convert the dates to the timezone");
    return rc;
}

/* ---- parameters -------------------------------------------------------------- */

static int in_list(const char *name, size_t len, const char *const *names)
{
    for (size_t i = 0; names && names[i]; i++)
        if (strlen(names[i]) == len && memcmp(names[i], name, len) == 0)
            return 1;
    return 0;
}

int aq_params_check(const sp_request_t *req, const char *const *extra, aq_err_t *err)
{
    const char *q = sp_request_raw_query(req);
    /* At most 32 distinct names are accepted, which is more than any route
     * takes; names are compared raw (an encoded name is simply unknown). */
    const char *seen[32];
    size_t seen_len[32], n_seen = 0;
    while (*q) {
        const char *end = strchr(q, '&');
        size_t len = end ? (size_t)(end - q) : strlen(q);
        const char *eq = memchr(q, '=', len);
        size_t nlen = eq ? (size_t)(eq - q) : len;
        if (nlen > 0) {
            if (!in_list(q, nlen, AQ_FILTER_PARAMS) && !in_list(q, nlen, extra)) {
                aq_err_set(err, 400, "invalid_parameter", "unknown parameter '%.*s'",
                           (int)(nlen > 40 ? 40 : nlen), q);
                return SP_EINVAL;
            }
            for (size_t i = 0; i < n_seen; i++)
                if (seen_len[i] == nlen && memcmp(seen[i], q, nlen) == 0) {
                    aq_err_set(err, 400, "invalid_parameter",
                               "parameter '%.*s' given twice (use a comma-separated list)",
                               (int)nlen, q);
                    return SP_EINVAL;
                }
            if (n_seen < 32) {
                seen[n_seen] = q;
                seen_len[n_seen++] = nlen;
            }
        }
        q += len;
        if (*q == '&')
            q++;
    }
    return SP_OK;
}

/* Valid UTF-8 without control characters, 1..max bytes. */
static int text_ok(const char *s, size_t max)
{
    size_t len = strlen(s);
    if (len == 0 || len > max)
        return 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned char c = *p;
        int extra;
        if (c < 0x20 || c == 0x7f)
            return 0;
        if (c < 0x80)
            extra = 0;
        else if (c >= 0xc2 && c <= 0xdf)
            extra = 1;
        else if (c >= 0xe0 && c <= 0xef)
            extra = 2;
        else if (c >= 0xf0 && c <= 0xf4)
            extra = 3;
        else
            return 0;
        p++;
        for (int i = 0; i < extra; i++, p++)
            if ((*p & 0xc0) != 0x80)
                return 0;
        /* Overlong 3/4-byte forms, surrogates and code points past U+10FFFF. */
        if (extra == 2 && ((c == 0xe0 && p[-2] < 0xa0) || (c == 0xed && p[-2] >= 0xa0)))
            return 0;
        if (extra == 3 && ((c == 0xf0 && p[-3] < 0x90) || (c == 0xf4 && p[-3] >= 0x90)))
            return 0;
    }
    return 1;
}

typedef int (*value_check_fn)(const char *v);

static int check_channel(const char *v)
{
    for (size_t i = 0; CHANNELS[i]; i++)
        if (strcmp(v, CHANNELS[i]) == 0)
            return 1;
    return 0;
}

static int check_language(const char *v)
{
    size_t n = strlen(v);
    if (n < 2 || n > 3)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (v[i] < 'a' || v[i] > 'z')
            return 0;
    return 1;
}

static int check_text(const char *v)
{
    return text_ok(v, MAX_VALUE_BYTES);
}

/* Splits a comma-separated parameter into *out, checking each value. */
static int parse_list(sp_arena_t *arena, const char *name, const char *raw, value_check_fn check,
                      aq_list_t *out, aq_err_t *err)
{
    out->n = 0;
    if (!raw)
        return SP_OK;
    char *copy = sp_arena_strdup(arena, raw);
    if (!copy) {
        aq_err_set(err, 500, "internal_error", "out of memory");
        return SP_ENOMEM;
    }
    char *p = copy;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (out->n == AQ_MAX_VALUES) {
            aq_err_set(err, 400, "invalid_filter", "%s: at most %d values", name, AQ_MAX_VALUES);
            return SP_EINVAL;
        }
        if (!check(p)) {
            aq_err_set(err, 400, "invalid_filter", "%s: invalid value", name);
            return SP_EINVAL;
        }
        out->v[out->n++] = p;
        if (!comma)
            break;
        p = comma + 1;
    }
    return SP_OK;
}

static int parse_bool(const char *name, const char *v, int *out, aq_err_t *err)
{
    *out = -1;
    if (!v)
        return SP_OK;
    if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
        *out = 1;
    else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
        *out = 0;
    else {
        aq_err_set(err, 400, "invalid_filter", "%s: expected true or false", name);
        return SP_EINVAL;
    }
    return SP_OK;
}

static int parse_sentiment(const char *name, const char *v, int *has, double *out, aq_err_t *err)
{
    *has = 0;
    if (!v)
        return SP_OK;
    char *end = NULL;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(d) || d < -1.0 || d > 1.0) {
        aq_err_set(err, 400, "invalid_filter", "%s: expected a number in [-1, 1]", name);
        return SP_EINVAL;
    }
    *has = 1;
    *out = d;
    return SP_OK;
}

int aq_filter_parse(const sp_request_t *req, aq_filter_t *f, aq_err_t *err)
{
    memset(f, 0, sizeof *f);
    sp_arena_t *arena = sp_request_arena((sp_request_t *)req);
    const char *from = sp_request_query(req, "from"), *to = sp_request_query(req, "to");
    if (from && aq_bound_parse(from, &f->from_b) != 0) {
        aq_err_set(err, 400, "invalid_date",
                   "from: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM], years 2000-2099");
        return SP_EINVAL;
    }
    if (to && aq_bound_parse(to, &f->to_b) != 0) {
        aq_err_set(err, 400, "invalid_date",
                   "to: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM], years 2000-2099");
        return SP_EINVAL;
    }
    int rc;
    if ((rc = parse_list(arena, "channel", sp_request_query(req, "channel"), check_channel,
                         &f->channels, err)) ||
        (rc = parse_list(arena, "agent", sp_request_query(req, "agent"), check_text, &f->agents,
                         err)) ||
        (rc = parse_list(arena, "language", sp_request_query(req, "language"), check_language,
                         &f->languages, err)) ||
        (rc = parse_list(arena, "intent", sp_request_query(req, "intent"), check_text, &f->intents,
                         err)))
        return rc;
    f->topic = sp_request_query(req, "topic");
    if (f->topic && !text_ok(f->topic, MAX_VALUE_BYTES)) {
        aq_err_set(err, 400, "invalid_filter", "topic: invalid value");
        return SP_EINVAL;
    }
    f->q = sp_request_query(req, "q");
    if (f->q && !text_ok(f->q, MAX_Q_BYTES)) {
        aq_err_set(err, 400, "invalid_filter",
                   "q: expected 1 to %d bytes of text without control characters", MAX_Q_BYTES);
        return SP_EINVAL;
    }
    if ((rc = parse_sentiment("sentiment_min", sp_request_query(req, "sentiment_min"), &f->has_smin,
                              &f->smin, err)) ||
        (rc = parse_sentiment("sentiment_max", sp_request_query(req, "sentiment_max"), &f->has_smax,
                              &f->smax, err)))
        return rc;
    if (f->has_smin && f->has_smax && f->smin > f->smax) {
        aq_err_set(err, 400, "invalid_filter", "sentiment_min is greater than sentiment_max");
        return SP_EINVAL;
    }
    if ((rc = parse_bool("escalated", sp_request_query(req, "escalated"), &f->escalated, err)) ||
        (rc = parse_bool("resolved", sp_request_query(req, "resolved"), &f->resolved, err)) ||
        (rc = parse_bool("churn_risk", sp_request_query(req, "churn_risk"), &f->churn_risk, err)))
        return rc;
    return SP_OK;
}

int aq_param_int(const sp_request_t *req, const char *name, long def, long min, long max, long *out,
                 aq_err_t *err)
{
    const char *v = sp_request_query(req, name);
    if (!v) {
        *out = def;
        return SP_OK;
    }
    char *end = NULL;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < min || n > max || (v[0] < '0' || v[0] > '9')) {
        aq_err_set(err, 400, "invalid_parameter", "%s: expected an integer from %ld to %ld", name,
                   min, max);
        return SP_EINVAL;
    }
    *out = n;
    return SP_OK;
}

/* ---- sources and SQL ------------------------------------------------------------- */

static int raw_only(const aq_filter_t *f)
{
    return f->intents.n || f->has_smin || f->has_smax || f->escalated >= 0 || f->resolved >= 0 ||
           f->churn_risk >= 0 || f->q;
}

aq_src_t aq_filter_source(const aq_filter_t *f, int topics_ok, int by)
{
    if (!raw_only(f) && !f->topic && !(by & AQ_BY_TOPIC))
        return f->agents.n || (by & AQ_BY_AGENT) ? AQ_SRC_HOURLY : AQ_SRC_CHANNEL;
    if (!raw_only(f) && topics_ok && !f->agents.n && !f->languages.n &&
        (f->topic || (by & AQ_BY_TOPIC)))
        return AQ_SRC_TOPICS;
    return AQ_SRC_RAW;
}

const char *aq_src_from(aq_src_t src)
{
    return src == AQ_SRC_RAW ? "interactions FINAL" : aq_src_name(src);
}

const char *aq_src_name(aq_src_t src)
{
    switch (src) {
    case AQ_SRC_HOURLY:
        return "interactions_hourly";
    case AQ_SRC_CHANNEL:
        return "interactions_hourly_channel";
    case AQ_SRC_TOPICS:
        return "topics_hourly";
    default:
        return "interactions";
    }
}

const char *aq_src_time(aq_src_t src)
{
    return src == AQ_SRC_RAW ? "occurred_at" : "hour";
}

static int where_list(sp_buf_t *b, sp_arena_t *arena, const char *col, const aq_list_t *l)
{
    if (!l->n)
        return SP_OK;
    sp_buf_appendf(b, " AND %s IN (", col);
    for (size_t i = 0; i < l->n; i++) {
        char *q = sp_ch_quote(arena, l->v[i]);
        if (!q)
            return SP_ENOMEM;
        sp_buf_appendf(b, "%s%s", i ? ", " : "", q);
    }
    return sp_buf_putc(b, ')');
}

char *aq_filter_where(sp_arena_t *arena, const aq_filter_t *f, const char *tenant, aq_src_t src,
                      int64_t from, int64_t to)
{
    if (!sp_uuid_valid(tenant))
        return NULL;
    /* A filter the source has no column for would silently widen the answer. */
    if (src != AQ_SRC_RAW && raw_only(f))
        return NULL;
    if ((src == AQ_SRC_HOURLY || src == AQ_SRC_CHANNEL) && f->topic)
        return NULL;
    if (src == AQ_SRC_CHANNEL && f->agents.n)
        return NULL;
    if (src == AQ_SRC_TOPICS && (f->agents.n || f->languages.n))
        return NULL;
    const char *t = aq_src_time(src);
    sp_buf_t b;
    sp_buf_init(&b, 0);
    sp_buf_appendf(&b, "tenant_id = '%s' AND %s >= toDateTime(%lld) AND %s < toDateTime(%lld)",
                   tenant, t, (long long)from, t, (long long)to);
    if (where_list(&b, arena, "channel", &f->channels) ||
        where_list(&b, arena, "agent_id", &f->agents) ||
        where_list(&b, arena, "language", &f->languages))
        goto fail_buf;
    if (f->topic) {
        char *q = sp_ch_quote(arena, f->topic);
        if (!q)
            goto fail_buf;
        if (src == AQ_SRC_TOPICS)
            sp_buf_appendf(&b, " AND topic = %s", q);
        else
            sp_buf_appendf(&b, " AND has(topics, %s)", q);
    }
    if (where_list(&b, arena, "intent", &f->intents))
        goto fail_buf;
    if (f->has_smin)
        sp_buf_appendf(&b, " AND sentiment >= %.6f", f->smin);
    if (f->has_smax)
        sp_buf_appendf(&b, " AND sentiment <= %.6f", f->smax);
    if (f->escalated >= 0)
        sp_buf_appendf(&b, " AND escalated = %d", f->escalated);
    if (f->resolved >= 0)
        sp_buf_appendf(&b, " AND resolved = %d", f->resolved);
    if (f->churn_risk >= 0)
        sp_buf_appendf(&b, " AND churn_risk = %d", f->churn_risk);
    if (f->q) {
        char *q = sp_ch_quote(arena, f->q);
        if (!q)
            goto fail_buf;
        sp_buf_appendf(&b, " AND positionCaseInsensitiveUTF8(text, %s) > 0", q);
    }
    if (sp_buf_failed(&b))
        goto fail_buf;
    char *out = sp_arena_strndup(arena, sp_buf_data(&b), sp_buf_len(&b));
    sp_buf_cleanup(&b);
    return out;
fail_buf:
    sp_buf_cleanup(&b);
    return NULL;
}

static void canon_str(sp_buf_t *b, const char *tag, const char *v)
{
    if (v)
        sp_buf_appendf(b, "%s%zu:%s;", tag, strlen(v), v);
}

static void canon_list(sp_buf_t *b, const char *tag, const aq_list_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        canon_str(b, tag, l->v[i]);
}

char *aq_filter_canon(sp_arena_t *arena, const aq_filter_t *f)
{
    sp_buf_t b;
    sp_buf_init(&b, 0);
    sp_buf_appendf(&b, "w%lld-%lld;", (long long)f->from, (long long)f->to);
    canon_list(&b, "c", &f->channels);
    canon_list(&b, "a", &f->agents);
    canon_list(&b, "l", &f->languages);
    canon_list(&b, "i", &f->intents);
    canon_str(&b, "t", f->topic);
    canon_str(&b, "q", f->q);
    if (f->has_smin)
        sp_buf_appendf(&b, "s>%.6f;", f->smin);
    if (f->has_smax)
        sp_buf_appendf(&b, "s<%.6f;", f->smax);
    sp_buf_appendf(&b, "e%d;r%d;x%d;", f->escalated, f->resolved, f->churn_risk);
    char *out = sp_buf_failed(&b) ? NULL : sp_arena_strndup(arena, sp_buf_data(&b), sp_buf_len(&b));
    sp_buf_cleanup(&b);
    return out;
}
