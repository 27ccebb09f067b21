#!/bin/sh
# jwt-keygen [DIR] — the auth-gateway's first access-token key for
# docker-compose.dev.yml: when DIR (default /keys) holds no *.pem yet, writes
# one P-256 private key named by the current UTC time, so later keys sort
# after it (rotation: add a newer file, restart the gateway). The files
# belong to OWNER (default 10001:10001, the services' user), mode 0600.
set -eu

dir=${1:-/keys}
owner=${JWT_KEY_OWNER:-10001:10001}
mkdir -p "$dir"
for f in "$dir"/*.pem; do
    if [ -e "$f" ]; then
        echo "jwt-keygen: $dir already holds a key"
        exit 0
    fi
done
umask 077
key="$dir/$(date -u +%Y%m%dT%H%M%SZ).pem"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$key"
chown "$owner" "$dir" "$key"
chmod 0700 "$dir"
echo "jwt-keygen: wrote $key"
