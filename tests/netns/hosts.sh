#!/usr/bin/env bash
# Test hosts for pdc: network namespaces on a bridge, each its own host
# with its own address, so that messages between nodes cross real TCP.
#
#   tests/netns/hosts.sh up N     make hosts pdc-h0 .. pdc-h(N-1) at
#                                 10.213.0.1 .. 10.213.0.N on bridge pdc-br0
#   tests/netns/hosts.sh down     remove them (safe to run twice)
#   tests/netns/hosts.sh run I CMD...   run CMD on host I
#
# Needs root (CI runs as root).  Traffic stays on these namespaces'
# own addresses; nothing is routed off the bridge.
set -euo pipefail

BRIDGE=pdc-br0
NET=10.213.0

down() {
    # The host-side ends of the veth pairs first: a deleted namespace
    # takes its pair away only later, asynchronously.
    for link in $(ip -o link show 2>/dev/null | sed -n 's/^[0-9]*: \(pdc-v[0-9]*\)@.*/\1/p'); do
        ip link del "$link" 2>/dev/null || true
    done
    for ns in $(ip netns list 2>/dev/null | awk '/^pdc-h[0-9]+/ {print $1}'); do
        ip netns del "$ns" 2>/dev/null || true
    done
    ip link del "$BRIDGE" 2>/dev/null || true
}

up() {
    local n=$1
    down
    ip link add "$BRIDGE" type bridge
    ip link set "$BRIDGE" up
    for ((i = 0; i < n; i++)); do
        local ns=pdc-h$i
        ip netns add "$ns"
        ip link add "pdc-v$i" type veth peer name eth0 netns "$ns"
        ip link set "pdc-v$i" master "$BRIDGE" up
        ip -n "$ns" addr add "$NET.$((i + 1))/24" dev eth0
        ip -n "$ns" link set eth0 up
        ip -n "$ns" link set lo up
    done
}

case "${1:-}" in
up) up "${2:?how many hosts}" ;;
down) down ;;
run)
    host=${2:?which host}
    shift 2
    exec ip netns exec "pdc-h$host" "$@"
    ;;
*)
    echo "usage: $0 up N | down | run I CMD..." >&2
    exit 2
    ;;
esac
