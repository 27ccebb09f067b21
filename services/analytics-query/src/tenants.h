/*
 * tenants.h — the tenant's timezone, from tenant-manager.
 *
 * Buckets and local dates follow the tenant's timezone (TenantState.timezone
 * of tenant-manager.GetTenantState). The state is read from the shared Redis
 * cache key sp:tenant:<tenant_id> (a packed TenantState, at most 60 s old;
 * tenant-manager deletes it when the settings change, see
 * proto/tenant.proto) and, on a miss, asked of tenant-manager and cached.
 *
 * A dashboard never fails because of this: when tenant-manager does not
 * answer in time (or answers without a usable zone), the tenant is taken to
 * be on UTC, logged at debug level, and tenant-manager is not asked again
 * for 5 seconds, so an outage costs one short wait, not one per request.
 */
#ifndef AQ_TENANTS_H
#define AQ_TENANTS_H

#include "context.h"
#include "platform/request.h"

/* The timezone of tenant (an IANA name, or "UTC"), in req's arena. Never
 * NULL. */
const char *aq_tenant_timezone(aq_ctx_t *ctx, sp_request_t *req, const char *tenant);

/* 1 when tz looks like an IANA zone name ("Europe/Lisbon", "UTC",
 * "America/Argentina/Buenos_Aires", "Etc/GMT+3"): 1..64 characters of
 * letters, digits, '_', '-', '+' and '/', starting with a letter. */
int aq_tz_valid(const char *tz);

#endif
