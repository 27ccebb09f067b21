/*
 * tenant_rpc.h — the typed RPCs (proto/tenant.proto) other services read a
 * tenant's state, limits and the allowed origins of every active tenant
 * with. They read the tenants registry (a platform table) outside any
 * tenant, in a transaction of their own.
 *
 *   tenant-manager.GetTenantState      status (PRINCIPAL_NOT_FOUND for an
 *                                      unknown or deleted tenant), slug,
 *                                      allowed origins, timezone, locale,
 *                                      retention
 *   tenant-manager.GetLimits           the plan and its effective limits;
 *                                      SP_ENOTFOUND (envelope NOT_FOUND)
 *                                      for an unknown or deleted tenant
 *   tenant-manager.ListAllowedOrigins  the origins of every active tenant
 */
#ifndef TM_TENANT_RPC_H
#define TM_TENANT_RPC_H

#include "platform/rpc.h"

#include "tm.h"

/* The method functions (sp_rpc_method_fn; ud is the tm_t), exposed for
 * tests. */
int tm_rpc_get_tenant_state(sp_rpc_call_t *call, const uint8_t *in, size_t in_len,
                            sp_arena_t *arena, uint8_t **out, size_t *out_len, void *ud);
int tm_rpc_get_limits(sp_rpc_call_t *call, const uint8_t *in, size_t in_len, sp_arena_t *arena,
                      uint8_t **out, size_t *out_len, void *ud);
int tm_rpc_list_allowed_origins(sp_rpc_call_t *call, const uint8_t *in, size_t in_len,
                                sp_arena_t *arena, uint8_t **out, size_t *out_len, void *ud);

/* Registers the three methods on tm->svc. Returns 0 or SP_ENOMEM. */
int tm_tenant_rpc_register(tm_t *tm);

#endif
