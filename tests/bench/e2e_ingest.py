#!/usr/bin/env python3
"""End-to-end rate of one tenant, for tests/bench/processor.sh.

    e2e_ingest.py api|kafka N

Against the stack described by the environment (stack.env sourced, plus
RUN_DIR): makes a tenant through the public API (enterprise plan, limits
lifted so only the pipeline is measured), then
  api    posts N interactions in the processor bench's mix (one tenant) to POST /v1/ingest/interactions on
         the tools-gateway with a partner API key, in batches of 500 from 4
         client threads, honouring 503 + Retry-After;
  kafka  produces the same N interactions straight to the interactions
         topic (serphona-cli produce-interactions), no API;
and polls the tenant's overview (GET /v1/analytics/overview) until its
volume reaches N. Prints one JSON line: the rate from the first request to
all N visible, the time the sending took, the 503s seen, and the peak RSS
(VmHWM, kB) of tools-gateway and analytics-processor from /proc.

Fails loudly (exit 1, with what it saw) when the volume stops growing for
BENCH_STALL_S (60) seconds instead of waiting out a long limit.
"""
import datetime
import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_interactions  # noqa: E402

BATCH = 500
CLIENTS = 4
STALL_S = float(os.environ.get("BENCH_STALL_S", "60"))
BIG = 2147483647


def ok(resp, status):
    if resp.status_code != status:
        sys.exit("e2e bench setup: %s %s %s" % (resp.request.url, resp.status_code, resp.text))
    return resp.json()


def setup(gw):
    pw = "Bench-Passphrase-" + uuid.uuid4().hex[:8]
    op = ok(requests.post(gw + "/v1/auth/login", timeout=30, json={
        "email": os.environ["SERPHONA_OPERATOR_EMAIL"],
        "password": os.environ["SERPHONA_OPERATOR_PASSWORD"]}), 200)["access_token"]
    auth = {"Authorization": "Bearer " + op}
    slug = "e2e-" + uuid.uuid4().hex[:8]
    t = ok(requests.post(gw + "/v1/tenants", headers=auth, timeout=30, json={
        "slug": slug, "name": "E2E bench", "owner_email": "owner@%s.test" % slug}), 201)
    tenant = t["tenant"]["id"]
    ok(requests.put(gw + "/v1/tenants/%s/plan" % tenant, headers=auth, timeout=30, json={
        "plan": "enterprise", "limit_overrides": {
            "monthly_interactions": BIG, "tenant_requests_per_minute": BIG,
            "user_requests_per_minute": BIG}}), 200)
    ok(requests.post(gw + "/v1/users/invites/accept", timeout=30, json={
        "token": t["owner_invite"]["token"], "password": pw}), 201)
    tok = ok(requests.post(gw + "/v1/auth/login", timeout=30, json={
        "tenant": slug, "email": "owner@%s.test" % slug, "password": pw}), 200)["access_token"]
    key = ok(requests.post(gw + "/v1/api-keys", headers={"Authorization": "Bearer " + tok},
                           timeout=30, json={"name": "bench", "scopes": ["ingest:write"]}),
             201)["key"]
    return tenant, tok, key


def mix(tenant, n, occurred):
    """n interactions of tenant in the processor bench's mix (gen_interactions.py,
    same seed), all occurred one hour ago so the overview's window holds them."""
    rng = random.Random(42)
    ms = int(occurred.timestamp() * 1000)
    out = []
    for i in range(n):
        line = gen_interactions.interaction(rng, [tenant], i, ms)
        line["occurred_at_unix_ms"] = ms
        out.append(line)
    return out


def api_item(line, occurred):
    """The ingestion API's form of a produce-interactions line."""
    item = {"external_id": line["external_id"], "channel": line["channel"],
            "occurred_at": occurred.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "agent": {"id": line["agent_id"], "name": line["agent_name"]},
            "customer_ref": line["customer_ref"], "tags": line["tags"]}
    if line["channel"] in ("survey", "review"):
        item["text"] = line["utterances"][0]["text"]  # one comment, no turns
    else:
        item["utterances"] = line["utterances"]
    for k in ("subject", "survey", "rating"):
        if k in line:
            item[k] = line[k]
    return item


def send_api(tools, key, items):
    """Posts items in batches from CLIENTS threads; returns the 503s seen."""
    batches = [items[i:i + BATCH] for i in range(0, len(items), BATCH)]
    lock = threading.Lock()
    state = {"next": 0, "busy": 0, "error": None}

    def worker():
        s = requests.Session()
        s.headers.update({"Authorization": "Bearer " + key})
        while True:
            with lock:
                if state["next"] >= len(batches) or state["error"]:
                    return
                b = batches[state["next"]]
                state["next"] += 1
            while True:
                r = s.post(tools + "/v1/ingest/interactions", json=b, timeout=60)
                if r.status_code == 202:
                    body = r.json()
                    if body["rejected"] or body["duplicates"]:
                        with lock:
                            state["error"] = "202 with %s" % json.dumps(
                                {"rejected": body["rejected"][:3],
                                 "duplicates": body["duplicates"][:3]})
                        return
                    break
                if r.status_code == 503:
                    with lock:
                        state["busy"] += 1
                    time.sleep(float(r.headers.get("Retry-After", "1")))
                    continue
                with lock:
                    state["error"] = "%s %s" % (r.status_code, r.text[:300])
                return

    threads = [threading.Thread(target=worker) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if state["error"]:
        sys.exit("e2e bench: the ingestion API answered " + state["error"])
    return state["busy"]


def send_kafka(lines):
    path = os.path.join(os.environ["RUN_DIR"], "e2e-direct.jsonl")
    with open(path, "w") as f:
        for line in lines:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    out = subprocess.run([os.path.join(os.environ["SP_BIN_DIR"], "serphona-cli"),
                          "produce-interactions", os.environ["SERPHONA_KAFKA_BROKERS"],
                          os.environ["SERPHONA_KAFKA_TOPIC_PREFIX"] + "serphona.interactions.v1",
                          path], check=True, capture_output=True, text=True).stdout
    d = json.loads(out)
    if d["failed"] or d["bad_lines"]:
        sys.exit("e2e bench: produce failed: %s" % out)


def peak_rss_kb(service):
    try:
        pid = open(os.path.join(os.environ["RUN_DIR"], "pids", service + ".pid")).read().strip()
        for line in open("/proc/%s/status" % pid):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def metrics(port, prefixes):
    try:
        text = requests.get("http://127.0.0.1:%s/metrics" % port, timeout=5).text
    except requests.RequestException as e:
        return ["(metrics unreachable: %s)" % e]
    return [l for l in text.splitlines() if l.startswith(prefixes)]


def main():
    mode, n = sys.argv[1], int(sys.argv[2])
    gw = "http://127.0.0.1:%s" % os.environ["SP_GATEWAY_HTTP_PORT"]
    tools = "http://127.0.0.1:%s" % os.environ["SP_TOOLS_HTTP_PORT"]
    tenant, tok, key = setup(gw)
    now = datetime.datetime.now(datetime.timezone.utc)
    occurred = now - datetime.timedelta(hours=1)
    day = datetime.timedelta(days=1)
    window = "from=%s&to=%s" % ((now - day).strftime("%Y-%m-%d"), (now + day).strftime("%Y-%m-%d"))
    lines = mix(tenant, n, occurred)
    items = [api_item(line, occurred) for line in lines] if mode == "api" else None

    t0 = time.monotonic()
    busy = send_api(tools, key, items) if mode == "api" else (send_kafka(lines) or 0)
    sent_s = time.monotonic() - t0

    s = requests.Session()
    s.headers.update({"Authorization": "Bearer " + tok})
    seen, last_change = -1, time.monotonic()
    while True:
        r = s.get(gw + "/v1/analytics/overview?" + window, timeout=30)
        vol = r.json()["kpis"]["volume"]["value"] if r.status_code == 200 else -1
        now_m = time.monotonic()
        if vol >= n:
            break
        if vol != seen:
            seen, last_change = vol, now_m
        elif now_m - last_change > STALL_S:
            lines = ["e2e bench (%s): no progress for %.0f s: %d of %d visible (HTTP %s)"
                     % (mode, STALL_S, vol, n, r.status_code)]
            lines += metrics(os.environ["SP_ANALYTICS_PROCESSOR_OPS_PORT"],
                             ("serphona_processor_interactions_total",
                              "serphona_processor_flush_failures_total",
                              "serphona_events_consumer_lag", "serphona_events_consumed_total",
                              "serphona_processor_analysis_seconds_sum",
                              "serphona_processor_analysis_seconds_count",
                              "serphona_events_lost_total"))
            sys.exit("\n".join(lines))
        time.sleep(0.2)
    total_s = time.monotonic() - t0
    print(json.dumps({"mode": mode, "n": n, "rate": n / total_s, "seconds": total_s,
                      "send_seconds": sent_s, "busy_503": busy,
                      "rss_tools_gateway_kb": peak_rss_kb("tools-gateway"),
                      "rss_processor_kb": peak_rss_kb("analytics-processor")}))


if __name__ == "__main__":
    main()
