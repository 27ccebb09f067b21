"""The demo tenant `make run` creates (deploy/local/demo_tenant.py), run
against the test stack: it writes working logins to demo.env, twice in a row."""
import os
import subprocess
from pathlib import Path

from conftest import ROOT

KEYS = {"SERPHONA_DEMO_TENANT", "SERPHONA_DEMO_TENANT_ID", "SERPHONA_DEMO_ADMIN_EMAIL",
        "SERPHONA_DEMO_ADMIN_PASSWORD", "SERPHONA_DEMO_API_KEY"}


def run_demo(stack):
    env = dict(stack.base_env)
    env.update(stack.env)
    return subprocess.run(["/usr/bin/python3", str(ROOT / "deploy/local/demo_tenant.py")],
                          env=env, capture_output=True, text=True, timeout=120)


def read_demo_env(stack):
    lines = (Path(stack.run_dir) / "demo.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line)


def test_demo_tenant_logins_work(stack, http):
    out = run_demo(stack)
    assert out.returncode == 0, out.stderr
    env = read_demo_env(stack)
    assert set(env) == KEYS
    assert oct(os.stat(Path(stack.run_dir) / "demo.env").st_mode & 0o777) == "0o600"
    login = http.post(f"{stack.gateway}/v1/auth/login", json={
        "tenant": env["SERPHONA_DEMO_TENANT"], "email": env["SERPHONA_DEMO_ADMIN_EMAIL"],
        "password": env["SERPHONA_DEMO_ADMIN_PASSWORD"]}, timeout=15)
    assert login.status_code == 200, login.text
    token = login.json()["access_token"]
    me = http.get(f"{stack.gateway}/v1/tenants/current",
                  headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert me.status_code == 200
    assert me.json()["slug"] == "demo"
    assert env["SERPHONA_DEMO_API_KEY"].startswith("sk_live_")
    # A second run keeps the working logins.
    again = run_demo(stack)
    assert again.returncode == 0, again.stderr
    assert read_demo_env(stack) == env
