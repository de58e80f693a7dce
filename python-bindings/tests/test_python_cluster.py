"""@pdc.remote on a three-node cluster started with `pdc start` on
loopback, as a user would (a head node and two more, labelled zone=b and
zone=c), joined with pdc.init(address): Python tasks spread over every
node, placed by affinity and labels, with references made on one node
and read on another, nested calls that cross nodes, a Python actor on
each node, and a remote traceback naming the node it came from."""

import os

import numpy as np
import pytest

import _pdc_testing as T
import pdc

CLUSTER = T.LoopbackCluster(
    "python-cluster",
    [["--num-cpus", "1", "--labels", "zone=b"], ["--num-cpus", "1", "--labels", "zone=c"]],
)


@pytest.fixture(scope="module")
def three_nodes():
    with CLUSTER.joined() as address:
        yield address


pytestmark = pytest.mark.usefixtures("three_nodes")


@pdc.remote
def node_and_pid():
    return pdc.node_id(), os.getpid()


@pdc.remote
def total(a):
    # pdc.put stores an array as its bytes (what C reads too); an array
    # passed as an argument or returned by a task stays an array.
    if isinstance(a, bytes):
        a = np.frombuffer(a, dtype=np.float64)
    return float(a.sum())


def _on(node):
    return {"strategy": pdc.NodeAffinity(node)}


def _nodes():
    return sorted(n["NodeID"] for n in pdc.nodes() if n["Alive"])


def test_three_nodes_joined():
    assert len(_nodes()) == 3 and pdc.cluster_resources()["CPU"] == 3.0


def test_python_tasks_spread_over_every_node():
    spread = node_and_pid.options(strategy="SPREAD")
    seen = set()

    def one_round():
        seen.update(n for n, _ in pdc.get([spread.remote() for _ in range(6)], timeout=T.TIMEOUT))
        return seen == set(_nodes())

    # Right after `pdc start` a raylet may not know every node yet.
    assert T.wait_until(one_round, timeout=15, step=0.1), seen


def test_affinity_and_labels_place_python_tasks():
    for node in _nodes():
        assert pdc.get(node_and_pid.options(**_on(node)).remote(), timeout=T.TIMEOUT)[0] == node
    zone_c = [n["NodeID"] for n in pdc.nodes() if n["Labels"].get("zone") == "c"][0]
    got = pdc.get(node_and_pid.options(label_selector={"zone": "c"}).remote(), timeout=T.TIMEOUT)
    assert got[0] == zone_c


def test_references_cross_nodes_and_nested_calls_cross_back():
    me = pdc.node_id()
    others = [n for n in _nodes() if n != me]
    a = np.arange(200_000, dtype=np.float64)  # 1.6 MB: a store object
    ref = pdc.put(a)
    # Read on another node (the object is pulled there).
    assert pdc.get(total.options(**_on(others[0])).remote(ref), timeout=T.TIMEOUT) == a.sum()

    @pdc.remote
    def relay(node, x):
        # On one node, call a task on another and return where it ran.
        inner = total.options(strategy=pdc.NodeAffinity(node)).remote(x)
        return pdc.node_id(), pdc.get(inner, timeout=60)

    where, value = pdc.get(relay.options(**_on(others[0])).remote(others[1], ref), timeout=60)
    assert where == others[0] and value == a.sum()

    made_there = pdc.remote(lambda n: np.ones(n)).options(**_on(others[1])).remote(300_000)
    back = pdc.get(made_there, timeout=T.TIMEOUT)
    assert isinstance(back, np.ndarray) and back.sum() == 300_000.0


@pdc.remote
class Tally:
    def __init__(self):
        self.items = []

    def add(self, item):
        self.items.append(item)
        return len(self.items)

    def where(self):
        return pdc.node_id(), list(self.items)


def test_a_python_actor_on_each_node():
    actors = {node: Tally.options(**_on(node)).remote() for node in _nodes()}
    for node, t in actors.items():
        for i in range(3):
            pdc.get(t.add.remote({"node": node, "i": i}), timeout=T.TIMEOUT)
    for node, t in actors.items():
        where, items = pdc.get(t.where.remote(), timeout=T.TIMEOUT)
        assert where == node and items == [{"node": node, "i": i} for i in range(3)]
        pdc.kill(t)


def test_a_remote_traceback_names_the_node():
    me = pdc.node_id()
    other = [n for n in _nodes() if n != me][0]

    @pdc.remote
    def fails():
        raise ValueError("raised on another node")

    with pytest.raises(pdc.TaskError, match="raised on another node") as info:
        pdc.get(fails.options(**_on(other)).remote(), timeout=T.TIMEOUT)
    assert info.value.node == other and "in fails" in info.value.traceback
