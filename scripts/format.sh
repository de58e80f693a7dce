#!/usr/bin/env bash
# Format every C, C++ and CUDA source of the tree with the checked-in
# .clang-format (one column limit, 100), or with --check only say which
# files it would change (exit 1 if any).  Needs clang-format (Debian's,
# installed by scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang-format >/dev/null; then
    echo "format: clang-format is not installed (apt-get install clang-format)" >&2
    exit 2
fi
mapfile -t files < <(git ls-files '*.c' '*.h' '*.cpp' '*.cu')
if [ "${1:-}" = --check ]; then
    clang-format --dry-run --Werror "${files[@]}" 2>&1 | grep -o '^[^:]*:[0-9]*:[0-9]*' | cut -d: -f1 | sort -u |
        sed 's/^/format: would change /' >&2 || true
    clang-format --dry-run --Werror "${files[@]}" >/dev/null 2>&1
else
    clang-format -i "${files[@]}"
fi
