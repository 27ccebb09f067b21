/* Unit tests for outcome.c: escalation requests in English, Portuguese and
 * Spanish (also offered by the agent) and their negation; resolution
 * statements, their negation, questions that are not statements, and the
 * last statement winning; churn-risk language from the customer only, with
 * negation scope stopping at punctuation; NPS classes, CSAT satisfaction
 * and survey value validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "nlp/outcome.h"
#include "platform/error.h"

static nlp_outcome_t scan1(const char *lang, nlp_speaker_t who, const char *text)
{
    nlp_outcome_t o;
    nlp_outcome_init(&o);
    assert_int_equal(nlp_outcome_scan(&o, text, strlen(text), who, lang), 0);
    return o;
}

#define CUST  NLP_SPEAKER_CUSTOMER
#define AGENT NLP_SPEAKER_AGENT

static void test_escalation(void **state)
{
    const char *yes_en[] = {"I want to speak to a manager", "Let me talk to your supervisor now",
                            "Can I speak with the store manager?", "please escalate this",
                            "get me a supervisor"};
    for (size_t i = 0; i < sizeof(yes_en) / sizeof(yes_en[0]); i++)
        assert_true(scan1("en", CUST, yes_en[i]).escalation_requested);
    assert_true(scan1("pt", CUST, "Quero falar com o supervisor").escalation_requested);
    assert_true(scan1("pt", CUST, "quero o gerente agora").escalation_requested);
    assert_true(scan1("pt", CUST, "vou abrir reclamação na ouvidoria").escalation_requested);
    assert_true(scan1("es", CUST, "Quiero hablar con un supervisor").escalation_requested);
    assert_true(scan1("en", AGENT, "Let me transfer you to my supervisor").escalation_requested);
    assert_true(scan1(NULL, CUST, "falar com a supervisora").escalation_requested);
    /* Negated, or not an escalation. */
    assert_false(scan1("en", CUST, "I don't need to speak to a manager").escalation_requested);
    assert_false(scan1("pt", CUST, "não quero falar com o gerente").escalation_requested);
    assert_false(scan1("en", CUST, "my account manager called").escalation_requested);
    assert_false(scan1("en", CUST, "speak to you later").escalation_requested);
}

static void test_resolution(void **state)
{
    nlp_outcome_t o = scan1("en", CUST, "Great, that fixed it!");
    assert_true(o.resolved);
    assert_false(o.unresolved);
    assert_true(scan1("en", CUST, "it works now, thanks").resolved);
    assert_true(scan1("pt", CUST, "Pronto, resolvido").resolved);
    assert_true(scan1("pt", CUST, "deu certo, obrigado").resolved);
    assert_true(scan1("es", CUST, "ya funciona, gracias").resolved);
    o = scan1("en", CUST, "it's not resolved");
    assert_false(o.resolved);
    assert_true(o.unresolved);
    assert_true(scan1("pt", CUST, "não resolveu nada").unresolved);
    assert_true(scan1("en", CUST, "it's still not working").unresolved);
    assert_true(scan1("pt", CUST, "continua sem funcionar").unresolved);
    assert_true(scan1("es", CUST, "sigue sin funcionar").unresolved);
    /* A question is not a statement. */
    o = scan1("en", AGENT, "Did that fix it? Is it resolved?");
    assert_false(o.resolved);
    assert_false(o.unresolved);
    assert_true(scan1("en", AGENT, "Is it resolved? Great, it's resolved.").resolved);
}

static void test_last_statement_wins(void **state)
{
    nlp_outcome_t o;
    nlp_outcome_init(&o);
    const char *a = "it's still not working", *b = "ok now it works now, fixed";
    assert_int_equal(nlp_outcome_scan(&o, a, strlen(a), CUST, "en"), 0);
    assert_true(o.unresolved);
    assert_int_equal(nlp_outcome_scan(&o, b, strlen(b), CUST, "en"), 0);
    assert_true(o.resolved);
    assert_false(o.unresolved);
    assert_int_equal(o.unresolved_hits, 1);
    assert_true(o.resolved_hits >= 1);
    const char *c = "hmm, the same problem again";
    assert_int_equal(nlp_outcome_scan(&o, c, strlen(c), CUST, "en"), 0);
    assert_false(o.resolved);
    assert_true(o.unresolved);
}

static void test_churn(void **state)
{
    assert_true(scan1("en", CUST, "I want to cancel my subscription").churn_risk);
    assert_true(scan1("en", CUST, "I'm switching to a competitor").churn_risk);
    assert_true(scan1("en", CUST, "I won't renew next year").churn_risk);
    assert_true(scan1("pt", CUST, "Vou cancelar essa porcaria").churn_risk);
    assert_true(scan1("pt", CUST, "quero fazer a portabilidade").churn_risk);
    assert_true(scan1("pt", CUST, "vou trocar de operadora").churn_risk);
    assert_true(scan1("es", CUST, "quiero darme de baja").churn_risk);
    assert_true(scan1("es", CUST, "Voy a cancelar el servicio").churn_risk);
    assert_true(scan1("en", NLP_SPEAKER_OTHER, "Cancel my account.").churn_risk);
    /* Negation, its scope, and the agent. */
    assert_false(scan1("en", CUST, "I don't want to cancel my subscription").churn_risk);
    assert_false(scan1("pt", CUST, "não quero cancelar").churn_risk);
    assert_true(scan1("en", CUST, "No, I want to cancel my plan").churn_risk);
    assert_false(scan1("en", AGENT, "You can cancel your subscription online").churn_risk);
    assert_false(scan1("en", CUST, "What does the plan cost?").churn_risk);
    nlp_outcome_t o = scan1("en", CUST, "cancel my plan, cancel my account");
    assert_int_equal(o.churn_hits, 2);
}

static void test_languages_and_bad_input(void **state)
{
    /* A Portuguese phrase is not looked for in an English text. */
    assert_false(scan1("en", CUST, "vou cancelar").churn_risk);
    assert_true(scan1("und", CUST, "vou cancelar").churn_risk);
    nlp_outcome_t o;
    nlp_outcome_init(&o);
    const char bad[] = "\xff quero \xc3\x28 falar com o \xed\xa0\x80 gerente";
    assert_int_equal(nlp_outcome_scan(&o, bad, sizeof(bad) - 1, CUST, "pt"), 0);
    assert_int_equal(nlp_outcome_scan(&o, NULL, 0, CUST, "pt"), 0);
    assert_int_equal(nlp_outcome_scan(&o, NULL, 1, CUST, "pt"), SP_EINVAL);
    assert_int_equal(nlp_outcome_scan(NULL, "x", 1, CUST, "pt"), SP_EINVAL);
    assert_int_equal(nlp_outcome_scan(&o, "x", 1, (nlp_speaker_t)9, "pt"), SP_EINVAL);
}

static void test_nps_csat(void **state)
{
    assert_int_equal(nlp_nps_classify(-1), NLP_NPS_NONE);
    assert_int_equal(nlp_nps_classify(0), NLP_NPS_DETRACTOR);
    assert_int_equal(nlp_nps_classify(6), NLP_NPS_DETRACTOR);
    assert_int_equal(nlp_nps_classify(7), NLP_NPS_PASSIVE);
    assert_int_equal(nlp_nps_classify(8), NLP_NPS_PASSIVE);
    assert_int_equal(nlp_nps_classify(9), NLP_NPS_PROMOTER);
    assert_int_equal(nlp_nps_classify(10), NLP_NPS_PROMOTER);
    assert_int_equal(nlp_nps_classify(11), NLP_NPS_NONE);
    assert_string_equal(nlp_nps_class_name(NLP_NPS_PROMOTER), "promoter");
    assert_string_equal(nlp_nps_class_name(NLP_NPS_NONE), "none");
    assert_int_equal(nlp_csat_satisfied(5), 1);
    assert_int_equal(nlp_csat_satisfied(4), 1);
    assert_int_equal(nlp_csat_satisfied(3), 0);
    assert_int_equal(nlp_csat_satisfied(1), 0);
    assert_int_equal(nlp_csat_satisfied(0), -1);
    assert_int_equal(nlp_csat_satisfied(6), -1);
}

static void test_survey_values(void **state)
{
    nlp_outcome_t o;
    nlp_outcome_init(&o);
    assert_int_equal(o.csat, -1);
    assert_int_equal(o.nps, -1);
    assert_int_equal(o.nps_class, NLP_NPS_NONE);
    assert_int_equal(nlp_outcome_set_survey(&o, 4, 0, 5), 0);
    assert_int_equal(o.csat, 4);
    assert_int_equal(o.nps, 0); /* 0 is a real answer */
    assert_int_equal(o.nps_class, NLP_NPS_DETRACTOR);
    assert_int_equal(o.rating, 5);
    assert_int_equal(nlp_outcome_set_survey(&o, 9, 10, -1), SP_EINVAL);
    assert_int_equal(o.csat, -1);
    assert_int_equal(o.nps, 10);
    assert_int_equal(o.nps_class, NLP_NPS_PROMOTER);
    assert_int_equal(o.rating, -1);
    assert_int_equal(nlp_outcome_set_survey(&o, -1, -1, -1), 0);
    assert_int_equal(nlp_outcome_set_survey(NULL, 1, 1, 1), SP_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escalation),
        cmocka_unit_test(test_resolution),
        cmocka_unit_test(test_last_statement_wins),
        cmocka_unit_test(test_churn),
        cmocka_unit_test(test_languages_and_bad_input),
        cmocka_unit_test(test_nps_csat),
        cmocka_unit_test(test_survey_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
