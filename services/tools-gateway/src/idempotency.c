/*
 * idempotency.c — Idempotency-Key claims and stored responses in Redis
 * (idempotency.h).
 *
 * Stored values: "P" + request hash while the first request runs, then
 * "D" + request hash + three-digit status + response body.
 */
#include "idempotency.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/error.h"
#include "platform/log.h"

#define HASH_HEX (2 * SP_SHA256_LEN)

static int key_ok(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > 255)
        return 0;
    for (; *k; k++)
        if (*k < 0x21 || *k > 0x7E)
            return 0;
    return 1;
}

static void request_hash(sp_request_t *req, char out[HASH_HEX + 1])
{
    size_t blen = 0;
    const char *body = sp_request_body(req, &blen);
    const char *method = sp_request_method(req), *path = sp_request_path(req);
    const char *query = sp_request_raw_query(req);
    /* Length-prefixed parts, so no two requests hash the same input. */
    size_t n = 64 + strlen(method) + strlen(path) + strlen(query) + blen;
    char *buf = malloc(n);
    uint8_t digest[SP_SHA256_LEN];
    if (buf) {
        int h = snprintf(buf, n, "%zu:%s%zu:%s%zu:%s%zu:", strlen(method), method, strlen(path),
                         path, strlen(query), query, blen);
        memcpy(buf + h, body, blen);
        sp_sha256(buf, (size_t)h + blen, digest);
        free(buf);
    } else {
        sp_sha256(body, blen, digest);
    }
    sp_hex_encode(digest, sizeof(digest), out);
}

static int replay(sp_request_t *req, const char *value, size_t len)
{
    /* "D" hash status body */
    if (len < 1 + HASH_HEX + 3)
        return SP_EPROTO;
    char status_text[4];
    memcpy(status_text, value + 1 + HASH_HEX, 3);
    status_text[3] = '\0';
    int status = (int)strtol(status_text, NULL, 10);
    if (status < 200 || status > 299)
        return SP_EPROTO;
    sp_response_t *resp = sp_request_response(req);
    sp_response_set_status(resp, status);
    size_t off = 1 + HASH_HEX + 3;
    sp_response_set_body(resp, value + off, len - off, "application/json");
    sp_response_set_header(resp, "Idempotent-Replayed", "true");
    return SP_OK;
}

int tg_idem_begin(tg_t *tg, sp_request_t *req, const char *scope, tg_idem_t *idem)
{
    memset(idem, 0, sizeof(*idem));
    const char *key = sp_request_header(req, "Idempotency-Key");
    if (!key)
        return 0;
    sp_response_t *resp = sp_request_response(req);
    if (!key_ok(key)) {
        sp_response_error(resp, 400, "invalid_idempotency_key",
                          "Idempotency-Key must be 1..255 printable ASCII characters");
        return 1;
    }
    const sp_auth_t *auth = sp_request_auth(req);
    uint8_t digest[SP_SHA256_LEN];
    char key_hex[HASH_HEX + 1];
    sp_sha256(key, strlen(key), digest);
    sp_hex_encode(digest, sizeof(digest), key_hex);
    idem->redis_key = sp_arena_printf(sp_request_arena(req), "tg:idem:%s:%s:%s", scope,
                                      auth && auth->tenant_id ? auth->tenant_id : "", key_hex);
    if (!idem->redis_key) {
        sp_response_error(resp, 500, "internal", "out of memory");
        return 1;
    }
    request_hash(req, idem->hash);

    sp_redis_pool_t *redis = tg_redis(tg);
    char pending[HASH_HEX + 2];
    snprintf(pending, sizeof(pending), "P%s", idem->hash);
    int rc = redis ? sp_redis_set_nx(redis, idem->redis_key, pending, TG_IDEM_PENDING_S)
                   : SP_EUNAVAILABLE;
    if (rc == 0) {
        idem->active = 1;
        return 0;
    }
    if (rc != SP_EEXISTS)
        goto unavailable;
    char *value = NULL;
    size_t len = 0;
    rc = sp_redis_cache_get(redis, idem->redis_key, &value, &len);
    if (rc == SP_ENOTFOUND) {
        /* Released or expired between the two commands: claim it again. */
        rc = sp_redis_set_nx(redis, idem->redis_key, pending, TG_IDEM_PENDING_S);
        if (rc == 0) {
            idem->active = 1;
            return 0;
        }
        sp_response_error(resp, 409, "idempotency_key_in_progress",
                          "a request with this Idempotency-Key is still being processed");
        return 1;
    }
    if (rc != 0)
        goto unavailable;
    if (len < 1 + HASH_HEX || memcmp(value + 1, idem->hash, HASH_HEX) != 0) {
        sp_response_error(resp, 422, "idempotency_key_reused",
                          "this Idempotency-Key was used with a different request");
    } else if (value[0] == 'P') {
        sp_response_error(resp, 409, "idempotency_key_in_progress",
                          "a request with this Idempotency-Key is still being processed");
    } else if (replay(req, value, len) != 0) {
        sp_log_warn("malformed stored idempotent response; answering 409");
        sp_response_error(resp, 409, "idempotency_key_in_progress",
                          "a request with this Idempotency-Key is still being processed");
    }
    free(value);
    return 1;

unavailable:
    tg_reply_unavailable(tg, req, "idempotency_unavailable",
                         "Idempotency-Key cannot be honoured right now (Redis unreachable); retry "
                         "later");
    return 1;
}

void tg_idem_finish(tg_t *tg, sp_request_t *req, tg_idem_t *idem)
{
    if (!idem->active)
        return;
    idem->active = 0;
    sp_redis_pool_t *redis = tg_redis(tg);
    sp_response_t *resp = sp_request_response(req);
    int status = sp_response_status(resp);
    int rc;
    if (status >= 200 && status <= 299) {
        size_t blen = 0;
        const char *body = sp_response_body(resp, &blen);
        size_t len = 1 + HASH_HEX + 3 + blen;
        char *value = malloc(len + 1);
        if (!value) {
            sp_redis_cache_del(redis, idem->redis_key);
            return;
        }
        snprintf(value, len + 1, "D%s%03d", idem->hash, status);
        memcpy(value + 1 + HASH_HEX + 3, body, blen);
        rc = sp_redis_cache_set(redis, idem->redis_key, value, len, TG_IDEM_TTL_S);
        free(value);
    } else {
        rc = sp_redis_cache_del(redis, idem->redis_key);
        if (rc == SP_ENOTFOUND)
            rc = 0;
    }
    if (rc != 0)
        sp_log_warn("idempotency key update failed: %s", sp_strerror(rc));
}
