/*
 * interactions.c — the batch ingestion route (interactions.h).
 */
#include "interactions.h"

#include <stdio.h>
#include <string.h>

#include "backlog.h"
#include "idempotency.h"
#include "partner_auth.h"
#include "pipeline.h"
#include "platform/clock.h"
#include "platform/text.h"
#include "platform/error.h"
#include "platform/log.h"

static int add_ref(cJSON *list, const tg_item_t *it)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddItemToArray(list, o))
        return SP_ENOMEM;
    if (!cJSON_AddNumberToObject(o, "index", (double)it->ref) ||
        !cJSON_AddStringToObject(o, "interaction_id", it->ix->interaction_id) ||
        !cJSON_AddStringToObject(o, "external_id", it->ix->external_id))
        return SP_ENOMEM;
    return SP_OK;
}

static int add_reject(cJSON *list, const tg_item_t *it)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddItemToArray(list, o))
        return SP_ENOMEM;
    if (!cJSON_AddNumberToObject(o, "index", (double)it->ref) ||
        !cJSON_AddStringToObject(o, "code", it->why.code) ||
        !cJSON_AddStringToObject(o, "field", it->why.field ? it->why.field : "") ||
        !cJSON_AddStringToObject(o, "message", it->why.message))
        return SP_ENOMEM;
    return SP_OK;
}

static int reply_202(sp_request_t *req, const tg_item_t *items, size_t n)
{
    cJSON *body = cJSON_CreateObject();
    if (!body)
        return SP_ENOMEM;
    cJSON *acc = cJSON_AddArrayToObject(body, "accepted");
    cJSON *rej = cJSON_AddArrayToObject(body, "rejected");
    cJSON *dup = cJSON_AddArrayToObject(body, "duplicates");
    int rc = acc && rej && dup ? SP_OK : SP_ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (items[i].state == TG_ITEM_ACCEPTED)
            rc = add_ref(acc, &items[i]);
        else if (items[i].state == TG_ITEM_DUPLICATE)
            rc = add_ref(dup, &items[i]);
        else if (items[i].state == TG_ITEM_REJECTED)
            rc = add_reject(rej, &items[i]);
    }
    if (rc == 0)
        rc = sp_response_json(sp_request_response(req), 202, body);
    cJSON_Delete(body);
    return rc;
}

/* The batch of the body, or NULL after writing a 400 / 413. */
static const cJSON *batch_of(tg_t *tg, sp_request_t *req)
{
    sp_response_t *resp = sp_request_response(req);
    cJSON *body = NULL;
    if (sp_request_json(req, &body) != 0)
        return NULL; /* 400 invalid_json written */
    const cJSON *list =
        cJSON_IsArray(body) ? body : cJSON_GetObjectItemCaseSensitive(body, "interactions");
    if (!cJSON_IsArray(list)) {
        sp_response_error(resp, 400, "invalid_body",
                          "the body must be {\"interactions\": [...]} or a JSON array");
        return NULL;
    }
    int n = cJSON_GetArraySize(list);
    if (n == 0) {
        sp_response_error(resp, 400, "empty_batch", "the batch holds no interaction");
        return NULL;
    }
    if (n > tg->batch_max) {
        sp_response_error(resp, 413, "batch_too_large",
                          "a batch holds at most %d interactions (this one has %d)", tg->batch_max,
                          n);
        return NULL;
    }
    return list;
}

/* One request's batch, from the handler to its answer. Lives in the
 * request's arena. */
typedef struct {
    tg_t *tg;
    sp_request_t *req;
    tg_item_t *items;
    size_t n;
    tg_idem_t idem;
} batch_t;

/* 503 ingestion_backlog, with a Retry-After of its own: the backlog is
 * measured every second or so, so a short wait is enough to see it fall. */
static void reply_backlog(tg_t *tg, sp_request_t *req)
{
    sp_response_t *resp = sp_request_response(req);
    char secs[16];
    snprintf(secs, sizeof(secs), "%d", tg->backlog_retry_after_s);
    sp_response_error(resp, 503, "ingestion_backlog",
                      "%lld interactions wait for analysis (the bound is %lld); retry later",
                      (long long)tg_backlog_value(tg->backlog),
                      (long long)tg_backlog_max(tg->backlog));
    sp_response_set_header(resp, "Retry-After", secs);
    tg_backlog_count_refusal();
}

/* Writes the answer for the pipeline's rc. */
static void answer(batch_t *b, int rc)
{
    if (rc == SP_EUNAVAILABLE) {
        tg_reply_unavailable(b->tg, b->req, "kafka_unavailable",
                             "the interactions could not be stored durably (Kafka did not "
                             "acknowledge them in time); retry later");
    } else if (rc == SP_EDB) {
        tg_reply_unavailable(b->tg, b->req, "ledger_unavailable",
                             "the interactions could not be recorded for reconciliation (the "
                             "database did not answer); retry later");
    } else if (rc != 0 || reply_202(b->req, b->items, b->n) != 0) {
        sp_response_error(sp_request_response(b->req), 500, "internal", "internal error");
    } else {
        size_t acc = 0, rej = 0, dup = 0;
        for (size_t i = 0; i < b->n; i++) {
            acc += b->items[i].state == TG_ITEM_ACCEPTED;
            rej += b->items[i].state == TG_ITEM_REJECTED;
            dup += b->items[i].state == TG_ITEM_DUPLICATE;
        }
        sp_log_info("ingested a batch of %zu: %zu accepted, %zu rejected, %zu duplicates", b->n,
                    acc, rej, dup);
    }
    tg_idem_finish(b->tg, b->req, &b->idem);
}

/* The pipeline's end, on a publisher completion thread. */
static void published(int rc, void *ud)
{
    batch_t *b = ud;
    const sp_auth_t *auth = sp_request_auth(b->req);
    sp_log_set_context(sp_request_id(b->req), auth ? auth->tenant_id : NULL);
    sp_log_set_trace(sp_request_traceparent(b->req));
    answer(b, rc);
    sp_log_clear_context();
    sp_request_complete(b->req); /* b lives in the request: last */
}

static sp_handler_result_t post_interactions(sp_request_t *req, void *ud)
{
    tg_t *tg = ud;
    sp_arena_t *arena = sp_request_arena(req);
    const sp_auth_t *auth = sp_request_auth(req);
    if (!auth || !auth->tenant_id || !sp_uuid_valid(auth->tenant_id)) {
        sp_response_error(sp_request_response(req), 403, "tenant_required",
                          "ingestion needs a caller of a tenant");
        return SP_HANDLER_DONE;
    }
    const char *tenant = auth->tenant_id;
    /* Before anything is claimed or validated: a refused batch is sent
     * again whole, and the last measured backlog costs nothing to read. */
    if (tg_backlog_over(tg->backlog)) {
        reply_backlog(tg, req);
        return SP_HANDLER_DONE;
    }
    const cJSON *list = batch_of(tg, req);
    if (!list)
        return SP_HANDLER_DONE;
    batch_t *b = sp_arena_alloc(arena, sizeof(*b));
    if (!b) {
        sp_response_error(sp_request_response(req), 500, "internal", "out of memory");
        return SP_HANDLER_DONE;
    }
    b->tg = tg;
    b->req = req;
    if (tg_idem_begin(tg, req, "interactions", &b->idem))
        return SP_HANDLER_DONE;

    b->n = (size_t)cJSON_GetArraySize(list);
    b->items = sp_arena_alloc(arena, b->n * sizeof(tg_item_t));
    int rc = b->items ? SP_OK : SP_ENOMEM;
    int64_t now = sp_clock_wall_ms();
    size_t i = 0;
    for (const cJSON *it = list->child; rc == 0 && it; it = it->next, i++) {
        b->items[i].ref = i;
        rc = tg_item_validate(arena, tenant, it, "api", now, &b->items[i]);
    }
    /* The HTTP (or RPC) thread is not held while Kafka works: the request
     * is suspended and answered from the publisher's completion thread. A
     * request forwarded with a deadline gets its 503 before the gateway
     * gives up on it (a 504 would say less). */
    int timeout = tg->publish_timeout_ms;
    int64_t deadline = sp_request_deadline(req);
    if (deadline > 0) {
        int64_t left = deadline - sp_clock_wall_ms() - 250;
        timeout = left < 100 ? 100 : (left < timeout ? (int)left : timeout);
    }
    if (rc == 0)
        rc = tg_pipeline_start(tg, arena, tenant, sp_request_traceparent(req), "api", b->items,
                               b->n, timeout, published, b);
    if (rc == 0)
        return SP_HANDLER_ASYNC;
    answer(b, rc == 1 ? SP_OK : rc);
    return SP_HANDLER_DONE;
}

int tg_interactions_register(tg_t *tg)
{
    return tg_route_add(tg, "POST", "/v1/ingest/interactions", "ingest:write", post_interactions);
}
