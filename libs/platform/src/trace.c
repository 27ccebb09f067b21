/*
 * trace.c — W3C traceparent parsing and generation (see trace.h).
 */
#include "platform/trace.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "platform/error.h"

/* n lowercase hex digits at s; all-zero rejected when nonzero_required. */
static int hex_field(const char *s, size_t n, int nonzero_required)
{
    int nonzero = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
        if (c != '0')
            nonzero = 1;
    }
    return !nonzero_required || nonzero;
}

int sp_trace_parse(const char *tp, char trace_id[SP_TRACE_ID_LEN + 1],
                   char span_id[SP_SPAN_ID_LEN + 1])
{
    if (!tp)
        return SP_EINVAL;
    size_t len = strnlen(tp, SP_TRACEPARENT_LEN + 1);
    if (len < SP_TRACEPARENT_LEN)
        return SP_EINVAL;
    /* version(2) - trace-id(32) - parent-id(16) - flags(2) */
    if (!hex_field(tp, 2, 0) || strncmp(tp, "ff", 2) == 0 || tp[2] != '-' ||
        !hex_field(tp + 3, SP_TRACE_ID_LEN, 1) || tp[35] != '-' ||
        !hex_field(tp + 36, SP_SPAN_ID_LEN, 1) || tp[52] != '-' || !hex_field(tp + 53, 2, 0))
        return SP_EINVAL;
    if (strncmp(tp, "00", 2) == 0) {
        if (len != SP_TRACEPARENT_LEN)
            return SP_EINVAL;
    } else if (len > SP_TRACEPARENT_LEN && tp[SP_TRACEPARENT_LEN] != '-') {
        /* A future version may append fields, always after a dash. */
        return SP_EINVAL;
    }
    if (trace_id) {
        memcpy(trace_id, tp + 3, SP_TRACE_ID_LEN);
        trace_id[SP_TRACE_ID_LEN] = '\0';
    }
    if (span_id) {
        memcpy(span_id, tp + 36, SP_SPAN_ID_LEN);
        span_id[SP_SPAN_ID_LEN] = '\0';
    }
    return SP_OK;
}

/* Trace ids come straight from the kernel's generator, not from crypto.h's
 * DRBG: they need to be unique, not secret, and trace sits below log, which
 * crypto uses, so depending on crypto would close the include cycle
 * log -> trace -> crypto -> log. Returns 0, or -1 when getrandom fails. */
static int os_random(uint8_t *out, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(out + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        got += (size_t)r;
    }
    return 0;
}

/* Used only when getrandom fails: distinct per call within the process and,
 * through the pid and the clock, across processes. Not secret, which trace
 * ids need not be. */
static void fallback_bytes(uint8_t out[24])
{
    static atomic_uint_fast64_t counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t parts[3] = {(uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec,
                         (uint64_t)getpid(), atomic_fetch_add(&counter, 1) + 1};
    memcpy(out, parts, 24);
}

int sp_trace_new(char out[SP_TRACEPARENT_LEN + 1])
{
    uint8_t rnd[24]; /* 16 bytes of trace id, 8 of span id */
    if (os_random(rnd, sizeof rnd) != 0)
        fallback_bytes(rnd);
    /* All-zero ids are invalid; with 128 random bits this never happens, but
     * the fallback must not be able to produce one either. */
    rnd[15] |= 1;
    rnd[23] |= 1;
    static const char digits[] = "0123456789abcdef";
    char hex[2 * sizeof rnd + 1];
    for (size_t i = 0; i < sizeof rnd; i++) {
        hex[2 * i] = digits[rnd[i] >> 4];
        hex[2 * i + 1] = digits[rnd[i] & 0x0f];
    }
    hex[2 * sizeof rnd] = '\0';
    snprintf(out, SP_TRACEPARENT_LEN + 1, "00-%.32s-%.16s-01", hex, hex + 32);
    return SP_OK;
}
