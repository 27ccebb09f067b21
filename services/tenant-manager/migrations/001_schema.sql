-- The tenant-manager schema: tenants, users, roles, API keys, audit log.
-- Tables arrive with the identity work; every tenant table gets tenant_id,
-- ENABLE + FORCE ROW LEVEL SECURITY and a policy on app.tenant_id.
COMMENT ON SCHEMA tenant IS 'tenant-manager: tenants, users, roles, API keys, settings, audit log';
