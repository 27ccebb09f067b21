/*
 * lang.h — language detection.
 *
 * What it does: scores the text against compiled-in stopword lists of
 * English, Portuguese, Spanish, French, German and Italian (one point per
 * word found in a language's list; a word in k lists gives each 1/k) plus
 * characters and spellings that mark a language (ã/õ, "-ção", lh/nh for
 * Portuguese; ñ, ¿, ¡, "-ción", a leading "ll" for Spanish; "th", "-ing",
 * w, k for English; ß/ä/ö/ü for German, ...). The best language wins, with
 * confidence 1 - exp(-lead / 2), lead being its margin in points over the
 * runner-up (1 point: 0.39, 2: 0.63, 4: 0.86, 6: 0.95).
 *
 * Where it stops: it needs some function words. A text with fewer than two
 * points of evidence ("ok", "obrigado!", a product code), or whose two best
 * languages are within one point ("de que"), is "und" with confidence 0.
 * It does not detect other languages (they come out "und" or, if they share
 * enough function words, as the nearest of the six), does not tell variants
 * apart (pt-BR vs pt-PT) and gives one language per text: a mixed-language
 * text gets the language with more evidence.
 */
#ifndef NLP_LANG_H
#define NLP_LANG_H

#include <stdbool.h>
#include <stddef.h>

#include "nlp/types.h"

typedef struct {
    char code[NLP_LANG_MAX]; /* "en", "pt", "es", "fr", "de", "it" or "und" */
    double confidence;       /* in [0, 1]; 0 when "und" */
} nlp_lang_result_t;

/* Detects the language of the len bytes at text (any bytes; invalid UTF-8 is
 * skipped). Fills *out and returns 0, or SP_ENOMEM / SP_EINVAL (NULL out, or
 * NULL text with len > 0). */
int nlp_lang_detect(const char *text, size_t len, nlp_lang_result_t *out);

/* Normalises a language tag from a client ("pt-BR", "EN_us", "es") to its
 * lowercase base code ("pt", "en", "es") in out. Any 2- or 3-letter ASCII
 * base is accepted ("fr", "tlh"); returns 0, or SP_EINVAL for anything else
 * (NULL, "", "portuguese", "p1"), with out set to "und". */
int nlp_lang_normalize(const char *tag, char out[NLP_LANG_MAX]);

/* True when sentiment, taxonomy and outcome data exist for the code
 * (en, pt, es); other codes are analysed with the data of all languages. */
bool nlp_lang_has_lexicon(const char *code);

#endif
