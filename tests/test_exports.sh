#!/usr/bin/env bash
# libpdc.so exports exactly the functions include/pdc.h declares: no
# internal symbol leaks out of the library (they are hidden; pdc.h marks
# the public ones PDC_EXPORT), and none of the public ones is missing.
# And pdc-worker, which links the runtime statically, exports every one of
# them too, so that the task libraries it loads call its runtime, not the
# copy in the libpdc.so they link (runtime/meson.build says why).
#
#   test_exports.sh LIBPDC.so PDC-WORKER PDC.H CC...
#
# The declared functions are read by the C compiler itself (gcc's
# -aux-info lists every function a translation unit declares, with the
# file it comes from), so the header is not parsed here by hand; the
# exported ones by nm -D (functions only: T and W).  Prints every extra
# and missing name and fails if there is one.  Skips (exit 77) if the
# compiler has no -aux-info (clang) and no gcc is installed.
set -euo pipefail
usage="usage: test_exports.sh LIBPDC.so PDC-WORKER PDC.H CC..."
lib=${1:?$usage}
worker=${2:?$usage}
header=${3:?$usage}
shift 3
cc=("$@")
[ ${#cc[@]} -gt 0 ] || cc=(cc)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

aux() { "$@" -aux-info "$work/aux.txt" -fsyntax-only -x c "$header" 2>"$work/cc.err"; }
if ! aux "${cc[@]}"; then
    if command -v gcc >/dev/null && aux gcc; then
        :
    else
        echo "SKIP: neither ${cc[*]} nor gcc can list a header's declarations (-aux-info):"
        cat "$work/cc.err"
        exit 77
    fi
fi
# "/* include/pdc.h:72:NC */ extern const char *pdc_status_name (int);"
name=$(basename "$header")
grep -F "$name:" "$work/aux.txt" | sed -E 's/^[^*]*\*[^*]*\*\/ *//; s/ *\(.*$//; s/.*[ *]//' |
    sort -u >"$work/declared"
functions() { nm -D --defined-only "$1" | awk '$2 == "T" || $2 == "W" { print $3 }' | sort -u; }
functions "$lib" >"$work/exported"
functions "$worker" >"$work/worker"

ndecl=$(wc -l <"$work/declared")
nexp=$(wc -l <"$work/exported")
if [ "$ndecl" -eq 0 ]; then
    echo "FAIL: found no function declared in $header (aux-info output:)"
    head "$work/aux.txt"
    echo "exports: 0 passed, 1 failed"
    exit 1
fi
extra=$(comm -13 "$work/declared" "$work/exported")
missing=$(comm -23 "$work/declared" "$work/exported")
failed=0
if [ -n "$extra" ]; then
    echo "FAIL: $lib exports $(echo "$extra" | wc -l) function(s) that $name does not declare" \
        "(give them hidden visibility, or declare them with PDC_EXPORT):"
    echo "$extra" | sed 's/^/  /'
    failed=1
fi
if [ -n "$missing" ]; then
    echo "FAIL: $name declares $(echo "$missing" | wc -l) function(s) that $lib does not export" \
        "(mark the declaration PDC_EXPORT and define it in libpdc):"
    echo "$missing" | sed 's/^/  /'
    failed=1
fi
unbound=$(comm -23 "$work/declared" "$work/worker")
if [ -n "$unbound" ]; then
    echo "FAIL: $worker does not export $(echo "$unbound" | wc -l) function(s) of $name, so task" \
        "libraries would call libpdc.so's idle copy of them (build it with export_dynamic):"
    echo "$unbound" | sed 's/^/  /'
    failed=1
fi
if [ $failed -ne 0 ]; then
    echo "exports: 0 passed, 1 failed"
    exit 1
fi
echo "ok: $lib exports the $nexp functions $name declares, and nothing else"
echo "ok: $worker exports them all to the task libraries it loads"
echo "exports: 1 passed, 0 failed"
