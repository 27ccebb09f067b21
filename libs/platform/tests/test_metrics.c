/* Unit tests for metrics.c: declaration rules, values of each kind, the text
 * exposition (checked by promtool itself), and exact totals under threads.
 *
 * The registry is process-wide, so every test uses metric names of its own,
 * and every metric that gets registered is lint-clean for promtool. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "platform/metrics.h"

static char *render(void)
{
    size_t len = 12345;
    char *text = sp_metrics_render(&len);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    return text;
}

/* Non-zero when the rendering holds exactly this line. */
static int has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++) {
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return 1;
    }
    return 0;
}

static void assert_line(const char *text, const char *line)
{
    if (!has_line(text, line))
        fail_msg("missing line: %s\n--- rendering ---\n%s", line, text);
}

static void test_declare_idempotent_and_conflicts(void **state)
{
    sp_counter_t *c = sp_counter_new("serphona_test_decl_total", "Declared.", 2, "a", "b");
    assert_non_null(c);
    assert_ptr_equal(sp_counter_new("serphona_test_decl_total", "Other help.", 2, "a", "b"), c);
    /* Same name with another kind or other labels is refused. */
    assert_null(sp_gauge_new("serphona_test_decl_total", "x", 2, "a", "b"));
    assert_null(sp_histogram_new("serphona_test_decl_total", "x", NULL, 0, 2, "a", "b"));
    assert_null(sp_counter_new("serphona_test_decl_total", "x", 1, "a"));
    assert_null(sp_counter_new("serphona_test_decl_total", "x", 2, "b", "a"));
    assert_null(sp_counter_new("serphona_test_decl_total", "x", 0));

    sp_gauge_t *g = sp_gauge_new("serphona_test_decl_items", "A gauge.", 0);
    assert_non_null(g);
    assert_ptr_equal(sp_gauge_new("serphona_test_decl_items", "A gauge.", 0), g);

    const double b1[] = {0.1, 1};
    const double b2[] = {0.1, 2};
    sp_histogram_t *h = sp_histogram_new("serphona_test_decl_seconds", "H.", b1, 2, 1, "x");
    assert_non_null(h);
    assert_ptr_equal(sp_histogram_new("serphona_test_decl_seconds", "H.", b1, 2, 1, "x"), h);
    assert_null(sp_histogram_new("serphona_test_decl_seconds", "H.", b2, 2, 1, "x"));
    assert_null(sp_histogram_new("serphona_test_decl_seconds", "H.", NULL, 0, 1, "x"));

    /* Names a histogram renders must not be taken by another metric, and the
     * other way round. */
    assert_null(sp_counter_new("serphona_test_decl_seconds_count", "x", 0));
    assert_null(sp_gauge_new("serphona_test_decl_seconds_bucket", "x", 0));
    assert_null(sp_gauge_new("serphona_test_decl_seconds_sum", "x", 0));

    /* A gauge named X_sum is not lint-clean, so this runs in a child process
     * to keep it out of the registry that promtool checks below. */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int ok = sp_gauge_new("serphona_test_clash_sum", "A gauge named _sum.", 0) != NULL &&
                 sp_histogram_new("serphona_test_clash", "x", NULL, 0, 0) == NULL &&
                 sp_histogram_new("serphona_test_clash2", "x", NULL, 0, 0) != NULL;
        _exit(ok ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_invalid_names(void **state)
{
    assert_null(sp_counter_new(NULL, "x", 0));
    assert_null(sp_counter_new("", "x", 0));
    assert_null(sp_counter_new("1serphona_total", "x", 0));
    assert_null(sp_counter_new("serphona-test_total", "x", 0));
    assert_null(sp_counter_new("serphona test_total", "x", 0));
    assert_null(sp_counter_new("serphona_tést_total", "x", 0));
    assert_null(sp_counter_new("serphona_test_labels_total", "x", 1, "__reserved"));
    assert_null(sp_counter_new("serphona_test_labels_total", "x", 1, "1abc"));
    assert_null(sp_counter_new("serphona_test_labels_total", "x", 1, "a-b"));
    assert_null(sp_counter_new("serphona_test_labels_total", "x", 1, "a:b"));
    assert_null(sp_counter_new("serphona_test_labels_total", "x", 1, ""));
    assert_null(sp_counter_new("serphona_test_labels_total", "x", 1, (const char *)NULL));
    assert_null(sp_counter_new("serphona_test_labels_total", "x", 2, "a", "a"));
    assert_null(sp_counter_new("serphona_test_labels_total", "x", -1));
    assert_null(sp_histogram_new("serphona_test_le_seconds", "x", NULL, 0, 1, "le"));
    const double unsorted[] = {1, 0.5};
    const double dup[] = {1, 1};
    const double inf[] = {1, INFINITY};
    assert_null(sp_histogram_new("serphona_test_bad_buckets_seconds", "x", unsorted, 2, 0));
    assert_null(sp_histogram_new("serphona_test_bad_buckets_seconds", "x", dup, 2, 0));
    assert_null(sp_histogram_new("serphona_test_bad_buckets_seconds", "x", inf, 2, 0));
    assert_null(sp_histogram_new("serphona_test_bad_buckets_seconds", "x", NULL, 3, 0));

    /* None of the refused declarations left anything behind. */
    char *text = render();
    assert_null(strstr(text, "serphona_test_labels_total"));
    assert_null(strstr(text, "serphona_test_le_seconds"));
    assert_null(strstr(text, "serphona_test_bad_buckets_seconds"));
    free(text);

    /* Colons and digits are valid after the first character. */
    assert_non_null(sp_counter_new("serphona:test_colon2_total", "Colon name.", 1, "l_2"));
    /* NULL metrics are ignored by every update. */
    sp_counter_add(NULL, 1);
    sp_gauge_set(NULL, 1);
    sp_gauge_add(NULL, 1);
    sp_histogram_observe(NULL, 1);
}

static void test_counter_and_gauge_values(void **state)
{
    sp_counter_t *c = sp_counter_new("serphona_test_requests_total", "Requests served.", 0);
    sp_counter_t *lc =
        sp_counter_new("serphona_test_by_route_total", "Requests by route.", 2, "method", "route");
    sp_gauge_t *g = sp_gauge_new("serphona_test_queue_depth", "Items queued.", 1, "queue");
    assert_non_null(c);
    assert_non_null(lc);
    assert_non_null(g);

    char *text = render();
    /* An unlabelled metric shows 0 before its first update; a labelled one
     * shows no series until one is used. */
    assert_line(text, "serphona_test_requests_total 0");
    assert_line(text, "# TYPE serphona_test_by_route_total counter");
    assert_null(strstr(text, "serphona_test_by_route_total{"));
    free(text);

    sp_counter_add(c, 1);
    sp_counter_add(c, 2.5);
    sp_counter_add(c, -7);  /* ignored: counters only grow */
    sp_counter_add(c, NAN); /* ignored */
    sp_counter_add(lc, 1, "GET", "/v1/users");
    sp_counter_add(lc, 1, "GET", "/v1/users");
    sp_counter_add(lc, 1, "POST", "/v1/users");
    sp_counter_add(lc, 1, "GET", (const char *)NULL); /* NULL value reads as "" */
    sp_gauge_set(g, 5, "in");
    sp_gauge_add(g, -2, "in");
    sp_gauge_add(g, -1.5, "out");
    sp_gauge_set(g, 1e300, "big");

    text = render();
    assert_line(text, "# HELP serphona_test_requests_total Requests served.");
    assert_line(text, "# TYPE serphona_test_requests_total counter");
    assert_line(text, "serphona_test_requests_total 3.5");
    assert_line(text, "serphona_test_by_route_total{method=\"GET\",route=\"/v1/users\"} 2");
    assert_line(text, "serphona_test_by_route_total{method=\"POST\",route=\"/v1/users\"} 1");
    assert_line(text, "serphona_test_by_route_total{method=\"GET\",route=\"\"} 1");
    assert_line(text, "# TYPE serphona_test_queue_depth gauge");
    assert_line(text, "serphona_test_queue_depth{queue=\"in\"} 3");
    assert_line(text, "serphona_test_queue_depth{queue=\"out\"} -1.5");
    assert_line(text, "serphona_test_queue_depth{queue=\"big\"} 1e+300");
    free(text);
}

static void test_escaping(void **state)
{
    sp_counter_t *c = sp_counter_new("serphona_test_escape_total",
                                     "Help with a back\\slash\nand a newline.", 1, "v");
    assert_non_null(c);
    sp_counter_add(c, 1, "a\\b\"c\nd");
    char *text = render();
    assert_line(text, "# HELP serphona_test_escape_total Help with a back\\\\slash\\nand a "
                      "newline.");
    assert_line(text, "serphona_test_escape_total{v=\"a\\\\b\\\"c\\nd\"} 1");
    free(text);
}

static void test_histogram(void **state)
{
    const double b[] = {0.1, 0.5, 1};
    sp_histogram_t *h =
        sp_histogram_new("serphona_test_latency_seconds", "Latency.", b, 3, 1, "op");
    assert_non_null(h);
    sp_histogram_observe(h, 0.05, "read");
    sp_histogram_observe(h, 0.1, "read"); /* a bound is inclusive: le="0.1" */
    sp_histogram_observe(h, 0.3, "read");
    sp_histogram_observe(h, 2, "read");
    sp_histogram_observe(h, NAN, "read"); /* ignored */
    sp_histogram_observe(h, 0.7, "write");

    char *text = render();
    assert_line(text, "# TYPE serphona_test_latency_seconds histogram");
    assert_line(text, "serphona_test_latency_seconds_bucket{op=\"read\",le=\"0.1\"} 2");
    assert_line(text, "serphona_test_latency_seconds_bucket{op=\"read\",le=\"0.5\"} 3");
    assert_line(text, "serphona_test_latency_seconds_bucket{op=\"read\",le=\"1\"} 3");
    assert_line(text, "serphona_test_latency_seconds_bucket{op=\"read\",le=\"+Inf\"} 4");
    assert_line(text, "serphona_test_latency_seconds_sum{op=\"read\"} 2.45");
    assert_line(text, "serphona_test_latency_seconds_count{op=\"read\"} 4");
    assert_line(text, "serphona_test_latency_seconds_bucket{op=\"write\",le=\"0.5\"} 0");
    assert_line(text, "serphona_test_latency_seconds_bucket{op=\"write\",le=\"1\"} 1");
    assert_line(text, "serphona_test_latency_seconds_count{op=\"write\"} 1");
    /* Buckets come in increasing order, +Inf last, then _sum and _count. */
    const char *p1 = strstr(text, "{op=\"read\",le=\"0.1\"}");
    const char *p2 = strstr(text, "{op=\"read\",le=\"0.5\"}");
    const char *p3 = strstr(text, "{op=\"read\",le=\"+Inf\"}");
    const char *p4 = strstr(text, "serphona_test_latency_seconds_sum{op=\"read\"}");
    const char *p5 = strstr(text, "serphona_test_latency_seconds_count{op=\"read\"}");
    assert_true(p1 && p1 < p2 && p2 < p3 && p3 < p4 && p4 < p5);
    free(text);

    /* Default buckets: 0.5 ms to 10 s, shortest decimal spelling. */
    sp_histogram_t *d = sp_histogram_new("serphona_test_default_seconds", "Defaults.", NULL, 0, 0);
    assert_non_null(d);
    sp_histogram_observe(d, 0.003);
    text = render();
    assert_line(text, "serphona_test_default_seconds_bucket{le=\"0.0005\"} 0");
    assert_line(text, "serphona_test_default_seconds_bucket{le=\"0.0025\"} 0");
    assert_line(text, "serphona_test_default_seconds_bucket{le=\"0.005\"} 1");
    assert_line(text, "serphona_test_default_seconds_bucket{le=\"10\"} 1");
    assert_line(text, "serphona_test_default_seconds_bucket{le=\"+Inf\"} 1");
    assert_line(text, "serphona_test_default_seconds_sum 0.003");
    assert_line(text, "serphona_test_default_seconds_count 1");
    free(text);
}

static void test_render_order_stable(void **state)
{
    /* Declared out of order; rendered sorted by name, series sorted by
     * label values, and identical from one rendering to the next. */
    sp_gauge_t *z = sp_gauge_new("serphona_test_order_z", "Z.", 1, "k");
    sp_gauge_t *a = sp_gauge_new("serphona_test_order_a", "A.", 0);
    assert_non_null(z);
    assert_non_null(a);
    sp_gauge_set(z, 1, "b");
    sp_gauge_set(z, 2, "a");
    char *t1 = render();
    char *t2 = render();
    assert_string_equal(t1, t2);
    const char *pa = strstr(t1, "# HELP serphona_test_order_a ");
    const char *pz = strstr(t1, "# HELP serphona_test_order_z ");
    assert_true(pa && pz && pa < pz);
    const char *sa = strstr(t1, "serphona_test_order_z{k=\"a\"} 2");
    const char *sb = strstr(t1, "serphona_test_order_z{k=\"b\"} 1");
    assert_true(sa && sb && sa < sb);
    /* Each metric's HELP and TYPE come right before its samples. */
    assert_non_null(strstr(t1, "# HELP serphona_test_order_z Z.\n# TYPE serphona_test_order_z "
                               "gauge\nserphona_test_order_z{k=\"a\"} 2\n"));
    free(t1);
    free(t2);
}

static void test_promtool_accepts_rendering(void **state)
{
    /* Make sure every kind with labels, escapes and special values is in the
     * registry, whatever ran before. */
    sp_counter_t *c =
        sp_counter_new("serphona_test_promtool_events_total", "Events seen.", 2, "kind", "tenant");
    sp_gauge_t *g = sp_gauge_new("serphona_test_promtool_temperature_celsius", "Temp.", 0);
    sp_histogram_t *h = sp_histogram_new("serphona_test_promtool_duration_seconds", "Durations.",
                                         NULL, 0, 1, "route");
    assert_non_null(c);
    assert_non_null(g);
    assert_non_null(h);
    sp_counter_add(c, 3, "odd \"quoted\" \\ value\nnext", "t1");
    sp_gauge_set(g, -INFINITY);
    sp_histogram_observe(h, 0.2, "/v1/x");

    char *text = render();
    char path[] = "/tmp/sp_test_metrics_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "promtool check metrics < %s", path);
    int status = system(cmd);
    unlink(path);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("promtool check metrics failed (status %d) on:\n%s", status, text);
    free(text);
}

#define THREADS    4
#define PER_THREAD 100000

static sp_counter_t *shared_counter;
static int declare_mismatch; /* cmocka asserts only work on the main thread */

static void *hammer(void *arg)
{
    long id = (long)(intptr_t)arg;
    /* Declaring from several threads at once yields one metric. */
    sp_counter_t *c = sp_counter_new("serphona_test_threads_total", "Concurrent adds.", 0);
    if (c != shared_counter)
        __atomic_store_n(&declare_mismatch, 1, __ATOMIC_SEQ_CST);
    sp_counter_t *lc =
        sp_counter_new("serphona_test_threads_labelled_total", "Labelled.", 1, "shard");
    sp_histogram_t *h = sp_histogram_new("serphona_test_threads_seconds", "Obs.", NULL, 0, 0);
    char shard[8];
    for (int i = 0; i < PER_THREAD; i++) {
        sp_counter_add(c, 1);
        snprintf(shard, sizeof(shard), "s%d", i % 3);
        sp_counter_add(lc, 1, shard);
        if (i % 10 == 0)
            sp_histogram_observe(h, 0.001);
        if (id == 0 && i % 20000 == 0)
            free(sp_metrics_render(NULL)); /* renders while others write */
    }
    return NULL;
}

static void test_threads_exact_totals(void **state)
{
    shared_counter = sp_counter_new("serphona_test_threads_total", "Concurrent adds.", 0);
    assert_non_null(shared_counter);
    pthread_t th[THREADS];
    for (long i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, hammer, (void *)(intptr_t)i), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(declare_mismatch, 0);

    char *text = render();
    assert_line(text, "serphona_test_threads_total 400000");
    /* i % 3 over 0..99999 gives 33334, 33333, 33333 per thread. */
    assert_line(text, "serphona_test_threads_labelled_total{shard=\"s0\"} 133336");
    assert_line(text, "serphona_test_threads_labelled_total{shard=\"s1\"} 133332");
    assert_line(text, "serphona_test_threads_labelled_total{shard=\"s2\"} 133332");
    assert_line(text, "serphona_test_threads_seconds_count 40000");
    assert_line(text, "serphona_test_threads_seconds_bucket{le=\"0.001\"} 40000");
    assert_line(text, "serphona_test_threads_seconds_bucket{le=\"0.0005\"} 0");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_declare_idempotent_and_conflicts),
        cmocka_unit_test(test_invalid_names),
        cmocka_unit_test(test_counter_and_gauge_values),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_render_order_stable),
        cmocka_unit_test(test_threads_exact_totals),
        cmocka_unit_test(test_promtool_accepts_rendering),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
