#!/usr/bin/env bash
# An object over 4 GiB between hosts, on two test hosts (network
# namespaces, tests/netns/hosts.sh), every message on real TCP:
#
#   host 0  10.213.0.1  the head and a node, and the driver   (store 6 GiB)
#   host 1  10.213.0.2  a node                                (store 6 GiB)
#
# The driver (cluster_check --only big) puts a 5 GiB object, which the
# store keeps in parts (LMDB holds at most 4 GiB a value), and a task on
# host 1 reads it whole after its raylet pulled it over TCP: the sums of
# its words match.  Checks also that host 1 took in the 5 GiB and that
# pdc stop leaves no session or store.  Skips (exit 77) without root or
# netns, or without 12 GiB of /dev/shm and 14 GiB of memory free.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
hosts=$here/hosts.sh
pdc=${PDC_BIN_DIR:?run through meson test}/pdc
tests=${PDC_TESTS_DIR:?run through meson test}
lib=${PDC_TEST_LIB:?run through meson test}
head=10.213.0.1:6380
store=$((6 << 30))

# shellcheck source=common.sh
source "$here/common.sh"
netns_or_skip
shm_free=$(($(df --output=avail -B1M /dev/shm | tail -1)))
mem_free=$(awk '$1 == "MemAvailable:" {print int($2 / 1024)}' /proc/meminfo)
if [ "$shm_free" -lt $((12 << 10)) ] || [ "$mem_free" -lt $((14 << 10)) ]; then
    echo "SKIP: two copies of a 5 GiB object need 12 GiB of /dev/shm and 14 GiB of memory:" \
        "$((shm_free >> 10)) and $((mem_free >> 10)) GiB free here"
    exit 77
fi

export PDC_SESSION_ROOT=/tmp/pdc-test/big-$$
mkdir -p "$PDC_SESSION_ROOT"
cleanup() {
    "$pdc" stop >/dev/null 2>&1 || true
    "$hosts" down
    rm -rf "$PDC_SESSION_ROOT"
}
trap cleanup EXIT
suite=big_hosts

cluster_status() { "$hosts" run 0 "$pdc" status --address "tcp://$head"; }

"$hosts" up 2
start_node 0 --head --node-ip-address 10.213.0.1 --port 6380 --num-cpus 1 \
    --set object_store_memory=$store
start_node 1 --address "tcp://$head" --num-cpus 1 --set object_store_memory=$store
retry 50 eval 'cluster_status | grep -q "2 nodes alive, 0 dead"' || fail "status: $(cluster_status)"
ok "2 nodes with 6 GiB stores registered over TCP"

out=$PDC_SESSION_ROOT/big.out
"$hosts" run 0 env PDC_ADDRESS="tcp://$head" timeout 240 "$tests/pdc-cluster-check" --lib "$lib" \
    --nodes "${ids[0]},${ids[1]}" --only big >"$out" 2>&1 || true
cat "$out"
grep -q "cluster: 1 passed, 0 failed" "$out" || fail "the check of the 5 GiB object (above)"
ok "a 5 GiB object crossed hosts and was read whole"

pulled=$("$hosts" run 0 "$pdc" status -v --address "tcp://$head" |
    awk -v id="${ids[1]}" '$1 == "node" {cur = $2} cur == id && $1 == "transfer_bytes_in" {print $2}')
[ "${pulled:-0}" -ge $((5 << 30)) ] || fail "host 1 took in ${pulled:-nothing} bytes, not 5 GiB"
ok "host 1 pulled $((pulled >> 20)) MiB"

"$pdc" stop >/dev/null 2>&1 || fail "pdc stop"
nodes=$(find "$PDC_SESSION_ROOT" -maxdepth 1 -name 'node-*' | head -3)
[ -z "$nodes" ] || fail "session directories left after pdc stop: $nodes"
ok "pdc stop left no session"

echo "$suite: $passed passed, 0 failed"
