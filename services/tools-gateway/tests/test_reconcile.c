/*
 * test_reconcile.c — accepted => analysed, in-process against the unit
 * stack's PostgreSQL and dev Kafka broker: the backlog measured from the
 * broker (events_admin.h) and the 503 it causes, the ledger's copy of each
 * accepted interaction until the processor reports it, the reconciler's
 * re-publish from that copy, the reports read from the processor's events
 * (analysis.completed, dead letters), and the operators' report.
 *
 * Needs SERPHONA_TEST_PG_URL, SERPHONA_TEST_PG_OWNER_URL,
 * SERPHONA_TEST_REDIS_PORT and SERPHONA_TEST_KAFKA_BROKERS (tests/with-stack.sh).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/backlog.h"
#include "../src/interaction.h"
#include "../src/interactions.h"
#include "../src/ledger.h"
#include "../src/ledger_events.h"
#include "../src/partner_auth.h"
#include "../src/publisher.h"
#include "../src/reconciler.h"
#include "../src/reconciliation.h"
#include "../src/tg.h"
#include "platform/clock.h"
#include "platform/crypto.h"
#include "platform/error.h"
#include "platform/events_admin.h"
#include "platform/log.h"
#include "platform/permissions.h"

#define MIGRATIONS "services/tools-gateway/migrations"
#define WHEN       "\"occurred_at\":\"2024-05-01T10:00:00Z\""

static tg_t T;
static sp_config_t *CFG;
static char TOPIC[128], RUN[9];
static char TENANT[SP_UUID_STR_LEN];
static const char *BROKERS;

/* ---- requests ---------------------------------------------------------------- */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
} waiter_t;

static void on_complete(sp_request_t *req, void *ud)
{
    (void)req;
    waiter_t *w = ud;
    pthread_mutex_lock(&w->mu);
    w->done = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

typedef struct {
    int status;
    cJSON *json;
    char retry_after[16];
} resp_t;

/* Dispatches on the service's router as a caller of tenant (NULL: an
 * operator) with role, waiting for a suspended request. */
static resp_t call(const char *tenant, const char *role, const char *method, const char *path,
                   const char *body)
{
    sp_request_t *req = sp_request_new();
    assert_non_null(req);
    const char *q = strchr(path, '?');
    char pathbuf[256];
    snprintf(pathbuf, sizeof(pathbuf), "%.*s", q ? (int)(q - path) : (int)strlen(path), path);
    assert_int_equal(sp_request_set_method(req, method), 0);
    assert_int_equal(sp_request_set_path(req, pathbuf), 0);
    if (q)
        assert_int_equal(sp_request_set_query(req, q + 1), 0);
    if (body)
        assert_int_equal(sp_request_set_body(req, body, strlen(body)), 0);
    const char *roles[1] = {role};
    sp_auth_t auth = {.tenant_id = tenant,
                      .subject = "00000000-0000-4000-8000-000000000001",
                      .roles = roles,
                      .n_roles = 1};
    assert_int_equal(sp_request_set_auth(req, &auth), 0);
    waiter_t w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    sp_request_on_complete(req, on_complete, &w);
    if (sp_router_dispatch(T.router, req) == SP_HANDLER_ASYNC) {
        pthread_mutex_lock(&w.mu);
        while (!w.done)
            pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
    }
    sp_response_t *resp = sp_request_response(req);
    resp_t out = {.status = sp_response_status(resp)};
    size_t len = 0;
    const char *text = sp_response_body(resp, &len);
    out.json = len ? cJSON_ParseWithLength(text, len) : NULL;
    const char *ra = sp_response_header(resp, "Retry-After");
    snprintf(out.retry_after, sizeof(out.retry_after), "%s", ra ? ra : "");
    sp_request_destroy(&req);
    return out;
}

static const char *err_code(const resp_t *r)
{
    const cJSON *c = cJSON_GetObjectItem(cJSON_GetObjectItem(r->json, "error"), "code");
    return cJSON_IsString(c) ? c->valuestring : "";
}

/* One value of a query over the tenant's ledger rows, as a long. */
static long ledger_num(const char *sql, const char *param)
{
    sp_db_tx_t *tx = NULL;
    PGresult *res = NULL;
    const char *params[] = {param};
    assert_int_equal(sp_db_tx_begin(T.db, TENANT, &tx), 0);
    assert_int_equal(sp_db_tx_query(tx, sql, param ? 1 : 0, param ? params : NULL, &res), 0);
    assert_int_equal(sp_db_tx_commit(&tx), 0);
    long v = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return v;
}

static void ledger_exec(const char *sql)
{
    sp_db_tx_t *tx = NULL;
    assert_int_equal(sp_db_tx_begin(T.db, TENANT, &tx), 0);
    assert_int_equal(sp_db_tx_query(tx, sql, 0, NULL, NULL), 0);
    assert_int_equal(sp_db_tx_commit(&tx), 0);
}

/* ---- the topic ------------------------------------------------------------------ */

typedef struct {
    char id[SP_UUID_STR_LEN];
    int n, keyed_by_id;
} seen_t;

static int on_event(const sp_events_message_t *msg, void *ud)
{
    seen_t *seen = ud;
    const Serphona__Events__V1__Event *ev = msg->event;
    if (!ev || strcmp(ev->type, "interaction.recorded") != 0)
        return 0;
    Serphona__Interactions__V1__Interaction *ix =
        serphona__interactions__v1__interaction__unpack(NULL, ev->payload.len, ev->payload.data);
    if (ix && strcmp(ix->interaction_id, seen->id) == 0) {
        seen->n++;
        seen->keyed_by_id += msg->key_len == 36 && memcmp(msg->key, seen->id, 36) == 0;
    }
    serphona__interactions__v1__interaction__free_unpacked(ix, NULL);
    return 0;
}

/* How often interaction id is on the topic (read from the start by a new
 * group until quiet_ms passed without a message, after the first one). */
static seen_t count_on_topic(const char *id, int quiet_ms)
{
    static int groups;
    seen_t seen = {0};
    snprintf(seen.id, sizeof(seen.id), "%s", id);
    char group[64];
    snprintf(group, sizeof(group), "tgreco-%s-%d", RUN, groups++);
    const char *topics[] = {TOPIC};
    sp_events_consumer_t *c = sp_events_consumer_new(BROKERS, group, topics, 1, on_event, &seen);
    assert_non_null(c);
    int64_t last = 0, start = sp_clock_mono_ms();
    while ((!last || sp_clock_mono_ms() - last < quiet_ms) && sp_clock_mono_ms() - start < 30000)
        if (sp_events_consumer_poll_once(c, 100) == 1)
            last = sp_clock_mono_ms();
    sp_events_consumer_destroy(&c);
    return seen;
}

/* ---- tests ---------------------------------------------------------------------- */

static void test_lag_is_read_from_the_broker(void **state)
{
    (void)state;
    sp_events_admin_t *admin = sp_events_admin_new(BROKERS, "nobody-consumes-this");
    assert_non_null(admin);
    int64_t before = -1, after = -1;
    int parts = 0, rc;
    assert_int_equal(sp_events_admin_group_lag(admin, TOPIC, 5000, &before, &parts), 0);
    assert_true(parts >= 1);
    for (int i = 0; i < 5; i++) {
        Serphona__Events__V1__Event ev = SERPHONA__EVENTS__V1__EVENT__INIT;
        sp_events_event_init(&ev, "warm.up", TENANT, "{}", 2, NULL);
        char key[16];
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(sp_events_publish_sync(T.producer, TOPIC, key, &ev, 10000), 0);
        sp_events_event_cleanup(&ev);
    }
    assert_int_equal(sp_events_admin_group_lag(admin, TOPIC, 5000, &after, NULL), 0);
    assert_int_equal(after - before, 5);
    int64_t lag = -1;
    rc = sp_events_admin_group_lag(admin, "no-such-topic-anywhere", 2000, &lag, &parts);
    /* The mock broker creates an unknown topic on any metadata request. */
    assert_true(rc == SP_ENOTFOUND || (rc == 0 && lag == 0));
    sp_events_admin_destroy(&admin);
    assert_null(admin);
}

static void test_backlog_over_the_bound_is_503(void **state)
{
    (void)state;
    /* A group that never consumes: its lag is everything on the topic. */
    T.backlog = tg_backlog_new(BROKERS, "nobody-consumes-this", TOPIC, 2, 100);
    assert_non_null(T.backlog);
    assert_int_equal(tg_backlog_start(T.backlog), 0);
    int64_t t0 = sp_clock_mono_ms();
    while (!tg_backlog_over(T.backlog) && sp_clock_mono_ms() - t0 < 10000)
        usleep(50000);
    assert_true(tg_backlog_value(T.backlog) > 2);
    resp_t r = call(TENANT, "owner", "POST", "/v1/ingest/interactions",
                    "[{\"external_id\":\"bp-1\",\"channel\":\"review\"," WHEN ",\"rating\":3}]");
    assert_int_equal(r.status, 503);
    assert_string_equal(err_code(&r), "ingestion_backlog");
    assert_string_equal(r.retry_after, "2");
    cJSON_Delete(r.json);
    /* Nothing of the refused batch was recorded. */
    assert_int_equal(ledger_num("SELECT count(*) FROM tools.ingested_interactions "
                                "WHERE external_id = 'bp-1'",
                                NULL),
                     0);
    tg_backlog_destroy(&T.backlog);
    r = call(TENANT, "owner", "POST", "/v1/ingest/interactions",
             "[{\"external_id\":\"bp-1\",\"channel\":\"review\"," WHEN ",\"rating\":3}]");
    assert_int_equal(r.status, 202);
    cJSON_Delete(r.json);
}

static void test_ledger_keeps_the_payload_until_analysed(void **state)
{
    (void)state;
    resp_t r = call(TENANT, "owner", "POST", "/v1/ingest/interactions",
                    "[{\"external_id\":\"keep-1\",\"channel\":\"chat\"," WHEN
                    ",\"utterances\":[{\"speaker\":\"customer\",\"text\":\"hello\"}]},"
                    "{\"external_id\":\"keep-2\",\"channel\":\"review\"," WHEN ",\"rating\":5}]");
    assert_int_equal(r.status, 202);
    cJSON_Delete(r.json);
    char id1[SP_UUID_STR_LEN], id2[SP_UUID_STR_LEN];
    tg_interaction_id(TENANT, "keep-1", id1);
    tg_interaction_id(TENANT, "keep-2", id2);
    assert_int_equal(ledger_num("SELECT count(*) FROM tools.ingested_interactions WHERE "
                                "external_id IN ('keep-1', 'keep-2') AND state = 'pending' "
                                "AND length(payload) > 0",
                                NULL),
                     2);
    /* The processor's reports, as the consumer reads them. */
    char body[512], tenant[37], id[37];
    const char *st = NULL;
    snprintf(body, sizeof(body),
             "{\"interaction_id\":\"%s\",\"tenant_id\":\"%s\",\"external_id\":\"keep-1\"}", id1,
             TENANT);
    assert_int_equal(
        tg_ledger_event_parse("analysis.completed", body, strlen(body), tenant, id, &st), 1);
    assert_string_equal(id, id1);
    assert_string_equal(tenant, TENANT);
    assert_string_equal(st, "analysed");
    assert_int_equal(tg_ledger_event_parse("usage.recorded", body, strlen(body), tenant, id, &st),
                     0);

    /* A dead letter carries the original record. */
    Serphona__Interactions__V1__Interaction ix = SERPHONA__INTERACTIONS__V1__INTERACTION__INIT;
    ix.interaction_id = id2;
    ix.tenant_id = TENANT;
    uint8_t packed[256];
    size_t plen = protobuf_c_message_pack(&ix.base, packed);
    Serphona__Events__V1__Event ev = SERPHONA__EVENTS__V1__EVENT__INIT;
    assert_int_equal(sp_events_event_init(&ev, "interaction.recorded", TENANT, packed, plen,
                                          "application/x-protobuf"),
                     0);
    uint8_t env[1024];
    size_t elen = protobuf_c_message_pack(&ev.base, env);
    sp_events_event_cleanup(&ev);
    char b64[2048];
    assert_int_equal(sp_base64url_encode(env, elen, b64, sizeof(b64), NULL), 0);
    char dead[2600];
    snprintf(dead, sizeof(dead), "{\"reason\":\"invalid_value\",\"original_b64url\":\"%s\"}", b64);
    assert_int_equal(
        tg_ledger_event_parse("interaction.rejected", dead, strlen(dead), tenant, id, &st), 1);
    assert_string_equal(id, id2);
    assert_string_equal(st, "dead_lettered");

    char rows[512];
    snprintf(rows, sizeof(rows),
             "[[\"%s\",\"%s\",\"analysed\"],[\"%s\",\"%s\",\"dead_lettered\"],"
             "[\"%s\",\"%s\",\"analysed\"]]",
             TENANT, id1, TENANT, id2, TENANT, id1);
    long analysed = 0, dl = 0;
    assert_int_equal(tg_ledger_settle(T.db, rows, &analysed, &dl), 0);
    assert_int_equal(analysed, 1);
    assert_int_equal(dl, 1);
    /* Settled rows keep no payload; a repeated report changes nothing. */
    assert_int_equal(ledger_num("SELECT count(*) FROM tools.ingested_interactions WHERE "
                                "external_id IN ('keep-1', 'keep-2') AND payload IS NULL "
                                "AND settled_at IS NOT NULL",
                                NULL),
                     2);
    assert_int_equal(tg_ledger_settle(T.db, rows, &analysed, &dl), 0);
    assert_int_equal(analysed + dl, 0);
}

static void test_a_report_ahead_of_its_row_settles_it(void **state)
{
    (void)state;
    char id[SP_UUID_STR_LEN], rows[256];
    tg_interaction_id(TENANT, "early-1", id);
    snprintf(rows, sizeof(rows), "[[\"%s\",\"%s\",\"analysed\"]]", TENANT, id);
    long a = -1, d = -1;
    assert_int_equal(tg_ledger_settle(T.db, rows, &a, &d), 0);
    assert_int_equal(a + d, 0);
    resp_t r = call(TENANT, "owner", "POST", "/v1/ingest/interactions",
                    "[{\"external_id\":\"early-1\",\"channel\":\"review\"," WHEN ",\"rating\":4}]");
    assert_int_equal(r.status, 202);
    cJSON_Delete(r.json);
    assert_int_equal(ledger_num("SELECT count(*) FROM tools.ingested_interactions WHERE "
                                "external_id = 'early-1' AND state = 'analysed' "
                                "AND payload IS NULL AND settled_at IS NOT NULL",
                                NULL),
                     1);
}

static void test_reconciler_publishes_pending_again(void **state)
{
    (void)state;
    resp_t r = call(TENANT, "owner", "POST", "/v1/ingest/interactions",
                    "[{\"external_id\":\"lost-1\",\"channel\":\"review\"," WHEN ",\"rating\":2}]");
    assert_int_equal(r.status, 202);
    cJSON_Delete(r.json);
    char id[SP_UUID_STR_LEN];
    tg_interaction_id(TENANT, "lost-1", id);
    seen_t seen = count_on_topic(id, 1500);
    assert_int_equal(seen.n, 1);
    assert_int_equal(seen.keyed_by_id, 1);

    /* Within the grace period: left alone. */
    T.reconcile_grace_s = 60;
    int before = tg_reconciler_pass(&T);
    assert_true(before >= 0);
    assert_int_equal(ledger_num("SELECT republished FROM tools.ingested_interactions "
                                "WHERE external_id = 'lost-1'",
                                NULL),
                     0);
    /* Past it (the broker lost the record, say): published again, same bytes. */
    ledger_exec("UPDATE tools.ingested_interactions SET published_at = now() - interval '1 hour' "
                "WHERE external_id = 'lost-1'");
    assert_true(tg_reconciler_pass(&T) >= 1);
    assert_int_equal(ledger_num("SELECT republished FROM tools.ingested_interactions "
                                "WHERE external_id = 'lost-1'",
                                NULL),
                     1);
    seen = count_on_topic(id, 1500);
    assert_int_equal(seen.n, 2);
    assert_int_equal(seen.keyed_by_id, 2);
    /* Just published: not again before another grace period. */
    tg_reconciler_pass(&T);
    assert_int_equal(ledger_num("SELECT republished FROM tools.ingested_interactions "
                                "WHERE external_id = 'lost-1'",
                                NULL),
                     1);
    /* Reported analysed: never again, and pruned once past retention. */
    char rows[256];
    snprintf(rows, sizeof(rows), "[[\"%s\",\"%s\",\"analysed\"]]", TENANT, id);
    long a = 0, d = 0;
    assert_int_equal(tg_ledger_settle(T.db, rows, &a, &d), 0);
    assert_int_equal(a, 1);
    ledger_exec("UPDATE tools.ingested_interactions SET published_at = now() - interval '1 hour', "
                "accepted_at = now() - interval '400 days' WHERE external_id = 'lost-1'");
    tg_reconciler_pass(&T);
    assert_int_equal(ledger_num("SELECT count(*) FROM tools.ingested_interactions "
                                "WHERE external_id = 'lost-1'",
                                NULL),
                     0);
    assert_int_equal(count_on_topic(id, 1500).n, 2);
}

static void test_operator_report(void **state)
{
    (void)state;
    char path[160];
    snprintf(path, sizeof(path), "/v1/ingest/reconciliation?days=2&tenant_id=%s", TENANT);
    resp_t r = call(NULL, "platform_operator", "GET", path, NULL);
    assert_int_equal(r.status, 200);
    const cJSON *totals = cJSON_GetObjectItem(r.json, "totals");
    const cJSON *rows = cJSON_GetObjectItem(r.json, "rows");
    assert_int_equal(cJSON_GetArraySize(rows), 1);
    const cJSON *row = cJSON_GetArrayItem(rows, 0);
    assert_string_equal(cJSON_GetObjectItem(row, "tenant_id")->valuestring, TENANT);
    /* bp-1, keep-1 and early-1 (analysed), keep-2 (dead-lettered); lost-1
     * was pruned. */
    assert_int_equal((int)cJSON_GetObjectItem(totals, "accepted")->valuedouble, 4);
    assert_int_equal((int)cJSON_GetObjectItem(totals, "analysed")->valuedouble, 2);
    assert_int_equal((int)cJSON_GetObjectItem(totals, "dead_lettered")->valuedouble, 1);
    assert_int_equal((int)cJSON_GetObjectItem(totals, "pending")->valuedouble, 1);
    assert_true(cJSON_IsString(cJSON_GetObjectItem(totals, "oldest_pending_at")));
    cJSON_Delete(r.json);
    r = call(NULL, "platform_operator", "GET", "/v1/ingest/reconciliation?days=0", NULL);
    assert_int_equal(r.status, 400);
    cJSON_Delete(r.json);
    r = call(TENANT, "owner", "GET", "/v1/ingest/reconciliation", NULL);
    assert_int_equal(r.status, 403);
    cJSON_Delete(r.json);
}

/* ---- set-up ---------------------------------------------------------------------- */

static int setup(void **state)
{
    (void)state;
    const char *app = getenv("SERPHONA_TEST_PG_URL");
    const char *owner = getenv("SERPHONA_TEST_PG_OWNER_URL");
    BROKERS = getenv("SERPHONA_TEST_KAFKA_BROKERS");
    if (!app || !owner || !BROKERS) {
        fprintf(stderr, "SERPHONA_TEST_PG_URL, SERPHONA_TEST_PG_OWNER_URL and "
                        "SERPHONA_TEST_KAFKA_BROKERS must be set (tests/with-stack.sh does)\n");
        return -1;
    }
    sp_log_init("tools-gateway-test", SP_LOG_ERROR);
    if (sp_db_migrate(owner, "tools", MIGRATIONS, "serphona_app") != 0)
        return -1;
    CFG = sp_config_new("tools-gateway");
    tg_init(&T, NULL, CFG);
    T.db = sp_db_pool_new(app, 4);
    T.producer = sp_events_producer_new(BROKERS, "tools-gateway-test");
    uint8_t rnd[4];
    sp_random_bytes(rnd, sizeof(rnd));
    sp_hex_encode(rnd, sizeof(rnd), RUN);
    snprintf(TOPIC, sizeof(TOPIC), "tgreco%s.serphona.interactions.v1", RUN);
    T.topic = TOPIC;
    T.router = sp_router_new();
    if (!T.db || !T.producer || !T.router || sp_uuid_v4(TENANT) != 0)
        return -1;
    sp_router_set_authorizer(T.router, sp_permissions_authorize, NULL);
    if (tg_public_router_init(&T) || tg_interactions_register(&T) ||
        tg_reconciliation_register(&T) || tg_publisher_start(2) != 0)
        return -1;
    /* The mock broker creates a topic when it is first produced to. */
    Serphona__Events__V1__Event ev = SERPHONA__EVENTS__V1__EVENT__INIT;
    sp_events_event_init(&ev, "warm.up", "warmup", "{}", 2, NULL);
    int rc = sp_events_publish_sync(T.producer, TOPIC, "warmup", &ev, 10000);
    sp_events_event_cleanup(&ev);
    return rc;
}

static int teardown(void **state)
{
    (void)state;
    tg_backlog_destroy(&T.backlog);
    tg_publisher_stop();
    tg_cleanup(&T);
    sp_router_destroy(&T.router);
    sp_events_producer_destroy(&T.producer);
    sp_db_pool_destroy(&T.db);
    sp_config_destroy(&CFG);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lag_is_read_from_the_broker),
        cmocka_unit_test(test_backlog_over_the_bound_is_503),
        cmocka_unit_test(test_ledger_keeps_the_payload_until_analysed),
        cmocka_unit_test(test_a_report_ahead_of_its_row_settles_it),
        cmocka_unit_test(test_reconciler_publishes_pending_again),
        cmocka_unit_test(test_operator_report),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
