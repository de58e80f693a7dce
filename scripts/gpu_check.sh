#!/usr/bin/env bash
# The GPU checks, for a machine with a CUDA device (the device tests skip
# everywhere else): builds pdc with the CUDA backend (-Dcuda=enabled) in
# BUILD_DIR (default build-gpu), runs the GPU tests (gemm: the Gemm actor
# on the CUDA backend, cuBLAS and the tiled kernel, against OpenBLAS;
# gpu_devices: GPU resources and CUDA_VISIBLE_DEVICES per grant; labels)
# and the GEMM benchmark on the GPU (double, cuBLAS and the tiled kernel,
# 1024 to 8192) and on the CPU at 1024, within 5 minutes, and ends with
# one line:
#
#   gpu_check: N passed, M failed, K skipped; GEMM 4096 cuBLAS X GFLOP/s
#              through the actor (direct D, ratio R), tiled Y GFLOP/s ...
#
#   scripts/gpu_check.sh [BUILD_DIR]
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-gpu}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! scripts/setup.sh "$build" -Dcuda=enabled -Dwerror=true >"$log" 2>&1; then
    tail -30 "$log"
    echo "gpu_check: the build with -Dcuda=enabled failed (above)"
    exit 1
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | head -4
timeout 180 meson test -C "$build" --print-errorlogs gemm gpu_devices labels >"$log" 2>&1
tests_rc=$?
grep -E '^ *[0-9]+/[0-9]+ ' "$log"
grep -hE '\[(SKIP|FAIL)\]' "$build/meson-logs/testlog.txt" || true
counts=$(grep -ho -e 'Passing: [0-9]*' -e 'Failing: [0-9]*' -e 'Crashing: [0-9]*' \
    "$build/meson-logs/testlog.txt" | awk '{s[$1] += $2} END {printf "%d %d", s["Passing:"], s["Failing:"] + s["Crashing:"]}')
skipped=$(grep -c '\[SKIP\]' "$build/meson-logs/testlog.txt" || true)
bench=$build/bench/pdc-gemm-bench
out_blas=$(timeout 150 "$bench" --gpu --sizes 1024,2048,4096,8192 --reps 3 2>&1)
echo "$out_blas"
out_tiled=$(timeout 60 "$bench" --gpu --tiled --sizes 1024,4096 --reps 2 2>&1)
echo "$out_tiled"
timeout 60 "$bench" --sizes 1024 --reps 2 2>&1
# "4096 resident: direct X GFLOP/s, actor Y GFLOP/s, actor/direct R"
blas=$(awk '$1 == 4096 && $2 == "resident:" {print $7 " GFLOP/s through the actor (direct " $4 ", ratio " $NF ")"}' <<<"$out_blas")
tiled=$(awk '$1 == 4096 && $2 == "resident:" {print $7 " GFLOP/s through the actor"}' <<<"$out_tiled")
read -r passed failed <<<"$counts"
echo "gpu_check: ${passed:-0} passed, ${failed:-0} failed, $skipped skipped; GEMM 4096 cuBLAS ${blas:-not measured}, tiled ${tiled:-not measured}"
[ "$tests_rc" = 0 ] && [ "${failed:-0}" = 0 ]
