/* Unit tests for taxonomy.c: the default taxonomy (ids, kinds, JSON round
 * trip), matching in English, Portuguese and Spanish with accents optional,
 * scores, weights, thresholds and truncation, language filtering; tenant
 * taxonomies in extend and replace mode, overriding and disabling default
 * categories, prefix and gap patterns; and every validation error, with
 * the field it names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nlp/taxonomy.h"
#include "platform/error.h"

#define MAXM 32

typedef struct {
    nlp_topic_match_t m[MAXM];
    size_t n;
} matches_t;

static matches_t match(const nlp_taxonomy_t *tax, const char *lang, const char *text)
{
    matches_t r;
    nlp_text_t t = {text, 0, 1.0};
    assert_int_equal(nlp_taxonomy_match(tax, &t, 1, lang, 0.3, r.m, MAXM, &r.n), 0);
    if (r.n > MAXM)
        r.n = MAXM;
    return r;
}

static const nlp_topic_match_t *find(const matches_t *r, const char *id)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->m[i].id, id) == 0)
            return &r->m[i];
    return NULL;
}

static void test_default(void **state)
{
    const nlp_taxonomy_t *t = nlp_taxonomy_default();
    assert_non_null(t);
    assert_ptr_equal(t, nlp_taxonomy_default());
    assert_int_equal(nlp_taxonomy_size(t), 16);
    const char *want[] = {"billing",
                          "payment",
                          "pricing",
                          "delivery",
                          "technical_problem",
                          "account_access",
                          "product_quality",
                          "customer_service",
                          "subscription",
                          "cancellation",
                          "refund",
                          "return_exchange",
                          "complaint",
                          "praise",
                          "information_request",
                          "purchase"};
    for (size_t i = 0; i < 16; i++) {
        assert_string_equal(nlp_taxonomy_id(t, i), want[i]);
        assert_non_null(nlp_taxonomy_name(t, i));
        assert_int_equal(nlp_taxonomy_kind(t, i), i < 9 ? NLP_CATEGORY_TOPIC : NLP_CATEGORY_INTENT);
    }
    assert_null(nlp_taxonomy_id(t, 16));
    assert_string_equal(nlp_category_kind_name(NLP_CATEGORY_INTENT), "intent");
}

static void test_match_languages(void **state)
{
    const nlp_taxonomy_t *t = nlp_taxonomy_default();
    matches_t r = match(t, "en", "I was charged twice on my last invoice");
    assert_true(r.n >= 1);
    assert_string_equal(r.m[0].id, "billing");
    assert_true(r.m[0].score >= 0.5);
    r = match(t, "pt", "Quero cancelar minha assinatura agora");
    assert_non_null(find(&r, "cancellation"));
    assert_non_null(find(&r, "subscription"));
    assert_int_equal(find(&r, "cancellation")->kind, NLP_CATEGORY_INTENT);
    r = match(t, "es", "Mi paquete no llegó y el seguimiento no funciona");
    assert_string_equal(r.m[0].id, "delivery");
    r = match(t, "es", "quiero la cancelacion"); /* accent optional */
    assert_non_null(find(&r, "cancellation"));
    r = match(t, "pt", "esqueci a senha e a conta está bloqueada");
    assert_string_equal(r.m[0].id, "account_access");
    r = match(t, "en", "I want a refund, this is unacceptable");
    assert_non_null(find(&r, "refund"));
    assert_non_null(find(&r, "complaint"));
    r = match(t, "en", "Good afternoon, how are you");
    assert_int_equal(r.n, 0);
}

static void test_scores_and_limits(void **state)
{
    const nlp_taxonomy_t *t = nlp_taxonomy_default();
    nlp_topic_match_t m[4];
    size_t n;
    /* One plain hit: 1 / (1 + 2). */
    nlp_text_t one = {"my invoice", 0, 1.0};
    assert_int_equal(nlp_taxonomy_match(t, &one, 1, "en", 0.0, m, 4, &n), 0);
    assert_int_equal(n, 1);
    assert_true(m[0].score == 0.3333);
    assert_true(m[0].raw == 1.0);
    assert_int_equal(m[0].hits, 1);
    /* A two-word phrase weighs 1.5 and is not counted again inside. */
    nlp_text_t two = {"charged twice", 0, 1.0};
    assert_int_equal(nlp_taxonomy_match(t, &two, 1, "en", 0.0, m, 4, &n), 0);
    assert_true(m[0].raw == 1.5);
    assert_int_equal(m[0].hits, 1);
    /* Half weight (an agent turn) stays under the 0.3 threshold. */
    nlp_text_t agent = {"my invoice", 0, 0.5};
    assert_int_equal(nlp_taxonomy_match(t, &agent, 1, "en", 0.3, m, 4, &n), 0);
    assert_int_equal(n, 0);
    /* Zero weight skips a text. */
    nlp_text_t texts[2] = {{"refund please", 0, 0.0}, {"invoice", 0, 1.0}};
    assert_int_equal(nlp_taxonomy_match(t, texts, 2, "en", 0.0, m, 4, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(m[0].id, "billing");
    /* More matches than room: n counts them all, max are written. */
    nlp_text_t many = {"invoice refund delivery password price quality agent cancel", 0, 1.0};
    assert_int_equal(nlp_taxonomy_match(t, &many, 1, "en", 0.0, m, 2, &n), 0);
    assert_int_equal(n, 8);
    assert_int_equal(nlp_taxonomy_match(t, &many, 1, "en", 0.0, NULL, 0, &n), 0);
    assert_int_equal(n, 8);
    assert_int_equal(nlp_taxonomy_match(NULL, &many, 1, "en", 0.0, m, 2, &n), SP_EINVAL);
}

static void test_language_filter(void **state)
{
    const nlp_taxonomy_t *t = nlp_taxonomy_default();
    assert_int_equal(match(t, "en", "minha fatura").n, 0);
    assert_non_null(find((matches_t[]){match(t, "pt", "minha fatura")}, "billing"));
    assert_non_null(find((matches_t[]){match(t, NULL, "minha fatura")}, "billing"));
    assert_non_null(find((matches_t[]){match(t, "fr", "minha fatura")}, "billing"));
}

static nlp_taxonomy_t *load_ok(const char *json)
{
    nlp_taxonomy_t *t = NULL;
    char err[256];
    int rc = nlp_taxonomy_from_json(json, strlen(json), &t, err, sizeof(err));
    if (rc)
        print_message("unexpected error: %s\n", err);
    assert_int_equal(rc, 0);
    assert_non_null(t);
    return t;
}

static void test_tenant_extend(void **state)
{
    nlp_taxonomy_t *t = load_ok(
        "{\"categories\":[{\"id\":\"late_fee\",\"name\":\"Late fee\",\"kind\":\"topic\","
        "\"patterns\":{\"en\":[\"late fee\",\"overdue charge*\"],\"pt\":[\"multa por atraso\"]}},"
        "{\"id\":\"pricing\",\"enabled\":false},"
        "{\"id\":\"billing\",\"patterns\":[\"statement of account\"]}]}");
    assert_int_equal(nlp_taxonomy_size(t), 16); /* +late_fee -pricing, billing replaced */
    matches_t r = match(t, "en", "there is a late fee and overdue charges");
    assert_string_equal(r.m[0].id, "late_fee");
    assert_int_equal(r.m[0].hits, 2);
    r = match(t, "pt", "paguei multa por atraso");
    assert_non_null(find(&r, "late_fee"));
    /* pricing is gone; billing has only the tenant's pattern. */
    assert_null(find((matches_t[]){match(t, "en", "the price is too expensive")}, "pricing"));
    assert_null(find((matches_t[]){match(t, "en", "my invoice")}, "billing"));
    assert_non_null(find((matches_t[]){match(t, "en", "statement of account")}, "billing"));
    /* Defaults still there. */
    assert_non_null(find((matches_t[]){match(t, "en", "refund please")}, "refund"));
    nlp_taxonomy_destroy(&t);
    assert_null(t);
    nlp_taxonomy_destroy(&t);
    nlp_taxonomy_destroy(NULL);
}

static void test_tenant_replace_and_patterns(void **state)
{
    nlp_taxonomy_t *t =
        load_ok("{\"version\":1,\"mode\":\"replace\",\"categories\":["
                "{\"id\":\"upsell\",\"kind\":\"intent\",\"weight\":2,\"description\":\"sales\","
                "\"patterns\":{\"any\":[\"premium * plan\",\"upgrad*\"]}},"
                "{\"id\":\"wifi\",\"patterns\":[\"wi-fi\",\"router\"]}]}");
    assert_int_equal(nlp_taxonomy_size(t), 2);
    matches_t r = match(t, "pt", "quero o premium family plan");
    assert_int_equal(r.n, 1);
    assert_string_equal(r.m[0].id, "upsell");
    assert_true(r.m[0].raw == 1.5 * 2.0);    /* two words (the gap is not one) x weight 2 */
    r = match(t, "en", "cancel my account"); /* no default categories in replace mode */
    assert_int_equal(r.n, 0);
    r = match(t, "en", "the Wi-Fi router upgraded itself");
    assert_int_equal(r.n, 2);
    assert_string_equal(r.m[0].id, "upsell"); /* weight 2 beats 2 hits */
    const nlp_topic_match_t *pi = nlp_taxonomy_primary_intent(r.m, r.n);
    assert_non_null(pi);
    assert_string_equal(pi->id, "upsell");
    assert_null(nlp_taxonomy_primary_intent(r.m + 1, 1));
    nlp_taxonomy_destroy(&t);
}

static void test_json_roundtrip(void **state)
{
    char *js = nlp_taxonomy_to_json(nlp_taxonomy_default());
    assert_non_null(js);
    assert_non_null(strstr(js, "\"mode\":\"replace\""));
    assert_non_null(strstr(js, "\"id\":\"billing\""));
    nlp_taxonomy_t *t = load_ok(js);
    assert_int_equal(nlp_taxonomy_size(t), 16);
    const char *samples[] = {"I was charged twice", "vou cancelar a assinatura",
                             "mi paquete no llegó", "excellent service, thank you so much"};
    for (size_t i = 0; i < 4; i++) {
        matches_t a = match(nlp_taxonomy_default(), NULL, samples[i]);
        matches_t b = match(t, NULL, samples[i]);
        assert_int_equal(a.n, b.n);
        for (size_t k = 0; k < a.n; k++) {
            assert_string_equal(a.m[k].id, b.m[k].id);
            assert_true(a.m[k].score == b.m[k].score);
        }
    }
    char *js2 = nlp_taxonomy_to_json(t);
    assert_string_equal(js, js2); /* stable */
    free(js);
    free(js2);
    nlp_taxonomy_destroy(&t);
}

static void expect_error(const char *json, int code, const char *fragment)
{
    nlp_taxonomy_t *t = (nlp_taxonomy_t *)1;
    char err[256] = "";
    int rc = nlp_taxonomy_from_json(json, strlen(json), &t, err, sizeof(err));
    if (rc != code || !strstr(err, fragment))
        print_message("json: %s\nrc=%d err=%s (want %d, \"%s\")\n", json, rc, err, code, fragment);
    assert_int_equal(rc, code);
    assert_null(t);
    assert_non_null(strstr(err, fragment));
}

static void test_errors(void **state)
{
    expect_error("{not json", SP_EINVAL, "not valid JSON");
    expect_error("[]", SP_EINVAL, "must be a JSON object");
    expect_error("{}", SP_EINVAL, "categories: required");
    expect_error("{\"categories\":[],\"x\":1}", SP_EINVAL, "unknown field \"x\"");
    expect_error("{\"mode\":\"merge\",\"categories\":[]}", SP_EINVAL, "mode");
    expect_error("{\"version\":2,\"categories\":[]}", SP_EINVAL, "version");
    expect_error("{\"categories\":[1]}", SP_EINVAL, "categories[0]: must be an object");
    expect_error("{\"categories\":[{\"patterns\":[\"a b\"]}]}", SP_EINVAL, "categories[0].id");
    expect_error("{\"categories\":[{\"id\":\"Bad Id\",\"patterns\":[\"abc\"]}]}", SP_EINVAL,
                 "categories[0].id");
    expect_error("{\"categories\":[{\"id\":\"a\",\"patterns\":[\"abc\"]},"
                 "{\"id\":\"a\",\"patterns\":[\"abc\"]}]}",
                 SP_EINVAL, "categories[1].id: \"a\" appears twice");
    expect_error("{\"categories\":[{\"id\":\"a\",\"kind\":\"mood\",\"patterns\":[\"x\"]}]}",
                 SP_EINVAL, "categories[0].kind");
    expect_error("{\"categories\":[{\"id\":\"a\",\"weight\":0,\"patterns\":[\"x\"]}]}", SP_EINVAL,
                 "categories[0].weight");
    expect_error("{\"categories\":[{\"id\":\"a\",\"weight\":11,\"patterns\":[\"x\"]}]}", SP_EINVAL,
                 "categories[0].weight");
    expect_error("{\"categories\":[{\"id\":\"a\",\"pattern\":[\"x\"]}]}", SP_EINVAL,
                 "categories[0]: unknown field \"pattern\"");
    expect_error("{\"categories\":[{\"id\":\"a\"}]}", SP_EINVAL,
                 "categories[0].patterns: required");
    expect_error("{\"categories\":[{\"id\":\"a\",\"patterns\":[]}]}", SP_EINVAL, "at least one");
    expect_error("{\"categories\":[{\"id\":\"a\",\"patterns\":{\"xx\":[\"x\"]}}]}", SP_EINVAL,
                 "unknown language \"xx\"");
    expect_error("{\"categories\":[{\"id\":\"a\",\"patterns\":{\"en\":[\"ok\",\"ab*\"]}}]}",
                 SP_EINVAL, "categories[0].patterns.en[1]: a prefix before * needs at least 3");
    expect_error("{\"categories\":[{\"id\":\"a\",\"patterns\":[\"* foo\"]}]}", SP_EINVAL,
                 "categories[0].patterns[0]");
    expect_error("{\"categories\":[{\"id\":\"a\",\"patterns\":[\"\"]}]}", SP_EINVAL,
                 "empty pattern");
    expect_error("{\"categories\":[{\"id\":\"a\",\"patterns\":[7]}]}", SP_EINVAL,
                 "must be a string");
    expect_error("{\"categories\":[{\"id\":\"a\",\"patterns\":[\"a b c d e f g h i\"]}]}",
                 SP_EINVAL, "more than 8 words");
    expect_error("{\"categories\":[{\"id\":\"a\",\"patterns\":\"x\"}]}", SP_EINVAL,
                 "must be an object or an array");
    /* Invalid UTF-8 is refused by the strict JSON check, before any field. */
    expect_error("{\"categories\":[{\"id\":\"a\",\"name\":\"\xff\",\"patterns\":[\"x\"]}]}",
                 SP_EINVAL, "not valid UTF-8");
    expect_error("{\"mode\":\"extend\",\"categories\":[]}xyz", SP_EINVAL, "data after");
    expect_error("{\"mode\":\"extend\",\"categories\":[]}{}", SP_EINVAL, "data after");
    expect_error("{\"categories\":[{\"id\":\"a\",\"patterns\":[\"ok\xc3\"]}]}", SP_EINVAL,
                 "not valid UTF-8");
    /* Size limits. */
    char *big = malloc(NLP_TAXONOMY_MAX_JSON + 2);
    memset(big, ' ', NLP_TAXONOMY_MAX_JSON + 1);
    big[NLP_TAXONOMY_MAX_JSON + 1] = '\0';
    expect_error(big, SP_ETOOBIG, "larger than");
    free(big);
    size_t cap = 64 * 1024;
    char *many = malloc(cap);
    size_t o = (size_t)snprintf(many, cap, "{\"categories\":[");
    for (int i = 0; i < NLP_TAXONOMY_MAX_CATEGORIES + 1; i++)
        o += (size_t)snprintf(many + o, cap - o, "%s{\"id\":\"c%d\",\"patterns\":[\"w%d\"]}",
                              i ? "," : "", i, i);
    snprintf(many + o, cap - o, "]}");
    expect_error(many, SP_ETOOBIG, "more than 200");
    free(many);
    nlp_taxonomy_t *t;
    assert_int_equal(nlp_taxonomy_from_json(NULL, 0, &t, NULL, 0), SP_EINVAL);
    assert_int_equal(nlp_taxonomy_from_json("{}", 2, NULL, NULL, 0), SP_EINVAL);
}

static void test_empty_replace(void **state)
{
    nlp_taxonomy_t *t = load_ok("{\"mode\":\"replace\",\"categories\":[]}");
    assert_int_equal(nlp_taxonomy_size(t), 0);
    assert_int_equal(match(t, "en", "refund my invoice").n, 0);
    char *js = nlp_taxonomy_to_json(t);
    assert_string_equal(js, "{\"categories\":[],\"mode\":\"replace\"}");
    free(js);
    nlp_taxonomy_destroy(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default),
        cmocka_unit_test(test_match_languages),
        cmocka_unit_test(test_scores_and_limits),
        cmocka_unit_test(test_language_filter),
        cmocka_unit_test(test_tenant_extend),
        cmocka_unit_test(test_tenant_replace_and_patterns),
        cmocka_unit_test(test_json_roundtrip),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_empty_replace),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
