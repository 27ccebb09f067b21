/*
 * wordsets.h (internal) — the compiled-in word lists turned into phrase
 * sets, built once on first use (pthread_once) and shared read-only by all
 * threads. Each returns NULL only when the build failed (out of memory, or
 * a malformed built-in pattern, which the unit tests rule out).
 */
#ifndef NLP_WORDSETS_H
#define NLP_WORDSETS_H

#include "phraseset.h"

/* Stopwords: one pattern per (word, language), id = L_* language id. */
const ps_set_t *wordsets_stopwords(void);

/* Stopwords and fillers: where key phrases break; id = L_* language id. */
const ps_set_t *wordsets_keyword_stops(void);

#endif
