/*
 * log.h — structured logging: one JSON object per line on stderr.
 *
 *   {"ts":"2026-11-22T15:20:01.123Z","level":"info","service":"billing",
 *    "msg":"...","request_id":"...","tenant_id":"...",
 *    "trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7"}
 *
 * request_id, tenant_id, trace_id and span_id come from a per-thread context
 * that transports set around each request or consumed event
 * (sp_log_set_context, sp_log_set_trace) and appear only when set; trace_id
 * and span_id are those of the W3C traceparent the work carries (trace.h). The level
 * is checked before anything is formatted (the macros below), so a disabled
 * debug line costs one comparison. Never pass secrets, tokens, passwords or
 * unredacted customer text to the logger.
 */
#ifndef SP_LOG_H
#define SP_LOG_H

#include <stdio.h>

typedef enum {
    SP_LOG_DEBUG = 0,
    SP_LOG_INFO = 1,
    SP_LOG_WARN = 2,
    SP_LOG_ERROR = 3,
} sp_log_level_t;

/* Sets the service name and minimum level for the process. Call once at start;
 * before that, lines go out with service "unknown" at level info. */
void sp_log_init(const char *service, sp_log_level_t level);

/* Parses "debug", "info", "warn" or "error". Returns 0 or SP_EINVAL. */
int sp_log_level_parse(const char *text, sp_log_level_t *out);

/* Redirects output (tests); NULL restores stderr. */
void sp_log_set_output(FILE *out);

/* Non-zero when lines of this level are written. */
int sp_log_enabled(sp_log_level_t level);

/* Per-thread context added to each line; either may be NULL. The strings are
 * copied (truncated at 63 bytes). */
void sp_log_set_context(const char *request_id, const char *tenant_id);

/* Sets the per-thread trace context from a W3C traceparent: its trace id and
 * parent (span) id then appear as "trace_id" and "span_id" on each line of
 * this thread. NULL or a malformed value clears them. sp_log_set_context does
 * not touch the trace; sp_log_clear_context clears it too. */
void sp_log_set_trace(const char *traceparent);

/* Clears the whole per-thread context: request, tenant and trace. */
void sp_log_clear_context(void);

/* Formats and writes one line; msg is JSON-escaped. Prefer the macros. */
void sp_log_write(sp_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define SP_LOG_AT(lvl, ...)                                                                        \
    do {                                                                                           \
        if (sp_log_enabled(lvl))                                                                   \
            sp_log_write(lvl, __VA_ARGS__);                                                        \
    } while (0)
#define sp_log_debug(...) SP_LOG_AT(SP_LOG_DEBUG, __VA_ARGS__)
#define sp_log_info(...)  SP_LOG_AT(SP_LOG_INFO, __VA_ARGS__)
#define sp_log_warn(...)  SP_LOG_AT(SP_LOG_WARN, __VA_ARGS__)
#define sp_log_error(...) SP_LOG_AT(SP_LOG_ERROR, __VA_ARGS__)

#endif
