-- A coarser hourly rollup for the dashboards that need no agent dimension.
-- interactions_hourly keys on (tenant_id, hour, channel, agent_id, language);
-- with many agents it holds almost one row per interaction, so an answer
-- without an agent filter or breakdown scans nearly as many rows as the raw
-- table. Without agent_id a tenant has a handful of rows per hour
-- (tests/bench/query_bench.sh: 10-20x faster). analytics-query reads it
-- whenever the answer needs no agent (services/analytics-query/README.md).
-- Same columns and the same expressions as interactions_hourly, so every KPI
-- is the same from either. Runs on ClickHouse 18.16 and current releases.
CREATE TABLE IF NOT EXISTS interactions_hourly_channel (
    tenant_id UUID,
    hour DateTime,
    channel String,
    language String,
    interactions UInt64,
    sentiment_sum Float64,
    positive UInt64,
    negative UInt64,
    resolved UInt64,
    escalated UInt64,
    churn_risk UInt64,
    duration_ms_sum UInt64,
    timed UInt64,
    silence_ratio_sum Float64,
    csat_sum UInt64,
    csat_count UInt64,
    nps_promoters UInt64,
    nps_detractors UInt64,
    nps_count UInt64
) ENGINE = SummingMergeTree()
PARTITION BY toYYYYMM(hour)
ORDER BY (tenant_id, hour, channel, language);

-- Backfill: what interactions_hourly already holds, folded over agent_id.
-- Copied from interactions_hourly rather than recomputed from interactions,
-- so the new table agrees with the rollup it replaces (including rows that
-- retention has since cut from the raw table but not yet from the rollups).
--
-- The guard: the INSERT selects nothing unless interactions_hourly_channel
-- is empty (a scalar subquery in WHERE, evaluated once before the read;
-- tested on ClickHouse 18.16: a first run copies, a re-run copies nothing;
-- scalar subqueries work the same in current releases). ch_migrate records the
-- file only after every statement succeeded, so an interrupted run is run
-- again; the guard makes that re-run skip the copy that already happened
-- instead of doubling it.
--
-- Its limits:
-- * It runs BEFORE the view below is created: had the view come first, one
--   interaction stored between the two statements would make the table
--   non-empty and skip the whole history. In this order, interactions stored
--   between this INSERT and the CREATE below (milliseconds) reach
--   interactions_hourly but not this table. Migrations run when a service
--   starts or in the --migrate-only pre-upgrade Job; an old
--   analytics-processor still writing during that gap is the only way to
--   lose rows, so stop the processors (scale to 0) for this upgrade to be
--   exact.
-- * A copy interrupted part-way (the server died during the INSERT, which is
--   not atomic across blocks and partitions) leaves some rows: the re-run
--   then sees a non-empty table and copies nothing more. Repair by hand, with
--   the processors stopped: TRUNCATE TABLE interactions_hourly_channel, then
--   this INSERT again (the guard lets it through on the empty table).
-- * Emptiness is the only signal it has. A re-run against a table that is
--   empty because every row expired copies again, which is then right too.
-- The SELECT lists the columns in table order (INSERT ... SELECT maps by
-- position); no aliases, so no sum can shadow a column name.
INSERT INTO interactions_hourly_channel
SELECT
    tenant_id,
    hour,
    channel,
    language,
    sum(interactions),
    sum(sentiment_sum),
    sum(positive),
    sum(negative),
    sum(resolved),
    sum(escalated),
    sum(churn_risk),
    sum(duration_ms_sum),
    sum(timed),
    sum(silence_ratio_sum),
    sum(csat_sum),
    sum(csat_count),
    sum(nps_promoters),
    sum(nps_detractors),
    sum(nps_count)
FROM interactions_hourly
WHERE (SELECT count() FROM interactions_hourly_channel) = 0
GROUP BY tenant_id, hour, channel, language;

-- The same expressions as interactions_hourly_mv (001_interactions.sql),
-- without agent_id: a change to one view must be made to the other.
CREATE MATERIALIZED VIEW IF NOT EXISTS interactions_hourly_channel_mv TO interactions_hourly_channel AS
SELECT
    tenant_id,
    toStartOfHour(occurred_at) AS hour,
    channel,
    language,
    count() AS interactions,
    sum(sentiment) AS sentiment_sum,
    sum(sentiment > 0.05) AS positive,
    sum(sentiment < -0.05) AS negative,
    sum(resolved) AS resolved,
    sum(escalated) AS escalated,
    sum(churn_risk) AS churn_risk,
    sum(duration_ms) AS duration_ms_sum,
    sum(duration_ms > 0) AS timed,
    sum(silence_ratio) AS silence_ratio_sum,
    sum(csat >= 0 ? toUInt64(csat) : 0) AS csat_sum,
    sum(csat >= 0) AS csat_count,
    sum(nps >= 9) AS nps_promoters,
    sum(nps >= 0 AND nps <= 6) AS nps_detractors,
    sum(nps >= 0) AS nps_count
FROM interactions
GROUP BY tenant_id, hour, channel, language;
