/*
 * breakdowns.h — where the volume goes: breakdowns by a dimension, top
 * keywords, and the topics that moved most.
 *
 * GET /v1/analytics/breakdown?by=topic|intent|channel|agent|language&limit
 *   The top `limit` (1..100, default 10) values of the dimension by volume:
 *   {"by","total","source","period","items":[{"key","count","share",
 *    "sentiment_avg","negative_share"}]} (+ "name" for agents). total is the
 *   volume of the window under the filters; share = count / total (topics
 *   overlap, so topic shares may add up to more than 1). An empty key is
 *   "not known" (no agent, undetected language, no intent).
 *   Sources: channel and language from interactions_hourly_channel, or
 *   interactions_hourly under an agent filter; agent from
 *   interactions_hourly (channel from topics_hourly under a topic filter);
 *   topic from topics_hourly; intent, and anything under raw-only filters,
 *   from the raw table. total from the cheapest source under the filters.
 *
 * GET /v1/analytics/keywords?limit
 *   Top keywords (limit 1..100, default 20) of the analysed interactions:
 *   {"total","items":[{"keyword","count","share","sentiment_avg"}]}, count =
 *   interactions mentioning the keyword. Always the raw table.
 *
 * GET /v1/analytics/movers?by=volume|sentiment&limit&min_volume
 *   Topics whose volume (by=volume, default: largest absolute change in
 *   count) or mean sentiment (by=sentiment: largest absolute change, among
 *   topics with at least min_volume interactions in both periods) changed
 *   most against the previous period: {"by","period","previous_period",
 *   "items":[{"topic","direction":"up"|"down"|"flat","volume":{value,
 *   change, change_pct},"sentiment_avg":{...}}]}. limit 1..50 (default 10);
 *   min_volume 1..1000000 (default 5) also bounds by=volume (count in either
 *   period). From topics_hourly unless a filter needs the raw table.
 *
 * All three take the window and filters of filters.h and are cached.
 */
#ifndef AQ_BREAKDOWNS_H
#define AQ_BREAKDOWNS_H

#include "context.h"
#include "platform/router.h"

int aq_breakdowns_register(sp_router_t *router, aq_ctx_t *ctx);

#endif
