/* Unit tests for jwt.c: key loading (SEC1, PKCS#8, public, bundles,
 * directories, refusals), RFC 7638 thumbprints and the JWKS export, sign and
 * verify round trips with rotation, and every rejection of sp_jwt_verify.
 *
 * The .c is included so the tests can sign arbitrary headers and payloads
 * with a set's own key (forge), which is how they build correctly signed
 * tokens with bad claims. The expected thumbprints and coordinates were
 * computed independently with Python's cryptography package. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

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

static sp_jwt_claims_t good_claims(void)
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

static sp_jwt_keyset_t *keyset_of(const char *pem, const char *kid)
{
    sp_jwt_keyset_t *ks = sp_jwt_keyset_new();
    assert_non_null(ks);
    assert_int_equal(sp_jwt_keyset_add_pem(ks, pem, strlen(pem), kid), 0);
    return ks;
}

static char *b64(const char *text)
{
    size_t cap = sp_base64url_encoded_len(strlen(text)) + 1;
    char *out = malloc(cap);
    assert_int_equal(sp_base64url_encode(text, strlen(text), out, cap, NULL), 0);
    return out;
}

/* header.payload signed by the signing key of ks, with any JSON at all. */
static char *forge(sp_jwt_keyset_t *ks, const char *header, const char *payload)
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
static sp_jwt_result_t check(sp_jwt_keyset_t *ks, const char *token)
{
    sp_arena_t *arena = sp_arena_new();
    sp_jwt_claims_t c;
    sp_jwt_result_t res = SP_JWT_VALID;
    int rc = sp_jwt_verify(ks, token, strlen(token), &OPTS, arena, &c, &res);
    assert_int_equal(rc, res == SP_JWT_VALID ? 0 : SP_EDENIED);
    sp_arena_destroy(&arena);
    return res;
}

#define HDR_A                                                                                      \
    "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"_6zkN5NVXOsDyoT7khUoFZznXM2RPS2VvnSXNIo8qxk\"}"
#define PAYLOAD_FMT                                                                                \
    "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"u1\",\"tenant_id\":\"t1\","                \
    "\"roles\":[\"viewer\"],\"iat\":%d,\"exp\":%d,\"jti\":\"j1\"%s}"

static char *payload(int iat, int exp, const char *extra)
{
    static char buf[512];
    snprintf(buf, sizeof buf, PAYLOAD_FMT, iat, exp, extra);
    return buf;
}

/* ---- keys ------------------------------------------------------------------ */

static void test_load_sec1_pkcs8_and_public(void **state)
{
    sp_jwt_keyset_t *ks = sp_jwt_keyset_new();
    assert_null(sp_jwt_keyset_signing_kid(ks));
    assert_int_equal(sp_jwt_keyset_add_pem(ks, PUB_A, strlen(PUB_A), NULL), 0);
    /* A public key verifies but does not sign. */
    assert_null(sp_jwt_keyset_signing_kid(ks));
    sp_jwt_claims_t c = good_claims();
    char *tok = NULL;
    assert_int_equal(sp_jwt_sign(ks, &c, &tok), SP_EINVAL);
    assert_null(tok);
    /* The private half of the same key has the same thumbprint. */
    assert_int_equal(sp_jwt_keyset_add_pem(ks, KEY_A, strlen(KEY_A), NULL), SP_EEXISTS);
    assert_int_equal(sp_jwt_keyset_add_pem(ks, KEY_B, strlen(KEY_B), NULL), 0);
    assert_string_equal(sp_jwt_keyset_signing_kid(ks), KID_B);
    assert_int_equal(sp_jwt_keyset_count(ks), 2);
    assert_string_equal(ks->keys[0]->kid, KID_A);
    assert_string_equal(ks->keys[0]->x, X_A);
    assert_string_equal(ks->keys[0]->y, Y_A);
    sp_jwt_keyset_destroy(&ks);
    assert_null(ks);
    sp_jwt_keyset_destroy(&ks); /* NULL is fine */
}

static void test_refuses_bad_keys(void **state)
{
    sp_jwt_keyset_t *ks = sp_jwt_keyset_new();
    assert_int_equal(sp_jwt_keyset_add_pem(ks, KEY_P384, strlen(KEY_P384), NULL), SP_EINVAL);
    assert_int_equal(sp_jwt_keyset_add_pem(ks, KEY_RSA, strlen(KEY_RSA), NULL), SP_EINVAL);
    assert_int_equal(sp_jwt_keyset_add_pem(ks, "garbage", 7, NULL), SP_EINVAL);
    /* A truncated PEM. */
    assert_int_equal(sp_jwt_keyset_add_pem(ks, KEY_A, strlen(KEY_A) / 2, NULL), SP_EINVAL);
    /* Explicit kids must be short and plain. */
    assert_int_equal(sp_jwt_keyset_add_pem(ks, KEY_A, strlen(KEY_A), "bad kid"), SP_EINVAL);
    assert_int_equal(sp_jwt_keyset_add_pem(ks, KEY_A, strlen(KEY_A), "k\"1"), SP_EINVAL);
    assert_int_equal(sp_jwt_keyset_add_pem(ks, KEY_A, strlen(KEY_A), "k-2025.1_a"), 0);
    assert_int_equal(sp_jwt_keyset_add_pem(ks, KEY_B, strlen(KEY_B), "k-2025.1_a"), SP_EEXISTS);
    assert_int_equal(sp_jwt_keyset_count(ks), 1);
    assert_string_equal(sp_jwt_keyset_signing_kid(ks), "k-2025.1_a");
    assert_int_equal(sp_jwt_keyset_add_pem_bundle(ks, "no pem here"), SP_ENOTFOUND);
    sp_jwt_keyset_destroy(&ks);
}

static void test_bundle_oldest_first(void **state)
{
    char bundle[4096];
    snprintf(bundle, sizeof bundle, "# comment\n%s\n%s", KEY_A, KEY_B);
    sp_jwt_keyset_t *ks = sp_jwt_keyset_new();
    assert_int_equal(sp_jwt_keyset_add_pem_bundle(ks, bundle), 0);
    assert_int_equal(sp_jwt_keyset_count(ks), 2);
    assert_string_equal(sp_jwt_keyset_signing_kid(ks), KID_B);
    sp_jwt_keyset_destroy(&ks);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_load_dir_newest_signs(void **state)
{
    char dir[] = "/tmp/sp-jwt-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    sp_jwt_keyset_t *ks = sp_jwt_keyset_new();
    assert_int_equal(sp_jwt_keyset_load_dir(ks, dir), SP_ENOTFOUND);
    /* Name order, not creation order, decides: B is written first but
     * sorts last. */
    write_file(dir, "20250201T000000Z.pem", KEY_B);
    write_file(dir, "20250101T000000Z.pem", KEY_A);
    write_file(dir, "README.txt", "not a key");
    assert_int_equal(sp_jwt_keyset_load_dir(ks, dir), 0);
    assert_int_equal(sp_jwt_keyset_count(ks), 2);
    assert_string_equal(sp_jwt_keyset_signing_kid(ks), KID_B);
    sp_jwt_keyset_destroy(&ks);

    /* A bad file fails the whole load. */
    write_file(dir, "20250301T000000Z.pem",
               "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END "
               "PRIVATE KEY-----\n");
    ks = sp_jwt_keyset_new();
    assert_int_equal(sp_jwt_keyset_load_dir(ks, dir), SP_EINVAL);
    sp_jwt_keyset_destroy(&ks);
    ks = sp_jwt_keyset_new();
    assert_int_equal(sp_jwt_keyset_load_dir(ks, "/nonexistent/sp-jwt"), SP_EIO);
    sp_jwt_keyset_destroy(&ks);

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_jwks_exports_public_parts_only(void **state)
{
    sp_jwt_keyset_t *ks = sp_jwt_keyset_new();
    assert_int_equal(sp_jwt_keyset_add_pem(ks, KEY_A, strlen(KEY_A), NULL), 0);
    assert_int_equal(sp_jwt_keyset_add_pem(ks, KEY_B, strlen(KEY_B), NULL), 0);
    char *text = sp_jwt_keyset_jwks(ks);
    assert_non_null(text);
    cJSON *doc = cJSON_Parse(text);
    cJSON *keys = cJSON_GetObjectItem(doc, "keys");
    assert_int_equal(cJSON_GetArraySize(keys), 2);
    cJSON *k = cJSON_GetArrayItem(keys, 0);
    assert_string_equal(cJSON_GetObjectItem(k, "kty")->valuestring, "EC");
    assert_string_equal(cJSON_GetObjectItem(k, "crv")->valuestring, "P-256");
    assert_string_equal(cJSON_GetObjectItem(k, "x")->valuestring, X_A);
    assert_string_equal(cJSON_GetObjectItem(k, "y")->valuestring, Y_A);
    assert_string_equal(cJSON_GetObjectItem(k, "kid")->valuestring, KID_A);
    assert_string_equal(cJSON_GetObjectItem(k, "alg")->valuestring, "ES256");
    assert_string_equal(cJSON_GetObjectItem(k, "use")->valuestring, "sig");
    assert_null(cJSON_GetObjectItem(k, "d"));
    assert_int_equal(cJSON_GetArraySize(k), 7);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(keys, 1), "kid")->valuestring,
                        KID_B);
    cJSON_Delete(doc);
    free(text);
    sp_jwt_keyset_destroy(&ks);
}

/* ---- sign and verify ---------------------------------------------------------- */

static void test_round_trip(void **state)
{
    sp_jwt_keyset_t *ks = keyset_of(KEY_A, NULL);
    sp_jwt_claims_t c = good_claims();
    c.nbf = NOW - 10;
    char *tok = NULL;
    assert_int_equal(sp_jwt_sign(ks, &c, &tok), 0);

    /* Three segments; the header names alg, typ and kid; the signature is
     * the raw 64-byte r || s (86 base64url characters), not DER. */
    char *d1 = strchr(tok, '.'), *d2 = strrchr(tok, '.');
    assert_true(d1 && d2 && d1 != d2);
    assert_int_equal(strlen(d2 + 1), 86);
    uint8_t hdr[256];
    size_t hlen = 0;
    assert_int_equal(sp_base64url_decode(tok, (size_t)(d1 - tok), hdr, sizeof hdr, &hlen), 0);
    hdr[hlen] = 0;
    assert_string_equal((char *)hdr, HDR_A);
    uint8_t sig[64];
    size_t slen = 0;
    assert_int_equal(sp_base64url_decode(d2 + 1, strlen(d2 + 1), sig, sizeof sig, &slen), 0);
    assert_int_equal(slen, 64);
    assert_true(ecdsa_ok(ks->keys[0], tok, (size_t)(d2 - tok), sig));

    sp_arena_t *arena = sp_arena_new();
    sp_jwt_claims_t out;
    sp_jwt_result_t res = SP_JWT_MALFORMED;
    assert_int_equal(sp_jwt_verify(ks, tok, strlen(tok), &OPTS, arena, &out, &res), 0);
    assert_int_equal(res, SP_JWT_VALID);
    assert_string_equal(out.iss, ISS);
    assert_string_equal(out.aud, AUD);
    assert_string_equal(out.sub, c.sub);
    assert_string_equal(out.tenant_id, c.tenant_id);
    assert_string_equal(out.jti, "jti-1");
    assert_string_equal(out.sid, "family-1");
    assert_int_equal(out.n_roles, 2);
    assert_string_equal(out.roles[0], "admin");
    assert_string_equal(out.roles[1], "analyst");
    assert_int_equal(out.iat, NOW - 10);
    assert_int_equal(out.exp, NOW + 890);
    assert_int_equal(out.nbf, NOW - 10);
    /* Again: served by the verified-signature cache, same answer. */
    assert_int_equal(sp_jwt_verify(ks, tok, strlen(tok), &OPTS, arena, &out, NULL), 0);
    sp_arena_destroy(&arena);
    free(tok);

    /* Deterministic ECDSA: the same claims sign to the same token. */
    char *t1 = NULL, *t2 = NULL;
    assert_int_equal(sp_jwt_sign(ks, &c, &t1), 0);
    assert_int_equal(sp_jwt_sign(ks, &c, &t2), 0);
    assert_string_equal(t1, t2);
    free(t1);
    free(t2);

    /* An operator: empty tenant, no sid. */
    c.tenant_id = "";
    c.sid = NULL;
    c.roles = (const char *const[]){"platform_operator"};
    c.n_roles = 1;
    assert_int_equal(sp_jwt_sign(ks, &c, &tok), 0);
    arena = sp_arena_new();
    assert_int_equal(sp_jwt_verify(ks, tok, strlen(tok), &OPTS, arena, &out, NULL), 0);
    assert_string_equal(out.tenant_id, "");
    assert_null(out.sid);
    sp_arena_destroy(&arena);
    free(tok);
    sp_jwt_keyset_destroy(&ks);
}

static void test_sign_refuses_incomplete_claims(void **state)
{
    sp_jwt_keyset_t *ks = keyset_of(KEY_A, NULL);
    char *tok = NULL;
    sp_jwt_claims_t c = good_claims();
    c.sub = "";
    assert_int_equal(sp_jwt_sign(ks, &c, &tok), SP_EINVAL);
    c = good_claims();
    c.jti = NULL;
    assert_int_equal(sp_jwt_sign(ks, &c, &tok), SP_EINVAL);
    c = good_claims();
    c.exp = c.iat;
    assert_int_equal(sp_jwt_sign(ks, &c, &tok), SP_EINVAL);
    c = good_claims();
    c.tenant_id = NULL;
    assert_int_equal(sp_jwt_sign(ks, &c, &tok), SP_EINVAL);
    assert_null(tok);
    sp_jwt_keyset_destroy(&ks);
}

static void test_rotation_old_key_keeps_verifying(void **state)
{
    sp_jwt_keyset_t *old = keyset_of(KEY_A, NULL);
    sp_jwt_claims_t c = good_claims();
    char *old_tok = NULL, *new_tok = NULL;
    assert_int_equal(sp_jwt_sign(old, &c, &old_tok), 0);

    /* The new set: the old key first, then the new one, which signs. */
    sp_jwt_keyset_t *both = keyset_of(KEY_A, NULL);
    assert_int_equal(sp_jwt_keyset_add_pem(both, KEY_B, strlen(KEY_B), NULL), 0);
    assert_int_equal(sp_jwt_sign(both, &c, &new_tok), 0);
    assert_int_equal(check(both, old_tok), SP_JWT_VALID);
    assert_int_equal(check(both, new_tok), SP_JWT_VALID);
    /* The old set does not know the new key. */
    assert_int_equal(check(old, new_tok), SP_JWT_UNKNOWN_KID);
    /* Once the old key is gone, its tokens are refused. */
    sp_jwt_keyset_t *only_new = keyset_of(KEY_B, NULL);
    assert_int_equal(check(only_new, old_tok), SP_JWT_UNKNOWN_KID);
    /* The public half alone verifies too. */
    sp_jwt_keyset_t *pub = keyset_of(PUB_A, NULL);
    assert_int_equal(check(pub, old_tok), SP_JWT_VALID);
    free(old_tok);
    free(new_tok);
    sp_jwt_keyset_destroy(&old);
    sp_jwt_keyset_destroy(&both);
    sp_jwt_keyset_destroy(&only_new);
    sp_jwt_keyset_destroy(&pub);
}

/* ---- rejections ----------------------------------------------------------------- */

static void test_rejects_alg_none_and_others(void **state)
{
    sp_jwt_keyset_t *ks = keyset_of(KEY_A, NULL);
    const char *p = payload(NOW, NOW + 600, "");
    char *p64 = b64(p);
    static const char *const HEADERS[] = {
        "{\"alg\":\"none\",\"typ\":\"JWT\"}",
        "{\"alg\":\"none\",\"kid\":\"_6zkN5NVXOsDyoT7khUoFZznXM2RPS2VvnSXNIo8qxk\"}",
        "{\"alg\":\"None\",\"kid\":\"_6zkN5NVXOsDyoT7khUoFZznXM2RPS2VvnSXNIo8qxk\"}",
        "{\"alg\":\"es256\",\"kid\":\"_6zkN5NVXOsDyoT7khUoFZznXM2RPS2VvnSXNIo8qxk\"}",
        "{\"alg\":\"ES384\",\"kid\":\"_6zkN5NVXOsDyoT7khUoFZznXM2RPS2VvnSXNIo8qxk\"}",
        "{\"alg\":\"RS256\",\"kid\":\"_6zkN5NVXOsDyoT7khUoFZznXM2RPS2VvnSXNIo8qxk\"}",
        "{\"alg\":\"PS256\",\"kid\":\"_6zkN5NVXOsDyoT7khUoFZznXM2RPS2VvnSXNIo8qxk\"}",
        "{\"alg\":\"ES256 \",\"kid\":\"_6zkN5NVXOsDyoT7khUoFZznXM2RPS2VvnSXNIo8qxk\"}",
        "{\"alg\":[\"ES256\"],\"kid\":\"_6zkN5NVXOsDyoT7khUoFZznXM2RPS2VvnSXNIo8qxk\"}",
        "{\"kid\":\"_6zkN5NVXOsDyoT7khUoFZznXM2RPS2VvnSXNIo8qxk\"}",
    };
    for (size_t i = 0; i < sizeof HEADERS / sizeof *HEADERS; i++) {
        char *h64 = b64(HEADERS[i]);
        char tok[2048];
        /* Unsigned (empty signature), as "none" tokens come. */
        snprintf(tok, sizeof tok, "%s.%s.", h64, p64);
        assert_int_equal(check(ks, tok), SP_JWT_BAD_ALG);
        free(h64);
        /* And correctly ES256-signed under the wrong alg name: the header
         * decides nothing. */
        char *forged = forge(ks, HEADERS[i], p);
        assert_int_equal(check(ks, forged), SP_JWT_BAD_ALG);
        free(forged);
    }
    /* A crit header we cannot honour. */
    char *crit = forge(ks,
                       "{\"alg\":\"ES256\",\"kid\":\"_6zkN5NVXOsDyoT7khUoFZznXM2RPS2VvnSXNIo8qxk\","
                       "\"crit\":[\"exp\"]}",
                       p);
    assert_int_equal(check(ks, crit), SP_JWT_BAD_ALG);
    free(crit);
    free(p64);
    sp_jwt_keyset_destroy(&ks);
}

/* The classic confusion: HS256 with the verifier's public key as the HMAC
 * secret, in every form an attacker could guess (PEM text, JWK coordinates). */
static void test_rejects_hs256_keyed_with_public_key(void **state)
{
    sp_jwt_keyset_t *ks = keyset_of(KEY_A, NULL);
    char *h64 = b64("{\"alg\":\"HS256\",\"typ\":\"JWT\","
                    "\"kid\":\"_6zkN5NVXOsDyoT7khUoFZznXM2RPS2VvnSXNIo8qxk\"}");
    char *p64 = b64(payload(NOW, NOW + 600, ""));
    char input[2048];
    int n = snprintf(input, sizeof input, "%s.%s", h64, p64);
    char *jwks = sp_jwt_keyset_jwks(ks);
    assert_non_null(jwks);
    const char *secrets[] = {PUB_A, jwks ? jwks : "", X_A};
    for (size_t i = 0; i < 3; i++) {
        uint8_t mac[32];
        sp_hmac_sha256(secrets[i], strlen(secrets[i]), input, (size_t)n, mac);
        char tok[2200], mac64[64];
        sp_base64url_encode(mac, 32, mac64, sizeof mac64, NULL);
        snprintf(tok, sizeof tok, "%s.%s", input, mac64);
        assert_int_equal(check(ks, tok), SP_JWT_BAD_ALG);
    }
    free(jwks);
    free(h64);
    free(p64);
    sp_jwt_keyset_destroy(&ks);
}

static void test_rejects_bad_signatures(void **state)
{
    sp_jwt_keyset_t *ks = keyset_of(KEY_A, "k1");
    sp_jwt_claims_t c = good_claims();
    char *tok = NULL;
    assert_int_equal(sp_jwt_sign(ks, &c, &tok), 0);
    assert_int_equal(check(ks, tok), SP_JWT_VALID);

    /* One flipped bit in the signature, twice: a failure is not cached. */
    char *bad = strdup(tok);
    char *sig = strrchr(bad, '.') + 1;
    sig[10] = sig[10] == 'A' ? 'B' : 'A';
    assert_int_equal(check(ks, bad), SP_JWT_BAD_SIGNATURE);
    assert_int_equal(check(ks, bad), SP_JWT_BAD_SIGNATURE);
    free(bad);

    /* The payload changed under a valid signature. */
    bad = forge(ks, "{\"alg\":\"ES256\",\"kid\":\"k1\"}", payload(NOW, NOW + 600, ""));
    char *other = forge(ks, "{\"alg\":\"ES256\",\"kid\":\"k1\"}", payload(NOW, NOW + 601, ""));
    char spliced[2048];
    snprintf(spliced, sizeof spliced, "%.*s%s", (int)(strrchr(other, '.') - other), other,
             strrchr(bad, '.'));
    assert_int_equal(check(ks, spliced), SP_JWT_BAD_SIGNATURE);
    free(bad);
    free(other);

    /* Signed by another key under our kid. */
    sp_jwt_keyset_t *impostor = keyset_of(KEY_B, "k1");
    char *fake = NULL;
    assert_int_equal(sp_jwt_sign(impostor, &c, &fake), 0);
    assert_int_equal(check(ks, fake), SP_JWT_BAD_SIGNATURE);
    free(fake);
    sp_jwt_keyset_destroy(&impostor);

    /* Wrong lengths: empty, short, DER-sized, and all-zero r and s. */
    char *body = strndup(tok, (size_t)(strrchr(tok, '.') - tok));
    char t2[2048];
    snprintf(t2, sizeof t2, "%s.", body);
    assert_int_equal(check(ks, t2), SP_JWT_BAD_SIGNATURE);
    snprintf(t2, sizeof t2, "%s.AAAA", body);
    assert_int_equal(check(ks, t2), SP_JWT_BAD_SIGNATURE);
    uint8_t der[72] = {0x30, 70};
    char der64[128];
    sp_base64url_encode(der, sizeof der, der64, sizeof der64, NULL);
    snprintf(t2, sizeof t2, "%s.%s", body, der64);
    assert_int_equal(check(ks, t2), SP_JWT_BAD_SIGNATURE);
    uint8_t zero[64] = {0};
    char zero64[128];
    sp_base64url_encode(zero, sizeof zero, zero64, sizeof zero64, NULL);
    snprintf(t2, sizeof t2, "%s.%s", body, zero64);
    assert_int_equal(check(ks, t2), SP_JWT_BAD_SIGNATURE);
    free(body);
    free(tok);
    sp_jwt_keyset_destroy(&ks);
}

static void test_rejects_malformed(void **state)
{
    sp_jwt_keyset_t *ks = keyset_of(KEY_A, "k1");
    sp_jwt_claims_t c = good_claims();
    char *tok = NULL;
    assert_int_equal(sp_jwt_sign(ks, &c, &tok), 0);
    char t[4096];
    const char *cases[] = {"", ".", "..", "a.b", "a.b.c.d", "abc", "a.b.c"};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        assert_int_equal(check(ks, cases[i]), SP_JWT_MALFORMED);
    snprintf(t, sizeof t, "%s.extra", tok);
    assert_int_equal(check(ks, t), SP_JWT_MALFORMED);
    snprintf(t, sizeof t, " %s", tok);
    assert_int_equal(check(ks, t), SP_JWT_MALFORMED);
    /* Padding is not base64url as JWS uses it. */
    char *d1 = strchr(tok, '.');
    snprintf(t, sizeof t, "%.*s=%s", (int)(d1 - tok), tok, d1);
    assert_int_equal(check(ks, t), SP_JWT_MALFORMED);
    /* Standard base64 characters. */
    snprintf(t, sizeof t, "%s", tok);
    t[2] = '+';
    assert_int_equal(check(ks, t), SP_JWT_MALFORMED);
    free(tok);

    /* Header or payload that is not a JSON object. */
    char *h = b64("[\"ES256\"]");
    char *p = b64(payload(NOW, NOW + 60, ""));
    snprintf(t, sizeof t, "%s.%s.AAAA", h, p);
    assert_int_equal(check(ks, t), SP_JWT_MALFORMED);
    free(h);
    char *bad = forge(ks, "{\"alg\":\"ES256\",\"kid\":\"k1\"}", "not json");
    assert_int_equal(check(ks, bad), SP_JWT_MALFORMED);
    free(bad);
    bad = forge(ks, "{\"alg\":\"ES256\",\"kid\":\"k1\"}", "[1,2]");
    assert_int_equal(check(ks, bad), SP_JWT_MALFORMED);
    free(bad);
    bad = forge(ks, "{\"alg\":\"ES256\",\"kid\":\"k1\"}", "{\"a\":1} trailing");
    assert_int_equal(check(ks, bad), SP_JWT_MALFORMED);
    free(bad);
    free(p);

    /* Too long to be one of ours. */
    char *huge = malloc(20000);
    memset(huge, 'A', 19999);
    huge[19999] = 0;
    huge[100] = '.';
    huge[200] = '.';
    assert_int_equal(check(ks, huge), SP_JWT_MALFORMED);
    free(huge);
    sp_jwt_keyset_destroy(&ks);
}

static void test_rejects_unknown_kid(void **state)
{
    sp_jwt_keyset_t *ks = keyset_of(KEY_A, "k1");
    const char *p = payload(NOW, NOW + 600, "");
    char *t = forge(ks, "{\"alg\":\"ES256\",\"kid\":\"k2\"}", p);
    assert_int_equal(check(ks, t), SP_JWT_UNKNOWN_KID);
    free(t);
    t = forge(ks, "{\"alg\":\"ES256\"}", p);
    assert_int_equal(check(ks, t), SP_JWT_UNKNOWN_KID);
    free(t);
    t = forge(ks, "{\"alg\":\"ES256\",\"kid\":7}", p);
    assert_int_equal(check(ks, t), SP_JWT_UNKNOWN_KID);
    free(t);
    sp_jwt_keyset_destroy(&ks);
}

static void test_time_claims(void **state)
{
    sp_jwt_keyset_t *ks = keyset_of(KEY_A, "k1");
    const char *h = "{\"alg\":\"ES256\",\"kid\":\"k1\"}";
    struct {
        int iat, exp;
        const char *extra;
        sp_jwt_result_t want;
    } cases[] = {
        {NOW - 1000, NOW - 31, "", SP_JWT_EXPIRED},      /* past the leeway */
        {NOW - 1000, NOW - 30, "", SP_JWT_EXPIRED},      /* exp is exclusive */
        {NOW - 1000, NOW - 29, "", SP_JWT_VALID},        /* within the leeway */
        {NOW + 31, NOW + 900, "", SP_JWT_NOT_YET_VALID}, /* issued in the future */
        {NOW + 30, NOW + 900, "", SP_JWT_VALID},
        {NOW, NOW + 900, ",\"nbf\":1750000031", SP_JWT_NOT_YET_VALID},
        {NOW, NOW + 900, ",\"nbf\":1750000030", SP_JWT_VALID},
        {NOW, NOW + 900, ",\"nbf\":\"soon\"", SP_JWT_MISSING_CLAIM},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *t = forge(ks, h, payload(cases[i].iat, cases[i].exp, cases[i].extra));
        assert_int_equal(check(ks, t), cases[i].want);
        free(t);
    }
    /* With the real clock: a token from sp_jwt_sign that expired an hour ago. */
    sp_jwt_claims_t c = good_claims();
    c.iat = (int64_t)time(NULL) - 7200;
    c.exp = c.iat + 3600;
    char *tok = NULL;
    assert_int_equal(sp_jwt_sign(ks, &c, &tok), 0);
    sp_jwt_verify_opts_t live = {.issuer = ISS, .audience = AUD, .leeway_s = 30};
    sp_arena_t *arena = sp_arena_new();
    sp_jwt_claims_t out;
    sp_jwt_result_t res;
    assert_int_equal(sp_jwt_verify(ks, tok, strlen(tok), &live, arena, &out, &res), SP_EDENIED);
    assert_int_equal(res, SP_JWT_EXPIRED);
    sp_arena_destroy(&arena);
    free(tok);
    sp_jwt_keyset_destroy(&ks);
}

static void test_issuer_and_audience(void **state)
{
    sp_jwt_keyset_t *ks = keyset_of(KEY_A, "k1");
    const char *h = "{\"alg\":\"ES256\",\"kid\":\"k1\"}";
    struct {
        const char *payload;
        sp_jwt_result_t want;
    } cases[] = {
        {"{\"iss\":\"https://evil.test\",\"aud\":\"" AUD "\",\"sub\":\"u\",\"tenant_id\":\"t\","
         "\"roles\":[],\"iat\":1750000000,\"exp\":1750000600,\"jti\":\"j\"}",
         SP_JWT_BAD_ISSUER},
        {"{\"iss\":\"" ISS "\",\"aud\":\"other-api\",\"sub\":\"u\",\"tenant_id\":\"t\","
         "\"roles\":[],\"iat\":1750000000,\"exp\":1750000600,\"jti\":\"j\"}",
         SP_JWT_BAD_AUDIENCE},
        {"{\"iss\":\"" ISS "\",\"aud\":[\"other-api\",\"" AUD "\"],\"sub\":\"u\","
         "\"tenant_id\":\"t\",\"roles\":[],\"iat\":1750000000,\"exp\":1750000600,\"jti\":\"j\"}",
         SP_JWT_VALID},
        {"{\"iss\":\"" ISS "\",\"aud\":[\"other-api\"],\"sub\":\"u\",\"tenant_id\":\"t\","
         "\"roles\":[],\"iat\":1750000000,\"exp\":1750000600,\"jti\":\"j\"}",
         SP_JWT_BAD_AUDIENCE},
        {"{\"iss\":\"" ISS "\",\"aud\":[],\"sub\":\"u\",\"tenant_id\":\"t\","
         "\"roles\":[],\"iat\":1750000000,\"exp\":1750000600,\"jti\":\"j\"}",
         SP_JWT_MISSING_CLAIM},
        /* Case matters. */
        {"{\"iss\":\"HTTPS://AUTH.SERPHONA.TEST\",\"aud\":\"" AUD "\",\"sub\":\"u\","
         "\"tenant_id\":\"t\",\"roles\":[],\"iat\":1750000000,\"exp\":1750000600,\"jti\":\"j\"}",
         SP_JWT_BAD_ISSUER},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *t = forge(ks, h, cases[i].payload);
        assert_int_equal(check(ks, t), cases[i].want);
        free(t);
    }
    sp_jwt_keyset_destroy(&ks);
}

static void test_required_claims(void **state)
{
    sp_jwt_keyset_t *ks = keyset_of(KEY_A, "k1");
    const char *h = "{\"alg\":\"ES256\",\"kid\":\"k1\"}";
    /* The full payload, then each claim removed or mistyped in turn. */
    static const char *const NAMES[] = {"iss",   "aud", "sub", "tenant_id",
                                        "roles", "iat", "exp", "jti"};
    static const char *const VALUES[] = {"\"" ISS "\"",  "\"" AUD "\"", "\"u\"",      "\"t\"",
                                         "[\"viewer\"]", "1750000000",  "1750000600", "\"j\""};
    static const char *const WRONG[] = {"42",         "{}",      "null", "7",
                                        "\"viewer\"", "\"now\"", "true", "[]"};
    enum { N = 8 };
    for (int drop = -1; drop < N; drop++) {
        for (int mode = 0; mode < 2; mode++) {
            if (drop < 0 && mode == 1)
                continue;
            char p[1024] = "{";
            for (int i = 0; i < N; i++) {
                if (i == drop && mode == 0)
                    continue;
                char item[128];
                snprintf(item, sizeof item, "%s\"%s\":%s", strlen(p) > 1 ? "," : "", NAMES[i],
                         i == drop ? WRONG[i] : VALUES[i]);
                strcat(p, item);
            }
            strcat(p, "}");
            char *t = forge(ks, h, p);
            assert_int_equal(check(ks, t), drop < 0 ? SP_JWT_VALID : SP_JWT_MISSING_CLAIM);
            free(t);
        }
    }
    /* Empty sub or jti, a role that is not a string, a sid that is not one. */
    const char *more[] = {
        "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"\",\"tenant_id\":\"t\","
        "\"roles\":[],\"iat\":1750000000,\"exp\":1750000600,\"jti\":\"j\"}",
        "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"u\",\"tenant_id\":\"t\","
        "\"roles\":[],\"iat\":1750000000,\"exp\":1750000600,\"jti\":\"\"}",
        "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"u\",\"tenant_id\":\"t\","
        "\"roles\":[\"admin\",3],\"iat\":1750000000,\"exp\":1750000600,\"jti\":\"j\"}",
        "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"u\",\"tenant_id\":\"t\","
        "\"roles\":[],\"iat\":1750000000,\"exp\":1750000600,\"jti\":\"j\",\"sid\":5}",
        "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"u\",\"tenant_id\":\"t\","
        "\"roles\":[],\"iat\":1750000000,\"exp\":1e300,\"jti\":\"j\"}",
    };
    for (size_t i = 0; i < sizeof more / sizeof *more; i++) {
        char *t = forge(ks, h, more[i]);
        assert_int_equal(check(ks, t), SP_JWT_MISSING_CLAIM);
        free(t);
    }
    sp_jwt_keyset_destroy(&ks);
}

static void test_result_names(void **state)
{
    assert_string_equal(sp_jwt_result_name(SP_JWT_VALID), "valid");
    assert_string_equal(sp_jwt_result_name(SP_JWT_EXPIRED), "expired");
    assert_string_equal(sp_jwt_result_name(SP_JWT_BAD_ALG), "bad_alg");
    assert_string_equal(sp_jwt_result_name(SP_JWT_UNKNOWN_KID), "unknown_kid");
    sp_arena_t *arena = sp_arena_new();
    sp_jwt_claims_t c;
    assert_int_equal(sp_jwt_verify(NULL, "x", 1, &OPTS, arena, &c, NULL), SP_EINVAL);
    sp_arena_destroy(&arena);
}

/* ---- threads ---------------------------------------------------------------------- */

typedef struct {
    sp_jwt_keyset_t *ks;
    int id, failures;
} worker_t;

static void *sign_and_verify(void *arg)
{
    worker_t *w = arg;
    for (int i = 0; i < 20; i++) {
        char jti[32];
        snprintf(jti, sizeof jti, "t%d-%d", w->id, i);
        sp_jwt_claims_t c = good_claims();
        c.jti = jti;
        char *tok = NULL;
        if (sp_jwt_sign(w->ks, &c, &tok) != 0) {
            w->failures++;
            continue;
        }
        sp_arena_t *arena = sp_arena_new();
        sp_jwt_claims_t out;
        if (sp_jwt_verify(w->ks, tok, strlen(tok), &OPTS, arena, &out, NULL) != 0 ||
            strcmp(out.jti, jti) != 0)
            w->failures++;
        sp_arena_destroy(&arena);
        free(tok);
    }
    return NULL;
}

static void test_concurrent_use(void **state)
{
    sp_jwt_keyset_t *ks = keyset_of(KEY_A, NULL);
    pthread_t th[4];
    worker_t w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker_t){.ks = ks, .id = i};
        pthread_create(&th[i], NULL, sign_and_verify, &w[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    sp_jwt_keyset_destroy(&ks);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_sec1_pkcs8_and_public),
        cmocka_unit_test(test_refuses_bad_keys),
        cmocka_unit_test(test_bundle_oldest_first),
        cmocka_unit_test(test_load_dir_newest_signs),
        cmocka_unit_test(test_jwks_exports_public_parts_only),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_sign_refuses_incomplete_claims),
        cmocka_unit_test(test_rotation_old_key_keeps_verifying),
        cmocka_unit_test(test_rejects_alg_none_and_others),
        cmocka_unit_test(test_rejects_hs256_keyed_with_public_key),
        cmocka_unit_test(test_rejects_bad_signatures),
        cmocka_unit_test(test_rejects_malformed),
        cmocka_unit_test(test_rejects_unknown_kid),
        cmocka_unit_test(test_time_claims),
        cmocka_unit_test(test_issuer_and_audience),
        cmocka_unit_test(test_required_claims),
        cmocka_unit_test(test_result_names),
        cmocka_unit_test(test_concurrent_use),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
