/*
 * tenants.h — tenants, their settings, plans and limits: the operators'
 * routes and the tenant's own view. The typed RPCs other services read
 * tenants with are in tenant_rpc.h, the purge of deleted tenants in
 * tenant_purge.h, the checks of settings in tenant_settings.h.
 *
 * Routes (permission in brackets; platform:admin = platform operators):
 *   GET    /v1/tenants                      list/search  [platform:admin]
 *   POST   /v1/tenants                      create       [platform:admin]
 *   GET    /v1/tenants/plans                plans        [platform:admin]
 *   GET    /v1/tenants/{id}                 read         [platform:admin]
 *   PATCH  /v1/tenants/{id}                 name/settings[platform:admin]
 *   DELETE /v1/tenants/{id}                 soft delete  [platform:admin]
 *   POST   /v1/tenants/{id}/suspend                      [platform:admin]
 *   POST   /v1/tenants/{id}/reactivate      (also undeletes before purge)
 *   PUT    /v1/tenants/{id}/plan            plan + limit overrides
 *   POST   /v1/tenants/{id}/owner-invites   invite an owner [platform:admin]
 *   GET    /v1/tenants/current              own tenant   [tenant:read]
 *   PATCH  /v1/tenants/current              own settings [tenant:write]
 *   GET    /v1/tenants/current/limits       own limits   [plan:read]
 *
 * Changes are audited in the tenant's own log and drop the tenant's caches
 * (sp:tenant, sp:limits, sp:origins); a status change also drops the
 * cached principals and API key resolutions of the tenant.
 */
#ifndef TM_TENANTS_H
#define TM_TENANTS_H

#include "tenant_purge.h"
#include "tenant_rpc.h"
#include "tm.h"

/* Adds the routes above to router and, when tm->svc is set (not in tests),
 * the typed RPCs of tenant_rpc.h. Returns 0 or the first SP_E* code. */
int tm_tenants_register(sp_router_t *router, tm_t *tm);

#endif
