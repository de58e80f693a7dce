"""A driver killed with SIGKILL takes its objects with it, on every node:
on a three-node cluster started with `pdc start` on loopback, a driver
puts an object on its node and has tasks on the two other nodes return
stored values (one of them also copied to its own node), and is killed;
its raylet sees its process gone and deletes what it owned from its
store and from every other node's within a few seconds."""

import os
import re
import signal
import subprocess
import sys
import textwrap

import _pdc_testing as T

CLUSTER = T.LoopbackCluster("owner-death", [["--num-cpus", "1"], ["--num-cpus", "1"]])

DRIVER = textwrap.dedent(
    """
    import sys, time
    import pdc
    pdc.init(sys.argv[1])

    @pdc.remote
    def block(n):
        return b"x" * n

    here = pdc.node_id()
    others = [n["NodeID"] for n in pdc.nodes() if n["Alive"] and n["NodeID"] != here]
    put = pdc.put(b"p" * (1 << 20))
    made = [block.options(scheduling_strategy=pdc.NodeAffinity(n)).remote(300 * 1024)
            for n in others]
    assert len(pdc.get(made[0])) == 300 * 1024  # also copied to this node
    pdc.wait(made, num_returns=len(made), timeout=30)
    print("ready", here, flush=True)
    time.sleep(120)
    """
)


def _objects(address):
    status = CLUSTER.cli("status", "--address", address)
    assert status.returncode == 0, status.stderr
    return {m.group(1): int(m.group(2)) for m in re.finditer(
        r"node (\w+) .*\n.*\((\d+) objects\)", status.stdout)}


def test_a_killed_drivers_objects_go_from_every_node():
    address = CLUSTER.start()
    try:
        before = _objects(address)
        assert len(before) == 3 and not any(before.values()), before
        driver = subprocess.Popen(
            [sys.executable, "-c", DRIVER, address],
            env=dict(os.environ, PDC_SESSION_ROOT=CLUSTER.root),
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            line = driver.stdout.readline()
            assert line.startswith("ready"), line
            held = _objects(address)
            assert all(held.values()), "a node holds no object of the driver: %s" % held
        finally:
            driver.send_signal(signal.SIGKILL)
            driver.wait(timeout=10)
        assert T.wait_until(lambda: not any(_objects(address).values()), timeout=10), _objects(
            address
        )
    finally:
        CLUSTER.stop()
