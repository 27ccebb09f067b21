/*
 * publisher.c — batch publishing with one wait (publisher.h).
 *
 * A publish is shared with librdkafka's delivery callbacks, which may run
 * after it was settled (a timeout): so it is reference-counted — one
 * reference for its owner and one per queued message — and freed by
 * whoever drops the last one. One process-wide mutex guards every publish
 * and the list the completion threads watch; it is held for a few
 * instructions at a time. Its condition variable is broadcast whenever a
 * publish's last report arrives, which wakes both the completion threads
 * and synchronous waiters.
 */
#include "publisher.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "platform/clock.h"
#include "platform/error.h"
#include "platform/log.h"

#define MAX_THREADS 16

typedef struct {
    tg_publish_t *p;
    size_t index;
} slot_t;

enum { ACTIVE, SETTLED };

struct tg_publish {
    size_t n, pending, refs;
    int state;
    int listed; /* in the completion list (async publishes only) */
    struct timespec started, deadline, settled_at;
    tg_publish_done_fn done;
    void *ud;
    tg_publish_t *prev, *next;
    int *results; /* points into this allocation */
    slot_t slots[];
};

static struct {
    pthread_once_t once;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    tg_publish_t *head;
    pthread_t threads[MAX_THREADS];
    int n_threads, running, stopping;
} G = {.once = PTHREAD_ONCE_INIT, .mu = PTHREAD_MUTEX_INITIALIZER};

static void init_once(void)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&G.cv, &attr);
    pthread_condattr_destroy(&attr);
}

static int before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static void unlist_locked(tg_publish_t *p)
{
    if (!p->listed)
        return;
    if (p->prev)
        p->prev->next = p->next;
    else
        G.head = p->next;
    if (p->next)
        p->next->prev = p->prev;
    p->prev = p->next = NULL;
    p->listed = 0;
}

/* Drops one reference; frees p at zero. Called with G.mu held. */
static void unref_locked(tg_publish_t *p)
{
    if (--p->refs == 0)
        free(p);
}

static void on_delivery(int err, void *ud)
{
    slot_t *slot = ud;
    tg_publish_t *p = slot->p;
    pthread_mutex_lock(&G.mu);
    if (p->state == ACTIVE)
        p->results[slot->index] = err;
    if (--p->pending == 0)
        pthread_cond_broadcast(&G.cv);
    unref_locked(p);
    pthread_mutex_unlock(&G.mu);
}

static tg_publish_t *publish_new(size_t n, int timeout_ms)
{
    tg_publish_t *p = calloc(1, sizeof(*p) + n * sizeof(slot_t) + n * sizeof(int));
    if (!p)
        return NULL;
    pthread_once(&G.once, init_once);
    p->n = n;
    p->refs = 1;
    p->results = (int *)(p->slots + n);
    for (size_t i = 0; i < n; i++) {
        p->slots[i] = (slot_t){p, i};
        p->results[i] = SP_ETIMEDOUT;
    }
    clock_gettime(CLOCK_MONOTONIC, &p->started);
    p->deadline = sp_clock_timespec_in(CLOCK_MONOTONIC, timeout_ms);
    return p;
}

/* Queues one packed interaction of tenant_id, keyed by its interaction id
 * (so one tenant's burst spreads over every partition; the processor
 * deduplicates by that id); 0 when queued (its callback will run). */
static int queue_packed(sp_events_producer_t *prod, const char *topic, const char *tenant_id,
                        const char *key, const char *traceparent, const void *data, size_t len,
                        slot_t *slot)
{
    Serphona__Events__V1__Event ev = SERPHONA__EVENTS__V1__EVENT__INIT;
    int rc = sp_events_event_init(&ev, TG_EVENT_INTERACTION_RECORDED, tenant_id, data, len,
                                  "application/x-protobuf");
    if (rc != 0)
        return rc;
    if (traceparent && *traceparent)
        rc = sp_events_event_set_traceparent(&ev, traceparent);
    if (rc == 0)
        rc = sp_events_publish(prod, topic, key, &ev, on_delivery, slot);
    sp_events_event_cleanup(&ev);
    return rc;
}

/* Packs and queues one interaction. */
static int queue_one(sp_events_producer_t *prod, const char *topic, const char *tenant_id,
                     const char *traceparent, const Serphona__Interactions__V1__Interaction *ix,
                     slot_t *slot)
{
    size_t len = protobuf_c_message_get_packed_size(&ix->base);
    uint8_t stackbuf[4096];
    uint8_t *buf = len <= sizeof(stackbuf) ? stackbuf : malloc(len);
    if (!buf)
        return SP_ENOMEM;
    protobuf_c_message_pack(&ix->base, buf);
    int rc = queue_packed(prod, topic, tenant_id, ix->interaction_id, traceparent, buf, len, slot);
    if (buf != stackbuf)
        free(buf);
    return rc;
}

/* Queues every message of p: packed[i] when packed is set, else ixs[i] of
 * tenant_id. */
static void queue_all(tg_publish_t *p, sp_events_producer_t *prod, const char *topic,
                      const char *tenant_id, const char *traceparent,
                      Serphona__Interactions__V1__Interaction *const *ixs,
                      const tg_packed_t *packed)
{
    for (size_t i = 0; i < p->n; i++) {
        if (!prod) {
            p->results[i] = SP_EUNAVAILABLE;
            continue;
        }
        /* Count the message before queueing: its callback may run at once. */
        pthread_mutex_lock(&G.mu);
        p->refs++;
        p->pending++;
        pthread_mutex_unlock(&G.mu);
        int rc = packed ? queue_packed(prod, topic, packed[i].tenant_id, packed[i].interaction_id,
                                       NULL, packed[i].data, packed[i].len, &p->slots[i])
                        : queue_one(prod, topic, tenant_id, traceparent, ixs[i], &p->slots[i]);
        if (rc != 0) {
            pthread_mutex_lock(&G.mu);
            p->results[i] = rc;
            p->refs--;
            if (--p->pending == 0)
                pthread_cond_broadcast(&G.cv);
            pthread_mutex_unlock(&G.mu);
        }
    }
}

static void settle_locked(tg_publish_t *p)
{
    p->state = SETTLED;
    clock_gettime(CLOCK_MONOTONIC, &p->settled_at);
    if (p->pending > 0)
        sp_log_warn("%zu of %zu interactions not acknowledged by Kafka in time", p->pending, p->n);
}

/* Queues p's messages and waits for their reports or the deadline. */
static int publish_wait(tg_publish_t *p, sp_events_producer_t *prod, const char *topic,
                        const char *tenant_id, const char *traceparent,
                        Serphona__Interactions__V1__Interaction *const *ixs,
                        const tg_packed_t *packed, int *results)
{
    queue_all(p, prod, topic, tenant_id, traceparent, ixs, packed);
    pthread_mutex_lock(&G.mu);
    while (p->pending > 0)
        if (pthread_cond_timedwait(&G.cv, &G.mu, &p->deadline) == ETIMEDOUT)
            break;
    settle_locked(p);
    int all_ok = 1;
    for (size_t i = 0; i < p->n; i++) {
        results[i] = p->results[i];
        all_ok &= results[i] == 0;
    }
    unref_locked(p);
    pthread_mutex_unlock(&G.mu);
    return all_ok ? SP_OK : SP_EUNAVAILABLE;
}

int tg_publish_batch(sp_events_producer_t *prod, const char *topic, const char *tenant_id,
                     const char *traceparent, Serphona__Interactions__V1__Interaction *const *ixs,
                     size_t n, int timeout_ms, int *results)
{
    if (n == 0)
        return SP_OK;
    tg_publish_t *p = publish_new(n, timeout_ms);
    if (!p)
        return SP_ENOMEM;
    return publish_wait(p, prod, topic, tenant_id, traceparent, ixs, NULL, results);
}

int tg_publish_packed(sp_events_producer_t *prod, const char *topic, const tg_packed_t *msgs,
                      size_t n, int timeout_ms, int *results)
{
    if (n == 0)
        return SP_OK;
    tg_publish_t *p = publish_new(n, timeout_ms);
    if (!p)
        return SP_ENOMEM;
    return publish_wait(p, prod, topic, NULL, NULL, NULL, msgs, results);
}

tg_publish_t *tg_publish_start(sp_events_producer_t *prod, const char *topic, const char *tenant_id,
                               const char *traceparent,
                               Serphona__Interactions__V1__Interaction *const *ixs, size_t n,
                               int timeout_ms, tg_publish_done_fn done, void *ud)
{
    tg_publish_t *p = publish_new(n, timeout_ms);
    if (!p)
        return NULL;
    p->done = done;
    p->ud = ud;
    pthread_mutex_lock(&G.mu);
    if (!G.running || G.stopping) {
        pthread_mutex_unlock(&G.mu);
        free(p);
        return NULL;
    }
    /* Listed before queueing, so no report can be missed; the completion
     * threads leave it alone while messages are still being queued
     * (pending counts up from 0 only after the list sees it, and the
     * extra reference below keeps it from settling early). */
    p->next = G.head;
    if (G.head)
        G.head->prev = p;
    G.head = p;
    p->listed = 1;
    p->pending++; /* the queueing itself, dropped below */
    pthread_mutex_unlock(&G.mu);
    queue_all(p, prod, topic, tenant_id, traceparent, ixs, NULL);
    pthread_mutex_lock(&G.mu);
    if (--p->pending == 0)
        pthread_cond_broadcast(&G.cv);
    pthread_mutex_unlock(&G.mu);
    return p;
}

int tg_publish_result(const tg_publish_t *p, size_t i)
{
    return i < p->n ? p->results[i] : SP_EINVAL;
}

double tg_publish_seconds(const tg_publish_t *p)
{
    return (double)(p->settled_at.tv_sec - p->started.tv_sec) +
           (double)(p->settled_at.tv_nsec - p->started.tv_nsec) / 1e9;
}

void tg_publish_free(tg_publish_t *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&G.mu);
    unref_locked(p);
    pthread_mutex_unlock(&G.mu);
}

/* The next publish to settle (all reports in, or past its deadline), taken
 * off the list; else NULL and *wake the earliest deadline. G.mu held. */
static tg_publish_t *next_due_locked(struct timespec *wake)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    *wake = now;
    wake->tv_sec += 1;
    for (tg_publish_t *p = G.head; p; p = p->next) {
        if (p->pending == 0 || !before(&now, &p->deadline)) {
            unlist_locked(p);
            settle_locked(p);
            return p;
        }
        if (before(&p->deadline, wake))
            *wake = p->deadline;
    }
    return NULL;
}

static void *completion_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&G.mu);
    while (!G.stopping) {
        struct timespec wake;
        tg_publish_t *p = next_due_locked(&wake);
        if (!p) {
            pthread_cond_timedwait(&G.cv, &G.mu, &wake);
            continue;
        }
        pthread_mutex_unlock(&G.mu);
        p->done(p, p->ud);
        pthread_mutex_lock(&G.mu);
    }
    pthread_mutex_unlock(&G.mu);
    return NULL;
}

int tg_publisher_start(int threads)
{
    pthread_once(&G.once, init_once);
    pthread_mutex_lock(&G.mu);
    int busy = G.running;
    G.running = 1;
    G.stopping = 0;
    pthread_mutex_unlock(&G.mu);
    if (busy)
        return SP_EINVAL;
    if (threads < 1)
        threads = 1;
    if (threads > MAX_THREADS)
        threads = MAX_THREADS;
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&G.threads[i], NULL, completion_main, NULL) != 0) {
            tg_publisher_stop();
            return SP_EIO;
        }
        G.n_threads++;
    }
    return SP_OK;
}

void tg_publisher_stop(void)
{
    pthread_mutex_lock(&G.mu);
    if (!G.running) {
        pthread_mutex_unlock(&G.mu);
        return;
    }
    G.stopping = 1;
    pthread_cond_broadcast(&G.cv);
    pthread_mutex_unlock(&G.mu);
    for (int i = 0; i < G.n_threads; i++)
        pthread_join(G.threads[i], NULL);
    G.n_threads = 0;
    /* Settle what is left now, so every request still gets its answer. */
    pthread_mutex_lock(&G.mu);
    while (G.head) {
        tg_publish_t *p = G.head;
        unlist_locked(p);
        settle_locked(p);
        pthread_mutex_unlock(&G.mu);
        p->done(p, p->ud);
        pthread_mutex_lock(&G.mu);
    }
    G.running = 0;
    G.stopping = 0;
    pthread_mutex_unlock(&G.mu);
}
