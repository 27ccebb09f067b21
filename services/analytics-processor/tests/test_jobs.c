/*
 * test_jobs.c — parallel analysis (jobs.h): every submitted interaction
 * comes back exactly once and in submission order whatever thread ran it,
 * an analysis that refuses its input becomes a dead letter in its place, a
 * pinned tenant taxonomy outlives the cache's copy, and the jobs are reusable
 * after collect and reset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/jobs.h"
#include "nlp/analyze.h"
#include "platform/error.h"
#include "platform/log.h"

#define TENANT "11111111-1111-4111-8111-111111111111"
#define NOW_MS 1763800001000LL

/* A heap Interaction as ap_validate returns it (freed by the job). */
static Serphona__Interactions__V1__Interaction *interaction(int n, size_t n_utt)
{
    Serphona__Interactions__V1__Interaction *ix = calloc(1, sizeof *ix);
    char id[40];

    serphona__interactions__v1__interaction__init(ix);
    snprintf(id, sizeof id, "0190a0b0-0000-7000-8000-%012d", n);
    ix->interaction_id = strdup(id);
    ix->tenant_id = strdup(TENANT);
    ix->external_id = strdup("ext");
    ix->channel = strdup("chat");
    ix->occurred_at_unix_ms = 1763800000000;
    ix->utterances = calloc(n_utt, sizeof(Serphona__Interactions__V1__Utterance *));
    for (size_t i = 0; i < n_utt; i++) {
        Serphona__Interactions__V1__Utterance *u = calloc(1, sizeof *u);
        serphona__interactions__v1__utterance__init(u);
        u->speaker = strdup(i % 2 ? "agent" : "customer");
        u->text = strdup(i % 2 ? "I will refund the charge now." : "My card was charged twice!");
        u->start_ms = u->end_ms = -1;
        ix->utterances[i] = u;
    }
    ix->n_utterances = n_utt;
    return ix;
}

/* Submits interaction n (n_utt utterances) as the record at offset n. */
static void submit(ap_jobs_t *js, int n, size_t n_utt, const nlp_taxonomy_t *tax)
{
    Serphona__Events__V1__Event ev = SERPHONA__EVENTS__V1__EVENT__INIT;
    sp_events_message_t msg;

    ev.event_id = "0190a0b0-0000-7000-8000-ffffffffffff";
    ev.type = "interaction.recorded";
    ev.tenant_id = TENANT;
    ev.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    memset(&msg, 0, sizeof msg);
    msg.topic = "serphona.interactions.v1";
    msg.partition = 3;
    msg.offset = n;
    msg.value = "raw";
    msg.value_len = 3;
    msg.event = &ev;
    assert_int_equal(ap_jobs_submit(js, &msg, interaction(n, n_utt), tax, NOW_MS), SP_OK);
}

static void test_order_and_counts(void **state)
{
    (void)state;
    ap_jobs_t *js = ap_jobs_new(4, NULL);
    ap_batch_t *b = ap_batch_new();
    const nlp_taxonomy_t *tax = ap_jobs_pin(js, TENANT, nlp_taxonomy_default());
    ap_entry_t e;
    char id[40];

    assert_non_null(js);
    assert_ptr_equal(tax, nlp_taxonomy_default());
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 300; i++)
            submit(js, i, (size_t)(i % 7) + 1, tax);
        assert_int_equal(ap_jobs_count(js), 300);
        assert_int_equal(ap_jobs_collect(js, b), SP_OK);
        assert_int_equal(ap_jobs_count(js), 0);
        assert_int_equal(ap_batch_count(b), 300);
        assert_int_equal(ap_batch_dead_count(b), 0);
        for (size_t i = 0; i < 300; i++) {
            ap_batch_entry(b, i, &e);
            snprintf(id, sizeof id, "0190a0b0-0000-7000-8000-%012zu", i);
            assert_string_equal(e.interaction_id, id);
            assert_int_equal(e.n_utterances, i % 7 + 1);
            assert_int_equal(e.state, AP_ENTRY_NEW);
            assert_non_null(strstr(e.analysis, id));
            assert_non_null(strstr(e.usage, id));
            assert_string_equal(e.traceparent,
                                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        }
        ap_batch_reset(b);
        /* The pins went with the collect. */
        assert_null(ap_jobs_pinned(js, TENANT));
        tax = ap_jobs_pin(js, TENANT, nlp_taxonomy_default());
    }
    ap_batch_destroy(&b);
    ap_jobs_destroy(&js);
}

static void test_refused_analysis_is_dead_letter(void **state)
{
    (void)state;
    ap_jobs_t *js = ap_jobs_new(2, NULL);
    ap_batch_t *b = ap_batch_new();
    ap_entry_t e;
    ap_dead_t d;

    submit(js, 1, 2, NULL);
    submit(js, 2, NLP_MAX_UTTERANCES + 1, NULL); /* SP_ETOOBIG: poison */
    submit(js, 3, 2, NULL);
    assert_int_equal(ap_jobs_collect(js, b), SP_OK);
    assert_int_equal(ap_batch_count(b), 2);
    ap_batch_entry(b, 1, &e);
    assert_string_equal(e.interaction_id, "0190a0b0-0000-7000-8000-000000000003");
    assert_int_equal(ap_batch_dead_count(b), 1);
    ap_batch_dead(b, 0, &d);
    assert_string_equal(d.reason, "analysis_failed");
    assert_string_equal(d.tenant_id, TENANT);
    assert_non_null(strstr(d.payload, "\"offset\":2"));
    ap_batch_destroy(&b);
    ap_jobs_destroy(&js);
}

static void test_pinned_taxonomy_outlives_original(void **state)
{
    (void)state;
    static const char json[] =
        "{\"mode\":\"replace\",\"categories\":[{\"id\":\"refunds\",\"name\":\"Refunds\","
        "\"kind\":\"topic\",\"patterns\":{\"en\":[\"card\",\"charged\",\"refund*\"]}}]}";
    nlp_taxonomy_t *tax = NULL;
    ap_jobs_t *js = ap_jobs_new(2, NULL);
    ap_batch_t *b = ap_batch_new();
    ap_entry_t e;

    assert_int_equal(nlp_taxonomy_from_json(json, strlen(json), &tax, NULL, 0), SP_OK);
    const nlp_taxonomy_t *pinned = ap_jobs_pin(js, TENANT, tax);
    assert_non_null(pinned);
    assert_ptr_not_equal(pinned, tax);
    nlp_taxonomy_destroy(&tax); /* the cache moved on */
    assert_ptr_equal(ap_jobs_pinned(js, TENANT), pinned);
    assert_ptr_equal(ap_jobs_pin(js, TENANT, NULL), pinned);
    submit(js, 1, 2, pinned);
    assert_int_equal(ap_jobs_collect(js, b), SP_OK);
    ap_batch_entry(b, 0, &e);
    assert_non_null(strstr(e.analysis, "\"refunds\""));
    ap_batch_destroy(&b);
    ap_jobs_destroy(&js);
}

static void test_reset_drops_results(void **state)
{
    (void)state;
    ap_jobs_t *js = ap_jobs_new(3, NULL);
    ap_batch_t *b = ap_batch_new();

    for (int i = 0; i < 50; i++)
        submit(js, i, 3, NULL);
    ap_jobs_reset(js);
    assert_int_equal(ap_jobs_count(js), 0);
    submit(js, 7, 1, NULL);
    assert_int_equal(ap_jobs_collect(js, b), SP_OK);
    assert_int_equal(ap_batch_count(b), 1);
    /* Destroying with jobs queued waits for them (nothing leaks). */
    for (int i = 0; i < 20; i++)
        submit(js, i, 3, NULL);
    ap_batch_destroy(&b);
    ap_jobs_destroy(&js);
    assert_null(js);
}

int main(void)
{
    sp_log_init("test_jobs", SP_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_counts),
        cmocka_unit_test(test_refused_analysis_is_dead_letter),
        cmocka_unit_test(test_pinned_taxonomy_outlives_original),
        cmocka_unit_test(test_reset_drops_results),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
