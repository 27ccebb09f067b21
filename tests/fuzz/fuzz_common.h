/*
 * fuzz_common.h — what every libFuzzer harness of tests/fuzz shares.
 *
 * A harness must not print per input (libFuzzer runs millions), so logging
 * goes to /dev/null; and inputs are raw bytes, so those that feed C strings
 * get a NUL-terminated copy (an embedded NUL then simply ends the string,
 * as it does for the transports that hand strings to the parsers).
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Sends log lines nowhere, once. */
static inline void fz_quiet(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    sp_log_init("fuzz", SP_LOG_ERROR);
    FILE *null = fopen("/dev/null", "w");
    if (null)
        sp_log_set_output(null);
}

/* A malloc'd NUL-terminated copy of the n bytes at p; aborts when out of
 * memory (the fuzzer's rss limit is the right report for that). */
static inline char *fz_strndup(const void *p, size_t n)
{
    char *s = malloc(n + 1);
    if (!s)
        abort();
    if (n)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* Splits the input at the first byte sep: *a gets the part before it (or
 * everything), *b the part after (or ""), both malloc'd and NUL-terminated. */
static inline void fz_split(const uint8_t *data, size_t size, uint8_t sep, char **a, char **b)
{
    const uint8_t *cut = size ? memchr(data, sep, size) : NULL;
    size_t n = cut ? (size_t)(cut - data) : size;
    *a = fz_strndup(data, n);
    *b = cut ? fz_strndup(cut + 1, size - n - 1) : fz_strndup("", 0);
}

#endif
