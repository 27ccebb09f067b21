/*
 * tg_ingest_test.h — the harness of tools-gateway's ingestion tests
 * (test_ingest.c, test_ingest_uploads.c): the routes in-process
 * (sptest/call.h) against the unit stack's real PostgreSQL (the "tools"
 * schema, migrated here, app role under RLS), Redis and dev Kafka broker
 * (sptest/stack.h), with a consumer on a topic of the run's own to see
 * what was published. Static functions only: each test binary includes
 * this once.
 */
#ifndef TG_INGEST_TEST_H
#define TG_INGEST_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../src/interaction.h"
#include "../src/interactions.h"
#include "../src/partner_auth.h"
#include "../src/publisher.h"
#include "../src/tg.h"
#include "../src/upload_worker.h"
#include "../src/uploads.h"
#include "platform/clock.h"
#include "platform/crypto.h"
#include "platform/error.h"
#include "platform/log.h"
#include "platform/permissions.h"
#include "sptest.h"
#include "tenant.pb-c.h"

#define MIGRATIONS "services/tools-gateway/migrations"

static tg_t T;
static sp_config_t *CFG;
static char TOPIC[128];
static char TENANT_A[SP_UUID_STR_LEN], TENANT_B[SP_UUID_STR_LEN];
static sp_events_consumer_t *CONSUMER;
static const char *BROKERS;

/* ---- requests ---------------------------------------------------------------- */

/* A request on the service router (the RPC side), waiting for a suspended
 * one (sptest_call). */
static __attribute__((unused)) sptest_resp_t call(const sptest_caller_t *who, const char *method,
                                                  const char *path, const char *body,
                                                  const char *const *headers)
{
    return sptest_call(T.router, who, method, path, body, headers);
}

/* The "index" (or "row") members of list, as "0,2,5". */
static char *indexes(const cJSON *list, const char *member)
{
    static char buf[512];
    buf[0] = '\0';
    for (const cJSON *it = list ? list->child : NULL; it; it = it->next)
        snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%d", buf[0] ? "," : "",
                 (int)cJSON_GetObjectItem(it, member)->valuedouble);
    return buf;
}

/* ---- the topic ----------------------------------------------------------------- */

typedef struct {
    const char *tenant;
    char ids[64][SP_UUID_STR_LEN];
    char sources[64][16];
    int n;
    int bad;
} seen_t;

static int on_event(const sp_events_message_t *msg, void *ud)
{
    seen_t *seen = ud;
    const Serphona__Events__V1__Event *ev = msg->event;
    if (!ev || strcmp(ev->tenant_id, seen->tenant) != 0)
        return 0;
    if (strcmp(ev->type, "interaction.recorded") != 0 ||
        strcmp(ev->content_type, "application/x-protobuf") != 0 || msg->key_len != 36) {
        seen->bad++;
        return 0;
    }
    Serphona__Interactions__V1__Interaction *ix =
        serphona__interactions__v1__interaction__unpack(NULL, ev->payload.len, ev->payload.data);
    /* Keyed by interaction id, so one tenant spreads over every partition. */
    if (!ix || strcmp(ix->tenant_id, seen->tenant) != 0 ||
        memcmp(msg->key, ix->interaction_id, 36) != 0) {
        seen->bad++;
    } else if (seen->n < 64) {
        snprintf(seen->ids[seen->n], SP_UUID_STR_LEN, "%s", ix->interaction_id);
        snprintf(seen->sources[seen->n], 16, "%s", ix->source);
        seen->n++;
    }
    if (ix)
        serphona__interactions__v1__interaction__free_unpacked(ix, NULL);
    return 0;
}

static seen_t SEEN;

/* Polls the topic for events of tenant until want arrived (or, with want 0,
 * for quiet_ms), returning how many arrived. */
static int drain_topic(const char *tenant, int want, int quiet_ms)
{
    memset(&SEEN, 0, sizeof(SEEN));
    SEEN.tenant = tenant;
    int64_t t0 = sp_clock_mono_ms();
    for (;;) {
        sp_events_consumer_poll_once(CONSUMER, 100);
        int64_t ms = sp_clock_mono_ms() - t0;
        if (want > 0 && SEEN.n >= want)
            break;
        if (ms > (want > 0 ? 20000 : quiet_ms))
            break;
    }
    assert_int_equal(SEEN.bad, 0);
    return SEEN.n;
}

static int seen_id(const char *id)
{
    for (int i = 0; i < SEEN.n; i++)
        if (strcmp(SEEN.ids[i], id) == 0)
            return 1;
    return 0;
}

/* ---- setup --------------------------------------------------------------------- */

static void new_tenant(char out[SP_UUID_STR_LEN])
{
    assert_int_equal(sp_uuid_v4(out), 0);
}

static int setup(void **state)
{
    (void)state;
    if (sptest_env_require((const char *const[]){
            "SERPHONA_TEST_PG_URL", "SERPHONA_TEST_PG_OWNER_URL", "SERPHONA_TEST_REDIS_PORT",
            "SERPHONA_TEST_KAFKA_BROKERS", NULL}) != 0)
        return -1;
    BROKERS = sptest_kafka_brokers();
    sp_log_init("tools-gateway-test", SP_LOG_ERROR);
    if (sptest_pg_migrate("tools", MIGRATIONS) != 0)
        return -1;
    CFG = sp_config_new("tools-gateway");
    tg_init(&T, NULL, CFG);
    T.db = sptest_pg_app_pool(4);
    T.redis = sptest_redis_pool(4);
    T.producer = sp_events_producer_new(BROKERS, "tools-gateway-test");
    char run[9];
    sptest_run_id(run);
    snprintf(TOPIC, sizeof(TOPIC), "tgtest%s.serphona.interactions.v1", run);
    T.topic = TOPIC;
    T.router = sp_router_new();
    if (!T.db || !T.redis || !T.producer || !T.router)
        return -1;
    sp_router_set_authorizer(T.router, sp_permissions_authorize, NULL);
    if (tg_public_router_init(&T) || tg_interactions_register(&T) || tg_uploads_register(&T))
        return -1;
    T.worker = tg_worker_new(&T);
    if (tg_publisher_start(2) != 0)
        return -1;
    new_tenant(TENANT_A);
    new_tenant(TENANT_B);

    /* The mock broker creates a topic when it is first produced to; a
     * consumer subscribed before that would see it missing. */
    Serphona__Events__V1__Event ev = SERPHONA__EVENTS__V1__EVENT__INIT;
    sp_events_event_init(&ev, "warm.up", "warmup", "{}", 2, NULL);
    int rc = sp_events_publish_sync(T.producer, TOPIC, "warmup", &ev, 10000);
    sp_events_event_cleanup(&ev);
    if (rc != 0)
        return -1;
    char group[64];
    snprintf(group, sizeof(group), "tgtest-%s", run);
    const char *topics[] = {TOPIC};
    CONSUMER = sp_events_consumer_new(BROKERS, group, topics, 1, on_event, &SEEN);
    return CONSUMER && T.worker ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    sp_events_consumer_destroy(&CONSUMER);
    tg_worker_destroy(&T.worker);
    tg_publisher_stop();
    tg_cleanup(&T);
    sp_router_destroy(&T.router);
    sp_events_producer_destroy(&T.producer);
    sp_redis_pool_destroy(&T.redis);
    sp_db_pool_destroy(&T.db);
    sp_config_destroy(&CFG);
    return 0;
}

#define WHEN "\"occurred_at\":\"2024-05-01T10:00:00Z\""

#endif
