/*
 * jwt.c — ES256 JSON Web Tokens (jwt.h).
 */
#include "platform/jwt.h"
#include "platform/crypto.h"
#include "platform/error.h"
#include "platform/log.h"

#include <mbedtls/bignum.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>

#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define COORD_LEN        32   /* bytes of a P-256 coordinate, and of r and s */
#define SIG_LEN          64   /* r || s */
#define MAX_TOKEN_LEN    8192 /* far above any token we issue; bounds the work */
#define CACHE_SLOTS      4096 /* verified-signature cache, direct-mapped */
#define CACHE_LOCKS      16
#define MAX_HEADER_BYTES 1024
#define CACHE_MAX_TOKEN  2048 /* longer tokens are verified every time */

typedef struct {
    char kid[SP_JWT_KID_MAX];
    char x[48], y[48]; /* base64url coordinates for the JWKS */
    int can_sign;
    mbedtls_pk_context pk;
    /* mbedTLS 2.x caches a precomputed table inside the curve group on the
     * first multiplication, so two threads must not use one key's group at
     * once. The verified-signature cache keeps this lock cold. */
    pthread_mutex_t mu;
} jwt_key_t;

/* A token whose header and signature checked out, kept byte for byte: a hit
 * is an exact comparison, so no hash (cryptographic or not) stands between
 * a forged token and the real checks. */
typedef struct {
    char *token;
    size_t len;
} cache_slot_t;

struct sp_jwt_keyset {
    jwt_key_t **keys;
    size_t n, cap;
    jwt_key_t *signing;
    cache_slot_t cache[CACHE_SLOTS];
    pthread_mutex_t cache_mu[CACHE_LOCKS];
};

/* ---- key set ---------------------------------------------------------------- */

sp_jwt_keyset_t *sp_jwt_keyset_new(void)
{
    sp_jwt_keyset_t *ks = calloc(1, sizeof(*ks));
    if (!ks)
        return NULL;
    for (int i = 0; i < CACHE_LOCKS; i++)
        pthread_mutex_init(&ks->cache_mu[i], NULL);
    return ks;
}

static void key_free(jwt_key_t *k)
{
    if (!k)
        return;
    mbedtls_pk_free(&k->pk); /* zeroizes the private scalar */
    pthread_mutex_destroy(&k->mu);
    free(k);
}

void sp_jwt_keyset_destroy(sp_jwt_keyset_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sp_jwt_keyset_t *ks = *self_p;
    for (size_t i = 0; i < ks->n; i++)
        key_free(ks->keys[i]);
    free(ks->keys);
    for (size_t i = 0; i < CACHE_SLOTS; i++)
        free(ks->cache[i].token);
    for (int i = 0; i < CACHE_LOCKS; i++)
        pthread_mutex_destroy(&ks->cache_mu[i]);
    free(ks);
    *self_p = NULL;
}

static int rng(void *ctx, unsigned char *buf, size_t len)
{
    (void)ctx;
    return sp_random_bytes(buf, len) == 0 ? 0 : MBEDTLS_ERR_ECP_RANDOM_FAILED;
}

static int kid_ok(const char *kid)
{
    size_t n = strlen(kid);
    if (n == 0 || n >= SP_JWT_KID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = kid[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static jwt_key_t *find_key(const sp_jwt_keyset_t *ks, const char *kid)
{
    for (size_t i = 0; i < ks->n; i++)
        if (strcmp(ks->keys[i]->kid, kid) == 0)
            return ks->keys[i];
    return NULL;
}

/* Parses pem as a private key, else as a public key; checks it is a valid
 * P-256 key. Returns 0 or SP_EINVAL / SP_ENOMEM. */
static int parse_key(jwt_key_t *k, const char *pem, size_t len)
{
    /* mbedTLS wants PEM NUL-terminated, the NUL counted in the length. */
    char *buf = malloc(len + 1);
    if (!buf)
        return SP_ENOMEM;
    memcpy(buf, pem, len);
    buf[len] = '\0';
    int rc = mbedtls_pk_parse_key(&k->pk, (const unsigned char *)buf, len + 1, NULL, 0);
    if (rc == 0) {
        k->can_sign = 1;
    } else {
        mbedtls_pk_free(&k->pk);
        mbedtls_pk_init(&k->pk);
        rc = mbedtls_pk_parse_public_key(&k->pk, (const unsigned char *)buf, len + 1);
    }
    mbedtls_platform_zeroize(buf, len + 1);
    free(buf);
    if (rc != 0)
        return SP_EINVAL;
    if (!mbedtls_pk_can_do(&k->pk, MBEDTLS_PK_ECDSA))
        return SP_EINVAL;
    const mbedtls_ecp_keypair *ec = mbedtls_pk_ec(k->pk);
    if (ec->grp.id != MBEDTLS_ECP_DP_SECP256R1)
        return SP_EINVAL;
    if (mbedtls_ecp_check_pubkey(&ec->grp, &ec->Q) != 0)
        return SP_EINVAL;
    if (k->can_sign && mbedtls_ecp_check_privkey(&ec->grp, &ec->d) != 0)
        return SP_EINVAL;
    return SP_OK;
}

/* Fills k->x, k->y and, when kid is empty, the RFC 7638 thumbprint kid. */
static int describe_key(jwt_key_t *k, const char *kid)
{
    const mbedtls_ecp_keypair *ec = mbedtls_pk_ec(k->pk);
    uint8_t x[COORD_LEN], y[COORD_LEN];
    if (mbedtls_mpi_write_binary(&ec->Q.X, x, sizeof x) != 0 ||
        mbedtls_mpi_write_binary(&ec->Q.Y, y, sizeof y) != 0)
        return SP_EINVAL;
    if (sp_base64url_encode(x, sizeof x, k->x, sizeof k->x, NULL) != 0 ||
        sp_base64url_encode(y, sizeof y, k->y, sizeof k->y, NULL) != 0)
        return SP_EINTERNAL;
    if (kid && *kid) {
        snprintf(k->kid, sizeof k->kid, "%s", kid);
        return SP_OK;
    }
    /* Members in lexicographic order, no blanks (RFC 7638 section 3). */
    char canon[160];
    int n = snprintf(canon, sizeof canon,
                     "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", k->x, k->y);
    uint8_t digest[SP_SHA256_LEN];
    sp_sha256(canon, (size_t)n, digest);
    return sp_base64url_encode(digest, sizeof digest, k->kid, sizeof k->kid, NULL) == 0
               ? SP_OK
               : SP_EINTERNAL;
}

int sp_jwt_keyset_add_pem(sp_jwt_keyset_t *ks, const char *pem, size_t len, const char *kid)
{
    if (!ks || !pem)
        return SP_EINVAL;
    if (kid && *kid && !kid_ok(kid))
        return SP_EINVAL;
    jwt_key_t *k = calloc(1, sizeof(*k));
    if (!k)
        return SP_ENOMEM;
    mbedtls_pk_init(&k->pk);
    pthread_mutex_init(&k->mu, NULL);
    int rc = parse_key(k, pem, len);
    if (rc == SP_OK)
        rc = describe_key(k, kid);
    if (rc == SP_OK && find_key(ks, k->kid))
        rc = SP_EEXISTS;
    if (rc == SP_OK && ks->n == ks->cap) {
        size_t cap = ks->cap ? ks->cap * 2 : 4;
        jwt_key_t **keys = realloc(ks->keys, cap * sizeof(jwt_key_t *));
        if (!keys) {
            rc = SP_ENOMEM;
        } else {
            ks->keys = keys;
            ks->cap = cap;
        }
    }
    if (rc != SP_OK) {
        key_free(k);
        return rc;
    }
    ks->keys[ks->n++] = k;
    if (k->can_sign)
        ks->signing = k;
    return SP_OK;
}

int sp_jwt_keyset_add_pem_bundle(sp_jwt_keyset_t *ks, const char *text)
{
    if (!ks || !text)
        return SP_EINVAL;
    int added = 0;
    const char *p = text;
    for (;;) {
        const char *begin = strstr(p, "-----BEGIN ");
        if (!begin)
            break;
        const char *end = strstr(begin, "-----END ");
        if (!end)
            return SP_EINVAL;
        const char *close = strstr(end + 9, "-----");
        if (!close)
            return SP_EINVAL;
        close += 5;
        int rc = sp_jwt_keyset_add_pem(ks, begin, (size_t)(close - begin), NULL);
        if (rc != SP_OK)
            return rc;
        added++;
        p = close;
    }
    return added ? SP_OK : SP_ENOTFOUND;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads a whole (small) file into a malloc'd NUL-terminated buffer. */
static char *read_small_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < 4096) {
            if (cap >= 1 << 20) { /* no key file is a megabyte */
                free(buf);
                buf = NULL;
                break;
            }
            cap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) {
                free(buf);
                buf = NULL;
            } else {
                buf[len] = '\0';
            }
            break;
        }
    }
    fclose(f);
    return buf;
}

int sp_jwt_keyset_load_dir(sp_jwt_keyset_t *ks, const char *dir)
{
    if (!ks || !dir)
        return SP_EINVAL;
    DIR *d = opendir(dir);
    if (!d) {
        sp_log_error("jwt: cannot read the key directory %s", dir);
        return SP_EIO;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = SP_OK;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len < 5 || de->d_name[0] == '.' || strcmp(de->d_name + len - 4, ".pem") != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            char **nn = realloc(names, cap * sizeof(*names));
            if (!nn) {
                rc = SP_ENOMEM;
                break;
            }
            names = nn;
        }
        if (!(names[n] = strdup(de->d_name))) {
            rc = SP_ENOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    if (rc == SP_OK && n == 0) {
        sp_log_error("jwt: no *.pem file in %s", dir);
        rc = SP_ENOTFOUND;
    }
    if (rc == SP_OK)
        qsort(names, n, sizeof(*names), cmp_names);
    for (size_t i = 0; i < n && rc == SP_OK; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        char *text = read_small_file(path);
        if (!text) {
            sp_log_error("jwt: cannot read key file %s", path);
            rc = SP_EIO;
            break;
        }
        rc = sp_jwt_keyset_add_pem_bundle(ks, text);
        mbedtls_platform_zeroize(text, strlen(text));
        free(text);
        if (rc != SP_OK)
            sp_log_error("jwt: key file %s: %s", path,
                         rc == SP_ENOTFOUND ? "no PEM block" : sp_strerror(rc));
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

size_t sp_jwt_keyset_count(const sp_jwt_keyset_t *ks)
{
    return ks ? ks->n : 0;
}

const char *sp_jwt_keyset_signing_kid(const sp_jwt_keyset_t *ks)
{
    return ks && ks->signing ? ks->signing->kid : NULL;
}

char *sp_jwt_keyset_jwks(const sp_jwt_keyset_t *ks)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON *keys = doc ? cJSON_AddArrayToObject(doc, "keys") : NULL;
    if (!keys) {
        cJSON_Delete(doc);
        return NULL;
    }
    for (size_t i = 0; i < ks->n; i++) {
        const jwt_key_t *k = ks->keys[i];
        cJSON *jwk = cJSON_CreateObject();
        if (!jwk || !cJSON_AddItemToArray(keys, jwk) ||
            !cJSON_AddStringToObject(jwk, "kty", "EC") ||
            !cJSON_AddStringToObject(jwk, "crv", "P-256") ||
            !cJSON_AddStringToObject(jwk, "x", k->x) || !cJSON_AddStringToObject(jwk, "y", k->y) ||
            !cJSON_AddStringToObject(jwk, "kid", k->kid) ||
            !cJSON_AddStringToObject(jwk, "alg", "ES256") ||
            !cJSON_AddStringToObject(jwk, "use", "sig")) {
            cJSON_Delete(doc);
            return NULL;
        }
    }
    char *text = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    return text;
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
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)token[i]) * 1099511628211ull;
    return (size_t)(h % CACHE_SLOTS);
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
    else if (!cJSON_IsString(kid) || !(key = find_key(ks, kid->valuestring)))
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
