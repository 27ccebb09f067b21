/*
 * fuzz_jwt.c — JWT parsing and verification (libplatform jwt.c) against a
 * fixed key set, as the gateway verifies every bearer token.
 *
 * Built two ways. fuzz_jwt: the input is the token, as it arrives in an
 * Authorization header; fast, it covers the segment split, base64url, the
 * header JSON, alg/kid/crit checks and the signature shape, and a real ECDSA
 * verification whenever the fuzzer keeps a known kid. fuzz_jwt_claims
 * (FZ_JWT_CLAIMS): the input is the claims JSON, signed here with the set's
 * key under a valid header, so the claim checks behind the signature are
 * reached; each input costs an ECDSA signature and verification, so this
 * one runs about a hundred times slower.
 *
 * The base64 and signing helpers below re-use libplatform's (crypto.h) and
 * mbedTLS directly: sp_jwt_sign only signs well-formed claims.
 */
#include "fuzz_common.h"

#include <mbedtls/ecdsa.h>
#include <mbedtls/pk.h>

#include "platform/arena.h"
#include "platform/crypto.h"
#include "platform/jwt.h"

/* The test key of libs/platform/tests/test_jwt.c (SEC1, P-256). */
static const char KEY_A[] = "-----BEGIN EC PRIVATE KEY-----\n"
                            "MHcCAQEEIEm+YRBjnHOpMyobN89tMlWXDjQQqdSIB9K4h2NPFmMSoAoGCCqGSM49\n"
                            "AwEHoUQDQgAEWVKMMzkm/cusV0H9nTCxIJDlMNwT1CR/V2JWE1eL8wcC6R6R9wG/\n"
                            "X73eyChjiclxJiusccQazqL59JJV4G3AoQ==\n"
                            "-----END EC PRIVATE KEY-----\n";
static const char KID_A[] = "_6zkN5NVXOsDyoT7khUoFZznXM2RPS2VvnSXNIo8qxk";

#define NOW 1750000000
#define ISS "https://auth.serphona.test"
#define AUD "serphona-api"

static sp_jwt_keyset_t *ks;
static const sp_jwt_verify_opts_t OPTS = {
    .issuer = ISS, .audience = AUD, .leeway_s = 30, .now = NOW};

static int blind_rng(void *ctx, unsigned char *buf, size_t len)
{
    (void)ctx;
    return sp_random_bytes(buf, len) == 0 ? 0 : -1;
}

static mbedtls_pk_context pk;

static void write_file(const char *dir, const char *name, const void *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n)
        abort();
    fclose(f);
}

/* Valid tokens from sp_jwt_sign, and the same claims as JSON, for the two
 * corpora; the hand-written edge cases are files of the corpus. */
static void write_seeds(const char *dir)
{
    static const char *const roles[] = {"admin", "analyst"};
    sp_jwt_claims_t c = {.iss = ISS,
                         .aud = AUD,
                         .sub = "0190b2d4-1111-7000-8000-000000000002",
                         .tenant_id = "11111111-2222-4333-8444-555555555555",
                         .jti = "j-1",
                         .sid = "s-1",
                         .roles = roles,
                         .n_roles = 2,
                         .iat = NOW - 60,
                         .exp = NOW + 840};
    char *tok = NULL;
    if (sp_jwt_sign(ks, &c, &tok) != 0)
        abort();
    write_file(dir, "valid", tok, strlen(tok));
    free(tok);
    c.tenant_id = "", c.sid = NULL, c.n_roles = 0, c.nbf = NOW - 10;
    if (sp_jwt_sign(ks, &c, &tok) != 0)
        abort();
    write_file(dir, "platform_nbf", tok, strlen(tok));
    free(tok);
    c.exp = NOW - 3600, c.iat = NOW - 7200;
    if (sp_jwt_sign(ks, &c, &tok) != 0)
        abort();
    write_file(dir, "expired", tok, strlen(tok));
    free(tok);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fz_quiet();
    ks = sp_jwt_keyset_new();
    if (!ks || sp_jwt_keyset_add_pem(ks, KEY_A, strlen(KEY_A), NULL) != 0 ||
        strcmp(sp_jwt_keyset_signing_kid(ks), KID_A) != 0)
        abort();
    mbedtls_pk_init(&pk);
    if (mbedtls_pk_parse_key(&pk, (const unsigned char *)KEY_A, sizeof KEY_A, NULL, 0) != 0)
        abort();
    const char *dir = getenv("FZ_WRITE_SEEDS");
    if (dir) {
        write_seeds(dir);
        exit(0);
    }
    return 0;
}

static void verify(const char *token, size_t len)
{
    sp_arena_t *arena = sp_arena_new();
    if (!arena)
        abort();
    sp_jwt_claims_t claims;
    sp_jwt_result_t why = SP_JWT_VALID;
    int rc = sp_jwt_verify(ks, token, len, &OPTS, arena, &claims, &why);
    if (rc == 0) {
        if (why != SP_JWT_VALID || !claims.sub || !claims.tenant_id || !claims.jti)
            abort();
        for (size_t i = 0; i < claims.n_roles; i++)
            (void)strlen(claims.roles[i]);
    }
    (void)sp_jwt_result_name(why);
    sp_arena_destroy(&arena);
}

/* header64 "." base64url(claims) "." base64url(ES256 signature), malloc'd. */
__attribute__((unused)) static char *sign(const uint8_t *claims, size_t n, size_t *len)
{
    char header[160];
    snprintf(header, sizeof header, "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", KID_A);
    size_t h64 = sp_base64url_encoded_len(strlen(header)), c64 = sp_base64url_encoded_len(n);
    size_t s64 = sp_base64url_encoded_len(64);
    char *tok = malloc(h64 + c64 + s64 + 3);
    if (!tok)
        abort();
    size_t at = 0, w = 0;
    sp_base64url_encode(header, strlen(header), tok, h64 + 1, &w);
    at += w;
    tok[at++] = '.';
    sp_base64url_encode(claims, n, tok + at, c64 + 1, &w);
    at += w;
    uint8_t digest[SP_SHA256_LEN], sig[64];
    sp_sha256(tok, at, digest);
    mbedtls_mpi r, s;
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    mbedtls_ecp_keypair *ec = mbedtls_pk_ec(pk);
    if (mbedtls_ecdsa_sign_det_ext(&ec->grp, &r, &s, &ec->d, digest, sizeof digest,
                                   MBEDTLS_MD_SHA256, blind_rng, NULL) != 0 ||
        mbedtls_mpi_write_binary(&r, sig, 32) != 0 || mbedtls_mpi_write_binary(&s, sig + 32, 32))
        abort();
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    tok[at++] = '.';
    sp_base64url_encode(sig, sizeof sig, tok + at, s64 + 1, &w);
    at += w;
    tok[at] = '\0';
    *len = at;
    return tok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
#ifdef FZ_JWT_CLAIMS
    if (size > 4096)
        return 0;
    size_t len;
    char *tok = sign(data, size, &len);
    verify(tok, len);
    free(tok);
#else
    /* Tokens are read from a NUL-terminated header value, and must not be
     * read past len either: verify a copy of exactly len bytes. */
    char *tok = fz_strndup(data, size);
    verify(tok, size);
    free(tok);
#endif
    return 0;
}
