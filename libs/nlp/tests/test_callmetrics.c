/* Unit tests for callmetrics.c on hand-computed fixtures: a six-turn call
 * with one overlap and one long pause; the 2 s threshold (exactly 2000 ms
 * is not silence, 2001 ms is); a speaker's own overlapping turns counted
 * once; input order not mattering; invalid spans skipped; three speakers;
 * a turn inside another; a custom threshold; empty input and bad args. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "nlp/callmetrics.h"
#include "platform/error.h"

#define A NLP_SPEAKER_AGENT
#define C NLP_SPEAKER_CUSTOMER
#define O NLP_SPEAKER_OTHER

static nlp_call_metrics_t run(const nlp_timed_span_t *s, size_t n, int64_t gap)
{
    nlp_call_metrics_t m;
    assert_int_equal(nlp_callmetrics_compute(s, n, gap, &m), 0);
    return m;
}

/* A: 0-3000, C: 3500-12000, A: 11500-16000, C: 19000-25000, A: 25500-30000,
 * C: 30500-32000.
 *   duration 32000; agent 3000+4500+4500 = 12000; customer 8500+6000+1500 =
 *   16000; gaps 500, 3000, 500, 500 -> silence 3000 (one gap > 2 s), ratio
 *   3000/32000 = 0.09375 -> 0.0938, longest 3000; overtalk 11500-12000 =
 *   500, once. */
static const nlp_timed_span_t call[] = {
    {0, 3000, A},      {3500, 12000, C},  {11500, 16000, A},
    {19000, 25000, C}, {25500, 30000, A}, {30500, 32000, C},
};

static void test_fixture_call(void **state)
{
    nlp_call_metrics_t m = run(call, 6, 0);
    assert_int_equal(m.duration_ms, 32000);
    assert_int_equal(m.talk_ms[A], 12000);
    assert_int_equal(m.talk_ms[C], 16000);
    assert_int_equal(m.talk_ms[O], 0);
    assert_int_equal(m.silence_ms, 3000);
    assert_int_equal(m.silence_count, 1);
    assert_int_equal(m.longest_silence_ms, 3000);
    assert_true(m.silence_ratio == 0.0938);
    assert_int_equal(m.overtalk_ms, 500);
    assert_int_equal(m.overtalk_count, 1);
    assert_int_equal(m.spans, 6);
    assert_int_equal(m.invalid, 0);
}

static void test_order_does_not_matter(void **state)
{
    nlp_timed_span_t rev[6];
    for (int i = 0; i < 6; i++)
        rev[i] = call[5 - i];
    nlp_call_metrics_t a = run(call, 6, 0), b = run(rev, 6, 0);
    assert_memory_equal(&a, &b, sizeof(a));
}

static void test_threshold_edges(void **state)
{
    /* Gaps of exactly 2000 and of 2001 ms. */
    const nlp_timed_span_t s[] = {{0, 1000, A}, {3000, 4000, C}, {6001, 7000, A}};
    nlp_call_metrics_t m = run(s, 3, 0);
    assert_int_equal(m.duration_ms, 7000);
    assert_int_equal(m.silence_ms, 2001);
    assert_int_equal(m.silence_count, 1);
    assert_int_equal(m.longest_silence_ms, 2001);
    assert_true(m.silence_ratio == 0.2859); /* 2001 / 7000 = 0.285857... */
    /* With a 1 s threshold both count. */
    m = run(s, 3, 1000);
    assert_int_equal(m.silence_ms, 4001);
    assert_int_equal(m.silence_count, 2);
    /* Back-to-back turns leave no gap at all. */
    const nlp_timed_span_t t[] = {{0, 1000, A}, {1000, 2000, C}};
    m = run(t, 2, 0);
    assert_int_equal(m.longest_silence_ms, 0);
    assert_int_equal(m.overtalk_ms, 0);
}

static void test_same_speaker_overlap(void **state)
{
    /* A customer's two turns overlap each other: talk time counts once and
     * it is not overtalk. */
    const nlp_timed_span_t s[] = {{0, 5000, C}, {3000, 8000, C}, {8000, 9000, A}};
    nlp_call_metrics_t m = run(s, 3, 0);
    assert_int_equal(m.duration_ms, 9000);
    assert_int_equal(m.talk_ms[C], 8000);
    assert_int_equal(m.talk_ms[A], 1000);
    assert_int_equal(m.overtalk_ms, 0);
    assert_int_equal(m.overtalk_count, 0);
}

static void test_nested_and_three_speakers(void **state)
{
    /* Agent 0-10000 with two customer interjections: two overtalk
     * stretches of 1000 ms each. */
    const nlp_timed_span_t s[] = {{0, 10000, A}, {2000, 3000, C}, {5000, 6000, C}};
    nlp_call_metrics_t m = run(s, 3, 0);
    assert_int_equal(m.duration_ms, 10000);
    assert_int_equal(m.talk_ms[A], 10000);
    assert_int_equal(m.talk_ms[C], 2000);
    assert_int_equal(m.overtalk_ms, 2000);
    assert_int_equal(m.overtalk_count, 2);
    assert_int_equal(m.silence_ms, 0);
    /* Three speakers: A 0-4000, C 2000-6000, O 3000-8000 -> two or more
     * talking from 2000 to 6000 = 4000 ms, one stretch. */
    const nlp_timed_span_t t[] = {{0, 4000, A}, {2000, 6000, C}, {3000, 8000, O}};
    m = run(t, 3, 0);
    assert_int_equal(m.overtalk_ms, 4000);
    assert_int_equal(m.overtalk_count, 1);
    assert_int_equal(m.talk_ms[O], 5000);
    assert_int_equal(m.duration_ms, 8000);
}

static void test_invalid_spans(void **state)
{
    const nlp_timed_span_t s[] = {
        {0, 1000, A}, {5000, 4000, C} /* ends before it starts */, {-5, 10, C}, {4000, 6000, C}};
    nlp_call_metrics_t m = run(s, 4, 0);
    assert_int_equal(m.spans, 2);
    assert_int_equal(m.invalid, 2);
    assert_int_equal(m.duration_ms, 6000);
    assert_int_equal(m.silence_ms, 3000);
    assert_int_equal(m.longest_silence_ms, 3000);
    assert_true(m.silence_ratio == 0.5);
}

static void test_single_and_empty(void **state)
{
    const nlp_timed_span_t one[] = {{1000, 4000, C}};
    nlp_call_metrics_t m = run(one, 1, 0);
    assert_int_equal(m.duration_ms, 3000);
    assert_int_equal(m.talk_ms[C], 3000);
    assert_int_equal(m.silence_ms, 0);
    assert_true(m.silence_ratio == 0);
    m = run(NULL, 0, 0);
    assert_int_equal(m.duration_ms, 0);
    assert_int_equal(m.spans, 0);
    /* Zero-length turns: no duration, no division by zero. */
    const nlp_timed_span_t z[] = {{500, 500, A}};
    m = run(z, 1, 0);
    assert_int_equal(m.duration_ms, 0);
    assert_true(m.silence_ratio == 0);
}

static void test_bad_args(void **state)
{
    nlp_call_metrics_t m;
    assert_int_equal(nlp_callmetrics_compute(call, 6, 0, NULL), SP_EINVAL);
    assert_int_equal(nlp_callmetrics_compute(NULL, 2, 0, &m), SP_EINVAL);
    const nlp_timed_span_t bad[] = {{0, 1000, (nlp_speaker_t)7}};
    assert_int_equal(nlp_callmetrics_compute(bad, 1, 0, &m), SP_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_call),
        cmocka_unit_test(test_order_does_not_matter),
        cmocka_unit_test(test_threshold_edges),
        cmocka_unit_test(test_same_speaker_overlap),
        cmocka_unit_test(test_nested_and_three_speakers),
        cmocka_unit_test(test_invalid_spans),
        cmocka_unit_test(test_single_and_empty),
        cmocka_unit_test(test_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
