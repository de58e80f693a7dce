"""Actors that come back after their node dies, on a three-node loopback
cluster started with `pdc start`: a head node (the driver's) and two
nodes with a `spot` resource.  A Counter actor with max_restarts and
max_task_retries is placed on a spot node; that node's raylet is killed
with SIGKILL (its workers die with it); the actor is built again on the
other spot node from its original arguments, the driver's handle and a
task's handle on the head node go on working, and `pdc status` shows the
actor ALIVE with its restart, and a killed actor without restarts DEAD
with the reason.  Python actors take the same options."""

import os
import signal

import pytest

import _pdc_testing as T
import pdc

CLUSTER = T.LoopbackCluster(
    "actor-restarts",
    [["--num-cpus", "1", "--resources", "spot=1"], ["--num-cpus", "1", "--resources", "spot=1"]],
)


@pytest.fixture(scope="module")
def three_nodes():
    """The cluster, joined on the head's node (which has no spot), so that
    killing a spot node never takes the driver's own raylet."""
    address = CLUSTER.start()
    head_dir = [d for d in CLUSTER.node_dirs() if os.path.exists(os.path.join(d, "head.pid"))][0]
    os.environ["PDC_NODE_ID"] = os.path.basename(head_dir).rsplit("-", 1)[1]
    try:
        pdc.init(address)
        yield address
    finally:
        del os.environ["PDC_NODE_ID"]
        pdc.shutdown()
        CLUSTER.stop()


def _status():
    out = CLUSTER.cli("status", "--address", CLUSTER.address)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_an_actor_whose_node_dies_restarts_on_another_node(three_nodes, lib):
    Counter = pdc.actor_class(lib, "Counter").options(
        resources={"spot": 1}, max_restarts=1, max_task_retries=-1
    )
    c = Counter.remote(100)
    first = pdc.get(c.actor_node.remote(), timeout=T.TIMEOUT)
    assert first != pdc.node_id()
    assert pdc.get(c.incr.remote(5), timeout=T.TIMEOUT) == 105
    # A task on the driver's node holds the handle across the restart.
    holder = (
        pdc.function(lib, "use_actor_twice")
        .options(strategy=pdc.NodeAffinity(pdc.node_id()))
        .remote(c, 1, 3000)
    )
    assert T.wait_until(lambda: pdc.get(c.get.remote(), timeout=T.TIMEOUT) == 106, timeout=20)
    pid = pdc.get(c.actor_pid.remote(), timeout=T.TIMEOUT)
    CLUSTER.kill_raylet(first)
    # The worker dies with its raylet a moment later (PR_SET_PDEATHSIG):
    # a call before that could still be answered by the old actor.
    assert T.wait_until(lambda: not T._alive(pid), timeout=10)
    second = pdc.get(c.actor_node.remote(), timeout=T.TIMEOUT)
    assert second not in (first, pdc.node_id())
    # Built again from its constructor's argument: 100, not 106.
    assert pdc.get(holder, timeout=T.TIMEOUT) == 101
    assert pdc.get(c.incr.remote(1), timeout=T.TIMEOUT) == 102
    status = _status()
    assert "ALIVE" in status and "1 of 1" in status, status
    assert "actors: 1 alive" in status, status
    pdc.kill(c)
    assert T.wait_until(lambda: "actors: 0 alive" in _status(), timeout=10), _status()


def test_an_actor_without_restarts_is_dead_with_the_reason(three_nodes, lib):
    c = pdc.actor_class(lib, "Counter").remote(0)
    pid = pdc.get(c.actor_pid.remote(), timeout=T.TIMEOUT)
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(pdc.ActorDiedError):
        pdc.get(c.get.remote(), timeout=T.TIMEOUT)
    # Its creator saw the worker exit or its connection break; either way
    # the head's table says DEAD with that reason and "none allowed".
    assert T.wait_until(
        lambda: any(
            "DEAD" in line and "none allowed" in line and reason in _status()
            for line in _status().splitlines()
            for reason in ("exited (signal 9)", "lost the connection to the worker")
        ),
        timeout=10,
    ), _status()


def test_a_python_actor_restarts_with_its_original_arguments(three_nodes):
    @pdc.remote(max_restarts=-1, max_task_retries=-1)
    class Box:
        def __init__(self, start):
            self.value = start

        def add(self, k):
            self.value += k
            return self.value

        def pid(self):
            import os

            return os.getpid()

    b = Box.remote(7)
    assert pdc.get(b.add.remote(3), timeout=T.TIMEOUT) == 10
    os.kill(pdc.get(b.pid.remote(), timeout=T.TIMEOUT), signal.SIGKILL)
    assert pdc.get(b.add.remote(1), timeout=T.TIMEOUT) == 8
    pdc.kill(b)
