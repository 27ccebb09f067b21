"""The foundation, black-box: seven binaries on a real stack.

Every request goes through real sockets: HTTP into the gateway, ZeroMQ to the
owning service, back out; Kafka through the dev broker (librdkafka's mock
cluster, real protocol); PostgreSQL, Redis and ClickHouse are the Debian
servers.
"""
import json
import os
import signal
import subprocess
import uuid

import pytest

from conftest import BACK_SERVICES, SERVICES, wait_for


def error_code(resp):
    body = resp.json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]["code"]


def test_every_service_is_live_and_ready(stack, http):
    for service in SERVICES:
        live = http.get(stack.ops_url(service) + "/health/live", timeout=5)
        assert live.status_code == 200, service
        assert live.json() == {"status": "ok"}
        ready = http.get(stack.ops_url(service) + "/health/ready", timeout=10)
        assert ready.status_code == 200, (service, ready.text)
        body = ready.json()
        assert body["status"] == "ready"
        assert body["checks"], f"{service} checks no dependency"
        assert all(v == "ok" for v in body["checks"].values()), body


def test_readiness_names_real_dependencies(stack, http):
    expected = {
        "auth-gateway": {"redis"},
        "tenant-manager": {"postgres", "redis"},
        "billing": {"postgres"},
        "agent-orchestrator": {"postgres", "kafka"},
        "tools-gateway": {"postgres", "redis", "kafka"},
        "analytics-processor": {"clickhouse", "kafka"},
        "analytics-query": {"clickhouse", "redis", "kafka"},
    }
    for service, deps in expected.items():
        checks = http.get(stack.ops_url(service) + "/health/ready", timeout=10).json()["checks"]
        assert set(checks) == deps, (service, checks)


@pytest.mark.parametrize("service", BACK_SERVICES)
def test_gateway_forwards_http_over_zeromq(stack, http, service):
    request_id = "it-" + uuid.uuid4().hex
    resp = http.get(f"{stack.gateway}/v1/system/{service}",
                    headers={"X-Request-Id": request_id}, timeout=10)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    # The answer comes from the back service itself, with the gateway's
    # request id carried through the envelope.
    assert body["service"] == service
    assert body["ready"] is True
    assert body["request_id"] == request_id
    assert resp.headers["X-Request-Id"] == request_id
    assert resp.headers["Content-Type"] == "application/json"


def test_gateway_serves_its_own_status(stack, http):
    resp = http.get(f"{stack.gateway}/v1/system/auth-gateway", timeout=5)
    assert resp.status_code == 200
    assert resp.json()["service"] == "auth-gateway"
    assert len(resp.headers["X-Request-Id"]) >= 16


def test_unknown_routes_answer_404_from_the_right_place(stack, http):
    # No owner at all: the gateway's router answers.
    resp = http.get(f"{stack.gateway}/v2/nothing", timeout=5)
    assert resp.status_code == 404
    assert error_code(resp) == "route_not_found"
    # Owned prefix, unknown route: the back service's router answers (to a
    # caller the gateway has identified; others get 401 at the gateway).
    login = http.post(f"{stack.gateway}/v1/auth/login", timeout=30,
                      json={"email": stack.env["SERPHONA_OPERATOR_EMAIL"],
                            "password": stack.env["SERPHONA_OPERATOR_PASSWORD"]})
    assert login.status_code == 200, login.text
    resp = http.get(f"{stack.gateway}/v1/tenants/does-not-exist/anything", timeout=5,
                    headers={"Authorization": "Bearer " + login.json()["access_token"]})
    assert resp.status_code == 404
    assert error_code(resp) == "route_not_found"


def test_wrong_method_through_the_gateway(stack, http):
    resp = http.post(f"{stack.gateway}/v1/system/billing", data=b"{}", timeout=5)
    assert resp.status_code == 405
    assert error_code(resp) == "method_not_allowed"
    assert resp.headers["Allow"] == "GET"


def test_oversized_body_is_refused(stack, http):
    resp = http.post(f"{stack.gateway}/v1/tenants", data=b"x" * (2 * 1024 * 1024), timeout=10)
    assert resp.status_code == 413
    assert error_code(resp) == "payload_too_large"


def test_partner_port_serves_tools_gateway_directly(stack, http):
    resp = http.get(f"{stack.tools}/v1/system/tools-gateway", timeout=5)
    assert resp.status_code == 200
    assert resp.json()["service"] == "tools-gateway"


@pytest.mark.parametrize("service", BACK_SERVICES)
def test_typed_rpc_ping(stack, service):
    out = stack.cli("ping", stack.rpc_endpoint(service), service)
    assert out.returncode == 0, out.stderr
    reply = json.loads(out.stdout)
    assert reply["service"] == service
    assert reply["payload"] == "serphona-cli"
    assert reply["server_time_unix_ms"] > 1_700_000_000_000


def test_kafka_event_round_trip(stack):
    # A topic of its own (created by the first produce): the platform topics
    # carry other tests' traffic and have consumers of their own.
    topic = stack.topic_prefix + "it.roundtrip." + uuid.uuid4().hex[:8]
    tenant = str(uuid.uuid4())
    sent = []
    for i in range(3):
        payload = json.dumps({"n": i, "text": "olá \"mundo\""})
        out = stack.cli("produce", stack.brokers, topic, "interaction.recorded", tenant, payload)
        assert out.returncode == 0, out.stderr
        sent.append((out.stdout.strip(), payload))
    group = "it-" + uuid.uuid4().hex[:8]
    out = stack.cli("consume", stack.brokers, topic, group, "3", "20000")
    assert out.returncode == 0, out.stderr
    got = [json.loads(line) for line in out.stdout.splitlines()]
    assert [(g["event_id"], g["payload"]) for g in got] == sent
    assert all(g["tenant_id"] == tenant and g["type"] == "interaction.recorded" for g in got)
    # UUIDv7 ids: version nibble 7, and they sort in production order.
    assert all(uuid.UUID(g["event_id"]).version == 7 for g in got)
    assert sorted(e for e, _ in sent) == [e for e, _ in sent]
    # The group committed: a second run of the same group sees nothing new.
    again = stack.cli("consume", stack.brokers, topic, group, "1", "3000")
    assert again.returncode == 1 and again.stdout == ""


def test_ready_follows_postgres(stack, http):
    url = stack.ops_url("tenant-manager") + "/health/ready"
    stack.local("postgres", "stop")
    try:
        def not_ready():
            r = http.get(url, timeout=10)
            return r if r.status_code == 503 else None
        resp = wait_for(not_ready, timeout=30)
        assert resp is not None, "tenant-manager stayed ready with PostgreSQL down"
        assert resp.json()["status"] == "not_ready"
        assert resp.json()["checks"]["postgres"] != "ok"
        # Services that do not use PostgreSQL stay ready.
        assert http.get(stack.ops_url("analytics-query") + "/health/ready",
                        timeout=10).status_code == 200
    finally:
        stack.local("postgres", "start")
    resp = wait_for(lambda: http.get(url, timeout=10).status_code == 200, timeout=30)
    assert resp, "tenant-manager did not become ready after PostgreSQL returned"
    # Through the gateway too (its status view is cached for up to a second).
    def gateway_sees_postgres():
        r = http.get(f"{stack.gateway}/v1/system/tenant-manager", timeout=10)
        return r.status_code == 200 and r.json()["checks"].get("postgres") == "ok"
    assert wait_for(gateway_sees_postgres, timeout=10)


def test_metrics_pass_promtool(stack, http):
    # Traffic first, so the HTTP and RPC series exist.
    http.get(f"{stack.gateway}/v1/system/billing", timeout=5)
    for service in SERVICES:
        resp = http.get(stack.ops_url(service) + "/metrics", timeout=5)
        assert resp.status_code == 200
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        check = subprocess.run(["promtool", "check", "metrics"], input=resp.text,
                               capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, (service, check.stdout, check.stderr)
        assert f'serphona_build_info{{service="{service}"' in resp.text
    gw = http.get(stack.ops_url("auth-gateway") + "/metrics", timeout=5).text
    assert "serphona_http_requests_total{" in gw
    assert "serphona_rpc_client_requests_total{" in gw
    billing = http.get(stack.ops_url("billing") + "/metrics", timeout=5).text
    assert 'serphona_rpc_server_requests_total{method="http"' in billing


def test_graceful_shutdown_and_upstream_timeout(stack, http):
    service = "analytics-query"
    pid = stack.pid(service)
    os.kill(pid, signal.SIGTERM)
    assert wait_for(lambda: not os.path.exists(f"/proc/{pid}"), timeout=20), "did not exit"
    assert "stopped cleanly" in stack.log(service)
    # Nobody serves the route now: the gateway gives up at its upstream timeout.
    resp = http.get(f"{stack.gateway}/v1/system/{service}", timeout=15)
    assert resp.status_code == 504
    assert error_code(resp) == "upstream_timeout"
    # Run it ourselves, to see the exit code: ready, then SIGTERM drains
    # (readiness is not awaited here) and exits 0.
    env = dict(stack.base_env)
    env.update(stack.env)
    key = service.upper().replace("-", "_")
    env["SERPHONA_OPS_PORT"] = stack.env[f"SP_{key}_OPS_PORT"]
    env["SERPHONA_RPC_PORT"] = stack.env[f"SERPHONA_{key}_RPC"].rsplit(":", 1)[1]
    proc = subprocess.Popen([str(stack.bin_dir / service)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: http.get(f"{stack.gateway}/v1/system/{service}",
                                         timeout=10).status_code == 200, timeout=30)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err[-2000:]
        assert "stopped cleanly" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # Bring the stack's copy back; ZeroMQ reconnects on its own.
    stack.script("services-up")
    assert wait_for(lambda: http.get(f"{stack.gateway}/v1/system/{service}",
                                     timeout=10).status_code == 200, timeout=30)
