#!/usr/bin/env bash
# The cluster benchmark: scheduling over 1, 2, 4 and 8 raylets, each on
# its own test host (network namespace, tests/netns/hosts.sh) with 2 CPU
# slots, and object transfer between two hosts against a plain ZeroMQ
# stream between the same two hosts.  Needs root; run after a build:
#
#   sudo bash bench/cluster_bench.sh [BUILD_DIR]     (default: build)
#
# The driver runs on host 0, beside the head's node.  Prints a Markdown
# table (the README's) and the raw figures.  Stops and removes everything
# it started, also on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(cd "${1:-build}" && pwd)
hosts=tests/netns/hosts.sh
pdc=$build/runtime/pdc
bench=$build/bench/pdc-cluster-bench
stream=$build/bench/pdc-zmq-stream
export PDC_BENCH_LIB=$build/bench/libpdc_bench_tasks.so
export PDC_BIN_DIR=$build/runtime
export PDC_SESSION_ROOT=/tmp/pdc-bench-$$
head=10.213.0.1:6380
[ "$(id -u)" = 0 ] || { echo "cluster_bench: needs root (network namespaces)" >&2; exit 2; }
mkdir -p "$PDC_SESSION_ROOT"
cleanup() {
    "$pdc" stop >/dev/null 2>&1 || true
    "$hosts" down
    rm -rf "$PDC_SESSION_ROOT"
}
trap cleanup EXIT

cluster_up() { # N hosts, each a node with 2 CPU
    "$hosts" up "$1"
    "$hosts" run 0 "$pdc" start --head --node-ip-address 10.213.0.1 --port 6380 --num-cpus 2 --insecure >/dev/null
    for ((i = 1; i < $1; i++)); do
        "$hosts" run "$i" "$pdc" start --address "tcp://$head" --num-cpus 2 --insecure >/dev/null
    done
}
cluster_down() {
    "$pdc" stop >/dev/null
    "$hosts" down
}
field() { awk -v k="$1" '$1 == k {print $2}' <<<"$2"; }

rows=()
for n in 1 2 4 8; do
    cluster_up "$n"
    out=$("$hosts" run 0 env PDC_ADDRESS="tcp://$head" "$bench" scaling --slots $((2 * n)) --rounds 3)
    echo "== $n raylets"$'\n'"$out" >&2
    rows+=("| $n | $((2 * n)) | $(field noop_tasks_per_s "$out") | $(field sleep_tasks "$out") | $(field sleep_ideal_s "$out") | $(field sleep_measured_s "$out") | $(awk '{printf "%.1f%%", $1 * 100}' <<<"$(field sleep_efficiency "$out")") |")
    cluster_down
done

cluster_up 2
node1=$("$hosts" run 0 "$pdc" status --address "tcp://$head" | awk '/tcp:\/\/10.213.0.2:/ {print $2}')
xfer=$("$hosts" run 0 env PDC_ADDRESS="tcp://$head" "$bench" transfer --from "$node1" --mib 256 --rounds 9)
echo "== transfer"$'\n'"$xfer" >&2
cluster_down
"$hosts" up 2
"$hosts" run 0 "$stream" recv --bind tcp://10.213.0.1:7100 --mib 256 --rounds 9 >"$PDC_SESSION_ROOT/stream.out" &
recv=$!
sleep 0.3
"$hosts" run 1 "$stream" send --connect tcp://10.213.0.1:7100 --mib 256 --rounds 9
wait "$recv"
plain=$(field zmq_stream_gbs "$(cat "$PDC_SESSION_ROOT/stream.out")")
echo "== plain zmq stream: $plain GB/s" >&2

echo
echo "| raylets | slots | no-op tasks/s | 10 ms tasks | ideal s | measured s | efficiency |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
echo
warm=$(field transfer_warm_gbs "$xfer")
echo "| 256 MiB between two hosts | GB/s |"
echo "|---|---:|"
echo "| pdc pull, first (fresh store pages) | $(field transfer_cold_gbs "$xfer") |"
echo "| pdc pull, warm (mean of 8) | $warm |"
echo "| plain ZeroMQ stream, same chunks and window | $plain |"
echo "| pdc / plain | $(awk -v a="$warm" -v b="$plain" 'BEGIN {printf "%.0f%%", 100 * a / b}') |"
