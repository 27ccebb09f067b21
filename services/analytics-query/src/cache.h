/*
 * cache.h — Redis cache of dashboard answers, dropped when the tenant gets
 * new analyses.
 *
 * Overview, time series, breakdowns, keywords and movers answers are kept in
 * Redis for SERPHONA_ANALYTICS_CACHE_TTL seconds (default 60) under
 *
 *   sp:analytics:cache:<tenant>:<generation>:<sha256(route, canonical query)>
 *
 * where <generation> is the integer at sp:analytics:gen:<tenant> (0 when
 * absent). analytics-query consumes serphona.analyses.v1 in its own group
 * (analytics-query-cache) and INCRs that generation for each
 * "analysis.completed" event, so every answer cached before the new rows
 * landed stops being found at once; the stale entries just expire. The key
 * holds the canonical (parsed, resolved) query, so parameter order and
 * spelling of the same window do not split the cache, and the window is in
 * it, so a rolling "last 30 days" moves on by itself.
 *
 * Events older than twice the TTL are skipped without touching Redis: an
 * answer cached before they were produced has expired already, which makes a
 * fresh consumer group's replay of history cheap.
 *
 * Redis trouble never fails a request: the answer is computed and sent
 * uncached. Answers carry X-Cache: hit or miss.
 *
 * Metrics: serphona_analytics_cache_total{result} (hit | miss | error) and
 * serphona_analytics_cache_invalidations_total.
 */
#ifndef AQ_CACHE_H
#define AQ_CACHE_H

#include <cjson/cJSON.h>

#include "context.h"
#include "platform/events.h"
#include "platform/request.h"

#define AQ_CACHE_GROUP "analytics-query-cache"

/* Looks up the answer of route for tenant's canonical query canon. On a hit
 * writes the 200 response (X-Cache: hit) and returns 1. On a miss returns 0
 * with *key set to where the answer should be stored, or NULL when the cache
 * is off or unreachable. */
int aq_cache_lookup(aq_ctx_t *ctx, sp_request_t *req, const char *tenant, const char *route,
                    const char *canon, char **key);

/* Answers 200 with body (X-Cache: miss) and stores it under key when key is
 * not NULL. body stays the caller's. Returns 0, or SP_ENOMEM after writing
 * a 500. */
int aq_cache_reply(aq_ctx_t *ctx, sp_request_t *req, const char *key, const cJSON *body);

/* INCRs tenant's generation (and keeps it for a day). Returns 0 or an SP_E*
 * from Redis. */
int aq_cache_bump(sp_redis_pool_t *redis, const char *tenant);

/* The consumer handler (ud: the aq_ctx_t): bumps the generation of the
 * event's tenant for analysis.completed events; anything else is skipped.
 * Returns non-zero (redeliver later) only when Redis failed. */
int aq_cache_on_event(const sp_events_message_t *msg, void *ud);

/* Registers the consumer on serphona.analyses.v1. Returns 0 or an SP_E*. */
int aq_cache_subscribe(aq_ctx_t *ctx, sp_service_t *svc);

#endif
