"""Ingestion, black-box: partners post interactions to the tools-gateway's
public port with an API key, console users upload files through the
auth-gateway with their token, and what is accepted is on Kafka.

A tenant with an owner, a viewer and two API keys is made through the real
public API (operator login -> tenant -> invite -> login -> keys). Events are
read back from the interactions topic by one `serphona-cli consume` running
for the whole module; their protobuf payloads are decoded here with a few
lines of wire-format parsing, so the test shares no code with the service.
The Kafka-down test freezes the dev broker with SIGSTOP (restarting it would
change its ports under the running services) and runs last.
"""
import hashlib
import json
import os
import signal
import subprocess
import threading
import time
import uuid

import pytest
import requests

from conftest import ROOT, wait_for

PASSWORD = "correct horse battery staple"
WHEN = "2024-05-01T10:00:00Z"


# ---- helpers -----------------------------------------------------------------

def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def error_code(resp):
    body = resp.json()
    assert set(body) == {"error"}, body
    assert body["error"]["message"]
    return body["error"]["code"]


def refused(resp, status, code):
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert error_code(resp) == code, resp.text


def interaction_id(tenant_id, external_id):
    """The documented deterministic id: UUIDv8 over SHA-256(tenant 0x00 external)."""
    d = bytearray(hashlib.sha256(tenant_id.encode() + b"\0" + external_id.encode()).digest()[:16])
    d[6] = (d[6] & 0x0F) | 0x80
    d[8] = (d[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(d)))


def pb_fields(data):
    """Decodes one protobuf message into {field number: [values]} (varints as
    ints, length-delimited as bytes)."""
    out, i = {}, 0

    def varint():
        nonlocal i
        shift = value = 0
        while True:
            b = data[i]
            i += 1
            value |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return value

    while i < len(data):
        key = varint()
        field, wire = key >> 3, key & 7
        if wire == 0:
            value = varint()
        elif wire == 2:
            n = varint()
            value = data[i:i + n]
            i += n
        elif wire == 1:
            value = data[i:i + 8]
            i += 8
        elif wire == 5:
            value = data[i:i + 4]
            i += 4
        else:
            raise ValueError(f"wire type {wire}")
        out.setdefault(field, []).append(value)
    return out


def decode_interaction(payload):
    f = pb_fields(payload)
    s = lambda n: f[n][0].decode() if n in f else ""  # noqa: E731
    utterances = []
    for raw in f.get(12, []):
        u = pb_fields(raw)
        signed = lambda v: v - (1 << 64) if v >= 1 << 63 else v  # noqa: E731
        utterances.append({
            "speaker": u[1][0].decode() if 1 in u else "",
            "start_ms": signed(u[2][0]) if 2 in u else 0,
            "end_ms": signed(u[3][0]) if 3 in u else 0,
            "text": u[4][0].decode() if 4 in u else "",
        })
    survey = pb_fields(f[14][0]) if 14 in f else None
    return {
        "interaction_id": s(1), "tenant_id": s(2), "external_id": s(3), "channel": s(4),
        "occurred_at_unix_ms": f[5][0] if 5 in f else 0, "language": s(6),
        "agent_id": s(7), "agent_name": s(8), "customer_ref": s(9),
        "tags": [t.decode() for t in f.get(10, [])], "utterances": utterances,
        "subject": s(13), "survey": survey, "rating": f[15][0] if 15 in f else 0,
        "source": s(16),
    }


class Topic:
    """Every event of the interactions topic, read by one consumer."""

    def __init__(self, stack):
        self.events = []
        self.lock = threading.Lock()
        topic = stack.topic_prefix + "serphona.interactions.v1"
        self.proc = subprocess.Popen(
            [str(stack.bin_dir / "serphona-cli"), "consume", stack.brokers, topic,
             f"it-ingest-{uuid.uuid4().hex[:8]}", "1000000000", "900000"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for raw in self.proc.stdout:
            # Payload bytes above 0x7f are printed raw: keep them as they are.
            line = json.loads(raw.decode("utf-8", "surrogateescape"))
            if "payload" not in line:
                continue
            line["payload"] = line["payload"].encode("utf-8", "surrogateescape")
            with self.lock:
                self.events.append(line)

    def of_tenant(self, tenant_id):
        with self.lock:
            return [e for e in self.events if e["tenant_id"] == tenant_id]

    def interactions(self, tenant_id):
        return [decode_interaction(e["payload"]) for e in self.of_tenant(tenant_id)]

    def wait_count(self, tenant_id, n, timeout=30):
        got = wait_for(lambda: len(self.of_tenant(tenant_id)) >= n, timeout=timeout)
        assert got, f"{len(self.of_tenant(tenant_id))} events of {tenant_id}, wanted {n}"
        return self.interactions(tenant_id)

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def topic(stack):
    t = Topic(stack)
    yield t
    t.close()


class Ingest:
    """A tenant with an owner, a viewer and API keys, made through the public API."""

    def __init__(self, stack):
        self.stack = stack
        self.s = requests.Session()
        gw = stack.gateway
        op = self.operator = self.login("", stack.env["SERPHONA_OPERATOR_EMAIL"],
                                        stack.env["SERPHONA_OPERATOR_PASSWORD"])
        self.slug = "it-ing-" + uuid.uuid4().hex[:8]
        owner_email = f"owner@{self.slug}.test"
        r = self.s.post(gw + "/v1/tenants", json={"slug": self.slug, "name": "Ingestion IT",
                                                  "owner_email": owner_email},
                        headers=bearer(op), timeout=30)
        assert r.status_code == 201, r.text
        self.tenant_id = r.json()["tenant"]["id"]
        self.accept(r.json()["owner_invite"]["token"])
        self.owner = self.login(self.slug, owner_email, PASSWORD)
        viewer_email = f"viewer@{self.slug}.test"
        r = self.s.post(gw + "/v1/users/invites", json={"email": viewer_email, "role": "viewer"},
                        headers=bearer(self.owner), timeout=30)
        assert r.status_code == 201, r.text
        self.accept(r.json()["token"])
        self.viewer = self.login(self.slug, viewer_email, PASSWORD)
        self.key, self.key_id = self.new_key(["ingest:write"])
        self.read_key, _ = self.new_key(["analytics:read"])

    def login(self, tenant, email, password):
        r = self.s.post(self.stack.gateway + "/v1/auth/login",
                        json={"tenant": tenant, "email": email, "password": password}, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()["access_token"]

    def accept(self, token):
        r = self.s.post(self.stack.gateway + "/v1/users/invites/accept",
                        json={"token": token, "password": PASSWORD}, timeout=30)
        assert r.status_code == 201, r.text

    def new_key(self, scopes):
        r = self.s.post(self.stack.gateway + "/v1/api-keys",
                        json={"name": "it-" + "-".join(scopes), "scopes": scopes},
                        headers=bearer(self.owner), timeout=30)
        assert r.status_code == 201, r.text
        return r.json()["key"], r.json()["id"]

    def post(self, batch, key=None, headers=None):
        h = dict(headers or {})
        if key is not False:
            h["Authorization"] = f"Bearer {key or self.key}"
        return self.s.post(self.stack.tools + "/v1/ingest/interactions", json=batch, headers=h,
                           timeout=30)

    def upload(self, text, content_type, token=None, query=""):
        return self.s.post(self.stack.gateway + "/v1/ingest/uploads" + query,
                           data=text.encode(), timeout=30,
                           headers={**bearer(token or self.owner), "Content-Type": content_type})

    def job(self, job_id, token=None):
        return self.s.get(self.stack.gateway + f"/v1/ingest/uploads/{job_id}",
                          headers=bearer(token or self.owner), timeout=30)

    def finished_job(self, job_id):
        def done():
            r = self.job(job_id)
            assert r.status_code == 200, r.text
            return r.json() if r.json()["status"] in ("completed", "failed") else None
        body = wait_for(done, timeout=30, interval=0.3)
        assert body, f"upload {job_id} did not finish"
        return body


@pytest.fixture(scope="module")
def ing(stack):
    i = Ingest(stack)
    yield i
    i.s.close()


def indexes(body, kind):
    return [x["index"] for x in body[kind]]


# ---- the API ---------------------------------------------------------------------

def test_batch_with_good_and_bad_items(ing, topic):
    batch = {"interactions": [
        {"external_id": "call-1", "channel": "call", "occurred_at": WHEN, "language": "pt-BR",
         "agent": {"id": "a-7", "name": "Ana"}, "customer_ref": "cust-1", "tags": ["vip"],
         "metadata": {"queue": "billing"},
         "utterances": [
             {"speaker": "agent", "text": "Olá!", "start_ms": 0, "end_ms": 1500},
             {"speaker": "customer", "text": "Meu cartão 4111 1111 1111 1111 foi bloqueado",
              "start_ms": 1200, "end_ms": 5000}]},
        {"external_id": "chat-1", "channel": "whatsapp", "occurred_at": WHEN,
         "utterances": [{"speaker": "customer", "text": "hola", "at": "2024-05-01T10:00:07Z"}]},
        {"external_id": "bad-date", "channel": "email", "occurred_at": "yesterday", "text": "x"},
        {"external_id": "survey-1", "channel": "survey", "occurred_at": WHEN,
         "survey": {"nps": 3, "csat": 2}, "text": "Slow."},
        {"channel": "review", "occurred_at": WHEN, "rating": 5},
        {"external_id": "email-1", "channel": "email", "occurred_at": WHEN,
         "subject": "Refund", "text": "Please refund.", "direction": "inbound"},
        {"external_id": "rev-1", "channel": "review", "occurred_at": WHEN, "rating": 5,
         "utterances": []},
        {"external_id": "call-1", "channel": "review", "occurred_at": WHEN, "rating": 1},
    ]}
    r = ing.post(batch)
    assert r.status_code == 202, r.text
    body = r.json()
    assert set(body) == {"accepted", "rejected", "duplicates"}
    assert indexes(body, "accepted") == [0, 1, 3, 5]
    assert indexes(body, "duplicates") == [7]
    assert [(x["index"], x["code"], x["field"]) for x in body["rejected"]] == [
        (2, "invalid_timestamp", "occurred_at"),
        (4, "missing_field", "external_id"),
        (6, "field_not_allowed", "utterances"),
    ]
    call_id = interaction_id(ing.tenant_id, "call-1")
    assert body["accepted"][0] == {"index": 0, "interaction_id": call_id,
                                   "external_id": "call-1"}
    assert body["duplicates"][0]["interaction_id"] == call_id

    # Accepted means on Kafka, keyed and typed, with the interaction as sent.
    got = {i["external_id"]: i for i in topic.wait_count(ing.tenant_id, 4)}
    assert set(got) == {"call-1", "chat-1", "survey-1", "email-1"}
    for e in topic.of_tenant(ing.tenant_id):
        assert e["type"] == "interaction.recorded"
    call = got["call-1"]
    assert call["interaction_id"] == call_id
    assert call["tenant_id"] == ing.tenant_id
    assert call["channel"] == "call" and call["language"] == "pt" and call["source"] == "api"
    assert call["agent_id"] == "a-7" and call["agent_name"] == "Ana"
    assert call["occurred_at_unix_ms"] == 1714557600000
    assert call["utterances"][1] == {"speaker": "customer", "start_ms": 1200, "end_ms": 5000,
                                     "text": "Meu cartão 4111 1111 1111 1111 foi bloqueado"}
    assert got["chat-1"]["utterances"][0]["start_ms"] == 7000
    assert got["chat-1"]["utterances"][0]["end_ms"] == -1
    assert got["survey-1"]["survey"] == {1: [3], 2: [2]}
    assert got["email-1"]["subject"] == "Refund"


def test_resend_is_a_duplicate_and_not_published_again(ing, topic):
    batch = [{"external_id": f"dup-{n}", "channel": "review", "occurred_at": WHEN, "rating": 4}
             for n in range(3)]
    first = ing.post(batch)
    assert first.status_code == 202 and indexes(first.json(), "accepted") == [0, 1, 2]
    before = len(topic.wait_count(ing.tenant_id, 7))
    again = ing.post(batch + [{"external_id": "dup-sentinel", "channel": "review",
                               "occurred_at": WHEN, "rating": 2}])
    assert again.status_code == 202, again.text
    assert indexes(again.json(), "duplicates") == [0, 1, 2]
    assert indexes(again.json(), "accepted") == [3]
    assert [d["interaction_id"] for d in again.json()["duplicates"]] == \
        [a["interaction_id"] for a in first.json()["accepted"]]
    # One tenant's events share a partition, so once the sentinel is there
    # anything published before it would be too.
    events = topic.wait_count(ing.tenant_id, before + 1)
    assert events[-1]["external_id"] == "dup-sentinel"
    assert len(events) == before + 1
    assert sorted(i["external_id"] for i in events).count("dup-0") == 1


def test_idempotency_key(ing, topic):
    key = "it-" + uuid.uuid4().hex
    body = [{"external_id": f"idem-{key}", "channel": "review", "occurred_at": WHEN, "rating": 3}]
    first = ing.post(body, headers={"Idempotency-Key": key})
    assert first.status_code == 202 and indexes(first.json(), "accepted") == [0]
    assert "Idempotent-Replayed" not in first.headers
    again = ing.post(body, headers={"Idempotency-Key": key})
    assert again.status_code == 202
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()     # "accepted" again: the stored first answer
    other = [dict(body[0], rating=4)]
    refused(ing.post(other, headers={"Idempotency-Key": key}), 422, "idempotency_key_reused")
    refused(ing.post(body, headers={"Idempotency-Key": "bad key"}), 400,
            "invalid_idempotency_key")
    iid = first.json()["accepted"][0]["interaction_id"]
    wait_for(lambda: any(i["interaction_id"] == iid for i in topic.interactions(ing.tenant_id)))
    assert [i["interaction_id"] for i in topic.interactions(ing.tenant_id)].count(iid) == 1


def test_malformed_bodies(ing, stack):
    h = {"Authorization": f"Bearer {ing.key}", "Content-Type": "application/json"}
    url = stack.tools + "/v1/ingest/interactions"
    refused(requests.post(url, data="{nope", headers=h, timeout=10), 400, "invalid_json")
    refused(requests.post(url, json={"items": []}, headers=h, timeout=10), 400, "invalid_body")
    refused(requests.post(url, json=[], headers=h, timeout=10), 400, "empty_batch")
    refused(requests.post(url, json=[{}] * 501, headers=h, timeout=10), 413, "batch_too_large")
    big = [{"external_id": "big", "channel": "review", "occurred_at": WHEN, "rating": 1,
            "text": "x" * 60000}] * 20
    refused(requests.post(url, json=big, headers=h, timeout=10), 413, "payload_too_large")


def test_partner_authentication(ing, stack):
    body = [{"external_id": "auth-1", "channel": "review", "occurred_at": WHEN, "rating": 5}]
    r = ing.post(body, key=False)
    refused(r, 401, "unauthenticated")
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    refused(ing.post(body, key=ing.key[:-3] + "xyz"), 401, "invalid_api_key")
    refused(ing.post(body, key="sk_live_000000000000_nope"), 401, "invalid_api_key")
    refused(ing.post(body, key=ing.read_key), 403, "insufficient_scope")
    r = requests.post(stack.tools + "/v1/ingest/interactions", json=body,
                      headers={"X-Api-Key": ing.key}, timeout=10)
    assert r.status_code == 202, r.text
    # A console token is not an API key on the partner port.
    refused(ing.post(body, key=ing.owner), 401, "invalid_api_key")
    # Built-in routes stay public there.
    assert requests.get(stack.tools + "/v1/system/tools-gateway", timeout=10).status_code == 200
    # A revoked key stops at once: its cached resolution (sp:apikey:<sha256>)
    # is dropped by tenant-manager in the same request.
    key, key_id = ing.new_key(["ingest:write"])
    assert ing.post(body, key=key).status_code == 202
    assert ing.post(body, key=key).status_code == 202   # now served from the cache
    r = ing.s.delete(stack.gateway + f"/v1/api-keys/{key_id}", headers=bearer(ing.owner),
                     timeout=10)
    assert r.status_code in (200, 204), r.text
    refused(ing.post(body, key=key), 401, "invalid_api_key")


def test_suspended_tenant_keys_stop_at_once(ing, stack):
    """A suspended tenant's keys are refused at once, and work again when it
    is reactivated (tenant-manager drops their cached resolutions)."""
    other = Ingest(stack)
    body = [{"external_id": "susp-1", "channel": "review", "occurred_at": WHEN, "rating": 3}]
    assert other.post(body).status_code == 202
    op = bearer(other.operator)
    r = other.s.post(stack.gateway + f"/v1/tenants/{other.tenant_id}/suspend", headers=op,
                     timeout=10)
    assert r.status_code == 200, r.text
    refused(other.post(body), 403, "tenant_suspended")
    r = other.s.post(stack.gateway + f"/v1/tenants/{other.tenant_id}/reactivate", headers=op,
                     timeout=10)
    assert r.status_code == 200, r.text
    r = other.post(body)
    assert r.status_code == 202 and indexes(r.json(), "duplicates") == [0], r.text
    other.s.close()


def test_console_ingestion_through_the_gateway(ing, stack, topic):
    body = [{"external_id": "console-1", "channel": "chat", "occurred_at": WHEN,
             "utterances": [{"speaker": "customer", "text": "hi"}]}]
    r = ing.s.post(stack.gateway + "/v1/ingest/interactions", json=body,
                   headers=bearer(ing.owner), timeout=30)
    assert r.status_code == 202, r.text
    assert r.json()["accepted"][0]["interaction_id"] == interaction_id(ing.tenant_id, "console-1")
    # ingest:write is owner/admin/analyst only.
    refused(ing.s.post(stack.gateway + "/v1/ingest/interactions", json=body,
                       headers=bearer(ing.viewer), timeout=30), 403, "forbidden")
    refused(ing.upload("external_id,channel,occurred_at\n", "text/csv", token=ing.viewer),
            403, "forbidden")


def test_csv_upload_job(ing, topic):
    csv = ("\ufeffexternal_id,channel,occurred_at,language,agent_id,rating,nps,csat,text,"
           "tags,metadata.store,transcript\r\n"
           "up-1,review,2024-05-02T09:00:00-03:00,pt,,4,,,\"Entrega rápida, "
           "\"\"ótima\"\"\nrecomendo\",web|promo,SP-01,\r\n"
           "up-2,survey,2024-05-02T09:00:00Z,en,,,9,5,Great,,,\r\n"
           "up-3,review,2024-05-02T09:00:00Z,en,,6,,,too many stars,,,\r\n"
           "up-4,call,2024-05-02T09:00:00Z,es,ag-2,,,,,,,\"[0-3.5] agent: Hola\n"
           "[3-9] customer: Quiero cancelar\"\r\n"
           "\"broken\"x,review,2024-05-02T09:00:00Z,,,3,,,,,,\r\n"
           "up-1,review,2024-05-02T09:00:00Z,pt,,4,,,again,,,\r\n")
    r = ing.upload(csv, "text/csv", query="?filename=history.csv")
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "queued"
    assert r.headers["Location"] == f"/v1/ingest/uploads/{r.json()['job_id']}"
    job = ing.finished_job(r.json()["job_id"])
    assert job["status"] == "completed", job
    assert (job["rows_read"], job["accepted"], job["rejected"], job["duplicates"]) == (6, 3, 2, 1)
    # Rows are file lines: the first row's text spans lines 2-3.
    assert [(e["row"], e["code"]) for e in job["errors"]] == [
        (5, "out_of_range"), (8, "invalid_csv_row")]
    assert job["filename"] == "history.csv" and job["error"] is None
    wanted = {"up-1", "up-2", "up-4"}
    assert wait_for(lambda: wanted <= {i["external_id"] for i in topic.interactions(ing.tenant_id)})
    mine = [i for i in topic.interactions(ing.tenant_id) if i["external_id"].startswith("up-")]
    assert sorted(i["external_id"] for i in mine) == ["up-1", "up-2", "up-4"]
    got = {i["external_id"]: i for i in mine}
    assert got["up-1"]["utterances"][0]["text"] == "Entrega rápida, \"ótima\"\nrecomendo"
    assert got["up-1"]["tags"] == ["web", "promo"] and got["up-1"]["source"] == "upload"
    assert got["up-4"]["utterances"][1] == {"speaker": "customer", "start_ms": 3000,
                                            "end_ms": 9000, "text": "Quiero cancelar"}


def test_jsonl_upload_job_and_refusals(ing, topic):
    lines = [json.dumps({"external_id": f"jl-{n}", "channel": "chat", "occurred_at": WHEN,
                         "utterances": [{"speaker": "customer", "text": f"message {n}"}]})
             for n in range(5)]
    lines.insert(2, "{broken json")
    lines.insert(4, "")
    r = ing.upload("\n".join(lines) + "\n", "application/x-ndjson")
    assert r.status_code == 202, r.text
    job = ing.finished_job(r.json()["job_id"])
    assert (job["status"], job["rows_read"], job["accepted"], job["rejected"]) == \
        ("completed", 6, 5, 1)
    assert job["errors"] == [{"row": 3, "code": "invalid_json", "field": "",
                              "message": job["errors"][0]["message"]}]
    listed = ing.s.get(ing.stack.gateway + "/v1/ingest/uploads?limit=1",
                       headers=bearer(ing.owner), timeout=10).json()["uploads"]
    assert [j["job_id"] for j in listed] == [job["job_id"]]
    # The file is checked before a job is made.
    refused(ing.upload("external_id,channel,when\n", "text/csv"), 400, "unknown_column")
    refused(ing.upload("external_id,channel\n", "text/csv"), 400, "missing_column")
    refused(ing.upload("", "text/csv"), 400, "empty_file")
    refused(ing.upload("a,b", "application/pdf"), 415, "unsupported_media_type")
    # Another tenant's job does not exist for us.
    refused(ing.job(str(uuid.uuid4())), 404, "upload_not_found")


def test_metrics(ing, stack):
    text = requests.get(stack.ops_url("tools-gateway") + "/metrics", timeout=10).text
    values = {}
    for line in text.splitlines():
        if line.startswith("serphona_ingest_interactions_total{"):
            values[line.split('"')[1]] = float(line.rsplit(" ", 1)[1])
    assert values.get("accepted", 0) >= 15 and values.get("rejected", 0) >= 5
    assert values.get("duplicate", 0) >= 4
    assert "serphona_ingest_publish_seconds_bucket{le=" in text
    assert "serphona_ingest_publish_seconds_count" in text


def test_demo_dataset_loads_through_the_api(ing, stack, tmp_path):
    gen = [str(ROOT / "deploy/local/demo/generate.py"), "--count", "300", "--anchor", "2026-01-31"]
    one = subprocess.run(["/usr/bin/python3", *gen], capture_output=True, check=True).stdout
    two = subprocess.run(["/usr/bin/python3", *gen], capture_output=True, check=True).stdout
    assert one == two                       # a fixed seed: the same file every time
    items = [json.loads(line) for line in one.decode().splitlines()]
    assert len(items) == 300
    assert {i["channel"] for i in items} == {"call", "chat", "whatsapp", "email", "survey",
                                            "review"}
    assert {i.get("language") for i in items} >= {"en", "pt", "es"}
    text = one.decode()
    assert "@example.com" in text and "+55 11 9" in text
    calls = [i for i in items if i["channel"] == "call"]
    gaps = [b["start_ms"] - a["end_ms"] for c in calls
            for a, b in zip(c["utterances"], c["utterances"][1:])]
    assert any(g > 2000 for g in gaps) and any(g < 0 for g in gaps)  # silences, overtalk

    env = dict(stack.base_env, SP_RUN_DIR=str(tmp_path), SERPHONA_TOOLS_URL=stack.tools,
               DEMO_COUNT="300", DEMO_ANCHOR="2026-01-31")
    load = [str(ROOT / "deploy/local/demo/load.sh"), ing.key]
    out = subprocess.run(load, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "300 accepted, 0 already loaded, 0 rejected" in out.stdout, out.stdout
    # Again, and again on another day: nothing is counted twice.
    out = subprocess.run(load, env=env, capture_output=True, text=True, timeout=120)
    assert "0 accepted, 300 already loaded, 0 rejected" in out.stdout, out.stdout
    env["DEMO_ANCHOR"] = "2026-02-01"
    out = subprocess.run(load, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "0 accepted, 300 already loaded, 0 rejected" in out.stdout, out.stdout


# Last: it freezes the broker the whole stack shares.
def test_kafka_down_answers_503_never_202(ing, stack, topic):
    pid = int((stack.run_dir / "pids" / "dev-broker.pid").read_text())
    body = [{"external_id": "while-down", "channel": "review", "occurred_at": WHEN, "rating": 2}]
    os.kill(pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        r = ing.post(body)
        elapsed = time.monotonic() - t0
        # Through the auth-gateway the wait is cut to the forwarded deadline
        # (2 s in tests), so the console gets the 503 too, not a 504.
        console = ing.s.post(stack.gateway + "/v1/ingest/interactions", json=body,
                             headers=bearer(ing.owner), timeout=30)
    finally:
        os.kill(pid, signal.SIGCONT)
    refused(r, 503, "kafka_unavailable")
    assert int(r.headers["Retry-After"]) > 0
    assert elapsed < 10, elapsed
    refused(console, 503, "kafka_unavailable")
    assert int(console.headers["Retry-After"]) > 0
    # Not recorded as accepted: the retry is accepted (and the event is
    # there, once or twice: a message the broker got before it froze may
    # still land, and consumers dedupe by interaction_id).
    def retried():
        r2 = ing.post(body)
        return r2 if r2.status_code == 202 else None
    r2 = wait_for(retried, timeout=30, interval=1)
    assert r2, "ingestion did not recover after the broker came back"
    assert indexes(r2.json(), "accepted") == [0]
    iid = interaction_id(ing.tenant_id, "while-down")
    assert wait_for(lambda: iid in [i["interaction_id"]
                                    for i in topic.interactions(ing.tenant_id)], timeout=30)
