/*
 * outcome_data.h (internal) — outcome phrases per kind and language.
 * Original work for this library, MIT licence (see libs/nlp/README.md).
 */
#ifndef NLP_OUTCOME_DATA_H
#define NLP_OUTCOME_DATA_H

#include "langs.h"

enum { OUT_ESCALATION = 0, OUT_RESOLVED, OUT_UNRESOLVED, OUT_CHURN, OUT_KINDS, OUT_NEGATOR };

/* '|'-separated patterns, [kind][language]; only en, pt, es are filled. */
extern const char *const nlp_outcome_phrases[OUT_KINDS][L_COUNT];

#endif
