/*
 * filters.h — the query parameters every analytics route shares: the time
 * window and the filters, parsed and validated strictly, and turned into
 * ClickHouse WHERE clauses.
 *
 * Time window. `from` and `to` take
 *   YYYY-MM-DD                      a calendar date in the tenant's timezone;
 *                                   `from` starts at its midnight, `to`
 *                                   includes the whole day
 *   YYYY-MM-DDTHH:MM[:SS]           a local time in the tenant's timezone
 *   ... followed by Z or +HH:MM / -HH:MM   an absolute instant
 * (a space may stand for the T, and for the + of an offset, which an
 * unencoded query string turns into a space). Years 2000..2099. Without
 * `to` the window ends at the end of the current hour; without `from` it
 * starts 30 days before its end. The dashboards are cut from hourly rollups,
 * so the window has one-hour resolution: `from` is rounded down and `to` up
 * to a whole UTC hour (in timezones with a non-whole-hour offset, such as
 * Asia/Kolkata, local midnights therefore fall on the nearest earlier UTC
 * hour). The previous period is the window of the same length just before.
 *
 * Filters (comma-separated lists of at most AQ_MAX_VALUES values where
 * noted): channel (list of call, chat, whatsapp, email, survey, review),
 * agent (list of agent ids), language (list of ISO 639 codes, 2-3 lowercase
 * letters), topic (one), intent (list), sentiment_min / sentiment_max (in
 * [-1, 1]), escalated / resolved / churn_risk (true or false), q (text
 * searched case-insensitively in the redacted text, 1..200 bytes). Every
 * string is checked (valid UTF-8, no control characters, bounded length) and
 * then quoted with sp_ch_quote, never pasted.
 *
 * Error codes (HTTP 400): invalid_parameter (an unknown or repeated
 * parameter), invalid_date (from/to unreadable), invalid_range (from not
 * before to, or the window longer than the configured maximum),
 * invalid_filter (a filter value).
 */
#ifndef AQ_FILTERS_H
#define AQ_FILTERS_H

#include <stddef.h>
#include <stdint.h>

#include "platform/arena.h"
#include "platform/request.h"
#include "platform/text.h"

#define AQ_MAX_VALUES 20

typedef struct {
    const char *v[AQ_MAX_VALUES];
    size_t n;
} aq_list_t;

typedef enum {
    AQ_BOUND_NONE = 0, /* not given */
    AQ_BOUND_DATE,     /* a local calendar date */
    AQ_BOUND_LOCAL,    /* a local date and time */
    AQ_BOUND_ABS,      /* an instant (Z or an offset) */
} aq_bound_kind_t;

typedef struct {
    aq_bound_kind_t kind;
    int y, mo, d, h, mi, s; /* DATE and LOCAL */
    int64_t epoch;          /* ABS: Unix seconds */
} aq_bound_t;

typedef struct {
    aq_bound_t from_b, to_b;
    /* After aq_filter_resolve: Unix seconds on whole hours, to exclusive,
     * prev_from = from - (to - from). */
    int64_t from, to, prev_from;
    aq_list_t channels, agents, languages, intents;
    const char *topic; /* NULL = any */
    int has_smin, has_smax;
    double smin, smax;
    int escalated, resolved, churn_risk; /* -1 any, 0 no, 1 yes */
    const char *q;                       /* NULL = no text search */
} aq_filter_t;

/* A client error: HTTP status, stable code and message. */
typedef struct {
    int status;
    const char *code;
    char message[240];
} aq_err_t;

/* The parameter names of aq_filter_parse, NULL-terminated. */
extern const char *const AQ_FILTER_PARAMS[];

/* Parses one from/to value (see above). Returns 0 or SP_EINVAL. */
int aq_bound_parse(const char *s, aq_bound_t *b);

/* Checks that every parameter of req's query string is one of
 * AQ_FILTER_PARAMS or extra (NULL-terminated, may be NULL) and appears once.
 * Returns 0, or SP_EINVAL with *err filled. */
int aq_params_check(const sp_request_t *req, const char *const *extra, aq_err_t *err);

/* Parses and validates the window and filters of req into *f (strings
 * borrowed from the request). The window is not resolved yet. Returns 0, or
 * SP_EINVAL with *err filled. */
int aq_filter_parse(const sp_request_t *req, aq_filter_t *f, aq_err_t *err);

/* 1 when resolving the window needs the tenant's timezone (a bound is a
 * local date or time). */
int aq_filter_needs_tz(const aq_filter_t *f);

/* Converts the local time "YYYY-MM-DD HH:MM:SS" in timezone tz to Unix
 * seconds; 0 or a negative SP_E*. */
typedef int (*aq_local_fn)(void *ud, const char *tz, const char *local, int64_t *epoch);

/* Resolves the window to f->from, f->to, f->prev_from at time now (Unix
 * seconds): local bounds are converted in tz ("UTC" is done here, any other
 * zone through conv), then rounded to whole hours and checked against
 * max_range_days. Returns 0; SP_EINVAL with *err filled (400); or the error
 * of conv, with *err filled as a 503. */
int aq_filter_resolve(aq_filter_t *f, int64_t now, const char *tz, int max_range_days,
                      aq_local_fn conv, void *ud, aq_err_t *err);

/* Where a query reads from. */
typedef enum {
    AQ_SRC_HOURLY = 0,  /* interactions_hourly: channel, agent, language filters */
    AQ_SRC_TOPICS = 1,  /* topics_hourly: topic and channel filters; volume, sentiment, negatives */
    AQ_SRC_RAW = 2,     /* interactions FINAL: every filter and every column */
    AQ_SRC_CHANNEL = 3, /* interactions_hourly_channel: interactions_hourly without agent_id
                         * (same columns otherwise); channel and language filters */
} aq_src_t;

/* aq_filter_source's by: what the answer is grouped by, beyond time. */
#define AQ_BY_TOPIC 1 /* topics */
#define AQ_BY_AGENT 2 /* agents */

/* The cheapest source answering f, grouped by by (AQ_BY_* flags, 0 for
 * none). When no filter needs a raw column and nothing groups by topic:
 * interactions_hourly_channel, unless an agent filter or AQ_BY_AGENT needs
 * agent_id, then interactions_hourly. Else topics_hourly when only
 * topic/channel filter, topics_ok (the query needs only what topics_hourly
 * holds) and the query is about a topic (a topic filter or AQ_BY_TOPIC).
 * Else the raw table. Every source gives the same sums (kpis.h). */
aq_src_t aq_filter_source(const aq_filter_t *f, int topics_ok, int by);

const char *aq_src_from(aq_src_t src); /* FROM clause: "interactions FINAL", ... */
/* The table's name, as answers report it: "interactions_hourly_channel",
 * "interactions_hourly", "topics_hourly" or "interactions". */
const char *aq_src_name(aq_src_t src);
const char *aq_src_time(aq_src_t src); /* the time column: "hour" or "occurred_at" */

/* The WHERE condition (without "WHERE") of f on src for tenant over
 * [from, to): tenant and time first, then each filter, every string quoted.
 * Allocated in arena. NULL when out of memory, when tenant is not a UUID,
 * or when f holds a filter src cannot express (a caller bug). */
char *aq_filter_where(sp_arena_t *arena, const aq_filter_t *f, const char *tenant, aq_src_t src,
                      int64_t from, int64_t to);

/* An unambiguous text of the resolved window and the filters, for cache
 * keys (every value length-prefixed). Allocated in arena; NULL when out of
 * memory. */
char *aq_filter_canon(sp_arena_t *arena, const aq_filter_t *f);

/* Parses an integer parameter in [min, max]; absent gives def. Returns 0 or
 * SP_EINVAL with *err filled (invalid_parameter). */
int aq_param_int(const sp_request_t *req, const char *name, long def, long min, long max, long *out,
                 aq_err_t *err);

/* Fills *err (snprintf-style message). */
void aq_err_set(aq_err_t *err, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
