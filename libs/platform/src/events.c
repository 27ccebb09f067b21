/*
 * events.c — Kafka events over librdkafka (see events.h for the contract).
 */
#include "platform/events.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "platform/crypto.h"
#include "platform/error.h"
#include "platform/log.h"
#include "platform/metrics.h"

#define DESTROY_FLUSH_MS 5000
#define BACKOFF_MIN_MS   100
#define BACKOFF_MAX_MS   5000
#define SEEK_TIMEOUT_MS  3000
/* Consumer group session timeout: 10 s (Kafka's default before 3.0) instead
 * of librdkafka 2.0's 45 s. Heartbeats come from librdkafka's own thread, so a
 * slow handler does not risk the session; what this buys is a quicker
 * hand-over when a member dies, and with the dev broker (librdkafka's mock
 * cluster) a quicker rejoin after the last member left, since the mock waits
 * session.timeout.ms - 1 s before admitting the next member. */
#define SESSION_TIMEOUT_MS "10000"

/* ---- helpers ------------------------------------------------------------- */

static int64_t now_ms(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Translates a librdkafka error into the platform enum. Errors a caller can
 * sensibly retry later (no leader, brokers down, local queue full) become
 * SP_EUNAVAILABLE. */
static int map_err(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
        return SP_OK;
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
        return SP_ETIMEDOUT;
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR__WAIT_COORD:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
        return SP_EUNAVAILABLE;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
        return SP_ETOOBIG;
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
        return SP_ENOTFOUND;
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
        return SP_EDENIED;
    case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
    case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
    case RD_KAFKA_RESP_ERR__DESTROY:
        return SP_ESHUTDOWN;
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
        return SP_EINVAL;
    case RD_KAFKA_RESP_ERR__NO_OFFSET:
        return SP_OK;
    default:
        return SP_EIO;
    }
}

/* librdkafka's own log lines go through the platform logger, so they come out
 * as JSON lines like everything else. Levels are syslog levels; librdkafka
 * logs every refused connection at LOG_ERR, and whatever matters to the
 * caller also arrives through error_cb or a delivery report, so its errors are
 * logged as warnings here. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    if (level <= 4)
        sp_log_warn("kafka %s: %s", fac, buf);
    else if (level <= 6)
        sp_log_info("kafka %s: %s", fac, buf);
    else
        sp_log_debug("kafka %s: %s", fac, buf);
}

static int conf_set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
    char errstr[512];
    if (rd_kafka_conf_set(conf, name, value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        sp_log_error("events: kafka config %s=%s rejected: %s", name, value, errstr);
        return SP_ECONFIG;
    }
    return SP_OK;
}

/* ---- envelope ------------------------------------------------------------ */

static void free_str(char **s)
{
    if (*s && *s != protobuf_c_empty_string)
        free(*s);
    *s = (char *)protobuf_c_empty_string;
}

int sp_events_event_init(Serphona__Events__V1__Event *ev, const char *type, const char *tenant_id,
                         const void *payload, size_t len, const char *content_type)
{
    char id[SP_UUID_STR_LEN];
    int rc;

    if (!ev || !type || !tenant_id || (!payload && len > 0))
        return SP_EINVAL;
    serphona__events__v1__event__init(ev);
    if ((rc = sp_uuid_v7(id)) != SP_OK)
        return rc;

    ev->event_id = strdup(id);
    ev->type = strdup(type);
    ev->tenant_id = strdup(tenant_id);
    ev->content_type = strdup(content_type ? content_type : "application/json");
    if (len > 0) {
        ev->payload.data = malloc(len);
        if (ev->payload.data) {
            memcpy(ev->payload.data, payload, len);
            ev->payload.len = len;
        }
    }
    if (!ev->event_id || !ev->type || !ev->tenant_id || !ev->content_type ||
        (len > 0 && !ev->payload.data)) {
        sp_events_event_cleanup(ev);
        return SP_ENOMEM;
    }
    ev->occurred_at_unix_ms = now_ms(CLOCK_REALTIME);
    return SP_OK;
}

int sp_events_event_set_traceparent(Serphona__Events__V1__Event *ev, const char *traceparent)
{
    char *copy;

    if (!ev)
        return SP_EINVAL;
    if (!traceparent || !*traceparent) {
        free_str(&ev->traceparent);
        return SP_OK;
    }
    if (!(copy = strdup(traceparent)))
        return SP_ENOMEM;
    free_str(&ev->traceparent);
    ev->traceparent = copy;
    return SP_OK;
}

void sp_events_event_cleanup(Serphona__Events__V1__Event *ev)
{
    if (!ev)
        return;
    free_str(&ev->event_id);
    free_str(&ev->type);
    free_str(&ev->tenant_id);
    free_str(&ev->traceparent);
    free_str(&ev->content_type);
    free(ev->payload.data);
    serphona__events__v1__event__init(ev);
}

/* ---- producer ------------------------------------------------------------ */

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
    int err = map_err(m->err);
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
    if (conf_set(conf, "bootstrap.servers", brokers) ||
        conf_set(conf, "client.id", client_id ? client_id : "serphona") ||
        conf_set(conf, "enable.idempotence", "true") || conf_set(conf, "acks", "all") ||
        conf_set(conf, "linger.ms", "5") || conf_set(conf, "message.timeout.ms", timeout))
        goto fail_conf;
    rd_kafka_conf_set_opaque(conf, prod);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
    rd_kafka_conf_set_error_cb(conf, producer_error_cb);
    rd_kafka_conf_set_log_cb(conf, log_cb);

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
        int64_t deadline = now_ms(CLOCK_MONOTONIC) + 2000;
        while (atomic_load(&prod->pending) > 0 && now_ms(CLOCK_MONOTONIC) < deadline)
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
        rc = map_err(err);
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

static void deadline_ts(struct timespec *ts, int timeout_ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += timeout_ms / 1000;
    ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
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
    deadline_ts(&until, timeout_ms);
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
    deadline_ts(&until, timeout_ms > 0 ? timeout_ms : 0);
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
        return err == RD_KAFKA_RESP_ERR__TIMED_OUT ? SP_EUNAVAILABLE : map_err(err);
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
    if (conf_set(conf, "bootstrap.servers", brokers) ||
        conf_set(conf, "client.id", "serphona-ping")) {
        rd_kafka_conf_destroy(conf);
        return SP_ECONFIG;
    }
    rd_kafka_conf_set_log_cb(conf, log_cb);
    if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr))) {
        sp_log_error("events: cannot create ping client: %s", errstr);
        rd_kafka_conf_destroy(conf);
        return SP_ECONFIG;
    }
    rc = metadata_ping(rk, timeout_ms > 0 ? timeout_ms : 1000);
    rd_kafka_destroy(rk);
    return rc;
}

/* ---- consumer ------------------------------------------------------------ */

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
};

static void marks_clear(sp_events_consumer_t *cons)
{
    for (size_t i = 0; i < cons->n_marks; i++)
        free(cons->marks[i].topic);
    cons->n_marks = 0;
}

static retry_mark_t *mark_find(sp_events_consumer_t *cons, const char *topic, int32_t partition)
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

static retry_mark_t *mark_add(sp_events_consumer_t *cons, const char *topic, int32_t partition,
                              int64_t offset)
{
    retry_mark_t *m = mark_find(cons, topic, partition);

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

/* ---- batch mode: pending offsets ------------------------------------------ */

static void pending_clear(sp_events_consumer_t *cons)
{
    for (size_t i = 0; i < cons->n_pend; i++)
        free(cons->pend[i].topic);
    cons->n_pend = 0;
    cons->pend_count = 0;
}

/* Records offset of topic/partition as accepted. SP_ENOMEM leaves the batch
 * as it was. */
static int pending_add(sp_events_consumer_t *cons, const char *topic, int32_t partition,
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
        cons->pend_since = now_ms(CLOCK_MONOTONIC);
    return SP_OK;
}

static int store_offset(sp_events_consumer_t *cons, const char *topic, int32_t partition,
                        int64_t next);
static void seek_to(sp_events_consumer_t *cons, retry_mark_t *mark);

/* Runs the caller's flush over the pending batch. On success stores every
 * pending offset; on failure, with rewind set, seeks each pending partition
 * back to its first unflushed message (marking it so prefetched successors
 * are dropped); without rewind (the partitions are being given up) simply
 * forgets them. The batch is empty afterwards either way. Returns 0 (also
 * for an empty batch) or SP_EUNAVAILABLE. */
static int flush_pending(sp_events_consumer_t *cons, int rewind)
{
    int rc;

    if (!cons->flush || cons->pend_count == 0)
        return SP_OK;
    rc = cons->flush(cons->ud);
    if (rc == 0) {
        for (size_t i = 0; i < cons->n_pend; i++)
            store_offset(cons, cons->pend[i].topic, cons->pend[i].partition,
                         cons->pend[i].last + 1);
        sp_counter_add(cons->flushes, 1, "ok");
        pending_clear(cons);
        return SP_OK;
    }
    sp_counter_add(cons->flushes, 1, "error");
    sp_log_warn("events: flush of %zu message(s) failed%s", cons->pend_count,
                rewind ? "; rewinding to redeliver them" : "");
    for (size_t i = 0; rewind && i < cons->n_pend; i++) {
        pending_t *p = &cons->pend[i];
        retry_mark_t *mark = mark_add(cons, p->topic, p->partition, p->first);
        if (mark)
            seek_to(cons, mark);
        else
            sp_log_error("events: out of memory recording a rewind position");
    }
    pending_clear(cons);
    return SP_EUNAVAILABLE;
}

/* ---- consumer lag ---------------------------------------------------------- */

static void partition_label(char out[16], int32_t partition)
{
    snprintf(out, 16, "%" PRId32, partition);
}

/* serphona_events_consumer_lag for the partition of a message about to be
 * handled: the high watermark librdkafka cached from its last fetch (no
 * request is made) minus the message's offset minus one. An autoscaler
 * (HPA through prometheus-adapter) sums it over the group's members. */
static void lag_observe(sp_events_consumer_t *cons, const char *topic, int32_t partition,
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
static void lag_forget(sp_events_consumer_t *cons, const rd_kafka_topic_partition_list_t *parts)
{
    char label[16];
    for (int i = 0; i < parts->cnt; i++) {
        partition_label(label, parts->elems[i].partition);
        sp_gauge_set(cons->lag, 0, parts->elems[i].topic, label);
    }
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
        lag_forget(cons, parts);
        flush_pending(cons, 0);
        commit_stored(rk);
        marks_clear(cons);
        rd_kafka_assign(rk, NULL);
        break;
    default:
        sp_log_error("events: rebalance failed: %s", rd_kafka_err2str(err));
        pending_clear(cons);
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

    if (!(conf = rd_kafka_conf_new()))
        goto fail_cons;
    if (conf_set(conf, "bootstrap.servers", brokers) || conf_set(conf, "group.id", group_id) ||
        conf_set(conf, "client.id", group_id) || conf_set(conf, "enable.auto.commit", "true") ||
        conf_set(conf, "auto.commit.interval.ms", "1000") ||
        conf_set(conf, "enable.auto.offset.store", "false") ||
        conf_set(conf, "auto.offset.reset", "earliest") ||
        conf_set(conf, "partition.assignment.strategy", "range,roundrobin") ||
        conf_set(conf, "session.timeout.ms", SESSION_TIMEOUT_MS) ||
        conf_set(conf, "heartbeat.interval.ms", "3000"))
        goto fail_conf;
    rd_kafka_conf_set_opaque(conf, cons);
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_error_cb(conf, consumer_error_cb);
    rd_kafka_conf_set_log_cb(conf, log_cb);

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

static void seek_to(sp_events_consumer_t *cons, retry_mark_t *mark)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_error_t *error;

    if (!l)
        return;
    rd_kafka_topic_partition_list_add(l, mark->topic, mark->partition)->offset = mark->offset;
    mark->last_seek_ms = now_ms(CLOCK_MONOTONIC);
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

static int store_offset(sp_events_consumer_t *cons, const char *topic, int32_t partition,
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
        return map_err(err);
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

    if (flush_pending(cons, 1) != SP_OK && (mark = mark_find(cons, topic, partition)) &&
        mark->offset <= offset) {
        /* already sought back by the rewind */
    } else if (!(mark = mark_add(cons, topic, partition, offset))) {
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
        seek_to(cons, mark);
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
    retry_mark_t *mark = mark_find(cons, topic, m->partition);
    Serphona__Events__V1__Event *ev;
    sp_events_message_t msg;
    int rc;

    if (mark && m->offset != mark->offset) {
        /* Prefetched before the seek back took effect; the seek will bring it
         * again after the failed message. Re-seek if the seek seems lost. */
        if (now_ms(CLOCK_MONOTONIC) - mark->last_seek_ms > SEEK_TIMEOUT_MS)
            seek_to(cons, mark);
        return 0;
    }

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

    lag_observe(cons, topic, m->partition, m->offset);
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
            store_offset(cons, topic, m->partition, m->offset + 1);
            return 1;
        }
        if (pending_add(cons, topic, m->partition, m->offset) != SP_OK) {
            /* Cannot remember its offset: treat it as failed. The flush
             * below may well make it durable with the others; it then
             * comes again and the caller's dedupe skips it. */
            sp_log_error("events: out of memory recording a pending offset");
            return retry_later(cons, topic, m->partition, m->offset);
        }
        if (cons->pend_count >= cons->batch_max && flush_pending(cons, 1) != SP_OK) {
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
        int64_t left = cons->pend_since + cons->batch_wait_ms - now_ms(CLOCK_MONOTONIC);
        if (left < timeout_ms)
            timeout_ms = left > 0 ? (int)left : 0;
    }
    rc = 0;
    if ((m = rd_kafka_consumer_poll(cons->rk, timeout_ms))) {
        rd_kafka_resp_err_t err = m->err;
        if (!err) {
            rc = dispatch(cons, m);
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
        now_ms(CLOCK_MONOTONIC) - cons->pend_since >= cons->batch_wait_ms &&
        flush_pending(cons, 1) != SP_OK) {
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
    flush_pending(cons, 0);
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
    pending_clear(cons);
    free(cons->pend);
    free(cons->marks);
    free(cons);
}
