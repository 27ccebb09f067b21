"""Tenant isolation at the database level, on the running stack's PostgreSQL.

Two tenants get users, invites, API keys and audit entries through the public
API. Then, connected as the services' app role, for every table of the
tenant-manager schema enumerated from information_schema (so a new table is
covered without editing this file):
  - a table that is not one of the few platform tables must be a tenant
    table: a tenant_id column, ENABLE + FORCE ROW LEVEL SECURITY;
  - with app.tenant_id set to A it returns rows of A and none of B;
  - with app.tenant_id unset or empty it returns no row at all;
  - rows cannot be moved into or deleted from B while scoped to A;
the same holds for the schema owner (FORCE applies to owners), and the app
role can neither bypass RLS nor own anything.
"""
import os
import subprocess
import uuid

import pytest

from test_tenants import add_user, login, new_tenant, Api

SCHEMA = "tenant"
# Platform tables: the tenants registry (slug -> id, read before any tenant is
# known), platform operators (no tenant), plans, and the migrations ledger.
PLATFORM_TABLES = {"tenants", "operators", "plans", "schema_migrations"}


def psql(url, *commands, tenant=None, check=True):
    """Runs commands (each its own -c) in one session; tenant=None leaves
    app.tenant_id unset, "" sets it empty."""
    env = dict(os.environ)
    env.pop("PGOPTIONS", None)
    if tenant is not None:
        env["PGOPTIONS"] = f"-c app.tenant_id={tenant}" if tenant else "-c app.tenant_id="
    args = ["psql", url, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"]
    for c in commands:
        args += ["-c", c]
    out = subprocess.run(args, env=env, capture_output=True, text=True, timeout=30)
    if check:
        assert out.returncode == 0, (commands, out.stderr)
    return out


def rows(url, sql, tenant=None):
    return [line.split("|") for line in psql(url, sql, tenant=tenant).stdout.splitlines()]


@pytest.fixture(scope="module")
def two_tenants(stack, http):
    operator = Api(stack, http, login(stack, http, "", stack.env["SERPHONA_OPERATOR_EMAIL"],
                                      stack.env["SERPHONA_OPERATOR_PASSWORD"]))
    made = []
    for tag in ("dbiso-a", "dbiso-b"):
        t = new_tenant(stack, http, operator, tag)
        add_user(stack, http, t, t["owner"], "analyst", "ana")
        t["owner"]("POST", "/v1/users/invites", {"email": "pending@example.com",
                                                 "role": "viewer"}, expect=201)
        key = t["owner"]("POST", "/v1/api-keys", {"name": "k", "scopes": ["ingest:write"]},
                         expect=201).json()
        t["key_prefix"] = key["prefix"]
        t["owner"]("PUT", "/v1/tenants/current/taxonomy",
                   {"categories": [{"id": "iso", "patterns": ["isolation probe"]}]}, expect=200)
        made.append(t)
    return made


def tenant_tables(url):
    """(name, has tenant_id, rls enabled, rls forced) of every table."""
    return rows(url, f"""
        SELECT t.table_name,
               EXISTS (SELECT 1 FROM information_schema.columns c
                       WHERE c.table_schema = t.table_schema AND c.table_name = t.table_name
                         AND c.column_name = 'tenant_id'),
               cl.relrowsecurity, cl.relforcerowsecurity
        FROM information_schema.tables t
        JOIN pg_class cl ON cl.relname = t.table_name
        JOIN pg_namespace n ON n.oid = cl.relnamespace AND n.nspname = t.table_schema
        WHERE t.table_schema = '{SCHEMA}' AND t.table_type = 'BASE TABLE'
        ORDER BY 1""")


def test_app_role_cannot_bypass(stack):
    url = stack.env["SERPHONA_PG_URL"]
    assert rows(url, "SELECT rolsuper, rolbypassrls FROM pg_roles "
                     "WHERE rolname = current_user") == [["f", "f"]]
    owned = rows(url, f"SELECT count(*) FROM pg_tables WHERE schemaname = '{SCHEMA}' "
                      "AND tableowner = current_user")
    assert owned == [["0"]]


def test_every_table_is_platform_or_isolated(stack, two_tenants):
    url = stack.env["SERPHONA_PG_URL"]
    tables = tenant_tables(url)
    names = {t[0] for t in tables}
    assert PLATFORM_TABLES - {"schema_migrations"} <= names
    tenant_only = [t for t in tables if t[0] not in PLATFORM_TABLES]
    assert len(tenant_only) >= 4, tables
    for name, has_tenant_id, enabled, forced in tenant_only:
        assert has_tenant_id == "t", f"{name}: a tenant table needs tenant_id"
        assert enabled == "t" and forced == "t", f"{name}: RLS must be enabled and forced"
        policies = rows(url, "SELECT count(*) FROM pg_policies WHERE schemaname = "
                             f"'{SCHEMA}' AND tablename = '{name}' "
                             "AND qual LIKE '%app.tenant_id%'")
        assert int(policies[0][0]) >= 1, f"{name}: no policy on app.tenant_id"


@pytest.mark.parametrize("role_url", ["SERPHONA_PG_URL", "SERPHONA_PG_MIGRATE_URL"])
def test_tenant_a_never_sees_b(stack, two_tenants, role_url):
    url = stack.env[role_url]
    a, b = two_tenants
    tables = [t[0] for t in tenant_tables(stack.env["SERPHONA_PG_URL"])
              if t[0] not in PLATFORM_TABLES]
    for name in tables:
        for me, other in ((a, b), (b, a)):
            got = rows(url, f"SELECT count(*) FILTER (WHERE tenant_id = '{me['id']}'), "
                            f"count(*) FILTER (WHERE tenant_id <> '{me['id']}'), "
                            f"count(*) FILTER (WHERE tenant_id = '{other['id']}') "
                            f"FROM {SCHEMA}.{name}", tenant=me["id"])
            mine, foreign, of_other = (int(x) for x in got[0])
            # Each table holds rows of both tenants, so "none of B" means
            # something.
            assert mine > 0, (name, me["slug"])
            assert foreign == 0 and of_other == 0, (name, got)
        for unset in (None, ""):
            got = rows(url, f"SELECT count(*) FROM {SCHEMA}.{name}", tenant=unset)
            assert got == [["0"]], (name, unset, got)
        # A random tenant id sees nothing either.
        assert rows(url, f"SELECT count(*) FROM {SCHEMA}.{name}",
                    tenant=str(uuid.uuid4())) == [["0"]]


def test_scoped_writes_cannot_touch_the_other_tenant(stack, two_tenants):
    url = stack.env["SERPHONA_PG_URL"]
    a, b = two_tenants
    tables = [t[0] for t in tenant_tables(url) if t[0] not in PLATFORM_TABLES]
    for name in tables:
        # Moving A's rows into B is refused (WITH CHECK, or the audit log's
        # append-only trigger).
        out = psql(url, "BEGIN", f"UPDATE {SCHEMA}.{name} SET tenant_id = '{b['id']}'",
                   "ROLLBACK", tenant=a["id"], check=False)
        assert out.returncode != 0, (name, out.stdout)
        # B's rows are invisible, so a delete of them deletes nothing.
        out = psql(url, "BEGIN",
                   f"WITH d AS (DELETE FROM {SCHEMA}.{name} WHERE tenant_id = '{b['id']}' "
                   "RETURNING 1) SELECT count(*) FROM d", "ROLLBACK", tenant=a["id"])
        assert out.stdout.split() == ["0"], (name, out.stdout)
    # B still has every row.
    for name in tables:
        assert int(rows(url, f"SELECT count(*) FROM {SCHEMA}.{name}", tenant=b["id"])[0][0]) > 0


def test_lookup_policies_reveal_one_row_only(stack, two_tenants):
    """Invites and API keys are found before their tenant is known, through a
    SELECT-only policy on one random public lookup id. Knowing B's key prefix
    shows that one row, nothing else of B; a wrong prefix shows nothing."""
    url = stack.env["SERPHONA_PG_URL"]
    a, b = two_tenants
    out = psql(url, f"SELECT set_config('app.api_key_prefix', '{b['key_prefix']}', false)",
               f"SELECT count(*), min(tenant_id::text) FROM {SCHEMA}.api_keys")
    assert out.stdout.splitlines()[-1] == f"1|{b['id']}"
    for name in ("users", "invites", "audit_log"):
        out = psql(url, f"SELECT set_config('app.api_key_prefix', '{b['key_prefix']}', false)",
                   f"SELECT count(*) FROM {SCHEMA}.{name}")
        assert out.stdout.splitlines()[-1] == "0", name
    out = psql(url, "SELECT set_config('app.api_key_prefix', '000000000000', false)",
               f"SELECT count(*) FROM {SCHEMA}.api_keys", tenant=a["id"])
    assert out.stdout.splitlines()[-1] == "1"  # A's own key only
    # The lookup policy is for SELECT only: no write through it.
    out = psql(url, f"SELECT set_config('app.api_key_prefix', '{b['key_prefix']}', false)",
               "BEGIN", f"WITH u AS (UPDATE {SCHEMA}.api_keys SET name = 'pwned' RETURNING 1) "
                        "SELECT count(*) FROM u", "ROLLBACK")
    assert out.stdout.splitlines()[-1] == "0"
