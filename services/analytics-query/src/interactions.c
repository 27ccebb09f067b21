/*
 * interactions.c — list, search and detail of analysed interactions.
 */
#include "interactions.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "calendar.h"
#include "kpis.h"
#include "platform/clickhouse.h"
#include "platform/text.h"
#include "query.h"
#include "scope.h"

#define MAX_UTTERANCES 10000
#define SNIPPET_BYTES  320

char *aq_snippet(sp_arena_t *arena, const char *s)
{
    size_t len = strlen(s), start = 0;
    /* A cut in the middle of a character leaves continuation bytes in front
     * and an incomplete sequence at the end. */
    while (start < len && ((unsigned char)s[start] & 0xc0) == 0x80)
        start++;
    size_t end = len;
    size_t i = end;
    while (i > start && ((unsigned char)s[i - 1] & 0xc0) == 0x80)
        i--;
    if (i > start) {
        unsigned char lead = (unsigned char)s[i - 1];
        size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
        if (end - (i - 1) < need)
            end = i - 1;
    }
    return sp_arena_strndup(arena, s + start, end - start);
}

static const char *const LIST_PARAMS[] = {"sort", "order", "limit", "offset", NULL};

/* The columns of a list item, in the order read below. */
#define LIST_COLUMNS                                                                               \
    "toString(interaction_id), external_id, toUInt32(occurred_at), channel, language, agent_id, "  \
    "agent_name, sentiment, topics, intent, duration_ms, resolved, escalated, churn_risk, csat, "  \
    "nps, tags"

static void add_strings(cJSON *obj, const char *name, const cJSON *arr)
{
    cJSON *out = cJSON_AddArrayToObject(obj, name);
    const cJSON *v;
    cJSON_ArrayForEach(v, arr)
    {
        cJSON_AddItemToArray(out, cJSON_CreateString(aq_str(v)));
    }
}

static void add_time(cJSON *obj, const char *name, double t)
{
    char iso[21];
    aq_time_format_utc((int64_t)t, iso);
    cJSON_AddStringToObject(obj, name, iso);
}

/* -1 in csat / nps means "not asked". */
static void add_score(cJSON *obj, const char *name, double v)
{
    cJSON_AddItemToObject(obj, name, aq_json_num_or_null(!isnan(v) && v >= 0, v));
}

/* A list item from a row of LIST_COLUMNS (+ the snippet at column 17). */
static cJSON *list_item(const cJSON *row)
{
    cJSON *it = cJSON_CreateObject();
    if (!it)
        return NULL;
    cJSON_AddStringToObject(it, "id", aq_str(cJSON_GetArrayItem(row, 0)));
    cJSON_AddStringToObject(it, "external_id", aq_str(cJSON_GetArrayItem(row, 1)));
    add_time(it, "occurred_at", aq_num(cJSON_GetArrayItem(row, 2)));
    cJSON_AddStringToObject(it, "channel", aq_str(cJSON_GetArrayItem(row, 3)));
    cJSON_AddStringToObject(it, "language", aq_str(cJSON_GetArrayItem(row, 4)));
    cJSON *agent = cJSON_AddObjectToObject(it, "agent");
    cJSON_AddStringToObject(agent, "id", aq_str(cJSON_GetArrayItem(row, 5)));
    cJSON_AddStringToObject(agent, "name", aq_str(cJSON_GetArrayItem(row, 6)));
    cJSON_AddNumberToObject(it, "sentiment", aq_round6(aq_num(cJSON_GetArrayItem(row, 7))));
    add_strings(it, "topics", cJSON_GetArrayItem(row, 8));
    cJSON_AddStringToObject(it, "intent", aq_str(cJSON_GetArrayItem(row, 9)));
    cJSON_AddNumberToObject(it, "duration_ms", aq_num(cJSON_GetArrayItem(row, 10)));
    cJSON_AddBoolToObject(it, "resolved", aq_num(cJSON_GetArrayItem(row, 11)) > 0);
    cJSON_AddBoolToObject(it, "escalated", aq_num(cJSON_GetArrayItem(row, 12)) > 0);
    cJSON_AddBoolToObject(it, "churn_risk", aq_num(cJSON_GetArrayItem(row, 13)) > 0);
    add_score(it, "csat", aq_num(cJSON_GetArrayItem(row, 14)));
    add_score(it, "nps", aq_num(cJSON_GetArrayItem(row, 15)));
    add_strings(it, "tags", cJSON_GetArrayItem(row, 16));
    return it;
}

static sp_handler_result_t list_get(sp_request_t *req, void *ud)
{
    aq_ctx_t *ctx = ud;
    aq_scope_t sc;
    if (aq_scope_begin(&sc, ctx, req, LIST_PARAMS, 0) != 0)
        return SP_HANDLER_DONE;
    aq_err_t err;
    /* Sorting is whitelisted: the client names a key, never a column. */
    const char *sort = sp_request_query(req, "sort"), *order = sp_request_query(req, "order");
    const char *col;
    if (!sort || strcmp(sort, "occurred_at") == 0)
        sort = "occurred_at", col = "occurred_at";
    else if (strcmp(sort, "sentiment") == 0)
        col = "sentiment";
    else if (strcmp(sort, "duration") == 0)
        col = "duration_ms";
    else {
        aq_err_set(&err, 400, "invalid_parameter",
                   "sort: expected occurred_at, sentiment or duration");
        aq_scope_fail(&sc, &err);
        return SP_HANDLER_DONE;
    }
    if (!order)
        order = "desc";
    if (strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0) {
        aq_err_set(&err, 400, "invalid_parameter", "order: expected asc or desc");
        aq_scope_fail(&sc, &err);
        return SP_HANDLER_DONE;
    }
    long limit, offset;
    if (aq_param_int(req, "limit", 50, 1, ctx->set.list_max_limit, &limit, &err) != 0 ||
        aq_param_int(req, "offset", 0, 0, ctx->set.list_max_offset, &offset, &err) != 0) {
        aq_scope_fail(&sc, &err);
        return SP_HANDLER_DONE;
    }
    char *where = aq_scope_where(&sc, AQ_SRC_RAW, sc.f.from, sc.f.to);
    if (!where)
        return SP_HANDLER_DONE;
    /* substringUTF8 takes only constant offsets on ClickHouse 18.16, so the
     * snippet is cut in bytes around the match (found in the lower-cased
     * text) and trimmed to whole UTF-8 characters here. */
    char *snippet;
    if (sc.f.q) {
        char *q = sp_ch_quote(sc.arena, sc.f.q);
        snippet = q ? sp_arena_printf(sc.arena,
                                      "substring(text, toUInt64(greatest(1, toInt64(position("
                                      "lowerUTF8(text), lowerUTF8(%s))) - 80)), %d)",
                                      q, SNIPPET_BYTES)
                    : NULL;
    } else {
        snippet = sp_arena_printf(sc.arena, "substring(text, 1, %d)", SNIPPET_BYTES);
    }
    const char *dir = strcmp(order, "asc") == 0 ? "ASC" : "DESC";
    char *sql = snippet ? sp_arena_printf(sc.arena,
                                          "SELECT " LIST_COLUMNS ", %s FROM interactions FINAL "
                                          "WHERE %s ORDER BY %s %s, interaction_id %s "
                                          "LIMIT %ld, %ld",
                                          snippet, where, col, dir, dir, offset, limit)
                        : NULL;
    /* The total comes from the cheapest source that can count under the
     * filters (the hourly rollup when it can). */
    aq_src_t tsrc = aq_filter_source(&sc.f, 1, 0);
    char *twhere = aq_scope_where(&sc, tsrc, sc.f.from, sc.f.to);
    if (!twhere)
        return SP_HANDLER_DONE;
    sp_buf_t tb;
    sp_buf_init(&tb, 0);
    sp_buf_puts(&tb, "SELECT ");
    aq_sums_select(&tb, tsrc, AQ_SUM_BIT(AQ_S_N), NULL, NULL);
    sp_buf_appendf(&tb, " FROM %s WHERE %s", aq_src_from(tsrc), twhere);
    char *tsql = sp_buf_failed(&tb) ? NULL : sp_arena_strdup(sc.arena, sp_buf_data(&tb));
    sp_buf_cleanup(&tb);
    if (!sql || !tsql) {
        aq_scope_oom(&sc);
        return SP_HANDLER_DONE;
    }
    cJSON *rows, *trows;
    if (aq_query(ctx, req, sql, (size_t)limit, &rows) != 0 ||
        aq_query(ctx, req, tsql, 1, &trows) != 0)
        return SP_HANDLER_DONE;
    double total = aq_num(cJSON_GetArrayItem(cJSON_GetArrayItem(trows, 0), 0));
    if (isnan(total))
        total = 0;

    cJSON *body = cJSON_CreateObject();
    if (!body) {
        aq_scope_oom(&sc);
        return SP_HANDLER_DONE;
    }
    cJSON *items = cJSON_AddArrayToObject(body, "items");
    cJSON *row;
    cJSON_ArrayForEach(row, rows)
    {
        cJSON *it = list_item(row);
        if (!it)
            break;
        const char *snip = aq_snippet(sc.arena, aq_str(cJSON_GetArrayItem(row, 17)));
        cJSON_AddStringToObject(it, "snippet", snip ? snip : "");
        cJSON_AddItemToArray(items, it);
    }
    cJSON_AddNumberToObject(body, "total", total);
    cJSON_AddNumberToObject(body, "limit", (double)limit);
    cJSON_AddNumberToObject(body, "offset", (double)offset);
    long next = offset + limit;
    cJSON_AddItemToObject(
        body, "next_offset",
        aq_json_num_or_null(next < total && next <= ctx->set.list_max_offset, (double)next));
    cJSON_AddStringToObject(body, "sort", sort);
    cJSON_AddStringToObject(body, "order", order);
    aq_scope_add_period(&sc, body, 0);
    sp_response_json(sp_request_response(req), 200, body);
    cJSON_Delete(body);
    return SP_HANDLER_DONE;
}

static sp_handler_result_t detail_get(sp_request_t *req, void *ud)
{
    aq_ctx_t *ctx = ud;
    sp_response_t *resp = sp_request_response(req);
    sp_arena_t *arena = sp_request_arena(req);
    const sp_auth_t *who = sp_request_auth(req);
    if (!who || !sp_uuid_valid(who->tenant_id)) {
        sp_response_error(resp, 403, "tenant_required", "analytics are read within a tenant");
        return SP_HANDLER_DONE;
    }
    const char *id = sp_request_param(req, "id");
    if (!sp_uuid_valid(id)) {
        sp_response_error(resp, 400, "invalid_id", "the interaction id must be a UUID");
        return SP_HANDLER_DONE;
    }
    /* Both ids are validated UUIDs: nothing else can reach the SQL. */
    char *sql = sp_arena_printf(
        arena,
        "SELECT " LIST_COLUMNS ", text, customer_ref, toUInt32(analyzed_at), keywords, "
        "sentiment_customer, sentiment_agent, talk_agent_ms, talk_customer_ms, silence_ratio, "
        "longest_silence_ms, overtalk_ms, pii_redactions, utterance_count "
        "FROM interactions FINAL WHERE tenant_id = '%s' AND interaction_id = '%s' LIMIT 1",
        who->tenant_id, id);
    cJSON *rows;
    if (!sql) {
        sp_response_error(resp, 500, "internal_error", "out of memory");
        return SP_HANDLER_DONE;
    }
    if (aq_query(ctx, req, sql, 1, &rows) != 0)
        return SP_HANDLER_DONE;
    cJSON *row = cJSON_GetArrayItem(rows, 0);
    if (!row) {
        sp_response_error(resp, 404, "interaction_not_found", "no such interaction");
        return SP_HANDLER_DONE;
    }
    double occurred = aq_num(cJSON_GetArrayItem(row, 2));
    char *usql = sp_arena_printf(arena,
                                 "SELECT seq, speaker, start_ms, end_ms, text, sentiment "
                                 "FROM utterances FINAL WHERE tenant_id = '%s' AND "
                                 "occurred_at = toDateTime(%lld) AND interaction_id = '%s' "
                                 "ORDER BY seq LIMIT %d",
                                 who->tenant_id, (long long)occurred, id, MAX_UTTERANCES);
    cJSON *urows;
    if (!usql) {
        sp_response_error(resp, 500, "internal_error", "out of memory");
        return SP_HANDLER_DONE;
    }
    if (aq_query(ctx, req, usql, MAX_UTTERANCES, &urows) != 0)
        return SP_HANDLER_DONE;

    cJSON *it = list_item(row);
    if (!it) {
        sp_response_error(resp, 500, "internal_error", "out of memory");
        return SP_HANDLER_DONE;
    }
    cJSON_AddStringToObject(it, "text", aq_str(cJSON_GetArrayItem(row, 17)));
    cJSON_AddStringToObject(it, "customer_ref", aq_str(cJSON_GetArrayItem(row, 18)));
    add_time(it, "analyzed_at", aq_num(cJSON_GetArrayItem(row, 19)));
    add_strings(it, "keywords", cJSON_GetArrayItem(row, 20));
    cJSON_AddNumberToObject(it, "sentiment_customer",
                            aq_round6(aq_num(cJSON_GetArrayItem(row, 21))));
    cJSON_AddNumberToObject(it, "sentiment_agent", aq_round6(aq_num(cJSON_GetArrayItem(row, 22))));
    cJSON *m = cJSON_AddObjectToObject(it, "call_metrics");
    cJSON_AddNumberToObject(m, "talk_agent_ms", aq_num(cJSON_GetArrayItem(row, 23)));
    cJSON_AddNumberToObject(m, "talk_customer_ms", aq_num(cJSON_GetArrayItem(row, 24)));
    cJSON_AddNumberToObject(m, "silence_ratio", aq_round6(aq_num(cJSON_GetArrayItem(row, 25))));
    cJSON_AddNumberToObject(m, "longest_silence_ms", aq_num(cJSON_GetArrayItem(row, 26)));
    cJSON_AddNumberToObject(m, "overtalk_ms", aq_num(cJSON_GetArrayItem(row, 27)));
    cJSON_AddNumberToObject(it, "pii_redactions", aq_num(cJSON_GetArrayItem(row, 28)));
    cJSON_AddNumberToObject(it, "utterance_count", aq_num(cJSON_GetArrayItem(row, 29)));
    cJSON *tr = cJSON_AddArrayToObject(it, "transcript");
    cJSON *u;
    cJSON_ArrayForEach(u, urows)
    {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "seq", aq_num(cJSON_GetArrayItem(u, 0)));
        cJSON_AddStringToObject(o, "speaker", aq_str(cJSON_GetArrayItem(u, 1)));
        cJSON_AddNumberToObject(o, "start_ms", aq_num(cJSON_GetArrayItem(u, 2)));
        cJSON_AddNumberToObject(o, "end_ms", aq_num(cJSON_GetArrayItem(u, 3)));
        cJSON_AddStringToObject(o, "text", aq_str(cJSON_GetArrayItem(u, 4)));
        cJSON_AddNumberToObject(o, "sentiment", aq_round6(aq_num(cJSON_GetArrayItem(u, 5))));
        cJSON_AddItemToArray(tr, o);
    }
    cJSON_AddBoolToObject(it, "transcript_truncated", cJSON_GetArraySize(urows) >= MAX_UTTERANCES);
    sp_response_json(resp, 200, it);
    cJSON_Delete(it);
    return SP_HANDLER_DONE;
}

static const sp_route_def_t routes[] = {
    {"GET", "/v1/analytics/interactions", "analytics:read", list_get},
    {"GET", "/v1/analytics/interactions/{id}", "analytics:read", detail_get},
};

int aq_interactions_register(sp_router_t *router, aq_ctx_t *ctx)
{
    return sp_router_add_all(router, routes, sizeof(routes) / sizeof(*routes), ctx);
}
