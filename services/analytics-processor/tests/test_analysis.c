/*
 * test_analysis.c — an Interaction through libnlp into the stored record
 * (analysis.h): redaction reaches every stored text, the subject is
 * analysed but not stored as an utterance, survey and call metrics map onto
 * the columns, the language hint wins over detection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../src/analysis.h"
#include "platform/log.h"

#define CARD  "4111 1111 1111 1111"
#define EMAIL "maria.silva@example.com"

typedef struct {
    Serphona__Interactions__V1__Interaction ix;
    Serphona__Interactions__V1__Utterance u[4];
    Serphona__Interactions__V1__Utterance *up[4];
    Serphona__Interactions__V1__Survey survey;
    char *tags[2];
} fixture_t;

static void utt(fixture_t *f, size_t i, const char *speaker, int64_t a, int64_t b, const char *text)
{
    serphona__interactions__v1__utterance__init(&f->u[i]);
    f->u[i].speaker = (char *)speaker;
    f->u[i].start_ms = a;
    f->u[i].end_ms = b;
    f->u[i].text = (char *)text;
    f->up[i] = &f->u[i];
}

/* The call of the integration fixture (tests/integration/test_processor.py). */
static void call_fixture(fixture_t *f)
{
    memset(f, 0, sizeof *f);
    serphona__interactions__v1__interaction__init(&f->ix);
    f->ix.interaction_id = "0190A0B0-0000-7000-8000-00000000000A";
    f->ix.tenant_id = "11111111-1111-4111-8111-11111111111B";
    f->ix.external_id = "call-1";
    f->ix.channel = "call";
    f->ix.occurred_at_unix_ms = 1763632860000;
    f->ix.agent_id = "agent-1";
    f->ix.agent_name = "Ana";
    f->ix.customer_ref = "cust " EMAIL;
    f->tags[0] = "vip";
    f->tags[1] = "card " CARD;
    f->ix.tags = f->tags;
    f->ix.n_tags = 2;
    utt(f, 0, "customer", 0, 4000, "My card " CARD " was charged twice, this is terrible.");
    utt(f, 1, "agent", 5000, 9000, "I am sorry, I will refund the charge right now.");
    utt(f, 2, "customer", 12000, 15000, "Thank you so much, that is great!");
    utt(f, 3, "system", 14500, 17000, "You are welcome, the refund is done.");
    f->ix.utterances = f->up;
    f->ix.n_utterances = 4;
}

static int contains(const char *s, const char *needle)
{
    return s && strstr(s, needle) != NULL;
}

/* No stored string of rec holds needle. */
static void assert_nowhere(const ap_record_t *r, const char *needle)
{
    assert_false(contains(r->text, needle));
    assert_false(contains(r->customer_ref, needle));
    for (size_t i = 0; i < r->n_tags; i++)
        assert_false(contains(r->tags[i], needle));
    for (size_t i = 0; i < r->n_keywords; i++)
        assert_false(contains(r->keywords[i], needle));
    for (size_t i = 0; i < r->n_utterances; i++)
        assert_false(contains(r->utterances[i].text, needle));
}

static void test_call(void **state)
{
    fixture_t f;
    ap_record_t r;
    sp_arena_t *arena = sp_arena_new();
    (void)state;

    call_fixture(&f);
    assert_int_equal(ap_analyse(&f.ix, NULL, 1763800000000, arena, &r), 0);
    assert_string_equal(r.tenant_id, "11111111-1111-4111-8111-11111111111b");
    assert_string_equal(r.interaction_id, "0190a0b0-0000-7000-8000-00000000000a");
    assert_int_equal(r.analyzed_at_ms, 1763800000000);
    assert_string_equal(r.language, "en");
    /* Redaction: the card twice (utterance, tag), the e-mail once. */
    assert_nowhere(&r, CARD);
    assert_nowhere(&r, "4111111111111111");
    assert_nowhere(&r, EMAIL);
    assert_true(contains(r.utterances[0].text, "[CARD]"));
    assert_string_equal(r.tags[1], "card [CARD]");
    assert_string_equal(r.customer_ref, "cust [EMAIL]");
    assert_int_equal(r.pii_redactions, 3);
    /* Call metrics: 0..17 s; gaps 1 s and 3 s (only the second is silence);
     * 0.5 s of overtalk between the customer and the system (agent side). */
    assert_int_equal(r.duration_ms, 17000);
    assert_int_equal(r.longest_silence_ms, 3000);
    assert_int_equal(r.overtalk_ms, 500);
    assert_int_equal(r.talk_customer_ms, 7000);
    assert_int_equal(r.talk_agent_ms, 6500);
    assert_true(r.silence_ratio > 0.176 && r.silence_ratio < 0.177); /* 3 / 17 */
    /* Utterances keep their order, speakers and times. */
    assert_int_equal(r.n_utterances, 4);
    assert_string_equal(r.utterances[3].speaker, "system");
    assert_int_equal(r.utterances[2].start_ms, 12000);
    assert_true(r.utterances[0].sentiment < 0);
    assert_true(r.utterances[2].sentiment > 0);
    assert_true(r.sentiment >= -1 && r.sentiment <= 1);
    assert_true(r.sentiment_customer != 0);
    /* Billing words make a topic; the primary intent is whatever libnlp
     * ranks first (its own tests cover which). */
    int billing = 0;
    for (size_t i = 0; i < r.n_topics; i++)
        billing |= !strcmp(r.topics[i], "billing");
    assert_true(billing);
    assert_true(strlen(r.intent) > 0);
    assert_int_equal(r.csat, -1);
    assert_int_equal(r.nps, -1);
    sp_arena_destroy(&arena);
}

static void test_email_subject_and_survey(void **state)
{
    fixture_t f;
    ap_record_t r;
    sp_arena_t *arena = sp_arena_new();
    (void)state;

    call_fixture(&f);
    f.ix.channel = "email";
    f.ix.subject = "Invoice for " EMAIL;
    utt(&f, 0, "customer", -1, -1, "Olá, não recebi a fatura deste mês. Podem enviar?");
    f.ix.n_utterances = 1;
    f.survey = (Serphona__Interactions__V1__Survey)SERPHONA__INTERACTIONS__V1__SURVEY__INIT;
    f.survey.nps = 0;  /* a real 0: a detractor */
    f.survey.csat = 0; /* never set: none */
    f.ix.survey = &f.survey;
    f.ix.language = "pt-BR";
    assert_int_equal(ap_analyse(&f.ix, NULL, 1763800000000, arena, &r), 0);
    /* The subject is analysed and searchable, not an utterance. */
    assert_int_equal(r.n_utterances, 1);
    assert_true(contains(r.text, "Invoice for [EMAIL]\n"));
    assert_nowhere(&r, EMAIL);
    assert_string_equal(r.language, "pt");
    assert_int_equal(r.nps, 0);
    assert_int_equal(r.csat, -1);
    /* No timestamps, no call metrics. */
    assert_int_equal(r.duration_ms, 0);
    assert_true(r.silence_ratio == 0);
    sp_arena_destroy(&arena);

    /* Nothing to read at all: neutral, undetermined. */
    arena = sp_arena_new();
    f.ix.subject = "";
    f.ix.n_utterances = 0;
    f.ix.language = "";
    f.survey.csat = 4;
    f.survey.nps = -1;
    assert_int_equal(ap_analyse(&f.ix, NULL, 1763800000000, arena, &r), 0);
    assert_true(r.sentiment == 0);
    assert_string_equal(r.language, "und");
    assert_string_equal(r.text, "");
    assert_int_equal(r.csat, 4);
    assert_int_equal(r.nps, -1);
    sp_arena_destroy(&arena);
}

static void test_detects_language(void **state)
{
    fixture_t f;
    ap_record_t r;
    sp_arena_t *arena = sp_arena_new();
    (void)state;

    call_fixture(&f);
    utt(&f, 0, "customer", -1, -1, "Hola, quiero cancelar mi suscripción, es muy cara.");
    f.ix.n_utterances = 1;
    assert_int_equal(ap_analyse(&f.ix, NULL, 1, arena, &r), 0);
    assert_string_equal(r.language, "es");
    assert_string_equal(r.intent, "cancellation");
    sp_arena_destroy(&arena);
}

int main(void)
{
    sp_log_init("test-analysis", SP_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_call),
        cmocka_unit_test(test_email_subject_and_survey),
        cmocka_unit_test(test_detects_language),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
