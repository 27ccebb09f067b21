/*
 * ledger_events.c — the processor's reports settle ledger rows
 * (ledger_events.h).
 */
#include "ledger_events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "interactions.pb-c.h"
#include "ledger.h"
#include "platform/crypto.h"
#include "platform/error.h"
#include "platform/log.h"
#include "platform/metrics.h"
#include "platform/text.h"

#define EV_ANALYSIS_COMPLETED "analysis.completed"
#define EV_REJECTED           "interaction.rejected"
#define FLUSH_MAX             2000
#define FLUSH_WAIT_MS         500

/* The consumer's pending reports, [[tenant, id, state], ...]; touched by the
 * consumer thread only. */
typedef struct {
    tg_t *tg;
    cJSON *rows;
    size_t n;
} settle_t;

static settle_t g_settle;

static int copy_uuid(const char *s, char out[37])
{
    if (!sp_uuid_valid(s))
        return 0;
    memcpy(out, s, 37);
    return 1;
}

/* The interaction inside a dead letter's original record. */
static int parse_dead(const cJSON *body, char tenant[37], char id[37])
{
    const cJSON *b64 = cJSON_GetObjectItemCaseSensitive(body, "original_b64url");
    if (!cJSON_IsString(b64))
        return 0;
    size_t len = strlen(b64->valuestring), n = 0;
    uint8_t *raw = malloc(sp_base64url_decoded_max(len) + 1);
    if (!raw)
        return SP_ENOMEM;
    int found = 0;
    if (sp_base64url_decode(b64->valuestring, len, raw, sp_base64url_decoded_max(len) + 1, &n) ==
        0) {
        Serphona__Events__V1__Event *ev = serphona__events__v1__event__unpack(NULL, n, raw);
        if (ev && ev->type && strcmp(ev->type, "interaction.recorded") == 0) {
            Serphona__Interactions__V1__Interaction *ix =
                serphona__interactions__v1__interaction__unpack(NULL, ev->payload.len,
                                                                ev->payload.data);
            if (ix)
                found = copy_uuid(ix->tenant_id, tenant) && copy_uuid(ix->interaction_id, id);
            serphona__interactions__v1__interaction__free_unpacked(ix, NULL);
        }
        serphona__events__v1__event__free_unpacked(ev, NULL);
    }
    free(raw);
    return found;
}

int tg_ledger_event_parse(const char *type, const void *payload, size_t len, char tenant[37],
                          char id[37], const char **state)
{
    int analysed = type && strcmp(type, EV_ANALYSIS_COMPLETED) == 0;
    if (!analysed && !(type && strcmp(type, EV_REJECTED) == 0))
        return 0;
    cJSON *body = cJSON_ParseWithLength(payload, len);
    if (!body)
        return 0; /* not JSON: nothing this consumer can use */
    int found;
    if (analysed) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(body, "tenant_id");
        const cJSON *i = cJSON_GetObjectItemCaseSensitive(body, "interaction_id");
        found = cJSON_IsString(t) && cJSON_IsString(i) && copy_uuid(t->valuestring, tenant) &&
                copy_uuid(i->valuestring, id);
    } else {
        found = parse_dead(body, tenant, id);
    }
    cJSON_Delete(body);
    *state = analysed ? "analysed" : "dead_lettered";
    return found;
}

static int on_event(const sp_events_message_t *msg, void *ud)
{
    settle_t *st = ud;
    const Serphona__Events__V1__Event *ev = msg->event;
    if (!ev)
        return 0; /* undecodable: not ours to judge */
    char tenant[37], id[37];
    const char *state = NULL;
    int rc = tg_ledger_event_parse(ev->type, ev->payload.data, ev->payload.len, tenant, id, &state);
    if (rc < 0)
        return -1;
    if (rc == 0)
        return 0;
    if (!st->rows && !(st->rows = cJSON_CreateArray()))
        return -1;
    cJSON *row = cJSON_CreateArray();
    if (!row || !cJSON_AddItemToArray(st->rows, row) ||
        !cJSON_AddItemToArray(row, cJSON_CreateString(tenant)) ||
        !cJSON_AddItemToArray(row, cJSON_CreateString(id)) ||
        !cJSON_AddItemToArray(row, cJSON_CreateString(state)))
        return -1; /* the flush before the retry drops the batch */
    st->n++;
    return 0;
}

static int on_flush(void *ud)
{
    settle_t *st = ud;
    if (!st->rows || st->n == 0)
        return 0;
    char *json = cJSON_PrintUnformatted(st->rows);
    cJSON_Delete(st->rows);
    st->rows = NULL;
    st->n = 0;
    if (!json)
        return -1;
    long analysed = 0, dead = 0;
    int rc = tg_ledger_settle(tg_db(st->tg), json, &analysed, &dead);
    free(json);
    if (rc != 0) {
        sp_log_warn("ingestion ledger: settling failed (%s); retried", sp_strerror(rc));
        return -1;
    }
    sp_counter_t *c = sp_counter_new("serphona_ingest_ledger_settled_total",
                                     "Ingestion ledger rows the processor reported stored "
                                     "(analysed) or dead-lettered.",
                                     1, "state");
    sp_counter_add(c, (double)analysed, "analysed");
    sp_counter_add(c, (double)dead, "dead_lettered");
    return 0;
}

int tg_ledger_events_register(tg_t *tg, sp_service_t *svc)
{
    static const char *const topics[] = {SP_EVENTS_TOPIC_ANALYSES,
                                         SP_EVENTS_TOPIC_INTERACTIONS_DLQ};
    g_settle.tg = tg;
    const char *group = sp_config_str(
        sp_service_config(svc), "SERPHONA_INGEST_LEDGER_GROUP", "tools-gateway.ledger",
        "Consumer group reading the processor's analysis and dead-letter events "
        "into the ingestion ledger.");
    return sp_service_add_batch_consumer(svc, group, topics, 2, on_event, on_flush, FLUSH_MAX,
                                         FLUSH_WAIT_MS, &g_settle);
}
