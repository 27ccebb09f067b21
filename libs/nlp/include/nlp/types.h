/*
 * types.h — value types shared by every step of the nlp library.
 *
 * libnlp is the analysis library of the analytics-processor: pure C,
 * deterministic (same input, same output, no clock, no locale, no network),
 * with all its data (lexicons, stopwords, the default taxonomy) compiled in.
 * Every function is thread-safe: the compiled-in tables are built once on
 * first use (pthread_once) and are read-only afterwards.
 *
 * Errors follow libplatform: 0 on success, a negative SP_E* code from
 * platform/error.h on failure (SP_EINVAL, SP_ENOMEM, SP_ETOOBIG).
 */
#ifndef NLP_TYPES_H
#define NLP_TYPES_H

#include <stddef.h>
#include <stdint.h>

/* Who said an utterance. OTHER is for texts with no conversation roles (an
 * e-mail, a review, a survey comment): it is treated as the customer's voice. */
typedef enum {
    NLP_SPEAKER_AGENT = 0,
    NLP_SPEAKER_CUSTOMER = 1,
    NLP_SPEAKER_OTHER = 2,
    NLP_SPEAKER_COUNT = 3
} nlp_speaker_t;

/* "agent", "customer" or "other"; "other" for an out-of-range value. */
const char *nlp_speaker_name(nlp_speaker_t speaker);

/* Parses "agent", "customer" or "other" (ASCII case-insensitive; "bot" and
 * "system" count as agent, "client"/"user" as customer) into *out. Returns 0,
 * or SP_EINVAL for anything else (and *out is left alone). */
int nlp_speaker_parse(const char *name, nlp_speaker_t *out);

/* One piece of text handed to a multi-text step (topics, keywords), with the
 * weight its matches count with (1.0 for the customer; the analyzer gives
 * agent turns less). len 0 means strlen(text). */
typedef struct {
    const char *text;
    size_t len;
    double weight;
} nlp_text_t;

/* Largest id of a taxonomy category, in bytes (without the NUL). */
#define NLP_ID_MAX 63

/* Language codes are ISO 639-1 ("en", "pt", "es", "fr", "de", "it") or "und"
 * (undetermined); NLP_LANG_MAX bytes fit any code with its NUL. */
#define NLP_LANG_MAX 8

#endif
