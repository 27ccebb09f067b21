"""analytics-processor, black-box: interaction events produced with the real
producer (serphona-cli produce-interactions) go through the running
processor into ClickHouse, whose rows and hourly rollups are read back over
its HTTP port.

- a small hand-computed fixture gives exact KPI values in the rollups, with
  every text redacted before it is stored, and one analysis.completed and
  one usage.recorded event per interaction;
- replaying the same events changes no KPI;
- poison records land in the dead-letter topic with their reason while the
  stream goes on; a ClickHouse outage is retried, never dead-lettered;
- a tenant's retention setting deletes its expired rows from every table;
- SIGKILLing the processor several times during a stream of 20,000
  interactions loses none and doubles none.
"""
import base64
import json
import os
import signal
import subprocess
import time
import uuid
import zlib
from pathlib import Path

import pytest
import requests

from conftest import SANITIZER_MARKERS, wait_for

HOUR_MS = 3_600_000
# An hour boundary two days ago: recent enough that no retention pass of the
# stack's processor (default 365 days) touches the tests' rows.
BASE_MS = (int(time.time() * 1000) // HOUR_MS - 48) * HOUR_MS


# ---- helpers ------------------------------------------------------------------

def ch(stack, sql):
    """Runs sql on the stack's ClickHouse (the services' database)."""
    db = stack.env.get("SERPHONA_CLICKHOUSE_DATABASE", "serphona")
    resp = requests.post(stack.env["SERPHONA_CLICKHOUSE_URL"], params={"database": db},
                         data=sql.encode(), timeout=30)
    assert resp.status_code == 200, resp.text
    return resp.text


def ch_rows(stack, sql):
    return [json.loads(line) for line in ch(stack, sql + " FORMAT JSONEachRow").splitlines()]


def ch_num(stack, sql):
    text = ch(stack, sql).strip()
    return float(text) if text else 0.0


def topic(stack, name):
    return stack.topic_prefix + name


def produce(stack, lines, tmp_path, name="events.jsonl"):
    path = Path(tmp_path) / name
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    out = stack.cli("produce-interactions", stack.brokers,
                    topic(stack, "serphona.interactions.v1"), str(path), timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout)


def read_topic(stack, name, timeout_ms=6000):
    """Every event on topic so far (a fresh consumer group, from the start)."""
    group = "it-read-" + uuid.uuid4().hex[:8]
    out = stack.cli("consume", stack.brokers, topic(stack, name), group, "1000000",
                    str(timeout_ms), timeout=timeout_ms / 1000 + 60)
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def events_for(stack, name, predicate, want, timeout=60):
    """Waits until at least `want` events on topic satisfy predicate."""
    found = []

    def enough():
        nonlocal found
        found = [e for e in read_topic(stack, name) if predicate(e)]
        return len(found) >= want
    wait_for(enough, timeout=timeout, interval=0.5)
    return found


def metric(http, stack, name, labels=""):
    text = http.get(stack.ops_url("analytics-processor") + "/metrics", timeout=5).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + labels) and (labels or line[len(name)] in " {"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def rollup(stack, tenant):
    """The tenant's KPI sums from the hourly rollups."""
    rows = ch_rows(stack, f"""
        SELECT sum(interactions) AS interactions, sum(sentiment_sum) AS sentiment_sum,
               sum(positive) AS positive, sum(negative) AS negative,
               sum(resolved) AS resolved, sum(escalated) AS escalated,
               sum(churn_risk) AS churn_risk, sum(duration_ms_sum) AS duration_ms_sum,
               sum(timed) AS timed, sum(silence_ratio_sum) AS silence_ratio_sum,
               sum(csat_sum) AS csat_sum, sum(csat_count) AS csat_count,
               sum(nps_promoters) AS nps_promoters, sum(nps_detractors) AS nps_detractors,
               sum(nps_count) AS nps_count
        FROM interactions_hourly WHERE tenant_id = '{tenant}'""")
    return {k: float(v) for k, v in rows[0].items()}


def count(stack, tenant):
    return ch_num(stack, "SELECT sum(interactions) FROM interactions_hourly "
                         f"WHERE tenant_id = '{tenant}'")


def ix_id(tenant, external_id):
    # Deterministic per (tenant, external id), as ingestion makes it.
    return str(uuid.uuid5(uuid.UUID(tenant), external_id))


def interaction(tenant, ext, channel="chat", minute=0, utterances=(), **extra):
    line = {"interaction_id": ix_id(tenant, ext), "tenant_id": tenant, "external_id": ext,
            "channel": channel, "occurred_at_unix_ms": BASE_MS + minute * 60_000,
            "agent_id": "agent-1", "agent_name": "Ana",
            "utterances": [{"speaker": s, "start_ms": a, "end_ms": b, "text": t}
                           for s, a, b, t in utterances]}
    line.update(extra)
    return line


# ---- the hand-computed fixture --------------------------------------------------

CARD = "4111 1111 1111 1111"       # Luhn-valid: must never reach storage
EMAIL = "maria.silva@example.com"


def fixture(tenant):
    """Six interactions whose KPIs are worked out by hand below."""
    return [
        # A call: 0-4 s customer, 5-9 s agent (1 s gap), 12-15 s customer
        # (3 s gap > 2 s counts as silence), 14.5-17 s agent (0.5 s overtalk).
        interaction(tenant, "call-1", "call", 1, [
            ("customer", 0, 4000, f"My card {CARD} was charged twice, this is terrible."),
            ("agent", 5000, 9000, "I am sorry, I will refund the charge right now."),
            ("customer", 12000, 15000, "Thank you so much, that is great!"),
            ("agent", 14500, 17000, "You are welcome, the refund is done."),
        ]),
        # A chat with an e-mail address in it.
        interaction(tenant, "chat-1", "chat", 2, [
            ("customer", -1, -1, f"Please send the invoice to {EMAIL}, thanks"),
            ("agent", -1, -1, "Done, I sent it."),
        ]),
        # Surveys: NPS 10 + CSAT 5, NPS 3 + CSAT 2, NPS 7 without CSAT.
        interaction(tenant, "survey-1", "survey", 3,
                    [("customer", -1, -1, "Excellent service, very helpful!")],
                    survey={"nps": 10, "csat": 5}),
        interaction(tenant, "survey-2", "survey", 4,
                    [("customer", -1, -1, "Awful experience, nobody answered me.")],
                    survey={"nps": 3, "csat": 2}),
        interaction(tenant, "survey-3", "survey", 5, [], survey={"nps": 7, "csat": -1}),
        # A review in Portuguese, next hour.
        interaction(tenant, "review-1", "review", 65,
                    [("customer", -1, -1, "Produto ótimo, entrega rápida. Recomendo!")],
                    rating=5, language="pt-BR"),
    ]


@pytest.fixture(scope="module")
def e2e(stack, tmp_path_factory):
    tenant = str(uuid.uuid4())
    lines = fixture(tenant)
    sent = produce(stack, lines, tmp_path_factory.mktemp("e2e"))
    assert sent["produced"] == len(lines)
    assert wait_for(lambda: count(stack, tenant) >= len(lines), timeout=60), \
        "the processor did not store the fixture"
    time.sleep(1.5)  # anything more (a double count) would show by now
    return tenant, lines


def test_end_to_end_exact_kpis(stack, e2e):
    tenant, lines = e2e
    k = rollup(stack, tenant)
    assert k["interactions"] == 6
    # Surveys carried over exactly.
    assert k["csat_count"] == 2 and k["csat_sum"] == 7
    assert k["nps_count"] == 3
    assert k["nps_promoters"] == 1 and k["nps_detractors"] == 1
    # Call metrics: only the call has timestamps; it lasts 17 s.
    assert k["timed"] == 1
    assert k["duration_ms_sum"] == 17000
    # Per channel and per hour, from the same rollup.
    per_channel = {r["channel"]: int(r["n"]) for r in ch_rows(
        stack, "SELECT channel, sum(interactions) AS n FROM interactions_hourly "
               f"WHERE tenant_id = '{tenant}' GROUP BY channel")}
    assert per_channel == {"call": 1, "chat": 1, "survey": 3, "review": 1}
    hours = [int(r["n"]) for r in ch_rows(
        stack, "SELECT toUnixTimestamp(hour) AS h, sum(interactions) AS n FROM "
               f"interactions_hourly WHERE tenant_id = '{tenant}' GROUP BY h ORDER BY h")]
    assert hours == [5, 1]

    # Sentiment: the rollup sums exactly what the rows say, within float
    # tolerance, and the clearly worded texts land on the right side.
    raw = {r["external_id"]: r for r in ch_rows(
        stack, "SELECT external_id, sentiment, language, channel, pii_redactions, "
               "utterance_count, csat, nps, duration_ms, silence_ratio, text "
               f"FROM interactions WHERE tenant_id = '{tenant}'")}
    assert len(raw) == 6
    assert abs(k["sentiment_sum"] - sum(r["sentiment"] for r in raw.values())) < 1e-3
    assert all(-1 <= r["sentiment"] <= 1 for r in raw.values())
    assert raw["survey-1"]["sentiment"] > 0.05
    assert raw["survey-2"]["sentiment"] < -0.05
    assert raw["review-1"]["sentiment"] > 0.05
    assert raw["survey-3"]["sentiment"] == 0
    assert k["positive"] == sum(r["sentiment"] > 0.05 for r in raw.values())
    assert k["negative"] == sum(r["sentiment"] < -0.05 for r in raw.values())
    assert k["positive"] >= 2 and k["negative"] >= 1
    # Language: the hint when given, detected otherwise.
    assert raw["review-1"]["language"] == "pt"
    assert raw["call-1"]["language"] == "en"
    # Survey values on the raw rows; -1 where there was none.
    assert (raw["survey-1"]["csat"], raw["survey-1"]["nps"]) == (5, 10)
    assert (raw["survey-3"]["csat"], raw["survey-3"]["nps"]) == (-1, 7)
    assert (raw["chat-1"]["csat"], raw["chat-1"]["nps"]) == (-1, -1)
    assert raw["call-1"]["duration_ms"] == 17000
    assert raw["call-1"]["utterance_count"] == 4
    assert raw["survey-3"]["utterance_count"] == 0


def test_end_to_end_redacts_before_storing(stack, e2e):
    tenant, _ = e2e
    raw = {r["external_id"]: r for r in ch_rows(
        stack, "SELECT external_id, pii_redactions, text FROM interactions "
               f"WHERE tenant_id = '{tenant}'")}
    assert raw["call-1"]["pii_redactions"] == 1 and "[CARD]" in raw["call-1"]["text"]
    assert raw["chat-1"]["pii_redactions"] == 1 and "[EMAIL]" in raw["chat-1"]["text"]
    utterances = ch(stack, f"SELECT text FROM utterances WHERE tenant_id = '{tenant}' "
                           "ORDER BY interaction_id, seq")
    assert "[CARD]" in utterances and "[EMAIL]" in utterances
    for table in ("interactions", "utterances"):
        dump = ch(stack, f"SELECT * FROM {table} WHERE tenant_id = '{tenant}' "
                         "FORMAT TabSeparated")
        assert CARD not in dump and CARD.replace(" ", "") not in dump
        assert EMAIL not in dump
    assert ch_num(stack, f"SELECT count() FROM utterances WHERE tenant_id = '{tenant}'") == 9
    # Nor in the processor's log.
    log = stack.log("analytics-processor")
    assert CARD not in log and EMAIL not in log


def test_end_to_end_emits_analysis_and_usage_events(stack, e2e):
    tenant, lines = e2e
    ids = {line["interaction_id"] for line in lines}
    analyses = events_for(stack, "serphona.analyses.v1",
                          lambda e: e["tenant_id"] == tenant, len(ids))
    assert {e["type"] for e in analyses} == {"analysis.completed"}
    payloads = [json.loads(e["payload"]) for e in analyses]
    assert {p["interaction_id"] for p in payloads} == ids
    call = next(p for p in payloads if p["external_id"] == "call-1")
    assert call["channel"] == "call" and call["utterance_count"] == 4
    assert "text" not in call and CARD not in json.dumps(payloads)

    usage = events_for(stack, "serphona.usage.v1", lambda e: e["tenant_id"] == tenant, len(ids))
    upayloads = [json.loads(e["payload"]) for e in usage]
    assert {p["idempotency_key"] for p in upayloads} == ids
    assert all(p["meter"] == "interactions_analyzed" and p["quantity"] == 1
               and p["tenant_id"] == tenant for p in upayloads)


def test_replay_does_not_double_count(stack, http, e2e, tmp_path):
    tenant, lines = e2e
    before = rollup(stack, tenant)
    dup_before = metric(http, stack, "serphona_processor_interactions_total",
                        '{result="duplicate"}')
    # The same events again, twice over (as a producer retry or a partner
    # re-sending a batch would), plus one genuinely new interaction.
    extra = interaction(tenant, "chat-2", "chat", 6,
                        [("customer", -1, -1, "Where is my order?")])
    sent = produce(stack, lines + lines + [extra], tmp_path)
    assert sent["produced"] == 2 * len(lines) + 1
    assert wait_for(lambda: metric(http, stack, "serphona_processor_interactions_total",
                                   '{result="duplicate"}') >= dup_before + 2 * len(lines),
                    timeout=60), "the processor did not see the replays"
    assert wait_for(lambda: count(stack, tenant) == 7, timeout=30)
    time.sleep(1.5)
    after = rollup(stack, tenant)
    assert after["interactions"] == 7
    for key in ("csat_sum", "csat_count", "nps_count", "nps_promoters", "nps_detractors",
                "duration_ms_sum", "timed", "resolved", "escalated", "churn_risk"):
        assert after[key] == before[key], key
    assert ch_num(stack, "SELECT count() FROM interactions "
                         f"WHERE tenant_id = '{tenant}'") == 7
    assert ch_num(stack, "SELECT sum(interactions) FROM interactions_hourly_channel "
                         f"WHERE tenant_id = '{tenant}'") == 7
    assert ch_num(stack, "SELECT sum(interactions) FROM topics_hourly "
                         f"WHERE tenant_id = '{tenant}'") == ch_num(
        stack, f"SELECT sum(length(topics)) FROM interactions WHERE tenant_id = '{tenant}'")


def test_poison_goes_to_the_dead_letter_topic_and_the_stream_goes_on(stack, tmp_path):
    tenant = str(uuid.uuid4())
    marker = "poison-" + uuid.uuid4().hex[:8]
    good = [interaction(tenant, f"ok-{i}", "chat", i,
                        [("customer", -1, -1, "All good, thanks")]) for i in range(3)]
    bad_nps = interaction(tenant, "bad-nps", "survey", 4, [], survey={"nps": 42, "csat": 3})
    bad_id = interaction(tenant, "bad-id", "chat", 5, [])
    bad_id["interaction_id"] = "not-a-uuid"
    bad_tenant = interaction(tenant, "bad-tenant", "chat", 6, [])
    bad_tenant["_envelope_tenant"] = str(uuid.uuid4())
    lines = [good[0], {"_raw": marker}, bad_nps,
             # Field 1, length 127, and nothing after it: not a message.
             {"tenant_id": tenant, "_payload_raw": "\n\x7f"},
             good[1], bad_id, bad_tenant,
             dict(good[2], _content_type="application/json"),
             {"tenant_id": tenant, "_type": "interaction.deleted"}]
    sent = produce(stack, lines + [interaction(tenant, "ok-last", "chat", 9, [])], tmp_path)
    assert sent["produced"] == len(lines) + 1

    # The good ones around the poison are stored (the third good one was
    # sent with the wrong content type, so it is poison too).
    assert wait_for(lambda: count(stack, tenant) >= 3, timeout=60)
    stored = {r["external_id"] for r in ch_rows(
        stack, f"SELECT external_id FROM interactions WHERE tenant_id = '{tenant}'")}
    assert stored == {"ok-0", "ok-1", "ok-last"}

    def ours(e):
        p = json.loads(e["payload"])
        original = base64.urlsafe_b64decode(p["original_b64url"] + "=" * (-len(
            p["original_b64url"]) % 4))
        return e["type"] == "interaction.rejected" and (
            e["tenant_id"] == tenant or marker.encode() in original or tenant.encode() in original)
    dead = events_for(stack, "serphona.interactions.dlq.v1", ours, 7)
    # At least once: a retried flush may publish a dead letter twice.
    by_source = {}
    for e in dead:
        p = json.loads(e["payload"])
        by_source[(p["source"]["partition"], p["source"]["offset"])] = e
    dead = list(by_source.values())
    reasons = sorted(json.loads(e["payload"])["reason"] for e in dead)
    assert reasons == sorted(["undecodable_envelope", "invalid_value", "undecodable_payload",
                              "invalid_id", "tenant_mismatch", "unsupported_content_type",
                              "unexpected_event_type"]), reasons
    for e in dead:
        p = json.loads(e["payload"])
        assert p["source"]["topic"] == topic(stack, "serphona.interactions.v1")
        assert p["detail"] and p["rejected_at_unix_ms"] > 0
        if p["reason"] == "undecodable_envelope":
            assert e["tenant_id"] == "00000000-0000-0000-0000-000000000000"
            assert base64.urlsafe_b64decode(p["original_b64url"] + "==") == marker.encode()
        if p["reason"] == "invalid_value":
            assert "nps" in p["detail"]
    # Still processing afterwards.
    after = interaction(tenant, "after-poison", "chat", 10, [])
    produce(stack, [after], tmp_path, "after.jsonl")
    assert wait_for(lambda: count(stack, tenant) == 4, timeout=60)


def test_clickhouse_outage_is_retried_not_dead_lettered(stack, http, tmp_path):
    tenant = str(uuid.uuid4())
    dead_before = metric(http, stack, "serphona_processor_interactions_total",
                         '{result="dead_lettered"}')
    failures_before = metric(http, stack, "serphona_processor_flush_failures_total")
    lines = [interaction(tenant, f"outage-{i}", "chat", i,
                         [("customer", -1, -1, "Is anyone there?")]) for i in range(5)]
    stack.local("clickhouse", "stop")
    try:
        produce(stack, lines, tmp_path)
        # The flush fails, is retried with backoff, and nothing is given up.
        assert wait_for(lambda: metric(http, stack, "serphona_processor_flush_failures_total")
                        >= failures_before + 2, timeout=60), "no failed flush seen"
    finally:
        stack.local("clickhouse", "start")
    assert wait_for(lambda: count(stack, tenant) == 5, timeout=90), \
        "the interactions were not stored once ClickHouse was back"
    assert metric(http, stack, "serphona_processor_interactions_total",
                  '{result="dead_lettered"}') == dead_before
    time.sleep(1.5)
    assert count(stack, tenant) == 5


# ---- retention -------------------------------------------------------------------

def processor_env(stack):
    env = dict(stack.base_env)
    env.update(stack.env)
    env["SERPHONA_OPS_PORT"] = stack.env["SP_ANALYTICS_PROCESSOR_OPS_PORT"]
    env["SERPHONA_RPC_PORT"] = stack.env["SERPHONA_ANALYTICS_PROCESSOR_RPC"].rsplit(":", 1)[1]
    env["SERPHONA_LOG_LEVEL"] = "warn"
    return env


def stop_stack_processor(stack):
    pid = stack.pid("analytics-processor")
    os.kill(pid, signal.SIGTERM)
    assert wait_for(lambda: not os.path.exists(f"/proc/{pid}"), timeout=30), "did not stop"


def test_retention_follows_the_tenants_setting(stack, http, tmp_path):
    # A tenant that keeps 30 days, made through the API as an operator would.
    login = http.post(f"{stack.gateway}/v1/auth/login", timeout=30, json={
        "email": stack.env["SERPHONA_OPERATOR_EMAIL"],
        "password": stack.env["SERPHONA_OPERATOR_PASSWORD"]})
    assert login.status_code == 200, login.text
    slug = "it-ret-" + uuid.uuid4().hex[:8]
    made = http.post(f"{stack.gateway}/v1/tenants", timeout=30,
                     headers={"Authorization": "Bearer " + login.json()["access_token"]},
                     json={"slug": slug, "name": "Retention", "owner_email": f"o@{slug}.test",
                           "settings": {"retention_days": 30}})
    assert made.status_code == 201, made.text
    short = made.json()["tenant"]["id"]
    unknown = str(uuid.uuid4())  # tenant-manager does not know it: the default (365 days)
    old = -100 * 24 * 60  # minutes: 100 days before BASE_MS
    lines = [interaction(short, "old-1", "chat", old, [("customer", -1, -1, "old")]),
             interaction(short, "old-2", "chat", old + 90, [("customer", -1, -1, "old")]),
             interaction(short, "recent", "chat", 0, [("customer", -1, -1, "new")]),
             interaction(unknown, "old-3", "chat", old, [("customer", -1, -1, "old")])]
    produce(stack, lines, tmp_path)
    assert wait_for(lambda: count(stack, short) == 3 and count(stack, unknown) == 1, timeout=60)

    # A processor of our own with passes every second.
    stop_stack_processor(stack)
    env = processor_env(stack)
    env["SERPHONA_RETENTION_INTERVAL_S"] = "1"
    log = open(tmp_path / "processor.log", "w")
    proc = subprocess.Popen([str(stack.bin_dir / "analytics-processor")], env=env,
                            stdout=subprocess.DEVNULL, stderr=log)
    try:
        def expired():
            return ch_num(stack, "SELECT count() FROM interactions "
                                 f"WHERE tenant_id = '{short}'") == 1
        assert wait_for(expired, timeout=60, interval=0.5), "old rows were not deleted"
        for table in ("interactions", "utterances", "interaction_keys"):
            assert wait_for(lambda: ch_num(stack, f"SELECT count() FROM {table} "
                                                  f"WHERE tenant_id = '{short}'") == 1,
                            timeout=30), table
        assert wait_for(lambda: count(stack, short) == 1, timeout=30)
        assert wait_for(lambda: ch_num(stack, "SELECT sum(interactions) FROM "
                                              "interactions_hourly_channel "
                                              f"WHERE tenant_id = '{short}'") == 1, timeout=30)
        assert wait_for(lambda: ch_num(stack, "SELECT sum(interactions) FROM topics_hourly "
                                              f"WHERE tenant_id = '{short}'") == ch_num(
            stack, f"SELECT sum(length(topics)) FROM interactions WHERE tenant_id = '{short}'"),
            timeout=30)
        left = ch_rows(stack, f"SELECT external_id FROM interactions WHERE tenant_id = '{short}'")
        assert [r["external_id"] for r in left] == ["recent"]
        # 100 days is within the default: untouched.
        assert count(stack, unknown) == 1
        assert ch_num(stack, f"SELECT count() FROM interactions WHERE tenant_id = '{unknown}'") == 1
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        stack.script("services-up")
    text = (tmp_path / "processor.log").read_text(errors="replace")
    assert not any(m in text for m in SANITIZER_MARKERS), text[-4000:]


# ---- crash safety ---------------------------------------------------------------

CHANNELS = ["call", "chat", "whatsapp", "email", "survey", "review"]
TEXTS = [("customer", "My internet is down again, this is the third time this week!"),
         ("agent", "I am sorry to hear that. Let me check your connection."),
         ("customer", "Thanks, that was quick. Great help!"),
         ("customer", "I want to cancel my subscription, the price is too high."),
         ("agent", "I understand. I can offer you a discount instead.")]


def tenants_on_every_partition(partitions=6):
    """Tenant ids whose keys land on distinct partitions (librdkafka's default
    partitioner: CRC32 of the key modulo the partition count). The dev broker
    (librdkafka's mock cluster) keeps only about 5 MB per partition and
    drops older records even when unconsumed, so a stream that a stopped
    consumer falls behind on must be spread out to stay within it."""
    found = {}
    while len(found) < partitions:
        t = str(uuid.uuid4())
        found.setdefault(zlib.crc32(t.encode()) % partitions, t)
    return [found[p] for p in range(partitions)]


def stream(tenants, n):
    """n interactions spread over tenants, with known survey values: every
    6th is a survey with csat (i % 5) + 1 and nps i % 11."""
    for i in range(n):
        tenant = tenants[i % len(tenants)]
        channel = CHANNELS[i % len(CHANNELS)]
        utts = [{"speaker": TEXTS[(i + j) % len(TEXTS)][0], "start_ms": j * 3000,
                 "end_ms": j * 3000 + 2500, "text": TEXTS[(i + j) % len(TEXTS)][1]}
                for j in range(2)]
        line = {"interaction_id": ix_id(tenant, f"s-{i}"), "tenant_id": tenant,
                "external_id": f"s-{i}", "channel": channel,
                "occurred_at_unix_ms": BASE_MS + (i % 48) * HOUR_MS + i,
                "agent_id": f"agent-{i % 7}", "utterances": utts}
        if channel == "survey":
            line["survey"] = {"csat": i % 5 + 1, "nps": i % 11}
        yield line


def expected_surveys(n):
    surveys = [i for i in range(n) if CHANNELS[i % len(CHANNELS)] == "survey"]
    return {"csat_count": len(surveys), "csat_sum": sum(i % 5 + 1 for i in surveys),
            "nps_count": len(surveys),
            "nps_promoters": sum(1 for i in surveys if i % 11 >= 9),
            "nps_detractors": sum(1 for i in surveys if i % 11 <= 6)}


def test_sigkill_during_a_stream_loses_nothing_and_doubles_nothing(stack, http, tmp_path):
    n = 20_000
    tenants = tenants_on_every_partition()
    where = "tenant_id IN (" + ",".join(f"'{t}'" for t in tenants) + ")"

    def stored():
        return ch_num(stack, f"SELECT sum(interactions) FROM interactions_hourly WHERE {where}")
    # The test runs the processor itself, so it can kill it.
    stop_stack_processor(stack)

    path = tmp_path / "stream.jsonl"
    with path.open("w") as f:
        for line in stream(tenants, n):
            f.write(json.dumps(line) + "\n")
    env = processor_env(stack)
    logs = []
    procs = []

    def start():
        log = open(tmp_path / f"processor-{len(logs)}.log", "w")
        logs.append(log)
        p = subprocess.Popen([str(stack.bin_dir / "analytics-processor")], env=env,
                             stdout=subprocess.DEVNULL, stderr=log)
        procs.append(p)
        return p

    producer = subprocess.Popen([str(stack.bin_dir / "serphona-cli"), "produce-interactions",
                                 stack.brokers, topic(stack, "serphona.interactions.v1"),
                                 str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
    try:
        proc = start()
        kills = 0
        for threshold in (3_000, 8_000, 13_000):
            reached = wait_for(lambda: stored() >= threshold or proc.poll() is not None,
                               timeout=240, interval=0.05)
            assert reached and proc.poll() is None, "the processor stopped or stalled"
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            kills += 1
            proc = start()
        out, err = producer.communicate(timeout=240)
        assert producer.returncode == 0, out + err
        assert json.loads(out)["produced"] == n
        assert wait_for(lambda: stored() >= n, timeout=300, interval=0.5), \
            f"only {stored()} of {n} stored"
        time.sleep(3)  # a double count would have landed by now
        assert kills == 3
        k = {key: 0.0 for key in rollup(stack, tenants[0])}
        for t in tenants:
            for key, value in rollup(stack, t).items():
                k[key] += value
        assert k["interactions"] == n
        for key, value in expected_surveys(n).items():
            assert k[key] == value, key
        assert k["timed"] == n  # every interaction has timestamps
        assert ch_num(stack, f"SELECT count() FROM interactions WHERE {where}") == n
        assert ch_num(stack, "SELECT sum(interactions) FROM interactions_hourly_channel "
                             f"WHERE {where}") == n
        assert ch_num(stack, "SELECT uniqExact(tenant_id, interaction_id) FROM interaction_keys "
                             f"WHERE {where}") == n
        assert ch_num(stack, "SELECT uniqExact(interaction_id, seq) FROM utterances "
                             f"WHERE {where}") == 2 * n
        assert ch_num(stack, f"SELECT sum(interactions) FROM topics_hourly WHERE {where}") == \
            ch_num(stack, f"SELECT sum(length(topics)) FROM interactions WHERE {where}")
        # The last processor shuts down cleanly.
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        assert proc.returncode == 0
    finally:
        if producer.poll() is None:
            producer.kill()
            producer.wait()
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for log in logs:
            log.close()
        stack.script("services-up")
    for log in logs:
        text = Path(log.name).read_text(errors="replace")
        assert not any(m in text for m in SANITIZER_MARKERS), text[-4000:]
    assert wait_for(lambda: http.get(stack.ops_url("analytics-processor") + "/health/ready",
                                     timeout=5).status_code == 200, timeout=60)


# ---- parallel analysis --------------------------------------------------------------

def run_own_processor(stack, tmp_path, name, stop_stack=True, **settings):
    """Stops the stack's processor (unless told it is stopped already) and
    starts one with settings (env overrides); returns (process, log file).
    The caller stops it and runs services-up."""
    if stop_stack:
        stop_stack_processor(stack)
    env = processor_env(stack)
    env.update({k: str(v) for k, v in settings.items()})
    log = open(tmp_path / f"{name}.log", "w")
    proc = subprocess.Popen([str(stack.bin_dir / "analytics-processor")], env=env,
                            stdout=subprocess.DEVNULL, stderr=log)
    return proc, log


def test_parallel_analysis_keeps_exact_counts_order_and_dead_letters(stack, http, tmp_path):
    """One tenant (one partition today), more analysis threads than CPUs,
    small batches: every interaction stored once, replays within and across
    batches deduplicated, poison dead-lettered in place, metrics exact."""
    n, every_dup, every_poison = 3000, 10, 250
    tenant = str(uuid.uuid4())
    lines, unique, poison = [], 0, 0
    for i, line in enumerate(stream([tenant], n)):
        lines.append(line)
        unique += 1
        if i % every_dup == 0:
            lines.append(line)  # the same interaction again (a replay)
        if i % every_poison == 0:
            lines.append(dict(line, interaction_id=ix_id(tenant, f"bad-{i}"), channel="fax"))
            poison += 1
    proc, log = run_own_processor(stack, tmp_path, "parallel", SERPHONA_PROCESSOR_THREADS=4,
                                  SERPHONA_PROCESSOR_BATCH_SIZE=100)
    try:
        assert produce(stack, lines, tmp_path)["produced"] == len(lines)
        assert wait_for(lambda: count(stack, tenant) >= unique or proc.poll() is not None,
                        timeout=240, interval=0.5), f"only {count(stack, tenant)} of {unique}"
        assert proc.poll() is None, "the processor stopped"
        time.sleep(2)  # a double count would have landed by now
        assert count(stack, tenant) == unique
        assert ch_num(stack, "SELECT count() FROM interactions FINAL "
                             f"WHERE tenant_id = '{tenant}'") == unique
        assert ch_num(stack, "SELECT uniqExact(interaction_id, seq) FROM utterances "
                             f"WHERE tenant_id = '{tenant}'") == 2 * unique
        k = rollup(stack, tenant)
        for key, value in expected_surveys(n).items():
            assert k[key] == value, key
        # This processor's own counters (it started at 0).
        text = http.get(stack.ops_url("analytics-processor") + "/metrics", timeout=5).text
        assert f'serphona_processor_interactions_total{{result="analysed"}} {unique}' in text
        assert f'serphona_processor_interactions_total{{result="dead_lettered"}} {poison}' in text
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        stack.script("services-up")
    text = (tmp_path / "parallel.log").read_text(errors="replace")
    assert not any(m in text for m in SANITIZER_MARKERS), text[-4000:]
    dead = events_for(stack, "serphona.interactions.dlq.v1",
                      lambda e: e["type"] == "interaction.rejected" and e["tenant_id"] == tenant,
                      poison)
    assert {json.loads(e["payload"])["reason"] for e in dead} == {"invalid_value"}


# ---- loss is never silent ----------------------------------------------------------------

def lost_metric(http, stack):
    """serphona_events_lost_total of the interactions topic, or None when the
    processor does not expose it (or is not listening yet)."""
    try:
        text = http.get(stack.ops_url("analytics-processor") + "/metrics", timeout=5).text
    except requests.RequestException:
        return None
    name = 'serphona_events_lost_total{topic="%s"} ' % topic(stack, "serphona.interactions.v1")
    for line in text.splitlines():
        if line.startswith(name):
            return float(line[len(name):])
    return None


def test_loss_counter_is_zero_in_normal_flow_and_counts_records_the_broker_dropped(
        stack, http, tmp_path):
    """The dev broker keeps about 5 MB per partition and deletes the oldest
    records past that even when nobody read them: with the processor
    stopped, 8 MB for one tenant (one partition) loses the oldest unread
    ones. The restarted processor counts exactly those and logs the range."""
    assert lost_metric(http, stack) == 0  # present, and nothing lost so far
    n = 5000
    tenant = str(uuid.uuid4())
    pad = " ".join(["Please note the order details in full."] * 20)  # ~800 bytes
    lines = [interaction(tenant, f"big-{i}", "chat", i % 600,
                         [("customer", -1, -1, f"#{i} my order is late. {pad}"),
                          ("agent", -1, -1, f"Sorry, checking order {i}. {pad}")])
             for i in range(n)]
    # The group's position on that partition is known first (a partition it
    # never committed on starts at the oldest record, like a new group).
    produce(stack, [interaction(tenant, "first", "chat", 0, [("customer", -1, -1, "Hi")])],
            tmp_path, "first.jsonl")
    assert wait_for(lambda: count(stack, tenant) == 1, timeout=60)
    stop_stack_processor(stack)  # commits on the way out; nobody consumes now
    proc = log = None
    try:
        assert produce(stack, lines, tmp_path)["produced"] == n
        proc, log = run_own_processor(stack, tmp_path, "loss-after", stop_stack=False)

        def settled():
            lost = lost_metric(http, stack) or 0
            return lost > 0 and count(stack, tenant) + lost == n + 1
        assert wait_for(settled, timeout=180, interval=1), \
            (count(stack, tenant), lost_metric(http, stack))
        lost = lost_metric(http, stack)
        time.sleep(2)
        assert count(stack, tenant) == n + 1 - lost  # the rest analysed, once
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait()
        if log:
            log.close()
        stack.script("services-up")
    text = (tmp_path / "loss-after.log").read_text(errors="replace")
    errors = [json.loads(line) for line in text.splitlines()
              if line.startswith("{") and '"level":"error"' in line]
    found = [e["msg"] for e in errors if "lost before this consumer got there" in e["msg"]]
    assert len(found) == 1, text[-4000:]
    assert found[0].startswith("events: %d record(s) of %s[" % (
        lost, topic(stack, "serphona.interactions.v1"))), found[0]
    assert not any(m in text for m in SANITIZER_MARKERS), text[-4000:]
