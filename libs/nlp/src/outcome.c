/*
 * outcome.c — escalation / resolution / churn phrase spotting and survey
 * values (rules in outcome.h).
 */
#include "nlp/outcome.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "langs.h"
#include "lexicon.h"
#include "nlp/token.h"
#include "outcome_data.h"
#include "phraseset.h"
#include "platform/error.h"

#define WINDOW 3

static ps_set_t *phrases;
static pthread_once_t phrases_once = PTHREAD_ONCE_INIT;

static int add_split(ps_set_t *s, const char *list, int lang, int kind)
{
    const char *p = list;
    while (p && *p) {
        const char *e = strchr(p, '|');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char buf[PS_MAX_PATTERN + 1];
        if (n == 0 || n > PS_MAX_PATTERN)
            return SP_EINVAL;
        memcpy(buf, p, n);
        buf[n] = '\0';
        int rc = ps_add(s, buf, LM(lang), kind, 0, NULL, 0);
        if (rc)
            return rc;
        p = e ? e + 1 : NULL;
    }
    return 0;
}

/* Negators come from the sentiment lexicons, so both steps agree. */
static int add_negators(ps_set_t *s, const lex_entry_t *e, size_t n, int lang)
{
    for (size_t i = 0; i < n; i++)
        if (e[i].kind == LEX_NEGATOR) {
            int rc = ps_add(s, e[i].pattern, LM(lang), OUT_NEGATOR, 0, NULL, 0);
            if (rc)
                return rc;
        }
    return 0;
}

static void build_phrases(void)
{
    ps_set_t *s = ps_new();
    if (!s)
        return;
    for (int k = 0; k < OUT_KINDS; k++)
        for (int l = 0; l < L_COUNT; l++)
            if (nlp_outcome_phrases[k][l] && add_split(s, nlp_outcome_phrases[k][l], l, k))
                goto fail;
    if (add_negators(s, nlp_lex_en, nlp_lex_en_len, L_EN) ||
        add_negators(s, nlp_lex_pt, nlp_lex_pt_len, L_PT) ||
        add_negators(s, nlp_lex_es, nlp_lex_es_len, L_ES) || ps_finish(s))
        goto fail;
    phrases = s;
    return;
fail:
    ps_destroy(&s);
}

nlp_nps_class_t nlp_nps_classify(int score)
{
    if (score < 0 || score > 10)
        return NLP_NPS_NONE;
    if (score <= 6)
        return NLP_NPS_DETRACTOR;
    return score <= 8 ? NLP_NPS_PASSIVE : NLP_NPS_PROMOTER;
}

const char *nlp_nps_class_name(nlp_nps_class_t c)
{
    switch (c) {
    case NLP_NPS_DETRACTOR:
        return "detractor";
    case NLP_NPS_PASSIVE:
        return "passive";
    case NLP_NPS_PROMOTER:
        return "promoter";
    default:
        return "none";
    }
}

int nlp_csat_satisfied(int csat)
{
    if (csat < 1 || csat > 5)
        return -1;
    return csat >= 4;
}

void nlp_outcome_init(nlp_outcome_t *o)
{
    memset(o, 0, sizeof(*o));
    o->csat = -1;
    o->nps = -1;
    o->nps_class = NLP_NPS_NONE;
    o->rating = -1;
}

int nlp_outcome_set_survey(nlp_outcome_t *o, int csat, int nps, int rating)
{
    if (!o)
        return SP_EINVAL;
    int rc = 0;
    o->csat = (csat >= 1 && csat <= 5) ? csat : -1;
    if (csat != -1 && o->csat == -1)
        rc = SP_EINVAL;
    o->nps = (nps >= 0 && nps <= 10) ? nps : -1;
    if (nps != -1 && o->nps == -1)
        rc = SP_EINVAL;
    o->nps_class = nlp_nps_classify(o->nps);
    o->rating = (rating >= 1 && rating <= 5) ? rating : -1;
    if (rating != -1 && o->rating == -1)
        rc = SP_EINVAL;
    return rc;
}

/* Is a negator among the WINDOW words before token i (same clause)? */
static int negated_before(const int *neg_end, const nlp_token_t *t, size_t i)
{
    size_t d = 0;
    for (size_t j = i; j-- > 0 && d < WINDOW;) {
        if (nlp_token_is_break(&t[j], 1))
            return 0;
        if (t[j].kind == NLP_TOK_PUNCT)
            continue;
        d++;
        if (neg_end[j])
            return 1;
    }
    return 0;
}

/* Does the sentence holding token i end with a question mark? */
static int in_question(const nlp_token_t *t, size_t n, size_t i)
{
    for (size_t j = i; j < n; j++)
        if (nlp_token_is_break(&t[j], 0))
            return t[j].cp == '?';
    return 0;
}

int nlp_outcome_scan(nlp_outcome_t *o, const char *text, size_t len, nlp_speaker_t speaker,
                     const char *lang)
{
    if (!o || (!text && len > 0) || (unsigned)speaker >= NLP_SPEAKER_COUNT)
        return SP_EINVAL;
    pthread_once(&phrases_once, build_phrases);
    if (!phrases)
        return SP_ENOMEM;
    uint32_t mask = langs_data_mask(lang);
    nlp_tokens_t toks;
    nlp_tokens_init(&toks);
    int rc = nlp_tokenize(text ? text : "", len, &toks);
    if (rc)
        return rc;
    int *neg_end = NULL;
    if (toks.n > 0 && !(neg_end = calloc(toks.n, sizeof(int)))) {
        nlp_tokens_cleanup(&toks);
        return SP_ENOMEM;
    }
    for (size_t i = 0; i < toks.n;) {
        /* The longest phrase at a position decides what it is. */
        ps_hit_t hit = ps_best_at(phrases, toks.v, toks.n, i, mask);
        if (!hit.info) {
            i++;
            continue;
        }
        size_t span = hit.span;
        int kind = hit.info->id;
        if (kind == OUT_NEGATOR) {
            neg_end[i + span - 1] = 1;
            i += span;
            continue;
        }
        int neg = negated_before(neg_end, toks.v, i);
        if (kind == OUT_ESCALATION && !neg) {
            o->escalation_requested = true;
            o->escalation_hits++;
        } else if (kind == OUT_CHURN && !neg && speaker != NLP_SPEAKER_AGENT) {
            o->churn_risk = true;
            o->churn_hits++;
        } else if ((kind == OUT_RESOLVED || kind == OUT_UNRESOLVED) &&
                   !in_question(toks.v, toks.n, i)) {
            /* A negated "still broken" says nothing either way. */
            if (!(neg && kind == OUT_UNRESOLVED)) {
                int resolved = kind == OUT_RESOLVED && !neg;
                if (resolved)
                    o->resolved_hits++;
                else
                    o->unresolved_hits++;
                o->last_resolution = resolved ? 1 : -1;
            }
        }
        i += span;
    }
    o->resolved = o->last_resolution > 0;
    o->unresolved = o->last_resolution < 0;
    free(neg_end);
    nlp_tokens_cleanup(&toks);
    return 0;
}
