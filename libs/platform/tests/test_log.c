/* Unit tests for log.c: every line is one JSON object with the documented
 * fields, levels filter, messages are escaped into valid JSON whatever they
 * hold, the per-thread context appears only when set, and concurrent lines
 * never interleave. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "platform/error.h"
#include "platform/log.h"

static FILE *out;

static int setup(void **state)
{
    out = tmpfile();
    assert_non_null(out);
    sp_log_init("test-svc", SP_LOG_DEBUG);
    sp_log_set_output(out);
    sp_log_clear_context();
    return 0;
}

static int teardown(void **state)
{
    sp_log_set_output(NULL);
    sp_log_clear_context();
    fclose(out);
    out = NULL;
    return 0;
}

/* Every line written so far, parsed; asserts each is a JSON object. The
 * caller frees with free_lines. */
static cJSON **read_lines(size_t *n)
{
    fflush(out);
    rewind(out);
    cJSON **lines = NULL;
    size_t count = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, out)) > 0) {
        assert_int_equal(line[len - 1], '\n');
        assert_null(memchr(line, '\n', (size_t)len - 1));
        cJSON *obj = cJSON_Parse(line);
        if (!obj)
            fail_msg("not JSON: %s", line);
        assert_true(cJSON_IsObject(obj));
        cJSON **grown = realloc(lines, (count + 1) * sizeof(cJSON *));
        assert_non_null(grown);
        lines = grown;
        lines[count++] = obj;
    }
    free(line);
    *n = count;
    return lines;
}

static void free_lines(cJSON **lines, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cJSON_Delete(lines[i]);
    free(lines);
}

static const char *field(cJSON *obj, const char *name)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, name));
}

static void test_line_shape(void **state)
{
    time_t before = time(NULL);
    sp_log_info("hello %d", 42);
    size_t n;
    cJSON **lines = read_lines(&n);
    assert_int_equal(n, 1);
    assert_string_equal(field(lines[0], "level"), "info");
    assert_string_equal(field(lines[0], "service"), "test-svc");
    assert_string_equal(field(lines[0], "msg"), "hello 42");
    assert_null(cJSON_GetObjectItem(lines[0], "request_id"));
    assert_null(cJSON_GetObjectItem(lines[0], "tenant_id"));

    /* ts: UTC ISO-8601 with milliseconds, e.g. 2026-11-22T15:20:01.123Z */
    const char *ts = field(lines[0], "ts");
    assert_non_null(ts);
    assert_int_equal(strlen(ts), 24);
    struct tm tm = {0};
    const char *rest = strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm);
    assert_non_null(rest);
    assert_true(rest[0] == '.' && rest[1] >= '0' && rest[1] <= '9' && rest[3] <= '9' &&
                rest[4] == 'Z');
    time_t t = timegm(&tm);
    assert_true(t >= before - 1 && t <= time(NULL) + 1);
    free_lines(lines, n);
}

static void test_levels_filter(void **state)
{
    sp_log_init("test-svc", SP_LOG_WARN);
    assert_false(sp_log_enabled(SP_LOG_DEBUG));
    assert_false(sp_log_enabled(SP_LOG_INFO));
    assert_true(sp_log_enabled(SP_LOG_WARN));
    assert_true(sp_log_enabled(SP_LOG_ERROR));
    sp_log_debug("d");
    sp_log_info("i");
    sp_log_write(SP_LOG_INFO, "direct info"); /* checked inside too */
    sp_log_warn("w");
    sp_log_error("e");
    size_t n;
    cJSON **lines = read_lines(&n);
    assert_int_equal(n, 2);
    assert_string_equal(field(lines[0], "level"), "warn");
    assert_string_equal(field(lines[0], "msg"), "w");
    assert_string_equal(field(lines[1], "level"), "error");
    assert_string_equal(field(lines[1], "msg"), "e");
    free_lines(lines, n);

    sp_log_init("test-svc", SP_LOG_DEBUG);
    assert_true(sp_log_enabled(SP_LOG_DEBUG));
}

static void test_level_parse(void **state)
{
    sp_log_level_t l = SP_LOG_ERROR;
    assert_int_equal(sp_log_level_parse("debug", &l), 0);
    assert_int_equal(l, SP_LOG_DEBUG);
    assert_int_equal(sp_log_level_parse("info", &l), 0);
    assert_int_equal(l, SP_LOG_INFO);
    assert_int_equal(sp_log_level_parse("warn", &l), 0);
    assert_int_equal(l, SP_LOG_WARN);
    assert_int_equal(sp_log_level_parse("error", &l), 0);
    assert_int_equal(l, SP_LOG_ERROR);
    assert_int_equal(sp_log_level_parse("verbose", &l), SP_EINVAL);
    assert_int_equal(sp_log_level_parse("", &l), SP_EINVAL);
    assert_int_equal(sp_log_level_parse(NULL, &l), SP_EINVAL);
    assert_int_equal(l, SP_LOG_ERROR);
}

static void test_escaping(void **state)
{
    /* Quotes, backslashes, control characters, valid multi-byte UTF-8, and
     * bytes that are not UTF-8 (stray continuation, truncated sequence,
     * overlong form, surrogate, out-of-range lead byte). */
    const char *in = "q\"b\\n\nt\tc\x01\x1f "
                     "\xe2\x82\xac\xf0\x9f\x98\x80 "
                     "\x80|\xe2\x82|\xc0\xaf|\xed\xa0\x80|\xf5\x80\x80\x80|\xff";
    const char *want = "q\"b\\n\nt\tc\x01\x1f "
                       "\xe2\x82\xac\xf0\x9f\x98\x80 "
                       "\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd|"
                       "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|"
                       "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd";
    sp_log_info("%s", in);
    size_t n;
    cJSON **lines = read_lines(&n);
    assert_int_equal(n, 1);
    assert_string_equal(field(lines[0], "msg"), want);
    free_lines(lines, n);

    /* Control characters are escaped, never written raw. */
    rewind(out);
    char raw[512];
    assert_non_null(fgets(raw, sizeof(raw), out));
    assert_non_null(strstr(raw, "\\u0001"));
    assert_non_null(strstr(raw, "\\u001f"));
    assert_non_null(strstr(raw, "\\t"));
    for (const char *p = raw; *p && *p != '\n'; p++)
        assert_true((unsigned char)*p >= 0x20);
}

static void test_service_escaped(void **state)
{
    sp_log_init("we\"ird\n", SP_LOG_DEBUG);
    sp_log_info("x");
    size_t n;
    cJSON **lines = read_lines(&n);
    assert_int_equal(n, 1);
    assert_string_equal(field(lines[0], "service"), "we\"ird\n");
    free_lines(lines, n);
    sp_log_init("test-svc", SP_LOG_DEBUG);
}

static void test_long_message(void **state)
{
    size_t len = 10000;
    char *big = malloc(len + 1);
    assert_non_null(big);
    for (size_t i = 0; i < len; i++)
        big[i] = (char)('a' + i % 26);
    big[len] = '\0';
    sp_log_warn("%s", big);
    size_t n;
    cJSON **lines = read_lines(&n);
    assert_int_equal(n, 1);
    assert_string_equal(field(lines[0], "msg"), big);
    free_lines(lines, n);
    free(big);
}

static void *log_without_context(void *arg)
{
    sp_log_info("from other thread");
    return NULL;
}

static void test_context(void **state)
{
    sp_log_set_context("req-1", "tenant-a");
    sp_log_info("one");
    sp_log_set_context("req-2", NULL);
    sp_log_info("two");
    /* The context is per thread: another thread's line carries none. */
    sp_log_set_context("req-3", "tenant-c");
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, log_without_context, NULL), 0);
    pthread_join(th, NULL);
    sp_log_clear_context();
    sp_log_info("three");
    char longid[200];
    memset(longid, 'x', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    sp_log_set_context(longid, "t\"q");
    sp_log_info("four");

    size_t n;
    cJSON **lines = read_lines(&n);
    assert_int_equal(n, 5);
    assert_string_equal(field(lines[0], "request_id"), "req-1");
    assert_string_equal(field(lines[0], "tenant_id"), "tenant-a");
    assert_string_equal(field(lines[1], "request_id"), "req-2");
    assert_null(cJSON_GetObjectItem(lines[1], "tenant_id"));
    assert_string_equal(field(lines[2], "msg"), "from other thread");
    assert_null(cJSON_GetObjectItem(lines[2], "request_id"));
    assert_null(cJSON_GetObjectItem(lines[2], "tenant_id"));
    assert_string_equal(field(lines[3], "msg"), "three");
    assert_null(cJSON_GetObjectItem(lines[3], "request_id"));
    assert_null(cJSON_GetObjectItem(lines[3], "tenant_id"));
    assert_int_equal(strlen(field(lines[4], "request_id")), 63);
    assert_string_equal(field(lines[4], "tenant_id"), "t\"q");
    free_lines(lines, n);
}

static void test_trace_context(void **state)
{
    sp_log_set_context("req-1", NULL);
    sp_log_set_trace("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    sp_log_info("traced");
    /* sp_log_set_context leaves the trace alone. */
    sp_log_set_context("req-2", "tenant-b");
    sp_log_info("still traced");
    sp_log_set_trace("not a traceparent");
    sp_log_info("malformed clears");
    sp_log_set_trace("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    sp_log_clear_context();
    sp_log_info("cleared");

    size_t n;
    cJSON **lines = read_lines(&n);
    assert_int_equal(n, 4);
    assert_string_equal(field(lines[0], "trace_id"), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_string_equal(field(lines[0], "span_id"), "00f067aa0ba902b7");
    assert_string_equal(field(lines[0], "request_id"), "req-1");
    assert_string_equal(field(lines[1], "trace_id"), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_string_equal(field(lines[1], "tenant_id"), "tenant-b");
    assert_null(cJSON_GetObjectItem(lines[2], "trace_id"));
    assert_null(cJSON_GetObjectItem(lines[2], "span_id"));
    assert_string_equal(field(lines[2], "request_id"), "req-2");
    assert_null(cJSON_GetObjectItem(lines[3], "trace_id"));
    assert_null(cJSON_GetObjectItem(lines[3], "request_id"));
    free_lines(lines, n);
}

#define THREADS    4
#define PER_THREAD 2000

static void *log_many(void *arg)
{
    long id = (long)(intptr_t)arg;
    char ctx[16];
    snprintf(ctx, sizeof(ctx), "t%ld", id);
    sp_log_set_context(ctx, NULL);
    for (int i = 0; i < PER_THREAD; i++)
        sp_log_info("thread %ld line %d %s", id, i, "padding-padding-padding-padding");
    return NULL;
}

static void test_threads_do_not_interleave(void **state)
{
    pthread_t th[THREADS];
    for (long i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, log_many, (void *)(intptr_t)i), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    size_t n;
    cJSON **lines = read_lines(&n); /* asserts every line is whole JSON */
    assert_int_equal(n, THREADS * PER_THREAD);
    int next[THREADS] = {0};
    for (size_t i = 0; i < n; i++) {
        /* "thread <id> line <k> ..." */
        const char *msg = field(lines[i], "msg");
        assert_non_null(msg);
        assert_int_equal(strncmp(msg, "thread ", 7), 0);
        char *end;
        long id = strtol(msg + 7, &end, 10);
        assert_int_equal(strncmp(end, " line ", 6), 0);
        int k = (int)strtol(end + 6, NULL, 10);
        assert_true(id >= 0 && id < THREADS);
        /* Each thread's lines appear in its own order, with its own context. */
        assert_int_equal(k, next[id]++);
        char ctx[16];
        snprintf(ctx, sizeof(ctx), "t%ld", id);
        assert_string_equal(field(lines[i], "request_id"), ctx);
    }
    free_lines(lines, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_line_shape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_levels_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_level_parse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escaping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_service_escaped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_context, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trace_context, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads_do_not_interleave, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
