/*
 * jobs.h — the analysis of a batch's interactions, spread over worker
 * threads (SERPHONA_PROCESSOR_THREADS): libnlp is the processor's CPU cost,
 * and one consumer thread analysing alone keeps every other core idle.
 *
 * The consumer thread validates a record and submits it (ap_jobs_submit);
 * a worker analyses and renders it into a batch of its own while the
 * consumer goes on polling. At flush, ap_jobs_collect analyses what is
 * still queued in the calling thread too, waits for every job
 * and copies the results into the flushed batch in the order the records
 * were submitted, so the flush (dedupe, lookup, INSERT, events, offsets)
 * is exactly what it was with one thread. An analysis that refuses its
 * input becomes a dead letter there too.
 *
 * Taxonomies: ap_taxonomies_get's answer is valid only until its next
 * call, but a worker may still use it then. ap_jobs_pin keeps what a job
 * needs alive until the batch is collected: the default taxonomy as it is,
 * a tenant's own as a copy made once per batch (so a tenant's interactions
 * in one batch are all matched against the taxonomy seen first).
 *
 * One consumer thread calls every function here; the workers are private.
 */
#ifndef AP_JOBS_H
#define AP_JOBS_H

#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "interactions.pb-c.h"
#include "nlp/taxonomy.h"
#include "payloads.h"
#include "platform/events.h"
#include "platform/metrics.h"

typedef struct ap_jobs ap_jobs_t;

/* Starts n_threads (>= 1) workers; each analysis is observed in
 * analysis_seconds (may be NULL). NULL when out of memory or a thread
 * cannot start (logged). */
ap_jobs_t *ap_jobs_new(size_t n_threads, sp_histogram_t *analysis_seconds);

/* Waits for running jobs, stops the workers, frees everything. Accepts NULL;
 * sets *self_p to NULL. */
void ap_jobs_destroy(ap_jobs_t **self_p);

/* The taxonomy a job of tenant_id may use until the next collect or reset:
 * tax itself when it is the default, else the batch's copy of tenant_id's
 * taxonomy, made from tax (the answer of ap_taxonomies_get, only read here)
 * on the tenant's first job of the batch. Returns NULL when out of memory.
 * Tenants already pinned in this batch are answered without tax: pass
 * NULL to ask ap_jobs_pinned first. */
const nlp_taxonomy_t *ap_jobs_pin(ap_jobs_t *js, const char *tenant_id, const nlp_taxonomy_t *tax);

/* tenant_id's pinned taxonomy of this batch, or NULL when not pinned yet. */
const nlp_taxonomy_t *ap_jobs_pinned(const ap_jobs_t *js, const char *tenant_id);

/* Queues the analysis of ix (validated; ownership passes to the job, which
 * frees it) with tax (pinned) at now_ms. Copies from msg what a dead letter
 * of it would need. Returns 0 or SP_ENOMEM (then ix was freed). */
int ap_jobs_submit(ap_jobs_t *js, const sp_events_message_t *msg,
                   Serphona__Interactions__V1__Interaction *ix, const nlp_taxonomy_t *tax,
                   int64_t now_ms);

/* Jobs submitted since the last collect or reset. */
size_t ap_jobs_count(const ap_jobs_t *js);

/* Waits for every submitted job and adds its result to batch in submission
 * order: an analysed entry, or a dead letter (AP_R_ANALYSIS_FAILED). Then
 * empties the jobs and unpins the taxonomies. Returns 0, or SP_ENOMEM when
 * a job or the copy ran out of memory (the flush must fail and be retried). */
int ap_jobs_collect(ap_jobs_t *js, ap_batch_t *batch);

/* Waits for every submitted job and drops the results (a failed flush). */
void ap_jobs_reset(ap_jobs_t *js);

/* Logs (warn) and adds to b the dead letter d of the record of tenant_id
 * (NULL when unknown). Returns 0 or SP_ENOMEM. */
int ap_dead_letter(ap_batch_t *b, const char *tenant_id, const ap_dead_info_t *d);

#endif
