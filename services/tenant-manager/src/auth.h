/*
 * auth.h — the typed RPCs the auth-gateway logs in with:
 *
 *   tenant-manager.Authenticate  slug + email + password -> who, or why not
 *   tenant-manager.GetPrincipal  is this token's subject still allowed in
 *
 * How a login finds its user without bypassing row-level security: the
 * tenant slug is resolved first in the tenants registry (a platform table),
 * then the user is read in a transaction scoped to that tenant, so the query
 * can only ever see that tenant's users. A platform operator logs in with an
 * empty slug and is read from the operators table (platform-level; operators
 * belong to no tenant).
 *
 * Answers never tell an unknown tenant, an unknown email and a wrong
 * password apart, and take the same time for each (a PBKDF2 run is spent on
 * unknown accounts too). TENANT_SUSPENDED and USER_DISABLED are only
 * reported after a correct password.
 */
#ifndef TM_AUTH_H
#define TM_AUTH_H

#include "platform/rpc.h"

#include "tm.h"

/* The method functions (ud = tm_t *), exposed for tests. */
int tm_rpc_authenticate(sp_rpc_call_t *call, const uint8_t *in, size_t in_len, sp_arena_t *arena,
                        uint8_t **out, size_t *out_len, void *ud);
int tm_rpc_get_principal(sp_rpc_call_t *call, const uint8_t *in, size_t in_len, sp_arena_t *arena,
                         uint8_t **out, size_t *out_len, void *ud);

/* Registers both methods on tm->svc. Returns 0 or SP_ENOMEM. */
int tm_auth_register(tm_t *tm);

#endif
