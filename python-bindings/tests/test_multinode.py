"""A two-node cluster on loopback, started with `pdc start` as a user would
(a head node and a second node labelled zone=b), joined with
pdc.init(address): nodes(), SPREAD and node affinity across nodes, an
object pulled from the other node, and ObjectLostError when the node
holding an object dies."""

import os

import pytest

import _pdc_testing as T
import pdc

CLUSTER = T.LoopbackCluster("multinode", [["--num-cpus", "1", "--labels", "zone=b"]])


@pytest.fixture(scope="module")
def two_nodes():
    with CLUSTER.joined() as address:
        yield address


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
    with open(os.path.join(CLUSTER.node_dir(pdc.node_id()), "store.path")) as f:
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
    CLUSTER.kill_raylet(other)
    with pytest.raises(pdc.ObjectLostError) as e:
        pdc.get(ref, timeout=T.TIMEOUT)
    assert e.value.code == pdc._lib.PDC_EOBJECTLOST and other in str(e.value)
