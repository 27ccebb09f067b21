/*
 * idempotency.h — the Idempotency-Key request header: the same key with the
 * same request returns the first response, without doing the work again.
 *
 * Contract (per tenant and per route scope, for 24 hours):
 *   - a key is 1..255 printable ASCII characters, else 400
 *     invalid_idempotency_key;
 *   - the first request with a key claims it (Redis SET NX), runs, and its
 *     2xx response (status and body) is stored under it; a failed request
 *     (4xx/5xx) releases the key, so the client may retry with it;
 *   - a later request with the key and the same body (SHA-256 of method,
 *     path and body) gets the stored response again, with the header
 *     Idempotent-Replayed: true;
 *   - with a different body: 422 idempotency_key_reused;
 *   - while the first is still running: 409 idempotency_key_in_progress;
 *   - Redis unreachable: 503 idempotency_unavailable (never run unguarded
 *     when the client asked for the guarantee).
 * Redis keys: tg:idem:<scope>:<tenant_id>:<hex SHA-256 of the key>; the key
 * itself is never stored or logged.
 */
#ifndef TG_IDEMPOTENCY_H
#define TG_IDEMPOTENCY_H

#include "platform/crypto.h"
#include "tg.h"

#define TG_IDEM_TTL_S     86400 /* how long a stored response is replayed */
#define TG_IDEM_PENDING_S 120   /* a claim left by a crashed request expires */

typedef struct {
    int active;      /* 1 when a key was claimed: call tg_idem_finish */
    char *redis_key; /* from the request's arena */
    char hash[2 * SP_SHA256_LEN + 1];
} tg_idem_t;

/* Looks at the request's Idempotency-Key. Returns 0 when the handler should
 * go on (idem->active says whether it must call tg_idem_finish), or 1 when a
 * response has been written (a replay, or one of the errors above) and the
 * handler should just return SP_HANDLER_DONE. */
int tg_idem_begin(tg_t *tg, sp_request_t *req, const char *scope, tg_idem_t *idem);

/* Stores the request's response under the key when it is a 2xx, else
 * releases the key. No-op when !idem->active. Failures are logged: the
 * response itself has been computed and is sent either way. */
void tg_idem_finish(tg_t *tg, sp_request_t *req, tg_idem_t *idem);

#endif
