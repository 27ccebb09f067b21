"""analytics-query, black-box: a hand-computed fixture is written straight
into the stack's ClickHouse (two tenants), then every route is called over
the service's RPC port exactly as the auth-gateway forwards a request (an
HttpRequest envelope with an AuthContext, via `serphona-cli http`), and the
answers are compared with values worked out by hand.

- exact KPIs for a week against the week before, from the rollups and from
  the raw table;
- tenant B's data never shows for tenant A; B's interaction id is a 404;
- day buckets follow the tenant's timezone (read from the shared
  sp:tenant:<id> cache of tenant-manager's TenantState);
- breakdowns, keywords, movers, list/search/sort/pagination, the redacted
  transcript;
- the CSV export: permission, headers, RFC 4180 quoting, formula guard,
  cursor-linked chunks;
- a dashboard answer is cached and dropped as soon as an analysis.completed
  event for the tenant is on Kafka;
- clear 400s for bad windows and parameters.
"""
import csv
import io
import json
import socket
import uuid

import pytest
import requests

from conftest import wait_for

WEEK = "from=2025-06-02&to=2025-06-08"  # Monday to Sunday


def iid(n):
    return f"00000000-0000-4000-8000-{n:012x}"


class Tenants:
    def __init__(self):
        self.a = str(uuid.uuid4())
        self.b = str(uuid.uuid4())


def row(tenant, n, when, **kw):
    r = dict(tenant_id=tenant, interaction_id=iid(n), external_id=f"ext-{n}", channel="call",
             occurred_at=when, analyzed_at=when, language="en", agent_id="ag1",
             agent_name="Ana", customer_ref="cust-1", tags=[], sentiment=0.0,
             sentiment_customer=0.0, sentiment_agent=0.0, topics=[], intent="", keywords=[],
             duration_ms=0, talk_agent_ms=0, talk_customer_ms=0, silence_ratio=0.0,
             longest_silence_ms=0, overtalk_ms=0, escalated=0, resolved=0, churn_risk=0,
             csat=-1, nps=-1, pii_redactions=0, utterance_count=0, text="", version=1)
    r.update(kw)
    return r


def ch_insert(stack, table, rows):
    db = stack.env.get("SERPHONA_CLICKHOUSE_DATABASE", "serphona")
    resp = requests.post(stack.env["SERPHONA_CLICKHOUSE_URL"],
                         params={"database": db, "query": f"INSERT INTO {table} FORMAT JSONEachRow"},
                         data="\n".join(json.dumps(r) for r in rows).encode(), timeout=30)
    assert resp.status_code == 200, resp.text


class Answer:
    def __init__(self, text):
        head, _, self.body = text.partition("\n\n")
        lines = head.split("\n")
        self.status = int(lines[0])
        self.headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(": ")
            self.headers[name.lower()] = value

    def json(self):
        return json.loads(self.body)


def call(stack, path, tenant, roles="analyst"):
    out = stack.cli("http", stack.rpc_endpoint("analytics-query"), "GET", path, tenant, roles)
    assert out.returncode == 0, out.stderr
    return Answer(out.stdout)


def redis(stack, *args):
    """One Redis command over RESP (args: bytes); returns the first reply line."""
    cmd = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)
    with socket.create_connection(("127.0.0.1", int(stack.env["SP_REDIS_PORT"])), 5) as s:
        s.sendall(cmd)
        return s.recv(64)


def tenant_state(tenant, timezone):
    """A packed serphona.tenant.v1.TenantState with tenant_id (2) and timezone (5)."""
    def field(num, text):
        data = text.encode()
        return bytes([num << 3 | 2, len(data)]) + data
    return field(2, tenant) + field(5, timezone)


@pytest.fixture(scope="module")
def t(stack):
    t = Tenants()
    a, b = t.a, t.b
    rows = [
        # The week of 2025-06-02 for tenant A.
        row(a, 1, "2025-06-02 10:15:00", channel="call", sentiment=0.5, topics=["billing"],
            intent="refund", keywords=["refund", "invoice"], duration_ms=120000,
            silence_ratio=0.1, resolved=1, csat=5, nps=10,
            text="I want a refund for my invoice [EMAIL]"),
        # 01:30 UTC on the 4th is still the 3rd in São Paulo (UTC-3).
        row(a, 2, "2025-06-04 01:30:00", channel="chat", sentiment=-0.5,
            topics=["billing", "complaint"], intent="complaint", keywords=["invoice"],
            escalated=1, nps=3, text='=HYPERLINK("x") terrible, "wrong"\ninvoice'),
        row(a, 3, "2025-06-04 08:00:00", channel="call", agent_id="ag2", agent_name="Bruno",
            language="pt", sentiment=0.0, topics=["delivery"], intent="delivery_status",
            keywords=["pacote"], duration_ms=60000, silence_ratio=0.3, resolved=1, csat=3, nps=8,
            text="Onde está o meu PACOTE?"),
        row(a, 4, "2025-06-05 23:00:00", channel="email", agent_id="", agent_name="",
            sentiment=0.25, text="thanks, all good"),
        # The week before.
        row(a, 5, "2025-05-28 12:00:00", channel="email", sentiment=0.2, topics=["billing"],
            intent="refund", keywords=["refund"], text="refund please"),
        # Tenant B, in the same hour as A's first.
        row(b, 11, "2025-06-02 10:00:00", sentiment=-0.9, topics=["billing"],
            keywords=["secretword"], csat=1, nps=0, text="tenant b secretword invoice"),
    ]
    ch_insert(stack, "interactions", rows)
    ch_insert(stack, "utterances", [
        dict(tenant_id=a, interaction_id=iid(1), occurred_at="2025-06-02 10:15:00", seq=0,
             speaker="customer", start_ms=0, end_ms=2500, text="I want a refund, [EMAIL]",
             sentiment=0.5, version=1),
        dict(tenant_id=a, interaction_id=iid(1), occurred_at="2025-06-02 10:15:00", seq=1,
             speaker="agent", start_ms=3000, end_ms=5000, text="Sure, done.", sentiment=0.25,
             version=1),
    ])
    return t


def kpi(answer, name, field="value"):
    return answer.json()["kpis"][name][field]


def test_overview_exact_kpis(stack, t):
    r = call(stack, "/v1/analytics/overview?" + WEEK, t.a)
    assert r.status == 200, r.body
    body = r.json()
    assert body["period"] == {"from": "2025-06-02T00:00:00Z", "to": "2025-06-09T00:00:00Z"}
    assert body["previous_period"] == {"from": "2025-05-26T00:00:00Z",
                                       "to": "2025-06-02T00:00:00Z"}
    assert body["source"] == "interactions_hourly_channel"
    k = body["kpis"]
    assert k["volume"] == {"value": 4, "previous": 1, "change": 3, "change_pct": 300}
    assert k["sentiment_avg"]["value"] == 0.0625          # (0.5 - 0.5 + 0 + 0.25) / 4
    assert k["sentiment_avg"]["previous"] == 0.2
    assert k["sentiment_avg"]["change"] == -0.1375
    assert k["positive_share"]["value"] == 0.5            # > 0.05: #1, #4
    assert k["negative_share"]["value"] == 0.25           # < -0.05: #2
    assert k["nps"]["value"] == 0                         # 10, 3, 8: 1 promoter, 1 detractor
    assert k["nps"]["previous"] is None                   # nobody answered then
    assert k["csat_avg"]["value"] == 4                    # 5, 3
    assert k["resolution_rate"]["value"] == 0.5
    assert k["escalation_rate"]["value"] == 0.25
    assert k["churn_risk_share"]["value"] == 0
    assert k["aht_seconds"]["value"] == 90                # (120 s + 60 s) / 2 timed
    assert k["silence_ratio"]["value"] == 0.2             # (0.1 + 0.3) / 2 timed

    # A topic filter: every KPI from the raw table.
    r = call(stack, "/v1/analytics/overview?" + WEEK + "&topic=billing", t.a)
    body = r.json()
    assert body["source"] == "interactions"
    assert body["kpis"]["volume"] == {"value": 2, "previous": 1, "change": 1, "change_pct": 100}
    assert body["kpis"]["sentiment_avg"]["value"] == 0
    assert body["kpis"]["csat_avg"]["value"] == 5
    assert body["kpis"]["nps"]["value"] == 0

    r = call(stack, "/v1/analytics/overview?" + WEEK + "&channel=call", t.a)
    assert kpi(r, "volume") == 2 and kpi(r, "aht_seconds") == 90 and kpi(r, "nps") == 50


def test_tenant_isolation(stack, t):
    r = call(stack, "/v1/analytics/overview?from=2025-06-02&to=2025-06-02", t.a)
    assert kpi(r, "volume") == 1 and kpi(r, "sentiment_avg") == 0.5
    r = call(stack, "/v1/analytics/overview?from=2025-06-02&to=2025-06-02", t.b)
    assert kpi(r, "volume") == 1 and kpi(r, "sentiment_avg") == -0.9
    for path in ("/v1/analytics/keywords?" + WEEK,
                 "/v1/analytics/interactions?" + WEEK + "&q=secretword",
                 "/v1/analytics/breakdown?" + WEEK + "&by=topic"):
        r = call(stack, path, t.a)
        assert r.status == 200 and "secretword" not in r.body and iid(11) not in r.body
    assert call(stack, "/v1/analytics/interactions?" + WEEK + "&q=secretword",
                t.a).json()["total"] == 0
    # B's interaction does not exist for A; B sees it.
    r = call(stack, "/v1/analytics/interactions/" + iid(11), t.a)
    assert r.status == 404 and r.json()["error"]["code"] == "interaction_not_found"
    assert call(stack, "/v1/analytics/interactions/" + iid(11), t.b).status == 200
    # A platform-level caller (no tenant) gets nothing.
    assert call(stack, "/v1/analytics/overview", "-", "platform_operator").status == 403


def test_timeseries_in_the_tenants_timezone(stack, t):
    r = call(stack, "/v1/analytics/timeseries?" + WEEK + "&metric=volume,sentiment_avg", t.a)
    body = r.json()
    assert body["timezone"] == "UTC"  # tenant-manager does not know this tenant
    assert [p["bucket"] for p in body["points"]] == [f"2025-06-0{d}" for d in range(2, 9)]
    assert [p["volume"] for p in body["points"]] == [1, 0, 2, 1, 0, 0, 0]
    assert body["points"][1]["sentiment_avg"] is None  # zero-filled: no data, no average
    assert body["points"][2]["sentiment_avg"] == -0.25

    # tenant-manager's shared cache says São Paulo.
    key = f"sp:tenant:{t.a}".encode()
    assert redis(stack, b"SET", key, tenant_state(t.a, "America/Sao_Paulo"), b"EX",
                 b"60").startswith(b"+OK")
    try:
        r = call(stack, "/v1/analytics/timeseries?" + WEEK + "&metric=volume", t.a)
        body = r.json()
        assert body["timezone"] == "America/Sao_Paulo"
        assert body["period"] == {"from": "2025-06-02T03:00:00Z", "to": "2025-06-09T03:00:00Z"}
        assert [p["volume"] for p in body["points"]] == [1, 1, 1, 1, 0, 0, 0]
        # The export is named after the local dates too.
        r = call(stack, "/v1/analytics/export.csv?" + WEEK, t.a)
        assert r.headers["content-disposition"] == \
            'attachment; filename="interactions_2025-06-02_2025-06-08.csv"'
    finally:
        redis(stack, b"DEL", key)

    r = call(stack, "/v1/analytics/timeseries?from=2025-05-01&to=2025-06-30&interval=week"
                    "&metric=volume,nps", t.a)
    points = r.json()["points"]
    assert points[0]["bucket"] == "2025-04-28" and points[-1]["bucket"] == "2025-06-30"
    by_week = {p["bucket"]: p for p in points}
    assert by_week["2025-05-26"]["volume"] == 1 and by_week["2025-06-02"]["volume"] == 4
    assert by_week["2025-06-02"]["nps"] == 0 and by_week["2025-05-26"]["nps"] is None
    r = call(stack, "/v1/analytics/timeseries?from=2025-05-01&to=2025-06-30&interval=month", t.a)
    assert [(p["bucket"], p["volume"]) for p in r.json()["points"]] == [
        ("2025-05-01", 1), ("2025-06-01", 4)]


def test_breakdowns_keywords_movers(stack, t):
    r = call(stack, "/v1/analytics/breakdown?" + WEEK + "&by=topic", t.a).json()
    assert r["total"] == 4 and r["source"] == "topics_hourly"
    assert [(i["key"], i["count"], i["share"]) for i in r["items"]] == [
        ("billing", 2, 0.5), ("complaint", 1, 0.25), ("delivery", 1, 0.25)]
    assert r["items"][0]["sentiment_avg"] == 0 and r["items"][0]["negative_share"] == 0.5
    r = call(stack, "/v1/analytics/breakdown?" + WEEK + "&by=agent", t.a).json()
    assert [(i["key"], i.get("name"), i["count"]) for i in r["items"]] == [
        ("ag1", "Ana", 2), ("", "", 1), ("ag2", "Bruno", 1)]
    r = call(stack, "/v1/analytics/breakdown?" + WEEK + "&by=intent&limit=2", t.a).json()
    assert r["source"] == "interactions" and len(r["items"]) == 2
    assert r["items"][0] == {"key": "", "count": 1, "share": 0.25, "sentiment_avg": 0.25,
                             "negative_share": 0}
    r = call(stack, "/v1/analytics/keywords?" + WEEK, t.a).json()
    assert r["items"][0] == {"keyword": "invoice", "count": 2, "share": 0.5, "sentiment_avg": 0}
    r = call(stack, "/v1/analytics/movers?" + WEEK + "&min_volume=1", t.a).json()
    assert r["items"][0]["topic"] == "billing" and r["items"][0]["direction"] == "up"
    assert r["items"][0]["volume"] == {"value": 2, "previous": 1, "change": 1, "change_pct": 100}
    r = call(stack, "/v1/analytics/movers?" + WEEK + "&min_volume=1&by=sentiment", t.a).json()
    assert [(i["topic"], i["sentiment_avg"]["change"]) for i in r["items"]] == [("billing", -0.2)]


def test_list_search_and_transcript(stack, t):
    r = call(stack, "/v1/analytics/interactions?" + WEEK, t.a).json()
    assert r["total"] == 4 and [i["id"] for i in r["items"]] == [iid(4), iid(3), iid(2), iid(1)]
    first = r["items"][3]
    assert first["agent"] == {"id": "ag1", "name": "Ana"} and first["csat"] == 5
    assert first["topics"] == ["billing"] and first["resolved"] is True
    r = call(stack, "/v1/analytics/interactions?" + WEEK + "&q=pacote", t.a).json()
    assert [i["id"] for i in r["items"]] == [iid(3)]
    assert r["items"][0]["snippet"] == "Onde está o meu PACOTE?"
    r = call(stack, "/v1/analytics/interactions?" + WEEK + "&sort=sentiment&order=asc&limit=2",
             t.a).json()
    assert [i["id"] for i in r["items"]] == [iid(2), iid(3)] and r["next_offset"] == 2
    r = call(stack, "/v1/analytics/interactions?" + WEEK + "&sort=sentiment&order=asc&limit=2"
                    "&offset=2", t.a).json()
    assert [i["id"] for i in r["items"]] == [iid(4), iid(1)] and r["next_offset"] is None
    r = call(stack, "/v1/analytics/interactions?" + WEEK + "&escalated=true", t.a).json()
    assert [i["id"] for i in r["items"]] == [iid(2)]

    d = call(stack, "/v1/analytics/interactions/" + iid(1), t.a)
    assert d.status == 200
    d = d.json()
    assert d["text"] == "I want a refund for my invoice [EMAIL]"
    assert [(u["seq"], u["speaker"], u["text"]) for u in d["transcript"]] == [
        (0, "customer", "I want a refund, [EMAIL]"), (1, "agent", "Sure, done.")]
    assert d["call_metrics"]["silence_ratio"] == 0.1
    assert call(stack, "/v1/analytics/interactions/not-a-uuid", t.a).status == 400


def test_csv_export(stack, t):
    r = call(stack, "/v1/analytics/export.csv?" + WEEK, t.a, "viewer")
    assert r.status == 403
    r = call(stack, "/v1/analytics/export.csv?" + WEEK, t.a, "analyst")
    assert r.status == 200, r.body
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"] == \
        'attachment; filename="interactions_2025-06-02_2025-06-08.csv"'
    assert r.headers["x-export-rows"] == "4" and r.headers["x-export-truncated"] == "false"
    assert "x-export-next-cursor" not in r.headers
    rows = list(csv.DictReader(io.StringIO(r.body, newline="")))
    assert [x["id"] for x in rows] == [iid(4), iid(3), iid(2), iid(1)]
    chat = rows[2]
    # Quotes doubled, the newline kept inside the quoted cell, the leading
    # "=" defused.
    assert chat["text"] == "'" + '=HYPERLINK("x") terrible, "wrong"\ninvoice'
    assert chat["topics"] == "billing|complaint" and chat["sentiment"] == "-0.5"
    assert chat["csat"] == "" and chat["nps"] == "3" and chat["escalated"] == "true"
    assert '"\'=HYPERLINK(""x"") terrible, ""wrong""\ninvoice"' in r.body
    assert "secretword" not in r.body

    # Chunks of one row, linked by cursors, give the same rows once each.
    seen, cursor = [], None
    for _ in range(6):
        path = "/v1/analytics/export.csv?" + WEEK + "&limit=1"
        if cursor:
            path += "&cursor=" + cursor
        part = call(stack, path, t.a)
        seen += [x["id"] for x in csv.DictReader(io.StringIO(part.body, newline=""))]
        cursor = part.headers.get("x-export-next-cursor")
        if not cursor:
            assert part.headers["x-export-truncated"] == "false"
            break
        assert part.headers["x-export-truncated"] == "true"
    assert seen == [iid(4), iid(3), iid(2), iid(1)]


def test_cache_is_dropped_by_analysis_events(stack, t):
    path = "/v1/analytics/overview?from=2025-06-09&to=2025-06-15"
    first = call(stack, path, t.a)
    assert first.headers["x-cache"] == "miss" and kpi(first, "volume") == 0
    again = call(stack, path, t.a)
    assert again.headers["x-cache"] == "hit" and again.body == first.body
    # A new analysis lands in ClickHouse: the cached answer stays until the
    # processor's event arrives...
    ch_insert(stack, "interactions", [row(t.a, 6, "2025-06-10 09:00:00", sentiment=0.4)])
    assert kpi(call(stack, path, t.a), "volume") == 0
    # ... an event for another tenant changes nothing ...
    topic = stack.topic_prefix + "serphona.analyses.v1"
    out = stack.cli("produce", stack.brokers, topic, "analysis.completed", t.b,
                    json.dumps({"interaction_id": iid(12)}))
    assert out.returncode == 0, out.stderr
    # ... and A's drops A's cache.
    out = stack.cli("produce", stack.brokers, topic, "analysis.completed", t.a,
                    json.dumps({"interaction_id": iid(6)}))
    assert out.returncode == 0, out.stderr
    fresh = wait_for(lambda: (lambda r: r if r.headers["x-cache"] == "miss" else None)(
        call(stack, path, t.a)), timeout=30, interval=0.5)
    assert fresh is not None, "the cached overview outlived the analysis event"
    assert kpi(fresh, "volume") == 1 and kpi(fresh, "sentiment_avg") == 0.4
    # B's entries were never touched by A's event: still cached.
    b_path = "/v1/analytics/overview?from=2025-06-02&to=2025-06-02"
    call(stack, b_path, t.b)
    assert call(stack, b_path, t.b).headers["x-cache"] == "hit"


@pytest.mark.parametrize("query,code", [
    ("from=2025-02-30", "invalid_date"),
    ("from=last-week", "invalid_date"),
    ("from=2025-06-08&to=2025-06-01", "invalid_range"),
    ("from=2020-01-01&to=2025-01-01", "invalid_range"),
    ("channel=fax", "invalid_filter"),
    ("sentiment_min=3", "invalid_filter"),
    ("language=EN", "invalid_filter"),
    ("tenant_id=00000000-0000-0000-0000-000000000000", "invalid_parameter"),
    ("channel=call&channel=chat", "invalid_parameter"),
])
def test_bad_requests(stack, t, query, code):
    r = call(stack, "/v1/analytics/overview?" + query, t.a)
    assert r.status == 400, r.body
    assert r.json()["error"]["code"] == code


def test_routes_need_a_permission(stack, t, http):
    # Without an auth context (what the gateway forwards for an anonymous
    # caller) every analytics route is refused.
    r = http.get(f"{stack.gateway}/v1/analytics/overview", timeout=10)
    assert r.status_code == 401
    routes = http.get(stack.ops_url("analytics-query") + "/routes", timeout=5).json()["routes"]
    table = {(x["method"], x["pattern"]): x["permission"] for x in routes}
    assert table[("GET", "/v1/analytics/export.csv")] == "analytics:export"
    for p in ("overview", "timeseries", "breakdown", "keywords", "movers", "interactions",
              "interactions/{id}"):
        assert table[("GET", "/v1/analytics/" + p)] == "analytics:read"
