/*
 * export.c — CSV export in bounded, cursor-linked chunks.
 */
#include "export.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar.h"
#include "csv.h"
#include "filters.h"
#include "platform/buf.h"
#include "platform/error.h"
#include "platform/text.h"
#include "query.h"
#include "scope.h"

#define PAGE_ROWS 1000

static const char *const PARAMS[] = {"limit", "cursor", NULL};

static const char *const HEADER[] = {
    "id",
    "occurred_at",
    "external_id",
    "channel",
    "language",
    "agent_id",
    "agent_name",
    "intent",
    "topics",
    "keywords",
    "tags",
    "sentiment",
    "sentiment_customer",
    "sentiment_agent",
    "duration_ms",
    "silence_ratio",
    "resolved",
    "escalated",
    "churn_risk",
    "csat",
    "nps",
    "text",
    NULL,
};

#define COLUMNS                                                                                    \
    "toString(interaction_id), toUInt32(occurred_at), external_id, channel, language, agent_id, "  \
    "agent_name, intent, topics, keywords, tags, sentiment, sentiment_customer, sentiment_agent, " \
    "duration_ms, silence_ratio, resolved, escalated, churn_risk, csat, nps, text"

int aq_export_cursor_parse(const char *s, long long *t, char id[37])
{
    if (!s)
        return SP_EINVAL;
    const char *us = strchr(s, '_');
    if (!us || us == s || us - s > 10 || !sp_uuid_valid(us + 1))
        return SP_EINVAL;
    long long v = 0;
    for (const char *p = s; p < us; p++) {
        if (*p < '0' || *p > '9')
            return SP_EINVAL;
        v = v * 10 + (*p - '0');
    }
    *t = v;
    memcpy(id, us + 1, 36);
    id[36] = '\0';
    return 0;
}

static void list_cell(sp_buf_t *b, const cJSON *arr)
{
    sp_buf_t joined;
    sp_buf_init(&joined, 0);
    const cJSON *v;
    int first = 1;
    cJSON_ArrayForEach(v, arr)
    {
        if (!first)
            sp_buf_putc(&joined, '|');
        first = 0;
        sp_buf_puts(&joined, aq_str(v));
    }
    aq_csv_text(b, sp_buf_data(&joined));
    sp_buf_cleanup(&joined);
}

static void num_cell(sp_buf_t *b, const cJSON *v, int score)
{
    double d = aq_num(v);
    if (isnan(d) || (score && d < 0))
        return; /* empty cell: not asked */
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%.6g", d);
    aq_csv_plain(b, tmp);
}

static void bool_cell(sp_buf_t *b, const cJSON *v)
{
    aq_csv_plain(b, aq_num(v) > 0 ? "true" : "false");
}

/* Appends one CSV row of a COLUMNS row. */
static void csv_row(sp_buf_t *b, const cJSON *row)
{
    char iso[21];
    aq_time_format_utc((int64_t)aq_num(cJSON_GetArrayItem(row, 1)), iso);
    aq_csv_plain(b, aq_str(cJSON_GetArrayItem(row, 0)));
    aq_csv_sep(b);
    aq_csv_plain(b, iso);
    for (int c = 2; c <= 7; c++) {
        aq_csv_sep(b);
        aq_csv_text(b, aq_str(cJSON_GetArrayItem(row, c)));
    }
    for (int c = 8; c <= 10; c++) {
        aq_csv_sep(b);
        list_cell(b, cJSON_GetArrayItem(row, c));
    }
    for (int c = 11; c <= 15; c++) {
        aq_csv_sep(b);
        num_cell(b, cJSON_GetArrayItem(row, c), 0);
    }
    for (int c = 16; c <= 18; c++) {
        aq_csv_sep(b);
        bool_cell(b, cJSON_GetArrayItem(row, c));
    }
    for (int c = 19; c <= 20; c++) {
        aq_csv_sep(b);
        num_cell(b, cJSON_GetArrayItem(row, c), 1);
    }
    aq_csv_sep(b);
    aq_csv_text(b, aq_str(cJSON_GetArrayItem(row, 21)));
    aq_csv_eol(b);
}

static sp_handler_result_t export_get(sp_request_t *req, void *ud)
{
    aq_ctx_t *ctx = ud;
    aq_scope_t sc;
    if (aq_scope_begin(&sc, ctx, req, PARAMS, 0) != 0)
        return SP_HANDLER_DONE;
    aq_err_t err;
    long limit;
    if (aq_param_int(req, "limit", ctx->set.export_max_rows, 1, ctx->set.export_max_rows, &limit,
                     &err) != 0) {
        aq_scope_fail(&sc, &err);
        return SP_HANDLER_DONE;
    }
    long long cur_t = 0;
    char cur_id[37] = "";
    int has_cursor = 0;
    const char *cursor = sp_request_query(req, "cursor");
    if (cursor) {
        if (aq_export_cursor_parse(cursor, &cur_t, cur_id) != 0) {
            aq_err_set(&err, 400, "invalid_parameter", "cursor: not a cursor of this export");
            aq_scope_fail(&sc, &err);
            return SP_HANDLER_DONE;
        }
        has_cursor = 1;
    }
    char *where = aq_scope_where(&sc, AQ_SRC_RAW, sc.f.from, sc.f.to);
    if (!where)
        return SP_HANDLER_DONE;

    sp_buf_t csv;
    sp_buf_init(&csv, 0);
    for (int i = 0; HEADER[i]; i++) {
        if (i)
            aq_csv_sep(&csv);
        aq_csv_plain(&csv, HEADER[i]);
    }
    aq_csv_eol(&csv);

    long written = 0;
    int more = 0;
    sp_buf_t row;
    sp_buf_init(&row, 0);
    for (;;) {
        long want = limit - written < PAGE_ROWS ? limit - written : PAGE_ROWS;
        /* One row past the page tells whether anything follows it. */
        char *keyset = has_cursor ? sp_arena_printf(sc.arena,
                                                    " AND (occurred_at < toDateTime(%lld) OR "
                                                    "(occurred_at = toDateTime(%lld) AND "
                                                    "interaction_id < toUUID('%s')))",
                                                    cur_t, cur_t, cur_id)
                                  : "";
        char *sql = keyset ? sp_arena_printf(sc.arena,
                                             "SELECT " COLUMNS " FROM interactions FINAL WHERE "
                                             "%s%s ORDER BY occurred_at DESC, interaction_id DESC "
                                             "LIMIT %ld",
                                             where, keyset, want + 1)
                           : NULL;
        cJSON *rows;
        if (!sql) {
            aq_scope_oom(&sc);
            goto done;
        }
        if (aq_query(ctx, req, sql, (size_t)want + 1, &rows) != 0)
            goto done;
        int n = cJSON_GetArraySize(rows), stopped = 0;
        for (int i = 0; i < n && i < want; i++) {
            cJSON *r = cJSON_GetArrayItem(rows, i);
            sp_buf_cleanup(&row);
            csv_row(&row, r);
            if (written > 0 && sp_buf_len(&csv) + sp_buf_len(&row) > ctx->set.export_max_bytes) {
                stopped = 1;
                break;
            }
            sp_buf_append(&csv, sp_buf_data(&row), sp_buf_len(&row));
            written++;
            cur_t = (long long)aq_num(cJSON_GetArrayItem(r, 1));
            snprintf(cur_id, sizeof cur_id, "%s", aq_str(cJSON_GetArrayItem(r, 0)));
            has_cursor = 1;
        }
        if (stopped || (n > want && written >= limit)) {
            more = 1;
            break;
        }
        if (n <= want)
            break; /* the last page */
    }
    if (sp_buf_failed(&csv) || sp_buf_failed(&row)) {
        aq_scope_oom(&sc);
        goto done;
    }
    /* The file is named after the window's first and last local dates. */
    int64_t first_day, last_day;
    if (aq_query_local_days(ctx, req, sc.tz, sc.f.from, sc.f.to - 1, &first_day, &last_day) != 0)
        goto done;
    sp_response_t *resp = sp_request_response(req);
    char from[11], to[11], name[96], count[24];
    aq_date_format(first_day, from);
    aq_date_format(last_day, to);
    snprintf(name, sizeof name, "attachment; filename=\"interactions_%s_%s.csv\"", from, to);
    snprintf(count, sizeof count, "%ld", written);
    if (sp_response_set_body(resp, sp_buf_data(&csv), sp_buf_len(&csv),
                             "text/csv; charset=utf-8") != 0 ||
        sp_response_set_header(resp, "Content-Disposition", name) != 0 ||
        sp_response_set_header(resp, "X-Export-Rows", count) != 0 ||
        sp_response_set_header(resp, "X-Export-Truncated", more ? "true" : "false") != 0) {
        aq_scope_oom(&sc);
        goto done;
    }
    if (more) {
        char next[64];
        snprintf(next, sizeof next, "%lld_%s", cur_t, cur_id);
        if (sp_response_set_header(resp, "X-Export-Next-Cursor", next) != 0) {
            aq_scope_oom(&sc);
            goto done;
        }
    }
    sp_response_set_status(resp, 200);
done:
    sp_buf_cleanup(&row);
    sp_buf_cleanup(&csv);
    return SP_HANDLER_DONE;
}

int aq_export_register(sp_router_t *router, aq_ctx_t *ctx)
{
    return sp_router_add(router, "GET", "/v1/analytics/export.csv", "analytics:export", export_get,
                         ctx);
}
