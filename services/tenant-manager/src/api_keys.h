/*
 * api_keys.h — partners' API keys and ResolveApiKey.
 *
 * A key reads "sk_live_<prefix>_<secret>": prefix is 12 public hex
 * characters (shown in lists, used to find the key), secret 32 random bytes.
 * Only SHA-256 of the whole key is stored; the key is shown once, in the
 * reply that creates it. Scopes are permission names of permissions.h
 * (never platform:admin), and a caller can only grant scopes it holds
 * itself (403 scope_not_allowed), so a key never outranks its creator.
 *
 * Routes:
 *   GET    /v1/api-keys        list (never the secret)   [api_keys:read]
 *   POST   /v1/api-keys        create                    [api_keys:write]
 *   GET    /v1/api-keys/{id}   one key                   [api_keys:read]
 *   DELETE /v1/api-keys/{id}   revoke (idempotent)       [api_keys:write]
 *
 * Typed RPC tenant-manager.ResolveApiKey: the presented key -> key id,
 * tenant, scopes; INVALID for an unknown prefix or a wrong secret (compared
 * in constant time), REVOKED, EXPIRED, TENANT_SUSPENDED. Each OK updates the
 * key's last-used time (at most once a minute, so a busy key does not write
 * on every request). Revoking a key DELetes sp:apikey:<hex sha256(key)>, the
 * tools-gateway's cache of its resolution.
 */
#ifndef TM_API_KEYS_H
#define TM_API_KEYS_H

#include "platform/rpc.h"

#include "tm.h"

/* Adds the routes above to router and, when tm->svc is set (not in tests),
 * the typed method ResolveApiKey. Returns 0 or the first SP_E* code. */
int tm_api_keys_register(sp_router_t *router, tm_t *tm);

/* tenant-manager.ResolveApiKey (an sp_rpc_method_fn; ud is the tm_t). */
int tm_rpc_resolve_api_key(sp_rpc_call_t *call, const uint8_t *in, size_t in_len, sp_arena_t *arena,
                           uint8_t **out, size_t *out_len, void *ud);

#endif
