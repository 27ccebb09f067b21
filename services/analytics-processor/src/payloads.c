/*
 * payloads.c — JSON payloads of the processor's events (payloads.h).
 */
#include "payloads.h"

#include <inttypes.h>
#include <stdlib.h>

#include "json.h"
#include "platform/crypto.h"
#include "platform/error.h"

static const char *flag(int v)
{
    return v ? "true" : "false";
}

void ap_payload_analysis(sp_buf_t *b, const ap_record_t *r)
{
    sp_buf_putc(b, '{');
    ap_json_kv_str(b, "interaction_id", r->interaction_id);
    sp_buf_putc(b, ',');
    ap_json_kv_str(b, "tenant_id", r->tenant_id);
    sp_buf_putc(b, ',');
    ap_json_kv_str(b, "external_id", r->external_id);
    sp_buf_putc(b, ',');
    ap_json_kv_str(b, "channel", r->channel);
    sp_buf_appendf(b, ",\"occurred_at_unix_ms\":%" PRId64 ",", r->occurred_at_ms);
    ap_json_kv_str(b, "language", r->language);
    sp_buf_puts(b, ",\"sentiment\":");
    ap_json_num(b, r->sentiment);
    sp_buf_puts(b, ",\"sentiment_customer\":");
    ap_json_num(b, r->sentiment_customer);
    sp_buf_puts(b, ",\"sentiment_agent\":");
    ap_json_num(b, r->sentiment_agent);
    sp_buf_puts(b, ",\"topics\":");
    ap_json_str_array(b, r->topics, r->n_topics);
    sp_buf_putc(b, ',');
    ap_json_kv_str(b, "intent", r->intent);
    sp_buf_puts(b, ",\"keywords\":");
    ap_json_str_array(b, r->keywords, r->n_keywords);
    sp_buf_appendf(b,
                   ",\"escalated\":%s,\"resolved\":%s,\"churn_risk\":%s,\"csat\":%d,\"nps\":%d"
                   ",\"duration_ms\":%" PRIu32 ",\"utterance_count\":%zu"
                   ",\"pii_redactions\":%" PRIu32 "}",
                   flag(r->escalated), flag(r->resolved), flag(r->churn_risk), r->csat, r->nps,
                   r->duration_ms, r->n_utterances, r->pii_redactions);
}

void ap_payload_usage(sp_buf_t *b, const ap_record_t *r)
{
    sp_buf_putc(b, '{');
    ap_json_kv_str(b, "tenant_id", r->tenant_id);
    sp_buf_puts(b, ",\"meter\":\"" AP_USAGE_METER "\",\"quantity\":1,");
    ap_json_kv_str(b, "idempotency_key", r->interaction_id);
    sp_buf_putc(b, ',');
    ap_json_kv_str(b, "interaction_id", r->interaction_id);
    sp_buf_appendf(b, ",\"occurred_at_unix_ms\":%" PRId64 ",\"source\":\"analytics-processor\"}",
                   r->occurred_at_ms);
}

int ap_payload_rejected(sp_buf_t *b, const ap_dead_info_t *d)
{
    size_t cap = sp_base64url_encoded_len(d->value_len) + 1, n = 0;
    char *enc = malloc(cap);

    if (!enc)
        return SP_ENOMEM;
    if (sp_base64url_encode(d->value, d->value_len, enc, cap, &n) != 0)
        n = 0;
    enc[n] = '\0';
    sp_buf_putc(b, '{');
    ap_json_kv_str(b, "reason", d->reason);
    sp_buf_putc(b, ',');
    ap_json_kv_str(b, "detail", d->detail);
    sp_buf_puts(b, ",\"source\":{");
    ap_json_kv_str(b, "topic", d->topic);
    sp_buf_appendf(b, ",\"partition\":%" PRId32 ",\"offset\":%" PRId64 ",", d->partition,
                   d->offset);
    ap_json_kv_str(b, "event_id", d->event_id);
    sp_buf_putc(b, ',');
    ap_json_kv_str(b, "event_type", d->event_type);
    sp_buf_appendf(b, "},\"rejected_at_unix_ms\":%" PRId64 ",\"original_b64url\":\"",
                   d->rejected_at_ms);
    sp_buf_append(b, enc, n);
    sp_buf_puts(b, "\"}");
    free(enc);
    return sp_buf_failed(b);
}
