/*
 * sessions.h — login sessions as refresh-token families in Redis.
 *
 * A login opens a family (a session id, "sid") and hands out its first
 * refresh token: "rt1." + 43 base64url characters of 32 random bytes. Only
 * the SHA-256 of a token is stored:
 *
 *   sp:rt:<sha256 hex>   HASH sid, state (active | spent)
 *   sp:rtf:<sid>         HASH tid, sub, state (active | revoked)
 *   sp:revoked:<sid>     "1" while access tokens of a revoked session live
 *
 * All three expire with the family (SERPHONA_REFRESH_TOKEN_TTL_S from the
 * login; the marker after one access-token lifetime). Each refresh spends its
 * token and issues the next one, atomically (a Lua script). Presenting a
 * spent token again means it was copied: the whole family is revoked, and the
 * marker makes the access tokens of the session fail at once too (the
 * gateway checks it on every request, see tenancy.h). Logout revokes the
 * same way.
 */
#ifndef GW_SESSIONS_H
#define GW_SESSIONS_H

#include "gateway.h"

typedef struct {
    const char *sid, *tenant_id, *user_id;
} gw_session_t;

typedef enum {
    GW_REFRESH_OK = 0,
    GW_REFRESH_INVALID, /* unknown, malformed, expired, or of a revoked family */
    GW_REFRESH_REUSED,  /* already spent: the family is now revoked */
} gw_refresh_result_t;

/* Opens a family for the user and returns its sid and first refresh token
 * (arena-owned). Returns 0, SP_EUNAVAILABLE (Redis), SP_EIO (randomness),
 * SP_ENOMEM. */
int gw_session_create(const gw_t *gw, sp_arena_t *arena, const char *tenant_id, const char *user_id,
                      const char **sid, const char **refresh);

/* Spends refresh and, when it was the family's live token, issues the next
 * (*new_refresh) with *session describing the family. Returns 0 with *result
 * set (session and new_refresh only meaningful for GW_REFRESH_OK; for
 * GW_REFRESH_REUSED session names the revoked family); SP_EUNAVAILABLE;
 * SP_EIO; SP_ENOMEM. */
int gw_session_rotate(const gw_t *gw, sp_arena_t *arena, const char *refresh,
                      gw_refresh_result_t *result, gw_session_t *session, const char **new_refresh);

/* The family of a refresh token (spent or not), without changing anything.
 * Returns 0 with *sid and *tenant_id (arena-owned; *tenant_id NULL for an
 * operator's session or when the family is gone), SP_ENOTFOUND,
 * SP_EUNAVAILABLE, SP_ENOMEM. */
int gw_session_of(const gw_t *gw, sp_arena_t *arena, const char *refresh, const char **sid,
                  const char **tenant_id);

/* Revokes the family sid: its refresh tokens stop working and its access
 * tokens are refused until they expire. Idempotent. Returns 0,
 * SP_EUNAVAILABLE, SP_ENOMEM. */
int gw_session_revoke(const gw_t *gw, const char *sid);

/* The revocation marker's key for sid, arena-owned. */
char *gw_session_revoked_key(sp_arena_t *arena, const char *sid);

#endif
