/*
 * phraseset.c (internal) — compiled word patterns with a first-word index.
 */
#include "phraseset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/error.h"
#include "platform/text.h"

enum { PT_LIT = 0, PT_PREFIX = 1, PT_GAP = 2 };

#define GAP_MAX 2

typedef struct {
    ps_info_t info;
    uint8_t nparts;
    uint8_t kind[PS_MAX_TOKENS * 2];
    const char *word[PS_MAX_TOKENS * 2]; /* into buf; NULL for a gap */
    uint8_t wlen[PS_MAX_TOKENS * 2];
    char *buf;    /* the folded words and the text */
    int32_t next; /* next pattern in the same bucket */
} pattern_t;

typedef struct {
    const char *key; /* NULL: empty slot */
    size_t keylen;
    int32_t head;
} slot_t;

struct ps_set {
    pattern_t *p;
    size_t n, cap;
    slot_t *lit;   /* index on a leading literal */
    slot_t *pre;   /* index on the first 3 bytes of a leading prefix */
    size_t nslots; /* both tables */
};

ps_set_t *ps_new(void)
{
    return calloc(1, sizeof(ps_set_t));
}

void ps_destroy(ps_set_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ps_set_t *s = *self_p;
    for (size_t i = 0; i < s->n; i++)
        free(s->p[i].buf);
    free(s->p);
    free(s->lit);
    free(s->pre);
    free(s);
    *self_p = NULL;
}

size_t ps_count(const ps_set_t *set)
{
    return set->n;
}

static int fail(char *err, size_t errlen, const char *msg, int code)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
    return code;
}

int ps_add(ps_set_t *set, const char *pattern, uint32_t langs, int32_t id, float value, char *err,
           size_t errlen)
{
    size_t plen = strlen(pattern);
    if (plen == 0)
        return fail(err, errlen, "empty pattern", SP_EINVAL);
    if (plen > PS_MAX_PATTERN)
        return fail(err, errlen, "pattern longer than 200 bytes", SP_EINVAL);
    nlp_tokens_t toks;
    nlp_tokens_init(&toks);
    int rc = nlp_tokenize(pattern, plen, &toks);
    if (rc)
        return rc;
    pattern_t pt;
    memset(&pt, 0, sizeof(pt));
    /* Folded words are no longer than the pattern; the text is kept too. */
    pt.buf = malloc(plen * 2 + PS_MAX_TOKENS * 2 + 2);
    if (!pt.buf) {
        nlp_tokens_cleanup(&toks);
        return SP_ENOMEM;
    }
    size_t used = 0;
    int words = 0;
    const char *msg = NULL;
    for (size_t i = 0; i < toks.n && !msg; i++) {
        const nlp_token_t *t = &toks.v[i];
        if (t->kind == NLP_TOK_WORD || t->kind == NLP_TOK_NUMBER) {
            if (words >= PS_MAX_TOKENS) {
                msg = "pattern has more than 8 words";
                break;
            }
            size_t wl = strlen(t->norm);
            if (wl > 255) {
                msg = "word too long";
                break;
            }
            memcpy(pt.buf + used, t->norm, wl + 1);
            pt.word[pt.nparts] = pt.buf + used;
            pt.wlen[pt.nparts] = (uint8_t)wl;
            pt.kind[pt.nparts] = PT_LIT;
            pt.nparts++;
            used += wl + 1;
            words++;
        } else if (t->kind == NLP_TOK_PUNCT && t->cp == '*' && t->repeat == 1) {
            int glued = i > 0 && pt.nparts > 0 && pt.kind[pt.nparts - 1] == PT_LIT &&
                        toks.v[i - 1].off + toks.v[i - 1].len == t->off;
            if (glued) {
                if (pt.wlen[pt.nparts - 1] < 3)
                    msg = "a prefix before * needs at least 3 letters";
                else
                    pt.kind[pt.nparts - 1] = PT_PREFIX;
            } else if (pt.nparts == 0 || pt.kind[pt.nparts - 1] == PT_GAP) {
                msg = "a pattern cannot start with * or hold two in a row";
            } else {
                pt.kind[pt.nparts] = PT_GAP;
                pt.word[pt.nparts] = NULL;
                pt.nparts++;
            }
        } else {
            msg = "patterns hold only words, numbers and *";
        }
    }
    if (!msg && words == 0)
        msg = "pattern has no word";
    if (!msg && pt.kind[pt.nparts - 1] == PT_GAP)
        msg = "a pattern cannot end with a standalone *";
    nlp_tokens_cleanup(&toks);
    if (msg) {
        free(pt.buf);
        return fail(err, errlen, msg, SP_EINVAL);
    }
    memcpy(pt.buf + used, pattern, plen + 1);
    pt.info.text = pt.buf + used;
    pt.info.id = id;
    pt.info.value = value;
    pt.info.langs = langs;
    pt.info.ntok = (uint8_t)words;
    pt.next = -1;
    if (set->n == set->cap) {
        size_t ncap = set->cap ? set->cap * 2 : 64;
        pattern_t *np = realloc(set->p, ncap * sizeof(*np));
        if (!np) {
            free(pt.buf);
            return SP_ENOMEM;
        }
        set->p = np;
        set->cap = ncap;
    }
    set->p[set->n++] = pt;
    return 0;
}

int ps_validate(const char *pattern, char *err, size_t errlen)
{
    ps_set_t *tmp = ps_new();
    if (!tmp)
        return SP_ENOMEM;
    int rc = ps_add(tmp, pattern, 1, 0, 0, err, errlen);
    ps_destroy(&tmp);
    return rc;
}

static slot_t *find_slot(slot_t *tab, size_t nslots, const char *key, size_t keylen)
{
    size_t mask = nslots - 1;
    /* Keys are not NUL-terminated (a prefix index keys on 3 bytes), hence the
     * length-taking 64-bit FNV-1a. */
    size_t h = (size_t)sp_fnv1a64(key, keylen) & mask;
    while (tab[h].key && !(tab[h].keylen == keylen && memcmp(tab[h].key, key, keylen) == 0))
        h = (h + 1) & mask;
    return &tab[h];
}

int ps_finish(ps_set_t *set)
{
    size_t nslots = 16;
    while (nslots < set->n * 2)
        nslots *= 2;
    slot_t *lit = calloc(nslots, sizeof(slot_t));
    slot_t *pre = calloc(nslots, sizeof(slot_t));
    if (!lit || !pre) {
        free(lit);
        free(pre);
        return SP_ENOMEM;
    }
    free(set->lit);
    free(set->pre);
    set->lit = lit;
    set->pre = pre;
    set->nslots = nslots;
    /* Insert in reverse so each chain lists patterns in the order added. */
    for (size_t k = set->n; k-- > 0;) {
        pattern_t *p = &set->p[k];
        int is_pre = p->kind[0] == PT_PREFIX;
        size_t kl = is_pre ? 3 : p->wlen[0];
        slot_t *s = find_slot(is_pre ? pre : lit, nslots, p->word[0], kl);
        if (!s->key) {
            s->key = p->word[0];
            s->keylen = kl;
            s->head = -1;
        }
        p->next = s->head;
        s->head = (int32_t)k;
    }
    return 0;
}

static int is_wordish(const nlp_token_t *t)
{
    return t->kind == NLP_TOK_WORD || t->kind == NLP_TOK_NUMBER;
}

/* Matches parts k.. of p at toks[j]; returns the end token, or -1. */
static long match_from(const pattern_t *p, size_t k, const nlp_token_t *toks, size_t n, size_t j)
{
    if (k == p->nparts)
        return (long)j;
    if (p->kind[k] == PT_GAP) {
        for (size_t skip = 0; skip <= GAP_MAX; skip++) {
            if (skip > 0 && (j + skip - 1 >= n || !is_wordish(&toks[j + skip - 1])))
                break;
            long r = match_from(p, k + 1, toks, n, j + skip);
            if (r >= 0)
                return r;
        }
        return -1;
    }
    if (j >= n || !is_wordish(&toks[j]))
        return -1;
    const char *w = toks[j].norm;
    if (p->kind[k] == PT_LIT) {
        if (strcmp(w, p->word[k]) != 0)
            return -1;
    } else if (strncmp(w, p->word[k], p->wlen[k]) != 0) {
        return -1;
    }
    return match_from(p, k + 1, toks, n, j + 1);
}

static void add_hit(ps_hit_t *hits, size_t max, size_t *count, const pattern_t *p, size_t span)
{
    /* Keep hits sorted by span, longest first, stable among equals. */
    size_t c = *count;
    (*count)++;
    if (max == 0)
        return;
    size_t pos = c < max ? c : max;
    while (pos > 0 && hits[pos - 1].span < span)
        pos--;
    if (pos >= max)
        return;
    size_t last = c < max ? c : max - 1;
    memmove(&hits[pos + 1], &hits[pos], (last - pos) * sizeof(*hits));
    hits[pos].info = &p->info;
    hits[pos].span = span;
}

size_t ps_match_at(const ps_set_t *set, const nlp_token_t *toks, size_t n, size_t i, uint32_t langs,
                   ps_hit_t *hits, size_t max)
{
    size_t count = 0;
    if (!set->lit || i >= n || !is_wordish(&toks[i]))
        return 0;
    const char *w = toks[i].norm;
    size_t wl = strlen(w);
    slot_t *s = find_slot(set->lit, set->nslots, w, wl);
    for (int32_t k = s->key ? s->head : -1; k >= 0; k = set->p[k].next) {
        const pattern_t *p = &set->p[k];
        if (!(p->info.langs & langs))
            continue;
        long end = match_from(p, 0, toks, n, i);
        if (end >= 0)
            add_hit(hits, max, &count, p, (size_t)end - i);
    }
    if (wl >= 3) {
        s = find_slot(set->pre, set->nslots, w, 3);
        for (int32_t k = s->key ? s->head : -1; k >= 0; k = set->p[k].next) {
            const pattern_t *p = &set->p[k];
            if (!(p->info.langs & langs))
                continue;
            long end = match_from(p, 0, toks, n, i);
            if (end >= 0)
                add_hit(hits, max, &count, p, (size_t)end - i);
        }
    }
    return count;
}

ps_hit_t ps_best_at(const ps_set_t *set, const nlp_token_t *toks, size_t n, size_t i,
                    uint32_t langs)
{
    ps_hit_t h = {NULL, 0};
    ps_match_at(set, toks, n, i, langs, &h, 1);
    return h;
}

const ps_info_t *ps_lookup_word(const ps_set_t *set, const char *norm, uint32_t langs)
{
    if (!set->lit)
        return NULL;
    size_t wl = strlen(norm);
    slot_t *s = find_slot(set->lit, set->nslots, norm, wl);
    for (int32_t k = s->key ? s->head : -1; k >= 0; k = set->p[k].next) {
        const pattern_t *p = &set->p[k];
        if (p->nparts == 1 && p->kind[0] == PT_LIT && (p->info.langs & langs))
            return &p->info;
    }
    return NULL;
}
