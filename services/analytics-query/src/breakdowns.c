/*
 * breakdowns.c — breakdowns by dimension, top keywords, top movers.
 */
#include "breakdowns.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cache.h"
#include "kpis.h"
#include "platform/buf.h"
#include "platform/clickhouse.h"
#include "query.h"
#include "scope.h"

#define VOLUME_SUMS (AQ_SUM_BIT(AQ_S_N) | AQ_SUM_BIT(AQ_S_SENT) | AQ_SUM_BIT(AQ_S_NEG))

/* Finishes b into an arena string, or writes a 500 and gives NULL. */
static char *finish(aq_scope_t *sc, sp_buf_t *b)
{
    char *sql = sp_buf_failed(b) ? NULL : sp_arena_strdup(sc->arena, sp_buf_data(b));
    sp_buf_cleanup(b);
    if (!sql)
        aq_scope_oom(sc);
    return sql;
}

/* A scalar subquery with the window's volume under the filters, from the
 * cheapest source that has it. */
static char *total_subquery(aq_scope_t *sc)
{
    aq_src_t tsrc = aq_filter_source(&sc->f, 1, 0);
    char *where = aq_scope_where(sc, tsrc, sc->f.from, sc->f.to);
    if (!where)
        return NULL;
    sp_buf_t b;
    sp_buf_init(&b, 0);
    sp_buf_puts(&b, "(SELECT ");
    aq_sums_select(&b, tsrc, AQ_SUM_BIT(AQ_S_N), NULL, NULL);
    sp_buf_appendf(&b, " FROM %s WHERE %s)", aq_src_from(tsrc), where);
    return finish(sc, &b);
}

/* Looks the answer up in the cache under route + the filters + extra. */
static int cached(aq_scope_t *sc, const char *route, const char *extra, char **key)
{
    char *canon = aq_filter_canon(sc->arena, &sc->f);
    char *keyed = canon ? sp_arena_printf(sc->arena, "%s|%s", canon, extra) : NULL;
    if (!keyed) {
        aq_scope_oom(sc);
        return 1;
    }
    return aq_cache_lookup(sc->ctx, sc->req, sc->tenant, route, keyed, key);
}

static double ratio_or(double num, double den, int *has)
{
    *has = den > 0;
    return den > 0 ? aq_round6(num / den) : 0;
}

/* ---- breakdown -------------------------------------------------------------- */

static const char *const BREAKDOWN_PARAMS[] = {"by", "limit", NULL};
static const char *const DIMENSIONS[] = {"topic", "intent", "channel", "agent", "language", NULL};

/* Adds the agents' display names (the latest seen in the window) to items. */
static int add_agent_names(aq_scope_t *sc, cJSON *items)
{
    int n = cJSON_GetArraySize(items);
    if (n == 0)
        return 0;
    sp_buf_t b;
    sp_buf_init(&b, 0);
    sp_buf_appendf(&b,
                   "SELECT agent_id, argMax(agent_name, occurred_at) FROM interactions WHERE "
                   "tenant_id = '%s' AND occurred_at >= toDateTime(%lld) AND occurred_at < "
                   "toDateTime(%lld) AND agent_id IN (",
                   sc->tenant, (long long)sc->f.from, (long long)sc->f.to);
    for (int i = 0; i < n; i++) {
        char *q = sp_ch_quote(sc->arena, aq_str(cJSON_GetObjectItemCaseSensitive(
                                             cJSON_GetArrayItem(items, i), "key")));
        if (!q) {
            sp_buf_cleanup(&b);
            return aq_scope_oom(sc);
        }
        sp_buf_appendf(&b, "%s%s", i ? ", " : "", q);
    }
    sp_buf_puts(&b, ") GROUP BY agent_id");
    char *sql = finish(sc, &b);
    cJSON *rows;
    if (!sql || aq_query(sc->ctx, sc->req, sql, (size_t)n, &rows) != 0)
        return -1;
    for (int i = 0; i < n; i++) {
        cJSON *item = cJSON_GetArrayItem(items, i);
        const char *id = aq_str(cJSON_GetObjectItemCaseSensitive(item, "key"));
        const char *name = "";
        cJSON *row;
        cJSON_ArrayForEach(row, rows)
        {
            if (strcmp(aq_str(cJSON_GetArrayItem(row, 0)), id) == 0)
                name = aq_str(cJSON_GetArrayItem(row, 1));
        }
        cJSON_AddStringToObject(item, "name", name);
    }
    return 0;
}

static sp_handler_result_t breakdown_get(sp_request_t *req, void *ud)
{
    aq_ctx_t *ctx = ud;
    aq_scope_t sc;
    if (aq_scope_begin(&sc, ctx, req, BREAKDOWN_PARAMS, 0) != 0)
        return SP_HANDLER_DONE;
    aq_err_t err;
    const char *by = sp_request_query(req, "by");
    int dim = -1;
    for (int i = 0; by && DIMENSIONS[i]; i++)
        if (strcmp(by, DIMENSIONS[i]) == 0)
            dim = i;
    long limit;
    if (dim < 0) {
        aq_err_set(&err, 400, "invalid_parameter",
                   "by: expected topic, intent, channel, agent or language");
        aq_scope_fail(&sc, &err);
        return SP_HANDLER_DONE;
    }
    if (aq_param_int(req, "limit", 10, 1, 100, &limit, &err) != 0) {
        aq_scope_fail(&sc, &err);
        return SP_HANDLER_DONE;
    }
    char extra[64];
    snprintf(extra, sizeof extra, "by%d|l%ld", dim, limit);
    char *key = NULL;
    if (cached(&sc, "breakdown", extra, &key))
        return SP_HANDLER_DONE;

    aq_src_t src;
    const char *keyexpr;
    switch (dim) {
    case 0: /* topic */
        src = aq_filter_source(&sc.f, 1, AQ_BY_TOPIC);
        keyexpr = src == AQ_SRC_TOPICS ? "topic" : "arrayJoin(arrayDistinct(topics))";
        break;
    case 1: /* intent: only the raw table has it */
        src = AQ_SRC_RAW;
        keyexpr = "intent";
        break;
    case 2:
        src = aq_filter_source(&sc.f, 1, 0);
        keyexpr = "channel";
        break;
    case 3: /* agent: interactions_hourly, the rollup that keeps agent_id */
        src = aq_filter_source(&sc.f, 0, AQ_BY_AGENT);
        keyexpr = "agent_id";
        break;
    default:
        src = aq_filter_source(&sc.f, 0, 0);
        keyexpr = "language";
        break;
    }
    char *where = aq_scope_where(&sc, src, sc.f.from, sc.f.to);
    char *total = where ? total_subquery(&sc) : NULL;
    if (!total)
        return SP_HANDLER_DONE;
    sp_buf_t b;
    sp_buf_init(&b, 0);
    sp_buf_appendf(&b, "SELECT toString(%s) AS k, ", keyexpr);
    aq_sums_select(&b, src, VOLUME_SUMS, NULL, "s_");
    sp_buf_appendf(&b, ", %s AS total FROM %s WHERE %s GROUP BY k ORDER BY s_n DESC, k LIMIT %ld",
                   total, aq_src_from(src), where, limit);
    char *sql = finish(&sc, &b);
    cJSON *rows;
    if (!sql || aq_query(ctx, req, sql, (size_t)limit, &rows) != 0)
        return SP_HANDLER_DONE;

    cJSON *body = cJSON_CreateObject();
    if (!body) {
        aq_scope_oom(&sc);
        return SP_HANDLER_DONE;
    }
    cJSON_AddStringToObject(body, "by", DIMENSIONS[dim]);
    aq_scope_add_period(&sc, body, 0);
    cJSON_AddStringToObject(body, "source", aq_src_name(src));
    double tot = 0;
    cJSON *items = cJSON_AddArrayToObject(body, "items");
    cJSON *row;
    cJSON_ArrayForEach(row, rows)
    {
        aq_sums_t s;
        int col = 1, has;
        aq_sums_read(&s, VOLUME_SUMS, row, &col);
        tot = aq_num(cJSON_GetArrayItem(row, col));
        cJSON *it = cJSON_CreateObject();
        cJSON_AddStringToObject(it, "key", aq_str(cJSON_GetArrayItem(row, 0)));
        cJSON_AddNumberToObject(it, "count", s.v[AQ_S_N]);
        double v = ratio_or(s.v[AQ_S_N], tot, &has);
        cJSON_AddItemToObject(it, "share", aq_json_num_or_null(has, v));
        v = ratio_or(s.v[AQ_S_SENT], s.v[AQ_S_N], &has);
        cJSON_AddItemToObject(it, "sentiment_avg", aq_json_num_or_null(has, v));
        v = ratio_or(s.v[AQ_S_NEG], s.v[AQ_S_N], &has);
        cJSON_AddItemToObject(it, "negative_share", aq_json_num_or_null(has, v));
        cJSON_AddItemToArray(items, it);
    }
    if (cJSON_GetArraySize(rows) == 0) {
        /* No group, no total column: ask for the total alone. */
        char *tsql = sp_arena_printf(sc.arena, "SELECT %s", total);
        cJSON *trows;
        if (!tsql || aq_query(ctx, req, tsql, 1, &trows) != 0) {
            cJSON_Delete(body);
            return SP_HANDLER_DONE;
        }
        tot = aq_num(cJSON_GetArrayItem(cJSON_GetArrayItem(trows, 0), 0));
    }
    cJSON_AddNumberToObject(body, "total", isnan(tot) ? 0 : tot);
    if (dim == 3 && add_agent_names(&sc, items) != 0) {
        cJSON_Delete(body);
        return SP_HANDLER_DONE;
    }
    aq_cache_reply(ctx, req, key, body);
    cJSON_Delete(body);
    return SP_HANDLER_DONE;
}

/* ---- keywords ----------------------------------------------------------------- */

static const char *const KEYWORD_PARAMS[] = {"limit", NULL};

static sp_handler_result_t keywords_get(sp_request_t *req, void *ud)
{
    aq_ctx_t *ctx = ud;
    aq_scope_t sc;
    if (aq_scope_begin(&sc, ctx, req, KEYWORD_PARAMS, 0) != 0)
        return SP_HANDLER_DONE;
    aq_err_t err;
    long limit;
    if (aq_param_int(req, "limit", 20, 1, 100, &limit, &err) != 0) {
        aq_scope_fail(&sc, &err);
        return SP_HANDLER_DONE;
    }
    char extra[32];
    snprintf(extra, sizeof extra, "l%ld", limit);
    char *key = NULL;
    if (cached(&sc, "keywords", extra, &key))
        return SP_HANDLER_DONE;
    char *where = aq_scope_where(&sc, AQ_SRC_RAW, sc.f.from, sc.f.to);
    char *total = where ? total_subquery(&sc) : NULL;
    char *sql = total ? sp_arena_printf(sc.arena,
                                        "SELECT arrayJoin(arrayDistinct(keywords)) AS kw, "
                                        "count() AS c, sum(toFloat64(sentiment)) AS s, %s AS total "
                                        "FROM interactions FINAL WHERE %s GROUP BY kw "
                                        "ORDER BY c DESC, kw LIMIT %ld",
                                        total, where, limit)
                      : NULL;
    cJSON *rows;
    if (!total)
        return SP_HANDLER_DONE;
    if (!sql) {
        aq_scope_oom(&sc);
        return SP_HANDLER_DONE;
    }
    if (aq_query(ctx, req, sql, (size_t)limit, &rows) != 0)
        return SP_HANDLER_DONE;
    cJSON *body = cJSON_CreateObject();
    if (!body) {
        aq_scope_oom(&sc);
        return SP_HANDLER_DONE;
    }
    aq_scope_add_period(&sc, body, 0);
    cJSON *items = cJSON_AddArrayToObject(body, "items");
    double tot = NAN;
    cJSON *row;
    cJSON_ArrayForEach(row, rows)
    {
        double c = aq_num(cJSON_GetArrayItem(row, 1)), s = aq_num(cJSON_GetArrayItem(row, 2));
        tot = aq_num(cJSON_GetArrayItem(row, 3));
        int has;
        cJSON *it = cJSON_CreateObject();
        cJSON_AddStringToObject(it, "keyword", aq_str(cJSON_GetArrayItem(row, 0)));
        cJSON_AddNumberToObject(it, "count", c);
        double v = ratio_or(c, tot, &has);
        cJSON_AddItemToObject(it, "share", aq_json_num_or_null(has, v));
        v = ratio_or(s, c, &has);
        cJSON_AddItemToObject(it, "sentiment_avg", aq_json_num_or_null(has, v));
        cJSON_AddItemToArray(items, it);
    }
    if (isnan(tot)) {
        char *tsql = sp_arena_printf(sc.arena, "SELECT %s", total);
        cJSON *trows;
        if (!tsql || aq_query(ctx, req, tsql, 1, &trows) != 0) {
            cJSON_Delete(body);
            return SP_HANDLER_DONE;
        }
        tot = aq_num(cJSON_GetArrayItem(cJSON_GetArrayItem(trows, 0), 0));
    }
    cJSON_AddNumberToObject(body, "total", isnan(tot) ? 0 : tot);
    aq_cache_reply(ctx, req, key, body);
    cJSON_Delete(body);
    return SP_HANDLER_DONE;
}

/* ---- movers ---------------------------------------------------------------------- */

static const char *const MOVER_PARAMS[] = {"by", "limit", "min_volume", NULL};

static sp_handler_result_t movers_get(sp_request_t *req, void *ud)
{
    aq_ctx_t *ctx = ud;
    aq_scope_t sc;
    if (aq_scope_begin(&sc, ctx, req, MOVER_PARAMS, 0) != 0)
        return SP_HANDLER_DONE;
    aq_err_t err;
    const char *by = sp_request_query(req, "by");
    int by_sent = 0;
    if (by && strcmp(by, "sentiment") == 0)
        by_sent = 1;
    else if (by && strcmp(by, "volume") != 0) {
        aq_err_set(&err, 400, "invalid_parameter", "by: expected volume or sentiment");
        aq_scope_fail(&sc, &err);
        return SP_HANDLER_DONE;
    }
    long limit, min_volume;
    if (aq_param_int(req, "limit", 10, 1, 50, &limit, &err) != 0 ||
        aq_param_int(req, "min_volume", 5, 1, 1000000, &min_volume, &err) != 0) {
        aq_scope_fail(&sc, &err);
        return SP_HANDLER_DONE;
    }
    char extra[64];
    snprintf(extra, sizeof extra, "b%d|l%ld|m%ld", by_sent, limit, min_volume);
    char *key = NULL;
    if (cached(&sc, "movers", extra, &key))
        return SP_HANDLER_DONE;

    aq_src_t src = aq_filter_source(&sc.f, 1, AQ_BY_TOPIC);
    const char *keyexpr = src == AQ_SRC_TOPICS ? "topic" : "arrayJoin(arrayDistinct(topics))";
    char *where = aq_scope_where(&sc, src, sc.f.prev_from, sc.f.to);
    if (!where)
        return SP_HANDLER_DONE;
    const char *t = aq_src_time(src);
    char cur[64], prev[64];
    snprintf(cur, sizeof cur, "%s >= toDateTime(%lld)", t, (long long)sc.f.from);
    snprintf(prev, sizeof prev, "%s < toDateTime(%lld)", t, (long long)sc.f.from);
    const unsigned sums = AQ_SUM_BIT(AQ_S_N) | AQ_SUM_BIT(AQ_S_SENT);
    sp_buf_t b;
    sp_buf_init(&b, 0);
    sp_buf_appendf(&b, "SELECT toString(%s) AS k, ", keyexpr);
    aq_sums_select(&b, src, sums, cur, "c_");
    sp_buf_puts(&b, ", ");
    aq_sums_select(&b, src, sums, prev, "p_");
    sp_buf_appendf(&b, " FROM %s WHERE %s GROUP BY k", aq_src_from(src), where);
    if (by_sent)
        sp_buf_appendf(&b,
                       " HAVING c_n >= %ld AND p_n >= %ld"
                       " ORDER BY abs(c_sent / c_n - p_sent / p_n) DESC, k LIMIT %ld",
                       min_volume, min_volume, limit);
    else
        sp_buf_appendf(&b,
                       " HAVING greatest(c_n, p_n) >= %ld"
                       " ORDER BY abs(toInt64(c_n) - toInt64(p_n)) DESC, k LIMIT %ld",
                       min_volume, limit);
    char *sql = finish(&sc, &b);
    cJSON *rows;
    if (!sql || aq_query(ctx, req, sql, (size_t)limit, &rows) != 0)
        return SP_HANDLER_DONE;

    cJSON *body = cJSON_CreateObject();
    if (!body) {
        aq_scope_oom(&sc);
        return SP_HANDLER_DONE;
    }
    cJSON_AddStringToObject(body, "by", by_sent ? "sentiment" : "volume");
    aq_scope_add_period(&sc, body, 1);
    cJSON_AddStringToObject(body, "source", aq_src_name(src));
    cJSON *items = cJSON_AddArrayToObject(body, "items");
    cJSON *row;
    cJSON_ArrayForEach(row, rows)
    {
        aq_sums_t c, p;
        int col = 1;
        aq_sums_read(&c, sums, row, &col);
        aq_sums_read(&p, sums, row, &col);
        cJSON *it = cJSON_CreateObject();
        cJSON_AddStringToObject(it, "topic", aq_str(cJSON_GetArrayItem(row, 0)));
        double cv = 0, pv = 0;
        int hc = aq_kpi_value(AQ_K_SENTIMENT, &c, &cv), hp = aq_kpi_value(AQ_K_SENTIMENT, &p, &pv);
        double delta = by_sent ? cv - pv : c.v[AQ_S_N] - p.v[AQ_S_N];
        cJSON_AddStringToObject(it, "direction", delta > 0 ? "up" : delta < 0 ? "down" : "flat");
        aq_kpi_compare_json(it, "volume", 1, c.v[AQ_S_N], 1, p.v[AQ_S_N]);
        aq_kpi_compare_json(it, "sentiment_avg", hc, cv, hp, pv);
        cJSON_AddItemToArray(items, it);
    }
    aq_cache_reply(ctx, req, key, body);
    cJSON_Delete(body);
    return SP_HANDLER_DONE;
}

static const sp_route_def_t routes[] = {
    {"GET", "/v1/analytics/breakdown", "analytics:read", breakdown_get},
    {"GET", "/v1/analytics/keywords", "analytics:read", keywords_get},
    {"GET", "/v1/analytics/movers", "analytics:read", movers_get},
};

int aq_breakdowns_register(sp_router_t *router, aq_ctx_t *ctx)
{
    return sp_router_add_all(router, routes, sizeof(routes) / sizeof(*routes), ctx);
}
