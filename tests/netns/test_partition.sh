#!/usr/bin/env bash
# A node cut off from the cluster and back, on three test hosts (network
# namespaces, tests/netns/hosts.sh), every message on real TCP:
#
#   host 0  10.213.0.1  the head and a node, and the driver   (1 CPU)
#   host 1  10.213.0.2  a node                                (1 CPU)
#   host 2  10.213.0.3  a node whose link is taken down       (1 CPU)
#
# The driver (cluster_check --only partition) submits 40 spread tasks of
# 2 s and one pinned to host 2's node; the script takes host 2's link
# down for 3 s (past node_timeout_ms, 1 s: the head declares the node
# dead), then up again.  Checks: every task gets an answer (its result,
# or an error code; none hangs); the node rejoins (pdc status: 3 alive);
# the same driver then runs a task pinned to it and an actor on it.
# Everything is stopped and removed at the end, also when a check fails.
# Skips (exit 77) without root or netns.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
hosts=$here/hosts.sh
pdc=${PDC_BIN_DIR:?run through meson test}/pdc
tests=${PDC_TESTS_DIR:?run through meson test}
lib=${PDC_TEST_LIB:?run through meson test}
head=10.213.0.1:6380

# shellcheck source=common.sh
source "$here/common.sh"
netns_or_skip

export PDC_SESSION_ROOT=/tmp/pdc-test/partition-$$
mkdir -p "$PDC_SESSION_ROOT"
cleanup() {
    ip link set pdc-v2 up 2>/dev/null || true
    "$pdc" stop >/dev/null 2>&1 || true
    "$hosts" down
    rm -rf "$PDC_SESSION_ROOT"
}
trap cleanup EXIT
suite=partition

cluster_status() { "$hosts" run 0 "$pdc" status --address "tcp://$head"; }
status_says() { cluster_status | grep -q "$1"; }

"$hosts" up 3
start_node 0 --head --node-ip-address 10.213.0.1 --port 6380 --num-cpus 1
start_node 1 --address "tcp://$head" --num-cpus 1
start_node 2 --address "tcp://$head" --num-cpus 1
retry 50 status_says "3 nodes alive, 0 dead" || fail "status: $(cluster_status)"
ok "3 nodes registered over TCP"

out=$PDC_SESSION_ROOT/partition.out
"$hosts" run 0 env PDC_ADDRESS="tcp://$head" timeout 150 "$tests/pdc-cluster-check" --lib "$lib" \
    --nodes "${ids[0]},${ids[1]},${ids[2]}" --dead-node "${ids[2]}" --only partition >"$out" 2>&1 &
bg=$!
retry 100 grep -q submitted "$out" || fail "the driver did not submit: $(cat "$out")"
sleep 0.5
ip link set pdc-v2 down
start=$(date +%s%N)
retry 60 status_says "2 nodes alive, 1 dead" || fail "the cut node is not dead after 6 s: $(cluster_status)"
ok "the cut node was declared dead after $(( ($(date +%s%N) - start) / 1000000 )) ms"
sleep 2
ip link set pdc-v2 up
start=$(date +%s%N)
retry 100 status_says "3 nodes alive, 0 dead" || fail "the node did not rejoin within 10 s: $(cluster_status)"
ok "the node rejoined $(( ($(date +%s%N) - start) / 1000000 )) ms after its link came back"
wait "$bg" || { cat "$out"; fail "the driver across the partition"; }
cat "$out"
ok "every task was answered and the rejoined node serves the same driver"

echo "partition: $passed passed, 0 failed"
