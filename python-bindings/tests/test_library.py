"""Where the package finds libpdc: PDC_LIBRARY, the install prefix, the
system loader, then the build tree it was installed from or runs from;
and the error that lists every path tried.  Each case runs in a fresh
interpreter, with a copy of the package placed where the case needs it."""

import os
import shutil
import subprocess
import sys

import pytest

import _pdc_testing as T
import pdc

PROBE = """
import pdc
try:
    print(pdc.library_path())
except pdc.LibraryNotFoundError as e:
    print("ERROR", e)
"""


def _run(python, pythonpath, env_extra=None, cwd="/"):
    env = {k: v for k, v in os.environ.items() if k not in ("PDC_LIBRARY", "PYTHONPATH")}
    env["LD_LIBRARY_PATH"] = ""
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    env.update(env_extra or {})
    out = subprocess.run(
        [python, "-c", PROBE], env=env, cwd=cwd, capture_output=True, text=True, timeout=T.TIMEOUT
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def _package_copy(dest):
    """A copy of the pdc package (without a recorded source tree) in dest."""
    pkg = os.path.dirname(pdc.__file__)
    shutil.copytree(
        pkg,
        os.path.join(dest, "pdc"),
        ignore=shutil.ignore_patterns("__pycache__", "_build_info.py"),
    )
    return dest


def _loader_finds_a_libpdc():
    env = dict(os.environ, LD_LIBRARY_PATH="")
    code = """
import ctypes, ctypes.util
try:
    ctypes.CDLL("libpdc.so.0")
    print(1)
except OSError:
    print(1 if ctypes.util.find_library("pdc") else 0)
"""
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    return out.stdout.strip() == "1"


def _prefix_has_libpdc():
    return any(p for p in pdc._lib._prefix_candidates() if os.path.exists(p))


@pytest.fixture(scope="module")
def real_lib():
    return pdc.library_path()


def test_pdc_library_wins_and_must_load(tmp_path, real_lib):
    assert _run(sys.executable, _package_copy(str(tmp_path)), {"PDC_LIBRARY": real_lib}) == real_lib
    out = _run(sys.executable, str(tmp_path), {"PDC_LIBRARY": "/nonexistent/libpdc.so.0"})
    assert out.startswith("ERROR PDC_LIBRARY=/nonexistent/libpdc.so.0 could not be loaded")
    assert "no such file" in out


def test_the_error_lists_every_path_tried(tmp_path):
    if _loader_finds_a_libpdc() or _prefix_has_libpdc():
        pytest.skip("a libpdc is installed where this interpreter or the loader finds it")
    out = _run(sys.executable, _package_copy(str(tmp_path)))
    assert out.startswith("ERROR cannot load libpdc; tried, in order:")
    assert "PDC_LIBRARY (not set)" in out
    assert os.path.join(sys.prefix, "lib") in out
    assert "libpdc.so.0 (" in out and "find_library" in out
    assert "set PDC_LIBRARY" in out


def test_the_install_prefix(tmp_path, real_lib):
    if _loader_finds_a_libpdc():
        pytest.skip("the system loader finds a libpdc first")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    libdir = venv / "lib"
    shutil.copy(real_lib, libdir / "libpdc.so.0")
    out = _run(str(venv / "bin" / "python"), _package_copy(str(tmp_path / "pkg")))
    assert out == os.path.realpath(libdir / "libpdc.so.0")


def test_the_build_tree_the_package_runs_from(tmp_path, real_lib):
    if _loader_finds_a_libpdc() or _prefix_has_libpdc():
        pytest.skip("a libpdc is installed where this interpreter or the loader finds it")
    src = tmp_path / "src"
    bindings = src / "python-bindings"
    bindings.mkdir(parents=True)
    (bindings / "pyproject.toml").write_text("")
    _package_copy(str(bindings))
    for build in ("build-old", "build"):
        (src / build / "runtime").mkdir(parents=True)
        shutil.copy(real_lib, src / build / "runtime" / "libpdc.so.0")
    # build/ first, whatever the other trees.
    assert _run(sys.executable, str(bindings)) == str(src / "build" / "runtime" / "libpdc.so.0")


def test_the_build_tree_recorded_at_install(tmp_path, real_lib):
    if _loader_finds_a_libpdc() or _prefix_has_libpdc():
        pytest.skip("a libpdc is installed where this interpreter or the loader finds it")
    src = tmp_path / "src"
    (src / "python-bindings").mkdir(parents=True)
    (src / "build-py" / "runtime").mkdir(parents=True)
    shutil.copy(real_lib, src / "build-py" / "runtime" / "libpdc.so.0")
    site = tmp_path / "site"
    _package_copy(str(site))
    (site / "pdc" / "_build_info.py").write_text("SOURCE_DIR = %r\n" % str(src / "python-bindings"))
    assert _run(sys.executable, str(site)) == str(src / "build-py" / "runtime" / "libpdc.so.0")


def test_an_installed_package_records_its_source_tree():
    if os.path.dirname(os.path.dirname(pdc.__file__)) == T.BINDINGS:
        pytest.skip("pdc runs from the source tree here, not from an installed copy")
    from pdc import _build_info

    assert os.path.realpath(_build_info.SOURCE_DIR) == os.path.realpath(T.BINDINGS)
