/*
 * query.h — running one analytics query on ClickHouse for a request.
 *
 * Every query gets the service's limits appended as SETTINGS:
 * max_execution_time (the configured query timeout, shortened to what is
 * left of the request's RPC deadline) and max_result_rows with
 * result_overflow_mode='throw', so neither a slow scan nor a runaway result
 * can hold a worker. ClickHouse 18.16 honours max_execution_time in a
 * query's SETTINGS clause but not max_result_rows (it reads result limits
 * only from the request's URL parameters, which sp_ch_exec does not send),
 * so every caller also bounds its result in SQL: a LIMIT, or a shape that
 * cannot exceed it (one row; one row per bucket). Results come back as
 * JSONCompact and are parsed into cJSON owned by the request's arena.
 *
 * Failures are answered here, with the platform's error shape:
 *   504 query_timeout           the query hit its time limit
 *   503 clickhouse_unavailable  ClickHouse cannot be reached
 *   500 query_failed            ClickHouse refused the query (logged)
 *
 * Metrics: serphona_analytics_query_seconds{result} (ok | timeout | error).
 */
#ifndef AQ_QUERY_H
#define AQ_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "context.h"
#include "platform/request.h"

/* Runs sql (a SELECT without SETTINGS or FORMAT) for req, allowing at most
 * max_rows result rows. On 0, *rows is the JSON array of rows (each an
 * array of columns), owned by req's arena. On failure the error response has
 * been written and a negative SP_E* is returned. */
int aq_query(aq_ctx_t *ctx, sp_request_t *req, const char *sql, size_t max_rows, cJSON **rows);

/* A column as a number: a JSON number, or a string holding one (ClickHouse
 * quotes 64-bit integers); NAN otherwise. */
double aq_num(const cJSON *v);

/* A column as a string ("" when not a string). */
const char *aq_str(const cJSON *v);

/* The aq_local_fn of filters.h over ClickHouse: ud is an sp_request_t * of
 * an aq_query-capable request; the local time is converted with
 * toDateTime(local, tz). */
typedef struct {
    aq_ctx_t *ctx;
    sp_request_t *req;
} aq_conv_t;
int aq_query_local_to_epoch(void *ud, const char *tz, const char *local, int64_t *epoch);

/* The local calendar days (day numbers, see calendar.h) of the instants a
 * and b in tz: computed here for "UTC", else asked of ClickHouse. Returns 0
 * or a negative SP_E* (the response has then been written). */
int aq_query_local_days(aq_ctx_t *ctx, sp_request_t *req, const char *tz, int64_t a, int64_t b,
                        int64_t *day_a, int64_t *day_b);

#endif
