/*
 * export.h — GET /v1/analytics/export.csv: the filtered interaction list as
 * CSV (permission analytics:export).
 *
 * Parameters: the window and filters of filters.h, plus
 *   limit   rows in this response, 1..SERPHONA_ANALYTICS_EXPORT_MAX_ROWS
 *           (default that maximum, 50000)
 *   cursor  where the previous response stopped (its X-Export-Next-Cursor)
 *
 * Not streamed. The platform's HTTP layer and the RPC envelope carry a
 * response body as one buffer, so an export is built in bounded chunks
 * instead: the service reads ClickHouse in pages of 1000 rows (newest first,
 * keyset-paginated on occurred_at and id, so it never skips or repeats a
 * row) and stops at `limit` rows or at SERPHONA_ANALYTICS_EXPORT_MAX_BYTES
 * (default 8 MiB) of CSV, whichever comes first. When rows remain, the
 * response says so with X-Export-Truncated: true and X-Export-Next-Cursor;
 * asking again with cursor=<that> continues where it stopped. X-Export-Rows
 * gives the rows in this response. A client wanting everything loops until
 * no cursor comes back.
 *
 * The CSV (RFC 4180, UTF-8, CRLF rows, header row first): id, occurred_at
 * (ISO UTC), external_id, channel, language, agent_id, agent_name, intent,
 * topics, keywords, tags (lists joined by "|"), sentiment,
 * sentiment_customer, sentiment_agent, duration_ms, silence_ratio, resolved,
 * escalated, churn_risk (true/false), csat, nps (empty when not asked),
 * text (the redacted text). Content-Type text/csv; charset=utf-8 and
 * Content-Disposition: attachment; filename="interactions_<from>_<to>.csv"
 * (the first and last local dates of the window).
 * Free-text cells carry the formula guard of csv.h.
 */
#ifndef AQ_EXPORT_H
#define AQ_EXPORT_H

#include "context.h"
#include "platform/router.h"

int aq_export_register(sp_router_t *router, aq_ctx_t *ctx);

/* Parses a cursor "<unix seconds>_<uuid>". Returns 0 or SP_EINVAL. */
int aq_export_cursor_parse(const char *s, long long *t, char id[37]);

#endif
