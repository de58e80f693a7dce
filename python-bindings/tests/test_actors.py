"""C actors from Python: creation, ordered calls, options (name,
namespace, max_concurrency, resources, detached), named lookup, handles
passed to tasks and actors, kill and crashes."""

import copy
import os
import signal
import time

import pytest

import _pdc_testing as T
import pdc

CLUSTER_ENV = {"PDC_RESOURCES": "edge=2"}
pytestmark = pytest.mark.usefixtures("cluster")


@pytest.fixture(scope="module")
def Counter(lib):
    return pdc.actor_class(lib, "Counter")


def _get(ref):
    return pdc.get(ref, timeout=T.TIMEOUT)


def test_create_and_call(Counter):
    c = Counter.remote(10)
    assert _get(c.incr.remote(1)) == 11
    assert _get(c.incr.remote(5)) == 16
    assert _get(c.get.remote()) == 16
    assert _get(Counter.remote().get.remote()) == 0  # no constructor argument
    pdc.actor_ready(c, timeout=T.TIMEOUT)


def test_calls_from_one_caller_run_in_order(Counter):
    c = Counter.remote(0)
    refs = [c.check_order.remote(0, i) for i in range(1, 201)]
    assert pdc.get(refs, timeout=T.TIMEOUT) == list(range(1, 201))


def test_a_failing_method_is_a_task_error_and_the_actor_keeps_serving(Counter):
    c = Counter.remote(1)
    with pytest.raises(pdc.TaskError, match="asked to fail: please") as e:
        _get(c.fail.remote("please"))
    assert e.value.traceback == "" and e.value.node == pdc.node_id()
    assert "Counter" in e.value.function
    assert _get(c.incr.remote(1)) == 2


def test_an_unknown_method_or_class(lib, Counter):
    c = Counter.remote(1)
    with pytest.raises(pdc.FunctionNotFoundError, match="no method 'nope'"):
        _get(c.nope.remote())
    ghost = pdc.actor_class(lib, "NoSuchClass").remote()
    with pytest.raises(pdc.FunctionNotFoundError, match="NoSuchClass"):
        pdc.actor_ready(ghost, timeout=T.TIMEOUT)
    with pytest.raises(pdc.FunctionNotFoundError):
        _get(ghost.incr.remote(1))


def test_a_failing_constructor_fails_every_call(Counter):
    c = Counter.remote("no thanks")  # Counter refuses a string
    with pytest.raises(pdc.PdcError, match="constructor refused: no thanks"):
        pdc.actor_ready(c, timeout=T.TIMEOUT)
    with pytest.raises(pdc.PdcError, match="constructor refused"):
        _get(c.incr.remote(1))


def test_an_unsendable_argument_is_refused_before_sending(Counter):
    c = Counter.remote(0)
    with pytest.raises(TypeError, match="Counter.incr: argument 0 is a list"):
        c.incr.remote([1])
    with pytest.raises(TypeError, match="Counter: argument 0 is a dict"):
        Counter.remote({})
    assert _get(c.get.remote()) == 0


def test_methods_and_classes_are_not_called_directly(Counter):
    c = Counter.remote(0)
    with pytest.raises(TypeError, match=r"\.remote"):
        Counter(0)
    with pytest.raises(TypeError, match=r"\.remote"):
        c.incr(1)
    with pytest.raises(AttributeError):
        c._private
    assert _get(c._method("incr").remote(2)) == 2


def test_named_actors_in_namespaces(Counter):
    a = Counter.options(name="py-named").remote(100)
    b = Counter.options(name="py-named", namespace="other").remote(200)
    assert _get(a.get.remote()) == 100 and _get(b.get.remote()) == 200
    found = pdc.get_actor("py-named", timeout=T.TIMEOUT)
    assert found == a and _get(found.incr.remote(1)) == 101
    found_b = pdc.get_actor("py-named", namespace="other", timeout=T.TIMEOUT)
    assert _get(found_b.incr.remote(1)) == 201
    with pytest.raises(pdc.ActorNotFoundError, match="no-such-actor") as e:
        pdc.get_actor("no-such-actor")
    assert isinstance(e.value, ValueError)  # as ray.get_actor
    with pytest.raises(pdc.ActorNotFoundError):
        pdc.get_actor("py-named", namespace="third")
    pdc.kill(a)
    pdc.kill(b)


def test_a_named_actor_is_found_from_a_task(lib, Counter):
    c = Counter.options(name="py-from-task").remote(5)
    assert _get(c.get.remote()) == 5
    assert _get(pdc.function(lib, "incr_named").remote("py-from-task", 2)) == 7
    pdc.kill(c)


def test_max_concurrency(Counter):
    serial = Counter.remote(0)
    assert max(pdc.get([serial.slow.remote(100) for _ in range(3)], timeout=T.TIMEOUT)) == 1
    parallel = Counter.options(max_concurrency=4).remote(0)
    assert max(pdc.get([parallel.slow.remote(300) for _ in range(4)], timeout=T.TIMEOUT)) > 1


def test_resources_and_num_cpus(Counter):
    c = Counter.options(num_cpus=1, resources={"edge": 1}).remote(3)
    assert _get(c.incr.remote(1)) == 4
    big = Counter.options(resources="edge=5").remote(3)
    with pytest.raises(pdc.InfeasibleError, match="edge"):
        pdc.actor_ready(big, timeout=T.TIMEOUT)
    with pytest.raises(pdc.InfeasibleError):
        _get(big.incr.remote(1))
    c2 = Counter.options(strategy=pdc.NodeAffinity(pdc.node_id()), label_selector={}).remote(0)
    assert _get(c2.actor_node.remote()) == pdc.node_id()


def test_detached_actor(Counter):
    d = Counter.options(name="py-detached", lifetime="detached").remote(1)
    assert _get(d.incr.remote(1)) == 2
    assert Counter.options(detached=True)._copts.struct.detached == 1
    pdc.kill(pdc.get_actor("py-detached", timeout=T.TIMEOUT))
    with pytest.raises(pdc.ActorDiedError):
        _get(d.incr.remote(1))


def test_bad_actor_options_fail_when_given(Counter):
    for options, error in [
        ({"bogus": 1}, TypeError),
        ({"max_retries": 1}, TypeError),  # a task option
        ({"max_concurrency": 0}, ValueError),
        ({"lifetime": "forever"}, ValueError),
        ({"detached": False, "lifetime": "detached"}, ValueError),
        ({"namespace": 3}, TypeError),
    ]:
        with pytest.raises(error):
            Counter.options(**options)


def test_handles_pass_to_tasks_and_actors(lib, Counter):
    c = Counter.remote(0)
    assert _get(pdc.function(lib, "use_actor").remote(c, 2, 5)) == 10
    other = Counter.remote(0)
    assert _get(other.call_other.remote(c, 3)) == 13
    assert _get(c.get.remote()) == 13


def test_handle_identity(Counter):
    c = Counter.remote(0)
    assert len(c._actor_id) == 32 and c._actor_id in repr(c)
    c2 = copy.copy(c)
    assert c2 == c and hash(c2) == hash(c)
    del c
    assert _get(c2.incr.remote(1)) == 1  # the copy holds its own reference


def test_kill(Counter):
    c = Counter.remote(0)
    assert _get(c.incr.remote(1)) == 1
    pdc.kill(c)
    with pytest.raises(pdc.ActorDiedError):
        _get(c.incr.remote(1))
    pdc.kill(c)  # killing a dead actor is a no-op
    with pytest.raises(TypeError):
        pdc.kill("c")


def test_an_actor_whose_worker_dies_fails_its_calls(Counter):
    c = Counter.remote(0)
    pid = _get(c.actor_pid.remote())
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + T.TIMEOUT
    with pytest.raises(pdc.ActorDiedError):
        while time.monotonic() < deadline:  # until the death is noticed
            _get(c.incr.remote(1))
            time.sleep(0.05)


def test_a_named_actor_is_found_right_after_its_creation(Counter):
    # pdc_actor_create returns before the head has the name; get_actor
    # waits for an actor this driver created instead of missing it.
    for i in range(5):
        a = Counter.options(name="py-fresh-%d" % i).remote(i)
        assert _get(pdc.get_actor("py-fresh-%d" % i).get.remote()) == i
        pdc.kill(a)
