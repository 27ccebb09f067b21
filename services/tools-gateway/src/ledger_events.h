/*
 * ledger_events.h — how "stored" reaches the ingestion ledger: the
 * processor's own events, consumed by the tools-gateway.
 *
 *   analysis.completed    (serphona.analyses.v1)          -> state analysed
 *   interaction.rejected  (serphona.interactions.dlq.v1)  -> state dead_lettered
 *
 * The processor emits analysis.completed once an interaction's rows are in
 * ClickHouse, and again whenever it meets one already stored (a replay or a
 * reconciler re-publish finds it stored and emits anyway:
 * services/analytics-processor/src/payloads.h), so a ledger row whose first
 * report was lost is settled by its next re-publish. A dead letter carries
 * the original record (original_b64url), from which the interaction's id is
 * read. Either way the row's payload is dropped: nothing is left to
 * re-publish.
 *
 * The consumer group is "tools-gateway.ledger" (SERPHONA_INGEST_LEDGER_GROUP)
 * in batch mode: a flush is one UPDATE over every tenant (the ledger's
 * app.ingest_ledger policy). A report for an interaction not (yet) in the
 * ledger is ignored: the row, once written, stays pending and its
 * re-publish brings the report again.
 *
 * Metrics: serphona_ingest_ledger_settled_total{state=analysed|dead_lettered}
 * (rows that left pending).
 */
#ifndef TG_LEDGER_EVENTS_H
#define TG_LEDGER_EVENTS_H

#include "tg.h"

/* Registers the consumer on svc (before sp_service_run). Returns 0 or an
 * SP_E* code. */
int tg_ledger_events_register(tg_t *tg, sp_service_t *svc);

/* Reads an interaction's tenant and id out of one of the processor's events
 * (type and JSON payload as in the envelope) into tenant[37] and id[37];
 * *state is "analysed" or "dead_lettered". Returns 1 when it names one, 0
 * when the event is of another type or does not (a dead letter whose
 * original is not an interaction), SP_ENOMEM. For tests. */
int tg_ledger_event_parse(const char *type, const void *payload, size_t len, char tenant[37],
                          char id[37], const char **state);

#endif
