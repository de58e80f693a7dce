"""A two-node cluster on loopback, started with `pdc start` as a user would
(a head node and a second node labelled zone=b), joined with
pdc.init(address): nodes(), SPREAD and node affinity across nodes, an
object pulled from the other node, and ObjectLostError when the node
holding an object dies."""

import glob
import os
import signal
import socket
import subprocess

import pytest

import _pdc_testing as T
import pdc

MN_ROOT = os.path.join(T.ROOT, "multinode")


def _pdc_cli(*args):
    env = dict(os.environ, PDC_SESSION_ROOT=MN_ROOT)
    return subprocess.run(
        [os.path.join(T.bin_dir(), "pdc")] + list(args),
        env=env,
        capture_output=True,
        text=True,
        timeout=T.TIMEOUT,
    )


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _node_dirs():
    return sorted(glob.glob(os.path.join(MN_ROOT, "node-*")))


def _pids():
    pids = []
    for d in _node_dirs():
        for name in ("head.pid", "raylet.pid"):
            try:
                with open(os.path.join(d, name)) as f:
                    pids.append(int(f.read()))
            except OSError:
                pass
    return pids


def _alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    with open("/proc/%d/stat" % pid) as f:
        return f.read().split()[2] != "Z"


@pytest.fixture(scope="module")
def two_nodes():
    os.makedirs(MN_ROOT, exist_ok=True)
    address = "tcp://127.0.0.1:%d" % _free_port()
    port = address.rsplit(":", 1)[1]
    head = _pdc_cli("start", "--head", "--port", port, "--num-cpus", "1")
    assert head.returncode == 0, head.stderr
    other = _pdc_cli("start", "--address", address, "--num-cpus", "1", "--labels", "zone=b")
    assert other.returncode == 0, other.stderr
    pids = _pids()
    for d in _node_dirs():
        with open(os.path.join(d, "store.path")) as f:
            T.STORES.append(f.read().strip())
    try:
        pdc.init(address)
        yield address
    finally:
        pdc.shutdown()
        stop = _pdc_cli("stop")
        assert stop.returncode == 0, stop.stderr
        assert T.wait_until(lambda: not any(_alive(p) for p in pids), timeout=10), pids
        assert not _node_dirs()
        os.rmdir(MN_ROOT)


@pytest.fixture(scope="module")
def fn(lib):
    return lambda name: pdc.function(lib, name)


def _other_node():
    me = pdc.node_id()
    return [n["NodeID"] for n in pdc.nodes() if n["NodeID"] != me][0]


def test_nodes_and_resources_of_two_nodes(two_nodes):
    nodes = pdc.nodes()
    assert len(nodes) == 2 and all(n["Alive"] for n in nodes)
    assert pdc.node_id() in [n["NodeID"] for n in nodes]
    assert sorted(n["Labels"].get("zone", "") for n in nodes) == ["", "b"]
    assert pdc.cluster_resources()["CPU"] == 2.0


def test_spread_uses_both_nodes(two_nodes, fn):
    # Right after `pdc start` the driver's raylet may not know the other
    # node yet (it learns of nodes from heartbeats): spread a few rounds.
    spread = fn("sleep_node").options(strategy="SPREAD")
    everyone = {n["NodeID"] for n in pdc.nodes()}
    seen = set()

    def one_round():
        seen.update(pdc.get([spread.remote(50) for _ in range(4)], timeout=T.TIMEOUT))
        return seen == everyone

    assert T.wait_until(one_round, timeout=10, step=0.1), seen


def test_node_affinity_and_labels_place_on_the_other_node(two_nodes, fn):
    other = _other_node()
    node = fn("node")
    assert (
        pdc.get(node.options(strategy=pdc.NodeAffinity(other)).remote(), timeout=T.TIMEOUT) == other
    )
    zone_b = [n["NodeID"] for n in pdc.nodes() if n["Labels"].get("zone") == "b"][0]
    assert pdc.get(node.options(label_selector={"zone": "b"}).remote(), timeout=T.TIMEOUT) == zone_b


def test_an_actor_on_the_other_node(two_nodes, lib):
    other = _other_node()
    c = pdc.actor_class(lib, "Counter").options(strategy=pdc.NodeAffinity(other)).remote(1)
    assert pdc.get(c.actor_node.remote(), timeout=T.TIMEOUT) == other
    assert pdc.get(c.incr.remote(1), timeout=T.TIMEOUT) == 2
    pdc.kill(c)


def test_an_object_made_on_the_other_node_is_pulled_and_read_in_place(two_nodes, fn):
    n = 1 << 20
    ref = fn("make_bytes").options(strategy=pdc.NodeAffinity(_other_node())).remote(n, 5)
    view = pdc.get(ref, timeout=T.TIMEOUT)
    assert view == T.pattern(n, 5)
    mine = [d for d in _node_dirs() if d.endswith(pdc.node_id())][0]
    with open(os.path.join(mine, "store.path")) as f:
        store = f.read().strip()
    mapped = T.store_mapping_of(T.view_address(view))
    assert mapped and mapped.startswith(store), mapped


def test_object_lost_error_when_the_node_holding_it_dies(two_nodes, fn):
    # Last in this module: it kills the other node's raylet.
    other = _other_node()
    ref = (
        fn("make_bytes").options(strategy=pdc.NodeAffinity(other), max_retries=0).remote(1 << 20, 1)
    )
    ready, _ = pdc.wait([ref], timeout=T.TIMEOUT)
    assert ready == [ref]
    d = [d for d in _node_dirs() if d.endswith(other)][0]
    with open(os.path.join(d, "raylet.pid")) as f:
        os.kill(int(f.read()), signal.SIGKILL)
    with pytest.raises(pdc.ObjectLostError) as e:
        pdc.get(ref, timeout=T.TIMEOUT)
    assert e.value.code == pdc._lib.PDC_EOBJECTLOST and other in str(e.value)
