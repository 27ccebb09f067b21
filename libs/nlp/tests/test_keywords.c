/* Unit tests for keywords.c: RAKE phrases in English, Portuguese and
 * Spanish with exact scores on small fixtures, stopwords/fillers/numbers/
 * placeholders/emoji breaking phrases, sentiment words and short words not
 * standing alone, merging across case and accents, text weights, top-N,
 * deterministic tie order, the 3-word cap, and bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "nlp/keywords.h"
#include "platform/error.h"

typedef struct {
    nlp_keyword_t k[16];
    size_t n;
} kw_t;

static kw_t extract(const char *lang, const char *const *texts, size_t n, size_t top)
{
    nlp_text_t t[8];
    for (size_t i = 0; i < n; i++)
        t[i] = (nlp_text_t){texts[i], 0, 1.0};
    kw_t r;
    assert_int_equal(nlp_keywords_extract(t, n, lang, top, r.k, &r.n), 0);
    return r;
}

static const nlp_keyword_t *find(const kw_t *r, const char *phrase)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->k[i].phrase, phrase) == 0)
            return &r->k[i];
    return NULL;
}

static void test_english(void **state)
{
    const char *t[] = {"My internet connection keeps dropping every evening.",
                       "The internet connection is so slow, I called support three times.",
                       "Can you send a technician? The router lights are blinking red."};
    kw_t r = extract("en", t, 3, 10);
    assert_true(r.n >= 3);
    /* "internet connection": words of degree 2, frequency 1 each... seen
     * twice: (2/1 + 2/1)... degree and frequency both double -> 2 + 2 = 4,
     * times count 2 = 8. */
    assert_string_equal(r.k[0].phrase, "internet connection");
    assert_true(r.k[0].score == 8.0);
    assert_true(r.k[0].count == 2.0);
    assert_non_null(find(&r, "router lights"));
    assert_non_null(find(&r, "blinking red"));
    assert_null(find(&r, "the"));
    assert_null(find(&r, "slow")); /* a sentiment word alone is not a key phrase */
}

static void test_portuguese_spanish(void **state)
{
    const char *pt[] = {"A minha fatura veio com uma cobrança indevida de novo.",
                        "Quero a segunda via da fatura e o estorno da Cobranca Indevida."};
    kw_t r = extract("pt", pt, 2, 10);
    assert_string_equal(r.k[0].phrase, "cobrança indevida"); /* merged, shown as first seen */
    assert_true(r.k[0].count == 2.0);
    assert_non_null(find(&r, "segunda via"));
    assert_non_null(find(&r, "fatura"));
    const char *es[] = {"El paquete llegó dañado y la caja estaba abierta."};
    r = extract("es", es, 1, 10);
    assert_string_equal(r.k[0].phrase, "paquete llegó dañado");
    assert_true(r.k[0].score == 9.0); /* three words of degree 3 */
    assert_non_null(find(&r, "caja"));
}

static void test_breaks(void **state)
{
    const char *t[] = {"router 12345 modem [PHONE] cable \xf0\x9f\x98\xa1 fiber, box"};
    kw_t r = extract("en", t, 1, 10);
    assert_int_equal(r.n, 5);
    for (size_t i = 0; i < r.n; i++) {
        assert_null(strchr(r.k[i].phrase, ' ')); /* every word stands alone */
        assert_true(r.k[i].score == 1.0);
    }
    /* Ties: count, then bytes. */
    assert_string_equal(r.k[0].phrase, "box");
    assert_string_equal(r.k[4].phrase, "router");
    /* Runs longer than three words are cut. */
    const char *l[] = {"premium fiber router firmware upgrade package"};
    r = extract("en", l, 1, 10);
    assert_int_equal(r.n, 2);
    assert_non_null(find(&r, "premium fiber router"));
    assert_non_null(find(&r, "firmware upgrade package"));
    /* Words under three letters do not stand alone; "terrible service" is a
     * phrase though "terrible" alone would not be. */
    const char *s[] = {"tv ok. terrible service"};
    r = extract("en", s, 1, 10);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.k[0].phrase, "terrible service");
}

static void test_weights_and_top(void **state)
{
    nlp_text_t t[3] = {
        {"refund request", 0, 1.0}, {"refund request", 0, 0.5}, {"loyalty discount", 0, 0.0}};
    nlp_keyword_t k[4];
    size_t n;
    assert_int_equal(nlp_keywords_extract(t, 3, "en", 4, k, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(k[0].phrase, "refund request");
    assert_true(k[0].count == 1.5);
    assert_true(k[0].score == 6.0);
    const char *many[] = {"alpha, bravo, charlie, delta, echo, foxtrot"};
    kw_t r = extract("en", many, 1, 3);
    assert_int_equal(r.n, 3);
    assert_string_equal(r.k[0].phrase, "alpha");
    r = extract("en", many, 1, 0);
    assert_int_equal(r.n, 0);
}

static void test_deterministic_and_bad_input(void **state)
{
    const char *t[] = {"Cobrança duplicada na fatura; fatura errada; cobranca duplicada!"};
    kw_t a = extract(NULL, t, 1, 10), b = extract(NULL, t, 1, 10);
    assert_int_equal(a.n, b.n);
    for (size_t i = 0; i < a.n; i++) {
        assert_string_equal(a.k[i].phrase, b.k[i].phrase);
        assert_true(a.k[i].score == b.k[i].score);
    }
    assert_string_equal(a.k[0].phrase, "cobrança duplicada");
    kw_t r = extract("en", NULL, 0, 5);
    assert_int_equal(r.n, 0);
    const char *bad[] = {"\xff\xfe router \xc3\x28 modem \xed\xa0\x80 cable"};
    r = extract("en", bad, 1, 5);
    assert_int_equal(r.n, 2); /* a bad byte separates words like a space; "(" breaks */
    assert_non_null(find(&r, "router"));
    assert_non_null(find(&r, "modem cable"));
    nlp_keyword_t k[1];
    size_t n;
    assert_int_equal(nlp_keywords_extract(NULL, 1, "en", 1, k, &n), SP_EINVAL);
    assert_int_equal(nlp_keywords_extract(NULL, 0, "en", 1, NULL, &n), SP_EINVAL);
    assert_int_equal(nlp_keywords_extract(NULL, 0, "en", 0, NULL, NULL), SP_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_english),
        cmocka_unit_test(test_portuguese_spanish),
        cmocka_unit_test(test_breaks),
        cmocka_unit_test(test_weights_and_top),
        cmocka_unit_test(test_deterministic_and_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
