# What the namespace cluster tests share (sourced by test_cluster.sh,
# test_jobs.sh, test_partition.sh and test_chaos.sh): skipping without
# namespaces, counting checks, failing with every node's log tail,
# retrying a check, and starting a node on a test host with pdc start.
# The sourcing script sets suite (its name in the summary line), hosts
# (hosts.sh) and pdc (the pdc command).
passed=0
declare -a ids dirs
# Exit 77 (meson's skip) with a message unless this can make namespaces.
netns_or_skip() {
    if [ "$(id -u)" != 0 ] || ! ip netns add "pdc-probe-$$" 2>/dev/null; then
        echo "SKIP: network namespaces need root and ip netns"
        exit 77
    fi
    ip netns del "pdc-probe-$$"
}
ok() {
    echo "ok: $*"
    passed=$((passed + 1))
}
# On a failure, what each node's logs say (the session root goes at exit).
node_logs() {
    local host log
    for host in "${!dirs[@]}"; do
        for log in "${dirs[$host]}"/logs/*.log; do
            [ -s "$log" ] || continue
            echo "--- host $host (node ${ids[$host]}): $(basename "$log"), last 40 lines"
            tail -n 40 "$log"
        done
    done
}
fail() {
    echo "FAIL: $*"
    node_logs
    echo "$suite: $passed passed, 1 failed"
    exit 1
}
# Run a check every 0.1 s until it holds, at most $1 times.
retry() {
    local tries=$1 try
    shift
    for ((try = 0; try < tries; try++)); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}
# Start a node on host $1 with the pdc start options after it (and
# --insecure: the hosts talk over their bridge addresses); its node id
# into ids[host], its session directory into dirs[host], what pdc start
# said into $started.
start_node() {
    local host=$1
    shift
    started=$("$hosts" run "$host" "$pdc" start "$@" --insecure 2>&1) || fail "host $host: $started"
    ids[$host]=$(sed -n 's/.*(node \([0-9a-f]*\),.*/\1/p' <<<"$started")
    dirs[$host]=$(sed -n 's/.*logs in \(.*\)\/logs$/\1/p' <<<"$started")
}
