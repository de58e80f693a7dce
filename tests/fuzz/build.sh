#!/bin/sh
# Build the decoder fuzzer with clang (libFuzzer + ASan + UBSan) and run it.
#
#   tests/fuzz/build.sh [SECONDS] [OUTDIR]
#
# SECONDS defaults to 60, OUTDIR to build-fuzz at the top of the tree.
# OUTDIR/seeds holds one valid message per type (make_corpus), OUTDIR/corpus
# what the fuzzer found interesting (kept between runs), OUTDIR/artifacts
# any crashing input; rerun one with OUTDIR/fuzz_decode FILE.
set -eu

secs=${1:-60}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${2:-$root/build-fuzz}
cc=${CC_FUZZ:-clang}

pc=msgpack
pkg-config --exists "$pc" || pc=msgpack-c
cflags="-g -O1 -Wall -Wextra -I$root/runtime $(pkg-config --cflags "$pc")"
libs=$(pkg-config --libs "$pc")

mkdir -p "$out/seeds" "$out/corpus" "$out/artifacts"

# shellcheck disable=SC2086
"$cc" $cflags -o "$out/make_corpus" "$here/make_corpus.c" \
    "$root/runtime/pdc_proto.c" $libs
"$out/make_corpus" "$out/seeds"

# shellcheck disable=SC2086
"$cc" $cflags -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -o "$out/fuzz_decode" "$here/fuzz_decode.c" "$root/runtime/pdc_proto.c" \
    $libs

# A decoder that allocates in proportion to claimed counts, not to the
# input, trips -malloc_limit_mb long before the machine notices.
exec "$out/fuzz_decode" -max_total_time="$secs" -max_len=4096 \
    -malloc_limit_mb=64 -print_final_stats=1 \
    -artifact_prefix="$out/artifacts/" "$out/corpus" "$out/seeds"
