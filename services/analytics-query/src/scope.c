/*
 * scope.c — tenant, parameters and window of an analytics request.
 */
#include "scope.h"

#include <time.h>

#include "calendar.h"
#include "query.h"
#include "platform/text.h"
#include "tenants.h"

int aq_scope_fail(aq_scope_t *sc, const aq_err_t *err)
{
    sp_response_error(sp_request_response(sc->req), err->status, err->code, "%s", err->message);
    return -1;
}

int aq_scope_oom(aq_scope_t *sc)
{
    sp_response_error(sp_request_response(sc->req), 500, "internal_error",
                      "could not build the query");
    return -1;
}

int aq_scope_begin(aq_scope_t *sc, aq_ctx_t *ctx, sp_request_t *req, const char *const *extra,
                   int flags)
{
    sc->ctx = ctx;
    sc->req = req;
    sc->arena = sp_request_arena(req);
    sc->tz = "UTC";
    sc->tz_used = 0;
    const sp_auth_t *who = sp_request_auth(req);
    /* The router has checked the permission; the tenant is what scopes every
     * query, so a caller without one (or with a malformed one) gets nothing. */
    if (!who || !sp_uuid_valid(who->tenant_id)) {
        sp_response_error(sp_request_response(req), 403, "tenant_required",
                          "analytics are read within a tenant");
        return -1;
    }
    sc->tenant = who->tenant_id;
    aq_err_t err;
    if (aq_params_check(req, extra, &err) != 0 || aq_filter_parse(req, &sc->f, &err) != 0)
        return aq_scope_fail(sc, &err);
    int need_tz = (flags & AQ_SCOPE_TZ) || aq_filter_needs_tz(&sc->f);
    if (need_tz) {
        sc->tz = aq_tenant_timezone(ctx, req, sc->tenant);
        sc->tz_used = 1;
    }
    aq_conv_t conv = {ctx, req};
    if (aq_filter_resolve(&sc->f, (int64_t)time(NULL), sc->tz, ctx->set.max_range_days,
                          aq_query_local_to_epoch, &conv, &err) != 0)
        return aq_scope_fail(sc, &err);
    return 0;
}

char *aq_scope_where(aq_scope_t *sc, aq_src_t src, int64_t from, int64_t to)
{
    char *w = aq_filter_where(sc->arena, &sc->f, sc->tenant, src, from, to);
    if (!w)
        aq_scope_oom(sc);
    return w;
}

static void add_range(cJSON *obj, const char *name, int64_t from, int64_t to)
{
    char a[21], b[21];
    aq_time_format_utc(from, a);
    aq_time_format_utc(to, b);
    cJSON *p = cJSON_AddObjectToObject(obj, name);
    cJSON_AddStringToObject(p, "from", a);
    cJSON_AddStringToObject(p, "to", b);
}

void aq_scope_add_period(const aq_scope_t *sc, cJSON *obj, int previous)
{
    add_range(obj, "period", sc->f.from, sc->f.to);
    if (previous)
        add_range(obj, "previous_period", sc->f.prev_from, sc->f.from);
    if (sc->tz_used)
        cJSON_AddStringToObject(obj, "timezone", sc->tz);
}
