"""_objects: object references, values in and out, put/get/wait/cancel.

Values cross into pdc as pdc_value (encode_args): int, float, str, None,
ObjectRef and actor handles map to their PDC_T_* types, a list of
references (a non-empty list or tuple of ObjectRefs only: is_ref_list) to
PDC_T_REFS, and anything with the buffer protocol (bytes, bytearray,
memoryview, numpy arrays, array.array ...) is sent as PDC_T_BYTES.
Anything else is a TypeError naming the argument, raised before anything
is sent.

Large buffers go in without a copy on the Python side: a bytes object is
passed by the address of its own buffer, and any other C-contiguous buffer
of ZERO_COPY_THRESHOLD bytes or more is exported with PyObject_GetBuffer
(through ctypes.pythonapi) and its address handed to pdc_put or
pdc_call_args, which copy it once, into the store or the call.  Smaller
ones are copied to bytes first (pdc copies them at submission anyway).

Values come out of pdc_get as int, float, str, None, bytes or (PDC_T_REFS)
a list of ObjectRefs, each a reference of its own taken with
pdc_object_ref (borrowed from the owner when this process is not it), and
PDC_T_BYTES of ZERO_COPY_THRESHOLD bytes or more as a read-only
memoryview straight over pdc's memory (the store's shared pages for large
objects): the pdc_object stays pinned, and pdc_object_release is called
only when the last view of it, and the last numpy array over it, is gone.
How: the view's exporter is a ctypes array made with from_address over
the object's bytes, carrying a _Pin that releases the object in its
finalizer; every memoryview or numpy array derived from the view holds the
exporter.  The array types are rounded up to powers of two and the view
sliced to the exact size, so that ctypes' cache of array types stays small
whatever the sizes.

Blocking waits (get and wait with no or a long timeout) are cut into
slices of WAIT_SLICE_MS on the main thread, so that Ctrl-C interrupts
them; a get first waits for readiness with pdc_wait, then reads with one
pdc_get, so that a slice never cuts a transfer short.
"""

import ctypes
import numbers
import threading
import time
from ctypes import byref, c_int, c_ubyte, c_uint8

from . import _errors, _lib, _serial
from ._lib import PdcObject, PdcRef, PdcValue
from ._session import current

# Values of this many bytes or more are passed in and read out zero-copy
# (pdc's inline_max is 100 KiB: larger values live in the node's store).
ZERO_COPY_THRESHOLD = 100 * 1024

# The longest a blocking call on the main thread stays in C before Python
# checks for signals (Ctrl-C).
WAIT_SLICE_MS = 200

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
_PyBUF_SIMPLE = 0

_handle_types = ()  # ActorHandle, registered by _remote


def register_handle_type(cls):
    global _handle_types
    _handle_types = _handle_types + (cls,)


# ---------------------------------------------------------------------------
# ObjectRef
# ---------------------------------------------------------------------------


class ObjectRef:
    """A reference to an object in the cluster (Ray's ObjectRef).

    Returned by f.remote(...), actor calls and pdc.put.  Holds one pdc
    reference, given back when the ObjectRef is garbage-collected; the
    object is freed when no reference to it is left anywhere."""

    __slots__ = ("_ref", "_session", "_key", "__weakref__")

    def __init__(self, ref, session):
        self._ref = ref
        self._key = None  # bytes of the id, made when first needed
        self._session = session

    def binary(self):
        """The 16-byte id."""
        return self._id()

    def _id(self):
        k = self._key
        if k is None:
            k = self._key = bytes(self._ref.id)
        return k

    def hex(self):
        """The id as 32 hex digits."""
        return self._id().hex()

    def __eq__(self, other):
        return isinstance(other, ObjectRef) and self._id() == other._id()

    def __hash__(self):
        return hash(self._id())

    def __repr__(self):
        return "ObjectRef(%s)" % self.hex()

    def __copy__(self):
        s = self._session
        ref = PdcRef.from_buffer_copy(self._ref)
        with s.lock:
            if s.alive:
                s.lib.pdc_ref_retain(s.handle, ref)
        return ObjectRef(ref, s)

    def __deepcopy__(self, memo):
        return self.__copy__()

    def __reduce__(self):
        raise TypeError(
            "an ObjectRef cannot be pickled, so it cannot be nested inside another value: "
            "pdc sends references only at the top level, an ObjectRef or a list (or tuple) "
            "of ObjectRefs only, given to pdc.put (a list), returned by a Python task or "
            "passed to a task as an argument"
        )

    def __del__(self):
        s = self._session
        if s is not None:
            self._session = None
            try:
                s.release_ref(self._ref)
            except Exception:  # at interpreter exit modules may be half gone
                pass


# ---------------------------------------------------------------------------
# Values in: encode_args
# ---------------------------------------------------------------------------


class _PyBuffer(ctypes.Structure):
    """Py_buffer (stable since Python 3.3, in the limited API since 3.11)."""

    _fields_ = [
        ("buf", ctypes.c_void_p),
        ("obj", ctypes.c_void_p),
        ("len", ctypes.c_ssize_t),
        ("itemsize", ctypes.c_ssize_t),
        ("readonly", c_int),
        ("ndim", c_int),
        ("format", ctypes.c_char_p),
        ("shape", ctypes.c_void_p),
        ("strides", ctypes.c_void_p),
        ("suboffsets", ctypes.c_void_p),
        ("internal", ctypes.c_void_p),
    ]


_GetBuffer = ctypes.pythonapi.PyObject_GetBuffer
_GetBuffer.argtypes = [ctypes.py_object, ctypes.POINTER(_PyBuffer), c_int]
_GetBuffer.restype = c_int
_ReleaseBuffer = ctypes.pythonapi.PyBuffer_Release
_ReleaseBuffer.argtypes = [ctypes.POINTER(_PyBuffer)]
_ReleaseBuffer.restype = None

_ACCEPTED = (
    "pdc takes int, float, str, bytes-like objects (bytes, bytearray, memoryview, numpy "
    "arrays), None, ObjectRef, a non-empty list (or tuple) of ObjectRefs only, and actor "
    "handles"
)


def _type_error(what, i, a):
    return TypeError(
        "%s: argument %d is a %s, which pdc cannot send; %s"
        % (what, i, type(a).__name__, _ACCEPTED)
    )


def set_bytes(v, data, size):
    """Make the pdc_value v PDC_T_BYTES over size bytes at data."""
    v.type = _lib.PDC_T_BYTES
    v.as_.buf.data = data
    v.as_.buf.size = size


def is_ref_list(a):
    """Whether a is sent as a list of references (PDC_T_REFS): a non-empty
    list or tuple whose every element is an ObjectRef.  An empty list is
    a plain Python value."""
    t = type(a)
    return (t is list or t is tuple) and len(a) > 0 and all(type(r) is ObjectRef for r in a)


def set_refs(v, refs, session, what, where):
    """Make the pdc_value v PDC_T_REFS over refs (is_ref_list holds):
    their ids, one after the other, in a bytes object v keeps alive."""
    for k, r in enumerate(refs):
        if r._session is not session:
            raise ValueError(
                "%s: %s holds an ObjectRef of an earlier pdc session (element %d)"
                % (what, where, k)
            )
    ids = b"".join([r._id() for r in refs])
    v.type = _lib.PDC_T_REFS
    v.as_.buf.data = ids
    v.as_.buf.size = len(ids)


def _encode_buffer(v, a, exports):
    """a has the buffer protocol: pass its address (large, contiguous) or
    a copy (small, or not contiguous).  False if a is no buffer."""
    try:
        mv = memoryview(a)
    except TypeError:
        return False
    with mv:
        large = mv.nbytes >= ZERO_COPY_THRESHOLD and mv.c_contiguous
        if not large:
            b = mv.tobytes()
            set_bytes(v, b, len(b))
            return True
    export = _PyBuffer()
    _GetBuffer(a, byref(export), _PyBUF_SIMPLE)  # raises BufferError on failure
    exports.append(export)
    set_bytes(v, export.buf, export.len)
    return True


def _encode(v, a, i, session, what, exports):
    t = type(a)
    if t is int or t is bool:
        if not _INT64_MIN <= a <= _INT64_MAX:
            raise OverflowError("%s: argument %d (%d) does not fit in 64 bits" % (what, i, a))
        v.type = _lib.PDC_T_I64
        v.as_.i64 = a
    elif t is float:
        v.type = _lib.PDC_T_F64
        v.as_.f64 = a
    elif t is str:
        b = a.encode("utf-8")
        v.type = _lib.PDC_T_STR
        v.as_.buf.data = b
        v.as_.buf.size = len(b)
    elif t is bytes:
        set_bytes(v, a, len(a))
    elif a is None:
        v.type = _lib.PDC_T_NIL
    elif t is ObjectRef:
        if a._session is not session:
            raise ValueError(
                "%s: argument %d is an ObjectRef of an earlier pdc session" % (what, i)
            )
        v.type = _lib.PDC_T_REF
        v.as_.ref = a._ref
    elif (t is list or t is tuple) and is_ref_list(a):
        set_refs(v, a, session, what, "argument %d" % i)
    elif isinstance(a, _handle_types):
        if a._session is not session:
            raise ValueError(
                "%s: argument %d is an actor handle of an earlier pdc session" % (what, i)
            )
        v.type = _lib.PDC_T_ACTOR
        v.as_.actor = a._ptr
    elif isinstance(a, numbers.Integral):  # numpy integers ...
        _encode(v, int(a), i, session, what, exports)
    elif isinstance(a, numbers.Real):  # numpy floats, Fraction ...
        v.type = _lib.PDC_T_F64
        v.as_.f64 = float(a)
    elif not _encode_buffer(v, a, exports):
        raise _type_error(what, i, a)


def sendable_as_is(a):
    """Whether a crosses to C as a value of its own (what _encode takes)."""
    t = type(a)
    if t in (int, bool, float, str, bytes, ObjectRef) or a is None:
        return t is not int or _INT64_MIN <= a <= _INT64_MAX
    if isinstance(a, _handle_types) or isinstance(a, numbers.Real) or is_ref_list(a):
        return True
    try:
        memoryview(a).release()
        return True
    except TypeError:
        return False


def encode_args(args, session, what):
    """(values, exports): args as a pdc_value array (None when empty) and
    the buffer exports to give back with release_exports after the call.
    Raises TypeError before anything is sent."""
    if not args:
        return None, None
    values = (PdcValue * len(args))()
    exports = []
    try:
        for i, a in enumerate(args):
            _encode(values[i], a, i, session, what, exports)
    except BaseException:
        release_exports(exports)
        raise
    return values, exports


def release_exports(exports):
    if exports:
        for e in exports:
            _ReleaseBuffer(byref(e))
        exports.clear()


# ---------------------------------------------------------------------------
# Values out
# ---------------------------------------------------------------------------


class _Pin:
    """Keeps one pdc_object (and so its bytes) until garbage-collected."""

    __slots__ = ("obj", "session")

    def __init__(self, obj, session):
        self.obj = obj
        self.session = session
        with session.lock:
            session.pins += 1

    def __del__(self):
        s = self.session
        if s is not None:
            self.session = None
            try:
                s.release_object(byref(self.obj))
            except Exception:
                pass


def _span_type(size):
    """A ctypes byte-array type of at least size bytes (powers of two)."""
    return c_ubyte * (1 << max(size - 1, 0).bit_length())


def _zero_copy_view(obj, session):
    span = _span_type(obj.size).from_address(obj.data)
    span._pdc_pin = _Pin(obj, session)
    return memoryview(span).cast("B")[: obj.size].toreadonly()


def _decode_refs(obj, session):
    """The ObjectRefs of a PDC_T_REFS object, each holding a reference of
    its own (the object itself is released by the caller)."""
    lib = session.lib
    status = c_int(_lib.PDC_OK)
    refs = []
    for i in range(lib.pdc_object_nrefs(byref(obj))):
        ref = lib.pdc_object_ref(session.handle, byref(obj), i, byref(status))
        if status.value != _lib.PDC_OK:
            raise _errors.from_status(status.value)
        refs.append(ObjectRef(ref, session))
    return refs


def _decode(obj, session):
    """The Python value of a pdc_object that pdc_get filled with PDC_OK;
    releases it unless a zero-copy view keeps it."""
    t = obj.type
    lib = session.lib
    if t == _lib.PDC_T_BYTES and obj.size >= len(_serial.MAGIC):
        if ctypes.string_at(obj.data, len(_serial.MAGIC)) == _serial.MAGIC:
            # A Python value, pickled (a Python task's result).
            try:
                span = _span_type(obj.size).from_address(obj.data)
                return _serial.loads(memoryview(span).cast("B")[: obj.size])
            finally:
                lib.pdc_object_release(session.handle, byref(obj))
    if t == _lib.PDC_T_BYTES and obj.size >= ZERO_COPY_THRESHOLD:
        return _zero_copy_view(obj, session)
    try:
        if t == _lib.PDC_T_I64:
            return obj.i64
        if t == _lib.PDC_T_F64:
            return obj.f64
        if t == _lib.PDC_T_BYTES:
            return ctypes.string_at(obj.data, obj.size) if obj.size else b""
        if t == _lib.PDC_T_STR:
            if not obj.size:
                return ""
            return ctypes.string_at(obj.data, obj.size).decode("utf-8", "surrogateescape")
        if t == _lib.PDC_T_NIL:
            return None
        if t == _lib.PDC_T_REFS:
            return _decode_refs(obj, session)
        raise _errors.ProtocolError("pdc_get returned an object of unknown type %d" % t)
    finally:
        lib.pdc_object_release(session.handle, byref(obj))


def _to_numpy(value, dtype):
    import numpy

    if isinstance(value, (bytes, memoryview)):
        return numpy.frombuffer(value, dtype=dtype)
    raise _errors.ObjectTypeError(
        "the object holds a %s, not bytes: it cannot be read as a numpy array"
        % type(value).__name__
    )


# ---------------------------------------------------------------------------
# put, get, wait, cancel
# ---------------------------------------------------------------------------


def _check_refs(refs, session, what):
    if all(type(r) is ObjectRef and r._session is session for r in refs):
        return
    for i, r in enumerate(refs):
        if type(r) is not ObjectRef:
            raise TypeError(
                "%s: element %d is a %s, not an ObjectRef" % (what, i, type(r).__name__)
            )
        if r._session is not session:
            raise ValueError("%s: element %d is an ObjectRef of an earlier pdc session" % (what, i))


def ref_array(refs):
    """The refs as a pdc_ref array, in one copy."""
    return (PdcRef * len(refs)).from_buffer_copy(b"".join([r._id() for r in refs]))


def _wait_ms(deadline, main):
    """The timeout of the next slice, in ms (PDC_FOREVER for none)."""
    if deadline is None:
        return WAIT_SLICE_MS if main else _lib.PDC_FOREVER
    left = max(0, int((deadline - time.monotonic()) * 1000))
    return min(left, WAIT_SLICE_MS) if main else left


def _wait_ready(session, arr, n, num_ready, deadline, flags):
    """pdc_wait in slices until num_ready are ready or the deadline
    passed; the number ready."""
    main = threading.current_thread() is threading.main_thread()
    lib = session.lib
    while True:
        rc = lib.pdc_wait(session.handle, arr, n, num_ready, _wait_ms(deadline, main), flags)
        if rc < 0:
            raise _errors.from_status(rc)
        if rc >= num_ready or (deadline is not None and time.monotonic() >= deadline):
            return rc


def _deadline(timeout):
    if timeout is None:
        return None
    if not isinstance(timeout, (int, float)) or timeout < 0:
        raise ValueError("timeout must be None or a number of seconds >= 0, not %r" % (timeout,))
    return time.monotonic() + timeout


def _get_one(session, ref, deadline):
    obj = PdcObject()
    ms = _lib.PDC_FOREVER if deadline is None else _wait_ms(deadline, False)
    rc = session.lib.pdc_get(session.handle, ref._ref, byref(obj), ms)
    if rc == _lib.PDC_OK:
        return _decode(obj, session)
    if obj.type == _lib.PDC_T_ERROR:
        exc = _errors.from_object(obj)
        session.lib.pdc_object_release(session.handle, byref(obj))
        raise exc
    raise _errors.from_status(rc)


def put(value, *, _replicas=None):
    """Store value in the cluster and return its ObjectRef.

    value: int, float, str, None, a bytes-like object (numpy arrays are
    stored as their bytes), or a list of references: a non-empty list or
    tuple of ObjectRefs only, whose objects then live at least as long
    as the list (pdc.get of it gives a list of ObjectRefs back).  Buffers
    of ZERO_COPY_THRESHOLD bytes or more are read in place, not copied
    first.

    _replicas (a pdc extension): copies of a large value on distinct live
    nodes, this one's included (pdc_put_opts): puts have no lineage, so
    with the default (one copy) a put whose copy is lost raises
    ObjectLostError; with more, another node's copy serves it and a copy
    lost with its node is made again elsewhere."""
    s = current()
    if type(value) is ObjectRef or isinstance(value, _handle_types):
        raise TypeError("pdc.put: cannot put a %s; %s" % (type(value).__name__, _ACCEPTED))
    if _replicas is not None and (
        type(_replicas) is not int or not 0 <= _replicas <= _lib.PDC_PUT_MAX_REPLICAS
    ):
        raise ValueError(
            "pdc.put: _replicas must be an int 0..%d, not %r"
            % (_lib.PDC_PUT_MAX_REPLICAS, _replicas)
        )
    v = PdcValue()
    exports = []
    _encode(v, value, 0, s, "pdc.put", exports)
    status = c_int(_lib.PDC_OK)
    try:
        if _replicas:
            opts = _lib.PdcPutOptions(replicas=_replicas)
            ref = s.lib.pdc_put_opts(s.handle, v, byref(opts), byref(status))
        else:
            ref = s.lib.pdc_put(s.handle, v, byref(status))
    finally:
        release_exports(exports)
    if status.value != _lib.PDC_OK:
        exc = _errors.from_status(status.value)
        s.lib.pdc_ref_release(s.handle, ref)
        raise exc
    return ObjectRef(ref, s)


def get(refs, *, timeout=None, numpy=None):
    """The value of an ObjectRef, or a list of values of a list of them.

    timeout: seconds (None: wait as long as it takes); GetTimeoutError
    when it runs out.  A failed task's error is raised (TaskError, ...).
    A list of references comes back as a list of ObjectRefs (not their
    values).
    Bytes of ZERO_COPY_THRESHOLD or more come back as a read-only
    memoryview over the store (zero-copy).  numpy: a dtype, to get
    numpy arrays (read-only, zero-copy for large objects) instead of
    bytes."""
    s = current()
    deadline = _deadline(timeout)
    single = type(refs) is ObjectRef
    if single:
        items = [refs]
        _check_refs(items, s, "pdc.get")
    elif isinstance(refs, (list, tuple)):
        items = list(refs)
        _check_refs(items, s, "pdc.get")
    else:
        raise TypeError(
            "pdc.get takes an ObjectRef or a list of them, not a %s" % type(refs).__name__
        )
    n = len(items)
    # Off the main thread no signal needs handling: a get without timeout
    # blocks in pdc_get itself.
    if n and (deadline is not None or threading.current_thread() is threading.main_thread()):
        flags = (c_uint8 * n)()
        ready = _wait_ready(s, ref_array(items), n, n, deadline, flags)
        if ready < n:
            late = [r for r, f in zip(items, flags) if not f]
            raise _errors.GetTimeoutError(
                "pdc.get: %d of %d object(s) not ready after %g s (first: %s)"
                % (len(late), n, timeout, late[0].hex())
            )
    values = [_get_one(s, r, deadline) for r in items]
    if numpy is not None:
        values = [_to_numpy(v, numpy) for v in values]
    return values[0] if single else values


def get_numpy(ref, dtype="uint8", shape=None, *, timeout=None):
    """A read-only numpy array over the bytes of ref's object (zero-copy
    for large objects), of dtype and, if given, shape."""
    arr = get(ref, timeout=timeout, numpy=dtype)
    return arr.reshape(shape) if shape is not None else arr


def wait(refs, *, num_returns=1, timeout=None):
    """(ready, not_ready), as ray.wait: wait until num_returns of refs are
    ready (a value or an error) or timeout seconds passed (None: no
    limit, 0: only look).  ready holds at most num_returns refs, both
    lists keep the order of refs."""
    s = current()
    if type(refs) is ObjectRef or not isinstance(refs, (list, tuple)):
        raise TypeError("pdc.wait takes a list of ObjectRefs, not a %s" % type(refs).__name__)
    refs = list(refs)
    _check_refs(refs, s, "pdc.wait")
    n = len(refs)
    if not n:
        return [], []
    # The ids once, for the duplicate check and the C array (a wait loop
    # over 1 000 refs calls this 1 000 times: no per-ref Python calls).
    ids = [r._key or r._id() for r in refs]
    if len(set(ids)) != n:
        raise ValueError("pdc.wait: the list holds the same ObjectRef twice")
    if type(num_returns) is not int or not 1 <= num_returns <= n:
        raise ValueError(
            "pdc.wait: num_returns must be an int from 1 to %d, not %r" % (n, num_returns)
        )
    flags = (c_uint8 * n)()
    arr = (PdcRef * n).from_buffer_copy(b"".join(ids))
    _wait_ready(s, arr, n, num_returns, _deadline(timeout), flags)
    marks = bytes(flags).translate(_READY)
    picked = []
    i = marks.find(1)
    while i >= 0 and len(picked) < num_returns:
        picked.append(i)
        i = marks.find(1, i + 1)
    ready = [refs[i] for i in picked]
    not_ready, start = [], 0
    for i in picked:
        not_ready += refs[start:i]
        start = i + 1
    not_ready += refs[start:]
    return ready, not_ready


# pdc_wait's flags, any nonzero byte read as 1.
_READY = bytes([0] + [1] * 255)


def cancel(ref):
    """Cancel the task of ref if it has not started: its result then holds
    TaskCancelledError.  True if cancelled, False if it already ran or is
    running (a running task is not interrupted)."""
    s = current()
    if type(ref) is not ObjectRef:
        raise TypeError("pdc.cancel takes an ObjectRef, not a %s" % type(ref).__name__)
    _check_refs([ref], s, "pdc.cancel")
    rc = s.lib.pdc_cancel(s.handle, ref._ref)
    if rc == _lib.PDC_OK:
        return True
    if rc == _lib.PDC_EINVAL:
        return False
    raise _errors.from_status(rc)
