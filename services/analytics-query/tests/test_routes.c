/*
 * test_routes.c — the analytics KPI routes against a real ClickHouse and
 * Redis (aq_routes_test.h): exact KPIs of a hand-computed fixture, sources
 * (rollups vs the raw table, which must agree), tenant isolation, hostile
 * inputs that reach ClickHouse quoted, timezone buckets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "aq_routes_test.h"

static void test_overview_exact_kpis(void **state)
{
    (void)state;
    sptest_resp_t a = call("/v1/analytics/overview?" WEEK);
    assert_int_equal(a.status, 200);
    sptest_assert_json_str(a.json, "source", "interactions_hourly_channel");
    sptest_assert_json_str(a.json, "period.from", "2024-03-04T00:00:00Z");
    sptest_assert_json_str(a.json, "period.to", "2024-03-11T00:00:00Z");
    sptest_assert_json_str(a.json, "previous_period.from", "2024-02-26T00:00:00Z");
    /* Current: a001..a004. Previous: a005. */
    sptest_assert_json_num(a.json, "kpis.volume.value", 4);
    sptest_assert_json_num(a.json, "kpis.volume.previous", 1);
    sptest_assert_json_num(a.json, "kpis.volume.change", 3);
    sptest_assert_json_num(a.json, "kpis.volume.change_pct", 300);
    sptest_assert_json_num(a.json, "kpis.sentiment_avg.value", 0.0625); /* (0.5-0.5+0+0.25)/4 */
    sptest_assert_json_num(a.json, "kpis.sentiment_avg.previous", 0.2);
    sptest_assert_json_num(a.json, "kpis.positive_share.value", 0.5);  /* a001, a004 */
    sptest_assert_json_num(a.json, "kpis.negative_share.value", 0.25); /* a002 */
    sptest_assert_json_num(a.json, "kpis.nps.value", 0);               /* 10, 3, 8 */
    sptest_assert_json_null(a.json, "kpis.nps.previous");
    sptest_assert_json_num(a.json, "kpis.csat_avg.value", 4); /* 5, 3 */
    sptest_assert_json_num(a.json, "kpis.resolution_rate.value", 0.5);
    sptest_assert_json_num(a.json, "kpis.escalation_rate.value", 0.25);
    sptest_assert_json_num(a.json, "kpis.churn_risk_share.value", 0);
    sptest_assert_json_num(a.json, "kpis.aht_seconds.value", 90);
    sptest_assert_json_num(a.json, "kpis.silence_ratio.value", 0.2);
    sptest_resp_free(&a);

    /* A topic filter reads the raw table for every KPI. */
    a = call("/v1/analytics/overview?" WEEK "&topic=billing");
    assert_int_equal(a.status, 200);
    sptest_assert_json_str(a.json, "source", "interactions");
    sptest_assert_json_num(a.json, "kpis.volume.value", 2);
    sptest_assert_json_num(a.json, "kpis.volume.previous", 1);
    sptest_assert_json_num(a.json, "kpis.sentiment_avg.value", 0);
    sptest_assert_json_num(a.json, "kpis.nps.value", 0); /* one promoter, one detractor */
    sptest_assert_json_num(a.json, "kpis.csat_avg.value", 5);
    sptest_resp_free(&a);

    /* Channel + agent filters stay on the rollup that keeps agents. */
    a = call("/v1/analytics/overview?" WEEK "&channel=call,chat&agent=ag1");
    sptest_assert_json_str(a.json, "source", "interactions_hourly");
    sptest_assert_json_num(a.json, "kpis.volume.value", 2);
    sptest_assert_json_num(a.json, "kpis.nps.value", 0);
    sptest_resp_free(&a);
    /* Channel + language: the rollup without agents. */
    a = call("/v1/analytics/overview?" WEEK "&channel=call&language=en,pt");
    sptest_assert_json_str(a.json, "source", "interactions_hourly_channel");
    sptest_assert_json_num(a.json, "kpis.volume.value", 2); /* a001, a003 */
    sptest_assert_json_num(a.json, "kpis.csat_avg.value", 4);
    sptest_assert_json_num(a.json, "kpis.aht_seconds.value", 90);
    sptest_resp_free(&a);
    a = call("/v1/analytics/overview?" WEEK "&escalated=true");
    sptest_assert_json_str(a.json, "source", "interactions");
    sptest_assert_json_num(a.json, "kpis.volume.value", 1);
    sptest_assert_json_num(a.json, "kpis.nps.value", -100);
    sptest_resp_free(&a);
}

/* Fails unless every KPI of answers x and y (current and previous period)
 * is the same. */
static void assert_same_kpis(const sptest_resp_t *x, const sptest_resp_t *y, const char *what)
{
    int n = 0;
    cJSON *k;
    cJSON_ArrayForEach(k, cJSON_GetObjectItem(x->json, "kpis"))
    {
        const char *fields[] = {"value", "previous"};
        for (int i = 0; i < 2; i++) {
            char p[96];
            snprintf(p, sizeof p, "kpis.%s.%s", k->string, fields[i]);
            double a = sptest_json_num_or_nan(x->json, p), b = sptest_json_num_or_nan(y->json, p);
            if (!(a == b || (isnan(a) && isnan(b))))
                fail_msg("%s: %s %g vs %g", what, p, a, b);
        }
        n++;
    }
    assert_int_equal(n, 11);
}

static void test_rollup_and_raw_agree(void **state)
{
    (void)state;
    /* The same KPIs through each rollup and the raw table (a filter that
     * matches everything forces the raw table). */
    sptest_resp_t c = call("/v1/analytics/overview?" WEEK);
    sptest_resp_t w = call("/v1/analytics/overview?" WEEK "&sentiment_min=-1");
    sptest_assert_json_str(c.json, "source", "interactions_hourly_channel");
    sptest_assert_json_str(w.json, "source", "interactions");
    assert_same_kpis(&c, &w, "interactions_hourly_channel vs raw");
    sptest_resp_free(&c);
    sptest_resp_free(&w);
    /* An agent filter (ag1 and ag2: all but a004, which has no agent): the
     * agent rollup vs the raw table under the same filter. */
    sptest_resp_t h = call("/v1/analytics/overview?" WEEK "&agent=ag1,ag2");
    w = call("/v1/analytics/overview?" WEEK "&agent=ag1,ag2&sentiment_min=-1");
    sptest_assert_json_str(h.json, "source", "interactions_hourly");
    sptest_assert_json_str(w.json, "source", "interactions");
    sptest_assert_json_num(h.json, "kpis.volume.value", 3);
    assert_same_kpis(&h, &w, "interactions_hourly vs raw");
    sptest_resp_free(&h);
    sptest_resp_free(&w);
    /* And the two rollups against each other under a channel filter. */
    c = call("/v1/analytics/overview?" WEEK "&channel=call,chat");
    h = call("/v1/analytics/overview?" WEEK "&channel=call,chat&agent=ag1,ag2");
    sptest_assert_json_str(c.json, "source", "interactions_hourly_channel");
    sptest_assert_json_str(h.json, "source", "interactions_hourly");
    sptest_assert_json_num(c.json, "kpis.volume.value", 3);
    assert_same_kpis(&c, &h, "interactions_hourly_channel vs interactions_hourly");
    sptest_resp_free(&c);
    sptest_resp_free(&h);

    /* The tables themselves: interactions_hourly folded over agent_id is
     * interactions_hourly_channel, row for row and column for column. */
    const char *cols = "tenant_id, hour, channel, language, sum(interactions), "
                       "round(sum(sentiment_sum), 6), sum(positive), sum(negative), "
                       "sum(resolved), sum(escalated), sum(churn_risk), sum(duration_ms_sum), "
                       "sum(timed), round(sum(silence_ratio_sum), 6), sum(csat_sum), "
                       "sum(csat_count), sum(nps_promoters), sum(nps_detractors), sum(nps_count)";
    char sql[1024];
    char *by_agent = NULL, *by_channel = NULL;
    snprintf(sql, sizeof sql,
             "SELECT %s FROM interactions_hourly GROUP BY tenant_id, hour, channel, language "
             "ORDER BY tenant_id, hour, channel, language FORMAT TabSeparated",
             cols);
    assert_int_equal(sp_ch_exec(ctx.ch, sql, NULL, 0, &by_agent, NULL), 0);
    snprintf(sql, sizeof sql,
             "SELECT %s FROM interactions_hourly_channel GROUP BY tenant_id, hour, channel, "
             "language ORDER BY tenant_id, hour, channel, language FORMAT TabSeparated",
             cols);
    assert_int_equal(sp_ch_exec(ctx.ch, sql, NULL, 0, &by_channel, NULL), 0);
    assert_true(strlen(by_agent) > 0);
    assert_string_equal(by_channel, by_agent);
    free(by_agent);
    free(by_channel);
}

static void test_agent_dimension_picks_the_agent_rollup(void **state)
{
    (void)state;
    sptest_resp_t a = call("/v1/analytics/breakdown?" WEEK "&by=agent");
    sptest_assert_json_str(a.json, "source", "interactions_hourly");
    sptest_assert_json_num(a.json, "total", 4);
    sptest_resp_free(&a);
    a = call("/v1/analytics/breakdown?" WEEK "&by=channel");
    sptest_assert_json_str(a.json, "source", "interactions_hourly_channel");
    sptest_assert_json_str(a.json, "items.0.key", "call");
    sptest_assert_json_num(a.json, "items.0.count", 2);
    sptest_assert_json_num(a.json, "total", 4);
    sptest_resp_free(&a);
    a = call("/v1/analytics/breakdown?" WEEK "&by=language&agent=ag1");
    sptest_assert_json_str(a.json, "source", "interactions_hourly");
    sptest_assert_json_str(a.json, "items.0.key", "en");
    sptest_assert_json_num(a.json, "items.0.count", 2);
    sptest_assert_json_num(a.json, "total", 2);
    sptest_resp_free(&a);
    a = call("/v1/analytics/timeseries?" WEEK "&metric=volume,csat_avg");
    sptest_assert_json_str(a.json, "source", "interactions_hourly_channel");
    sptest_assert_json_num(a.json, "points.0.volume", 1);
    sptest_assert_json_num(a.json, "points.0.csat_avg", 5);
    sptest_resp_free(&a);
    a = call("/v1/analytics/timeseries?" WEEK "&metric=volume&agent=ag2");
    sptest_assert_json_str(a.json, "source", "interactions_hourly");
    sptest_assert_json_num(a.json, "points.0.volume", 0);
    sptest_assert_json_num(a.json, "points.2.volume", 1); /* a003 on the 6th */
    sptest_resp_free(&a);
}

static void test_tenant_isolation(void **state)
{
    (void)state;
    sptest_resp_t a = call("/v1/analytics/overview?from=2024-03-04&to=2024-03-04");
    sptest_assert_json_num(a.json, "kpis.volume.value",
                           1); /* B's row in the same hour is not A's */
    sptest_resp_free(&a);
    a = call_as("/v1/analytics/overview?from=2024-03-04&to=2024-03-04", B, "analytics:read");
    sptest_assert_json_num(a.json, "kpis.volume.value", 1);
    sptest_assert_json_num(a.json, "kpis.sentiment_avg.value", -0.9);
    sptest_resp_free(&a);
    a = call("/v1/analytics/keywords?" WEEK);
    assert_null(strstr(a.text, "secret"));
    sptest_resp_free(&a);
    a = call("/v1/analytics/interactions?" WEEK "&q=secret");
    sptest_assert_json_num(a.json, "total", 0);
    sptest_resp_free(&a);
    a = call("/v1/analytics/interactions/" ID("b001"));
    assert_int_equal(a.status, 404);
    assert_string_equal(sptest_err_code(&a), "interaction_not_found");
    sptest_resp_free(&a);
    a = call_as("/v1/analytics/interactions/" ID("b001"), B, "analytics:read");
    assert_int_equal(a.status, 200);
    sptest_resp_free(&a);
    /* No tenant, no analytics, whatever the permissions. */
    a = call_as("/v1/analytics/overview", NULL, "analytics:read");
    assert_int_equal(a.status, 403);
    assert_string_equal(sptest_err_code(&a), "tenant_required");
    sptest_resp_free(&a);
    a = call_as("/v1/analytics/overview", "not-a-uuid", "analytics:read");
    assert_int_equal(a.status, 403);
    sptest_resp_free(&a);
}

static void test_hostile_inputs_reach_clickhouse_quoted(void **state)
{
    (void)state;
    const char *attempts[] = {
        "/v1/analytics/overview?" WEEK "&topic=x')%20OR%201%3D1%20--",
        "/v1/analytics/overview?" WEEK "&agent=ag1'%20OR%20'1'%3D'1",
        "/v1/analytics/interactions?" WEEK "&q=%25'%20OR%201%3D1)%20--%20\\",
        "/v1/analytics/interactions?" WEEK "&intent=refund'),('x",
        "/v1/analytics/breakdown?" WEEK "&by=topic&topic=billing\\'",
        "/v1/analytics/timeseries?" WEEK "&topic=%E2%80%99%3B%20DROP%20TABLE%20interactions",
    };
    for (size_t i = 0; i < sizeof attempts / sizeof attempts[0]; i++) {
        sptest_resp_t a = call(attempts[i]);
        if (a.status != 200)
            fail_msg("%s -> %d %s", attempts[i], a.status, a.text);
        if (cJSON_GetObjectItem(a.json, "kpis"))
            sptest_assert_json_num(a.json, "kpis.volume.value", 0);
        if (cJSON_GetObjectItem(a.json, "total") && !cJSON_GetObjectItem(a.json, "by"))
            sptest_assert_json_num(a.json, "total", 0);
        sptest_resp_free(&a);
    }
    /* Still there. */
    sptest_resp_t a = call("/v1/analytics/overview?" WEEK);
    sptest_assert_json_num(a.json, "kpis.volume.value", 4);
    sptest_resp_free(&a);
    const char *refused[] = {
        "/v1/analytics/interactions?" WEEK "&sort=sentiment;DROP",
        "/v1/analytics/interactions?" WEEK "&sort=text",
        "/v1/analytics/interactions?" WEEK "&order=desc,sentiment",
        "/v1/analytics/breakdown?" WEEK "&by=tenant_id",
        "/v1/analytics/timeseries?" WEEK "&metric=sum(sentiment)",
        "/v1/analytics/interactions?" WEEK "&limit=201",
        "/v1/analytics/interactions?" WEEK "&offset=10001",
        "/v1/analytics/interactions/1%20OR%201=1",
        "/v1/analytics/export.csv?" WEEK "&cursor=1_x'",
        "/v1/analytics/overview?" WEEK "&tenant_id=" B,
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        sptest_resp_t r = call_as(
            refused[i], A, strstr(refused[i], "export") ? "analytics:export" : "analytics:read");
        if (r.status != 400)
            fail_msg("%s -> %d %s", refused[i], r.status, r.text);
        sptest_resp_free(&r);
    }
}

/* Puts a TenantState with zone tz into the shared tenant cache. */
static void set_tenant_zone(const char *tenant, const char *tz)
{
    Serphona__Tenant__V1__TenantState st = SERPHONA__TENANT__V1__TENANT_STATE__INIT;
    st.tenant_id = (char *)tenant;
    st.timezone = (char *)tz;
    uint8_t buf[256];
    size_t n = serphona__tenant__v1__tenant_state__pack(&st, buf);
    char key[96];
    snprintf(key, sizeof key, "sp:tenant:%s", tenant);
    assert_int_equal(sp_redis_cache_set(ctx.redis, key, buf, n, 60), 0);
}

static void test_timeseries_buckets_in_tenant_zone(void **state)
{
    (void)state;
    sp_redis_cache_del(ctx.redis, "sp:tenant:" A);
    sptest_resp_t a = call("/v1/analytics/timeseries?" WEEK "&metric=volume,sentiment_avg");
    assert_int_equal(a.status, 200);
    sptest_assert_json_str(a.json, "timezone", "UTC"); /* no tenant-manager here */
    sptest_assert_json_len(a.json, "points", 7);
    sptest_assert_json_str(a.json, "points.0.bucket", "2024-03-04");
    sptest_assert_json_num(a.json, "points.0.volume", 1);
    sptest_assert_json_num(a.json, "points.1.volume", 0); /* zero-filled */
    sptest_assert_json_null(a.json, "points.1.sentiment_avg");
    sptest_assert_json_num(a.json, "points.2.volume", 2); /* a002 01:30Z and a003 on the 6th */
    sptest_assert_json_num(a.json, "points.3.volume", 1);
    sptest_resp_free(&a);

    set_tenant_zone(A, "America/Sao_Paulo");
    a = call("/v1/analytics/timeseries?" WEEK "&metric=volume");
    assert_int_equal(a.status, 200);
    sptest_assert_json_str(a.json, "timezone", "America/Sao_Paulo");
    /* Local midnights: 03:00Z. */
    sptest_assert_json_str(a.json, "period.from", "2024-03-04T03:00:00Z");
    sptest_assert_json_str(a.json, "period.to", "2024-03-11T03:00:00Z");
    sptest_assert_json_num(a.json, "points.1.volume", 1); /* a002 is the 5th there */
    sptest_assert_json_num(a.json, "points.2.volume", 1);
    sptest_assert_json_num(a.json, "points.3.volume", 1); /* a004 23:00Z = 20:00 on the 7th */
    sptest_resp_free(&a);

    a = call("/v1/analytics/timeseries?from=2024-02-01&to=2024-03-31&interval=week&metric=volume");
    sptest_assert_json_len(a.json, "points", 9); /* Jan 29 .. Mar 25 */
    sptest_assert_json_str(a.json, "points.0.bucket", "2024-01-29");
    sptest_assert_json_str(a.json, "points.4.bucket", "2024-02-26");
    sptest_assert_json_num(a.json, "points.4.volume", 1);
    sptest_assert_json_num(a.json, "points.5.volume", 4);
    sptest_resp_free(&a);
    a = call("/v1/analytics/timeseries?from=2024-01-15&to=2024-03-31&interval=month"
             "&metric=nps,volume&topic=billing");
    sptest_assert_json_str(a.json, "source", "interactions");
    sptest_assert_json_len(a.json, "points", 3);
    sptest_assert_json_str(a.json, "points.2.bucket", "2024-03-01");
    sptest_assert_json_num(a.json, "points.2.volume", 2);
    sptest_assert_json_num(a.json, "points.2.nps", 0);
    sptest_assert_json_str(a.json, "metrics.0", "nps");
    sptest_resp_free(&a);
    a = call("/v1/analytics/timeseries?" WEEK "&metric=volume,negative_share&topic=billing");
    sptest_assert_json_str(a.json, "source", "topics_hourly");
    sptest_assert_json_num(a.json, "points.1.negative_share", 1);
    sptest_resp_free(&a);
    sp_redis_cache_del(ctx.redis, "sp:tenant:" A);
}

int main(void)
{
    sp_log_init("test_routes", SP_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_overview_exact_kpis),
        cmocka_unit_test(test_rollup_and_raw_agree),
        cmocka_unit_test(test_agent_dimension_picks_the_agent_rollup),
        cmocka_unit_test(test_tenant_isolation),
        cmocka_unit_test(test_hostile_inputs_reach_clickhouse_quoted),
        cmocka_unit_test(test_timeseries_buckets_in_tenant_zone),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
