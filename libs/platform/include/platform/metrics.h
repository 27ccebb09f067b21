/*
 * metrics.h — counters, gauges and histograms in one process-wide registry,
 * rendered in the Prometheus text exposition format (version 0.0.4) that
 * `promtool check metrics` accepts.
 *
 * Metrics are declared next to the code they measure. Declaring is idempotent:
 * asking again for a name already registered with the same kind and labels
 * returns the same object, so a module may declare lazily from any thread.
 * Metric objects live until the process exits and are never freed by callers.
 *
 * Label values are passed as trailing const char * arguments, exactly as many
 * as label names were declared. All operations are thread-safe.
 *
 * Names follow Prometheus conventions: snake_case, prefix "serphona_",
 * counters end in "_total", durations are in seconds ("_seconds").
 */
#ifndef SP_METRICS_H
#define SP_METRICS_H

#include <stddef.h>

typedef struct sp_counter sp_counter_t;
typedef struct sp_gauge sp_gauge_t;
typedef struct sp_histogram sp_histogram_t;

/* Declares (or finds) a metric with n_labels label names given as trailing
 * const char * arguments. Returns NULL when the name is invalid, is already
 * used with another kind or other labels, or memory runs out. */
sp_counter_t *sp_counter_new(const char *name, const char *help, int n_labels, ...);
sp_gauge_t *sp_gauge_new(const char *name, const char *help, int n_labels, ...);
/* buckets: upper bounds in increasing order (+Inf is implicit); NULL with
 * n_buckets 0 selects latency defaults from 0.5 ms to 10 s. */
sp_histogram_t *sp_histogram_new(const char *name, const char *help, const double *buckets,
                                 size_t n_buckets, int n_labels, ...);

/* Updates one series, selected by the trailing label values. A NULL metric is
 * ignored, so a failed declaration never crashes the caller. Counters only
 * grow: a negative v is ignored. */
void sp_counter_add(sp_counter_t *c, double v, ...);
void sp_gauge_set(sp_gauge_t *g, double v, ...);
void sp_gauge_add(sp_gauge_t *g, double v, ...);
void sp_histogram_observe(sp_histogram_t *h, double v, ...);

/* Renders every metric. Returns a malloc'd NUL-terminated string the caller
 * frees, with its length in *len (len may be NULL); NULL when out of memory. */
char *sp_metrics_render(size_t *len);

#endif
