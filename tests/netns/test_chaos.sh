#!/usr/bin/env bash
# The chaos test: work that must come out right while a nemesis breaks
# the cluster, on four test hosts (network namespaces, tests/netns/hosts.sh),
# every message on real TCP:
#
#   host 0  10.213.0.1  the head and a node, and the drivers  (1 CPU)
#   hosts 1-3           nodes the nemesis kills and cuts off   (1 CPU each)
#
# The work, from host 0: chaos_driver (a 2 000-task chain spread over the
# nodes, whose lost links lineage rebuilds, and 2 000 idempotent marks to
# a Ledger actor with max_restarts -1 and max_task_retries -1), and the
# blocked matmul example spread over the nodes, checked against one
# cblas_dgemm.  The nemesis, drawn from CHAOS_SEED (default 1): every
# second it kills a random worker on a random host with SIGKILL; twice it
# kills a random node's raylet (never host 0's: the drivers' own) and
# starts a node there again 3 s later; once it takes a host's link down
# for 3 s (past node_timeout_ms, 1 s) and up again; once it kills the
# head with SIGKILL and starts it again on its session.
# Checks: every result is right; the work ends within CHAOS_BOUND_S
# (240 s); afterwards every live node has all its CPUs free, and pdc stop
# leaves no process, socket, session or store of any node, dead or alive.
# Skips (exit 77) without root or netns.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
hosts=$here/hosts.sh
pdc=${PDC_BIN_DIR:?run through meson test}/pdc
examples=${PDC_EXAMPLES_DIR:?run through meson test}
tests=${PDC_TESTS_DIR:?run through meson test}
lib=${PDC_TEST_LIB:?run through meson test}
head=10.213.0.1:6380
seed=${CHAOS_SEED:-1}
# CHAOS_NEMESIS=off runs the same work without faults (the baseline time).
nemesis_on=${CHAOS_NEMESIS:-on}
bound=${CHAOS_BOUND_S:-240}

# shellcheck source=common.sh
source "$here/common.sh"
netns_or_skip

export PDC_SESSION_ROOT=/tmp/pdc-test/chaos-$$
mkdir -p "$PDC_SESSION_ROOT"
stores=$PDC_SESSION_ROOT.stores
cleanup() {
    for h in 1 2 3; do ip link set "pdc-v$h" up 2>/dev/null || true; done
    [ -n "${nemesis_pid:-}" ] && kill "$nemesis_pid" 2>/dev/null || true
    "$pdc" stop >/dev/null 2>&1 || true
    "$hosts" down
    rm -rf "$PDC_SESSION_ROOT" "$stores"
}
trap cleanup EXIT
suite=chaos

cluster_status() { "$hosts" run 0 "$pdc" status --address "tcp://$head"; }
# Every store a node of this test made, for the check at the end.
note_store() { echo "$(cat "${dirs[$1]}/store.path")" >>"$stores"; }

"$hosts" up 4
start_node 0 --head --node-ip-address 10.213.0.1 --port 6380 --num-cpus 1
note_store 0
for h in 1 2 3; do
    start_node "$h" --address "tcp://$head" --num-cpus 1
    note_store "$h"
done
retry 50 eval 'cluster_status | grep -q "4 nodes alive, 0 dead"' || fail "status: $(cluster_status)"
ok "4 nodes registered over TCP (nemesis seed $seed)"

# The nemesis: its own random stream, so a seed replays the same faults.
nemesis() {
    RANDOM=$seed
    local step=0 killed h pid
    while :; do
        step=$((step + 1))
        h=$((1 + RANDOM % 3))
        pid=$(pgrep -P "$(cat "${dirs[$h]}/raylet.pid" 2>/dev/null || echo 1)" 2>/dev/null | shuf -n 1 --random-source=<(yes "$seed$step") || true)
        if [ -n "$pid" ]; then
            kill -9 "$pid" 2>/dev/null && echo "nemesis $step: killed worker $pid on host $h"
        fi
        case $step in
        3 | 14)
            killed=$((1 + RANDOM % 3))
            kill -9 "$(cat "${dirs[$killed]}/raylet.pid")" 2>/dev/null || true
            echo "nemesis $step: killed the raylet of host $killed (node ${ids[$killed]})"
            sleep 3
            start_node "$killed" --address "tcp://$head" --num-cpus 1
            note_store "$killed"
            echo "nemesis $step: host $killed runs node ${ids[$killed]}"
            ;;
        7)
            h=$((1 + RANDOM % 3))
            ip link set "pdc-v$h" down
            echo "nemesis $step: took host $h's link down"
            sleep 3
            ip link set "pdc-v$h" up
            echo "nemesis $step: host $h's link is up"
            ;;
        10)
            kill -9 "$(cat "${dirs[0]}/head.pid")"
            echo "nemesis $step: killed the head"
            sleep 1
            "$hosts" run 0 "$pdc" start --head --node-ip-address 10.213.0.1 --port 6380 \
                --num-cpus 1 --insecure >/dev/null 2>&1 || echo "nemesis $step: the head did not restart"
            echo "nemesis $step: the head is back"
            ;;
        esac
        sleep 1
    done
}

start=$(date +%s)
driver_out=$PDC_SESSION_ROOT/driver.out matmul_out=$PDC_SESSION_ROOT/matmul.out
"$hosts" run 0 env PDC_ADDRESS="tcp://$head" timeout "$bound" "$tests/pdc-chaos-driver" --lib "$lib" \
    --ledger "$PDC_SESSION_ROOT/ledger" --chain 2000 --marks 2000 --pace-ms 1200 >"$driver_out" 2>&1 &
driver=$!
# The matmul runs again and again (new matrices each time) while the
# driver works, so that every fault meets one.
matmuls() {
    local round=0
    while kill -0 "$driver" 2>/dev/null; do
        round=$((round + 1))
        echo "matmul round $round at $(date +%T.%N)"
        "$hosts" run 0 env PDC_ADDRESS="tcp://$head" timeout -v "$bound" "$examples/pdc-example-matmul" \
            --n 384 --block 64 --seed "$round" --spread --timeout "$bound" || {
            echo "matmul round $round failed (exit $?)"
            return 1
        }
    done
    echo "matmul: $round rounds"
}
matmuls >"$matmul_out" 2>&1 &
matmul=$!
if [ "$nemesis_on" = off ]; then
    echo "nemesis: off" >"$PDC_SESSION_ROOT/nemesis.out"
    sleep 0 &
else
    nemesis >"$PDC_SESSION_ROOT/nemesis.out" 2>&1 &
fi
nemesis_pid=$!
driver_rc=0 matmul_rc=0
wait "$driver" || driver_rc=$?
wait "$matmul" || matmul_rc=$?
kill "$nemesis_pid" 2>/dev/null || true
wait "$nemesis_pid" 2>/dev/null || true
nemesis_pid=
took=$(($(date +%s) - start))
for h in 1 2 3; do ip link set "pdc-v$h" up; done
cat "$PDC_SESSION_ROOT/nemesis.out"
! grep -q "FAIL\|did not restart" "$PDC_SESSION_ROOT/nemesis.out" || fail "the nemesis could not do its part"
if [ "$nemesis_on" = on ]; then
    for fault in "killed the raylet" "link is up" "the head is back"; do
        grep -q "$fault" "$PDC_SESSION_ROOT/nemesis.out" || fail "the work ended before the nemesis: no '$fault'"
    done
    [ "$(grep -c "runs node" "$PDC_SESSION_ROOT/nemesis.out")" = 2 ] || fail "the work ended before the second raylet kill"
fi
cat "$driver_out"
[ "$driver_rc" = 0 ] || fail "the chaos driver (exit $driver_rc)"
ok "the chain and the ledger came out right under the nemesis"
grep -v "^checksum\|^max abs" "$matmul_out" || true
[ "$matmul_rc" = 0 ] || fail "the matmul example (exit $matmul_rc)"
ok "the blocked matmul equaled cblas_dgemm in every one of $(sed -n 's/^matmul: \([0-9]*\) rounds/\1/p' "$matmul_out") rounds under the nemesis"
[ "$took" -le "$bound" ] || fail "the work took $took s, more than $bound s"
ok "the work ended in $took s (bound $bound s, nemesis $nemesis_on)"

# Afterwards: the live nodes' CPUs all come free (no lease left behind).
all_free() {
    cluster_status | awk '$1 == "node" && $3 == "alive" {
        for (i = 4; i < NF; i++) if ($i == "CPU") { if ($(i+1) != $(i+3)) bad = 1 } }
        END { exit bad }'
}
retry 100 all_free || fail "CPUs still held on a live node 10 s after the work: $(cluster_status)"
ok "every live node has all its CPUs free: $(cluster_status | head -1)"

"$pdc" stop >/dev/null 2>&1 || fail "pdc stop"
left=$(pgrep -af "$PDC_SESSION_ROOT" | grep -v "pgrep\|test_chaos" || true)
[ -z "$left" ] || fail "processes left after pdc stop: $left"
socks=$(find "$PDC_SESSION_ROOT" -name '*.sock' 2>/dev/null | head -3)
[ -z "$socks" ] || fail "sockets left after pdc stop: $socks"
nodes=$(find "$PDC_SESSION_ROOT" -maxdepth 1 -name 'node-*' | head -3)
[ -z "$nodes" ] || fail "session directories left after pdc stop: $nodes"
while read -r store; do
    [ ! -e "$store" ] || fail "store $store left after pdc stop"
done <"$stores"
ok "pdc stop left no process, socket, session or store of the $(wc -l <"$stores") nodes that ran"

echo "chaos: $passed passed, 0 failed"
