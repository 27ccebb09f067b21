#include "platform/metrics.h"
#include "platform/buf.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM } kind_t;

static const char *const kind_names[] = {"counter", "gauge", "histogram"};

/* The default histogram bounds cover request latencies from 0.5 ms to 10 s. */
static const double default_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                         0.1,    0.25,  0.5,    1,     2.5,  5,     10};

/* One labelled time series. For histograms, counts[i] is the number of
 * observations that fell in bucket i alone (the last one being +Inf); they are
 * made cumulative when rendered. */
typedef struct {
    char **values;
    double value; /* counter or gauge */
    double sum;
    uint64_t count;
    uint64_t counts[];
} series_t;

/* The three public types are one struct; the kind tells them apart. */
typedef struct metric {
    kind_t kind;
    char *name;
    char *help;
    int n_labels;
    char **labels;
    double *buckets;
    size_t n_buckets;
    pthread_mutex_t lock; /* guards series and their values */
    series_t **series;    /* sorted by label values, for lookup and stable output */
    size_t n_series, cap_series;
} metric_t;

struct sp_counter {
    metric_t m;
};
struct sp_gauge {
    metric_t m;
};
struct sp_histogram {
    metric_t m;
};

/* The registry, sorted by name so that rendering does not depend on the order
 * in which threads happened to declare metrics. Metrics are never freed; the
 * registry keeps them reachable until exit. */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static metric_t **g_metrics;
static size_t g_n_metrics, g_cap_metrics;

/* Prometheus metric name: [a-zA-Z_:][a-zA-Z0-9_:]* */
static int valid_metric_name(const char *s)
{
    if (!s || !*s)
        return 0;
    for (const char *p = s; *p; p++) {
        char c = *p;
        int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
        if (!alpha && !(p != s && c >= '0' && c <= '9'))
            return 0;
    }
    return 1;
}

/* Prometheus label name: [a-zA-Z_][a-zA-Z0-9_]*, names starting with "__" are
 * reserved for Prometheus itself. */
static int valid_label_name(const char *s)
{
    if (!s || !*s || strncmp(s, "__", 2) == 0)
        return 0;
    for (const char *p = s; *p; p++) {
        char c = *p;
        int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        if (!alpha && !(p != s && c >= '0' && c <= '9'))
            return 0;
    }
    return 1;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Index of name in the registry, or where it would be inserted (*found 0). */
static size_t registry_find(const char *name, int *found)
{
    size_t lo = 0, hi = g_n_metrics;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(g_metrics[mid]->name, name);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

static metric_t *registry_get(const char *name)
{
    int found;
    size_t i = registry_find(name, &found);
    return found ? g_metrics[i] : NULL;
}

/* A histogram named X also renders X_bucket, X_sum and X_count; another metric
 * by one of those names would produce an exposition Prometheus rejects. */
static int name_clashes(const char *name, kind_t kind)
{
    static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
    char buf[512];
    for (size_t i = 0; i < 3; i++) {
        if (kind == KIND_HISTOGRAM) {
            snprintf(buf, sizeof(buf), "%s%s", name, suffixes[i]);
            if (registry_get(buf))
                return 1;
        }
        if (ends_with(name, suffixes[i])) {
            size_t base = strlen(name) - strlen(suffixes[i]);
            if (base >= sizeof(buf))
                continue;
            memcpy(buf, name, base);
            buf[base] = '\0';
            metric_t *m = registry_get(buf);
            if (m && m->kind == KIND_HISTOGRAM)
                return 1;
        }
    }
    return 0;
}

static int same_shape(const metric_t *m, kind_t kind, int n_labels, const char **labels,
                      const double *buckets, size_t n_buckets)
{
    if (m->kind != kind || m->n_labels != n_labels)
        return 0;
    for (int i = 0; i < n_labels; i++)
        if (strcmp(m->labels[i], labels[i]) != 0)
            return 0;
    if (kind == KIND_HISTOGRAM) {
        if (m->n_buckets != n_buckets)
            return 0;
        for (size_t i = 0; i < n_buckets; i++)
            if (m->buckets[i] != buckets[i])
                return 0;
    }
    return 1;
}

static void metric_free(metric_t *m)
{
    if (!m)
        return;
    free(m->name);
    free(m->help);
    if (m->labels)
        for (int i = 0; i < m->n_labels; i++)
            free(m->labels[i]);
    free(m->labels);
    free(m->buckets);
    free(m);
}

static series_t *series_new(const metric_t *m, const char **values)
{
    size_t n_counts = m->kind == KIND_HISTOGRAM ? m->n_buckets + 1 : 0;
    series_t *s = calloc(1, sizeof(*s) + n_counts * sizeof(uint64_t));
    if (!s)
        return NULL;
    s->values = calloc((size_t)m->n_labels + 1, sizeof(char *));
    if (!s->values)
        goto fail;
    for (int i = 0; i < m->n_labels; i++) {
        s->values[i] = strdup(values[i] ? values[i] : "");
        if (!s->values[i])
            goto fail;
    }
    return s;
fail:
    if (s->values)
        for (int i = 0; i < m->n_labels; i++)
            free(s->values[i]);
    free(s->values);
    free(s);
    return NULL;
}

static int compare_values(int n, char *const *a, const char **b)
{
    for (int i = 0; i < n; i++) {
        int c = strcmp(a[i], b[i] ? b[i] : "");
        if (c)
            return c;
    }
    return 0;
}

/* The series for these label values, created on first use; NULL when out of
 * memory. Called with m->lock held. */
static series_t *series_get(metric_t *m, const char **values)
{
    size_t lo = 0, hi = m->n_series;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = compare_values(m->n_labels, m->series[mid]->values, values);
        if (c == 0)
            return m->series[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (m->n_series == m->cap_series) {
        size_t cap = m->cap_series ? m->cap_series * 2 : 4;
        series_t **p = realloc(m->series, cap * sizeof(series_t *));
        if (!p)
            return NULL;
        m->series = p;
        m->cap_series = cap;
    }
    series_t *s = series_new(m, values);
    if (!s)
        return NULL;
    memmove(m->series + lo + 1, m->series + lo, (m->n_series - lo) * sizeof(series_t *));
    m->series[lo] = s;
    m->n_series++;
    return s;
}

/* Declares or finds a metric; labels holds n_labels names. */
static metric_t *declare(kind_t kind, const char *name, const char *help, const double *buckets,
                         size_t n_buckets, int n_labels, const char **labels)
{
    if (!valid_metric_name(name) || n_labels < 0)
        return NULL;
    for (int i = 0; i < n_labels; i++) {
        if (!valid_label_name(labels[i]))
            return NULL;
        /* "le" carries histogram bucket bounds. */
        if (kind == KIND_HISTOGRAM && strcmp(labels[i], "le") == 0)
            return NULL;
        for (int j = 0; j < i; j++)
            if (strcmp(labels[i], labels[j]) == 0)
                return NULL;
    }
    if (kind == KIND_HISTOGRAM) {
        if (!buckets && n_buckets == 0) {
            buckets = default_buckets;
            n_buckets = sizeof(default_buckets) / sizeof(default_buckets[0]);
        }
        if (!buckets)
            return NULL;
        for (size_t i = 0; i < n_buckets; i++) {
            if (!isfinite(buckets[i]) || (i > 0 && buckets[i] <= buckets[i - 1]))
                return NULL;
        }
    } else {
        n_buckets = 0;
    }

    metric_t *result = NULL;
    pthread_mutex_lock(&g_lock);
    int found;
    size_t at = registry_find(name, &found);
    if (found) {
        metric_t *m = g_metrics[at];
        if (same_shape(m, kind, n_labels, labels, buckets, n_buckets))
            result = m;
        goto out;
    }
    if (name_clashes(name, kind))
        goto out;

    metric_t *m = calloc(1, sizeof(*m));
    if (!m)
        goto out;
    m->kind = kind;
    m->n_labels = n_labels;
    m->name = strdup(name);
    m->help = strdup(help ? help : "");
    m->labels = calloc((size_t)n_labels + 1, sizeof(char *));
    if (!m->name || !m->help || !m->labels)
        goto fail;
    for (int i = 0; i < n_labels; i++)
        if (!(m->labels[i] = strdup(labels[i])))
            goto fail;
    if (n_buckets) {
        m->buckets = malloc(n_buckets * sizeof(double));
        if (!m->buckets)
            goto fail;
        memcpy(m->buckets, buckets, n_buckets * sizeof(double));
        m->n_buckets = n_buckets;
    }
    pthread_mutex_init(&m->lock, NULL);
    /* An unlabelled metric has exactly one series; creating it now makes it
     * render as 0 before the first update, which rate() and alerts need. */
    static const char *no_values[1] = {""};
    if (n_labels == 0 && !series_get(m, no_values))
        goto fail_mutex;
    if (g_n_metrics == g_cap_metrics) {
        size_t cap = g_cap_metrics ? g_cap_metrics * 2 : 32;
        metric_t **p = realloc(g_metrics, cap * sizeof(metric_t *));
        if (!p)
            goto fail_series;
        g_metrics = p;
        g_cap_metrics = cap;
    }
    memmove(g_metrics + at + 1, g_metrics + at, (g_n_metrics - at) * sizeof(metric_t *));
    g_metrics[at] = m;
    g_n_metrics++;
    result = m;
    goto out;

fail_series:
    for (size_t i = 0; i < m->n_series; i++) {
        free(m->series[i]->values);
        free(m->series[i]);
    }
    free(m->series);
fail_mutex:
    pthread_mutex_destroy(&m->lock);
fail:
    metric_free(m);
out:
    pthread_mutex_unlock(&g_lock);
    return result;
}

/* More labels than this make a series explosion likely and are refused. */
#define MAX_LABELS 16

/* Collects the n_labels trailing label names of a declaration. */
static metric_t *declare_v(kind_t kind, const char *name, const char *help, const double *buckets,
                           size_t n_buckets, int n_labels, va_list *ap)
{
    const char *labels[MAX_LABELS] = {0};
    if (n_labels < 0 || n_labels > MAX_LABELS)
        return NULL;
    for (int i = 0; i < n_labels; i++)
        labels[i] = va_arg(*ap, const char *);
    return declare(kind, name, help, buckets, n_buckets, n_labels, labels);
}

sp_counter_t *sp_counter_new(const char *name, const char *help, int n_labels, ...)
{
    va_list ap;
    va_start(ap, n_labels);
    metric_t *m = declare_v(KIND_COUNTER, name, help, NULL, 0, n_labels, &ap);
    va_end(ap);
    return (sp_counter_t *)m;
}

sp_gauge_t *sp_gauge_new(const char *name, const char *help, int n_labels, ...)
{
    va_list ap;
    va_start(ap, n_labels);
    metric_t *m = declare_v(KIND_GAUGE, name, help, NULL, 0, n_labels, &ap);
    va_end(ap);
    return (sp_gauge_t *)m;
}

sp_histogram_t *sp_histogram_new(const char *name, const char *help, const double *buckets,
                                 size_t n_buckets, int n_labels, ...)
{
    va_list ap;
    va_start(ap, n_labels);
    metric_t *m = declare_v(KIND_HISTOGRAM, name, help, buckets, n_buckets, n_labels, &ap);
    va_end(ap);
    return (sp_histogram_t *)m;
}

/* Reads the label values of an update. A NULL value is treated as "" so a
 * caller passing an unset field still records the sample. */
static void collect_values(const metric_t *m, va_list *ap, const char **values)
{
    for (int i = 0; i < m->n_labels; i++) {
        const char *v = va_arg(*ap, const char *);
        values[i] = v ? v : "";
    }
}

typedef enum { OP_ADD, OP_SET, OP_OBSERVE } op_t;

static void update(metric_t *m, op_t op, double v, va_list *ap)
{
    const char *values[MAX_LABELS] = {0};
    collect_values(m, ap, values);
    pthread_mutex_lock(&m->lock);
    series_t *s = series_get(m, values);
    if (s) {
        switch (op) {
        case OP_ADD:
            s->value += v;
            break;
        case OP_SET:
            s->value = v;
            break;
        case OP_OBSERVE: {
            size_t b = 0;
            while (b < m->n_buckets && v > m->buckets[b])
                b++;
            s->counts[b]++;
            s->count++;
            s->sum += v;
            break;
        }
        }
    }
    pthread_mutex_unlock(&m->lock);
}

void sp_counter_add(sp_counter_t *c, double v, ...)
{
    /* !(v >= 0) also rejects NaN, which would poison the counter forever. */
    if (!c || !(v >= 0))
        return;
    va_list ap;
    va_start(ap, v);
    update(&c->m, OP_ADD, v, &ap);
    va_end(ap);
}

void sp_gauge_set(sp_gauge_t *g, double v, ...)
{
    if (!g)
        return;
    va_list ap;
    va_start(ap, v);
    update(&g->m, OP_SET, v, &ap);
    va_end(ap);
}

void sp_gauge_add(sp_gauge_t *g, double v, ...)
{
    if (!g)
        return;
    va_list ap;
    va_start(ap, v);
    update(&g->m, OP_ADD, v, &ap);
    va_end(ap);
}

void sp_histogram_observe(sp_histogram_t *h, double v, ...)
{
    /* A NaN observation fits no bucket and would make _sum NaN for good. */
    if (!h || isnan(v))
        return;
    va_list ap;
    va_start(ap, v);
    update(&h->m, OP_OBSERVE, v, &ap);
    va_end(ap);
}

/* ---- rendering ---------------------------------------------------------- */

/* Writes s escaping backslash and newline, plus double quote inside label
 * values, as the text format requires. */
static void put_escaped(sp_buf_t *b, const char *s, int quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            sp_buf_puts(b, "\\\\");
        else if (*s == '\n')
            sp_buf_puts(b, "\\n");
        else if (quote && *s == '"')
            sp_buf_puts(b, "\\\"");
        else
            sp_buf_putc(b, *s);
    }
}

/* Shortest text that reads back as the same double ("0.005", not
 * "0.0050000000000000001"); Prometheus spells infinities +Inf/-Inf. */
static void format_double(char *out, size_t cap, double v)
{
    if (isnan(v)) {
        snprintf(out, cap, "NaN");
    } else if (isinf(v)) {
        snprintf(out, cap, v > 0 ? "+Inf" : "-Inf");
    } else {
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(out, cap, "%.*g", prec, v);
            if (strtod(out, NULL) == v)
                break;
        }
    }
}

static void put_double(sp_buf_t *b, double v)
{
    char num[40];
    format_double(num, sizeof(num), v);
    sp_buf_puts(b, num);
}

static void put_u64(sp_buf_t *b, uint64_t v)
{
    sp_buf_appendf(b, "%llu", (unsigned long long)v);
}

/* name{l1="v1",l2="v2",le="x"} — le may be NULL; braces are left out when
 * there is no label at all. */
static void put_sample_name(sp_buf_t *b, const metric_t *m, const char *suffix, const series_t *s,
                            const char *le)
{
    sp_buf_puts(b, m->name);
    sp_buf_puts(b, suffix);
    if (m->n_labels == 0 && !le)
        return;
    sp_buf_puts(b, "{");
    for (int i = 0; i < m->n_labels; i++) {
        if (i)
            sp_buf_puts(b, ",");
        sp_buf_puts(b, m->labels[i]);
        sp_buf_puts(b, "=\"");
        put_escaped(b, s->values[i], 1);
        sp_buf_puts(b, "\"");
    }
    if (le) {
        if (m->n_labels)
            sp_buf_puts(b, ",");
        sp_buf_puts(b, "le=\"");
        sp_buf_puts(b, le);
        sp_buf_puts(b, "\"");
    }
    sp_buf_puts(b, "}");
}

static void render_metric(sp_buf_t *b, metric_t *m)
{
    sp_buf_puts(b, "# HELP ");
    sp_buf_puts(b, m->name);
    sp_buf_puts(b, " ");
    put_escaped(b, m->help, 0);
    sp_buf_puts(b, "\n# TYPE ");
    sp_buf_puts(b, m->name);
    sp_buf_puts(b, " ");
    sp_buf_puts(b, kind_names[m->kind]);
    sp_buf_puts(b, "\n");

    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->n_series && !sp_buf_failed(b); i++) {
        const series_t *s = m->series[i];
        if (m->kind != KIND_HISTOGRAM) {
            put_sample_name(b, m, "", s, NULL);
            sp_buf_puts(b, " ");
            put_double(b, s->value);
            sp_buf_puts(b, "\n");
            continue;
        }
        uint64_t cumulative = 0;
        for (size_t k = 0; k <= m->n_buckets; k++) {
            char le[40];
            if (k < m->n_buckets)
                format_double(le, sizeof(le), m->buckets[k]);
            else
                snprintf(le, sizeof(le), "+Inf");
            cumulative += s->counts[k];
            put_sample_name(b, m, "_bucket", s, le);
            sp_buf_puts(b, " ");
            put_u64(b, cumulative);
            sp_buf_puts(b, "\n");
        }
        put_sample_name(b, m, "_sum", s, NULL);
        sp_buf_puts(b, " ");
        put_double(b, s->sum);
        sp_buf_puts(b, "\n");
        put_sample_name(b, m, "_count", s, NULL);
        sp_buf_puts(b, " ");
        put_u64(b, s->count);
        sp_buf_puts(b, "\n");
    }
    pthread_mutex_unlock(&m->lock);
}

char *sp_metrics_render(size_t *len)
{
    sp_buf_t b;
    sp_buf_init(&b, 0);
    /* Lock order is always registry, then metric; updates take only the
     * metric lock, so they never wait on a render for long. */
    pthread_mutex_lock(&g_lock);
    for (size_t i = 0; i < g_n_metrics && !sp_buf_failed(&b); i++)
        render_metric(&b, g_metrics[i]);
    pthread_mutex_unlock(&g_lock);
    /* NULL when rendering failed; an empty registry yields "". */
    return sp_buf_take(&b, len);
}
