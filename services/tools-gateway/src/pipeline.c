/*
 * pipeline.c — validate, deduplicate, publish, record (pipeline.h).
 */
#include "pipeline.h"

#include <stdlib.h>
#include <string.h>

#include "ledger.h"
#include "platform/clock.h"
#include "platform/error.h"
#include "platform/log.h"
#include "platform/metrics.h"
#include "publisher.h"

static sp_counter_t *interactions_total(void)
{
    return sp_counter_new("serphona_ingest_interactions_total",
                          "Interactions offered to the ingestion API and uploads, by result.", 1,
                          "result");
}

static sp_histogram_t *publish_seconds(void)
{
    static const double buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                     0.25,  0.5,    1,     2.5,  5,     10};
    return sp_histogram_new("serphona_ingest_publish_seconds",
                            "Time from queueing a batch of interactions to Kafka's last "
                            "acknowledgement.",
                            buckets, sizeof(buckets) / sizeof(buckets[0]), 0);
}

int tg_item_validate(sp_arena_t *arena, const char *tenant_id, const cJSON *json,
                     const char *source, int64_t now_ms, tg_item_t *item)
{
    item->ix = NULL;
    int rc = tg_interaction_build(arena, tenant_id, json, source, now_ms, &item->ix, &item->why);
    if (rc == SP_ENOMEM)
        return rc;
    item->state = rc == 0 ? TG_ITEM_VALID : TG_ITEM_REJECTED;
    if (rc != 0)
        sp_counter_add(interactions_total(), 1, "rejected");
    return SP_OK;
}

void tg_item_reject(tg_item_t *item, const tg_reject_t *why)
{
    item->state = TG_ITEM_REJECTED;
    item->why = *why;
    item->ix = NULL;
    sp_counter_add(interactions_total(), 1, "rejected");
}

/* A second occurrence of an external id within one batch is a duplicate of
 * the first. The valid items' indexes are sorted by external id (then by
 * index, so the first occurrence stays the original): n log n, where
 * comparing every pair would be quadratic in a 5000-item batch. qsort has no
 * user argument, hence the thread-local. */
static __thread const tg_item_t *t_sort_items;
static int by_external_id(const void *a, const void *b)
{
    const tg_item_t *items = t_sort_items;
    size_t ia = *(const size_t *)a, ib = *(const size_t *)b;
    int c = strcmp(items[ia].ix->external_id, items[ib].ix->external_id);
    return c ? c : (ia < ib ? -1 : ia > ib);
}

static int mark_batch_duplicates(tg_item_t *items, size_t n)
{
    size_t *idx = malloc((n ? n : 1) * sizeof(size_t));
    if (!idx)
        return SP_ENOMEM;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (items[i].state == TG_ITEM_VALID)
            idx[m++] = i;
    t_sort_items = items;
    qsort(idx, m, sizeof(size_t), by_external_id);
    t_sort_items = NULL;
    for (size_t k = 1; k < m; k++)
        if (strcmp(items[idx[k]].ix->external_id, items[idx[k - 1]].ix->external_id) == 0)
            items[idx[k]].state = TG_ITEM_DUPLICATE;
    free(idx);
    return SP_OK;
}

/* One run of the pipeline over a batch. */
typedef struct {
    tg_t *tg;
    const char *tenant_id, *source;
    tg_item_t *items;
    size_t n, m;              /* items, and those published */
    unsigned char *was_valid; /* per item: VALID when the run began */
    Serphona__Interactions__V1__Interaction **ixs;
    size_t *where; /* ixs[k] is items[where[k]] */
    tg_pipeline_done_fn done;
    void *ud;
} run_t;

/* Step 2, and the list of what to publish. */
static int prepare(run_t *r, sp_arena_t *arena)
{
    r->was_valid = sp_arena_alloc(arena, r->n ? r->n : 1);
    if (!r->was_valid)
        return SP_ENOMEM;
    for (size_t i = 0; i < r->n; i++)
        r->was_valid[i] = r->items[i].state == TG_ITEM_VALID;
    int rc = mark_batch_duplicates(r->items, r->n);
    if (rc)
        return rc;
    rc = tg_ledger_mark_duplicates(tg_db(r->tg), r->tenant_id, r->items, r->n);
    if (rc == SP_ENOMEM)
        return rc;
    if (rc != 0)
        sp_log_warn("ingestion ledger lookup failed (%s); publishing without it", sp_strerror(rc));
    r->m = 0;
    for (size_t i = 0; i < r->n; i++)
        r->m += r->items[i].state == TG_ITEM_VALID;
    if (r->m == 0)
        return SP_OK;
    r->ixs = sp_arena_alloc(arena, r->m * sizeof(void *));
    r->where = sp_arena_alloc(arena, r->m * sizeof(size_t));
    if (!r->ixs || !r->where)
        return SP_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++)
        if (r->items[i].state == TG_ITEM_VALID) {
            r->where[k] = i;
            r->ixs[k++] = r->items[i].ix;
        }
    return SP_OK;
}

/* Step 4 from the per-message results (NULL: nothing was published), and
 * the metrics. Returns 0 or SP_EUNAVAILABLE. */
static int finish(run_t *r, const int *results, double seconds)
{
    int all_ok = 1;
    for (size_t k = 0; results && k < r->m; k++) {
        int ok = results[k] == 0;
        r->items[r->where[k]].state = ok ? TG_ITEM_ACCEPTED : TG_ITEM_FAILED;
        all_ok &= ok;
    }
    int recorded = 1;
    if (r->m > 0) {
        if (all_ok)
            sp_histogram_observe(publish_seconds(), seconds);
        int rc = tg_ledger_record(tg_db(r->tg), r->tenant_id, r->source, r->items, r->n);
        if (rc != 0) {
            /* Only a recorded interaction can be published again by the
             * reconciler, so an unrecorded one is not "accepted": the
             * caller is told to retry (the re-send publishes it again and
             * the processor deduplicates). */
            sp_log_warn("ingestion ledger write failed (%s); answering 503", sp_strerror(rc));
            recorded = 0;
            for (size_t k = 0; k < r->m; k++)
                if (r->items[r->where[k]].state == TG_ITEM_ACCEPTED)
                    r->items[r->where[k]].state = TG_ITEM_FAILED;
        }
    }
    /* Counted once per item: rejections when validated, the rest when they
     * leave VALID here (a retried batch counts only what changed). */
    size_t accepted = 0, duplicate = 0;
    for (size_t i = 0; i < r->n; i++) {
        accepted += r->was_valid[i] && r->items[i].state == TG_ITEM_ACCEPTED;
        duplicate += r->was_valid[i] && r->items[i].state == TG_ITEM_DUPLICATE;
    }
    sp_counter_t *c = interactions_total();
    if (accepted)
        sp_counter_add(c, (double)accepted, "accepted");
    if (duplicate)
        sp_counter_add(c, (double)duplicate, "duplicate");
    return !all_ok ? SP_EUNAVAILABLE : recorded ? SP_OK : SP_EDB;
}

int tg_pipeline_run(tg_t *tg, sp_arena_t *arena, const char *tenant_id, const char *traceparent,
                    const char *source, tg_item_t *items, size_t n)
{
    run_t r = {.tg = tg, .tenant_id = tenant_id, .source = source, .items = items, .n = n};
    int rc = prepare(&r, arena);
    if (rc)
        return rc;
    int *results = sp_arena_alloc(arena, (r.m ? r.m : 1) * sizeof(int));
    if (!results)
        return SP_ENOMEM;
    int64_t t0 = sp_clock_mono_us();
    rc = tg_publish_batch(tg_producer(tg), tg->topic, tenant_id, traceparent, r.ixs, r.m,
                          tg->publish_timeout_ms, results);
    if (rc == SP_ENOMEM)
        return rc;
    return finish(&r, results, sp_clock_elapsed_s(t0));
}

static void published(tg_publish_t *p, void *ud)
{
    run_t *r = ud;
    int *results = malloc((r->m ? r->m : 1) * sizeof(int));
    int rc = SP_ENOMEM;
    if (results) {
        for (size_t k = 0; k < r->m; k++)
            results[k] = tg_publish_result(p, k);
        rc = finish(r, results, tg_publish_seconds(p));
        free(results);
    }
    tg_publish_free(p);
    r->done(rc, r->ud);
}

int tg_pipeline_start(tg_t *tg, sp_arena_t *arena, const char *tenant_id, const char *traceparent,
                      const char *source, tg_item_t *items, size_t n, int timeout_ms,
                      tg_pipeline_done_fn done, void *ud)
{
    run_t *r = sp_arena_alloc(arena, sizeof(*r));
    if (!r)
        return SP_ENOMEM;
    *r = (run_t){.tg = tg,
                 .tenant_id = tenant_id,
                 .source = source,
                 .items = items,
                 .n = n,
                 .done = done,
                 .ud = ud};
    int rc = prepare(r, arena);
    if (rc)
        return rc;
    if (r->m == 0) {
        finish(r, NULL, 0);
        return 1;
    }
    if (!tg_publish_start(tg_producer(tg), tg->topic, tenant_id, traceparent, r->ixs, r->m,
                          timeout_ms > 0 ? timeout_ms : tg->publish_timeout_ms, published, r))
        return SP_EUNAVAILABLE;
    return SP_OK;
}
