/*
 * jwt_keys.c — JWT key sets (jwt.h): P-256 keys from PEM text, a bundle or a
 * directory, the signing key, and the JWKS document that publishes them.
 * Signing and verification are in jwt.c.
 */
#include "jwt_internal.h"

#include <mbedtls/ecp.h>
#include <mbedtls/error.h>
#include <mbedtls/platform_util.h>

#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "platform/crypto.h"
#include "platform/error.h"
#include "platform/log.h"

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

jwt_key_t *sp_jwt_find_key_(const sp_jwt_keyset_t *ks, const char *kid)
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
    if (rc == SP_OK && sp_jwt_find_key_(ks, k->kid))
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
