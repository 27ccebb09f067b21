-- The tools-gateway schema: tool registry, ingestion jobs, webhooks.
COMMENT ON SCHEMA tools IS 'tools-gateway: tool registry, ingestion jobs, webhook subscriptions';
