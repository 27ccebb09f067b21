/*
 * test_batch.c — the pending batch (batch.h): dedupe within a batch, the
 * stored-ids lookup and its answer, INSERT bodies of new entries only, dead
 * letters, reuse after reset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/batch.h"
#include "platform/error.h"
#include "platform/log.h"

#define T1 "11111111-1111-4111-8111-111111111111"
#define T2 "22222222-2222-4222-8222-222222222222"

static ap_record_t rec(const char *tenant, int n, size_t n_utt, ap_utterance_t *u)
{
    ap_record_t r;
    char ext[32];

    memset(&r, 0, sizeof r);
    strcpy(r.tenant_id, tenant);
    snprintf(r.interaction_id, sizeof r.interaction_id, "0190a0b0-0000-7000-8000-%012d", n);
    snprintf(ext, sizeof ext, "ext-%d", n);
    r.external_id = strdup(ext); /* the caller frees it */
    r.channel = "chat";
    r.occurred_at_ms = 1763800000000;
    r.analyzed_at_ms = 1763800001000;
    r.language = "en";
    r.intent = "";
    r.text = "hi";
    r.csat = r.nps = -1;
    for (size_t i = 0; i < n_utt; i++)
        u[i] = (ap_utterance_t){"customer", 0, 100, "hi", 0};
    r.utterances = u;
    r.n_utterances = n_utt;
    return r;
}

static void add(ap_batch_t *b, const char *tenant, int n, size_t n_utt)
{
    ap_utterance_t u[4];
    ap_record_t r = rec(tenant, n, n_utt, u);
    assert_int_equal(ap_batch_add(b, &r, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
                     0);
    free((char *)r.external_id);
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void test_dedupe_within_batch(void **state)
{
    ap_batch_t *b = ap_batch_new();
    ap_entry_t e;
    (void)state;

    assert_non_null(b);
    assert_int_equal(ap_batch_dedupe(b), 0);
    add(b, T1, 1, 2);
    add(b, T1, 2, 1);
    add(b, T1, 1, 2); /* replay of #1 inside the same batch */
    add(b, T2, 1, 1); /* same interaction id, other tenant: distinct */
    add(b, T1, 1, 2); /* and again */
    assert_int_equal(ap_batch_count(b), 5);
    assert_int_equal(ap_batch_dedupe(b), 2);
    assert_int_equal(ap_batch_dedupe(b), 0); /* idempotent */
    ap_batch_entry(b, 0, &e);
    assert_int_equal(e.state, AP_ENTRY_NEW); /* the first copy is kept */
    ap_batch_entry(b, 2, &e);
    assert_int_equal(e.state, AP_ENTRY_DUP_BATCH);
    ap_batch_entry(b, 3, &e);
    assert_int_equal(e.state, AP_ENTRY_NEW);
    assert_string_equal(e.tenant_id, T2);
    ap_batch_entry(b, 4, &e);
    assert_int_equal(e.state, AP_ENTRY_DUP_BATCH);

    size_t utt = 0;
    assert_int_equal(ap_batch_new_count(b, &utt), 3);
    assert_int_equal(utt, 4);
    sp_buf_t ix, ut;
    sp_buf_init(&ix, 0);
    sp_buf_init(&ut, 0);
    assert_int_equal(ap_batch_bodies(b, &ix, &ut), 0);
    assert_int_equal(count_lines(sp_buf_data(&ix)), 3);
    assert_int_equal(count_lines(sp_buf_data(&ut)), 4);
    sp_buf_cleanup(&ix);
    sp_buf_cleanup(&ut);
    ap_batch_destroy(&b);
    assert_null(b);
    ap_batch_destroy(NULL);
}

static void test_lookup_and_stored(void **state)
{
    ap_batch_t *b = ap_batch_new();
    sp_arena_t *arena = sp_arena_new();
    ap_entry_t e;
    int oom = -1;
    (void)state;

    add(b, T1, 1, 1);
    add(b, T1, 2, 1);
    add(b, T2, 3, 1);
    add(b, T1, 2, 1);
    ap_batch_dedupe(b);
    char *sql = ap_batch_lookup_sql(b, "interaction_keys", arena, &oom);
    assert_non_null(sql);
    assert_int_equal(oom, 0);
    assert_string_equal(sql, "SELECT toString(tenant_id), toString(interaction_id) FROM "
                             "interaction_keys WHERE tenant_id IN ('" T1 "','" T2 "') AND "
                             "interaction_id IN ('0190a0b0-0000-7000-8000-000000000001',"
                             "'0190a0b0-0000-7000-8000-000000000002',"
                             "'0190a0b0-0000-7000-8000-000000000003') FORMAT TabSeparated");

    /* The answer may mention pairs the batch does not have (a cross
     * product of the IN lists) and comes in upper or lower case. */
    const char *answer =
        "11111111-1111-4111-8111-111111111111\t0190A0B0-0000-7000-8000-000000000002\n"
        "22222222-2222-4222-8222-222222222222\t0190a0b0-0000-7000-8000-000000000001\n";
    assert_int_equal(ap_batch_apply_stored(b, answer, strlen(answer)), 1);
    ap_batch_entry(b, 1, &e);
    assert_int_equal(e.state, AP_ENTRY_DUP_STORED);
    ap_batch_entry(b, 0, &e);
    assert_int_equal(e.state, AP_ENTRY_NEW);
    ap_batch_entry(b, 3, &e);
    assert_int_equal(e.state, AP_ENTRY_DUP_BATCH); /* stays what it was */
    assert_int_equal(ap_batch_new_count(b, NULL), 2);
    assert_int_equal(ap_batch_apply_stored(b, "", 0), 0);
    assert_int_equal(ap_batch_apply_stored(b, "\n", 1), 0);
    assert_int_equal(ap_batch_apply_stored(b, "junk\n", 5), SP_EPROTO);
    const char *bad =
        "11111111-1111-4111-8111-111111111111\tnot-a-uuid-at-all-but-36-chars-long!\n";
    assert_int_equal(ap_batch_apply_stored(b, bad, strlen(bad)), SP_EPROTO);

    /* Everything stored: nothing to look up, nothing to insert. */
    const char *rest =
        T1 "\t0190a0b0-0000-7000-8000-000000000001\n" T2 "\t0190a0b0-0000-7000-8000-000000000003";
    assert_int_equal(ap_batch_apply_stored(b, rest, strlen(rest)), 2);
    assert_null(ap_batch_lookup_sql(b, "interaction_keys", arena, &oom));
    assert_int_equal(oom, 0);
    sp_buf_t ix, ut;
    sp_buf_init(&ix, 0);
    sp_buf_init(&ut, 0);
    assert_int_equal(ap_batch_bodies(b, &ix, &ut), 0);
    assert_int_equal(sp_buf_len(&ix), 0);
    assert_int_equal(sp_buf_len(&ut), 0);

    /* Reset empties it for the next batch. */
    ap_batch_reset(b);
    assert_int_equal(ap_batch_count(b), 0);
    assert_null(ap_batch_lookup_sql(b, "interaction_keys", arena, NULL));
    add(b, T2, 9, 0);
    assert_int_equal(ap_batch_bodies(b, &ix, &ut), 0);
    assert_int_equal(count_lines(sp_buf_data(&ix)), 1);
    assert_non_null(strstr(sp_buf_data(&ix), "000000000009"));
    assert_int_equal(sp_buf_len(&ut), 0);
    sp_buf_cleanup(&ix);
    sp_buf_cleanup(&ut);
    sp_arena_destroy(&arena);
    ap_batch_destroy(&b);
}

static void test_entries_carry_payloads(void **state)
{
    ap_batch_t *b = ap_batch_new();
    ap_entry_t e;
    (void)state;

    /* Many entries: the buffers grow and move; views must follow. */
    for (int i = 0; i < 300; i++)
        add(b, i % 2 ? T1 : T2, i, (size_t)(i % 3));
    assert_int_equal(ap_batch_count(b), 300);
    ap_batch_entry(b, 299, &e);
    assert_string_equal(e.tenant_id, T1);
    assert_string_equal(e.interaction_id, "0190a0b0-0000-7000-8000-000000000299");
    assert_string_equal(e.traceparent, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    assert_int_equal(e.n_utterances, 2);
    assert_true(e.analysis_len > 0 && e.analysis[0] == '{' &&
                e.analysis[e.analysis_len - 1] == '}');
    assert_non_null(memmem(e.analysis, e.analysis_len, "000000000299", 12));
    assert_true(e.usage_len > 0 && e.usage[0] == '{' && e.usage[e.usage_len - 1] == '}');
    assert_non_null(memmem(e.usage, e.usage_len, "\"meter\":\"interactions_analyzed\"", 31));
    assert_int_equal(ap_batch_dedupe(b), 0);
    assert_int_equal(ap_batch_failed(b), 0);
    ap_batch_destroy(&b);
}

static void test_dead_letters(void **state)
{
    ap_batch_t *b = ap_batch_new();
    ap_dead_t d;
    (void)state;

    assert_int_equal(ap_batch_add_dead(b, "11111111-1111-4111-8111-11111111111A", "invalid_value",
                                       "{\"x\":1}", 7),
                     0);
    assert_int_equal(ap_batch_add_dead(b, NULL, "undecodable_envelope", "{}", 2), 0);
    assert_int_equal(ap_batch_add_dead(b, "acme", "invalid_id", "{}", 2), 0);
    assert_int_equal(ap_batch_dead_count(b), 3);
    assert_int_equal(ap_batch_count(b), 0);
    ap_batch_dead(b, 0, &d);
    assert_string_equal(d.tenant_id, "11111111-1111-4111-8111-11111111111a");
    assert_string_equal(d.reason, "invalid_value");
    assert_int_equal(d.payload_len, 7);
    assert_memory_equal(d.payload, "{\"x\":1}", 7);
    ap_batch_dead(b, 1, &d);
    assert_string_equal(d.tenant_id, "00000000-0000-0000-0000-000000000000");
    ap_batch_dead(b, 2, &d);
    assert_string_equal(d.tenant_id, "00000000-0000-0000-0000-000000000000");
    assert_string_equal(d.reason, "invalid_id");
    ap_batch_reset(b);
    assert_int_equal(ap_batch_dead_count(b), 0);
    ap_batch_destroy(&b);
}

int main(void)
{
    sp_log_init("test-batch", SP_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dedupe_within_batch),
        cmocka_unit_test(test_lookup_and_stored),
        cmocka_unit_test(test_entries_carry_payloads),
        cmocka_unit_test(test_dead_letters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
