/*
 * lockout.h — brute-force protection of the login, in Redis.
 *
 * Failed logins are counted per account (tenant slug + email, hashed, so no
 * address is stored in a key) and per client address, each in a window of
 * SERPHONA_LOGIN_FAILURE_WINDOW_S. At SERPHONA_LOGIN_MAX_FAILURES failures of
 * an account (SERPHONA_LOGIN_IP_MAX_FAILURES of an address) it is locked for
 * SERPHONA_LOGIN_LOCKOUT_S; every further failure doubles the lock, up to
 * SERPHONA_LOGIN_LOCKOUT_MAX_S. While locked, every attempt is refused before
 * the password is even checked, with 429 too_many_login_attempts and
 * Retry-After. The account key exists whether or not the email does, so a
 * lock reveals nothing about which emails exist. A success clears the
 * account's counter (not the address's).
 */
#ifndef GW_LOCKOUT_H
#define GW_LOCKOUT_H

#include "gateway.h"

/* The account's key material: lowercased tenant slug and email. Arena-owned. */
const char *gw_lockout_account(sp_arena_t *arena, const char *tenant_slug, const char *email);

/* 0 when neither the account nor the address is locked; SP_EDENIED with
 * *retry_after_s when one is. Fails open (0, logged) when Redis is down. */
int gw_lockout_check(const gw_t *gw, sp_arena_t *arena, const char *account, const char *ip,
                     int *retry_after_s);

/* Counts one failure of account and ip (locking when a threshold is reached). */
void gw_lockout_failed(const gw_t *gw, sp_arena_t *arena, const char *account, const char *ip);

/* Clears the account's failures after a successful login. */
void gw_lockout_succeeded(const gw_t *gw, sp_arena_t *arena, const char *account);

#endif
