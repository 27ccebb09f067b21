/*
 * payloads.h — the JSON payloads (content_type "application/json") of the
 * events the processor produces. These are contracts for their consumers:
 *
 * "analysis.completed" on serphona.analyses.v1, keyed by tenant id, one per
 * analysed interaction, after its rows are in ClickHouse:
 *   {"interaction_id":"<uuid>","tenant_id":"<uuid>","external_id":"...",
 *    "channel":"call","occurred_at_unix_ms":1700000000000,"language":"en",
 *    "sentiment":0.42,"sentiment_customer":0.3,"sentiment_agent":0.6,
 *    "topics":["billing"],"intent":"billing","keywords":["refund"],
 *    "escalated":false,"resolved":true,"churn_risk":false,"csat":4,"nps":-1,
 *    "duration_ms":61000,"utterance_count":12,"pii_redactions":1}
 *
 * "usage.recorded" on serphona.usage.v1, keyed by tenant id, one per analysed
 * interaction (billing's meter):
 *   {"tenant_id":"<uuid>","meter":"interactions_analyzed","quantity":1,
 *    "idempotency_key":"<interaction uuid>","interaction_id":"<uuid>",
 *    "occurred_at_unix_ms":1700000000000,"source":"analytics-processor"}
 *
 * Both are delivered at least once: a crash between the ClickHouse insert and
 * the broker's acknowledgement re-emits them when the event is replayed (the
 * replay finds the interaction already stored and emits again without
 * storing), so consumers dedupe by interaction_id / idempotency_key.
 *
 * "interaction.rejected" on serphona.interactions.dlq.v1 (the dead-letter
 * topic), with (and keyed by) the envelope's tenant_id when that is a UUID,
 * else the nil UUID:
 *   {"reason":"invalid_value","detail":"survey.nps is not -1 or 0..10",
 *    "source":{"topic":"serphona.interactions.v1","partition":3,"offset":1234,
 *              "event_id":"...","event_type":"interaction.recorded"},
 *    "rejected_at_unix_ms":1700000000000,
 *    "original_b64url":"<the record value, base64url without padding>"}
 * reason is one of validate.h's AP_R_* codes; detail names the field and never
 * quotes customer text. The original bytes are carried unchanged so the
 * record can be repaired and replayed; the DLQ therefore holds the same class
 * of data as the interactions topic and needs the same access control and
 * retention. event_id and event_type are "" when the envelope did not decode.
 */
#ifndef AP_PAYLOADS_H
#define AP_PAYLOADS_H

#include <stddef.h>
#include <stdint.h>

#include "platform/buf.h"
#include "rows.h"

#define AP_EV_ANALYSIS_COMPLETED "analysis.completed"
#define AP_EV_USAGE_RECORDED     "usage.recorded"
#define AP_EV_REJECTED           "interaction.rejected"
#define AP_USAGE_METER           "interactions_analyzed"
#define AP_NIL_TENANT            "00000000-0000-0000-0000-000000000000"

/* Appends the analysis.completed payload of rec. */
void ap_payload_analysis(sp_buf_t *b, const ap_record_t *rec);

/* Appends the usage.recorded payload of rec. */
void ap_payload_usage(sp_buf_t *b, const ap_record_t *rec);

/* What a dead letter says about the record it carries. */
typedef struct {
    const char *reason;
    const char *detail;
    const char *topic;
    int32_t partition;
    int64_t offset;
    const char *event_id;   /* NULL = "" */
    const char *event_type; /* NULL = "" */
    int64_t rejected_at_ms;
    const void *value; /* the original record value */
    size_t value_len;
} ap_dead_info_t;

/* Appends the interaction.rejected payload. Returns 0 or SP_ENOMEM (also
 * reported by the buffer). */
int ap_payload_rejected(sp_buf_t *b, const ap_dead_info_t *d);

#endif
