/*
 * jobs.c — parallel analysis of a batch's interactions (jobs.h).
 */
#include "jobs.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "platform/clock.h"
#include "platform/error.h"
#include "platform/log.h"
#include "validate.h"

#define TP_MAX    64
#define SHORT_MAX 64

typedef enum { OUT_NONE = 0, OUT_ENTRY, OUT_DEAD } out_kind_t;

typedef struct {
    /* Input, written by the consumer thread before the job is queued. */
    Serphona__Interactions__V1__Interaction *ix;
    const nlp_taxonomy_t *tax;
    int64_t now_ms;
    char traceparent[TP_MAX];
    char tenant_id[SHORT_MAX]; /* as the envelope had it */
    char topic[256];
    int32_t partition;
    int64_t offset;
    char event_id[SHORT_MAX], event_type[SHORT_MAX];
    void *value; /* the record value, for a dead letter; capacity kept */
    size_t value_len, value_cap;
    /* Output, written by the worker that ran it. */
    int rc;
    out_kind_t kind;
    size_t worker, index; /* where in which worker's batch */
} job_t;

typedef struct {
    char tenant_id[SHORT_MAX];
    const nlp_taxonomy_t *tax; /* the default, or copy */
    nlp_taxonomy_t *copy;
} pin_t;

typedef struct worker {
    struct ap_jobs *js;
    size_t id;
    pthread_t thread;
    int started;
    ap_batch_t *batch; /* what this worker rendered since the last collect */
} worker_t;

struct ap_jobs {
    pthread_mutex_t mtx;
    pthread_cond_t work, idle;
    job_t **jobs; /* allocated once each and reused */
    size_t n, cap, next, done;
    int stopping;
    worker_t *workers;
    size_t n_workers;
    pin_t *pins;
    size_t n_pins, cap_pins;
    sp_histogram_t *analysis_seconds;
};

int ap_dead_letter(ap_batch_t *b, const char *tenant_id, const ap_dead_info_t *d)
{
    sp_buf_t payload;
    int rc;

    sp_log_warn("processor: dead-lettering %s[%d]@%lld: %s (%s)", d->topic, (int)d->partition,
                (long long)d->offset, d->reason, d->detail);
    sp_buf_init(&payload, 0);
    rc = ap_payload_rejected(&payload, d);
    if (rc == SP_OK)
        rc =
            ap_batch_add_dead(b, tenant_id, d->reason, sp_buf_data(&payload), sp_buf_len(&payload));
    sp_buf_cleanup(&payload);
    return rc;
}

/* Analyses job j into worker w's batch. */
static void run(ap_jobs_t *js, worker_t *w, job_t *j)
{
    sp_arena_t *arena = sp_arena_new();
    ap_record_t rec;
    int64_t t0 = sp_clock_mono_us();
    int rc;

    sp_log_set_context(NULL, j->tenant_id);
    sp_log_set_trace(j->traceparent);
    j->worker = w->id;
    if (!arena) {
        j->rc = SP_ENOMEM;
        goto done;
    }
    rc = ap_analyse(j->ix, j->tax, j->now_ms, arena, &rec);
    sp_histogram_observe(js->analysis_seconds, sp_clock_elapsed_s(t0));
    if (rc == SP_OK) {
        j->index = ap_batch_count(w->batch);
        j->kind = OUT_ENTRY;
        rc = ap_batch_add(w->batch, &rec, j->traceparent);
    } else if (rc == SP_EINVAL) {
        ap_dead_info_t d = {.reason = AP_R_ANALYSIS_FAILED,
                            .detail = "the analysis refused the texts",
                            .topic = j->topic,
                            .partition = j->partition,
                            .offset = j->offset,
                            .event_id = j->event_id,
                            .event_type = j->event_type,
                            .rejected_at_ms = j->now_ms,
                            .value = j->value,
                            .value_len = j->value_len};
        j->index = ap_batch_dead_count(w->batch);
        j->kind = OUT_DEAD;
        rc = ap_dead_letter(w->batch, j->tenant_id, &d);
    }
    j->rc = rc;
    sp_arena_destroy(&arena);
done:
    serphona__interactions__v1__interaction__free_unpacked(j->ix, NULL);
    j->ix = NULL;
    sp_log_clear_context();
}

/* Runs queued jobs in w until none is left; with js->mtx held on entry and
 * on return. */
static void run_queued(ap_jobs_t *js, worker_t *w)
{
    while (js->next < js->n) {
        job_t *j = js->jobs[js->next++];
        pthread_mutex_unlock(&js->mtx);
        run(js, w, j);
        pthread_mutex_lock(&js->mtx);
        if (++js->done == js->n)
            pthread_cond_broadcast(&js->idle);
    }
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    ap_jobs_t *js = w->js;

    pthread_mutex_lock(&js->mtx);
    for (;;) {
        while (!js->stopping && js->next >= js->n)
            pthread_cond_wait(&js->work, &js->mtx);
        if (js->next >= js->n) /* stopping, and nothing left */
            break;
        run_queued(js, w);
    }
    pthread_mutex_unlock(&js->mtx);
    return NULL;
}

ap_jobs_t *ap_jobs_new(size_t n_threads, sp_histogram_t *analysis_seconds)
{
    ap_jobs_t *js = calloc(1, sizeof *js);

    if (!js || n_threads == 0)
        goto fail_alloc;
    pthread_mutex_init(&js->mtx, NULL);
    pthread_cond_init(&js->work, NULL);
    pthread_cond_init(&js->idle, NULL);
    js->analysis_seconds = analysis_seconds;
    /* The last slot is the consumer thread's: it analyses too while it
     * waits at collect, instead of idling. */
    if (!(js->workers = calloc(n_threads + 1, sizeof *js->workers)))
        goto fail;
    js->n_workers = n_threads + 1;
    for (size_t i = 0; i <= n_threads; i++) {
        worker_t *w = &js->workers[i];
        w->js = js;
        w->id = i;
        if (!(w->batch = ap_batch_new()))
            goto fail;
        if (i == n_threads)
            break;
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            sp_log_error("processor: cannot start analysis thread %zu", i + 1);
            goto fail;
        }
        w->started = 1;
    }
    return js;

fail:
    ap_jobs_destroy(&js);
    return NULL;
fail_alloc:
    free(js);
    return NULL;
}

static void unpin_all(ap_jobs_t *js)
{
    for (size_t i = 0; i < js->n_pins; i++)
        nlp_taxonomy_destroy(&js->pins[i].copy);
    js->n_pins = 0;
}

/* Waits until every queued job has run; returns with js->mtx not held. */
static void wait_idle(ap_jobs_t *js)
{
    pthread_mutex_lock(&js->mtx);
    while (js->done < js->n)
        pthread_cond_wait(&js->idle, &js->mtx);
    pthread_mutex_unlock(&js->mtx);
}

void ap_jobs_destroy(ap_jobs_t **self_p)
{
    ap_jobs_t *js;

    if (!self_p || !(js = *self_p))
        return;
    *self_p = NULL;
    ap_jobs_reset(js);
    pthread_mutex_lock(&js->mtx);
    js->stopping = 1;
    pthread_cond_broadcast(&js->work);
    pthread_mutex_unlock(&js->mtx);
    for (size_t i = 0; i < js->n_workers; i++) {
        if (js->workers[i].started)
            pthread_join(js->workers[i].thread, NULL);
        ap_batch_destroy(&js->workers[i].batch);
    }
    free(js->workers);
    for (size_t i = 0; i < js->cap; i++) {
        if (js->jobs[i])
            free(js->jobs[i]->value);
        free(js->jobs[i]);
    }
    free(js->jobs);
    unpin_all(js);
    free(js->pins);
    pthread_cond_destroy(&js->idle);
    pthread_cond_destroy(&js->work);
    pthread_mutex_destroy(&js->mtx);
    free(js);
}

const nlp_taxonomy_t *ap_jobs_pinned(const ap_jobs_t *js, const char *tenant_id)
{
    for (size_t i = 0; i < js->n_pins; i++)
        if (!strcmp(js->pins[i].tenant_id, tenant_id))
            return js->pins[i].tax;
    return NULL;
}

/* A copy of tax through its JSON form (libnlp has no other copy). */
static nlp_taxonomy_t *copy_taxonomy(const nlp_taxonomy_t *tax)
{
    nlp_taxonomy_t *copy = NULL;
    char *json = nlp_taxonomy_to_json(tax);

    if (json && nlp_taxonomy_from_json(json, strlen(json), &copy, NULL, 0) != SP_OK)
        copy = NULL;
    free(json);
    return copy;
}

const nlp_taxonomy_t *ap_jobs_pin(ap_jobs_t *js, const char *tenant_id, const nlp_taxonomy_t *tax)
{
    const nlp_taxonomy_t *pinned = ap_jobs_pinned(js, tenant_id);
    pin_t *pin;

    if (pinned)
        return pinned;
    if (!tax || strlen(tenant_id) >= SHORT_MAX)
        return tax; /* not a UUID: validation refused it already */
    if (js->n_pins == js->cap_pins) {
        size_t ncap = js->cap_pins ? js->cap_pins * 2 : 16;
        pin_t *grown = realloc(js->pins, ncap * sizeof *grown);
        if (!grown)
            return NULL;
        js->pins = grown;
        js->cap_pins = ncap;
    }
    pin = &js->pins[js->n_pins];
    memset(pin, 0, sizeof *pin);
    snprintf(pin->tenant_id, sizeof pin->tenant_id, "%s", tenant_id);
    if (tax == nlp_taxonomy_default()) {
        pin->tax = tax;
    } else {
        if (!(pin->copy = copy_taxonomy(tax)))
            return NULL;
        pin->tax = pin->copy;
    }
    js->n_pins++;
    return pin->tax;
}

/* A job slot for the next submission; NULL when out of memory. Workers only
 * read js->jobs under the mutex, so growing it takes the mutex. */
static job_t *next_slot(ap_jobs_t *js)
{
    if (js->n == js->cap) {
        size_t ncap = js->cap ? js->cap * 2 : 64;
        pthread_mutex_lock(&js->mtx);
        job_t **grown = realloc(js->jobs, ncap * sizeof(job_t *));
        if (grown) {
            memset(grown + js->cap, 0, (ncap - js->cap) * sizeof(job_t *));
            js->jobs = grown;
            js->cap = ncap;
        }
        pthread_mutex_unlock(&js->mtx);
        if (!grown)
            return NULL;
    }
    if (!js->jobs[js->n] && !(js->jobs[js->n] = calloc(1, sizeof(job_t))))
        return NULL;
    return js->jobs[js->n];
}

static void copy_str(char *dst, size_t size, const char *s)
{
    snprintf(dst, size, "%s", s ? s : "");
}

int ap_jobs_submit(ap_jobs_t *js, const sp_events_message_t *msg,
                   Serphona__Interactions__V1__Interaction *ix, const nlp_taxonomy_t *tax,
                   int64_t now_ms)
{
    const Serphona__Events__V1__Event *ev = msg->event;
    job_t *j = next_slot(js);

    if (j && msg->value_len > j->value_cap) {
        void *grown = realloc(j->value, msg->value_len);
        if (grown) {
            j->value = grown;
            j->value_cap = msg->value_len;
        } else {
            j = NULL;
        }
    }
    if (!j) {
        serphona__interactions__v1__interaction__free_unpacked(ix, NULL);
        return SP_ENOMEM;
    }
    j->ix = ix;
    j->tax = tax;
    j->now_ms = now_ms;
    copy_str(j->traceparent, sizeof j->traceparent,
             ev->traceparent && strlen(ev->traceparent) < TP_MAX ? ev->traceparent : "");
    copy_str(j->tenant_id, sizeof j->tenant_id, ev->tenant_id);
    copy_str(j->topic, sizeof j->topic, msg->topic);
    j->partition = msg->partition;
    j->offset = msg->offset;
    copy_str(j->event_id, sizeof j->event_id, ev->event_id);
    copy_str(j->event_type, sizeof j->event_type, ev->type);
    if (msg->value_len)
        memcpy(j->value, msg->value, msg->value_len);
    j->value_len = msg->value_len;
    j->rc = SP_OK;
    j->kind = OUT_NONE;

    pthread_mutex_lock(&js->mtx);
    js->n++;
    pthread_cond_signal(&js->work);
    pthread_mutex_unlock(&js->mtx);
    return SP_OK;
}

size_t ap_jobs_count(const ap_jobs_t *js)
{
    return js->n;
}

/* Forgets the collected jobs; the workers are idle (wait_idle). */
static void clear(ap_jobs_t *js)
{
    pthread_mutex_lock(&js->mtx);
    js->n = js->next = js->done = 0;
    pthread_mutex_unlock(&js->mtx);
    for (size_t i = 0; i < js->n_workers; i++)
        ap_batch_reset(js->workers[i].batch);
    unpin_all(js);
}

int ap_jobs_collect(ap_jobs_t *js, ap_batch_t *batch)
{
    int rc = SP_OK;

    pthread_mutex_lock(&js->mtx);
    run_queued(js, &js->workers[js->n_workers - 1]);
    pthread_mutex_unlock(&js->mtx);
    wait_idle(js);
    for (size_t i = 0; i < js->n && rc == SP_OK; i++) {
        const job_t *j = js->jobs[i];
        const ap_batch_t *from = js->workers[j->worker].batch;
        if (j->rc != SP_OK)
            rc = j->rc;
        else if (j->kind == OUT_ENTRY)
            rc = ap_batch_add_entry_of(batch, from, j->index);
        else if (j->kind == OUT_DEAD)
            rc = ap_batch_add_dead_of(batch, from, j->index);
    }
    clear(js);
    return rc;
}

void ap_jobs_reset(ap_jobs_t *js)
{
    wait_idle(js);
    clear(js);
}
