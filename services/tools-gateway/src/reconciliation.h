/*
 * reconciliation.h — the operators' view of accepted => analysed:
 *
 *   GET /v1/ingest/reconciliation?days=7&tenant_id=<uuid>   (platform:admin)
 *
 * Per tenant and UTC day of acceptance, newest first, from the ingestion
 * ledger (so at most SERPHONA_INGEST_LEDGER_RETENTION_DAYS back):
 *
 *   {"days": 7,
 *    "rows": [{"tenant_id": "…", "day": "2026-12-07", "accepted": 50000,
 *              "analysed": 49990, "dead_lettered": 0, "pending": 10,
 *              "republished": 12}],
 *    "totals": {"accepted": …, "analysed": …, "dead_lettered": …, "pending": …,
 *               "republished": …, "oldest_pending_at": "…" | null}}
 *
 * accepted counts interactions answered 202 (each once, whatever was
 * re-sent); analysed those the processor reported stored; dead_lettered
 * those it refused; pending the rest, which the reconciler publishes again;
 * republished the re-publishes so far. days is 1..366 (default 7); 400
 * invalid_query otherwise or for a malformed tenant_id. Served over RPC
 * (the console behind the auth-gateway's /v1/ingest/ prefix); API keys
 * never hold platform:admin.
 */
#ifndef TG_RECONCILIATION_H
#define TG_RECONCILIATION_H

#include "tg.h"

/* Registers the route on tg->router. Returns 0 or the sp_router_add error. */
int tg_reconciliation_register(tg_t *tg);

#endif
