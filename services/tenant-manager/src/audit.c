/*
 * audit.c — the audit log's listing route (audit.h).
 */
#include "audit.h"

#include "platform/error.h"

#include <stdlib.h>
#include <string.h>

/* The query parameter, or NULL when absent or empty. */
static const char *opt(sp_request_t *req, const char *name)
{
    const char *v = sp_request_query(req, name);
    return v && *v ? v : NULL;
}

/* RFC 3339 starts "YYYY-MM-DDT"; PostgreSQL would also take words like
 * "yesterday", which an API should not. The rest is parsed by PostgreSQL. */
static int looks_rfc3339(const char *s)
{
    static const char shape[] = "dddd-dd-ddT";
    for (size_t i = 0; i < sizeof(shape) - 1; i++) {
        if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != shape[i])
            return 0;
    }
    return 1;
}

static sp_handler_result_t list_audit(sp_request_t *req, void *ud)
{
    tm_t *tm = ud;
    sp_response_t *resp = sp_request_response(req);
    const char *limit = opt(req, "limit");
    int n = 50;
    if (limit) {
        char *end = NULL;
        long v = strtol(limit, &end, 10);
        if (*end || v < 1 || v > 200) {
            sp_response_error(resp, 400, "invalid_pagination", "limit must be between 1 and 200");
            return SP_HANDLER_DONE;
        }
        n = (int)v;
    }
    const char *cursor = opt(req, "cursor");
    if (cursor && !tm_is_uuid(cursor)) {
        sp_response_error(resp, 400, "invalid_cursor", "cursor is not one this API returned");
        return SP_HANDLER_DONE;
    }
    const char *since = opt(req, "since"), *until = opt(req, "until");
    if ((since && !looks_rfc3339(since)) || (until && !looks_rfc3339(until))) {
        sp_response_error(resp, 400, "invalid_time", "since and until must be RFC 3339 times");
        return SP_HANDLER_DONE;
    }
    const char *action = opt(req, "action");
    const char *prefix = NULL;
    size_t alen = action ? strlen(action) : 0;
    if (alen > 2 && strcmp(action + alen - 2, ".*") == 0) {
        prefix = sp_arena_strndup(sp_request_arena(req), action, alen - 1); /* keeps the dot */
        action = NULL;
    }
    const char *p[] = {opt(req, "actor_type"),
                       opt(req, "actor"),
                       action,
                       prefix,
                       opt(req, "resource_type"),
                       opt(req, "resource_id"),
                       since,
                       until,
                       cursor,
                       sp_arena_printf(sp_request_arena(req), "%d", n)};
    sp_db_tx_t *tx = NULL;
    PGresult *res = NULL;
    if (tm_tx_begin(tm, req, &tx) != 0)
        return SP_HANDLER_DONE;
    /* One more row than asked tells whether a next page exists. */
    int rc = sp_db_tx_query_arena(
        tx, sp_request_arena(req),
        "WITH page AS (SELECT a FROM tenant.audit_log a WHERE "
        "($1::text IS NULL OR a.actor_type = $1) AND ($2::text IS NULL OR a.actor_id = $2) AND "
        "($3::text IS NULL OR a.action = $3) AND ($4::text IS NULL OR left(a.action, "
        "length($4)) = $4) AND ($5::text IS NULL OR a.resource_type = $5) AND "
        "($6::text IS NULL OR a.resource_id = $6) AND ($7::timestamptz IS NULL OR "
        "a.occurred_at >= $7::timestamptz) AND ($8::timestamptz IS NULL OR a.occurred_at < "
        "$8::timestamptz) AND ($9::uuid IS NULL OR a.id < $9::uuid) "
        "ORDER BY a.id DESC LIMIT $10::int + 1), "
        "shown AS (SELECT a FROM page ORDER BY (a).id DESC LIMIT $10::int) "
        "SELECT jsonb_build_object('items', coalesce((SELECT jsonb_agg(tenant.audit_json(s.a) "
        "ORDER BY (s.a).id DESC) FROM shown s), '[]'::jsonb), 'next_cursor', CASE WHEN "
        "(SELECT count(*) FROM page) > $10::int THEN (SELECT (a).id::text FROM shown ORDER BY "
        "(a).id LIMIT 1) END)",
        10, p, &res);
    if (rc == SP_EDB && strncmp(sp_db_tx_sqlstate(tx), "22", 2) == 0)
        sp_response_error(resp, 400, "invalid_time", "since and until must be RFC 3339 times");
    else if (rc != 0)
        tm_reply_db_error(req, rc);
    else
        tm_reply_json(req, 200, PQgetvalue(res, 0, 0));
    sp_db_tx_rollback(&tx);
    return SP_HANDLER_DONE;
}

int tm_audit_routes(tm_t *tm, sp_router_t *router)
{
    return sp_router_add(router, "GET", "/v1/audit-log", "audit:read", list_audit, tm);
}
