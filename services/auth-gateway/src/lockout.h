/*
 * lockout.h — brute-force protection of the login, in Redis.
 *
 * Attempts are counted per account (tenant slug + normalised email, hashed,
 * so no address is stored in a key) and per client address, each in a window
 * of SERPHONA_LOGIN_FAILURE_WINDOW_S. An attempt is claimed atomically before
 * its password is checked (one Lua script checks the locks and counts), so
 * concurrent guesses cannot all pass the check before any is counted: at
 * most SERPHONA_LOGIN_MAX_FAILURES passwords of an account
 * (SERPHONA_LOGIN_IP_MAX_FAILURES of an address) are ever checked per window.
 * The claim that reaches the threshold also sets the lock for
 * SERPHONA_LOGIN_LOCKOUT_S; every later claim (one per lock period) doubles
 * it, up to SERPHONA_LOGIN_LOCKOUT_MAX_S. While locked, every attempt is
 * refused before the password is even checked, with 429
 * too_many_login_attempts and Retry-After. The account key exists whether or
 * not the email does, so a lock reveals nothing about which emails exist. A
 * correct password clears the account's counter and lock and gives back its
 * claim on the address; an attempt that was never checked (tenant-manager
 * away) gives back both claims.
 */
#ifndef GW_LOCKOUT_H
#define GW_LOCKOUT_H

#include "gateway.h"

/* The account's key material: the lowercased tenant slug and the email in
 * its one normalised form (sp_email_normalize, the form tenant-manager looks
 * accounts up by; an address that does not normalise can match no account
 * and is keyed lowercased as given). Arena-owned. */
const char *gw_lockout_account(sp_arena_t *arena, const char *tenant_slug, const char *email);

/* Claims one attempt of account from ip. 0 when neither is locked (the
 * attempt is counted and may go on to the password check); SP_EDENIED with
 * *retry_after_s when one is locked (nothing counted). Fails open (0, logged)
 * when Redis is down. */
int gw_lockout_claim(const gw_t *gw, sp_arena_t *arena, const char *account, const char *ip,
                     int *retry_after_s);

/* After a correct password: clears the account's counter and lock and gives
 * back the claim on ip. */
void gw_lockout_succeeded(const gw_t *gw, sp_arena_t *arena, const char *account, const char *ip);

/* After an attempt whose password was never checked: gives back both claims. */
void gw_lockout_release(const gw_t *gw, sp_arena_t *arena, const char *account, const char *ip);

#endif
