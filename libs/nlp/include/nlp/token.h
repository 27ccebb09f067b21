/*
 * token.h — splitting a text into the tokens every later step reads.
 *
 * What it does: one pass over UTF-8 text (invalid bytes act as separators)
 * producing words, numbers, punctuation, emoji, ASCII emoticons and the
 * redaction placeholders of pii.h, each with its byte span in the text, a
 * lowercase form and a folded form (lowercase without accents, see utf8.h),
 * and flags (ALLCAPS, Capitalised). Words keep inner apostrophes and
 * hyphens ("don't", "e-mail", "guarda-chuva"); numbers keep inner "." and
 * "," ("1.500,00"); a run of the same punctuation is one token with a
 * repeat count ("!!!" = '!' x 3); "[EMAIL]"-style placeholders (a '[', 2 to
 * 12 ASCII capitals, a ']') are one PLACEHOLDER token so no step reads
 * inside them.
 *
 * Where it stops: no sentence splitter beyond punctuation tokens, no
 * stemming, no compound splitting, no word segmentation for scripts without
 * spaces. Emoticons are a fixed list (":)", ":-(", ":D", "<3", ...), only
 * when not glued to a word (so "http://" is not ":/").
 */
#ifndef NLP_TOKEN_H
#define NLP_TOKEN_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    NLP_TOK_WORD = 0,    /* letters, possibly with digits, ' and - inside */
    NLP_TOK_NUMBER,      /* digits, possibly with . and , inside */
    NLP_TOK_PUNCT,       /* one punctuation character, repeated `repeat` times */
    NLP_TOK_EMOJI,       /* one pictographic emoji (modifiers skipped) */
    NLP_TOK_EMOTICON,    /* an ASCII emoticon such as ":)" */
    NLP_TOK_PLACEHOLDER, /* "[EMAIL]", "[PHONE]", ... */
} nlp_tok_kind_t;

enum {
    NLP_TOKF_ALLCAPS = 1u << 0,     /* word with >= 2 letters, all capitals */
    NLP_TOKF_CAPITALIZED = 1u << 1, /* word whose first letter is a capital */
    NLP_TOKF_ELONGATED = 1u << 2,   /* a letter repeated 3+ times ("sooo") */
    NLP_TOKF_HASLOWER = 1u << 3,    /* word with at least one lowercase letter */
};

typedef struct {
    nlp_tok_kind_t kind;
    uint32_t flags;    /* NLP_TOKF_* */
    size_t off, len;   /* the token's bytes in the source text */
    const char *lower; /* lowercase, accents kept, NUL-terminated */
    const char *norm;  /* folded: lowercase, no accents, NUL-terminated */
    uint32_t cp;       /* PUNCT and EMOJI: the code point; else 0 */
    unsigned repeat;   /* PUNCT: run length; else 1 */
} nlp_token_t;

/* A token list, embedded by value: nlp_tokens_init, then nlp_tokenize (as
 * often as needed), then nlp_tokens_cleanup. The strings of the tokens
 * belong to the list and live until the next nlp_tokenize or cleanup. */
typedef struct {
    nlp_token_t *v;
    size_t n;
    size_t cap;     /* private */
    char *strings;  /* private */
    size_t str_cap; /* private */
} nlp_tokens_t;

/* An empty list; allocates nothing, cannot fail. */
void nlp_tokens_init(nlp_tokens_t *toks);

/* Replaces the contents of toks with the tokens of the len bytes at text.
 * Returns 0, or SP_ENOMEM (toks is then empty). */
int nlp_tokenize(const char *text, size_t len, nlp_tokens_t *toks);

/* Frees everything; toks can be used again. Accepts NULL. */
void nlp_tokens_cleanup(nlp_tokens_t *toks);

/* True for a PUNCT token that ends a sentence or clause for scoping
 * purposes: . ! ? ; : … ¡ ¿ and also "," when with_comma. */
int nlp_token_is_break(const nlp_token_t *t, int with_comma);

#endif
