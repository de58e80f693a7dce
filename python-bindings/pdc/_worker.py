"""_worker: the Python worker process, where Python tasks and actors run.

A raylet starts one for a lease whose runtime is a Python interpreter
(the driver's, see _pyremote.runtime): the interpreter runs a short
bootstrap that puts the driver's sys.path in front of its own, points
PDC_LIBRARY at the driver's libpdc, and calls main() here with pdc-worker's
arguments.  main() hands the process to libpdc's pdc_worker_run, which
runs the same loop as pdc-worker (registering with the raylet, taking
pushed tasks and actor calls, sending results) and asks the resolver
below for every function and class a task names.  The resolver knows two
symbols of the library LIBRARY ("pdc:python"):

- the function "task": argument 0 is the pickled Python function, then
  the call's layout and its resolved references (_serial);
- the actor class "PyActor": its constructor takes the pickled class and
  a layout, and its "*" method runs whichever method was called
  (pdc_task_self names it) on the instance.

A list of references (PDC_T_REFS), as an argument or as the value of a
resolved one, arrives as a list of ObjectRefs, each borrowed with
pdc_arg_ref; a result that is a non-empty list or tuple of ObjectRefs
only goes back with pdc_return_refs (which takes only references this
worker owns: its puts and the results of its calls; for others it fails
the task with its reason).

Callbacks never let an exception out: a Python exception fails the task
with pdc_fail, its message the exception and the remote traceback
(_errors.remote_failure), which pdc.get raises as TaskError.  Nested calls
from a task use this worker's own client, attached as the process's pdc
Session on the first task (pdc.shutdown does not close it).
"""

import ctypes
import itertools
import sys
from ctypes import byref, c_char_p, c_size_t

from . import _errors, _lib, _serial, _session
from ._lib import PdcActorClass, PdcMethod
from ._objects import ObjectRef, is_ref_list, ref_array
from ._serial import qualified_name as _name

LIBRARY = b"pdc:python"
TASK = b"task"
CLASS = b"PyActor"

# Unpickled functions, by their pickled bytes (a worker runs few).
_FUNCTIONS_KEPT = 256
_functions = {}

# The layout of a call without arguments, as the driver sends it.
_EMPTY = _serial.dumps_layout((), {})

_actors = {}  # state handle given to the actor host -> the instance
_actor_ids = itertools.count(1)


def _attach(t):
    """The worker's client as this process's Session (on the first task)."""
    if _session.is_initialized():
        return
    _session.attach(_lib.lib().pdc_task_client(t))


def _arg_value(lib, t, i):
    """Argument i as Python sees it (a reference arrives resolved)."""
    ty = lib.pdc_arg_type(t, i)
    if ty == _lib.PDC_T_BYTES:
        size = c_size_t()
        p = lib.pdc_arg_bytes(t, i, byref(size))
        n = size.value
        if not n:
            return b""
        if n >= len(_serial.MAGIC) and ctypes.string_at(p, len(_serial.MAGIC)) == _serial.MAGIC:
            return _serial.loads((ctypes.c_ubyte * n).from_address(p))
        return ctypes.string_at(p, n)
    if ty == _lib.PDC_T_I64:
        return lib.pdc_arg_i64(t, i)
    if ty == _lib.PDC_T_F64:
        return lib.pdc_arg_f64(t, i)
    if ty == _lib.PDC_T_STR:
        size = c_size_t()
        p = lib.pdc_arg_str(t, i, byref(size))
        return ctypes.string_at(p, size.value).decode("utf-8", "surrogateescape")
    if ty == _lib.PDC_T_NIL:
        return None
    if ty == _lib.PDC_T_REFS:
        return _arg_refs(lib, t, i)
    raise _errors.TaskArgumentError("argument %d has a type Python cannot read (%d)" % (i, ty))


def _arg_refs(lib, t, i):
    """Argument i, a list of references, as ObjectRefs borrowed for this
    process (each released when garbage-collected, as any ObjectRef)."""
    s = _session.current()
    return [ObjectRef(lib.pdc_arg_ref(t, i, k), s) for k in range(lib.pdc_arg_nrefs(t, i))]


def _actor_arg(lib, t, slot):
    from . import _remote

    ptr = lib.pdc_arg_actor(t, slot.index)
    if not ptr:
        raise _errors.TaskArgumentError("argument %d is not an actor handle" % slot.index)
    s = _session.current()
    lib.pdc_actor_retain(s.handle, ptr)  # the handle's own reference
    return _remote.wrap_actor(ptr, s, slot.name, python=slot.kind == "pyactor")


def _arguments(lib, t, first):
    """(args, kwargs) of the call whose layout is argument first; a call
    without one (a C-style call of a Python actor) takes its arguments
    as they are."""
    n = lib.pdc_arg_count(t)
    if n == first + 1 and lib.pdc_arg_type(t, first) == _lib.PDC_T_BYTES:
        size = c_size_t()
        p = lib.pdc_arg_bytes(t, first, byref(size))
        if size.value == len(_EMPTY) and ctypes.string_at(p, size.value) == _EMPTY:
            return (), {}  # f.remote(): nothing to unpickle
    layout = _arg_value(lib, t, first) if n > first else None
    if not isinstance(layout, _serial.Layout):
        return tuple(_arg_value(lib, t, i) for i in range(first, n)), {}

    def value(v):
        if type(v) is not _serial.Slot:
            return v
        if v.kind == "ref":
            return _arg_value(lib, t, v.index)
        if v.kind == "refs":
            refs = _arg_refs(lib, t, v.index)
            return tuple(refs) if v.name == "tuple" else refs
        return _actor_arg(lib, t, v)

    return tuple(value(v) for v in layout.args), {k: value(v) for k, v in layout.kwargs.items()}


def _return(lib, t, value):
    """Set value as the task's result; what the function returns (0, or
    nonzero when pdc_return_* failed the task)."""
    t_ = type(value)
    if t_ is int and _serial.native(value):
        return lib.pdc_return_i64(t, value)
    if t_ is float:
        return lib.pdc_return_f64(t, value)
    if value is None:
        return 0  # nil
    if t_ is str and "\0" not in value:
        return lib.pdc_return_str(t, value.encode("utf-8", "surrogateescape"))
    if t_ is bytes and _serial.native(value):
        return lib.pdc_return_bytes(t, value, len(value))
    if is_ref_list(value):
        return lib.pdc_return_refs(t, ref_array(value), len(value))
    data = _serial.dumps(value)
    return lib.pdc_return_bytes(t, data, len(data))


def _fail(lib, t, what, exc):
    text = _errors.remote_failure(what, exc)
    lib.pdc_fail(t, b"%s", text.encode("utf-8", "replace"))


def _flush():
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except Exception:
            pass


def _function(lib, t):
    size = c_size_t()
    p = lib.pdc_arg_bytes(t, 0, byref(size))
    if lib.pdc_arg_type(t, 0) != _lib.PDC_T_BYTES or not size.value:
        raise _errors.TaskArgumentError("a Python task's first argument must be its function")
    blob = ctypes.string_at(p, size.value)
    fn = _functions.get(blob)
    if fn is None:
        fn = _serial.loads(blob)
        if len(_functions) >= _FUNCTIONS_KEPT:
            _functions.clear()
        _functions[blob] = fn
    return fn


def _run_task(t):
    lib = _lib.lib()
    what = "a Python task"
    try:
        _attach(t)
        fn = _function(lib, t)
        what = _name(fn)
        args, kwargs = _arguments(lib, t, 1)
        return 1 if _return(lib, t, fn(*args, **kwargs)) else 0
    except BaseException as e:  # noqa: B902 - a task's SystemExit fails the task too
        _fail(lib, t, what, e)
        return 1
    finally:
        _flush()


def _create(t):
    lib = _lib.lib()
    what = "a Python actor"
    try:
        _attach(t)
        cls = _arg_value(lib, t, 0)
        if not isinstance(cls, type):
            raise _errors.TaskArgumentError("a Python actor's first argument must be its class")
        what = _name(cls)
        args, kwargs = _arguments(lib, t, 1)
        instance = cls(*args, **kwargs)
        key = next(_actor_ids)
        _actors[key] = instance
        return key
    except BaseException as e:  # noqa: B902
        _fail(lib, t, what, e)
        return None
    finally:
        _flush()


def _destroy(state):
    _actors.pop(state, None)
    _flush()


def _method(state, t):
    lib = _lib.lib()
    name = lib.pdc_task_self(t).name
    name = name.decode() if name else "?"
    instance = _actors.get(state)
    what = "%s.%s" % (_name(type(instance)), name)
    try:
        if name.startswith("__") or not callable(getattr(instance, name, None)):
            raise AttributeError("actor class %s has no method %r" % (_name(type(instance)), name))
        args, kwargs = _arguments(lib, t, 0)
        return 1 if _return(lib, t, getattr(instance, name)(*args, **kwargs)) else 0
    except BaseException as e:  # noqa: B902
        _fail(lib, t, what, e)
        return 1
    finally:
        _flush()


# The callbacks and the class table, alive as long as the module.
_task_ptr = _lib.FUNCTION_PTR(_run_task)
_create_ptr = _lib.CREATE_PTR(_create)
_destroy_ptr = _lib.DESTROY_PTR(_destroy)
_methods = (PdcMethod * 2)(PdcMethod(b"*", _lib.METHOD_PTR(_method)), PdcMethod(None))
_class = PdcActorClass(CLASS, _create_ptr, _destroy_ptr, _methods)


def _resolve(library, symbol, arg):
    if library != LIBRARY:
        return None
    if symbol == TASK:
        return ctypes.cast(_task_ptr, ctypes.c_void_p).value
    if symbol == CLASS:
        return ctypes.addressof(_class)
    return None


_resolve_ptr = _lib.SYMBOL_RESOLVER(_resolve)


def main(argv=None, paths=None, library=None):
    """Run this process as a worker (argv: pdc-worker's arguments, the
    program name first; paths and library: what the bootstrap was given,
    for the runtime of nested calls); its exit status."""
    argv = sys.argv if argv is None else argv
    if paths is not None:
        from . import _pyremote

        _pyremote.adopt_runtime(paths, library)
    words = [a.encode() for a in argv]
    arr = (c_char_p * (len(words) + 1))(*words, None)
    try:
        return _lib.lib().pdc_worker_run(len(words), arr, _resolve_ptr, None)
    finally:
        # The worker's client is closed: references collected from now on
        # must not reach it.
        s = _session._current
        if s is not None:
            with s.lock:
                s.alive = False


if __name__ == "__main__":
    sys.exit(main())
