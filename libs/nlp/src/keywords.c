/*
 * keywords.c — RAKE key phrases (see keywords.h).
 */
#include "nlp/keywords.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "langs.h"
#include "lexicon.h"
#include "nlp/token.h"
#include "phraseset.h"
#include "platform/error.h"
#include "platform/text.h"
#include "wordsets.h"

typedef struct {
    char *key;   /* folded words joined by spaces (malloc'd) */
    double freq; /* weighted */
    double deg;  /* weighted */
} word_t;

typedef struct {
    char *key; /* folded phrase (malloc'd) */
    char display[NLP_KEYWORD_MAX + 1];
    size_t nwords;
    size_t words[NLP_KEYWORD_MAX_WORDS]; /* indexes into the word table */
    double count;
    double score;
} phrase_t;

/* A string -> index hash (open addressing, power-of-two slots holding
 * index + 1, 0 = empty) over the keys of an array. */
typedef struct {
    size_t *slot;
    size_t nslots;
} index_t;

typedef const char *(*key_fn)(const void *base, size_t i);

/* The slot for key: holding its index + 1, or 0 where it would go. */
static size_t *index_find(const index_t *ix, const char *key, const void *base, key_fn kf)
{
    size_t mask = ix->nslots - 1;
    size_t h = sp_fnv1a32(key) & mask;
    while (ix->slot[h] && strcmp(kf(base, ix->slot[h] - 1), key) != 0)
        h = (h + 1) & mask;
    return &ix->slot[h];
}

/* Makes room for one more key while keeping the table at most half full;
 * rehashes the n keys already in base on growth. */
static int index_reserve(index_t *ix, size_t n, const void *base, key_fn kf)
{
    if (ix->nslots >= 2 * (n + 2))
        return 0;
    size_t ns = ix->nslots ? ix->nslots * 2 : 128;
    while (ns < 2 * (n + 2))
        ns *= 2;
    size_t *nsl = calloc(ns, sizeof(size_t));
    if (!nsl)
        return SP_ENOMEM;
    free(ix->slot);
    ix->slot = nsl;
    ix->nslots = ns;
    for (size_t i = 0; i < n; i++)
        *index_find(ix, kf(base, i), base, kf) = i + 1;
    return 0;
}

typedef struct {
    word_t *w;
    size_t nw, capw;
    phrase_t *p;
    size_t np, capp;
    index_t wix, pix;
} table_t;

static const char *word_key(const void *base, size_t i)
{
    return ((const word_t *)base)[i].key;
}

static const char *phrase_key(const void *base, size_t i)
{
    return ((const phrase_t *)base)[i].key;
}

static long intern_word(table_t *t, const char *key)
{
    if (index_reserve(&t->wix, t->nw, t->w, word_key))
        return -1;
    size_t *slot = index_find(&t->wix, key, t->w, word_key);
    if (*slot)
        return (long)(*slot - 1);
    if (t->nw == t->capw) {
        size_t ncap = t->capw ? t->capw * 2 : 64;
        word_t *nw = realloc(t->w, ncap * sizeof(*nw));
        if (!nw)
            return -1;
        t->w = nw;
        t->capw = ncap;
    }
    char *k = strdup(key);
    if (!k)
        return -1;
    t->w[t->nw].key = k;
    t->w[t->nw].freq = 0;
    t->w[t->nw].deg = 0;
    *slot = t->nw + 1;
    return (long)t->nw++;
}

static int is_candidate_word(const nlp_token_t *tok, const ps_set_t *stops, uint32_t mask)
{
    if (tok->kind != NLP_TOK_WORD)
        return 0;
    if (strlen(tok->norm) < 2)
        return 0;
    return ps_lookup_word(stops, tok->norm, mask) == NULL;
}

/* Adds the phrase of tokens [a, b) of one text. */
static int add_phrase(table_t *t, const nlp_token_t *toks, size_t a, size_t b, double weight)
{
    char key[NLP_KEYWORD_MAX * 2 + 2], disp[NLP_KEYWORD_MAX * 2 + 2];
    size_t kl = 0, dl = 0;
    for (size_t i = a; i < b; i++) {
        size_t nl = strlen(toks[i].norm), ll = strlen(toks[i].lower);
        if (kl + nl + 1 > NLP_KEYWORD_MAX || dl + ll + 1 > NLP_KEYWORD_MAX)
            return 0; /* too long to show: not a key phrase */
        if (i > a) {
            key[kl++] = ' ';
            disp[dl++] = ' ';
        }
        memcpy(key + kl, toks[i].norm, nl);
        kl += nl;
        memcpy(disp + dl, toks[i].lower, ll);
        dl += ll;
    }
    key[kl] = '\0';
    disp[dl] = '\0';
    size_t nwords = b - a;
    size_t widx[NLP_KEYWORD_MAX_WORDS];
    for (size_t i = a; i < b; i++) {
        long w = intern_word(t, toks[i].norm);
        if (w < 0)
            return SP_ENOMEM;
        widx[i - a] = (size_t)w;
        t->w[w].freq += weight;
        t->w[w].deg += weight * (double)nwords;
    }
    if (index_reserve(&t->pix, t->np, t->p, phrase_key))
        return SP_ENOMEM;
    size_t *slot = index_find(&t->pix, key, t->p, phrase_key);
    if (*slot) {
        t->p[*slot - 1].count += weight;
        return 0;
    }
    if (t->np == t->capp) {
        size_t ncap = t->capp ? t->capp * 2 : 64;
        phrase_t *np = realloc(t->p, ncap * sizeof(*np));
        if (!np)
            return SP_ENOMEM;
        t->p = np;
        t->capp = ncap;
    }
    phrase_t *p = &t->p[t->np];
    memset(p, 0, sizeof(*p));
    if (!(p->key = strdup(key)))
        return SP_ENOMEM;
    memcpy(p->display, disp, dl + 1);
    p->nwords = nwords;
    memcpy(p->words, widx, nwords * sizeof(size_t));
    p->count = weight;
    *slot = t->np + 1;
    t->np++;
    return 0;
}

static int cmp_phrase(const void *a, const void *b)
{
    const phrase_t *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return strcmp(x->display, y->display);
}

static double round4(double x)
{
    return round(x * 1e4) / 1e4;
}

int nlp_keywords_extract(const nlp_text_t *texts, size_t n_texts, const char *lang, size_t top_n,
                         nlp_keyword_t *out, size_t *n_out)
{
    if ((!texts && n_texts > 0) || (!out && top_n > 0) || !n_out)
        return SP_EINVAL;
    *n_out = 0;
    const ps_set_t *stops = wordsets_keyword_stops();
    const ps_set_t *lex = sentiment_lexicon();
    if (!stops || !lex)
        return SP_ENOMEM;
    uint32_t mask = langs_mask(lang), lexmask = langs_data_mask(lang);
    table_t t = {0};
    nlp_tokens_t toks;
    nlp_tokens_init(&toks);
    int rc = 0;
    /* Start with room so the tables are never NULL. */
    t.capw = t.capp = 64;
    t.w = calloc(t.capw, sizeof(*t.w));
    t.p = calloc(t.capp, sizeof(*t.p));
    if (!t.w || !t.p) {
        rc = SP_ENOMEM;
        goto done;
    }
    for (size_t x = 0; x < n_texts && !rc; x++) {
        if (!(texts[x].weight > 0) || !texts[x].text)
            continue;
        size_t len = texts[x].len ? texts[x].len : strlen(texts[x].text);
        rc = nlp_tokenize(texts[x].text, len, &toks);
        if (rc)
            break;
        size_t i = 0;
        while (i < toks.n && !rc) {
            if (!is_candidate_word(&toks.v[i], stops, mask)) {
                i++;
                continue;
            }
            size_t j = i;
            while (j < toks.n && is_candidate_word(&toks.v[j], stops, mask))
                j++;
            /* Cut long runs into pieces of at most MAX_WORDS. */
            for (size_t a = i; a < j && !rc; a += NLP_KEYWORD_MAX_WORDS) {
                size_t b = a + NLP_KEYWORD_MAX_WORDS < j ? a + NLP_KEYWORD_MAX_WORDS : j;
                rc = add_phrase(&t, toks.v, a, b, texts[x].weight);
            }
            i = j;
        }
    }
    if (rc)
        goto done;
    size_t keep = 0;
    for (size_t i = 0; i < t.np; i++) {
        phrase_t *p = &t.p[i];
        if (p->nwords == 1) {
            const ps_info_t *info = ps_lookup_word(lex, p->key, lexmask);
            size_t letters = strlen(p->key);
            if ((info && info->id == LEX_VALENCE && info->value != 0) || letters < 3) {
                free(p->key);
                continue;
            }
        }
        double s = 0;
        for (size_t k = 0; k < p->nwords; k++) {
            const word_t *w = &t.w[p->words[k]];
            s += w->deg / w->freq;
        }
        p->score = round4(s * p->count);
        p->count = round4(p->count);
        t.p[keep++] = *p;
    }
    t.np = keep;
    if (t.np > 1)
        qsort(t.p, t.np, sizeof(*t.p), cmp_phrase);
    size_t n = t.np < top_n ? t.np : top_n;
    for (size_t i = 0; i < n; i++) {
        memcpy(out[i].phrase, t.p[i].display, sizeof(out[i].phrase));
        out[i].score = t.p[i].score;
        out[i].count = t.p[i].count;
    }
    *n_out = n;
done:
    for (size_t i = 0; i < t.nw; i++)
        free(t.w[i].key);
    for (size_t i = 0; i < t.np; i++)
        free(t.p[i].key);
    free(t.w);
    free(t.p);
    free(t.wix.slot);
    free(t.pix.slot);
    nlp_tokens_cleanup(&toks);
    return rc;
}
