/*
 * tokens.c — "<kind>_<lookup>_<secret>" bearer tokens (tokens.h).
 */
#include "tokens.h"

#include "platform/error.h"

#include <string.h>

#define SECRET_BYTES 32
#define SECRET_CHARS 43 /* base64url of 32 bytes, unpadded */

int tm_token_new(sp_arena_t *arena, const char *kind, char **token, char lookup[TM_LOOKUP_LEN + 1],
                 uint8_t hash[SP_SHA256_LEN])
{
    uint8_t raw[TM_LOOKUP_LEN / 2], secret[SECRET_BYTES];
    char secret_b64[SECRET_CHARS + 1];
    if (sp_random_bytes(raw, sizeof(raw)) != 0 || sp_random_bytes(secret, sizeof(secret)) != 0)
        return SP_EIO;
    sp_hex_encode(raw, sizeof(raw), lookup);
    if (sp_base64url_encode(secret, sizeof(secret), secret_b64, sizeof(secret_b64), NULL) != 0)
        return SP_EINTERNAL;
    *token = sp_arena_printf(arena, "%s_%s_%s", kind, lookup, secret_b64);
    memset(secret, 0, sizeof(secret));
    memset(secret_b64, 0, sizeof(secret_b64));
    if (!*token)
        return SP_ENOMEM;
    sp_sha256(*token, strlen(*token), hash);
    return SP_OK;
}

int tm_token_parse(const char *token, const char *kind, char lookup[TM_LOOKUP_LEN + 1],
                   uint8_t hash[SP_SHA256_LEN])
{
    size_t klen = strlen(kind);
    if (!token || strncmp(token, kind, klen) != 0 || token[klen] != '_')
        return SP_EINVAL;
    const char *l = token + klen + 1;
    for (int i = 0; i < TM_LOOKUP_LEN; i++)
        if (!((l[i] >= '0' && l[i] <= '9') || (l[i] >= 'a' && l[i] <= 'f')))
            return SP_EINVAL;
    if (l[TM_LOOKUP_LEN] != '_')
        return SP_EINVAL;
    const char *secret = l + TM_LOOKUP_LEN + 1;
    uint8_t raw[SECRET_BYTES + 3];
    size_t n = 0;
    if (strlen(secret) != SECRET_CHARS ||
        sp_base64url_decode(secret, SECRET_CHARS, raw, sizeof(raw), &n) != 0 || n != SECRET_BYTES)
        return SP_EINVAL;
    memcpy(lookup, l, TM_LOOKUP_LEN);
    lookup[TM_LOOKUP_LEN] = '\0';
    sp_sha256(token, strlen(token), hash);
    return SP_OK;
}

void tm_token_hash_hex(const uint8_t hash[SP_SHA256_LEN], char out[2 * SP_SHA256_LEN + 1])
{
    sp_hex_encode(hash, SP_SHA256_LEN, out);
}

int tm_token_hash_eq(const uint8_t hash[SP_SHA256_LEN], const char *stored_hex)
{
    char hex[2 * SP_SHA256_LEN + 1];
    if (!stored_hex || strlen(stored_hex) != 2 * SP_SHA256_LEN)
        return 0;
    sp_hex_encode(hash, SP_SHA256_LEN, hex);
    return sp_const_time_eq(hex, stored_hex, 2 * SP_SHA256_LEN);
}
