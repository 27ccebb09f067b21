"""Service binaries on their own: configuration errors, --help, --version.

No stack needed: these run the binaries with a controlled environment.
"""
import os
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, SERVICES

BIN = Path(os.environ.get("SP_BIN_DIR", ROOT / "build" / "bin")).resolve()


def run(service, *args, **env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SERPHONA_")}
    clean.update(env)
    return subprocess.run([str(BIN / service), *args], env=clean, capture_output=True,
                          text=True, timeout=30)


@pytest.mark.parametrize("service", SERVICES)
def test_help_lists_variables_and_exits_zero(service):
    out = run(service, "--help")
    assert out.returncode == 0, out.stderr
    assert "SERPHONA_OPS_PORT" in out.stdout
    assert "SERPHONA_LOG_LEVEL" in out.stdout


def test_version():
    out = run("billing", "--version")
    assert out.returncode == 0
    assert out.stdout.startswith("billing ")


def test_every_bad_variable_is_named_at_once():
    out = run("billing", SERPHONA_OPS_PORT="http", SERPHONA_LOG_LEVEL="loud",
              SERPHONA_RPC_WORKERS="0")
    assert out.returncode == 1
    for name in ("SERPHONA_OPS_PORT", "SERPHONA_LOG_LEVEL", "SERPHONA_RPC_WORKERS"):
        assert name in out.stderr, out.stderr


def test_missing_required_variable_is_named():
    out = run("tenant-manager", SERPHONA_OPS_PORT="1")  # no SERPHONA_PG_URL
    assert out.returncode == 1
    assert "SERPHONA_PG_URL: required but not set" in out.stderr


def test_bad_redis_url_is_named():
    out = run("auth-gateway", SERPHONA_REDIS_URL="http://nope")
    assert out.returncode == 1
    assert "SERPHONA_REDIS_URL" in out.stderr
