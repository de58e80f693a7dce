"""pdc: Python bindings of pdc, a distributed task and actor runtime.

Pure Python over ctypes (pdc._lib binds include/pdc.h); the shape of Ray's
API for work written in C:

    import pdc

    with pdc.init():                                   # embedded cluster
        add = pdc.function("libtasks.so", "add")
        print(pdc.get(add.remote(1, 2)))               # 3
        Counter = pdc.actor_class("libtasks.so", "Counter")
        c = Counter.remote(10)
        print(pdc.get(c.incr.remote(1)))               # 11

Modules: _lib (finding libpdc, the C types), _session (init/shutdown),
_objects (ObjectRef, values, put/get/wait/cancel, zero-copy), _remote
(functions, actor classes and their options), _errors (exceptions).
"""

from ._errors import (
    ActorDiedError,
    ActorNotFoundError,
    FunctionNotFoundError,
    GetTimeoutError,
    InfeasibleError,
    InvalidArgumentError,
    NotFoundError,
    NotInitializedError,
    ObjectLostError,
    ObjectStoreFullError,
    ObjectTypeError,
    OutOfMemoryError,
    OwnerDiedError,
    PdcConnectionError,
    PdcError,
    ProtocolError,
    ShutdownError,
    TaskArgumentError,
    TaskCancelledError,
    TaskError,
    WorkerDiedError,
)
from ._lib import LibraryNotFoundError, library_path
from ._objects import ZERO_COPY_THRESHOLD, ObjectRef, cancel, get, get_numpy, put, wait
from ._remote import (
    ActorClass,
    ActorHandle,
    ActorMethod,
    NodeAffinity,
    NodeAffinitySchedulingStrategy,
    RemoteFunction,
    actor_class,
    actor_ready,
    function,
    get_actor,
    kill,
    remote,
)
from ._session import (
    Session,
    available_resources,
    cluster_resources,
    init,
    is_initialized,
    node_id,
    nodes,
    shutdown,
)

__version__ = "0.1.0"

__all__ = [
    # cluster
    "init",
    "shutdown",
    "is_initialized",
    "node_id",
    "nodes",
    "cluster_resources",
    "available_resources",
    "Session",
    "library_path",
    # work
    "function",
    "actor_class",
    "remote",
    "get_actor",
    "kill",
    "actor_ready",
    "RemoteFunction",
    "ActorClass",
    "ActorHandle",
    "ActorMethod",
    "NodeAffinity",
    "NodeAffinitySchedulingStrategy",
    # objects
    "ObjectRef",
    "put",
    "get",
    "get_numpy",
    "wait",
    "cancel",
    "ZERO_COPY_THRESHOLD",
    # errors
    "PdcError",
    "NotInitializedError",
    "LibraryNotFoundError",
    "InvalidArgumentError",
    "GetTimeoutError",
    "OutOfMemoryError",
    "PdcConnectionError",
    "ObjectStoreFullError",
    "ObjectTypeError",
    "ProtocolError",
    "NotFoundError",
    "ActorNotFoundError",
    "ShutdownError",
    "TaskError",
    "FunctionNotFoundError",
    "TaskArgumentError",
    "WorkerDiedError",
    "TaskCancelledError",
    "ObjectLostError",
    "OwnerDiedError",
    "InfeasibleError",
    "ActorDiedError",
]
