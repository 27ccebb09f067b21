/*
 * tokens.h — bearer secrets with a public lookup id: API keys and invite
 * tokens.
 *
 * A token reads "<kind>_<lookup>_<secret>": kind names what it is ("sk_live",
 * "inv"), lookup is 12 random lowercase hex characters stored in clear (the
 * row is found by it), secret is 32 random bytes in base64url. Only the
 * SHA-256 of the whole token is stored; a high-entropy random secret needs
 * no slow hash, and comparing hashes in constant time leaks nothing useful.
 */
#ifndef TM_TOKENS_H
#define TM_TOKENS_H

#include <stdint.h>

#include "platform/arena.h"
#include "platform/crypto.h"

#define TM_LOOKUP_LEN 12

/* A new token of kind into *token (arena), its lookup id (NUL-terminated) and
 * the SHA-256 of the token. Returns 0, SP_EIO or SP_ENOMEM. */
int tm_token_new(sp_arena_t *arena, const char *kind, char **token, char lookup[TM_LOOKUP_LEN + 1],
                 uint8_t hash[SP_SHA256_LEN]);

/* Checks token has the shape of kind and extracts its lookup id and hash.
 * Returns 0 or SP_EINVAL (never a token of this kind). */
int tm_token_parse(const char *token, const char *kind, char lookup[TM_LOOKUP_LEN + 1],
                   uint8_t hash[SP_SHA256_LEN]);

/* hash as 64 lowercase hex characters plus a NUL (how SQL stores it, via
 * decode(..., 'hex')). */
void tm_token_hash_hex(const uint8_t hash[SP_SHA256_LEN], char out[2 * SP_SHA256_LEN + 1]);

/* 1 when hash equals stored_hex (encode(hash, 'hex') from the database) in
 * constant time, else 0. */
int tm_token_hash_eq(const uint8_t hash[SP_SHA256_LEN], const char *stored_hex);

#endif
