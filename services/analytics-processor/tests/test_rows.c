/*
 * test_rows.c — JSON writers, ClickHouse rows and event payloads
 * (json.h, rows.h, payloads.h): what is rendered parses back to exactly the
 * values of the record, whatever bytes the texts hold.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../src/json.h"
#include "../src/payloads.h"
#include "../src/rows.h"
#include "platform/crypto.h"
#include "platform/log.h"

static char *render_str(const char *s, size_t len)
{
    sp_buf_t b;
    sp_buf_init(&b, 0);
    ap_json_str(&b, s, len);
    assert_int_equal(sp_buf_failed(&b), 0);
    return sp_buf_take(&b, NULL);
}

static void test_json_strings(void **state)
{
    (void)state;
    char *s;

    s = render_str("plain", 5);
    assert_string_equal(s, "\"plain\"");
    free(s);
    s = render_str("q\"b\\n\nt\tc\x01", 10);
    assert_string_equal(s, "\"q\\\"b\\\\n\\nt\\tc\\u0001\"");
    free(s);
    /* Valid UTF-8 (2, 3 and 4 bytes) is copied as is. */
    s = render_str("ação € 😀", strlen("ação € 😀"));
    assert_string_equal(s, "\"ação € 😀\"");
    free(s);
    /* Invalid bytes, overlongs, surrogates, truncated sequences: U+FFFD. */
    s = render_str("a\xff"
                   "b\xc0\xaf"
                   "c\xed\xa0\x80"
                   "d\xe2\x82",
                   12);
    assert_string_equal(s, "\"a\\ufffdb\\ufffd\\ufffdc\\ufffd\\ufffd\\ufffdd\\ufffd\\ufffd\"");
    free(s);
    /* An embedded NUL is data, not the end. */
    s = render_str("x\0y", 3);
    assert_string_equal(s, "\"x\\u0000y\"");
    free(s);
    s = render_str(NULL, 0);
    assert_string_equal(s, "\"\"");
    free(s);

    sp_buf_t b;
    sp_buf_init(&b, 0);
    const char *arr[] = {"a", "b\"", ""};
    ap_json_str_array(&b, arr, 3);
    sp_buf_putc(&b, ' ');
    ap_json_str_array(&b, NULL, 0);
    sp_buf_putc(&b, ' ');
    ap_json_num(&b, 0.25);
    sp_buf_putc(&b, ' ');
    ap_json_num(&b, NAN);
    sp_buf_putc(&b, ' ');
    ap_json_num(&b, -1);
    assert_string_equal(sp_buf_data(&b), "[\"a\",\"b\\\"\",\"\"] [] 0.25 0 -1");
    sp_buf_cleanup(&b);
}

/* A record with every field set. */
static ap_record_t sample(ap_utterance_t *u)
{
    static const char *tags[] = {"vip", "q\"uote"};
    static const char *topics[] = {"billing", "complaint"};
    static const char *kws[] = {"refund"};
    ap_record_t r;

    memset(&r, 0, sizeof r);
    strcpy(r.tenant_id, "11111111-1111-4111-8111-111111111111");
    strcpy(r.interaction_id, "0190a0b0-0000-7000-8000-00000000000a");
    r.external_id = "call-\"1\"";
    r.channel = "call";
    r.occurred_at_ms = 1763800000999;
    r.analyzed_at_ms = 1763800005123;
    r.language = "pt";
    r.agent_id = "a1";
    r.agent_name = "Ana";
    r.customer_ref = "cust-9";
    r.tags = tags;
    r.n_tags = 2;
    r.sentiment = -0.5;
    r.sentiment_customer = -0.75;
    r.sentiment_agent = 0.25;
    r.topics = topics;
    r.n_topics = 2;
    r.intent = "billing";
    r.keywords = kws;
    r.n_keywords = 1;
    r.duration_ms = 61000;
    r.talk_agent_ms = 20000;
    r.talk_customer_ms = 30000;
    r.silence_ratio = 0.125;
    r.longest_silence_ms = 4000;
    r.overtalk_ms = 500;
    r.escalated = 1;
    r.resolved = 0;
    r.churn_risk = 1;
    r.csat = -1;
    r.nps = 3;
    r.pii_redactions = 2;
    r.text = "meu cartão [CARD]\nok";
    u[0] = (ap_utterance_t){"customer", 0, 3000, "meu cartão [CARD]", -0.75};
    u[1] = (ap_utterance_t){"agent", -1, -1, "ok", 0.25};
    r.utterances = u;
    r.n_utterances = 2;
    return r;
}

static cJSON *parse_line(const char *s, size_t len)
{
    char *copy = strndup(s, len);
    cJSON *o = cJSON_Parse(copy);
    free(copy);
    assert_non_null(o);
    return o;
}

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    assert_true(cJSON_IsString(v));
    return v->valuestring;
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

static void test_interaction_row(void **state)
{
    ap_utterance_t u[2];
    ap_record_t r = sample(u);
    sp_buf_t b;
    (void)state;

    sp_buf_init(&b, 0);
    ap_rows_interaction(&b, &r);
    const char *row = sp_buf_data(&b);
    size_t len = sp_buf_len(&b);
    assert_int_equal(row[len - 1], '\n');
    assert_null(memchr(row, '\n', len - 1)); /* one line */
    cJSON *o = parse_line(row, len);
    assert_string_equal(str(o, "tenant_id"), r.tenant_id);
    assert_string_equal(str(o, "interaction_id"), r.interaction_id);
    assert_string_equal(str(o, "external_id"), "call-\"1\"");
    assert_int_equal((int64_t)num(o, "occurred_at"), 1763800000); /* Unix seconds */
    assert_int_equal((int64_t)num(o, "analyzed_at"), 1763800005);
    assert_int_equal((int64_t)num(o, "version"), 1763800005123);
    assert_string_equal(str(o, "language"), "pt");
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "tags"), 1)->valuestring,
                        "q\"uote");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "topics")), 2);
    assert_string_equal(str(o, "intent"), "billing");
    assert_true(num(o, "sentiment") == -0.5);
    assert_true(num(o, "sentiment_customer") == -0.75);
    assert_true(num(o, "silence_ratio") == 0.125);
    assert_int_equal((int)num(o, "duration_ms"), 61000);
    assert_int_equal((int)num(o, "overtalk_ms"), 500);
    assert_int_equal((int)num(o, "escalated"), 1);
    assert_int_equal((int)num(o, "resolved"), 0);
    assert_int_equal((int)num(o, "churn_risk"), 1);
    assert_int_equal((int)num(o, "csat"), -1);
    assert_int_equal((int)num(o, "nps"), 3);
    assert_int_equal((int)num(o, "pii_redactions"), 2);
    assert_int_equal((int)num(o, "utterance_count"), 2);
    assert_string_equal(str(o, "text"), "meu cartão [CARD]\nok");
    /* Exactly the columns of the interactions table. */
    assert_int_equal(cJSON_GetArraySize(o), 32);
    cJSON_Delete(o);
    sp_buf_cleanup(&b);
}

static void test_utterance_rows(void **state)
{
    ap_utterance_t u[2];
    ap_record_t r = sample(u);
    sp_buf_t b;
    (void)state;

    sp_buf_init(&b, 0);
    ap_rows_utterances(&b, &r);
    const char *p = sp_buf_data(&b);
    const char *nl = strchr(p, '\n');
    assert_non_null(nl);
    cJSON *a = parse_line(p, (size_t)(nl - p));
    cJSON *c = parse_line(nl + 1, strlen(nl + 1));
    assert_int_equal((int)num(a, "seq"), 0);
    assert_int_equal((int)num(c, "seq"), 1);
    assert_string_equal(str(a, "speaker"), "customer");
    assert_int_equal((int)num(a, "end_ms"), 3000);
    /* Unknown times are stored as 0 (UInt32 columns). */
    assert_int_equal((int)num(c, "start_ms"), 0);
    assert_int_equal((int)num(c, "end_ms"), 0);
    assert_true(num(a, "sentiment") == -0.75);
    assert_string_equal(str(a, "text"), "meu cartão [CARD]");
    assert_int_equal((int64_t)num(c, "occurred_at"), 1763800000);
    assert_int_equal(cJSON_GetArraySize(a), 10);
    cJSON_Delete(a);
    cJSON_Delete(c);

    /* No utterances, no rows. */
    sp_buf_cleanup(&b);
    r.n_utterances = 0;
    ap_rows_utterances(&b, &r);
    assert_int_equal(sp_buf_len(&b), 0);
    sp_buf_cleanup(&b);
}

static void test_event_payloads(void **state)
{
    ap_utterance_t u[2];
    ap_record_t r = sample(u);
    sp_buf_t b;
    (void)state;

    sp_buf_init(&b, 0);
    ap_payload_analysis(&b, &r);
    cJSON *o = parse_line(sp_buf_data(&b), sp_buf_len(&b));
    assert_string_equal(str(o, "interaction_id"), r.interaction_id);
    assert_string_equal(str(o, "tenant_id"), r.tenant_id);
    assert_int_equal((int64_t)num(o, "occurred_at_unix_ms"), 1763800000999);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "escalated")));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(o, "resolved")));
    assert_true(num(o, "sentiment") == -0.5);
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "topics"), 0)->valuestring,
                        "billing");
    assert_int_equal((int)num(o, "nps"), 3);
    assert_null(cJSON_GetObjectItem(o, "text")); /* no transcript in events */
    cJSON_Delete(o);
    sp_buf_cleanup(&b);

    ap_payload_usage(&b, &r);
    o = parse_line(sp_buf_data(&b), sp_buf_len(&b));
    assert_string_equal(str(o, "meter"), AP_USAGE_METER);
    assert_int_equal((int)num(o, "quantity"), 1);
    assert_string_equal(str(o, "idempotency_key"), r.interaction_id);
    assert_string_equal(str(o, "interaction_id"), r.interaction_id);
    assert_string_equal(str(o, "tenant_id"), r.tenant_id);
    cJSON_Delete(o);
    sp_buf_cleanup(&b);

    const unsigned char original[] = {0x0a, 0xff, 0x00, '"', 'x'};
    ap_dead_info_t d = {.reason = "invalid_value",
                        .detail = "survey.nps is not -1 or 0..10",
                        .topic = "t.serphona.interactions.v1",
                        .partition = 3,
                        .offset = 1234,
                        .event_id = NULL,
                        .event_type = "interaction.recorded",
                        .rejected_at_ms = 1763800000000,
                        .value = original,
                        .value_len = sizeof original};
    assert_int_equal(ap_payload_rejected(&b, &d), 0);
    o = parse_line(sp_buf_data(&b), sp_buf_len(&b));
    assert_string_equal(str(o, "reason"), "invalid_value");
    const cJSON *src = cJSON_GetObjectItem(o, "source");
    assert_string_equal(str(src, "topic"), "t.serphona.interactions.v1");
    assert_int_equal((int)num(src, "partition"), 3);
    assert_int_equal((int)num(src, "offset"), 1234);
    assert_string_equal(str(src, "event_id"), "");
    /* The original bytes come back exactly. */
    const char *b64 = str(o, "original_b64url");
    uint8_t back[16];
    size_t n = 0;
    assert_int_equal(sp_base64url_decode(b64, strlen(b64), back, sizeof back, &n), 0);
    assert_int_equal(n, sizeof original);
    assert_memory_equal(back, original, sizeof original);
    cJSON_Delete(o);
    sp_buf_cleanup(&b);
}

int main(void)
{
    sp_log_init("test-rows", SP_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_strings),
        cmocka_unit_test(test_interaction_row),
        cmocka_unit_test(test_utterance_rows),
        cmocka_unit_test(test_event_payloads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
