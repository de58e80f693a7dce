"""@pdc.remote on Python functions and classes, on the embedded cluster:
real Python worker processes started by the raylet with this interpreter
and sys.path, arguments and results pickled (cloudpickle), references
resolved before the call, nested calls, remote tracebacks, worker deaths
retried, Python actors (state, keyword arguments, names, threads, kill),
and Python and C work mixed."""

import os
import sys
import threading

import numpy as np
import pytest

import _pdc_testing as T
import pdc

pytestmark = pytest.mark.usefixtures("cluster")


def _get(ref):
    return pdc.get(ref, timeout=T.TIMEOUT)


@pdc.remote
def square(x):
    return x * x


@pdc.remote
def describe(a, b=2, *rest, scale=1, **extra):
    return {"a": a, "b": b, "rest": rest, "scale": scale, "extra": extra}


@pdc.remote
def where():
    return {"executable": sys.executable, "path": list(sys.path), "pid": os.getpid()}


# ---------------------------------------------------------------------------
# Functions
# ---------------------------------------------------------------------------


def test_a_python_function_runs_remotely_in_a_worker_of_this_interpreter():
    assert _get(square.remote(12)) == 144
    info = _get(where.remote())
    assert info["pid"] != os.getpid()
    assert info["executable"] == sys.executable
    here = os.path.dirname(os.path.abspath(__file__))
    assert here in info["path"]  # the driver's sys.path came along


def test_positional_keyword_and_default_arguments():
    assert _get(describe.remote(1)) == {"a": 1, "b": 2, "rest": (), "scale": 1, "extra": {}}
    got = _get(describe.remote(1, 3, 4, 5, scale=2, colour="red"))
    assert got == {"a": 1, "b": 3, "rest": (4, 5), "scale": 2, "extra": {"colour": "red"}}


def test_closures_and_lambdas_travel_by_value():
    offset = 41
    add_offset = pdc.remote(lambda x: x + offset)
    assert _get(add_offset.remote(1)) == 42

    def make(k):
        @pdc.remote
        def times(x):
            return x * k

        return times

    assert _get(make(3).remote(5)) == 15


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        7,
        1 << 80,
        2.5,
        "text\0with nul",
        b"bytes",
        b"PDCPY\x00\x01\x00 looks pickled",
        [1, "two", (3.0,)],
        {"k": {1, 2}},
        complex(1, 2),
    ],
    ids=lambda v: type(v).__name__,
)
def test_any_picklable_value_goes_in_and_comes_back(value):
    echo = pdc.remote(lambda x: x)
    got = _get(echo.remote(value))
    assert got == value and type(got) is type(value)


def test_numpy_arrays_in_and_out():
    a = np.arange(300_000, dtype=np.float64).reshape(600, 500)
    total = pdc.remote(lambda m: float(m.sum()))
    assert _get(total.remote(a)) == float(a.sum())
    doubled = _get(pdc.remote(lambda m: m * 2).remote(a))
    assert isinstance(doubled, np.ndarray) and np.array_equal(doubled, a * 2)


def test_references_are_resolved_before_the_call():
    r = pdc.put(6)
    assert _get(square.remote(r)) == 36
    chained = square.remote(square.remote(3))  # the result of another task
    assert _get(chained) == 81
    big = pdc.put(bytes(range(256)) * 1024)
    assert _get(pdc.remote(lambda b: len(b)).remote(big)) == 256 * 1024
    assert _get(describe.remote(1, scale=r))["scale"] == 6  # keyword references too


def test_a_reference_nested_in_a_value_is_refused_before_anything_is_sent():
    # (A list of ObjectRefs only is sent as one: test_nested_refs.py.)
    with pytest.raises(TypeError, match="ObjectRef cannot be pickled"):
        square.remote([pdc.put(1), 2])
    with pytest.raises(TypeError, match="ObjectRef cannot be pickled"):
        square.remote({"ref": pdc.put(1)})


def test_an_unpicklable_argument_is_a_type_error_before_anything_is_sent():
    with pytest.raises(TypeError, match="cannot be pickled"):
        square.remote(threading.Lock())


def test_nested_calls_from_inside_a_task():
    @pdc.remote
    def fib(n):
        if n < 2:
            return n
        return sum(pdc.get([fib.remote(n - 1), fib.remote(n - 2)], timeout=60))

    assert _get(fib.remote(7)) == 13

    @pdc.remote
    def put_and_pass(x):
        return pdc.get(square.remote(pdc.put(x)), timeout=60)  # a reference made in a worker

    assert _get(put_and_pass.remote(9)) == 81


def test_an_exception_is_a_task_error_with_the_remote_traceback():
    @pdc.remote
    def fails(x):
        return helper(x)

    def helper(x):
        raise KeyError("no such key %r" % x)

    with pytest.raises(pdc.TaskError) as info:
        _get(fails.remote("k"))
    e = info.value
    assert e.function.endswith("fails")
    assert "KeyError" in e.message and "no such key 'k'" in e.message
    assert "in helper" in e.traceback and "in fails" in e.traceback
    assert "Remote traceback" in str(e) and e.node


def test_a_failed_argument_fails_the_dependent_task_without_running_it(tmp_path):
    marker = tmp_path / "ran"
    bad = pdc.remote(lambda: 1 / 0).remote()

    @pdc.remote
    def touch(x):
        open(str(marker), "w").close()

    with pytest.raises(pdc.TaskError, match="ZeroDivisionError"):
        _get(touch.remote(bad))
    assert not marker.exists()


def test_a_worker_that_dies_is_retried(tmp_path):
    marker = tmp_path / "died-once"

    @pdc.remote(max_retries=2)
    def die_once():
        if not marker.exists():
            marker.write_text("x")
            os._exit(3)
        return "second try"

    assert _get(die_once.remote()) == "second try"

    @pdc.remote(max_retries=0)
    def die():
        os._exit(4)

    with pytest.raises(pdc.WorkerDiedError):
        _get(die.remote())


@pytest.mark.parametrize(
    "runtime, why",
    [
        ("/nonexistent/python3\t-c\tpass", "cannot start worker /nonexistent/python3"),
        (sys.executable + "\t-c\timport sys; sys.exit(3)", "exited (status 3) before it registered"),
    ],
    ids=["missing-interpreter", "exits-at-once"],
)
def test_a_runtime_whose_workers_cannot_start_fails_its_tasks(monkeypatch, runtime, why):
    from pdc import _pyremote

    monkeypatch.setattr(_pyremote, "_runtime", runtime)
    doomed = pdc.remote(lambda: 1)  # its runtime is taken here
    monkeypatch.undo()
    with pytest.raises(pdc.WorkerDiedError, match="no worker can start") as info:
        _get(doomed.remote())
    assert why in str(info.value)
    assert _get(square.remote(5)) == 25  # the good runtime still serves


def test_options_of_python_functions():
    assert _get(square.options(num_cpus=1, name="sq").remote(3)) == 9
    with pytest.raises(pdc.InfeasibleError, match="nonesuch"):
        _get(square.options(resources={"nonesuch": 1}).remote(1))
    with pytest.raises(TypeError, match="unknown option"):
        square.options(bogus=1)
    with pytest.raises(TypeError, match=r"\.remote"):
        square(1)


def test_python_and_c_work_mix(lib):
    add = pdc.function(lib, "add")
    assert _get(square.remote(add.remote(2, 3))) == 25  # a C result into Python
    assert _get(add.remote(square.remote(4), 1)) == 17  # a Python int into C


# ---------------------------------------------------------------------------
# Actors
# ---------------------------------------------------------------------------


@pdc.remote
class Counter:
    def __init__(self, start=0, step=1):
        self.n = start
        self.step = step

    def incr(self, k=None):
        self.n += self.step if k is None else k
        return self.n

    def state(self):
        return {"n": self.n, "pid": os.getpid()}

    def fail(self):
        raise RuntimeError("method failed")

    def add_from(self, ref_value):
        self.n += ref_value
        return self.n


def test_a_python_actor_keeps_its_state_in_its_own_process():
    c = Counter.remote(10, step=5)
    assert [_get(c.incr.remote()) for _ in range(3)] == [15, 20, 25]
    assert _get(c.incr.remote(k=-25)) == 0
    state = _get(c.state.remote())
    assert state["n"] == 0 and state["pid"] != os.getpid()
    assert _get(c.add_from.remote(pdc.put(7))) == 7  # a reference, resolved
    pdc.kill(c)


def test_calls_from_one_caller_run_in_order():
    c = Counter.remote()
    refs = [c.incr.remote() for _ in range(200)]
    assert pdc.get(refs, timeout=T.TIMEOUT) == list(range(1, 201))
    pdc.kill(c)


def test_a_method_error_is_a_task_error_and_the_actor_keeps_serving():
    c = Counter.remote(1)
    with pytest.raises(pdc.TaskError, match="method failed") as info:
        _get(c.fail.remote())
    assert info.value.function.endswith("Counter.fail") and "in fail" in info.value.traceback
    with pytest.raises(pdc.TaskError, match="no method 'nonesuch'"):
        _get(c.nonesuch.remote())
    assert _get(c.incr.remote()) == 2
    pdc.kill(c)


def test_a_failing_constructor_fails_every_call():
    @pdc.remote
    class Broken:
        def __init__(self):
            raise ValueError("cannot build")

        def ping(self):
            return 1

    b = Broken.remote()
    with pytest.raises(pdc.PdcError, match="cannot build"):
        pdc.actor_ready(b, timeout=T.TIMEOUT)
    with pytest.raises(pdc.PdcError, match="cannot build"):
        _get(b.ping.remote())


def test_kill_ends_a_python_actor():
    c = Counter.remote()
    assert _get(c.incr.remote()) == 1
    pdc.kill(c)
    with pytest.raises(pdc.ActorDiedError):
        _get(c.incr.remote())


def test_a_named_python_actor_is_found_with_get_actor():
    c = Counter.options(name="py-counter", namespace="pytests").remote(100)
    assert _get(c.incr.remote()) == 101
    found = pdc.get_actor("py-counter", namespace="pytests", timeout=T.TIMEOUT)
    assert _get(found.incr.remote(1)) == 102  # a C value, as it is
    assert _get(found.incr.remote(k=10)) == 112  # keywords: a Python call
    pdc.kill(found)


def test_a_threaded_python_actor_runs_calls_at_once():
    @pdc.remote
    class Gate:
        def __init__(self):
            self.event = threading.Event()

        def wait(self):
            return self.event.wait(20)

        def open(self):
            self.event.set()
            return True

    g = Gate.options(max_concurrency=2).remote()
    waiting = g.wait.remote()
    assert _get(g.open.remote()) is True  # runs while wait() blocks
    assert _get(waiting) is True
    pdc.kill(g)


def test_an_actor_handle_passed_to_a_task():
    c = Counter.remote(0)

    @pdc.remote
    def bump(counter, times):
        return pdc.get([counter.incr.remote() for _ in range(times)], timeout=60)[-1]

    assert _get(bump.remote(c, 5)) == 5
    assert _get(c.incr.remote()) == 6
    pdc.kill(c)


def test_a_python_actor_may_hold_numpy_state():
    @pdc.remote
    class Accumulator:
        def __init__(self, n):
            self.total = np.zeros(n)

        def add(self, v):
            self.total += v
            return self.total.sum()

        def get(self):
            return self.total

    a = Accumulator.remote(1000)
    v = np.ones(1000)
    assert _get(a.add.remote(v)) == 1000.0
    assert _get(a.add.remote(v * 2)) == 3000.0
    assert np.array_equal(_get(a.get.remote()), np.full(1000, 3.0))
    pdc.kill(a)
