/*
 * backlog.c — the processor's lag, measured in the background (backlog.h).
 */
#include "backlog.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "platform/clock.h"
#include "platform/error.h"
#include "platform/events_admin.h"
#include "platform/log.h"
#include "platform/metrics.h"
#include "platform/periodic.h"

struct tg_backlog {
    sp_events_admin_t *admin; /* the measuring thread's only */
    char *topic;
    int64_t max;
    int interval_ms;
    atomic_llong value;       /* -1 = unknown */
    int64_t measured_mono_ms; /* thread only */
    sp_periodic_t *task;      /* NULL until tg_backlog_start */
};

static sp_gauge_t *backlog_gauge(void)
{
    return sp_gauge_new("serphona_ingest_backlog",
                        "Interactions published and not yet consumed by the processor's group "
                        "(consumer lag from the broker; -1 while unknown).",
                        0);
}

tg_backlog_t *tg_backlog_new(const char *brokers, const char *group, const char *topic, int64_t max,
                             int interval_ms)
{
    tg_backlog_t *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->admin = sp_events_admin_new(brokers, group);
    b->topic = topic ? strdup(topic) : NULL;
    if (!b->admin || !b->topic) {
        sp_events_admin_destroy(&b->admin);
        free(b->topic);
        free(b);
        return NULL;
    }
    b->max = max;
    b->interval_ms = interval_ms > 0 ? interval_ms : 1000;
    /* Exported beside the backlog so an alert can compare the two whatever
     * the bound is set to. */
    sp_gauge_set(sp_gauge_new("serphona_ingest_backlog_max",
                              "SERPHONA_INGEST_BACKLOG_MAX: the backlog past which ingestion "
                              "answers 503 ingestion_backlog.",
                              0),
                 (double)max);
    atomic_init(&b->value, -1);
    return b;
}

/* One measurement; a failure keeps the last value for three intervals. */
static void measure(void *ud)
{
    tg_backlog_t *b = ud;
    int64_t lag = 0;
    int64_t now = sp_clock_mono_ms();
    int rc = sp_events_admin_group_lag(b->admin, b->topic,
                                       b->interval_ms < 2000 ? 2000 : b->interval_ms, &lag, NULL);
    if (rc == 0) {
        int64_t before = atomic_exchange(&b->value, lag);
        b->measured_mono_ms = now;
        if ((before <= b->max) != (lag <= b->max))
            sp_log_warn("ingestion backlog %lld is %s the bound %lld: ingestion %s", (long long)lag,
                        lag > b->max ? "above" : "back under", (long long)b->max,
                        lag > b->max ? "answers 503 ingestion_backlog" : "accepts again");
    } else if (now - b->measured_mono_ms > 3L * b->interval_ms) {
        if (atomic_exchange(&b->value, -1) != -1)
            sp_log_warn("ingestion backlog cannot be measured (%s); not refusing for it",
                        sp_strerror(rc));
    }
    sp_gauge_set(backlog_gauge(), (double)atomic_load(&b->value));
}

int tg_backlog_start(tg_backlog_t *b)
{
    b->task = sp_periodic_start("tg-backlog", 0, b->interval_ms, measure, b);
    return b->task ? SP_OK : SP_EIO;
}

void tg_backlog_destroy(tg_backlog_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tg_backlog_t *b = *self_p;
    *self_p = NULL;
    sp_periodic_destroy(&b->task);
    sp_events_admin_destroy(&b->admin);
    free(b->topic);
    free(b);
}

int tg_backlog_over(const tg_backlog_t *b)
{
    if (!b)
        return 0;
    int64_t v = atomic_load(&((tg_backlog_t *)b)->value);
    return v > b->max;
}

int64_t tg_backlog_value(const tg_backlog_t *b)
{
    return b ? atomic_load(&((tg_backlog_t *)b)->value) : -1;
}

int64_t tg_backlog_max(const tg_backlog_t *b)
{
    return b ? b->max : INT64_MAX;
}

void tg_backlog_count_refusal(void)
{
    sp_counter_add(sp_counter_new("serphona_ingest_backlog_refused_total",
                                  "Ingestion requests answered 503 ingestion_backlog.", 0),
                   1);
}
