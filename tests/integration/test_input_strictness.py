"""The black-box probe's input findings, through the public gateway: every
JSON body is exactly one strict value, every string valid UTF-8 without NUL,
non-object bodies and unknown fields are refused, other content types get
415, and none of it ever reaches PostgreSQL as a 500."""
import json

import pytest

from test_auth import PASSWORD, Api, api, operator, refused, tenants  # noqa: F401


@pytest.fixture(scope="module")
def owner(tenants):
    t = tenants.create()
    t["token"] = tenants.token(t, t["owner"])["access_token"]
    return t


def raw(api, method, path, token, data, content_type="application/json"):
    headers = {"Authorization": f"Bearer {token}"}
    if content_type:
        headers["Content-Type"] = content_type
    return api.s.request(method, api.base + path, data=data, headers=headers, timeout=30)


TAXONOMY = {"mode": "extend", "categories": [
    {"id": "strict_topic", "name": "Strict", "kind": "topic", "patterns": {"en": ["strictness"]}}]}


@pytest.mark.parametrize("suffix", [b"xyz", b"{}", b" 007", b"\x00"])
def test_taxonomy_with_trailing_bytes_is_400_not_500(api, owner, suffix):
    body = json.dumps(TAXONOMY).encode() + suffix
    refused(raw(api, "PUT", "/v1/tenants/current/taxonomy", owner["token"], body), 400,
            "invalid_taxonomy")
    refused(raw(api, "PUT", "/v1/tenants/current/taxonomy", owner["token"],
                b"\xef\xbb\xbf" + json.dumps(TAXONOMY).encode()), 400, "invalid_taxonomy")


@pytest.mark.parametrize("query", ["q=%ff%fe", "q=%c0%af", "q=%ed%a0%80", "q=a%00b"])
def test_invalid_utf8_query_is_400(api, owner, query):
    refused(api.get("/v1/users?" + query, token=owner["token"]), 400, "invalid_encoding")


def test_nul_escapes_never_cut_a_string(api, owner):
    body = b'{"name": "k", "scopes": ["ingest:write\\u0000platform:admin"]}'
    refused(raw(api, "POST", "/v1/api-keys", owner["token"], body), 400, "invalid_json")
    body = b'{"settings": {"timezone": "UTC\\u0000x"}}'
    refused(raw(api, "PATCH", "/v1/tenants/current", owner["token"], body), 400, "invalid_json")


@pytest.mark.parametrize("body", [b'"x"', b"0", b"null", b"[]"])
def test_non_object_bodies_are_400(api, owner, body):
    user_id = api.get("/v1/auth/me", token=owner["token"]).json()["user_id"]
    refused(raw(api, "PATCH", f"/v1/users/{user_id}", owner["token"], body), 400, "invalid_body")


def test_unknown_fields_are_refused(api, owner):
    r = api.post("/v1/api-keys", {"name": "k", "scopes": ["ingest:write"], "scope": "x"},
                 token=owner["token"])
    refused(r, 400, "unknown_field")
    assert "scope" in r.json()["error"]["message"]
    r = api.post("/v1/users/invites", {"email": "new@x.test", "role": "viewer", "admin": True},
                 token=owner["token"])
    refused(r, 400, "unknown_field")


def test_other_content_type_is_415(api, owner):
    body = json.dumps({"name": "k", "scopes": ["ingest:write"]}).encode()
    for ct in ("application/x-www-form-urlencoded", "text/plain"):
        refused(raw(api, "POST", "/v1/api-keys", owner["token"], body, ct), 415,
                "unsupported_media_type")
    # application/json with parameters, and no Content-Type at all, still work.
    assert raw(api, "POST", "/v1/api-keys", owner["token"], body,
               "application/json; charset=utf-8").status_code == 201
    assert raw(api, "POST", "/v1/api-keys", owner["token"], body, None).status_code == 201
