/*
 * buf.h — a growable byte buffer for building strings (after curl's
 * Curl_dyn).
 *
 * An sp_buf_t is embedded by value (a local, a struct member) and set up
 * with sp_buf_init, or with sp_buf_init_fixed to start in caller storage
 * (a stack array) and move to the heap only when that is outgrown, which
 * keeps hot paths free of malloc. The contents are always NUL-terminated.
 *
 * Errors are sticky: once an append fails (out of memory, or over the
 * buffer's maximum) the contents are discarded, every later append is a
 * no-op returning the same code, and sp_buf_failed reports it, so a caller
 * can append many pieces and check once at the end. sp_buf_cleanup clears
 * the error.
 *
 * The fields are private: use the functions. Not thread-safe. buf.c never
 * logs, so the logger can use it.
 */
#ifndef SP_BUF_H
#define SP_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct {
    char *data;       /* heap, or fixed; NULL while empty without fixed */
    size_t len;       /* bytes used, without the NUL */
    size_t cap;       /* bytes available at data */
    size_t max;       /* largest len allowed; 0: no limit */
    char *fixed;      /* caller storage from sp_buf_init_fixed, or NULL */
    size_t fixed_cap; /* its size */
    int err;          /* 0, SP_ENOMEM or SP_ETOOBIG; sticky */
} sp_buf_t;

/* An empty buffer that grows on the heap. max bounds its length in bytes
 * (the NUL not counted); an append that would pass it fails with
 * SP_ETOOBIG. max 0 means no limit. Cannot fail; allocates nothing. */
void sp_buf_init(sp_buf_t *b, size_t max);

/* Like sp_buf_init, but the first cap bytes (cap >= 1) come from storage,
 * which must outlive the buffer; the contents move to the heap only when
 * they outgrow it. */
void sp_buf_init_fixed(sp_buf_t *b, char *storage, size_t cap, size_t max);

/* Appends len bytes of data (which may hold NULs). Returns 0, or SP_ENOMEM /
 * SP_ETOOBIG (the buffer is then failed, see above). */
int sp_buf_append(sp_buf_t *b, const void *data, size_t len);

/* Appends the C string s. Returns as sp_buf_append. */
int sp_buf_puts(sp_buf_t *b, const char *s);

/* Appends one byte. Returns as sp_buf_append. */
int sp_buf_putc(sp_buf_t *b, char c);

/* Appends printf-formatted text. Returns as sp_buf_append; a format error is
 * reported as SP_EINVAL without failing the buffer. */
int sp_buf_appendf(sp_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int sp_buf_vappendf(sp_buf_t *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* The contents, NUL-terminated; "" when empty or failed; never NULL. Valid
 * until the next append, take or cleanup. */
const char *sp_buf_data(const sp_buf_t *b);

/* The length of the contents (0 when failed). */
size_t sp_buf_len(const sp_buf_t *b);

/* 0, or the sticky error of an earlier append (SP_ENOMEM, SP_ETOOBIG). */
int sp_buf_failed(const sp_buf_t *b);

/* Hands over the contents as a malloc'd NUL-terminated string the caller
 * frees (an empty buffer gives ""), with its length in *len when len is not
 * NULL. Returns NULL when the buffer has failed or out of memory. Either way
 * the buffer is left empty, as after sp_buf_cleanup. */
char *sp_buf_take(sp_buf_t *b, size_t *len);

/* Frees heap memory and empties the buffer, clearing any error; it can be
 * used again with its maximum and fixed storage. Accepts NULL. */
void sp_buf_cleanup(sp_buf_t *b);

#endif
