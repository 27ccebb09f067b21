/*
 * overview.h — GET /v1/analytics/overview: the dashboard's headline KPIs for
 * a window beside the previous window of the same length.
 *
 * Parameters: the window and filters of filters.h. Answer:
 *   {"period":{"from","to"},"previous_period":{"from","to"},
 *    "source":"interactions_hourly_channel"|"interactions_hourly"|"interactions",
 *    "kpis":{"volume":{"value","previous","change","change_pct"}, ...}}
 * with every KPI of kpis.h. Where the numbers come from: with no filter or
 * only channel / language filters, every KPI comes from the hourly rollup
 * without agents, interactions_hourly_channel; with an agent filter (and at
 * most channel / language besides) from interactions_hourly; any other
 * filter (topic, intent, sentiment range, escalated, resolved, churn_risk,
 * q) needs columns the rollups do not keep, so every KPI then comes from the
 * raw table (deduplicated with FINAL) in one scan — one source per answer,
 * so the KPIs always agree.
 * Both periods come from one query. Cached (cache.h).
 */
#ifndef AQ_OVERVIEW_H
#define AQ_OVERVIEW_H

#include "context.h"
#include "platform/router.h"

int aq_overview_register(sp_router_t *router, aq_ctx_t *ctx);

#endif
