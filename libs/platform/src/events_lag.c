/*
 * events_lag.c — the consumer's lag gauge, serphona_events_consumer_lag.
 */
#include "events_internal.h"

#include <inttypes.h>
#include <stdio.h>

#include "platform/metrics.h"

static void partition_label(char out[16], int32_t partition)
{
    snprintf(out, 16, "%" PRId32, partition);
}

/* serphona_events_consumer_lag for the partition of a message about to be
 * handled: the high watermark librdkafka cached from its last fetch (no
 * request is made) minus the message's offset minus one. An autoscaler
 * (HPA through prometheus-adapter) sums it over the group's members. */
void sp_ev_lag_observe(sp_events_consumer_t *cons, const char *topic, int32_t partition,
                       int64_t offset)
{
    int64_t lo = 0, hi = -1;
    if (rd_kafka_get_watermark_offsets(cons->rk, topic, partition, &lo, &hi) || hi < 0)
        return;
    char label[16];
    partition_label(label, partition);
    int64_t lag = hi - offset - 1;
    sp_gauge_set(cons->lag, (double)(lag > 0 ? lag : 0), topic, label);
}

/* Partitions this member gives up report no lag of their own any more; the
 * member they go to reports it from then on. */
void sp_ev_lag_forget(sp_events_consumer_t *cons, const rd_kafka_topic_partition_list_t *parts)
{
    char label[16];
    for (int i = 0; i < parts->cnt; i++) {
        partition_label(label, parts->elems[i].partition);
        sp_gauge_set(cons->lag, 0, parts->elems[i].topic, label);
    }
}
