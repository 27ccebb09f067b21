/*
 * tm.h — tenant-manager's shared context and the helpers every resource
 * file uses: the tenant-scoped transaction of a request, the audit log
 * write, cache invalidation, JSON replies built by PostgreSQL, and input
 * validation.
 *
 * Tenancy rule of every handler: the tenant comes from the caller's verified
 * auth context (sp_request_auth(req)->tenant_id), never from the path, query
 * or body. The transaction of a request is opened with that tenant, so
 * row-level security hides every other tenant's rows and an id of another
 * tenant answers 404 exactly like an id that never existed.
 */
#ifndef TM_H
#define TM_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "platform/db.h"
#include "platform/redis.h"
#include "platform/request.h"
#include "platform/service.h"
#include "platform/text.h"

/* The PostgreSQL schema of tenant-manager; SQL names it explicitly. */
#define TM_SCHEMA "tenant"

/* OWASP's 2023 floor for PBKDF2-HMAC-SHA256. */
#define TM_PBKDF2_MIN_ITERATIONS 210000

typedef struct {
    sp_service_t *svc;      /* NULL in tests, which set db and redis */
    sp_db_pool_t *db;       /* NULL: sp_service_db(svc) at first use */
    sp_redis_pool_t *redis; /* NULL: sp_service_redis(svc); may stay NULL */
    uint32_t pbkdf2_iterations;
    /* SERPHONA_OPERATOR_EMAIL / _PASSWORD: the first platform operator (NULL
     * when unset); owned by the service's config. */
    const char *operator_email, *operator_password;
    int invite_ttl_hours; /* how long an invite token stays valid */
    int purge_after_days; /* how long a deleted tenant is kept */
    int purge_interval_s; /* how often the purge runs (0 = only at start) */
} tm_t;

/* Reads tenant-manager's own settings from cfg into tm (svc may be NULL in
 * tests; then db and redis must be set by the caller). Errors are recorded
 * in cfg, as sp_config does. */
void tm_init(tm_t *tm, sp_service_t *svc, sp_config_t *cfg);

/* The pools: tm->db / tm->redis, else the service's (NULL before run). */
sp_db_pool_t *tm_db(tm_t *tm);
sp_redis_pool_t *tm_redis(tm_t *tm);

/* ---- requests ------------------------------------------------------------ */

/* Begins the request's transaction scoped to the caller's tenant (NULL for a
 * platform operator). On failure writes a 503 "unavailable" (or 500) reply
 * and returns the SP_E* code; the handler then just returns. */
int tm_tx_begin(tm_t *tm, sp_request_t *req, sp_db_tx_t **tx);

/* Switches an open transaction to tenant_id (set_config(..., true)), for
 * flows that learn the tenant inside the transaction (login, invite accept,
 * tenant creation). Returns 0 or the sp_db_tx_query error. */
int tm_tx_set_tenant(sp_db_tx_t *tx, const char *tenant_id);

/* Writes the reply for a failed database call: 503 "unavailable" when the
 * database cannot be reached or is busy, else 500 "internal". */
void tm_reply_db_error(sp_request_t *req, int rc);

/* Sets status and the JSON text body (application/json). */
void tm_reply_json(sp_request_t *req, int status, const char *json_text);

/* Runs sql, which must return exactly one row whose first column is JSON
 * text, and replies with it under status. No row: replies 404 with
 * not_found_code. Returns 0, SP_ENOTFOUND (replied 404) or the database
 * error (replied 5xx). The transaction is left open either way. */
int tm_reply_row_json(sp_request_t *req, sp_db_tx_t *tx, int status, const char *not_found_code,
                      const char *sql, int nparams, const char *const *params);

/* Who is acting, for the audit log: actor_type "operator" (platform_operator
 * role), "api_key" (a caller with scopes and no roles), else "user"; the id
 * is the auth subject. */
void tm_actor(const sp_request_t *req, const char **type, const char **id);

/* Appends an audit entry in tx (so it commits or rolls back with the change
 * it records): the acting caller, action ("user.invited"), the resource,
 * the remote address and request id, and before/after JSON text (either may
 * be NULL). The tenant is the transaction's. Returns 0 or the database
 * error. */
int tm_audit(sp_db_tx_t *tx, const sp_request_t *req, const char *action, const char *resource_type,
             const char *resource_id, const char *before, const char *after);

/* Same, with an explicit actor (flows without an authenticated caller). */
int tm_audit_as(sp_db_tx_t *tx, const sp_request_t *req, const char *actor_type,
                const char *actor_id, const char *action, const char *resource_type,
                const char *resource_id, const char *before, const char *after);

/* DELetes a cache key of the tenant.proto contract after a committed change.
 * Failures are logged, not returned: callers' TTL bounds the staleness. */
void tm_cache_del(tm_t *tm, const char *key);
void tm_cache_del_tenant(tm_t *tm, const char *tenant_id); /* sp:tenant + sp:limits */
void tm_cache_del_principal(tm_t *tm, const char *tenant_id, const char *user_id);
/* sp:apikey:<hex SHA-256 of the key> (the tools-gateway's cache). */
void tm_cache_del_api_key(tm_t *tm, const char *hash_hex);
void tm_cache_del_taxonomy(tm_t *tm, const char *tenant_id); /* sp:taxonomy */

/* ---- validation ---------------------------------------------------------- */

/* 1 for a valid tenant slug: 3..40 of [a-z0-9-], starting and ending with a
 * letter or digit, no "--". */
int tm_is_slug(const char *s);

/* A trimmed, lower-cased copy of email in arena when it looks like an
 * address (one '@', non-empty local part and domain, no blanks or control
 * characters, at most 254 bytes); NULL otherwise. */
char *tm_email_normalize(sp_arena_t *arena, const char *email);

/* Reads an optional string member of obj. Returns 1 and *out when present
 * and a string of at most maxlen bytes, 0 when absent or JSON null, -1 when
 * of another type or too long (the caller answers 400). */
int tm_json_str(const cJSON *obj, const char *name, size_t maxlen, const char **out);

/* Reads the optional member field of body, a display name of at most 200
 * bytes, into *out (left alone when absent). Returns 0, or SP_EINVAL after
 * replying 400 "invalid_display_name". */
int tm_read_display_name(sp_request_t *req, const cJSON *body, const char *field, const char **out);

/* Reads the required member "email" of body, normalized by
 * tm_email_normalize, into *out. Returns 0, or SP_EINVAL after replying 400
 * "invalid_email". */
int tm_read_email(sp_request_t *req, const cJSON *body, const char **out);

/* 1 when s is one of choices (a NULL-terminated list), else 0. */
int tm_is_one_of(const char *s, const char *const *choices);

/* A column value of a database integer (the database already checked it). */
int tm_int(const char *text);

/* Whether the caller has the platform_operator role. */
int tm_is_operator(const sp_request_t *req);

#endif
