/*
 * audit.c — the audit log's listing route (audit.h).
 */
#include "audit.h"

#include "listing.h"

#include "platform/text.h"

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
    static const tm_list_t list = {.table = "tenant.audit_log",
                                   .json_fn = "tenant.audit_json",
                                   .bad_value_code = "invalid_time",
                                   .bad_value_message = "since and until must be RFC 3339 times"};
    /* "user.*" is a prefix (keeping the dot), anything else one action. */
    const char *action = opt(req, "action"), *prefix = NULL;
    size_t alen = action ? strlen(action) : 0;
    if (alen > 2 && strcmp(action + alen - 2, ".*") == 0) {
        prefix = sp_arena_strndup(sp_request_arena(req), action, alen - 1);
        action = NULL;
    }
    const tm_list_filter_t filters[] = {
        {.param = "cursor",
         .cond = "x.id < $::uuid",
         .valid = sp_uuid_valid,
         .code = "invalid_cursor",
         .message = "cursor is not one this API returned"},
        {.param = "since",
         .cond = "x.occurred_at >= $::timestamptz",
         .valid = looks_rfc3339,
         .code = "invalid_time",
         .message = "since and until must be RFC 3339 times"},
        {.param = "until",
         .cond = "x.occurred_at < $::timestamptz",
         .valid = looks_rfc3339,
         .code = "invalid_time",
         .message = "since and until must be RFC 3339 times"},
        {.param = "actor_type", .cond = "x.actor_type = $"},
        {.param = "actor", .cond = "x.actor_id = $"},
        {.cond = "x.action = $", .value = action},
        {.cond = "left(x.action, length($)) = $", .value = prefix},
        {.param = "resource_type", .cond = "x.resource_type = $"},
        {.param = "resource_id", .cond = "x.resource_id = $"},
    };
    tm_list_reply_keyset(ud, req, &list, filters, sizeof(filters) / sizeof(*filters));
    return SP_HANDLER_DONE;
}

int tm_audit_register(sp_router_t *router, tm_t *tm)
{
    return sp_router_add(router, "GET", "/v1/audit-log", "audit:read", list_audit, tm);
}
