/* Unit tests for jwt.c: every rejection of sp_jwt_verify (algorithms, bad
 * signatures, malformed tokens, unknown kid, time, issuer, audience and
 * required claims) and the result names. Tokens with bad claims are signed
 * correctly with forge() (jwt_fixture.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "jwt_fixture.h"

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
    if (!tok) /* unreachable after the assert; tells the static analyzer so */
        abort();
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
    if (!tok) /* unreachable after the assert; tells the static analyzer so */
        abort();
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rejects_alg_none_and_others),
        cmocka_unit_test(test_rejects_hs256_keyed_with_public_key),
        cmocka_unit_test(test_rejects_bad_signatures),
        cmocka_unit_test(test_rejects_malformed),
        cmocka_unit_test(test_rejects_unknown_kid),
        cmocka_unit_test(test_time_claims),
        cmocka_unit_test(test_issuer_and_audience),
        cmocka_unit_test(test_required_claims),
        cmocka_unit_test(test_result_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
