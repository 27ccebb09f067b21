/*
 * arena.h — per-request memory (after nginx's r->pool).
 *
 * Everything a request handler allocates comes from the request's arena and is
 * freed at once when the response has been sent, so handlers never free
 * piecemeal. Objects owned by other allocators (cJSON trees, PGresults) can be
 * tied to the arena with sp_arena_defer(): their destructor runs when the arena
 * is destroyed, in reverse order of registration.
 *
 * An arena is not thread-safe; one request is served by one thread at a time.
 */
#ifndef SP_ARENA_H
#define SP_ARENA_H

#include <stdarg.h>
#include <stddef.h>

typedef struct sp_arena sp_arena_t;

/* A new, empty arena; NULL when out of memory. Free with sp_arena_destroy. */
sp_arena_t *sp_arena_new(void);

/* Frees every allocation and runs every deferred destructor. Accepts NULL and
 * sets *self_p to NULL. */
void sp_arena_destroy(sp_arena_t **self_p);

/* size bytes aligned for any type, zero-filled; NULL when out of memory.
 * Valid until the arena is destroyed. */
void *sp_arena_alloc(sp_arena_t *arena, size_t size);

/* A NUL-terminated copy of the first len bytes of s (s may hold NULs). */
char *sp_arena_strndup(sp_arena_t *arena, const char *s, size_t len);

/* A copy of s; sp_arena_strdup(a, NULL) returns NULL. */
char *sp_arena_strdup(sp_arena_t *arena, const char *s);

/* printf into the arena; NULL when out of memory. */
char *sp_arena_printf(sp_arena_t *arena, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
char *sp_arena_vprintf(sp_arena_t *arena, const char *fmt, va_list ap);

/* Runs fn(ptr) when the arena is destroyed. Returns 0, or SP_ENOMEM (in which
 * case fn(ptr) has already been called, so the caller never leaks). */
int sp_arena_defer(sp_arena_t *arena, void (*fn)(void *), void *ptr);

/* Bytes handed out so far (for metrics and tests). */
size_t sp_arena_used(const sp_arena_t *arena);

#endif
