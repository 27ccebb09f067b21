/*
 * trace.h — W3C Trace Context (https://www.w3.org/TR/trace-context/): the
 * `traceparent` value that follows one piece of work from the HTTP edge over
 * ZeroMQ envelopes into Kafka headers, and into every log line (log.h).
 *
 *   traceparent = version "-" trace-id "-" parent-id "-" trace-flags
 *                 "00"      32 hex        16 hex        "01"
 *
 * Hex digits are lowercase; an all-zero trace-id or parent-id is invalid.
 * The HTTP server starts a trace (sp_trace_new) for every request that
 * arrives without a valid traceparent, so every request has one.
 */
#ifndef SP_TRACE_H
#define SP_TRACE_H

#include <stddef.h>

/* Length of a version-00 traceparent, without the terminating NUL. */
#define SP_TRACEPARENT_LEN 55
#define SP_TRACE_ID_LEN    32
#define SP_SPAN_ID_LEN     16

/* Parses traceparent. Returns 0 when it is valid — version 00 of exactly 55
 * characters, or a later version (not "ff") whose first 55 characters parse
 * and which either ends there or continues with "-", as the specification
 * asks — and then copies the trace id and parent (span) id, NUL-terminated,
 * into trace_id and span_id when they are not NULL. Returns SP_EINVAL for
 * NULL or anything malformed (the outputs are then left untouched). */
int sp_trace_parse(const char *traceparent, char trace_id[SP_TRACE_ID_LEN + 1],
                   char span_id[SP_SPAN_ID_LEN + 1]);

/* Writes a fresh traceparent "00-<random trace id>-<random span id>-01"
 * (sampled) into out. Never fails: when the random generator cannot be
 * seeded it falls back to a clock-and-counter source, which is unique enough
 * for correlation. Returns 0. */
int sp_trace_new(char out[SP_TRACEPARENT_LEN + 1]);

#endif
