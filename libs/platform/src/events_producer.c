/*
 * events_producer.c — the Kafka producer: asynchronous and synchronous
 * publishing with delivery reports, flush and broker pings (see events.h).
 */
#include "events_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "platform/clock.h"
#include "platform/error.h"
#include "platform/log.h"
#include "platform/metrics.h"

#define DESTROY_FLUSH_MS 5000

struct sp_events_producer {
    rd_kafka_t *rk;
    pthread_t poller;
    int poller_started;
    atomic_int stop;
    atomic_int all_down; /* last broker state report said all brokers down */
    atomic_size_t pending;
    pthread_mutex_t mtx; /* guards sync waiters; cond signals deliveries */
    pthread_cond_t cond;
    sp_counter_t *produced;
};

/* The per-message opaque handed to librdkafka; freed by the delivery report. */
typedef struct {
    sp_events_delivery_fn cb;
    void *ud;
} dr_ctx_t;

/* State shared between a sync publisher and the delivery report. Both hold a
 * reference (under prod->mtx) because the publisher may give up first. */
typedef struct {
    sp_events_producer_t *prod;
    int refs;
    int done;
    int err;
} sync_wait_t;

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    dr_ctx_t *ctx = m->_private;
    sp_events_producer_t *prod = opaque;
    int err = sp_ev_map_err(m->err);
    const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : "";

    (void)rk;
    if (err == SP_OK) {
        atomic_store(&prod->all_down, 0);
        sp_counter_add(prod->produced, 1, topic, "ok");
    } else {
        sp_counter_add(prod->produced, 1, topic, "error");
        if (m->err != RD_KAFKA_RESP_ERR__PURGE_QUEUE && m->err != RD_KAFKA_RESP_ERR__PURGE_INFLIGHT)
            sp_log_warn("events: delivery to %s failed: %s", topic, rd_kafka_err2str(m->err));
    }
    if (ctx) {
        if (ctx->cb)
            ctx->cb(err, ctx->ud);
        free(ctx);
    }
    pthread_mutex_lock(&prod->mtx);
    atomic_fetch_sub(&prod->pending, 1);
    pthread_cond_broadcast(&prod->cond);
    pthread_mutex_unlock(&prod->mtx);
}

static void producer_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    sp_events_producer_t *prod = opaque;

    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        atomic_store(&prod->all_down, 1);
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char buf[512];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, buf, sizeof buf);
        sp_log_error("events: producer fatal error %s: %s", rd_kafka_err2name(orig), buf);
        return;
    }
    sp_log_warn("events: producer %s: %s", rd_kafka_err2name(err), reason);
}

static void *poll_main(void *arg)
{
    sp_events_producer_t *prod = arg;

    while (!atomic_load(&prod->stop))
        rd_kafka_poll(prod->rk, 100);
    return NULL;
}

sp_events_producer_t *sp_events_producer_new(const char *brokers, const char *client_id)
{
    sp_events_producer_t *prod;
    rd_kafka_conf_t *conf;
    char errstr[512], timeout[32];

    if (!brokers || !*brokers)
        return NULL;
    if (!(prod = calloc(1, sizeof *prod)))
        return NULL;
    pthread_mutex_init(&prod->mtx, NULL);
    pthread_cond_init(&prod->cond, NULL);
    prod->produced =
        sp_counter_new("serphona_events_produced_total",
                       "Kafka events published, by delivery result.", 2, "topic", "result");

    if (!(conf = rd_kafka_conf_new()))
        goto fail_prod;
    snprintf(timeout, sizeof timeout, "%d", SP_EVENTS_MESSAGE_TIMEOUT_MS);
    if (sp_ev_conf_set(conf, "bootstrap.servers", brokers) ||
        sp_ev_conf_set(conf, "client.id", client_id ? client_id : "serphona") ||
        sp_ev_conf_set(conf, "enable.idempotence", "true") || sp_ev_conf_set(conf, "acks", "all") ||
        sp_ev_conf_set(conf, "linger.ms", "5") ||
        sp_ev_conf_set(conf, "message.timeout.ms", timeout))
        goto fail_conf;
    rd_kafka_conf_set_opaque(conf, prod);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
    rd_kafka_conf_set_error_cb(conf, producer_error_cb);
    rd_kafka_conf_set_log_cb(conf, sp_ev_log_cb);

    /* On success rd_kafka_new owns conf. */
    if (!(prod->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr))) {
        sp_log_error("events: cannot create producer: %s", errstr);
        goto fail_conf;
    }
    if (pthread_create(&prod->poller, NULL, poll_main, prod) != 0) {
        sp_log_error("events: cannot start producer poll thread");
        goto fail_rk;
    }
    prod->poller_started = 1;
    return prod;

fail_rk:
    rd_kafka_destroy(prod->rk);
    goto fail_prod;
fail_conf:
    rd_kafka_conf_destroy(conf);
fail_prod:
    pthread_cond_destroy(&prod->cond);
    pthread_mutex_destroy(&prod->mtx);
    free(prod);
    return NULL;
}

void sp_events_producer_destroy(sp_events_producer_t **self_p)
{
    sp_events_producer_t *prod;

    if (!self_p || !(prod = *self_p))
        return;
    *self_p = NULL;

    if (prod->poller_started) {
        atomic_store(&prod->stop, 1);
        pthread_join(prod->poller, NULL);
    }
    /* From here on this thread serves delivery reports itself. */
    rd_kafka_flush(prod->rk, DESTROY_FLUSH_MS);
    size_t left = atomic_load(&prod->pending);
    if (left > 0) {
        sp_log_warn("events: producer closing with %zu message(s) undelivered after %d ms", left,
                    DESTROY_FLUSH_MS);
        /* Purging hands every remaining message back through the delivery
         * report (SP_ESHUTDOWN), which frees its context and tells the caller. */
        rd_kafka_purge(prod->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        int64_t deadline = sp_clock_mono_ms() + 2000;
        while (atomic_load(&prod->pending) > 0 && sp_clock_mono_ms() < deadline)
            rd_kafka_poll(prod->rk, 50);
    }
    rd_kafka_destroy(prod->rk);
    pthread_cond_destroy(&prod->cond);
    pthread_mutex_destroy(&prod->mtx);
    free(prod);
}

static int add_header(rd_kafka_headers_t *hdrs, const char *name, const char *value)
{
    if (!value || !*value)
        return SP_OK;
    return rd_kafka_header_add(hdrs, name, -1, value, -1) ? SP_ENOMEM : SP_OK;
}

static int has_text(const char *s)
{
    return s && *s;
}

int sp_events_publish(sp_events_producer_t *prod, const char *topic, const char *key,
                      const Serphona__Events__V1__Event *ev, sp_events_delivery_fn cb, void *ud)
{
    rd_kafka_headers_t *hdrs = NULL;
    dr_ctx_t *ctx = NULL;
    uint8_t *buf = NULL;
    size_t len;
    int rc;

    if (!prod || !has_text(topic) || !ev || !has_text(ev->event_id) || !has_text(ev->type) ||
        !has_text(ev->tenant_id))
        return SP_EINVAL;
    if (rd_kafka_fatal_error(prod->rk, NULL, 0) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return SP_EUNAVAILABLE;

    len = serphona__events__v1__event__get_packed_size(ev);
    if (!(buf = malloc(len ? len : 1)) || !(ctx = malloc(sizeof *ctx)) ||
        !(hdrs = rd_kafka_headers_new(4))) {
        rc = SP_ENOMEM;
        goto fail;
    }
    serphona__events__v1__event__pack(ev, buf);
    ctx->cb = cb;
    ctx->ud = ud;
    if (add_header(hdrs, SP_EVENTS_HDR_TYPE, ev->type) ||
        add_header(hdrs, SP_EVENTS_HDR_TENANT_ID, ev->tenant_id) ||
        add_header(hdrs, SP_EVENTS_HDR_TRACEPARENT, ev->traceparent) ||
        add_header(hdrs, SP_EVENTS_HDR_EVENT_ID, ev->event_id)) {
        rc = SP_ENOMEM;
        goto fail;
    }

    /* Counted before producing: the delivery report may run before
     * rd_kafka_producev even returns. */
    atomic_fetch_add(&prod->pending, 1);
    rd_kafka_resp_err_t err = rd_kafka_producev(
        prod->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE(buf, len),
        RD_KAFKA_V_KEY(key, key ? strlen(key) : 0), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
        RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(ctx), RD_KAFKA_V_END);
    if (err) {
        /* On failure the payload and the headers stay ours. */
        atomic_fetch_sub(&prod->pending, 1);
        sp_log_warn("events: cannot queue event for %s: %s", topic, rd_kafka_err2str(err));
        sp_counter_add(prod->produced, 1, topic, "error");
        rc = sp_ev_map_err(err);
        if (rc == SP_OK || rc == SP_ETIMEDOUT)
            rc = SP_EUNAVAILABLE;
        goto fail;
    }
    /* ctx, buf and hdrs now belong to librdkafka; dr_msg_cb frees ctx. */
    return SP_OK; /* NOLINT(clang-analyzer-unix.Malloc) */

fail:
    if (hdrs)
        rd_kafka_headers_destroy(hdrs);
    free(ctx);
    free(buf);
    return rc;
}

static void sync_release(sync_wait_t *w)
{
    /* Caller holds prod->mtx. */
    if (--w->refs == 0)
        free(w);
}

static void sync_done(int err, void *ud)
{
    sync_wait_t *w = ud;
    sp_events_producer_t *prod = w->prod;

    pthread_mutex_lock(&prod->mtx);
    w->done = 1;
    w->err = err;
    pthread_cond_broadcast(&prod->cond);
    sync_release(w);
    pthread_mutex_unlock(&prod->mtx);
}

int sp_events_publish_sync(sp_events_producer_t *prod, const char *topic, const char *key,
                           const Serphona__Events__V1__Event *ev, int timeout_ms)
{
    sync_wait_t *w;
    struct timespec until;
    int rc;

    if (!prod || timeout_ms <= 0)
        return SP_EINVAL;
    if (!(w = calloc(1, sizeof *w)))
        return SP_ENOMEM;
    w->prod = prod;
    w->refs = 2;
    if ((rc = sp_events_publish(prod, topic, key, ev, sync_done, w)) != SP_OK) {
        free(w);
        return rc;
    }
    until = sp_clock_timespec_in(CLOCK_REALTIME, timeout_ms);
    pthread_mutex_lock(&prod->mtx);
    while (!w->done) {
        if (pthread_cond_timedwait(&prod->cond, &prod->mtx, &until) == ETIMEDOUT)
            break;
    }
    if (w->done)
        rc = w->err;
    else
        rc = atomic_load(&prod->all_down) ? SP_EUNAVAILABLE : SP_ETIMEDOUT;
    sync_release(w);
    pthread_mutex_unlock(&prod->mtx);
    if (rc != SP_OK)
        sp_log_warn("events: sync publish to %s: %s", topic, sp_strerror(rc));
    return rc;
}

int sp_events_producer_flush(sp_events_producer_t *prod, int timeout_ms)
{
    struct timespec until;
    int rc = SP_OK;

    if (!prod)
        return SP_EINVAL;
    until = sp_clock_timespec_in(CLOCK_REALTIME, timeout_ms > 0 ? timeout_ms : 0);
    rd_kafka_flush(prod->rk, timeout_ms > 0 ? timeout_ms : 0);
    /* The queue may be empty while a delivery report is still being served by
     * the poll thread; wait for our own count to reach zero. */
    pthread_mutex_lock(&prod->mtx);
    while (atomic_load(&prod->pending) > 0) {
        if (pthread_cond_timedwait(&prod->cond, &prod->mtx, &until) == ETIMEDOUT) {
            rc = atomic_load(&prod->pending) > 0 ? SP_ETIMEDOUT : SP_OK;
            break;
        }
    }
    pthread_mutex_unlock(&prod->mtx);
    return rc;
}

size_t sp_events_producer_pending(const sp_events_producer_t *prod)
{
    return prod ? atomic_load(&((sp_events_producer_t *)prod)->pending) : 0;
}

static int metadata_ping(rd_kafka_t *rk, int timeout_ms)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, NULL, &md, timeout_ms);

    if (err) {
        sp_log_warn("events: metadata request failed: %s", rd_kafka_err2str(err));
        return err == RD_KAFKA_RESP_ERR__TIMED_OUT ? SP_EUNAVAILABLE : sp_ev_map_err(err);
    }
    int n = md->broker_cnt;
    rd_kafka_metadata_destroy(md);
    return n > 0 ? SP_OK : SP_EUNAVAILABLE;
}

int sp_events_producer_ping(sp_events_producer_t *prod, int timeout_ms)
{
    if (!prod)
        return SP_EINVAL;
    int rc = metadata_ping(prod->rk, timeout_ms > 0 ? timeout_ms : 1000);
    if (rc == SP_OK)
        atomic_store(&prod->all_down, 0);
    return rc;
}

int sp_events_ping(const char *brokers, int timeout_ms)
{
    rd_kafka_conf_t *conf;
    rd_kafka_t *rk;
    char errstr[512];
    int rc;

    if (!brokers || !*brokers)
        return SP_EINVAL;
    if (!(conf = rd_kafka_conf_new()))
        return SP_ENOMEM;
    if (sp_ev_conf_set(conf, "bootstrap.servers", brokers) ||
        sp_ev_conf_set(conf, "client.id", "serphona-ping")) {
        rd_kafka_conf_destroy(conf);
        return SP_ECONFIG;
    }
    rd_kafka_conf_set_log_cb(conf, sp_ev_log_cb);
    if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr))) {
        sp_log_error("events: cannot create ping client: %s", errstr);
        rd_kafka_conf_destroy(conf);
        return SP_ECONFIG;
    }
    rc = metadata_ping(rk, timeout_ms > 0 ? timeout_ms : 1000);
    rd_kafka_destroy(rk);
    return rc;
}
