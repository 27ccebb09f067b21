/*
 * sentiment.c — the lexicon-and-rules sentiment scorer (rules in
 * sentiment.h).
 */
#include "nlp/sentiment.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "langs.h"
#include "lexicon.h"
#include "nlp/token.h"
#include "phraseset.h"
#include "platform/error.h"

/* VADER's constants: negation scalar, capitals increment, punctuation
 * amplifiers and the normalisation alpha. */
#define NEGATION_SCALAR (-0.74)
#define CAPS_INCR       0.733
#define SHOUT_INCR      0.4
#define ELONGATED_INCR  0.3
#define EXCL_INCR       0.292
#define QM_INCR         0.18
#define ALPHA           15.0
#define WINDOW          3
#define CONTRAST_BEFORE 0.5
#define CONTRAST_AFTER  1.5

static ps_set_t *lexicon;
static pthread_once_t lexicon_once = PTHREAD_ONCE_INIT;

static int add_entries(ps_set_t *s, const lex_entry_t *e, size_t n, int lang)
{
    for (size_t i = 0; i < n; i++) {
        int rc = ps_add(s, e[i].pattern, LM(lang), e[i].kind, e[i].value, NULL, 0);
        if (rc)
            return rc;
    }
    return 0;
}

static void build_lexicon(void)
{
    ps_set_t *s = ps_new();
    if (!s)
        return;
    if (add_entries(s, nlp_lex_en, nlp_lex_en_len, L_EN) ||
        add_entries(s, nlp_lex_pt, nlp_lex_pt_len, L_PT) ||
        add_entries(s, nlp_lex_es, nlp_lex_es_len, L_ES) || ps_finish(s)) {
        ps_destroy(&s);
        return;
    }
    lexicon = s;
}

const ps_set_t *sentiment_lexicon(void)
{
    pthread_once(&lexicon_once, build_lexicon);
    return lexicon;
}

const char *nlp_sentiment_label(double score)
{
    if (score >= NLP_SENTIMENT_POSITIVE)
        return "positive";
    if (score <= NLP_SENTIMENT_NEGATIVE)
        return "negative";
    return "neutral";
}

static double round4(double x)
{
    return round(x * 1e4) / 1e4;
}

void nlp_sentiment_acc_add(nlp_sentiment_acc_t *acc, const nlp_sentiment_t *s, double w)
{
    if (!acc || !s || s->items == 0 || !(w > 0))
        return;
    acc->sum += s->score * w;
    acc->weight += w;
    acc->count++;
}

double nlp_sentiment_acc_mean(const nlp_sentiment_acc_t *acc)
{
    if (!acc || acc->weight <= 0)
        return 0.0;
    return round4(acc->sum / acc->weight);
}

static double emoji_value(uint32_t cp)
{
    for (size_t i = 0; i < nlp_lex_emoji_len; i++)
        if (nlp_lex_emoji[i].cp == cp)
            return nlp_lex_emoji[i].value;
    return 0.0;
}

static double emoticon_value(const char *s)
{
    for (size_t i = 0; i < nlp_lex_emoticons_len; i++)
        if (strcmp(nlp_lex_emoticons[i].text, s) == 0)
            return nlp_lex_emoticons[i].value;
    return 0.0;
}

/* Retries a word that is not in the lexicon: squeezed letter runs
 * ("gooood" -> "good", then "god"), and without a plural "s". */
static const ps_info_t *lookup_variant(const ps_set_t *lex, const char *norm, uint32_t mask,
                                       int elongated)
{
    size_t n = strlen(norm);
    if (n == 0 || n > 63)
        return NULL;
    char buf[64];
    const ps_info_t *info = NULL;
    if (elongated) {
        for (int keep = 2; keep >= 1 && !info; keep--) {
            size_t o = 0, run = 0;
            for (size_t i = 0; i < n; i++) {
                run = (i > 0 && norm[i] == norm[i - 1]) ? run + 1 : 1;
                if (run <= (size_t)keep)
                    buf[o++] = norm[i];
            }
            buf[o] = '\0';
            info = ps_lookup_word(lex, buf, mask);
        }
        if (info)
            return info;
    }
    if (n > 3 && norm[n - 1] == 's') {
        memcpy(buf, norm, n - 1);
        buf[n - 1] = '\0';
        info = ps_lookup_word(lex, buf, mask);
    }
    return info;
}

typedef struct {
    size_t start, end; /* tokens [start, end) */
    int kind;
    double value;
} entry_t;

int nlp_sentiment_score(const char *text, size_t len, const char *lang, nlp_sentiment_t *out)
{
    if (!out || (!text && len > 0))
        return SP_EINVAL;
    memset(out, 0, sizeof(*out));
    const ps_set_t *lex = sentiment_lexicon();
    if (!lex)
        return SP_ENOMEM;
    uint32_t mask = langs_data_mask(lang);
    nlp_tokens_t toks;
    nlp_tokens_init(&toks);
    int rc = nlp_tokenize(text ? text : "", len, &toks);
    if (rc)
        return rc;
    const nlp_token_t *t = toks.v;
    size_t n = toks.n;
    entry_t *ent = NULL;
    int *role = NULL; /* per token: index of the entry ending there, or -1 */
    if (n > 0) {
        ent = malloc(n * sizeof(*ent));
        role = malloc(n * sizeof(*role));
        if (!ent || !role) {
            rc = SP_ENOMEM;
            goto done;
        }
    }
    size_t ne = 0;
    unsigned excl = 0, qm = 0, caps_words = 0, lower_words = 0;
    long last_contrast = -1;

    /* Pass 1: what each token is. */
    for (size_t i = 0; i < n; i++)
        role[i] = -1;
    for (size_t i = 0; i < n;) {
        const nlp_token_t *k = &t[i];
        if (k->kind == NLP_TOK_WORD) {
            if (k->flags & NLP_TOKF_ALLCAPS)
                caps_words++;
            else if (k->flags & NLP_TOKF_HASLOWER)
                lower_words++;
        }
        if (k->kind == NLP_TOK_PUNCT) {
            if (k->cp == '!')
                excl += k->repeat;
            else if (k->cp == '?')
                qm += k->repeat;
            i++;
            continue;
        }
        if (k->kind == NLP_TOK_EMOJI || k->kind == NLP_TOK_EMOTICON) {
            double v = k->kind == NLP_TOK_EMOJI ? emoji_value(k->cp) : emoticon_value(k->norm);
            if (v != 0.0) {
                ent[ne] = (entry_t){i, i + 1, -1, v}; /* kind -1: never modified */
                role[i] = (int)ne++;
            }
            i++;
            continue;
        }
        if (k->kind != NLP_TOK_WORD) {
            i++;
            continue;
        }
        ps_hit_t hit = ps_best_at(lex, t, n, i, mask);
        if (!hit.info) {
            const ps_info_t *info =
                lookup_variant(lex, k->norm, mask, (k->flags & NLP_TOKF_ELONGATED) != 0);
            if (info) {
                hit.info = info;
                hit.span = 1;
            }
        }
        if (!hit.info) {
            i++;
            continue;
        }
        size_t end = i + hit.span;
        /* Count the words of a multi-word entry for the capitals test. */
        for (size_t j = i + 1; j < end; j++) {
            if (t[j].flags & NLP_TOKF_ALLCAPS)
                caps_words++;
            else if (t[j].flags & NLP_TOKF_HASLOWER)
                lower_words++;
        }
        ent[ne] = (entry_t){i, end, hit.info->id, hit.info->value};
        role[end - 1] = (int)ne++;
        if (hit.info->id == LEX_CONTRAST)
            last_contrast = (long)i;
        i = end;
    }

    /* Pass 2: apply the rules to each valence. */
    int shouting = caps_words >= 2 && lower_words == 0;
    double sum = 0.0, pos = 0.0, neg = 0.0;
    unsigned items = 0;
    for (size_t e = 0; e < ne; e++) {
        entry_t *x = &ent[e];
        if (x->kind == LEX_BOOST || x->kind == LEX_NEGATOR || x->kind == LEX_CONTRAST)
            continue;
        if (x->value == 0.0)
            continue;
        double v = x->value;
        if (x->kind == LEX_VALENCE) {
            double mag = fabs(v), scalar = 0.0;
            int negated = 0;
            size_t d = 0;
            for (size_t j = x->start; j-- > 0 && d < WINDOW;) {
                if (nlp_token_is_break(&t[j], 1))
                    break;
                if (t[j].kind == NLP_TOK_PUNCT)
                    continue;
                d++;
                if (role[j] < 0)
                    continue;
                const entry_t *m = &ent[role[j]];
                if (m->kind == LEX_CONTRAST)
                    break;
                if (m->kind == LEX_NEGATOR)
                    negated = 1;
                else if (m->kind == LEX_BOOST)
                    scalar += m->value * (d == 1 ? 1.0 : d == 2 ? 0.95 : 0.9);
                /* Continue before the modifier's first word. */
                j = m->start;
            }
            int caps = 0, elongated = 0;
            for (size_t j = x->start; j < x->end; j++) {
                if (t[j].flags & NLP_TOKF_ALLCAPS)
                    caps = 1;
                if (t[j].flags & NLP_TOKF_ELONGATED)
                    elongated = 1;
            }
            mag += scalar;
            if (caps && !shouting)
                mag += CAPS_INCR;
            if (shouting)
                mag += SHOUT_INCR;
            if (elongated)
                mag += ELONGATED_INCR;
            if (mag < 0.1 * fabs(v)) /* a dampener never flips a word */
                mag = 0.1 * fabs(v);
            v = v > 0 ? mag : -mag;
            if (negated)
                v *= NEGATION_SCALAR;
        }
        if (last_contrast >= 0)
            v *= (long)x->start < last_contrast ? CONTRAST_BEFORE : CONTRAST_AFTER;
        sum += v;
        if (v > 0)
            pos += v;
        else
            neg += -v;
        items++;
    }
    if (sum != 0.0) {
        double amp = (excl > 4 ? 4 : excl) * EXCL_INCR;
        if (qm > 1)
            amp += (qm > 3 ? 3 : qm) * QM_INCR;
        sum += sum > 0 ? amp : -amp;
    }
    double score = sum / sqrt(sum * sum + ALPHA);
    if (score > 1.0)
        score = 1.0;
    if (score < -1.0)
        score = -1.0;
    out->score = round4(score);
    out->pos = round4(pos);
    out->neg = round4(neg);
    out->items = items;
done:
    free(ent);
    free(role);
    nlp_tokens_cleanup(&toks);
    return rc;
}
