/*
 * scope.h — the common start of every analytics handler: who asks (the
 * tenant of the auth context, never a parameter), and for which window and
 * filters.
 *
 *   aq_scope_t sc;
 *   if (aq_scope_begin(&sc, ctx, req, EXTRA_PARAMS, 0) != 0)
 *       return SP_HANDLER_DONE;          // the 4xx/5xx has been written
 *   char *where = aq_scope_where(&sc, AQ_SRC_HOURLY, sc.f.from, sc.f.to);
 *
 * Answers of its own: 403 tenant_required (a caller without a tenant, such
 * as a platform operator), and the 400s of filters.h.
 */
#ifndef AQ_SCOPE_H
#define AQ_SCOPE_H

#include <cjson/cJSON.h>

#include "context.h"
#include "filters.h"
#include "platform/request.h"

/* aq_scope_begin flag: the route needs the tenant's timezone even when the
 * window does not (time series buckets). */
#define AQ_SCOPE_TZ 1

typedef struct {
    aq_ctx_t *ctx;
    sp_request_t *req;
    sp_arena_t *arena;
    const char *tenant; /* a UUID, from sp_request_auth */
    const char *tz;     /* the tenant's zone when it was needed, else "UTC" */
    int tz_used;        /* tz shaped the answer (local dates or buckets) */
    aq_filter_t f;      /* parsed and resolved */
} aq_scope_t;

/* Fills sc for req: the tenant, the checked parameters (AQ_FILTER_PARAMS and
 * extra), the filters and the resolved window. Returns 0, or -1 after
 * writing the error response. */
int aq_scope_begin(aq_scope_t *sc, aq_ctx_t *ctx, sp_request_t *req, const char *const *extra,
                   int flags);

/* Writes err as the response and returns -1. */
int aq_scope_fail(aq_scope_t *sc, const aq_err_t *err);

/* aq_filter_where for sc's tenant and filters; NULL after writing a 500. */
char *aq_scope_where(aq_scope_t *sc, aq_src_t src, int64_t from, int64_t to);

/* Adds "period" {"from","to"} and, with previous, "previous_period" (ISO
 * UTC instants, to exclusive), plus "timezone" when it shaped the answer. */
void aq_scope_add_period(const aq_scope_t *sc, cJSON *obj, int previous);

/* Writes a 500 internal_error and returns -1 (out of memory and the like). */
int aq_scope_oom(aq_scope_t *sc);

#endif
