/*
 * test_filters.c — parsing and validation of the shared query parameters,
 * window resolution (hour rounding, defaults, timezones, limits), source
 * choice, and the SQL they become: hostile values are refused or quoted,
 * never pasted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../src/filters.h"
#include "platform/error.h"

#define TENANT "aaaaaaaa-0000-4000-8000-000000000001"
/* 2024-03-04T10:15:00Z, a Monday. */
#define NOW 1709547300

static sp_request_t *req_with(const char *query)
{
    sp_request_t *req = sp_request_new();
    assert_non_null(req);
    assert_int_equal(sp_request_set_method(req, "GET"), 0);
    assert_int_equal(sp_request_set_path(req, "/v1/analytics/overview"), 0);
    assert_int_equal(sp_request_set_query(req, query), 0);
    return req;
}

/* Requests parsed by parse(): a filter borrows its strings from its request,
 * so they live until the end of the run. */
static sp_request_t *kept[128];
static int n_kept;

static int destroy_kept(void **state)
{
    (void)state;
    while (n_kept > 0)
        sp_request_destroy(&kept[--n_kept]);
    return 0;
}

/* Parses query; returns 0 or the error code string via *code. */
static int parse(const char *query, aq_filter_t *f, const char **code)
{
    static char code_buf[64];
    memset(f, 0, sizeof *f);
    sp_request_t *req = req_with(query);
    aq_err_t err = {0};
    int rc = aq_params_check(req, NULL, &err);
    if (rc == 0)
        rc = aq_filter_parse(req, f, &err);
    snprintf(code_buf, sizeof code_buf, "%s", rc ? err.code : "");
    if (rc)
        assert_int_equal(err.status, 400);
    *code = code_buf;
    assert_true(n_kept < 128);
    kept[n_kept++] = req;
    return rc;
}

static void test_bound_formats(void **state)
{
    (void)state;
    aq_bound_t b;
    assert_int_equal(aq_bound_parse("2024-03-04", &b), 0);
    assert_int_equal(b.kind, AQ_BOUND_DATE);
    assert_int_equal(aq_bound_parse("2024-03-04T10:15", &b), 0);
    assert_int_equal(b.kind, AQ_BOUND_LOCAL);
    assert_int_equal(b.h * 60 + b.mi, 615);
    assert_int_equal(aq_bound_parse("2024-03-04T10:15:00Z", &b), 0);
    assert_int_equal(b.kind, AQ_BOUND_ABS);
    assert_int_equal(b.epoch, NOW);
    assert_int_equal(aq_bound_parse("2024-03-04T10:15:00.123Z", &b), 0);
    assert_int_equal(b.epoch, NOW);
    assert_int_equal(aq_bound_parse("2024-03-04T12:15:00+02:00", &b), 0);
    assert_int_equal(b.epoch, NOW);
    assert_int_equal(aq_bound_parse("2024-03-04T07:15:00-0300", &b), 0);
    assert_int_equal(b.epoch, NOW);
    /* An unencoded '+' arrives as a space. */
    assert_int_equal(aq_bound_parse("2024-03-04 12:15:00 02:00", &b), 0);
    assert_int_equal(b.epoch, NOW);

    const char *bad[] = {"2024-02-30",
                         "2024-13-01",
                         "1999-12-31",
                         "2100-01-01",
                         "2024-03-04T24:00",
                         "2024-03-04T10:60",
                         "2024-03-04T10:15:61",
                         "2024-03-04T10:15Zx",
                         "2024-03-04T10:15+15:00",
                         "2024-03-04x",
                         "yesterday",
                         "",
                         "2024-3-4",
                         "2024-03-04T10:15:00+02:0",
                         "1709547300",
                         "2024-03-04'; DROP TABLE x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(aq_bound_parse(bad[i], &b), SP_EINVAL);
}

static void test_resolve_rounds_to_hours_and_defaults(void **state)
{
    (void)state;
    aq_filter_t f;
    const char *code;
    aq_err_t err;
    /* Nothing given: the 30 days up to the end of the current hour. */
    assert_int_equal(parse("", &f, &code), 0);
    assert_int_equal(aq_filter_needs_tz(&f), 0);
    assert_int_equal(aq_filter_resolve(&f, NOW, "UTC", 731, NULL, NULL, &err), 0);
    assert_int_equal(f.to, 1709550000); /* 11:00 */
    assert_int_equal(f.from, 1709550000 - 30 * 86400);
    assert_int_equal(f.prev_from, f.from - 30 * 86400);

    /* Dates: from at midnight, to through the end of its day. */
    assert_int_equal(parse("from=2024-03-01&to=2024-03-07", &f, &code), 0);
    assert_int_equal(aq_filter_needs_tz(&f), 1);
    assert_int_equal(aq_filter_resolve(&f, NOW, "UTC", 731, NULL, NULL, &err), 0);
    assert_int_equal(f.from, 1709251200); /* 2024-03-01T00:00Z */
    assert_int_equal(f.to, 1709856000);   /* 2024-03-08T00:00Z */
    assert_int_equal(f.prev_from, 1709251200 - 7 * 86400);

    /* Instants: from rounds down, to rounds up. */
    assert_int_equal(parse("from=2024-03-04T10:15:00Z&to=2024-03-04T10:20:00Z", &f, &code), 0);
    assert_int_equal(aq_filter_resolve(&f, NOW, "UTC", 731, NULL, NULL, &err), 0);
    assert_int_equal(f.from, 1709546400);
    assert_int_equal(f.to, 1709550000);

    /* Only to: 30 days before it. */
    assert_int_equal(parse("to=2024-03-04T10:00:00Z", &f, &code), 0);
    assert_int_equal(aq_filter_resolve(&f, NOW, "UTC", 731, NULL, NULL, &err), 0);
    assert_int_equal(f.to - f.from, 30 * 86400);
}

static void test_resolve_rejects_bad_windows(void **state)
{
    (void)state;
    aq_filter_t f;
    const char *code;
    aq_err_t err;
    assert_int_equal(parse("from=2024-03-07&to=2024-03-01", &f, &code), 0);
    assert_int_equal(aq_filter_resolve(&f, NOW, "UTC", 731, NULL, NULL, &err), SP_EINVAL);
    assert_string_equal(err.code, "invalid_range");
    assert_int_equal(err.status, 400);
    /* Equal after rounding is empty too. */
    assert_int_equal(parse("from=2024-03-04T10:20:00Z&to=2024-03-04T10:00:00Z", &f, &code), 0);
    assert_int_equal(aq_filter_resolve(&f, NOW, "UTC", 731, NULL, NULL, &err), SP_EINVAL);
    assert_int_equal(parse("from=2021-01-01&to=2024-03-01", &f, &code), 0);
    assert_int_equal(aq_filter_resolve(&f, NOW, "UTC", 731, NULL, NULL, &err), SP_EINVAL);
    assert_string_equal(err.code, "invalid_range");
    assert_int_equal(parse("from=2024-01-01&to=2024-01-31", &f, &code), 0);
    assert_int_equal(aq_filter_resolve(&f, NOW, "UTC", 30, NULL, NULL, &err), SP_EINVAL);
    assert_int_equal(parse("from=2024-01-01&to=2024-01-30", &f, &code), 0);
    assert_int_equal(aq_filter_resolve(&f, NOW, "UTC", 30, NULL, NULL, &err), 0);
    assert_int_equal(parse("from=2024-13-01", &f, &code), SP_EINVAL);
    assert_string_equal(code, "invalid_date");
    assert_int_equal(parse("to=soon", &f, &code), SP_EINVAL);
    assert_string_equal(code, "invalid_date");
}

/* A fake zone three hours behind UTC that records what it was asked. */
static char asked[4][32];
static int n_asked;
static int fake_conv(void *ud, const char *tz, const char *local, int64_t *epoch)
{
    assert_string_equal(tz, (const char *)ud);
    snprintf(asked[n_asked++ % 4], 32, "%s", local);
    /* "YYYY-MM-DD HH:MM:SS" -> "YYYY-MM-DDTHH:MM:SS-03:00" */
    assert_int_equal(strlen(local), 19);
    aq_bound_t b;
    char iso[32];
    snprintf(iso, sizeof iso, "%.10sT%.8s-03:00", local, local + 11);
    assert_int_equal(aq_bound_parse(iso, &b), 0);
    *epoch = b.epoch;
    return 0;
}

static int failing_conv(void *ud, const char *tz, const char *local, int64_t *epoch)
{
    (void)ud, (void)tz, (void)local, (void)epoch;
    return SP_EUNAVAILABLE;
}

static void test_resolve_in_a_timezone(void **state)
{
    (void)state;
    aq_filter_t f;
    const char *code;
    aq_err_t err;
    n_asked = 0;
    assert_int_equal(parse("from=2024-03-01&to=2024-03-31T12:30", &f, &code), 0);
    assert_int_equal(
        aq_filter_resolve(&f, NOW, "America/Sao_Paulo", 731, fake_conv, "America/Sao_Paulo", &err),
        0);
    assert_int_equal(n_asked, 2);
    assert_string_equal(asked[0], "2024-03-31 12:30:00");
    assert_string_equal(asked[1], "2024-03-01 00:00:00");
    assert_int_equal(f.from, 1709251200 + 3 * 3600);
    /* 12:30-03:00 = 15:30Z, rounded up to 16:00Z. */
    assert_int_equal(f.to, 1711843200 + 16 * 3600);
    /* A date as `to` asks for the next local midnight. */
    n_asked = 0;
    assert_int_equal(parse("to=2024-02-29", &f, &code), 0);
    assert_int_equal(aq_filter_resolve(&f, NOW, "X/Y", 731, fake_conv, "X/Y", &err), 0);
    assert_string_equal(asked[0], "2024-03-01 00:00:00");
    /* Absolute bounds never need the zone. */
    n_asked = 0;
    assert_int_equal(parse("from=2024-03-01T00:00:00Z", &f, &code), 0);
    assert_int_equal(aq_filter_resolve(&f, NOW, "X/Y", 731, fake_conv, "X/Y", &err), 0);
    assert_int_equal(n_asked, 0);
    /* A conversion failure is a 503, not a 400. */
    assert_int_equal(parse("from=2024-03-01", &f, &code), 0);
    assert_int_equal(aq_filter_resolve(&f, NOW, "X/Y", 731, failing_conv, NULL, &err),
                     SP_EUNAVAILABLE);
    assert_int_equal(err.status, 503);
}

static void test_parameters_are_whitelisted(void **state)
{
    (void)state;
    sp_request_t *req = req_with("from=2024-01-01&limit=5&bogus=1");
    aq_err_t err;
    assert_int_equal(aq_params_check(req, NULL, &err), SP_EINVAL);
    assert_string_equal(err.code, "invalid_parameter");
    assert_non_null(strstr(err.message, "'limit'")); /* the first unknown one */
    sp_request_destroy(&req);

    const char *extra[] = {"limit", NULL};
    req = req_with("from=2024-01-01&limit=5");
    assert_int_equal(aq_params_check(req, extra, &err), 0);
    sp_request_destroy(&req);

    req = req_with("channel=call&channel=chat");
    assert_int_equal(aq_params_check(req, NULL, &err), SP_EINVAL);
    assert_non_null(strstr(err.message, "twice"));
    sp_request_destroy(&req);

    /* A name that only matches once decoded is unknown, not smuggled in. */
    req = req_with("ch%61nnel=call");
    assert_int_equal(aq_params_check(req, NULL, &err), SP_EINVAL);
    sp_request_destroy(&req);

    long n;
    req = req_with("limit=5&offset=-1&big=99999999999999999999&x=5x");
    assert_int_equal(aq_param_int(req, "limit", 10, 1, 100, &n, &err), 0);
    assert_int_equal(n, 5);
    assert_int_equal(aq_param_int(req, "absent", 10, 1, 100, &n, &err), 0);
    assert_int_equal(n, 10);
    assert_int_equal(aq_param_int(req, "offset", 0, 0, 100, &n, &err), SP_EINVAL);
    assert_int_equal(aq_param_int(req, "big", 0, 0, 100, &n, &err), SP_EINVAL);
    assert_int_equal(aq_param_int(req, "x", 0, 0, 100, &n, &err), SP_EINVAL);
    assert_int_equal(aq_param_int(req, "limit", 10, 1, 4, &n, &err), SP_EINVAL);
    assert_string_equal(err.code, "invalid_parameter");
    sp_request_destroy(&req);
}

static void test_filter_values_are_validated(void **state)
{
    (void)state;
    aq_filter_t f;
    const char *code;
    assert_int_equal(parse("channel=call,whatsapp&language=en,pt&agent=a-1,b.2&intent=refund"
                           "&topic=billing&sentiment_min=-0.5&sentiment_max=0.25&escalated=true"
                           "&resolved=0&q=caf%C3%A9",
                           &f, &code),
                     0);
    assert_int_equal(f.channels.n, 2);
    assert_string_equal(f.channels.v[1], "whatsapp");
    assert_int_equal(f.languages.n, 2);
    assert_int_equal(f.agents.n, 2);
    assert_string_equal(f.topic, "billing");
    assert_true(f.has_smin && f.smin == -0.5);
    assert_int_equal(f.escalated, 1);
    assert_int_equal(f.resolved, 0);
    assert_int_equal(f.churn_risk, -1);
    assert_string_equal(f.q, "caf\xc3\xa9");

    const char *bad[] = {
        "channel=fax",
        "channel=call,",
        "channel=",
        "language=EN",
        "language=english",
        "language=e1",
        "sentiment_min=2",
        "sentiment_max=-1.5",
        "sentiment_min=abc",
        "sentiment_min=nan",
        "sentiment_min=0.5&sentiment_max=0.1",
        "escalated=maybe",
        "resolved=",
        "q=a%0Ab",
        "q=%FF%FE",
        "topic=%C0%AF",
        "agent=a%01b",
        "q=%ED%A0%80", /* a UTF-16 surrogate */
        "intent=a,,b",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = parse(bad[i], &f, &code);
        if (rc != SP_EINVAL)
            fail_msg("accepted %s", bad[i]);
        assert_string_equal(code, "invalid_filter");
    }
    /* Lists are bounded. */
    char many[512] = "agent=";
    for (int i = 0; i < AQ_MAX_VALUES + 1; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "%sa%d", i ? "," : "", i);
    assert_int_equal(parse(many, &f, &code), SP_EINVAL);
    /* q is bounded to 200 bytes. */
    char longq[300] = "q=";
    memset(longq + 2, 'x', 201);
    longq[203] = '\0';
    assert_int_equal(parse(longq, &f, &code), SP_EINVAL);
    longq[202] = '\0';
    assert_int_equal(parse(longq, &f, &code), 0);
}

static void test_source_choice(void **state)
{
    (void)state;
    aq_filter_t f;
    const char *code;
    /* An agent filter needs the rollup that keeps agent_id. */
    assert_int_equal(parse("channel=call&agent=x&language=en", &f, &code), 0);
    assert_int_equal(aq_filter_source(&f, 0, 0), AQ_SRC_HOURLY);
    assert_int_equal(aq_filter_source(&f, 1, 0), AQ_SRC_HOURLY);
    assert_int_equal(aq_filter_source(&f, 0, AQ_BY_AGENT), AQ_SRC_HOURLY);
    /* by topic with an agent filter */
    assert_int_equal(aq_filter_source(&f, 1, AQ_BY_TOPIC), AQ_SRC_RAW);
    /* Without an agent filter or grouping, the rollup without agents. */
    assert_int_equal(parse("channel=call,chat&language=en", &f, &code), 0);
    assert_int_equal(aq_filter_source(&f, 0, 0), AQ_SRC_CHANNEL);
    assert_int_equal(aq_filter_source(&f, 1, 0), AQ_SRC_CHANNEL);
    assert_int_equal(aq_filter_source(&f, 0, AQ_BY_AGENT), AQ_SRC_HOURLY);
    /* topics_hourly has no language. */
    assert_int_equal(aq_filter_source(&f, 1, AQ_BY_TOPIC), AQ_SRC_RAW);
    assert_int_equal(parse("topic=billing&channel=chat", &f, &code), 0);
    assert_int_equal(aq_filter_source(&f, 1, 0), AQ_SRC_TOPICS);
    assert_int_equal(aq_filter_source(&f, 0, 0), AQ_SRC_RAW);
    assert_int_equal(aq_filter_source(&f, 0, AQ_BY_AGENT), AQ_SRC_RAW);
    assert_int_equal(parse("", &f, &code), 0);
    assert_int_equal(aq_filter_source(&f, 1, AQ_BY_TOPIC), AQ_SRC_TOPICS);
    assert_int_equal(aq_filter_source(&f, 0, 0), AQ_SRC_CHANNEL);
    assert_int_equal(aq_filter_source(&f, 0, AQ_BY_AGENT), AQ_SRC_HOURLY);
    const char *raw[] = {"intent=refund",   "q=x",
                         "escalated=false", "resolved=true",
                         "churn_risk=true", "sentiment_min=0"};
    for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++) {
        assert_int_equal(parse(raw[i], &f, &code), 0);
        assert_int_equal(aq_filter_source(&f, 1, 0), AQ_SRC_RAW);
        assert_int_equal(aq_filter_source(&f, 1, AQ_BY_TOPIC), AQ_SRC_RAW);
        assert_int_equal(aq_filter_source(&f, 0, AQ_BY_AGENT), AQ_SRC_RAW);
    }
    /* The names answers report. */
    assert_string_equal(aq_src_name(AQ_SRC_CHANNEL), "interactions_hourly_channel");
    assert_string_equal(aq_src_from(AQ_SRC_CHANNEL), "interactions_hourly_channel");
    assert_string_equal(aq_src_time(AQ_SRC_CHANNEL), "hour");
    assert_string_equal(aq_src_name(AQ_SRC_HOURLY), "interactions_hourly");
    assert_string_equal(aq_src_name(AQ_SRC_TOPICS), "topics_hourly");
    assert_string_equal(aq_src_name(AQ_SRC_RAW), "interactions");
    assert_string_equal(aq_src_from(AQ_SRC_RAW), "interactions FINAL");
}

static void test_where_quotes_hostile_values(void **state)
{
    (void)state;
    aq_filter_t f;
    const char *code;
    assert_int_equal(
        parse("agent=x'%20OR%201%3D1%20--&topic=a\\'%29%20OR%20(1&intent=%27%3B%20DROP&q=%25'\\",
              &f, &code),
        0);
    aq_err_t err;
    assert_int_equal(aq_filter_resolve(&f, NOW, "UTC", 731, NULL, NULL, &err), 0);
    sp_arena_t *arena = sp_arena_new();
    char *w = aq_filter_where(arena, &f, TENANT, AQ_SRC_RAW, f.from, f.to);
    assert_non_null(w);
    char expect[1024];
    snprintf(
        expect, sizeof expect,
        "tenant_id = '" TENANT "' AND occurred_at >= toDateTime(%lld) AND occurred_at < "
        "toDateTime(%lld) AND agent_id IN ('x\\' OR 1=1 --') AND has(topics, 'a\\\\\\') OR "
        "(1') AND intent IN ('\\'; DROP') AND positionCaseInsensitiveUTF8(text, '%%\\'\\\\') > 0",
        (long long)f.from, (long long)f.to);
    assert_string_equal(w, expect);

    /* The hourly rollup cannot express a raw filter: no SQL rather than a
     * wider answer; nor a topic; topics_hourly no agent. */
    assert_null(aq_filter_where(arena, &f, TENANT, AQ_SRC_HOURLY, f.from, f.to));
    assert_null(aq_filter_where(arena, &f, TENANT, AQ_SRC_CHANNEL, f.from, f.to));
    assert_null(aq_filter_where(arena, &f, TENANT, AQ_SRC_TOPICS, f.from, f.to));
    assert_int_equal(parse("topic=x", &f, &code), 0);
    assert_null(aq_filter_where(arena, &f, TENANT, AQ_SRC_HOURLY, 0, 3600));
    assert_null(aq_filter_where(arena, &f, TENANT, AQ_SRC_CHANNEL, 0, 3600));
    /* interactions_hourly_channel has no agent_id. */
    assert_int_equal(parse("agent=ag1&channel=call", &f, &code), 0);
    assert_null(aq_filter_where(arena, &f, TENANT, AQ_SRC_CHANNEL, 0, 3600));
    w = aq_filter_where(arena, &f, TENANT, AQ_SRC_HOURLY, 0, 3600);
    assert_string_equal(w, "tenant_id = '" TENANT "' AND hour >= toDateTime(0) AND hour < "
                           "toDateTime(3600) AND channel IN ('call') AND agent_id IN ('ag1')");
    assert_int_equal(parse("channel=call&language=pt", &f, &code), 0);
    w = aq_filter_where(arena, &f, TENANT, AQ_SRC_CHANNEL, 0, 3600);
    assert_string_equal(w, "tenant_id = '" TENANT "' AND hour >= toDateTime(0) AND hour < "
                           "toDateTime(3600) AND channel IN ('call') AND language IN ('pt')");
    assert_int_equal(parse("topic=x", &f, &code), 0);
    w = aq_filter_where(arena, &f, TENANT, AQ_SRC_TOPICS, 0, 3600);
    assert_string_equal(w, "tenant_id = '" TENANT "' AND hour >= toDateTime(0) AND hour < "
                           "toDateTime(3600) AND topic = 'x'");
    assert_int_equal(
        parse("language=en&channel=call,chat&sentiment_max=0.5&churn_risk=false", &f, &code), 0);
    w = aq_filter_where(arena, &f, TENANT, AQ_SRC_RAW, 0, 3600);
    assert_string_equal(w, "tenant_id = '" TENANT "' AND occurred_at >= toDateTime(0) AND "
                           "occurred_at < toDateTime(3600) AND channel IN ('call', 'chat') AND "
                           "language IN ('en') AND sentiment <= 0.500000 AND churn_risk = 0");
    /* The tenant must be a UUID: it is the one value not quoted by
     * sp_ch_quote, so it is checked instead. */
    assert_null(aq_filter_where(arena, &f, "x' OR '1'='1", AQ_SRC_RAW, 0, 3600));
    assert_null(aq_filter_where(arena, &f, "", AQ_SRC_RAW, 0, 3600));
    sp_arena_destroy(&arena);
}

static void test_canon_is_unambiguous(void **state)
{
    (void)state;
    aq_filter_t a, b;
    const char *code;
    aq_err_t err;
    sp_arena_t *arena = sp_arena_new();
    assert_int_equal(parse("topic=a%3Bi1%3Ab&from=2024-03-01T00:00:00Z", &a, &code), 0);
    assert_int_equal(parse("topic=a&intent=b&from=2024-03-01T00:00:00Z", &b, &code), 0);
    assert_int_equal(aq_filter_resolve(&a, NOW, "UTC", 731, NULL, NULL, &err), 0);
    assert_int_equal(aq_filter_resolve(&b, NOW, "UTC", 731, NULL, NULL, &err), 0);
    assert_string_not_equal(aq_filter_canon(arena, &a), aq_filter_canon(arena, &b));
    /* The same window spelled two ways is one key. */
    assert_int_equal(parse("from=2024-03-01&to=2024-03-07", &a, &code), 0);
    assert_int_equal(parse("to=2024-03-08T00:00:00Z&from=2024-03-01T00:00:00%2B00:00", &b, &code),
                     0);
    assert_int_equal(aq_filter_resolve(&a, NOW, "UTC", 731, NULL, NULL, &err), 0);
    assert_int_equal(aq_filter_resolve(&b, NOW, "UTC", 731, NULL, NULL, &err), 0);
    assert_string_equal(aq_filter_canon(arena, &a), aq_filter_canon(arena, &b));
    sp_arena_destroy(&arena);
}

static void test_uuid_validation(void **state)
{
    (void)state;
    assert_true(sp_uuid_valid(TENANT));
    assert_true(sp_uuid_valid("AAAAAAAA-0000-4000-8000-00000000000F"));
    assert_false(sp_uuid_valid("aaaaaaaa-0000-4000-8000-00000000000"));
    assert_false(sp_uuid_valid("aaaaaaaa-0000-4000-8000-0000000000001"));
    assert_false(sp_uuid_valid("aaaaaaaa00000-4000-8000-000000000001"));
    assert_false(sp_uuid_valid("aaaaaaaa-0000-4000-8000-00000000000g"));
    assert_false(sp_uuid_valid("aaaaaaaa-0000-4000-8000-00000000'--1"));
    assert_false(sp_uuid_valid(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bound_formats),
        cmocka_unit_test(test_resolve_rounds_to_hours_and_defaults),
        cmocka_unit_test(test_resolve_rejects_bad_windows),
        cmocka_unit_test(test_resolve_in_a_timezone),
        cmocka_unit_test(test_parameters_are_whitelisted),
        cmocka_unit_test(test_filter_values_are_validated),
        cmocka_unit_test(test_source_choice),
        cmocka_unit_test(test_where_quotes_hostile_values),
        cmocka_unit_test(test_canon_is_unambiguous),
        cmocka_unit_test(test_uuid_validation),
    };
    return cmocka_run_group_tests(tests, NULL, destroy_kept);
}
