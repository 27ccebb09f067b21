/*
 * stopwords.h (internal) — function words per language (lang detection and
 * keyword boundaries) and conversational filler (keyword boundaries only).
 * Original lists written for this library (MIT, see README.md).
 */
#ifndef NLP_STOPWORDS_H
#define NLP_STOPWORDS_H

#include "langs.h"

/* Space-separated words, indexed by L_* id. Accents as written; matching
 * folds them. */
extern const char *const nlp_stopwords[L_COUNT];
extern const char *const nlp_fillers[L_COUNT];

#endif
