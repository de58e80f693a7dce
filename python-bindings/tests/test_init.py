"""pdc.init / pdc.shutdown: the embedded cluster's life, the context
manager, what happens to references and handles across sessions."""

import gc
import os
import warnings

import pytest

import _pdc_testing as T
import pdc


@pytest.fixture(autouse=True)
def _no_session_before_or_after():
    assert not pdc.is_initialized()
    yield
    pdc.shutdown()


def test_init_starts_an_embedded_cluster_and_shutdown_stops_it(lib):
    s = pdc.init()
    assert pdc.is_initialized()
    session = T.session_dir()
    store = T.store_path()
    assert os.path.isdir(session) and os.path.exists(store)
    assert T.our_processes()
    assert pdc.node_id() == s.node_id() != ""
    assert pdc.get(pdc.function(lib, "add").remote(20, 22)) == 42
    pdc.shutdown()
    assert not pdc.is_initialized()
    assert not os.path.exists(session) and not os.path.exists(store)
    assert T.wait_until(lambda: not T.our_processes(), timeout=10)
    pdc.shutdown()  # a second shutdown is a no-op


def test_with_init_shuts_down_at_the_end_of_the_block(lib):
    with pdc.init() as s:
        assert pdc.is_initialized() and s.alive
        session = T.session_dir()
        assert pdc.get(pdc.function(lib, "add").remote(1, 2)) == 3
    assert not pdc.is_initialized() and not s.alive
    assert not os.path.exists(session)


def test_init_twice_raises_unless_told_to_ignore():
    s = pdc.init()
    with pytest.raises(RuntimeError, match="already"):
        pdc.init()
    assert pdc.init(ignore_reinit_error=True) is s


def test_calls_without_init_raise_not_initialized(lib):
    add = pdc.function(lib, "add")  # naming a function needs no cluster
    with pytest.raises(pdc.NotInitializedError, match="pdc.init"):
        add.remote(1, 2)
    with pytest.raises(pdc.NotInitializedError):
        pdc.put(1)
    with pytest.raises(pdc.NotInitializedError):
        pdc.nodes()
    with pytest.raises(RuntimeError):  # NotInitializedError is a RuntimeError
        pdc.node_id()


def test_one_function_object_works_across_sessions(lib):
    add = pdc.function(lib, "add")
    for i in range(2):
        with pdc.init():
            assert pdc.get(add.remote(i, 1)) == i + 1


def test_refs_and_handles_outliving_their_session_are_safe(lib):
    s = pdc.init()
    ref = pdc.put(b"x" * (pdc.ZERO_COPY_THRESHOLD + 1))
    small = pdc.put(7)
    counter = pdc.actor_class(lib, "Counter").remote(1)
    assert pdc.get(counter.incr.remote(1)) == 2
    view = pdc.get(ref)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        pdc.shutdown()
    assert any("zero-copy view" in str(x.message) for x in w)
    assert not s.alive
    # Garbage collected after shutdown: no call reaches the freed client.
    del ref, view, counter
    gc.collect()
    with pdc.init():
        with pytest.raises(ValueError, match="earlier pdc session"):
            pdc.function(lib, "echo").remote(small)
    del small
    gc.collect()


def test_init_with_an_address_nobody_serves_fails_with_connection_error(monkeypatch):
    monkeypatch.setenv("PDC_CONNECT_TIMEOUT_MS", "300")
    with pytest.raises(pdc.PdcConnectionError) as e:
        pdc.init("tcp://127.0.0.1:9")
    assert isinstance(e.value, ConnectionError)
    assert "127.0.0.1:9" in str(e.value)
    assert not pdc.is_initialized()


def test_init_takes_pdc_address_from_the_environment(monkeypatch):
    monkeypatch.setenv("PDC_ADDRESS", "tcp://127.0.0.1:9")
    monkeypatch.setenv("PDC_CONNECT_TIMEOUT_MS", "300")
    with pytest.raises(pdc.PdcConnectionError, match="127.0.0.1:9"):
        pdc.init()


def test_init_rejects_a_non_string_address():
    with pytest.raises(TypeError):
        pdc.init(6380)


def test_nodes_and_cluster_resources_of_the_embedded_cluster(monkeypatch):
    monkeypatch.setenv("PDC_RESOURCES", "edge=2")
    monkeypatch.setenv("PDC_LABELS", "tier=edge,zone=a")
    with pdc.init():
        nodes = pdc.nodes()
        assert len(nodes) == 1
        n = nodes[0]
        assert n["NodeID"] == pdc.node_id() and n["Alive"]
        assert n["Labels"] == {"tier": "edge", "zone": "a"}
        assert n["Resources"]["edge"] == 2.0 and n["Resources"]["CPU"] >= 1
        total = pdc.cluster_resources()
        assert total == n["Resources"]
        assert set(pdc.available_resources()) <= set(total)
