/*
 * analyze.h — the whole analysis of one interaction, in one call.
 *
 * What it does, in this order (each step documented in its own header):
 *  1. pii.h         every utterance is redacted and repaired to valid UTF-8;
 *                   from here on only the redacted text is used, and only
 *                   it is kept in the result, so nothing downstream can
 *                   store the raw text by mistake;
 *  2. lang.h        the language: the client's hint when it is a valid tag
 *                   ("pt-BR" -> "pt", confidence 1), else detected on all
 *                   the redacted text;
 *  3. sentiment.h   per utterance, per speaker (plain mean over utterances
 *                   that carried sentiment) and overall (weighted mean:
 *                   customer and speaker-less texts weigh 1, agent turns
 *                   opts->agent_weight, 0.5 by default, so an agent's
 *                   scripted politeness does not mask an angry customer);
 *  4. taxonomy.h    topics and intents (the tenant's taxonomy, or the
 *                   default when NULL), agent turns weighted as above; the
 *                   primary intent is the best intent, "none" if no intent
 *                   reached opts->topic_min_score;
 *  5. callmetrics.h when utterances carry timestamps (start_ms and end_ms
 *                   >= 0): duration, talk time, silence, overtalk;
 *  6. outcome.h     escalation, resolution, churn risk; survey values;
 *  7. keywords.h    key phrases, agent turns weighted as above.
 * The result holds everything the processor stores, and
 * nlp_result_to_json gives it as JSON (the shape is in the comment of
 * nlp_result_to_cjson).
 *
 * Where it stops: one language per interaction; the steps' own limits
 * apply. It is deterministic: the same input, taxonomy and options always
 * give the same result, byte for byte in JSON.
 *
 * Thread safety: any number of threads may analyse at once, sharing
 * taxonomies (read-only); each result belongs to one thread.
 */
#ifndef NLP_ANALYZE_H
#define NLP_ANALYZE_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "nlp/callmetrics.h"
#include "nlp/keywords.h"
#include "nlp/outcome.h"
#include "nlp/pii.h"
#include "nlp/sentiment.h"
#include "nlp/taxonomy.h"
#include "nlp/types.h"

/* Input limits (SP_ETOOBIG past them). */
#define NLP_MAX_UTTERANCES 20000
#define NLP_MAX_TEXT_BYTES (8 * 1024 * 1024) /* all utterances together */

/* One utterance of the input: a call turn, a chat message, or the whole
 * body of an e-mail / review / survey comment (speaker OTHER or CUSTOMER). */
typedef struct {
    nlp_speaker_t speaker;
    const char *text; /* raw: may hold PII and invalid UTF-8; NULL = "" */
    size_t len;       /* bytes; 0 means strlen(text) */
    int64_t start_ms; /* from the start of the call; -1 when unknown */
    int64_t end_ms;   /* -1 when unknown */
} nlp_utterance_t;

typedef struct {
    const nlp_utterance_t *utterances;
    size_t n_utterances;
    const char *language; /* the client's tag ("pt-BR"), or NULL/"" to detect */
    int csat;             /* 1..5 or -1 */
    int nps;              /* 0..10 or -1 */
    int rating;           /* 1..5 or -1 */
} nlp_interaction_t;

/* No utterances, no language, survey values -1. Use it: 0 is a valid NPS. */
void nlp_interaction_init(nlp_interaction_t *in);

typedef struct {
    int64_t silence_gap_ms; /* NLP_SILENCE_GAP_MS */
    size_t max_topics;      /* 8: topics and intents kept, each */
    double topic_min_score; /* 0.3: one customer hit (0.33) is enough */
    size_t max_keywords;    /* 10 */
    double agent_weight;    /* 0.5; 0 ignores agent turns in those aggregates */
} nlp_options_t;

/* The defaults above. */
void nlp_options_init(nlp_options_t *opts);

typedef struct {
    nlp_speaker_t speaker;
    const char *text; /* redacted, valid UTF-8, NUL-terminated */
    size_t len;
    int64_t start_ms, end_ms; /* as given (-1 unknown) */
    nlp_sentiment_t sentiment;
    unsigned pii; /* matches redacted in this utterance */
} nlp_utterance_result_t;

typedef struct {
    double score;        /* mean of the utterances that carried sentiment; 0 if none */
    unsigned count;      /* utterances that carried sentiment */
    unsigned utterances; /* utterances by this speaker */
} nlp_speaker_sentiment_t;

typedef struct {
    char language[NLP_LANG_MAX]; /* "en", "pt", ..., or "und" */
    double language_confidence;  /* 1 for a hint */
    int language_from_hint;      /* 1: taken from the input's tag */

    nlp_pii_counts_t pii; /* per type, all utterances */

    nlp_utterance_result_t *utterances; /* in input order */
    size_t n_utterances;

    nlp_speaker_sentiment_t speakers[NLP_SPEAKER_COUNT]; /* by nlp_speaker_t */
    double sentiment;                                    /* overall, [-1, 1] */
    const char *sentiment_label;                         /* static: positive/neutral/negative */

    nlp_topic_match_t *topics; /* kind topic, best first */
    size_t n_topics;
    nlp_topic_match_t *intents; /* kind intent, best first */
    size_t n_intents;
    char intent[NLP_ID_MAX + 1]; /* primary intent id, or "none" */
    double intent_score;         /* its score; 0 for "none" */

    int has_call_metrics; /* 1 when some utterance had both timestamps */
    nlp_call_metrics_t call;

    nlp_outcome_t outcome; /* flags and survey values */

    nlp_keyword_t *keywords;
    size_t n_keywords;

    struct sp_arena *arena; /* private: owns every pointer above */
} nlp_result_t;

/* Analyses in, matching topics against tax (NULL: nlp_taxonomy_default())
 * with opts (NULL: the defaults), and fills *out, which need not be
 * initialised. On success the caller owns the result and frees it with
 * nlp_result_cleanup. Returns 0; SP_EINVAL (NULL in/out, a speaker out of
 * range, NULL utterances with n > 0, NULL text with len > 0); SP_ETOOBIG
 * (past the limits above); SP_ENOMEM. On failure *out is empty and needs no
 * cleanup (cleanup is still safe). */
int nlp_analyze(const nlp_interaction_t *in, const nlp_taxonomy_t *tax, const nlp_options_t *opts,
                nlp_result_t *out);

/* Frees everything the result owns and zeroes it. Accepts NULL and a result
 * already cleaned. */
void nlp_result_cleanup(nlp_result_t *r);

/* The result as a cJSON tree the caller frees with cJSON_Delete; NULL when
 * out of memory. Shape (numbers rounded to 4 decimals by the steps):
 *   { "language": "pt", "language_confidence": 0.93,
 *     "language_source": "hint" | "detected",
 *     "sentiment": { "overall": -0.41, "label": "negative",
 *                    "agent": {"score", "count", "utterances"},
 *                    "customer": {...}, "other": {...} },
 *     "topics":  [ {"id": "billing", "score": 0.5, "hits": 2}, ... ],
 *     "intents": [ ... ], "intent": {"id": "cancellation", "score": 0.43},
 *     "call_metrics": null | { "duration_ms", "talk_ms": {"agent",
 *                    "customer", "other"}, "silence_ms", "silence_count",
 *                    "silence_ratio", "longest_silence_ms", "overtalk_ms",
 *                    "overtalk_count" },
 *     "outcome": { "escalation_requested", "resolved", "unresolved",
 *                  "churn_risk", "csat", "nps", "nps_class", "rating" }
 *                  (absent survey values are null),
 *     "keywords": [ {"phrase": "segunda via", "score": 4.0, "count": 1}, ... ],
 *     "pii": { "email": 0, "phone": 1, ..., "total": 1 },
 *     "utterances": [ { "speaker": "customer", "start_ms": 0 | null,
 *                       "end_ms": 5200 | null, "text": "redacted...",
 *                       "sentiment": -0.34, "label": "negative",
 *                       "pii": 1 }, ... ] } */
cJSON *nlp_result_to_cjson(const nlp_result_t *r);

/* nlp_result_to_cjson printed without spaces; a malloc'd string the caller
 * frees, NULL when out of memory. */
char *nlp_result_to_json(const nlp_result_t *r);

#endif
