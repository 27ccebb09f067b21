/*
 * phraseset.h (internal) — a set of word patterns matched against token
 * lists, shared by sentiment, taxonomy, outcome, lang and keywords.
 *
 * A pattern is words separated by spaces, matched against folded tokens
 * (case- and accent-insensitive) one word per token:
 *   "cancel my account"   the three words in a row;
 *   "cancel*"             any word starting with "cancel" (3+ bytes before *);
 *   "speak to * manager"  a standalone * skips 0 to 2 words (not punctuation).
 * Punctuation between words breaks a match. A pattern has 1 to
 * PS_MAX_TOKENS words and neither starts nor ends with a standalone *.
 *
 * Every pattern carries a caller payload (id, value) and a language mask.
 * Lookups go through a hash of the first word (or the first three bytes of a
 * leading prefix), so a scan costs about one probe per token.
 */
#ifndef NLP_PHRASESET_H
#define NLP_PHRASESET_H

#include <stddef.h>
#include <stdint.h>

#include "nlp/token.h"

#define PS_MAX_TOKENS  8
#define PS_MAX_PATTERN 200 /* bytes */

typedef struct {
    int32_t id;
    float value;
    uint32_t langs;
    uint8_t ntok;     /* words in the pattern, gaps not counted */
    const char *text; /* the pattern as given */
} ps_info_t;

typedef struct {
    const ps_info_t *info;
    size_t span; /* tokens of the text the match covers */
} ps_hit_t;

typedef struct ps_set ps_set_t;

/* An empty set; NULL when out of memory. */
ps_set_t *ps_new(void);

/* Frees the set; accepts NULL, sets *self_p to NULL. */
void ps_destroy(ps_set_t **self_p);

/* Compiles and adds a pattern. Returns 0, SP_ENOMEM, or SP_EINVAL with a
 * reason in err (when err is not NULL). */
int ps_add(ps_set_t *set, const char *pattern, uint32_t langs, int32_t id, float value, char *err,
           size_t errlen);

/* Checks that pattern compiles, without adding it anywhere. Returns 0,
 * SP_ENOMEM, or SP_EINVAL with a reason in err. */
int ps_validate(const char *pattern, char *err, size_t errlen);

/* Builds the lookup index after the last ps_add. Returns 0 or SP_ENOMEM. */
int ps_finish(ps_set_t *set);

/* Fills hits (up to max) with the patterns of a language in langs that match
 * the tokens starting at toks[i]; returns how many were found (which may
 * exceed max; only max are written). Hits come longest span first. */
size_t ps_match_at(const ps_set_t *set, const nlp_token_t *toks, size_t n, size_t i, uint32_t langs,
                   ps_hit_t *hits, size_t max);

/* The longest match at toks[i] (ties: the pattern added first), or a hit
 * with info NULL. */
ps_hit_t ps_best_at(const ps_set_t *set, const nlp_token_t *toks, size_t n, size_t i,
                    uint32_t langs);

/* The one-word literal pattern equal to the folded word norm in langs, or
 * NULL (used to retry a word in another form, e.g. without a plural "s"). */
const ps_info_t *ps_lookup_word(const ps_set_t *set, const char *norm, uint32_t langs);

/* Patterns in the set. */
size_t ps_count(const ps_set_t *set);

#endif
