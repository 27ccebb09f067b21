/*
 * timeseries.h — GET /v1/analytics/timeseries: KPIs per day, week or month
 * in the tenant's timezone.
 *
 * Parameters: the window and filters of filters.h, plus
 *   metric    comma-separated KPI names of kpis.h (default volume)
 *   interval  day | week (ISO, starting Monday) | month (default day)
 * Answer:
 *   {"interval","timezone","metrics":[...],"period":{...},"source",
 *    "points":[{"bucket":"2024-03-04","volume":12,"sentiment_avg":0.1}, ...]}
 * One point per bucket touching the window, from the bucket of `from` to the
 * bucket of the last hour before `to`, in order; a bucket without data is
 * still listed (volume 0, ratios null). A bucket is named by its first local
 * date. The first and last buckets may be partial (they are cut by the
 * window).
 *
 * Source: interactions_hourly_channel (interactions_hourly under an agent
 * filter), grouped by toDate(hour, tz) (then toMonday / toStartOfMonth);
 * topics_hourly for a topic filter when every metric is
 * volume, sentiment_avg or negative_share and the only other filter is
 * channel; else the raw table. Cached (cache.h).
 */
#ifndef AQ_TIMESERIES_H
#define AQ_TIMESERIES_H

#include "context.h"
#include "platform/router.h"

int aq_timeseries_register(sp_router_t *router, aq_ctx_t *ctx);

#endif
