"""Fixtures for black-box tests: a whole isolated Serphona stack on loopback.

The `stack` fixture starts PostgreSQL, Redis, ClickHouse, the dev Kafka broker
and all seven services through deploy/local/stack.sh, on a block of free ports
and with its own topic prefix, so it never collides with `make run` or another
test run. It stops everything at the end and fails the run when any service
log holds a sanitizer report.
"""
import os
import random
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / "deploy" / "local" / "stack.sh"
SERVICES = [
    "auth-gateway", "tenant-manager", "billing", "agent-orchestrator",
    "tools-gateway", "analytics-processor", "analytics-query",
]
BACK_SERVICES = [s for s in SERVICES if s != "auth-gateway"]
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "WARNING: ThreadSanitizer")


def _port_block_free(base, size=40):
    for port in range(base, base + size):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def pick_port_base():
    rng = random.Random(os.getpid() ^ int(time.time()))
    for _ in range(200):
        base = rng.randrange(20000, 32000, 50)
        if _port_block_free(base):
            return base
    raise RuntimeError("no free block of 40 ports on 127.0.0.1")


def read_env(path):
    env = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if not line.startswith("export "):
            continue
        for item in shlex.split(line[len("export "):]):
            key, _, value = item.partition("=")
            env[key] = value
    return env


class Stack:
    def __init__(self, run_dir, env, base_env):
        self.run_dir = Path(run_dir)
        self.env = env
        self.base_env = base_env
        self.bin_dir = Path(base_env["SP_BIN_DIR"])
        self.gateway = f"http://127.0.0.1:{env['SP_GATEWAY_HTTP_PORT']}"
        self.tools = f"http://127.0.0.1:{env['SP_TOOLS_HTTP_PORT']}"
        self.brokers = env["SERPHONA_KAFKA_BROKERS"]
        self.topic_prefix = env["SERPHONA_KAFKA_TOPIC_PREFIX"]

    def ops_url(self, service):
        key = "SP_" + service.upper().replace("-", "_") + "_OPS_PORT"
        return f"http://127.0.0.1:{self.env[key]}"

    def rpc_endpoint(self, service):
        return self.env["SERPHONA_" + service.upper().replace("-", "_") + "_RPC"]

    def script(self, *args, extra=None, check=True):
        env = dict(self.base_env)
        env.update(extra or {})
        return subprocess.run([str(STACK), *args], env=env, check=check,
                              capture_output=True, text=True, timeout=180)

    def local(self, component, action):
        """Runs deploy/local/<component>.sh start|stop against this stack."""
        data = {"postgres": "pg", "redis": "redis", "clickhouse": "clickhouse"}[component]
        env = dict(self.base_env)
        env.update(SP_DATA_DIR=str(self.run_dir / data), SP_PG_PORT=self.env["SP_PG_PORT"],
                   SP_REDIS_PORT=self.env["SP_REDIS_PORT"],
                   SP_CH_HTTP_PORT=self.env["SP_CH_HTTP_PORT"])
        # ClickHouse's native and interserver ports too: left out, a restart
        # falls back to 9000/none and collides with any other ClickHouse.
        for name in ("SP_CH_TCP_PORT", "SP_CH_INTERSERVER_PORT"):
            if name in self.env:
                env[name] = self.env[name]
        return subprocess.run([str(ROOT / "deploy" / "local" / f"{component}.sh"), action],
                              env=env, check=True, capture_output=True, text=True, timeout=120)

    def cli(self, *args, timeout=60):
        return subprocess.run([str(self.bin_dir / "serphona-cli"), *args],
                              capture_output=True, text=True, timeout=timeout)

    def pid(self, service):
        return int((self.run_dir / "pids" / f"{service}.pid").read_text())

    def log(self, service):
        path = self.run_dir / "logs" / f"{service}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def wait_for(predicate, timeout=20.0, interval=0.2):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    return last


@pytest.fixture(scope="session")
def stack():
    bin_dir = Path(os.environ.get("SP_BIN_DIR", ROOT / "build" / "bin")).resolve()
    run_dir = tempfile.mkdtemp(prefix="serphona-it-")
    base = pick_port_base()
    base_env = dict(os.environ)
    base_env.update(
        SP_RUN_DIR=run_dir, SP_PORT_BASE=str(base), SP_BIN_DIR=str(bin_dir),
        SP_TOPIC_PREFIX=f"it{base}.", SERPHONA_UPSTREAM_TIMEOUT_MS="8000",
        SERPHONA_SHUTDOWN_GRACE_MS="3000", SP_READY_TIMEOUT="90",
    )
    up = subprocess.run([str(STACK), "up"], env=base_env, capture_output=True, text=True,
                        timeout=300)
    if up.returncode != 0:
        subprocess.run([str(STACK), "down"], env=base_env, capture_output=True, timeout=120)
        pytest.fail(f"stack did not come up:\n{up.stdout}\n{up.stderr}")
    env = read_env(Path(run_dir) / "stack.env")
    s = Stack(run_dir, env, base_env)
    try:
        yield s
    finally:
        subprocess.run([str(STACK), "down"], env=base_env, capture_output=True, timeout=180)
        reports = []
        for service in SERVICES + ["dev-broker"]:
            text = s.log(service)
            if any(marker in text for marker in SANITIZER_MARKERS):
                reports.append(f"--- {service} ---\n{text[-4000:]}")
        if not reports:
            shutil.rmtree(run_dir, ignore_errors=True)  # kept when there is something to read
        if reports:
            pytest.fail("sanitizer reports in service logs:\n" + "\n".join(reports))


@pytest.fixture(scope="session")
def http():
    session = requests.Session()
    yield session
    session.close()
