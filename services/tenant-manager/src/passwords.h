/*
 * passwords.h — password hashing, verification and policy.
 *
 * Hashes are PBKDF2-HMAC-SHA256 (sp_pbkdf2_sha256) with a fresh 16-byte
 * salt per password, stored as the self-describing string
 *
 *   pbkdf2_sha256$<iterations>$<salt, base64url>$<32-byte hash, base64url>
 *
 * so the iteration count can rise later without invalidating stored hashes
 * (verification reads it from the string; tm_password_needs_rehash says when
 * a successful login should store a stronger one).
 */
#ifndef TM_PASSWORDS_H
#define TM_PASSWORDS_H

#include <stddef.h>
#include <stdint.h>

/* Large enough for any hash string this module writes. */
#define TM_PASSWORD_HASH_MAX 160

/* Hashes password with iterations rounds and a random salt into out
 * (TM_PASSWORD_HASH_MAX bytes). Returns 0, SP_EINVAL (iterations 0) or
 * SP_EIO (no randomness). */
int tm_password_hash(const char *password, uint32_t iterations, char out[TM_PASSWORD_HASH_MAX]);

/* 1 when password matches stored, else 0 (also for a malformed stored
 * string). The final comparison is constant-time. */
int tm_password_verify(const char *password, const char *stored);

/* Spends the time of one verification at iterations rounds and discards the
 * result, so a login for an unknown account takes as long as a wrong
 * password (no timing oracle for which emails exist). */
void tm_password_burn(const char *password, uint32_t iterations);

/* 1 when stored was hashed with fewer rounds than iterations. */
int tm_password_needs_rehash(const char *stored, uint32_t iterations);

/* The hashing gate. PBKDF2 at 210,000 rounds costs about a hundred
 * milliseconds of a core, and logins run on the RPC workers that also answer
 * GetPrincipal and ResolveApiKey on every authenticated request: without a
 * bound, a flood of failed logins occupies every worker and stalls the
 * platform. At most `slots` hashes run at once (0 = no bound, as in unit
 * tests); a login that finds the gate full is refused at once, not queued,
 * and the gateway sheds it with 503 + Retry-After. Call init once at start,
 * before any worker runs. */
void tm_password_gate_init(int slots);

/* 1 when a slot was taken (leave it with tm_password_gate_leave), 0 when all
 * are busy. Thread-safe. */
int tm_password_gate_enter(void);
void tm_password_gate_leave(void);

/* The policy: at least 12 characters (code points), at most 256 bytes, and
 * not containing the local part of email (case-insensitively, when that part
 * has 3 or more characters). Returns NULL when password is acceptable, else
 * a stable error code ("password_too_short", "password_too_long",
 * "password_contains_email") and *message a static human message. */
const char *tm_password_policy(const char *password, const char *email, const char **message);

#endif
