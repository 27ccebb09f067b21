/*
 * rows.h — an analysed interaction as the processor stores it, and its
 * rendering as ClickHouse rows (one JSONEachRow line per row) for the tables
 * of deploy/clickhouse/001_interactions.sql.
 *
 * Every text in an ap_record_t is already redacted (analysis.h fills it);
 * this module only renders. Unknown utterance times (-1 on the wire) are
 * stored as 0, since the columns are UInt32.
 */
#ifndef AP_ROWS_H
#define AP_ROWS_H

#include <stddef.h>
#include <stdint.h>

#include "platform/buf.h"
#include "platform/crypto.h"

typedef struct {
    const char *speaker; /* "agent", "customer" or "system" */
    int64_t start_ms;    /* -1 = unknown */
    int64_t end_ms;      /* -1 = unknown */
    const char *text;    /* redacted */
    double sentiment;    /* [-1, 1] */
} ap_utterance_t;

typedef struct {
    char tenant_id[SP_UUID_STR_LEN]; /* lowercase canonical UUIDs */
    char interaction_id[SP_UUID_STR_LEN];
    const char *external_id;
    const char *channel;
    int64_t occurred_at_ms;
    int64_t analyzed_at_ms;
    const char *language;
    const char *agent_id;
    const char *agent_name;
    const char *customer_ref; /* redacted */
    const char *const *tags;  /* redacted */
    size_t n_tags;
    double sentiment, sentiment_customer, sentiment_agent;
    const char *const *topics;
    size_t n_topics;
    const char *intent;
    const char *const *keywords;
    size_t n_keywords;
    uint32_t duration_ms, talk_agent_ms, talk_customer_ms;
    double silence_ratio;
    uint32_t longest_silence_ms, overtalk_ms;
    int escalated, resolved, churn_risk;
    int csat; /* 1..5, -1 = none */
    int nps;  /* 0..10, -1 = none */
    uint32_t pii_redactions;
    const char *text; /* the whole redacted text, for search */
    const ap_utterance_t *utterances;
    size_t n_utterances;
} ap_record_t;

/* Appends the record's row of table interactions, newline-terminated.
 * Its version (ReplacingMergeTree) is the analysis time in ms. */
void ap_rows_interaction(sp_buf_t *b, const ap_record_t *rec);

/* Appends one row of table utterances per utterance, each newline-terminated
 * (nothing for a record without utterances). */
void ap_rows_utterances(sp_buf_t *b, const ap_record_t *rec);

#endif
