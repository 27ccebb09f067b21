/*
 * jwt_fixture.h — what the JWT tests share: fixed keys with independently
 * computed thumbprints and coordinates, claims and verify options, and
 * forge(), which signs arbitrary headers and payloads with a set's own key.
 * It includes ../src/jwt.c so the tests reach its statics. Include after
 * cmocka.h.
 */
#ifndef SP_TEST_JWT_FIXTURE_H
#define SP_TEST_JWT_FIXTURE_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/jwt.c" /* NOLINT(bugprone-suspicious-include) */

/* A P-256 key in SEC1 form. */
static const char KEY_A[] = "-----BEGIN EC PRIVATE KEY-----\n"
                            "MHcCAQEEIEm+YRBjnHOpMyobN89tMlWXDjQQqdSIB9K4h2NPFmMSoAoGCCqGSM49\n"
                            "AwEHoUQDQgAEWVKMMzkm/cusV0H9nTCxIJDlMNwT1CR/V2JWE1eL8wcC6R6R9wG/\n"
                            "X73eyChjiclxJiusccQazqL59JJV4G3AoQ==\n"
                            "-----END EC PRIVATE KEY-----\n";
static const char KID_A[] = "_6zkN5NVXOsDyoT7khUoFZznXM2RPS2VvnSXNIo8qxk";
static const char X_A[] = "WVKMMzkm_cusV0H9nTCxIJDlMNwT1CR_V2JWE1eL8wc";
static const char Y_A[] = "AukekfcBv1-93sgoY4nJcSYrrHHEGs6i-fSSVeBtwKE";

/* The public half of KEY_A. */
static const char PUB_A[] = "-----BEGIN PUBLIC KEY-----\n"
                            "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEWVKMMzkm/cusV0H9nTCxIJDlMNwT\n"
                            "1CR/V2JWE1eL8wcC6R6R9wG/X73eyChjiclxJiusccQazqL59JJV4G3AoQ==\n"
                            "-----END PUBLIC KEY-----\n";

/* Another P-256 key, PKCS#8. */
static const char KEY_B[] = "-----BEGIN PRIVATE KEY-----\n"
                            "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgRoAVnoApG0E3cYeS\n"
                            "NUfbnp51N8vIEkwRRZUz/HM2m6GhRANCAATAnO4XOUqHWSbmLPhQdCPHJDPs+guG\n"
                            "yqo78fJvXcKPcNgZEx12xgUcG5mu9rCBbb62UQ2x6XCMSHI2BXLJfTgm\n"
                            "-----END PRIVATE KEY-----\n";
static const char KID_B[] = "JWabMxABJR5v1wHoWNTWIUcKj8aoOZSdkHxfgEI69Ts";

/* Wrong curve (P-384) and wrong algorithm (RSA): both refused. */
static const char KEY_P384[] = "-----BEGIN EC PRIVATE KEY-----\n"
                               "MIGkAgEBBDDYz9HZD7HnMiY2jslzCseHC86b0lt/og0KNAxMyk/udG5hN5cF/uek\n"
                               "K6l+rFvMqsigBwYFK4EEACKhZANiAATH+b8oNUP6uYZ89nM26T5LREGUfQORJU9C\n"
                               "Jum2Qsr9ZP3e7aP46Jm90mPElMSi+1URDr1Og6xfl1+9fRc7hx23J1uLYe2/O+l3\n"
                               "UntKZ4qx8bv4T8zzFynZbGrm3goKCOw=\n"
                               "-----END EC PRIVATE KEY-----\n";
static const char KEY_RSA[] = "-----BEGIN PRIVATE KEY-----\n"
                              "MIICeAIBADANBgkqhkiG9w0BAQEFAASCAmIwggJeAgEAAoGBAPRN/1DUmT4bfHIK\n"
                              "1vBNDb1aZF4twkazqYylETa5mHihyQtSKLu6+Ygz2LSFnot01Xhlobldqx5YeqFq\n"
                              "o9AHwKjVAQMafxn+MaM/kkHgnZE8nJR9Ksa1Hl1JY5YgjNMS7e2kBvDUZ2MZcyj8\n"
                              "qA0jUfhtAb9vh0N+To2DPSrQUMbfAgMBAAECgYEAgCu3imGvcB0dgftb3sCeN7yH\n"
                              "sb1SEqPJjSdAy7Q9YPSING9LPYqPxbxlsff0QPfv0vWHDmgtEYOb+rmm7cpTcXmx\n"
                              "L6Nf3KTANIhqYLU3WNNT1sfKuf15BLNG9vPacHv2XFj6G2rJq1/r6e2KePTadOCd\n"
                              "PkqYEK5OLNZj89W2cvkCQQD/AMe2rLkeu4v7NExCzi3Q5fQyX77NRfmm9T6SPa8p\n"
                              "pbjm2doVeMVdaMshjW6HW2ioH8cbfR6DvkhksWJ1FrvlAkEA9UKCfZwCzSdhyOuv\n"
                              "MxXYXspZPBOxixibDpCqC+AQsPrjo78IjEeJem+JqXviZ+iFdNttFT+tA3J4zVL+\n"
                              "a8DzcwJAe86aKGQF4Rj3prhGimzmK7Vp8Ycw8SMXSetqPMB8KgFPG64Lxz8CvA5k\n"
                              "CV9MmaVU08PR/NOrnBUnutOw1N57zQJBAMVZymTGp95rBR1GwMirmFrWGi3kbuXN\n"
                              "W9/BeoNpviSbDZfSfU9btP1HSQ+O9yTDjrf0ZPdHMLHoZ9pYIQ+VyI8CQQCbEv37\n"
                              "cgHtZs1Kaj5dAXfvZbl8PRX/12oY3X1YeeziGsppHYth5QR2K7PYJop5iaeBCqaH\n"
                              "8/Fqn3gDVINtAq3M\n"
                              "-----END PRIVATE KEY-----\n";

#define NOW 1750000000
#define ISS "https://auth.serphona.test"
#define AUD "serphona-api"

static const sp_jwt_verify_opts_t OPTS = {
    .issuer = ISS, .audience = AUD, .leeway_s = 30, .now = NOW};
static const char *const ROLES[] = {"admin", "analyst"};

static inline sp_jwt_claims_t good_claims(void)
{
    sp_jwt_claims_t c = {.iss = ISS,
                         .aud = AUD,
                         .sub = "0190a7c2-0000-7000-8000-000000000001",
                         .tenant_id = "0190a7c2-0000-7000-8000-0000000000aa",
                         .jti = "jti-1",
                         .sid = "family-1",
                         .roles = ROLES,
                         .n_roles = 2,
                         .iat = NOW - 10,
                         .exp = NOW + 890};
    return c;
}

static inline sp_jwt_keyset_t *keyset_of(const char *pem, const char *kid)
{
    sp_jwt_keyset_t *ks = sp_jwt_keyset_new();
    assert_non_null(ks);
    assert_int_equal(sp_jwt_keyset_add_pem(ks, pem, strlen(pem), kid), 0);
    return ks;
}

static inline char *b64(const char *text)
{
    size_t cap = sp_base64url_encoded_len(strlen(text)) + 1;
    char *out = malloc(cap);
    assert_int_equal(sp_base64url_encode(text, strlen(text), out, cap, NULL), 0);
    return out;
}

/* header.payload signed by the signing key of ks, with any JSON at all. */
static inline char *forge(sp_jwt_keyset_t *ks, const char *header, const char *payload)
{
    char *h = b64(header), *p = b64(payload);
    size_t n = strlen(h) + strlen(p) + 2 + 87 + 1;
    char *tok = malloc(n);
    int len = snprintf(tok, n, "%s.%s", h, p);
    free(h);
    free(p);
    uint8_t digest[32], sig[64];
    sp_sha256(tok, (size_t)len, digest);
    mbedtls_mpi r, s;
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    mbedtls_ecp_keypair *ec = mbedtls_pk_ec(ks->signing->pk);
    assert_int_equal(mbedtls_ecdsa_sign_det_ext(&ec->grp, &r, &s, &ec->d, digest, 32,
                                                MBEDTLS_MD_SHA256, rng, NULL),
                     0);
    mbedtls_mpi_write_binary(&r, sig, 32);
    mbedtls_mpi_write_binary(&s, sig + 32, 32);
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    tok[len] = '.';
    assert_int_equal(sp_base64url_encode(sig, 64, tok + len + 1, n - (size_t)len - 1, NULL), 0);
    return tok;
}

/* Verifies and returns the result, checking the return code agrees. */
static inline sp_jwt_result_t check(sp_jwt_keyset_t *ks, const char *token)
{
    sp_arena_t *arena = sp_arena_new();
    sp_jwt_claims_t c;
    sp_jwt_result_t res = SP_JWT_VALID;
    size_t len = token ? strlen(token) : 0;
    int rc = sp_jwt_verify(ks, token, len, &OPTS, arena, &c, &res);
    assert_int_equal(rc, res == SP_JWT_VALID ? 0 : SP_EDENIED);
    sp_arena_destroy(&arena);
    return res;
}

#define HDR_A                                                                                      \
    "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"_6zkN5NVXOsDyoT7khUoFZznXM2RPS2VvnSXNIo8qxk\"}"
#define PAYLOAD_FMT                                                                                \
    "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"u1\",\"tenant_id\":\"t1\","                \
    "\"roles\":[\"viewer\"],\"iat\":%d,\"exp\":%d,\"jti\":\"j1\"%s}"

static inline char *payload(int iat, int exp, const char *extra)
{
    static char buf[512];
    snprintf(buf, sizeof buf, PAYLOAD_FMT, iat, exp, extra);
    return buf;
}

#endif
