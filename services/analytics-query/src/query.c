/*
 * query.c — ClickHouse queries with limits, errors as HTTP answers.
 */
#include "query.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "calendar.h"
#include "platform/arena.h"
#include "platform/clickhouse.h"
#include "platform/clock.h"
#include "platform/error.h"
#include "platform/log.h"
#include "platform/metrics.h"

static void json_delete(void *p)
{
    cJSON_Delete(p);
}

static sp_histogram_t *latency;
static pthread_once_t latency_once = PTHREAD_ONCE_INIT;

static void declare_metrics(void)
{
    latency = sp_histogram_new("serphona_analytics_query_seconds",
                               "ClickHouse query time of analytics-query.", NULL, 0, 1, "result");
}

int aq_query(aq_ctx_t *ctx, sp_request_t *req, const char *sql, size_t max_rows, cJSON **rows)
{
    pthread_once(&latency_once, declare_metrics);
    sp_response_t *resp = sp_request_response(req);
    sp_arena_t *arena = sp_request_arena(req);
    *rows = NULL;
    sp_ch_t *ch = aq_ctx_ch(ctx);
    if (!ch) {
        sp_response_error(resp, 503, "clickhouse_unavailable", "ClickHouse is not connected");
        return SP_EUNAVAILABLE;
    }
    /* The budget: the configured timeout, or less when the caller's deadline
     * (the gateway's upstream timeout) comes first; whole seconds, at least 1. */
    int64_t budget_ms = ctx->set.query_timeout_ms;
    int64_t deadline = sp_request_deadline(req);
    if (deadline > 0 && deadline - sp_clock_wall_ms() - 200 < budget_ms)
        budget_ms = deadline - sp_clock_wall_ms() - 200;
    if (budget_ms < 1000)
        budget_ms = 1000;
    long secs = (long)((budget_ms + 999) / 1000);
    if (max_rows == 0)
        max_rows = 1;
    char *full = sp_arena_printf(arena,
                                 "%s SETTINGS max_execution_time = %ld, max_result_rows = %zu, "
                                 "result_overflow_mode = 'throw' FORMAT JSONCompact",
                                 sql, secs, max_rows);
    if (!full) {
        sp_response_error(resp, 500, "internal_error", "out of memory");
        return SP_ENOMEM;
    }
    char *out = NULL;
    size_t len = 0;
    int64_t t0 = sp_clock_mono_ms();
    int rc = sp_ch_exec(ch, full, NULL, 0, &out, &len);
    int64_t elapsed = sp_clock_mono_ms() - t0;
    /* ClickHouse reports its own timeout as a refused query; tell it from
     * other refusals by how long the query ran. */
    int timed_out = rc == SP_ETIMEDOUT || (rc == SP_EDB && elapsed >= secs * 1000 - 100);
    sp_histogram_observe(latency, (double)elapsed / 1000.0,
                         rc == 0     ? "ok"
                         : timed_out ? "timeout"
                                     : "error");
    if (rc != 0) {
        if (timed_out) {
            sp_log_warn("analytics query timed out after %lld ms", (long long)elapsed);
            sp_response_error(resp, 504, "query_timeout",
                              "the query took longer than %ld s; narrow the window or filters",
                              secs);
        } else if (rc == SP_EUNAVAILABLE) {
            sp_response_error(resp, 503, "clickhouse_unavailable", "ClickHouse is unavailable");
        } else {
            sp_log_error("analytics query failed: %s", sp_strerror(rc));
            sp_response_error(resp, 500, "query_failed", "the analytics query failed");
        }
        return rc;
    }
    cJSON *doc = cJSON_ParseWithLength(out, len);
    free(out);
    if (!doc || sp_arena_defer(arena, json_delete, doc) != 0) {
        sp_log_error("ClickHouse answered with unreadable JSON");
        sp_response_error(resp, 500, "query_failed", "the analytics query failed");
        return SP_EPROTO;
    }
    cJSON *data = cJSON_GetObjectItemCaseSensitive(doc, "data");
    if (!cJSON_IsArray(data)) {
        sp_response_error(resp, 500, "query_failed", "the analytics query failed");
        return SP_EPROTO;
    }
    *rows = data;
    return SP_OK;
}

double aq_num(const cJSON *v)
{
    if (cJSON_IsNumber(v))
        return v->valuedouble;
    if (cJSON_IsString(v) && v->valuestring) {
        char *end = NULL;
        double d = strtod(v->valuestring, &end);
        if (end != v->valuestring && *end == '\0')
            return d;
    }
    if (cJSON_IsBool(v))
        return cJSON_IsTrue(v) ? 1 : 0;
    return NAN;
}

const char *aq_str(const cJSON *v)
{
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : "";
}

int aq_query_local_to_epoch(void *ud, const char *tz, const char *local, int64_t *epoch)
{
    aq_conv_t *c = ud;
    sp_arena_t *arena = sp_request_arena(c->req);
    char *qlocal = sp_ch_quote(arena, local), *qtz = sp_ch_quote(arena, tz);
    char *sql = qlocal && qtz
                    ? sp_arena_printf(arena, "SELECT toUInt32(toDateTime(%s, %s))", qlocal, qtz)
                    : NULL;
    if (!sql)
        return SP_ENOMEM;
    cJSON *rows;
    int rc = aq_query(c->ctx, c->req, sql, 1, &rows);
    if (rc)
        return rc;
    double d = aq_num(cJSON_GetArrayItem(cJSON_GetArrayItem(rows, 0), 0));
    if (isnan(d))
        return SP_EPROTO;
    *epoch = (int64_t)d;
    return SP_OK;
}

int aq_query_local_days(aq_ctx_t *ctx, sp_request_t *req, const char *tz, int64_t a, int64_t b,
                        int64_t *day_a, int64_t *day_b)
{
    if (strcmp(tz, "UTC") == 0) {
        *day_a = a / 86400;
        *day_b = b / 86400;
        return SP_OK;
    }
    sp_arena_t *arena = sp_request_arena(req);
    char *qtz = sp_ch_quote(arena, tz);
    char *sql = qtz ? sp_arena_printf(arena,
                                      "SELECT toString(toDate(toDateTime(%lld), %s)), "
                                      "toString(toDate(toDateTime(%lld), %s))",
                                      (long long)a, qtz, (long long)b, qtz)
                    : NULL;
    if (!sql) {
        sp_response_error(sp_request_response(req), 500, "internal_error", "out of memory");
        return SP_ENOMEM;
    }
    cJSON *rows;
    int rc = aq_query(ctx, req, sql, 1, &rows);
    if (rc)
        return rc;
    cJSON *row = cJSON_GetArrayItem(rows, 0);
    if (aq_date_parse(aq_str(cJSON_GetArrayItem(row, 0)), day_a) != 0 ||
        aq_date_parse(aq_str(cJSON_GetArrayItem(row, 1)), day_b) != 0) {
        sp_response_error(sp_request_response(req), 500, "query_failed",
                          "could not read local dates");
        return SP_EPROTO;
    }
    return SP_OK;
}
