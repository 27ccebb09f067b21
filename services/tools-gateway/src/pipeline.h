/*
 * pipeline.h — what ingestion does with a batch of interactions, wherever
 * it came from (the API or an upload job):
 *
 *   1. validate each item (interaction.h); refused items are reported, the
 *      rest go on;
 *   2. deduplicate by (tenant, external_id): within the batch (a second
 *      occurrence is a duplicate of the first) and against the ledger of
 *      interactions already accepted (ledger.h);
 *   3. publish the new ones and wait until Kafka acknowledged them
 *      (publisher.h);
 *   4. record the acknowledged ones in the ledger with their protobuf, so a
 *      re-send answers "duplicate" without publishing again, and so the
 *      reconciler (reconciler.h) can publish them again until the processor
 *      reports them stored.
 *
 * Step 4 comes after step 3 on purpose: an interaction recorded but never
 * acknowledged would be lost for good (every re-send a "duplicate"), while
 * one acknowledged but not recorded (a crash in between) is merely
 * published again on a re-send and deduplicated downstream by its
 * deterministic interaction_id. A failed ledger write makes the batch fail
 * (SP_EDB, 503 ledger_unavailable): "accepted" promises that the
 * reconciler can re-publish it. A failed ledger lookup does not stop
 * ingestion: the batch is published without it.
 *
 * Metrics: serphona_ingest_interactions_total{result=accepted|rejected|
 * duplicate} and serphona_ingest_publish_seconds (one batch, queue to last
 * acknowledgement).
 */
#ifndef TG_PIPELINE_H
#define TG_PIPELINE_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "interaction.h"
#include "tg.h"

typedef enum {
    TG_ITEM_REJECTED = 0, /* why says why */
    TG_ITEM_VALID,        /* validated, not yet through the pipeline */
    TG_ITEM_ACCEPTED,     /* acknowledged by Kafka */
    TG_ITEM_DUPLICATE,    /* accepted earlier (same tenant and external_id) */
    TG_ITEM_FAILED,       /* valid, but Kafka did not acknowledge it */
} tg_item_state_t;

typedef struct {
    size_t ref; /* the batch index, or the file row */
    tg_item_state_t state;
    tg_reject_t why;
    Serphona__Interactions__V1__Interaction *ix;
} tg_item_t;

/* Validates json into *item (state VALID or REJECTED, counted in the
 * metric); ref is set by the caller. Returns 0 or SP_ENOMEM. */
int tg_item_validate(sp_arena_t *arena, const char *tenant_id, const cJSON *json,
                     const char *source, int64_t now_ms, tg_item_t *item);

/* Marks item as refused for a problem found before validation (a
 * malformed upload row). */
void tg_item_reject(tg_item_t *item, const tg_reject_t *why);

/* Runs steps 2-4 over the VALID items of items[0..n) (others are left as
 * they are), waiting for Kafka in the calling thread. A caller retrying
 * after SP_EUNAVAILABLE sets the FAILED items back to VALID and runs again.
 * Returns 0 when every valid item is now ACCEPTED or DUPLICATE;
 * SP_EUNAVAILABLE when Kafka did not acknowledge some (those are FAILED;
 * the acknowledged ones are ACCEPTED and recorded, so a retry of the whole
 * batch reports them as duplicates); SP_EDB when the ledger could not
 * record the acknowledged ones (all FAILED: a retry publishes them again);
 * SP_ENOMEM. traceparent may be NULL. */
int tg_pipeline_run(tg_t *tg, sp_arena_t *arena, const char *tenant_id, const char *traceparent,
                    const char *source, tg_item_t *items, size_t n);

/* The same without holding the thread while Kafka works (for request
 * handlers, which then return SP_HANDLER_ASYNC). Runs step 2 and starts
 * step 3, then returns: 1 when there was nothing to publish (the items are
 * final now and done is not called), 0 when done(rc, ud) will run on a
 * publisher completion thread once steps 3-4 are over, with rc as
 * tg_pipeline_run returns it; or SP_ENOMEM / SP_EUNAVAILABLE (the publisher
 * does not run), done not called. timeout_ms bounds the wait for Kafka
 * (0: tg->publish_timeout_ms). items and arena must stay alive until done
 * ran. */
typedef void (*tg_pipeline_done_fn)(int rc, void *ud);
int tg_pipeline_start(tg_t *tg, sp_arena_t *arena, const char *tenant_id, const char *traceparent,
                      const char *source, tg_item_t *items, size_t n, int timeout_ms,
                      tg_pipeline_done_fn done, void *ud);

#endif
