/*
 * analyze.c — runs every step on one interaction (order and rules in
 * analyze.h). All result memory comes from one arena owned by the result.
 */
#include "nlp/analyze.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nlp/lang.h"
#include "platform/arena.h"
#include "platform/error.h"

void nlp_interaction_init(nlp_interaction_t *in)
{
    memset(in, 0, sizeof(*in));
    in->csat = -1;
    in->nps = -1;
    in->rating = -1;
}

void nlp_options_init(nlp_options_t *opts)
{
    opts->silence_gap_ms = NLP_SILENCE_GAP_MS;
    opts->max_topics = 8;
    opts->topic_min_score = 0.3;
    opts->max_keywords = 10;
    opts->agent_weight = 0.5;
}

void nlp_result_cleanup(nlp_result_t *r)
{
    if (!r)
        return;
    sp_arena_destroy(&r->arena);
    memset(r, 0, sizeof(*r));
}

static void free_ptr(void *p)
{
    free(p);
}

/* The weight of a speaker's turns in the aggregates. */
static double turn_weight(nlp_speaker_t s, const nlp_options_t *o)
{
    return s == NLP_SPEAKER_AGENT ? o->agent_weight : 1.0;
}

static int check_input(const nlp_interaction_t *in)
{
    if (!in->utterances && in->n_utterances > 0)
        return SP_EINVAL;
    if (in->n_utterances > NLP_MAX_UTTERANCES)
        return SP_ETOOBIG;
    size_t total = 0;
    for (size_t i = 0; i < in->n_utterances; i++) {
        const nlp_utterance_t *u = &in->utterances[i];
        if ((unsigned)u->speaker >= NLP_SPEAKER_COUNT || (!u->text && u->len > 0))
            return SP_EINVAL;
        size_t len = u->text ? (u->len ? u->len : strlen(u->text)) : 0;
        if (len > NLP_MAX_TEXT_BYTES || total + len > NLP_MAX_TEXT_BYTES)
            return SP_ETOOBIG;
        total += len;
    }
    return 0;
}

static int step_language(const nlp_interaction_t *in, nlp_result_t *r)
{
    char code[NLP_LANG_MAX];
    if (in->language && in->language[0] && nlp_lang_normalize(in->language, code) == 0) {
        memcpy(r->language, code, sizeof(code));
        r->language_confidence = 1.0;
        r->language_from_hint = 1;
        return 0;
    }
    /* Detect on all the redacted text, one utterance per line. */
    size_t total = 0;
    for (size_t i = 0; i < r->n_utterances; i++)
        total += r->utterances[i].len + 1;
    char *all = sp_arena_alloc(r->arena, total + 1);
    if (!all)
        return SP_ENOMEM;
    size_t o = 0;
    for (size_t i = 0; i < r->n_utterances; i++) {
        memcpy(all + o, r->utterances[i].text, r->utterances[i].len);
        o += r->utterances[i].len;
        all[o++] = '\n';
    }
    nlp_lang_result_t lr;
    int rc = nlp_lang_detect(all, o, &lr);
    if (rc)
        return rc;
    memcpy(r->language, lr.code, sizeof(r->language));
    r->language_confidence = lr.confidence;
    return 0;
}

static int step_sentiment(nlp_result_t *r, const nlp_options_t *opts)
{
    nlp_sentiment_acc_t per[NLP_SPEAKER_COUNT] = {{0}}, overall = {0};
    for (size_t i = 0; i < r->n_utterances; i++) {
        nlp_utterance_result_t *u = &r->utterances[i];
        int rc = nlp_sentiment_score(u->text, u->len, r->language, &u->sentiment);
        if (rc)
            return rc;
        nlp_sentiment_acc_add(&per[u->speaker], &u->sentiment, 1.0);
        nlp_sentiment_acc_add(&overall, &u->sentiment, turn_weight(u->speaker, opts));
        r->speakers[u->speaker].utterances++;
    }
    for (int s = 0; s < NLP_SPEAKER_COUNT; s++) {
        r->speakers[s].score = nlp_sentiment_acc_mean(&per[s]);
        r->speakers[s].count = per[s].count;
    }
    r->sentiment = nlp_sentiment_acc_mean(&overall);
    r->sentiment_label = nlp_sentiment_label(r->sentiment);
    return 0;
}

static nlp_text_t *weighted_texts(nlp_result_t *r, const nlp_options_t *opts)
{
    nlp_text_t *t = sp_arena_alloc(r->arena, (r->n_utterances + 1) * sizeof(*t));
    if (!t)
        return NULL;
    for (size_t i = 0; i < r->n_utterances; i++) {
        t[i].text = r->utterances[i].text;
        t[i].len = r->utterances[i].len;
        t[i].weight = turn_weight(r->utterances[i].speaker, opts);
    }
    return t;
}

static int step_topics(nlp_result_t *r, const nlp_taxonomy_t *tax, const nlp_text_t *texts,
                       const nlp_options_t *opts)
{
    snprintf(r->intent, sizeof(r->intent), "none");
    size_t ncat = nlp_taxonomy_size(tax);
    if (ncat == 0)
        return 0;
    nlp_topic_match_t *all = sp_arena_alloc(r->arena, ncat * sizeof(*all));
    r->topics = sp_arena_alloc(r->arena, (opts->max_topics + 1) * sizeof(*r->topics));
    r->intents = sp_arena_alloc(r->arena, (opts->max_topics + 1) * sizeof(*r->intents));
    if (!all || !r->topics || !r->intents)
        return SP_ENOMEM;
    size_t n = 0;
    int rc = nlp_taxonomy_match(tax, texts, r->n_utterances, r->language, opts->topic_min_score,
                                all, ncat, &n);
    if (rc)
        return rc;
    if (n > ncat)
        n = ncat;
    for (size_t i = 0; i < n; i++) {
        if (all[i].kind == NLP_CATEGORY_INTENT) {
            if (r->n_intents < opts->max_topics)
                r->intents[r->n_intents++] = all[i];
        } else if (r->n_topics < opts->max_topics) {
            r->topics[r->n_topics++] = all[i];
        }
    }
    const nlp_topic_match_t *best = nlp_taxonomy_primary_intent(all, n);
    if (best) {
        memcpy(r->intent, best->id, sizeof(r->intent));
        r->intent_score = best->score;
    }
    return 0;
}

static int step_callmetrics(nlp_result_t *r, const nlp_options_t *opts)
{
    nlp_timed_span_t *spans = sp_arena_alloc(r->arena, (r->n_utterances + 1) * sizeof(*spans));
    if (!spans)
        return SP_ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < r->n_utterances; i++) {
        const nlp_utterance_result_t *u = &r->utterances[i];
        if (u->start_ms < 0 && u->end_ms < 0)
            continue; /* no timing at all: a chat message, an e-mail */
        spans[n].start_ms = u->start_ms;
        spans[n].end_ms = u->end_ms;
        spans[n].speaker = u->speaker;
        n++;
    }
    if (n == 0)
        return 0;
    int rc = nlp_callmetrics_compute(spans, n, opts->silence_gap_ms, &r->call);
    if (rc)
        return rc;
    r->has_call_metrics = r->call.spans > 0;
    return 0;
}

static int step_outcome(const nlp_interaction_t *in, nlp_result_t *r)
{
    nlp_outcome_init(&r->outcome);
    for (size_t i = 0; i < r->n_utterances; i++) {
        const nlp_utterance_result_t *u = &r->utterances[i];
        int rc = nlp_outcome_scan(&r->outcome, u->text, u->len, u->speaker, r->language);
        if (rc)
            return rc;
    }
    /* Out-of-range survey values are dropped (stored as absent): ingestion
     * validates them; analysis should not fail an interaction over one. */
    (void)nlp_outcome_set_survey(&r->outcome, in->csat, in->nps, in->rating);
    return 0;
}

int nlp_analyze(const nlp_interaction_t *in, const nlp_taxonomy_t *tax, const nlp_options_t *opts,
                nlp_result_t *out)
{
    if (!out)
        return SP_EINVAL;
    memset(out, 0, sizeof(*out));
    if (!in)
        return SP_EINVAL;
    int rc = check_input(in);
    if (rc)
        return rc;
    nlp_options_t defaults;
    if (!opts) {
        nlp_options_init(&defaults);
        opts = &defaults;
    }
    if (!tax && !(tax = nlp_taxonomy_default()))
        return SP_ENOMEM;
    nlp_result_t *r = out;
    r->arena = sp_arena_new();
    if (!r->arena)
        return SP_ENOMEM;

    /* 1. Redaction first: nothing below sees the raw text. */
    r->n_utterances = in->n_utterances;
    r->utterances = sp_arena_alloc(r->arena, (in->n_utterances + 1) * sizeof(*r->utterances));
    if (!r->utterances) {
        rc = SP_ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < in->n_utterances; i++) {
        const nlp_utterance_t *u = &in->utterances[i];
        nlp_utterance_result_t *ur = &r->utterances[i];
        size_t len = u->text ? (u->len ? u->len : strlen(u->text)) : 0;
        nlp_pii_counts_t c = {{0}};
        char *red = nlp_pii_redact(u->text ? u->text : "", len, &c, &ur->len);
        if (!red || sp_arena_defer(r->arena, free_ptr, red)) {
            rc = SP_ENOMEM;
            goto fail;
        }
        ur->text = red;
        ur->speaker = u->speaker;
        ur->start_ms = u->start_ms;
        ur->end_ms = u->end_ms;
        ur->pii = nlp_pii_total(&c);
        for (int k = 0; k < NLP_PII_TYPES; k++)
            r->pii.n[k] += c.n[k];
    }

    /* 2..7. */
    nlp_text_t *texts = NULL;
    if ((rc = step_language(in, r)) || (rc = step_sentiment(r, opts)))
        goto fail;
    if (!(texts = weighted_texts(r, opts))) {
        rc = SP_ENOMEM;
        goto fail;
    }
    if ((rc = step_topics(r, tax, texts, opts)) || (rc = step_callmetrics(r, opts)) ||
        (rc = step_outcome(in, r)))
        goto fail;
    r->keywords = sp_arena_alloc(r->arena, (opts->max_keywords + 1) * sizeof(*r->keywords));
    if (!r->keywords) {
        rc = SP_ENOMEM;
        goto fail;
    }
    rc = nlp_keywords_extract(texts, r->n_utterances, r->language, opts->max_keywords, r->keywords,
                              &r->n_keywords);
    if (rc)
        goto fail;
    return 0;
fail:
    nlp_result_cleanup(r);
    return rc;
}
