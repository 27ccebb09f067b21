"""Identity through the auth-gateway, black-box: login, tokens, sessions,
lockout, rate limits, CORS, and every refusal with its exact status and code.

Forged tokens are made here with Python's `cryptography` (an implementation
independent of the gateway's mbedTLS): correctly signed with the stack's own
key but with bad claims, signed with a stranger's key, unsigned (alg none), or
HMAC'ed with the public key (the HS/ES confusion). Some tests start a private
auth-gateway beside the stack's, with its own settings (cookie mode, trusted
proxies, a rotated key set), sharing the stack's Redis and tenant-manager.
"""
import base64
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (decode_dss_signature,
                                                              encode_dss_signature)

from conftest import ROOT, SANITIZER_MARKERS, wait_for

PASSWORD = "Sturdy-Passphrase-2024!"
ISS = "serphona-auth-gateway"
AUD = "serphona-api"


# ---- helpers -------------------------------------------------------------------------

def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_parts(token):
    h, p, s = token.split(".")
    return json.loads(unb64u(h)), json.loads(unb64u(p)), unb64u(s)


def error_code(resp):
    body = resp.json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]["code"]


def refused(resp, status, code):
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert error_code(resp) == code, resp.text
    if status == 401:
        assert resp.headers["WWW-Authenticate"].startswith("Bearer realm=\"serphona\"")


def bearer(token):
    return {"Authorization": "Bearer " + token}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sign_es256(key, header, payload):
    signing_input = b64u(json.dumps(header).encode()) + "." + b64u(json.dumps(payload).encode())
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return signing_input + "." + b64u(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def public_key_of(jwk):
    x = int.from_bytes(unb64u(jwk["x"]), "big")
    y = int.from_bytes(unb64u(jwk["y"]), "big")
    return ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()


def verify_es256(jwk, token):
    h, p, s = token.split(".")
    sig = unb64u(s)
    assert len(sig) == 64, "ES256 signatures are raw r||s"
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    public_key_of(jwk).verify(der, f"{h}.{p}".encode(), ec.ECDSA(hashes.SHA256()))


class Api:
    """The stack's gateway, with the calls the tests repeat."""

    def __init__(self, stack, base=None):
        self.stack = stack
        self.base = base or stack.gateway
        self.s = requests.Session()

    def login(self, tenant, email, password, **kw):
        body = {"email": email, "password": password}
        if tenant is not None:
            body["tenant"] = tenant
        return self.s.post(self.base + "/v1/auth/login", json=body, timeout=30, **kw)

    def get(self, path, token=None, **kw):
        headers = kw.pop("headers", {})
        if token:
            headers.update(bearer(token))
        return self.s.get(self.base + path, headers=headers, timeout=30, **kw)

    def post(self, path, body=None, token=None, **kw):
        headers = kw.pop("headers", {})
        if token:
            headers.update(bearer(token))
        return self.s.post(self.base + path, json=body, headers=headers, timeout=30, **kw)

    def send(self, method, path, body=None, token=None):
        return self.s.request(method, self.base + path, json=body,
                              headers=bearer(token) if token else {}, timeout=30)


@pytest.fixture(scope="module")
def api(stack):
    a = Api(stack)
    yield a
    a.s.close()


def create_operator(stack):
    """A platform operator of our own, made the way a deployment makes one."""
    email = f"it-op-{uuid.uuid4().hex[:8]}@serphona.test"
    env = dict(stack.base_env)
    env.update(stack.env)
    # The stack's own operator comes from these; ours comes from stdin.
    env.pop("SERPHONA_OPERATOR_EMAIL", None)
    env.pop("SERPHONA_OPERATOR_PASSWORD", None)
    out = subprocess.run([str(stack.bin_dir / "tenant-manager"), "--create-operator"],
                         input=f"{email}\n{PASSWORD}\n", env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    return email


@pytest.fixture(scope="module")
def operator(stack, api):
    email = create_operator(stack)
    resp = api.login(None, email, PASSWORD)
    assert resp.status_code == 200, resp.text
    return {"email": email, "token": resp.json()["access_token"]}


class Tenants:
    """Makes tenants with users through the public API, as an operator would."""

    def __init__(self, api, operator):
        self.api = api
        self.op = operator["token"]

    def create(self, **settings):
        slug = "it-" + uuid.uuid4().hex[:10]
        body = {"slug": slug, "name": slug.upper(), "owner_email": f"owner@{slug}.test"}
        if settings:
            body["settings"] = settings
        resp = self.api.post("/v1/tenants", body, token=self.op)
        assert resp.status_code == 201, resp.text
        data = resp.json()
        owner = self.accept(data["owner_invite"]["token"], body["owner_email"])
        return {"id": data["tenant"]["id"], "slug": slug, "owner": owner}

    def accept(self, invite_token, email):
        resp = self.api.post("/v1/users/invites/accept", {"token": invite_token,
                                                          "password": PASSWORD})
        assert resp.status_code == 201, resp.text
        return {"id": resp.json()["user"]["id"], "email": email}

    def add_user(self, tenant, role, owner_token):
        email = f"{role}-{uuid.uuid4().hex[:6]}@{tenant['slug']}.test"
        resp = self.api.post("/v1/users/invites", {"email": email, "role": role},
                             token=owner_token)
        assert resp.status_code == 201, resp.text
        return self.accept(resp.json()["token"], email)

    def token(self, tenant, user):
        resp = self.api.login(tenant["slug"], user["email"], PASSWORD)
        assert resp.status_code == 200, resp.text
        return resp.json()


@pytest.fixture(scope="module")
def tenants(api, operator):
    return Tenants(api, operator)


@pytest.fixture(scope="module")
def acme(tenants):
    """One tenant with an owner, shared by the read-only tests."""
    t = tenants.create()
    t["login"] = tenants.token(t, t["owner"])
    return t


@pytest.fixture(scope="module")
def stack_key(stack):
    pems = sorted((stack.run_dir / "jwt").glob("*.pem"))
    assert pems, "the stack made no JWT key"
    return serialization.load_pem_private_key(pems[-1].read_bytes(), None)


@pytest.fixture(scope="module")
def jwks(api):
    resp = api.get("/.well-known/jwks.json")
    assert resp.status_code == 200
    return resp.json()


@contextlib.contextmanager
def private_gateway(stack, **settings):
    """A second auth-gateway on free ports with extra settings; yields its URL."""
    env = dict(stack.base_env)
    env.update(stack.env)
    port = free_port()
    env.update(SERPHONA_HTTP_PORT=str(port), SERPHONA_OPS_PORT=str(free_port()),
               SERPHONA_LOG_LEVEL="warn")
    env.update({k: str(v) for k, v in settings.items()})
    proc = subprocess.Popen([str(stack.bin_dir / "auth-gateway")], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        def up():
            try:
                return requests.get(url + "/.well-known/jwks.json", timeout=2).status_code == 200
            except requests.ConnectionError:
                return proc.poll() is not None
        assert wait_for(up, timeout=30) and proc.poll() is None, proc.stderr.read()[-3000:]
        yield url
    finally:
        proc.terminate()
        try:
            _, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        assert not any(m in err for m in SANITIZER_MARKERS), err[-4000:]


# ---- login ------------------------------------------------------------------------------

def test_login_issues_es256_access_token_and_refresh_token(api, acme, jwks):
    resp = api.login(acme["slug"], acme["owner"]["email"], PASSWORD)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Cache-Control"] == "no-store"
    body = resp.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["refresh_token"].startswith("rt1.") and len(body["refresh_token"]) == 47
    assert body["user"] == {"id": acme["owner"]["id"], "tenant_id": acme["id"],
                            "email": acme["owner"]["email"], "roles": ["owner"]}
    header, claims, sig = jwt_parts(body["access_token"])
    assert header["alg"] == "ES256" and header["typ"] == "JWT"
    assert len(sig) == 64
    assert set(claims) == {"iss", "aud", "sub", "tenant_id", "roles", "exp", "iat", "jti", "sid"}
    assert claims["iss"] == ISS and claims["aud"] == AUD
    assert claims["sub"] == acme["owner"]["id"] and claims["tenant_id"] == acme["id"]
    assert claims["roles"] == ["owner"]
    assert claims["exp"] - claims["iat"] == 900
    assert abs(claims["iat"] - time.time()) < 60
    uuid.UUID(claims["jti"])
    # The kid names a key of the published set, and that key verifies it.
    jwk = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    verify_es256(jwk, body["access_token"])
    # Every login is a new session with a new token id.
    again = api.login(acme["slug"], acme["owner"]["email"], PASSWORD).json()
    _, claims2, _ = jwt_parts(again["access_token"])
    assert claims2["jti"] != claims["jti"] and claims2["sid"] != claims["sid"]
    assert again["refresh_token"] != body["refresh_token"]


def test_jwks_publishes_public_keys_only(api, jwks, stack_key):
    resp = api.get("/.well-known/jwks.json")
    assert resp.headers["Content-Type"] == "application/json"
    assert "max-age" in resp.headers["Cache-Control"]
    assert len(jwks["keys"]) >= 1
    for k in jwks["keys"]:
        assert set(k) == {"kty", "crv", "x", "y", "kid", "alg", "use"}
        assert (k["kty"], k["crv"], k["alg"], k["use"]) == ("EC", "P-256", "ES256", "sig")
    nums = stack_key.public_key().public_numbers()
    assert any(public_key_of(k).public_numbers() == nums for k in jwks["keys"])


def test_operator_logs_in_without_tenant(api, operator):
    for tenant in (None, ""):
        resp = api.login(tenant, operator["email"], PASSWORD)
        assert resp.status_code == 200, resp.text
        assert resp.json()["user"]["tenant_id"] is None
        assert resp.json()["user"]["roles"] == ["platform_operator"]
        _, claims, _ = jwt_parts(resp.json()["access_token"])
        assert claims["tenant_id"] == ""
    me = api.get("/v1/auth/me", operator["token"])
    assert me.status_code == 200
    assert me.json()["tenant_id"] is None and me.json()["roles"] == ["platform_operator"]


def test_login_failures_look_the_same(api, acme, tenants):
    other = tenants.create()
    attempts = {
        "wrong password": (acme["slug"], acme["owner"]["email"], "Wrong-Password-123!"),
        "unknown email": (acme["slug"], f"nobody-{uuid.uuid4().hex[:6]}@x.test", PASSWORD),
        "unknown tenant": ("no-such-" + uuid.uuid4().hex[:6], acme["owner"]["email"], PASSWORD),
        "user of another tenant": (other["slug"], acme["owner"]["email"], PASSWORD),
        "tenant user as operator": (None, acme["owner"]["email"], PASSWORD),
    }
    bodies, timings = set(), {}
    for label, (tenant, email, password) in attempts.items():
        samples = []
        for _ in range(2):
            t0 = time.monotonic()
            resp = api.login(tenant, email, password)
            samples.append(time.monotonic() - t0)
            refused(resp, 401, "invalid_credentials")
            bodies.add(resp.text)
        timings[label] = min(samples)
    # Same status, code and message whatever was wrong.
    assert len(bodies) == 1, bodies
    # And similar timing: every path pays for one password hash, so none is
    # a fraction of the wrong-password path.
    slowest = max(timings.values())
    for label, t in timings.items():
        assert t > slowest / 3, (label, timings)
    # The failures above were counted but did not lock the real account.
    assert api.login(acme["slug"], acme["owner"]["email"], PASSWORD).status_code == 200


def test_login_rejects_malformed_requests(api):
    url = api.base + "/v1/auth/login"
    refused(api.s.post(url, data=b"{not json", timeout=10), 400, "invalid_json")
    for body in ({}, {"email": "a@b.test"}, {"password": "x"}, {"email": "", "password": "x"},
                 {"email": 5, "password": "x"}, {"tenant": ["a"], "email": "a@b.test",
                                                  "password": "x"}, [1, 2]):
        resp = api.s.post(url, json=body, timeout=10)
        refused(resp, 400, "invalid_request")


# ---- brute force ----------------------------------------------------------------------------

def test_account_lockout_refuses_even_the_right_password(api, tenants):
    t = tenants.create()
    owner = t["owner"]
    for _ in range(5):  # SERPHONA_LOGIN_MAX_FAILURES
        refused(api.login(t["slug"], owner["email"], "Wrong-Password-123!"), 401,
                "invalid_credentials")
    resp = api.login(t["slug"], owner["email"], PASSWORD)
    refused(resp, 429, "too_many_login_attempts")
    assert 1 <= int(resp.headers["Retry-After"]) <= 30
    # The email's case does not open a second account to guess on.
    refused(api.login(t["slug"], owner["email"].upper(), PASSWORD), 429, "too_many_login_attempts")
    # An email that does not exist locks the same way: a lock says nothing
    # about whether the email exists.
    ghost = f"ghost-{uuid.uuid4().hex[:6]}@x.test"
    for _ in range(5):
        refused(api.login(t["slug"], ghost, "x"), 401, "invalid_credentials")
    refused(api.login(t["slug"], ghost, "x"), 429, "too_many_login_attempts")
    # Other accounts from the same address are not affected.
    other = tenants.create()
    assert api.login(other["slug"], other["owner"]["email"], PASSWORD).status_code == 200


def test_address_lockout_and_backoff(stack, tenants):
    with private_gateway(stack, SERPHONA_TRUSTED_PROXY_HOPS=1, SERPHONA_LOGIN_MAX_FAILURES=2,
                         SERPHONA_LOGIN_IP_MAX_FAILURES=4, SERPHONA_LOGIN_LOCKOUT_S=1,
                         SERPHONA_LOGIN_LOCKOUT_MAX_S=4) as url:
        gw = Api(stack, url)
        ip = f"198.51.100.{secrets.randbelow(250) + 1}"
        as_ip = {"X-Forwarded-For": f"203.0.113.9, {ip}"}  # the first entry is the client's claim
        for i in range(4):
            email = f"spray-{i}-{uuid.uuid4().hex[:6]}@x.test"
            refused(gw.login("acme", email, "guess", headers=as_ip), 401, "invalid_credentials")
        resp = gw.login("acme", f"fresh-{uuid.uuid4().hex[:6]}@x.test", "guess", headers=as_ip)
        refused(resp, 429, "too_many_login_attempts")
        # Another address is free to try; the client-written entry counts for nothing.
        other_ip = {"X-Forwarded-For": f"{ip}, 198.51.100.251"}
        refused(gw.login("acme", "someone@x.test", "guess", headers=other_ip), 401,
                "invalid_credentials")

        # Backoff of an account: locked 1 s at the 2nd failure, 2 s at the 3rd.
        t = tenants.create()
        me = {"X-Forwarded-For": f"198.51.100.{secrets.randbelow(250) + 1}"}
        for _ in range(2):
            refused(gw.login(t["slug"], t["owner"]["email"], "bad", headers=me), 401,
                    "invalid_credentials")
        first = gw.login(t["slug"], t["owner"]["email"], PASSWORD, headers=me)
        refused(first, 429, "too_many_login_attempts")
        assert first.headers["Retry-After"] == "1"
        time.sleep(1.2)
        refused(gw.login(t["slug"], t["owner"]["email"], "bad", headers=me), 401,
                "invalid_credentials")
        second = gw.login(t["slug"], t["owner"]["email"], PASSWORD, headers=me)
        refused(second, 429, "too_many_login_attempts")
        assert second.headers["Retry-After"] == "2"
        time.sleep(2.2)
        ok = gw.login(t["slug"], t["owner"]["email"], PASSWORD, headers=me)
        assert ok.status_code == 200, ok.text


# ---- sessions ---------------------------------------------------------------------------------

def test_refresh_rotates_and_reuse_revokes_the_family(api, acme):
    first = api.login(acme["slug"], acme["owner"]["email"], PASSWORD).json()
    r1 = api.post("/v1/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert r1.status_code == 200, r1.text
    assert r1.headers["Cache-Control"] == "no-store"
    second = r1.json()
    assert second["refresh_token"] != first["refresh_token"]
    _, c1, _ = jwt_parts(first["access_token"])
    _, c2, _ = jwt_parts(second["access_token"])
    assert c2["sid"] == c1["sid"] and c2["jti"] != c1["jti"] and c2["roles"] == ["owner"]
    assert api.get("/v1/auth/me", second["access_token"]).status_code == 200
    r2 = api.post("/v1/auth/refresh", {"refresh_token": second["refresh_token"]})
    assert r2.status_code == 200
    third = r2.json()

    # The first token again: it was copied. The whole family dies, ...
    refused(api.post("/v1/auth/refresh", {"refresh_token": first["refresh_token"]}), 401,
            "refresh_token_reused")
    # ... including the legitimate holder's latest refresh token ...
    refused(api.post("/v1/auth/refresh", {"refresh_token": third["refresh_token"]}), 401,
            "invalid_refresh_token")
    # ... and every access token of the session, at once.
    for tok in (first["access_token"], second["access_token"], third["access_token"]):
        refused(api.get("/v1/auth/me", tok), 401, "token_revoked")
        refused(api.get("/v1/users", tok), 401, "token_revoked")
    # Other sessions of the same user are untouched.
    assert api.get("/v1/auth/me", acme["login"]["access_token"]).status_code == 200


def test_refresh_rejections(api):
    refused(api.post("/v1/auth/refresh", {}), 400, "invalid_request")
    refused(api.post("/v1/auth/refresh", {"refresh_token": 42}), 400, "invalid_request")
    for bad in ("", "rt1.short", "rt1." + "A" * 43, "x" * 47, "rt1." + "A" * 42 + "!"):
        refused(api.post("/v1/auth/refresh", {"refresh_token": bad}), 401,
                "invalid_refresh_token")


def test_logout_revokes_the_session(api, acme):
    s = api.login(acme["slug"], acme["owner"]["email"], PASSWORD).json()
    resp = api.post("/v1/auth/logout", {"refresh_token": s["refresh_token"]})
    assert resp.status_code == 204 and resp.content == b""
    refused(api.post("/v1/auth/refresh", {"refresh_token": s["refresh_token"]}), 401,
            "invalid_refresh_token")
    refused(api.get("/v1/auth/me", s["access_token"]), 401, "token_revoked")
    # With the access token alone.
    s2 = api.login(acme["slug"], acme["owner"]["email"], PASSWORD).json()
    assert api.post("/v1/auth/logout", token=s2["access_token"]).status_code == 204
    refused(api.post("/v1/auth/refresh", {"refresh_token": s2["refresh_token"]}), 401,
            "invalid_refresh_token")
    refused(api.get("/v1/users", s2["access_token"]), 401, "token_revoked")
    # Nothing to log out.
    refused(api.post("/v1/auth/logout"), 401, "unauthenticated")
    refused(api.post("/v1/auth/logout", {"refresh_token": "rt1." + "B" * 43}), 401,
            "invalid_refresh_token")


def test_refresh_cookie_mode(stack, acme):
    with private_gateway(stack, SERPHONA_REFRESH_COOKIE=1) as url:
        gw = Api(stack, url)
        resp = gw.login(acme["slug"], acme["owner"]["email"], PASSWORD)
        assert resp.status_code == 200
        assert "refresh_token" not in resp.json()
        cookie = resp.headers["Set-Cookie"]
        attrs = [a.strip() for a in cookie.split(";")]
        name, _, value = attrs[0].partition("=")
        assert name == "sp_refresh" and value.startswith("rt1.")
        assert {"HttpOnly", "Secure", "SameSite=Strict", "Path=/v1/auth"} <= set(attrs)
        # requests would not send a Secure cookie over http; a browser on
        # https would. Send it as the browser does.
        jar = {"Cookie": f"theme=dark; sp_refresh={value}"}
        r = gw.s.post(url + "/v1/auth/refresh", headers=jar, timeout=30)
        assert r.status_code == 200, r.text
        nxt = r.headers["Set-Cookie"].split(";")[0].partition("=")[2]
        assert nxt.startswith("rt1.") and nxt != value
        out = gw.s.post(url + "/v1/auth/logout", headers={"Cookie": f"sp_refresh={nxt}"},
                        timeout=30)
        assert out.status_code == 204
        assert "Max-Age=0" in out.headers["Set-Cookie"]
        refused(gw.s.post(url + "/v1/auth/refresh", headers={"Cookie": f"sp_refresh={nxt}"},
                          timeout=30), 401, "invalid_refresh_token")


# ---- me, roles -------------------------------------------------------------------------------

def test_me_and_current_roles_are_forwarded(api, tenants):
    t = tenants.create()
    owner_token = tenants.token(t, t["owner"])["access_token"]
    viewer = tenants.add_user(t, "viewer", owner_token)
    vtok = tenants.token(t, viewer)["access_token"]
    me = api.get("/v1/auth/me", vtok)
    assert me.status_code == 200, me.text
    body = me.json()
    assert body["user_id"] == viewer["id"] and body["tenant_id"] == t["id"]
    assert body["tenant_slug"] == t["slug"] and body["email"] == viewer["email"]
    assert body["roles"] == ["viewer"]
    assert body["session"]["expires_at"] - body["session"]["issued_at"] == 900
    # A viewer may read users but not invite: the back service checks the
    # permission against the roles the gateway forwards.
    assert api.get("/v1/users", vtok).status_code == 200
    refused(api.post("/v1/users/invites", {"email": "x@y.test", "role": "viewer"}, token=vtok),
            403, "forbidden")
    # Promote: the SAME token now carries admin rights, because the gateway
    # forwards today's roles, not the ones frozen in the token.
    resp = api.send("PATCH", f"/v1/users/{viewer['id']}", {"role": "admin"}, owner_token)
    assert resp.status_code == 200, resp.text
    # The gateway's in-process copy is dropped when Redis pushes the
    # invalidation of tenant-manager's DEL (localcache.h): milliseconds, but
    # not ordered with the PATCH's reply, so allow the push its flight time.
    assert wait_for(lambda: api.get("/v1/auth/me", vtok).json()["roles"] == ["admin"],
                    timeout=2, interval=0.05)
    assert jwt_parts(vtok)[1]["roles"] == ["viewer"]
    resp = api.post("/v1/users/invites", {"email": f"n{uuid.uuid4().hex[:4]}@y.test",
                                          "role": "viewer"}, token=vtok)
    assert resp.status_code == 201, resp.text


def test_unauthenticated_requests(api, stack):
    refused(api.get("/v1/auth/me"), 401, "unauthenticated")
    for method, path in (("GET", "/v1/users"), ("GET", "/v1/tenants/current"),
                         ("POST", "/v1/api-keys"), ("GET", "/v1/analytics/overview"),
                         ("DELETE", "/v1/users/" + str(uuid.uuid4())),
                         ("GET", "/v1/tenants/does-not-exist/anything")):
        refused(api.send(method, path), 401, "unauthenticated")
    # Routes the back service serves to anyone are forwarded without a token,
    # and the back service decides.
    resp = api.post("/v1/users/invites/accept", {"token": "inv_nope", "password": PASSWORD})
    assert resp.status_code in (400, 404), resp.text
    assert error_code(resp) != "unauthenticated"
    assert api.get("/v1/system/billing").status_code == 200
    # Not the gateway's own routes that need a caller.
    refused(api.get("/v1/auth/me", headers={"Authorization": "Basic dTpw"}), 401,
            "invalid_token")


# ---- token rejections ---------------------------------------------------------------------------

def test_forged_and_bad_tokens_are_refused(api, acme, stack_key, jwks):
    good = acme["login"]["access_token"]
    header, claims, _ = jwt_parts(good)
    kid = header["kid"]
    now = int(time.time())
    pub_pem = stack_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    stranger = ec.generate_private_key(ec.SECP256R1())

    def signed(**changes):
        c = dict(claims)
        for k, v in changes.items():
            if v is None:
                c.pop(k, None)
            else:
                c[k] = v
        return sign_es256(stack_key, {"alg": "ES256", "typ": "JWT", "kid": kid}, c)

    def hs256(secret):
        si = b64u(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode()) + "." + \
            b64u(json.dumps(claims).encode())
        return si + "." + b64u(hmac.new(secret, si.encode(), hashlib.sha256).digest())

    h, p, s = good.split(".")
    cases = {
        # alg none, with and without a signature segment
        "alg none": b64u(b'{"alg":"none","typ":"JWT"}') + "." + p + ".",
        "alg none, kid": b64u(json.dumps({"alg": "none", "kid": kid}).encode()) + "." + p + ".",
        # HS/ES confusion: HMAC keyed with our public key in every form
        "HS256 with public PEM": hs256(pub_pem),
        "HS256 with JWKS": hs256(json.dumps(jwks).encode()),
        "HS256 with x": hs256(next(k for k in jwks["keys"] if k["kid"] == kid)["x"].encode()),
        "RS256 label": sign_es256(stack_key, {"alg": "RS256", "kid": kid}, claims),
        # wrong key under our kid, unknown kid, no kid
        "stranger's key": sign_es256(stranger, {"alg": "ES256", "kid": kid}, claims),
        "unknown kid": sign_es256(stranger, {"alg": "ES256", "kid": "not-ours"}, claims),
        "no kid": sign_es256(stack_key, {"alg": "ES256"}, claims),
        # tampering
        "payload changed": h + "." + b64u(json.dumps(dict(claims, roles=["owner", "admin"]))
                                          .encode()) + "." + s,
        "signature cut": h + "." + p + "." + s[:-4],
        "malformed": "not.a.jwt",
        "two segments": h + "." + p,
        # claims
        "wrong iss": signed(iss="https://evil.test"),
        "wrong aud": signed(aud="another-api"),
        "aud list without ours": signed(aud=["another-api"]),
        "no jti": signed(jti=None),
        "no sub": signed(sub=None),
        "no roles": signed(roles=None),
        "no tenant_id": signed(tenant_id=None),
        "no exp": signed(exp=None),
        "nbf in the future": signed(nbf=now + 600),
        "iat in the future": signed(iat=now + 600, exp=now + 1200),
        "unknown user": signed(sub=str(uuid.uuid4())),
    }
    for label, token in cases.items():
        for path in ("/v1/auth/me", "/v1/users"):
            resp = api.get(path, token)
            assert resp.status_code == 401, (label, path, resp.text)
            assert error_code(resp) == "invalid_token", (label, resp.text)
            assert 'error="invalid_token"' in resp.headers["WWW-Authenticate"]
    # Expired (past the 30 s leeway) has its own code, so clients refresh.
    for path in ("/v1/auth/me", "/v1/users"):
        refused(api.get(path, signed(iat=now - 1000, exp=now - 60)), 401, "token_expired")
    # Still inside the leeway: accepted.
    assert api.get("/v1/auth/me", signed(iat=now - 900, exp=now - 5)).status_code == 200
    # And the untouched token still works: nothing above was a fluke.
    assert api.get("/v1/auth/me", good).status_code == 200


def test_key_rotation_old_key_keeps_verifying(stack, api, acme, tmp_path):
    old = sorted((stack.run_dir / "jwt").glob("*.pem"))[-1]
    keys = tmp_path / "jwt"
    keys.mkdir()
    (keys / "20000101T000000Z.pem").write_bytes(old.read_bytes())
    new_key = ec.generate_private_key(ec.SECP256R1())
    (keys / "29991231T000000Z.pem").write_bytes(new_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    old_token = acme["login"]["access_token"]
    old_kid = jwt_parts(old_token)[0]["kid"]
    with private_gateway(stack, SERPHONA_JWT_KEYS_DIR=keys) as url:
        gw = Api(stack, url)
        published = gw.get("/.well-known/jwks.json").json()["keys"]
        assert len(published) == 2 and published[0]["kid"] == old_kid
        new_kid = published[1]["kid"]
        # New tokens are signed with the newest key ...
        fresh = gw.login(acme["slug"], acme["owner"]["email"], PASSWORD).json()["access_token"]
        assert jwt_parts(fresh)[0]["kid"] == new_kid
        verify_es256(published[1], fresh)
        # ... and tokens of the old key keep working until they expire.
        assert gw.get("/v1/auth/me", old_token).status_code == 200
        # The stack's gateway has not rotated: it does not know the new key.
        refused(api.get("/v1/auth/me", fresh), 401, "invalid_token")


def test_auth_disabled_needs_allow_insecure(stack):
    env = dict(stack.base_env)
    env.update(stack.env)
    env.update(SERPHONA_AUTH_DISABLED="1", SERPHONA_HTTP_PORT=str(free_port()),
               SERPHONA_OPS_PORT=str(free_port()))
    out = subprocess.run([str(stack.bin_dir / "auth-gateway")], env=env, capture_output=True,
                         text=True, timeout=30)
    assert out.returncode != 0
    assert "SERPHONA_ALLOW_INSECURE" in out.stderr


def test_gateway_without_keys_refuses_to_start(stack, tmp_path):
    env = dict(stack.base_env)
    env.update(stack.env)
    env.update(SERPHONA_JWT_KEYS_DIR=str(tmp_path), SERPHONA_HTTP_PORT=str(free_port()),
               SERPHONA_OPS_PORT=str(free_port()))
    out = subprocess.run([str(stack.bin_dir / "auth-gateway")], env=env, capture_output=True,
                         text=True, timeout=30)
    assert out.returncode != 0
    assert "SERPHONA_JWT_KEYS_DIR" in out.stderr


# ---- suspension, disabling ------------------------------------------------------------------

def test_suspended_tenant_is_refused_at_once(api, operator, tenants):
    t = tenants.create()
    s = tenants.token(t, t["owner"])
    tok = s["access_token"]
    assert api.get("/v1/users", tok).status_code == 200  # caches the principal and tenant
    resp = api.post(f"/v1/tenants/{t['id']}/suspend", token=operator["token"])
    assert resp.status_code == 200, resp.text
    refused(api.get("/v1/users", tok), 403, "tenant_suspended")
    refused(api.get("/v1/auth/me", tok), 403, "tenant_suspended")
    refused(api.login(t["slug"], t["owner"]["email"], PASSWORD), 403, "tenant_suspended")
    # A wrong password still says only that the credentials are wrong.
    refused(api.login(t["slug"], t["owner"]["email"], "Wrong-Password-123!"), 401,
            "invalid_credentials")
    refused(api.post("/v1/auth/refresh", {"refresh_token": s["refresh_token"]}), 403,
            "tenant_suspended")
    resp = api.post(f"/v1/tenants/{t['id']}/reactivate", token=operator["token"])
    assert resp.status_code == 200, resp.text
    # The refresh above ended that session; a new login works.
    refused(api.get("/v1/users", tok), 401, "token_revoked")
    again = api.login(t["slug"], t["owner"]["email"], PASSWORD)
    assert again.status_code == 200
    assert api.get("/v1/users", again.json()["access_token"]).status_code == 200


def test_disabled_user_is_refused_at_once(api, tenants):
    t = tenants.create()
    owner_tok = tenants.token(t, t["owner"])["access_token"]
    user = tenants.add_user(t, "analyst", owner_tok)
    s = tenants.token(t, user)
    assert api.get("/v1/auth/me", s["access_token"]).status_code == 200
    resp = api.post(f"/v1/users/{user['id']}/disable", token=owner_tok)
    assert resp.status_code == 200, resp.text
    refused(api.get("/v1/auth/me", s["access_token"]), 403, "user_disabled")
    refused(api.get("/v1/users", s["access_token"]), 403, "user_disabled")
    refused(api.login(t["slug"], user["email"], PASSWORD), 403, "user_disabled")
    refused(api.login(t["slug"], user["email"], "Wrong-Password-123!"), 401,
            "invalid_credentials")
    refused(api.post("/v1/auth/refresh", {"refresh_token": s["refresh_token"]}), 403,
            "user_disabled")
    # The owner is unaffected.
    assert api.get("/v1/users", owner_tok).status_code == 200


# ---- rate limits ------------------------------------------------------------------------------------

def test_rate_limits_per_user_and_per_tenant(api, operator, tenants):
    t = tenants.create()
    owner_tok = tenants.token(t, t["owner"])["access_token"]
    other = tenants.add_user(t, "viewer", owner_tok)
    other_tok = tenants.token(t, other)["access_token"]
    resp = api.send("PUT", f"/v1/tenants/{t['id']}/plan",
                    {"plan": "trial", "limit_overrides": {"user_requests_per_minute": 4,
                                                          "tenant_requests_per_minute": 6}},
                    operator["token"])
    assert resp.status_code == 200, resp.text
    # Let the buckets of the requests made under the old plan drain, so the
    # counts below start from a full allowance.
    time.sleep(1.5)

    seen = []
    for i in range(4):
        r = api.get("/v1/auth/me", owner_tok)
        assert r.status_code == 200, (i, r.text)
        assert r.headers["RateLimit-Limit"] == "4"
        seen.append(int(r.headers["RateLimit-Remaining"]))
        assert 0 <= int(r.headers["RateLimit-Reset"]) <= 60
    assert seen == [3, 2, 1, 0]
    r = api.get("/v1/users", owner_tok)
    refused(r, 429, "rate_limited")
    assert 1 <= int(r.headers["Retry-After"]) <= 15
    assert r.headers["RateLimit-Limit"] == "4" and r.headers["RateLimit-Remaining"] == "0"
    # The other user has an allowance of their own, until the tenant's runs out
    # (6 per minute: 4 spent by the owner).
    for i in range(2):
        r = api.get("/v1/users", other_tok)
        assert r.status_code == 200, (i, r.text)
    assert r.headers["RateLimit-Limit"] == "6" and r.headers["RateLimit-Remaining"] == "0"
    r = api.get("/v1/users", other_tok)
    refused(r, 429, "rate_limited")
    assert "tenant" in r.json()["error"]["message"]
    assert int(r.headers["Retry-After"]) >= 1
    # Another tenant and the operator are not limited by this one.
    assert api.get("/v1/tenants", operator["token"]).status_code == 200
    metrics = requests.get(api.stack.ops_url("auth-gateway") + "/metrics", timeout=5).text
    assert 'serphona_gateway_rate_limited_total{scope="tenant"}' in metrics
    assert 'serphona_gateway_rate_limited_total{scope="caller"}' in metrics


# ---- CORS ---------------------------------------------------------------------------------------------

def test_cors_from_tenant_origins(api, tenants, operator):
    mine = f"https://console-{uuid.uuid4().hex[:6]}.example"
    theirs = f"https://console-{uuid.uuid4().hex[:6]}.example"
    t = tenants.create(allowed_origins=[mine])
    tenants.create(allowed_origins=[theirs])
    tok = tenants.token(t, t["owner"])["access_token"]

    def preflight(path, origin):
        return api.s.options(api.base + path, timeout=10, headers={
            "Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type"})

    for path in ("/v1/auth/login", "/v1/users", "/v1/auth/refresh"):
        r = preflight(path, mine)
        assert r.status_code == 204, (path, r.text)
        assert r.headers["Access-Control-Allow-Origin"] == mine
        assert "POST" in r.headers["Access-Control-Allow-Methods"]
        assert r.headers["Access-Control-Allow-Headers"] == "authorization, content-type"
        assert r.headers["Vary"] == "Origin"
        r = preflight(path, "https://evil.example")
        refused(r, 403, "origin_not_allowed")
        assert "Access-Control-Allow-Origin" not in r.headers
    # Actual requests: only the caller's own tenant's origins.
    r = api.get("/v1/users", tok, headers={"Origin": mine})
    assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == mine
    assert "RateLimit-Remaining" in r.headers["Access-Control-Expose-Headers"]
    r = api.get("/v1/users", tok, headers={"Origin": theirs})
    assert r.status_code == 200 and "Access-Control-Allow-Origin" not in r.headers
    # A login is scoped to the tenant it names: its own console's origin is
    # reflected, another tenant's is not (the probe's finding: it was).
    r = api.login(t["slug"], t["owner"]["email"], PASSWORD, headers={"Origin": mine})
    assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == mine
    refresh = r.json()["refresh_token"]
    r = api.login(t["slug"], t["owner"]["email"], PASSWORD, headers={"Origin": theirs})
    assert r.status_code == 200 and "Access-Control-Allow-Origin" not in r.headers
    r = api.login(t["slug"], t["owner"]["email"], "wrong-password", headers={"Origin": theirs})
    assert r.status_code == 401 and "Access-Control-Allow-Origin" not in r.headers
    r = api.login(t["slug"], t["owner"]["email"], PASSWORD, headers={"Origin": "https://x.example"})
    assert "Access-Control-Allow-Origin" not in r.headers
    # Refresh and logout: the tenant of the session presented.
    r = api.post("/v1/auth/refresh", {"refresh_token": refresh}, headers={"Origin": theirs})
    assert r.status_code == 200 and "Access-Control-Allow-Origin" not in r.headers
    r = api.post("/v1/auth/refresh", {"refresh_token": r.json()["refresh_token"]},
                 headers={"Origin": mine})
    assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == mine
    r = api.post("/v1/auth/logout", {"refresh_token": r.json()["refresh_token"]},
                 headers={"Origin": mine})
    assert r.status_code == 204 and r.headers["Access-Control-Allow-Origin"] == mine
    # Operator routes and operators' requests never carry a tenant's origin.
    refused(preflight("/v1/tenants", mine), 403, "origin_not_allowed")
    r = api.get("/v1/tenants", operator["token"], headers={"Origin": mine})
    assert r.status_code == 200 and "Access-Control-Allow-Origin" not in r.headers
    r = api.login(None, operator["email"], PASSWORD, headers={"Origin": mine})
    assert r.status_code == 200 and "Access-Control-Allow-Origin" not in r.headers


# ---- API keys ---------------------------------------------------------------------------------------------

def test_api_keys_at_the_gateway(api, acme):
    owner_tok = acme["login"]["access_token"]
    resp = api.post("/v1/api-keys", {"name": "it-key", "scopes": ["users:read"]}, token=owner_tok)
    assert resp.status_code == 201, resp.text
    key = resp.json()["key"]
    r = api.get("/v1/users", headers={"X-Api-Key": key})
    assert r.status_code == 200, r.text
    assert "RateLimit-Limit" in r.headers
    # Scopes are permissions: nothing else.
    refused(api.get("/v1/api-keys", headers={"X-Api-Key": key}), 403, "forbidden")
    refused(api.get("/v1/users", headers={"X-Api-Key": key[:-2] + "xx"}), 401, "invalid_api_key")
    refused(api.get("/v1/users", headers={"X-Api-Key": "sk_live_nope"}), 401, "invalid_api_key")
    resp = api.send("DELETE", f"/v1/api-keys/{resp.json()['id']}", token=owner_tok)
    assert resp.status_code in (200, 204), resp.text
    refused(api.get("/v1/users", headers={"X-Api-Key": key}), 401, "invalid_api_key")


# ---- interop ---------------------------------------------------------------------------------------------

INTEROP = ROOT / "tests" / "interop"


@pytest.fixture(scope="module")
def jose_installed():
    """tests/interop's pinned `jose`, installed on first use (npm ci)."""
    if not (INTEROP / "node_modules" / "jose" / "package.json").exists():
        out = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=INTEROP,
                             capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    return INTEROP


def test_jose_verifies_our_tokens_and_its_forgeries_are_refused(api, acme, jose_installed):
    token = api.login(acme["slug"], acme["owner"]["email"], PASSWORD).json()["access_token"]
    out = subprocess.run(["node", "jwt_interop.mjs", api.base, token], cwd=jose_installed,
                         capture_output=True, text=True, timeout=120)
    assert out.stdout.strip(), out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["verified"] is True
    assert result["claims"]["sub"] == acme["owner"]["id"]
    assert result["claims"]["tenant_id"] == acme["id"]
    assert set(result["forged"]) == {"alg_none", "wrong_key", "hs256_public_pem",
                                     "hs256_public_jwk"}
    for name, outcome in result["forged"].items():
        assert outcome == {"status": 401, "code": "invalid_token"}, (name, outcome)
    assert result["genuine_status"] == 200
    assert out.returncode == 0, out.stderr[-3000:]
