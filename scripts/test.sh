#!/usr/bin/env bash
# Build pdc and run every test: once in a normal build (warnings are
# errors), once with AddressSanitizer + UndefinedBehaviorSanitizer, after
# checking that clang-format would change nothing.  Exits non-zero if any
# check or test fails.  PDC_TEST_NO_ASAN=1 skips the sanitizer pass.
set -euo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
# Add up Criterion's per-binary totals from a meson test log.
count() {
    local log=$1/meson-logs/testlog.txt p f
    # Criterion's "Passing: N", and "N passed, M failed" of the shell tests.
    p=$(grep -ho -e 'Passing: [0-9]*' -e '[0-9]* passed,' "$log" | grep -o '[0-9]*' | awk '{s += $1} END {print s + 0}')
    f=$(grep -ho -e 'Failing: [0-9]*' -e 'Crashing: [0-9]*' -e '[0-9]* failed$' "$log" | grep -o '[0-9]*' | awk '{s += $1} END {print s + 0}')
    passed=$((passed + p))
    failed=$((failed + f))
}

status=0
# Habits: a compiler warning in the normal build fails it (-Dwerror=true),
# and so does code clang-format would change (setup.sh installs it).
scripts/setup.sh build -Dwerror=true
if ! scripts/format.sh --check; then
    echo "test: the code is not formatted as .clang-format says; run scripts/format.sh" >&2
    status=1
fi
meson test -C build --print-errorlogs || status=1
count build
# The Python package (python-bindings/) against this build, in a venv of
# its own; its pytest summary ("N passed, M failed, K errors") joins the
# totals.  A run that did not get as far as a summary counts as a failure.
python_tests() {
    python3 -m venv build/python-venv &&
        build/python-venv/bin/pip install --quiet ./python-bindings pytest numpy &&
        PDC_BIN_DIR=$PWD/build/runtime PDC_LIBRARY=$PWD/build/runtime/libpdc.so.0 \
            PDC_TEST_LIB=$PWD/build/tests/libpdc_test_tasks.so \
            build/python-venv/bin/python -m pytest -q python-bindings/tests 2>&1 |
        tee build/python-tests.log
}
rm -f build/python-tests.log
python_tests || status=1
summary=$(grep -E '^(=+ )?[0-9]+ (passed|failed|errors?|skipped)' build/python-tests.log 2>/dev/null | tail -1 || true)
# How many "N passed" (or failed, errors) a pytest summary line says; 0 if none.
pytest_count() { echo "$1" | grep -o -E "[0-9]+ ($2)" | awk '{s += $1} END {print s + 0}' || true; }
if [ -z "$summary" ]; then
    echo "test: the Python tests did not run (see above)" >&2
    failed=$((failed + 1))
else
    passed=$((passed + $(pytest_count "$summary" passed)))
    failed=$((failed + $(pytest_count "$summary" 'failed|errors?')))
fi
if [ "${PDC_TEST_NO_ASAN:-0}" != 1 ]; then
    scripts/setup.sh build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbench=false
    # The chaos test runs once, in the normal build: its nemesis and its
    # 240 s bound are about the cluster, and the sanitized build is 2-3x
    # slower, which would time the bound rather than the code.
    # tests/lsan.supp: one leak of LMDB 0.9.24's own (it says which).
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp \
        meson test -C build-asan --print-errorlogs --no-suite chaos || status=1
    count build-asan
fi
# Nothing may be left behind.
leftover=$(ls -d /dev/shm/pdc-* 2>/dev/null || true)
procs=$(for p in pdc-head pdc-raylet pdc-worker; do pgrep -a -x "$p" || true; done)
if [ -n "$leftover" ] || [ -n "$procs" ]; then
    echo "test: left behind: $leftover $procs" >&2
    status=1
fi
echo "tests: $passed passed, $failed failed"
exit $status
