"""The alert rules and the Grafana dashboard shipped in the chart: promtool
accepts the rules and their unit tests pass, every dashboard query is valid
PromQL, and both use only metrics declared in the platform's C sources (the
live check against real /metrics pages is tests/integration/test_observability.py)."""
import json
import re
import shutil
import subprocess

import pytest
import yaml

import promql
from conftest import ROOT


def promtool(*args, cwd=None):
    exe = shutil.which("promtool")
    assert exe, "promtool is missing: run make deps (package prometheus)"
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def test_promtool_accepts_the_rules():
    proc = promtool("check", "rules", str(promql.ALERTS))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_rules_unit_tests_pass():
    proc = promtool("test", "rules", "alerts_test.yaml", cwd=ROOT / "tests" / "deploy")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_alert_is_documented_and_tested(services):
    doc = yaml.safe_load(promql.ALERTS.read_text())
    tested = set(re.findall(r"alertname: (\w+)", (ROOT / "tests/deploy/alerts_test.yaml").read_text()))
    for group in doc["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in ("warning", "critical")
            assert rule["annotations"]["summary"] and rule["annotations"]["description"]
            assert rule["alert"] in tested, f"{rule['alert']} has no promtool unit test"
            jobs = re.search(r'job=~"([^"]+)"', rule["expr"])
            if jobs:
                assert sorted(jobs.group(1).split("|")) == services


def test_dashboard_shape():
    dash = json.loads(promql.DASHBOARD.read_text())
    assert dash["uid"] and dash["title"] and dash["schemaVersion"] >= 30
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    names = {v["name"] for v in dash["templating"]["list"]}
    assert {"datasource", "job"} <= names
    for p in dash["panels"]:
        assert {"h", "w", "x", "y"} <= set(p["gridPos"])
        if p["type"] == "row":
            continue
        assert p["datasource"]["uid"] == "${datasource}"
        assert p["targets"], p["title"]
        for t in p["targets"]:
            assert "$job" in t["expr"], f"{p['title']}: a query ignores the service selector"


def test_dashboard_queries_are_valid_promql(tmp_path):
    exprs = promql.dashboard_exprs()
    assert len(exprs) >= 10
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query_{i}", "expr": e} for i, (_, e) in enumerate(exprs)]}]}
    f = tmp_path / "dashboard-rules.yaml"
    f.write_text(yaml.safe_dump(rules))
    proc = promtool("check", "rules", str(f))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_rules_and_dashboard_use_declared_metrics_and_labels():
    declared = promql.declared_metrics()
    assert declared["serphona_http_requests_total"] == {"method", "status"}
    assert declared["serphona_events_consumer_lag"] == {"topic", "partition"}
    unknown = promql.used_metric_names() - set(declared) - promql.SYNTHETIC
    assert not unknown, f"the rules or the dashboard use metrics nothing declares: {sorted(unknown)}"
    for where, expr in promql.alert_exprs() + promql.dashboard_exprs():
        for metric, label in promql.selector_labels(expr):
            if metric not in promql.SYNTHETIC:
                assert label in declared[metric], f"{where}: {metric} has no label {label}"
        available = set().union(*(declared.get(m, set()) for m in promql.metric_names(expr)))
        for label in promql.grouping_labels(expr):
            assert label in available, f"{where}: groups by {label}, which its metrics lack"


@pytest.mark.parametrize("expr,names", [
    ('rate(serphona_http_requests_total{status=~"5.."}[5m])', {"serphona_http_requests_total"}),
    ('histogram_quantile(0.99, sum by (job, le) (rate(a_bucket[5m]))) > 1e3', {"a_bucket"}),
    ('sum without (instance) (b) / on (job) group_left (version) c offset 1h', {"b", "c"}),
    ('time() - process_start_time_seconds{job=~".*"}', {"process_start_time_seconds"}),
    ('up{job="x"} == 0 and ignoring (le) d', {"up", "d"}),
    ('count by (job, version) (serphona_build_info{namespace=~"by|on"})', {"serphona_build_info"}),
])
def test_metric_name_extraction(expr, names):
    assert promql.metric_names(expr) == names


def test_grafana_variables_become_promql():
    assert promql.grafana_to_promql('rate(x{job=~"$job", ns=~"${namespace}"}[$__rate_interval])') == \
        'rate(x{job=~".*", ns=~".*"}[5m])'
