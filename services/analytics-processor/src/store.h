/*
 * store.h — the batch's ClickHouse side: which interactions are already
 * stored, and the INSERTs of the new ones.
 *
 * Write order: utterances first, then interactions. The interactions INSERT
 * is what makes an interaction "stored": its materialized views feed the
 * rollups and interaction_keys (deploy/clickhouse/002_interaction_keys.sql),
 * the table the lookup reads. So a failure between the two INSERTs leaves
 * the interaction not stored; the retry writes its utterances again, and
 * those duplicate rows (same sorting key) collapse in the ReplacingMergeTree.
 *
 * Errors are sp_ch_exec's: SP_EDB, SP_EUNAVAILABLE, SP_ETIMEDOUT, SP_ENOMEM,
 * and SP_EPROTO for a lookup answer that is not what was asked. None of them
 * is the data's fault, so the caller retries the batch (no dead letters).
 */
#ifndef AP_STORE_H
#define AP_STORE_H

#include "batch.h"
#include "platform/clickhouse.h"

#define AP_KEYS_TABLE "interaction_keys"

/* Marks the batch's NEW entries that ClickHouse already holds as
 * AP_ENTRY_DUP_STORED. Returns how many it marked (>= 0) or an SP_E* code. */
int ap_store_lookup(sp_ch_t *ch, ap_batch_t *b);

/* Inserts the rows of every NEW entry (utterances, then interactions).
 * Returns 0 (also when nothing is NEW) or an SP_E* code. */
int ap_store_insert(sp_ch_t *ch, const ap_batch_t *b);

#endif
