/*
 * callmetrics.h — timing metrics of a call from its utterances' timestamps.
 *
 * What it does: a sweep over the start/end times of the utterances.
 *  - duration: from the earliest start to the latest end;
 *  - talk time per speaker: the time that speaker is talking (overlapping
 *    utterances of the same speaker count once);
 *  - silence: the gaps in which nobody talks. Only gaps longer than the
 *    threshold (NLP_SILENCE_GAP_MS = 2 s by default; a gap of exactly the
 *    threshold does not count) add to silence_ms and silence_count;
 *    silence_ratio = silence_ms / duration;
 *  - longest_silence_ms: the longest gap of any length (0 when none);
 *  - overtalk: the time two or more different speakers talk at once, and
 *    the number of such stretches.
 * Utterances whose end is before their start, or with a negative time, are
 * skipped and counted in `invalid`.
 *
 * Where it stops: it trusts the timestamps (no audio, no voice-activity
 * detection), so silence inside an utterance (a pause the transcriber did
 * not split) is talk time, and hold music transcribed as nothing is
 * silence. Ring time before the first utterance and after the last one is
 * not part of the duration.
 */
#ifndef NLP_CALLMETRICS_H
#define NLP_CALLMETRICS_H

#include <stddef.h>
#include <stdint.h>

#include "nlp/types.h"

#define NLP_SILENCE_GAP_MS 2000

/* One utterance's timing: milliseconds from any common origin. */
typedef struct {
    int64_t start_ms;
    int64_t end_ms;
    nlp_speaker_t speaker;
} nlp_timed_span_t;

typedef struct {
    int64_t duration_ms;
    int64_t talk_ms[NLP_SPEAKER_COUNT]; /* indexed by nlp_speaker_t */
    int64_t silence_ms;                 /* sum of gaps longer than the threshold */
    unsigned silence_count;             /* number of such gaps */
    int64_t longest_silence_ms;         /* longest gap of any length */
    double silence_ratio;               /* silence_ms / duration_ms, 4 decimals; 0 if no duration */
    int64_t overtalk_ms;                /* time with 2+ speakers talking */
    unsigned overtalk_count;            /* stretches of overtalk */
    unsigned spans;                     /* utterances used */
    unsigned invalid;                   /* utterances skipped */
} nlp_call_metrics_t;

/* Computes the metrics of n spans (in any order) with gaps counted as
 * silence when longer than gap_ms (<= 0: NLP_SILENCE_GAP_MS). Fills *out
 * (all zero when no span is valid) and returns 0, or SP_EINVAL (NULL out,
 * NULL spans with n > 0, a speaker out of range) / SP_ENOMEM. */
int nlp_callmetrics_compute(const nlp_timed_span_t *spans, size_t n, int64_t gap_ms,
                            nlp_call_metrics_t *out);

#endif
