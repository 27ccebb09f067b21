/*
 * result_json.c — nlp_result_t to JSON (shape in analyze.h).
 */
#include <stdlib.h>

#include "nlp/analyze.h"

static int add_num(cJSON *o, const char *k, double v)
{
    return cJSON_AddNumberToObject(o, k, v) != NULL;
}

/* A number, or null when v < 0 (absent survey values, unknown times). */
static int add_opt(cJSON *o, const char *k, double v)
{
    return v < 0 ? cJSON_AddNullToObject(o, k) != NULL : add_num(o, k, v);
}

/* A new object appended to arr (which then owns it); NULL when out of
 * memory. */
static cJSON *append_object(cJSON *arr)
{
    cJSON *o = cJSON_CreateObject();
    if (o && !cJSON_AddItemToArray(arr, o)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *matches_json(const nlp_topic_match_t *m, size_t n)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < n; i++) {
        cJSON *o = append_object(arr);
        if (!o || !cJSON_AddStringToObject(o, "id", m[i].id) || !add_num(o, "score", m[i].score) ||
            !add_num(o, "hits", m[i].hits)) {
            cJSON_Delete(arr);
            return NULL;
        }
    }
    return arr;
}

/* Adds item to o under k, deleting item when that fails. */
static int attach(cJSON *o, const char *k, cJSON *item)
{
    if (!item)
        return 0;
    if (!cJSON_AddItemToObject(o, k, item)) {
        cJSON_Delete(item);
        return 0;
    }
    return 1;
}

static int add_sentiment(cJSON *root, const nlp_result_t *r)
{
    cJSON *s = cJSON_AddObjectToObject(root, "sentiment");
    if (!s || !add_num(s, "overall", r->sentiment) ||
        !cJSON_AddStringToObject(s, "label", r->sentiment_label ? r->sentiment_label : "neutral"))
        return 0;
    for (int k = 0; k < NLP_SPEAKER_COUNT; k++) {
        cJSON *p = cJSON_AddObjectToObject(s, nlp_speaker_name((nlp_speaker_t)k));
        if (!p || !add_num(p, "score", r->speakers[k].score) ||
            !add_num(p, "count", r->speakers[k].count) ||
            !add_num(p, "utterances", r->speakers[k].utterances))
            return 0;
    }
    return 1;
}

static int add_call(cJSON *root, const nlp_result_t *r)
{
    if (!r->has_call_metrics)
        return cJSON_AddNullToObject(root, "call_metrics") != NULL;
    const nlp_call_metrics_t *c = &r->call;
    cJSON *o = cJSON_AddObjectToObject(root, "call_metrics");
    if (!o || !add_num(o, "duration_ms", (double)c->duration_ms))
        return 0;
    cJSON *talk = cJSON_AddObjectToObject(o, "talk_ms");
    if (!talk)
        return 0;
    for (int k = 0; k < NLP_SPEAKER_COUNT; k++)
        if (!add_num(talk, nlp_speaker_name((nlp_speaker_t)k), (double)c->talk_ms[k]))
            return 0;
    return add_num(o, "silence_ms", (double)c->silence_ms) &&
           add_num(o, "silence_count", c->silence_count) &&
           add_num(o, "silence_ratio", c->silence_ratio) &&
           add_num(o, "longest_silence_ms", (double)c->longest_silence_ms) &&
           add_num(o, "overtalk_ms", (double)c->overtalk_ms) &&
           add_num(o, "overtalk_count", c->overtalk_count);
}

static int add_outcome(cJSON *root, const nlp_result_t *r)
{
    const nlp_outcome_t *oc = &r->outcome;
    cJSON *o = cJSON_AddObjectToObject(root, "outcome");
    return o && cJSON_AddBoolToObject(o, "escalation_requested", oc->escalation_requested) &&
           cJSON_AddBoolToObject(o, "resolved", oc->resolved) &&
           cJSON_AddBoolToObject(o, "unresolved", oc->unresolved) &&
           cJSON_AddBoolToObject(o, "churn_risk", oc->churn_risk) && add_opt(o, "csat", oc->csat) &&
           add_opt(o, "nps", oc->nps) &&
           (oc->nps_class == NLP_NPS_NONE
                ? cJSON_AddNullToObject(o, "nps_class") != NULL
                : cJSON_AddStringToObject(o, "nps_class", nlp_nps_class_name(oc->nps_class)) !=
                      NULL) &&
           add_opt(o, "rating", oc->rating);
}

static int add_keywords(cJSON *root, const nlp_result_t *r)
{
    cJSON *arr = cJSON_AddArrayToObject(root, "keywords");
    for (size_t i = 0; arr && i < r->n_keywords; i++) {
        cJSON *o = append_object(arr);
        if (!o || !cJSON_AddStringToObject(o, "phrase", r->keywords[i].phrase) ||
            !add_num(o, "score", r->keywords[i].score) ||
            !add_num(o, "count", r->keywords[i].count))
            return 0;
    }
    return arr != NULL;
}

static int add_pii(cJSON *root, const nlp_result_t *r)
{
    cJSON *o = cJSON_AddObjectToObject(root, "pii");
    if (!o)
        return 0;
    for (int k = 0; k < NLP_PII_TYPES; k++)
        if (!add_num(o, nlp_pii_type_name((nlp_pii_type_t)k), r->pii.n[k]))
            return 0;
    return add_num(o, "total", nlp_pii_total(&r->pii));
}

static int add_utterances(cJSON *root, const nlp_result_t *r)
{
    cJSON *arr = cJSON_AddArrayToObject(root, "utterances");
    for (size_t i = 0; arr && i < r->n_utterances; i++) {
        const nlp_utterance_result_t *u = &r->utterances[i];
        cJSON *o = append_object(arr);
        if (!o || !cJSON_AddStringToObject(o, "speaker", nlp_speaker_name(u->speaker)) ||
            !add_opt(o, "start_ms", (double)u->start_ms) ||
            !add_opt(o, "end_ms", (double)u->end_ms) ||
            !cJSON_AddStringToObject(o, "text", u->text) ||
            !add_num(o, "sentiment", u->sentiment.score) ||
            !cJSON_AddStringToObject(o, "label", nlp_sentiment_label(u->sentiment.score)) ||
            !add_num(o, "pii", u->pii))
            return 0;
    }
    return arr != NULL;
}

cJSON *nlp_result_to_cjson(const nlp_result_t *r)
{
    if (!r)
        return NULL;
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;
    int ok = cJSON_AddStringToObject(root, "language", r->language[0] ? r->language : "und") &&
             add_num(root, "language_confidence", r->language_confidence) &&
             cJSON_AddStringToObject(root, "language_source",
                                     r->language_from_hint ? "hint" : "detected") &&
             add_sentiment(root, r) &&
             attach(root, "topics", matches_json(r->topics, r->n_topics)) &&
             attach(root, "intents", matches_json(r->intents, r->n_intents));
    cJSON *intent = ok ? cJSON_AddObjectToObject(root, "intent") : NULL;
    ok = intent && cJSON_AddStringToObject(intent, "id", r->intent[0] ? r->intent : "none") &&
         add_num(intent, "score", r->intent_score) && add_call(root, r) && add_outcome(root, r) &&
         add_keywords(root, r) && add_pii(root, r) && add_utterances(root, r);
    if (!ok) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

char *nlp_result_to_json(const nlp_result_t *r)
{
    cJSON *root = nlp_result_to_cjson(r);
    if (!root)
        return NULL;
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}
