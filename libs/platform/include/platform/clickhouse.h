/*
 * clickhouse.h — ClickHouse over its HTTP interface (libcurl).
 *
 * Works with ClickHouse 18.16 and later. 18.16 has no server-side query
 * parameters, so values are embedded as literals quoted by sp_ch_quote();
 * bulk data goes as the request body (INSERT ... FORMAT JSONEachRow).
 * Every call uses its own CURL handle, so one sp_ch_t is safe to share
 * between threads. Results are buffered server-side until the query ends
 * (wait_end_of_query), so a failure mid-query is an HTTP error, not a
 * truncated 200.
 *
 * Errors: SP_EDB (ClickHouse refused the query; its text and the HTTP status
 * are logged), SP_EUNAVAILABLE (cannot connect), SP_ETIMEDOUT (no answer in
 * time), SP_ENOMEM. The SQL and the data are never logged.
 */
#ifndef SP_CLICKHOUSE_H
#define SP_CLICKHOUSE_H

#include <stddef.h>

#include "platform/arena.h"

typedef struct sp_ch sp_ch_t;

/* A client for base_url (e.g. "http://127.0.0.1:8123", no trailing path)
 * using database (NULL = the server's default) as user/password (NULL = the
 * server's default user, no password). Nothing is contacted yet. Returns NULL
 * on a bad argument or out of memory. Free with sp_ch_destroy. */
sp_ch_t *sp_ch_new(const char *base_url, const char *database, const char *user,
                   const char *password);

/* Accepts NULL; sets *self_p to NULL. */
void sp_ch_destroy(sp_ch_t **self_p);

/* Overall timeout of sp_ch_exec (default 30000 ms); connecting is bounded by
 * 2 s regardless. */
void sp_ch_set_timeout(sp_ch_t *ch, int timeout_ms);

/* GET /ping expecting "Ok.", with a 2 s timeout, for /health/ready. Returns 0
 * or SP_EUNAVAILABLE. */
int sp_ch_ping(sp_ch_t *ch);

/* Runs one query. With body NULL, sql is sent as the POST body; with a body
 * (the data of an INSERT ... FORMAT ...), sql goes in the query= URL
 * parameter and body_len bytes of body as the POST body. On 0, when out is
 * not NULL, *out is the malloc'd response (NUL-terminated after *out_len
 * bytes; caller frees; out_len may be NULL). Returns 0, SP_EDB,
 * SP_EUNAVAILABLE, SP_ETIMEDOUT, SP_ENOMEM; on failure *out is NULL. */
int sp_ch_exec(sp_ch_t *ch, const char *sql, const char *body, size_t body_len, char **out,
               size_t *out_len);

/* s as a ClickHouse string literal, quotes included: 'it\'s' — backslash,
 * quote and control characters escaped, other bytes (UTF-8) as they are.
 * Allocated in arena; NULL when out of memory. */
char *sp_ch_quote(sp_arena_t *arena, const char *s);

#endif
