/*
 * validate.h — from a consumed Kafka record to an Interaction the processor
 * is willing to analyse, or the reason it is poison.
 *
 * A record is poison when retrying it can never succeed: its envelope or
 * payload does not decode, it is not an "interaction.recorded" event in
 * application/x-protobuf, a required id is missing or not a UUID, the
 * envelope's tenant differs from the payload's, or a value is absurd
 * (unknown channel, a time before 2000 or more than a day ahead, survey or
 * rating out of range, negative or inverted utterance times, an unknown
 * speaker) or over a limit (AP_MAX_*). Poison goes to the dead-letter topic
 * (deadletter.h) with the reason code and a detail that never quotes the
 * customer's text.
 */
#ifndef AP_VALIDATE_H
#define AP_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include "events.pb-c.h"
#include "interactions.pb-c.h"
#include "platform/text.h"

#define AP_EVENT_TYPE   "interaction.recorded"
#define AP_CONTENT_TYPE "application/x-protobuf"

#define AP_MAX_UTTERANCES  10000
#define AP_MAX_TEXT_BYTES  (1024 * 1024) /* all texts of one interaction together */
#define AP_MAX_FIELD_BYTES 512           /* external id, agent id and name, customer ref */
#define AP_MAX_TAGS        64
#define AP_MAX_TAG_BYTES   128
#define AP_MAX_SPAN_MS     (7LL * 24 * 3600 * 1000) /* utterance times within a week */
#define AP_MIN_OCCURRED_MS 946684800000LL           /* 2000-01-01T00:00:00Z */
#define AP_MAX_FUTURE_MS   (24LL * 3600 * 1000)

/* The reason codes (stable, machine-readable; also a metrics label). */
#define AP_R_UNDECODABLE_ENVELOPE "undecodable_envelope"
#define AP_R_UNEXPECTED_TYPE      "unexpected_event_type"
#define AP_R_CONTENT_TYPE         "unsupported_content_type"
#define AP_R_UNDECODABLE_PAYLOAD  "undecodable_payload"
#define AP_R_MISSING_FIELD        "missing_field"
#define AP_R_INVALID_ID           "invalid_id"
#define AP_R_TENANT_MISMATCH      "tenant_mismatch"
#define AP_R_INVALID_VALUE        "invalid_value"
#define AP_R_TOO_LARGE            "too_large"
#define AP_R_ANALYSIS_FAILED      "analysis_failed"

#define AP_DETAIL_MAX 160

typedef struct {
    const char *reason;         /* one of AP_R_*, or NULL when valid */
    char detail[AP_DETAIL_MAX]; /* which field and why; never customer text */
} ap_verdict_t;

/* Checks ev (NULL = the record's value was not an Event envelope) and
 * unpacks its payload. On success returns the Interaction (free it with
 * serphona__interactions__v1__interaction__free_unpacked(ix, NULL)) and
 * sets v->reason to NULL; otherwise returns NULL with v->reason set (an
 * unpack failure counts as poison: protobuf-c cannot tell malformed input
 * from out-of-memory, and the former is by far the likelier). now_ms is the
 * wall clock, for the "not in the future" rule. */
Serphona__Interactions__V1__Interaction *ap_validate(const Serphona__Events__V1__Event *ev,
                                                     int64_t now_ms, ap_verdict_t *v);

/* Checks an unpacked Interaction's own fields (the part of ap_validate after
 * decoding). Returns 0 when valid, else -1 with v filled. */
int ap_validate_interaction(const Serphona__Interactions__V1__Interaction *ix, int64_t now_ms,
                            ap_verdict_t *v);

/* Copies the UUID s in lowercase to out (SP_UUID_STR_LEN bytes). */
void ap_uuid_lower(const char *s, char *out);

/* 1 when channel is one of call, chat, whatsapp, email, survey, review. */
int ap_channel_valid(const char *channel);

#endif
