-- Identity and tenancy: plans, tenants, platform operators, users, invites,
-- API keys and the audit log.
--
-- Two kinds of tables live here:
--   platform tables  plans, tenants, operators. They describe the platform,
--                    not a tenant's data: the tenants registry is what turns a
--                    login's slug into a tenant id before any tenant-scoped
--                    transaction can start, and operators belong to no tenant.
--                    No row-level security; only tenant-manager's code reads
--                    them, and nothing in them is a tenant's secret.
--   tenant tables    users, invites, api_keys, audit_log. Each has tenant_id,
--                    ENABLE + FORCE ROW LEVEL SECURITY and a policy on
--                    app.tenant_id (set with SET LOCAL by sp_db_tx_begin), so
--                    a transaction sees exactly one tenant's rows, and with no
--                    tenant set, none at all.
--
-- Two tenant tables must be found before the tenant is known: an invite (its
-- accept route is public) and an API key (ResolveApiKey gets only the key).
-- Each has a second, SELECT-only policy matching one random public lookup
-- id (app.invite_lookup / app.api_key_prefix, set per transaction like
-- app.tenant_id): knowing the lookup id reveals that one row, which then
-- names its tenant; the secret half of the token is still checked against
-- the stored hash in constant time. Without the setting it matches nothing.

-- ---- helpers -------------------------------------------------------------

-- RFC 3339 UTC text with milliseconds, the one timestamp form of the API.
CREATE FUNCTION ts_text(t timestamptz) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$;

-- The tenant of this transaction, or NULL.
CREATE FUNCTION current_tenant() RETURNS uuid
    LANGUAGE sql STABLE
    AS $$ SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid $$;

-- ---- plans (platform) ----------------------------------------------------

CREATE TABLE plans (
    code                        text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]{1,31}$'),
    name                        text NOT NULL,
    seats                       integer NOT NULL CHECK (seats > 0),
    agents                      integer NOT NULL CHECK (agents >= 0),
    monthly_interactions        bigint NOT NULL CHECK (monthly_interactions >= 0),
    tenant_requests_per_minute  integer NOT NULL CHECK (tenant_requests_per_minute > 0),
    user_requests_per_minute    integer NOT NULL CHECK (user_requests_per_minute > 0),
    created_at                  timestamptz NOT NULL DEFAULT now()
);

INSERT INTO plans (code, name, seats, agents, monthly_interactions,
                   tenant_requests_per_minute, user_requests_per_minute) VALUES
    ('trial',      'Trial',       5,   2,     1000,   600,  120),
    ('growth',     'Growth',     25,  10,    50000,  3000,  300),
    ('enterprise', 'Enterprise', 500, 100, 5000000, 20000, 1200);

-- ---- tenants (platform registry) -----------------------------------------

CREATE TABLE tenants (
    id              uuid PRIMARY KEY,
    -- 3..40 characters, lower-case letters, digits and inner hyphens.
    slug            text NOT NULL CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$'
                                         AND slug NOT LIKE '%--%'),
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    status          text NOT NULL DEFAULT 'active'
                        CHECK (status IN ('active', 'suspended', 'deleted')),
    plan_code       text NOT NULL REFERENCES plans (code),
    -- Per-tenant overrides of the plan's limits; NULL = the plan's value.
    seats                       integer CHECK (seats > 0),
    agents                      integer CHECK (agents >= 0),
    monthly_interactions        bigint CHECK (monthly_interactions >= 0),
    tenant_requests_per_minute  integer CHECK (tenant_requests_per_minute > 0),
    user_requests_per_minute    integer CHECK (user_requests_per_minute > 0),
    locale          text NOT NULL DEFAULT 'en-US',
    timezone        text NOT NULL DEFAULT 'UTC',
    retention_days  integer NOT NULL DEFAULT 365 CHECK (retention_days BETWEEN 1 AND 3650),
    allowed_origins text[] NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    suspended_at    timestamptz,
    deleted_at      timestamptz,
    -- A slug stays taken until its tenant is purged, so a deleted tenant's
    -- old links and logins never reach a newcomer.
    CONSTRAINT tenants_slug_key UNIQUE (slug)
);
CREATE INDEX tenants_status_idx ON tenants (status, deleted_at);

-- ---- operators (platform) ------------------------------------------------

CREATE TABLE operators (
    id              uuid PRIMARY KEY,
    email           text NOT NULL CHECK (email = lower(email)),
    display_name    text NOT NULL DEFAULT '',
    password_hash   text NOT NULL,
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    last_login_at   timestamptz,
    CONSTRAINT operators_email_key UNIQUE (email)
);

-- ---- users (tenant) ------------------------------------------------------

CREATE TABLE users (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    email           text NOT NULL CHECK (email = lower(email)),
    display_name    text NOT NULL DEFAULT '',
    role            text NOT NULL
                        CHECK (role IN ('owner', 'admin', 'analyst', 'agent_manager', 'viewer')),
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    password_hash   text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    disabled_at     timestamptz,
    last_login_at   timestamptz,
    CONSTRAINT users_email_key UNIQUE (tenant_id, email)
);
CREATE INDEX users_tenant_created_idx ON users (tenant_id, created_at, id);

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON users
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);

-- ---- invites (tenant) ----------------------------------------------------

CREATE TABLE invites (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    email           text NOT NULL CHECK (email = lower(email)),
    display_name    text NOT NULL DEFAULT '',
    role            text NOT NULL
                        CHECK (role IN ('owner', 'admin', 'analyst', 'agent_manager', 'viewer')),
    lookup          text NOT NULL CHECK (lookup ~ '^[0-9a-f]{12}$'),
    token_hash      bytea NOT NULL CHECK (length(token_hash) = 32),
    invited_by      text NOT NULL,           -- a user id, or "operator:<id>"
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    accepted_at     timestamptz,
    revoked_at      timestamptz,
    user_id         uuid,                    -- the account the invite created
    CONSTRAINT invites_lookup_key UNIQUE (lookup)
);
CREATE INDEX invites_tenant_email_idx ON invites (tenant_id, email);

ALTER TABLE invites ENABLE ROW LEVEL SECURITY;
ALTER TABLE invites FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON invites
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
CREATE POLICY lookup_by_token ON invites FOR SELECT
    USING (lookup = NULLIF(current_setting('app.invite_lookup', true), ''));

-- ---- API keys (tenant) ---------------------------------------------------

CREATE TABLE api_keys (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    prefix          text NOT NULL CHECK (prefix ~ '^[0-9a-f]{12}$'),
    secret_hash     bytea NOT NULL CHECK (length(secret_hash) = 32),
    scopes          text[] NOT NULL,
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz,
    revoked_at      timestamptz,
    last_used_at    timestamptz,
    CONSTRAINT api_keys_prefix_key UNIQUE (prefix)
);
CREATE INDEX api_keys_tenant_created_idx ON api_keys (tenant_id, created_at, id);

ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON api_keys
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
CREATE POLICY lookup_by_prefix ON api_keys FOR SELECT
    USING (prefix = NULLIF(current_setting('app.api_key_prefix', true), ''));

-- ---- audit log (tenant) --------------------------------------------------

CREATE TABLE audit_log (
    id              uuid PRIMARY KEY,        -- UUIDv7: time-ordered
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    occurred_at     timestamptz NOT NULL DEFAULT now(),
    actor_type      text NOT NULL CHECK (actor_type IN ('user', 'operator', 'api_key', 'system', 'invitee')),
    actor_id        text NOT NULL DEFAULT '',
    action          text NOT NULL,           -- e.g. user.role_changed
    resource_type   text NOT NULL,
    resource_id     text NOT NULL DEFAULT '',
    remote_addr     text NOT NULL DEFAULT '',
    request_id      text NOT NULL DEFAULT '',
    before          jsonb,
    after           jsonb
);
CREATE INDEX audit_log_tenant_id_idx ON audit_log (tenant_id, id DESC);

ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_log
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);

-- The audit log is append-only: the app role has UPDATE/DELETE on every table
-- of the schema (sp_db_migrate grants them), so the database itself refuses
-- changes, except the deletion of a purged tenant's rows.
CREATE FUNCTION audit_log_append_only() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path FROM CURRENT
    AS $$
BEGIN
    IF TG_OP = 'DELETE' AND NOT EXISTS (
            SELECT 1 FROM tenants WHERE id = OLD.tenant_id AND status <> 'deleted') THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

-- ---- JSON views of each resource -----------------------------------------
-- The API's JSON for a row, built where the data is; the audit log stores
-- the same shape as before/after, so the two never drift apart. Secrets and
-- hashes never appear here.

CREATE FUNCTION tenant_json(t tenants) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path FROM CURRENT
    AS $$
    SELECT jsonb_build_object(
        'id', t.id, 'slug', t.slug, 'name', t.name, 'status', t.status,
        'plan', t.plan_code,
        'settings', jsonb_build_object(
            'locale', t.locale, 'timezone', t.timezone,
            'retention_days', t.retention_days,
            'allowed_origins', to_jsonb(t.allowed_origins)),
        'limit_overrides', jsonb_strip_nulls(jsonb_build_object(
            'seats', t.seats, 'agents', t.agents,
            'monthly_interactions', t.monthly_interactions,
            'tenant_requests_per_minute', t.tenant_requests_per_minute,
            'user_requests_per_minute', t.user_requests_per_minute)),
        'created_at', ts_text(t.created_at), 'updated_at', ts_text(t.updated_at),
        'suspended_at', ts_text(t.suspended_at), 'deleted_at', ts_text(t.deleted_at))
$$;

CREATE FUNCTION user_json(u users) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path FROM CURRENT
    AS $$
    SELECT jsonb_build_object(
        'id', u.id, 'email', u.email, 'display_name', u.display_name, 'role', u.role,
        'status', u.status, 'created_at', ts_text(u.created_at),
        'updated_at', ts_text(u.updated_at), 'disabled_at', ts_text(u.disabled_at),
        'last_login_at', ts_text(u.last_login_at))
$$;

CREATE FUNCTION invite_json(i invites) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path FROM CURRENT
    AS $$
    SELECT jsonb_build_object(
        'id', i.id, 'email', i.email, 'display_name', i.display_name, 'role', i.role,
        'status', CASE WHEN i.accepted_at IS NOT NULL THEN 'accepted'
                       WHEN i.revoked_at IS NOT NULL THEN 'revoked'
                       WHEN i.expires_at <= now() THEN 'expired'
                       ELSE 'pending' END,
        'invited_by', i.invited_by, 'created_at', ts_text(i.created_at),
        'expires_at', ts_text(i.expires_at), 'accepted_at', ts_text(i.accepted_at),
        'revoked_at', ts_text(i.revoked_at), 'user_id', i.user_id)
$$;

CREATE FUNCTION api_key_json(k api_keys) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path FROM CURRENT
    AS $$
    SELECT jsonb_build_object(
        'id', k.id, 'name', k.name, 'prefix', k.prefix, 'scopes', to_jsonb(k.scopes),
        'status', CASE WHEN k.revoked_at IS NOT NULL THEN 'revoked'
                       WHEN k.expires_at IS NOT NULL AND k.expires_at <= now() THEN 'expired'
                       ELSE 'active' END,
        'created_by', k.created_by, 'created_at', ts_text(k.created_at),
        'expires_at', ts_text(k.expires_at), 'revoked_at', ts_text(k.revoked_at),
        'last_used_at', ts_text(k.last_used_at))
$$;

CREATE FUNCTION audit_json(a audit_log) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path FROM CURRENT
    AS $$
    SELECT jsonb_build_object(
        'id', a.id, 'occurred_at', ts_text(a.occurred_at),
        'actor', jsonb_build_object('type', a.actor_type, 'id', a.actor_id),
        'action', a.action,
        'resource', jsonb_build_object('type', a.resource_type, 'id', a.resource_id),
        'remote_addr', a.remote_addr, 'request_id', a.request_id,
        'before', a.before, 'after', a.after)
$$;

-- A tenant's effective limits: the plan's, overridden per tenant.
CREATE FUNCTION limits_json(t tenants) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path FROM CURRENT
    AS $$
    SELECT jsonb_build_object(
        'plan', p.code,
        'seats', coalesce(t.seats, p.seats),
        'agents', coalesce(t.agents, p.agents),
        'monthly_interactions', coalesce(t.monthly_interactions, p.monthly_interactions),
        'tenant_requests_per_minute',
            coalesce(t.tenant_requests_per_minute, p.tenant_requests_per_minute),
        'user_requests_per_minute',
            coalesce(t.user_requests_per_minute, p.user_requests_per_minute))
    FROM plans p WHERE p.code = t.plan_code
$$;
