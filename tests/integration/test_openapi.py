"""services/auth-gateway/openapi.yaml is true: it lists exactly the routes the
running services expose through the gateway, read from every service's ops
/routes table, so a route added anywhere fails this test until it is
documented (and a documented route that no longer exists fails it too).
"""
from pathlib import Path

import pytest
import requests
import yaml

from conftest import BACK_SERVICES, ROOT

SPEC_PATH = ROOT / "services" / "auth-gateway" / "openapi.yaml"
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
PLACEHOLDER = "00000000-0000-0000-0000-000000000000"


@pytest.fixture(scope="module")
def spec():
    with open(SPEC_PATH) as f:
        doc = yaml.safe_load(f)
    assert doc["openapi"].startswith("3.1"), doc["openapi"]
    return doc


def routes_of(stack, service):
    resp = requests.get(stack.ops_url(service) + "/routes", timeout=10)
    assert resp.status_code == 200
    return resp.json()["routes"]


def forwarded_by(gateway_pattern, path):
    """Whether a gateway forwarding pattern covers a back-service path."""
    if gateway_pattern.endswith("/*"):
        prefix = gateway_pattern[:-2]
        return path == prefix or path.startswith(prefix + "/")
    return path == gateway_pattern


@pytest.fixture(scope="module")
def exposed(stack):
    """(METHOD, path) -> {"service", "permission"} for every public route."""
    gw_routes = routes_of(stack, "auth-gateway")
    forwards = [r["pattern"] for r in gw_routes if r["method"] == "*"]
    own = {(r["method"], r["pattern"]) for r in gw_routes
           if r["method"] not in ("*", "OPTIONS")}
    out = {key: {"service": "auth-gateway", "permission": None} for key in own}
    for service in BACK_SERVICES:
        for r in routes_of(stack, service):
            if any(forwarded_by(g, r["pattern"]) for g in forwards) and \
                    (r["method"], r["pattern"]) not in own:
                out[(r["method"], r["pattern"])] = {"service": service,
                                                    "permission": r["permission"]}
    return out


def operations(spec):
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield (method.upper(), path), op


def test_spec_parses_and_every_ref_resolves(spec):
    def resolve(ref):
        assert ref.startswith("#/"), ref
        node = spec
        for part in ref[2:].split("/"):
            assert part in node, f"dangling $ref {ref}"
            node = node[part]

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "$ref":
                    resolve(v)
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(spec)
    for key, op in operations(spec):
        assert op.get("summary"), key
        assert op.get("responses"), key


def test_spec_lists_exactly_the_exposed_routes(spec, exposed):
    documented = {key for key, _ in operations(spec)}
    missing = sorted(set(exposed) - documented)
    extra = sorted(documented - set(exposed))
    assert not missing, f"routes served but not in openapi.yaml: {missing}"
    assert not extra, f"routes in openapi.yaml that no service serves: {extra}"


def test_spec_names_owner_permission_and_security(spec, exposed):
    for key, op in operations(spec):
        route = exposed[key]
        assert op.get("x-service") == route["service"], key
        if route["service"] != "auth-gateway":
            assert op.get("x-permission") == route["permission"], key
            public = route["permission"] is None
            assert (op.get("security") == []) == public, (key, "security must be [] exactly "
                                                               "when the route needs no permission")


def concrete(path):
    return "/".join(PLACEHOLDER if s.startswith("{") else s for s in path.split("/"))


def test_gateway_guards_exactly_the_protected_routes(stack, exposed):
    """Without credentials, a route with a permission is refused by the
    gateway itself, and a public one reaches its service."""
    session = requests.Session()
    for (method, path), route in sorted(exposed.items()):
        if route["service"] == "auth-gateway":
            continue
        resp = session.request(method, stack.gateway + concrete(path), json={}, timeout=15)
        code = resp.json().get("error", {}).get("code") if resp.content else None
        if route["permission"] is None:
            assert code != "unauthenticated", (method, path, "public route refused by the "
                                               "gateway: add it to PUBLIC_ROUTES in proxy.c")
        else:
            assert resp.status_code == 401 and code == "unauthenticated", \
                (method, path, resp.status_code, resp.text)
    session.close()
