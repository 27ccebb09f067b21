/*
 * keywords.h — key phrases of a set of texts.
 *
 * What it does: RAKE (Rose et al., 2010) with per-language stopword and
 * filler lists. Candidate phrases are runs of words between stopwords,
 * fillers ("yeah", "tipo", "bueno"), punctuation, numbers, emoji and PII
 * placeholders, cut into pieces of at most NLP_KEYWORD_MAX_WORDS words.
 * Each word scores degree/frequency over all candidates; a phrase scores
 * the sum of its words' scores, times how often it occurs (weighted by the
 * text weights, so agent turns can count less). Phrases are merged case-
 * and accent-insensitively and shown lowercase as first seen. A single word
 * that is a sentiment word ("great", "péssimo") or has fewer than three
 * letters is not a key phrase on its own ("terrible service" is).
 *
 * Where it stops: names are not PII to the redaction step, so an agent's or
 * a customer's name can become a key phrase; no lemmatisation ("invoice" and "invoices" are two
 * phrases), no part-of-speech filter (a verb run such as "tried calling"
 * can be a phrase), no corpus statistics (the score is per interaction; the
 * dashboards aggregate counts across interactions).
 */
#ifndef NLP_KEYWORDS_H
#define NLP_KEYWORDS_H

#include <stddef.h>

#include "nlp/types.h"

#define NLP_KEYWORD_MAX       95 /* bytes of a phrase, without the NUL */
#define NLP_KEYWORD_MAX_WORDS 3

typedef struct {
    char phrase[NLP_KEYWORD_MAX + 1]; /* lowercase words joined by one space */
    double score;                     /* RAKE score x weighted count, 4 decimals */
    double count;                     /* weighted occurrences, 4 decimals */
} nlp_keyword_t;

/* Extracts the top_n key phrases of the texts (weights <= 0 skip a text)
 * with the stopwords of lang (NULL/"und"/unknown: all languages), best
 * first (ties: higher count, then phrase bytes), into out; the number
 * written (<= top_n) goes to *n_out. Returns 0, SP_EINVAL or SP_ENOMEM. */
int nlp_keywords_extract(const nlp_text_t *texts, size_t n_texts, const char *lang, size_t top_n,
                         nlp_keyword_t *out, size_t *n_out);

#endif
