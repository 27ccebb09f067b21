/*
 * events_consumer.c — the Kafka consumer: group membership, dispatch to the
 * handler, at-least-once offset storing and the seek-back retry of a failed
 * message (see events.h). Batch mode is in events_batch.c, the lag gauge in
 * events_lag.c.
 */
#include "events_internal.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "platform/clock.h"
#include "platform/error.h"
#include "platform/log.h"
#include "platform/metrics.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
/* Consumer group session timeout: 10 s (Kafka's default before 3.0) instead
 * of librdkafka 2.0's 45 s. Heartbeats come from librdkafka's own thread, so a
 * slow handler does not risk the session; what this buys is a quicker
 * hand-over when a member dies, and with the dev broker (librdkafka's mock
 * cluster) a quicker rejoin after the last member left, since the mock waits
 * session.timeout.ms - 1 s before admitting the next member. */
#define SESSION_TIMEOUT_MS "10000"

static void marks_clear(sp_events_consumer_t *cons)
{
    for (size_t i = 0; i < cons->n_marks; i++)
        free(cons->marks[i].topic);
    cons->n_marks = 0;
}

retry_mark_t *sp_ev_mark_find(sp_events_consumer_t *cons, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < cons->n_marks; i++)
        if (cons->marks[i].partition == partition && !strcmp(cons->marks[i].topic, topic))
            return &cons->marks[i];
    return NULL;
}

static void mark_remove(sp_events_consumer_t *cons, retry_mark_t *m)
{
    free(m->topic);
    *m = cons->marks[--cons->n_marks];
}

retry_mark_t *sp_ev_mark_add(sp_events_consumer_t *cons, const char *topic, int32_t partition,
                             int64_t offset)
{
    retry_mark_t *m = sp_ev_mark_find(cons, topic, partition);

    if (m) {
        m->offset = offset;
        return m;
    }
    if (cons->n_marks == cons->cap_marks) {
        size_t cap = cons->cap_marks ? cons->cap_marks * 2 : 4;
        retry_mark_t *grown = realloc(cons->marks, cap * sizeof *grown);
        if (!grown)
            return NULL;
        cons->marks = grown;
        cons->cap_marks = cap;
    }
    m = &cons->marks[cons->n_marks];
    if (!(m->topic = strdup(topic)))
        return NULL;
    m->partition = partition;
    m->offset = offset;
    m->last_seek_ms = 0;
    cons->n_marks++;
    return m;
}

/* Commits stored offsets now; nothing stored yet is not an error. */
static int commit_stored(rd_kafka_t *rk)
{
    rd_kafka_resp_err_t err = rd_kafka_commit(rk, NULL, 0);

    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
        sp_log_warn("events: offset commit failed: %s", rd_kafka_err2str(err));
        return SP_EUNAVAILABLE;
    }
    return SP_OK;
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    sp_events_consumer_t *cons = opaque;

    switch (err) {
    case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
        sp_log_info("events: %d partition(s) assigned", parts->cnt);
        rd_kafka_assign(rk, parts);
        break;
    case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
        /* Hand the partitions over with everything processed so far
         * committed, so the next owner starts right after it. */
        sp_log_info("events: %d partition(s) revoked", parts->cnt);
        sp_ev_lag_forget(cons, parts);
        if (!rd_kafka_assignment_lost(rk))
            sp_ev_loss_forget(cons, parts);
        sp_ev_flush_pending(cons, 0);
        commit_stored(rk);
        marks_clear(cons);
        rd_kafka_assign(rk, NULL);
        break;
    default:
        sp_log_error("events: rebalance failed: %s", rd_kafka_err2str(err));
        sp_ev_pending_clear(cons);
        marks_clear(cons);
        rd_kafka_assign(rk, NULL);
        break;
    }
}

static void consumer_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    (void)opaque;
    sp_log_warn("events: consumer %s: %s", rd_kafka_err2name(err), reason);
}

sp_events_consumer_t *sp_events_consumer_new(const char *brokers, const char *group_id,
                                             const char *const *topics, size_t n_topics,
                                             sp_events_handler_fn handler, void *ud)
{
    sp_events_consumer_t *cons;
    rd_kafka_conf_t *conf;
    rd_kafka_topic_partition_list_t *subs;
    rd_kafka_resp_err_t err;
    char errstr[512];

    if (!brokers || !*brokers || !group_id || !*group_id || !topics || n_topics == 0 ||
        n_topics > 10000 || !handler)
        return NULL;
    for (size_t i = 0; i < n_topics; i++)
        if (!topics[i] || !*topics[i])
            return NULL;
    if (!(cons = calloc(1, sizeof *cons)))
        return NULL;
    cons->handler = handler;
    cons->ud = ud;
    cons->backoff_ms = BACKOFF_MIN_MS;
    cons->consumed =
        sp_counter_new("serphona_events_consumed_total",
                       "Kafka events consumed, by handler result.", 2, "topic", "result");
    cons->lag = sp_gauge_new("serphona_events_consumer_lag",
                             "Messages in an assigned partition after the one being handled "
                             "(high watermark - offset - 1).",
                             2, "topic", "partition");
    cons->flushes = sp_counter_new("serphona_events_flushes_total",
                                   "Batch consumer flushes, by result.", 1, "result");
    sp_ev_loss_init(cons, topics, n_topics);

    if (!(conf = rd_kafka_conf_new()))
        goto fail_cons;
    if (sp_ev_conf_set(conf, "bootstrap.servers", brokers) ||
        sp_ev_conf_set(conf, "group.id", group_id) || sp_ev_conf_set(conf, "client.id", group_id) ||
        sp_ev_conf_set(conf, "enable.auto.commit", "true") ||
        sp_ev_conf_set(conf, "auto.commit.interval.ms", "1000") ||
        sp_ev_conf_set(conf, "enable.auto.offset.store", "false") ||
        sp_ev_conf_set(conf, "auto.offset.reset", "earliest") ||
        sp_ev_conf_set(conf, "partition.assignment.strategy", "range,roundrobin") ||
        sp_ev_conf_set(conf, "session.timeout.ms", SESSION_TIMEOUT_MS) ||
        sp_ev_conf_set(conf, "heartbeat.interval.ms", "3000"))
        goto fail_conf;
    rd_kafka_conf_set_opaque(conf, cons);
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_error_cb(conf, consumer_error_cb);
    rd_kafka_conf_set_log_cb(conf, sp_ev_loss_log_cb);

    if (!(cons->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr))) {
        sp_log_error("events: cannot create consumer: %s", errstr);
        goto fail_conf;
    }
    /* Rebalances, errors and messages all come through consumer_poll. */
    rd_kafka_poll_set_consumer(cons->rk);

    if (!(subs = rd_kafka_topic_partition_list_new((int)n_topics)))
        goto fail_rk;
    for (size_t i = 0; i < n_topics; i++)
        rd_kafka_topic_partition_list_add(subs, topics[i], RD_KAFKA_PARTITION_UA);
    err = rd_kafka_subscribe(cons->rk, subs);
    rd_kafka_topic_partition_list_destroy(subs);
    if (err) {
        sp_log_error("events: subscribe failed: %s", rd_kafka_err2str(err));
        goto fail_rk;
    }
    return cons;

fail_rk:
    rd_kafka_destroy(cons->rk);
    goto fail_cons;
fail_conf:
    rd_kafka_conf_destroy(conf);
fail_cons:
    sp_ev_loss_cleanup(cons);
    free(cons);
    return NULL;
}

int sp_events_message_header(const sp_events_message_t *msg, const char *name, const void **value,
                             size_t *len)
{
    rd_kafka_headers_t *hdrs = NULL;
    const void *v = NULL;
    size_t n = 0;

    if (!msg || !msg->impl_ || !name)
        return SP_EINVAL;
    if (rd_kafka_message_headers((const rd_kafka_message_t *)msg->impl_, &hdrs) ||
        rd_kafka_header_get_last(hdrs, name, &v, &n))
        return SP_ENOTFOUND;
    if (value)
        *value = v;
    if (len)
        *len = n;
    return SP_OK;
}

/* Sleeps up to ms, waking early when the consumer is asked to stop. */
static void backoff_sleep(sp_events_consumer_t *cons, int ms)
{
    while (ms > 0 && !atomic_load(&cons->stop)) {
        int step = ms < 50 ? ms : 50;
        struct timespec ts = {0, (long)step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

void sp_ev_seek_to(sp_events_consumer_t *cons, retry_mark_t *mark)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_error_t *error;

    if (!l)
        return;
    rd_kafka_topic_partition_list_add(l, mark->topic, mark->partition)->offset = mark->offset;
    mark->last_seek_ms = sp_clock_mono_ms();
    if ((error = rd_kafka_seek_partitions(cons->rk, l, SEEK_TIMEOUT_MS))) {
        sp_log_warn("events: seek %s[%" PRId32 "] to %" PRId64 " failed: %s", mark->topic,
                    mark->partition, mark->offset, rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    } else if (l->elems[0].err) {
        sp_log_warn("events: seek %s[%" PRId32 "] to %" PRId64 " failed: %s", mark->topic,
                    mark->partition, mark->offset, rd_kafka_err2str(l->elems[0].err));
    }
    rd_kafka_topic_partition_list_destroy(l);
}

int sp_ev_store_offset(sp_events_consumer_t *cons, const char *topic, int32_t partition,
                       int64_t next)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_resp_err_t err;

    if (!l)
        return SP_ENOMEM;
    rd_kafka_topic_partition_list_add(l, topic, partition)->offset = next;
    err = rd_kafka_offsets_store(cons->rk, l);
    if (!err)
        err = l->elems[0].err;
    rd_kafka_topic_partition_list_destroy(l);
    if (err) {
        /* Typically the partition was revoked meanwhile: the new owner will
         * process this message again, which idempotent handlers tolerate. */
        sp_log_warn("events: cannot store offset %s[%" PRId32 "]@%" PRId64 ": %s", topic, partition,
                    next, rd_kafka_err2str(err));
        return sp_ev_map_err(err);
    }
    return SP_OK;
}

static void backoff_grow(sp_events_consumer_t *cons)
{
    cons->backoff_ms =
        cons->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : cons->backoff_ms * 2;
}

/* The message at offset of topic/partition failed: seek back to it so it is
 * delivered again, after a backoff, and nothing behind it is handled first.
 * In batch mode what came before it is flushed first; if that flush fails,
 * the rewind it does already points this partition at or before offset.
 * Returns 2 (poll_once's "failed"). */
static int retry_later(sp_events_consumer_t *cons, const char *topic, int32_t partition,
                       int64_t offset)
{
    retry_mark_t *mark;

    if (sp_ev_flush_pending(cons, 1) != SP_OK && (mark = sp_ev_mark_find(cons, topic, partition)) &&
        mark->offset <= offset) {
        /* already sought back by the rewind */
    } else if (!(mark = sp_ev_mark_add(cons, topic, partition, offset))) {
        /* Without a mark we cannot filter prefetched successors; the seek
         * alone still guarantees they are not delivered (timeout > 0). */
        sp_log_error("events: out of memory recording retry position");
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        if (l) {
            rd_kafka_topic_partition_list_add(l, topic, partition)->offset = offset;
            rd_kafka_error_t *e = rd_kafka_seek_partitions(cons->rk, l, SEEK_TIMEOUT_MS);
            if (e)
                rd_kafka_error_destroy(e);
            rd_kafka_topic_partition_list_destroy(l);
        }
    } else {
        sp_ev_seek_to(cons, mark);
    }
    backoff_sleep(cons, cons->backoff_ms);
    backoff_grow(cons);
    return 2;
}

/* Hands one message to the handler. Returns 1 (handled), 2 (failed, will be
 * redelivered) or 0 (dropped behind a pending retry). */
static int dispatch(sp_events_consumer_t *cons, const rd_kafka_message_t *m)
{
    const char *topic = rd_kafka_topic_name(m->rkt);
    retry_mark_t *mark = sp_ev_mark_find(cons, topic, m->partition);
    Serphona__Events__V1__Event *ev;
    sp_events_message_t msg;
    int rc;

    if (mark && m->offset != mark->offset) {
        /* Prefetched before the seek back took effect; the seek will bring it
         * again after the failed message. Re-seek if the seek seems lost. */
        if (sp_clock_mono_ms() - mark->last_seek_ms > SEEK_TIMEOUT_MS)
            sp_ev_seek_to(cons, mark);
        return 0;
    }
    sp_ev_loss_observe(cons, topic, m->partition, m->offset, mark != NULL);

    ev = serphona__events__v1__event__unpack(NULL, m->len, m->payload);
    memset(&msg, 0, sizeof msg);
    msg.topic = topic;
    msg.partition = m->partition;
    msg.offset = m->offset;
    msg.key = m->key;
    msg.key_len = m->key_len;
    msg.value = m->payload;
    msg.value_len = m->len;
    msg.event = ev;
    msg.impl_ = m;
    if (!ev)
        sp_log_warn("events: %s[%" PRId32 "]@%" PRId64 " is not an Event envelope", topic,
                    m->partition, m->offset);

    sp_ev_lag_observe(cons, topic, m->partition, m->offset);
    /* The handler's log lines carry the event's tenant and trace. */
    sp_log_set_context(NULL, ev && ev->tenant_id[0] ? ev->tenant_id : NULL);
    sp_log_set_trace(ev && ev->traceparent[0] ? ev->traceparent : NULL);
    rc = cons->handler(&msg, cons->ud);
    sp_log_clear_context();
    if (ev)
        serphona__events__v1__event__free_unpacked(ev, NULL);

    if (rc == 0) {
        sp_counter_add(cons->consumed, 1, topic, ev ? "ok" : "undecodable");
        if (mark)
            mark_remove(cons, mark);
        cons->backoff_ms = BACKOFF_MIN_MS;
        if (!cons->flush) {
            sp_ev_store_offset(cons, topic, m->partition, m->offset + 1);
            return 1;
        }
        if (sp_ev_pending_add(cons, topic, m->partition, m->offset) != SP_OK) {
            /* Cannot remember its offset: treat it as failed. The flush
             * below may well make it durable with the others; it then
             * comes again and the caller's dedupe skips it. */
            sp_log_error("events: out of memory recording a pending offset");
            return retry_later(cons, topic, m->partition, m->offset);
        }
        if (cons->pend_count >= cons->batch_max && sp_ev_flush_pending(cons, 1) != SP_OK) {
            backoff_sleep(cons, cons->backoff_ms);
            backoff_grow(cons);
            return 2;
        }
        return 1;
    }

    sp_counter_add(cons->consumed, 1, topic, "retry");
    sp_log_warn("events: handler failed for %s[%" PRId32 "]@%" PRId64 ", retrying in %d ms", topic,
                m->partition, m->offset, cons->backoff_ms);
    return retry_later(cons, topic, m->partition, m->offset);
}

int sp_events_consumer_poll_once(sp_events_consumer_t *cons, int timeout_ms)
{
    rd_kafka_message_t *m;
    int rc;

    if (!cons)
        return SP_EINVAL;
    if (cons->closed)
        return SP_ESHUTDOWN;
    cons->polled = 1;
    if (cons->flush && cons->pend_count > 0) {
        /* Wait no longer than the pending batch may. */
        int64_t left = cons->pend_since + cons->batch_wait_ms - sp_clock_mono_ms();
        if (left < timeout_ms)
            timeout_ms = left > 0 ? (int)left : 0;
    }
    rc = 0;
    if ((m = rd_kafka_consumer_poll(cons->rk, timeout_ms))) {
        rd_kafka_resp_err_t err = m->err;
        if (!err) {
            rc = dispatch(cons, m);
        } else if ((err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
                    err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) &&
                   m->rkt) {
            /* Not with auto.offset.reset=earliest (librdkafka logs those,
             * sp_ev_loss_log_cb), but should one come: the next message
             * shows how far the partition moved. */
            sp_log_error("events: %s", rd_kafka_message_errstr(m));
            sp_ev_loss_reset(cons, rd_kafka_topic_name(m->rkt), m->partition, m->offset);
        } else if (err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            sp_log_warn("events: consume error: %s", rd_kafka_message_errstr(m));
            if (err == RD_KAFKA_RESP_ERR__FATAL) {
                char buf[512];
                rd_kafka_fatal_error(cons->rk, buf, sizeof buf);
                sp_log_error("events: consumer fatal error: %s", buf);
                rc = SP_EUNAVAILABLE;
            }
        }
        rd_kafka_message_destroy(m);
    }
    if (rc >= 0 && cons->flush && cons->pend_count > 0 &&
        sp_clock_mono_ms() - cons->pend_since >= cons->batch_wait_ms &&
        sp_ev_flush_pending(cons, 1) != SP_OK) {
        backoff_sleep(cons, cons->backoff_ms);
        backoff_grow(cons);
        rc = 2;
    }
    return rc;
}

int sp_events_consumer_set_batch(sp_events_consumer_t *cons, size_t max_messages, int max_wait_ms,
                                 sp_events_flush_fn flush)
{
    if (!cons || !flush || max_messages == 0 || max_wait_ms < 0 || cons->polled || cons->closed)
        return SP_EINVAL;
    cons->flush = flush;
    cons->batch_max = max_messages;
    cons->batch_wait_ms = max_wait_ms;
    return SP_OK;
}

size_t sp_events_consumer_pending(const sp_events_consumer_t *cons)
{
    return cons ? cons->pend_count : 0;
}

static void consumer_close(sp_events_consumer_t *cons)
{
    rd_kafka_resp_err_t err;

    if (cons->closed)
        return;
    cons->closed = 1;
    /* Batch mode: make what was accepted durable before leaving; if that
     * fails, the next owner gets those messages again. */
    sp_ev_flush_pending(cons, 0);
    commit_stored(cons->rk);
    /* Leaves the group; the revoke runs rebalance_cb, which commits again. */
    if ((err = rd_kafka_consumer_close(cons->rk)))
        sp_log_warn("events: consumer close: %s", rd_kafka_err2str(err));
    marks_clear(cons);
}

int sp_events_consumer_run(sp_events_consumer_t *cons)
{
    int rc = SP_OK;

    if (!cons)
        return SP_EINVAL;
    if (cons->closed)
        return SP_ESHUTDOWN;
    while (!atomic_load(&cons->stop)) {
        int r = sp_events_consumer_poll_once(cons, 100);
        if (r < 0) {
            rc = r;
            break;
        }
    }
    consumer_close(cons);
    return rc;
}

void sp_events_consumer_stop(sp_events_consumer_t *cons)
{
    if (cons)
        atomic_store(&cons->stop, 1);
}

int sp_events_consumer_commit(sp_events_consumer_t *cons)
{
    if (!cons)
        return SP_EINVAL;
    if (cons->closed)
        return SP_ESHUTDOWN;
    return commit_stored(cons->rk);
}

void sp_events_consumer_destroy(sp_events_consumer_t **self_p)
{
    sp_events_consumer_t *cons;

    if (!self_p || !(cons = *self_p))
        return;
    *self_p = NULL;
    consumer_close(cons);
    rd_kafka_destroy(cons->rk);
    sp_ev_loss_cleanup(cons);
    sp_ev_pending_clear(cons);
    free(cons->pend);
    free(cons->marks);
    free(cons);
}
