#!/usr/bin/env bash
# deploy/local/demo/load.sh — loads the demo dataset (generate.py) into a
# running stack through the real ingestion API: POST /v1/ingest/interactions
# on the tools-gateway's public port, authenticated with a partner API key,
# in batches, each with an Idempotency-Key.
#
#   deploy/local/demo/load.sh [API_KEY]
#
# The key: the argument, else $SERPHONA_DEMO_API_KEY, else the one in
# $SP_RUN_DIR/demo.env (written by deploy/local/demo_tenant.py during
# `make run`). The API: $SERPHONA_TOOLS_URL, else the stack's
# $SP_TOOLS_HTTP_PORT (from $SP_RUN_DIR/stack.env), else :8090.
# Knobs: DEMO_COUNT (3000), DEMO_SEED (20240501), DEMO_ANCHOR (YYYY-MM-DD,
# default today UTC), DEMO_BATCH (250, at most the API's 500).
#
# Loading twice is harmless: external ids are stable, so the second time
# every interaction is answered "duplicate" and nothing is counted twice.
# A 503 (the processor's backlog at its bound: ingestion_backlog; Kafka not
# acknowledging) or 409 is sent again after its Retry-After, for as long as
# ten minutes a batch, so the load pauses and resumes by itself. Exits
# non-zero when an item is refused (a generator bug) or a batch keeps failing.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
RUN_DIR="${SP_RUN_DIR:-$ROOT/.run}"

if [[ -f "$RUN_DIR/stack.env" ]]; then
    # shellcheck disable=SC1091
    source "$RUN_DIR/stack.env"
fi
KEY="${1:-${SERPHONA_DEMO_API_KEY:-}}"
if [[ -z "$KEY" && -f "$RUN_DIR/demo.env" ]]; then
    KEY=$(sed -n 's/^\(export \)\{0,1\}SERPHONA_DEMO_API_KEY=//p' "$RUN_DIR/demo.env" | tail -n 1)
    KEY=${KEY//\'/}
    KEY=${KEY//\"/}
fi
if [[ -z "$KEY" ]]; then
    echo "demo: no API key (give it as an argument, or set SERPHONA_DEMO_API_KEY)" >&2
    exit 2
fi
URL="${SERPHONA_TOOLS_URL:-http://127.0.0.1:${SP_TOOLS_HTTP_PORT:-8090}}"

mkdir -p "$RUN_DIR/demo"
FILE="$RUN_DIR/demo/interactions.jsonl"
args=(--count "${DEMO_COUNT:-3000}" --seed "${DEMO_SEED:-20240501}" --out "$FILE")
[[ -n "${DEMO_ANCHOR:-}" ]] && args+=(--anchor "$DEMO_ANCHOR")
/usr/bin/python3 "$HERE/generate.py" "${args[@]}"

DEMO_KEY="$KEY" DEMO_URL="$URL" DEMO_FILE="$FILE" DEMO_BATCH="${DEMO_BATCH:-250}" \
    /usr/bin/python3 - <<'PY'
import hashlib, json, os, sys, time, urllib.error, urllib.request

url = os.environ["DEMO_URL"] + "/v1/ingest/interactions"
key, batch = os.environ["DEMO_KEY"], int(os.environ["DEMO_BATCH"])
lines = [l for l in open(os.environ["DEMO_FILE"], encoding="utf-8") if l.strip()]
totals = {"accepted": 0, "rejected": 0, "duplicates": 0}
replayed = 0  # items of batches sent before with the same Idempotency-Key
t0 = time.monotonic()
for start in range(0, len(lines), batch):
    body = ("[" + ",".join(l.strip() for l in lines[start:start + batch]) + "]").encode()
    idem = "demo-" + hashlib.sha256(body).hexdigest()[:40]
    give_up, attempt = time.monotonic() + 600, 0
    while True:
        attempt += 1
        req = urllib.request.Request(url, data=body, method="POST", headers={
            "Authorization": "Bearer " + key, "Content-Type": "application/json",
            "Idempotency-Key": idem})
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                answer = json.load(resp)
                again = resp.headers.get("Idempotent-Replayed") == "true"
            break
        except urllib.error.HTTPError as err:
            text = err.read().decode(errors="replace")
            if err.code in (503, 409, 429) and time.monotonic() < give_up:
                time.sleep(int(err.headers.get("Retry-After") or 2))
                continue
            sys.exit("demo: batch at line %d refused: %d %s" % (start + 1, err.code, text[:300]))
        except urllib.error.URLError as err:
            if attempt < 30:
                time.sleep(2)
                continue
            sys.exit("demo: cannot reach %s: %s" % (url, err.reason))
    if again:  # the stored answer of an earlier load: nothing new happened
        replayed += sum(len(answer[kind]) for kind in totals)
        continue
    for kind in totals:
        totals[kind] += len(answer[kind])
    for r in answer["rejected"]:
        print("demo: line %d refused: %s %s" % (start + r["index"] + 1, r["code"], r["message"]),
              file=sys.stderr)
took = time.monotonic() - t0
print("demo: %d interactions sent in %.1f s: %d accepted, %d already loaded, %d rejected"
      % (len(lines), took, totals["accepted"], totals["duplicates"] + replayed,
         totals["rejected"]))
sys.exit(1 if totals["rejected"] else 0)
PY
