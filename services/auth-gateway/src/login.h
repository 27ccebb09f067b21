/*
 * login.h — the gateway's own routes under /v1/auth: the life of a login
 * session.
 *
 *   POST /v1/auth/login    {tenant, email, password} -> access + refresh token
 *   POST /v1/auth/refresh  {refresh_token} (or the cookie) -> a new pair
 *   POST /v1/auth/logout   {refresh_token} (or the cookie, or a Bearer token)
 *                          -> 204, the session revoked
 *   GET  /v1/auth/me       who the Bearer token is, with its current roles
 *
 * Error codes: 400 invalid_request; 401 invalid_credentials (unknown tenant,
 * unknown email and wrong password alike); 429 too_many_login_attempts
 * (lockout.h); 403 tenant_suspended / user_disabled (only after a correct
 * password); 401 invalid_refresh_token; 401 refresh_token_reused (the family
 * is revoked); 401 unauthenticated (no credential for /me or logout); the
 * token refusals of tokens.h; 503 auth_unavailable.
 */
#ifndef GW_LOGIN_H
#define GW_LOGIN_H

#include "gateway.h"

/* Registers the four routes. Returns 0 or SP_E*. */
int gw_login_register(gw_t *gw);

#endif
