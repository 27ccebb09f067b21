-- Accepted => analysed: the ledger keeps what is needed to publish an
-- accepted interaction again until analytics-processor has stored it.
--
--   payload        the accepted protobuf (serphona.interactions.v1.Interaction),
--                  exactly the bytes Kafka acknowledged; NULL once settled
--   state          pending        accepted, not yet reported stored
--                  analysed       analysis.completed seen (rows in ClickHouse)
--                  dead_lettered  interaction.rejected seen on the DLQ
--   settled_at     when it left pending
--   published_at   last time it went to Kafka (the accept, or a re-publish)
--   republished    re-publishes by the reconciler
--
-- Rows from before this migration were accepted without a payload; they are
-- counted as analysed (nothing is left to re-publish them from).
ALTER TABLE ingested_interactions
    ADD COLUMN payload      bytea,
    ADD COLUMN state        text NOT NULL DEFAULT 'analysed'
                                CHECK (state IN ('pending', 'analysed', 'dead_lettered')),
    ADD COLUMN settled_at   timestamptz,
    ADD COLUMN published_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN republished  integer NOT NULL DEFAULT 0;
ALTER TABLE ingested_interactions ALTER COLUMN state SET DEFAULT 'pending';

-- The processor's events name interactions by id.
CREATE INDEX ingested_interactions_id_idx ON ingested_interactions (interaction_id);
-- The reconciler's scan: only the (few) pending rows.
CREATE INDEX ingested_interactions_pending_idx ON ingested_interactions (published_at)
    WHERE state = 'pending';
-- Pruning and the per-day report.
CREATE INDEX ingested_interactions_accepted_idx ON ingested_interactions (accepted_at);

-- The ledger's own background work (the consumer of the processor's events,
-- the reconciler, pruning, the operator's report) spans tenants: a second
-- policy gated on app.ingest_ledger = 'on', set per transaction only by
-- those statements (services/tools-gateway/src/reconciler.c).
CREATE POLICY ingest_ledger ON ingested_interactions
    USING (current_setting('app.ingest_ledger', true) = 'on')
    WITH CHECK (current_setting('app.ingest_ledger', true) = 'on');

-- A report that arrived before its ledger row (the processor can be faster
-- than the ledger write that follows Kafka's acknowledgement, e.g. on a
-- connection being opened): kept here until the row is written, which then
-- starts settled. Reports for interactions never recorded (published by
-- other means) are pruned after a day by the reconciler.
CREATE TABLE ledger_reports (
    tenant_id       uuid NOT NULL,
    interaction_id  uuid NOT NULL,
    state           text NOT NULL CHECK (state IN ('analysed', 'dead_lettered')),
    reported_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, interaction_id)
);
CREATE INDEX ledger_reports_reported_idx ON ledger_reports (reported_at);

ALTER TABLE ledger_reports ENABLE ROW LEVEL SECURITY;
ALTER TABLE ledger_reports FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON ledger_reports
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
CREATE POLICY ingest_ledger ON ledger_reports
    USING (current_setting('app.ingest_ledger', true) = 'on')
    WITH CHECK (current_setting('app.ingest_ledger', true) = 'on');
