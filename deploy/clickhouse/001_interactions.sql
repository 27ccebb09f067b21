-- Analysed interactions and their utterances, written by analytics-processor
-- and read by analytics-query. Runs on ClickHouse 18.16 and current releases:
-- no LowCardinality, no DateTime64, no table TTL (retention is enforced by the
-- processor with mutations per the tenant's setting).
--
-- Idempotency: the processor skips interaction ids already stored before it
-- inserts, so a replayed event never reaches these tables (or the rollups fed
-- from them) twice. ReplacingMergeTree(version) is the second line of defence
-- for the raw rows if two writers ever raced; queries over raw rows dedupe by
-- interaction_id.
CREATE TABLE IF NOT EXISTS interactions (
    tenant_id UUID,
    interaction_id UUID,
    external_id String,
    channel String,
    occurred_at DateTime,
    analyzed_at DateTime,
    language String,
    agent_id String,
    agent_name String,
    customer_ref String,
    tags Array(String),
    sentiment Float32,
    sentiment_customer Float32,
    sentiment_agent Float32,
    topics Array(String),
    intent String,
    keywords Array(String),
    duration_ms UInt32,
    talk_agent_ms UInt32,
    talk_customer_ms UInt32,
    silence_ratio Float32,
    longest_silence_ms UInt32,
    overtalk_ms UInt32,
    escalated UInt8,
    resolved UInt8,
    churn_risk UInt8,
    csat Int8,
    nps Int8,
    pii_redactions UInt32,
    utterance_count UInt32,
    text String,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (tenant_id, occurred_at, interaction_id);

CREATE TABLE IF NOT EXISTS utterances (
    tenant_id UUID,
    interaction_id UUID,
    occurred_at DateTime,
    seq UInt32,
    speaker String,
    start_ms UInt32,
    end_ms UInt32,
    text String,
    sentiment Float32,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (tenant_id, occurred_at, interaction_id, seq);

-- Hourly rollups for the dashboards. Hourly (not daily) so that day, week and
-- month buckets can be cut in each tenant's own timezone from the same rows.
-- csat and nps are -1 when the interaction had none.
CREATE TABLE IF NOT EXISTS interactions_hourly (
    tenant_id UUID,
    hour DateTime,
    channel String,
    agent_id String,
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
ORDER BY (tenant_id, hour, channel, agent_id, language);

CREATE MATERIALIZED VIEW IF NOT EXISTS interactions_hourly_mv TO interactions_hourly AS
SELECT
    tenant_id,
    toStartOfHour(occurred_at) AS hour,
    channel,
    agent_id,
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
GROUP BY tenant_id, hour, channel, agent_id, language;

CREATE TABLE IF NOT EXISTS topics_hourly (
    tenant_id UUID,
    hour DateTime,
    topic String,
    channel String,
    interactions UInt64,
    sentiment_sum Float64,
    negative UInt64
) ENGINE = SummingMergeTree()
PARTITION BY toYYYYMM(hour)
ORDER BY (tenant_id, hour, topic, channel);

CREATE MATERIALIZED VIEW IF NOT EXISTS topics_hourly_mv TO topics_hourly AS
SELECT
    tenant_id,
    toStartOfHour(occurred_at) AS hour,
    arrayJoin(topics) AS topic,
    channel,
    count() AS interactions,
    sum(sentiment) AS sentiment_sum,
    sum(sentiment < -0.05) AS negative
FROM interactions
GROUP BY tenant_id, hour, topic, channel;
