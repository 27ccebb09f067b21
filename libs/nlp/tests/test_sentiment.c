/* Unit tests for sentiment.c: polarity in English, Portuguese and Spanish;
 * negation ("not good", "não gostei", "no me gustó") and its scope;
 * intensifiers and dampeners; contrast ("but", "mas", "pero"); emphasis by
 * "!", "??", CAPITALS, shouting and elongation; emoji and emoticons;
 * accent-insensitive matching; neutral texts and placeholders; bounds;
 * invalid UTF-8; labels and the weighted accumulator; and that every
 * built-in lexicon entry compiles. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../src/lexicon.h"
#include "../src/phraseset.h"
#include "nlp/sentiment.h"
#include "platform/error.h"

static double score(const char *lang, const char *text)
{
    nlp_sentiment_t s;
    assert_int_equal(nlp_sentiment_score(text, strlen(text), lang, &s), 0);
    assert_true(s.score >= -1.0 && s.score <= 1.0);
    return s.score;
}

static unsigned items(const char *lang, const char *text)
{
    nlp_sentiment_t s;
    assert_int_equal(nlp_sentiment_score(text, strlen(text), lang, &s), 0);
    return s.items;
}

static void test_polarity(void **state)
{
    assert_true(score("en", "The agent was great") > 0.5);
    assert_true(score("en", "This is terrible service") < -0.5);
    assert_true(score("pt", "O atendimento foi ótimo") > 0.5);
    assert_true(score("pt", "Péssimo atendimento") < -0.5);
    assert_true(score("es", "El servicio fue excelente") > 0.5);
    assert_true(score("es", "Una experiencia horrible") < -0.5);
    assert_true(score("en", "it doesn't work") < 0);
    assert_true(score("pt", "o aplicativo não funciona") < 0);
    assert_true(score("es", "la app no funciona") < 0);
    assert_true(score("en", "I was charged twice") < 0);
    assert_true(score("pt", "fui cobrado duas vezes") < 0);
    /* One strong word gives a moderate score; several push towards 1. */
    assert_true(score("en", "great") < score("en", "great, amazing, excellent, perfect"));
}

static void test_negation(void **state)
{
    assert_true(score("en", "good") > 0);
    assert_true(score("en", "not good") < 0);
    assert_true(score("en", "bad") < 0);
    assert_true(score("en", "not bad") > 0);
    assert_true(score("en", "the app isn't great") < 0);
    assert_true(score("en", "I don't like it") < 0);
    assert_true(score("en", "never helpful") < 0);
    assert_true(score("pt", "gostei") > 0);
    assert_true(score("pt", "não gostei") < 0);
    assert_true(score("pt", "nao gostei") < 0);
    assert_true(score("pt", "não foi ruim") > 0);
    assert_true(score("pt", "nunca é rápido") < 0);
    assert_true(score("es", "me gustó") > 0);
    assert_true(score("es", "no me gustó") < 0);
    assert_true(score("es", "no es malo") > 0);
    /* Negation is damped, not a mirror. */
    assert_true(-score("en", "not good") < score("en", "good"));
    /* Scope: punctuation ends it, and it reaches three words back only. */
    assert_true(score("en", "No, it was great") > 0.5);
    assert_true(score("en", "not that it was really very good") > 0);
    assert_true(score("pt", "Não, foi ótimo") > 0.5);
}

static void test_intensifiers(void **state)
{
    assert_true(score("en", "very good") > score("en", "good"));
    assert_true(score("en", "extremely bad") < score("en", "bad"));
    assert_true(score("en", "extremely good") > score("en", "very good"));
    assert_true(score("en", "a bit slow") > score("en", "slow")); /* dampened, less negative */
    assert_true(score("en", "a bit slow") < 0);
    assert_true(score("pt", "muito bom") > score("pt", "bom"));
    assert_true(score("pt", "super lento") < score("pt", "lento"));
    assert_true(score("pt", "um pouco lento") > score("pt", "lento"));
    assert_true(score("es", "muy bueno") > score("es", "bueno"));
    assert_true(score("es", "muy malo") < score("es", "malo"));
    /* A booster with a negator: "not very good" is still negative. */
    assert_true(score("en", "not very good") < 0);
}

static void test_contrast(void **state)
{
    assert_true(score("en", "The food was good but the service was terrible") < 0);
    assert_true(score("en", "The delivery was terrible but the agent was great") > 0);
    assert_true(score("pt", "o produto é bom mas a entrega foi péssima") < 0);
    assert_true(score("pt", "a entrega atrasou, mas o atendimento foi excelente") > 0);
    assert_true(score("pt", "O preço é bom, porém a qualidade é ruim") < 0);
    assert_true(score("es", "el producto es bueno pero la entrega fue pésima") < 0);
    assert_true(score("es", "la entrega fue lenta, pero el agente fue amable") > 0);
    /* The clause after "but" weighs more than it would alone. */
    assert_true(score("en", "it was ok but terrible") < score("en", "it was ok, terrible"));
}

static void test_emphasis(void **state)
{
    assert_true(score("en", "good!!!") > score("en", "good"));
    assert_true(score("en", "bad!!!") < score("en", "bad"));
    assert_true(score("en", "good!!!!!!!!") == score("en", "good!!!!")); /* capped at 4 */
    assert_true(score("en", "why is this so slow??") < score("en", "why is this so slow"));
    assert_true(score("en", "The service was GOOD") > score("en", "The service was good"));
    assert_true(score("en", "the service was BAD") < score("en", "the service was bad"));
    assert_true(score("en", "THIS IS TERRIBLE") < score("en", "this is terrible"));
    assert_true(score("pt", "Atendimento PÉSSIMO") < score("pt", "Atendimento péssimo"));
    assert_true(score("en", "sooo goooood") > 0);
    assert_true(score("en", "sooo goooood") > score("en", "good"));
    assert_true(score("pt", "ótimooooo") > score("pt", "ótimo"));
}

static void test_emoji(void **state)
{
    assert_true(score("en", "\xf0\x9f\x98\xa1") < -0.5);                /* 😡 */
    assert_true(score("en", "\xf0\x9f\x91\x8d") > 0.3);                 /* 👍 */
    assert_true(score("en", "\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd") > 0.3); /* 👍🏽 */
    assert_true(score("en", "\xe2\x9d\xa4\xef\xb8\x8f") > 0.5);         /* ❤️ */
    assert_true(score("pt", "obrigado \xf0\x9f\x98\x8a") > score("pt", "obrigado"));
    assert_true(score("en", "thanks :)") > score("en", "thanks"));
    assert_true(score("en", "ok :(") < 0);
    assert_true(score("en", "<3") > 0);
    assert_true(score("en", "\xf0\x9f\x98\xa1\xf0\x9f\x98\xa1\xf0\x9f\x98\xa1") <
                score("en", "\xf0\x9f\x98\xa1"));
    /* Emoji are not negated; URLs are not emoticons. */
    assert_true(score("en", "not \xf0\x9f\x91\x8d") > 0);
    assert_int_equal(items("en", "see http://example.com/a"), 0);
}

static void test_accents_and_languages(void **state)
{
    assert_true(score("pt", "pessimo") == score("pt", "péssimo"));
    assert_true(score("es", "decepcion") == score("es", "decepción"));
    /* Without a language every lexicon is used. */
    assert_true(score(NULL, "ótimo") > 0.5);
    assert_true(score("und", "great") > 0.5);
    assert_true(score("fr", "horrible") < 0);
    /* A language's data is not used for another: "mas" is only
     * Portuguese "but". */
    assert_true(score("en", "ótimo") == 0);
}

static void test_neutral(void **state)
{
    assert_int_equal(items("en", "I would like to change my address"), 0);
    assert_true(score("en", "I would like to change my address") == 0);
    assert_int_equal(items("pt", "Bom dia, tudo bem?"), 0);
    assert_int_equal(items("es", "Buenos días"), 0);
    assert_int_equal(items("en", "Good morning"), 0);
    assert_int_equal(items("en", "[EMAIL] [PHONE] 12345"), 0);
    assert_int_equal(items("en", ""), 0);
    nlp_sentiment_t s;
    assert_int_equal(nlp_sentiment_score(NULL, 0, "en", &s), 0);
    assert_int_equal(s.items, 0);
    assert_int_equal(nlp_sentiment_score(NULL, 3, "en", &s), SP_EINVAL);
    assert_int_equal(nlp_sentiment_score("x", 1, "en", NULL), SP_EINVAL);
}

static void test_bounds_and_parts(void **state)
{
    char buf[4000] = "";
    for (int i = 0; i < 300; i++)
        strcat(buf, "AMAZING!!! ");
    assert_true(score("en", buf) <= 1.0);
    assert_true(score("en", buf) > 0.99);
    buf[0] = '\0';
    for (int i = 0; i < 300; i++)
        strcat(buf, "worst ");
    assert_true(score("en", buf) >= -1.0);
    assert_true(score("en", buf) < -0.99);
    nlp_sentiment_t s;
    const char *t = "great product, terrible delivery";
    assert_int_equal(nlp_sentiment_score(t, strlen(t), "en", &s), 0);
    assert_int_equal(s.items, 2);
    assert_true(s.pos > 0 && s.neg > 0);
    /* Scores are rounded to 4 decimals. */
    assert_true(s.score * 1e4 == (double)(long)(s.score * 1e4));
}

static void test_invalid_utf8(void **state)
{
    const char t[] = "\xff\xfe great \xc3\x28 p\xc3\xa9ssimo \xed\xa0\x80";
    nlp_sentiment_t s;
    assert_int_equal(nlp_sentiment_score(t, sizeof(t) - 1, "pt", &s), 0);
    assert_int_equal(s.items, 1); /* "péssimo"; "great" is English */
    srand(3);
    char buf[300];
    for (int r = 0; r < 300; r++) {
        for (size_t i = 0; i < sizeof(buf); i++)
            buf[i] = (char)(rand() & 0xFF);
        assert_int_equal(nlp_sentiment_score(buf, sizeof(buf), NULL, &s), 0);
        assert_true(s.score >= -1 && s.score <= 1);
    }
}

static void test_labels_and_acc(void **state)
{
    assert_string_equal(nlp_sentiment_label(0.05), "positive");
    assert_string_equal(nlp_sentiment_label(0.0499), "neutral");
    assert_string_equal(nlp_sentiment_label(-0.05), "negative");
    assert_string_equal(nlp_sentiment_label(0), "neutral");
    nlp_sentiment_acc_t acc = {0};
    assert_true(nlp_sentiment_acc_mean(&acc) == 0);
    nlp_sentiment_t a = {.score = 0.6, .items = 1}, b = {.score = -0.3, .items = 2},
                    none = {.score = 0, .items = 0};
    nlp_sentiment_acc_add(&acc, &a, 1.0);
    nlp_sentiment_acc_add(&acc, &b, 0.5);
    nlp_sentiment_acc_add(&acc, &none, 1.0); /* ignored */
    nlp_sentiment_acc_add(&acc, &a, 0.0);    /* ignored */
    assert_int_equal(acc.count, 2);
    /* (0.6 * 1 - 0.3 * 0.5) / 1.5 = 0.3 */
    assert_true(nlp_sentiment_acc_mean(&acc) == 0.3);
}

static void test_lexicon_builds(void **state)
{
    const ps_set_t *lex = sentiment_lexicon();
    assert_non_null(lex);
    assert_int_equal(ps_count(lex), nlp_lex_en_len + nlp_lex_pt_len + nlp_lex_es_len);
    assert_true(nlp_lex_en_len > 300);
    assert_true(nlp_lex_pt_len > 250);
    assert_true(nlp_lex_es_len > 180);
    for (size_t i = 0; i < nlp_lex_en_len; i++)
        assert_true(nlp_lex_en[i].value >= -4 && nlp_lex_en[i].value <= 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_polarity),
        cmocka_unit_test(test_negation),
        cmocka_unit_test(test_intensifiers),
        cmocka_unit_test(test_contrast),
        cmocka_unit_test(test_emphasis),
        cmocka_unit_test(test_emoji),
        cmocka_unit_test(test_accents_and_languages),
        cmocka_unit_test(test_neutral),
        cmocka_unit_test(test_bounds_and_parts),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_labels_and_acc),
        cmocka_unit_test(test_lexicon_builds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
