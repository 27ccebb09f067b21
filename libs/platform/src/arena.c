#include "platform/arena.h"
#include "platform/error.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Blocks are chained; a request typically fits in the first 4 KiB block, big
 * allocations get a block of their own so a large body wastes nothing. */
#define ARENA_BLOCK_SIZE 4096
#define ARENA_ALIGN      16

typedef struct block {
    struct block *next;
    size_t size, used;
    _Alignas(ARENA_ALIGN) unsigned char data[];
} block_t;

typedef struct deferred {
    struct deferred *next;
    void (*fn)(void *);
    void *ptr;
} deferred_t;

struct sp_arena {
    block_t *head;
    deferred_t *deferred;
    size_t used;
};

sp_arena_t *sp_arena_new(void)
{
    return calloc(1, sizeof(sp_arena_t));
}

void sp_arena_destroy(sp_arena_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sp_arena_t *self = *self_p;
    deferred_t *d = self->deferred;
    while (d) {
        deferred_t *next = d->next;
        d->fn(d->ptr);
        free(d);
        d = next;
    }
    block_t *b = self->head;
    while (b) {
        block_t *next = b->next;
        free(b);
        b = next;
    }
    free(self);
    *self_p = NULL;
}

void *sp_arena_alloc(sp_arena_t *arena, size_t size)
{
    size_t rounded = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (rounded < size || rounded > SIZE_MAX - sizeof(block_t))
        return NULL;
    block_t *b = arena->head;
    if (!b || b->size - b->used < rounded) {
        size_t cap = rounded > ARENA_BLOCK_SIZE / 2 ? rounded : ARENA_BLOCK_SIZE;
        block_t *nb = malloc(sizeof(block_t) + cap);
        if (!nb)
            return NULL;
        nb->size = cap;
        nb->used = 0;
        if (b && cap != ARENA_BLOCK_SIZE) {
            /* A dedicated big block goes behind the current one, which keeps
             * serving small allocations. */
            nb->next = b->next;
            b->next = nb;
        } else {
            nb->next = b;
            arena->head = nb;
        }
        b = nb;
    }
    void *p = b->data + b->used;
    b->used += rounded;
    arena->used += size;
    memset(p, 0, size);
    return p;
}

char *sp_arena_strndup(sp_arena_t *arena, const char *s, size_t len)
{
    if (len == SIZE_MAX)
        return NULL;
    char *p = sp_arena_alloc(arena, len + 1);
    if (!p)
        return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *sp_arena_strdup(sp_arena_t *arena, const char *s)
{
    return s ? sp_arena_strndup(arena, s, strlen(s)) : NULL;
}

char *sp_arena_vprintf(sp_arena_t *arena, const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0)
        return NULL;
    char *p = sp_arena_alloc(arena, (size_t)n + 1);
    if (!p)
        return NULL;
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

char *sp_arena_printf(sp_arena_t *arena, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = sp_arena_vprintf(arena, fmt, ap);
    va_end(ap);
    return p;
}

int sp_arena_defer(sp_arena_t *arena, void (*fn)(void *), void *ptr)
{
    deferred_t *d = malloc(sizeof(*d));
    if (!d) {
        fn(ptr);
        return SP_ENOMEM;
    }
    d->fn = fn;
    d->ptr = ptr;
    d->next = arena->deferred;
    arena->deferred = d;
    return SP_OK;
}

size_t sp_arena_used(const sp_arena_t *arena)
{
    return arena->used;
}
