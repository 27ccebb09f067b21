/*
 * listing.c — filtered, paginated lists (listing.h).
 */
#include "listing.h"

#include "platform/buf.h"
#include "platform/error.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILTERS 16
#define MAX_SQL     16384

/* A base-10 integer query parameter in [min, max]; def when absent. */
static int query_int(sp_request_t *req, const char *name, int def, int min, int max, int *out)
{
    const char *v = sp_request_query(req, name);
    if (!v || !*v) {
        *out = def;
        return SP_OK;
    }
    char *end = NULL;
    long n = strtol(v, &end, 10);
    if (*end || n < min || n > max)
        return SP_EINVAL;
    *out = (int)n;
    return SP_OK;
}

/* The value of each filter (NULL = not applied) into values; replies 400
 * and returns SP_EINVAL for a query value that fails its checks. */
static int read_filters(sp_request_t *req, const tm_list_filter_t *filters, size_t n,
                        const char **values)
{
    for (size_t i = 0; i < n; i++) {
        const tm_list_filter_t *f = &filters[i];
        const char *v = f->param ? sp_request_query(req, f->param) : f->value;
        values[i] = v && *v ? v : NULL;
        if (!f->param || !values[i])
            continue;
        if ((f->choices && !tm_is_one_of(values[i], f->choices)) ||
            (f->valid && !f->valid(values[i]))) {
            sp_response_error(sp_request_response(req), 400, f->code, "%s", f->message);
            return SP_EINVAL;
        }
    }
    return SP_OK;
}

/* Appends " AND (cond)" for each applied filter, its '$' numbered from
 * *np + 1 on, and collects the values into params. */
static void append_conditions(sp_buf_t *sql, const tm_list_filter_t *filters, size_t n,
                              const char *const *values, const char **params, int *np)
{
    for (size_t i = 0; i < n; i++) {
        if (!values[i])
            continue;
        params[*np] = values[i];
        ++*np;
        sp_buf_puts(sql, " AND (");
        for (const char *c = filters[i].cond; *c; c++) {
            if (*c == '$')
                sp_buf_appendf(sql, "$%d", *np);
            else
                sp_buf_putc(sql, *c);
        }
        sp_buf_putc(sql, ')');
    }
}

/* Runs sql in the request's transaction and replies its one JSON value. */
static int run(tm_t *tm, sp_request_t *req, const tm_list_t *list, sp_buf_t *sql, int np,
               const char *const *params)
{
    if (sp_buf_failed(sql)) {
        sp_buf_cleanup(sql);
        sp_response_error(sp_request_response(req), 500, "internal", "out of memory");
        return SP_ENOMEM;
    }
    sp_db_tx_t *tx = NULL;
    PGresult *res = NULL;
    int rc = tm_tx_begin(tm, req, &tx);
    if (rc == 0) {
        rc = sp_db_tx_query_arena(tx, sp_request_arena(req), sp_buf_data(sql), np, params, &res);
        if (rc == SP_EDB && list->bad_value_code && strncmp(sp_db_tx_sqlstate(tx), "22", 2) == 0)
            sp_response_error(sp_request_response(req), 400, list->bad_value_code, "%s",
                              list->bad_value_message);
        else if (rc != 0)
            tm_reply_db_error(req, rc);
        else
            tm_reply_json(req, 200, PQgetvalue(res, 0, 0));
        sp_db_tx_rollback(&tx);
    }
    sp_buf_cleanup(sql);
    return rc;
}

int tm_list_reply_page(tm_t *tm, sp_request_t *req, const tm_list_t *list,
                       const tm_list_filter_t *filters, size_t n_filters)
{
    int page, per_page;
    if (query_int(req, "page", 1, 1, 1000000, &page) != 0 ||
        query_int(req, "per_page", 50, 1, 200, &per_page) != 0) {
        sp_response_error(sp_request_response(req), 400, "invalid_pagination",
                          "page must be >= 1 and per_page between 1 and 200");
        return SP_EINVAL;
    }
    const char *values[MAX_FILTERS], *params[MAX_FILTERS + 2];
    assert(n_filters <= MAX_FILTERS); /* the tables are static */
    int rc = read_filters(req, filters, n_filters, values);
    if (rc != 0)
        return rc;
    sp_arena_t *arena = sp_request_arena(req);
    int np = 0;
    sp_buf_t sql;
    sp_buf_init(&sql, MAX_SQL);
    sp_buf_appendf(&sql, "WITH f AS (SELECT x FROM %s x WHERE true", list->table);
    append_conditions(&sql, filters, n_filters, values, params, &np);
    params[np] = sp_arena_printf(arena, "%d", per_page);
    params[np + 1] = sp_arena_printf(arena, "%d", (page - 1) * per_page);
    const char *dir = list->newest_first ? " DESC" : "";
    int lim = np + 1, off = np + 2;
    sp_buf_appendf(&sql,
                   ") SELECT jsonb_build_object('items', coalesce((SELECT jsonb_agg(%s(p.x) "
                   "ORDER BY (p.x).created_at%s, (p.x).id) FROM (SELECT x FROM f ORDER BY "
                   "(x).created_at%s, (x).id LIMIT $%d::int OFFSET $%d::int) p), '[]'::jsonb), "
                   "'total', (SELECT count(*) FROM f), 'page', $%d::int / $%d::int + 1, "
                   "'per_page', $%d::int)",
                   list->json_fn, dir, dir, lim, off, off, lim, lim);
    return run(tm, req, list, &sql, np + 2, params);
}

int tm_list_reply_keyset(tm_t *tm, sp_request_t *req, const tm_list_t *list,
                         const tm_list_filter_t *filters, size_t n_filters)
{
    int limit;
    if (query_int(req, "limit", 50, 1, 200, &limit) != 0) {
        sp_response_error(sp_request_response(req), 400, "invalid_pagination",
                          "limit must be between 1 and 200");
        return SP_EINVAL;
    }
    const char *values[MAX_FILTERS], *params[MAX_FILTERS + 1];
    assert(n_filters <= MAX_FILTERS); /* the tables are static */
    int rc = read_filters(req, filters, n_filters, values);
    if (rc != 0)
        return rc;
    int np = 0;
    sp_buf_t sql;
    sp_buf_init(&sql, MAX_SQL);
    sp_buf_appendf(&sql, "WITH page AS (SELECT x FROM %s x WHERE true", list->table);
    append_conditions(&sql, filters, n_filters, values, params, &np);
    params[np] = sp_arena_printf(sp_request_arena(req), "%d", limit);
    int lim = np + 1;
    /* One more row than asked tells whether a next page exists. */
    sp_buf_appendf(&sql,
                   " ORDER BY x.id DESC LIMIT $%d::int + 1), shown AS (SELECT x FROM page ORDER "
                   "BY (x).id DESC LIMIT $%d::int) SELECT jsonb_build_object('items', "
                   "coalesce((SELECT jsonb_agg(%s(s.x) ORDER BY (s.x).id DESC) FROM shown s), "
                   "'[]'::jsonb), 'next_cursor', CASE WHEN (SELECT count(*) FROM page) > "
                   "$%d::int THEN (SELECT (x).id::text FROM shown ORDER BY (x).id LIMIT 1) END)",
                   lim, lim, list->json_fn, lim);
    return run(tm, req, list, &sql, np + 1, params);
}
