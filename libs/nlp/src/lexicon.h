/*
 * lexicon.h (internal) — the sentiment lexicons, compiled in.
 *
 * Original work written for this library (MIT, see libs/nlp/README.md):
 * valences are on a -4..+4 scale chosen by hand for customer-service
 * language; boosters add to (or, when negative, take from) the magnitude of
 * the next sentiment word; negators flip it; contrast words ("but") make
 * what follows weigh more than what precedes.
 */
#ifndef NLP_LEXICON_H
#define NLP_LEXICON_H

#include <stddef.h>
#include <stdint.h>

enum { LEX_VALENCE = 0, LEX_BOOST = 1, LEX_NEGATOR = 2, LEX_CONTRAST = 3 };

typedef struct {
    const char *pattern; /* a phraseset pattern (words; accents optional) */
    int8_t kind;         /* LEX_* */
    float value;         /* valence, or booster increment */
} lex_entry_t;

#define W(p, v)                                                                                    \
    {                                                                                              \
        p, LEX_VALENCE, v                                                                          \
    }
#define B(p, v)                                                                                    \
    {                                                                                              \
        p, LEX_BOOST, v                                                                            \
    }
#define NEG(p)                                                                                     \
    {                                                                                              \
        p, LEX_NEGATOR, 0                                                                          \
    }
#define CON(p)                                                                                     \
    {                                                                                              \
        p, LEX_CONTRAST, 0                                                                         \
    }

extern const lex_entry_t nlp_lex_en[];
extern const size_t nlp_lex_en_len;
extern const lex_entry_t nlp_lex_pt[];
extern const size_t nlp_lex_pt_len;
extern const lex_entry_t nlp_lex_es[];
extern const size_t nlp_lex_es_len;

typedef struct {
    uint32_t cp;
    float value;
} lex_emoji_t;

typedef struct {
    const char *text;
    float value;
} lex_emoticon_t;

/* The three lexicons compiled into one phrase set, built once (defined in
 * sentiment.c; keywords.c and the tests use it too). NULL when out of
 * memory. */
struct ps_set;
const struct ps_set *sentiment_lexicon(void);

extern const lex_emoji_t nlp_lex_emoji[];
extern const size_t nlp_lex_emoji_len;
extern const lex_emoticon_t nlp_lex_emoticons[];
extern const size_t nlp_lex_emoticons_len;

#endif
