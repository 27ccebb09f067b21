/* Unit tests for analyze.c and result_json.c: a Portuguese support call
 * with hand-computed call metrics, PII counts, topics, intent and outcome;
 * redaction happening first (no raw PII anywhere in the result or its
 * JSON); chats without timestamps; language hints; survey values; tenant
 * taxonomies; options; input errors and limits; empty and invalid-UTF-8
 * input; and byte-identical JSON across runs and threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "nlp/analyze.h"
#include "nlp/utf8.h"
#include "platform/error.h"

#define A NLP_SPEAKER_AGENT
#define C NLP_SPEAKER_CUSTOMER

static const nlp_utterance_t call[] = {
    {A, "Olá, obrigado por ligar. Como posso ajudar?", 0, 0, 3000},
    {C,
     "Fui cobrado duas vezes na fatura deste mês! Meu CPF é 529.982.247-25 e meu email "
     "joao@example.com.br",
     0, 3500, 12000},
    {A, "Sinto muito pelo transtorno. Vou verificar a cobrança.", 0, 11500, 16000},
    {C, "Isso é um absurdo, quero cancelar minha assinatura e falar com o supervisor.", 0, 19000,
     25000},
    {A, "Pronto, o estorno foi feito e o problema está resolvido.", 0, 25500, 30000},
    {C, "Ok, obrigado, resolvido.", 0, 30500, 32000},
};

static nlp_interaction_t call_input(void)
{
    nlp_interaction_t in;
    nlp_interaction_init(&in);
    in.utterances = call;
    in.n_utterances = 6;
    in.nps = 3;
    return in;
}

static void test_call_fixture(void **state)
{
    nlp_interaction_t in = call_input();
    nlp_result_t r;
    assert_int_equal(nlp_analyze(&in, NULL, NULL, &r), 0);
    assert_string_equal(r.language, "pt");
    assert_int_equal(r.language_from_hint, 0);
    assert_true(r.language_confidence > 0.5);
    /* PII. */
    assert_int_equal(r.pii.n[NLP_PII_EMAIL], 1);
    assert_int_equal(r.pii.n[NLP_PII_CPF], 1);
    assert_int_equal(nlp_pii_total(&r.pii), 2);
    assert_int_equal(r.n_utterances, 6);
    assert_string_equal(r.utterances[1].text, "Fui cobrado duas vezes na fatura deste mês! Meu "
                                              "CPF é [CPF] e meu email [EMAIL]");
    assert_int_equal(r.utterances[1].len, strlen(r.utterances[1].text));
    assert_int_equal(r.utterances[1].pii, 2);
    assert_int_equal(r.utterances[0].pii, 0);
    /* Call metrics (same fixture as test_callmetrics). */
    assert_int_equal(r.has_call_metrics, 1);
    assert_int_equal(r.call.duration_ms, 32000);
    assert_int_equal(r.call.talk_ms[A], 12000);
    assert_int_equal(r.call.talk_ms[C], 16000);
    assert_int_equal(r.call.silence_ms, 3000);
    assert_int_equal(r.call.silence_count, 1);
    assert_true(r.call.silence_ratio == 0.0938);
    assert_int_equal(r.call.longest_silence_ms, 3000);
    assert_int_equal(r.call.overtalk_ms, 500);
    /* Topics: billing = "cobrado duas vezes" (3 words: 2.0) + "fatura" (1.0)
     * from the customer + "cobrança" from the agent (0.5) = 3.5 -> 3.5/5.5. */
    assert_true(r.n_topics >= 1);
    assert_string_equal(r.topics[0].id, "billing");
    assert_true(r.topics[0].raw == 3.5);
    assert_true(r.topics[0].score == 0.6364);
    assert_int_equal(r.topics[0].hits, 3);
    /* Intents: cancellation and complaint tie at one customer hit (0.3333);
     * taxonomy order breaks the tie. The agent's "estorno" alone (0.5 ->
     * 0.2) does not make a refund intent. */
    assert_string_equal(r.intent, "cancellation");
    assert_true(r.intent_score == 0.3333);
    assert_int_equal(r.n_intents, 2);
    assert_string_equal(r.intents[1].id, "complaint");
    for (size_t i = 0; i < r.n_intents; i++)
        assert_string_not_equal(r.intents[i].id, "refund");
    /* Outcome. */
    assert_true(r.outcome.escalation_requested);
    assert_true(r.outcome.churn_risk);
    assert_true(r.outcome.resolved);
    assert_false(r.outcome.unresolved);
    assert_int_equal(r.outcome.nps, 3);
    assert_int_equal(r.outcome.nps_class, NLP_NPS_DETRACTOR);
    assert_int_equal(r.outcome.csat, -1);
    /* Sentiment: the customer complains then thanks; overall is the mean
     * of the customer's scores and the agent's at half weight. */
    assert_true(r.utterances[1].sentiment.score < 0);
    assert_true(r.utterances[3].sentiment.score < 0);
    assert_true(r.utterances[5].sentiment.score > 0);
    assert_int_equal(r.speakers[C].utterances, 3);
    assert_int_equal(r.speakers[A].utterances, 3);
    double cs = 0, as = 0;
    for (size_t i = 0; i < 6; i++)
        *(call[i].speaker == C ? &cs : &as) += r.utterances[i].sentiment.score;
    assert_true(fabs(r.speakers[C].score - cs / 3) < 1e-4);
    assert_true(fabs(r.sentiment - (cs + 0.5 * as) / 4.5) < 1e-4);
    assert_string_equal(r.sentiment_label, nlp_sentiment_label(r.sentiment));
    /* Keywords come from the redacted text. */
    assert_true(r.n_keywords > 0);
    assert_string_equal(r.keywords[0].phrase, "cobrado duas vezes");
    nlp_result_cleanup(&r);
    nlp_result_cleanup(&r); /* twice is fine */
    nlp_result_cleanup(NULL);
}

static void test_redaction_first(void **state)
{
    nlp_interaction_t in = call_input();
    nlp_result_t r;
    assert_int_equal(nlp_analyze(&in, NULL, NULL, &r), 0);
    char *js = nlp_result_to_json(&r);
    assert_non_null(js);
    assert_null(strstr(js, "529.982.247-25"));
    assert_null(strstr(js, "joao@"));
    assert_null(strstr(js, "example.com"));
    assert_non_null(strstr(js, "[CPF]"));
    assert_non_null(strstr(js, "[EMAIL]"));
    for (size_t i = 0; i < r.n_keywords; i++) {
        assert_null(strstr(r.keywords[i].phrase, "joao"));
        assert_null(strstr(r.keywords[i].phrase, "example"));
    }
    /* The JSON parses and has the documented shape. */
    cJSON *root = cJSON_Parse(js);
    assert_non_null(root);
    const char *keys[] = {
        "language", "language_confidence", "language_source", "sentiment", "topics", "intents",
        "intent",   "call_metrics",        "outcome",         "keywords",  "pii",    "utterances"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        assert_non_null(cJSON_GetObjectItemCaseSensitive(root, keys[i]));
    cJSON *pii = cJSON_GetObjectItemCaseSensitive(root, "pii");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(pii, "total")->valueint, 2);
    cJSON *cm = cJSON_GetObjectItemCaseSensitive(root, "call_metrics");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(cm, "overtalk_ms")->valueint, 500);
    cJSON *oc = cJSON_GetObjectItemCaseSensitive(root, "outcome");
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(oc, "csat")));
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(oc, "nps_class")->valuestring,
                        "detractor");
    cJSON *utt = cJSON_GetObjectItemCaseSensitive(root, "utterances");
    assert_int_equal(cJSON_GetArraySize(utt), 6);
    cJSON *u1 = cJSON_GetArrayItem(utt, 1);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(u1, "speaker")->valuestring, "customer");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(u1, "start_ms")->valueint, 3500);
    cJSON_Delete(root);
    free(js);
    nlp_result_cleanup(&r);
}

static void test_chat_and_hint(void **state)
{
    const nlp_utterance_t chat[] = {
        {C, "hi, my package never arrived and the tracking page shows nothing", 0, -1, -1},
        {A, "I'm sorry to hear that, let me check the delivery for you", 0, -1, -1},
        {C, "still waiting... this is ridiculous!!", 0, -1, -1},
    };
    nlp_interaction_t in;
    nlp_interaction_init(&in);
    in.utterances = chat;
    in.n_utterances = 3;
    in.language = "en-US";
    in.csat = 2;
    in.rating = 9; /* out of range: dropped, not fatal */
    nlp_result_t r;
    assert_int_equal(nlp_analyze(&in, NULL, NULL, &r), 0);
    assert_string_equal(r.language, "en");
    assert_int_equal(r.language_from_hint, 1);
    assert_true(r.language_confidence == 1.0);
    assert_int_equal(r.has_call_metrics, 0);
    assert_string_equal(r.topics[0].id, "delivery");
    assert_true(r.sentiment < 0);
    assert_string_equal(r.sentiment_label, "negative");
    assert_int_equal(r.outcome.csat, 2);
    assert_int_equal(r.outcome.rating, -1);
    char *js = nlp_result_to_json(&r);
    assert_non_null(strstr(js, "\"call_metrics\":null"));
    assert_non_null(strstr(js, "\"language_source\":\"hint\""));
    assert_non_null(strstr(js, "\"start_ms\":null"));
    free(js);
    nlp_result_cleanup(&r);
    /* A hint that is not a language tag is ignored. */
    in.language = "english!";
    assert_int_equal(nlp_analyze(&in, NULL, NULL, &r), 0);
    assert_string_equal(r.language, "en");
    assert_int_equal(r.language_from_hint, 0);
    nlp_result_cleanup(&r);
}

static void test_survey_review(void **state)
{
    const nlp_utterance_t review[] = {
        {NLP_SPEAKER_OTHER, "Ótimo produto, entrega rápida. Recomendo!", 0, -1, -1}};
    nlp_interaction_t in;
    nlp_interaction_init(&in);
    in.utterances = review;
    in.n_utterances = 1;
    in.nps = 0;
    in.csat = 5;
    in.rating = 5;
    nlp_result_t r;
    assert_int_equal(nlp_analyze(&in, NULL, NULL, &r), 0);
    /* Too few function words to tell the language: every lexicon and
     * pattern set is used instead. */
    assert_string_equal(r.language, "und");
    assert_int_equal(r.outcome.nps, 0); /* 0 is a real NPS answer */
    assert_int_equal(r.outcome.nps_class, NLP_NPS_DETRACTOR);
    assert_int_equal(r.outcome.csat, 5);
    assert_int_equal(r.outcome.rating, 5);
    assert_true(r.sentiment > 0.5);
    assert_int_equal(r.speakers[NLP_SPEAKER_OTHER].count, 1);
    assert_string_equal(r.intent, "praise");
    nlp_result_cleanup(&r);
}

static void test_tenant_taxonomy_and_options(void **state)
{
    const char *json = "{\"mode\":\"replace\",\"categories\":["
                       "{\"id\":\"chargeback_risk\",\"kind\":\"intent\","
                       "\"patterns\":{\"pt\":[\"cobrado duas vezes\",\"estorno\"]}}]}";
    nlp_taxonomy_t *tax = NULL;
    assert_int_equal(nlp_taxonomy_from_json(json, strlen(json), &tax, NULL, 0), 0);
    nlp_interaction_t in = call_input();
    nlp_options_t opts;
    nlp_options_init(&opts);
    opts.agent_weight = 0.0;
    opts.max_keywords = 2;
    nlp_result_t r;
    assert_int_equal(nlp_analyze(&in, tax, &opts, &r), 0);
    assert_int_equal(r.n_topics, 0);
    assert_int_equal(r.n_intents, 1);
    assert_string_equal(r.intent, "chargeback_risk");
    assert_true(r.intents[0].raw == 2.0); /* the agent's "estorno" weighs 0 */
    assert_int_equal(r.n_keywords, 2);
    /* With agent weight 0 the overall is the customer's mean. */
    assert_true(fabs(r.sentiment - r.speakers[C].score) < 1e-4);
    nlp_result_cleanup(&r);
    nlp_taxonomy_destroy(&tax);
    /* An empty taxonomy: no topics, intent "none". */
    /* (This passed 37 for the 34 bytes, reading past the literal; the strict
     * parser refuses the trailing NUL it found there.) */
    static const char empty[] = "{\"mode\":\"replace\",\"categories\":[]}";
    assert_int_equal(nlp_taxonomy_from_json(empty, sizeof empty - 1, &tax, NULL, 0), 0);
    assert_int_equal(nlp_analyze(&in, tax, NULL, &r), 0);
    assert_string_equal(r.intent, "none");
    assert_true(r.intent_score == 0);
    nlp_result_cleanup(&r);
    nlp_taxonomy_destroy(&tax);
}

static void test_errors_and_limits(void **state)
{
    nlp_result_t r;
    memset(&r, 0xAB, sizeof(r));
    assert_int_equal(nlp_analyze(NULL, NULL, NULL, &r), SP_EINVAL);
    assert_null(r.arena); /* emptied */
    nlp_interaction_t in;
    nlp_interaction_init(&in);
    assert_int_equal(nlp_analyze(&in, NULL, NULL, NULL), SP_EINVAL);
    in.n_utterances = 2;
    assert_int_equal(nlp_analyze(&in, NULL, NULL, &r), SP_EINVAL);
    nlp_utterance_t bad[] = {{(nlp_speaker_t)5, "x", 0, -1, -1}};
    in.utterances = bad;
    in.n_utterances = 1;
    assert_int_equal(nlp_analyze(&in, NULL, NULL, &r), SP_EINVAL);
    nlp_utterance_t nul[] = {{C, NULL, 4, -1, -1}};
    in.utterances = nul;
    assert_int_equal(nlp_analyze(&in, NULL, NULL, &r), SP_EINVAL);
    nlp_result_cleanup(&r);
    nlp_utterance_t *many = calloc(NLP_MAX_UTTERANCES + 1, sizeof(*many));
    for (size_t i = 0; i <= NLP_MAX_UTTERANCES; i++)
        many[i] = (nlp_utterance_t){C, "", 0, -1, -1};
    in.utterances = many;
    in.n_utterances = NLP_MAX_UTTERANCES + 1;
    assert_int_equal(nlp_analyze(&in, NULL, NULL, &r), SP_ETOOBIG);
    free(many);
    char *big = malloc(NLP_MAX_TEXT_BYTES / 2 + 1);
    memset(big, 'a', NLP_MAX_TEXT_BYTES / 2);
    big[NLP_MAX_TEXT_BYTES / 2] = '\0';
    nlp_utterance_t two[] = {{C, big, 0, -1, -1}, {C, big, 0, -1, -1}, {C, "x", 0, -1, -1}};
    in.utterances = two;
    in.n_utterances = 3;
    assert_int_equal(nlp_analyze(&in, NULL, NULL, &r), SP_ETOOBIG);
    free(big);
}

static void test_empty_and_invalid_utf8(void **state)
{
    nlp_interaction_t in;
    nlp_interaction_init(&in);
    nlp_result_t r;
    assert_int_equal(nlp_analyze(&in, NULL, NULL, &r), 0);
    assert_string_equal(r.language, "und");
    assert_true(r.sentiment == 0);
    assert_string_equal(r.intent, "none");
    assert_int_equal(r.n_keywords, 0);
    char *js = nlp_result_to_json(&r);
    assert_non_null(js);
    free(js);
    nlp_result_cleanup(&r);

    const nlp_utterance_t u[] = {
        {C, "n\xc3\xa3o \xff funciona \xc3\x28, email a@b.io \xed\xa0\x80", 0, 0, 1000},
        {A, NULL, 0, 1000, 2000},
        {C, "x\0y", 3, 2000, 500}, /* an embedded NUL; end before start */
    };
    in.utterances = u;
    in.n_utterances = 3;
    assert_int_equal(nlp_analyze(&in, NULL, NULL, &r), 0);
    for (size_t i = 0; i < r.n_utterances; i++) {
        assert_true(nlp_utf8_valid(r.utterances[i].text, r.utterances[i].len));
        assert_int_equal(strlen(r.utterances[i].text), r.utterances[i].len);
    }
    assert_non_null(strstr(r.utterances[0].text, "\xef\xbf\xbd"));
    assert_non_null(strstr(r.utterances[0].text, "[EMAIL]"));
    assert_string_equal(r.utterances[1].text, "");
    assert_string_equal(r.utterances[2].text, "x\xef\xbf\xbdy");
    assert_int_equal(r.call.invalid, 1);
    assert_int_equal(r.call.spans, 2);
    js = nlp_result_to_json(&r);
    cJSON *root = cJSON_Parse(js);
    assert_non_null(root);
    cJSON_Delete(root);
    free(js);
    nlp_result_cleanup(&r);
}

typedef struct {
    char *json;
} thread_out_t;

static void *analyze_thread(void *arg)
{
    thread_out_t *o = arg;
    nlp_interaction_t in = call_input();
    for (int k = 0; k < 5; k++) {
        nlp_result_t r;
        if (nlp_analyze(&in, NULL, NULL, &r) != 0)
            return NULL;
        free(o->json);
        o->json = nlp_result_to_json(&r);
        nlp_result_cleanup(&r);
    }
    return NULL;
}

static void test_deterministic_and_threads(void **state)
{
    nlp_interaction_t in = call_input();
    nlp_result_t r;
    assert_int_equal(nlp_analyze(&in, NULL, NULL, &r), 0);
    char *ref = nlp_result_to_json(&r);
    nlp_result_cleanup(&r);
    pthread_t th[4];
    thread_out_t out[4] = {{0}};
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, analyze_thread, &out[i]), 0);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_non_null(out[i].json);
        assert_string_equal(out[i].json, ref);
        free(out[i].json);
    }
    free(ref);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_call_fixture),
        cmocka_unit_test(test_redaction_first),
        cmocka_unit_test(test_chat_and_hint),
        cmocka_unit_test(test_survey_review),
        cmocka_unit_test(test_tenant_taxonomy_and_options),
        cmocka_unit_test(test_errors_and_limits),
        cmocka_unit_test(test_empty_and_invalid_utf8),
        cmocka_unit_test(test_deterministic_and_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
