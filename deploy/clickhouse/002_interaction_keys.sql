-- The processor's idempotency index: which (tenant, interaction) pairs are
-- stored. Ordered by (tenant_id, interaction_id), so the lookup the processor
-- runs before every batch INSERT ("which of these ids exist already?") reads
-- a few index granules instead of scanning the tenant's interactions (ordered
-- by time, they cannot be searched by id cheaply).
--
-- Fed by a materialized view on interactions, i.e. by the very INSERT that
-- stores the interaction and feeds the rollups: a key exists exactly when
-- the interaction's rows (and its share of every rollup) do. Retention
-- deletes keys together with the rows (processor, retention.c).
CREATE TABLE IF NOT EXISTS interaction_keys (
    tenant_id UUID,
    interaction_id UUID,
    occurred_at DateTime
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (tenant_id, interaction_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS interaction_keys_mv TO interaction_keys AS
SELECT tenant_id, interaction_id, occurred_at FROM interactions;

-- Interactions stored before this file ran. Running it twice (a migration
-- interrupted after this statement) only adds duplicate keys, which the
-- lookup does not mind and the ReplacingMergeTree folds.
INSERT INTO interaction_keys SELECT tenant_id, interaction_id, occurred_at FROM interactions;
