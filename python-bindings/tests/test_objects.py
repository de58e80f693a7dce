"""Objects: put, get (with timeouts), wait, cancel, ObjectRef's life (the
store's object count falls when references are garbage-collected), and
the zero-copy paths, checked by address: large values are read as views
of the store's own pages and written from the caller's buffer."""

import copy
import ctypes
import gc
import os
import pickle
import time
import tracemalloc

import pytest

import _pdc_testing as T
import pdc
from pdc import _lib

pytestmark = pytest.mark.usefixtures("cluster")

BIG = pdc.ZERO_COPY_THRESHOLD + 4096


@pytest.fixture(scope="module")
def fn(lib):
    return lambda name: pdc.function(lib, name)


def _count_is(n):
    return T.wait_until(lambda: T.store_objects() == n, timeout=10)


# ---------------------------------------------------------------------------
# put and get
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", [42, -7, 1.5, "text ✓", "", b"bytes\x00", b"", None])
def test_put_and_get_give_the_value_back(value):
    out = pdc.get(pdc.put(value))
    assert type(out) is type(value) and out == value


def test_buffers_come_back_as_bytes_when_small():
    assert pdc.get(pdc.put(bytearray(b"ab"))) == b"ab"
    assert pdc.get(pdc.put(memoryview(b"abc"))) == b"abc"


def test_a_large_value_comes_back_as_a_read_only_view():
    data = T.pattern(BIG, 1)
    view = pdc.get(pdc.put(data))
    assert isinstance(view, memoryview) and view.readonly
    assert view.format == "B" and view.nbytes == BIG and view == data
    with pytest.raises(TypeError):
        view[0] = 1


def test_get_of_a_list_and_a_tuple(fn):
    refs = [pdc.put(i) for i in range(5)]
    assert pdc.get(refs) == list(range(5))
    assert pdc.get(tuple(refs)) == list(range(5))
    assert pdc.get([]) == []


def test_get_refuses_what_is_not_a_reference():
    with pytest.raises(TypeError):
        pdc.get(1)
    with pytest.raises(TypeError, match="element 1"):
        pdc.get([pdc.put(1), 2])
    with pytest.raises(ValueError):
        pdc.get(pdc.put(1), timeout=-1)


def test_get_with_a_timeout(fn):
    slow = fn("sleep_ms").remote(1000)
    t = time.monotonic()
    with pytest.raises(pdc.GetTimeoutError, match="not ready") as e:
        pdc.get(slow, timeout=0.2)
    assert isinstance(e.value, TimeoutError)
    assert 0.15 < time.monotonic() - t < 0.9
    with pytest.raises(pdc.GetTimeoutError):
        pdc.get([pdc.put(1), slow], timeout=0)
    assert pdc.get(pdc.put(5), timeout=0) == 5
    assert pdc.get(slow, timeout=T.TIMEOUT) == 1000


def test_get_raises_the_error_a_list_holds(fn):
    refs = [pdc.put(1), fn("fail_with_message").remote("second"), pdc.put(3)]
    with pytest.raises(pdc.TaskError, match="second"):
        pdc.get(refs, timeout=T.TIMEOUT)


# ---------------------------------------------------------------------------
# wait
# ---------------------------------------------------------------------------


def test_wait_returns_the_first_ready_and_keeps_the_order(fn):
    sleep = fn("sleep_ms")
    refs = [sleep.remote(500), pdc.put(0), sleep.remote(500)]
    ready, not_ready = pdc.wait(refs, timeout=T.TIMEOUT)
    assert ready == [refs[1]] and not_ready == [refs[0], refs[2]]
    ready, not_ready = pdc.wait(refs, num_returns=3, timeout=T.TIMEOUT)
    assert ready == refs and not_ready == []


def test_wait_returns_at_most_num_returns(fn):
    refs = [pdc.put(i) for i in range(4)]
    ready, not_ready = pdc.wait(refs, num_returns=2)
    assert ready == refs[:2] and not_ready == refs[2:]
    ready, not_ready = pdc.wait(refs, num_returns=4)
    assert ready == refs and not_ready == []


def test_wait_with_timeout_zero_only_looks(fn):
    slow = fn("sleep_ms").remote(1000)
    done = pdc.put(1)
    t = time.monotonic()
    ready, not_ready = pdc.wait([slow, done], num_returns=2, timeout=0)
    assert time.monotonic() - t < 0.5
    assert ready == [done] and not_ready == [slow]
    pdc.get(slow, timeout=T.TIMEOUT)


def test_wait_gives_back_fewer_when_the_timeout_runs_out(fn):
    slow = fn("sleep_ms").remote(1000)
    t = time.monotonic()
    ready, not_ready = pdc.wait([slow, pdc.put(0)], num_returns=2, timeout=0.3)
    assert 0.25 < time.monotonic() - t < 0.9
    assert len(ready) == 1 and not_ready == [slow]
    pdc.get(slow, timeout=T.TIMEOUT)


def test_an_error_counts_as_ready(fn):
    bad = fn("fail_with_message").remote("x")
    ready, _ = pdc.wait([bad], timeout=T.TIMEOUT)
    assert ready == [bad]


def test_wait_checks_its_arguments():
    r = pdc.put(1)
    assert pdc.wait([]) == ([], [])
    with pytest.raises(TypeError):
        pdc.wait(r)
    with pytest.raises(TypeError):
        pdc.wait([r, 1])
    with pytest.raises(ValueError, match="twice"):
        pdc.wait([r, r])
    with pytest.raises(ValueError):
        pdc.wait([r], num_returns=2)
    with pytest.raises(ValueError):
        pdc.wait([r], num_returns=0)


# ---------------------------------------------------------------------------
# cancel
# ---------------------------------------------------------------------------


def test_cancel_a_task_that_has_not_started(fn):
    dep = fn("sleep_ms").remote(300)
    waiting = fn("echo").remote(dep)  # cannot start before dep is done
    assert pdc.cancel(waiting) is True
    with pytest.raises(pdc.TaskCancelledError):
        pdc.get(waiting, timeout=T.TIMEOUT)
    assert pdc.get(dep, timeout=T.TIMEOUT) == 300
    assert pdc.cancel(dep) is False  # already finished
    with pytest.raises(TypeError):
        pdc.cancel("ref")


# ---------------------------------------------------------------------------
# ObjectRef
# ---------------------------------------------------------------------------


def test_object_ref_identity():
    r = pdc.put(1)
    buf = ctypes.create_string_buffer(33)
    _lib.lib().pdc_ref_hex(r._ref, buf)
    assert r.hex() == buf.value.decode() and len(r.hex()) == 32
    assert len(r.binary()) == 16 and r.hex() in repr(r)
    same = copy.copy(r)
    assert same == r and hash(same) == hash(r) and same is not r
    assert r != pdc.put(1)
    with pytest.raises(TypeError, match="pickled"):
        pickle.dumps(r)


def test_garbage_collected_refs_free_their_objects(fn):
    gc.collect()
    base = T.store_objects()
    refs = [pdc.put(T.pattern(BIG, i)) for i in range(3)]
    refs += [fn("make_bytes").remote(BIG, 9) for _ in range(2)]
    pdc.wait(refs, num_returns=len(refs), timeout=T.TIMEOUT)
    assert _count_is(base + 5)
    del refs[0]
    assert _count_is(base + 4)
    refs.clear()
    gc.collect()
    assert _count_is(base)


def test_a_copied_ref_keeps_the_object(fn):
    gc.collect()
    base = T.store_objects()
    r = pdc.put(T.pattern(BIG, 2))
    r2 = copy.deepcopy(r)
    del r
    gc.collect()
    assert pdc.get(r2) == T.pattern(BIG, 2)
    assert T.store_objects() == base + 1
    del r2
    assert _count_is(base)


# ---------------------------------------------------------------------------
# Zero-copy out: views over the store
# ---------------------------------------------------------------------------


def test_a_large_get_is_a_view_of_the_stored_bytes_by_address(fn):
    ref = fn("make_bytes").remote(BIG, 7)
    view = pdc.get(ref, timeout=T.TIMEOUT)
    pin = view.obj._pdc_pin
    assert T.view_address(view) == pin.obj.data  # the pdc_object's own pointer
    # ... which points into this node's shared-memory store.
    mapped = T.store_mapping_of(T.view_address(view))
    assert mapped and mapped.startswith(T.store_path()), mapped
    # A second get of the same object reads the same bytes.
    again = pdc.get(ref)
    assert T.view_address(again) == T.view_address(view)
    assert view == T.pattern(BIG, 7)


def test_a_view_keeps_the_object_after_its_ref_is_gone(fn):
    gc.collect()
    base = T.store_objects()
    ref = fn("make_bytes").remote(BIG, 11)
    view = pdc.get(ref, timeout=T.TIMEOUT)
    sub = view[100:200]  # a derived view holds the pin too
    del ref, view
    gc.collect()
    time.sleep(0.3)
    assert T.store_objects() == base + 1  # pinned: not freed
    assert sub == T.pattern(BIG, 11)[100:200]
    del sub
    gc.collect()
    assert _count_is(base)


def test_get_numpy_is_a_read_only_zero_copy_array():
    np = pytest.importorskip("numpy")
    src = np.arange(BIG // 8, dtype=np.float64)
    ref = pdc.put(src)
    arr = pdc.get_numpy(ref, np.float64)
    assert arr.dtype == np.float64 and np.array_equal(arr, src)
    assert not arr.flags.writeable
    with pytest.raises(ValueError):
        arr[0] = 1.0
    view = pdc.get(ref)
    assert arr.ctypes.data == T.view_address(view)
    assert arr.ctypes.data % 64 == 0  # store objects are 64-byte aligned
    m = pdc.get_numpy(ref, "float64", shape=(-1, 8))
    assert m.shape == (BIG // 64, 8) and m.ctypes.data == arr.ctypes.data
    both = pdc.get([ref, pdc.put(b"\x01\x02")], numpy="uint8")
    assert both[0].ctypes.data == arr.ctypes.data and list(both[1]) == [1, 2]
    with pytest.raises(pdc.ObjectTypeError):
        pdc.get_numpy(pdc.put(3))


def test_an_array_outlives_its_view_and_ref():
    np = pytest.importorskip("numpy")
    gc.collect()
    base = T.store_objects()
    ref = pdc.put(np.full(BIG, 5, dtype=np.uint8))
    arr = pdc.get_numpy(ref)
    del ref
    gc.collect()
    assert T.store_objects() == base + 1 and int(arr.sum()) == 5 * BIG
    del arr
    gc.collect()
    assert _count_is(base)


# ---------------------------------------------------------------------------
# Zero-copy in: no Python copy of large buffers
# ---------------------------------------------------------------------------

HUGE = 32 << 20


def _peak_python_bytes(call):
    """The most Python memory call allocated beyond what was in use."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        result = call()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return result, peak - before


def test_the_measure_sees_a_copy():
    data = bytearray(HUGE)
    _, extra = _peak_python_bytes(lambda: bytes(data))
    assert extra >= HUGE


def test_large_puts_read_the_callers_buffer_in_place():
    np = pytest.importorskip("numpy")
    raw = bytes(T.pattern(1 << 16, 3)) * (HUGE >> 16)
    for data in (raw, bytearray(raw), memoryview(raw), np.frombuffer(raw, dtype=np.uint8)):
        ref, extra = _peak_python_bytes(lambda: pdc.put(data))
        assert extra < (1 << 20), "%s: %d bytes allocated" % (type(data).__name__, extra)
        assert pdc.get(ref) == raw
        del ref


def test_large_arguments_are_passed_in_place(fn):
    np = pytest.importorskip("numpy")
    raw = bytes(T.pattern(1 << 16, 4)) * (HUGE >> 16)
    checksum = fn("checksum")
    want = pdc.get(checksum.remote(pdc.put(raw)), timeout=T.TIMEOUT)
    for data in (raw, bytearray(raw), np.frombuffer(raw, dtype=np.uint8)):
        ref, extra = _peak_python_bytes(lambda: checksum.remote(data))
        assert extra < (1 << 20), "%s: %d bytes allocated" % (type(data).__name__, extra)
        assert pdc.get(ref, timeout=T.TIMEOUT) == want


def test_a_bytearray_cannot_be_resized_while_it_is_being_put(monkeypatch):
    # The export held during pdc_put pins the buffer; after it, it is free.
    data = bytearray(BIG)
    pdc.put(data)
    data.extend(b"more")  # the export was released
    assert len(data) == BIG + 4


class _Interrupted(Exception):
    pass


def test_a_blocking_get_or_wait_is_interrupted_by_a_signal(fn):
    import signal
    import threading

    def raise_interrupted(signum, frame):
        raise _Interrupted()

    old = signal.signal(signal.SIGINT, raise_interrupted)
    try:
        for blocking in (pdc.get, lambda r: pdc.wait([r])):
            slow = fn("sleep_ms").remote(1500)
            threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()
            t = time.monotonic()
            with pytest.raises(_Interrupted):
                blocking(slow)
            assert time.monotonic() - t < 1.0  # a slice, not the whole task
            pdc.get(slow, timeout=T.TIMEOUT)
    finally:
        signal.signal(signal.SIGINT, old)
