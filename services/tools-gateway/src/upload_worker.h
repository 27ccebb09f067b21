/*
 * upload_worker.h — the background workers that process upload jobs.
 *
 * Jobs wait in tools.upload_queue (see migrations/002_ingestion.sql). A
 * worker claims the oldest job whose lease ran out, reads its file in
 * chunks of SERPHONA_INGEST_UPLOAD_CHUNK rows, runs each chunk through the
 * ingestion pipeline (pipeline.h) and records the progress of the chunk
 * (rows read, accepted, rejected with their reasons, duplicates) and a
 * fresh lease in one transaction. A chunk Kafka does not acknowledge is
 * retried with backoff (1 s doubling to 30 s) while the job stays
 * "running". At the end the job is "completed" (or "failed" when the file
 * itself is unusable) and its file dropped. A worker that dies leaves its
 * lease to expire; the next one resumes after the rows already recorded,
 * and the ledger makes any row published twice a duplicate.
 *
 * Several replicas of the service may run workers at once (the claim uses
 * FOR UPDATE SKIP LOCKED).
 */
#ifndef TG_UPLOAD_WORKER_H
#define TG_UPLOAD_WORKER_H

#include "tg.h"

/* Creates tg->upload_workers workers for tg; nothing runs yet. NULL when
 * out of memory. */
tg_worker_t *tg_worker_new(tg_t *tg);

/* Starts the threads. Returns 0 or SP_EIO. */
int tg_worker_start(tg_worker_t *w);

/* Wakes idle workers at once (a job was just queued). Accepts NULL. */
void tg_worker_wake(tg_worker_t *w);

/* Processes queued jobs in the calling thread until none is left (tests).
 * Returns the number of jobs processed, or a negative SP_E*. */
int tg_worker_drain(tg_worker_t *w);

/* Stops the threads (a chunk in progress finishes; the job's lease is
 * released so another worker resumes it at once), joins them and frees w.
 * Accepts NULL; sets *self_p NULL. */
void tg_worker_destroy(tg_worker_t **self_p);

#endif
