-- Each tenant's own topic and intent taxonomy (issue 4): the JSON document
-- of libs/nlp/include/nlp/taxonomy.h, validated by nlp_taxonomy_from_json
-- before it is stored. No row = the built-in default taxonomy.
--
-- The document is kept as the exact text the tenant sent (not jsonb): the
-- analytics processor parses this text, so what was validated is what runs
-- (jsonb would silently merge duplicate keys).

-- ---- taxonomies (tenant) -------------------------------------------------

CREATE TABLE taxonomies (
    tenant_id       uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    document        text NOT NULL CHECK (length(document) <= 1048576),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    updated_by      text NOT NULL DEFAULT ''
);

ALTER TABLE taxonomies ENABLE ROW LEVEL SECURITY;
ALTER TABLE taxonomies FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON taxonomies
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
