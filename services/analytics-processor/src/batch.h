/*
 * batch.h — the interactions and dead letters accepted since the last flush,
 * already rendered, and the bookkeeping that makes a flush idempotent.
 *
 * A flush (processor.c) goes: ap_batch_dedupe (later copies of the same
 * tenant + interaction id inside the batch are dropped), ap_batch_lookup_sql
 * + ap_batch_apply_stored (ids ClickHouse already holds are dropped),
 * ap_batch_bodies (the INSERT bodies of what is left), then the events. Only
 * entries still AP_ENTRY_NEW are inserted, so a replayed event never reaches
 * the tables — nor the rollups their materialized views feed — twice.
 *
 * Pure bookkeeping: no I/O. Not thread-safe: one thread at a time uses a
 * batch (the consumer thread the flushed one, each analysis thread its own).
 */
#ifndef AP_BATCH_H
#define AP_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "platform/arena.h"
#include "platform/buf.h"
#include "rows.h"

typedef enum {
    AP_ENTRY_NEW = 0,    /* to insert */
    AP_ENTRY_DUP_BATCH,  /* an earlier entry of this batch has the same id */
    AP_ENTRY_DUP_STORED, /* ClickHouse already holds it */
} ap_entry_state_t;

/* A view of one analysed interaction of the batch; pointers valid until the
 * next add or reset. */
typedef struct {
    const char *tenant_id;
    const char *interaction_id;
    const char *traceparent; /* "" when none */
    const char *analysis;    /* analysis.completed payload */
    size_t analysis_len;
    const char *usage; /* usage.recorded payload */
    size_t usage_len;
    size_t n_utterances;
    ap_entry_state_t state;
} ap_entry_t;

/* A view of one dead letter of the batch; pointers valid until the next add
 * or reset. */
typedef struct {
    const char *tenant_id; /* the Kafka key too */
    const char *reason;
    const char *payload; /* interaction.rejected payload */
    size_t payload_len;
} ap_dead_t;

typedef struct ap_batch ap_batch_t;

/* An empty batch; NULL when out of memory. Free with ap_batch_destroy. */
ap_batch_t *ap_batch_new(void);

/* Accepts NULL; sets *self_p to NULL. */
void ap_batch_destroy(ap_batch_t **self_p);

/* Empties the batch, keeping its memory for the next one. */
void ap_batch_reset(ap_batch_t *b);

/* Renders rec (rows and event payloads) into the batch as a NEW entry.
 * traceparent may be NULL. Returns 0, or SP_ENOMEM, after which the batch is
 * failed (ap_batch_failed) until reset: a flush must not use it. */
int ap_batch_add(ap_batch_t *b, const ap_record_t *rec, const char *traceparent);

/* Adds a dead letter: its tenant (NULL or not a UUID = the nil UUID), the
 * reason code and the rendered payload. Returns 0 or SP_ENOMEM (the batch is
 * then failed, as above). */
int ap_batch_add_dead(ap_batch_t *b, const char *tenant_id, const char *reason, const char *payload,
                      size_t payload_len);

/* Copies entry i (< ap_batch_count(src)) of src into dst as a NEW entry,
 * rendered bytes included: how the processor gathers what its analysis
 * threads rendered, each into a batch of its own, in the order the records
 * came. Returns 0 or SP_ENOMEM (dst is then failed, as above). */
int ap_batch_add_entry_of(ap_batch_t *dst, const ap_batch_t *src, size_t i);

/* The same for dead letter i (< ap_batch_dead_count(src)). */
int ap_batch_add_dead_of(ap_batch_t *dst, const ap_batch_t *src, size_t i);

/* 0, or SP_ENOMEM when an add ran out of memory since the last reset. */
int ap_batch_failed(const ap_batch_t *b);

/* Interactions (any state) and dead letters in the batch. */
size_t ap_batch_count(const ap_batch_t *b);
size_t ap_batch_dead_count(const ap_batch_t *b);

/* Fills *out with entry i (< ap_batch_count) / dead letter i. */
void ap_batch_entry(const ap_batch_t *b, size_t i, ap_entry_t *out);
void ap_batch_dead(const ap_batch_t *b, size_t i, ap_dead_t *out);

/* Marks every entry whose (tenant, interaction id) an earlier entry already
 * has as AP_ENTRY_DUP_BATCH. Returns how many it marked. */
size_t ap_batch_dedupe(ap_batch_t *b);

/* The query listing which NEW entries ClickHouse already holds, over table
 * (interaction_keys, ordered by tenant and id, so the lookup is an index
 * read), answering "tenant_id\tinteraction_id" lines (TabSeparated).
 * Allocated in arena; NULL when no entry is NEW or out of memory (then
 * *oom is set to 1; oom may be NULL). */
char *ap_batch_lookup_sql(const ap_batch_t *b, const char *table, sp_arena_t *arena, int *oom);

/* Reads a lookup answer (len bytes of "tenant\tid\n" lines) and marks each
 * NEW entry it names AP_ENTRY_DUP_STORED. Returns how many it marked, or
 * SP_EPROTO for a line that is not two UUIDs. */
int ap_batch_apply_stored(ap_batch_t *b, const char *tsv, size_t len);

/* Appends the rows of every NEW entry: interactions rows to ix, utterance
 * rows to ut. Returns 0 or the buffers' sticky error. */
int ap_batch_bodies(const ap_batch_t *b, sp_buf_t *ix, sp_buf_t *ut);

/* Counts over NEW entries: interactions and their utterances. */
size_t ap_batch_new_count(const ap_batch_t *b, size_t *n_utterances);

#endif
