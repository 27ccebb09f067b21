/*
 * uploads.c — the upload routes (uploads.h). The request only checks the
 * file's header and queues it; the work happens in upload_worker.c.
 */
#include "uploads.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "idempotency.h"
#include "partner_auth.h"
#include "platform/crypto.h"
#include "platform/clock.h"
#include "platform/text.h"
#include "platform/error.h"
#include "platform/log.h"
#include "upload_rows.h"
#include "upload_worker.h"

#define FILENAME_MAX_LEN 255

/* The tenant of the caller, or NULL after a 403. */
static const char *tenant_of(sp_request_t *req)
{
    const sp_auth_t *auth = sp_request_auth(req);
    if (!auth || !auth->tenant_id || !sp_uuid_valid(auth->tenant_id)) {
        sp_response_error(sp_request_response(req), 403, "tenant_required",
                          "ingestion needs a caller of a tenant");
        return NULL;
    }
    return auth->tenant_id;
}

/* The upload's format from ?format, else the Content-Type. Returns 0, or
 * SP_EINVAL after writing 400 / 415. */
static int format_of(sp_request_t *req, tg_format_t *out)
{
    sp_response_t *resp = sp_request_response(req);
    const char *q = sp_request_query(req, "format");
    if (q) {
        if (tg_format_parse(q, out) == 0)
            return SP_OK;
        sp_response_error(resp, 400, "invalid_format", "format must be csv or jsonl");
        return SP_EINVAL;
    }
    static const struct {
        const char *type;
        tg_format_t format;
    } types[] = {
        {"text/csv", TG_FORMAT_CSV},
        {"application/csv", TG_FORMAT_CSV},
        {"text/comma-separated-values", TG_FORMAT_CSV},
        {"application/x-ndjson", TG_FORMAT_JSONL},
        {"application/ndjson", TG_FORMAT_JSONL},
        {"application/jsonl", TG_FORMAT_JSONL},
        {"application/x-jsonlines", TG_FORMAT_JSONL},
        {"application/jsonlines", TG_FORMAT_JSONL},
        {"application/json-lines", TG_FORMAT_JSONL},
    };
    const char *ct = sp_request_header(req, "Content-Type");
    if (ct) {
        size_t n = strcspn(ct, "; \t");
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
            if (strlen(types[i].type) == n && strncasecmp(ct, types[i].type, n) == 0) {
                *out = types[i].format;
                return SP_OK;
            }
    }
    sp_response_error(
        resp, 415, "unsupported_media_type",
        "send the file as text/csv or application/x-ndjson, or say ?format=csv|jsonl");
    return SP_EINVAL;
}

static int filename_ok(const char *s)
{
    if (strlen(s) > FILENAME_MAX_LEN || !tg_utf8_valid(s, strlen(s)))
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7F)
            return 0;
    return 1;
}

static sp_handler_result_t post_upload(sp_request_t *req, void *ud)
{
    tg_t *tg = ud;
    sp_response_t *resp = sp_request_response(req);
    sp_arena_t *arena = sp_request_arena(req);
    const char *tenant = tenant_of(req);
    if (!tenant)
        return SP_HANDLER_DONE;
    tg_format_t format;
    if (format_of(req, &format) != 0)
        return SP_HANDLER_DONE;
    const char *filename = sp_request_query(req, "filename");
    if (!filename)
        filename = "";
    if (!filename_ok(filename)) {
        sp_response_error(resp, 400, "invalid_filename",
                          "filename must be at most %d bytes of UTF-8 without control characters",
                          FILENAME_MAX_LEN);
        return SP_HANDLER_DONE;
    }
    size_t len = 0;
    const char *body = sp_request_body(req, &len);
    if (len == 0) {
        sp_response_error(resp, 400, "empty_file", "the upload is empty");
        return SP_HANDLER_DONE;
    }
    if (len > tg->upload_max_bytes) {
        sp_response_error(resp, 413, "upload_too_large", "an upload holds at most %zu bytes",
                          tg->upload_max_bytes);
        return SP_HANDLER_DONE;
    }
    if (memchr(body, '\0', len)) {
        sp_response_error(resp, 400, TG_E_INVALID_ENCODING,
                          "the file holds NUL bytes; send UTF-8 text");
        return SP_HANDLER_DONE;
    }
    /* Check what can be checked now (encoding, the CSV header), so a wrong
     * file is refused here rather than as a failed job later. */
    tg_rows_t rows;
    tg_reject_t why;
    int rc = tg_rows_open(&rows, arena, format, body, len, &why);
    if (rc == SP_EINVAL) {
        sp_response_error(resp, 400, why.code, "%s", why.message);
        return SP_HANDLER_DONE;
    }
    if (rc != 0) {
        sp_response_error(resp, 500, "internal", "internal error");
        return SP_HANDLER_DONE;
    }

    tg_idem_t idem;
    if (tg_idem_begin(tg, req, "uploads", &idem))
        return SP_HANDLER_DONE;
    char job_id[SP_UUID_STR_LEN];
    char bytes[24];
    snprintf(bytes, sizeof(bytes), "%zu", len);
    const sp_auth_t *auth = sp_request_auth(req);
    sp_db_tx_t *tx = NULL;
    PGresult *res = NULL;
    rc = sp_uuid_v7(job_id);
    if (rc == 0)
        rc = sp_db_tx_begin(tg_db(tg), tenant, &tx);
    if (rc == 0) {
        const char *params[] = {job_id,
                                tenant,
                                tg_format_name(format),
                                filename,
                                bytes,
                                body,
                                auth->subject ? auth->subject : ""};
        rc = sp_db_tx_query(tx,
                            "INSERT INTO tools.upload_jobs "
                            "(id, tenant_id, format, filename, bytes, content, created_by) "
                            "VALUES ($1, $2, $3, $4, $5, $6, $7)",
                            7, params, NULL);
    }
    if (rc == 0) {
        const char *params[] = {job_id, tenant};
        rc =
            sp_db_tx_query(tx, "INSERT INTO tools.upload_queue (job_id, tenant_id) VALUES ($1, $2)",
                           2, params, NULL);
    }
    if (rc == 0) {
        const char *params[] = {job_id};
        rc = sp_db_tx_query_arena(
            tx, arena,
            "SELECT tools.upload_job_json(j)::text FROM tools.upload_jobs j WHERE id = $1", 1,
            params, &res);
    }
    if (rc == 0)
        rc = sp_db_tx_commit(&tx);
    sp_db_tx_rollback(&tx);
    if (rc != 0) {
        tg_reply_db_error(tg, req, rc);
    } else {
        tg_reply_json_text(req, 202, PQgetvalue(res, 0, 0));
        char *location = sp_arena_printf(arena, "/v1/ingest/uploads/%s", job_id);
        if (location)
            sp_response_set_header(resp, "Location", location);
        sp_log_info("upload %s queued (%s, %zu bytes)", job_id, tg_format_name(format), len);
        tg_worker_wake(tg->worker);
    }
    tg_idem_finish(tg, req, &idem);
    return SP_HANDLER_DONE;
}

static sp_handler_result_t get_upload(sp_request_t *req, void *ud)
{
    tg_t *tg = ud;
    const char *tenant = tenant_of(req);
    if (!tenant)
        return SP_HANDLER_DONE;
    const char *id = sp_request_param(req, "job_id");
    if (!sp_uuid_valid(id)) {
        sp_response_error(sp_request_response(req), 404, "upload_not_found",
                          "no upload job with this id");
        return SP_HANDLER_DONE;
    }
    sp_db_tx_t *tx = NULL;
    PGresult *res = NULL;
    int rc = sp_db_tx_begin(tg_db(tg), tenant, &tx);
    if (rc == 0) {
        const char *params[] = {id};
        rc = sp_db_tx_query_arena(
            tx, sp_request_arena(req),
            "SELECT tools.upload_job_json(j)::text FROM tools.upload_jobs j WHERE id = $1", 1,
            params, &res);
    }
    if (rc == 0)
        rc = sp_db_tx_commit(&tx);
    sp_db_tx_rollback(&tx);
    if (rc != 0)
        tg_reply_db_error(tg, req, rc);
    else if (PQntuples(res) == 0)
        sp_response_error(sp_request_response(req), 404, "upload_not_found",
                          "no upload job with this id");
    else
        tg_reply_json_text(req, 200, PQgetvalue(res, 0, 0));
    return SP_HANDLER_DONE;
}

static sp_handler_result_t list_uploads(sp_request_t *req, void *ud)
{
    tg_t *tg = ud;
    const char *tenant = tenant_of(req);
    if (!tenant)
        return SP_HANDLER_DONE;
    const char *q = sp_request_query(req, "limit");
    long limit = 20;
    if (q) {
        char *end = NULL;
        limit = strtol(q, &end, 10);
        if (!*q || *end || limit < 1 || limit > 100) {
            sp_response_error(sp_request_response(req), 400, "invalid_limit",
                              "limit must be 1..100");
            return SP_HANDLER_DONE;
        }
    }
    char limit_text[8];
    snprintf(limit_text, sizeof(limit_text), "%ld", limit);
    sp_db_tx_t *tx = NULL;
    PGresult *res = NULL;
    int rc = sp_db_tx_begin(tg_db(tg), tenant, &tx);
    if (rc == 0) {
        const char *params[] = {limit_text};
        rc = sp_db_tx_query_arena(
            tx, sp_request_arena(req),
            "SELECT jsonb_build_object('uploads', COALESCE(jsonb_agg(tools.upload_job_json(j) "
            "ORDER BY j.created_at DESC, j.id DESC), '[]'))::text FROM tools.upload_jobs j "
            "WHERE j.id IN (SELECT id FROM tools.upload_jobs "
            "ORDER BY created_at DESC, id DESC LIMIT $1::int)",
            1, params, &res);
    }
    if (rc == 0)
        rc = sp_db_tx_commit(&tx);
    sp_db_tx_rollback(&tx);
    if (rc != 0)
        tg_reply_db_error(tg, req, rc);
    else
        tg_reply_json_text(req, 200, PQgetvalue(res, 0, 0));
    return SP_HANDLER_DONE;
}

int tg_uploads_register(tg_t *tg)
{
    int rc = tg_route_add(tg, "POST", "/v1/ingest/uploads", "ingest:write", post_upload);
    if (rc == 0)
        rc = tg_route_add(tg, "GET", "/v1/ingest/uploads/{job_id}", "ingest:write", get_upload);
    if (rc == 0)
        rc = tg_route_add(tg, "GET", "/v1/ingest/uploads", "ingest:write", list_uploads);
    return rc;
}
