#!/usr/bin/env bash
# Jobs on a namespace cluster (tests/netns/hosts.sh), submitted with
# pdc-submit from another host, every message on real TCP:
#
#   host 0  10.213.0.1  the head (--insecure-jobs) and a node      (1 CPU)
#   host 1  10.213.0.2  a node labelled role=driver: jobs run here (1 CPU)
#   host 2  10.213.0.3  a node labelled role=spare; pdc-submit runs here,
#                       and its node is killed at the end           (1 CPU)
#
# Checks: a job from host 2 streams its driver's and its workers' output
# (prefixed by node and pid) and returns exit status 0, and a non-zero
# one; the job's library, named by a path relative to its working
# directory, resolves on the two other nodes; SIGINT to pdc-submit stops
# the job and leaves no process, object or directory of it on any node;
# --no-wait, --logs --follow, --status and --list agree; a head started
# without --insecure-jobs refuses a job from another host (and logs it);
# a working directory of twice the size limit is refused, naming the limit;
# a job whose node is killed fails, naming the node.
# Everything is stopped and removed at the end, also when a check fails.
# Skips (exit 77) without root or netns.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
hosts=$here/hosts.sh
bin=${PDC_BIN_DIR:?run through meson test}
pdc=$bin/pdc
tests=${PDC_TESTS_DIR:?run through meson test}
lib=${PDC_TEST_LIB:?run through meson test}
head=tcp://10.213.0.1:6380

# shellcheck source=common.sh
source "$here/common.sh"
netns_or_skip

export PDC_SESSION_ROOT=/tmp/pdc-test/jobs-$$
mkdir -p "$PDC_SESSION_ROOT"
other_head=
cleanup() {
    [ -n "$other_head" ] && kill "$other_head" 2>/dev/null && wait "$other_head" 2>/dev/null
    "$pdc" stop >/dev/null 2>&1 || true
    "$hosts" down
    rm -rf "$PDC_SESSION_ROOT"
}
trap cleanup EXIT
suite=jobs
submit() { "$hosts" run 2 timeout 120 "$bin/pdc-submit" --address "$head" "$@"; }

"$hosts" up 3
start_node 0 --head --node-ip-address 10.213.0.1 --port 6380 --num-cpus 1 --insecure-jobs
grep -q "warning: --insecure-jobs" <<<"$started" || fail "pdc start --insecure-jobs did not warn: $started"
start_node 1 --address "$head" --num-cpus 1 --labels role=driver
start_node 2 --address "$head" --num-cpus 1 --labels role=spare
status() { "$hosts" run 2 "$pdc" status --address "$head"; }
retry 50 eval 'status | grep -q "3 nodes alive"' || fail "3 nodes did not register: $(status)"
status | grep -q "WARNING: the head runs with --insecure-jobs" || fail "pdc status: $(status)"
ok "3 nodes on 3 hosts; pdc status warns that the head takes jobs from any host"

# The job's working directory: its task library under a relative path,
# and files .pdcignore leaves out.
wd=$PDC_SESSION_ROOT/wd
mkdir -p "$wd/lib" "$wd/build"
cp "$lib" "$wd/lib/libtasks.so"
head -c 300000 /dev/urandom >"$wd/build/big.o"
printf '# not needed on the cluster\n/build/\n' >"$wd/.pdcignore"
others="${ids[0]},${ids[2]}"
driver=$tests/pdc-job-driver
run_job() { # exit code, pdc-submit options...: its output in $out, status in $rc
    local code=$1
    shift
    rc=0
    out=$(submit --working-dir "$wd" --label-selector role=driver "$@" -- "$driver" \
        --lib ./lib/libtasks.so --nodes "$others" --exit "$code" 2>&1) || rc=$?
}

run_job 0 --job-id ok-1
[ "$rc" = 0 ] || fail "job ok-1 returned $rc: $out"
grep -q "^driver: job ok-1 on node ${ids[1]} in ${dirs[1]}/jobs/ok-1/work" <<<"$out" ||
    fail "the driver did not run on host 1 in its job directory: $out"
for k in 0 2; do
    grep -q "^(${ids[$k]}, pid=[0-9]*) worker says hello on ${ids[$k]}$" <<<"$out" ||
        fail "no output of the worker on node ${ids[$k]}: $out"
done
grep -q "job ok-1 SUCCEEDED" <<<"$out" || fail "no end of job ok-1: $out"
ok "a job from host 2 ran on host 1; its output and its workers' on hosts 0 and 2 (prefixed) streamed back; exit 0"

for k in 0 2; do
    grep -q "^driver: say on ${ids[$k]} ran on ${ids[$k]}$" <<<"$out" ||
        fail "the relative library did not run on node ${ids[$k]}: $out"
done
grep -q "is at the head already\|uploaded" <<<"$out" || fail "no upload said: $out"
ok "the library named ./lib/libtasks.so in the job resolved on nodes ${ids[0]} and ${ids[2]}"

run_job 7 --job-id fail-7
[ "$rc" = 7 ] || fail "job fail-7 returned $rc, not 7: $out"
grep -q "working directory .* is at the head already" <<<"$out" ||
    fail "the same working directory was uploaded again: $out"
grep -q "job fail-7 FAILED: the driver exited with status 7" <<<"$out" || fail "$out"
ok "a job whose driver exits 7 makes pdc-submit exit 7; its unchanged directory was not sent again"

# Ctrl-C: the job, its workers, actors and objects are gone from every node.
objects_on() { # host: the objects in its node's store
    "$hosts" run 2 "$pdc" status --address "$head" | awk -v id="${ids[$1]}" '
        $1 == "node" && $2 == id {mine = 1; next}
        mine && /store/ {sub(/.*MiB \(/, ""); print $1; exit}'
}
declare -a before
for k in 0 1 2; do before[$k]=$(objects_on "$k"); done
hold_out=$PDC_SESSION_ROOT/hold.out
"$hosts" run 2 timeout --foreground 120 "$bin/pdc-submit" --address "$head" --working-dir "$wd" \
    --label-selector role=driver --job-id hold-1 -- "$driver" --lib ./lib/libtasks.so \
    --nodes "${ids[0]},${ids[1]},${ids[2]}" --hold >"$hold_out" 2>&1 &
submitter=$!
retry 300 grep -q "^driver: still holding" "$hold_out" || fail "the holding job: $(cat "$hold_out")"
"$hosts" run 2 "$bin/pdc-submit" --address "$head" --status hold-1 | grep -q "state: *RUNNING" ||
    fail "hold-1 is not RUNNING"
for k in 0 1 2; do
    [ "$(objects_on "$k")" -gt "${before[$k]}" ] || fail "node $k holds no object of the job"
done
job_processes() { grep -las "PDC_JOB_ID=hold-1" /proc/[0-9]*/environ | wc -l; }
[ "$(job_processes)" -ge 4 ] || fail "only $(job_processes) processes of the job run"
kill -INT "$submitter"
rc=0
wait "$submitter" || rc=$?
[ "$rc" = 130 ] || fail "pdc-submit returned $rc after SIGINT: $(cat "$hold_out")"
grep -q "job hold-1 STOPPED" "$hold_out" || fail "no STOPPED: $(cat "$hold_out")"
none_left() {
    [ "$(job_processes)" = 0 ] || return 1
    local k
    for k in 0 1 2; do
        [ "$(objects_on "$k")" = "${before[$k]}" ] || return 1
        [ ! -e "${dirs[$k]}/jobs/hold-1" ] || return 1
    done
}
retry 100 none_left || fail "after the stop: $(job_processes) processes; objects $(objects_on 0) $(objects_on 1) $(objects_on 2), before ${before[*]}"
ok "SIGINT to pdc-submit stopped job hold-1 (exit 130): no process, object or directory of it is left on any node"

# --no-wait, then --logs --follow, --status and --list tell one story.
id=$(submit --working-dir "$wd" --label-selector role=driver --job-id nowait-1 --no-wait -- \
    "$driver" --lib ./lib/libtasks.so --nodes "${ids[0]}" --sleep-ms 1500 --exit 0 2>/dev/null)
[ "$id" = nowait-1 ] || fail "--no-wait printed '$id'"
early=$(submit --status nowait-1)
grep -Eq "state: *(PENDING|RUNNING)" <<<"$early" || fail "--status right after: $early"
followed=$(submit --logs nowait-1 --follow 2>/dev/null) || fail "--logs --follow failed"
grep -q "^driver: exiting with 0$" <<<"$followed" || fail "--logs --follow: $followed"
kept=$(submit --logs nowait-1 2>/dev/null)
[ "$kept" = "$followed" ] || fail "--logs after the end differs from --follow: '$kept' vs '$followed'"
late=$(submit --status nowait-1)
grep -q "state: *SUCCEEDED" <<<"$late" && grep -q "exit: *0" <<<"$late" || fail "--status: $late"
submit --list | grep -Eq "^nowait-1 +SUCCEEDED +${ids[1]} " || fail "--list: $(submit --list)"
submit --list | grep -Eq "^hold-1 +STOPPED " || fail "--list: $(submit --list)"
ok "--no-wait printed the id; --logs --follow, --logs, --status and --list agree on job nowait-1"

# A head without --insecure-jobs takes jobs only from its own host.
strict_log=$PDC_SESSION_ROOT/strict-head.log
"$hosts" run 0 "$bin/pdc-head" --endpoint tcp://10.213.0.1:6390 >"$strict_log" 2>&1 &
other_head=$!
retry 50 grep -q "serving on" "$strict_log" || fail "the second head: $(cat "$strict_log")"
rc=0
refused=$("$hosts" run 2 timeout 30 "$bin/pdc-submit" --address tcp://10.213.0.1:6390 -- /bin/true 2>&1) ||
    rc=$?
[ "$rc" = 1 ] || fail "a job from another host got $rc: $refused"
grep -q "takes jobs only from its own host.*--insecure-jobs" <<<"$refused" || fail "$refused"
grep -q "refused job submission from 10.213.0.3" "$strict_log" || fail "not logged: $(cat "$strict_log")"
"$hosts" run 2 timeout 30 "$bin/pdc-submit" --address tcp://10.213.0.1:6390 --list >/dev/null ||
    fail "--list from another host was refused"
local_id=$("$hosts" run 0 timeout 30 "$bin/pdc-submit" --address tcp://10.213.0.1:6390 --no-wait \
    -- /bin/true 2>/dev/null) || fail "a job from the head's own host was refused"
"$hosts" run 0 timeout 30 "$bin/pdc-submit" --address tcp://10.213.0.1:6390 --stop "$local_id" \
    >/dev/null 2>&1 || fail "--stop from the head's own host"
ok "a head without --insecure-jobs refused a job from 10.213.0.3 (logged) and took one from its own host"

# Twice the size limit: refused before anything is sent.
mkdir -p "$PDC_SESSION_ROOT/huge"
head -c 131072 /dev/urandom >"$PDC_SESSION_ROOT/huge/data.bin"
rc=0
big=$(PDC_JOB_PACKAGE_MAX_BYTES=65536 "$hosts" run 2 env PDC_JOB_PACKAGE_MAX_BYTES=65536 \
    "$bin/pdc-submit" --address "$head" --working-dir "$PDC_SESSION_ROOT/huge" -- /bin/true 2>&1) ||
    rc=$?
[ "$rc" = 1 ] || fail "a working directory over the limit got $rc: $big"
grep -q "65536.*job_package_max_bytes" <<<"$big" || fail "the refusal does not name the limit: $big"
ok "a working directory of twice job_package_max_bytes was refused: $(head -c 160 <<<"$big")..."

# The node of a running job dies: the job is FAILED, naming the node,
# and its driver does not outlive its raylet.
id=$(submit --label-selector role=spare --job-id orphan-1 --no-wait -- sleep 300 2>/dev/null)
[ "$id" = orphan-1 ] || fail "orphan-1 was not submitted: $id"
running() { submit --status orphan-1 | grep -q "state: *RUNNING"; }
retry 100 running || fail "orphan-1 did not start: $(submit --status orphan-1)"
driver_pid=$(submit --status orphan-1 | sed -n 's/^driver: *pid //p')
kill -9 "$(cat "${dirs[2]}/raylet.pid")"
failed_job() {
    local now
    now=$(submit --status orphan-1)
    grep -q "state: *FAILED" <<<"$now" && grep -q "node ${ids[2]}, where its driver ran, died" <<<"$now"
}
retry 100 failed_job || fail "orphan-1 after its node died: $(submit --status orphan-1)"
gone() { ! kill -0 "$driver_pid" 2>/dev/null; }
retry 50 gone || fail "the driver $driver_pid of orphan-1 outlived its raylet"
ok "a job whose node was killed is FAILED, naming the node, and its driver is gone"

echo "jobs: $passed passed, 0 failed"
