/*
 * tokens.h — access tokens: issuing them, and identifying the caller of a
 * request from one (or from a partner's API key).
 *
 * A caller is accepted only when, in this order: the credential verifies
 * (ES256 JWT with our iss/aud, see platform/jwt.h; or an API key tenant-
 * manager resolves), its session has not been revoked (logout, refresh-token
 * reuse), and tenant-manager (through the cache, tenancy.h) still knows the
 * user as active in an active tenant. The roles forwarded are the CURRENT
 * ones from tenant-manager, not those frozen in the token.
 *
 * Refusals, each written into the response:
 *   401 invalid_token     malformed, wrong alg (none, HS256 ...), unknown kid,
 *                         bad signature, wrong iss/aud, missing claims,
 *                         not yet valid, or the user no longer exists
 *   401 token_expired     exp has passed
 *   401 token_revoked     the session was logged out or revoked
 *   401 invalid_api_key   unknown, revoked or expired API key
 *   403 user_disabled     the user is disabled
 *   403 tenant_suspended  the tenant is suspended
 *   503 auth_unavailable  tenant-manager cannot be asked
 */
#ifndef GW_TOKENS_H
#define GW_TOKENS_H

#include "gateway.h"

typedef struct {
    sp_auth_t auth;                  /* what is forwarded: tenant, subject, roles or scopes,
                                      * and the tenant's time zone */
    const char *caller_key;          /* rate-limit identity: "u:<user id>" or "k:<key id>" */
    const char *sid, *jti;           /* a user's session and token id */
    int64_t iat, exp;                /* of the token */
    const gw_principal_t *principal; /* users only */
    const gw_tenant_state_t *tenant; /* the caller's tenant; NULL for operators */
    const gw_limits_t *limits;       /* the tenant's; NULL for operators */
} gw_caller_t;

typedef enum {
    GW_AUTH_OK = 0,  /* *caller filled */
    GW_AUTH_NONE,    /* no credential presented */
    GW_AUTH_REFUSED, /* the response holds the refusal */
} gw_auth_result_t;

/* Identifies the caller of req from "Authorization: Bearer <JWT>" or
 * "X-Api-Key: <key>". Everything in *caller lives in req's arena. */
gw_auth_result_t gw_authenticate(const gw_t *gw, sp_request_t *req, gw_caller_t *caller);

/* Signs an access token for a user (tenant_id "" for an operator) in session
 * sid, valid SERPHONA_ACCESS_TOKEN_TTL_S from now. *token is arena-owned,
 * *exp its expiry (Unix seconds). Returns 0 or SP_E*. */
int gw_token_issue(const gw_t *gw, sp_arena_t *arena, const char *tenant_id, const char *user_id,
                   char *const *roles, size_t n_roles, const char *sid, const char **token,
                   int64_t *exp);

/* Writes the refusal for a principal that is not active (403 tenant_suspended,
 * 403 user_disabled, 401 invalid_token) and returns 1; returns 0 for an
 * active one. */
int gw_refuse_inactive(sp_request_t *req, const gw_principal_t *p);

/* The same for the caller's tenant (NULL = no tenant: 0). A suspension
 * reaches the gateway through the tenant's cache key (tenant-manager
 * deletes sp:tenant:<id>), not through every user's principal key, so both
 * are checked on every request. */
int gw_refuse_inactive_tenant(sp_request_t *req, const gw_tenant_state_t *t);

#endif
