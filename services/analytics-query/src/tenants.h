/*
 * tenants.h — the tenant's time zone, without waiting on tenant-manager.
 *
 * Buckets and local dates follow the tenant's time zone (TenantState.timezone
 * of tenant-manager.GetTenantState). It is taken, first that has it:
 *   1. from the request's auth context, where the auth-gateway puts the zone
 *      of the TenantState it already read to authenticate the caller;
 *   2. from the shared Redis cache sp:tenant:<tenant_id> (platform/
 *      tenant_client.h; tenant-manager deletes it when the settings change);
 *   3. from the last value the platform client's background refresher got
 *      (a cache miss queues a refresh, which also fills the cache again).
 * A dashboard never fails or waits because of this: when none of them has a
 * usable zone (tenant-manager away, a tenant never seen), the tenant is taken
 * to be on UTC for that request.
 */
#ifndef AQ_TENANTS_H
#define AQ_TENANTS_H

#include "context.h"
#include "platform/request.h"

/* The timezone of tenant (an IANA name, or "UTC"), in req's arena or the
 * auth context's. Never NULL. */
const char *aq_tenant_timezone(aq_ctx_t *ctx, sp_request_t *req, const char *tenant);

/* 1 when tz looks like an IANA zone name ("Europe/Lisbon", "UTC",
 * "America/Argentina/Buenos_Aires", "Etc/GMT+3"): 1..64 characters of
 * letters, digits, '_', '-', '+' and '/', starting with a letter. */
int aq_tz_valid(const char *tz);

#endif
