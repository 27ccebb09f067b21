/*
 * buf.c — growable byte buffer. Capacity doubles (from 256 bytes on the
 * heap, or from twice the fixed storage), clamped to the maximum, so n
 * appends cost O(n) copies overall.
 */
#include "platform/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/error.h"

#define MIN_HEAP_CAP 256

void sp_buf_init(sp_buf_t *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max;
}

void sp_buf_init_fixed(sp_buf_t *b, char *storage, size_t cap, size_t max)
{
    sp_buf_init(b, max);
    if (storage && cap > 0) {
        b->fixed = storage;
        b->fixed_cap = cap;
        b->data = storage;
        b->cap = cap;
        storage[0] = '\0';
    }
}

/* Back to empty, on the fixed storage when there is one. */
static void reset(sp_buf_t *b)
{
    if (b->data != b->fixed)
        free(b->data);
    b->data = b->fixed;
    b->cap = b->fixed ? b->fixed_cap : 0;
    b->len = 0;
    if (b->fixed)
        b->fixed[0] = '\0';
}

static int fail(sp_buf_t *b, int err)
{
    reset(b);
    b->err = err;
    return err;
}

/* Makes room for extra more bytes plus the NUL. */
static int reserve(sp_buf_t *b, size_t extra)
{
    if (b->err)
        return b->err;
    if (b->max && (extra > b->max || b->len > b->max - extra))
        return fail(b, SP_ETOOBIG);
    if (extra > SIZE_MAX - 1 - b->len)
        return fail(b, SP_ENOMEM);
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : MIN_HEAP_CAP;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    /* No point holding room the maximum forbids using. */
    if (b->max && b->max < SIZE_MAX && cap > b->max + 1)
        cap = b->max + 1;
    char *p;
    if (b->data && b->data == b->fixed) {
        p = malloc(cap);
        if (p)
            memcpy(p, b->data, b->len + 1);
    } else {
        p = realloc(b->data, cap);
    }
    if (!p)
        return fail(b, SP_ENOMEM);
    b->data = p;
    b->cap = cap;
    return 0;
}

int sp_buf_append(sp_buf_t *b, const void *data, size_t len)
{
    int rc = reserve(b, len);
    if (rc != 0)
        return rc;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int sp_buf_puts(sp_buf_t *b, const char *s)
{
    return sp_buf_append(b, s, strlen(s));
}

int sp_buf_putc(sp_buf_t *b, char c)
{
    return sp_buf_append(b, &c, 1);
}

int sp_buf_vappendf(sp_buf_t *b, const char *fmt, va_list ap)
{
    if (b->err)
        return b->err;
    /* Try the room already there first: most pieces fit. */
    size_t room = b->cap > b->len ? b->cap - b->len : 0;
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        if (room)
            b->data[b->len] = '\0';
        return SP_EINVAL;
    }
    if ((size_t)n < room) {
        if (b->max && b->len + (size_t)n > b->max)
            return fail(b, SP_ETOOBIG);
        b->len += (size_t)n;
        return 0;
    }
    if (room)
        b->data[b->len] = '\0';
    int rc = reserve(b, (size_t)n);
    if (rc != 0)
        return rc;
    va_copy(ap2, ap);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    b->len += (size_t)n;
    return 0;
}

int sp_buf_appendf(sp_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = sp_buf_vappendf(b, fmt, ap);
    va_end(ap);
    return rc;
}

const char *sp_buf_data(const sp_buf_t *b)
{
    return b->data && !b->err ? b->data : "";
}

size_t sp_buf_len(const sp_buf_t *b)
{
    return b->err ? 0 : b->len;
}

int sp_buf_failed(const sp_buf_t *b)
{
    return b->err;
}

char *sp_buf_take(sp_buf_t *b, size_t *len)
{
    if (len)
        *len = 0;
    char *out = NULL;
    size_t n = b->len;
    if (b->err) {
        /* nothing to hand over */
    } else if (b->data && b->data != b->fixed) {
        out = b->data;
        b->data = NULL; /* reset() must not free it */
    } else {
        out = malloc(n + 1);
        if (out) {
            if (n && b->data)
                memcpy(out, b->data, n);
            out[n] = '\0';
        }
    }
    sp_buf_cleanup(b);
    if (out && len)
        *len = n;
    return out;
}

void sp_buf_cleanup(sp_buf_t *b)
{
    if (!b)
        return;
    reset(b);
    b->err = 0;
}
