"""Tenant isolation over every route of the API, enumerated from the routing
tables of every back service (their ops /routes), so a route added anywhere is
covered without editing this file.

Tenant A owns one resource of every kind the API has ids for; tenant B's owner
then calls every route that takes an id with each of A's ids and with a random
id. Every answer must be the refusal a missing id gets (404, or 403 on
operator-only routes) with the same error code — never A's data, never a
different answer that would tell B the id exists — and A's resources must be
untouched afterwards. Every list route called by B must not mention any of A's
ids.
"""
import re
import uuid

from conftest import BACK_SERVICES
from test_tenants import Api, add_user, new_tenant, operator  # noqa: F401 (fixture)

PARAM = re.compile(r"\{[^}]+\}")


def all_routes(stack, http):
    routes = []
    for service in BACK_SERVICES:
        table = http.get(stack.ops_url(service) + "/routes", timeout=10).json()["routes"]
        routes += [dict(r, service=service) for r in table
                   if r["pattern"].startswith("/v1/") and not r["pattern"].startswith("/v1/system")]
    return routes


def resources_of(stack, http, tenant):
    """One resource of each kind for tenant; returns {kind: id}."""
    owner = tenant["owner"]
    user = add_user(stack, http, tenant, owner, "viewer", "iso-victim")
    invite = owner("POST", "/v1/users/invites", {"email": "iso-pending@example.com",
                                                 "role": "analyst"}, expect=201).json()
    key = owner("POST", "/v1/api-keys", {"name": "iso", "scopes": ["ingest:write"]},
                expect=201).json()
    batch = owner("POST", "/v1/ingest/interactions", {"interactions": [{
        "external_id": "iso-1", "channel": "chat", "occurred_at": "2026-01-05T10:00:00Z",
        "utterances": [{"speaker": "customer", "text": "my order never arrived"}]}]},
        expect=202).json()
    line = ('{"external_id":"iso-2","channel":"review","occurred_at":"2026-01-05T11:00:00Z",'
            '"rating":2,"text":"slow delivery"}\n')
    upload = http.post(stack.gateway + "/v1/ingest/uploads?format=jsonl", data=line.encode(),
                       headers=dict(owner.headers, **{"Content-Type": "application/x-ndjson"}),
                       timeout=20)
    assert upload.status_code == 202, upload.text
    ids = {"tenant": tenant["id"], "user": user["id"], "invite": invite["id"],
           "api_key": key["id"], "interaction": batch["accepted"][0]["interaction_id"],
           "upload": upload.json()["job_id"]}
    return ids


def test_no_route_leaks_another_tenants_ids(stack, http, operator):  # noqa: F811
    a = new_tenant(stack, http, operator, "isoall-a")
    b = new_tenant(stack, http, operator, "isoall-b")
    ids_of_a = resources_of(stack, http, a)
    routes = all_routes(stack, http)
    with_id = [r for r in routes if PARAM.search(r["pattern"])]
    lists = [r for r in routes if r["method"] == "GET" and not PARAM.search(r["pattern"])]
    assert len(with_id) >= 15 and len(lists) >= 8, routes

    for route in with_id:
        body = {} if route["method"] in ("POST", "PATCH", "PUT") else None
        fresh = PARAM.sub(str(uuid.uuid4()), route["pattern"])
        never = b["owner"](route["method"], fresh, json=body)
        assert never.status_code in (403, 404), (route, never.status_code, never.text)
        for kind, value in ids_of_a.items():
            got = b["owner"](route["method"], PARAM.sub(value, route["pattern"]), json=body)
            assert got.status_code == never.status_code, (route, kind, got.status_code, got.text)
            assert got.json()["error"]["code"] == never.json()["error"]["code"], (route, kind)

    for route in lists:
        resp = b["owner"]("GET", route["pattern"])
        if resp.status_code != 200:
            continue  # e.g. a route that needs parameters; its refusal leaks nothing
        for kind, value in ids_of_a.items():
            assert value not in resp.text, (route, kind)

    # A's resources survived B's DELETE/PATCH/POST attempts.
    owner = a["owner"]
    assert owner("GET", f"/v1/users/{ids_of_a['user']}", expect=200).json()["status"] == "active"
    assert owner("GET", f"/v1/api-keys/{ids_of_a['api_key']}",
                 expect=200).json()["status"] == "active"
    pending = owner("GET", "/v1/users/invites?status=pending", expect=200).json()["items"]
    assert ids_of_a["invite"] in [i["id"] for i in pending]
    owner("GET", f"/v1/ingest/uploads/{ids_of_a['upload']}", expect=200)
