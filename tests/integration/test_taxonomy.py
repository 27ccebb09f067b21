"""Tenants' own taxonomies through the running stack, black-box: a tenant
stores a taxonomy with a custom topic through the gateway, ingests an
interaction mentioning it through the tools-gateway, and the processor's
analysis (which asks tenant-manager.GetTaxonomy) tags it with that topic;
another tenant's identical interaction gets no such topic. Invalid documents
answer 400 invalid_taxonomy, a viewer may read but not change it, and DELETE
goes back to the default.
"""
import hashlib
import time
import uuid

import pytest

from conftest import wait_for
from test_tenants import Api, add_user, new_tenant, operator, refused  # noqa: F401 (fixture)

PATH = "/v1/tenants/current/taxonomy"
DOC = {"mode": "extend", "categories": [
    {"id": "loyalty_program", "name": "Loyalty program", "kind": "topic",
     "patterns": {"pt": ["pontos"], "en": ["loyalty points"]}}]}


def interaction_id(tenant_id, external_id):
    """The documented deterministic id: UUIDv8 over SHA-256(tenant 0x00 external)."""
    d = bytearray(hashlib.sha256(tenant_id.encode() + b"\0" + external_id.encode()).digest()[:16])
    d[6] = (d[6] & 0x0F) | 0x80
    d[8] = (d[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(d)))


def ingest(stack, http, tenant, external_id):
    """One chat mentioning loyalty points, through an ingest:write API key."""
    key = tenant["owner"]("POST", "/v1/api-keys", {"name": "taxonomy-it", "scopes": ["ingest:write"]},
                          expect=201).json()["key"]
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    batch = {"interactions": [{
        "external_id": external_id, "channel": "chat", "occurred_at": when, "language": "en",
        "utterances": [
            {"speaker": "agent", "text": "Hello, how can I help?", "at": when},
            {"speaker": "customer", "text": "My loyalty points are gone. Where are my loyalty "
                                            "points from last month?", "at": when}]}]}
    r = http.post(stack.tools + "/v1/ingest/interactions", json=batch,
                  headers={"Authorization": "Bearer " + key}, timeout=30)
    assert r.status_code == 202, r.text
    assert [x["index"] for x in r.json()["accepted"]] == [0], r.text
    return interaction_id(tenant["id"], external_id)


def analysed_topics(tenant, iid, timeout=60):
    def stored():
        r = tenant["owner"]("GET", "/v1/analytics/interactions/" + iid)
        if r.status_code != 200:
            return None
        body = r.json()
        item = body.get("interaction", body)
        return item.get("topics"), item.get("intent")
    got = wait_for(stored, timeout=timeout, interval=0.5)
    assert got, f"interaction {iid} was not analysed in {timeout} s"
    return got[0]


@pytest.fixture(scope="module")
def tenants(stack, http, operator):  # noqa: F811
    return new_tenant(stack, http, operator, "taxa"), new_tenant(stack, http, operator, "taxb")


def test_custom_topic_reaches_the_analysis_of_its_tenant_only(stack, http, tenants):
    a, b = tenants
    before = a["owner"]("GET", PATH, expect=200).json()
    assert before["customized"] is False
    ids = [c["id"] for c in before["taxonomy"]["categories"]]
    assert "billing" in ids and "loyalty_program" not in ids

    put = a["owner"]("PUT", PATH, DOC, expect=200).json()
    assert put["customized"] is True and put["updated_by"] == a["owner_id"]
    got = a["owner"]("GET", PATH, expect=200).json()
    assert got["customized"] is True and got["taxonomy"] == DOC
    audit = a["owner"]("GET", "/v1/audit-log?action=taxonomy.update", expect=200).json()["items"]
    assert len(audit) == 1 and audit[0]["after"] == DOC and audit[0]["before"] is None

    topics_a = analysed_topics(a, ingest(stack, http, a, "loyal-1"))
    assert "loyalty_program" in topics_a, topics_a
    topics_b = analysed_topics(b, ingest(stack, http, b, "loyal-1"))
    assert "loyalty_program" not in topics_b, topics_b

    # Back to the default: the stored document is gone (the processor's
    # cache keeps the old one up to a minute, so only the API is checked).
    a["owner"]("DELETE", PATH, expect=204)
    assert a["owner"]("GET", PATH, expect=200).json()["customized"] is False
    assert len(a["owner"]("GET", "/v1/audit-log?action=taxonomy.delete",
                          expect=200).json()["items"]) == 1


@pytest.mark.parametrize("doc", [
    {"categories": [{"id": "Bad Id", "patterns": ["x"]}]},
    {"categories": [{"id": "ok", "patterns": {"en": ["ab*"]}}]},
    {"categories": [{"id": "ok", "patterns": ["x"], "typo": True}]},
    {"mode": "merge", "categories": []},
    ["not", "an", "object"],
])
def test_invalid_documents_are_refused(tenants, doc):
    a, _ = tenants
    refused(a["owner"]("PUT", PATH, doc), 400, "invalid_taxonomy")


def test_viewer_reads_but_cannot_change(stack, http, tenants):
    _, b = tenants
    viewer = add_user(stack, http, b, b["owner"], "viewer", "viewer")["api"]
    viewer("GET", PATH, expect=200)
    refused(viewer("PUT", PATH, DOC), 403, "forbidden")
    refused(viewer("DELETE", PATH), 403, "forbidden")
    assert b["owner"]("GET", PATH, expect=200).json()["customized"] is False

