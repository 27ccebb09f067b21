/*
 * uploads.h — uploads of historical interactions (permission ingest:write),
 * processed in the background by upload_worker.h.
 *
 *   POST /v1/ingest/uploads[?format=csv|jsonl][&filename=...]
 *       body: the file (CSV or JSON lines, see upload_rows.h), format from
 *       ?format or the Content-Type (text/csv; application/x-ndjson,
 *       application/jsonl), at most SERPHONA_INGEST_UPLOAD_MAX_BYTES and the
 *       transport's body limit. The CSV header is checked at once. Honours
 *       Idempotency-Key. 202 {job_id, status: "queued", ...} + Location.
 *       Errors: 400 empty_file / invalid_encoding / unknown_column /
 *       missing_column / duplicate_column / invalid_csv_row (header);
 *       413 upload_too_large; 415 unsupported_media_type.
 *   GET /v1/ingest/uploads/{job_id}
 *       {job_id, status: queued|running|completed|failed, format, filename,
 *        bytes, rows_read, accepted, rejected, duplicates,
 *        errors: [{row, code, field, message}] (the first
 *        SERPHONA_INGEST_UPLOAD_ERRORS_MAX), errors_truncated,
 *        error: {code, message} | null (why a failed job failed),
 *        created_at, started_at, updated_at, finished_at}
 *       404 upload_not_found (also for another tenant's job).
 *   GET /v1/ingest/uploads[?limit=1..100]
 *       {"uploads": [...]} newest first (default 20).
 */
#ifndef TG_UPLOADS_H
#define TG_UPLOADS_H

#include "tg.h"

/* Registers the three routes. Returns 0 or an SP_E*. */
int tg_uploads_register(tg_t *tg);

#endif
