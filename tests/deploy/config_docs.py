"""Where the configuration variables are documented, and how to read it back.

Every SERPHONA_* variable a service reads (its `--help`) must appear
  - in README.md's "Configuration" section, as a table row
        | `SERPHONA_X` | `default` | meaning |
  - in helm/serphona/values.yaml, either as a key (under `config`,
    `services.<name>.config` or `secrets.values`) whose comment block right
    above ends with "(default: ...)", or — for what the chart or the image
    sets itself — as a comment line "#   SERPHONA_X — meaning (default: ...)".
A default is written as the binary prints it, or `empty` (""), `required`,
`unset` (no default), or `per service` when services differ.

Run as a script to print what is missing, in those formats, ready to paste:
    python3 tests/deploy/config_docs.py
"""
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
VALUES = ROOT / "helm" / "serphona" / "values.yaml"

KEY_LINE = re.compile(r"^\s*(SERPHONA_[A-Z0-9_]+):")
COMMENT_VAR = re.compile(r"^\s*#\s+(SERPHONA_[A-Z0-9_]+) — (.*)$")
DEFAULT = re.compile(r"\(default: (.*)\)\.?\s*$")
README_ROW = re.compile(r"^\|\s*`(SERPHONA_[A-Z0-9_]+)`\s*\|([^|]*)\|(.*)\|\s*$")

# Set by the chart from other values, or by the image; documented as comments.
CHART_SET = {"SERPHONA_OPS_PORT", "SERPHONA_RPC_PORT", "SERPHONA_HTTP_PORT"}
PEER_RPC = re.compile(r"^SERPHONA_[A-Z_]+_RPC$")
IMAGE_SET = {"SERPHONA_MIGRATIONS_DIR", "SERPHONA_CLICKHOUSE_SCHEMA_DIR"}
# Never in a ConfigMap: they go into the Secret.
SECRET_NAMES = re.compile(r"PASSWORD|SECRET|PRIVATE_KEY|^SERPHONA_(PG_URL|PG_MIGRATE_URL|REDIS_URL)$")


def normalize_default(text):
    return text.strip().strip("`").strip()


def readme_rows(text=None):
    """{VAR: (default, meaning)} from the README's Configuration section."""
    text = README.read_text() if text is None else text
    section = re.search(r"^## Configuration\n(.*?)(?=^## )", text, re.S | re.M)
    assert section, "README.md has no '## Configuration' section"
    rows = {}
    for line in section.group(1).splitlines():
        m = README_ROW.match(line)
        if m:
            assert m.group(1) not in rows, f"README documents {m.group(1)} twice"
            rows[m.group(1)] = (normalize_default(m.group(2)), m.group(3).strip())
    return rows


def values_docs(text=None):
    """{VAR: [(kind, default or None, doc text)]} from values.yaml, kind
    being "key" or "comment"."""
    lines = (VALUES.read_text() if text is None else text).splitlines()
    docs = {}
    for i, line in enumerate(lines):
        m = KEY_LINE.match(line)
        if m:
            block = []
            j = i - 1
            while j >= 0 and lines[j].strip().startswith("#"):
                block.insert(0, lines[j].strip().lstrip("#").strip())
                j -= 1
            doc = " ".join(block)
            d = DEFAULT.search(block[-1]) if block else None
            docs.setdefault(m.group(1), []).append(("key", d and d.group(1), doc))
            continue
        m = COMMENT_VAR.match(line)
        if m:
            d = DEFAULT.search(m.group(2))
            docs.setdefault(m.group(1), []).append(("comment", d and d.group(1), m.group(2)))
    return docs


# ---- suggestions for a developer ---------------------------------------------------

def _help_of(binary):
    sys.path.insert(0, str(Path(__file__).parent))
    from conftest import getenv_vars, parse_help  # noqa: E402
    out = subprocess.run([str(binary), "--help"], capture_output=True, text=True, check=True)
    parsed = parse_help(out.stdout)
    for var in getenv_vars(binary.name) - set(parsed):
        parsed[var] = {"doc": "(read with getenv(): describe it)", "required": False,
                       "unset": True, "default": None}
    return parsed


def main():
    sys.path.insert(0, str(Path(__file__).parent))
    from conftest import doc_default, service_names  # noqa: E402
    bins = Path(os.environ.get("SP_BIN_DIR", ROOT / "build" / "bin"))
    helps = {s: _help_of(bins / s) for s in service_names()}
    readers = {}
    for s, entries in helps.items():
        for v in entries:
            readers.setdefault(v, []).append(s)
    rows, vdocs = readme_rows(), values_docs()
    missing_readme = [v for v in sorted(readers) if v not in rows]
    missing_values = [v for v in sorted(readers) if v not in vdocs]
    if missing_readme:
        print("README.md, Configuration (| variable | default | meaning |):")
        for v in missing_readme:
            e = helps[readers[v][0]][v]
            d = doc_default(helps, v)
            cell = d if d in ("required", "unset", "empty", "per service") else f"`{d}`"
            print(f"| `{v}` | {cell} | {e['doc']} |")
    if missing_values:
        print("\nhelm/serphona/values.yaml:")
        for v in missing_values:
            e = helps[readers[v][0]][v]
            d = doc_default(helps, v)
            doc = e["doc"].rstrip(".")
            if v in CHART_SET or v in IMAGE_SET or PEER_RPC.match(v):
                print(f"  in the 'Set by the chart/image' comment list:\n#   {v} — {doc} (default: {d}).")
                continue
            if SECRET_NAMES.search(v):
                where = f"secrets.values (and secretEnv of {', '.join(readers[v])})"
            elif len(readers[v]) > 1:
                where = "config"
            else:
                where = f"services.{readers[v][0]}.config"
            value = "" if d in ("required", "unset", "empty", "per service") else d
            print(f"  under {where}:\n    # {doc} (default: {d}).\n    {v}: \"{value}\"")
    if not missing_readme and not missing_values:
        print("every variable is documented")


if __name__ == "__main__":
    main()
