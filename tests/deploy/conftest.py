"""Fixtures for the deployment tests: the Dockerfile, docker-compose.dev.yml,
the Helm chart and the observability files, checked on a machine with no
Docker engine and no helm.

- `services`: the service names, from services/* (the single list every
  deployment artifact must cover).
- `help_vars`: what each built binary says it reads (`<binary> --help`), the
  source of truth for configuration variables.
- (no chart rendering here: helm and its template engine are not available, and the
  project stays Go-free; templates are checked statically)
  (Go's text/template + sprig, the engine Helm uses), built from Debian's Go
  packages into build/deploy-test/.
"""
import json
import os
import re
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "serphona"
COMPOSE = ROOT / "docker-compose.dev.yml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
WORK = ROOT / "build" / "deploy-test"
CI_VALUES = CHART / "ci" / "test-values.yaml"

HELP_LINE = re.compile(r"^  (SERPHONA_[A-Z0-9_]+) \((.*)\)$")


def service_names():
    return sorted(p.name for p in (ROOT / "services").iterdir() if (p / "src").is_dir())


@pytest.fixture(scope="session")
def services():
    names = service_names()
    assert len(names) >= 7, names
    return names


def bin_dir():
    return Path(os.environ.get("SP_BIN_DIR", ROOT / "build" / "bin")).resolve()


def parse_help(text):
    """{VAR: {"default": str|None, "required": bool, "unset": bool, "doc": str}}
    from `<binary> --help`: an indented "SERPHONA_X (type, default: d)" line,
    then its description on the next line."""
    out = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = HELP_LINE.match(line)
        if not m:
            continue
        name, details = m.group(1), m.group(2)
        doc = lines[i + 1].strip() if i + 1 < len(lines) else ""
        entry = {"doc": doc, "required": False, "unset": False, "default": None}
        if details.endswith(", required"):
            entry["required"] = True
        elif details.endswith(", no default"):
            entry["unset"] = True
        else:
            d = re.search(r"default: (.*)$", details)
            assert d, f"cannot parse --help line: {line!r}"
            entry["default"] = d.group(1)
        out[name] = entry
    return out


GETENV = re.compile(r'getenv\("(SERPHONA_[A-Z0-9_]+)"\)')


def getenv_vars(service):
    """Variables a service's own sources read with getenv() instead of the
    configuration module (so --help cannot list them): read all the same."""
    names = set()
    for path in (ROOT / "services" / service / "src").glob("*.c"):
        names.update(GETENV.findall(path.read_text(errors="replace")))
    return {n for n in names if "_TEST_" not in n}


@pytest.fixture(scope="session")
def help_vars(services):
    """{service: parse_help(<binary> --help)} for every built service, plus
    the variables its sources read with getenv() (no default)."""
    result = {}
    for name in services:
        binary = bin_dir() / name
        assert binary.exists(), f"{binary} is missing: run make first"
        proc = subprocess.run([str(binary), "--help"], capture_output=True, text=True, timeout=30,
                              env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
        assert proc.returncode == 0, proc.stderr
        parsed = parse_help(proc.stdout)
        assert "SERPHONA_OPS_PORT" in parsed, proc.stdout
        for var in getenv_vars(name) - set(parsed):
            parsed[var] = {"doc": "read with getenv()", "required": False, "unset": True,
                           "default": None}
        result[name] = parsed
    return result


def doc_default(help_by_service, var):
    """The default a document must state for var: its --help default when
    every service reading it agrees ("empty" for ""), "required", "unset",
    or "per service" when services differ."""
    forms = set()
    for entries in help_by_service.values():
        e = entries.get(var)
        if not e:
            continue
        if e["required"]:
            forms.add("required")
        elif e["unset"]:
            forms.add("unset")
        else:
            forms.add(e["default"] if e["default"] != "" else "empty")
    assert forms, var
    return forms.pop() if len(forms) == 1 else "per service"


@pytest.fixture(scope="session")
def all_vars(help_vars):
    names = set()
    for entries in help_vars.values():
        names.update(entries)
    return sorted(names)


# ---- chart rendering ------------------------------------------------------------

@pytest.fixture(scope="session")
def values():
    return yaml.safe_load((CHART / "values.yaml").read_text())


@pytest.fixture(scope="session")
def schema():
    return json.loads((CHART / "values.schema.json").read_text())


@pytest.fixture(scope="session")
def compose():
    return yaml.safe_load(COMPOSE.read_text())
