#!/usr/bin/env bash
# Installs every Debian package that building, testing and running Serphona
# locally needs. Idempotent: when everything is present it only checks and
# exits; otherwise it runs `apt-get update` once and installs what is missing.
set -euo pipefail

PACKAGES=(
  # build
  build-essential pkg-config
  libmicrohttpd-dev libprotobuf-c-dev protobuf-c-compiler
  libzmq3-dev libczmq-dev libpq-dev librdkafka-dev libhiredis-dev
  libcjson-dev libmbedtls-dev libcurl4-openssl-dev libcmocka-dev
  # local stack
  postgresql redis-server clickhouse-server clickhouse-client curl procps iproute2
  openssl
  # tests, benchmarks, lint
  python3 python3-pytest python3-requests prometheus wrk
  python3-yaml python3-cryptography
  cppcheck clang-tidy clang-format
  # fuzzing (tests/fuzz: libFuzzer with ASan/UBSan)
  clang libclang-rt-14-dev
  # deployment tests (tests/deploy): the values schema, `docker-compose
  # config`, shellcheck
  python3-jsonschema docker-compose shellcheck
)

# Node.js and npm, for the JWT interop test (tests/interop). Judged by the
# commands rather than the packages: a machine may have them from elsewhere
# (NodeSource's nodejs bundles npm and conflicts with Debian's npm package).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  PACKAGES+=(nodejs npm)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "deps: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "deps: run as root or install sudo" >&2; exit 1; }
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# Package scripts must not start system-wide daemons (prometheus, redis,
# clickhouse) on their default ports: the stack runs its own instances.
policy_added=0
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  policy_added=1
fi
trap 'if [[ $policy_added == 1 ]]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi' EXIT
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
