/*
 * backlog.h — backpressure: how many accepted interactions wait in Kafka for
 * the processor, and whether ingestion should say "not now" instead of
 * accepting more.
 *
 * The backlog is the lag of the processor's consumer group
 * (SERPHONA_INGEST_BACKLOG_GROUP) on the interactions topic, measured from
 * the broker (events_admin.h: committed offsets against high watermarks,
 * summed over partitions) by a background thread every
 * SERPHONA_INGEST_BACKLOG_INTERVAL_MS; requests only read the last value, so
 * the hot path never waits on the broker for it. While it is above
 * SERPHONA_INGEST_BACKLOG_MAX, POST /v1/ingest/interactions answers 503
 * ingestion_backlog with Retry-After (both ports) and upload workers pause
 * between chunks. The bound exists because a broker may drop records nobody
 * has read (the development broker past ~5 MB a partition, Kafka past its
 * retention): the bound keeps unread records far from that edge.
 *
 * While the lag cannot be measured (the broker or the group coordinator does
 * not answer), the last measurement older than three intervals is dropped
 * and ingestion is not refused for backlog: a Kafka that is down refuses by
 * itself (no acknowledgement, 503 kafka_unavailable).
 *
 * Metrics: serphona_ingest_backlog (the last measured lag; -1 unknown),
 * serphona_ingest_backlog_max (the bound), serphona_ingest_backlog_refused_total
 * (requests answered 503 ingestion_backlog).
 */
#ifndef TG_BACKLOG_H
#define TG_BACKLOG_H

#include <stdint.h>

#include "tg.h"

/* A monitor of group's lag on topic at brokers with the given bound;
 * nothing is measured until tg_backlog_start. NULL when out of memory or on
 * bad arguments (logged). */
tg_backlog_t *tg_backlog_new(const char *brokers, const char *group, const char *topic, int64_t max,
                             int interval_ms);

/* Starts the measuring thread. Returns 0 or SP_EIO. */
int tg_backlog_start(tg_backlog_t *b);

/* Stops the thread and frees b. Accepts NULL; sets *self_p to NULL. */
void tg_backlog_destroy(tg_backlog_t **self_p);

/* 1 when the last measured backlog is above the bound, else 0 (also for
 * NULL and while unknown). Lock-free; for every request. */
int tg_backlog_over(const tg_backlog_t *b);

/* The last measured backlog, or -1 when unknown (NULL: -1). */
int64_t tg_backlog_value(const tg_backlog_t *b);

/* The bound (NULL: INT64_MAX). */
int64_t tg_backlog_max(const tg_backlog_t *b);

/* Counts one request refused for backlog (the metric). */
void tg_backlog_count_refusal(void);

#endif
