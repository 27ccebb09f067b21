/*
 * events_internal.h — private to libs/platform/src/events*.c: the consumer's
 * struct and the helpers the events files share. Not installed, not for
 * services; the public contract is platform/events.h.
 */
#ifndef SP_EVENTS_INTERNAL_H
#define SP_EVENTS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "platform/events.h"
#include "platform/metrics.h"

#define SEEK_TIMEOUT_MS 3000

/* ---- shared (events.c) ---------------------------------------------------- */

/* Translates a librdkafka error into the platform enum. Errors a caller can
 * sensibly retry later (no leader, brokers down, local queue full) become
 * SP_EUNAVAILABLE. */
int sp_ev_map_err(rd_kafka_resp_err_t err);

/* librdkafka's log callback: its lines go through the platform logger. */
void sp_ev_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf);

/* Sets one librdkafka property; logs and returns SP_ECONFIG if rejected. */
int sp_ev_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value);

/* ---- consumer state ------------------------------------------------------- */

/* A partition whose message at `offset` failed in the handler: until it is
 * handled, later messages of that partition (already prefetched before the
 * seek took effect) are dropped, never handled or stored. */
typedef struct {
    char *topic;
    int32_t partition;
    int64_t offset;
    int64_t last_seek_ms;
} retry_mark_t;

/* Batch mode: the messages of one partition accepted since the last flush,
 * always a contiguous run [first, last] (a partition delivers in order, and
 * only a rewind, which empties the batch, moves it back). */
typedef struct {
    char *topic;
    int32_t partition;
    int64_t first;
    int64_t last;
} pending_t;

/* Loss detection (events_loss.c): where a partition's next message should
 * be, where librdkafka last reset it, the highest high watermark seen. */
typedef struct {
    char *topic;
    int32_t partition;
    int64_t next;     /* -1 = no message yet */
    int64_t reset_at; /* -1 = none since the last message */
    int64_t hi;       /* -1 = unknown */
} loss_part_t;

struct sp_events_consumer {
    rd_kafka_t *rk;
    sp_events_handler_fn handler;
    void *ud;
    atomic_int stop;
    int closed;
    int polled;
    int backoff_ms;
    retry_mark_t *marks;
    size_t n_marks;
    size_t cap_marks;
    sp_counter_t *consumed;
    sp_gauge_t *lag;

    /* batch mode (flush != NULL) */
    sp_events_flush_fn flush;
    size_t batch_max;
    int batch_wait_ms;
    pending_t *pend;
    size_t n_pend, cap_pend;
    size_t pend_count;  /* messages accepted since the last flush */
    int64_t pend_since; /* monotonic ms when the oldest of them was accepted */
    sp_counter_t *flushes;

    /* loss detection; loss_mtx guards loss (librdkafka's log thread too) */
    pthread_mutex_t loss_mtx;
    loss_part_t *loss;
    size_t n_loss, cap_loss;
    sp_counter_t *lost;
};

/* ---- consumer (events_consumer.c) ----------------------------------------- */

/* The retry mark of topic/partition, or NULL. */
retry_mark_t *sp_ev_mark_find(sp_events_consumer_t *cons, const char *topic, int32_t partition);

/* Records (or moves) the retry mark of topic/partition to offset; NULL when
 * out of memory. */
retry_mark_t *sp_ev_mark_add(sp_events_consumer_t *cons, const char *topic, int32_t partition,
                             int64_t offset);

/* Seeks the mark's partition back to its offset (errors are logged). */
void sp_ev_seek_to(sp_events_consumer_t *cons, retry_mark_t *mark);

/* Stores next as the offset to commit for topic/partition. */
int sp_ev_store_offset(sp_events_consumer_t *cons, const char *topic, int32_t partition,
                       int64_t next);

/* ---- batch mode (events_batch.c) ------------------------------------------ */

/* Forgets every pending offset. */
void sp_ev_pending_clear(sp_events_consumer_t *cons);

/* Records offset of topic/partition as accepted. SP_ENOMEM leaves the batch
 * as it was. */
int sp_ev_pending_add(sp_events_consumer_t *cons, const char *topic, int32_t partition,
                      int64_t offset);

/* Runs the caller's flush over the pending batch; see events_batch.c. Returns
 * 0 (also for an empty batch) or SP_EUNAVAILABLE. */
int sp_ev_flush_pending(sp_events_consumer_t *cons, int rewind);

/* ---- lag gauge (events_lag.c) --------------------------------------------- */

/* Sets the lag gauge for the partition of a message about to be handled. */
void sp_ev_lag_observe(sp_events_consumer_t *cons, const char *topic, int32_t partition,
                       int64_t offset);

/* Zeroes the lag gauge of partitions this member gives up. */
void sp_ev_lag_forget(sp_events_consumer_t *cons, const rd_kafka_topic_partition_list_t *parts);

/* ---- loss detection (events_loss.c) --------------------------------------- */

/* Declares serphona_events_lost_total at 0 for each topic and readies the
 * state; call before rd_kafka_new. Returns 0. */
int sp_ev_loss_init(sp_events_consumer_t *cons, const char *const *topics, size_t n_topics);

/* Frees the state; call after rd_kafka_destroy. */
void sp_ev_loss_cleanup(sp_events_consumer_t *cons);

/* Checks a message about to be handled against where its partition should
 * be; ours = it is where one of our own seeks (retry, rewind) sent it. */
void sp_ev_loss_observe(sp_events_consumer_t *cons, const char *topic, int32_t partition,
                        int64_t offset, int ours);

/* librdkafka reset topic/partition's fetch position, which was at. */
void sp_ev_loss_reset(sp_events_consumer_t *cons, const char *topic, int32_t partition, int64_t at);

/* The consumer's librdkafka log callback: sp_ev_log_cb, except that an
 * "offset reset" warning is logged at error and noted for the partition. */
void sp_ev_loss_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf);

/* Forgets partitions given up in a regular revoke (their next owner moves
 * them on; a lost assignment keeps them, see events_loss.c). */
void sp_ev_loss_forget(sp_events_consumer_t *cons, const rd_kafka_topic_partition_list_t *parts);

#endif
