/*
 * processor.h — the analytics pipeline: interaction.recorded events from
 * Kafka, analysed, into ClickHouse in batches, with analysis and usage
 * events out, and poison to the dead-letter topic.
 *
 * Flow per record (batch mode of events.h): the consumer thread validates
 * (validate.h) and hands the record to one of SERPHONA_PROCESSOR_THREADS
 * analysis threads (jobs.h), which analyses with redaction first
 * (analysis.h), matching the tenant's own taxonomy (taxonomies.h: from
 * tenant-manager, cached 60 s), and renders the rows and events. At flush
 * the results join the batch (batch.h) in the order the records came. A
 * poison record becomes a dead letter in the same batch, so it is published
 * with the batch and its offset stored with it.
 *
 * Flush (by size SERPHONA_PROCESSOR_BATCH_SIZE, by time
 * SERPHONA_PROCESSOR_FLUSH_MS, before a rebalance and at shutdown): wait for
 * the batch's analyses, dedupe
 * within the batch, drop what ClickHouse already holds, INSERT the rest
 * (store.h), publish dead letters, analysis.completed and usage.recorded
 * (payloads.h) and wait for the broker's acks; only then do offsets get
 * stored. Any failure (ClickHouse down, Kafka not acknowledging) fails the
 * flush: the consumer rewinds and delivers the same records again after a
 * backoff (100 ms doubling to 5 s), which the dedupe turns into no-ops for
 * what was already stored. A ClickHouse outage is therefore never poison.
 *
 * Metrics:
 *   serphona_processor_interactions_total{result}  analysed | duplicate | dead_lettered
 *   serphona_processor_dead_letters_total{reason}  by validate.h reason code
 *   serphona_processor_utterances_total            utterances stored
 *   serphona_processor_batch_seconds               ClickHouse INSERT latency per batch
 *   serphona_processor_batch_size                  records per flushed batch
 *   serphona_processor_flush_seconds               whole flush (lookup, INSERT, events)
 *   serphona_processor_flush_failures_total{stage} lookup | insert | publish | memory
 *   serphona_processor_analysis_seconds            analysis of one interaction
 *   serphona_processor_last_flush_timestamp_seconds
 */
#ifndef AP_PROCESSOR_H
#define AP_PROCESSOR_H

#include "platform/service.h"

typedef struct ap_processor ap_processor_t;

/* Reads the SERPHONA_PROCESSOR_* settings and registers the batch consumer
 * on the interactions topic with svc. Call before sp_service_run; destroy
 * after it returned (delivery reports of the producer reach the processor
 * until then). Returns NULL on a bad setting or out of memory (logged). */
ap_processor_t *ap_processor_new(sp_service_t *svc);

/* Accepts NULL; sets *self_p to NULL. */
void ap_processor_destroy(ap_processor_t **self_p);

#endif
