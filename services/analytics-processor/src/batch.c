/*
 * batch.c — the pending batch of the processor (batch.h).
 */
#include "batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "payloads.h"
#include "platform/error.h"
#include "platform/text.h"
#include "validate.h"

#define TP_MAX     64 /* a W3C traceparent is 55 characters */
#define REASON_MAX 40

typedef struct {
    char tenant_id[SP_UUID_STR_LEN];
    char interaction_id[SP_UUID_STR_LEN];
    char traceparent[TP_MAX];
    size_t ix_off, ix_len;
    size_t ut_off, ut_len;
    size_t an_off, an_len;
    size_t us_off, us_len;
    size_t n_utterances;
    ap_entry_state_t state;
} entry_t;

typedef struct {
    char tenant_id[SP_UUID_STR_LEN];
    char reason[REASON_MAX];
    size_t pl_off, pl_len;
} dead_t;

struct ap_batch {
    entry_t *e;
    size_t n, cap;
    dead_t *d;
    size_t n_dead, cap_dead;
    sp_buf_t ix_rows, ut_rows, payloads, dead_bytes;
    int failed;
};

ap_batch_t *ap_batch_new(void)
{
    ap_batch_t *b = calloc(1, sizeof *b);

    if (!b)
        return NULL;
    sp_buf_init(&b->ix_rows, 0);
    sp_buf_init(&b->ut_rows, 0);
    sp_buf_init(&b->payloads, 0);
    sp_buf_init(&b->dead_bytes, 0);
    return b;
}

void ap_batch_destroy(ap_batch_t **self_p)
{
    ap_batch_t *b;

    if (!self_p || !(b = *self_p))
        return;
    *self_p = NULL;
    sp_buf_cleanup(&b->ix_rows);
    sp_buf_cleanup(&b->ut_rows);
    sp_buf_cleanup(&b->payloads);
    sp_buf_cleanup(&b->dead_bytes);
    free(b->e);
    free(b->d);
    free(b);
}

/* Empties a buffer but keeps its heap memory: sp_buf has no truncate, and
 * reallocating ~1 MB per flush is a waste, so the length is reset in place
 * (the fields are documented private; this is the one module-local
 * exception, contained here). A failed buffer is cleaned up instead. */
static void buf_truncate(sp_buf_t *buf)
{
    if (sp_buf_failed(buf) || !buf->data) {
        sp_buf_cleanup(buf);
        return;
    }
    buf->len = 0;
    buf->data[0] = '\0';
}

void ap_batch_reset(ap_batch_t *b)
{
    b->n = 0;
    b->n_dead = 0;
    b->failed = 0;
    buf_truncate(&b->ix_rows);
    buf_truncate(&b->ut_rows);
    buf_truncate(&b->payloads);
    buf_truncate(&b->dead_bytes);
}

int ap_batch_failed(const ap_batch_t *b)
{
    return b->failed;
}

static int grow(void **v, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return SP_OK;
    size_t ncap = *cap ? *cap * 2 : 64;
    void *grown = realloc(*v, ncap * size);
    if (!grown)
        return SP_ENOMEM;
    *v = grown;
    *cap = ncap;
    return SP_OK;
}

int ap_batch_add(ap_batch_t *b, const ap_record_t *rec, const char *traceparent)
{
    entry_t *e;

    if (b->failed)
        return SP_ENOMEM;
    if (grow((void **)&b->e, &b->cap, b->n, sizeof *b->e) != SP_OK) {
        b->failed = SP_ENOMEM;
        return SP_ENOMEM;
    }
    e = &b->e[b->n];
    memset(e, 0, sizeof *e);
    memcpy(e->tenant_id, rec->tenant_id, SP_UUID_STR_LEN);
    memcpy(e->interaction_id, rec->interaction_id, SP_UUID_STR_LEN);
    if (traceparent && strlen(traceparent) < TP_MAX)
        strcpy(e->traceparent, traceparent);
    e->n_utterances = rec->n_utterances;

    e->ix_off = sp_buf_len(&b->ix_rows);
    ap_rows_interaction(&b->ix_rows, rec);
    e->ix_len = sp_buf_len(&b->ix_rows) - e->ix_off;
    e->ut_off = sp_buf_len(&b->ut_rows);
    ap_rows_utterances(&b->ut_rows, rec);
    e->ut_len = sp_buf_len(&b->ut_rows) - e->ut_off;
    e->an_off = sp_buf_len(&b->payloads);
    ap_payload_analysis(&b->payloads, rec);
    e->an_len = sp_buf_len(&b->payloads) - e->an_off;
    e->us_off = sp_buf_len(&b->payloads);
    ap_payload_usage(&b->payloads, rec);
    e->us_len = sp_buf_len(&b->payloads) - e->us_off;
    if (sp_buf_failed(&b->ix_rows) || sp_buf_failed(&b->ut_rows) || sp_buf_failed(&b->payloads)) {
        b->failed = SP_ENOMEM;
        return SP_ENOMEM;
    }
    b->n++;
    return SP_OK;
}

int ap_batch_add_dead(ap_batch_t *b, const char *tenant_id, const char *reason, const char *payload,
                      size_t payload_len)
{
    dead_t *d;

    if (b->failed)
        return SP_ENOMEM;
    if (grow((void **)&b->d, &b->cap_dead, b->n_dead, sizeof *b->d) != SP_OK) {
        b->failed = SP_ENOMEM;
        return SP_ENOMEM;
    }
    d = &b->d[b->n_dead];
    memset(d, 0, sizeof *d);
    if (tenant_id && sp_uuid_valid(tenant_id))
        ap_uuid_lower(tenant_id, d->tenant_id);
    else
        strcpy(d->tenant_id, AP_NIL_TENANT);
    snprintf(d->reason, sizeof d->reason, "%s", reason ? reason : "");
    d->pl_off = sp_buf_len(&b->dead_bytes);
    d->pl_len = payload_len;
    sp_buf_append(&b->dead_bytes, payload, payload_len);
    if (sp_buf_failed(&b->dead_bytes)) {
        b->failed = SP_ENOMEM;
        return SP_ENOMEM;
    }
    b->n_dead++;
    return SP_OK;
}

/* Appends len bytes at off of from to to; returns the new offset in to. */
static size_t copy_bytes(sp_buf_t *to, const sp_buf_t *from, size_t off, size_t len)
{
    size_t at = sp_buf_len(to);

    if (len)
        sp_buf_append(to, sp_buf_data(from) + off, len);
    return at;
}

int ap_batch_add_entry_of(ap_batch_t *dst, const ap_batch_t *src, size_t i)
{
    entry_t *e;

    if (dst->failed)
        return SP_ENOMEM;
    if (grow((void **)&dst->e, &dst->cap, dst->n, sizeof *dst->e) != SP_OK) {
        dst->failed = SP_ENOMEM;
        return SP_ENOMEM;
    }
    e = &dst->e[dst->n];
    *e = src->e[i];
    e->state = AP_ENTRY_NEW;
    e->ix_off = copy_bytes(&dst->ix_rows, &src->ix_rows, e->ix_off, e->ix_len);
    e->ut_off = copy_bytes(&dst->ut_rows, &src->ut_rows, e->ut_off, e->ut_len);
    e->an_off = copy_bytes(&dst->payloads, &src->payloads, e->an_off, e->an_len);
    e->us_off = copy_bytes(&dst->payloads, &src->payloads, e->us_off, e->us_len);
    if (sp_buf_failed(&dst->ix_rows) || sp_buf_failed(&dst->ut_rows) ||
        sp_buf_failed(&dst->payloads)) {
        dst->failed = SP_ENOMEM;
        return SP_ENOMEM;
    }
    dst->n++;
    return SP_OK;
}

int ap_batch_add_dead_of(ap_batch_t *dst, const ap_batch_t *src, size_t i)
{
    const dead_t *d = &src->d[i];

    return ap_batch_add_dead(dst, d->tenant_id, d->reason,
                             sp_buf_data(&src->dead_bytes) + d->pl_off, d->pl_len);
}

size_t ap_batch_count(const ap_batch_t *b)
{
    return b->n;
}

size_t ap_batch_dead_count(const ap_batch_t *b)
{
    return b->n_dead;
}

void ap_batch_entry(const ap_batch_t *b, size_t i, ap_entry_t *out)
{
    const entry_t *e = &b->e[i];
    const char *pl = sp_buf_data(&b->payloads);

    out->tenant_id = e->tenant_id;
    out->interaction_id = e->interaction_id;
    out->traceparent = e->traceparent;
    out->analysis = pl + e->an_off;
    out->analysis_len = e->an_len;
    out->usage = pl + e->us_off;
    out->usage_len = e->us_len;
    out->n_utterances = e->n_utterances;
    out->state = e->state;
}

void ap_batch_dead(const ap_batch_t *b, size_t i, ap_dead_t *out)
{
    const dead_t *d = &b->d[i];
    const char *bytes = sp_buf_data(&b->dead_bytes);

    out->tenant_id = d->tenant_id;
    out->reason = d->reason;
    out->payload = bytes + d->pl_off;
    out->payload_len = d->pl_len;
}

/* qsort over entry indices by (tenant, interaction id, position), so equal
 * ids are adjacent with the earliest first. */
static const ap_batch_t *sort_batch;

static int by_id(const void *a, const void *b)
{
    const entry_t *x = &sort_batch->e[*(const size_t *)a];
    const entry_t *y = &sort_batch->e[*(const size_t *)b];
    int c = strcmp(x->tenant_id, y->tenant_id);
    if (!c)
        c = strcmp(x->interaction_id, y->interaction_id);
    if (!c)
        c = (*(const size_t *)a > *(const size_t *)b) - (*(const size_t *)a < *(const size_t *)b);
    return c;
}

size_t ap_batch_dedupe(ap_batch_t *b)
{
    size_t marked = 0, *idx;

    if (b->n < 2)
        return 0;
    if (!(idx = malloc(b->n * sizeof *idx))) {
        /* Quadratic fallback: slower, never wrong. */
        for (size_t i = 1; i < b->n; i++)
            for (size_t j = 0; j < i; j++)
                if (b->e[j].state != AP_ENTRY_DUP_BATCH &&
                    !strcmp(b->e[i].tenant_id, b->e[j].tenant_id) &&
                    !strcmp(b->e[i].interaction_id, b->e[j].interaction_id)) {
                    b->e[i].state = AP_ENTRY_DUP_BATCH;
                    marked++;
                    break;
                }
        return marked;
    }
    for (size_t i = 0; i < b->n; i++)
        idx[i] = i;
    /* Only the consumer thread dedupes (the flushed batch), so the
     * file-static comparator context is never shared. */
    sort_batch = b;
    qsort(idx, b->n, sizeof *idx, by_id);
    sort_batch = NULL;
    for (size_t i = 1; i < b->n; i++) {
        entry_t *prev = &b->e[idx[i - 1]], *cur = &b->e[idx[i]];
        if (!strcmp(prev->tenant_id, cur->tenant_id) &&
            !strcmp(prev->interaction_id, cur->interaction_id) &&
            cur->state != AP_ENTRY_DUP_BATCH) {
            cur->state = AP_ENTRY_DUP_BATCH;
            marked++;
        }
    }
    free(idx);
    return marked;
}

char *ap_batch_lookup_sql(const ap_batch_t *b, const char *table, sp_arena_t *arena, int *oom)
{
    sp_buf_t sql;
    size_t n_new = 0;
    char *out;

    if (oom)
        *oom = 0;
    sp_buf_init(&sql, 0);
    sp_buf_appendf(&sql,
                   "SELECT toString(tenant_id), toString(interaction_id) FROM %s "
                   "WHERE tenant_id IN (",
                   table);
    /* Tenants, each once (a batch rarely has many). */
    for (size_t i = 0; i < b->n; i++) {
        if (b->e[i].state != AP_ENTRY_NEW)
            continue;
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = b->e[j].state == AP_ENTRY_NEW && !strcmp(b->e[j].tenant_id, b->e[i].tenant_id);
        if (seen)
            continue;
        /* Validated UUIDs: safe as literals without escaping. */
        sp_buf_appendf(&sql, "%s'%s'", n_new++ ? "," : "", b->e[i].tenant_id);
    }
    if (n_new == 0) {
        sp_buf_cleanup(&sql);
        return NULL;
    }
    sp_buf_puts(&sql, ") AND interaction_id IN (");
    n_new = 0;
    for (size_t i = 0; i < b->n; i++)
        if (b->e[i].state == AP_ENTRY_NEW)
            sp_buf_appendf(&sql, "%s'%s'", n_new++ ? "," : "", b->e[i].interaction_id);
    sp_buf_puts(&sql, ") FORMAT TabSeparated");
    out = sp_buf_failed(&sql) ? NULL : sp_arena_strndup(arena, sp_buf_data(&sql), sp_buf_len(&sql));
    sp_buf_cleanup(&sql);
    if (!out && oom)
        *oom = 1;
    return out;
}

int ap_batch_apply_stored(ap_batch_t *b, const char *tsv, size_t len)
{
    const char *p = tsv, *end = tsv + len;
    int marked = 0;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        char tenant[SP_UUID_STR_LEN], id[SP_UUID_STR_LEN], tl[SP_UUID_STR_LEN], il[SP_UUID_STR_LEN];

        if (line_end == p) { /* blank line */
            p = line_end + 1;
            continue;
        }
        if (line_end - p != 73 || p[36] != '\t')
            return SP_EPROTO;
        memcpy(tenant, p, 36);
        tenant[36] = '\0';
        memcpy(id, p + 37, 36);
        id[36] = '\0';
        if (!sp_uuid_valid(tenant) || !sp_uuid_valid(id))
            return SP_EPROTO;
        ap_uuid_lower(tenant, tl);
        ap_uuid_lower(id, il);
        for (size_t i = 0; i < b->n; i++) {
            entry_t *e = &b->e[i];
            if (e->state == AP_ENTRY_NEW && !strcmp(e->interaction_id, il) &&
                !strcmp(e->tenant_id, tl)) {
                e->state = AP_ENTRY_DUP_STORED;
                marked++;
            }
        }
        p = line_end + 1;
    }
    return marked;
}

int ap_batch_bodies(const ap_batch_t *b, sp_buf_t *ix, sp_buf_t *ut)
{
    const char *ixd = sp_buf_data(&b->ix_rows), *utd = sp_buf_data(&b->ut_rows);

    for (size_t i = 0; i < b->n; i++) {
        const entry_t *e = &b->e[i];
        if (e->state != AP_ENTRY_NEW)
            continue;
        sp_buf_append(ix, ixd + e->ix_off, e->ix_len);
        if (e->ut_len)
            sp_buf_append(ut, utd + e->ut_off, e->ut_len);
    }
    return sp_buf_failed(ix) ? sp_buf_failed(ix) : sp_buf_failed(ut);
}

size_t ap_batch_new_count(const ap_batch_t *b, size_t *n_utterances)
{
    size_t n = 0, u = 0;

    for (size_t i = 0; i < b->n; i++)
        if (b->e[i].state == AP_ENTRY_NEW) {
            n++;
            u += b->e[i].n_utterances;
        }
    if (n_utterances)
        *n_utterances = u;
    return n;
}
