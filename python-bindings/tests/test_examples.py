"""The Python examples (examples/python/) run and check themselves."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _examples_dir():
    bin_dir = os.environ.get("PDC_BIN_DIR")
    if bin_dir:
        return os.path.join(os.path.dirname(os.path.abspath(bin_dir)), "examples")
    return os.path.join(ROOT, "build", "examples")


def test_matmul_from_python_matches_numpy():
    pytest.importorskip("numpy")
    lib = os.path.join(_examples_dir(), "libpdc_example_matmul.so")
    if not os.path.exists(lib):
        pytest.skip("no %s (examples not built)" % lib)
    out = subprocess.run(
        [sys.executable, os.path.join(ROOT, "examples", "python", "matmul.py"),
         "--n", "512", "--block", "128", "--library", lib],
        capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "max error vs numpy" in out.stdout


def _run_example(name, *args):
    out = subprocess.run(
        [sys.executable, os.path.join(ROOT, "examples", "python", name)] + list(args),
        capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def test_pi_with_python_remote_functions():
    pytest.importorskip("numpy")
    out = _run_example("pi.py", "--tasks", "16", "--samples", "200000")
    assert "pi ~ 3.1" in out and "16 Python tasks" in out


def test_paramserver_as_a_python_actor_converges():
    pytest.importorskip("numpy")
    out = _run_example("paramserver.py", "--iters", "40")
    assert "converged" in out and "NOT" not in out
