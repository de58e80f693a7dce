#!/usr/bin/env bash
# pdc as a user gets it from `meson install`: configure a build of this
# source tree with --prefix in a temporary directory (no tests, benchmarks
# or examples, to be quick), install it, and build the driver main.c and
# the task library tasks.c with pkg-config alone.  Then:
#
#   1. the driver runs on an embedded cluster (pdc_init(NULL)) from the
#      installed daemons, found by libpdc.so with PDC_BIN_DIR unset, and
#      prints answer() = 42 and add(2, 40) = 42;
#   2. the same after the whole prefix is moved elsewhere (the daemons
#      are found relative to libpdc.so, as in a DESTDIR or relocated
#      install);
#   3. with the daemons removed, pdc_init fails and its message names
#      every directory it looked in.
#
#   test_install.sh SOURCE_DIR SANITIZE [MESON...]
#
# SANITIZE is the b_sanitize option of the calling build ("none", or e.g.
# "address,undefined"): the sub-build uses the same, and the driver and
# library are compiled with the matching -fsanitize.  $CC is the compiler
# (default cc).  Everything is removed at the end and no process is left
# running, also when a check fails.
set -euo pipefail
src=${1:?usage: test_install.sh SOURCE_DIR SANITIZE [MESON...]}
sanitize=${2:?usage: test_install.sh SOURCE_DIR SANITIZE [MESON...]}
shift 2
meson=("$@")
[ ${#meson[@]} -gt 0 ] || meson=(meson)
here=$(cd "$(dirname "$0")" && pwd)
read -r -a cc <<<"${CC:-cc}"

# Short: the session's ipc socket paths must fit in sun_path.
tmp=$(mktemp -d /tmp/pdc-inst.XXXXXX)
passed=0
failed=0

# Stop what is still running from under $tmp (ours only), then remove it.
cleanup() {
    local p exe
    for p in /proc/[0-9]*; do
        exe=$(readlink "$p/exe" 2>/dev/null) || continue
        case $exe in "$tmp"/*) kill -9 "${p#/proc/}" 2>/dev/null || true ;; esac
    done
    rm -rf "$tmp"
}
trap cleanup EXIT

ok() {
    echo "ok: $*"
    passed=$((passed + 1))
}
fail() {
    echo "FAIL: $*"
    failed=$((failed + 1))
    echo "install: $passed passed, $failed failed"
    exit 1
}
# run LOG CMD...: CMD with its output in LOG, shown if it fails.
run() {
    local log=$1
    shift
    if ! "$@" >"$log" 2>&1; then
        cat "$log"
        fail "$* (exit status $?)"
    fi
}
# Processes whose program lies under $tmp (none may outlive a driver).
leftovers() {
    local p exe
    for p in /proc/[0-9]*; do
        exe=$(readlink "$p/exe" 2>/dev/null) || continue
        case $exe in "$tmp"/*) echo "${p#/proc/} $exe" ;; esac
    done
}

unset PDC_BIN_DIR PDC_ADDRESS
export PDC_SESSION_ROOT=$tmp/sessions

prefix=$tmp/prefix
opts=(--prefix="$prefix" --buildtype=plain -Dtests=false -Dbench=false -Dexamples=false
      -Dcuda=disabled -Dpython=false)
sanflags=()
if [ "$sanitize" != none ]; then
    opts+=(-Db_sanitize="$sanitize" -Db_lundef=false)
    sanflags=(-fsanitize="$sanitize")
fi
run "$tmp/setup.log" env CC="${cc[*]}" "${meson[@]}" setup "${opts[@]}" "$tmp/build" "$src"
run "$tmp/compile.log" "${meson[@]}" compile -C "$tmp/build"
run "$tmp/install.log" "${meson[@]}" install -C "$tmp/build"
rm -rf "$tmp/build"

pc=$(find "$prefix" -name pdc.pc)
[ -n "$pc" ] || fail "meson install put no pdc.pc under $prefix"
export PKG_CONFIG_PATH=$(dirname "$pc")
flags=$(pkg-config --cflags --libs pdc) || fail "pkg-config --cflags --libs pdc"
libdir=$(pkg-config --variable=libdir pdc)
[ -f "$(pkg-config --variable=includedir pdc)/pdc.h" ] || fail "pdc.h is not in pdc.pc's includedir"
ok "installed pdc.pc ($pc): $flags"

# The driver and the library, as README.md shows them (an rpath, since the
# prefix is not on the loader's path).
# shellcheck disable=SC2086
run "$tmp/cc.log" "${cc[@]}" "${sanflags[@]}" -shared -fPIC "$here/tasks.c" -o "$tmp/libtasks.so" \
    $flags -Wl,-rpath,"$libdir"
# shellcheck disable=SC2086
run "$tmp/cc.log" "${cc[@]}" "${sanflags[@]}" "$here/main.c" -o "$tmp/main" $flags -Wl,-rpath,"$libdir"
ok "built main.c and libtasks.so with pkg-config alone"

expected=$'answer() = 42\nadd(2, 40) = 42'
out=$("$tmp/main" "$tmp/libtasks.so" 2>"$tmp/main.err") || {
    cat "$tmp/main.err"
    fail "the driver failed on the installed pdc"
}
[ "$out" = "$expected" ] || fail "the driver printed '$out', not '$expected'"
ok "the driver ran on an embedded cluster of the installed daemons: answer() = 42, add(2, 40) = 42"
[ -z "$(leftovers)" ] || fail "processes left running after the driver: $(leftovers)"

# Moved: the configured bindir no longer exists; libpdc.so finds its
# daemons relative to itself.
moved=$tmp/moved
mv "$prefix" "$moved"
mlibdir=$moved${libdir#"$prefix"}
out=$(LD_LIBRARY_PATH=$mlibdir "$tmp/main" "$tmp/libtasks.so" 2>"$tmp/main.err") || {
    cat "$tmp/main.err"
    fail "the driver failed after the prefix was moved to $moved"
}
[ "$out" = "$expected" ] || fail "after the move, the driver printed '$out', not '$expected'"
ok "after moving the prefix, libpdc.so found the daemons relative to itself"
[ -z "$(leftovers)" ] || fail "processes left running after the driver: $(leftovers)"

# No daemons anywhere: the error names each place looked in.
rm -rf "${moved:?}/bin"
if LD_LIBRARY_PATH=$mlibdir "$tmp/main" "$tmp/libtasks.so" >/dev/null 2>"$tmp/main.err"; then
    fail "the driver ran with no daemons installed"
fi
for place in "$mlibdir" "$prefix/bin"; do
    grep -qF "$place" "$tmp/main.err" || {
        cat "$tmp/main.err"
        fail "the error without daemons does not name $place"
    }
done
ok "without daemons, pdc_init names every place it looked in: $(head -1 "$tmp/main.err")"

echo "install: $passed passed, $failed failed"
