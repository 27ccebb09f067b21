"""Tenancy through the running stack, black-box: the platform operator creates
a tenant, its owner accepts the invite and logs in through the auth-gateway,
invites an admin, who manages users and API keys; the audit log holds every
change. Every refusal of tenant-manager's routes is checked with its exact
status and error code, changes (suspension, disabling, role changes) take
effect on the very next request, and for every route of tenant-manager's
routing table (read from its ops /routes, so a new route is covered without
editing this file) another tenant's ids answer 404, never 403.
"""
import re
import subprocess
import uuid

import pytest

PW = "Sturdy passphrase 2024"


# ---- helpers -------------------------------------------------------------------------

class Api:
    """Calls the gateway as one caller (a bearer token, an API key or nobody)."""

    def __init__(self, stack, http, token=None, api_key=None):
        self.base, self.http = stack.gateway, http
        self.headers = {}
        if token:
            self.headers["Authorization"] = "Bearer " + token
        if api_key:
            self.headers["X-Api-Key"] = api_key

    def __call__(self, method, path, json=None, expect=None):
        resp = self.http.request(method, self.base + path, json=json, headers=self.headers,
                                 timeout=20)
        if expect is not None:
            assert resp.status_code == expect, (method, path, resp.status_code, resp.text)
        return resp


def refused(resp, status, code):
    assert resp.status_code == status, (resp.status_code, resp.text)
    body = resp.json()
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]


def login(stack, http, tenant, email, password, expect=200):
    resp = http.post(stack.gateway + "/v1/auth/login",
                     json={"tenant": tenant, "email": email, "password": password}, timeout=20)
    assert resp.status_code == expect, resp.text
    return resp.json().get("access_token") if expect == 200 else resp


def owner_sql(stack, sql):
    """One statement as the schema owner (for what the API cannot do: age an
    invite). Row-level security is forced on the owner too, so tenant rows
    need app.tenant_id, which callers set in sql."""
    out = subprocess.run(["psql", stack.env["SERPHONA_PG_MIGRATE_URL"], "-X", "-q", "-At",
                          "-v", "ON_ERROR_STOP=1", "-c", sql],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.fixture(scope="module")
def operator(stack, http):
    token = login(stack, http, "", stack.env["SERPHONA_OPERATOR_EMAIL"],
                  stack.env["SERPHONA_OPERATOR_PASSWORD"])
    return Api(stack, http, token)


def new_tenant(stack, http, operator, tag, plan="growth"):
    """A tenant with an owner who accepted the invite and logged in."""
    slug = f"{tag}-{uuid.uuid4().hex[:8]}"
    email = f"owner@{slug}.example.com"
    resp = operator("POST", "/v1/tenants", {"slug": slug, "name": f"Tenant {tag}", "plan": plan,
                                            "owner_email": email}, expect=201)
    body = resp.json()
    invite = body["owner_invite"]
    assert invite["email"] == email and invite["role"] == "owner"
    assert invite["token"].startswith("inv_")
    accepted = Api(stack, http)("POST", "/v1/users/invites/accept",
                                {"token": invite["token"], "password": PW}, expect=201).json()
    token = login(stack, http, slug, email, PW)
    return {"id": body["tenant"]["id"], "slug": slug, "email": email,
            "owner_id": accepted["user"]["id"], "owner": Api(stack, http, token)}


def add_user(stack, http, tenant, by, role, name):
    email = f"{name}@{tenant['slug']}.example.com"
    inv = by("POST", "/v1/users/invites", {"email": email, "role": role}, expect=201).json()
    user = Api(stack, http)("POST", "/v1/users/invites/accept",
                            {"token": inv["token"], "password": PW}, expect=201).json()["user"]
    token = login(stack, http, tenant["slug"], email, PW)
    return {"id": user["id"], "email": email, "invite_id": inv["id"],
            "api": Api(stack, http, token)}


# ---- operator bootstrap ------------------------------------------------------------------

def test_operator_from_stack_configuration_logs_in(stack, http, operator):
    me = operator("GET", "/v1/auth/me", expect=200).json()
    assert "platform_operator" in str(me)
    plans = operator("GET", "/v1/tenants/plans", expect=200).json()["items"]
    assert [p["code"] for p in plans] == ["trial", "growth", "enterprise"]


def test_create_operator_command(stack, http):
    env = dict(stack.base_env)
    env.update(stack.env)
    env.pop("SERPHONA_OPERATOR_EMAIL")
    env.pop("SERPHONA_OPERATOR_PASSWORD")
    email = f"ops-{uuid.uuid4().hex[:6]}@serphona.test"
    binary = str(stack.bin_dir / "tenant-manager")
    out = subprocess.run([binary, "--create-operator"], input=f"{email}\n{PW}\n", env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert re.fullmatch(r"operator [0-9a-f-]{36} created\n", out.stdout), out.stdout
    login(stack, http, "", email, PW)
    # Again: resets the password of the same operator.
    out = subprocess.run([binary, "--create-operator"], input=f"{email}\nA brand new pass 1\n",
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "password reset" in out.stdout, out
    login(stack, http, "", email, "A brand new pass 1")
    # Never a weak password, and no password means no operator.
    out = subprocess.run([binary, "--create-operator"], input=f"{email}\nshort\n", env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "12 characters" in out.stderr
    out = subprocess.run([binary, "--create-operator"], input="", env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1


# ---- the main flow -------------------------------------------------------------------------

def test_tenant_admin_users_api_keys_and_audit(stack, http, operator):
    t = new_tenant(stack, http, operator, "flow")
    owner = t["owner"]
    current = owner("GET", "/v1/tenants/current", expect=200).json()
    assert current["id"] == t["id"] and current["slug"] == t["slug"]
    assert current["limits"]["plan"] == "growth"
    assert owner("GET", "/v1/tenants/current/limits", expect=200).json()["seats"] == 25

    # The owner invites an admin, who accepts and logs in.
    admin = add_user(stack, http, t, owner, "admin", "ada")
    a = admin["api"]
    # The admin manages users: invites a viewer, promotes them, disables them.
    viewer = add_user(stack, http, t, a, "viewer", "vic")
    users = a("GET", "/v1/users?per_page=2", expect=200).json()
    assert users["total"] == 3 and len(users["items"]) == 2
    assert a("GET", "/v1/users?q=vic", expect=200).json()["total"] == 1
    changed = a("PATCH", f"/v1/users/{viewer['id']}", {"role": "analyst"}, expect=200).json()
    assert changed["role"] == "analyst"
    assert a("POST", f"/v1/users/{viewer['id']}/disable", expect=200).json()["status"] == \
        "disabled"
    assert a("POST", f"/v1/users/{viewer['id']}/enable", expect=200).json()["status"] == "active"
    me = viewer["api"]("GET", "/v1/users/me", expect=200).json()
    assert me["id"] == viewer["id"] and me["role"] == "analyst"

    # API keys: the secret once, never again; the key works at the gateway.
    created = a("POST", "/v1/api-keys", {"name": "crm", "scopes": ["users:read"]},
                expect=201).json()
    key = created["key"]
    assert key.startswith("sk_live_" + created["prefix"] + "_")
    listing = a("GET", "/v1/api-keys", expect=200)
    assert key.split("_")[-1] not in listing.text and '"key"' not in listing.text
    by_key = Api(stack, http, api_key=key)
    assert by_key("GET", "/v1/users", expect=200).json()["total"] == 3
    refused(by_key("POST", "/v1/users/invites", {"email": "x@y.io", "role": "viewer"}), 403,
            "forbidden")
    fetched = a("GET", f"/v1/api-keys/{created['id']}", expect=200).json()
    assert fetched["last_used_at"] is not None
    assert a("DELETE", f"/v1/api-keys/{created['id']}", expect=200).json()["status"] == "revoked"
    refused(by_key("GET", "/v1/users"), 401, "invalid_api_key")

    # The admin can read the audit log; the entries name who, what, from where.
    log = a("GET", "/v1/audit-log?limit=200", expect=200).json()["items"]
    actions = [e["action"] for e in log]
    for expected in ("tenant.created", "user.invited", "user.invite_accepted",
                     "user.role_changed", "user.disabled", "user.enabled", "api_key.created",
                     "api_key.revoked"):
        assert expected in actions, (expected, actions)
    role_change = next(e for e in log if e["action"] == "user.role_changed")
    assert role_change["actor"] == {"type": "user", "id": admin["id"]}
    assert role_change["resource"] == {"type": "user", "id": viewer["id"]}
    assert role_change["before"]["role"] == "viewer" and role_change["after"]["role"] == "analyst"
    assert role_change["remote_addr"].startswith("127.0.0.1")
    assert role_change["request_id"]
    revoked = a("GET", "/v1/audit-log?action=api_key.*&limit=1", expect=200).json()
    assert revoked["items"][0]["action"] == "api_key.revoked"
    assert revoked["next_cursor"]
    older = a("GET", "/v1/audit-log?action=api_key.*&cursor=" + revoked["next_cursor"],
              expect=200).json()
    assert [e["action"] for e in older["items"]] == ["api_key.created"]
    assert older["next_cursor"] is None
    assert key.split("_")[-1] not in str(log)


def test_changes_take_effect_on_the_next_request(stack, http, operator):
    t = new_tenant(stack, http, operator, "effect")
    admin = add_user(stack, http, t, t["owner"], "admin", "adm")
    a = admin["api"]
    a("GET", "/v1/api-keys", expect=200)
    # Demoted: the gateway forwards the current roles, not the token's.
    t["owner"]("PATCH", f"/v1/users/{admin['id']}", {"role": "viewer"}, expect=200)
    refused(a("GET", "/v1/api-keys"), 403, "forbidden")
    a("GET", "/v1/users", expect=200)
    # Disabled: the same token is refused at once.
    t["owner"]("POST", f"/v1/users/{admin['id']}/disable", expect=200)
    refused(a("GET", "/v1/users"), 403, "user_disabled")
    refused(login(stack, http, t["slug"], admin["email"], PW, expect=403), 403, "user_disabled")
    t["owner"]("POST", f"/v1/users/{admin['id']}/enable", expect=200)
    a("GET", "/v1/users", expect=200)
    # Suspended tenant: every token of it, and its logins.
    operator("POST", f"/v1/tenants/{t['id']}/suspend", expect=200)
    refused(t["owner"]("GET", "/v1/tenants/current"), 403, "tenant_suspended")
    refused(login(stack, http, t["slug"], t["email"], PW, expect=403), 403, "tenant_suspended")
    operator("POST", f"/v1/tenants/{t['id']}/reactivate", expect=200)
    t["owner"]("GET", "/v1/tenants/current", expect=200)
    # Deleted user: the token no longer identifies anyone.
    t["owner"]("DELETE", f"/v1/users/{admin['id']}", expect=204)
    refused(a("GET", "/v1/users"), 401, "invalid_token")


def test_plan_limits_reach_the_gateway(stack, http, operator):
    t = new_tenant(stack, http, operator, "limits", plan="trial")
    operator("PUT", f"/v1/tenants/{t['id']}/plan",
             {"plan": "trial", "limit_overrides": {"user_requests_per_minute": 2}}, expect=200)
    o = t["owner"]
    statuses = [o("GET", "/v1/tenants/current/limits").status_code for _ in range(4)]
    assert 429 in statuses, statuses
    limits = operator("GET", f"/v1/tenants/{t['id']}", expect=200).json()["limits"]
    assert limits["user_requests_per_minute"] == 2


# ---- every refusal -------------------------------------------------------------------------

def test_tenant_refusals(stack, http, operator):
    t = new_tenant(stack, http, operator, "trefuse")
    o = t["owner"]
    nobody = Api(stack, http)
    refused(nobody("GET", "/v1/tenants"), 401, "unauthenticated")
    refused(nobody("GET", "/v1/users"), 401, "unauthenticated")
    refused(o("GET", "/v1/tenants"), 403, "forbidden")
    refused(o("POST", "/v1/tenants", {"slug": "abc-def", "name": "x"}), 403, "forbidden")
    refused(operator("GET", "/v1/tenants/current"), 403, "forbidden")
    cases = [
        ({"slug": "A!", "name": "x"}, 400, "invalid_slug"),
        ({"slug": t["slug"], "name": "x"}, 409, "slug_taken"),
        ({"slug": "fresh-" + uuid.uuid4().hex[:6]}, 400, "invalid_name"),
        ({"slug": "fresh-" + uuid.uuid4().hex[:6], "name": "x", "plan": "gold"}, 400,
         "unknown_plan"),
        ({"slug": "fresh-" + uuid.uuid4().hex[:6], "name": "x", "owner_email": "nope"}, 400,
         "invalid_email"),
        ({"slug": "fresh-" + uuid.uuid4().hex[:6], "name": "x", "settings": {"x": 1}}, 400,
         "unknown_setting"),
        ({"slug": "fresh-" + uuid.uuid4().hex[:6], "name": "x",
          "settings": {"timezone": "Nowhere/City"}}, 400, "invalid_timezone"),
        ({"slug": "fresh-" + uuid.uuid4().hex[:6], "name": "x", "settings": {"locale": "?"}},
         400, "invalid_locale"),
        ({"slug": "fresh-" + uuid.uuid4().hex[:6], "name": "x",
          "settings": {"retention_days": 0}}, 400, "invalid_retention_days"),
        ({"slug": "fresh-" + uuid.uuid4().hex[:6], "name": "x",
          "settings": {"allowed_origins": ["javascript:alert(1)"]}}, 400, "invalid_origin"),
    ]
    for body, status, code in cases:
        refused(operator("POST", "/v1/tenants", body), status, code)
    refused(operator("GET", f"/v1/tenants/{uuid.uuid4()}"), 404, "tenant_not_found")
    refused(operator("GET", "/v1/tenants?per_page=500"), 400, "invalid_pagination")
    refused(operator("GET", "/v1/tenants?status=sleeping"), 400, "invalid_status")
    refused(operator("PUT", f"/v1/tenants/{t['id']}/plan", {"plan": "gold"}), 400,
            "unknown_plan")
    refused(operator("PUT", f"/v1/tenants/{t['id']}/plan",
                     {"plan": "trial", "limit_overrides": {"seats": 0}}), 400, "invalid_limit")
    refused(o("PATCH", "/v1/tenants/current", {"name": ""}), 400, "invalid_name")
    refused(nobody("POST", "/v1/tenants", {"slug": "abc-def"}), 401, "unauthenticated")


def test_user_and_invite_refusals(stack, http, operator):
    t = new_tenant(stack, http, operator, "urefuse", plan="trial")
    o = t["owner"]
    admin = add_user(stack, http, t, o, "admin", "adm")
    viewer = add_user(stack, http, t, o, "viewer", "vie")
    a, v = admin["api"], viewer["api"]
    public = Api(stack, http)
    refused(v("POST", "/v1/users/invites", {"email": "a@b.io", "role": "viewer"}), 403,
            "forbidden")
    refused(a("POST", "/v1/users/invites", {"email": "a@b.io", "role": "owner"}), 403,
            "owner_required")
    refused(a("POST", "/v1/users/invites", {"email": "bad", "role": "viewer"}), 400,
            "invalid_email")
    refused(a("POST", "/v1/users/invites", {"email": "a@b.io", "role": "god"}), 400,
            "invalid_role")
    refused(a("POST", "/v1/users/invites", {"email": viewer["email"], "role": "viewer"}), 409,
            "user_exists")
    refused(a("PATCH", f"/v1/users/{t['owner_id']}", {"role": "viewer"}), 403, "owner_required")
    refused(o("PATCH", f"/v1/users/{t['owner_id']}", {"role": "admin"}), 409, "last_owner")
    refused(a("POST", f"/v1/users/{admin['id']}/disable"), 409, "cannot_modify_self")
    refused(a("DELETE", f"/v1/users/{admin['id']}"), 409, "cannot_modify_self")
    refused(a("GET", f"/v1/users/{uuid.uuid4()}"), 404, "user_not_found")
    refused(a("GET", "/v1/users?role=god"), 400, "invalid_role")
    refused(a("GET", "/v1/users?page=0"), 400, "invalid_pagination")

    # Invite tokens: wrong, weak passwords, single use, revoked, expired.
    inv = a("POST", "/v1/users/invites", {"email": "newbie@example.com", "role": "analyst"},
            expect=201).json()
    tok = inv["token"]
    refused(public("POST", "/v1/users/invites/accept", {"token": "inv_nope", "password": PW}),
            404, "invite_not_found")
    refused(public("POST", "/v1/users/invites/accept",
                   {"token": tok[:-3] + "AAA", "password": PW}), 404, "invite_not_found")
    refused(public("POST", "/v1/users/invites/accept", {"token": tok, "password": "short"}),
            400, "password_too_short")
    refused(public("POST", "/v1/users/invites/accept",
                   {"token": tok, "password": "x" * 300}), 400, "password_too_long")
    refused(public("POST", "/v1/users/invites/accept",
                   {"token": tok, "password": "my NEWBIE password"}), 400,
            "password_contains_email")
    public("POST", "/v1/users/invites/accept", {"token": tok, "password": PW}, expect=201)
    refused(public("POST", "/v1/users/invites/accept", {"token": tok, "password": PW}), 410,
            "invite_used")
    refused(a("DELETE", f"/v1/users/invites/{inv['id']}"), 409, "invite_used")
    inv2 = a("POST", "/v1/users/invites", {"email": "late@example.com", "role": "viewer"},
             expect=201).json()
    a("DELETE", f"/v1/users/invites/{inv2['id']}", expect=200)
    refused(public("POST", "/v1/users/invites/accept", {"token": inv2["token"], "password": PW}),
            410, "invite_revoked")
    inv3 = a("POST", "/v1/users/invites", {"email": "later@example.com", "role": "viewer"},
             expect=201).json()
    owner_sql(stack, "BEGIN; SELECT set_config('app.tenant_id', '%s', true); UPDATE "
                     "tenant.invites SET expires_at = now() - interval '1 minute' WHERE id = "
                     "'%s'; COMMIT;" % (t["id"], inv3["id"]))
    refused(public("POST", "/v1/users/invites/accept", {"token": inv3["token"], "password": PW}),
            410, "invite_expired")
    refused(a("DELETE", f"/v1/users/invites/{uuid.uuid4()}"), 404, "invite_not_found")

    # Seats: the trial plan has 5; owner, admin, viewer, newbie + one pending invite.
    a("POST", "/v1/users/invites", {"email": "fifth@example.com", "role": "viewer"}, expect=201)
    refused(a("POST", "/v1/users/invites", {"email": "sixth@example.com", "role": "viewer"}),
            409, "seat_limit_reached")


def test_api_key_and_audit_refusals(stack, http, operator):
    t = new_tenant(stack, http, operator, "krefuse")
    admin = add_user(stack, http, t, t["owner"], "admin", "adm")
    analyst = add_user(stack, http, t, t["owner"], "analyst", "ana")
    a = admin["api"]
    refused(a("POST", "/v1/api-keys", {"name": "k", "scopes": ["nope:write"]}), 400,
            "invalid_scope")
    refused(a("POST", "/v1/api-keys", {"name": "k", "scopes": ["platform:admin"]}), 400,
            "invalid_scope")
    refused(a("POST", "/v1/api-keys", {"name": "k", "scopes": ["billing:write"]}), 403,
            "scope_not_allowed")
    refused(a("POST", "/v1/api-keys", {"scopes": ["ingest:write"]}), 400, "invalid_name")
    refused(a("POST", "/v1/api-keys", {"name": "k", "scopes": ["ingest:write"],
                                       "expires_at": "2000-01-01T00:00:00Z"}), 400,
            "invalid_expiry")
    refused(a("GET", f"/v1/api-keys/{uuid.uuid4()}"), 404, "api_key_not_found")
    refused(analyst["api"]("GET", "/v1/api-keys"), 403, "forbidden")
    refused(analyst["api"]("GET", "/v1/audit-log"), 403, "forbidden")
    refused(a("GET", "/v1/audit-log?limit=0"), 400, "invalid_pagination")
    refused(a("GET", "/v1/audit-log?cursor=xyz"), 400, "invalid_cursor")
    refused(a("GET", "/v1/audit-log?since=last-week"), 400, "invalid_time")
    refused(Api(stack, http, api_key="sk_live_000000000000_" + "A" * 43)("GET", "/v1/users"),
            401, "invalid_api_key")


# ---- isolation over every route ------------------------------------------------------------

def test_other_tenants_ids_answer_404_on_every_route(stack, http, operator):
    a = new_tenant(stack, http, operator, "iso-a")
    b = new_tenant(stack, http, operator, "iso-b")
    a_user = add_user(stack, http, a, a["owner"], "viewer", "victim")
    a_invite = a["owner"]("POST", "/v1/users/invites",
                          {"email": "pending@example.com", "role": "viewer"},
                          expect=201).json()
    a_key = a["owner"]("POST", "/v1/api-keys", {"name": "a", "scopes": ["ingest:write"]},
                       expect=201).json()
    ids_of_a = {"user": a_user["id"], "invite": a_invite["id"], "api_key": a_key["id"],
                "tenant": a["id"]}
    routes = http.get(stack.ops_url("tenant-manager") + "/routes", timeout=10).json()["routes"]
    with_id = [r for r in routes if "{" in r["pattern"]]
    assert len(with_id) >= 10, routes

    def kinds(pattern):
        # The resource a path parameter names; an unknown prefix tries every id.
        for prefix, kind in (("/v1/users/invites/", "invite"), ("/v1/users/", "user"),
                             ("/v1/api-keys/", "api_key"), ("/v1/tenants/", "tenant")):
            if pattern.startswith(prefix):
                return [kind]
        return list(ids_of_a)

    for route in with_id:
        for kind in kinds(route["pattern"]):
            path = re.sub(r"\{[^}]+\}", ids_of_a[kind], route["pattern"])
            fresh = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), route["pattern"])
            body = {} if route["method"] in ("POST", "PATCH", "PUT") else None
            got = b["owner"](route["method"], path, json=body)
            never = b["owner"](route["method"], fresh, json=body)
            if route["permission"] == "platform:admin":
                # Operators' routes: refused for any id alike, so no existence leak.
                refused(got, 403, "forbidden")
                refused(never, 403, "forbidden")
            else:
                assert got.status_code == 404, (route, got.status_code, got.text)
                assert got.json()["error"]["code"] == never.json()["error"]["code"], route
                assert never.status_code == 404, (route, never.text)
    # Lists of B never show A's rows.
    for path in ("/v1/users", "/v1/users/invites", "/v1/api-keys", "/v1/audit-log?limit=200",
                 "/v1/tenants/current"):
        text = b["owner"]("GET", path, expect=200).text
        for value in ids_of_a.values():
            assert value not in text, (path, value)
    # And A's resources are untouched.
    assert a["owner"]("GET", f"/v1/users/{a_user['id']}", expect=200).json()["status"] == "active"
    assert a["owner"]("GET", f"/v1/api-keys/{a_key['id']}", expect=200).json()["status"] == \
        "active"
    invites = a["owner"]("GET", "/v1/users/invites?status=pending", expect=200).json()["items"]
    assert [i["id"] for i in invites] == [a_invite["id"]]


def test_tenant_lifecycle_by_operator(stack, http, operator):
    t = new_tenant(stack, http, operator, "life")
    found = operator("GET", f"/v1/tenants?q={t['slug']}", expect=200).json()
    assert found["total"] == 1 and found["items"][0]["id"] == t["id"]
    updated = operator("PATCH", f"/v1/tenants/{t['id']}",
                       {"name": "Life Co", "settings": {"locale": "de-DE",
                                                       "timezone": "Europe/Berlin",
                                                       "retention_days": 30,
                                                       "allowed_origins":
                                                           ["https://life.example.com"]}},
                       expect=200).json()
    assert updated["settings"] == {"locale": "de-DE", "timezone": "Europe/Berlin",
                                   "retention_days": 30,
                                   "allowed_origins": ["https://life.example.com"]}
    # CORS now allows the tenant's console origin at the gateway.
    pre = http.options(stack.gateway + "/v1/users",
                       headers={"Origin": "https://life.example.com",
                                "Access-Control-Request-Method": "GET"}, timeout=10)
    assert pre.headers.get("Access-Control-Allow-Origin") == "https://life.example.com", \
        (pre.status_code, dict(pre.headers))
    deleted = operator("DELETE", f"/v1/tenants/{t['id']}", expect=200).json()
    assert deleted["status"] == "deleted" and deleted["deleted_at"]
    refused(login(stack, http, t["slug"], t["email"], PW, expect=401), 401,
            "invalid_credentials")
    assert operator("GET", f"/v1/tenants?q={t['slug']}&status=deleted",
                    expect=200).json()["total"] == 1
    restored = operator("POST", f"/v1/tenants/{t['id']}/reactivate", expect=200).json()
    assert restored["status"] == "active"
    login(stack, http, t["slug"], t["email"], PW)
