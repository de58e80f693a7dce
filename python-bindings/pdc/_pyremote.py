"""_pyremote: Python functions and classes as remote tasks and actors.

    @pdc.remote
    def square(x):
        return x * x

    @pdc.remote(num_cpus=1)
    class Counter:
        def __init__(self, start):
            self.n = start
        def incr(self, k=1):
            self.n += k
            return self.n

    pdc.get(square.remote(4))                  # 16
    c = Counter.remote(10); pdc.get(c.incr.remote(k=2))   # 12

A Python call is a call of the function "task" (an actor: of the class
"PyActor") of the library "pdc:python", which only Python workers know
(_worker).  Its options carry a runtime, the command line that starts
such a worker: this interpreter (sys.executable) running a bootstrap that
takes this process's sys.path and libpdc, so that the worker imports the
same modules as the driver, as Ray starts a language's workers.  Each
node's raylet keeps a pool of workers per runtime.

The function (the class) is pickled with cloudpickle once per
RemoteFunction and sent with every call, so functions defined in __main__
and closures work; the worker keeps what it unpickled.  Arguments and
results travel as _serial says.
"""

import os
import sys

from . import _errors, _lib, _serial
from ._lib import PdcValue
from ._objects import ObjectRef, is_ref_list, set_bytes, set_refs
from ._remote import (
    _ACTOR_OPTIONS,
    _TASK_OPTIONS,
    ActorHandle,
    _actor_options,
    _check_keys,
    _task_options,
)
from ._serial import qualified_name as _name
from ._session import current

LIBRARY = b"pdc:python"
TASK = b"task"
CLASS = b"PyActor"

# What the worker interpreter runs: argv is [-c, SYS_PATH, LIBPDC, the
# worker's options...]; the driver's sys.path goes first, its libpdc is
# the one loaded.
_BOOT = (
    "import os, sys; sys.argv.pop(0); paths = sys.argv.pop(0).split(os.pathsep); "
    "lib = sys.argv.pop(0); sys.path[:0] = [p for p in paths if p]; "
    "os.path.exists(lib) and os.environ.__setitem__('PDC_LIBRARY', lib); "
    "from pdc._worker import main; "
    "sys.exit(main(['pdc-python-worker'] + sys.argv, os.pathsep.join(paths), lib))"
)

_runtime = None


def runtime():
    """The runtime of this process's Python tasks and actors (tab-separated
    words: see pdc_opts.runtime)."""
    global _runtime
    if _runtime is None:
        paths = []
        for p in sys.path:
            p = os.path.abspath(p or os.getcwd())
            if p not in paths and os.path.exists(p) and os.pathsep not in p and "\t" not in p:
                paths.append(p)
        words = [sys.executable, "-c", _BOOT, os.pathsep.join(paths), _lib.library_path()]
        _runtime = "\t".join(words)
    return _runtime


def adopt_runtime(paths, library):
    """In a Python worker: its own runtime is the one of its tasks' nested
    calls (so that they share its pool, not start one of their own)."""
    global _runtime
    _runtime = "\t".join([sys.executable, "-c", _BOOT, paths, library])


def _pickled(obj, what):
    try:
        return _serial.dumps(obj)
    except Exception as e:
        raise TypeError("%s cannot be pickled to run remotely: %s" % (what, e)) from e


def encode_call(session, head, args, kwargs, what):
    """(values, n): the pdc_value array of a Python call: head (the
    pickled function or class, unless None), the pickled layout of args
    and kwargs, then each top-level ObjectRef, list of ObjectRefs
    (is_ref_list) and actor handle as an argument of its own.  Raises
    TypeError before anything is sent."""
    base = 2 if head is not None else 1
    if not args and not kwargs:  # the most common call of all: f.remote()
        values = (PdcValue * base)()
        if head is not None:
            set_bytes(values[0], head, len(head))
        set_bytes(values[base - 1], _EMPTY_LAYOUT, len(_EMPTY_LAYOUT))
        return values, base
    resolved = []  # (value, where)

    def slot(v, where):
        if type(v) is ObjectRef:
            if v._session is not session:
                raise ValueError("%s: %s is an ObjectRef of an earlier pdc session" % (what, where))
            resolved.append((v, where))
            return _serial.Slot(base + len(resolved) - 1)
        if is_ref_list(v):
            resolved.append((v, where))
            return _serial.Slot(base + len(resolved) - 1, "refs", type(v).__name__)
        if isinstance(v, ActorHandle):
            if v._session is not session:
                raise ValueError("%s: %s is an actor handle of an earlier session" % (what, where))
            resolved.append((v, where))
            kind = "pyactor" if v._python else "actor"
            return _serial.Slot(base + len(resolved) - 1, kind, v._class_name)
        return v

    a = tuple(slot(v, "argument %d" % i) for i, v in enumerate(args))
    kw = {k: slot(v, "argument %r" % k) for k, v in kwargs.items()}
    try:
        blob = _serial.dumps_layout(a, kw)
    except Exception as e:
        raise TypeError("%s: an argument cannot be pickled to run remotely: %s" % (what, e)) from e
    n = base + len(resolved)
    values = (PdcValue * n)()
    if head is not None:
        set_bytes(values[0], head, len(head))
    set_bytes(values[base - 1], blob, len(blob))
    for i, (v, where) in enumerate(resolved, base):
        if type(v) is ObjectRef:
            values[i].type = _lib.PDC_T_REF
            values[i].as_.ref = v._ref
        elif isinstance(v, ActorHandle):
            values[i].type = _lib.PDC_T_ACTOR
            values[i].as_.actor = v._ptr
        else:
            set_refs(values[i], v, session, what, where)
    return values, n


_EMPTY_LAYOUT = _serial.dumps_layout((), {})


class PyRemoteFunction:
    """A Python function as a remote function (what @pdc.remote makes)."""

    def __init__(self, func, options=None):
        self._func = func
        self._options = dict(options or {})
        _check_keys(self._options, _TASK_OPTIONS, _name(func))
        self._copts = _task_options(self._options, runtime())
        self._blob = None
        self._bound = None  # (session, pdc_fn)
        self.__doc__ = getattr(func, "__doc__", None)
        self.__name__ = getattr(func, "__name__", "remote_function")
        self.__qualname__ = _name(func)
        self.__module__ = getattr(func, "__module__", None)

    def options(self, **options):
        """A copy with these options (Ray's f.options(...))."""
        _check_keys(options, _TASK_OPTIONS, _name(self._func))
        return PyRemoteFunction(self._func, {**self._options, **options})

    def _fn(self, s):
        bound = self._bound
        if bound is not None and bound[0] is s:
            return bound[1]
        fn = s.lib.pdc_function(s.handle, LIBRARY, TASK)
        self._bound = (s, fn)
        return fn

    def remote(self, *args, **kwargs):
        """Submit a call; its ObjectRef at once."""
        s = current()
        if self._blob is None:
            self._blob = _pickled(self._func, "function %s" % _name(self._func))
        values, n = encode_call(s, self._blob, args, kwargs, _name(self._func))
        ref = s.lib.pdc_call_args(s.handle, self._fn(s), self._copts.struct, values, n)
        return ObjectRef(ref, s)

    def __reduce__(self):
        # What a closure or a global of a task needs: the function and its
        # options (not this process's C structs).
        return (PyRemoteFunction, (self._func, self._options))

    def __call__(self, *args, **kwargs):
        raise TypeError(
            "remote function %s cannot be called directly; use %s.remote(...)"
            % (_name(self._func), self.__name__)
        )

    def __repr__(self):
        return "<pdc remote function %s>" % _name(self._func)


class PyActorClass:
    """A Python class as an actor class (what @pdc.remote makes of a class)."""

    def __init__(self, cls, options=None):
        self._cls = cls
        self._options = dict(options or {})
        _check_keys(self._options, _ACTOR_OPTIONS, cls.__name__)
        self._copts = _actor_options(self._options, runtime())
        self._blob = None
        self.__doc__ = cls.__doc__
        self.__name__ = cls.__name__
        self.__qualname__ = _name(cls)
        self.__module__ = cls.__module__

    def options(self, **options):
        """A copy with these options (name, namespace, max_concurrency,
        num_cpus, num_gpus, resources, detached/lifetime, strategy,
        label_selector, max_restarts, max_task_retries)."""
        _check_keys(options, _ACTOR_OPTIONS, self._cls.__name__)
        return PyActorClass(self._cls, {**self._options, **options})

    def remote(self, *args, **kwargs):
        """Create an actor (returns at once) and return its handle."""
        from ._remote import register_named

        s = current()
        if self._blob is None:
            self._blob = _pickled(self._cls, "class %s" % _name(self._cls))
        values, n = encode_call(s, self._blob, args, kwargs, _name(self._cls))
        ptr = s.lib.pdc_actor_create_args(s.handle, LIBRARY, CLASS, self._copts.struct, values, n)
        if not ptr:
            raise _errors.InvalidArgumentError(_lib.last_error())
        handle = ActorHandle(ptr, s, self._cls.__name__, python=True)
        register_named(s, self._options, handle)
        return handle

    def __reduce__(self):
        return (PyActorClass, (self._cls, self._options))

    def __call__(self, *args, **kwargs):
        raise TypeError(
            "actor class %s cannot be instantiated directly; use %s.remote(...)"
            % (self._cls.__name__, self._cls.__name__)
        )

    def __repr__(self):
        return "<pdc actor class %s>" % _name(self._cls)


def make_remote(obj, options):
    """What @pdc.remote makes of obj: an actor class of a class, a remote
    function of anything else callable."""
    if isinstance(obj, type):
        return PyActorClass(obj, options)
    if callable(obj):
        return PyRemoteFunction(obj, options)
    raise TypeError("@pdc.remote takes a function or a class, not %s" % type(obj).__name__)
