/*
 * taxonomy.h — topics and intents: a built-in customer-service taxonomy and
 * tenants' own, matched against texts.
 *
 * What it does: a taxonomy is a list of categories, each a topic (what the
 * contact is about: billing, delivery, technical_problem, ...) or an intent
 * (what the customer wants or does: cancellation, refund, complaint,
 * praise, ...), with word patterns per language (see "Patterns" below).
 * Matching counts the pattern hits of each category in a set of texts —
 * each hit weighs (1 + 0.5 per extra word of the pattern) x the text's
 * weight x the category's weight, at most one hit per category per
 * position — and turns the sum r into a score r / (r + 2) in [0, 1): one
 * plain customer hit scores 0.33, two 0.5, four 0.67.
 *
 * The default taxonomy (nlp_taxonomy_default) has, with English,
 * Portuguese and Spanish patterns:
 *   topics:  billing, payment, pricing, delivery, technical_problem,
 *            account_access, product_quality, customer_service, subscription
 *   intents: cancellation, refund, return_exchange, complaint, praise,
 *            information_request, purchase
 *
 * A tenant's taxonomy is JSON (at most NLP_TAXONOMY_MAX_JSON bytes):
 *   {
 *     "mode": "extend",                 optional: "extend" (default) adds to
 *                                       and overrides the default taxonomy,
 *                                       "replace" uses only these categories
 *     "categories": [                   at most NLP_TAXONOMY_MAX_CATEGORIES
 *       { "id": "late_fee",             required, [a-z0-9_-], 1..63 bytes,
 *                                       unique; in extend mode an id of the
 *                                       default taxonomy replaces that one
 *         "name": "Late fee",           optional display name (<= 128 bytes)
 *         "description": "...",         optional, kept for the tenant only
 *         "kind": "topic",              optional: "topic" (default), "intent"
 *         "weight": 1.5,                optional, in (0, 10], default 1
 *         "enabled": true,              optional; false with extend mode
 *                                       removes a default category
 *         "patterns": {                 required (unless enabled is false):
 *           "en": ["late fee", "overdue charge*"],   per language
 *           "pt": ["multa por atraso"],              (en pt es fr de it) or
 *           "any": ["late-fee"] } }                  "any"; or a plain array
 *     ]                                              (= "any"); at most
 *   }                                                NLP_TAXONOMY_MAX_PATTERNS
 * Unknown fields are errors (a typo must not silently disable a category).
 *
 * Patterns: words separated by spaces, matched case- and accent-
 * insensitively one word per token: "charged twice"; a trailing * makes a
 * prefix ("refund*" matches refund, refunds, refunded; 3+ letters before
 * it); a standalone * skips zero to two words ("cancel * subscription"
 * matches "cancel my subscription", "cancel the premium subscription").
 * Punctuation breaks a phrase. At most 8 words and 200 bytes a pattern.
 *
 * Where it stops: keyword and phrase matching only — no negation ("I don't
 * want to cancel" still hits cancellation), no word sense ("charge my
 * phone" hits billing), no stemming beyond what * prefixes give, and no
 * learning from data. The primary intent is simply the best-scoring intent.
 */
#ifndef NLP_TAXONOMY_H
#define NLP_TAXONOMY_H

#include <stddef.h>

#include "nlp/types.h"

#define NLP_TAXONOMY_MAX_JSON       (1024 * 1024)
#define NLP_TAXONOMY_MAX_CATEGORIES 200
#define NLP_TAXONOMY_MAX_PATTERNS   500 /* per category */

typedef enum { NLP_CATEGORY_TOPIC = 0, NLP_CATEGORY_INTENT = 1 } nlp_category_kind_t;

/* "topic" or "intent". */
const char *nlp_category_kind_name(nlp_category_kind_t kind);

typedef struct nlp_taxonomy nlp_taxonomy_t;

typedef struct {
    char id[NLP_ID_MAX + 1];
    nlp_category_kind_t kind;
    double score;  /* r / (r + 2), in [0, 1), rounded to 4 decimals */
    double raw;    /* r: the weighted hits */
    unsigned hits; /* pattern hits */
} nlp_topic_match_t;

/* The built-in taxonomy, built once; never free it. NULL only when out of
 * memory on first use. */
const nlp_taxonomy_t *nlp_taxonomy_default(void);

/* Parses and validates a tenant taxonomy (format above) into *out, which
 * the caller frees with nlp_taxonomy_destroy. Returns 0; SP_EINVAL with a
 * human-readable reason naming the field (e.g. "categories[2].patterns.en[0]:
 * a prefix before * needs at least 3 letters") in err when err is not NULL;
 * SP_ETOOBIG over the size limits; SP_ENOMEM. *out is NULL on failure. */
int nlp_taxonomy_from_json(const char *json, size_t len, nlp_taxonomy_t **out, char *err,
                           size_t errlen);

/* Frees a taxonomy from nlp_taxonomy_from_json; accepts NULL and sets
 * *self_p to NULL. Passing the default taxonomy is a programming error. */
void nlp_taxonomy_destroy(nlp_taxonomy_t **self_p);

/* The whole effective taxonomy as JSON in the format above with mode
 * "replace" (so a tenant can fetch the default, edit it and store it back).
 * A malloc'd string the caller frees; NULL when out of memory. */
char *nlp_taxonomy_to_json(const nlp_taxonomy_t *tax);

/* Categories in the taxonomy, and the id, display name and kind of the i-th
 * (NULL / NLP_CATEGORY_TOPIC for i out of range). */
size_t nlp_taxonomy_size(const nlp_taxonomy_t *tax);
const char *nlp_taxonomy_id(const nlp_taxonomy_t *tax, size_t i);
const char *nlp_taxonomy_name(const nlp_taxonomy_t *tax, size_t i);
nlp_category_kind_t nlp_taxonomy_kind(const nlp_taxonomy_t *tax, size_t i);

/* Matches the texts (weights > 0; 0 or less skips a text) against the
 * taxonomy using the patterns of lang ("en", "pt", "es") and "any"; for
 * NULL, "und" and any other code (which the default taxonomy has no
 * patterns for) the patterns of every language. Writes the categories scoring at least
 * min_score, best first (ties: taxonomy order), up to max, to out; the
 * number that qualified goes to *n_out. Returns 0, SP_EINVAL or SP_ENOMEM. */
int nlp_taxonomy_match(const nlp_taxonomy_t *tax, const nlp_text_t *texts, size_t n_texts,
                       const char *lang, double min_score, nlp_topic_match_t *out, size_t max,
                       size_t *n_out);

/* The best intent among matches (as filled by nlp_taxonomy_match), or NULL
 * when none is an intent. */
const nlp_topic_match_t *nlp_taxonomy_primary_intent(const nlp_topic_match_t *matches, size_t n);

#endif
