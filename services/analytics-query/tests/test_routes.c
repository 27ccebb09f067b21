/*
 * test_routes.c — every analytics route against a real ClickHouse
 * (SERPHONA_TEST_CH_URL, a private database with the schema of
 * deploy/clickhouse) and Redis (SERPHONA_TEST_REDIS_PORT): exact KPIs of a
 * hand-computed fixture, sources, timezone buckets, tenant isolation,
 * hostile inputs that reach ClickHouse quoted, the cache and its
 * invalidation by analysis events, pagination, export chunks, timeouts.
 */
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
#include "platform/ch_migrate.h"
#include "platform/error.h"
#include "platform/log.h"
#include "platform/rpc.h"
#include "tenant.pb-c.h"

#define A     "aaaaaaaa-0000-4000-8000-0000000000a0"
#define B     "bbbbbbbb-0000-4000-8000-0000000000b0"
#define ID(n) "00000000-0000-4000-8000-00000000" n

static char dbname[64];
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

static const char *env_or_die(const char *name)
{
    const char *v = getenv(name);
    if (!v) {
        fprintf(stderr, "%s is not set (tests/run-all.sh sets it)\n", name);
        exit(1);
    }
    return v;
}

static void ch_run(const char *sql, const char *body)
{
    char *out = NULL;
    int rc = sp_ch_exec(ctx.ch, sql, body, body ? strlen(body) : 0, &out, NULL);
    if (rc != 0)
        fail_msg("ClickHouse: %s failed: %s", sql, sp_strerror(rc));
    free(out);
}

static void redis_del_prefix(const char *pattern)
{
    const char *keys[] = {"KEYS", pattern};
    redisReply *r = NULL;
    assert_int_equal(sp_redis_command(ctx.redis, &r, 2, keys, NULL), 0);
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
        sp_redis_cache_del(ctx.redis, r->element[i]->str);
    freeReplyObject(r);
}

static int setup(void **state)
{
    (void)state;
    const char *url = env_or_die("SERPHONA_TEST_CH_URL");
    int port = (int)strtol(env_or_die("SERPHONA_TEST_REDIS_PORT"), NULL, 10);
    snprintf(dbname, sizeof dbname, "t_aq_%d_%ld", (int)getpid(), (long)time(NULL));
    if (sp_ch_migrate(url, NULL, NULL, dbname, "deploy/clickhouse") != 0)
        return -1;
    if (aq_ctx_init(&ctx, NULL) != 0)
        return -1;
    ctx.ch = sp_ch_new(url, dbname, NULL, NULL);
    ctx.redis = sp_redis_pool_new("127.0.0.1", port, NULL, 4, 2000);
    router = sp_router_new();
    if (!ctx.ch || !ctx.redis || !router)
        return -1;
    if (aq_overview_register(router, &ctx) || aq_timeseries_register(router, &ctx) ||
        aq_breakdowns_register(router, &ctx) || aq_interactions_register(router, &ctx) ||
        aq_export_register(router, &ctx))
        return -1;
    ch_run("INSERT INTO interactions FORMAT JSONEachRow", FIXTURE);
    ch_run("INSERT INTO utterances FORMAT JSONEachRow", UTTERANCES);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sp_ch_t *admin = sp_ch_new(env_or_die("SERPHONA_TEST_CH_URL"), NULL, NULL, NULL);
    char sql[128];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", dbname);
    sp_ch_exec(admin, sql, NULL, 0, NULL, NULL);
    sp_ch_destroy(&admin);
    redis_del_prefix("sp:analytics:*" A "*");
    redis_del_prefix("sp:analytics:*" B "*");
    sp_redis_cache_del(ctx.redis, "sp:tenant:" A);
    sp_router_destroy(&router);
    sp_ch_destroy(&ctx.ch);
    sp_redis_pool_destroy(&ctx.redis);
    aq_ctx_cleanup(&ctx);
    return 0;
}

/* ---- calling the routes ---------------------------------------------------------- */

typedef struct {
    int status;
    cJSON *json;     /* parsed body (JSON answers) */
    char *body;      /* the raw body */
    char cache[8];   /* X-Cache */
    char cursor[96]; /* X-Export-Next-Cursor */
    char ctype[64];
} answer_t;

static void answer_free(answer_t *a)
{
    cJSON_Delete(a->json);
    free(a->body);
    memset(a, 0, sizeof *a);
}

static answer_t call_as(const char *target, const char *tenant, const char *scope)
{
    answer_t a;
    memset(&a, 0, sizeof a);
    sp_request_t *req = sp_request_new();
    char *path = strdup(target), *q = strchr(path, '?');
    if (q)
        *q++ = '\0';
    sp_request_set_method(req, "GET");
    sp_request_set_path(req, path);
    sp_request_set_query(req, q ? q : "");
    const char *scopes[] = {scope};
    sp_auth_t auth = {.tenant_id = tenant, .subject = "test", .scopes = scopes, .n_scopes = 1};
    sp_request_set_auth(req, &auth);
    assert_int_equal(sp_router_dispatch(router, req), SP_HANDLER_DONE);
    sp_response_t *resp = sp_request_response(req);
    a.status = sp_response_status(resp);
    size_t len;
    const char *body = sp_response_body(resp, &len);
    a.body = strndup(body, len);
    a.json = cJSON_Parse(a.body);
    const char *h = sp_response_header(resp, "X-Cache");
    snprintf(a.cache, sizeof a.cache, "%s", h ? h : "");
    h = sp_response_header(resp, "X-Export-Next-Cursor");
    snprintf(a.cursor, sizeof a.cursor, "%s", h ? h : "");
    h = sp_response_header(resp, "Content-Type");
    snprintf(a.ctype, sizeof a.ctype, "%s", h ? h : "");
    sp_request_destroy(&req);
    free(path);
    return a;
}

static answer_t call(const char *target)
{
    return call_as(target, A, "analytics:read");
}

/* The node at path: dot-separated members and array indexes, e.g.
 * "kpis.nps.value" or "items.0.key"; NULL when absent. */
static const cJSON *node_at(const cJSON *root, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    const cJSON *cur = root;
    for (char *save = NULL, *t = strtok_r(buf, ".", &save); t && cur;
         t = strtok_r(NULL, ".", &save)) {
        if (t[0] >= '0' && t[0] <= '9')
            cur = cJSON_GetArrayItem(cur, (int)strtol(t, NULL, 10));
        else
            cur = cJSON_GetObjectItemCaseSensitive(cur, t);
    }
    /* cppcheck reads no system header, so it takes cJSON's getters for int. */
    /* cppcheck-suppress CastIntegerToAddressAtReturn */
    return cur;
}

/* The number at path; NAN for null; fails the test when missing. */
static double num_at(const cJSON *root, const char *path)
{
    const cJSON *cur = node_at(root, path);
    if (!cur)
        fail_msg("%s is missing", path);
    if (cJSON_IsNull(cur))
        return NAN;
    if (!cJSON_IsNumber(cur))
        fail_msg("%s is not a number", path);
    return cur ? cur->valuedouble : NAN;
}

static const char *str_at(const cJSON *root, const char *path)
{
    const cJSON *cur = node_at(root, path);
    return cur && cJSON_IsString(cur) ? cur->valuestring : "<none>";
}

static const char *error_code(const answer_t *a)
{
    return str_at(a->json, "error.code");
}

#define WEEK "from=2024-03-04&to=2024-03-10"

/* ---- tests ------------------------------------------------------------------------- */

static void test_overview_exact_kpis(void **state)
{
    (void)state;
    answer_t a = call("/v1/analytics/overview?" WEEK);
    assert_int_equal(a.status, 200);
    assert_string_equal(str_at(a.json, "source"), "interactions_hourly_channel");
    assert_string_equal(str_at(a.json, "period.from"), "2024-03-04T00:00:00Z");
    assert_string_equal(str_at(a.json, "period.to"), "2024-03-11T00:00:00Z");
    assert_string_equal(str_at(a.json, "previous_period.from"), "2024-02-26T00:00:00Z");
    /* Current: a001..a004. Previous: a005. */
    assert_true(num_at(a.json, "kpis.volume.value") == 4);
    assert_true(num_at(a.json, "kpis.volume.previous") == 1);
    assert_true(num_at(a.json, "kpis.volume.change") == 3);
    assert_true(num_at(a.json, "kpis.volume.change_pct") == 300);
    assert_true(num_at(a.json, "kpis.sentiment_avg.value") == 0.0625); /* (0.5-0.5+0+0.25)/4 */
    assert_true(num_at(a.json, "kpis.sentiment_avg.previous") == 0.2);
    assert_true(num_at(a.json, "kpis.positive_share.value") == 0.5);  /* a001, a004 */
    assert_true(num_at(a.json, "kpis.negative_share.value") == 0.25); /* a002 */
    assert_true(num_at(a.json, "kpis.nps.value") == 0);               /* 10, 3, 8 */
    assert_true(isnan(num_at(a.json, "kpis.nps.previous")));
    assert_true(num_at(a.json, "kpis.csat_avg.value") == 4); /* 5, 3 */
    assert_true(num_at(a.json, "kpis.resolution_rate.value") == 0.5);
    assert_true(num_at(a.json, "kpis.escalation_rate.value") == 0.25);
    assert_true(num_at(a.json, "kpis.churn_risk_share.value") == 0);
    assert_true(num_at(a.json, "kpis.aht_seconds.value") == 90);
    assert_true(num_at(a.json, "kpis.silence_ratio.value") == 0.2);
    answer_free(&a);

    /* A topic filter reads the raw table for every KPI. */
    a = call("/v1/analytics/overview?" WEEK "&topic=billing");
    assert_int_equal(a.status, 200);
    assert_string_equal(str_at(a.json, "source"), "interactions");
    assert_true(num_at(a.json, "kpis.volume.value") == 2);
    assert_true(num_at(a.json, "kpis.volume.previous") == 1);
    assert_true(num_at(a.json, "kpis.sentiment_avg.value") == 0);
    assert_true(num_at(a.json, "kpis.nps.value") == 0); /* one promoter, one detractor */
    assert_true(num_at(a.json, "kpis.csat_avg.value") == 5);
    answer_free(&a);

    /* Channel + agent filters stay on the rollup that keeps agents. */
    a = call("/v1/analytics/overview?" WEEK "&channel=call,chat&agent=ag1");
    assert_string_equal(str_at(a.json, "source"), "interactions_hourly");
    assert_true(num_at(a.json, "kpis.volume.value") == 2);
    assert_true(num_at(a.json, "kpis.nps.value") == 0);
    answer_free(&a);
    /* Channel + language: the rollup without agents. */
    a = call("/v1/analytics/overview?" WEEK "&channel=call&language=en,pt");
    assert_string_equal(str_at(a.json, "source"), "interactions_hourly_channel");
    assert_true(num_at(a.json, "kpis.volume.value") == 2); /* a001, a003 */
    assert_true(num_at(a.json, "kpis.csat_avg.value") == 4);
    assert_true(num_at(a.json, "kpis.aht_seconds.value") == 90);
    answer_free(&a);
    a = call("/v1/analytics/overview?" WEEK "&escalated=true");
    assert_string_equal(str_at(a.json, "source"), "interactions");
    assert_true(num_at(a.json, "kpis.volume.value") == 1);
    assert_true(num_at(a.json, "kpis.nps.value") == -100);
    answer_free(&a);
}

/* Fails unless every KPI of answers x and y (current and previous period)
 * is the same. */
static void assert_same_kpis(const answer_t *x, const answer_t *y, const char *what)
{
    int n = 0;
    cJSON *k;
    cJSON_ArrayForEach(k, cJSON_GetObjectItem(x->json, "kpis"))
    {
        const char *fields[] = {"value", "previous"};
        for (int i = 0; i < 2; i++) {
            char p[96];
            snprintf(p, sizeof p, "kpis.%s.%s", k->string, fields[i]);
            double a = num_at(x->json, p), b = num_at(y->json, p);
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
    answer_t c = call("/v1/analytics/overview?" WEEK);
    answer_t w = call("/v1/analytics/overview?" WEEK "&sentiment_min=-1");
    assert_string_equal(str_at(c.json, "source"), "interactions_hourly_channel");
    assert_string_equal(str_at(w.json, "source"), "interactions");
    assert_same_kpis(&c, &w, "interactions_hourly_channel vs raw");
    answer_free(&c);
    answer_free(&w);
    /* An agent filter (ag1 and ag2: all but a004, which has no agent): the
     * agent rollup vs the raw table under the same filter. */
    answer_t h = call("/v1/analytics/overview?" WEEK "&agent=ag1,ag2");
    w = call("/v1/analytics/overview?" WEEK "&agent=ag1,ag2&sentiment_min=-1");
    assert_string_equal(str_at(h.json, "source"), "interactions_hourly");
    assert_string_equal(str_at(w.json, "source"), "interactions");
    assert_true(num_at(h.json, "kpis.volume.value") == 3);
    assert_same_kpis(&h, &w, "interactions_hourly vs raw");
    answer_free(&h);
    answer_free(&w);
    /* And the two rollups against each other under a channel filter. */
    c = call("/v1/analytics/overview?" WEEK "&channel=call,chat");
    h = call("/v1/analytics/overview?" WEEK "&channel=call,chat&agent=ag1,ag2");
    assert_string_equal(str_at(c.json, "source"), "interactions_hourly_channel");
    assert_string_equal(str_at(h.json, "source"), "interactions_hourly");
    assert_true(num_at(c.json, "kpis.volume.value") == 3);
    assert_same_kpis(&c, &h, "interactions_hourly_channel vs interactions_hourly");
    answer_free(&c);
    answer_free(&h);

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
    answer_t a = call("/v1/analytics/breakdown?" WEEK "&by=agent");
    assert_string_equal(str_at(a.json, "source"), "interactions_hourly");
    assert_true(num_at(a.json, "total") == 4);
    answer_free(&a);
    a = call("/v1/analytics/breakdown?" WEEK "&by=channel");
    assert_string_equal(str_at(a.json, "source"), "interactions_hourly_channel");
    assert_string_equal(str_at(a.json, "items.0.key"), "call");
    assert_true(num_at(a.json, "items.0.count") == 2);
    assert_true(num_at(a.json, "total") == 4);
    answer_free(&a);
    a = call("/v1/analytics/breakdown?" WEEK "&by=language&agent=ag1");
    assert_string_equal(str_at(a.json, "source"), "interactions_hourly");
    assert_string_equal(str_at(a.json, "items.0.key"), "en");
    assert_true(num_at(a.json, "items.0.count") == 2);
    assert_true(num_at(a.json, "total") == 2);
    answer_free(&a);
    a = call("/v1/analytics/timeseries?" WEEK "&metric=volume,csat_avg");
    assert_string_equal(str_at(a.json, "source"), "interactions_hourly_channel");
    assert_true(num_at(a.json, "points.0.volume") == 1);
    assert_true(num_at(a.json, "points.0.csat_avg") == 5);
    answer_free(&a);
    a = call("/v1/analytics/timeseries?" WEEK "&metric=volume&agent=ag2");
    assert_string_equal(str_at(a.json, "source"), "interactions_hourly");
    assert_true(num_at(a.json, "points.0.volume") == 0);
    assert_true(num_at(a.json, "points.2.volume") == 1); /* a003 on the 6th */
    answer_free(&a);
}

static void test_tenant_isolation(void **state)
{
    (void)state;
    answer_t a = call("/v1/analytics/overview?from=2024-03-04&to=2024-03-04");
    assert_true(num_at(a.json, "kpis.volume.value") == 1); /* B's row in the same hour is not A's */
    answer_free(&a);
    a = call_as("/v1/analytics/overview?from=2024-03-04&to=2024-03-04", B, "analytics:read");
    assert_true(num_at(a.json, "kpis.volume.value") == 1);
    assert_true(num_at(a.json, "kpis.sentiment_avg.value") == -0.9);
    answer_free(&a);
    a = call("/v1/analytics/keywords?" WEEK);
    assert_null(strstr(a.body, "secret"));
    answer_free(&a);
    a = call("/v1/analytics/interactions?" WEEK "&q=secret");
    assert_true(num_at(a.json, "total") == 0);
    answer_free(&a);
    a = call("/v1/analytics/interactions/" ID("b001"));
    assert_int_equal(a.status, 404);
    assert_string_equal(error_code(&a), "interaction_not_found");
    answer_free(&a);
    a = call_as("/v1/analytics/interactions/" ID("b001"), B, "analytics:read");
    assert_int_equal(a.status, 200);
    answer_free(&a);
    /* No tenant, no analytics, whatever the permissions. */
    a = call_as("/v1/analytics/overview", NULL, "analytics:read");
    assert_int_equal(a.status, 403);
    assert_string_equal(error_code(&a), "tenant_required");
    answer_free(&a);
    a = call_as("/v1/analytics/overview", "not-a-uuid", "analytics:read");
    assert_int_equal(a.status, 403);
    answer_free(&a);
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
        answer_t a = call(attempts[i]);
        if (a.status != 200)
            fail_msg("%s -> %d %s", attempts[i], a.status, a.body);
        if (cJSON_GetObjectItem(a.json, "kpis"))
            assert_true(num_at(a.json, "kpis.volume.value") == 0);
        if (cJSON_GetObjectItem(a.json, "total") && !cJSON_GetObjectItem(a.json, "by"))
            assert_true(num_at(a.json, "total") == 0);
        answer_free(&a);
    }
    /* Still there. */
    answer_t a = call("/v1/analytics/overview?" WEEK);
    assert_true(num_at(a.json, "kpis.volume.value") == 4);
    answer_free(&a);
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
        answer_t r = call_as(refused[i], A,
                             strstr(refused[i], "export") ? "analytics:export" : "analytics:read");
        if (r.status != 400)
            fail_msg("%s -> %d %s", refused[i], r.status, r.body);
        answer_free(&r);
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
    answer_t a = call("/v1/analytics/timeseries?" WEEK "&metric=volume,sentiment_avg");
    assert_int_equal(a.status, 200);
    assert_string_equal(str_at(a.json, "timezone"), "UTC"); /* no tenant-manager here */
    cJSON *pts = cJSON_GetObjectItem(a.json, "points");
    assert_int_equal(cJSON_GetArraySize(pts), 7);
    assert_string_equal(str_at(a.json, "points.0.bucket"), "2024-03-04");
    assert_true(num_at(a.json, "points.0.volume") == 1);
    assert_true(num_at(a.json, "points.1.volume") == 0); /* zero-filled */
    assert_true(isnan(num_at(a.json, "points.1.sentiment_avg")));
    assert_true(num_at(a.json, "points.2.volume") == 2); /* a002 01:30Z and a003 on the 6th */
    assert_true(num_at(a.json, "points.3.volume") == 1);
    answer_free(&a);

    set_tenant_zone(A, "America/Sao_Paulo");
    a = call("/v1/analytics/timeseries?" WEEK "&metric=volume");
    assert_int_equal(a.status, 200);
    assert_string_equal(str_at(a.json, "timezone"), "America/Sao_Paulo");
    /* Local midnights: 03:00Z. */
    assert_string_equal(str_at(a.json, "period.from"), "2024-03-04T03:00:00Z");
    assert_string_equal(str_at(a.json, "period.to"), "2024-03-11T03:00:00Z");
    assert_true(num_at(a.json, "points.1.volume") == 1); /* a002 is the 5th there */
    assert_true(num_at(a.json, "points.2.volume") == 1);
    assert_true(num_at(a.json, "points.3.volume") == 1); /* a004 23:00Z = 20:00 on the 7th */
    answer_free(&a);

    a = call("/v1/analytics/timeseries?from=2024-02-01&to=2024-03-31&interval=week&metric=volume");
    cJSON *w = cJSON_GetObjectItem(a.json, "points");
    assert_int_equal(cJSON_GetArraySize(w), 9); /* Jan 29 .. Mar 25 */
    assert_string_equal(str_at(a.json, "points.0.bucket"), "2024-01-29");
    assert_string_equal(str_at(a.json, "points.4.bucket"), "2024-02-26");
    assert_true(num_at(a.json, "points.4.volume") == 1);
    assert_true(num_at(a.json, "points.5.volume") == 4);
    answer_free(&a);
    a = call("/v1/analytics/timeseries?from=2024-01-15&to=2024-03-31&interval=month"
             "&metric=nps,volume&topic=billing");
    assert_string_equal(str_at(a.json, "source"), "interactions");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(a.json, "points")), 3);
    assert_string_equal(str_at(a.json, "points.2.bucket"), "2024-03-01");
    assert_true(num_at(a.json, "points.2.volume") == 2);
    assert_true(num_at(a.json, "points.2.nps") == 0);
    assert_string_equal(str_at(a.json, "metrics.0"), "nps");
    answer_free(&a);
    a = call("/v1/analytics/timeseries?" WEEK "&metric=volume,negative_share&topic=billing");
    assert_string_equal(str_at(a.json, "source"), "topics_hourly");
    assert_true(num_at(a.json, "points.1.negative_share") == 1);
    answer_free(&a);
    sp_redis_cache_del(ctx.redis, "sp:tenant:" A);
}

static void test_breakdowns_keywords_movers(void **state)
{
    (void)state;
    answer_t a = call("/v1/analytics/breakdown?" WEEK "&by=topic");
    assert_int_equal(a.status, 200);
    assert_string_equal(str_at(a.json, "source"), "topics_hourly");
    assert_true(num_at(a.json, "total") == 4);
    assert_string_equal(str_at(a.json, "items.0.key"), "billing");
    assert_true(num_at(a.json, "items.0.count") == 2);
    assert_true(num_at(a.json, "items.0.share") == 0.5);
    assert_true(num_at(a.json, "items.0.negative_share") == 0.5);
    assert_string_equal(str_at(a.json, "items.1.key"), "complaint");
    answer_free(&a);
    a = call("/v1/analytics/breakdown?" WEEK "&by=agent&limit=1");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(a.json, "items")), 1);
    assert_string_equal(str_at(a.json, "items.0.key"), "ag1");
    assert_string_equal(str_at(a.json, "items.0.name"), "Ana");
    assert_true(num_at(a.json, "items.0.count") == 2);
    assert_true(num_at(a.json, "total") == 4);
    answer_free(&a);
    a = call("/v1/analytics/breakdown?" WEEK "&by=intent&language=en");
    assert_string_equal(str_at(a.json, "source"), "interactions");
    assert_true(num_at(a.json, "total") == 3);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(a.json, "items")), 3);
    answer_free(&a);
    a = call("/v1/analytics/breakdown?" WEEK "&by=channel&topic=billing");
    assert_string_equal(str_at(a.json, "source"), "topics_hourly");
    assert_true(num_at(a.json, "total") == 2);
    assert_true(num_at(a.json, "items.0.share") == 0.5);
    answer_free(&a);
    a = call("/v1/analytics/breakdown?from=2025-01-01&to=2025-01-02&by=language");
    assert_int_equal(a.status, 200);
    assert_true(num_at(a.json, "total") == 0);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(a.json, "items")), 0);
    answer_free(&a);

    a = call("/v1/analytics/keywords?" WEEK);
    assert_string_equal(str_at(a.json, "items.0.keyword"), "invoice");
    assert_true(num_at(a.json, "items.0.count") == 2);
    assert_true(num_at(a.json, "items.0.share") == 0.5);
    assert_true(num_at(a.json, "items.0.sentiment_avg") == 0);
    assert_true(num_at(a.json, "total") == 4);
    answer_free(&a);

    a = call("/v1/analytics/movers?" WEEK "&min_volume=1");
    assert_string_equal(str_at(a.json, "items.0.topic"), "billing");
    assert_true(num_at(a.json, "items.0.volume.value") == 2);
    assert_true(num_at(a.json, "items.0.volume.previous") == 1);
    assert_string_equal(str_at(a.json, "items.0.direction"), "up");
    answer_free(&a);
    a = call("/v1/analytics/movers?" WEEK "&min_volume=1&by=sentiment");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(a.json, "items")), 1);
    assert_true(num_at(a.json, "items.0.sentiment_avg.change") == -0.2);
    assert_string_equal(str_at(a.json, "items.0.direction"), "down");
    answer_free(&a);
    a = call("/v1/analytics/movers?" WEEK "&min_volume=3");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(a.json, "items")), 0);
    answer_free(&a);
}

static void test_list_search_sort_paginate(void **state)
{
    (void)state;
    answer_t a = call("/v1/analytics/interactions?" WEEK);
    assert_int_equal(a.status, 200);
    assert_true(num_at(a.json, "total") == 4);
    assert_string_equal(str_at(a.json, "items.0.id"), ID("a004")); /* newest first */
    assert_true(isnan(num_at(a.json, "items.0.csat")));
    assert_true(isnan(num_at(a.json, "next_offset")));
    answer_free(&a);
    /* Case- and accent-safe search over the redacted text. */
    a = call("/v1/analytics/interactions?" WEEK "&q=pacote");
    assert_true(num_at(a.json, "total") == 1);
    assert_string_equal(str_at(a.json, "items.0.id"), ID("a003"));
    assert_string_equal(str_at(a.json, "items.0.snippet"), "Onde está o meu PACOTE?");
    answer_free(&a);
    a = call("/v1/analytics/interactions?" WEEK "&q=EST%C3%81");
    assert_true(num_at(a.json, "total") == 1);
    answer_free(&a);
    a = call("/v1/analytics/interactions?" WEEK "&sort=sentiment&order=asc&limit=2");
    assert_string_equal(str_at(a.json, "items.0.id"), ID("a002"));
    assert_string_equal(str_at(a.json, "items.1.id"), ID("a003"));
    assert_true(num_at(a.json, "next_offset") == 2);
    answer_free(&a);
    a = call("/v1/analytics/interactions?" WEEK "&sort=duration&order=desc&limit=1&offset=1");
    assert_string_equal(str_at(a.json, "items.0.id"), ID("a003"));
    answer_free(&a);
    /* Pages of one cover everything exactly once. */
    char seen[4][40] = {{0}};
    for (int off = 0; off < 4; off++) {
        char url[160];
        snprintf(url, sizeof url, "/v1/analytics/interactions?" WEEK "&limit=1&offset=%d", off);
        a = call(url);
        snprintf(seen[off], sizeof seen[off], "%s", str_at(a.json, "items.0.id"));
        for (int j = 0; j < off; j++)
            assert_string_not_equal(seen[j], seen[off]);
        answer_free(&a);
    }
    a = call("/v1/analytics/interactions?" WEEK "&resolved=true&channel=call&language=pt");
    assert_true(num_at(a.json, "total") == 1);
    answer_free(&a);
}

static void test_detail(void **state)
{
    (void)state;
    answer_t a = call("/v1/analytics/interactions/" ID("a001"));
    assert_int_equal(a.status, 200);
    assert_string_equal(str_at(a.json, "text"), "I want a refund for my invoice [EMAIL]");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(a.json, "transcript")), 2);
    assert_string_equal(str_at(a.json, "transcript.0.speaker"), "customer");
    assert_string_equal(str_at(a.json, "transcript.0.text"), "I want a refund, [EMAIL]");
    assert_true(num_at(a.json, "transcript.1.start_ms") == 3000);
    assert_true(num_at(a.json, "csat") == 5);
    assert_string_equal(str_at(a.json, "agent.name"), "Ana");
    answer_free(&a);
    a = call("/v1/analytics/interactions/" ID("ffff"));
    assert_int_equal(a.status, 404);
    answer_free(&a);
    a = call("/v1/analytics/interactions/not-an-id");
    assert_int_equal(a.status, 400);
    assert_string_equal(error_code(&a), "invalid_id");
    answer_free(&a);
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
    answer_t a = call(url);
    assert_string_equal(a.cache, "miss");
    answer_free(&a);
    a = call(url);
    assert_string_equal(a.cache, "hit");
    assert_true(num_at(a.json, "kpis.volume.value") == 2);
    answer_free(&a);
    /* Same query spelled differently (the date `to` includes its day): same
     * entry. */
    a = call("/v1/analytics/overview?channel=call&to=2024-03-10T00:00:00Z&from=2024-03-01");
    assert_string_equal(a.cache, "hit");
    answer_free(&a);

    /* A new analysed interaction lands (outside the week the later tests
     * use): the cache still says 2 until the event arrives, then it is
     * dropped. */
    ch_run("INSERT INTO interactions FORMAT JSONEachRow",
           "{\"tenant_id\":\"" A "\",\"interaction_id\":\"" ID(
               "a009") "\",\"channel\":\"call\","
                       "\"occurred_at\":\"2024-03-02 "
                       "09:00:00\",\"sentiment\":0.5,\"csat\":-1,\"nps\":-1,"
                       "\"version\":1}\n");
    a = call(url);
    assert_string_equal(a.cache, "hit");
    assert_true(num_at(a.json, "kpis.volume.value") == 2);
    answer_free(&a);
    /* Other tenants' events, other types, stale events change nothing. */
    assert_int_equal(deliver("analysis.completed", B, 0), 0);
    assert_int_equal(deliver("interaction.recorded", A, 0), 0);
    assert_int_equal(deliver("analysis.completed", A, 3600 * 1000), 0);
    assert_int_equal(deliver("analysis.completed", "garbage", 0), 0);
    a = call(url);
    assert_string_equal(a.cache, "hit");
    answer_free(&a);
    assert_int_equal(deliver("analysis.completed", A, 0), 0);
    a = call(url);
    assert_string_equal(a.cache, "miss");
    assert_true(num_at(a.json, "kpis.volume.value") == 3);
    answer_free(&a);
    /* The list is never cached. */
    a = call("/v1/analytics/interactions?from=2024-03-01&to=2024-03-09");
    assert_string_equal(a.cache, "");
    answer_free(&a);
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
    answer_t a = call_as("/v1/analytics/export.csv?" WEEK, A, "analytics:read");
    assert_int_equal(a.status, 403); /* export needs analytics:export */
    answer_free(&a);

    a = call_as("/v1/analytics/export.csv?" WEEK, A, "analytics:export");
    assert_int_equal(a.status, 200);
    assert_string_equal(a.ctype, "text/csv; charset=utf-8");
    assert_string_equal(a.cursor, "");
    assert_non_null(strstr(a.body, "id,occurred_at,external_id,channel"));
    /* The formula guard and quote doubling on a002's text. */
    assert_non_null(strstr(a.body, ",\"'=cmd| terrible, \"\"wrong\"\" invoice\"\r\n"));
    assert_null(strstr(a.body, "secret"));
    char all[8][40];
    assert_int_equal(csv_ids(a.body, all, 8), 4);
    answer_free(&a);

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
            int n = csv_ids(a.body, ids, 4);
            for (int i = 0; i < n; i++) {
                assert_true(got < 4);
                assert_string_equal(ids[i], all[got]);
                got++;
            }
            snprintf(cursor, sizeof cursor, "%s", a.cursor);
            answer_free(&a);
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
    sp_log_init("test_routes", SP_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_overview_exact_kpis),
        cmocka_unit_test(test_rollup_and_raw_agree),
        cmocka_unit_test(test_agent_dimension_picks_the_agent_rollup),
        cmocka_unit_test(test_tenant_isolation),
        cmocka_unit_test(test_hostile_inputs_reach_clickhouse_quoted),
        cmocka_unit_test(test_timeseries_buckets_in_tenant_zone),
        cmocka_unit_test(test_breakdowns_keywords_movers),
        cmocka_unit_test(test_list_search_sort_paginate),
        cmocka_unit_test(test_detail),
        cmocka_unit_test(test_cache_and_invalidation),
        cmocka_unit_test(test_export_chunks),
        cmocka_unit_test(test_query_timeout),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
