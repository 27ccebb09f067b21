/*
 * reconciler.h — accepted => analysed: interactions the ledger holds as
 * pending (accepted, not reported stored by the processor: ledger_events.h)
 * for longer than SERPHONA_INGEST_RECONCILE_GRACE_S since they were last
 * published are published again from the ledger's copy of their protobuf.
 * The processor deduplicates by interaction id, so a re-publish of something
 * it did store costs one lookup and brings its analysis.completed again,
 * which settles the row.
 *
 * One pass every SERPHONA_INGEST_RECONCILE_INTERVAL_S, on one replica at a
 * time: a pass runs inside a transaction holding a PostgreSQL advisory lock
 * (pg_try_advisory_xact_lock; a replica that does not get it skips the pass).
 * A pass
 *   - re-publishes at most SERPHONA_INGEST_RECONCILE_BATCH rows, and never
 *     more than the backlog has room for under its bound (backlog.h), so a
 *     processor that is down does not get the same interactions piled up in
 *     Kafka once per grace period;
 *   - prunes: rows settled (analysed, dead-lettered) and accepted more than
 *     SERPHONA_INGEST_LEDGER_RETENTION_DAYS ago are deleted, in slices;
 *     pending rows are never deleted;
 *   - refreshes the metrics.
 *
 * Metrics: serphona_ingest_ledger_pending (rows accepted, not yet settled),
 * serphona_ingest_ledger_oldest_pending_seconds,
 * serphona_ingest_republished_total{result=ok|error},
 * serphona_ingest_ledger_pruned_total.
 */
#ifndef TG_RECONCILER_H
#define TG_RECONCILER_H

#include "tg.h"

/* A reconciler over tg's ledger, producer, topic and backlog; NULL when out
 * of memory. Nothing runs until tg_reconciler_start. */
tg_reconciler_t *tg_reconciler_new(tg_t *tg);

/* Starts the thread. Returns 0 or SP_EIO. */
int tg_reconciler_start(tg_reconciler_t *r);

/* Stops the thread (after its current pass) and frees r. Accepts NULL; sets
 * *self_p to NULL. */
void tg_reconciler_destroy(tg_reconciler_t **self_p);

/* One pass now, in the caller's thread (tests). Returns the number of
 * interactions re-published, 0 when another replica holds the lock, or a
 * negative SP_E*. */
int tg_reconciler_pass(tg_t *tg);

#endif
