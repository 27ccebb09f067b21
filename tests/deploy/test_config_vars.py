"""Every configuration variable a service reads — as its built binary lists
them in `--help` — is documented with its default and meaning in README.md
and in the chart's values.yaml, is actually passed to the service's pods by
the chart, and the required ones are set in docker-compose.dev.yml. A new
variable can therefore not be forgotten: `python3 tests/deploy/config_docs.py`
prints what to add.
"""
import re

import pytest

from config_docs import (CHART_SET, IMAGE_SET, PEER_RPC, SECRET_NAMES, readme_rows,
                         values_docs)
from conftest import DOCKERFILE, doc_default

HINT = "\n(run `python3 tests/deploy/config_docs.py` for the lines to add)"


def chart_or_image_set(var):
    return var in CHART_SET or var in IMAGE_SET or bool(PEER_RPC.match(var))


def test_help_lists_the_common_variables(help_vars):
    for s, entries in help_vars.items():
        for v in ("SERPHONA_LOG_LEVEL", "SERPHONA_BIND_ADDR", "SERPHONA_OPS_PORT"):
            assert v in entries, f"{s} --help lacks {v}"
        assert all(e["doc"] for e in entries.values()), f"{s}: a variable without description"


def test_readme_documents_every_variable(help_vars, all_vars):
    rows = readme_rows()
    missing = [v for v in all_vars if v not in rows]
    assert not missing, f"README.md Configuration lacks {missing}" + HINT
    for v in all_vars:
        default, meaning = rows[v]
        assert default == doc_default(help_vars, v), \
            f"README.md: {v} default {default!r}, the binaries say {doc_default(help_vars, v)!r}"
        assert len(meaning) >= 10, f"README.md: {v} has no meaning"
    stale = sorted(set(rows) - set(all_vars))
    assert not stale, f"README.md documents variables no service reads: {stale}"


def test_values_document_every_variable(help_vars, all_vars):
    docs = values_docs()
    missing = [v for v in all_vars if v not in docs]
    assert not missing, f"helm/serphona/values.yaml lacks {missing}" + HINT
    for v in all_vars:
        for kind, default, text in docs[v]:
            assert default is not None, f"values.yaml: {v} ({kind}) has no '(default: ...)' comment"
            assert default == doc_default(help_vars, v), \
                f"values.yaml: {v} default {default!r}, the binaries say {doc_default(help_vars, v)!r}"
            meaning = re.sub(r"\(default: .*\)\.?$", "", text).strip()
            assert len(meaning) >= 10, f"values.yaml: {v} has no meaning"
    stale = sorted(set(docs) - set(all_vars))
    assert not stale, f"values.yaml documents variables no service reads: {stale}"


def test_values_place_every_variable(values, help_vars, services):
    """Each variable a service reads has a home: the shared `config`, the
    service's own `config`, the Secret, or the chart/image; each key of a
    service's `config` is one it reads; secrets never sit in a ConfigMap."""
    shared = set(values["config"])
    secret = set(values["secrets"]["values"])
    everything = set().union(*(set(h) for h in help_vars.values()))
    assert shared <= everything, f"config holds variables no service reads: {sorted(shared - everything)}"
    assert secret <= everything, f"secrets hold variables no service reads: {sorted(secret - everything)}"
    for s in services:
        own = set(values["services"][s]["config"])
        reads = set(help_vars[s])
        assert own <= reads, f"services.{s}.config holds what {s} does not read: {sorted(own - reads)}"
        for v in reads:
            assert v in shared | own | secret or chart_or_image_set(v), \
                f"{v} (read by {s}) has no place in values.yaml" + HINT
        for v in (shared | own):
            assert not SECRET_NAMES.search(v), f"{v} is a secret: put it under secrets.values"
    for v in everything:
        if SECRET_NAMES.search(v):
            assert v in secret, f"{v} is a secret: put it under secrets.values"


def test_compose_sets_what_is_required(compose, help_vars, services):
    for s in services:
        env = compose["services"][s]["environment"]
        for v, e in help_vars[s].items():
            if e["required"]:
                assert env.get(v), f"docker-compose.dev.yml: {s} needs {v}"
            if PEER_RPC.match(v):
                assert env.get(v, "").startswith("tcp://"), f"docker-compose.dev.yml: {s} needs {v}"
