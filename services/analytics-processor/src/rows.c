/*
 * rows.c — ClickHouse JSONEachRow rendering of analysed interactions
 * (rows.h).
 */
#include "rows.h"

#include <inttypes.h>

#include "json.h"

static uint32_t ms_u32(int64_t ms)
{
    if (ms < 0)
        return 0;
    return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

/* DateTime columns take Unix seconds as a number: no timezone involved. */
static int64_t unix_s(int64_t ms)
{
    return ms < 0 ? 0 : ms / 1000;
}

void ap_rows_interaction(sp_buf_t *b, const ap_record_t *r)
{
    sp_buf_putc(b, '{');
    ap_json_kv_str(b, "tenant_id", r->tenant_id);
    sp_buf_putc(b, ',');
    ap_json_kv_str(b, "interaction_id", r->interaction_id);
    sp_buf_putc(b, ',');
    ap_json_kv_str(b, "external_id", r->external_id);
    sp_buf_putc(b, ',');
    ap_json_kv_str(b, "channel", r->channel);
    sp_buf_appendf(b, ",\"occurred_at\":%" PRId64 ",\"analyzed_at\":%" PRId64 ",",
                   unix_s(r->occurred_at_ms), unix_s(r->analyzed_at_ms));
    ap_json_kv_str(b, "language", r->language);
    sp_buf_putc(b, ',');
    ap_json_kv_str(b, "agent_id", r->agent_id);
    sp_buf_putc(b, ',');
    ap_json_kv_str(b, "agent_name", r->agent_name);
    sp_buf_putc(b, ',');
    ap_json_kv_str(b, "customer_ref", r->customer_ref);
    sp_buf_puts(b, ",\"tags\":");
    ap_json_str_array(b, r->tags, r->n_tags);
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
                   ",\"duration_ms\":%" PRIu32 ",\"talk_agent_ms\":%" PRIu32
                   ",\"talk_customer_ms\":%" PRIu32 ",\"silence_ratio\":",
                   r->duration_ms, r->talk_agent_ms, r->talk_customer_ms);
    ap_json_num(b, r->silence_ratio);
    sp_buf_appendf(b,
                   ",\"longest_silence_ms\":%" PRIu32 ",\"overtalk_ms\":%" PRIu32
                   ",\"escalated\":%d,\"resolved\":%d,\"churn_risk\":%d,\"csat\":%d,\"nps\":%d"
                   ",\"pii_redactions\":%" PRIu32 ",\"utterance_count\":%zu,",
                   r->longest_silence_ms, r->overtalk_ms, r->escalated ? 1 : 0, r->resolved ? 1 : 0,
                   r->churn_risk ? 1 : 0, r->csat, r->nps, r->pii_redactions, r->n_utterances);
    ap_json_kv_str(b, "text", r->text);
    sp_buf_appendf(b, ",\"version\":%" PRId64 "}\n", r->analyzed_at_ms < 0 ? 0 : r->analyzed_at_ms);
}

void ap_rows_utterances(sp_buf_t *b, const ap_record_t *r)
{
    for (size_t i = 0; i < r->n_utterances; i++) {
        const ap_utterance_t *u = &r->utterances[i];
        sp_buf_putc(b, '{');
        ap_json_kv_str(b, "tenant_id", r->tenant_id);
        sp_buf_putc(b, ',');
        ap_json_kv_str(b, "interaction_id", r->interaction_id);
        sp_buf_appendf(b, ",\"occurred_at\":%" PRId64 ",\"seq\":%zu,", unix_s(r->occurred_at_ms),
                       i);
        ap_json_kv_str(b, "speaker", u->speaker);
        sp_buf_appendf(b, ",\"start_ms\":%" PRIu32 ",\"end_ms\":%" PRIu32 ",", ms_u32(u->start_ms),
                       ms_u32(u->end_ms));
        ap_json_kv_str(b, "text", u->text);
        sp_buf_puts(b, ",\"sentiment\":");
        ap_json_num(b, u->sentiment);
        sp_buf_appendf(b, ",\"version\":%" PRId64 "}\n",
                       r->analyzed_at_ms < 0 ? 0 : r->analyzed_at_ms);
    }
}
