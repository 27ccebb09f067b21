/*
 * test_interaction.c — the ingestion item shape: every channel's valid form,
 * every rejection code with the field it names, the deterministic id, RFC
 * 3339 and UTF-8. Pure: no servers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/interaction.h"
#include "../src/timestamp.h"
#include "platform/error.h"

#define TENANT "11111111-2222-4333-8444-555555555555"
/* 2024-06-01T00:00:00Z: "now" for the tests. */
#define NOW_MS 1717200000000LL

typedef Serphona__Interactions__V1__Interaction ix_t;

static void json_free(void *p)
{
    cJSON_Delete(p);
}

/* Builds from JSON text; returns the SP code, *out / *why filled. */
static int build(sp_arena_t *arena, const char *json, ix_t **out, tg_reject_t *why)
{
    cJSON *item = cJSON_Parse(json);
    assert_non_null(item);
    sp_arena_defer(arena, json_free, item);
    memset(why, 0, sizeof(*why));
    return tg_interaction_build(arena, TENANT, item, "api", NOW_MS, out, why);
}

static ix_t *ok(sp_arena_t *arena, const char *json)
{
    ix_t *ix = NULL;
    tg_reject_t why;
    int rc = build(arena, json, &ix, &why);
    if (rc != 0)
        fail_msg("expected valid, got %s (%s): %s\n%s", why.code, why.field, why.message, json);
    return ix;
}

static void refused(sp_arena_t *arena, const char *json, const char *code, const char *field)
{
    ix_t *ix = NULL;
    tg_reject_t why;
    int rc = build(arena, json, &ix, &why);
    if (rc != SP_EINVAL)
        fail_msg("expected %s on %s, got rc %d\n%s", code, field, rc, json);
    if (strcmp(why.code, code) != 0 || strcmp(why.field, field) != 0)
        fail_msg("expected %s on '%s', got %s on '%s' (%s)\n%s", code, field, why.code, why.field,
                 why.message, json);
    assert_non_null(why.message);
    assert_true(strlen(why.message) > 0);
    assert_null(ix);
}

#define HEAD "\"external_id\":\"x-1\",\"occurred_at\":\"2024-05-01T10:00:00Z\","

static void test_rfc3339(void **state)
{
    (void)state;
    int64_t ms = 0;
    assert_int_equal(tg_rfc3339_parse("1970-01-01T00:00:00Z", &ms), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(tg_rfc3339_parse("2024-05-01T10:00:00Z", &ms), 0);
    assert_int_equal(ms, 1714557600000LL);
    assert_int_equal(tg_rfc3339_parse("2024-05-01t12:00:00.5+02:00", &ms), 0);
    assert_int_equal(ms, 1714557600500LL);
    assert_int_equal(tg_rfc3339_parse("2024-05-01 07:30:00.123456-02:30", &ms), 0);
    assert_int_equal(ms, 1714557600123LL);
    assert_int_equal(tg_rfc3339_parse("2024-02-29T00:00:00z", &ms), 0); /* leap year */
    assert_int_equal(tg_rfc3339_parse("2000-02-29T00:00:00Z", &ms), 0);
    assert_int_equal(tg_rfc3339_parse("2016-12-31T23:59:60Z", &ms), 0); /* leap second */
    assert_int_equal(ms, 1483228799999LL);
    const char *bad[] = {"2024-05-01T10:00:00",       "2024-05-01",
                         "2023-02-29T00:00:00Z",      "1900-02-29T00:00:00Z",
                         "2024-13-01T00:00:00Z",      "2024-04-31T00:00:00Z",
                         "2024-05-01T24:00:00Z",      "2024-05-01T10:60:00Z",
                         "2024-05-01T10:00:00.Z",     "2024-05-01T10:00:00+2:00",
                         "2024-05-01T10:00:00+24:00", "2024-05-01T10:00:00Zjunk",
                         "24-05-01T10:00:00Z",        "",
                         "2024-05-01X10:00:00Z",      "2024-5-01T10:00:00Z"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (tg_rfc3339_parse(bad[i], &ms) != SP_EINVAL)
            fail_msg("accepted %s", bad[i]);
    char out[TG_RFC3339_LEN];
    tg_rfc3339_format(1714557600123LL, out);
    assert_string_equal(out, "2024-05-01T10:00:00.123Z");
    tg_rfc3339_format(-1, out);
    assert_string_equal(out, "1969-12-31T23:59:59.999Z");
    assert_int_equal(tg_rfc3339_parse(out, &ms), 0);
    assert_int_equal(ms, -1);
    assert_int_equal(tg_days_from_civil(2000, 3, 1), 11017);
}

static void test_utf8(void **state)
{
    (void)state;
    assert_true(tg_utf8_valid("plain", 5));
    assert_true(tg_utf8_valid("ol\xc3\xa1 \xe2\x82\xac \xf0\x9f\x98\x80", 13));
    assert_false(tg_utf8_valid("\xc3", 1));             /* truncated */
    assert_false(tg_utf8_valid("\xc0\xaf", 2));         /* overlong '/' */
    assert_false(tg_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    assert_false(tg_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    assert_false(tg_utf8_valid("\xff", 1));
    assert_false(tg_utf8_valid("a\x80", 2));
}

static void test_deterministic_id(void **state)
{
    (void)state;
    char a[SP_UUID_STR_LEN], b[SP_UUID_STR_LEN], c[SP_UUID_STR_LEN];
    /* Vector computed independently (Python hashlib). */
    tg_interaction_id(TENANT, "c-1", a);
    assert_string_equal(a, "3ddcfde4-e51d-8055-abc5-50f2b8ba141c");
    tg_interaction_id(TENANT, "c-1", b);
    assert_string_equal(a, b);
    assert_int_equal(a[14], '8');           /* version 8 */
    assert_non_null(strchr("89ab", a[19])); /* RFC 4122 variant */
    tg_interaction_id("22222222-2222-4333-8444-555555555555", "c-1", c);
    assert_string_not_equal(a, c); /* per tenant */
    tg_interaction_id(TENANT, "c-2", c);
    assert_string_not_equal(a, c);
    /* The separator keeps ("ab","c") and ("a","bc") apart. */
    tg_interaction_id("ab", "c", b);
    tg_interaction_id("a", "bc", c);
    assert_string_not_equal(b, c);
    tg_interaction_id(TENANT, "ab", c);
    assert_string_equal(c, "ea6497ea-d2f2-81ff-bc7b-b76469c13b07");
}

static void test_call(void **state)
{
    (void)state;
    sp_arena_t *arena = sp_arena_new();
    ix_t *ix =
        ok(arena, "{" HEAD "\"channel\":\"call\",\"language\":\"pt-BR\","
                  "\"agent\":{\"id\":\"a-7\",\"name\":\"Ana Souza\"},\"customer_ref\":\"cust-42\","
                  "\"tags\":[\"vip\",\"renewal\"],\"metadata\":{\"queue\":\"billing\",\"wait_s\":"
                  "12,\"vip\":true,\"score\":0.5},"
                  "\"utterances\":[{\"speaker\":\"agent\",\"text\":\"Olá, em que posso ajudar?\","
                  "\"start_ms\":0,\"end_ms\":2500},{\"speaker\":\"customer\",\"text\":\"Meu "
                  "cartão foi bloqueado\",\"start_ms\":2000,\"end_ms\":5000},{\"speaker\":"
                  "\"system\",\"text\":\"hold\",\"start_ms\":9000,\"end_ms\":9000}]}");
    char id[SP_UUID_STR_LEN];
    tg_interaction_id(TENANT, "x-1", id);
    assert_string_equal(ix->interaction_id, id);
    assert_string_equal(ix->tenant_id, TENANT);
    assert_string_equal(ix->external_id, "x-1");
    assert_string_equal(ix->channel, "call");
    assert_string_equal(ix->source, "api");
    assert_int_equal(ix->occurred_at_unix_ms, 1714557600000LL);
    assert_string_equal(ix->language, "pt");
    assert_string_equal(ix->agent_id, "a-7");
    assert_string_equal(ix->agent_name, "Ana Souza");
    assert_string_equal(ix->customer_ref, "cust-42");
    assert_int_equal(ix->n_tags, 2);
    assert_string_equal(ix->tags[1], "renewal");
    assert_int_equal(ix->n_metadata, 4);
    assert_string_equal(ix->metadata[0]->key, "queue");
    assert_string_equal(ix->metadata[1]->value, "12");
    assert_string_equal(ix->metadata[2]->value, "true");
    assert_string_equal(ix->metadata[3]->value, "0.5");
    assert_int_equal(ix->n_utterances, 3);
    assert_string_equal(ix->utterances[1]->speaker, "customer");
    /* Overtalk (2000 < 2500) is kept as sent. */
    assert_int_equal(ix->utterances[1]->start_ms, 2000);
    assert_int_equal(ix->utterances[0]->end_ms, 2500);
    assert_null(ix->survey);
    assert_int_equal(ix->rating, 0);

    /* The protobuf round-trips. */
    size_t len = protobuf_c_message_get_packed_size(&ix->base);
    uint8_t *buf = malloc(len);
    protobuf_c_message_pack(&ix->base, buf);
    ix_t *back = serphona__interactions__v1__interaction__unpack(NULL, len, buf);
    assert_non_null(back);
    assert_string_equal(back->interaction_id, id);
    assert_string_equal(back->utterances[0]->text, "Olá, em que posso ajudar?");
    assert_int_equal(back->utterances[2]->start_ms, 9000);
    serphona__interactions__v1__interaction__free_unpacked(back, NULL);
    free(buf);
    sp_arena_destroy(&arena);
}

static void test_threads(void **state)
{
    (void)state;
    sp_arena_t *arena = sp_arena_new();
    ix_t *ix =
        ok(arena, "{" HEAD "\"channel\":\"chat\",\"utterances\":["
                  "{\"speaker\":\"customer\",\"text\":\"hi\",\"at\":\"2024-05-01T10:00:05Z\"},"
                  "{\"speaker\":\"agent\",\"text\":\"hello\",\"start_ms\":9000,\"end_ms\":9500},"
                  "{\"speaker\":\"customer\",\"text\":\"thanks\"}]}");
    assert_int_equal(ix->utterances[0]->start_ms, 5000);
    assert_int_equal(ix->utterances[0]->end_ms, -1);
    assert_int_equal(ix->utterances[1]->start_ms, 9000);
    assert_int_equal(ix->utterances[1]->end_ms, 9500);
    assert_int_equal(ix->utterances[2]->start_ms, -1);
    ix = ok(arena, "{" HEAD "\"channel\":\"whatsapp\",\"language\":\"es\",\"utterances\":["
                   "{\"speaker\":\"customer\",\"text\":\"¿Dónde está mi pedido? 📦\"}]}");
    assert_string_equal(ix->channel, "whatsapp");
    assert_string_equal(ix->language, "es");
    /* Threads need not be in order (exports are not always sorted). */
    ok(arena, "{" HEAD "\"channel\":\"chat\",\"utterances\":[{\"speaker\":\"agent\",\"text\":\"b\","
              "\"start_ms\":5},{\"speaker\":\"customer\",\"text\":\"a\",\"start_ms\":1}]}");
    sp_arena_destroy(&arena);
}

static void test_email_survey_review(void **state)
{
    (void)state;
    sp_arena_t *arena = sp_arena_new();
    ix_t *ix = ok(arena, "{" HEAD "\"channel\":\"email\",\"subject\":\"Refund\",\"text\":\"Please "
                         "refund order 123.\"}");
    assert_string_equal(ix->subject, "Refund");
    assert_int_equal(ix->n_utterances, 1);
    assert_string_equal(ix->utterances[0]->speaker, "customer");
    assert_string_equal(ix->utterances[0]->text, "Please refund order 123.");
    ix = ok(arena, "{" HEAD "\"channel\":\"email\",\"direction\":\"outbound\",\"text\":\"Done.\"}");
    assert_string_equal(ix->utterances[0]->speaker, "agent");
    ix = ok(arena, "{" HEAD "\"channel\":\"email\",\"utterances\":[{\"speaker\":\"customer\","
                   "\"text\":\"q\",\"at\":\"2024-05-01T10:00:00Z\"},{\"speaker\":\"agent\","
                   "\"text\":\"a\",\"at\":\"2024-05-02T09:00:00+02:00\"}]}");
    assert_int_equal(ix->utterances[1]->start_ms, (23 - 2) * 3600 * 1000LL);

    ix = ok(arena,
            "{" HEAD "\"channel\":\"survey\",\"survey\":{\"nps\":9,\"csat\":4},\"text\":\"Fast "
            "and kind\"}");
    assert_non_null(ix->survey);
    assert_int_equal(ix->survey->nps, 9);
    assert_int_equal(ix->survey->csat, 4);
    assert_string_equal(ix->utterances[0]->text, "Fast and kind");
    ix = ok(arena, "{" HEAD "\"channel\":\"survey\",\"survey\":{\"nps\":0}}");
    assert_int_equal(ix->survey->nps, 0);
    assert_int_equal(ix->survey->csat, -1);
    assert_int_equal(ix->n_utterances, 0);
    ix = ok(arena, "{" HEAD "\"channel\":\"survey\",\"survey\":{\"csat\":1}}");
    assert_int_equal(ix->survey->nps, -1);

    ix = ok(arena,
            "{" HEAD "\"channel\":\"review\",\"rating\":2,\"subject\":\"Meh\",\"text\":\"Late "
            "delivery\"}");
    assert_int_equal(ix->rating, 2);
    assert_string_equal(ix->subject, "Meh");
    assert_string_equal(ix->utterances[0]->speaker, "customer");
    ix = ok(arena, "{" HEAD "\"channel\":\"review\",\"rating\":5}");
    assert_int_equal(ix->n_utterances, 0);
    /* Nulls are absent members. */
    ok(arena, "{" HEAD "\"channel\":\"review\",\"rating\":5,\"language\":null,\"agent\":null,"
              "\"tags\":null,\"text\":null}");
    sp_arena_destroy(&arena);
}

static void test_rejections(void **state)
{
    (void)state;
    sp_arena_t *arena = sp_arena_new();
    static const struct {
        const char *json, *code, *field;
    } cases[] = {
        {"[1]", TG_E_INVALID_ITEM, ""},
        {"\"x\"", TG_E_INVALID_ITEM, ""},
        {"{\"channel\":\"call\"}", TG_E_MISSING_FIELD, "external_id"},
        {"{\"external_id\":\"\",\"channel\":\"call\"}", TG_E_INVALID_VALUE, "external_id"},
        {"{\"external_id\":\"a\\nb\",\"channel\":\"call\"}", TG_E_INVALID_VALUE, "external_id"},
        {"{\"external_id\":7,\"channel\":\"call\"}", TG_E_INVALID_TYPE, "external_id"},
        {"{\"external_id\":\"x\"}", TG_E_MISSING_FIELD, "channel"},
        {"{\"external_id\":\"x\",\"channel\":\"fax\"}", TG_E_UNKNOWN_CHANNEL, "channel"},
        {"{" HEAD "\"channel\":\"review\",\"rating\":5,\"ratng\":1}", TG_E_UNKNOWN_FIELD, "ratng"},
        {"{" HEAD "\"channel\":\"call\",\"rating\":5}", TG_E_FIELD_NOT_ALLOWED, "rating"},
        {"{" HEAD "\"channel\":\"chat\",\"survey\":{}}", TG_E_FIELD_NOT_ALLOWED, "survey"},
        {"{\"external_id\":\"x\",\"channel\":\"review\",\"rating\":5}", TG_E_MISSING_FIELD,
         "occurred_at"},
        {"{\"external_id\":\"x\",\"channel\":\"review\",\"rating\":5,\"occurred_at\":"
         "\"2024-05-01 10:00\"}",
         TG_E_INVALID_TIMESTAMP, "occurred_at"},
        {"{\"external_id\":\"x\",\"channel\":\"review\",\"rating\":5,\"occurred_at\":"
         "\"2024-06-03T00:00:00Z\"}",
         TG_E_OUT_OF_RANGE, "occurred_at"},
        {"{\"external_id\":\"x\",\"channel\":\"review\",\"rating\":5,\"occurred_at\":"
         "\"1989-12-31T23:59:59Z\"}",
         TG_E_OUT_OF_RANGE, "occurred_at"},
        {"{" HEAD "\"channel\":\"review\",\"rating\":5,\"language\":\"english!\"}",
         TG_E_INVALID_VALUE, "language"},
        {"{" HEAD "\"channel\":\"review\",\"rating\":5,\"language\":\"e\"}", TG_E_INVALID_VALUE,
         "language"},
        {"{" HEAD "\"channel\":\"review\",\"rating\":5,\"agent\":\"Ana\"}", TG_E_INVALID_TYPE,
         "agent"},
        {"{" HEAD "\"channel\":\"review\",\"rating\":5,\"agent\":{\"id\":1}}", TG_E_INVALID_TYPE,
         "agent.id"},
        {"{" HEAD "\"channel\":\"review\",\"rating\":5,\"agent\":{\"email\":\"a\"}}",
         TG_E_UNKNOWN_FIELD, "agent.email"},
        {"{" HEAD "\"channel\":\"review\",\"rating\":5,\"customer_ref\":\"jo@example.com\"}",
         TG_E_PII, "customer_ref"},
        {"{" HEAD "\"channel\":\"review\",\"rating\":5,\"tags\":\"vip\"}", TG_E_INVALID_TYPE,
         "tags"},
        {"{" HEAD "\"channel\":\"review\",\"rating\":5,\"tags\":[\"ok\",3]}", TG_E_INVALID_TYPE,
         "tags[1]"},
        {"{" HEAD "\"channel\":\"review\",\"rating\":5,\"tags\":[\"\"]}", TG_E_INVALID_VALUE,
         "tags[0]"},
        {"{" HEAD "\"channel\":\"review\",\"rating\":5,\"tags\":[\"1\",\"2\",\"3\",\"4\",\"5\","
         "\"6\",\"7\",\"8\",\"9\",\"10\",\"11\",\"12\",\"13\",\"14\",\"15\",\"16\",\"17\",\"18\","
         "\"19\",\"20\",\"21\"]}",
         TG_E_TOO_MANY, "tags"},
        {"{" HEAD "\"channel\":\"review\",\"rating\":5,\"metadata\":[]}", TG_E_INVALID_TYPE,
         "metadata"},
        {"{" HEAD "\"channel\":\"review\",\"rating\":5,\"metadata\":{\"a b\":\"x\"}}",
         TG_E_INVALID_VALUE, "metadata"},
        {"{" HEAD "\"channel\":\"review\",\"rating\":5,\"metadata\":{\"k\":{\"n\":1}}}",
         TG_E_INVALID_TYPE, "metadata.k"},
        {"{" HEAD "\"channel\":\"review\",\"rating\":5,\"text\":\"\xc3\x28\"}", TG_E_INVALID_UTF8,
         "text"},
        /* call */
        {"{" HEAD "\"channel\":\"call\"}", TG_E_MISSING_FIELD, "utterances"},
        {"{" HEAD "\"channel\":\"call\",\"utterances\":{}}", TG_E_INVALID_TYPE, "utterances"},
        {"{" HEAD "\"channel\":\"call\",\"utterances\":[]}", TG_E_EMPTY_CONTENT, "utterances"},
        {"{" HEAD "\"channel\":\"call\",\"utterances\":[7]}", TG_E_INVALID_TYPE, "utterances[0]"},
        {"{" HEAD "\"channel\":\"call\",\"utterances\":[{\"text\":\"a\",\"start_ms\":0,\"end_ms\":"
         "1}]}",
         TG_E_MISSING_FIELD, "utterances[0].speaker"},
        {"{" HEAD "\"channel\":\"call\",\"utterances\":[{\"speaker\":\"bot\",\"text\":\"a\","
         "\"start_ms\":0,\"end_ms\":1}]}",
         TG_E_INVALID_VALUE, "utterances[0].speaker"},
        {"{" HEAD "\"channel\":\"call\",\"utterances\":[{\"speaker\":\"agent\",\"text\":\"  \","
         "\"start_ms\":0,\"end_ms\":1}]}",
         TG_E_EMPTY_CONTENT, "utterances[0].text"},
        {"{" HEAD "\"channel\":\"call\",\"utterances\":[{\"speaker\":\"agent\",\"text\":\"a\"}]}",
         TG_E_MISSING_FIELD, "utterances[0].start_ms"},
        {"{" HEAD "\"channel\":\"call\",\"utterances\":[{\"speaker\":\"agent\",\"text\":\"a\","
         "\"start_ms\":0}]}",
         TG_E_MISSING_FIELD, "utterances[0].end_ms"},
        {"{" HEAD "\"channel\":\"call\",\"utterances\":[{\"speaker\":\"agent\",\"text\":\"a\","
         "\"start_ms\":1.5,\"end_ms\":3}]}",
         TG_E_INVALID_TYPE, "utterances[0].start_ms"},
        {"{" HEAD "\"channel\":\"call\",\"utterances\":[{\"speaker\":\"agent\",\"text\":\"a\","
         "\"start_ms\":-1,\"end_ms\":3}]}",
         TG_E_OUT_OF_RANGE, "utterances[0].start_ms"},
        {"{" HEAD "\"channel\":\"call\",\"utterances\":[{\"speaker\":\"agent\",\"text\":\"a\","
         "\"start_ms\":5,\"end_ms\":3}]}",
         TG_E_OUT_OF_RANGE, "utterances[0].end_ms"},
        {"{" HEAD "\"channel\":\"call\",\"utterances\":[{\"speaker\":\"agent\",\"text\":\"a\","
         "\"start_ms\":5,\"end_ms\":6},{\"speaker\":\"customer\",\"text\":\"b\",\"start_ms\":4,"
         "\"end_ms\":7}]}",
         TG_E_OUT_OF_ORDER, "utterances[1].start_ms"},
        {"{" HEAD "\"channel\":\"call\",\"utterances\":[{\"speaker\":\"agent\",\"text\":\"a\","
         "\"start_ms\":0,\"end_ms\":1,\"at\":\"2024-05-01T10:00:00Z\"}]}",
         TG_E_UNKNOWN_FIELD, "utterances[0].at"},
        {"{" HEAD "\"channel\":\"call\",\"utterances\":[{\"speaker\":\"agent\",\"text\":\"a\","
         "\"start_ms\":0,\"end_ms\":86400001}]}",
         TG_E_OUT_OF_RANGE, "utterances[0].end_ms"},
        /* threads */
        {"{" HEAD "\"channel\":\"chat\",\"utterances\":[{\"speaker\":\"agent\",\"text\":\"a\","
         "\"at\":\"2024-05-01T09:59:59Z\"}]}",
         TG_E_OUT_OF_RANGE, "utterances[0].at"},
        {"{" HEAD "\"channel\":\"chat\",\"utterances\":[{\"speaker\":\"agent\",\"text\":\"a\","
         "\"at\":\"yesterday\"}]}",
         TG_E_INVALID_TIMESTAMP, "utterances[0].at"},
        {"{" HEAD "\"channel\":\"chat\",\"utterances\":[{\"speaker\":\"agent\",\"text\":\"a\","
         "\"at\":\"2024-05-01T10:00:00Z\",\"start_ms\":3}]}",
         TG_E_INVALID_VALUE, "utterances[0]"},
        {"{" HEAD "\"channel\":\"whatsapp\",\"utterances\":[{\"speaker\":\"agent\",\"text\":\"a\","
         "\"end_ms\":3}]}",
         TG_E_MISSING_FIELD, "utterances[0].start_ms"},
        /* email */
        {"{" HEAD "\"channel\":\"email\",\"subject\":\"s\"}", TG_E_MISSING_FIELD, "text"},
        {"{" HEAD "\"channel\":\"email\",\"text\":\"a\",\"direction\":\"sideways\"}",
         TG_E_INVALID_VALUE, "direction"},
        {"{" HEAD "\"channel\":\"email\",\"text\":\"a\",\"utterances\":[]}", TG_E_INVALID_VALUE,
         "text"},
        /* survey */
        {"{" HEAD "\"channel\":\"survey\"}", TG_E_MISSING_FIELD, "survey"},
        {"{" HEAD "\"channel\":\"survey\",\"survey\":{}}", TG_E_MISSING_FIELD, "survey"},
        {"{" HEAD "\"channel\":\"survey\",\"survey\":{\"nps\":11}}", TG_E_OUT_OF_RANGE,
         "survey.nps"},
        {"{" HEAD "\"channel\":\"survey\",\"survey\":{\"nps\":-1}}", TG_E_OUT_OF_RANGE,
         "survey.nps"},
        {"{" HEAD "\"channel\":\"survey\",\"survey\":{\"csat\":0}}", TG_E_OUT_OF_RANGE,
         "survey.csat"},
        {"{" HEAD "\"channel\":\"survey\",\"survey\":{\"csat\":\"5\"}}", TG_E_INVALID_TYPE,
         "survey.csat"},
        {"{" HEAD "\"channel\":\"survey\",\"survey\":{\"ces\":3}}", TG_E_UNKNOWN_FIELD,
         "survey.ces"},
        /* review */
        {"{" HEAD "\"channel\":\"review\"}", TG_E_MISSING_FIELD, "rating"},
        {"{" HEAD "\"channel\":\"review\",\"rating\":6}", TG_E_OUT_OF_RANGE, "rating"},
        {"{" HEAD "\"channel\":\"review\",\"rating\":4.5}", TG_E_INVALID_TYPE, "rating"},
        {"{" HEAD "\"channel\":\"review\",\"rating\":4,\"text\":\"\"}", TG_E_EMPTY_CONTENT, "text"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        refused(arena, cases[i].json, cases[i].code, cases[i].field);
    sp_arena_destroy(&arena);
}

static void test_limits(void **state)
{
    (void)state;
    sp_arena_t *arena = sp_arena_new();
    /* external_id: 128 bytes fine, 129 too long. */
    char json[70000];
    char id[130];
    memset(id, 'x', 128);
    id[128] = '\0';
    snprintf(json, sizeof(json),
             "{\"external_id\":\"%s\",\"channel\":\"review\",\"rating\":1,\"occurred_at\":"
             "\"2024-05-01T10:00:00Z\"}",
             id);
    ok(arena, json);
    id[128] = 'x';
    id[129] = '\0';
    snprintf(json, sizeof(json),
             "{\"external_id\":\"%s\",\"channel\":\"review\",\"rating\":1,\"occurred_at\":"
             "\"2024-05-01T10:00:00Z\"}",
             id);
    refused(arena, json, TG_E_TOO_LONG, "external_id");
    /* One text over 64 KiB. */
    int n =
        snprintf(json, sizeof(json), "{" HEAD "\"channel\":\"review\",\"rating\":1,\"text\":\"");
    memset(json + n, 'a', 65537);
    snprintf(json + n + 65537, sizeof(json) - (size_t)n - 65537, "\"}");
    refused(arena, json, TG_E_TOO_LONG, "text");
    /* The whole interaction over 512 KiB of text, each utterance fine. */
    size_t cap = 700000;
    char *big = malloc(cap);
    size_t off = (size_t)snprintf(big, cap, "{" HEAD "\"channel\":\"chat\",\"utterances\":[");
    for (int i = 0; i < 9; i++) {
        off += (size_t)snprintf(big + off, cap - off, "%s{\"speaker\":\"agent\",\"text\":\"",
                                i ? "," : "");
        memset(big + off, 'b', 60000);
        off += 60000;
        off += (size_t)snprintf(big + off, cap - off, "\"}");
    }
    snprintf(big + off, cap - off, "]}");
    refused(arena, big, TG_E_TOO_LONG, "utterances[8].text");
    free(big);
    sp_arena_destroy(&arena);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc3339),          cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_deterministic_id), cmocka_unit_test(test_call),
        cmocka_unit_test(test_threads),          cmocka_unit_test(test_email_survey_review),
        cmocka_unit_test(test_rejections),       cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
