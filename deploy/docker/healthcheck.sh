#!/bin/bash
# serphona-healthcheck [live|ready] — the container image's HEALTHCHECK.
#
# Exits 0 when GET /health/<live|ready> (default: ready) on the service's
# operations port answers 200, 1 otherwise (refused, other status, or no
# answer within SERPHONA_HEALTHCHECK_TIMEOUT_S seconds, default 3).
#
# The port is SERPHONA_OPS_PORT when set, else the service's default, which
# the image build wrote to /usr/share/serphona/ops-port from the binary's own
# --help. Plain bash (/dev/tcp): the image needs no curl or wget for this, so
# it stays at the runtime libraries the services link.
set -u

probe=${1:-ready}
case $probe in
live | ready) ;;
*)
    echo "usage: serphona-healthcheck [live|ready]" >&2
    exit 2
    ;;
esac

port=${SERPHONA_OPS_PORT:-}
if [[ -z $port ]]; then
    port=$(cat "${SERPHONA_HEALTHCHECK_PORT_FILE:-/usr/share/serphona/ops-port}" 2>/dev/null) || exit 1
fi
[[ $port =~ ^[0-9]+$ ]] || exit 1
timeout_s=${SERPHONA_HEALTHCHECK_TIMEOUT_S:-3}

# The service binds SERPHONA_BIND_ADDR (0.0.0.0 in the image), so loopback
# reaches it from inside the container.
exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
printf 'GET /health/%s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' "$probe" >&3
IFS= read -r -t "$timeout_s" status <&3 || exit 1
[[ $status =~ ^HTTP/1\.[01]\ 200[\ $'\r'] ]] && exit 0
exit 1
