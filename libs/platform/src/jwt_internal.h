/*
 * jwt_internal.h — private to libs/platform/src/jwt*.c: the key set struct
 * shared by jwt_keys.c (loading keys, JWKS) and jwt.c (signing,
 * verification). The public contract is platform/jwt.h.
 */
#ifndef SP_JWT_INTERNAL_H
#define SP_JWT_INTERNAL_H

#include <pthread.h>
#include <stddef.h>

#include <mbedtls/pk.h>

#include "platform/jwt.h"

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

/* The key of ks named kid, or NULL. */
jwt_key_t *sp_jwt_find_key_(const sp_jwt_keyset_t *ks, const char *kid);

#endif
