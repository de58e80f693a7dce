"""Fixtures of the pdc Python tests.

- `cluster` (one per test module): pdc.init() on a real embedded cluster,
  pdc.shutdown() after the module's last test.
- `lib`: the path of libpdc_test_tasks.so (PDC_TEST_LIB, else
  build-py/tests/ or build/tests/ of the source tree).
- At the end of the run (`_nothing_left_behind`): no pdc process, no
  session directory and no /dev/shm store of this run may be left.

Run from the source tree:

    PDC_LIBRARY=$PWD/build/runtime/libpdc.so.0 \\
    PDC_TEST_LIB=$PWD/build/tests/libpdc_test_tasks.so \\
        python -m pytest -q python-bindings/tests
"""

import os
import shutil
import signal

import pytest

import _pdc_testing as T
import pdc

# Every cluster of this run lives under T.ROOT (made before the first
# test, removed after the last).
_made_base = not os.path.isdir(T.BASE_ROOT)
os.environ["PDC_SESSION_ROOT"] = T.ROOT


@pytest.fixture(scope="session")
def lib():
    path = T.test_lib()
    if not path or not os.path.exists(path):
        pytest.fail(
            "libpdc_test_tasks.so not found: build pdc (meson setup build-py && ninja -C "
            "build-py) or set PDC_TEST_LIB"
        )
    return path


@pytest.fixture(scope="module")
def cluster(request):
    """A real embedded cluster for the module's tests, started with the
    module's CLUSTER_ENV (a dict of PDC_* variables) if it has one."""
    with pytest.MonkeyPatch.context() as mp:
        for k, v in getattr(request.module, "CLUSTER_ENV", {}).items():
            mp.setenv(k, v)
        s = pdc.init()
    T.STORES.append(T.store_path())
    yield s
    session = T.session_dir()
    pdc.shutdown()
    assert not os.path.exists(session), "pdc.shutdown left %s" % session


@pytest.fixture(scope="session", autouse=True)
def _nothing_left_behind():
    os.makedirs(T.ROOT, exist_ok=True)
    yield
    pdc.shutdown()
    T.wait_until(lambda: not T.our_processes(), timeout=10)
    problems = []
    procs = T.our_processes()
    if procs:
        problems.append("processes: %s" % procs)
    left = os.listdir(T.ROOT) if os.path.isdir(T.ROOT) else []
    if left:
        problems.append("session directories in %s: %s" % (T.ROOT, left))
    stores = [p for p in T.STORES if os.path.exists(p)]
    if stores:
        problems.append("stores: %s" % stores)
    # Clean up in any case (all of it is this run's), then report.
    for pid, _ in procs:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    for p in stores:
        shutil.rmtree(p, ignore_errors=True)
    shutil.rmtree(T.ROOT, ignore_errors=True)
    if _made_base:
        try:
            os.rmdir(T.BASE_ROOT)
        except OSError:
            pass
    assert not problems, "the tests left behind " + "; ".join(problems)
