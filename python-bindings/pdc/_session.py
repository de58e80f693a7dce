"""_session: one pdc_client per process, from pdc.init to pdc.shutdown.

A Session owns the pdc_client.  Everything that holds something of the
client's (an ObjectRef's reference, an actor handle, a zero-copy view's
pinned pdc_object, a pdc_fn's interned strings) keeps the Session it came
from and gives it back through Session.release_*: after shutdown, and at
interpreter exit (an atexit hook shuts down), those calls do nothing, so
that garbage collected late never touches a freed client.

The lock only orders those releases against shutdown (a finalizer may run
on any thread); calls into libpdc do not take it: libpdc is thread-safe.
"""

import atexit
import ctypes
import itertools
import threading
import warnings

from . import _errors, _lib

_ids = itertools.count(1)
_current = None
_current_lock = threading.Lock()


class Session:
    """The connection to a cluster; pdc.init returns it.

    Usable as a context manager: `with pdc.init(): ...` shuts down at the
    end of the block."""

    def __init__(self, handle, address, owned=True):
        self.handle = handle  # the pdc_client *, as an int
        self.address = address
        self.owned = owned  # False: a Python worker's own client (attach)
        self.id = next(_ids)
        self.alive = True
        self.lock = threading.RLock()
        self.pins = 0  # zero-copy views alive (pinned pdc_objects)
        # (namespace, name) -> handle of each named actor created here,
        # for pdc.get_actor right after the creation (see _remote.get_actor)
        self.named = {}
        self.lib = _lib.lib()

    # -- what ObjectRef, ActorHandle and zero-copy views give back --------
    def release_ref(self, ref):
        with self.lock:
            if self.alive:
                self.lib.pdc_ref_release(self.handle, ref)

    def release_actor(self, actor):
        with self.lock:
            if self.alive:
                self.lib.pdc_actor_release(self.handle, actor)

    def release_object(self, obj):
        with self.lock:
            self.pins -= 1
            if self.alive:
                self.lib.pdc_object_release(self.handle, obj)

    def node_id(self):
        """The id of the node this driver is on."""
        s = self.lib.pdc_node_id(self.handle)
        return s.decode() if s else ""

    def shutdown(self, warn=True):
        """Stop: release everything and stop the embedded cluster.  In a
        Python worker (a task calling pdc.shutdown) this does nothing: the
        worker's client belongs to the worker."""
        global _current
        with self.lock:
            if not self.alive or not self.owned:
                return
            if self.pins and warn:
                warnings.warn(
                    "pdc.shutdown: %d zero-copy view(s) from pdc.get are still alive; their "
                    "memory belongs to the object store and must not be read after shutdown "
                    "(copy them with bytes(view) or numpy.array(view) first)" % self.pins,
                    RuntimeWarning,
                    stacklevel=3,
                )
            self.alive = False
            self.named.clear()
            handle = ctypes.c_void_p(self.handle)
            self.lib.pdc_shutdown(ctypes.byref(handle))
        with _current_lock:
            if _current is self:
                _current = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.shutdown()
        return False

    def __repr__(self):
        state = "alive" if self.alive else "shut down"
        where = self.address or "embedded cluster"
        return "<pdc.Session %s, %s>" % (where, state)


def init(address=None, *, ignore_reinit_error=False):
    """Start or join a cluster and return the Session.

    address None (and PDC_ADDRESS unset): start a private local cluster,
    stopped at shutdown, as ray.init() does.  Otherwise join the head at
    address ("tcp://host:6380").  Calling init twice raises RuntimeError
    unless ignore_reinit_error is true (the running Session is returned)."""
    global _current
    with _current_lock:
        if _current is not None:
            if ignore_reinit_error:
                return _current
            raise RuntimeError(
                "pdc.init was already called; call pdc.shutdown() first, or pass "
                "ignore_reinit_error=True"
            )
        if address is not None and not isinstance(address, str):
            raise TypeError("pdc.init: address must be a str, not %s" % type(address).__name__)
        lib = _lib.lib()
        handle = lib.pdc_init(address.encode() if address else None)
        if not handle:
            msg = _lib.last_error() or "pdc_init failed (see stderr)"
            raise _errors.PdcConnectionError(msg)
        _current = Session(handle, address)
        return _current


def attach(handle):
    """In a Python worker (pdc._worker): the worker's own client as the
    running Session, so that tasks call, put and get through it."""
    global _current
    with _current_lock:
        if _current is None:
            _current = Session(handle, "worker", owned=False)
        return _current


def shutdown():
    """Stop the running Session (a no-op if there is none)."""
    s = _current
    if s is not None:
        s.shutdown()


def is_initialized():
    """Whether pdc.init was called and pdc.shutdown was not."""
    return _current is not None


def current():
    """The running Session, or NotInitializedError."""
    s = _current
    if s is None:
        raise _errors.NotInitializedError("pdc is not initialized: call pdc.init() first")
    return s


def node_id():
    """The id of the node this driver runs on (Ray's
    get_runtime_context().get_node_id())."""
    return current().node_id()


# How long nodes() and the resource views wait for the head by default.
HEAD_TIMEOUT_S = 10


def _pairs(text, number):
    out = {}
    for term in text.split(","):
        if "=" in term:
            k, v = term.split("=", 1)
            out[k.strip()] = float(v) if number else v.strip()
    return out


def nodes(timeout=HEAD_TIMEOUT_S):
    """The cluster's nodes as the head sees them, as ray.nodes(): a list of
    dicts with NodeID, Alive, Endpoint, Labels (a dict), Resources (the
    node's totals, a dict of floats) and AvailableResources (what is free
    now)."""
    s = current()
    ms = _lib.PDC_FOREVER if timeout is None else int(timeout * 1000)
    size = 16
    while True:
        arr = (_lib.PdcNodeInfo * size)()
        n = s.lib.pdc_nodes(s.handle, arr, size, ms)
        if n < 0:
            raise _errors.from_status(n)
        if n <= size:
            break
        size = n
    text = lambda b: b.decode("utf-8", "replace")  # noqa: E731
    return [
        {
            "NodeID": text(a.id),
            "Alive": bool(a.alive),
            "Endpoint": text(a.endpoint),
            "Labels": _pairs(text(a.labels), False),
            "Resources": _pairs(text(a.total), True),
            "AvailableResources": _pairs(text(a.available), True),
        }
        for a in arr[:n]
    ]


def _sum(key, timeout):
    total = {}
    for node in nodes(timeout):
        if node["Alive"]:
            for k, v in node[key].items():
                total[k] = total.get(k, 0.0) + v
    return total


def cluster_resources(timeout=HEAD_TIMEOUT_S):
    """The resources of the live nodes, summed: {"CPU": 8.0, "GPU": 1.0}."""
    return _sum("Resources", timeout)


def available_resources(timeout=HEAD_TIMEOUT_S):
    """What of them is free now, summed over the live nodes."""
    return _sum("AvailableResources", timeout)


def _shutdown_at_exit():
    # Views still alive at exit are the program's last values, not a
    # mistake: no warning.
    s = _current
    if s is not None:
        s.shutdown(warn=False)


atexit.register(_shutdown_at_exit)
