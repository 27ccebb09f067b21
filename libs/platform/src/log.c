#include "platform/log.h"
#include "platform/buf.h"
#include "platform/error.h"
#include "platform/trace.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Context strings are copied into fixed per-thread buffers: transports set them
 * on every request, and a malloc there would cost more than the log line. */
#define CTX_MAX     64
#define SERVICE_MAX 64
/* Most messages, and the lines built around them, fit on the stack; longer
 * ones fall back to the heap. */
#define MSG_STACK  1024
#define LINE_STACK 2048

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static char g_service[SERVICE_MAX] = "unknown";
static int g_level = SP_LOG_INFO;
static FILE *g_out; /* NULL means stderr */

static __thread char t_request_id[CTX_MAX];
static __thread char t_tenant_id[CTX_MAX];
static __thread char t_trace_id[SP_TRACE_ID_LEN + 1];
static __thread char t_span_id[SP_SPAN_ID_LEN + 1];

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void sp_log_init(const char *service, sp_log_level_t level)
{
    pthread_mutex_lock(&g_lock);
    snprintf(g_service, sizeof(g_service), "%s", service ? service : "unknown");
    pthread_mutex_unlock(&g_lock);
    __atomic_store_n(&g_level, (int)level, __ATOMIC_RELAXED);
}

int sp_log_level_parse(const char *text, sp_log_level_t *out)
{
    if (!text)
        return SP_EINVAL;
    for (int i = 0; i < 4; i++) {
        if (strcmp(text, level_names[i]) == 0) {
            if (out)
                *out = (sp_log_level_t)i;
            return SP_OK;
        }
    }
    return SP_EINVAL;
}

void sp_log_set_output(FILE *out)
{
    pthread_mutex_lock(&g_lock);
    g_out = out;
    pthread_mutex_unlock(&g_lock);
}

int sp_log_enabled(sp_log_level_t level)
{
    return (int)level >= __atomic_load_n(&g_level, __ATOMIC_RELAXED);
}

static void copy_ctx(char *dst, const char *src)
{
    if (src)
        snprintf(dst, CTX_MAX, "%s", src);
    else
        dst[0] = '\0';
}

void sp_log_set_context(const char *request_id, const char *tenant_id)
{
    copy_ctx(t_request_id, request_id);
    copy_ctx(t_tenant_id, tenant_id);
}

void sp_log_set_trace(const char *traceparent)
{
    if (sp_trace_parse(traceparent, t_trace_id, t_span_id) != 0) {
        t_trace_id[0] = '\0';
        t_span_id[0] = '\0';
    }
}

void sp_log_clear_context(void)
{
    t_request_id[0] = '\0';
    t_tenant_id[0] = '\0';
    t_trace_id[0] = '\0';
    t_span_id[0] = '\0';
}

/* Length of the well-formed UTF-8 sequence at s (at most n bytes available),
 * or 0 when the bytes there are not valid UTF-8: overlong forms, surrogates
 * and code points past U+10FFFF are rejected as RFC 3629 requires. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* Appends s as a JSON string body. Control characters become \uXXXX escapes
 * and every byte that is not part of valid UTF-8 becomes U+FFFD, so a line is
 * always valid JSON whatever a caller formats into it. */
static void put_json(sp_buf_t *b, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t n = strlen(str);
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        const char *esc = NULL;
        char tmp[8];
        switch (c) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        case '\b':
            esc = "\\b";
            break;
        case '\f':
            esc = "\\f";
            break;
        default:
            break;
        }
        if (esc) {
            sp_buf_puts(b, esc);
            i++;
        } else if (c < 0x20) {
            snprintf(tmp, sizeof(tmp), "\\u%04x", c);
            sp_buf_puts(b, tmp);
            i++;
        } else {
            size_t len = utf8_seq_len(s + i, n - i);
            if (len == 0) {
                sp_buf_puts(b, "\\ufffd");
                i++;
            } else {
                sp_buf_append(b, s + i, len);
                i += len;
            }
        }
    }
}

static void put_field(sp_buf_t *b, const char *key, const char *value)
{
    sp_buf_puts(b, ",\"");
    sp_buf_puts(b, key);
    sp_buf_puts(b, "\":\"");
    put_json(b, value);
    sp_buf_puts(b, "\"");
}

void sp_log_write(sp_log_level_t level, const char *fmt, ...)
{
    if (!sp_log_enabled(level))
        return;
    if ((int)level < SP_LOG_DEBUG || (int)level > SP_LOG_ERROR)
        level = SP_LOG_ERROR;

    char stack_msg[MSG_STACK];
    char *msg = stack_msg;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(stack_msg, sizeof(stack_msg), fmt, ap);
    va_end(ap);
    if (n < 0) {
        snprintf(stack_msg, sizeof(stack_msg), "(unformattable log message)");
    } else if ((size_t)n >= sizeof(stack_msg)) {
        char *heap = malloc((size_t)n + 1);
        if (heap) {
            va_start(ap, fmt);
            vsnprintf(heap, (size_t)n + 1, fmt, ap);
            va_end(ap);
            msg = heap;
        } /* else: log the truncated stack copy rather than nothing. */
    }

    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    char ts[40];
    size_t tl = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + tl, sizeof(ts) - tl, ".%03ldZ", now.tv_nsec / 1000000L);

    char line[LINE_STACK];
    sp_buf_t b;
    sp_buf_init_fixed(&b, line, sizeof(line), 0);
    sp_buf_puts(&b, "{\"ts\":\"");
    sp_buf_puts(&b, ts);
    sp_buf_puts(&b, "\",\"level\":\"");
    sp_buf_puts(&b, level_names[level]);
    sp_buf_puts(&b, "\"");

    pthread_mutex_lock(&g_lock);
    put_field(&b, "service", g_service);
    pthread_mutex_unlock(&g_lock);

    put_field(&b, "msg", msg);
    if (t_request_id[0])
        put_field(&b, "request_id", t_request_id);
    if (t_tenant_id[0])
        put_field(&b, "tenant_id", t_tenant_id);
    if (t_trace_id[0]) {
        put_field(&b, "trace_id", t_trace_id);
        put_field(&b, "span_id", t_span_id);
    }
    sp_buf_puts(&b, "}\n");

    if (msg != stack_msg)
        free(msg);

    /* One fwrite under the lock keeps lines whole when threads log at once. */
    if (!sp_buf_failed(&b)) {
        pthread_mutex_lock(&g_lock);
        FILE *out = g_out ? g_out : stderr;
        fwrite(sp_buf_data(&b), 1, sp_buf_len(&b), out);
        fflush(out);
        pthread_mutex_unlock(&g_lock);
    }
    sp_buf_cleanup(&b);
}
