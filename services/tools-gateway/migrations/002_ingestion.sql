-- Ingestion: the ledger of accepted interactions, upload jobs and their
-- work queue.
--
-- Every table is a tenant table: tenant_id, ENABLE + FORCE ROW LEVEL
-- SECURITY and a policy on app.tenant_id (set with SET LOCAL by
-- sp_db_tx_begin), so a transaction sees exactly one tenant's rows.
--
-- One table must be read before the tenant is known: the upload queue,
-- where a worker looks for the next job of any tenant. It has a second
-- policy gated on app.upload_worker = 'on' (set per transaction like
-- app.tenant_id, only by the worker's claim statement). The queue holds ids
-- and lease times only; the job itself (the file, its progress, its errors)
-- is read in a transaction of its tenant.

-- RFC 3339 UTC text with milliseconds, the one timestamp form of the API.
CREATE FUNCTION ts_text(t timestamptz) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$;

-- ---- accepted interactions ------------------------------------------------

-- One row per (tenant, external id) whose interaction Kafka acknowledged, so
-- a re-send is answered "duplicate" without publishing again. Written after
-- the acknowledgement, never before (see services/tools-gateway/src/pipeline.h).
CREATE TABLE ingested_interactions (
    tenant_id       uuid NOT NULL,
    external_id     text NOT NULL CHECK (length(external_id) BETWEEN 1 AND 128),
    interaction_id  uuid NOT NULL,
    source          text NOT NULL CHECK (source IN ('api', 'upload')),
    accepted_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, external_id)
);

ALTER TABLE ingested_interactions ENABLE ROW LEVEL SECURITY;
ALTER TABLE ingested_interactions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON ingested_interactions
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);

-- ---- upload jobs ----------------------------------------------------------

CREATE TABLE upload_jobs (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL,
    status          text NOT NULL DEFAULT 'queued'
                        CHECK (status IN ('queued', 'running', 'completed', 'failed')),
    format          text NOT NULL CHECK (format IN ('csv', 'jsonl')),
    filename        text NOT NULL DEFAULT '' CHECK (length(filename) <= 255),
    bytes           bigint NOT NULL CHECK (bytes >= 0),
    content         text,                    -- the file, until the job ends
    rows_read       integer NOT NULL DEFAULT 0,
    accepted        integer NOT NULL DEFAULT 0,
    rejected        integer NOT NULL DEFAULT 0,
    duplicates      integer NOT NULL DEFAULT 0,
    errors          jsonb NOT NULL DEFAULT '[]', -- the first row errors, capped
    error_code      text,                    -- why a failed job failed
    error_message   text,
    created_by      text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz
);
CREATE INDEX upload_jobs_tenant_created_idx ON upload_jobs (tenant_id, created_at DESC, id);

ALTER TABLE upload_jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE upload_jobs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON upload_jobs
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);

-- The API's view of a job.
CREATE FUNCTION upload_job_json(j upload_jobs) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path FROM CURRENT
    AS $$
    SELECT jsonb_build_object(
        'job_id', j.id, 'status', j.status, 'format', j.format, 'filename', j.filename,
        'bytes', j.bytes, 'rows_read', j.rows_read, 'accepted', j.accepted,
        'rejected', j.rejected, 'duplicates', j.duplicates, 'errors', j.errors,
        'errors_truncated', j.rejected > jsonb_array_length(j.errors),
        'error', CASE WHEN j.error_code IS NULL THEN NULL
                      ELSE jsonb_build_object('code', j.error_code, 'message', j.error_message) END,
        'created_at', ts_text(j.created_at), 'started_at', ts_text(j.started_at),
        'updated_at', ts_text(j.updated_at), 'finished_at', ts_text(j.finished_at))
$$;

-- ---- upload work queue ----------------------------------------------------

-- A row per job not finished yet. A worker claims the oldest one whose lease
-- ran out (FOR UPDATE SKIP LOCKED, so replicas never take the same job),
-- extends the lease while it works, and deletes the row when the job ends;
-- a worker that dies leaves the lease to run out and another one resumes
-- the job from its rows_read.
CREATE TABLE upload_queue (
    job_id          uuid PRIMARY KEY REFERENCES upload_jobs (id) ON DELETE CASCADE,
    tenant_id       uuid NOT NULL,
    enqueued_at     timestamptz NOT NULL DEFAULT now(),
    locked_until    timestamptz NOT NULL DEFAULT '-infinity',
    attempts        integer NOT NULL DEFAULT 0
);
CREATE INDEX upload_queue_enqueued_idx ON upload_queue (enqueued_at);

ALTER TABLE upload_queue ENABLE ROW LEVEL SECURITY;
ALTER TABLE upload_queue FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON upload_queue
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
CREATE POLICY upload_worker ON upload_queue
    USING (current_setting('app.upload_worker', true) = 'on')
    WITH CHECK (current_setting('app.upload_worker', true) = 'on');
