"""@pdc.remote across real TCP: three test hosts (network namespaces on a
bridge, tests/netns/hosts.sh), a node started with `pdc start` on each, and
a Python driver on one of them.  Python tasks spread over the three hosts,
an actor on each host keeps its state, a reference made by the driver is
read on the others, and a failure names the host's node.  Needs root and
`ip netns` (skipped otherwise, as the C cluster test is)."""

import json
import os
import subprocess
import sys

import pytest

import _pdc_testing as T

HOSTS = os.path.join(T.REPO, "tests", "netns", "hosts.sh")
HEAD = "10.213.0.1:6390"

DRIVER = r"""
import json, os, sys
import numpy as np
import pdc

pdc.init(os.environ["PDC_ADDRESS"])
T = 60

@pdc.remote
def where(x):
    return pdc.node_id(), x * 2

@pdc.remote
class Keeper:
    def __init__(self):
        self.seen = []
    def keep(self, v):
        self.seen.append(v)
        return pdc.node_id(), list(self.seen)

@pdc.remote
def fails():
    raise RuntimeError("failed on purpose")

nodes = sorted(n["NodeID"] for n in pdc.nodes() if n["Alive"])
out = {"driver": pdc.node_id(), "nodes": nodes, "spread": [], "actors": {}}
spread = where.options(strategy="SPREAD")
for _ in range(30):
    out["spread"] += [n for n, _ in pdc.get([spread.remote(i) for i in range(6)], timeout=T)]
    if set(out["spread"]) == set(nodes):
        break
ref = pdc.put(np.arange(100_000, dtype=np.float64))
readers = {}
for n in nodes:
    on = {"strategy": pdc.NodeAffinity(n)}
    k = Keeper.options(**on).remote()
    pdc.get(k.keep.remote("a"), timeout=T)
    out["actors"][n] = pdc.get(k.keep.remote({"b": n}), timeout=T)
    size = pdc.remote(lambda b: (pdc.node_id(), len(b))).options(**on).remote(ref)
    readers[n] = pdc.get(size, timeout=T)
    pdc.kill(k)
out["readers"] = readers
other = [n for n in nodes if n != out["driver"]][0]
try:
    pdc.get(fails.options(strategy=pdc.NodeAffinity(other)).remote(), timeout=T)
except pdc.TaskError as e:
    out["error"] = {"node": e.node, "message": e.message, "traceback": e.traceback}
print(json.dumps(out))
pdc.shutdown()
"""


def _sh(*args, check=True, timeout=T.TIMEOUT, env=None):
    return subprocess.run(
        list(args), capture_output=True, text=True, timeout=timeout, check=check, env=env
    )


@pytest.fixture(scope="module")
def hosts():
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    probe = "pdc-probe-py-%d" % os.getpid()
    if _sh("ip", "netns", "add", probe, check=False).returncode != 0:
        pytest.skip("ip netns is not available")
    _sh("ip", "netns", "del", probe)
    root = os.path.join(T.ROOT, "netns")
    os.makedirs(root)
    env = dict(os.environ, PDC_SESSION_ROOT=root)
    pdc_cli = os.path.join(T.bin_dir(), "pdc")
    try:
        _sh(HOSTS, "up", "3")
        _sh(HOSTS, "run", "0", pdc_cli, "start", "--head", "--node-ip-address", "10.213.0.1",
            "--port", HEAD.split(":")[1], "--num-cpus", "1", "--insecure", env=env)
        for h in (1, 2):
            _sh(HOSTS, "run", str(h), pdc_cli, "start", "--address", "tcp://" + HEAD,
                "--num-cpus", "1", "--insecure", env=env)
        for d in os.listdir(root):
            with open(os.path.join(root, d, "store.path")) as f:
                T.STORES.append(f.read().strip())
        yield env
    finally:
        _sh(pdc_cli, "stop", check=False, env=env)
        _sh(HOSTS, "down", check=False)
        assert T.wait_until(lambda: not os.listdir(root), timeout=10), os.listdir(root)
        os.rmdir(root)


def test_python_tasks_and_actors_over_tcp_between_hosts(hosts, tmp_path):
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    env = dict(hosts, PDC_ADDRESS="tcp://" + HEAD)
    run = _sh(HOSTS, "run", "1", sys.executable, str(script), check=False, timeout=240, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    nodes = out["nodes"]
    assert len(nodes) == 3
    assert set(out["spread"]) == set(nodes), out["spread"]
    for n in nodes:
        assert out["actors"][n] == [n, ["a", {"b": n}]]
        assert out["readers"][n] == [n, 800_000]
    err = out["error"]
    assert err["node"] != out["driver"] and err["node"] in nodes
    assert "failed on purpose" in err["message"] and "in fails" in err["traceback"]
