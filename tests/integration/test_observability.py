"""Observability against the running stack: the chart's alert rules and
Grafana dashboard use only metric names (and label names) the services
really expose on /metrics, the image's health check answers for real
services, and requests carry a W3C trace into the log lines."""
import json
import re
import subprocess
import sys
import uuid

import pytest

from conftest import ROOT, SERVICES, wait_for

sys.path.insert(0, str(ROOT / "tests" / "deploy"))
import promql  # noqa: E402

TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-01$")


def traffic(stack, http):
    """Requests that make every kind of metric appear: HTTP through the
    gateway (RPC client and server), the partner port, typed RPCs, and an
    interaction event for the analytics-processor to consume."""
    for s in SERVICES:
        if s != "auth-gateway":
            http.get(f"{stack.gateway}/v1/system/{s}", timeout=10)
            stack.cli("ping", stack.rpc_endpoint(s), s)
    http.get(f"{stack.tools}/v1/system/tools-gateway", timeout=10)
    topic = stack.topic_prefix + "serphona.interactions.v1"
    out = stack.cli("produce", stack.brokers, topic, "interaction.recorded",
                    str(uuid.uuid4()), '{"text":"observability probe"}')
    assert out.returncode == 0, out.stderr

    def consumed():
        text = http.get(stack.ops_url("analytics-processor") + "/metrics", timeout=10).text
        return re.search(r"^serphona_events_consumed_total\{topic=\"" + re.escape(topic), text, re.M)
    assert wait_for(consumed, timeout=60), "analytics-processor consumed nothing"


@pytest.fixture(scope="module")
def scrapes(stack, http):
    traffic(stack, http)
    pages = {}
    for s in SERVICES:
        r = http.get(stack.ops_url(s) + "/metrics", timeout=10)
        assert r.status_code == 200
        pages[s] = r.text
    return pages


def series_labels(pages):
    """{metric name: set of label names seen on its samples}."""
    labels = {}
    for text in pages.values():
        for line in text.splitlines():
            m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? ", line)
            if m and not line.startswith("#"):
                names = set(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', m.group(2) or ""))
                labels.setdefault(m.group(1), set()).update(names)
    return labels


def test_rules_and_dashboard_use_exposed_metrics(scrapes):
    exposed = set()
    for text in scrapes.values():
        exposed |= promql.exposed_names(text)
    used = promql.used_metric_names()
    assert len(used) >= 8
    missing = used - exposed - promql.SYNTHETIC
    assert not missing, f"the rules or the dashboard use metrics no service exposes: {sorted(missing)}"


def test_rules_and_dashboard_use_exposed_labels(scrapes):
    """Label matchers and groupings name labels the live series carry (for a
    metric with no sample yet, e.g. a failure counter, its declaration)."""
    live = series_labels(scrapes)
    declared = promql.declared_metrics()

    def labels_of(metric):
        return live.get(metric) or declared.get(metric, set())
    checked = 0
    for where, expr in promql.alert_exprs() + promql.dashboard_exprs():
        for metric, label in promql.selector_labels(expr):
            if metric not in promql.SYNTHETIC:
                checked += 1
                assert label in labels_of(metric), f"{where}: {metric} has no label {label}"
        available = set().union(*(labels_of(m) for m in promql.metric_names(expr)))
        for label in promql.grouping_labels(expr):
            assert label in available | {"le"}, f"{where}: groups by {label}, which its metrics lack"
    assert checked >= 5
    # The traffic above made the main series real, labels and all.
    assert live["serphona_http_requests_total"] == {"method", "status"}
    assert {"method", "status"} <= live["serphona_rpc_server_requests_total"]


def test_healthcheck_against_real_services(stack):
    script = ROOT / "deploy" / "docker" / "healthcheck.sh"
    for s in SERVICES:
        port = stack.ops_url(s).rsplit(":", 1)[1]
        for probe in ("live", "ready"):
            rc = subprocess.run(["bash", str(script), probe], env={"PATH": "/usr/bin:/bin",
                                "SERPHONA_OPS_PORT": port}, capture_output=True, timeout=20).returncode
            assert rc == 0, f"{s} {probe}"


def log_lines(stack, service, request_id):
    out = []
    for line in stack.log(service).splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if obj.get("request_id") == request_id:
            out.append(obj)
    return out


def test_requests_start_a_trace_in_the_logs(stack, http):
    """A request without traceparent gets a fresh trace; one with a valid
    traceparent keeps its trace id; either way the log lines written for it
    carry trace_id and span_id."""
    rid = "obs-" + uuid.uuid4().hex
    r = http.get(f"{stack.gateway}/v1/system/billing", headers={"X-Request-Id": rid}, timeout=10)
    assert r.status_code == 200
    lines = wait_for(lambda: log_lines(stack, "auth-gateway", rid), timeout=10)
    assert lines, "the gateway logged nothing for the request"
    for obj in lines:
        assert re.fullmatch(r"[0-9a-f]{32}", obj["trace_id"]) and obj["trace_id"] != "0" * 32
        assert re.fullmatch(r"[0-9a-f]{16}", obj["span_id"])

    tp = "00-" + uuid.uuid4().hex + "-" + uuid.uuid4().hex[:16] + "-01"
    trace_id = TRACEPARENT.match(tp).group(1)
    for url, service in ((f"{stack.gateway}/v1/system/analytics-query", "auth-gateway"),
                         (f"{stack.tools}/v1/system/tools-gateway", "tools-gateway")):
        rid = "obs-" + uuid.uuid4().hex
        r = http.get(url, headers={"X-Request-Id": rid, "traceparent": tp}, timeout=10)
        assert r.status_code == 200
        lines = wait_for(lambda: log_lines(stack, service, rid), timeout=10)
        assert lines and all(obj["trace_id"] == trace_id for obj in lines), service


def test_consumers_export_lag(scrapes):
    """analytics-processor consumes Kafka: it exports the lag gauge its HPA
    can scale on, per topic and partition, and so does every consumer."""
    text = scrapes["analytics-processor"]
    assert "# TYPE serphona_events_consumer_lag gauge" in text
    lag = re.findall(r'^serphona_events_consumer_lag\{topic="([^"]+)",partition="(\d+)"\} (\S+)$', text, re.M)
    assert lag and all(float(v) >= 0 for _, _, v in lag)
    for s, page in scrapes.items():
        if "# TYPE serphona_events_consumed_total counter" in page:
            assert "# TYPE serphona_events_consumer_lag gauge" in page, s
