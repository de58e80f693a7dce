"""Lineage reconstruction on loopback clusters started with `pdc start`: a
head node with one CPU (the driver's node) and nodes B and C with two.
Tasks that need two CPUs, placed on B (soft node affinity), return stored
values, so that they can only ever run on B or C; B's raylet is killed with SIGKILL (its workers die with it), so
the only copy of each is gone, and the owner re-runs the tasks on C:

- a chain of 100 tasks whose every link was on B is rebuilt link by link
  and reads back exactly (the time the rebuild took is printed);
- a result lost more often than max_retries allows fails with
  ObjectLostError naming the object and its task;
- with lineage_max_bytes too small to keep a spec, a lost result fails
  with ObjectLostError saying its lineage was evicted.

Without reconstruction each get below raises ObjectLostError ("is on node
B, which is dead").

Puts have no lineage; pdc.put(_replicas=2) keeps a second copy on another
node, and when that node's raylet is killed the owner makes one on the
last node."""

import contextlib
import os
import re
import time

import pytest

import _pdc_testing as T
import pdc

SIZE = 200 * 1024  # over inline_max (100 KiB): results go to the store
CHAIN = 100


def _cluster(name):
    return T.LoopbackCluster(
        name, [["--num-cpus", "2"], ["--num-cpus", "2"]], head_options=("--num-cpus", "1")
    )


@contextlib.contextmanager
def _joined(cluster, monkeypatch):
    """Start cluster and join it on the head node (PDC_NODE_ID: every node
    runs on this host); yields the ids of nodes B and C."""
    address = cluster.start()
    try:
        head = [d for d in cluster.node_dirs() if os.path.exists(os.path.join(d, "head.pid"))]
        assert len(head) == 1, cluster.node_dirs()
        monkeypatch.setenv("PDC_NODE_ID", os.path.basename(head[0]).rsplit("-", 1)[1])
        pdc.init(address)
        try:
            me = pdc.node_id()
            ids = sorted(n["NodeID"] for n in pdc.nodes() if n["Alive"] and n["NodeID"] != me)
            assert len(ids) == 2 and me in head[0], pdc.nodes()
            # Hard affinity waits until this node's raylet sees B and C;
            # soft affinity (below) would go elsewhere before.
            node = pdc.function(T.test_lib(), "node")
            for n in ids:
                assert pdc.get(node.options(strategy=pdc.NodeAffinity(n)).remote()) == n
            yield ids
        finally:
            pdc.shutdown()
    finally:
        cluster.stop()


def _on(fn, node, **options):
    return fn.options(strategy=pdc.NodeAffinity(node, soft=True), num_cpus=2, **options)


def _objects(cluster):
    """How many objects each live node's store holds (`pdc status`)."""
    status = cluster.cli("status", "--address", cluster.address)
    assert status.returncode == 0, status.stderr
    return {
        m.group(1): int(m.group(2))
        for m in re.finditer(r"node (\w+) .*\n.*\((\d+) objects\)", status.stdout)
    }


def _only_on(cluster, node, count):
    """Node holds count objects and no other node holds any."""
    held = _objects(cluster)
    assert held.pop(node) == count and not any(held.values()), _objects(cluster)


def _wait_dead(node):
    assert T.wait_until(
        lambda: not [n for n in pdc.nodes() if n["NodeID"] == node and n["Alive"]]
    ), "node %s is still alive after its raylet was killed" % node


def _plus(data, k):
    return bytes((b + k) & 0xFF for b in data)


def test_a_chain_whose_results_were_on_a_dead_node_is_rebuilt(lib, monkeypatch):
    cluster = _cluster("lineage-chain")
    with _joined(cluster, monkeypatch) as (b, c):
        make = _on(pdc.function(lib, "make_bytes"), b)
        plus = _on(pdc.function(lib, "bytes_plus_one"), b)
        node_of = pdc.function(lib, "node_of_arg").options(num_cpus=2)
        refs = [make.remote(SIZE, 3)]
        for _ in range(CHAIN):
            refs.append(plus.remote(refs[-1]))
        ready, _ = pdc.wait(refs, num_returns=len(refs), timeout=T.TIMEOUT)
        assert len(ready) == len(refs)
        assert pdc.get(node_of.options(strategy=pdc.NodeAffinity(b)).remote(refs[-1])) == b
        _only_on(cluster, b, CHAIN + 1)
        cluster.kill_raylet(b)
        _wait_dead(b)
        start = time.monotonic()
        last = bytes(pdc.get(refs[-1], timeout=T.TIMEOUT))
        took = time.monotonic() - start
        print("\nrebuilt a lost chain of %d tasks (%d KiB each) in %.3f s" % (
            CHAIN + 1, SIZE // 1024, took))
        assert last == _plus(T.pattern(SIZE, 3), CHAIN)
        # Every link was rebuilt on the live node, and reads back.
        assert bytes(pdc.get(refs[0], timeout=T.TIMEOUT)) == T.pattern(SIZE, 3)
        assert bytes(pdc.get(refs[CHAIN // 2], timeout=T.TIMEOUT)) == _plus(
            T.pattern(SIZE, 3), CHAIN // 2
        )
        # A dependent submitted now reads a rebuilt argument (it can only
        # run on C now).
        assert pdc.get(node_of.remote(refs[1]), timeout=T.TIMEOUT) == c


def test_a_result_lost_more_often_than_max_retries_fails_naming_it_and_its_task(
    lib, monkeypatch
):
    cluster = _cluster("lineage-retries")
    with _joined(cluster, monkeypatch) as (b, c):
        ref = _on(pdc.function(lib, "make_bytes"), b, max_retries=1).remote(SIZE, 9)
        checksum = pdc.function(lib, "checksum").options(num_cpus=2)  # not here: on C
        assert pdc.wait([ref], timeout=T.TIMEOUT)[0] == [ref]
        _only_on(cluster, b, 1)
        cluster.kill_raylet(b)
        _wait_dead(b)
        # A dependent finds its argument lost: it is rebuilt on C (the one
        # re-run max_retries=1 allows) and the dependent runs.
        assert pdc.get(checksum.remote(ref), timeout=T.TIMEOUT) == T.fnv1a(T.pattern(SIZE, 9))
        _only_on(cluster, c, 1)
        cluster.kill_raylet(c)
        _wait_dead(c)
        with pytest.raises(pdc.ObjectLostError) as e:
            pdc.get(ref, timeout=T.TIMEOUT)
        text = str(e.value)
        assert ref.hex() in text and "make_bytes" in text and "max_retries" in text, text


def test_a_lost_result_whose_lineage_was_evicted_says_so(lib, monkeypatch):
    cluster = _cluster("lineage-evicted")
    monkeypatch.setenv("PDC_LINEAGE_MAX_BYTES", "1")  # no spec fits
    with _joined(cluster, monkeypatch) as (b, _):
        ref = _on(pdc.function(lib, "make_bytes"), b).remote(SIZE, 1)
        assert pdc.wait([ref], timeout=T.TIMEOUT)[0] == [ref]
        _only_on(cluster, b, 1)
        cluster.kill_raylet(b)
        _wait_dead(b)
        with pytest.raises(pdc.ObjectLostError) as e:
            pdc.get(ref, timeout=T.TIMEOUT)
        text = str(e.value)
        assert ref.hex() in text and "lineage was evicted" in text, text


def test_a_replicated_put_gets_a_new_copy_when_its_holder_dies(monkeypatch):
    cluster = _cluster("lineage-replicas")
    with _joined(cluster, monkeypatch) as (b, c):
        with pytest.raises(ValueError):
            pdc.put(b"x", _replicas=99)
        data = T.pattern(SIZE, 6)
        ref = pdc.put(data, _replicas=2)
        held = _objects(cluster)
        me = pdc.node_id()
        assert held[me] == 1 and held[b] + held[c] == 1, held
        holder, spare = (b, c) if held[b] else (c, b)
        cluster.kill_raylet(holder)
        assert T.wait_until(lambda: _objects(cluster).get(spare) == 1), _objects(cluster)
        assert bytes(pdc.get(ref, timeout=T.TIMEOUT)) == data
