/*
 * jwt.c — signing and verifying ES256 JWTs (jwt.h). Key sets and the JWKS
 * are in jwt_keys.c.
 */
#include "jwt_internal.h"

#include <mbedtls/bignum.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/error.h>
#include <mbedtls/platform_util.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "platform/crypto.h"
#include "platform/error.h"
#include "platform/log.h"
#include "platform/text.h"

static int rng(void *ctx, unsigned char *buf, size_t len)
{
    (void)ctx;
    return sp_random_bytes(buf, len) == 0 ? 0 : MBEDTLS_ERR_ECP_RANDOM_FAILED;
}

/* ---- signing ---------------------------------------------------------------- */

/* base64url of a JSON document, malloc'd. */
static char *b64_json(const cJSON *json)
{
    char *text = cJSON_PrintUnformatted(json);
    if (!text)
        return NULL;
    size_t len = strlen(text);
    size_t cap = sp_base64url_encoded_len(len) + 1;
    char *out = malloc(cap);
    if (out && sp_base64url_encode(text, len, out, cap, NULL) != 0) {
        free(out);
        out = NULL;
    }
    free(text);
    return out;
}

static int add_claims(cJSON *p, const sp_jwt_claims_t *c)
{
    if (!cJSON_AddStringToObject(p, "iss", c->iss) || !cJSON_AddStringToObject(p, "aud", c->aud) ||
        !cJSON_AddStringToObject(p, "sub", c->sub) ||
        !cJSON_AddStringToObject(p, "tenant_id", c->tenant_id))
        return SP_ENOMEM;
    cJSON *roles = cJSON_AddArrayToObject(p, "roles");
    if (!roles)
        return SP_ENOMEM;
    for (size_t i = 0; i < c->n_roles; i++) {
        cJSON *r = cJSON_CreateString(c->roles[i]);
        if (!r || !cJSON_AddItemToArray(roles, r)) {
            cJSON_Delete(r);
            return SP_ENOMEM;
        }
    }
    if (!cJSON_AddNumberToObject(p, "iat", (double)c->iat) ||
        !cJSON_AddNumberToObject(p, "exp", (double)c->exp) ||
        (c->nbf && !cJSON_AddNumberToObject(p, "nbf", (double)c->nbf)) ||
        !cJSON_AddStringToObject(p, "jti", c->jti) ||
        (c->sid && !cJSON_AddStringToObject(p, "sid", c->sid)))
        return SP_ENOMEM;
    return SP_OK;
}

int sp_jwt_sign(sp_jwt_keyset_t *ks, const sp_jwt_claims_t *c, char **out)
{
    if (!ks || !c || !out || !ks->signing || !c->iss || !c->aud || !c->sub || !*c->sub ||
        !c->tenant_id || !c->jti || !*c->jti || c->exp <= c->iat || (c->n_roles && !c->roles))
        return SP_EINVAL;
    for (size_t i = 0; i < c->n_roles; i++)
        if (!c->roles[i])
            return SP_EINVAL;
    *out = NULL;
    jwt_key_t *k = ks->signing;
    int rc = SP_ENOMEM;
    char *h64 = NULL, *p64 = NULL, *token = NULL;
    cJSON *header = cJSON_CreateObject(), *payload = cJSON_CreateObject();
    if (!header || !payload || !cJSON_AddStringToObject(header, "alg", "ES256") ||
        !cJSON_AddStringToObject(header, "typ", "JWT") ||
        !cJSON_AddStringToObject(header, "kid", k->kid))
        goto fail_json;
    if ((rc = add_claims(payload, c)) != SP_OK)
        goto fail_json;
    rc = SP_ENOMEM;
    if (!(h64 = b64_json(header)) || !(p64 = b64_json(payload)))
        goto fail_b64;

    size_t hlen = strlen(h64), plen = strlen(p64);
    size_t sig64_len = sp_base64url_encoded_len(SIG_LEN);
    size_t cap = hlen + 1 + plen + 1 + sig64_len + 1;
    token = malloc(cap);
    if (!token)
        goto fail_b64;
    snprintf(token, cap, "%s.%s.", h64, p64);
    size_t signing_len = hlen + 1 + plen;

    uint8_t digest[SP_SHA256_LEN], sig[SIG_LEN];
    sp_sha256(token, signing_len, digest);
    mbedtls_mpi r, s;
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    const mbedtls_ecp_keypair *ec = mbedtls_pk_ec(k->pk);
    pthread_mutex_lock(&k->mu);
    /* Deterministic ECDSA (RFC 6979): no nonce from a generator that could
     * fail or repeat; the generator only blinds the computation. The group is
     * passed non-const because mbedTLS caches its table there. */
    int mrc = mbedtls_ecdsa_sign_det_ext((mbedtls_ecp_group *)&ec->grp, &r, &s, &ec->d, digest,
                                         sizeof digest, MBEDTLS_MD_SHA256, rng, NULL);
    pthread_mutex_unlock(&k->mu);
    if (mrc == 0 && (mbedtls_mpi_write_binary(&r, sig, COORD_LEN) != 0 ||
                     mbedtls_mpi_write_binary(&s, sig + COORD_LEN, COORD_LEN) != 0))
        mrc = -1;
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    if (mrc != 0) {
        char text[128];
        mbedtls_strerror(mrc, text, sizeof text);
        sp_log_error("jwt: signing failed: %s", text);
        rc = SP_EINTERNAL;
        free(token);
        token = NULL;
        goto fail_b64;
    }
    sp_base64url_encode(sig, SIG_LEN, token + signing_len + 1, sig64_len + 1, NULL);
    *out = token;
    rc = SP_OK;
fail_b64:
    free(h64);
    free(p64);
fail_json:
    cJSON_Delete(header);
    cJSON_Delete(payload);
    return rc;
}

/* ---- verification ------------------------------------------------------------- */

const char *sp_jwt_result_name(sp_jwt_result_t r)
{
    switch (r) {
    case SP_JWT_VALID:
        return "valid";
    case SP_JWT_MALFORMED:
        return "malformed";
    case SP_JWT_BAD_ALG:
        return "bad_alg";
    case SP_JWT_UNKNOWN_KID:
        return "unknown_kid";
    case SP_JWT_BAD_SIGNATURE:
        return "bad_signature";
    case SP_JWT_MISSING_CLAIM:
        return "missing_claim";
    case SP_JWT_BAD_ISSUER:
        return "bad_issuer";
    case SP_JWT_BAD_AUDIENCE:
        return "bad_audience";
    case SP_JWT_EXPIRED:
        return "expired";
    case SP_JWT_NOT_YET_VALID:
        return "not_yet_valid";
    }
    return "unknown";
}

/* Decodes one base64url segment (no padding allowed: JWS never pads) into
 * a malloc'd NUL-terminated buffer. NULL when malformed or out of memory. */
static uint8_t *decode_segment(const char *s, size_t len, size_t *outlen)
{
    if (len == 0 || memchr(s, '=', len))
        return NULL;
    size_t cap = sp_base64url_decoded_max(len) + 1;
    uint8_t *out = malloc(cap);
    if (!out)
        return NULL;
    if (sp_base64url_decode(s, len, out, cap - 1, outlen) != 0) {
        free(out);
        return NULL;
    }
    out[*outlen] = '\0';
    return out;
}

/* A JSON object from a decoded segment; NULL unless it is exactly one. */
static cJSON *parse_object(const uint8_t *text, size_t len)
{
    if (memchr(text, '\0', len)) /* cJSON would stop at an embedded NUL */
        return NULL;
    /* text is NUL-terminated at len (decode_segment); cJSON wants the NUL
     * inside the length to accept "nothing after the value". */
    const char *end = NULL;
    cJSON *json = cJSON_ParseWithLengthOpts((const char *)text, len + 1, &end, 1);
    if (json && !cJSON_IsObject(json)) {
        cJSON_Delete(json);
        return NULL;
    }
    return json;
}

/* FNV-1a, only to pick a slot: a collision costs a verification, never a
 * wrong answer, since a hit compares the whole token. */
static size_t slot_of(const char *token, size_t len)
{
    return (size_t)(sp_fnv1a64(token, len) % CACHE_SLOTS);
}

static int cache_lookup(sp_jwt_keyset_t *ks, const char *token, size_t len)
{
    size_t slot = slot_of(token, len);
    pthread_mutex_t *mu = &ks->cache_mu[slot % CACHE_LOCKS];
    pthread_mutex_lock(mu);
    const cache_slot_t *c = &ks->cache[slot];
    int hit = c->token && c->len == len && memcmp(c->token, token, len) == 0;
    pthread_mutex_unlock(mu);
    return hit;
}

static void cache_store(sp_jwt_keyset_t *ks, const char *token, size_t len)
{
    if (len > CACHE_MAX_TOKEN)
        return;
    char *copy = malloc(len);
    if (!copy)
        return; /* only the cache is lost */
    memcpy(copy, token, len);
    size_t slot = slot_of(token, len);
    pthread_mutex_t *mu = &ks->cache_mu[slot % CACHE_LOCKS];
    pthread_mutex_lock(mu);
    char *old = ks->cache[slot].token;
    ks->cache[slot].token = copy;
    ks->cache[slot].len = len;
    pthread_mutex_unlock(mu);
    free(old);
}

/* ECDSA P-256 over SHA-256 of the signing input; 1 when the signature holds. */
static int ecdsa_ok(jwt_key_t *k, const char *input, size_t len, const uint8_t *sig)
{
    uint8_t digest[SP_SHA256_LEN];
    sp_sha256(input, len, digest);
    mbedtls_mpi r, s;
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    int ok = 0;
    if (mbedtls_mpi_read_binary(&r, sig, COORD_LEN) == 0 &&
        mbedtls_mpi_read_binary(&s, sig + COORD_LEN, COORD_LEN) == 0) {
        const mbedtls_ecp_keypair *ec = mbedtls_pk_ec(k->pk);
        pthread_mutex_lock(&k->mu);
        /* Rejects r or s outside [1, n-1] itself. */
        ok = mbedtls_ecdsa_verify((mbedtls_ecp_group *)&ec->grp, digest, sizeof digest, &ec->Q, &r,
                                  &s) == 0;
        pthread_mutex_unlock(&k->mu);
    }
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    return ok;
}

/* A NumericDate claim as whole seconds; 0 when absent or not a sane number. */
static int numeric_date(const cJSON *obj, const char *name, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 ||
        v->valuedouble > 253402300799.0) /* year 9999 */
        return 0;
    *out = (int64_t)floor(v->valuedouble);
    return 1;
}

static const char *string_claim(const cJSON *obj, const char *name, sp_arena_t *arena, int *oom)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsString(v))
        return NULL;
    char *s = sp_arena_strdup(arena, v->valuestring);
    if (!s)
        *oom = 1;
    return s;
}

/* Fills claims from the payload and checks them; returns a result. */
static sp_jwt_result_t check_claims(const cJSON *p, const sp_jwt_verify_opts_t *opts,
                                    sp_arena_t *arena, sp_jwt_claims_t *c, int *oom)
{
    memset(c, 0, sizeof(*c));
    c->iss = string_claim(p, "iss", arena, oom);
    c->sub = string_claim(p, "sub", arena, oom);
    c->tenant_id = string_claim(p, "tenant_id", arena, oom);
    c->jti = string_claim(p, "jti", arena, oom);
    if (cJSON_GetObjectItemCaseSensitive(p, "sid")) {
        c->sid = string_claim(p, "sid", arena, oom);
        if (!c->sid)
            return SP_JWT_MISSING_CLAIM;
    }
    if (*oom)
        return SP_JWT_MALFORMED;
    if (!c->iss || !c->sub || !*c->sub || !c->tenant_id || !c->jti || !*c->jti ||
        !numeric_date(p, "exp", &c->exp) || !numeric_date(p, "iat", &c->iat))
        return SP_JWT_MISSING_CLAIM;
    if (cJSON_GetObjectItemCaseSensitive(p, "nbf") && !numeric_date(p, "nbf", &c->nbf))
        return SP_JWT_MISSING_CLAIM;

    const cJSON *roles = cJSON_GetObjectItemCaseSensitive(p, "roles");
    if (!cJSON_IsArray(roles))
        return SP_JWT_MISSING_CLAIM;
    int n = cJSON_GetArraySize(roles);
    const char **rv = sp_arena_alloc(arena, (size_t)(n ? n : 1) * sizeof(*rv));
    if (!rv) {
        *oom = 1;
        return SP_JWT_MALFORMED;
    }
    int i = 0;
    const cJSON *r;
    cJSON_ArrayForEach(r, roles)
    {
        if (!cJSON_IsString(r))
            return SP_JWT_MISSING_CLAIM;
        if (!(rv[i++] = sp_arena_strdup(arena, r->valuestring))) {
            *oom = 1;
            return SP_JWT_MALFORMED;
        }
    }
    c->roles = rv;
    c->n_roles = (size_t)n;

    /* aud: a string, or an array of strings that must contain ours. */
    const cJSON *aud = cJSON_GetObjectItemCaseSensitive(p, "aud");
    int aud_ok = 0;
    if (cJSON_IsString(aud)) {
        aud_ok = strcmp(aud->valuestring, opts->audience) == 0;
    } else if (cJSON_IsArray(aud) && cJSON_GetArraySize(aud) > 0) {
        const cJSON *a;
        cJSON_ArrayForEach(a, aud)
        {
            if (!cJSON_IsString(a))
                return SP_JWT_MISSING_CLAIM;
            if (strcmp(a->valuestring, opts->audience) == 0)
                aud_ok = 1;
        }
    } else {
        return SP_JWT_MISSING_CLAIM;
    }
    c->aud = opts->audience;

    if (strcmp(c->iss, opts->issuer) != 0)
        return SP_JWT_BAD_ISSUER;
    if (!aud_ok)
        return SP_JWT_BAD_AUDIENCE;

    int64_t now = opts->now ? opts->now : (int64_t)time(NULL);
    int64_t leeway = opts->leeway_s > 0 ? opts->leeway_s : 0;
    if (now >= c->exp + leeway)
        return SP_JWT_EXPIRED;
    if ((c->nbf && c->nbf > now + leeway) || c->iat > now + leeway)
        return SP_JWT_NOT_YET_VALID;
    return SP_JWT_VALID;
}

/* The checks on the header and signature; claims are checked afterwards. */
static sp_jwt_result_t check_signature(sp_jwt_keyset_t *ks, const char *token, size_t len,
                                       const char **payload64, size_t *payload64_len, int *oom)
{
    if (len == 0 || len > MAX_TOKEN_LEN)
        return SP_JWT_MALFORMED;
    const char *dot1 = memchr(token, '.', len);
    if (!dot1)
        return SP_JWT_MALFORMED;
    const char *dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token));
    if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
        return SP_JWT_MALFORMED;
    size_t hlen = (size_t)(dot1 - token), plen = (size_t)(dot2 - dot1 - 1);
    size_t slen = len - (size_t)(dot2 + 1 - token);
    if (hlen == 0 || hlen > MAX_HEADER_BYTES || plen == 0)
        return SP_JWT_MALFORMED;
    *payload64 = dot1 + 1;
    *payload64_len = plen;
    /* The same bytes passed the header and signature checks before, against
     * this same (immutable) key set: only the claims need checking again. */
    if (cache_lookup(ks, token, len))
        return SP_JWT_VALID;

    size_t n = 0;
    uint8_t *htext = decode_segment(token, hlen, &n);
    if (!htext)
        return SP_JWT_MALFORMED;
    cJSON *header = parse_object(htext, n);
    free(htext);
    if (!header)
        return SP_JWT_MALFORMED;
    sp_jwt_result_t res = SP_JWT_VALID;
    const cJSON *alg = cJSON_GetObjectItemCaseSensitive(header, "alg");
    const cJSON *kid = cJSON_GetObjectItemCaseSensitive(header, "kid");
    jwt_key_t *key = NULL;
    /* The algorithm is ours to choose, never the token's: anything but the
     * exact string "ES256" is refused before a key is even looked up. */
    if (!cJSON_IsString(alg) || strcmp(alg->valuestring, "ES256") != 0 ||
        cJSON_GetObjectItemCaseSensitive(header, "crit"))
        res = SP_JWT_BAD_ALG;
    else if (!cJSON_IsString(kid) || !(key = sp_jwt_find_key_(ks, kid->valuestring)))
        res = SP_JWT_UNKNOWN_KID;
    cJSON_Delete(header);
    if (res != SP_JWT_VALID)
        return res;

    if (slen == 0 || slen != sp_base64url_encoded_len(SIG_LEN))
        return SP_JWT_BAD_SIGNATURE;
    uint8_t *sig = decode_segment(dot2 + 1, slen, &n);
    if (!sig)
        return SP_JWT_MALFORMED;
    if (n != SIG_LEN) {
        free(sig);
        return SP_JWT_BAD_SIGNATURE;
    }
    if (!ecdsa_ok(key, token, (size_t)(dot2 - token), sig))
        res = SP_JWT_BAD_SIGNATURE;
    else
        cache_store(ks, token, len);
    free(sig);
    (void)oom;
    return res;
}

int sp_jwt_verify(sp_jwt_keyset_t *ks, const char *token, size_t len,
                  const sp_jwt_verify_opts_t *opts, sp_arena_t *arena, sp_jwt_claims_t *claims,
                  sp_jwt_result_t *result)
{
    sp_jwt_result_t dummy;
    if (!result)
        result = &dummy;
    *result = SP_JWT_MALFORMED;
    if (!ks || !token || !opts || !opts->issuer || !opts->audience || !arena || !claims)
        return SP_EINVAL;
    int oom = 0;
    const char *p64 = NULL;
    size_t p64_len = 0;
    sp_jwt_result_t res = check_signature(ks, token, len, &p64, &p64_len, &oom);
    if (res == SP_JWT_VALID) {
        size_t n = 0;
        uint8_t *ptext = decode_segment(p64, p64_len, &n);
        cJSON *payload = ptext ? parse_object(ptext, n) : NULL;
        free(ptext);
        if (!payload)
            res = SP_JWT_MALFORMED;
        else
            res = check_claims(payload, opts, arena, claims, &oom);
        cJSON_Delete(payload);
    }
    if (oom)
        return SP_ENOMEM;
    *result = res;
    return res == SP_JWT_VALID ? SP_OK : SP_EDENIED;
}
