/*
 * token.c — the tokenizer (see token.h for what a token is).
 */
#include "nlp/token.h"

#include <stdlib.h>
#include <string.h>

#include "nlp/utf8.h"
#include "platform/error.h"

void nlp_tokens_init(nlp_tokens_t *toks)
{
    memset(toks, 0, sizeof(*toks));
}

void nlp_tokens_cleanup(nlp_tokens_t *toks)
{
    if (!toks)
        return;
    free(toks->v);
    free(toks->strings);
    memset(toks, 0, sizeof(*toks));
}

int nlp_token_is_break(const nlp_token_t *t, int with_comma)
{
    if (t->kind != NLP_TOK_PUNCT)
        return 0;
    switch (t->cp) {
    case '.':
    case '!':
    case '?':
    case ';':
    case ':':
    case 0x2026: /* … */
    case 0xA1:   /* ¡ */
    case 0xBF:   /* ¿ */
        return 1;
    case ',':
        return with_comma;
    default:
        return 0;
    }
}

/* Emoticons, longest first so ":-)" wins over ":-". */
static const char *const emoticons[] = {
    ":'-(", ":-)", ":-(", ":-D", ";-)", ":-P", ":-p", ":'(", ":-/", ":-|", ":)", ":(",
    ":D",   ";)",  ":P",  ":p",  ":/",  "<3",  ":|",  "=)",  "=(",  ":]",  ":[",
};

typedef struct {
    nlp_tokens_t *t;
    size_t str_used;
} tok_ctx_t;

static int is_alnum_cp(uint32_t cp)
{
    return nlp_utf8_is_letter(cp) || nlp_utf8_is_digit(cp) || nlp_utf8_is_mark(cp);
}

static nlp_token_t *push(tok_ctx_t *c, nlp_tok_kind_t kind, size_t off, size_t len)
{
    nlp_tokens_t *t = c->t;
    if (t->n == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 64;
        nlp_token_t *nv = realloc(t->v, ncap * sizeof(*nv));
        if (!nv)
            return NULL;
        t->v = nv;
        t->cap = ncap;
    }
    nlp_token_t *tok = &t->v[t->n++];
    memset(tok, 0, sizeof(*tok));
    tok->kind = kind;
    tok->off = off;
    tok->len = len;
    tok->repeat = 1;
    return tok;
}

/* Copies bytes verbatim as both the lower and the folded form. */
static void set_verbatim(tok_ctx_t *c, nlp_token_t *tok, const char *s, size_t len)
{
    char *p = c->t->strings + c->str_used;
    memcpy(p, s, len);
    p[len] = '\0';
    tok->lower = p;
    tok->norm = p;
    c->str_used += len + 1;
}

static size_t placeholder_len(const char *s, size_t len)
{
    size_t i = 1;
    while (i < len && i <= 13 && s[i] >= 'A' && s[i] <= 'Z')
        i++;
    if (i < len && s[i] == ']' && i - 1 >= 2 && i - 1 <= 12)
        return i + 1;
    return 0;
}

static size_t emoticon_len(const char *s, size_t len)
{
    for (size_t k = 0; k < sizeof(emoticons) / sizeof(emoticons[0]); k++) {
        size_t el = strlen(emoticons[k]);
        if (el > len || memcmp(s, emoticons[k], el) != 0)
            continue;
        if (el < len) {
            uint32_t next;
            nlp_utf8_decode(s + el, len - el, &next);
            if (is_alnum_cp(next))
                continue;
        }
        return el;
    }
    return 0;
}

/* Scans a word or number starting at text[i] and pushes it. Returns the
 * end offset, or 0 when out of memory. */
static size_t scan_word(tok_ctx_t *c, const char *text, size_t len, size_t i)
{
    size_t j = i;
    int letters = 0, uppers = 0, lowers = 0, nondigit = 0, first_upper = -1;
    uint32_t prev = 0, run_cp = 0;
    int run = 0, elongated = 0;
    while (j < len) {
        uint32_t cp;
        size_t n = nlp_utf8_decode(text + j, len - j, &cp);
        if (nlp_utf8_is_letter(cp) || nlp_utf8_is_digit(cp) || nlp_utf8_is_mark(cp)) {
            if (nlp_utf8_is_letter(cp)) {
                letters++;
                if (nlp_utf8_is_upper(cp))
                    uppers++;
                else
                    lowers++;
                if (first_upper < 0)
                    first_upper = nlp_utf8_is_upper(cp);
                uint32_t lc = nlp_utf8_lower(cp);
                run = (lc == run_cp) ? run + 1 : 1;
                run_cp = lc;
                if (run >= 3)
                    elongated = 1;
            } else {
                run = 0;
                run_cp = 0;
            }
            if (!nlp_utf8_is_digit(cp))
                nondigit = 1;
            prev = cp;
            j += n;
            continue;
        }
        /* Inner apostrophes and hyphens join letters; inner . and , join
         * digits. Anything else ends the word. */
        if (j + n < len) {
            uint32_t next;
            nlp_utf8_decode(text + j + n, len - j - n, &next);
            int joins_letters = (cp == '\'' || cp == 0x2019 || cp == '-') &&
                                nlp_utf8_is_letter(prev) && nlp_utf8_is_letter(next);
            int joins_digits =
                (cp == '.' || cp == ',') && nlp_utf8_is_digit(prev) && nlp_utf8_is_digit(next);
            if (joins_letters || joins_digits) {
                if (joins_letters)
                    nondigit = 1;
                prev = cp;
                run = 0;
                run_cp = 0;
                j += n;
                continue;
            }
        }
        break;
    }
    nlp_token_t *tok = push(c, nondigit ? NLP_TOK_WORD : NLP_TOK_NUMBER, i, j - i);
    if (!tok)
        return 0;
    if (uppers >= 2 && lowers == 0)
        tok->flags |= NLP_TOKF_ALLCAPS;
    if (first_upper == 1)
        tok->flags |= NLP_TOKF_CAPITALIZED;
    if (elongated)
        tok->flags |= NLP_TOKF_ELONGATED;
    if (lowers > 0)
        tok->flags |= NLP_TOKF_HASLOWER;
    (void)letters;

    /* Lower and folded forms never take more bytes than the source. */
    char *lo = c->t->strings + c->str_used;
    size_t o = 0;
    for (size_t k = i; k < j;) {
        uint32_t cp;
        k += nlp_utf8_decode(text + k, j - k, &cp);
        if (cp == 0x2019)
            cp = '\'';
        o += nlp_utf8_encode(nlp_utf8_lower(cp), lo + o);
    }
    lo[o] = '\0';
    c->str_used += o + 1;
    char *no = c->t->strings + c->str_used;
    o = 0;
    for (size_t k = i; k < j;) {
        uint32_t cp, f[2];
        k += nlp_utf8_decode(text + k, j - k, &cp);
        size_t nf = nlp_utf8_fold(cp, f);
        for (size_t m = 0; m < nf; m++)
            o += nlp_utf8_encode(f[m], no + o);
    }
    no[o] = '\0';
    c->str_used += o + 1;
    tok->lower = lo;
    tok->norm = no;
    return j;
}

int nlp_tokenize(const char *text, size_t len, nlp_tokens_t *toks)
{
    toks->n = 0;
    if (len > (SIZE_MAX - 16) / 4)
        return SP_ETOOBIG;
    /* Every token's two forms fit in 2 * its bytes plus two NULs, and there
     * are at most len tokens. */
    size_t need = 4 * len + 16;
    if (toks->str_cap < need) {
        char *ns = realloc(toks->strings, need);
        if (!ns) {
            nlp_tokens_cleanup(toks);
            return SP_ENOMEM;
        }
        toks->strings = ns;
        toks->str_cap = need;
    }
    tok_ctx_t c = {.t = toks, .str_used = 0};
    size_t i = 0;
    int prev_alnum = 0;
    while (i < len) {
        uint32_t cp;
        size_t n = nlp_utf8_decode(text + i, len - i, &cp);
        if (cp == NLP_UTF8_REPLACEMENT || nlp_utf8_is_space(cp) || cp < 0x20 ||
            (cp >= 0x7F && cp < 0xA0) || nlp_utf8_is_emoji_modifier(cp)) {
            prev_alnum = 0;
            i += n;
            continue;
        }
        if (cp == '[') {
            size_t pl = placeholder_len(text + i, len - i);
            if (pl) {
                nlp_token_t *tok = push(&c, NLP_TOK_PLACEHOLDER, i, pl);
                if (!tok)
                    goto fail;
                set_verbatim(&c, tok, text + i, pl);
                i += pl;
                prev_alnum = 0;
                continue;
            }
        }
        if (!prev_alnum && (cp == ':' || cp == ';' || cp == '<' || cp == '=')) {
            size_t el = emoticon_len(text + i, len - i);
            if (el) {
                nlp_token_t *tok = push(&c, NLP_TOK_EMOTICON, i, el);
                if (!tok)
                    goto fail;
                set_verbatim(&c, tok, text + i, el);
                i += el;
                prev_alnum = 0;
                continue;
            }
        }
        if (nlp_utf8_is_letter(cp) || nlp_utf8_is_digit(cp)) {
            size_t end = scan_word(&c, text, len, i);
            if (!end)
                goto fail;
            i = end;
            prev_alnum = 1;
            continue;
        }
        if (nlp_utf8_is_mark(cp)) { /* a stray combining mark */
            i += n;
            continue;
        }
        if (nlp_utf8_is_emoji(cp)) {
            nlp_token_t *tok = push(&c, NLP_TOK_EMOJI, i, n);
            if (!tok)
                goto fail;
            tok->cp = cp;
            set_verbatim(&c, tok, text + i, n);
            i += n;
            prev_alnum = 0;
            continue;
        }
        /* Punctuation or a symbol: a run of the same one is one token. */
        size_t j = i + n;
        unsigned rep = 1;
        while (j < len) {
            uint32_t cp2;
            size_t n2 = nlp_utf8_decode(text + j, len - j, &cp2);
            if (cp2 != cp)
                break;
            j += n2;
            rep++;
        }
        nlp_token_t *tok = push(&c, NLP_TOK_PUNCT, i, j - i);
        if (!tok)
            goto fail;
        tok->cp = cp;
        tok->repeat = rep;
        set_verbatim(&c, tok, text + i, n);
        i = j;
        prev_alnum = 0;
    }
    return 0;
fail:
    nlp_tokens_cleanup(toks);
    return SP_ENOMEM;
}
