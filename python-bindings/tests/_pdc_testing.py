"""What the Python tests share: where things are, the test library's
checksum and byte pattern, and a look at the cluster from outside (its
session directory, the object count of its store, its processes).

Every test runs against a real cluster: the embedded one pdc.init()
starts, or (test_multinode) a two-node cluster started with `pdc start`.
Sessions live under a private root, ROOT (PDC_SESSION_ROOT, default
/tmp/pdc-test, plus /python-PID), so that the end-of-run check in
conftest.py sees only this run's sessions, stores and processes.
"""

import contextlib
import ctypes
import glob
import os
import re
import signal
import socket
import subprocess
import time

import pdc

HERE = os.path.dirname(os.path.abspath(__file__))
BINDINGS = os.path.dirname(HERE)
REPO = os.path.dirname(BINDINGS)

BASE_ROOT = os.environ.get("PDC_SESSION_ROOT") or "/tmp/pdc-test"
ROOT = os.path.join(BASE_ROOT, "python-%d" % os.getpid())

# Every wait of a test is bounded by this (seconds).
TIMEOUT = 30

# Store paths of the clusters this run started (checked at the end).
STORES = []


def test_lib():
    """The path of libpdc_test_tasks.so (tests/task_lib.c), or None."""
    env = os.environ.get("PDC_TEST_LIB")
    if env:
        return env
    for build in ("build-py", "build"):
        p = os.path.join(REPO, build, "tests", "libpdc_test_tasks.so")
        if os.path.exists(p):
            return p
    return None


def include_dir():
    """The directory of pdc.h, or None."""
    for d in (os.environ.get("PDC_INCLUDE_DIR"), os.path.join(REPO, "include")):
        if d and os.path.exists(os.path.join(d, "pdc.h")):
            return d
    return None


def bin_dir():
    """Where pdc-head, pdc-raylet, pdc-worker and the pdc CLI are."""
    return os.environ.get("PDC_BIN_DIR") or os.path.dirname(pdc.library_path())


def fnv1a(data):
    """task_lib.c's checksum (FNV-1a, 64 bits, as a signed int64)."""
    h = 14695981039346656037
    for b in bytes(data):
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h - (1 << 64) if h >= 1 << 63 else h


def pattern(n, seed):
    """The bytes make_bytes(n, seed) returns: byte i is (i*31 + seed) & 0xff
    (periodic in 256)."""
    period = bytes(((i * 31 + seed) & 0xFF) for i in range(256))
    return (period * (n // 256 + 1))[:n]


def wait_until(pred, timeout=TIMEOUT, step=0.05):
    """Poll pred until it is true (returns True) or timeout (False)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return bool(pred())


def session_dir():
    """The session directory of this process's embedded cluster."""
    found = glob.glob(os.path.join(ROOT, "session-*-%d-*" % os.getpid()))
    assert len(found) == 1, "session directories of this process: %s" % found
    return found[0]


def store_path():
    with open(os.path.join(session_dir(), "store.path")) as f:
        return f.read().strip()


def store_objects(address=None):
    """How many objects the embedded cluster's store holds (the raylet's
    count, as `pdc status` prints it)."""
    if address is None:
        address = "ipc://%s/head.sock" % session_dir()
    out = subprocess.run(
        [os.path.join(bin_dir(), "pdc"), "status", "--address", address],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    ).stdout
    counts = re.findall(r"\((\d+) objects\)", out)
    assert counts, "pdc status printed no object count:\n" + out
    return sum(int(c) for c in counts)


def our_processes():
    """(pid, command line) of every process that names ROOT: the daemons
    and workers of this run's clusters."""
    found = []
    for d in glob.glob("/proc/[0-9]*"):
        try:
            with open(d + "/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if ROOT in cmd and int(os.path.basename(d)) != os.getpid():
            found.append((int(os.path.basename(d)), cmd.strip()))
    return found


def store_mapping_of(address):
    """The file of this process's mapping that holds address, or None."""
    with open("/proc/self/maps") as maps:
        for line in maps:
            parts = line.split(None, 5)
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            if lo <= address < hi:
                return parts[5].strip() if len(parts) > 5 else ""
    return None


def view_address(view):
    """The address of the first byte of a zero-copy view from pdc.get (its
    exporter is a ctypes array over the object's bytes)."""
    return ctypes.addressof(view.obj)


class LoopbackCluster:
    """A cluster started with `pdc start` on loopback, as a user would: a
    head node, then one node per entry of `nodes` (a list of extra `pdc
    start` options each), every session under ROOT/name.  start() returns
    the head's address; stop() runs `pdc stop` and checks that every
    daemon is gone and no session directory is left."""

    def __init__(self, name, nodes, head_options=("--num-cpus", "1")):
        self.root = os.path.join(ROOT, name)
        self.nodes = [list(n) for n in nodes]
        self.head_options = list(head_options)
        self.address = None
        self.pids = []

    def cli(self, *args):
        env = dict(os.environ, PDC_SESSION_ROOT=self.root)
        return subprocess.run(
            [os.path.join(bin_dir(), "pdc")] + list(args),
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )

    def node_dirs(self):
        return sorted(glob.glob(os.path.join(self.root, "node-*")))

    def node_dir(self, node_id):
        return [d for d in self.node_dirs() if d.endswith(node_id)][0]

    def _pids(self):
        pids = []
        for d in self.node_dirs():
            for name in ("head.pid", "raylet.pid"):
                try:
                    with open(os.path.join(d, name)) as f:
                        pids.append(int(f.read()))
                except OSError:
                    pass
        return pids

    def kill_raylet(self, node_id):
        with open(os.path.join(self.node_dir(node_id), "raylet.pid")) as f:
            os.kill(int(f.read()), signal.SIGKILL)

    def start(self):
        os.makedirs(self.root, exist_ok=True)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.address = "tcp://127.0.0.1:%d" % port
        head = self.cli("start", "--head", "--port", str(port), *self.head_options)
        assert head.returncode == 0, head.stderr
        for options in self.nodes:
            node = self.cli("start", "--address", self.address, *options)
            assert node.returncode == 0, node.stderr
        self.pids = self._pids()
        for d in self.node_dirs():
            with open(os.path.join(d, "store.path")) as f:
                STORES.append(f.read().strip())
        return self.address

    def head_dir(self):
        """The head node's session directory (the one with head.pid)."""
        return [d for d in self.node_dirs() if os.path.exists(os.path.join(d, "head.pid"))][0]

    def kill_head(self):
        """SIGKILL the head (its raylet and the other nodes run on)."""
        with open(os.path.join(self.head_dir(), "head.pid")) as f:
            pid = int(f.read())
        os.kill(pid, signal.SIGKILL)
        assert wait_until(lambda: not _alive(pid), timeout=10), pid

    def restart_head(self):
        """`pdc start --head` again on the same address: the head starts in
        its old session directory and reads its tables back."""
        port = self.address.rsplit(":", 1)[1]
        head = self.cli("start", "--head", "--port", port, *self.head_options)
        assert head.returncode == 0, head.stderr
        self.pids = sorted(set(self.pids) | set(self._pids()))
        return head

    def add_node(self, *options):
        """Start one more node (`pdc start --address`); its node id."""
        before = set(self.node_dirs())
        node = self.cli("start", "--address", self.address, *options)
        assert node.returncode == 0, node.stderr
        (new,) = set(self.node_dirs()) - before
        self.pids = sorted(set(self.pids) | set(self._pids()))
        with open(os.path.join(new, "store.path")) as f:
            STORES.append(f.read().strip())
        return new.rsplit("-", 1)[1]

    @contextlib.contextmanager
    def joined(self):
        """Start the cluster and pdc.init it; shut down and stop at the end."""
        address = self.start()
        try:
            pdc.init(address)
            yield address
        finally:
            pdc.shutdown()
            self.stop()

    def stop(self):
        stop = self.cli("stop")
        assert stop.returncode == 0, stop.stderr
        assert wait_until(lambda: not any(_alive(p) for p in self.pids), timeout=10), self.pids
        assert not self.node_dirs()
        os.rmdir(self.root)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False
