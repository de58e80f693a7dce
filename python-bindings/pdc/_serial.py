"""_serial: Python values as pdc bytes, for Python tasks and actors.

What C can read crosses as it is (int, float, str, None, bytes: see
_objects); everything a Python task or actor takes or returns that C
cannot read is pickled, with cloudpickle, so that functions, lambdas and
closures defined in __main__ travel by value as in Ray.  A pickled value
is PDC_T_BYTES that start with MAGIC; bytes a program puts or returns that
happen to start with MAGIC are pickled too, so that reading them back is
never ambiguous.

The arguments of a Python call are one pickled layout plus the
references: each ObjectRef (and actor handle) given at the top level, as
Ray resolves them, becomes a PDC_T_REF (PDC_T_ACTOR) argument of its own
after the layout, and the layout holds a Slot naming its position.  pdc
resolves those references before the call, so the worker finds their
values in its arguments.  A top-level list (or tuple) of ObjectRefs only
becomes a PDC_T_REFS argument (a Slot of kind "refs"): the worker makes
it a list (a tuple) of ObjectRefs again, borrowed from their owners and
not resolved, as Ray passes references inside a list.  References nested
inside other values are refused (pickling one raises TypeError, as
ObjectRef says).
"""

import io
import pickle

try:
    import cloudpickle as _pickler
except ImportError:  # pragma: no cover - cloudpickle is a dependency
    _pickler = None

MAGIC = b"PDCPY\x00\x01\x00"

# A layout is pickled with this protocol: 5 keeps large buffers (numpy)
# in one piece without an extra copy on load.
PROTOCOL = 5


class Slot:
    """The position of a resolved argument (a reference, an actor) in the
    call, standing in for it in the pickled layout."""

    __slots__ = ("index", "kind", "name")

    def __init__(self, index, kind="ref", name=None):
        self.index = index
        self.kind = kind  # "ref", "refs" (a list of them), "actor" (C) or "pyactor" (Python)
        self.name = name  # an actor's class name; "list" or "tuple" for "refs"

    def __reduce__(self):
        return (Slot, (self.index, self.kind, self.name))


class Layout:
    """A Python call's arguments, with a Slot for each resolved one."""

    __slots__ = ("args", "kwargs")

    def __init__(self, args, kwargs):
        self.args = args
        self.kwargs = kwargs

    def __reduce__(self):
        return (Layout, (self.args, self.kwargs))


# Values whose pickle refers to nothing of __main__ or of a local scope,
# so that the standard pickler (C, several times faster than cloudpickle)
# writes what the worker can load.
_PLAIN = frozenset({int, float, str, bytes, bool, type(None), complex})


def plain(value, depth=0):
    """Whether value is built of builtins only (and Slots), to a small depth."""
    t = type(value)
    if t in _PLAIN or t is Slot:
        return True
    if depth >= 2:
        return False
    if t is tuple or t is list:
        return len(value) <= 16 and all(plain(v, depth + 1) for v in value)
    if t is dict:
        return len(value) <= 16 and all(
            type(k) is str and plain(v, depth + 1) for k, v in value.items()
        )
    return False


def dumps_layout(args, kwargs):
    """dumps(Layout(args, kwargs)), with the standard pickler when every
    argument is plain."""
    layout = Layout(args, kwargs)
    if all(plain(a) for a in args) and all(plain(v) for v in kwargs.values()):
        return MAGIC + pickle.dumps(layout, protocol=PROTOCOL)
    return dumps(layout)


def dumps(value):
    """MAGIC and the pickled value."""
    buf = io.BytesIO()
    buf.write(MAGIC)
    if _pickler is not None:
        _pickler.CloudPickler(buf, protocol=PROTOCOL).dump(value)
    else:
        pickle.Pickler(buf, protocol=PROTOCOL).dump(value)
    return buf.getvalue()


def is_pickled(data):
    """Whether the bytes (or buffer) data hold a pickled value."""
    return len(data) >= len(MAGIC) and bytes(data[: len(MAGIC)]) == MAGIC


def loads(data):
    """The value dumps pickled into data (bytes or a buffer)."""
    with memoryview(data) as view:
        return pickle.loads(view.cast("B")[len(MAGIC) :])


def qualified_name(obj):
    """A function's or class's name for messages (its __qualname__)."""
    return getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or repr(obj)


def native(value):
    """Whether value crosses as it is (C can read it): an int that fits
    in 64 bits (not a bool), a float, a str, None, or bytes that do not
    start with MAGIC."""
    t = type(value)
    if t is int:
        return -(1 << 63) <= value < (1 << 63)
    if t is bytes:
        return not value.startswith(MAGIC)
    return t is float or t is str or value is None
