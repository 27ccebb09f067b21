/*
 * events_batch.c — the consumer's batch mode: offsets accepted since the last
 * flush, and the flush that makes them durable or rewinds to redeliver them
 * (see sp_events_consumer_set_batch in events.h).
 */
#include "events_internal.h"

#include <stdlib.h>
#include <string.h>

#include "platform/clock.h"
#include "platform/error.h"
#include "platform/log.h"
#include "platform/metrics.h"

void sp_ev_pending_clear(sp_events_consumer_t *cons)
{
    for (size_t i = 0; i < cons->n_pend; i++)
        free(cons->pend[i].topic);
    cons->n_pend = 0;
    cons->pend_count = 0;
}

/* Records offset of topic/partition as accepted. SP_ENOMEM leaves the batch
 * as it was. */
int sp_ev_pending_add(sp_events_consumer_t *cons, const char *topic, int32_t partition,
                      int64_t offset)
{
    pending_t *p = NULL;

    for (size_t i = 0; i < cons->n_pend; i++)
        if (cons->pend[i].partition == partition && !strcmp(cons->pend[i].topic, topic))
            p = &cons->pend[i];
    if (!p) {
        if (cons->n_pend == cons->cap_pend) {
            size_t cap = cons->cap_pend ? cons->cap_pend * 2 : 8;
            pending_t *grown = realloc(cons->pend, cap * sizeof *grown);
            if (!grown)
                return SP_ENOMEM;
            cons->pend = grown;
            cons->cap_pend = cap;
        }
        p = &cons->pend[cons->n_pend];
        if (!(p->topic = strdup(topic)))
            return SP_ENOMEM;
        p->partition = partition;
        p->first = offset;
        cons->n_pend++;
    }
    p->last = offset;
    if (cons->pend_count++ == 0)
        cons->pend_since = sp_clock_mono_ms();
    return SP_OK;
}

/* Runs the caller's flush over the pending batch. On success stores every
 * pending offset; on failure, with rewind set, seeks each pending partition
 * back to its first unflushed message (marking it so prefetched successors
 * are dropped); without rewind (the partitions are being given up) simply
 * forgets them. The batch is empty afterwards either way. Returns 0 (also
 * for an empty batch) or SP_EUNAVAILABLE. */
int sp_ev_flush_pending(sp_events_consumer_t *cons, int rewind)
{
    int rc;

    if (!cons->flush || cons->pend_count == 0)
        return SP_OK;
    rc = cons->flush(cons->ud);
    if (rc == 0) {
        for (size_t i = 0; i < cons->n_pend; i++)
            sp_ev_store_offset(cons, cons->pend[i].topic, cons->pend[i].partition,
                               cons->pend[i].last + 1);
        sp_counter_add(cons->flushes, 1, "ok");
        sp_ev_pending_clear(cons);
        return SP_OK;
    }
    sp_counter_add(cons->flushes, 1, "error");
    sp_log_warn("events: flush of %zu message(s) failed%s", cons->pend_count,
                rewind ? "; rewinding to redeliver them" : "");
    for (size_t i = 0; rewind && i < cons->n_pend; i++) {
        pending_t *p = &cons->pend[i];
        retry_mark_t *mark = sp_ev_mark_add(cons, p->topic, p->partition, p->first);
        if (mark)
            sp_ev_seek_to(cons, mark);
        else
            sp_log_error("events: out of memory recording a rewind position");
    }
    sp_ev_pending_clear(cons);
    return SP_EUNAVAILABLE;
}
