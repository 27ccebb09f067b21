/*
 * tenants.h — tenants, their settings, plans and limits: the operators'
 * routes, the tenant's own view, the typed RPCs other services read them
 * with, and the purge of deleted tenants.
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
 * Typed RPCs: tenant-manager.GetTenantState, .GetLimits (SP_ENOTFOUND, i.e.
 * envelope NOT_FOUND, for an unknown or deleted tenant), .ListAllowedOrigins.
 */
#ifndef TM_TENANTS_H
#define TM_TENANTS_H

#include "platform/rpc.h"

#include "tm.h"

/* Registers the routes above on tm->svc's router and the typed RPCs. */
int tm_tenants_register(tm_t *tm, sp_router_t *router);

/* Routes only (tests build their own router). */
int tm_tenants_routes(tm_t *tm, sp_router_t *router);

int tm_rpc_get_tenant_state(sp_rpc_call_t *call, const uint8_t *in, size_t in_len,
                            sp_arena_t *arena, uint8_t **out, size_t *out_len, void *ud);
int tm_rpc_get_limits(sp_rpc_call_t *call, const uint8_t *in, size_t in_len, sp_arena_t *arena,
                      uint8_t **out, size_t *out_len, void *ud);
int tm_rpc_list_allowed_origins(sp_rpc_call_t *call, const uint8_t *in, size_t in_len,
                                sp_arena_t *arena, uint8_t **out, size_t *out_len, void *ud);

/* Purges every tenant deleted at least after_days ago, with all its rows,
 * one tenant per transaction (scoped to that tenant, so row-level security
 * applies to the purge too). *purged counts them. Returns 0 or the first
 * database error. */
int tm_tenants_purge(sp_db_pool_t *db, int after_days, int *purged);

/* DELetes the cached principal of every user and the cached resolution of
 * every API key of tenant_id (a suspension, reactivation or deletion changes
 * them all). Best effort. */
void tm_tenants_forget_principals(tm_t *tm, const char *tenant_id);

#endif
