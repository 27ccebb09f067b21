/*
 * partner_auth.h — partners' API keys on the public port, and the routes
 * served both there and over RPC.
 *
 * Every ingestion route is registered twice by tg_route_add:
 *   - on the service's router with its permission: requests the
 *     auth-gateway forwards over RPC carry the console user's (or the
 *     gateway-resolved key's) auth context, which the router checks; they
 *     are never authenticated again here;
 *   - on the public router (HTTP :8090) behind partner authentication:
 *       Authorization: Bearer <key>   or   X-Api-Key: <key>
 *     The key is resolved with tenant-manager.ResolveApiKey through the
 *     platform's tenant client (platform/tenant_client.h) and the reply
 *     cached in Redis under sp:apikey:<hex SHA-256 of the whole key> (never
 *     the key itself; it is also the hex of tenant.api_keys.secret_hash, so
 *     tenant-manager can DEL it when the key is revoked or its tenant
 *     suspended) for SERPHONA_API_KEY_CACHE_S (default 30 s, at most 60 as
 *     for every tenant.proto cache; refusals 10 s at most). The request then
 *     carries auth {tenant_id, subject = key id, scopes} and the key's
 *     scopes must hold the route's permission.
 * Answers of the public port (stable codes, as the auth-gateway's):
 *   401 unauthenticated     no key on a route that needs one
 *   401 invalid_api_key     malformed, unknown, wrong, revoked or expired key
 *                           (the message says which)
 *   403 tenant_suspended    the key's tenant is suspended
 *   403 insufficient_scope  the key lacks the route's permission
 *   503 auth_unavailable    tenant-manager cannot be asked (Retry-After)
 * Anything else on the public port (built-in routes, 404, 405) is
 * dispatched to the service's router unchanged.
 */
#ifndef TG_PARTNER_AUTH_H
#define TG_PARTNER_AUTH_H

#include "tg.h"

/* Creates tg->public_router with its catch-all into tg->router, and
 * tg->tenants (the API key resolver over tg->tenant_manager and the Redis
 * pool; tg_cleanup frees both). Returns 0 or SP_ENOMEM. */
int tg_public_router_init(tg_t *tg);

/* Registers fn (called with ud = tg) for method + pattern on both routers,
 * requiring permission. Returns 0, or the sp_router_add error. */
int tg_route_add(tg_t *tg, const char *method, const char *pattern, const char *permission,
                 sp_handler_fn fn);

/* Frees the route records (tg_cleanup calls it). */
void tg_routes_free(tg_t *tg);

/* The Redis cache key of an API key: "sp:apikey:" + hex SHA-256(key)
 * (sp_tenants_api_key_key; kept for the tests that plant keys). */
void tg_api_key_cache_key(const char *key, char out[10 + 64 + 1]);

#endif
