/*
 * ledger.h — the interactions a tenant has had accepted, by external id
 * (table tools.ingested_interactions), so a re-send is answered "duplicate"
 * without publishing again, and what is needed to publish it again until the
 * processor has stored it (reconciler.h). One statement per batch each way.
 */
#ifndef TG_LEDGER_H
#define TG_LEDGER_H

#include <stddef.h>

#include "pipeline.h"
#include "platform/db.h"

/* Marks as DUPLICATE every VALID item of items[0..n) whose external_id the
 * tenant already has in the ledger. Returns 0, or the SP_E* of the database
 * (items untouched). */
int tg_ledger_mark_duplicates(sp_db_pool_t *db, const char *tenant_id, tg_item_t *items, size_t n);

/* Records every ACCEPTED item of items[0..n) for tenant_id with source
 * ("api", "upload"), pending, with its protobuf (what the reconciler
 * re-publishes until the processor reports it stored) — or settled at once
 * when its report came first (tg_ledger_settle); already-recorded ones are
 * left as they are. Returns 0
 * or the SP_E* of the database. */
int tg_ledger_record(sp_db_pool_t *db, const char *tenant_id, const char *source,
                     const tg_item_t *items, size_t n);

/* Settles ledger rows of any tenant from the processor's reports:
 * rows_json is [[tenant_id, interaction_id, "analysed"|"dead_lettered"],
 * ...]. A pending row takes the reported state and drops its payload;
 * analysed also overrides dead_lettered (a dead letter repaired and
 * replayed). A report for an id not (yet) in the ledger is kept in
 * tools.ledger_reports, and tg_ledger_record writes that row settled. *analysed
 * and *dead receive the rows changed. One statement. Returns 0 or the SP_E* of the database. */
int tg_ledger_settle(sp_db_pool_t *db, const char *rows_json, long *analysed, long *dead);

#endif
