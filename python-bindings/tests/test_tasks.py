"""C remote functions from Python: arguments of every accepted type, the
TypeError raised before anything is sent, references as arguments, and
every option of f.options(...) on a real cluster (a node with the custom
resource edge=2 and the labels tier=edge,zone=a)."""

import array
import fractions
import os

import pytest

import _pdc_testing as T
import pdc

CLUSTER_ENV = {"PDC_RESOURCES": "edge=2", "PDC_LABELS": "tier=edge,zone=a"}
pytestmark = pytest.mark.usefixtures("cluster")

BIG = pdc.ZERO_COPY_THRESHOLD + 4096


@pytest.fixture(scope="module")
def fn(lib):
    return lambda name: pdc.function(lib, name)


def _get(ref):
    return pdc.get(ref, timeout=T.TIMEOUT)


# ---------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [0, -1, 2**63 - 1, -(2**63), 3.25, -0.0, float("inf"), "", "héllo ✓", b"", b"\x00\xffz"],
)
def test_values_come_back_from_echo_with_their_type(fn, value):
    out = _get(fn("echo").remote(value))
    assert type(out) is type(value) and out == value


def test_bool_is_sent_as_an_int(fn):
    assert _get(fn("echo").remote(True)) == 1


def test_buffers_are_sent_as_bytes(fn):
    np = pytest.importorskip("numpy")
    echo = fn("echo")
    assert _get(echo.remote(bytearray(b"abc"))) == b"abc"
    assert _get(echo.remote(memoryview(b"abcdef")[1:3])) == b"bc"
    a = array.array("i", [1, 2, 3])
    assert _get(echo.remote(a)) == a.tobytes()
    arr = np.arange(6, dtype=np.float64).reshape(2, 3)
    assert _get(echo.remote(arr)) == arr.tobytes()


def test_the_task_sees_each_python_type_as_its_pdc_type(fn):
    np = pytest.importorskip("numpy")
    out = _get(
        fn("describe").remote(
            7, 2.5, "ab", b"ab", None, np.int32(3), np.float32(0.5), fractions.Fraction(1, 4)
        )
    )
    sum_ab = T.fnv1a(b"ab")
    assert out == "i:7 f:2.5 s:2:%d b:2:%d ?:0 i:3 f:0.5 f:0.25" % (sum_ab, sum_ab)


def test_no_arguments(fn):
    assert _get(fn("noop").remote()) == b"ok"


@pytest.mark.parametrize("size", [1000, BIG])
def test_an_object_ref_argument_is_resolved_before_the_call(fn, size):
    data = fn("make_bytes").remote(size, 3)
    assert _get(fn("checksum").remote(data)) == T.fnv1a(T.pattern(size, 3))
    put = pdc.put(T.pattern(size, 4))
    assert _get(fn("checksum").remote(put)) == T.fnv1a(T.pattern(size, 4))


def test_large_buffers_of_every_kind_arrive_intact(fn):
    np = pytest.importorskip("numpy")
    data = T.pattern(BIG, 5)
    want = T.fnv1a(data)
    checksum = fn("checksum")
    for arg in (
        data,
        bytearray(data),
        memoryview(data),
        np.frombuffer(data, dtype=np.uint8),
        np.frombuffer(data, dtype=np.uint8).reshape(-1, 256),  # BIG is a multiple of 256
    ):
        assert _get(checksum.remote(arg)) == want


def test_a_non_contiguous_array_is_sent_in_c_order(fn):
    np = pytest.importorskip("numpy")
    arr = np.frombuffer(T.pattern(2 * BIG, 6), dtype=np.uint8)[::2]
    assert not arr.flags.c_contiguous
    assert _get(fn("checksum").remote(arr)) == T.fnv1a(arr.tobytes())
    t = np.arange(BIG // 8, dtype=np.float64).reshape(-1, 2).T  # Fortran order
    assert _get(fn("checksum").remote(t)) == T.fnv1a(t.tobytes())


def test_many_calls(fn):
    add = fn("add")
    refs = [add.remote(i, i) for i in range(300)]
    assert pdc.get(refs, timeout=T.TIMEOUT) == [2 * i for i in range(300)]


@pytest.mark.parametrize(
    "bad",
    [[1], {"a": 1}, (1,), {1}, object(), 1j, pdc.NodeAffinity("x")],
    ids=lambda b: type(b).__name__,
)
def test_an_unsendable_argument_is_a_type_error_before_anything_is_sent(fn, tmp_path, bad):
    marker = tmp_path / "ran"
    touch = fn("touch_marker")
    with pytest.raises(TypeError, match=r"argument 0 is a %s" % type(bad).__name__):
        touch.remote(bad, str(marker))
    with pytest.raises(TypeError, match="argument 1"):
        touch.remote(0, bad)
    # The same call with sendable arguments does run: nothing was sent above.
    control = tmp_path / "control"
    assert _get(touch.remote(0, str(control))) == 1 and control.exists()
    assert not marker.exists()
    with pytest.raises(TypeError, match="pdc.put"):
        pdc.put(bad)


def test_an_int_beyond_64_bits_is_refused_before_sending(fn):
    with pytest.raises(OverflowError, match="argument 1"):
        fn("add").remote(1, 2**63)
    with pytest.raises(OverflowError):
        fn("add").remote(-(2**63) - 1, 0)


def test_a_remote_function_is_not_called_directly(fn):
    with pytest.raises(TypeError, match=r"\.remote"):
        fn("add")(1, 2)


def test_a_relative_library_path_is_resolved_when_named(lib, monkeypatch):
    monkeypatch.chdir(os.path.dirname(os.path.dirname(lib)))
    rel = os.path.join(".", os.path.basename(os.path.dirname(lib)), os.path.basename(lib))
    add = pdc.function(rel, "add")
    assert add.library == os.path.realpath(lib)
    monkeypatch.chdir("/")
    assert _get(add.remote(2, 3)) == 5


def test_an_argument_holding_an_error_fails_the_task_without_running_it(fn, tmp_path):
    bad = fn("fail_with_message").remote("upstream broke")
    marker = tmp_path / "ran"
    with pytest.raises(pdc.TaskError, match="upstream broke"):
        _get(fn("touch_marker").remote(bad, str(marker)))
    assert not marker.exists()


# ---------------------------------------------------------------------------
# Options
# ---------------------------------------------------------------------------


def test_num_cpus(fn):
    assert _get(fn("add").options(num_cpus=1).remote(1, 1)) == 2
    assert _get(fn("add").options(num_cpus=0.5).remote(1, 2)) == 3
    with pytest.raises(pdc.InfeasibleError, match="CPU"):
        _get(fn("add").options(num_cpus=10000).remote(1, 1))


@pytest.mark.parametrize("resources", [{"edge": 1}, {"edge": 0.5}, "edge=2", " edge=1 "])
def test_resources_the_node_has(fn, resources):
    assert _get(fn("add").options(resources=resources).remote(1, 1)) == 2


@pytest.mark.parametrize("resources", [{"edge": 3}, "edge=2.5", {"nowhere": 1}])
def test_resources_no_node_has_are_infeasible(fn, resources):
    with pytest.raises(pdc.InfeasibleError):
        _get(fn("add").options(resources=resources).remote(1, 1))


def test_num_gpus(fn):
    ref = fn("cuda_visible").options(num_gpus=1).remote(0)
    if pdc.cluster_resources().get("GPU", 0) >= 1:
        assert _get(ref) not in ("", "(unset)")
    else:
        with pytest.raises(pdc.InfeasibleError, match="GPU"):
            _get(ref)


@pytest.mark.parametrize(
    "selector",
    [
        {"tier": "edge"},
        {"tier": "edge", "zone": "in(a, b)"},
        {"zone": "!b"},
        "tier=edge,zone!=b",
        "zone in (a|c)",
    ],
)
def test_label_selectors_that_match(fn, selector):
    assert _get(fn("add").options(label_selector=selector).remote(1, 1)) == 2


@pytest.mark.parametrize("selector", [{"tier": "cloud"}, {"zone": "!a"}, "gpu", "zone in (b|c)"])
def test_label_selectors_that_match_no_node_are_infeasible(fn, selector):
    with pytest.raises(pdc.InfeasibleError, match="label"):
        _get(fn("add").options(label_selector=selector).remote(1, 1))


def test_strategies(fn):
    node = fn("node")
    me = pdc.node_id()
    assert _get(node.options(strategy="DEFAULT").remote()) == me
    assert _get(node.options(strategy="SPREAD").remote()) == me
    assert _get(node.options(strategy=pdc.NodeAffinity(me)).remote()) == me
    assert (
        _get(node.options(scheduling_strategy=pdc.NodeAffinity("nowhere", soft=True)).remote())
        == me
    )
    with pytest.raises(pdc.InfeasibleError, match="nowhere"):
        _get(node.options(strategy=pdc.NodeAffinitySchedulingStrategy("nowhere")).remote())


def test_max_retries(fn, tmp_path):
    once = fn("crash_once")
    # The first run kills its worker; the retry (default: 3) returns 42.
    assert _get(once.remote(str(tmp_path / "a"))) == 42
    assert _get(once.options(max_retries=1).remote(str(tmp_path / "b"))) == 42
    # max_retries=0 is Ray's "never retry".
    with pytest.raises(pdc.WorkerDiedError):
        _get(once.options(max_retries=0).remote(str(tmp_path / "c")))


def test_name_is_accepted(fn):
    assert _get(fn("add").options(name="my-add").remote(2, 2)) == 4


def test_options_merge(fn):
    f = fn("add").options(num_cpus=1).options(resources={"edge": 1}, max_retries=2)
    assert f._options == {"num_cpus": 1, "resources": {"edge": 1}, "max_retries": 2}
    assert f._copts.struct.num_cpus == 1 and f._copts.struct.resources == b"edge=1"
    assert f._copts.struct.max_retries == 2
    assert _get(f.remote(3, 4)) == 7


@pytest.mark.parametrize(
    "options, error",
    [
        ({"bogus": 1}, TypeError),
        ({"namespace": "x"}, TypeError),  # an actor option
        ({"num_cpus": 0}, ValueError),
        ({"num_cpus": -1}, ValueError),
        ({"max_retries": -1}, ValueError),
        ({"max_retries": 1.5}, ValueError),
        ({"strategy": "BOGUS"}, ValueError),
        ({"strategy": "SPREAD", "scheduling_strategy": "SPREAD"}, ValueError),
        ({"resources": ["GPU"]}, TypeError),
        ({"resources": {"CPU": 1}}, ValueError),
        ({"resources": {"GPU": -1}}, ValueError),
        ({"resources": {"a,b": 1}}, ValueError),
        ({"resources": {"GPU": 1}, "num_gpus": 1}, ValueError),
        ({"label_selector": {"a": "!in(x)"}}, ValueError),
        ({"label_selector": 3}, TypeError),
        ({"name": 3}, TypeError),
    ],
)
def test_bad_options_fail_when_given(fn, options, error):
    with pytest.raises(error):
        fn("add").options(**options)


def test_calls_and_gets_from_many_threads(fn):
    from concurrent.futures import ThreadPoolExecutor

    add = fn("add")

    def work(k):
        refs = [add.remote(k, i) for i in range(50)]
        return pdc.get(refs, timeout=T.TIMEOUT) == [k + i for i in range(50)]

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(work, range(8)))


def test_remote_takes_a_function_or_a_class_only():
    # (Python functions and classes as tasks: test_python_tasks.py.)
    with pytest.raises(TypeError, match="function or a class"):
        pdc.remote(3)
    with pytest.raises(TypeError, match="keyword options"):
        pdc.remote(1, 2)
