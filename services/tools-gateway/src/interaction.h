/*
 * interaction.h — one ingested interaction: the JSON shape partners send,
 * its validation, and the Interaction protobuf (proto/interactions.proto) it
 * becomes on the interactions topic.
 *
 * The JSON shape (every channel):
 *   external_id   string, required: the partner's own id, 1..128 bytes, no
 *                 control characters; (tenant, external_id) identifies the
 *                 interaction, so sending it again never makes a second one
 *   channel       required: call | chat | whatsapp | email | survey | review
 *   occurred_at   required, RFC 3339 with an offset; 1990-01-01 .. now + 24 h
 *   language      optional language tag ("en", "pt-BR"): its primary subtag,
 *                 lower-cased, is kept; empty = the processor detects it
 *   agent         optional {id, name} (<= 128 / 200 bytes)
 *   customer_ref  optional opaque reference (<= 128 bytes); never PII, so
 *                 an e-mail address is refused
 *   tags          optional, <= 20 strings of 1..64 bytes
 *   metadata      optional object, <= 50 entries; keys [A-Za-z0-9_.:-]{1,64},
 *                 values strings (numbers and booleans are turned into
 *                 strings) of <= 1024 bytes
 * and by channel:
 *   call          utterances, required: [{speaker, text, start_ms, end_ms}],
 *                 offsets in ms from the start of the call, both required,
 *                 0 <= start_ms <= end_ms <= 24 h, in order of start_ms
 *                 (overlaps are overtalk and are kept)
 *   chat/whatsapp utterances, required: [{speaker, text, at | start_ms,
 *                 end_ms}], timing optional: "at" is an RFC 3339 time not
 *                 before occurred_at, start_ms an offset
 *   email         text (the body) or utterances (a thread, as for chat);
 *                 subject optional (<= 1000 bytes); direction inbound
 *                 (customer wrote, the default) | outbound (agent wrote)
 *   survey        survey {nps 0..10, csat 1..5}, at least one; text optional
 *                 (the free-text answer)
 *   review        rating 1..5, required; text and subject (title) optional
 * speaker is agent | customer | system; a text is 1..65536 bytes and not
 * blank; an interaction has <= 2000 utterances and <= 512 KiB of text. Every
 * string must be valid UTF-8. Unknown members are refused (a typo must not
 * silently drop data), as are members of another channel.
 *
 * Rejections carry a stable code (below), the JSON path of the field
 * ("utterances[3].start_ms", "" for the item itself) and a message.
 */
#ifndef TG_INTERACTION_H
#define TG_INTERACTION_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "interactions.pb-c.h"
#include "platform/arena.h"
#include "platform/crypto.h"

/* The stable rejection codes. */
#define TG_E_INVALID_ITEM      "invalid_item" /* not a JSON object */
#define TG_E_MISSING_FIELD     "missing_field"
#define TG_E_INVALID_TYPE      "invalid_type" /* e.g. a number where a string goes */
#define TG_E_UNKNOWN_FIELD     "unknown_field"
#define TG_E_FIELD_NOT_ALLOWED "field_not_allowed" /* a member of another channel */
#define TG_E_UNKNOWN_CHANNEL   "unknown_channel"
#define TG_E_INVALID_TIMESTAMP "invalid_timestamp"
#define TG_E_OUT_OF_RANGE      "out_of_range"
#define TG_E_TOO_LONG          "too_long"
#define TG_E_TOO_MANY          "too_many"
#define TG_E_INVALID_VALUE     "invalid_value"
#define TG_E_INVALID_UTF8      "invalid_utf8"
#define TG_E_EMPTY_CONTENT     "empty_content"
#define TG_E_OUT_OF_ORDER      "utterances_out_of_order"
#define TG_E_PII               "pii_not_allowed"

/* Why an item was refused. Strings are static or from the arena given to
 * tg_interaction_build. */
typedef struct {
    const char *code;
    const char *field;
    const char *message;
} tg_reject_t;

/* Validates item (one element of a batch, or an upload row turned into the
 * same JSON shape) and builds its Interaction in arena, for tenant_id, with
 * source ("api", "upload") and the deterministic interaction_id. now_ms is
 * the current time (for the "not in the future" check). Every string of the
 * result points into arena or item: keep both alive while it is used.
 * Returns 0 and *out; SP_EINVAL with *why filled (the first problem found);
 * SP_ENOMEM. */
int tg_interaction_build(sp_arena_t *arena, const char *tenant_id, const cJSON *item,
                         const char *source, int64_t now_ms,
                         Serphona__Interactions__V1__Interaction **out, tg_reject_t *why);

/* The interaction id of (tenant_id, external_id): the first 16 bytes of
 * SHA-256(tenant_id || 0x00 || external_id) as a UUID with version 8 (RFC
 * 9562 "custom") and the RFC 4122 variant, lowercase text. The 0x00
 * separator keeps ("ab","c") and ("a","bc") apart. Deterministic, so a
 * re-sent interaction always gets the same id. */
void tg_interaction_id(const char *tenant_id, const char *external_id, char out[SP_UUID_STR_LEN]);

/* 1 when the len bytes at s are well-formed UTF-8 (no overlong forms, no
 * surrogates, nothing past U+10FFFF), else 0. */
int tg_utf8_valid(const char *s, size_t len);

#endif
