#!/usr/bin/env bash
# Build pdc and run the examples on the embedded local cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
for example in pi matmul mergesort counter paramserver; do
    echo "== $example"
    build/examples/pdc-example-$example
done
