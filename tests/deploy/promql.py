"""Metric names in PromQL expressions, for checking that the alert rules and
the dashboard use only metrics the services expose. Shared by
tests/deploy/test_observability_files.py and
tests/integration/test_observability.py.

Not a PromQL parser: promtool checks the syntax. This removes what cannot be
a metric name — strings, label matchers, range and subquery brackets,
grouping clauses, durations, function and aggregation names, keywords —
and returns the identifiers left.
"""
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "helm" / "serphona" / "files" / "alerts.yaml"
DASHBOARD = ROOT / "helm" / "serphona" / "files" / "grafana-dashboard.json"

# Prometheus synthesises `up` for every target; it is no service's metric.
SYNTHETIC = {"up"}
# Labels Prometheus attaches from the scrape target, not from the service.
TARGET_LABELS = {"job", "instance", "namespace", "pod", "service", "container", "endpoint"}
SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}")
MATCHER_LABEL = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
GROUP_LABELS = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")


def selector_labels(expr):
    """[(metric, label)] of every label matcher in expr, target labels excluded."""
    return [(metric, name) for metric, matchers in SELECTOR.findall(expr)
            for name in MATCHER_LABEL.findall(matchers) if name not in TARGET_LABELS]


def grouping_labels(expr):
    """Label names of expr's by/without clauses, target labels and le excluded."""
    return {n.strip() for g in GROUP_LABELS.findall(expr) for n in g.split(",")
            if n.strip() and n.strip() not in TARGET_LABELS | {"le"}}

KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
            "unless", "offset", "inf", "nan", "atan2"}
GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")

# Grafana's variables, replaced by values PromQL accepts.
GRAFANA_RANGE = re.compile(r"\$__(rate_)?interval|\$__range")
GRAFANA_VAR = re.compile(r"\$\{?[A-Za-z_][A-Za-z0-9_]*(?::[a-z]+)?\}?")


def grafana_to_promql(expr):
    expr = GRAFANA_RANGE.sub("5m", expr)
    return GRAFANA_VAR.sub(".*", expr)


def metric_names(expr):
    """The metric names expr selects."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = GROUPING.sub(" ", s)
    s = re.sub(r"\boffset\s+-?\d+[smhdwy]\S*", " ", s)
    names = set()
    for m in IDENT.finditer(s):
        word = m.group(0)
        rest = s[m.end():].lstrip()
        if rest.startswith("("):
            continue  # a function or an aggregation
        if word.lower() in KEYWORDS:
            continue
        if m.start() > 0 and (s[m.start() - 1].isdigit() or s[m.start() - 1] == "."):
            continue  # the exponent or unit of a number, e.g. 1e3
        names.add(word)
    return names


def alert_exprs():
    import yaml
    doc = yaml.safe_load(ALERTS.read_text())
    return [(r.get("alert") or r.get("record"), r["expr"]) for g in doc["groups"] for r in g["rules"]]


def dashboard_exprs():
    """(panel title, PromQL) for every query of the dashboard, Grafana
    variables substituted, template-variable queries included."""
    dash = json.loads(DASHBOARD.read_text())
    out = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                if t.get("expr"):
                    out.append((p["title"], grafana_to_promql(t["expr"])))
            walk(p.get("panels", []))
    walk(dash["panels"])
    for v in dash.get("templating", {}).get("list", []):
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        m = re.match(r"label_values\((.*),\s*\w+\)$", q or "")
        if v.get("type") == "query" and m:
            out.append((f"variable {v['name']}", grafana_to_promql(m.group(1))))
    return out


def used_metric_names():
    names = set()
    for _, expr in alert_exprs() + dashboard_exprs():
        names |= metric_names(expr)
    return names


def exposed_names(metrics_text):
    """Metric names a /metrics page declares (# TYPE lines, with the series
    names a histogram or summary implies) or has samples of."""
    names = set()
    for line in metrics_text.splitlines():
        m = re.match(r"# TYPE (\S+) (\w+)", line)
        if m:
            names.add(m.group(1))
            if m.group(2) == "histogram":
                names |= {m.group(1) + s for s in ("_bucket", "_sum", "_count")}
            elif m.group(2) == "summary":
                names |= {m.group(1) + s for s in ("_sum", "_count")}
        elif line and not line.startswith("#"):
            names.add(re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0))
    return names


def _call_args(text, start):
    """The text between the parenthesis at start and its match."""
    depth, i, quote = 0, start, None
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = None
        elif c in "\"'":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return text[start + 1:i]
        i += 1
    return ""


def declared_metrics():
    """{metric name: label names} for every metric the C sources register
    (sp_counter_new / sp_gauge_new / sp_histogram_new with a literal name),
    histograms also under their _bucket, _sum and _count series."""
    out = {}
    call = re.compile(r'sp_(counter|gauge|histogram)_new\(\s*"([a-z_:][a-z0-9_:]*)"')
    for path in list(ROOT.glob("libs/*/src/*.c")) + list(ROOT.glob("services/*/src/*.c")):
        text = path.read_text(errors="replace")
        for m in call.finditer(text):
            kind, name = m.group(1), m.group(2)
            args = _call_args(text, m.end() - len(m.group(0)) + m.group(0).index("("))
            # The label names are the string literals after the last number
            # (the label count).
            parts = re.split(r",\s*\d+\s*(?=,|$)", args.strip())
            labels = set(re.findall(r'"([a-zA-Z_][a-zA-Z0-9_]*)"', parts[-1])) if len(parts) > 1 else set()
            series = [name]
            if kind == "histogram":
                series += [name + "_sum", name + "_count"]
                out.setdefault(name + "_bucket", set()).update(labels | {"le"})
            for n in series:
                out.setdefault(n, set()).update(labels)
    return out
