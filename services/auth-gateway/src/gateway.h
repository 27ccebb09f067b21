/*
 * gateway.h — the auth-gateway's shared context: its configuration, its key
 * set and its clients, read once at start and read-only afterwards, so every
 * HTTP worker thread may use it without locks.
 */
#ifndef GW_GATEWAY_H
#define GW_GATEWAY_H

#include "localcache.h"
#include "platform/jwt.h"
#include "platform/service.h"

#include "tenant.pb-c.h"

typedef Serphona__Tenant__V1__Principal gw_principal_t;
typedef Serphona__Tenant__V1__TenantState gw_tenant_state_t;
typedef Serphona__Tenant__V1__Limits gw_limits_t;

typedef struct {
    sp_service_t *svc;
    sp_redis_pool_t *redis; /* set by unit tests only; else the service's pool */
    sp_jwt_keyset_t *keys;
    char *jwks;          /* the JWKS document, rendered once */
    sp_rpc_client_t *tm; /* tenant-manager, for the typed RPCs */

    /* tokens */
    const char *issuer, *audience;
    int access_ttl_s, refresh_ttl_s, leeway_s;
    /* caches of tenant-manager answers in Redis (tenant.proto contract) */
    int cache_ttl_s, rpc_timeout_ms;
    /* the same keys in process memory, invalidated by Redis (localcache.h) */
    gw_l1_t *l1;
    /* tenant-manager behind both caches (tenancy.h) */
    struct sp_tenants *tenants;
    /* the local side of the rate limits (ratelimit.h) */
    struct gw_rl *rl;
    /* console support */
    int refresh_cookie; /* the refresh token travels in an HttpOnly cookie */
    /* brute force */
    int login_max_failures, login_ip_max_failures, login_window_s;
    int lockout_base_s, lockout_max_s;
    /* rate limits when a plan names none */
    int default_tenant_rpm, default_user_rpm;
    /* X-Forwarded-For entries set by proxies we trust, counted from the right */
    int trusted_proxy_hops;
    /* benchmark-only switch (see main.c) */
    int auth_disabled;
} gw_t;

/* Reads the gateway's configuration and loads its keys (keys.c does that
 * part). Configuration mistakes are recorded in the service's config, so
 * sp_service_run reports them all. Returns the context, owned by the service
 * (freed at shutdown), or NULL when out of memory. */
gw_t *gw_new(sp_service_t *svc);

/* gw->redis when set (unit tests), else the service's Redis pool (NULL
 * before sp_service_run). */
sp_redis_pool_t *gw_redis(const gw_t *gw);

/* The caller's address: the peer, or with SERPHONA_TRUSTED_PROXY_HOPS = N > 0
 * the N-th address from the right of X-Forwarded-For (the one our outermost
 * trusted proxy saw), when the header has that many. Arena-owned. */
const char *gw_client_ip(const gw_t *gw, sp_request_t *req);

/* Writes a 401 with the error code and a WWW-Authenticate challenge
 * (RFC 6750) naming it. */
void gw_unauthorized(sp_request_t *req, const char *code, const char *message);

#endif
