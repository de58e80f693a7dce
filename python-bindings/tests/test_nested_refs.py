"""Lists of references (PDC_T_REFS) from Python, on the embedded cluster:
a list of ObjectRefs put by the driver and read back as ObjectRefs, its
objects alive while only the list holds them (counted in the node's
store), Python tasks and actors that return their own puts and calls as
a list, lists of references as arguments of Python and C tasks (borrowed,
not resolved), a task refused the references it only borrows, the
owner's death, and references nested anywhere else refused."""

import gc
import os
import pickle
import signal
import time

import pytest

import _pdc_testing as T
import pdc

pytestmark = pytest.mark.usefixtures("cluster")

BIG = 200 * 1024  # over inline_max: each object in the store


def _get(ref):
    return pdc.get(ref, timeout=T.TIMEOUT)


def _objects():
    """The store's object count (once the node has registered, which
    pdc status needs to count it)."""
    assert T.wait_until(lambda: any(n["Alive"] for n in pdc.nodes()))
    return T.store_objects()


def _count_is(n):
    return T.wait_until(lambda: _objects() == n, timeout=10)


@pytest.fixture
def fn(lib):
    return lambda name: pdc.function(lib, name)


@pdc.remote
def put_many(n):
    return [pdc.put(i) for i in range(n)]


@pdc.remote
def square(x):
    return x * x


@pdc.remote
def describe_refs(refs, scale=1):
    return {
        "type": type(refs).__name__,
        "all_refs": all(isinstance(r, pdc.ObjectRef) for r in refs),
        "sum": scale * sum(pdc.get(r) for r in refs),
    }


# ---------------------------------------------------------------------------
# put and get
# ---------------------------------------------------------------------------


def test_a_put_list_comes_back_as_its_refs_and_their_values():
    values = [0, 7, -3, 2.5, "text", b"bytes", None]
    refs = [pdc.put(v) for v in values]
    got = _get(pdc.put(refs))
    assert type(got) is list and len(got) == len(refs)
    assert all(type(r) is pdc.ObjectRef for r in got)
    assert got == refs  # the same objects, by id
    assert all(g is not r for g, r in zip(got, refs))  # handles of their own
    assert _get(got) == values
    assert _get(_get(pdc.put(tuple(refs)))) == values  # a tuple is a list too


def test_objects_live_while_only_the_list_holds_them():
    gc.collect()
    base = _objects()
    refs = [pdc.put(T.pattern(BIG, i)) for i in range(3)]
    assert _count_is(base + 3)
    lst = pdc.put(refs)
    del refs
    gc.collect()
    time.sleep(0.5)  # time for a release to free them, if it did
    assert _objects() == base + 3
    inner = _get(lst)
    assert [bytes(v) for v in _get(inner)] == [T.pattern(BIG, i) for i in range(3)]
    del lst
    gc.collect()
    time.sleep(0.5)
    assert _objects() == base + 3  # the refs taken out hold them now
    del inner
    gc.collect()
    assert _count_is(base)  # nothing holds them: freed


def test_lists_nest():
    a, b = pdc.put(1), pdc.put(2)
    outer = pdc.put([pdc.put([a, b]), pdc.put(3)])
    inner, three = _get(outer)
    assert _get(three) == 3
    assert _get(_get(inner)) == [1, 2]


def test_what_is_not_a_list_of_refs_only_is_not_put_as_one():
    r = pdc.put(1)
    for bad in ([r, 1], [1, r], [[r]], []):
        with pytest.raises(TypeError, match="pdc.put"):
            pdc.put(bad)


# ---------------------------------------------------------------------------
# Tasks returning lists of references
# ---------------------------------------------------------------------------


def test_a_task_returns_a_hundred_of_its_own_puts():
    refs = _get(put_many.remote(100))
    assert len(refs) == 100 and all(type(r) is pdc.ObjectRef for r in refs)
    assert len(set(refs)) == 100
    assert _get(refs) == list(range(100))


def test_a_task_returns_the_results_of_its_own_calls_as_a_tuple():
    @pdc.remote
    def fan_out(n):
        # returned at once, most still pending: the caller waits for them
        return tuple(square.remote(i) for i in range(n))

    refs = _get(fan_out.remote(6))
    assert type(refs) is list and len(refs) == 6
    assert _get(refs) == [0, 1, 4, 9, 16, 25]


def test_returned_objects_outlive_the_task_until_the_caller_lets_go():
    @pdc.remote
    def put_big(n):
        return [pdc.put(T.pattern(BIG, 10 + i)) for i in range(n)]

    gc.collect()
    base = _objects()
    lst = put_big.remote(2)
    refs = _get(lst)
    del lst
    gc.collect()
    time.sleep(0.5)
    assert _objects() == base + 2
    assert [bytes(v) for v in _get(refs)] == [T.pattern(BIG, 10), T.pattern(BIG, 11)]
    del refs
    gc.collect()
    assert _count_is(base)


def test_an_actor_method_returns_a_list_of_its_puts():
    @pdc.remote
    class Store:
        def __init__(self):
            self.kept = []

        def keep(self, *values):
            refs = [pdc.put(v) for v in values]
            self.kept += refs
            return refs

    s = Store.remote()
    assert _get(_get(s.keep.remote(1, "two", 3.0))) == [1, "two", 3.0]
    pdc.kill(s)


def test_an_empty_list_stays_a_python_value():
    @pdc.remote
    def echo(x):
        return x

    assert _get(echo.remote([])) == []
    assert _get(pdc.remote(lambda: []).remote()) == []


def test_a_task_cannot_return_references_it_only_borrows():
    @pdc.remote
    def give_back(refs):
        return refs

    with pytest.raises(pdc.TaskError, match="borrowed"):
        _get(give_back.remote([pdc.put(1), pdc.put(2)]))


def test_a_list_of_c_tasks_references_reads_in_python(fn):
    refs = _get(fn("put_list").remote(10, 0))
    assert len(refs) == 10 and _get(refs) == list(range(10))


# ---------------------------------------------------------------------------
# Lists of references as arguments
# ---------------------------------------------------------------------------


def test_a_list_argument_arrives_as_refs_not_values():
    refs = [pdc.put(i) for i in range(10)]
    got = _get(describe_refs.remote(refs))
    assert got == {"type": "list", "all_refs": True, "sum": 45}
    got = _get(describe_refs.remote(tuple(refs[:4]), scale=2))
    assert got == {"type": "tuple", "all_refs": True, "sum": 12}
    got = _get(describe_refs.remote(refs=refs[5:]))  # by keyword
    assert got == {"type": "list", "all_refs": True, "sum": 35}


def test_a_reference_to_a_list_resolves_to_its_refs():
    lst = pdc.put([pdc.put(i * i) for i in range(10)])
    assert _get(describe_refs.remote(lst)) == {"type": "list", "all_refs": True, "sum": 285}


def test_a_tasks_returned_list_passes_on_to_another_task():
    assert _get(describe_refs.remote(put_many.remote(20)))["sum"] == 190
    assert _get(describe_refs.remote(_get(put_many.remote(5))))["sum"] == 10


def test_c_tasks_take_lists_of_references(fn):
    refs = [pdc.put(i * i) for i in range(10)]
    assert _get(fn("sum_list").remote(refs)) == 285
    assert _get(fn("sum_list").remote(tuple(refs[:3]))) == 5
    assert _get(fn("sum_list").remote(pdc.put(refs))) == 285
    assert _get(fn("sum_list").remote(put_many.remote(10))) == 45


# ---------------------------------------------------------------------------
# The owner's death
# ---------------------------------------------------------------------------


def test_references_of_a_dead_owner_read_as_owner_died():
    @pdc.remote
    def pid_list():
        return [pdc.put(os.getpid()), pdc.put(1)]

    first, second = _get(pid_list.remote())
    pid = _get(first)
    assert pid != os.getpid()
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(pdc.OwnerDiedError):
        _get(second)


# ---------------------------------------------------------------------------
# References nested anywhere else
# ---------------------------------------------------------------------------


def test_a_reference_nested_in_a_value_is_a_type_error_naming_what_works():
    r = pdc.put(1)
    with pytest.raises(TypeError, match="a list .*of ObjectRefs only"):
        pickle.dumps({"ref": r})
    with pytest.raises(TypeError, match="ObjectRef cannot be pickled"):
        square.remote({"ref": r})
    with pytest.raises(TypeError, match="ObjectRef cannot be pickled"):
        square.remote([r, 2])  # not only references: pickled, and refused


def test_a_task_returning_a_nested_reference_fails_with_the_type_error():
    @pdc.remote
    def nested():
        return {"ref": pdc.put(1)}

    with pytest.raises(pdc.TaskError, match="ObjectRef cannot be pickled"):
        _get(nested.remote())
