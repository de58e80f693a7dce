#!/usr/bin/env bash
# Spilling between hosts, on two test hosts (network namespaces,
# tests/netns/hosts.sh), every message on real TCP:
#
#   host 0  10.213.0.1  the head and a node, and the driver   (store 64 MiB)
#   host 1  10.213.0.2  a node                                (store 64 MiB)
#
# The driver (cluster_check --only spill) holds three times each store:
# objects made on host 1 are read on host 0 from host 1's spill files,
# and host 0's copies are evicted and pulled again; objects put on host 0
# are read by tasks on host 1 from host 0's spill files.  Checks: every
# byte matches; both hosts spilled; host 0 pulled its evicted copies
# again; when the driver has released them, no spill file is left
# on either host; pdc stop leaves no session, spill directory or store.
# Skips (exit 77) without root or netns.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
hosts=$here/hosts.sh
pdc=${PDC_BIN_DIR:?run through meson test}/pdc
tests=${PDC_TESTS_DIR:?run through meson test}
lib=${PDC_TEST_LIB:?run through meson test}
head=10.213.0.1:6380
store=$((64 << 20))

# shellcheck source=common.sh
source "$here/common.sh"
netns_or_skip

export PDC_SESSION_ROOT=/tmp/pdc-test/spill-$$
mkdir -p "$PDC_SESSION_ROOT"
cleanup() {
    "$pdc" stop >/dev/null 2>&1 || true
    "$hosts" down
    rm -rf "$PDC_SESSION_ROOT"
}
trap cleanup EXIT
suite=spill_hosts

cluster_status() { "$hosts" run 0 "$pdc" status --address "tcp://$head"; }
# The spill files of host $1's node.
spill_files() { find "${dirs[$1]}/spill" -type f 2>/dev/null | wc -l; }

"$hosts" up 2
start_node 0 --head --node-ip-address 10.213.0.1 --port 6380 --num-cpus 1 \
    --set object_store_memory=$store
start_node 1 --address "tcp://$head" --num-cpus 1 --set object_store_memory=$store
retry 50 eval 'cluster_status | grep -q "2 nodes alive, 0 dead"' || fail "status: $(cluster_status)"
ok "2 nodes with 64 MiB stores registered over TCP"

out=$PDC_SESSION_ROOT/spill.out
"$hosts" run 0 env PDC_ADDRESS="tcp://$head" timeout 240 "$tests/pdc-cluster-check" --lib "$lib" \
    --nodes "${ids[0]},${ids[1]}" --only spill >"$out" 2>&1 &
driver=$!
# The most spill files each host had while the driver ran.
most=(0 0)
while kill -0 "$driver" 2>/dev/null; do
    for h in 0 1; do
        n=$(spill_files "$h")
        [ "$n" -le "${most[$h]}" ] || most[$h]=$n
    done
    sleep 0.1
done
wait "$driver" || true
cat "$out"
grep -q "cluster: 2 passed, 0 failed" "$out" || fail "the spill checks (above)"
[ "${most[0]}" -gt 0 ] && [ "${most[1]}" -gt 0 ] ||
    fail "a host never spilled: at most ${most[0]} files on host 0, ${most[1]} on host 1"
ok "three times each store crossed hosts through spill files (at most ${most[0]} on host 0, ${most[1]} on host 1), every byte right"

# Host 0 read 24 copies of 8 MiB twice through a 64 MiB store: its
# copies were evicted and pulled again, so it took in more than 24.
pulled=$("$hosts" run 0 "$pdc" status -v --address "tcp://$head" |
    awk -v id="${ids[0]}" '$1 == "node" {cur = $2} cur == id && $1 == "transfer_bytes_in" {print $2}')
[ "${pulled:-0}" -gt $((30 * (8 << 20))) ] ||
    fail "host 0 pulled ${pulled:-nothing} bytes: its evicted copies were not pulled again"
ok "host 0's evicted copies were pulled again ($((pulled >> 20)) MiB pulled for 2 x 24 x 8 MiB read)"

gone() { [ "$(spill_files 0)" = 0 ] && [ "$(spill_files 1)" = 0 ]; }
retry 100 gone || fail "spill files left after the driver let go: host 0 $(spill_files 0), host 1 $(spill_files 1)"
ok "no spill file left on either host once the driver released its objects"

spills=("${dirs[0]}/spill" "${dirs[1]}/spill")
"$pdc" stop >/dev/null 2>&1 || fail "pdc stop"
for d in "${spills[@]}"; do
    [ ! -e "$d" ] || fail "$d left after pdc stop"
done
nodes=$(find "$PDC_SESSION_ROOT" -maxdepth 1 -name 'node-*' | head -3)
[ -z "$nodes" ] || fail "session directories left after pdc stop: $nodes"
ok "pdc stop left no spill directory or session"

echo "$suite: $passed passed, 0 failed"
