/*
 * langs.h (internal) — the languages the compiled-in data knows, as bit
 * masks so one table can serve several languages.
 */
#ifndef NLP_LANGS_H
#define NLP_LANGS_H

#include <stdint.h>

enum { L_EN = 0, L_PT, L_ES, L_FR, L_DE, L_IT, L_COUNT };

#define LM(x)  (1u << (x))
#define LM_ALL ((1u << L_COUNT) - 1u)

/* The mask of a code ("en", "pt-BR", "es_MX"; ASCII case-insensitive): its
 * bit, or LM_ALL for NULL, "", "und" and codes without data. */
uint32_t langs_mask(const char *code);

/* The mask for looking up sentiment, taxonomy and outcome data: the
 * code's bit for en, pt and es (which have data), LM_ALL for any other code
 * (so a French text still meets emoji, loanwords and "any" patterns). */
uint32_t langs_data_mask(const char *code);

/* The id of a code's base language, or -1. */
int langs_id(const char *code);

/* "en", "pt", ... for an id; "und" for anything else. */
const char *langs_code(int id);

#endif
