/*
 * test_validate.c — what the processor accepts and what it dead-letters,
 * with which reason (validate.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "platform/log.h"
#include "../src/validate.h"

#define NOW    1763800000000LL
#define TENANT "11111111-1111-4111-8111-111111111111"
#define IX_ID  "0190A0B0-0000-7000-8000-00000000000A"

/* A valid call interaction, fields pointing at static storage. */
typedef struct {
    Serphona__Interactions__V1__Interaction ix;
    Serphona__Interactions__V1__Utterance u[2];
    Serphona__Interactions__V1__Utterance *up[2];
    Serphona__Interactions__V1__Survey survey;
    char *tags[1];
} fixture_t;

static void fixture_init(fixture_t *f)
{
    memset(f, 0, sizeof *f);
    serphona__interactions__v1__interaction__init(&f->ix);
    f->ix.interaction_id = IX_ID;
    f->ix.tenant_id = TENANT;
    f->ix.external_id = "call-1";
    f->ix.channel = "call";
    f->ix.occurred_at_unix_ms = NOW - 3600000;
    f->ix.agent_id = "a1";
    for (int i = 0; i < 2; i++) {
        serphona__interactions__v1__utterance__init(&f->u[i]);
        f->u[i].speaker = i ? "agent" : "customer";
        f->u[i].start_ms = i * 1000;
        f->u[i].end_ms = i * 1000 + 900;
        f->u[i].text = "hello";
        f->up[i] = &f->u[i];
    }
    f->ix.n_utterances = 2;
    f->ix.utterances = f->up;
    f->tags[0] = "vip";
    f->ix.tags = f->tags;
    f->ix.n_tags = 1;
}

/* Wraps f's Interaction into an envelope (payload malloc'd; free with
 * event_free). */
static Serphona__Events__V1__Event *wrap(const fixture_t *f, const char *type,
                                         const char *content_type, const char *tenant)
{
    Serphona__Events__V1__Event *ev = calloc(1, sizeof *ev);
    serphona__events__v1__event__init(ev);
    ev->event_id = "01a20409-f7af-746c-82dd-f59c041fee1f";
    ev->type = (char *)type;
    ev->tenant_id = (char *)tenant;
    ev->content_type = (char *)content_type;
    ev->payload.len = serphona__interactions__v1__interaction__get_packed_size(&f->ix);
    ev->payload.data = malloc(ev->payload.len + 1);
    serphona__interactions__v1__interaction__pack(&f->ix, ev->payload.data);
    return ev;
}

static void event_free(Serphona__Events__V1__Event *ev)
{
    free(ev->payload.data);
    free(ev);
}

/* The reason ap_validate gives for f (NULL when valid). */
static const char *verdict(const fixture_t *f, char *detail)
{
    ap_verdict_t v;
    Serphona__Events__V1__Event *ev = wrap(f, AP_EVENT_TYPE, AP_CONTENT_TYPE, TENANT);
    Serphona__Interactions__V1__Interaction *ix = ap_validate(ev, NOW, &v);
    if (ix) {
        assert_null(v.reason);
        serphona__interactions__v1__interaction__free_unpacked(ix, NULL);
    } else {
        assert_non_null(v.reason);
        assert_true(strlen(v.detail) > 0);
    }
    if (detail)
        strcpy(detail, v.detail);
    event_free(ev);
    return v.reason;
}

static void test_valid_interaction_passes(void **state)
{
    fixture_t f;
    ap_verdict_t v;
    (void)state;

    fixture_init(&f);
    Serphona__Events__V1__Event *ev = wrap(&f, AP_EVENT_TYPE, AP_CONTENT_TYPE, TENANT);
    Serphona__Interactions__V1__Interaction *ix = ap_validate(ev, NOW, &v);
    assert_non_null(ix);
    assert_null(v.reason);
    assert_string_equal(ix->interaction_id, IX_ID);
    assert_int_equal(ix->n_utterances, 2);
    serphona__interactions__v1__interaction__free_unpacked(ix, NULL);
    event_free(ev);

    /* Envelope tenant compared case-insensitively (UUIDs). */
    ev = wrap(&f, AP_EVENT_TYPE, AP_CONTENT_TYPE, "11111111-1111-4111-8111-111111111111");
    ix = ap_validate(ev, NOW, &v);
    assert_non_null(ix);
    serphona__interactions__v1__interaction__free_unpacked(ix, NULL);
    event_free(ev);

    /* Unknown times (-1), a survey with csat "never set" (0), rating 5. */
    f.u[0].start_ms = -1;
    f.u[0].end_ms = -1;
    f.survey = (Serphona__Interactions__V1__Survey)SERPHONA__INTERACTIONS__V1__SURVEY__INIT;
    f.survey.nps = 0;
    f.survey.csat = 0;
    f.ix.survey = &f.survey;
    f.ix.rating = 5;
    f.ix.channel = "survey";
    assert_null(verdict(&f, NULL));
    /* No utterances at all (a bare survey score) is fine too. */
    f.ix.n_utterances = 0;
    assert_null(verdict(&f, NULL));
}

static void test_envelope_poison(void **state)
{
    fixture_t f;
    ap_verdict_t v;
    (void)state;

    fixture_init(&f);
    assert_null(ap_validate(NULL, NOW, &v));
    assert_string_equal(v.reason, AP_R_UNDECODABLE_ENVELOPE);

    Serphona__Events__V1__Event *ev = wrap(&f, "conversation.ended", AP_CONTENT_TYPE, TENANT);
    assert_null(ap_validate(ev, NOW, &v));
    assert_string_equal(v.reason, AP_R_UNEXPECTED_TYPE);
    event_free(ev);

    ev = wrap(&f, AP_EVENT_TYPE, "application/json", TENANT);
    assert_null(ap_validate(ev, NOW, &v));
    assert_string_equal(v.reason, AP_R_CONTENT_TYPE);
    event_free(ev);

    ev = wrap(&f, AP_EVENT_TYPE, AP_CONTENT_TYPE, TENANT);
    /* A varint field whose value never ends: not a message. */
    memset(ev->payload.data, 0xff, ev->payload.len);
    assert_null(ap_validate(ev, NOW, &v));
    assert_string_equal(v.reason, AP_R_UNDECODABLE_PAYLOAD);
    event_free(ev);

    ev = wrap(&f, AP_EVENT_TYPE, AP_CONTENT_TYPE, "22222222-2222-4222-8222-222222222222");
    assert_null(ap_validate(ev, NOW, &v));
    assert_string_equal(v.reason, AP_R_TENANT_MISMATCH);
    event_free(ev);
}

static void test_missing_and_invalid_ids(void **state)
{
    fixture_t f;
    (void)state;

    fixture_init(&f);
    f.ix.tenant_id = "";
    assert_string_equal(verdict(&f, NULL), AP_R_MISSING_FIELD);
    f.ix.tenant_id = "acme";
    assert_string_equal(verdict(&f, NULL), AP_R_INVALID_ID);
    fixture_init(&f);
    f.ix.interaction_id = "";
    assert_string_equal(verdict(&f, NULL), AP_R_MISSING_FIELD);
    f.ix.interaction_id = "0190a0b0-0000-7000-8000-00000000000g";
    assert_string_equal(verdict(&f, NULL), AP_R_INVALID_ID);
    f.ix.interaction_id = "0190a0b0a0000-7000-8000-00000000000a";
    assert_string_equal(verdict(&f, NULL), AP_R_INVALID_ID);
    fixture_init(&f);
    f.ix.external_id = "";
    assert_string_equal(verdict(&f, NULL), AP_R_MISSING_FIELD);
}

static void test_absurd_values(void **state)
{
    fixture_t f;
    char detail[AP_DETAIL_MAX];
    (void)state;

    fixture_init(&f);
    f.ix.channel = "fax";
    assert_string_equal(verdict(&f, NULL), AP_R_INVALID_VALUE);
    fixture_init(&f);
    f.ix.occurred_at_unix_ms = 0;
    assert_string_equal(verdict(&f, detail), AP_R_INVALID_VALUE);
    assert_non_null(strstr(detail, "occurred_at"));
    f.ix.occurred_at_unix_ms = NOW + 2 * 86400000LL;
    assert_string_equal(verdict(&f, NULL), AP_R_INVALID_VALUE);
    f.ix.occurred_at_unix_ms = NOW + 3600000; /* within a day ahead: clock skew */
    assert_null(verdict(&f, NULL));

    fixture_init(&f);
    f.u[1].speaker = "robot";
    assert_string_equal(verdict(&f, detail), AP_R_INVALID_VALUE);
    assert_non_null(strstr(detail, "utterance 1"));
    fixture_init(&f);
    f.u[0].start_ms = 5000;
    f.u[0].end_ms = 4000;
    assert_string_equal(verdict(&f, NULL), AP_R_INVALID_VALUE);
    fixture_init(&f);
    f.u[0].start_ms = -7;
    assert_string_equal(verdict(&f, NULL), AP_R_INVALID_VALUE);
    f.u[0].start_ms = AP_MAX_SPAN_MS + 1;
    f.u[0].end_ms = AP_MAX_SPAN_MS + 2;
    assert_string_equal(verdict(&f, NULL), AP_R_INVALID_VALUE);

    fixture_init(&f);
    f.survey = (Serphona__Interactions__V1__Survey)SERPHONA__INTERACTIONS__V1__SURVEY__INIT;
    f.ix.survey = &f.survey;
    f.survey.nps = 11;
    f.survey.csat = -1;
    assert_string_equal(verdict(&f, detail), AP_R_INVALID_VALUE);
    assert_non_null(strstr(detail, "nps"));
    f.survey.nps = -1;
    f.survey.csat = 6;
    assert_string_equal(verdict(&f, detail), AP_R_INVALID_VALUE);
    assert_non_null(strstr(detail, "csat"));
    f.survey.csat = -2;
    assert_string_equal(verdict(&f, NULL), AP_R_INVALID_VALUE);
    f.survey.csat = 5;
    f.survey.nps = 10;
    assert_null(verdict(&f, NULL));
    f.ix.rating = 6;
    assert_string_equal(verdict(&f, NULL), AP_R_INVALID_VALUE);
    f.ix.rating = -1;
    assert_string_equal(verdict(&f, NULL), AP_R_INVALID_VALUE);
}

static void test_limits(void **state)
{
    fixture_t f;
    char big[AP_MAX_FIELD_BYTES + 2];
    (void)state;

    fixture_init(&f);
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    f.ix.agent_name = big;
    assert_string_equal(verdict(&f, NULL), AP_R_TOO_LARGE);

    fixture_init(&f);
    char *text = malloc(AP_MAX_TEXT_BYTES / 2 + 2);
    memset(text, 'a', AP_MAX_TEXT_BYTES / 2 + 1);
    text[AP_MAX_TEXT_BYTES / 2 + 1] = '\0';
    f.u[0].text = text;
    f.u[1].text = text; /* together two bytes over the limit */
    assert_string_equal(verdict(&f, NULL), AP_R_TOO_LARGE);
    f.u[1].text = "ok";
    assert_null(verdict(&f, NULL));
    free(text);

    fixture_init(&f);
    size_t n = AP_MAX_UTTERANCES + 1;
    Serphona__Interactions__V1__Utterance **many = calloc(n, sizeof(void *));
    for (size_t i = 0; i < n; i++)
        many[i] = &f.u[0];
    f.ix.utterances = many;
    f.ix.n_utterances = n;
    assert_string_equal(verdict(&f, NULL), AP_R_TOO_LARGE);
    f.ix.n_utterances = AP_MAX_UTTERANCES;
    assert_null(verdict(&f, NULL));
    free(many);

    fixture_init(&f);
    char *tags[AP_MAX_TAGS + 1];
    for (int i = 0; i <= AP_MAX_TAGS; i++)
        tags[i] = "t";
    f.ix.tags = tags;
    f.ix.n_tags = AP_MAX_TAGS + 1;
    assert_string_equal(verdict(&f, NULL), AP_R_TOO_LARGE);
}

static void test_helpers(void **state)
{
    char out[37];
    (void)state;

    assert_true(sp_uuid_valid("0190a0b0-0000-7000-8000-00000000000a"));
    assert_true(sp_uuid_valid("0190A0B0-0000-7000-8000-00000000000A"));
    assert_false(sp_uuid_valid(NULL));
    assert_false(sp_uuid_valid(""));
    assert_false(sp_uuid_valid("0190a0b0-0000-7000-8000-00000000000a0"));
    assert_false(sp_uuid_valid("0190a0b0_0000-7000-8000-00000000000a"));
    ap_uuid_lower("0190A0B0-0000-7000-8000-00000000000A", out);
    assert_string_equal(out, "0190a0b0-0000-7000-8000-00000000000a");
    assert_true(ap_channel_valid("whatsapp"));
    assert_true(ap_channel_valid("review"));
    assert_false(ap_channel_valid("Call"));
    assert_false(ap_channel_valid(NULL));
}

int main(void)
{
    sp_log_init("test-validate", SP_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_interaction_passes),
        cmocka_unit_test(test_envelope_poison),
        cmocka_unit_test(test_missing_and_invalid_ids),
        cmocka_unit_test(test_absurd_values),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
