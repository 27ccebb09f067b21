/* Unit tests for jwt.c and jwt_keys.c: key loading (SEC1, PKCS#8, public,
 * bundles, directories, refusals), RFC 7638 thumbprints and the JWKS export,
 * sign and verify round trips with rotation, and concurrent use. Every
 * rejection of sp_jwt_verify is in test_jwt_reject.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "jwt_fixture.h"

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
        cmocka_unit_test(test_concurrent_use),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
