/*
 * ratelimit.h — request rate limits per tenant and per caller (user or API
 * key), from the tenant's plan (Limits.tenant_requests_per_minute and
 * user_requests_per_minute; SERPHONA_DEFAULT_*_RPM when the plan names none,
 * and for platform operators, who have no tenant).
 *
 * Both limits are GCRA buckets in Redis (sp_redis_rate_limit_n) shared by
 * every gateway replica, with a burst of the whole minute's allowance. Small
 * limits (under 200 a minute) are settled with Redis on every request, so
 * they are exact. Larger ones are admitted locally against the remaining
 * allowance Redis last reported and settled in batches of limit/100 requests
 * (at most 100) or every second, whichever comes first: a Redis round trip
 * per batch instead of per request, at the price of admitting at most one
 * batch too many per replica and key (1% of the limit). A refusal from Redis
 * is remembered until its retry time, so a client hammering a full bucket
 * costs Redis nothing.
 *
 * Every answer carries RateLimit-Limit, RateLimit-Remaining and
 * RateLimit-Reset (seconds) of the tighter of the two; a refused request gets
 * 429 rate_limited with Retry-After (seconds). The caller's bucket is checked
 * first, so one busy user does not spend the tenant's allowance on requests
 * that are refused anyway. When Redis is down the limits fail open (logged):
 * availability over strictness, for a limit that protects capacity.
 */
#ifndef GW_RATELIMIT_H
#define GW_RATELIMIT_H

#include "gateway.h"

typedef struct gw_rl gw_rl_t;

/* The local side of the limits; NULL when out of memory. */
gw_rl_t *gw_rl_new(void);
void gw_rl_destroy(gw_rl_t **self_p);

/* Applies the limits for one request of caller_key ("u:<user id>" or
 * "k:<key id>") in tenant_id ("" for an operator), with limits (NULL = the
 * defaults). Returns 0 when allowed (headers set); SP_EDENIED after writing
 * the 429 into the request's response. */
int gw_ratelimit_apply(const gw_t *gw, sp_request_t *req, const char *tenant_id,
                       const char *caller_key, const gw_limits_t *limits);

#endif
