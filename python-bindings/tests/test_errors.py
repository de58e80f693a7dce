"""Every error class, raised by a real failing case on a real cluster (a
small 4 MiB store, so that it can be filled), with what it carries.
ObjectLostError needs a node that dies holding an object: it is in
test_multinode.py."""

import pickle

import pytest

import _pdc_testing as T
import pdc
from pdc import _lib

CLUSTER_ENV = {"PDC_OBJECT_STORE_MEMORY": "4M"}
pytestmark = pytest.mark.usefixtures("cluster")


@pytest.fixture(scope="module")
def fn(lib):
    return lambda name: pdc.function(lib, name)


def _get(ref):
    return pdc.get(ref, timeout=T.TIMEOUT)


def test_task_error_carries_code_function_message_node(fn, lib):
    with pytest.raises(pdc.TaskError) as e:
        _get(fn("fail_with_message").remote("it broke"))
    err = e.value
    assert err.code == _lib.PDC_ETASK and err.status == "PDC_ETASK"
    assert err.function == lib + ":fail_with_message"
    assert err.message == "it broke"
    assert err.node == pdc.node_id()
    assert err.traceback == ""  # C tasks have none
    assert str(err) == "PDC_ETASK: %s on node %s: it broke" % (err.function, err.node)


def test_errors_pickle_with_everything_they_carry(fn):
    with pytest.raises(pdc.TaskError) as e:
        _get(fn("fail_with_message").remote("pickled"))
    back = pickle.loads(pickle.dumps(e.value))
    assert type(back) is pdc.TaskError and str(back) == str(e.value)
    assert (back.code, back.function, back.message, back.node, back.traceback) == (
        e.value.code,
        e.value.function,
        e.value.message,
        e.value.node,
        e.value.traceback,
    )


@pytest.mark.parametrize("crash", ["crash_sigkill", "crash_abort"])
def test_a_task_that_kills_its_worker_is_a_worker_died_error_after_its_retries(fn, crash):
    with pytest.raises(pdc.WorkerDiedError) as e:
        _get(fn(crash).options(max_retries=1).remote())
    assert e.value.code == _lib.PDC_EWORKERDIED and crash in e.value.function


def test_get_timeout_error(fn):
    slow = fn("sleep_ms").remote(600)
    with pytest.raises(pdc.GetTimeoutError) as e:
        pdc.get(slow, timeout=0.05)
    assert isinstance(e.value, TimeoutError) and e.value.code == _lib.PDC_ETIMEOUT
    assert _get(slow) == 600


def test_infeasible_error(fn):
    with pytest.raises(pdc.InfeasibleError, match="nonesuch") as e:
        _get(fn("add").options(resources={"nonesuch": 1}).remote(1, 1))
    assert e.value.code == _lib.PDC_EINFEASIBLE


def test_actor_died_error(lib):
    c = pdc.actor_class(lib, "Counter").remote(0)
    assert _get(c.incr.remote(1)) == 1
    pdc.kill(c)
    with pytest.raises(pdc.ActorDiedError) as e:
        _get(c.get.remote())
    assert e.value.code == _lib.PDC_EACTORDIED


def test_a_failed_constructor_is_a_task_error(lib):
    c = pdc.actor_class(lib, "Counter").remote("refuse")
    with pytest.raises(pdc.TaskError, match="constructor refused: refuse"):
        pdc.actor_ready(c, timeout=T.TIMEOUT)


def test_function_not_found_error(fn, lib):
    with pytest.raises(pdc.FunctionNotFoundError, match="no_such_function"):
        _get(fn("no_such_function").remote())
    with pytest.raises(pdc.FunctionNotFoundError) as e:
        _get(pdc.function("/nonexistent/libnothing.so", "add").remote())
    assert isinstance(e.value, pdc.TaskError) and e.value.code == _lib.PDC_ENOFUNC


def test_task_argument_error(fn):
    with pytest.raises(pdc.TaskArgumentError, match="argument 0") as e:
        _get(fn("add").remote("one", 2))
    assert e.value.code == _lib.PDC_EARGS
    with pytest.raises(pdc.TaskArgumentError, match="argument 1"):
        _get(fn("add").remote(1))  # one argument short


def test_task_cancelled_error(fn):
    dep = fn("sleep_ms").remote(200)
    r = fn("echo").remote(dep)
    assert pdc.cancel(r)
    with pytest.raises(pdc.TaskCancelledError) as e:
        _get(r)
    assert e.value.code == _lib.PDC_ECANCELLED
    _get(dep)


def test_object_store_full_error(fn):
    with pytest.raises(pdc.ObjectStoreFullError, match="capacity") as e:
        pdc.put(bytes(8 << 20))
    assert e.value.code == _lib.PDC_ESTOREFULL
    with pytest.raises(pdc.ObjectStoreFullError):
        _get(fn("make_bytes").remote(8 << 20, 1))


def test_not_found_error_for_a_reference_the_client_does_not_know(cluster):
    unknown = pdc.ObjectRef(_lib.PdcRef(), cluster)  # all-zero id
    assert pdc.wait([unknown], timeout=0) == ([unknown], [])  # counts as ready
    with pytest.raises(pdc.NotFoundError, match="unknown object") as e:
        pdc.get(unknown)
    assert isinstance(e.value, LookupError)


def test_actor_not_found_error():
    with pytest.raises(pdc.ActorNotFoundError, match="nobody-here") as e:
        pdc.get_actor("nobody-here")
    assert isinstance(e.value, ValueError) and isinstance(e.value, pdc.NotFoundError)


def test_every_code_maps_to_its_class():
    expected = {
        "PDC_EINVAL": pdc.InvalidArgumentError,
        "PDC_ETIMEOUT": pdc.GetTimeoutError,
        "PDC_ENOMEM": pdc.OutOfMemoryError,
        "PDC_ECONNECT": pdc.PdcConnectionError,
        "PDC_ESTOREFULL": pdc.ObjectStoreFullError,
        "PDC_ETYPE": pdc.ObjectTypeError,
        "PDC_EPROTO": pdc.ProtocolError,
        "PDC_ENOTFOUND": pdc.NotFoundError,
        "PDC_ESHUTDOWN": pdc.ShutdownError,
        "PDC_ETASK": pdc.TaskError,
        "PDC_ENOFUNC": pdc.FunctionNotFoundError,
        "PDC_EARGS": pdc.TaskArgumentError,
        "PDC_EWORKERDIED": pdc.WorkerDiedError,
        "PDC_ECANCELLED": pdc.TaskCancelledError,
        "PDC_EOBJECTLOST": pdc.ObjectLostError,
        "PDC_EOWNERDIED": pdc.OwnerDiedError,
        "PDC_EINFEASIBLE": pdc.InfeasibleError,
        "PDC_EACTORDIED": pdc.ActorDiedError,
    }
    for name, cls in expected.items():
        code = getattr(_lib, name)
        assert pdc._errors.CODES[code] is cls and _lib.status_name(code) == name
        e = pdc._errors.from_status(code, "why")
        assert type(e) is cls and isinstance(e, pdc.PdcError) and e.message == "why"
    assert issubclass(pdc.OwnerDiedError, pdc.ObjectLostError)  # as in Ray
    assert len(expected) == len(pdc._errors.CODES)
