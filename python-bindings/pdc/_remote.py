"""_remote: remote functions and actor classes that live in C libraries.

    add = pdc.function("libtasks.so", "add")          # PDC_FUNCTION(add)
    ref = add.remote(1, 2)                             # ObjectRef
    add.options(num_cpus=2, resources={"GPU": 1}).remote(1, 2)

    Counter = pdc.actor_class("libtasks.so", "Counter")   # PDC_ACTOR_CLASS
    c = Counter.options(name="c", max_concurrency=4).remote(10)
    c.incr.remote(1)

Options are checked and turned into the C struct (pdc_opts,
pdc_actor_opts) when .options() is called, so that a bad option fails
there and .remote() only fills the arguments.  A RemoteFunction names its
function per session (pdc_function's strings live until pdc_shutdown), so
one object keeps working across pdc.init / pdc.shutdown cycles.

The option names are Ray's; where pdc's meaning differs:
- max_retries: None uses pdc's default (3), 0 never retries (Ray's 0),
  n retries n times; pdc has no infinite retries (Ray's -1).
- num_cpus of a task must be > 0 (pdc_opts reads 0 as the default 1).
- strategy / scheduling_strategy: "DEFAULT", "SPREAD" or
  NodeAffinity(node_id, soft=False).
- resources: {"GPU": 1, "edge": 0.5} or pdc's own "GPU=1,edge=0.5";
  num_gpus=n is resources {"GPU": n}.
- label_selector: {"tier": "edge", "zone": "!b", "gpu": "in(a100,h100)"}
  as Ray writes it, or pdc's "tier=edge,zone!=b,gpu in (a100|h100)".

Python functions and classes as tasks and actors (@pdc.remote) are in
_pyremote; `remote` below is the decorator, and ActorHandle serves both
kinds of actor.
"""

import ctypes
import numbers
import os

from . import _errors, _lib
from ._lib import PdcActorOpts, PdcOpts
from ._objects import ObjectRef, encode_args, register_handle_type, release_exports
from ._session import current

# ---------------------------------------------------------------------------
# Options
# ---------------------------------------------------------------------------


class NodeAffinity:
    """Run on node_id only; with soft, elsewhere when that node is dead or
    cannot run it (Ray's NodeAffinitySchedulingStrategy)."""

    def __init__(self, node_id, soft=False):
        if not isinstance(node_id, str) or not node_id:
            raise TypeError("NodeAffinity: node_id must be a non-empty str")
        self.node_id = node_id
        self.soft = bool(soft)

    def __repr__(self):
        return "NodeAffinity(%r, soft=%r)" % (self.node_id, self.soft)


NodeAffinitySchedulingStrategy = NodeAffinity

_TASK_OPTIONS = frozenset(
    {
        "num_cpus",
        "num_gpus",
        "resources",
        "label_selector",
        "strategy",
        "scheduling_strategy",
        "max_retries",
        "name",
    }
)
_ACTOR_OPTIONS = frozenset(
    {
        "num_cpus",
        "num_gpus",
        "resources",
        "label_selector",
        "strategy",
        "scheduling_strategy",
        "name",
        "namespace",
        "max_concurrency",
        "detached",
        "lifetime",
        "max_restarts",
        "max_task_retries",
    }
)


def _amount(what, v):
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or v < 0:
        raise ValueError("%s must be a number >= 0, not %r" % (what, v))
    v = float(v)
    return str(int(v)) if v.is_integer() else repr(v)


def _name_part(what, s):
    if not isinstance(s, str) or not s or any(c in s for c in ",=() \t\n"):
        raise ValueError("%s: %r is not a valid name" % (what, s))
    return s


def _resources(resources, num_gpus):
    """pdc's "NAME=AMOUNT,..." text, or None."""
    if resources is None:
        items = {}
    elif isinstance(resources, str):
        items = None
    elif isinstance(resources, dict):
        items = dict(resources)
    else:
        raise TypeError(
            "resources must be a dict {'GPU': 1} or a str 'GPU=1', not %s"
            % type(resources).__name__
        )
    if items is None:  # pdc's own text, checked by libpdc
        if num_gpus is not None:
            raise ValueError("give num_gpus in the resources text, or resources as a dict")
        return resources.strip() or None
    if num_gpus is not None:
        if "GPU" in items:
            raise ValueError("num_gpus and resources['GPU'] both given")
        items["GPU"] = num_gpus
    if "CPU" in items:
        raise ValueError("give CPUs with num_cpus, not resources['CPU']")
    terms = [
        "%s=%s" % (_name_part("resources", k), _amount("resources[%r]" % k, v))
        for k, v in items.items()
    ]
    return ",".join(terms) or None


def _label_selector(sel):
    """pdc's selector text from Ray's dict form, or the text as given."""
    if sel is None or isinstance(sel, str):
        return sel or None
    if not isinstance(sel, dict):
        raise TypeError("label_selector must be a dict or a str, not %s" % type(sel).__name__)
    terms = []
    for k, v in sel.items():
        _name_part("label_selector", k)
        if not isinstance(v, str):
            raise TypeError("label_selector[%r] must be a str, not %s" % (k, type(v).__name__))
        v = v.strip()
        negate = v.startswith("!")
        if negate:
            v = v[1:].strip()
        if v.startswith("in(") and v.endswith(")"):
            values = [x.strip() for x in v[3:-1].split(",") if x.strip()]
            if negate:
                raise ValueError("label_selector[%r]: pdc has no '!in(...)' term" % k)
            terms.append("%s in (%s)" % (k, "|".join(values)))
        else:
            terms.append("%s%s=%s" % (k, "!" if negate else "", v))
    return ",".join(terms) or None


def _strategy(options):
    if "strategy" in options and "scheduling_strategy" in options:
        raise ValueError("give strategy or scheduling_strategy, not both")
    s = options.get("strategy", options.get("scheduling_strategy"))
    if s is None or s == "DEFAULT":
        return _lib.PDC_SCHED_DEFAULT, None, 0
    if s == "SPREAD":
        return _lib.PDC_SCHED_SPREAD, None, 0
    if isinstance(s, NodeAffinity):
        return _lib.PDC_SCHED_NODE_AFFINITY, s.node_id, int(s.soft)
    raise ValueError("strategy must be 'DEFAULT', 'SPREAD' or pdc.NodeAffinity(...), not %r" % (s,))


def _check_keys(options, allowed, what):
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise TypeError(
            "%s.options: unknown option(s) %s; the options are %s"
            % (what, ", ".join(unknown), ", ".join(sorted(allowed)))
        )


class _COptions:
    """A pdc_opts or pdc_actor_opts and the bytes its pointers point to."""

    def __init__(self, struct):
        self.struct = struct
        self._keep = []

    def text(self, field, s):
        if s is None:
            return
        if not isinstance(s, str):
            raise TypeError("%s must be a str, not %s" % (field, type(s).__name__))
        b = s.encode()
        self._keep.append(b)
        setattr(self.struct, field, b)


def _common(c, options, zero_cpus, runtime):
    """The fields pdc_opts and pdc_actor_opts share, into c.struct."""
    num_cpus = options.get("num_cpus")
    if num_cpus is not None:
        _amount("num_cpus", num_cpus)
        if num_cpus == 0 and not zero_cpus:
            raise ValueError("num_cpus of a task must be > 0 in pdc (0 reads as the default 1)")
        c.struct.num_cpus = float(num_cpus)
    c.text("resources", _resources(options.get("resources"), options.get("num_gpus")))
    c.text("label_selector", _label_selector(options.get("label_selector")))
    strategy, node_id, soft = _strategy(options)
    c.struct.strategy = strategy
    c.text("node_id", node_id)
    c.struct.soft = soft
    c.text("name", options.get("name"))
    c.text("runtime", runtime)


def _task_options(options, runtime=None):
    """The pdc_opts of a task's options (and the runtime of its workers,
    for Python functions), or None for all defaults."""
    if not options and runtime is None:
        return None
    c = _COptions(PdcOpts())
    _common(c, options, False, runtime)
    retries = options.get("max_retries")
    if retries is not None:
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(
                "max_retries must be an int >= 0 (pdc has no infinite retries), not %r" % (retries,)
            )
        c.struct.max_retries = retries if retries > 0 else -1
    return c


def _actor_options(options, runtime=None):
    """The pdc_actor_opts of an actor's options (and runtime), or None."""
    if not options and runtime is None:
        return None
    c = _COptions(PdcActorOpts())
    _common(c, options, True, runtime)
    mc = options.get("max_concurrency")
    if mc is not None:
        if isinstance(mc, bool) or not isinstance(mc, int) or mc < 1:
            raise ValueError("max_concurrency must be an int >= 1, not %r" % (mc,))
        c.struct.max_concurrency = mc
    c.text("ns", options.get("namespace"))
    lifetime = options.get("lifetime")
    if lifetime not in (None, "detached", "non_detached"):
        raise ValueError("lifetime must be 'detached' or 'non_detached', not %r" % (lifetime,))
    detached = options.get("detached")
    if detached is not None and lifetime is not None and bool(detached) != (lifetime == "detached"):
        raise ValueError("detached and lifetime disagree")
    c.struct.detached = int(bool(detached) or lifetime == "detached")
    for key in ("max_restarts", "max_task_retries"):
        v = options.get(key)
        if v is not None:
            if isinstance(v, bool) or not isinstance(v, int) or v < -1:
                raise ValueError("%s must be an int >= -1 (-1: without limit), not %r" % (key, v))
            setattr(c.struct, key, v)
    return c


def _library_path(library):
    """As pdc_function resolves it: a relative path with a '/' against the
    current directory now (so that workers find the same file, also if
    the driver changes directory later); a bare name as it is, for the
    workers' loader."""
    library = os.fspath(library)
    if not isinstance(library, str) or not library:
        raise TypeError("library must be a non-empty str or path")
    if not library.startswith("/") and "/" in library:
        library = os.path.realpath(library)
    return library


# ---------------------------------------------------------------------------
# Remote functions
# ---------------------------------------------------------------------------


class RemoteFunction:
    """A C remote function (PDC_FUNCTION) named by library and symbol."""

    def __init__(self, library, name, options=None):
        if not isinstance(name, str) or not name:
            raise TypeError("the function name must be a non-empty str")
        self._library = _library_path(library)
        self._name = name
        self._options = dict(options or {})
        self._copts = _task_options(self._options)
        self._opts_arg = self._copts.struct if self._copts else None
        self._bound = None  # (session, pdc_fn)

    @property
    def library(self):
        return self._library

    @property
    def name(self):
        return self._name

    def options(self, **options):
        """A copy with these options (Ray's f.options(...))."""
        _check_keys(options, _TASK_OPTIONS, self._name)
        return RemoteFunction(self._library, self._name, {**self._options, **options})

    def _fn(self, s):
        bound = self._bound
        if bound is not None and bound[0] is s:
            return bound[1]
        fn = s.lib.pdc_function(s.handle, self._library.encode(), self._name.encode())
        if not fn.name:
            raise _errors.from_status(_lib.PDC_EINVAL)
        self._bound = (s, fn)
        return fn

    def remote(self, *args):
        """Submit a call; its ObjectRef at once."""
        s = current()
        fn = self._fn(s)
        values, exports = encode_args(args, s, self._name)
        try:
            ref = s.lib.pdc_call_args(s.handle, fn, self._opts_arg, values, len(args))
        finally:
            release_exports(exports)
        return ObjectRef(ref, s)

    def __call__(self, *args, **kwargs):
        raise TypeError(
            "remote function %s cannot be called directly; use %s.remote(...)"
            % (self._name, self._name)
        )

    def __repr__(self):
        return "pdc.function(%r, %r)" % (self._library, self._name)


def function(library, name):
    """The C remote function `name` of shared library `library`.

    Nothing is loaded here: an unknown library or function is a
    FunctionNotFoundError when the result is read."""
    return RemoteFunction(library, name)


# ---------------------------------------------------------------------------
# Actors
# ---------------------------------------------------------------------------


class ActorMethod:
    """handle.method: .remote(*args) calls it."""

    __slots__ = ("_handle", "_name", "_bname")

    def __init__(self, handle, name, bname):
        self._handle = handle
        self._name = name
        self._bname = bname

    def remote(self, *args, **kwargs):
        h = self._handle
        s = h._session
        if s is not current():
            raise _errors.ShutdownError(
                "the actor handle belongs to a pdc session that was shut down"
            )
        what = "%s.%s" % (h._class_name, self._name)
        if h._python or (h._python is None and not _all_native(args, kwargs)):
            # A Python actor's method: the pickled layout (see _serial).
            from ._pyremote import encode_call

            values, n = encode_call(s, None, args, kwargs, what)
            ref = s.lib.pdc_actor_call_args(s.handle, h._ptr, self._bname, values, n)
            return ObjectRef(ref, s)
        if kwargs:
            raise TypeError("%s: a C actor's method takes no keyword arguments" % what)
        values, exports = encode_args(args, s, what)
        try:
            ref = s.lib.pdc_actor_call_args(s.handle, h._ptr, self._bname, values, len(args))
        finally:
            release_exports(exports)
        return ObjectRef(ref, s)

    def __call__(self, *args, **kwargs):
        raise TypeError(
            "actor method %s cannot be called directly; use .%s.remote(...)"
            % (self._name, self._name)
        )

    def __repr__(self):
        return "<actor method %s.%s>" % (self._handle._class_name, self._name)


def _all_native(args, kwargs):
    """Whether a call of an actor of unknown kind (pdc.get_actor) can go
    as C values: no keyword arguments, and every argument one C reads."""
    from ._objects import sendable_as_is

    return not kwargs and all(sendable_as_is(a) for a in args)


class ActorHandle:
    """A handle to a running actor.  Any attribute not starting with '_' is
    a method: handle.incr.remote(1).  Releasing the handle does not kill
    the actor (pdc.kill does); it dies with this driver unless detached.

    python: True for a Python actor (@pdc.remote class), whose calls
    pickle their arguments; False for a C actor; None when not known (a
    handle from pdc.get_actor): C values go as they are, anything else
    (and keyword arguments) as a Python call."""

    def __init__(self, ptr, session, class_name, python=False):
        self._ptr = ptr
        self._session = session
        self._class_name = class_name
        self._python = python
        self._names = {}

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return self._method(name)

    def _method(self, name):
        """The method `name` (also for names that start with '_')."""
        b = self._names.get(name)
        if b is None:
            b = self._names[name] = name.encode()
        return ActorMethod(self, name, b)

    @property
    def _actor_id(self):
        buf = ctypes.create_string_buffer(33)
        self._session.lib.pdc_actor_id(self._ptr, buf)
        return buf.value.decode()

    def __eq__(self, other):
        return isinstance(other, ActorHandle) and other._actor_id == self._actor_id

    def __hash__(self):
        return hash(self._actor_id)

    def __repr__(self):
        return "ActorHandle(%s, %s)" % (self._class_name, self._actor_id)

    def __copy__(self):
        s = self._session
        with s.lock:
            if s.alive:
                s.lib.pdc_actor_retain(s.handle, self._ptr)
        return ActorHandle(self._ptr, s, self._class_name, self._python)

    def __deepcopy__(self, memo):
        return self.__copy__()

    def __reduce__(self):
        raise TypeError("an actor handle cannot be pickled yet: pass it to a task as an argument")

    def __del__(self):
        s = self.__dict__.get("_session")
        if s is not None:
            self._session = None
            try:
                s.release_actor(self._ptr)
            except Exception:
                pass


register_handle_type(ActorHandle)


class ActorClass:
    """A C actor class (PDC_ACTOR_CLASS); .remote(*args) creates one."""

    def __init__(self, library, cls, options=None):
        if not isinstance(cls, str) or not cls:
            raise TypeError("the class name must be a non-empty str")
        self._library = _library_path(library)
        self._cls = cls
        self._options = dict(options or {})
        self._copts = _actor_options(self._options)
        self._opts_arg = self._copts.struct if self._copts else None
        self._blib = self._library.encode()
        self._bcls = cls.encode()

    def options(self, **options):
        """A copy with these options (name, namespace, max_concurrency,
        num_cpus, num_gpus, resources, detached/lifetime, strategy,
        label_selector, max_restarts, max_task_retries)."""
        _check_keys(options, _ACTOR_OPTIONS, self._cls)
        return ActorClass(self._library, self._cls, {**self._options, **options})

    def remote(self, *args):
        """Create an actor (returns at once) and return its handle.  A
        creation error (unknown class, failed constructor, infeasible
        resources) is raised by every call's get and by pdc.actor_ready."""
        s = current()
        values, exports = encode_args(args, s, self._cls)
        try:
            ptr = s.lib.pdc_actor_create_args(
                s.handle, self._blib, self._bcls, self._opts_arg, values, len(args)
            )
        finally:
            release_exports(exports)
        if not ptr:
            raise _errors.InvalidArgumentError(_lib.last_error())
        handle = ActorHandle(ptr, s, self._cls)
        register_named(s, self._options, handle)
        return handle

    def __call__(self, *args, **kwargs):
        raise TypeError(
            "actor class %s cannot be instantiated directly; use %s.remote(...)"
            % (self._cls, self._cls)
        )

    def __repr__(self):
        return "pdc.actor_class(%r, %r)" % (self._library, self._cls)


def register_named(s, options, handle):
    """Remember a named actor created here, for pdc.get_actor right away."""
    name = options.get("name")
    if name:
        s.named[(options.get("namespace") or "default", name)] = handle


def wrap_actor(ptr, session, class_name, python):
    """A handle over ptr, which holds a reference of its own (a worker's
    actor argument, retained)."""
    return ActorHandle(ptr, session, class_name or "actor", python)


def actor_class(library, cls):
    """The C actor class `cls` (declared with PDC_ACTOR_CLASS) of library."""
    return ActorClass(library, cls)


def _timeout_ms(timeout):
    if timeout is None:
        return _lib.PDC_FOREVER
    if not isinstance(timeout, (int, float)) or timeout < 0:
        raise ValueError("timeout must be None or a number of seconds >= 0, not %r" % (timeout,))
    return int(timeout * 1000)


def get_actor(name, namespace=None, *, timeout=None):
    """The handle of the live actor named `name` in namespace (None:
    "default"), waiting up to timeout seconds (None: as long as it
    takes) while it is still being placed.  ActorNotFoundError (a
    ValueError, as in Ray) if there is none."""
    s = current()
    if not isinstance(name, str) or not name:
        raise TypeError("get_actor: name must be a non-empty str")
    if namespace is not None and not isinstance(namespace, str):
        raise TypeError("get_actor: namespace must be a str")
    ms = _timeout_ms(timeout)
    bname, bns = name.encode(), namespace.encode() if namespace else None
    ptr = s.lib.pdc_actor_get_named(s.handle, bname, bns, ms)
    if not ptr:
        code = s.lib.pdc_last_error_code(s.handle)
        if code == _lib.PDC_ENOTFOUND:
            raise _errors.ActorNotFoundError(_lib.last_error())
        raise _errors.from_status(code)
    return ActorHandle(ptr, s, name, python=None)


def _check_handle(actor, what):
    if not isinstance(actor, ActorHandle):
        raise TypeError("%s takes an actor handle, not a %s" % (what, type(actor).__name__))
    s = current()
    if actor._session is not s:
        raise _errors.ShutdownError("the actor handle belongs to a pdc session that was shut down")
    return s


def kill(actor):
    """Stop the actor: its destructor runs, and calls not finished and
    later ones fail with ActorDiedError.  Killing a dead actor is a no-op."""
    s = _check_handle(actor, "pdc.kill")
    for key, h in list(s.named.items()):
        if h is actor or h._ptr == actor._ptr:
            del s.named[key]
    rc = s.lib.pdc_actor_kill(s.handle, actor._ptr)
    if rc not in (_lib.PDC_OK, _lib.PDC_EACTORDIED):
        raise _errors.from_status(rc)


def actor_ready(actor, timeout=None):
    """Wait until the actor's constructor ran; raise its creation error
    (ActorDiedError, InfeasibleError, FunctionNotFoundError ...), or
    GetTimeoutError after timeout seconds."""
    s = _check_handle(actor, "pdc.actor_ready")
    rc = s.lib.pdc_actor_ready(s.handle, actor._ptr, _timeout_ms(timeout))
    if rc != _lib.PDC_OK:
        raise _errors.from_status(rc)


def remote(*args, **kwargs):
    """@pdc.remote: a Python function as a remote function, a Python class
    as an actor class (see _pyremote), as Ray's @ray.remote:

        @pdc.remote
        def f(x): ...

        @pdc.remote(num_cpus=2, max_retries=1)
        def g(x): ...

    For C code: pdc.function(library, name) and pdc.actor_class(library,
    name)."""
    from ._pyremote import make_remote

    if len(args) == 1 and not kwargs:
        return make_remote(args[0], None)
    if args:
        raise TypeError("@pdc.remote takes a function or a class, or only keyword options")
    return lambda obj: make_remote(obj, kwargs)
