"""_lib: finding libpdc and describing include/pdc.h to ctypes.

This is the only module that knows the C ABI.  It mirrors every struct of
pdc.h field for field (tests/test_layout.py compiles a C program that
prints their sizes and offsets and compares), gives every function that
pdc.h declares its exact argument and result types, and nothing else:
libpdc exports exactly what pdc.h declares (tests/test_exports.sh in the
C tree), and tests/test_layout.py checks this table against the header.

Where libpdc comes from, in this order (the first that loads wins):

1. PDC_LIBRARY, a path.  When it is set it must load: a variable that
   names a broken library is an error, not a hint to look elsewhere.
2. The install prefix: sys.prefix/lib*/libpdc.so.0 (and the multiarch
   lib*/*/ directories), then the system loader (libpdc.so.0 through
   LD_LIBRARY_PATH and ld.so.cache, then ctypes.util.find_library).
3. The build tree the package was installed from (recorded by setup.py in
   _build_info.py) or that it runs from: ../build/runtime/libpdc.so.0
   beside python-bindings/, then the other ../build*/ trees, newest first.

When none loads, the error lists every path tried and why each failed.
libpdc finds its daemons (pdc-head, pdc-raylet, pdc-worker) itself:
PDC_BIN_DIR, or beside the libpdc.so it was loaded from.
"""

import ctypes
import ctypes.util
import glob
import os
import sys
from ctypes import (
    POINTER,
    Structure,
    Union,
    c_char_p,
    c_double,
    c_int,
    c_int64,
    c_size_t,
    c_uint8,
    c_void_p,
)

LIBRARY_NAME = "libpdc.so.0"

# ---------------------------------------------------------------------------
# Constants of pdc.h
# ---------------------------------------------------------------------------

# pdc_status
PDC_OK = 0
PDC_EINVAL = -1
PDC_ETIMEOUT = -2
PDC_ENOMEM = -3
PDC_ECONNECT = -4
PDC_ESTOREFULL = -5
PDC_ETYPE = -6
PDC_EPROTO = -7
PDC_ENOTFOUND = -8
PDC_ESHUTDOWN = -9
PDC_ETASK = -20
PDC_ENOFUNC = -21
PDC_EARGS = -22
PDC_EWORKERDIED = -23
PDC_ECANCELLED = -24
PDC_EOBJECTLOST = -25
PDC_EOWNERDIED = -26
PDC_EINFEASIBLE = -27
PDC_EACTORDIED = -28

# pdc_type
PDC_T_NIL = 0
PDC_T_I64 = 1
PDC_T_F64 = 2
PDC_T_STR = 3
PDC_T_BYTES = 4
PDC_T_REF = 5
PDC_T_ERROR = 6
PDC_T_ACTOR = 7
PDC_T_REFS = 8

# Scheduling strategies (pdc_opts.strategy, pdc_actor_opts.strategy)
PDC_SCHED_DEFAULT = 0
PDC_SCHED_SPREAD = 1
PDC_SCHED_NODE_AFFINITY = 2

PDC_ID_SIZE = 16
PDC_FOREVER = -1

# ---------------------------------------------------------------------------
# Structs, in the order pdc.h declares them
# ---------------------------------------------------------------------------


class PdcRef(Structure):
    """pdc_ref: 16 bytes naming one object cluster-wide."""

    _fields_ = [("id", c_uint8 * PDC_ID_SIZE)]


class PdcFn(Structure):
    """pdc_fn: a library path and a symbol name, owned by the client."""

    _fields_ = [("library", c_char_p), ("name", c_char_p)]


class _PdcBuf(Structure):
    # const void *data in pdc.h.  Declared c_char_p here (the same size and
    # passing convention) so that a bytes object can be assigned without a
    # copy: ctypes stores the address of its buffer and keeps the bytes
    # alive in the struct.  An int (an address) may be assigned as well.
    _fields_ = [("data", c_char_p), ("size", c_size_t)]


class _PdcValueUnion(Union):
    _fields_ = [
        ("i64", c_int64),
        ("f64", c_double),
        ("buf", _PdcBuf),
        ("ref", PdcRef),
        ("actor", c_void_p),
    ]


class PdcValue(Structure):
    """pdc_value: one argument of a call, a tagged union (PDC_T_*)."""

    _fields_ = [("type", c_int), ("as_", _PdcValueUnion)]


class PdcError(Structure):
    """pdc_error: what a failed task left in its results."""

    _fields_ = [
        ("code", c_int),
        ("function", c_char_p),
        ("message", c_char_p),
        ("node", c_char_p),
    ]


class PdcObject(Structure):
    """pdc_object: a result read by pdc_get, valid until pdc_object_release."""

    _fields_ = [
        ("type", c_int),
        ("i64", c_int64),
        ("f64", c_double),
        ("data", c_void_p),
        ("size", c_size_t),
        ("error", PdcError),
        ("pin_", c_void_p),
    ]


class PdcNodeInfo(Structure):
    """pdc_node_info: one node of the cluster as its head sees it."""

    _fields_ = [
        ("id", ctypes.c_char * 64),
        ("alive", c_int),
        ("endpoint", ctypes.c_char * 256),
        ("labels", ctypes.c_char * 256),
        ("total", ctypes.c_char * 512),
        ("available", ctypes.c_char * 512),
    ]


class PdcOpts(Structure):
    """pdc_opts: per-call options; zero means the default."""

    _fields_ = [
        ("num_cpus", c_double),
        ("resources", c_char_p),
        ("max_retries", c_int),
        ("name", c_char_p),
        ("strategy", c_int),
        ("node_id", c_char_p),
        ("soft", c_int),
        ("label_selector", c_char_p),
        ("runtime", c_char_p),
    ]


class PdcPutOptions(Structure):
    """pdc_put_options: options of a put; zero means pdc_put's."""

    _fields_ = [("replicas", c_int)]


PDC_PUT_MAX_REPLICAS = 8


class PdcActorOpts(Structure):
    """pdc_actor_opts: options of an actor's creation."""

    _fields_ = [
        ("num_cpus", c_double),
        ("resources", c_char_p),
        ("max_concurrency", c_int),
        ("name", c_char_p),
        ("ns", c_char_p),
        ("detached", c_int),
        ("strategy", c_int),
        ("node_id", c_char_p),
        ("soft", c_int),
        ("label_selector", c_char_p),
        ("runtime", c_char_p),
        ("max_restarts", c_int),
        ("max_task_retries", c_int),
    ]


# The C signatures of task functions, actor methods, constructors and
# destructors (pdc_function_ptr, pdc_method_ptr, pdc_actor_class's
# create and destroy), and of pdc_worker_run's resolver: the Python
# worker (pdc._worker) implements them as ctypes callbacks.
FUNCTION_PTR = ctypes.CFUNCTYPE(c_int, c_void_p)
METHOD_PTR = ctypes.CFUNCTYPE(c_int, c_void_p, c_void_p)
CREATE_PTR = ctypes.CFUNCTYPE(c_void_p, c_void_p)
DESTROY_PTR = ctypes.CFUNCTYPE(None, c_void_p)
SYMBOL_RESOLVER = ctypes.CFUNCTYPE(c_void_p, c_char_p, c_char_p, c_void_p)


class PdcMethod(Structure):
    """pdc_method: one entry of an actor class's method table."""

    _fields_ = [("name", c_char_p), ("fn", METHOD_PTR)]


class PdcActorClass(Structure):
    """pdc_actor_class: an actor class (what PDC_ACTOR_CLASS declares)."""

    _fields_ = [
        ("name", c_char_p),
        ("create", CREATE_PTR),
        ("destroy", DESTROY_PTR),
        ("methods", POINTER(PdcMethod)),
    ]


# The structs as pdc.h names them, for the layout test.
STRUCTS = {
    "pdc_ref": PdcRef,
    "pdc_fn": PdcFn,
    "pdc_value": PdcValue,
    "pdc_error": PdcError,
    "pdc_object": PdcObject,
    "pdc_node_info": PdcNodeInfo,
    "pdc_opts": PdcOpts,
    "pdc_actor_opts": PdcActorOpts,
    "pdc_method": PdcMethod,
    "pdc_actor_class": PdcActorClass,
}

# ---------------------------------------------------------------------------
# Functions: every one pdc.h declares, as (result type, argument types).
# Handles (pdc_client *, pdc_actor *, pdc_task *) are c_void_p.
# ---------------------------------------------------------------------------
_client = c_void_p
_actor = c_void_p
_task = c_void_p

PROTOTYPES = {
    "pdc_status_name": (c_char_p, [c_int]),
    "pdc_strlen_": (c_size_t, [c_char_p]),
    # Cluster connection
    "pdc_init": (_client, [c_char_p]),
    "pdc_shutdown": (None, [POINTER(_client)]),
    "pdc_last_error": (c_char_p, [_client]),
    "pdc_last_error_code": (c_int, [_client]),
    # Remote functions and calls
    "pdc_function": (PdcFn, [_client, c_char_p, c_char_p]),
    "pdc_node_id": (c_char_p, [_client]),
    "pdc_nodes": (c_int, [_client, POINTER(PdcNodeInfo), c_size_t, c_int64]),
    "pdc_call_args": (PdcRef, [_client, PdcFn, POINTER(PdcOpts), POINTER(PdcValue), c_size_t]),
    "pdc_cancel": (c_int, [_client, PdcRef]),
    # Objects
    "pdc_put": (PdcRef, [_client, PdcValue, POINTER(c_int)]),
    "pdc_put_opts": (PdcRef, [_client, PdcValue, POINTER(PdcPutOptions), POINTER(c_int)]),
    "pdc_put_reserve": (c_void_p, [_client, c_size_t, POINTER(c_void_p)]),
    "pdc_put_commit": (PdcRef, [_client, POINTER(c_void_p), POINTER(c_int)]),
    "pdc_get": (c_int, [_client, PdcRef, POINTER(PdcObject), c_int64]),
    "pdc_object_release": (None, [_client, POINTER(PdcObject)]),
    "pdc_get_i64": (c_int, [_client, PdcRef, POINTER(c_int64), c_int64]),
    "pdc_get_f64": (c_int, [_client, PdcRef, POINTER(c_double), c_int64]),
    "pdc_wait": (c_int, [_client, POINTER(PdcRef), c_size_t, c_size_t, c_int64, POINTER(c_uint8)]),
    "pdc_ref_retain": (None, [_client, PdcRef]),
    "pdc_ref_release": (None, [_client, PdcRef]),
    # References inside objects
    "pdc_object_nrefs": (c_size_t, [POINTER(PdcObject)]),
    "pdc_object_ref": (PdcRef, [_client, POINTER(PdcObject), c_size_t, POINTER(c_int)]),
    "pdc_ref_hex": (c_char_p, [PdcRef, c_char_p]),
    # Writing remote functions (for code that runs inside a task)
    "pdc_arg_count": (c_size_t, [_task]),
    "pdc_arg_type": (c_int, [_task, c_size_t]),
    "pdc_arg_i64": (c_int64, [_task, c_size_t]),
    "pdc_arg_f64": (c_double, [_task, c_size_t]),
    "pdc_arg_str": (c_void_p, [_task, c_size_t, POINTER(c_size_t)]),
    "pdc_arg_bytes": (c_void_p, [_task, c_size_t, POINTER(c_size_t)]),
    "pdc_arg_nrefs": (c_size_t, [_task, c_size_t]),
    "pdc_arg_ref": (PdcRef, [_task, c_size_t, c_size_t]),
    "pdc_return_i64": (c_int, [_task, c_int64]),
    "pdc_return_f64": (c_int, [_task, c_double]),
    "pdc_return_str": (c_int, [_task, c_char_p]),
    "pdc_return_bytes": (c_int, [_task, c_void_p, c_size_t]),
    "pdc_return_refs": (c_int, [_task, POINTER(PdcRef), c_size_t]),
    "pdc_return_alloc": (c_void_p, [_task, c_size_t]),
    # variadic: (task, format, ...); call it as pdc_fail(t, b"%s", message)
    "pdc_fail": (c_int, [_task, c_char_p]),
    "pdc_task_client": (_client, [_task]),
    "pdc_task_self": (PdcFn, [_task]),
    # Actors
    "pdc_actor_create_args": (
        _actor,
        [_client, c_char_p, c_char_p, POINTER(PdcActorOpts), POINTER(PdcValue), c_size_t],
    ),
    "pdc_actor_ready": (c_int, [_client, _actor, c_int64]),
    "pdc_actor_call_args": (PdcRef, [_client, _actor, c_char_p, POINTER(PdcValue), c_size_t]),
    "pdc_actor_kill": (c_int, [_client, _actor]),
    "pdc_actor_get_named": (_actor, [_client, c_char_p, c_char_p, c_int64]),
    "pdc_actor_release": (None, [_client, _actor]),
    "pdc_actor_retain": (None, [_client, _actor]),
    "pdc_actor_id": (c_char_p, [_actor, c_char_p]),
    "pdc_arg_actor": (_actor, [_task, c_size_t]),
    # Language workers (the Python worker, pdc._worker)
    "pdc_worker_run": (c_int, [c_int, POINTER(c_char_p), SYMBOL_RESOLVER, c_void_p]),
}


# ---------------------------------------------------------------------------
# Finding the library
# ---------------------------------------------------------------------------


class LibraryNotFoundError(OSError):
    """libpdc could not be loaded; the message lists every path tried."""


def _source_dirs():
    """python-bindings/ directories this package may have come from."""
    dirs = []
    try:
        from . import _build_info  # written by setup.py at install time

        if _build_info.SOURCE_DIR:
            dirs.append(_build_info.SOURCE_DIR)
    except ImportError:
        pass
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if os.path.isfile(os.path.join(here, "pyproject.toml")):
        dirs.append(here)  # running from the source tree
    seen, out = set(), []
    for d in dirs:
        d = os.path.realpath(d)
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out


def _build_tree_candidates():
    paths = []
    for src in _source_dirs():
        root = os.path.dirname(src)
        default = os.path.join(root, "build", "runtime", LIBRARY_NAME)
        others = [
            p
            for p in glob.glob(os.path.join(root, "build*", "runtime", LIBRARY_NAME))
            if p != default
        ]
        others.sort(key=lambda p: os.path.getmtime(p), reverse=True)
        paths.append(default)
        paths.extend(others)
    return paths


def _prefix_candidates():
    paths = []
    for pattern in ("lib*", os.path.join("lib*", "*")):
        paths.extend(sorted(glob.glob(os.path.join(sys.prefix, pattern, LIBRARY_NAME))))
    if not paths:
        paths.append(os.path.join(sys.prefix, "lib", LIBRARY_NAME))
    return paths


def _bind(lib):
    for name, (restype, argtypes) in PROTOTYPES.items():
        f = getattr(lib, name)
        f.restype = restype
        f.argtypes = argtypes
    return lib


def load(tried=None):
    """Load and bind libpdc as described in this module's docstring."""
    tried = [] if tried is None else tried

    def attempt(path, why=None):
        if why is not None:
            tried.append("%s (%s)" % (path, why))
            return None
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
            return None
        try:
            return _bind(lib)
        except AttributeError as e:
            tried.append("%s (not a libpdc of this version: %s)" % (path, e))
            return None

    env = os.environ.get("PDC_LIBRARY")
    if env:
        lib = attempt(env, None if os.path.exists(env) else "no such file")
        if lib is None:
            raise LibraryNotFoundError(
                "PDC_LIBRARY=%s could not be loaded: %s; unset it to search the install "
                "prefix and the build tree" % (env, tried[-1])
            )
        return lib
    tried.append("PDC_LIBRARY (not set)")

    for path in _prefix_candidates():
        if os.path.exists(path):
            lib = attempt(path)
        else:
            lib = attempt(path, "no such file")
        if lib is not None:
            return lib

    lib = attempt(LIBRARY_NAME)  # the system loader's search path
    if lib is not None:
        return lib
    found = ctypes.util.find_library("pdc")
    if found:
        lib = attempt(found)
        if lib is not None:
            return lib
    else:
        tried.append("ctypes.util.find_library('pdc') (found nothing)")

    for path in _build_tree_candidates():
        lib = attempt(path) if os.path.exists(path) else attempt(path, "no such file")
        if lib is not None:
            return lib

    raise LibraryNotFoundError(
        "cannot load libpdc; tried, in order:\n  "
        + "\n  ".join(tried)
        + "\nset PDC_LIBRARY to the path of libpdc.so.0 (build/runtime/libpdc.so.0 in a "
        "build tree, PREFIX/lib/.../libpdc.so.0 once installed)"
    )


_lib = None


def lib():
    """The loaded, bound libpdc (loaded on first use)."""
    global _lib
    if _lib is None:
        _lib = load()
    return _lib


def library_path():
    """The path of the file libpdc was loaded from."""
    name = lib()._name
    if os.path.isabs(name):
        return os.path.realpath(name)
    try:  # loaded by bare name: ask the process's mappings
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split(None, 5)[-1].strip()
                if os.path.basename(path).startswith("libpdc.so"):
                    return path
    except OSError:
        pass
    return name


def status_name(code):
    """pdc_status_name: "PDC_ETIMEOUT" for -2."""
    name = lib().pdc_status_name(int(code))
    return name.decode() if name else "PDC_E?%d" % code


def last_error(client=None):
    """pdc_last_error of this thread ("" if none)."""
    msg = lib().pdc_last_error(client)
    return msg.decode("utf-8", "replace") if msg else ""
