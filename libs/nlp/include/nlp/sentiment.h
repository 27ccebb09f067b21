/*
 * sentiment.h — sentiment of a text in [-1, 1], and its aggregation.
 *
 * What it does: a lexicon-and-rules scorer in the manner of VADER (Hutto &
 * Gilbert, 2014), with its own hand-written lexicons for English,
 * Portuguese and Spanish (original work, MIT; see libs/nlp/README.md):
 *  - words and phrases carry a valence in -4..+4 ("great" +3.1, "não
 *    funciona" -2.0, "waste of time" -2.8); matching is case- and
 *    accent-insensitive ("pessimo" = "péssimo"); a word not found is retried
 *    with letter runs squeezed ("goooood" -> "good") and without a plural
 *    "s";
 *  - negation: a negator ("not", "don't", "never", "não", "nunca", "nem",
 *    "no", "jamás", ...) in the three words before a sentiment word flips
 *    and damps it (x -0.74), so "not good" < 0 and "not bad" > 0; the scope
 *    stops at punctuation (. , ; : ! ?) and at "but";
 *  - intensifiers and dampeners in the same window ("very", "extremely",
 *    "muito", "super", "muy"; "a bit", "slightly", "um pouco") add to or
 *    take from the magnitude;
 *  - contrast: after the last "but"/"however"/"mas"/"porém"/"pero"/"sin
 *    embargo" in the text, valences weigh x1.5, before it x0.5;
 *  - emphasis: a word in CAPITALS in a text that is not all capitals adds
 *    0.733 to its magnitude; an all-capitals (shouted) text adds 0.4 to
 *    every word; "!" (up to 4) and "??" (2 or more, up to 3) push the total
 *    further in its own direction; elongated words ("sooo baaad") add 0.3;
 *  - emoji (😀 👍 ❤️ 😡 👎 💔 ...) and ASCII emoticons (":)", ":(", "<3")
 *    carry their own valence and are never negated.
 * The sum S of the item valences becomes S / sqrt(S² + 15), so one strong
 * word gives about ±0.6 and several push towards ±1.
 *
 * Where it stops: no syntax, so negation is a window (a negator three words
 * away may be about something else), no sarcasm or irony, no idioms beyond
 * the listed phrases, no domain adaptation, and a post-positive intensifier
 * ("bom demais") is not seen. Other languages are scored with the union of
 * the three lexicons and the emoji, which catches emoji and loanwords only.
 * Placeholders from PII redaction and numbers carry no sentiment.
 */
#ifndef NLP_SENTIMENT_H
#define NLP_SENTIMENT_H

#include <stddef.h>

#include "nlp/types.h"

typedef struct {
    double score;   /* compound, in [-1, 1], rounded to 4 decimals */
    double pos;     /* sum of the positive item valences after the rules */
    double neg;     /* sum of the magnitudes of the negative ones */
    unsigned items; /* words, phrases, emoji that carried sentiment */
} nlp_sentiment_t;

/* Scores the len bytes at text (any bytes; invalid UTF-8 is skipped) with
 * the lexicon of lang ("en", "pt", "es"; NULL, "und" or another code: all
 * three). Fills *out (zeros for a text with no sentiment) and returns 0, or
 * SP_EINVAL / SP_ENOMEM. */
int nlp_sentiment_score(const char *text, size_t len, const char *lang, nlp_sentiment_t *out);

/* Score thresholds of the labels (VADER's). */
#define NLP_SENTIMENT_POSITIVE 0.05
#define NLP_SENTIMENT_NEGATIVE (-0.05)

/* "positive" (score >= 0.05), "negative" (<= -0.05) or "neutral". */
const char *nlp_sentiment_label(double score);

/* A running weighted mean of scores, for per-speaker and overall values.
 * Zero-initialise it ({0}). Only texts that carried sentiment (items > 0)
 * count: "ok", "one moment please" do not pull a mean towards 0. */
typedef struct {
    double sum;
    double weight;
    unsigned count;
} nlp_sentiment_acc_t;

/* Adds s with weight w (> 0) when s->items > 0. */
void nlp_sentiment_acc_add(nlp_sentiment_acc_t *acc, const nlp_sentiment_t *s, double w);

/* The weighted mean, rounded to 4 decimals; 0 when nothing was added. */
double nlp_sentiment_acc_mean(const nlp_sentiment_acc_t *acc);

#endif
