"""Static checks of YAML files, the chart's values and its schema: every YAML
file parses, every `.Values` path a template uses exists in values.yaml and
in values.schema.json, and values.yaml (alone and with the CI overrides)
validates against the schema."""
import copy
import re
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from conftest import CHART, CI_VALUES, ROOT

SKIP_DIRS = {".git", "build", ".run", "node_modules", "__pycache__"}
TEMPLATES = CHART / "templates"
VALUES_PATH = re.compile(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")
SVC_PATH = re.compile(r"\$svc((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")


def yaml_files():
    """Every .yaml/.yml file of the repository, except chart templates (Go
    templates, checked by rendering) and anything git ignores."""
    proc = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                          cwd=ROOT, capture_output=True, text=True, check=True)
    out = []
    for rel in proc.stdout.splitlines():
        p = Path(rel)
        if p.suffix not in (".yaml", ".yml") or set(p.parts) & SKIP_DIRS:
            continue
        if (ROOT / p).resolve().is_relative_to(TEMPLATES.resolve()):
            continue
        if (ROOT / p).exists():
            out.append(rel)
    return sorted(out)


def test_there_are_yaml_files_to_check():
    files = yaml_files()
    for must in ("docker-compose.dev.yml", "helm/serphona/values.yaml", "helm/serphona/Chart.yaml",
                 "helm/serphona/files/alerts.yaml", "helm/serphona/ci/test-values.yaml"):
        assert must in files


@pytest.mark.parametrize("rel", yaml_files())
def test_yaml_file_parses(rel):
    docs = list(yaml.safe_load_all((ROOT / rel).read_text()))
    assert docs and all(d is not None for d in docs), f"{rel} is empty"


def template_texts():
    return {p.name: p.read_text() for p in sorted(TEMPLATES.iterdir()) if p.is_file()}


def values_paths():
    paths = set()
    for text in template_texts().values():
        for m in VALUES_PATH.finditer(text):
            paths.add(tuple(m.group(1).strip(".").split(".")))
    return sorted(paths)


def schema_node(schema, node):
    while "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/definitions/"), ref
        node = schema["definitions"][ref.split("/")[-1]]
    return node


def schema_walk(schema, path):
    """The schema node path leads to, following properties and then
    additionalProperties schemas; None when the schema does not allow it."""
    node = schema_node(schema, schema)
    for key in path:
        props = node.get("properties", {})
        if key in props:
            node = schema_node(schema, props[key])
        elif isinstance(node.get("additionalProperties"), dict):
            node = schema_node(schema, node["additionalProperties"])
        else:
            return None
    return node


def test_templates_use_values(values):
    assert len(values_paths()) > 20


@pytest.mark.parametrize("path", values_paths(), ids=lambda p: ".".join(p))
def test_values_path_exists(path, values, schema):
    node = values
    for key in path:
        assert isinstance(node, dict) and key in node, \
            f".Values.{'.'.join(path)} is used by a template but missing from values.yaml"
        node = node[key]
    assert schema_walk(schema, path) is not None, \
        f".Values.{'.'.join(path)} is used by a template but missing from values.schema.json"


def service_paths():
    paths = set()
    for text in template_texts().values():
        for m in SVC_PATH.finditer(text):
            paths.add(tuple(m.group(1).strip(".").split(".")))
    return sorted(paths)


# Per-service fields a service may leave out: the contents of an unused
# ingress or consumerLag block, the ports it does not have, one of the two
# PDB forms.
OPTIONAL_CONTENTS = [("ingress",), ("hpa", "consumerLag")]
OPTIONAL_FIELDS = [("ports", "rpc"), ("ports", "http"), ("pdb", "minAvailable"),
                   ("pdb", "maxUnavailable")]


def optional(path):
    if any(path[:len(p)] == p and len(path) > len(p) for p in OPTIONAL_CONTENTS):
        return True
    return any(path[:len(f)] == f for f in OPTIONAL_FIELDS)


@pytest.mark.parametrize("path", service_paths(), ids=lambda p: ".".join(p))
def test_service_path_in_schema(path, schema, values):
    """Per-service fields ($svc.x.y in the range loops) exist in the schema's
    service definition, and in values.yaml for every service (except inside
    the optional ingress/consumerLag blocks of services that do not use them)."""
    node = schema_walk(schema, ("services", "billing") + path)
    assert node is not None, f"$svc.{'.'.join(path)} is not in the schema's service definition"
    if optional(path):
        return
    for name, svc in values["services"].items():
        node = svc
        for key in path:
            assert isinstance(node, dict) and key in node, \
                f"services.{name}.{'.'.join(path)} is missing from values.yaml"
            node = node[key]


def test_schema_is_valid_draft7(schema):
    jsonschema.Draft7Validator.check_schema(schema)


def test_values_validate_against_schema(values, schema):
    jsonschema.Draft7Validator(schema).validate(values)


def deep_merge(base, override):
    out = copy.deepcopy(base)
    for k, v in override.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def test_ci_values_validate_against_schema(values, schema):
    merged = deep_merge(values, yaml.safe_load(CI_VALUES.read_text()))
    jsonschema.Draft7Validator(schema).validate(merged)


@pytest.mark.parametrize("bad", [
    {"services": {"billing": {"replicas": "two"}}},
    {"services": {"billing": {"ports": {"ops": 70000}}}},
    {"services": {"billing": {"needs": ["mysql"]}}},
    {"services": {"billing": {"rpcFrom": ["no-such-service"]}}},
    {"services": {"billing": {"replicaz": 2}}},
    {"services": {"unknown-service": {}}},
    {"config": {"SERPHONA_HTTP_MAX_BODY_BYTES": 1048576}},
    {"config": {"NOT_SERPHONA": "x"}},
    {"secrets": {"values": {"SERPHONA_PG_URL": None}}},
    {"image": {"pullPolicy": "Sometimes"}},
])
def test_schema_rejects_mistakes(values, schema, bad):
    """The schema is strict enough to catch typos and wrong types (a number
    in `config` would reach the pod as 1.048576e+06 through Helm)."""
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(schema).validate(deep_merge(values, bad))


def test_schema_lists_exactly_the_services(schema, values, services):
    assert sorted(schema["properties"]["services"]["properties"]) == services
    assert sorted(schema["properties"]["services"]["required"]) == services
    assert sorted(values["services"]) == services
