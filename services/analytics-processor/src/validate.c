/*
 * validate.c — decoding and sanity checks of interaction events
 * (validate.h).
 */
#include "validate.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "platform/crypto.h"

static const char *const CHANNELS[] = {"call", "chat", "whatsapp", "email", "survey", "review"};

static int reject(ap_verdict_t *v, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int reject(ap_verdict_t *v, const char *reason, const char *fmt, ...)
{
    va_list ap;

    v->reason = reason;
    va_start(ap, fmt);
    vsnprintf(v->detail, sizeof v->detail, fmt, ap);
    va_end(ap);
    return -1;
}

void ap_uuid_lower(const char *s, char *out)
{
    size_t i = 0;
    for (; i < SP_UUID_STR_LEN - 1 && s[i]; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[i] = '\0';
}

int ap_channel_valid(const char *channel)
{
    for (size_t i = 0; channel && i < sizeof CHANNELS / sizeof CHANNELS[0]; i++)
        if (!strcmp(channel, CHANNELS[i]))
            return 1;
    return 0;
}

static int speaker_valid(const char *s)
{
    return s && (!strcmp(s, "agent") || !strcmp(s, "customer") || !strcmp(s, "system"));
}

static int short_field(const char *name, const char *value, ap_verdict_t *v)
{
    if (value && strlen(value) > AP_MAX_FIELD_BYTES)
        return reject(v, AP_R_TOO_LARGE, "%s longer than %d bytes", name, AP_MAX_FIELD_BYTES);
    return 0;
}

int ap_validate_interaction(const Serphona__Interactions__V1__Interaction *ix, int64_t now_ms,
                            ap_verdict_t *v)
{
    size_t text_bytes = 0;

    v->reason = NULL;
    v->detail[0] = '\0';
    if (!ix->tenant_id || !*ix->tenant_id)
        return reject(v, AP_R_MISSING_FIELD, "tenant_id is empty");
    if (!sp_uuid_valid(ix->tenant_id))
        return reject(v, AP_R_INVALID_ID, "tenant_id is not a UUID");
    if (!ix->interaction_id || !*ix->interaction_id)
        return reject(v, AP_R_MISSING_FIELD, "interaction_id is empty");
    if (!sp_uuid_valid(ix->interaction_id))
        return reject(v, AP_R_INVALID_ID, "interaction_id is not a UUID");
    if (!ix->external_id || !*ix->external_id)
        return reject(v, AP_R_MISSING_FIELD, "external_id is empty");
    if (short_field("external_id", ix->external_id, v) ||
        short_field("agent_id", ix->agent_id, v) || short_field("agent_name", ix->agent_name, v) ||
        short_field("customer_ref", ix->customer_ref, v) ||
        short_field("language", ix->language, v))
        return -1;
    if (!ap_channel_valid(ix->channel))
        return reject(v, AP_R_INVALID_VALUE,
                      "channel is not one of call, chat, whatsapp, "
                      "email, survey, review");
    if (ix->occurred_at_unix_ms < AP_MIN_OCCURRED_MS)
        return reject(v, AP_R_INVALID_VALUE, "occurred_at is before 2000-01-01");
    if (ix->occurred_at_unix_ms > now_ms + AP_MAX_FUTURE_MS)
        return reject(v, AP_R_INVALID_VALUE, "occurred_at is more than a day in the future");
    if (ix->n_tags > AP_MAX_TAGS)
        return reject(v, AP_R_TOO_LARGE, "more than %d tags", AP_MAX_TAGS);
    for (size_t i = 0; i < ix->n_tags; i++)
        if (strlen(ix->tags[i]) > AP_MAX_TAG_BYTES)
            return reject(v, AP_R_TOO_LARGE, "tag %zu longer than %d bytes", i, AP_MAX_TAG_BYTES);
    if (ix->n_utterances > AP_MAX_UTTERANCES)
        return reject(v, AP_R_TOO_LARGE, "more than %d utterances", AP_MAX_UTTERANCES);
    for (size_t i = 0; i < ix->n_utterances; i++) {
        const Serphona__Interactions__V1__Utterance *u = ix->utterances[i];
        if (!speaker_valid(u->speaker))
            return reject(v, AP_R_INVALID_VALUE,
                          "utterance %zu: speaker is not agent, customer or system", i);
        if (u->start_ms < -1 || u->end_ms < -1 || u->start_ms > AP_MAX_SPAN_MS ||
            u->end_ms > AP_MAX_SPAN_MS)
            return reject(v, AP_R_INVALID_VALUE, "utterance %zu: time out of range", i);
        if (u->start_ms >= 0 && u->end_ms >= 0 && u->end_ms < u->start_ms)
            return reject(v, AP_R_INVALID_VALUE, "utterance %zu: ends before it starts", i);
        text_bytes += u->text ? strlen(u->text) : 0;
    }
    text_bytes += ix->subject ? strlen(ix->subject) : 0;
    if (text_bytes > AP_MAX_TEXT_BYTES)
        return reject(v, AP_R_TOO_LARGE, "texts longer than %d bytes together", AP_MAX_TEXT_BYTES);
    if (ix->survey) {
        /* -1 means "not asked"; csat 0 is what a producer that never set it
         * sends, so it counts as not asked too. */
        if (ix->survey->nps < -1 || ix->survey->nps > 10)
            return reject(v, AP_R_INVALID_VALUE, "survey.nps is not -1 or 0..10");
        if (ix->survey->csat < -1 || ix->survey->csat > 5)
            return reject(v, AP_R_INVALID_VALUE, "survey.csat is not -1 or 1..5");
    }
    if (ix->rating < 0 || ix->rating > 5)
        return reject(v, AP_R_INVALID_VALUE, "rating is not 0..5");
    return 0;
}

Serphona__Interactions__V1__Interaction *ap_validate(const Serphona__Events__V1__Event *ev,
                                                     int64_t now_ms, ap_verdict_t *v)
{
    Serphona__Interactions__V1__Interaction *ix;

    v->reason = NULL;
    v->detail[0] = '\0';
    if (!ev) {
        reject(v, AP_R_UNDECODABLE_ENVELOPE, "the record value is not an Event envelope");
        return NULL;
    }
    if (!ev->type || strcmp(ev->type, AP_EVENT_TYPE) != 0) {
        reject(v, AP_R_UNEXPECTED_TYPE, "event type is not " AP_EVENT_TYPE);
        return NULL;
    }
    if (!ev->content_type || strcmp(ev->content_type, AP_CONTENT_TYPE) != 0) {
        reject(v, AP_R_CONTENT_TYPE, "content_type is not " AP_CONTENT_TYPE);
        return NULL;
    }
    /* protobuf-c's unpack fails on malformed input and when out of memory
     * alike; tiny and structurally broken payloads are far likelier than an
     * allocation failure here, so a failure is treated as poison. */
    ix = serphona__interactions__v1__interaction__unpack(NULL, ev->payload.len, ev->payload.data);
    if (!ix) {
        reject(v, AP_R_UNDECODABLE_PAYLOAD, "payload is not an Interaction message");
        return NULL;
    }
    if (ap_validate_interaction(ix, now_ms, v) != 0)
        goto poison;
    if (!ev->tenant_id || strcasecmp(ev->tenant_id, ix->tenant_id) != 0) {
        reject(v, AP_R_TENANT_MISMATCH, "envelope tenant_id differs from the payload's");
        goto poison;
    }
    return ix;

poison:
    serphona__interactions__v1__interaction__free_unpacked(ix, NULL);
    return NULL;
}
