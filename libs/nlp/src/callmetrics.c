/*
 * callmetrics.c — a sweep line over utterance start/end events.
 */
#include "nlp/callmetrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "platform/error.h"

typedef struct {
    int64_t t;
    int delta; /* +1 start, -1 end */
    int speaker;
} event_t;

static int cmp_event(const void *a, const void *b)
{
    const event_t *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    /* Order within one instant does not change any interval length. */
    if (x->delta != y->delta)
        return x->delta - y->delta;
    return x->speaker - y->speaker;
}

int nlp_callmetrics_compute(const nlp_timed_span_t *spans, size_t n, int64_t gap_ms,
                            nlp_call_metrics_t *out)
{
    if (!out || (!spans && n > 0))
        return SP_EINVAL;
    memset(out, 0, sizeof(*out));
    if (gap_ms <= 0)
        gap_ms = NLP_SILENCE_GAP_MS;
    for (size_t i = 0; i < n; i++)
        if ((unsigned)spans[i].speaker >= NLP_SPEAKER_COUNT)
            return SP_EINVAL;
    if (n == 0)
        return 0;
    if (n > SIZE_MAX / (2 * sizeof(event_t)))
        return SP_ETOOBIG;
    event_t *ev = malloc(2 * n * sizeof(*ev));
    if (!ev)
        return SP_ENOMEM;
    size_t ne = 0;
    for (size_t i = 0; i < n; i++) {
        const nlp_timed_span_t *s = &spans[i];
        if (s->start_ms < 0 || s->end_ms < s->start_ms) {
            out->invalid++;
            continue;
        }
        ev[ne++] = (event_t){s->start_ms, +1, (int)s->speaker};
        ev[ne++] = (event_t){s->end_ms, -1, (int)s->speaker};
        out->spans++;
    }
    if (ne == 0) {
        free(ev);
        return 0;
    }
    qsort(ev, ne, sizeof(*ev), cmp_event);
    int active[NLP_SPEAKER_COUNT] = {0};
    int talking = 0; /* distinct speakers with an open utterance */
    int64_t gap = 0;
    int in_overtalk = 0;
    for (size_t i = 0; i < ne; i++) {
        /* The stretch [ev[i-1].t, ev[i].t) had the state left by event i-1. */
        if (i > 0) {
            int64_t dt = ev[i].t - ev[i - 1].t;
            if (dt > 0) {
                for (int s = 0; s < NLP_SPEAKER_COUNT; s++)
                    if (active[s] > 0)
                        out->talk_ms[s] += dt;
                if (talking == 0)
                    gap += dt;
                if (talking >= 2) {
                    if (!in_overtalk)
                        out->overtalk_count++;
                    in_overtalk = 1;
                    out->overtalk_ms += dt;
                } else {
                    in_overtalk = 0;
                }
            }
        }
        int was = active[ev[i].speaker] > 0;
        active[ev[i].speaker] += ev[i].delta;
        int is = active[ev[i].speaker] > 0;
        talking += is - was;
        /* A gap ends when someone starts talking after it. */
        if (talking > 0 && gap > 0) {
            if (gap > out->longest_silence_ms)
                out->longest_silence_ms = gap;
            if (gap > gap_ms) {
                out->silence_ms += gap;
                out->silence_count++;
            }
            gap = 0;
        }
    }
    out->duration_ms = ev[ne - 1].t - ev[0].t;
    out->silence_ratio = out->duration_ms > 0
                             ? round((double)out->silence_ms / (double)out->duration_ms * 1e4) / 1e4
                             : 0.0;
    free(ev);
    return 0;
}
