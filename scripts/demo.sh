#!/usr/bin/env bash
# Build pdc and run the examples on the embedded local cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
for example in pi matmul mergesort counter paramserver; do
    echo "== $example"
    build/examples/pdc-example-$example
done
# The Python package, in a venv of its own: Python remote functions (pi),
# a Python actor (the parameter server), and the C matmul library driven
# from Python.
python3 -m venv build/python-venv
build/python-venv/bin/pip install --quiet ./python-bindings numpy
for example in pi paramserver matmul; do
    echo "== python $example"
    build/python-venv/bin/python examples/python/$example.py
done
