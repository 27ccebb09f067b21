/*
 * test_routes_lists.c — the analytics list routes against a real ClickHouse
 * and Redis (aq_routes_test.h): breakdowns, keywords and movers, search,
 * sort and pagination, detail, the cache and its invalidation by analysis
 * events, export chunks, timeouts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "aq_routes_test.h"

static void test_breakdowns_keywords_movers(void **state)
{
    (void)state;
    sptest_resp_t a = call("/v1/analytics/breakdown?" WEEK "&by=topic");
    assert_int_equal(a.status, 200);
    sptest_assert_json_str(a.json, "source", "topics_hourly");
    sptest_assert_json_num(a.json, "total", 4);
    sptest_assert_json_str(a.json, "items.0.key", "billing");
    sptest_assert_json_num(a.json, "items.0.count", 2);
    sptest_assert_json_num(a.json, "items.0.share", 0.5);
    sptest_assert_json_num(a.json, "items.0.negative_share", 0.5);
    sptest_assert_json_str(a.json, "items.1.key", "complaint");
    sptest_resp_free(&a);
    a = call("/v1/analytics/breakdown?" WEEK "&by=agent&limit=1");
    sptest_assert_json_len(a.json, "items", 1);
    sptest_assert_json_str(a.json, "items.0.key", "ag1");
    sptest_assert_json_str(a.json, "items.0.name", "Ana");
    sptest_assert_json_num(a.json, "items.0.count", 2);
    sptest_assert_json_num(a.json, "total", 4);
    sptest_resp_free(&a);
    a = call("/v1/analytics/breakdown?" WEEK "&by=intent&language=en");
    sptest_assert_json_str(a.json, "source", "interactions");
    sptest_assert_json_num(a.json, "total", 3);
    sptest_assert_json_len(a.json, "items", 3);
    sptest_resp_free(&a);
    a = call("/v1/analytics/breakdown?" WEEK "&by=channel&topic=billing");
    sptest_assert_json_str(a.json, "source", "topics_hourly");
    sptest_assert_json_num(a.json, "total", 2);
    sptest_assert_json_num(a.json, "items.0.share", 0.5);
    sptest_resp_free(&a);
    a = call("/v1/analytics/breakdown?from=2025-01-01&to=2025-01-02&by=language");
    assert_int_equal(a.status, 200);
    sptest_assert_json_num(a.json, "total", 0);
    sptest_assert_json_len(a.json, "items", 0);
    sptest_resp_free(&a);

    a = call("/v1/analytics/keywords?" WEEK);
    sptest_assert_json_str(a.json, "items.0.keyword", "invoice");
    sptest_assert_json_num(a.json, "items.0.count", 2);
    sptest_assert_json_num(a.json, "items.0.share", 0.5);
    sptest_assert_json_num(a.json, "items.0.sentiment_avg", 0);
    sptest_assert_json_num(a.json, "total", 4);
    sptest_resp_free(&a);

    a = call("/v1/analytics/movers?" WEEK "&min_volume=1");
    sptest_assert_json_str(a.json, "items.0.topic", "billing");
    sptest_assert_json_num(a.json, "items.0.volume.value", 2);
    sptest_assert_json_num(a.json, "items.0.volume.previous", 1);
    sptest_assert_json_str(a.json, "items.0.direction", "up");
    sptest_resp_free(&a);
    a = call("/v1/analytics/movers?" WEEK "&min_volume=1&by=sentiment");
    sptest_assert_json_len(a.json, "items", 1);
    sptest_assert_json_num(a.json, "items.0.sentiment_avg.change", -0.2);
    sptest_assert_json_str(a.json, "items.0.direction", "down");
    sptest_resp_free(&a);
    a = call("/v1/analytics/movers?" WEEK "&min_volume=3");
    sptest_assert_json_len(a.json, "items", 0);
    sptest_resp_free(&a);
}

static void test_list_search_sort_paginate(void **state)
{
    (void)state;
    sptest_resp_t a = call("/v1/analytics/interactions?" WEEK);
    assert_int_equal(a.status, 200);
    sptest_assert_json_num(a.json, "total", 4);
    sptest_assert_json_str(a.json, "items.0.id", ID("a004")); /* newest first */
    sptest_assert_json_null(a.json, "items.0.csat");
    sptest_assert_json_null(a.json, "next_offset");
    sptest_resp_free(&a);
    /* Case- and accent-safe search over the redacted text. */
    a = call("/v1/analytics/interactions?" WEEK "&q=pacote");
    sptest_assert_json_num(a.json, "total", 1);
    sptest_assert_json_str(a.json, "items.0.id", ID("a003"));
    sptest_assert_json_str(a.json, "items.0.snippet", "Onde está o meu PACOTE?");
    sptest_resp_free(&a);
    a = call("/v1/analytics/interactions?" WEEK "&q=EST%C3%81");
    sptest_assert_json_num(a.json, "total", 1);
    sptest_resp_free(&a);
    a = call("/v1/analytics/interactions?" WEEK "&sort=sentiment&order=asc&limit=2");
    sptest_assert_json_str(a.json, "items.0.id", ID("a002"));
    sptest_assert_json_str(a.json, "items.1.id", ID("a003"));
    sptest_assert_json_num(a.json, "next_offset", 2);
    sptest_resp_free(&a);
    a = call("/v1/analytics/interactions?" WEEK "&sort=duration&order=desc&limit=1&offset=1");
    sptest_assert_json_str(a.json, "items.0.id", ID("a003"));
    sptest_resp_free(&a);
    /* Pages of one cover everything exactly once. */
    char seen[4][40] = {{0}};
    for (int off = 0; off < 4; off++) {
        char url[160];
        snprintf(url, sizeof url, "/v1/analytics/interactions?" WEEK "&limit=1&offset=%d", off);
        a = call(url);
        const char *id = sptest_json_str(a.json, "items.0.id");
        assert_non_null(id);
        snprintf(seen[off], sizeof seen[off], "%s", id);
        for (int j = 0; j < off; j++)
            assert_string_not_equal(seen[j], seen[off]);
        sptest_resp_free(&a);
    }
    a = call("/v1/analytics/interactions?" WEEK "&resolved=true&channel=call&language=pt");
    sptest_assert_json_num(a.json, "total", 1);
    sptest_resp_free(&a);
}

static void test_detail(void **state)
{
    (void)state;
    sptest_resp_t a = call("/v1/analytics/interactions/" ID("a001"));
    assert_int_equal(a.status, 200);
    sptest_assert_json_str(a.json, "text", "I want a refund for my invoice [EMAIL]");
    sptest_assert_json_len(a.json, "transcript", 2);
    sptest_assert_json_str(a.json, "transcript.0.speaker", "customer");
    sptest_assert_json_str(a.json, "transcript.0.text", "I want a refund, [EMAIL]");
    sptest_assert_json_num(a.json, "transcript.1.start_ms", 3000);
    sptest_assert_json_num(a.json, "csat", 5);
    sptest_assert_json_str(a.json, "agent.name", "Ana");
    sptest_resp_free(&a);
    a = call("/v1/analytics/interactions/" ID("ffff"));
    assert_int_equal(a.status, 404);
    sptest_resp_free(&a);
    a = call("/v1/analytics/interactions/not-an-id");
    assert_int_equal(a.status, 400);
    assert_string_equal(sptest_err_code(&a), "invalid_id");
    sptest_resp_free(&a);
}

/* Sends an analysis.completed event for tenant, occurred age_ms ago. */
static int deliver(const char *type, const char *tenant, int64_t age_ms)
{
    Serphona__Events__V1__Event ev = SERPHONA__EVENTS__V1__EVENT__INIT;
    assert_int_equal(sp_events_event_init(&ev, type, tenant, "{}", 2, NULL), 0);
    ev.occurred_at_unix_ms -= age_ms;
    sp_events_message_t msg = {.topic = "serphona.analyses.v1", .event = &ev};
    int rc = aq_cache_on_event(&msg, &ctx);
    sp_events_event_cleanup(&ev);
    return rc;
}

static void test_cache_and_invalidation(void **state)
{
    (void)state;
    const char *url = "/v1/analytics/overview?from=2024-03-01&to=2024-03-09&channel=call";
    sptest_resp_t a = call(url);
    assert_string_equal(hdr(&a, "X-Cache"), "miss");
    sptest_resp_free(&a);
    a = call(url);
    assert_string_equal(hdr(&a, "X-Cache"), "hit");
    sptest_assert_json_num(a.json, "kpis.volume.value", 2);
    sptest_resp_free(&a);
    /* Same query spelled differently (the date `to` includes its day): same
     * entry. */
    a = call("/v1/analytics/overview?channel=call&to=2024-03-10T00:00:00Z&from=2024-03-01");
    assert_string_equal(hdr(&a, "X-Cache"), "hit");
    sptest_resp_free(&a);

    /* A new analysed interaction lands (outside the week the later tests
     * use): the cache still says 2 until the event arrives, then it is
     * dropped. */
    sptest_ch_exec(ctx.ch, "INSERT INTO interactions FORMAT JSONEachRow",
                   "{\"tenant_id\":\"" A "\",\"interaction_id\":\"" ID(
                       "a009") "\",\"channel\":\"call\","
                               "\"occurred_at\":\"2024-03-02 "
                               "09:00:00\",\"sentiment\":0.5,\"csat\":-1,\"nps\":-1,"
                               "\"version\":1}\n");
    a = call(url);
    assert_string_equal(hdr(&a, "X-Cache"), "hit");
    sptest_assert_json_num(a.json, "kpis.volume.value", 2);
    sptest_resp_free(&a);
    /* Other tenants' events, other types, stale events change nothing. */
    assert_int_equal(deliver("analysis.completed", B, 0), 0);
    assert_int_equal(deliver("interaction.recorded", A, 0), 0);
    assert_int_equal(deliver("analysis.completed", A, 3600 * 1000), 0);
    assert_int_equal(deliver("analysis.completed", "garbage", 0), 0);
    a = call(url);
    assert_string_equal(hdr(&a, "X-Cache"), "hit");
    sptest_resp_free(&a);
    assert_int_equal(deliver("analysis.completed", A, 0), 0);
    a = call(url);
    assert_string_equal(hdr(&a, "X-Cache"), "miss");
    sptest_assert_json_num(a.json, "kpis.volume.value", 3);
    sptest_resp_free(&a);
    /* The list is never cached. */
    a = call("/v1/analytics/interactions?from=2024-03-01&to=2024-03-09");
    assert_string_equal(hdr(&a, "X-Cache"), "");
    sptest_resp_free(&a);
}

/* Collects the ids of a CSV body into ids (one per line after the header). */
static int csv_ids(const char *body, char ids[][40], int max)
{
    int n = 0;
    const char *p = strstr(body, "\r\n");
    while (p && p[2] && n < max) {
        p += 2;
        snprintf(ids[n++], 37, "%.36s", p);
        /* Rows may hold quoted newlines; the next row starts after "\r\n"
         * followed by a UUID-looking id. */
        const char *q = p;
        do {
            q = strstr(q + 1, "\r\n");
        } while (q && q[2] && !(q[2] == '0' && q[10] == '-'));
        p = q;
    }
    return n;
}

static void test_export_chunks(void **state)
{
    (void)state;
    sptest_resp_t a = call_as("/v1/analytics/export.csv?" WEEK, A, "analytics:read");
    assert_int_equal(a.status, 403); /* export needs analytics:export */
    sptest_resp_free(&a);

    a = call_as("/v1/analytics/export.csv?" WEEK, A, "analytics:export");
    assert_int_equal(a.status, 200);
    assert_string_equal(hdr(&a, "Content-Type"), "text/csv; charset=utf-8");
    assert_string_equal(hdr(&a, "X-Export-Next-Cursor"), "");
    assert_non_null(strstr(a.text, "id,occurred_at,external_id,channel"));
    /* The formula guard and quote doubling on a002's text. */
    assert_non_null(strstr(a.text, ",\"'=cmd| terrible, \"\"wrong\"\" invoice\"\r\n"));
    assert_null(strstr(a.text, "secret"));
    char all[8][40];
    assert_int_equal(csv_ids(a.text, all, 8), 4);
    sptest_resp_free(&a);

    /* In chunks of one row, and again under a byte cap of ~one row: the
     * cursors walk the same rows, in the same order, once each. */
    for (int mode = 0; mode < 2; mode++) {
        size_t saved = ctx.set.export_max_bytes;
        if (mode == 1)
            ctx.set.export_max_bytes = 300;
        char cursor[96] = "";
        int got = 0;
        for (int round = 0; round < 10; round++) {
            char url[256];
            snprintf(url, sizeof url, "/v1/analytics/export.csv?" WEEK "%s%s%s",
                     mode == 0 ? "&limit=1" : "", cursor[0] ? "&cursor=" : "", cursor);
            a = call_as(url, A, "analytics:export");
            assert_int_equal(a.status, 200);
            char ids[4][40];
            int n = csv_ids(a.text, ids, 4);
            for (int i = 0; i < n; i++) {
                assert_true(got < 4);
                assert_string_equal(ids[i], all[got]);
                got++;
            }
            snprintf(cursor, sizeof cursor, "%s", hdr(&a, "X-Export-Next-Cursor"));
            sptest_resp_free(&a);
            if (!cursor[0])
                break;
        }
        assert_int_equal(got, 4);
        ctx.set.export_max_bytes = saved;
    }
}

static void test_query_timeout(void **state)
{
    (void)state;
    int saved = ctx.set.query_timeout_ms;
    ctx.set.query_timeout_ms = 1000;
    sp_request_t *req = sp_request_new();
    cJSON *rows;
    int rc =
        aq_query(&ctx, req, "SELECT count() FROM system.numbers WHERE number % 7 = 3", 1, &rows);
    assert_true(rc != 0);
    assert_int_equal(sp_response_status(sp_request_response(req)), 504);
    assert_non_null(strstr(sp_response_body(sp_request_response(req), NULL), "query_timeout"));
    sp_request_destroy(&req);
    ctx.set.query_timeout_ms = saved;
}

int main(void)
{
    sp_log_init("test_routes_lists", SP_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_breakdowns_keywords_movers),
        cmocka_unit_test(test_list_search_sort_paginate),
        cmocka_unit_test(test_detail),
        cmocka_unit_test(test_cache_and_invalidation),
        cmocka_unit_test(test_export_chunks),
        cmocka_unit_test(test_query_timeout),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
