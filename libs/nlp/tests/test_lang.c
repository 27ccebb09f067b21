/* Unit tests for lang.c: English, Portuguese and Spanish on long and short
 * samples (with and without accents), French and German, "und" for texts
 * too short or ambiguous, confidence growing with evidence, invalid UTF-8,
 * and the normalisation of client language tags. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "nlp/lang.h"
#include "platform/error.h"

static nlp_lang_result_t detect(const char *text)
{
    nlp_lang_result_t r;
    assert_int_equal(nlp_lang_detect(text, strlen(text), &r), 0);
    assert_true(r.confidence >= 0 && r.confidence <= 1);
    return r;
}

static void expect_lang(const char *text, const char *code)
{
    nlp_lang_result_t r = detect(text);
    if (strcmp(r.code, code) != 0)
        print_message("text: %s -> %s (%.3f), want %s\n", text, r.code, r.confidence, code);
    assert_string_equal(r.code, code);
}

static void test_long_samples(void **state)
{
    const char *en = "Hello, I have been a customer for five years and this is the first time "
                     "I have had to call. My internet has been down since yesterday and nobody "
                     "from your team has called me back. Can you please tell me what is going "
                     "on with my account?";
    const char *pt = "Olá, sou cliente há cinco anos e esta é a primeira vez que preciso ligar. "
                     "A minha internet está sem funcionar desde ontem e ninguém da equipe me "
                     "retornou. Você pode me dizer o que está acontecendo com a minha conta?";
    const char *es = "Hola, soy cliente desde hace cinco años y es la primera vez que tengo que "
                     "llamar. Mi internet no funciona desde ayer y nadie del equipo me ha "
                     "devuelto la llamada. ¿Me puede decir qué está pasando con mi cuenta?";
    nlp_lang_result_t r = detect(en);
    assert_string_equal(r.code, "en");
    assert_true(r.confidence > 0.8);
    r = detect(pt);
    assert_string_equal(r.code, "pt");
    assert_true(r.confidence > 0.6);
    r = detect(es);
    assert_string_equal(r.code, "es");
    assert_true(r.confidence > 0.6);
}

static void test_short_samples(void **state)
{
    expect_lang("Hello, I want to cancel my subscription", "en");
    expect_lang("Olá, quero cancelar minha assinatura", "pt");
    expect_lang("Hola, quiero cancelar mi suscripción", "es");
    expect_lang("não funciona", "pt");
    expect_lang("nao consigo acessar minha conta", "pt");
    expect_lang("Bom dia, tenho um problema com a minha fatura", "pt");
    expect_lang("Buenos días, tengo un problema con mi factura", "es");
    expect_lang("¿Dónde está mi pedido?", "es");
    expect_lang("the app keeps crashing", "en");
    expect_lang("Je voudrais annuler mon abonnement, merci", "fr");
    expect_lang("Ich habe ein Problem mit meiner Rechnung und bin sehr unzufrieden", "de");
}

static void test_undetermined(void **state)
{
    const char *und[] = {"",
                         "ok",
                         "12345 67890",
                         "[EMAIL]",
                         "obrigado!",
                         "de que",
                         "\xf0\x9f\x91\x8d",
                         "iPhone 15 Pro Max 256GB",
                         "\xe4\xbd\xa0\xe5\xa5\xbd\xe4\xb8\x96\xe7\x95\x8c"};
    for (size_t i = 0; i < sizeof(und) / sizeof(und[0]); i++) {
        nlp_lang_result_t r = detect(und[i]);
        if (strcmp(r.code, "und") != 0)
            print_message("text: %s -> %s\n", und[i], r.code);
        assert_string_equal(r.code, "und");
        assert_true(r.confidence == 0);
    }
    expect_lang("muito obrigado", "pt");
}

static void test_confidence_grows(void **state)
{
    nlp_lang_result_t a = detect("I want to cancel");
    nlp_lang_result_t b = detect("I want to cancel my plan because the service is not what you "
                                 "promised and I have been waiting for a week");
    assert_string_equal(a.code, "en");
    assert_string_equal(b.code, "en");
    assert_true(b.confidence > a.confidence);
}

static void test_invalid_input(void **state)
{
    nlp_lang_result_t r;
    const char bad[] = "\xff\xfe n\xc3\xa3o \xc3\x28 est\xc3\xa1 funcionando \xed\xa0\x80";
    assert_int_equal(nlp_lang_detect(bad, sizeof(bad) - 1, &r), 0);
    assert_string_equal(r.code, "pt");
    assert_int_equal(nlp_lang_detect(NULL, 0, &r), 0);
    assert_string_equal(r.code, "und");
    assert_int_equal(nlp_lang_detect(NULL, 4, &r), SP_EINVAL);
    assert_int_equal(nlp_lang_detect("abc", 3, NULL), SP_EINVAL);
    srand(11);
    char buf[1000];
    for (int k = 0; k < 100; k++) {
        for (size_t i = 0; i < sizeof(buf); i++)
            buf[i] = (char)(rand() & 0xFF);
        assert_int_equal(nlp_lang_detect(buf, sizeof(buf), &r), 0);
    }
}

static void test_normalize(void **state)
{
    char out[NLP_LANG_MAX];
    assert_int_equal(nlp_lang_normalize("pt-BR", out), 0);
    assert_string_equal(out, "pt");
    assert_int_equal(nlp_lang_normalize("EN_us", out), 0);
    assert_string_equal(out, "en");
    assert_int_equal(nlp_lang_normalize("es", out), 0);
    assert_string_equal(out, "es");
    assert_int_equal(nlp_lang_normalize("zh-Hant-TW", out), 0);
    assert_string_equal(out, "zh");
    assert_int_equal(nlp_lang_normalize("tlh", out), 0);
    assert_string_equal(out, "tlh");
    const char *bad[] = {"", "p", "portuguese", "p1", "pt-", "pt-B R", "12"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(nlp_lang_normalize(bad[i], out), SP_EINVAL);
        assert_string_equal(out, "und");
    }
    assert_int_equal(nlp_lang_normalize(NULL, out), SP_EINVAL);
    assert_true(nlp_lang_has_lexicon("pt-BR"));
    assert_true(nlp_lang_has_lexicon("es"));
    assert_false(nlp_lang_has_lexicon("fr"));
    assert_false(nlp_lang_has_lexicon("und"));
    assert_false(nlp_lang_has_lexicon(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_long_samples),  cmocka_unit_test(test_short_samples),
        cmocka_unit_test(test_undetermined),  cmocka_unit_test(test_confidence_grows),
        cmocka_unit_test(test_invalid_input), cmocka_unit_test(test_normalize),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
