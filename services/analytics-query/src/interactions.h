/*
 * interactions.h — the analysed interactions themselves: list and search,
 * and one interaction with its redacted transcript.
 *
 * GET /v1/analytics/interactions
 *   The window and filters of filters.h (q searches the redacted text,
 *   case-insensitively), plus
 *     sort    occurred_at | sentiment | duration   (default occurred_at)
 *     order   asc | desc                           (default desc)
 *     limit   1..200 (default 50)
 *     offset  0..10000 (default 0): deeper pages need a narrower window
 *   Ties are broken by interaction id, so pages never overlap. Answer:
 *   {"items":[{"id","external_id","occurred_at","channel","language",
 *     "agent":{"id","name"},"sentiment","topics","intent","duration_ms",
 *     "resolved","escalated","churn_risk","csat","nps","tags","snippet"}],
 *    "total","limit","offset","next_offset","sort","order","period"}
 *   snippet: about 320 bytes of the redacted text (whole UTF-8 characters),
 *   starting a little before the first match of q when searching. csat / nps are null when not
 * asked.
 *
 * GET /v1/analytics/interactions/{id}
 *   One interaction of the caller's tenant with every analysed field, its
 *   redacted text and its transcript (utterances in order: seq, speaker,
 *   start_ms, end_ms, text, sentiment; at most 10000). 400 invalid_id for a
 *   malformed id; 404 interaction_not_found for an id that is not the
 *   tenant's, whether or not it exists elsewhere.
 *
 * Both read the raw tables deduplicated with FINAL; never cached.
 */
#ifndef AQ_INTERACTIONS_H
#define AQ_INTERACTIONS_H

#include "context.h"
#include "platform/router.h"

int aq_interactions_register(sp_router_t *router, aq_ctx_t *ctx);

/* s (a byte-cut piece of UTF-8 text) without the partial characters at
 * either end, in arena; NULL when out of memory. */
char *aq_snippet(sp_arena_t *arena, const char *s);

#endif
