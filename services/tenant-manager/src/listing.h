/*
 * listing.h — the one filtered, paginated list query behind every list route
 * (tenants, users, invites, API keys, the audit log).
 *
 * A list is a table whose rows are named x, a JSON function of a row
 * ("tenant.user_json"), and filters: each a SQL condition over x in which
 * every '$' stands for the filter's value. A filter whose value is absent or
 * empty is left out of the query. Values come from the query string (checked
 * against a list of choices or a predicate, 400 with the filter's code when
 * they fail) or from the handler itself.
 *
 * Two ways to page:
 *   tm_list_reply_page    page (>= 1) and per_page (1..200, default 50),
 *                         oldest or newest first by created_at, id:
 *                         {"items", "total", "page", "per_page"}
 *   tm_list_reply_keyset  limit (1..200, default 50), newest id first; the
 *                         handler adds the cursor as a filter on x.id:
 *                         {"items", "next_cursor"} (null on the last page)
 *
 * Both open the request's tenant-scoped transaction, run one query and write
 * the reply (200, or 400/5xx); the handler returns SP_HANDLER_DONE after.
 */
#ifndef TM_LISTING_H
#define TM_LISTING_H

#include "tm.h"

/* SQL matching the column or expression c against a filter's value as a
 * case-insensitive substring, the value's LIKE wildcards escaped. */
#define TM_LIST_CONTAINS(c)                                                                        \
    c " ILIKE '%' || replace(replace(replace($, '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%'"

typedef struct {
    const char *cond;  /* SQL over the row x; each '$' is the value */
    const char *param; /* query parameter of the value; NULL: .value is used */
    const char *value; /* the value when param is NULL; NULL = no filter */
    /* Checks of a value from the query (both optional): one of choices
     * (NULL-terminated), and valid(value) != 0. A failure answers 400 with
     * code and message. */
    const char *const *choices;
    int (*valid)(const char *value);
    const char *code, *message;
} tm_list_filter_t;

/* The "status" filter most lists have: one of choices, else 400
 * invalid_status with message. */
#define TM_LIST_STATUS(cond_, choices_, message_)                                                  \
    {                                                                                              \
        .param = "status", .cond = (cond_), .choices = (choices_), .code = "invalid_status",       \
        .message = (message_)                                                                      \
    }

typedef struct {
    const char *table;             /* "tenant.users" */
    const char *json_fn;           /* a row's JSON: "tenant.user_json" */
    int newest_first;              /* pages: created_at DESC, id (else created_at, id) */
    const char *bad_value_code;    /* keyset: a value PostgreSQL cannot convert */
    const char *bad_value_message; /* (SQLSTATE class 22) answers 400 with these */
} tm_list_t;

/* Replies one page of list (see above). Returns 0, or the SP_E* code after
 * writing a 400 or 5xx reply. */
int tm_list_reply_page(tm_t *tm, sp_request_t *req, const tm_list_t *list,
                       const tm_list_filter_t *filters, size_t n_filters);

/* Replies one keyset page of list (see above). Returns 0, or the SP_E* code
 * after writing a 400 or 5xx reply. */
int tm_list_reply_keyset(tm_t *tm, sp_request_t *req, const tm_list_t *list,
                         const tm_list_filter_t *filters, size_t n_filters);

#endif
