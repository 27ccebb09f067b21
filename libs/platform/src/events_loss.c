/*
 * events_loss.c — the consumer's loss detector, serphona_events_lost_total:
 * records a consumer never got because the broker no longer had them.
 *
 * A partition delivers offsets in order, one after the other: the platform's
 * topics are neither compacted nor transactional (no control records), and
 * the consumer itself only ever seeks backwards (a retry or a rewind, which
 * dispatch marks). So, per partition, with `next` the offset after the last
 * message this member was handed:
 *   - a message beyond `next` means next..offset-1 are gone: counted exactly.
 *     This is what an offset reset to the log start looks like (unread
 *     records deleted by retention: librdkafka's fetch at `next` gets
 *     OFFSET_OUT_OF_RANGE and, with auto.offset.reset=earliest, resumes at
 *     the oldest record it still has, logging an "offset reset" warning);
 *   - such a reset also names the offset it happened at, which is used when
 *     the member had no `next` yet (a restart from a committed offset that
 *     the log no longer holds);
 *   - a message before `next` that is not one of our own seeks is a
 *     redelivery (e.g. after a lost assignment) unless the partition's log
 *     now ends before `next`: then the log restarted (a topic recreated, a
 *     broker that lost its data), and the records it held beyond `next` —
 *     as far as the last high watermark seen tells — are gone; it counts at
 *     least 1 since how many is unknown.
 * Each finding is logged at error with the topic, partition and range.
 *
 * What a consumer cannot see: records deleted from a partition its group
 * never committed on (it starts at the oldest record, as a new group does),
 * and a broker that lost its data together with the group's offsets (the
 * dev broker restarted). Those need the producer side's ledger and
 * reconciler (tools-gateway for interactions).
 *
 * The librdkafka log callback runs on librdkafka's threads, so the state has
 * its own mutex.
 */
#include "events_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/error.h"
#include "platform/log.h"
#include "platform/metrics.h"

int sp_ev_loss_init(sp_events_consumer_t *cons, const char *const *topics, size_t n_topics)
{
    pthread_mutex_init(&cons->loss_mtx, NULL);
    cons->lost = sp_counter_new("serphona_events_lost_total",
                                "Offsets of a consumed topic the broker no longer had when this "
                                "consumer got there (offset reset, out-of-range fetch, gap).",
                                1, "topic");
    /* Present at 0 from the start, so a rate or increase sees the first loss. */
    for (size_t i = 0; i < n_topics; i++)
        sp_counter_add(cons->lost, 0, topics[i]);
    return SP_OK;
}

void sp_ev_loss_cleanup(sp_events_consumer_t *cons)
{
    for (size_t i = 0; i < cons->n_loss; i++)
        free(cons->loss[i].topic);
    free(cons->loss);
    cons->loss = NULL;
    cons->n_loss = cons->cap_loss = 0;
    pthread_mutex_destroy(&cons->loss_mtx);
}

/* The state of topic/partition, added when absent; NULL when out of memory.
 * Called with loss_mtx held. */
static loss_part_t *part_get(sp_events_consumer_t *cons, const char *topic, int32_t partition)
{
    loss_part_t *p;

    for (size_t i = 0; i < cons->n_loss; i++)
        if (cons->loss[i].partition == partition && !strcmp(cons->loss[i].topic, topic))
            return &cons->loss[i];
    if (cons->n_loss == cons->cap_loss) {
        size_t cap = cons->cap_loss ? cons->cap_loss * 2 : 8;
        loss_part_t *grown = realloc(cons->loss, cap * sizeof *grown);
        if (!grown)
            return NULL;
        cons->loss = grown;
        cons->cap_loss = cap;
    }
    p = &cons->loss[cons->n_loss];
    memset(p, 0, sizeof *p);
    if (!(p->topic = strdup(topic)))
        return NULL;
    p->partition = partition;
    p->next = -1;
    p->reset_at = -1;
    p->hi = -1;
    cons->n_loss++;
    return p;
}

static void lost(sp_events_consumer_t *cons, const char *topic, int32_t partition, int64_t from,
                 int64_t to, int64_t count, const char *how)
{
    sp_counter_add(cons->lost, (double)count, topic);
    sp_log_error("events: %" PRId64 " record(s) of %s[%" PRId32 "] lost before this consumer got "
                 "there: offsets %" PRId64 "..%" PRId64 " (%s)",
                 count, topic, partition, from, to, how);
}

void sp_ev_loss_observe(sp_events_consumer_t *cons, const char *topic, int32_t partition,
                        int64_t offset, int ours)
{
    int64_t lo = -1, hi = -1;
    int has_marks = rd_kafka_get_watermark_offsets(cons->rk, topic, partition, &lo, &hi) == 0;

    pthread_mutex_lock(&cons->loss_mtx);
    loss_part_t *p = part_get(cons, topic, partition);
    if (!p) {
        pthread_mutex_unlock(&cons->loss_mtx);
        return;
    }
    /* Where this message should have been: right after the last one, or,
     * for the first one after a restart, where the reset happened. */
    int64_t expect = p->next >= 0 ? p->next : p->reset_at;
    if (!ours && expect >= 0 && offset > expect) {
        lost(cons, topic, partition, expect, offset - 1, offset - expect,
             p->reset_at >= 0 ? "offset reset: the broker no longer had them"
                              : "gap in the partition");
    } else if (!ours && p->next >= 0 && offset < p->next && has_marks && hi >= 0 && hi < p->next) {
        /* The log now ends before where we were: it restarted. */
        int64_t unread = p->hi > p->next ? p->hi - p->next : 0;
        lost(cons, topic, partition, p->next, unread ? p->hi - 1 : p->next, unread ? unread : 1,
             "the partition's log restarted below the consumer's position");
    }
    p->next = offset + 1;
    p->reset_at = -1;
    /* A higher mark, or a restarted log (a mark below our position): watch
     * the partition from here. */
    if (has_marks && (hi > p->hi || (hi >= 0 && hi < p->next)))
        p->hi = hi;
    pthread_mutex_unlock(&cons->loss_mtx);
}

void sp_ev_loss_reset(sp_events_consumer_t *cons, const char *topic, int32_t partition, int64_t at)
{
    pthread_mutex_lock(&cons->loss_mtx);
    loss_part_t *p = part_get(cons, topic, partition);
    if (p && at >= 0)
        p->reset_at = at;
    pthread_mutex_unlock(&cons->loss_mtx);
}

/* Reads "<topic> [<partition>]: offset reset (at offset <n>" at s; 1 when
 * it matched (topic copied into out, cap bytes), else 0. By hand rather than
 * sscanf, so a malformed number is a mismatch, not a silent 0. */
static int parse_offset_reset(const char *s, char *out, size_t cap, int32_t *partition,
                              long long *at)
{
    size_t n = strcspn(s, " ");
    if (n == 0 || n >= cap || strncmp(s + n, " [", 2) != 0)
        return 0;
    memcpy(out, s, n);
    out[n] = '\0';
    const char *p = s + n + 2;
    char *end = NULL;
    errno = 0;
    long part = strtol(p, &end, 10);
    static const char mid[] = "]: offset reset (at offset ";
    if (end == p || errno || part < 0 || part > INT32_MAX || strncmp(end, mid, sizeof mid - 1) != 0)
        return 0;
    p = end + sizeof mid - 1;
    long long off = strtoll(p, &end, 10);
    if (end == p || errno)
        return 0;
    *partition = (int32_t)part;
    *at = off;
    return 1;
}

void sp_ev_loss_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    sp_events_consumer_t *cons = rd_kafka_opaque(rk);
    char topic[256];
    int32_t partition;
    long long at;

    /* "[thrd:main]: <topic> [<partition>]: offset reset (at offset <n>,
     * broker <b>) to ...: <reason>: <error>" (rdkafka_offset.c; newer
     * versions add " (leader epoch <e>)" after <n>, and without
     * log.thread.name there is no "[thrd:...]: "). */
    const char *s = buf;
    if (!strncmp(s, "[thrd:", 6) && (s = strstr(s, "]: ")))
        s += 3;
    if (cons && s && !strcmp(fac, "OFFSET") &&
        parse_offset_reset(s, topic, sizeof topic, &partition, &at)) {
        sp_log_error("events: %s", buf);
        sp_ev_loss_reset(cons, topic, partition, (int64_t)at);
        return;
    }
    sp_ev_log_cb(rk, level, fac, buf);
}

void sp_ev_loss_forget(sp_events_consumer_t *cons, const rd_kafka_topic_partition_list_t *parts)
{
    pthread_mutex_lock(&cons->loss_mtx);
    for (int i = 0; i < parts->cnt; i++)
        for (size_t j = 0; j < cons->n_loss; j++) {
            loss_part_t *p = &cons->loss[j];
            if (p->partition == parts->elems[i].partition &&
                !strcmp(p->topic, parts->elems[i].topic)) {
                free(p->topic);
                *p = cons->loss[--cons->n_loss];
                break;
            }
        }
    pthread_mutex_unlock(&cons->loss_mtx);
}
