#!/usr/bin/env python3
"""Creates (or finds) the demo tenant of a local stack and writes its logins.

Runs after deploy/local/stack.sh up, against the real public API:
  1. logs in as the platform operator (credentials from stack.env),
  2. creates tenant "demo" with an owner invite, or, when it exists already
     (a second `make run` on the same .run/), keeps the logins in demo.env,
  3. accepts the invite with a fresh random password,
  4. logs in as that owner and creates a partner API key (scope ingest:write),
  5. writes $SP_RUN_DIR/demo.env as shell KEY=value lines.
Standard library only.
"""
import json
import os
import secrets
import sys
import time
import urllib.error
import urllib.request

GATEWAY = "http://127.0.0.1:%s" % os.environ["SP_GATEWAY_HTTP_PORT"]
RUN_DIR = os.environ["SP_RUN_DIR"]
DEMO_ENV = os.path.join(RUN_DIR, "demo.env")
SLUG = "demo"
ADMIN_EMAIL = "admin@demo.serphona.local"


def call(method, path, body=None, token=None, ok=(200, 201, 204)):
    """One API call; a 503 (a service busy or starting) is sent again after
    its Retry-After, for up to two minutes."""
    data = json.dumps(body).encode() if body is not None else None
    deadline = time.monotonic() + 120
    while True:
        req = urllib.request.Request(GATEWAY + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, text = resp.status, resp.read().decode()
        except urllib.error.HTTPError as err:
            status, text = err.code, err.read().decode()
            if status == 503 and time.monotonic() < deadline:
                time.sleep(int(err.headers.get("Retry-After") or 1))
                continue
        break
    payload = json.loads(text) if text else {}
    if status not in ok:
        raise RuntimeError("%s %s -> %s %s" % (method, path, status, text[:300]))
    return status, payload


def login(tenant, email, password):
    _, body = call("POST", "/v1/auth/login",
                   {"tenant": tenant, "email": email, "password": password})
    return body["access_token"]


def read_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            key, _, value = line.strip().partition("=")
            if key:
                env[key] = value.strip("'")
    return env


def main():
    if os.path.exists(DEMO_ENV):
        env = read_env(DEMO_ENV)
        try:
            login(SLUG, env["SERPHONA_DEMO_ADMIN_EMAIL"], env["SERPHONA_DEMO_ADMIN_PASSWORD"])
            print("demo tenant: existing logins in %s still work" % DEMO_ENV)
            return 0
        except (RuntimeError, KeyError):
            pass  # stale file: make new logins below

    operator = login("", os.environ["SERPHONA_OPERATOR_EMAIL"],
                     os.environ["SERPHONA_OPERATOR_PASSWORD"])
    status, body = call("POST", "/v1/tenants", {
        "slug": SLUG, "name": "Demo Company", "plan": "growth",
        "settings": {"timezone": "America/Sao_Paulo", "locale": "pt-BR", "retention_days": 365,
                     "allowed_origins": ["http://localhost:3000"]},
        "owner_email": ADMIN_EMAIL, "owner_display_name": "Demo Admin",
    }, token=operator, ok=(201, 409))
    if status == 201:
        tenant_id, invite = body["tenant"]["id"], body["owner_invite"]
    else:  # slug_taken: the tenant exists, its owner's password is unknown to us
        _, found = call("GET", "/v1/tenants?q=" + SLUG, token=operator)
        tenant_id = next(t["id"] for t in found["items"] if t["slug"] == SLUG)
        _, invite = call("POST", "/v1/tenants/%s/owner-invites" % tenant_id,
                         {"email": "admin+%s@demo.serphona.local" % secrets.token_hex(3)},
                         token=operator)
    password = secrets.token_urlsafe(18)
    call("POST", "/v1/users/invites/accept", {"token": invite["token"], "password": password})
    admin_email = invite["email"]
    admin = login(SLUG, admin_email, password)
    _, key = call("POST", "/v1/api-keys", {"name": "demo partner", "scopes": ["ingest:write"]},
                  token=admin)
    lines = {
        "SERPHONA_DEMO_TENANT": SLUG,
        "SERPHONA_DEMO_TENANT_ID": tenant_id,
        "SERPHONA_DEMO_ADMIN_EMAIL": admin_email,
        "SERPHONA_DEMO_ADMIN_PASSWORD": password,
        "SERPHONA_DEMO_API_KEY": key["key"],
    }
    tmp = DEMO_ENV + ".tmp"
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        for k, v in lines.items():
            f.write("%s=%s\n" % (k, v))
    os.replace(tmp, DEMO_ENV)
    print("demo tenant %r ready; logins in %s" % (SLUG, DEMO_ENV))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as err:  # a clear one-line reason for make run
        print("demo tenant: %s" % err, file=sys.stderr)
        sys.exit(1)
