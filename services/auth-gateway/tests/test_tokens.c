/*
 * test_tokens.c — how the gateway reads a caller's credential
 * (gw_authenticate in tokens.c), with no server: the Authorization header's
 * scheme, spacing, emptiness and repetition, the token's own verdict
 * (expired, foreign key, wrong issuer or audience, alg none), and the
 * X-Api-Key path up to the point where tenant-manager would be asked (here
 * a loopback port nobody listens on, so a credential that gets that far is
 * answered 503 auth_unavailable, never let through).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/tokens.h"
#include "platform/clock.h"
#include "platform/error.h"
#include "platform/log.h"
#include "platform/rpc.h"
#include "gw_test.h"
#include "sptest.h"

/* Test-only P-256 keys: OURS signs and verifies; FOREIGN is unknown to the
 * gateway. */
static const char OURS[] = "-----BEGIN EC PRIVATE KEY-----\n"
                           "MHcCAQEEINAkg/O6Uxc83sgSIApKlvIzL69RBgRVm+Npyk3Ux74eoAoGCCqGSM49\n"
                           "AwEHoUQDQgAEoJwwDm0Q2gPDQoz7sXeLtskiRYJaZEsSdV5SkavvXjPgfklpulRr\n"
                           "x3obhFWnm1IURXwJ++acHAJC/AEmqIGONg==\n"
                           "-----END EC PRIVATE KEY-----\n";
static const char FOREIGN[] = "-----BEGIN EC PRIVATE KEY-----\n"
                              "MHcCAQEEIBPIEDS9UC/9JVqRQYbMgRe4ct8fyJ6eicll8sm+FiTEoAoGCCqGSM49\n"
                              "AwEHoUQDQgAEF0Uk7+nvczG/73gm4fQIdR5VmCnj3DshS3JkQ+yMyRmuGj9l5Lgk\n"
                              "fgE+cBbj8VMVxjQ8qfTqfvTVD63cK6fmCg==\n"
                              "-----END EC PRIVATE KEY-----\n";

#define ISS "https://auth.serphona.test"
#define AUD "serphona-api"

static sp_service_t *SVC;
static gw_t GW;
static sp_jwt_keyset_t *FOREIGN_KEYS;
static char *VALID, *EXPIRED, *ALIEN, *WRONG_ISS, *WRONG_AUD;

/* A token for a user of a tenant, issued iat_off seconds from now and
 * valid ttl seconds, with iss/aud, signed by ks; caller frees. */
static char *token(sp_jwt_keyset_t *ks, const char *iss, const char *aud, int64_t iat_off,
                   int64_t ttl)
{
    int64_t now = sp_clock_wall_ms() / 1000;
    const char *roles[] = {"owner"};
    sp_jwt_claims_t c = {.iss = iss,
                         .aud = aud,
                         .sub = "00000000-0000-4000-8000-0000000000u1",
                         .tenant_id = "00000000-0000-4000-8000-0000000000t1",
                         .jti = "jti-1",
                         .sid = "sid-1",
                         .roles = roles,
                         .n_roles = 1,
                         .iat = now + iat_off,
                         .exp = now + iat_off + ttl};
    char *out = NULL;
    assert_int_equal(sp_jwt_sign(ks, &c, &out), 0);
    return out;
}

static int setup(void **state)
{
    (void)state;
    if (gw_test_init("test_tokens", &SVC, &GW) != 0)
        return -1;
    GW.issuer = ISS;
    GW.audience = AUD;
    GW.leeway_s = 30;
    GW.rpc_timeout_ms = 300;
    GW.keys = sp_jwt_keyset_new();
    FOREIGN_KEYS = sp_jwt_keyset_new();
    /* Port 9 (discard) on loopback: nobody answers. */
    if (!GW.keys || !FOREIGN_KEYS ||
        gw_test_connect(&GW, sp_rpc_client_new("tcp://127.0.0.1:9")) != 0 ||
        sp_jwt_keyset_add_pem(GW.keys, OURS, strlen(OURS), NULL) != 0 ||
        sp_jwt_keyset_add_pem(FOREIGN_KEYS, FOREIGN, strlen(FOREIGN), NULL) != 0)
        return -1;
    VALID = token(GW.keys, ISS, AUD, 0, 900);
    EXPIRED = token(GW.keys, ISS, AUD, -7200, 900);
    ALIEN = token(FOREIGN_KEYS, ISS, AUD, 0, 900);
    WRONG_ISS = token(GW.keys, "https://evil.test", AUD, 0, 900);
    WRONG_AUD = token(GW.keys, ISS, "another-api", 0, 900);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(VALID);
    free(EXPIRED);
    free(ALIEN);
    free(WRONG_ISS);
    free(WRONG_AUD);
    sp_jwt_keyset_destroy(&FOREIGN_KEYS);
    sp_jwt_keyset_destroy(&GW.keys);
    gw_test_disconnect(&GW);
    sp_service_destroy(&SVC);
    return 0;
}

/* The outcome of gw_authenticate on a request with headers ("Name",
 * "value", ..., NULL). */
typedef struct {
    gw_auth_result_t result;
    int status;
    char code[48];
    char message[160];
    char challenge[96]; /* WWW-Authenticate, "" when none */
    size_t n_headers;
} outcome_t;

static outcome_t authenticate(const char *const *headers)
{
    sp_request_t *req = sp_request_new();
    assert_non_null(req);
    assert_int_equal(sp_request_set_method(req, "GET"), 0);
    assert_int_equal(sp_request_set_path(req, "/v1/users/me"), 0);
    for (size_t i = 0; headers && headers[i]; i += 2)
        assert_int_equal(sp_request_add_header(req, headers[i], headers[i + 1]), 0);
    gw_caller_t caller;
    outcome_t o;
    memset(&o, 0, sizeof o);
    o.result = gw_authenticate(&GW, req, &caller);
    sp_response_t *resp = sp_request_response(req);
    o.status = sp_response_status(resp);
    o.n_headers = sp_response_header_count(resp);
    const char *ch = sp_response_header(resp, "WWW-Authenticate");
    snprintf(o.challenge, sizeof o.challenge, "%s", ch ? ch : "");
    const char *body = sp_response_body(resp, NULL);
    cJSON *j = body ? cJSON_Parse(body) : NULL;
    const char *code = sptest_json_str(j, "error.code");
    const char *msg = sptest_json_str(j, "error.message");
    snprintf(o.code, sizeof o.code, "%s", code ? code : "");
    snprintf(o.message, sizeof o.message, "%s", msg ? msg : "");
    cJSON_Delete(j);
    sp_request_destroy(&req);
    return o;
}

/* Authorization: value, alone. */
static outcome_t with_authorization(const char *value)
{
    const char *h[] = {"Authorization", value, NULL};
    return authenticate(h);
}

/* form with its "%s" (if any) replaced by tok; caller frees. */
static char *bearer(const char *form, const char *tok)
{
    const char *at = strstr(form, "%s");
    char *s = NULL;
    if (!at)
        s = strdup(form);
    else
        assert_true(asprintf(&s, "%.*s%s%s", (int)(at - form), form, tok, at + 2) > 0);
    assert_non_null(s);
    return s;
}

/* Authorization: form with its "%s" replaced by tok, alone. */
static outcome_t with_bearer(const char *form, const char *tok)
{
    char *v = bearer(form, tok);
    outcome_t o = with_authorization(v);
    free(v);
    return o;
}

#define REFUSED(o, st, c)                                                                          \
    do {                                                                                           \
        if ((o).result != GW_AUTH_REFUSED || (o).status != (st) || strcmp((o).code, (c)) != 0)     \
            fail_msg("expected refusal %d %s, got result %d, %d %s (%s)", (st), (c), (o).result,   \
                     (o).status, (o).code, (o).message);                                           \
    } while (0)

#define BAD_TOKEN_CHALLENGE "Bearer realm=\"serphona\", error=\"invalid_token\""

static void test_no_credential(void **state)
{
    (void)state;
    outcome_t o = authenticate(NULL);
    assert_int_equal(o.result, GW_AUTH_NONE);
    assert_int_equal(o.n_headers, 0);
    /* An empty X-Api-Key is no credential either. */
    const char *empty_key[] = {"X-Api-Key", "", NULL};
    o = authenticate(empty_key);
    assert_int_equal(o.result, GW_AUTH_NONE);
    /* Other headers are not credentials. */
    const char *other[] = {"Cookie", "sp_refresh=abc", "X-Auth-Token", VALID, NULL};
    o = authenticate(other);
    assert_int_equal(o.result, GW_AUTH_NONE);
}

static void test_only_bearer_scheme(void **state)
{
    (void)state;
    /* Present but not "Bearer <token>": refused, never taken as absent. */
    static const char *const bad[] = {
        "Basic dXNlcjpwYXNz", "Bearer", "Bearer\tx.y.z", "Token abc", "", " ", "Bearerabc",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        outcome_t o = with_authorization(bad[i]);
        REFUSED(o, 401, "invalid_token");
        assert_string_equal(o.challenge, BAD_TOKEN_CHALLENGE);
        assert_non_null(strstr(o.message, "only Bearer"));
    }
    /* A leading space is not the scheme either. */
    outcome_t o = with_bearer(" Bearer %s", VALID);
    REFUSED(o, 401, "invalid_token");
}

static void test_scheme_case_and_spacing(void **state)
{
    (void)state;
    /* The expired token's own verdict shows the token reached the
     * verifier intact: the scheme is case-insensitive and the spaces
     * around the token are not part of it. */
    static const char *const forms[] = {"Bearer %s",    "bearer %s",    "BEARER %s",   "BeArEr %s",
                                        "Bearer    %s", "Bearer %s   ", "Bearer  %s  "};
    for (size_t i = 0; i < sizeof forms / sizeof *forms; i++) {
        outcome_t o = with_bearer(forms[i], EXPIRED);
        if (o.status != 401 || strcmp(o.code, "token_expired") != 0)
            fail_msg("\"%s\": expected 401 token_expired, got %d %s", forms[i], o.status, o.code);
        assert_int_equal(o.result, GW_AUTH_REFUSED);
        assert_string_equal(o.challenge, BAD_TOKEN_CHALLENGE);
    }
    /* A tab is not trimmed: it stays in the token, which is then
     * malformed. */
    static const char *const malformed[] = {
        "Bearer %s\t",     /* a tab is not trimmed: it stays in the token */
        "Bearer %s x.y.z", /* two tokens */
        "Bearer ",         /* nothing after the scheme */
        "Bearer     ",
    };
    for (size_t i = 0; i < sizeof malformed / sizeof *malformed; i++) {
        outcome_t o = with_bearer(malformed[i], EXPIRED);
        REFUSED(o, 401, "invalid_token");
    }
}

static void test_token_verdicts(void **state)
{
    (void)state;
    struct {
        const char *tok, *reason;
    } cases[] = {
        {ALIEN, "unknown_kid"},
        {WRONG_ISS, "bad_issuer"},
        {WRONG_AUD, "bad_audience"},
        /* {"alg":"none"} . {} . (no signature) */
        {"eyJhbGciOiJub25lIn0.e30.", "bad_alg"},
        {"not-a-jwt", "malformed"},
        {"a.b.c", "malformed"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        outcome_t o = with_bearer("Bearer %s", cases[i].tok);
        REFUSED(o, 401, "invalid_token");
        if (!strstr(o.message, cases[i].reason))
            fail_msg("expected the reason %s, got \"%s\"", cases[i].reason, o.message);
        assert_string_equal(o.challenge, BAD_TOKEN_CHALLENGE);
    }
    /* One altered signature byte. */
    char *tampered = bearer("Bearer %s", VALID);
    char *last = tampered + strlen(tampered) - 2;
    *last = *last == 'A' ? 'B' : 'A';
    outcome_t o = with_authorization(tampered);
    REFUSED(o, 401, "invalid_token");
    free(tampered);
}

static void test_valid_token_goes_to_tenant_manager(void **state)
{
    (void)state;
    /* It verifies, so the principal is looked up: tenant-manager cannot be
     * asked, and the answer is 503, not a pass. */
    outcome_t o = with_bearer("Bearer %s", VALID);
    REFUSED(o, 503, "auth_unavailable");
}

static void test_several_authorization_headers(void **state)
{
    (void)state;
    /* The first Authorization header is the one read: a later one never
     * replaces a refused credential. */
    char *v = bearer("Bearer %s", EXPIRED);
    const char *basic_first[] = {"Authorization", "Basic dXNlcjpwYXNz", "Authorization", v, NULL};
    outcome_t o = authenticate(basic_first);
    REFUSED(o, 401, "invalid_token");
    assert_non_null(strstr(o.message, "only Bearer"));
    const char *expired_first[] = {"Authorization", v, "Authorization", "Basic dXNlcjpwYXNz", NULL};
    o = authenticate(expired_first);
    REFUSED(o, 401, "token_expired");
    /* The header name is case-insensitive. */
    const char *lower[] = {"authorization", v, NULL};
    o = authenticate(lower);
    REFUSED(o, 401, "token_expired");
    free(v);
}

static void test_authorization_wins_over_api_key(void **state)
{
    (void)state;
    /* With both, the key is not consulted: the bad Authorization decides. */
    const char *both[] = {"Authorization", "Basic dXNlcjpwYXNz", "X-Api-Key",
                          "sk_live_0123456789abcdef0123456789abcdef", NULL};
    outcome_t o = authenticate(both);
    REFUSED(o, 401, "invalid_token");
}

static void test_api_key_shapes(void **state)
{
    (void)state;
    /* Over 512 characters: refused here, tenant-manager is not asked (it
     * is unreachable, so asking would answer 503). */
    char big[600];
    memset(big, 'k', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    const char *h_big[] = {"X-Api-Key", big, NULL};
    outcome_t o = authenticate(h_big);
    REFUSED(o, 401, "invalid_api_key");
    assert_string_equal(o.challenge, "Bearer realm=\"serphona\"");
    /* Exactly 512 is resolved by tenant-manager. */
    big[512] = '\0';
    o = authenticate(h_big);
    REFUSED(o, 503, "auth_unavailable");
    const char *h_key[] = {"X-Api-Key", "sk_live_0123456789abcdef0123456789abcdef", NULL};
    o = authenticate(h_key);
    REFUSED(o, 503, "auth_unavailable");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_credential),
        cmocka_unit_test(test_only_bearer_scheme),
        cmocka_unit_test(test_scheme_case_and_spacing),
        cmocka_unit_test(test_token_verdicts),
        cmocka_unit_test(test_valid_token_goes_to_tenant_manager),
        cmocka_unit_test(test_several_authorization_headers),
        cmocka_unit_test(test_authorization_wins_over_api_key),
        cmocka_unit_test(test_api_key_shapes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
