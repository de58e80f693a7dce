#!/usr/bin/env bash
# Build pdc and run the examples on the embedded local cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
for example in pi matmul mergesort counter paramserver; do
    echo "== $example"
    build/examples/pdc-example-$example
done
# The Python package, in a venv of its own, driving the C matmul library.
echo "== python matmul"
python3 -m venv build/python-venv
build/python-venv/bin/pip install --quiet ./python-bindings numpy
build/python-venv/bin/python examples/python/matmul.py
