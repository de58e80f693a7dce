"""_errors: pdc's status codes as Python exceptions.

Every PDC_E* code of pdc.h has one class here (CODES maps code -> class),
all under PdcError.  The names follow Ray's where Ray has the same error
(TaskError is Ray's RayTaskError, ActorDiedError, ObjectLostError,
GetTimeoutError, ObjectStoreFullError ...).  Where a Python built-in means
the same thing the class derives from it too (GetTimeoutError is a
TimeoutError, InvalidArgumentError a ValueError), so that generic
handlers work.

Each exception carries what pdc knows:

    code      the PDC_E* value (a negative int)
    status    its name, "PDC_ETASK"
    message   what went wrong, in words (the task's pdc_fail message, or
              pdc_last_error for a failed call)
    function  "library:function" of the task that failed, or None
    node      the node it ran on ("" if it never ran), or None

and TaskError adds `traceback`: the remote traceback of a Python task, ""
for C tasks.  Exceptions pickle with all of it, so that
Python workers can hand them on.
"""

from . import _lib


class PdcError(Exception):
    """Base of every error pdc raises."""

    code = None  # the class's PDC_E* code; instances may carry another

    def __init__(self, message="", code=None, function=None, node=None):
        if code is None:
            code = type(self).code
        self.message = message
        self.code = code
        self.function = function
        self.node = node
        super().__init__(self._describe())

    @property
    def status(self):
        return _lib.status_name(self.code) if self.code is not None else None

    def _describe(self):
        parts = []
        if self.code is not None:
            try:
                parts.append(_lib.status_name(self.code))
            except Exception:  # no libpdc: still a readable message
                parts.append("PDC_E(%d)" % self.code)
        if self.function:
            where = self.function
            if self.node:
                where += " on node " + self.node
            parts.append(where)
        head = ": ".join(parts)
        if self.message:
            return head + ": " + self.message if head else self.message
        return head

    def __reduce__(self):
        state = dict(self.__dict__)
        return (_rebuild, (type(self), state))


def _rebuild(cls, state):
    e = cls.__new__(cls)
    Exception.__init__(e)
    e.__dict__.update(state)
    e.args = (e._describe(),)
    return e


class NotInitializedError(PdcError, RuntimeError):
    """An API call before pdc.init() (or after pdc.shutdown())."""


# --- Errors of API calls ----------------------------------------------------


class InvalidArgumentError(PdcError, ValueError):
    """PDC_EINVAL: a bad argument to an API call."""

    code = _lib.PDC_EINVAL


class GetTimeoutError(PdcError, TimeoutError):
    """PDC_ETIMEOUT: the wait ran out before the object was ready."""

    code = _lib.PDC_ETIMEOUT


class OutOfMemoryError(PdcError, MemoryError):
    """PDC_ENOMEM: out of process memory."""

    code = _lib.PDC_ENOMEM


class PdcConnectionError(PdcError, ConnectionError):
    """PDC_ECONNECT: the cluster could not be reached or started."""

    code = _lib.PDC_ECONNECT


class ObjectStoreFullError(PdcError):
    """PDC_ESTOREFULL: the object store has no room for the object."""

    code = _lib.PDC_ESTOREFULL


class ObjectTypeError(PdcError, TypeError):
    """PDC_ETYPE: the object holds another type than asked for."""

    code = _lib.PDC_ETYPE


class ProtocolError(PdcError):
    """PDC_EPROTO: a malformed or unexpected message."""

    code = _lib.PDC_EPROTO


class NotFoundError(PdcError, LookupError):
    """PDC_ENOTFOUND: no such object, function, library or node."""

    code = _lib.PDC_ENOTFOUND


class ActorNotFoundError(NotFoundError, ValueError):
    """pdc.get_actor found no actor of that name (a ValueError, as in Ray)."""


class ShutdownError(PdcError):
    """PDC_ESHUTDOWN: the client or cluster is shutting down."""

    code = _lib.PDC_ESHUTDOWN


# --- Errors stored in a failed task's results --------------------------------


class TaskError(PdcError):
    """PDC_ETASK: the task failed (pdc_fail, or a Python exception).

    traceback is the remote traceback: "" for C tasks."""

    code = _lib.PDC_ETASK

    def __init__(self, message="", code=None, function=None, node=None, traceback=""):
        self.traceback = traceback
        super().__init__(message, code, function, node)

    def _describe(self):
        text = super()._describe()
        tb = getattr(self, "traceback", "")
        return text + TRACEBACK_MARK + tb.rstrip("\n") if tb else text


class FunctionNotFoundError(TaskError):
    """PDC_ENOFUNC: the task's library or function could not be loaded."""

    code = _lib.PDC_ENOFUNC


class TaskArgumentError(TaskError):
    """PDC_EARGS: the task got the wrong number or types of arguments."""

    code = _lib.PDC_EARGS


class WorkerDiedError(PdcError):
    """PDC_EWORKERDIED: the worker died and the retries were used up
    (Ray's WorkerCrashedError)."""

    code = _lib.PDC_EWORKERDIED


class TaskCancelledError(PdcError):
    """PDC_ECANCELLED: the task was cancelled before it ran."""

    code = _lib.PDC_ECANCELLED


class ObjectLostError(PdcError):
    """PDC_EOBJECTLOST: every copy of the object was lost."""

    code = _lib.PDC_EOBJECTLOST


class OwnerDiedError(ObjectLostError):
    """PDC_EOWNERDIED: the process owning the object is gone."""

    code = _lib.PDC_EOWNERDIED


class InfeasibleError(PdcError):
    """PDC_EINFEASIBLE: no node can ever satisfy the resource request."""

    code = _lib.PDC_EINFEASIBLE


class ActorDiedError(PdcError):
    """PDC_EACTORDIED: the actor was killed, crashed or never started."""

    code = _lib.PDC_EACTORDIED


CODES = {
    cls.code: cls
    for cls in (
        InvalidArgumentError,
        GetTimeoutError,
        OutOfMemoryError,
        PdcConnectionError,
        ObjectStoreFullError,
        ObjectTypeError,
        ProtocolError,
        NotFoundError,
        ShutdownError,
        TaskError,
        FunctionNotFoundError,
        TaskArgumentError,
        WorkerDiedError,
        TaskCancelledError,
        ObjectLostError,
        OwnerDiedError,
        InfeasibleError,
        ActorDiedError,
    )
}


def _text(b):
    return b.decode("utf-8", "replace") if b else ""


def from_status(code, message=None, client=None, cls=None):
    """The exception for a failed API call: code and pdc_last_error."""
    if message is None:
        message = _lib.last_error(client)
    cls = cls or CODES.get(code, PdcError)
    return cls(message, code=code)


# How a Python worker writes a failure into a task's error message:
# "NAME raised TYPE: TEXT", then TRACEBACK_MARK and the remote traceback.
# pdc keeps messages to MESSAGE_MAX bytes, so the traceback is cut at the
# front (the innermost frames and the exception stay).
TRACEBACK_MARK = "\nRemote traceback (most recent call last):\n"
MESSAGE_MAX = 1000
_RAISED = " raised "
PYTHON_LIBRARY = "pdc:python"


def remote_failure(what, exc):
    """The error message of a Python task that raised exc (in a worker)."""
    import traceback

    head = "%s%s%s: %s" % (what, _RAISED, type(exc).__name__, exc)
    if len(head) > 300:
        head = head[:297] + "..."
    frames = traceback.extract_tb(exc.__traceback__)[1:]  # not the worker's own frame
    tb = "".join(traceback.format_list(frames)) + "".join(
        traceback.format_exception_only(type(exc), exc)
    )
    room = MESSAGE_MAX - len(head.encode()) - len(TRACEBACK_MARK)
    data = tb.encode("utf-8", "replace")
    if len(data) > room:
        data = b"...\n" + data[-(room - 4) :]
        tb = data.decode("utf-8", "ignore")
    return head + TRACEBACK_MARK + tb


def from_object(obj):
    """The exception stored in a pdc_object of type PDC_T_ERROR (copied
    out: the caller may release the object afterwards).  A Python task's
    failure becomes a TaskError with the remote traceback, its function
    the Python function's name."""
    err = obj.error
    code = err.code
    cls = CODES.get(code, PdcError)
    message, function = _text(err.message), _text(err.function)
    extra = {}
    if TRACEBACK_MARK in message and issubclass(cls, TaskError):
        message, extra["traceback"] = message.split(TRACEBACK_MARK, 1)
        if function.startswith(PYTHON_LIBRARY + ":") and _RAISED in message:
            function, message = message.split(_RAISED, 1)
    return cls(message, code=code, function=function, node=_text(err.node), **extra)
