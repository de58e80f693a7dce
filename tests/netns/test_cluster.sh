#!/usr/bin/env bash
# A pdc cluster on five test hosts (network namespaces, tests/netns/hosts.sh),
# every message between nodes on real TCP:
#
#   host 0  10.213.0.1  the head and a node          (1 CPU)
#   host 1  10.213.0.2  a node with GPU=1            (1 CPU)
#   host 2  10.213.0.3  a node labelled tier=edge    (1 CPU)
#   host 3  10.213.0.4  a node labelled tier=edge    (1 CPU)
#   host 4  10.213.0.5  a node that is killed with SIGKILL
#   host 5  10.213.0.6  a node whose object store holds only 64 MiB
#
# Checks: the nodes register over TCP and pdc status sees them; a killed
# node is declared dead; a driver on host 1 runs cluster_check (GPU and
# edge placement, spread of 400 tasks, hard and soft affinity to the dead
# node, a 100 MiB object made on one node and read on another, the same
# refused by the small store, 10 000 ordered calls to actors on other
# hosts, a library that reaches nodes as a code package); the blocked
# matmul example
# spread over the four nodes gives the same C, bit for bit, as on an
# embedded single-node cluster, and moved objects between nodes.
# Everything is stopped and removed at the end, also when a check fails.
# Skips (exit 77) without root or netns.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
hosts=$here/hosts.sh
pdc=${PDC_BIN_DIR:?run through meson test}/pdc
examples=${PDC_EXAMPLES_DIR:?run through meson test}
tests=${PDC_TESTS_DIR:?run through meson test}
lib=${PDC_TEST_LIB:?run through meson test}
head=10.213.0.1:6380

# shellcheck source=common.sh
source "$here/common.sh"
netns_or_skip

export PDC_SESSION_ROOT=/tmp/pdc-test/netns-$$
# Requests no node can run fail after 2 s here, not 30 s.
export PDC_INFEASIBLE_TIMEOUT_MS=2000
mkdir -p "$PDC_SESSION_ROOT"
cleanup() {
    "$pdc" stop >/dev/null 2>&1 || true
    "$hosts" down
    rm -rf "$PDC_SESSION_ROOT"
}
trap cleanup EXIT
suite=netns

cluster_status() { "$hosts" run 1 "$pdc" status --address "tcp://$head"; }
status_says() { cluster_status | grep -q "$1"; }
# A cluster_check mode in the background on host $1, its output in $2,
# started once the output says $3; its pid in $bg.
background_check() {
    local host=$1 out=$2 ready=$3
    shift 3
    "$hosts" run "$host" env PDC_ADDRESS="tcp://$head" timeout 150 "$tests/pdc-cluster-check" --lib "$lib" \
        "$@" >"$out" 2>&1 &
    bg=$!
    retry 100 grep -q "$ready" "$out"
}

"$hosts" up 6
start_node 0 --head --node-ip-address 10.213.0.1 --port 6380 --num-cpus 1
start_node 1 --address "tcp://$head" --num-cpus 1 --resources GPU=1
start_node 2 --address "tcp://$head" --num-cpus 1 --labels tier=edge
start_node 3 --address "tcp://$head" --num-cpus 1 --labels tier=edge,zone=b
start_node 4 --address "tcp://$head" --num-cpus 1
start_node 5 --address "tcp://$head" --num-cpus 1 --set object_store_memory=67108864

status=$(cluster_status)
grep -q "6 nodes alive, 0 dead" <<<"$status" || fail "status: $status"
grep -q "tcp://10.213.0.4:.*labels tier=edge,zone=b" <<<"$status" || fail "status shows no labels: $status"
ok "6 nodes registered over TCP, each on its own host address, with their labels"

victim=$(cat "${dirs[4]}/raylet.pid")
kill -9 "$victim"
start=$(date +%s%N)
retry 60 status_says "5 nodes alive, 1 dead" || fail "the killed node is not dead after 6 s: $(cluster_status)"
ok "the killed node was declared dead after $(( ($(date +%s%N) - start) / 1000000 )) ms"

nodes="${ids[5]},${ids[0]},${ids[1]},${ids[2]},${ids[3]}"
out=$("$hosts" run 1 env PDC_ADDRESS="tcp://$head" timeout 200 "$tests/pdc-cluster-check" --lib "$lib" \
    --nodes "$nodes" --gpu-node "${ids[1]}" --edge-nodes "${ids[2]},${ids[3]}" --dead-node "${ids[4]}" \
    --small-node "${ids[5]}") \
    || { echo "$out"; fail "cluster_check on host 1"; }
echo "$out"
ok "cluster_check ran on host 1 with no failure"

# A driver killed with SIGKILL on a live host: the node holding its actor
# stops hearing its keepalives and stops the actor.
holder_out=$PDC_SESSION_ROOT/hold.out
background_check 2 "$holder_out" holding --nodes "${ids[3]},${ids[0]}" --only hold
grep -q "^ok: an actor placed" "$holder_out" || fail "the holding driver: $(cat "$holder_out")"
actors_on_0() { cluster_status | awk -v id="${ids[0]}" '
    $1 == "node" && $2 == id {mine = 1; next} mine && /store/ {sub(/.*objects\), /, ""); print $1; exit}'; }
no_actor_on_0() { [ "$(actors_on_0)" = 0 ]; }
[ "$(actors_on_0)" = 1 ] || fail "node 0 shows $(actors_on_0) actors while the driver holds one"
pkill -9 -f "pdc-cluster-check.*--only hold" || true
wait "$bg" 2>/dev/null || true
start=$(date +%s%N)
retry 100 no_actor_on_0 || fail "node 0 still runs the actor of a driver killed 10 s ago"
ok "the actor of a driver killed with SIGKILL on another host stopped after $(( ($(date +%s%N) - start) / 1000000 )) ms"

# The matmul runs on exactly four nodes: the small-store node stops first.
kill "$(cat "${dirs[5]}/raylet.pid")"
retry 60 status_says "4 nodes alive, 2 dead" || fail "the small-store node did not stop: $(cluster_status)"
single=$(timeout 60 "$examples/pdc-example-matmul" --n 512 --block 128) || fail "matmul on one node: $single"
multi=$("$hosts" run 2 env PDC_ADDRESS="tcp://$head" timeout 60 "$examples/pdc-example-matmul" --n 512 \
    --block 128 --spread) || fail "matmul on 4 nodes: $multi"
sum1=$(sed -n 's/^checksum of C = //p' <<<"$single")
sum4=$(sed -n 's/^checksum of C = //p' <<<"$multi")
[ -n "$sum1" ] && [ "$sum1" = "$sum4" ] || fail "matmul: one node gave '$sum1', four nodes '$sum4'"
moved=$("$hosts" run 2 "$pdc" status -v --address "tcp://$head" | awk '$1 == "transfer_bytes_in" && $2 > 0 {n++} END {print n + 0}')
[ "$moved" -ge 2 ] || fail "matmul --spread moved objects into only $moved nodes"
[ "$moved" -le 4 ] || fail "matmul --spread ran on $moved nodes, not 4"
ok "blocked matmul spread over 4 nodes (objects pulled into $moved of them) equals the single-node C ($sum4)"

# A node killed while spread tasks run on it: they are retried on the
# others and every one ends with its result.
survivor_out=$PDC_SESSION_ROOT/survive.out
background_check 1 "$survivor_out" submitted --nodes "${ids[0]},${ids[1]},${ids[2]},${ids[3]}" --only survive \
    || fail "the surviving driver: $(cat "$survivor_out")"
sleep 0.5
kill -9 "$(cat "${dirs[3]}/raylet.pid")"
wait "$bg" || { cat "$survivor_out"; fail "tasks were lost when a node died"; }
ok "$(sed -n 's/^ok: //p' "$survivor_out")"

echo "netns: $passed passed, 0 failed"
