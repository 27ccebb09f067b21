/*
 * processor.c — consumer handler and batch flush of the analytics pipeline
 * (processor.h).
 */
#include "processor.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch.h"
#include "jobs.h"
#include "payloads.h"
#include "platform/clock.h"
#include "platform/error.h"
#include "platform/log.h"
#include "platform/metrics.h"
#include "publish.h"
#include "store.h"
#include "taxonomies.h"
#include "validate.h"

#define CONSUMER_GROUP "analytics-processor"
/* How long a tenant's taxonomy is cached: an edit applies within a minute,
 * the bound tenant.proto sets for every cached tenant-manager answer. */
#define TAXONOMY_TTL_S 60

struct ap_processor {
    sp_service_t *svc;
    ap_batch_t *batch;
    ap_jobs_t *jobs;
    ap_publisher_t *pub;
    ap_taxonomies_t *taxonomies;                          /* consumer thread only */
    const char *topic_dlq, *topic_analyses, *topic_usage; /* prefixed; owned by svc */
    int publish_timeout_ms;

    sp_counter_t *interactions, *dead_letters, *utterances, *flush_failures;
    sp_histogram_t *batch_seconds, *batch_size, *flush_seconds, *analysis_seconds;
    sp_gauge_t *last_flush;
};

/* ---- per record ------------------------------------------------------------- */

/* Puts the record into the batch as a dead letter. Returns 0 or SP_ENOMEM. */
static int dead_letter(ap_processor_t *p, const sp_events_message_t *msg, const char *reason,
                       const char *detail, int64_t now)
{
    const Serphona__Events__V1__Event *ev = msg->event;
    ap_dead_info_t d = {.reason = reason,
                        .detail = detail,
                        .topic = msg->topic,
                        .partition = msg->partition,
                        .offset = msg->offset,
                        .event_id = ev ? ev->event_id : NULL,
                        .event_type = ev ? ev->type : NULL,
                        .rejected_at_ms = now,
                        .value = msg->value,
                        .value_len = msg->value_len};

    return ap_dead_letter(p->batch, ev ? ev->tenant_id : NULL, &d);
}

/* Validates the record here, in the consumer thread, and hands the analysis
 * to the workers (jobs.h); ap_jobs_collect gathers the results at flush. */
static int on_record(const sp_events_message_t *msg, void *ud)
{
    ap_processor_t *p = ud;
    int64_t now = sp_clock_wall_ms();
    ap_verdict_t v;
    Serphona__Interactions__V1__Interaction *ix;
    const nlp_taxonomy_t *tax;

    if (ap_batch_failed(p->batch))
        return SP_ENOMEM; /* the flush before the retry resets it */
    ix = ap_validate(msg->event, now, &v);
    if (!ix)
        return dead_letter(p, msg, v.reason, v.detail, now) == SP_OK ? 0 : -1;

    /* Asked once per tenant and batch; the pin keeps it valid for the
     * workers after the cache's next answer. */
    if (!(tax = ap_jobs_pinned(p->jobs, ix->tenant_id)))
        tax =
            ap_jobs_pin(p->jobs, ix->tenant_id,
                        ap_taxonomies_get(p->taxonomies, ix->tenant_id, sp_clock_mono_ms() / 1000));
    if (!tax) {
        serphona__interactions__v1__interaction__free_unpacked(ix, NULL);
        return -1;
    }
    return ap_jobs_submit(p->jobs, msg, ix, tax, now) == SP_OK ? 0 : -1;
}

/* ---- per batch ------------------------------------------------------------------ */

static int flush_failed(ap_processor_t *p, const char *stage, int rc)
{
    sp_counter_add(p->flush_failures, 1, stage);
    sp_log_warn("processor: flush failed at %s: %s; the batch will be retried", stage,
                sp_strerror(rc));
    ap_jobs_reset(p->jobs);
    ap_batch_reset(p->batch);
    return -1;
}

static void publish_all(ap_processor_t *p, sp_events_producer_t *prod)
{
    ap_entry_t e;
    ap_dead_t d;

    for (size_t i = 0; i < ap_batch_dead_count(p->batch); i++) {
        ap_batch_dead(p->batch, i, &d);
        ap_publisher_send(p->pub, prod, p->topic_dlq, AP_EV_REJECTED, d.tenant_id, d.payload,
                          d.payload_len, NULL);
    }
    /* Also for interactions found already stored: their first run may have
     * died between the INSERT and the broker's ack (payloads.h). */
    for (size_t i = 0; i < ap_batch_count(p->batch); i++) {
        ap_batch_entry(p->batch, i, &e);
        if (e.state == AP_ENTRY_DUP_BATCH)
            continue;
        ap_publisher_send(p->pub, prod, p->topic_analyses, AP_EV_ANALYSIS_COMPLETED, e.tenant_id,
                          e.analysis, e.analysis_len, e.traceparent);
        ap_publisher_send(p->pub, prod, p->topic_usage, AP_EV_USAGE_RECORDED, e.tenant_id, e.usage,
                          e.usage_len, e.traceparent);
    }
}

static int on_flush(void *ud)
{
    ap_processor_t *p = ud;
    sp_ch_t *ch = sp_service_clickhouse(p->svc);
    sp_events_producer_t *prod = sp_service_producer(p->svc);
    size_t total, dead, dup_batch, n_new, n_utt = 0;
    int64_t t0 = sp_clock_mono_us(), t1;
    int rc;

    if (ap_batch_failed(p->batch) || ap_jobs_collect(p->jobs, p->batch) != SP_OK)
        return flush_failed(p, "memory", SP_ENOMEM);
    total = ap_batch_count(p->batch);
    dead = ap_batch_dead_count(p->batch);
    if (!ch || !prod)
        return flush_failed(p, "lookup", SP_EUNAVAILABLE);

    dup_batch = ap_batch_dedupe(p->batch);
    if ((rc = ap_store_lookup(ch, p->batch)) < 0)
        return flush_failed(p, "lookup", rc);
    n_new = ap_batch_new_count(p->batch, &n_utt);
    t1 = sp_clock_mono_us();
    if ((rc = ap_store_insert(ch, p->batch)) != SP_OK)
        return flush_failed(p, "insert", rc);
    if (n_new > 0)
        sp_histogram_observe(p->batch_seconds, sp_clock_elapsed_s(t1));

    if ((rc = ap_publisher_begin(p->pub, p->publish_timeout_ms)) != SP_OK)
        return flush_failed(p, "publish", rc);
    publish_all(p, prod);
    if ((rc = ap_publisher_wait(p->pub, p->publish_timeout_ms)) != SP_OK)
        return flush_failed(p, "publish", rc);

    for (size_t i = 0; i < dead; i++) {
        ap_dead_t d;
        ap_batch_dead(p->batch, i, &d);
        sp_counter_add(p->dead_letters, 1, d.reason);
    }
    sp_counter_add(p->interactions, (double)n_new, "analysed");
    sp_counter_add(p->interactions, (double)(total - n_new), "duplicate");
    sp_counter_add(p->interactions, (double)dead, "dead_lettered");
    sp_counter_add(p->utterances, (double)n_utt);
    sp_histogram_observe(p->batch_size, (double)(total + dead));
    sp_histogram_observe(p->flush_seconds, sp_clock_elapsed_s(t0));
    sp_gauge_set(p->last_flush, (double)sp_clock_wall_ms() / 1000.0);
    sp_log_debug("processor: flushed %zu new, %zu duplicate(s) (%zu within the batch), %zu dead "
                 "letter(s)",
                 n_new, total - n_new, dup_batch, dead);
    ap_batch_reset(p->batch);
    return 0;
}

/* ---- set-up ---------------------------------------------------------------------- */

static const double SIZE_BUCKETS[] = {1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000};

ap_processor_t *ap_processor_new(sp_service_t *svc)
{
    sp_config_t *cfg = sp_service_config(svc);
    ap_processor_t *p = calloc(1, sizeof *p);
    const char *topics[] = {SP_EVENTS_TOPIC_INTERACTIONS};

    if (!p)
        return NULL;
    p->svc = svc;
    int batch_size = sp_config_int(cfg, "SERPHONA_PROCESSOR_BATCH_SIZE", 500, 1, 100000,
                                   "Interactions per ClickHouse INSERT at most.");
    int flush_ms = sp_config_int(cfg, "SERPHONA_PROCESSOR_FLUSH_MS", 1000, 0, 600000,
                                 "Longest an accepted interaction waits for its batch's INSERT.");
    int threads = sp_config_int(cfg, "SERPHONA_PROCESSOR_THREADS", 0, 0, 64,
                                "Threads analysing interactions (0 = one per CPU).");
    if (threads == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cpus < 1 ? 1 : cpus > 64 ? 64 : (int)cpus;
    }
    p->publish_timeout_ms =
        sp_config_int(cfg, "SERPHONA_PROCESSOR_PUBLISH_TIMEOUT_MS", 15000, 100, 600000,
                      "How long a flush waits for the broker to acknowledge its events.");
    p->taxonomies = ap_taxonomies_new_service(svc, TAXONOMY_TTL_S);
    p->batch = ap_batch_new();
    p->pub = ap_publisher_new();
    p->topic_dlq = sp_service_topic(svc, SP_EVENTS_TOPIC_INTERACTIONS_DLQ);
    p->topic_analyses = sp_service_topic(svc, SP_EVENTS_TOPIC_ANALYSES);
    p->topic_usage = sp_service_topic(svc, SP_EVENTS_TOPIC_USAGE);
    if (!p->taxonomies || !p->batch || !p->pub || !p->topic_dlq || !p->topic_analyses ||
        !p->topic_usage)
        goto fail;

    p->interactions = sp_counter_new("serphona_processor_interactions_total",
                                     "Interactions consumed, by outcome.", 1, "result");
    p->dead_letters =
        sp_counter_new("serphona_processor_dead_letters_total",
                       "Records sent to the dead-letter topic, by reason.", 1, "reason");
    p->utterances = sp_counter_new("serphona_processor_utterances_total", "Utterances stored.", 0);
    p->flush_failures =
        sp_counter_new("serphona_processor_flush_failures_total",
                       "Batch flushes that failed (and were retried), by stage.", 1, "stage");
    p->batch_seconds = sp_histogram_new("serphona_processor_batch_seconds",
                                        "ClickHouse INSERT latency of one batch.", NULL, 0, 0);
    p->batch_size = sp_histogram_new("serphona_processor_batch_size", "Records per flushed batch.",
                                     SIZE_BUCKETS, sizeof SIZE_BUCKETS / sizeof SIZE_BUCKETS[0], 0);
    p->flush_seconds = sp_histogram_new(
        "serphona_processor_flush_seconds",
        "Whole flush of one batch: lookup, INSERT, events acknowledged.", NULL, 0, 0);
    p->analysis_seconds = sp_histogram_new("serphona_processor_analysis_seconds",
                                           "Analysis of one interaction.", NULL, 0, 0);
    p->last_flush = sp_gauge_new("serphona_processor_last_flush_timestamp_seconds",
                                 "When the last batch was flushed (Unix time).", 0);

    if (!(p->jobs = ap_jobs_new((size_t)threads, p->analysis_seconds)))
        goto fail;
    sp_log_info("processor: %d analysis thread(s), batches of %d", threads, batch_size);

    if (sp_service_add_batch_consumer(svc, CONSUMER_GROUP, topics, 1, on_record, on_flush,
                                      (size_t)batch_size, flush_ms, p) != SP_OK)
        goto fail;
    return p;

fail:
    sp_log_error("processor: cannot set up");
    ap_processor_destroy(&p);
    return NULL;
}

void ap_processor_destroy(ap_processor_t **self_p)
{
    ap_processor_t *p;

    if (!self_p || !(p = *self_p))
        return;
    *self_p = NULL;
    ap_jobs_destroy(&p->jobs);
    ap_batch_destroy(&p->batch);
    ap_publisher_destroy(&p->pub);
    ap_taxonomies_destroy(&p->taxonomies);
    free(p);
}
