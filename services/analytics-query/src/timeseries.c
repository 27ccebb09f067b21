/*
 * timeseries.c — zero-filled calendar buckets of KPIs.
 */
#include "timeseries.h"

#include <stdio.h>
#include <string.h>

#include "cache.h"
#include "calendar.h"
#include "kpis.h"
#include "platform/buf.h"
#include "platform/clickhouse.h"
#include "query.h"
#include "scope.h"

static const char *const PARAMS[] = {"metric", "interval", NULL};

static sp_handler_result_t timeseries_get(sp_request_t *req, void *ud)
{
    aq_ctx_t *ctx = ud;
    aq_scope_t sc;
    if (aq_scope_begin(&sc, ctx, req, PARAMS, AQ_SCOPE_TZ) != 0)
        return SP_HANDLER_DONE;
    aq_err_t err;

    aq_interval_t iv = AQ_IV_DAY;
    const char *ivs = sp_request_query(req, "interval");
    if (ivs && aq_interval_parse(ivs, &iv) != 0) {
        aq_err_set(&err, 400, "invalid_parameter", "interval: expected day, week or month");
        aq_scope_fail(&sc, &err);
        return SP_HANDLER_DONE;
    }
    /* The metrics, deduplicated, in the order asked. */
    int metrics[AQ_K_COUNT], n_metrics = 0;
    const char *ms = sp_request_query(req, "metric");
    char *list = sp_arena_strdup(sc.arena, ms ? ms : "volume");
    if (!list) {
        aq_scope_oom(&sc);
        return SP_HANDLER_DONE;
    }
    unsigned needs = 0, seen = 0;
    for (char *save = NULL, *m = strtok_r(list, ",", &save); m; m = strtok_r(NULL, ",", &save)) {
        int k = aq_kpi_parse(m);
        if (k < 0) {
            aq_err_set(&err, 400, "invalid_parameter", "metric: unknown metric '%.40s'", m);
            aq_scope_fail(&sc, &err);
            return SP_HANDLER_DONE;
        }
        if (!(seen & (1u << k))) {
            seen |= 1u << k;
            metrics[n_metrics++] = k;
            needs |= aq_kpi_needs((aq_kpi_t)k);
        }
    }
    if (!n_metrics) {
        aq_err_set(&err, 400, "invalid_parameter", "metric: name at least one metric");
        aq_scope_fail(&sc, &err);
        return SP_HANDLER_DONE;
    }

    /* The cache key holds the metrics in the order asked (the order of the
     * answer's fields), the interval and the zone. */
    char *canon = aq_filter_canon(sc.arena, &sc.f);
    char *keyed = canon ? sp_arena_printf(sc.arena, "%s|i%d|tz%s|m", canon, (int)iv, sc.tz) : NULL;
    for (int i = 0; keyed && i < n_metrics; i++)
        keyed = sp_arena_printf(sc.arena, "%s%d,", keyed, metrics[i]);
    if (!keyed) {
        aq_scope_oom(&sc);
        return SP_HANDLER_DONE;
    }
    char *key = NULL;
    if (aq_cache_lookup(ctx, req, sc.tenant, "timeseries", keyed, &key))
        return SP_HANDLER_DONE;

    int64_t first_day, last_day;
    if (aq_query_local_days(ctx, req, sc.tz, sc.f.from, sc.f.to - 1, &first_day, &last_day) != 0)
        return SP_HANDLER_DONE;
    size_t n_buckets = aq_bucket_count(first_day, last_day, iv);

    aq_src_t src = aq_filter_source(&sc.f, (needs & ~AQ_SUMS_TOPICS) == 0, 0);
    char *where = aq_scope_where(&sc, src, sc.f.from, sc.f.to);
    char *qtz = sp_ch_quote(sc.arena, sc.tz);
    char bucket[160];
    if (!where || !qtz || aq_bucket_sql(iv, aq_src_time(src), qtz, bucket, sizeof bucket) != 0) {
        if (where)
            aq_scope_oom(&sc);
        return SP_HANDLER_DONE;
    }
    sp_buf_t b;
    sp_buf_init(&b, 0);
    sp_buf_appendf(&b, "SELECT toString(%s) AS b, ", bucket);
    aq_sums_select(&b, src, needs, NULL, "s_");
    sp_buf_appendf(&b, " FROM %s WHERE %s GROUP BY b ORDER BY b LIMIT %zu", aq_src_from(src), where,
                   n_buckets + 2);
    char *sql = sp_buf_failed(&b) ? NULL : sp_arena_strdup(sc.arena, sp_buf_data(&b));
    sp_buf_cleanup(&b);
    cJSON *rows;
    if (!sql) {
        aq_scope_oom(&sc);
        return SP_HANDLER_DONE;
    }
    if (aq_query(ctx, req, sql, n_buckets + 2, &rows) != 0)
        return SP_HANDLER_DONE;

    cJSON *body = cJSON_CreateObject();
    if (!body) {
        aq_scope_oom(&sc);
        return SP_HANDLER_DONE;
    }
    cJSON_AddStringToObject(body, "interval", aq_interval_name(iv));
    aq_scope_add_period(&sc, body, 0);
    cJSON_AddStringToObject(body, "source", aq_src_name(src));
    cJSON *names = cJSON_AddArrayToObject(body, "metrics");
    for (int i = 0; i < n_metrics; i++)
        cJSON_AddItemToArray(names, cJSON_CreateString(aq_kpi_name((aq_kpi_t)metrics[i])));
    cJSON *points = cJSON_AddArrayToObject(body, "points");

    /* Rows come sorted by bucket; walk the buckets and take a row when it
     * matches, zeros otherwise. */
    int r = 0, n_rows = cJSON_GetArraySize(rows);
    int64_t end = aq_bucket_floor(last_day, iv);
    for (int64_t day = aq_bucket_floor(first_day, iv); day <= end; day = aq_bucket_next(day, iv)) {
        aq_sums_t s = {{0}};
        int64_t row_day;
        while (r < n_rows &&
               (aq_date_parse(aq_str(cJSON_GetArrayItem(cJSON_GetArrayItem(rows, r), 0)),
                              &row_day) != 0 ||
                row_day < day))
            r++; /* a row outside the buckets cannot happen; skip it if it does */
        if (r < n_rows && row_day == day) {
            int col = 1;
            aq_sums_read(&s, needs, cJSON_GetArrayItem(rows, r), &col);
            r++;
        }
        char label[11];
        aq_date_format(day, label);
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "bucket", label);
        for (int i = 0; i < n_metrics; i++) {
            double v = 0;
            int has = aq_kpi_value((aq_kpi_t)metrics[i], &s, &v);
            cJSON_AddItemToObject(p, aq_kpi_name((aq_kpi_t)metrics[i]),
                                  aq_json_num_or_null(has, v));
        }
        cJSON_AddItemToArray(points, p);
    }
    aq_cache_reply(ctx, req, key, body);
    cJSON_Delete(body);
    return SP_HANDLER_DONE;
}

int aq_timeseries_register(sp_router_t *router, aq_ctx_t *ctx)
{
    return sp_router_add(router, "GET", "/v1/analytics/timeseries", "analytics:read",
                         timeseries_get, ctx);
}
