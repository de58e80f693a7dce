#!/usr/bin/env bash
# A pdc cluster on four test hosts (network namespaces, tests/netns/hosts.sh):
# a head on host 0 at 10.213.0.1 and nodes on hosts 1-3 join it over TCP;
# pdc status sees four nodes alive; a driver on host 2 runs the pi example
# against the cluster; a node killed with SIGKILL is declared dead by the
# head within a few heartbeats.  Everything is stopped and removed at the
# end, also when a check fails.  Skips (exit 77) without root or netns.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
hosts=$here/hosts.sh
pdc=${PDC_BIN_DIR:?run through meson test}/pdc
examples=${PDC_EXAMPLES_DIR:?run through meson test}
head=10.213.0.1:6380

if [ "$(id -u)" != 0 ] || ! ip netns add "pdc-probe-$$" 2>/dev/null; then
    echo "SKIP: network namespaces need root and ip netns"
    exit 77
fi
ip netns del "pdc-probe-$$"

export PDC_SESSION_ROOT=/tmp/pdc-test/netns-$$
mkdir -p "$PDC_SESSION_ROOT"
cleanup() {
    "$pdc" stop >/dev/null 2>&1 || true
    "$hosts" down
    rm -rf "$PDC_SESSION_ROOT"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*"
    exit 1
}

"$hosts" up 4
"$hosts" run 0 "$pdc" start --head --node-ip-address 10.213.0.1 --port 6380 --insecure \
    || fail "the head did not start"
declare -a dirs
for i in 1 2 3; do
    out=$("$hosts" run "$i" "$pdc" start --address "tcp://$head" --num-cpus 1) || fail "node $i: $out"
    dirs[$i]=$(sed -n 's/.*logs in \(.*\)\/logs$/\1/p' <<<"$out")
done

status=$("$hosts" run 1 "$pdc" status --address "tcp://$head")
grep -q "4 nodes alive, 0 dead" <<<"$status" || fail "status: $status"
echo "ok: 4 nodes registered over TCP"

out=$("$hosts" run 2 env PDC_ADDRESS="tcp://$head" "$examples/pdc-example-pi" --tasks 8) \
    || fail "pi on host 2: $out"
echo "ok: a driver on host 2 ran pi: $out"

victim=$(cat "${dirs[3]}/raylet.pid")
kill -9 "$victim"
start=$(date +%s%N)
for _ in $(seq 1 60); do
    status=$("$hosts" run 1 "$pdc" status --address "tcp://$head")
    grep -q "3 nodes alive, 1 dead" <<<"$status" && break
    sleep 0.1
done
grep -q "3 nodes alive, 1 dead" <<<"$status" || fail "the killed node is not dead after 6 s: $status"
echo "ok: the killed node was declared dead after $(( ($(date +%s%N) - start) / 1000000 )) ms"
echo "netns: 3 passed, 0 failed"
