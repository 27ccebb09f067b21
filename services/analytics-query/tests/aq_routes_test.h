/*
 * aq_routes_test.h — the fixture of analytics-query's route tests
 * (test_routes.c, test_routes_lists.c): a private ClickHouse database with
 * the schema of deploy/clickhouse and a hand-computed set of interactions,
 * Redis, and the service's routes on a router called in-process
 * (sptest/call.h, sptest/stack.h). Static functions only: each test binary
 * includes this once.
 */
#ifndef AQ_ROUTES_TEST_H
#define AQ_ROUTES_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../src/breakdowns.h"
#include "../src/cache.h"
#include "../src/context.h"
#include "../src/export.h"
#include "../src/interactions.h"
#include "../src/overview.h"
#include "../src/query.h"
#include "../src/timeseries.h"
#include "platform/error.h"
#include "platform/log.h"
#include "platform/rpc.h"
#include "sptest.h"
#include "tenant.pb-c.h"

#define A     "aaaaaaaa-0000-4000-8000-0000000000a0"
#define B     "bbbbbbbb-0000-4000-8000-0000000000b0"
#define ID(n) "00000000-0000-4000-8000-00000000" n

static char dbname[SPTEST_CH_DB_LEN];
static aq_ctx_t ctx;
static sp_router_t *router;

/* Tenant A: four interactions in the week of 2024-03-04 (one on the 6th at
 * 01:30 UTC, still the 5th in São Paulo), one in the week before; tenant B:
 * one, in the same hour as A's first, which must never show for A. */
static const char *FIXTURE = "{\"tenant_id\":\"" A "\",\"interaction_id\":\"" ID(
    "a001") "\",\"external_id\":\"e1\","
            "\"channel\":\"call\",\"occurred_at\":\"2024-03-04 "
            "10:15:00\",\"analyzed_at\":\"2024-03-04 "
            "10:16:00\",\"language\":\"en\",\"agent_id\":\"ag1\",\"agent_name\":\"Ana\","
            "\"sentiment\":0.5,"
            "\"topics\":[\"billing\"],\"intent\":\"refund\",\"keywords\":[\"refund\",\"invoice\"],"
            "\"duration_ms\":120000,\"silence_ratio\":0.1,\"resolved\":1,\"csat\":5,\"nps\":10,"
            "\"text\":\"I want a refund for my invoice [EMAIL]\",\"version\":1}\n"
            "{\"tenant_id\":\"" A "\",\"interaction_id\":\"" ID(
                "a002") "\",\"external_id\":\"e2\","
                        "\"channel\":\"chat\",\"occurred_at\":\"2024-03-06 "
                        "01:30:00\",\"analyzed_at\":\"2024-03-06 "
                        "01:31:00\",\"language\":\"en\",\"agent_id\":\"ag1\",\"agent_name\":"
                        "\"Ana\",\"sentiment\":-0.5,"
                        "\"topics\":[\"billing\",\"complaint\"],\"intent\":\"complaint\","
                        "\"keywords\":[\"invoice\"],"
                        "\"escalated\":1,\"csat\":-1,\"nps\":3,\"text\":\"=cmd| terrible, "
                        "\\\"wrong\\\" invoice\","
                        "\"version\":1}\n"
                        "{\"tenant_id\":\"" A "\",\"interaction_id\":\"" ID(
                            "a003") "\",\"external_id\":\"e3\","
                                    "\"channel\":\"call\",\"occurred_at\":\"2024-03-06 "
                                    "08:00:00\",\"analyzed_at\":\"2024-03-06 "
                                    "08:01:00\",\"language\":\"pt\",\"agent_id\":\"ag2\",\"agent_"
                                    "name\":\"Bruno\",\"sentiment\":0,"
                                    "\"topics\":[\"delivery\"],\"intent\":\"delivery_status\","
                                    "\"keywords\":[\"pacote\"],"
                                    "\"duration_ms\":60000,\"silence_ratio\":0.3,\"resolved\":1,"
                                    "\"csat\":3,\"nps\":8,"
                                    "\"text\":\"Onde está o meu PACOTE?\",\"version\":1}\n"
                                    "{\"tenant_id\":\"" A "\",\"interaction_id\":\"" ID(
                                        "a004") "\",\"external_id\":\"e4\","
                                                "\"channel\":\"email\",\"occurred_at\":\"2024-03-"
                                                "07 23:00:00\",\"analyzed_at\":\"2024-03-07 "
                                                "23:00:00\",\"language\":\"en\",\"agent_id\":\"\","
                                                "\"sentiment\":0.25,\"topics\":[],"
                                                "\"keywords\":[],\"csat\":-1,\"nps\":-1,\"text\":"
                                                "\"thanks\",\"version\":1}\n"
                                                "{\"tenant_id\":\"" A "\",\"interaction_id\":\"" ID(
                                                    "a005") "\",\"external_id\":\"e5\","
                                                            "\"channel\":\"email\",\"occurred_at\":"
                                                            "\"2024-02-27 "
                                                            "12:00:00\",\"analyzed_at\":\"2024-02-"
                                                            "27 "
                                                            "12:00:00\",\"language\":\"en\","
                                                            "\"agent_id\":\"ag1\",\"sentiment\":0."
                                                            "2,\"topics\":[\"billing\"],"
                                                            "\"intent\":\"refund\",\"keywords\":["
                                                            "\"refund\"],\"csat\":-1,\"nps\":-1,"
                                                            "\"text\":\"refund "
                                                            "please\",\"version\":1}\n"
                                                            "{\"tenant_id\":\"" B
                                                            "\",\"interaction_id\":\"" ID(
                                                                "b001") "\",\"external_id\":\"e1\","
                                                                        "\"channel\":\"call\","
                                                                        "\"occurred_at\":\"2024-03-"
                                                                        "04 "
                                                                        "10:00:00\",\"analyzed_"
                                                                        "at\":\"2024-03-04 "
                                                                        "10:00:00\",\"language\":"
                                                                        "\"en\",\"agent_id\":"
                                                                        "\"ag1\",\"sentiment\":-0."
                                                                        "9,\"topics\":[\"billing\"]"
                                                                        ","
                                                                        "\"keywords\":[\"secret\"],"
                                                                        "\"csat\":1,\"nps\":0,"
                                                                        "\"text\":\"tenant b "
                                                                        "secret invoice\","
                                                                        "\"version\":1}\n";

static const char *UTTERANCES = "{\"tenant_id\":\"" A "\",\"interaction_id\":\"" ID(
    "a001") "\",\"occurred_at\":\"2024-03-04 "
            "10:15:00\",\"seq\":1,\"speaker\":\"agent\",\"start_ms\":3000,\"end_ms\":5000,\"text\":"
            "\"Sure\","
            "\"sentiment\":0.25,\"version\":1}\n"
            "{\"tenant_id\":\"" A "\",\"interaction_id\":\"" ID(
                "a001") "\",\"occurred_at\":\"2024-03-04 "
                        "10:15:00\",\"seq\":0,\"speaker\":\"customer\",\"start_ms\":0,\"end_ms\":"
                        "2500,\"text\":\"I "
                        "want a refund, [EMAIL]\",\"sentiment\":0.5,\"version\":1}\n"
                        "{\"tenant_id\":\"" B "\",\"interaction_id\":\"" ID(
                            "b001") "\",\"occurred_at\":\"2024-03-04 "
                                    "10:00:00\",\"seq\":0,\"speaker\":\"customer\",\"start_ms\":0,"
                                    "\"end_ms\":1000,\"text\":\"b\","
                                    "\"sentiment\":0,\"version\":1}\n";

static int setup(void **state)
{
    (void)state;
    if (aq_ctx_init(&ctx, NULL) != 0)
        return -1;
    ctx.ch = sptest_ch_create("t_aq", dbname);
    ctx.redis = sptest_redis_pool(4);
    router = sp_router_new();
    if (!ctx.ch || !ctx.redis || !router)
        return -1;
    if (aq_overview_register(router, &ctx) || aq_timeseries_register(router, &ctx) ||
        aq_breakdowns_register(router, &ctx) || aq_interactions_register(router, &ctx) ||
        aq_export_register(router, &ctx))
        return -1;
    sptest_ch_exec(ctx.ch, "INSERT INTO interactions FORMAT JSONEachRow", FIXTURE);
    sptest_ch_exec(ctx.ch, "INSERT INTO utterances FORMAT JSONEachRow", UTTERANCES);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sptest_ch_drop(dbname);
    if (ctx.redis) {
        sptest_redis_del_matching(ctx.redis, "sp:analytics:*" A "*");
        sptest_redis_del_matching(ctx.redis, "sp:analytics:*" B "*");
        sp_redis_cache_del(ctx.redis, "sp:tenant:" A);
    }
    sp_router_destroy(&router);
    sp_ch_destroy(&ctx.ch);
    sp_redis_pool_destroy(&ctx.redis);
    aq_ctx_cleanup(&ctx);
    return 0;
}

/* ---- calling the routes ---------------------------------------------------------- */

/* GET target as a caller of tenant with one scope; every route answers
 * before returning. */
static __attribute__((unused)) sptest_resp_t call_as(const char *target, const char *tenant,
                                                     const char *scope)
{
    const char *const scopes[] = {scope, NULL};
    sptest_caller_t who = {.tenant_id = tenant, .subject = "test", .scopes = scopes};
    sptest_resp_t r = sptest_call(router, &who, "GET", target, NULL, NULL);
    assert_int_equal(r.dispatch, SP_HANDLER_DONE);
    return r;
}

/* GET target as an analyst of tenant A. */
static __attribute__((unused)) sptest_resp_t call(const char *target)
{
    return call_as(target, A, "analytics:read");
}

/* A header of the answer, "" when absent. */
static __attribute__((unused)) const char *hdr(const sptest_resp_t *r, const char *name)
{
    const char *v = sptest_resp_header(r, name);
    return v ? v : "";
}

#define WEEK "from=2024-03-04&to=2024-03-10"

#endif
