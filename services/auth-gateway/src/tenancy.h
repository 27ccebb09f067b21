/*
 * tenancy.h — what tenant-manager knows about a caller, through the platform
 * client (platform/tenant_client.h), which owns the cache keys and TTLs of
 * proto/tenant.proto, fills Redis on a miss and backs off from an
 * unanswering tenant-manager:
 *
 *   sp:principal:<tenant_id>:<user_id>   Principal     (GetPrincipal)
 *   sp:tenant:<tenant_id>                TenantState   (GetTenantState)
 *   sp:limits:<tenant_id>                Limits        (GetLimits)
 *   sp:origins                           AllowedOrigins (ListAllowedOrigins)
 *
 * The gateway fills a key on a miss with a TTL of SERPHONA_AUTH_CACHE_TTL_S;
 * tenant-manager deletes it in the request that changes what it holds, so a
 * disabled user or a suspended tenant is refused on its next request. In
 * front of Redis sits the in-process copy of localcache.h (kept exact by
 * Redis client tracking). One lookup reads every key it needs with a single
 * MGET, together with the session's revocation marker (sessions.h), so an
 * authenticated request costs at most one Redis round trip here.
 */
#ifndef GW_TENANCY_H
#define GW_TENANCY_H

#include "gateway.h"
#include "platform/tenant_client.h"

typedef struct {
    const char *tenant_id; /* "" for a platform operator */
    const char *user_id;   /* NULL: no principal wanted (API keys) */
    const char *sid;       /* NULL: no session to check */
    int want_tenant;       /* the TenantState (CORS); ignored without a tenant */
    int want_limits;       /* the Limits; ignored without a tenant */
} gw_lookup_req_t;

typedef struct {
    const gw_principal_t *principal; /* when user_id was given */
    const gw_tenant_state_t *tenant; /* when wanted and the tenant is known */
    const gw_limits_t *limits;       /* when wanted and the tenant is known */
    int session_revoked;             /* 1 when the session was logged out or revoked */
} gw_lookup_t;

/* The gateway's tenant-manager client over gw's RPC client, Redis pool and
 * in-process cache (all borrowed). NULL when out of memory. */
sp_tenants_t *gw_tenancy_new(const gw_t *gw);

/* Fills *out for q. Everything returned lives in arena. Cache misses are
 * answered by tenant-manager and written back; a Redis failure only costs
 * the cache (and the revocation check, which then fails open, logged).
 * Returns 0; SP_EUNAVAILABLE when tenant-manager cannot answer a miss;
 * SP_ENOMEM. */
int gw_lookup(const gw_t *gw, sp_arena_t *arena, const gw_lookup_req_t *q, gw_lookup_t *out);

/* Every active tenant's allowed console origins (for CORS preflights), from
 * the cache or ListAllowedOrigins. Returns 0 with *origins / *n (arena-owned)
 * or SP_EUNAVAILABLE / SP_ENOMEM. */
int gw_allowed_origins(const gw_t *gw, sp_arena_t *arena, char ***origins, size_t *n);

#endif
