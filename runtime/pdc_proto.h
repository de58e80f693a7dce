/*  pdc_proto: every message of pdc's wire protocol, and its codec.

    A message on the wire is a ZeroMQ multipart: [routing id] on a ROUTER
    socket, then a header frame, then zero or more raw payload frames that
    carry object bytes and are never copied into msgpack.  The header frame
    is a msgpack array

        [protocol version, message type, request id, field, field, ...]

    whose fields are declared below, once, by name and schema token, per
    type; a type's schema is its tokens in order.  The schema language is
    small:

        u  unsigned integer        i  signed integer     f  number
        s  string                  b  binary             d  16-byte id
        v  any scalar (nil, bool, integer, float, string, binary)
        {} a map from string to number (resources)
        *X an array of X           (..) a tuple: an array of exactly these

    Encoding goes through pdc_enc_* (a thin layer over msgpack-c's packer);
    no module writes msgpack by hand.  Decoding is total: pdc_msg_decode
    walks the bytes itself first, checking every type and length, every
    count against the bytes left and the nesting depth against the schema,
    and only then lets msgpack-c build the object tree.  A message that
    does not match its schema is refused with an error message that names
    the field; it never reaches a handler and never asserts.
*/
#ifndef PDC_PROTO_H_INCLUDED
#define PDC_PROTO_H_INCLUDED

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PDC_PROTO_VERSION 1

/* Largest nesting of arrays a message may have (any schema fits in it). */
#define PDC_PROTO_MAX_DEPTH 8

/*  The messages and what their fields mean.

    Raylet <-> its local clients (drivers and workers), over ipc:
    - REGISTER: kind (0 driver, 1 worker, 2 a lease holder on another
      node), pid, client id (a worker's: the one its raylet gave it; a
      driver's: an id it drew, whose first 8 bytes begin every object id
      it draws, so that its raylet can free its objects when its process
      dies), the client's own endpoint (where owners on
      this node reach it), its public endpoint (tcp://, where owners on
      other nodes reach it; "" if none), the sender's node id (for kind 2:
      its leases go when that node dies).  Reply REGISTERED:
      node id, store directory, inline limit in bytes, session directory,
      the head's endpoint ("" if none), the node's address for other
      hosts ("" if it has none).
    - LEASE_REQUEST: CPU slots wanted, flags, other resources wanted
      (GPU, custom names; fractional amounts), strategy (PDC_SCHED_*),
      the node of a node-affinity strategy, a label selector ("" none),
      the node holding most of the task's argument bytes ("" none), the
      runtime: the command line of the worker to run it in ("" for
      pdc-worker; see pdc_opts.runtime), the requester's job ("" none:
      a job's leases go only to workers started for that job).
      Flags: PDC_LEASE_ACTOR: a dedicated worker for an actor's life,
      which may hold 0 CPU; PDC_LEASE_DETACHED: keep it when the holder
      dies; PDC_LEASE_SOFT: affinity may fall back to other nodes;
      PDC_LEASE_SPILLED: another raylet chose this node, do not send it
      on.  Reply LEASE_GRANT (worker id, endpoint for the requester,
      public endpoint, node id, the GPU devices granted: "0,1" or ""), LEASE_REDIRECT (node id,
   raylet endpoint: ask that raylet instead, with PDC_LEASE_SPILLED) or ERROR.
    - LEASE_RETURN: worker id.  No reply.
    - BLOCKED / UNBLOCKED: the sending worker waits in pdc_get and gives
      its CPU back / takes it again.  No reply.
    - LENDING / NOT_LENDING: the sending worker owns objects that other
      processes borrow / no longer does: while it lends, the pool does
      not stop it for being idle.  No reply.
    - KEEPALIVE: a lease holder on another node is alive (sent every
      keepalive_ms to each raylet it holds leases at).  No reply.
    - BYE: the sending client is closing: its queued lease requests are
      dropped and the workers still leased to it (busy with its tasks)
      are stopped.  No reply.
    - WORKER_DIED: to a lease holder: its leased worker (id) exited, with
      a status (exit code, or minus the signal number).

    Owner <-> leased worker, direct:
    - WORKER_LEASE: the GPU devices of the lease whose tasks follow on
      this connection (LEASE_GRANT's last field), sent before the first
      push or the actor's creation: the worker sets CUDA_VISIBLE_DEVICES
      to them (unsets it for "").  No reply.
    - PUSH_TASKS: task specs (task id, library, function, arguments).  An
      argument is (kind, value): kind 0 an inline value, kind 1 a stored
      object whose value is its 16-byte id.
    - TASK_RESULTS: the node, then per task (task id, status, kind, value,
      function, message, busy microseconds): kind 0 inline value, 1 stored
      object (value is its size), 2 error (status is its code; value is
      nil, or for PDC_EOBJECTLOST the index of the argument whose every
      copy was lost, for the owner to rebuild it).  Busy time
      is the task's wall time less the time it waited in pdc_get; owners
      use it to decide whether to spread a kind of task over workers.

    Caller <-> an actor's worker, direct:
    - ACTOR_CREATE: actor id, library, class, constructor arguments,
      max concurrency.  Answered by TASK_RESULTS for the actor id.
    - ACTOR_CALLS: actor id, then call specs as in PUSH_TASKS (the library
      field is empty, the function is the method).  TASK_RESULTS answer.
    - ACTOR_KILL: actor id.  The destructor runs and the worker exits.

    Named actors, at the head:
    - ACTOR_NAME_REGISTER: namespace, name, actor id, endpoint ("" while
      the actor is being placed).  Reply ACTOR_INFO, or ERROR if another
      actor holds the name (or the head cannot store it).  The same
      claim sent again (a creator whose head was silent) gets the same
      answer; the head has the row on disk before it answers.
    - ACTOR_NAME_DROP: namespace, name, actor id.  No reply.
    - ACTOR_LOOKUP: namespace, name.  Reply ACTOR_INFO (id, endpoint) or
      ERROR.

    The actor table, at the head (pdc_actor_row.h):
    - ACTOR_STATE (creator -> head): the actor's row (id, class,
      namespace, name, state, node, endpoint, creator's node, restarts,
      max_restarts, max_task_retries, reason), sent at every change of
      state.  Answered PONG once the head has stored it (the creator
      sends it again until then).  Also the reply to ACTOR_RESOLVE.
    - ACTOR_RESOLVE: actor id.  Reply ACTOR_STATE, or ERROR (ENOTFOUND)
      when the head has no row for it.  Holders of a handle ask it when
      their connection to the actor broke, to learn where it restarted.
    - ACTOR_LIST: no fields.  Reply ACTOR_TABLE: every row (pdc status).

    Borrower -> owner (a process that holds references another process
    owns, to that owner's object service; see client/pdc_borrow.h):
    - BORROW_ADD: object ids.  The owner counts the sender as a holder of
      each.  Reply BORROW_ACK: the ids it no longer has (freed).
    - BORROW_DROP: object ids: the sender let go of them.  No reply.
    - OBJECT_WAIT: object id.  Reply OBJECT_INFO: id, kind (PDC_RES_*, or
      PDC_INFO_PENDING when not ready yet: ask again later), value (an
      inline value, a stored object's size, a list of references'
      encoding), the node whose store holds it, and for a failed one its
      code, function and message.

    Any daemon:
    - PING -> PONG; STATUS -> STATUS_REPLY (name, number) pairs.
    - ERROR: a request could not be served: code, message.

    Raylet <-> head:
    - NODE_REGISTER: node id, raylet endpoint (tcp:// when the node can
      be reached from other hosts), resources, labels ("tier=edge,..."),
      the endpoint for clients on the node's own host (ipc://).
      Reply NODE_REGISTERED: heartbeat period in ms.
    - HEARTBEAT: node id, resources available.  Reply NODES_REPLY (the
      cluster view the raylet schedules with), or ERROR when the head
      does not know the node (it then registers again).
    - NODES: no fields.  Reply NODES_REPLY: per node (id, endpoint,
      alive, resources total, resources available, labels, local
      endpoint).

    Objects between nodes:
    - OBJECT_PULL (client -> its raylet): object id, the node holding it,
      replica flag.  The raylet copies it into this node's store and
      answers OBJECT_READY (id), or ERROR saying why it could not.  The
      copy is a secondary one, evicted first when the store needs room,
      unless the flag says it is a replica of a replicated put (kept
      like a primary copy).  With the node being this one, the raylet
      restores the object if it was spilled.
    - OBJECT_FETCH (raylet -> raylet): object id, offset, length.  Reply
      OBJECT_CHUNK: id, type, total size, offset, then the bytes as a
      payload frame; or ERROR if the object is not there.
    - CODE_PUT (owner -> head): hash, file name, then the library's bytes
      as a payload frame.  Reply CODE_STORED (hash) or ERROR.
    - CODE_GET: hash.  From a worker to its raylet: reply CODE_PATH (hash,
      path of the package in the node's cache).  From a raylet to the
      head: reply CODE (hash, then the bytes as a payload frame).  ERROR
      if there is no such package.
    - OBJECT_FREE: forward flag, object ids.  The raylet deletes them
      from its store; with the flag set (from an owner) it also sends
      them on to every other live node.  No reply.

    Jobs (pdc-submit <-> head <-> raylets; see head/pdc_jobs_table.h):
    - OBJECT_FREE_PREFIX (raylet -> raylet): an owner's id: delete every
      object whose id begins with its first 8 bytes (its process died:
      nothing of it can be read any more).  No reply.

    - JOB_SUBMIT (submitter -> head): job id ("" for the head to name
      it), the hash of the working directory's package ("" none; uploaded
      first with CODE_PUT), the command's words, environment ("K=V"),
      resources and label selector the driver's node must have, follow
      flag.  Reply JOB_TABLE (the new job's row) or ERROR; with follow
      set, the job's output follows as JOB_LOG and its end as JOB_DONE.
      CODE_PUT without bytes asks whether the head has a package: reply
      CODE_STORED, or ERROR PDC_ENOTFOUND.
    - JOB_LIST: job id ("" every job).  Reply JOB_TABLE or ERROR.
    - JOB_LOGS: job id, follow flag.  Reply JOB_LOG (the output the head
      kept), then, with follow, JOB_LOG as output comes; the reply ends
      with JOB_DONE once the job has ended, or at once with JOB_TABLE
      without follow while it runs.
    - JOB_STOP (submitter -> head): job id.  Reply JOB_TABLE.  From the
      head to every raylet (no reply): stop the job's driver and workers
      on the node and delete its objects from the store.
    - JOB_START (head -> raylet): job id, package hash, command, env.
      The raylet answers JOB_STARTED (job id, driver pid) or JOB_EXITED.
    - JOB_LOG: job id, text (whole lines; a worker's are prefixed with
      "(node, pid=N) ").  Raylet -> head, head -> followers.
    - JOB_EXITED (raylet -> head): job id, status (exit code, or minus
      the signal), why it could not start ("" if it ran).
    - JOB_DONE (head -> followers): the job's row.
    - JOB_CLEANED (raylet -> head): job id: after a JOB_STOP, none of the
      job's processes is left on the node and all their output was sent.
      The head ends a job once every live node has said so (or a
      timeout passed), so its followers get every line.
*/
/*  The fields, by name.  Each message NAME declares its fields in order
    as a list PDC_NAME_FIELDS(F) of F(NAME_FIELD, token), the token in the
    schema language above.  The list is the only declaration: it gives
    each field an index, PDC_NAME_FIELD, to read it by

        pdc_f_cstr(&in.msg.fields[PDC_LEASE_GRANT_NODE], node, sizeof node)

    with PDC_NAME_NFIELDS after the last, and the message its schema (the
    tokens in order), so names and schema cannot disagree.  A token is
    one schema item: tests/test_codec.c checks that every list's count
    equals its schema's.  The tuples inside messages are declared the
    same way, PDC_TUPLE_FIELDS(F), and their schema PDC_TUPLE_SCHEMA is
    "(" the tokens ")"; index an element with pdc_f_at(tuple, PDC_ARG_KIND).

    Tuples:
    - ARG: an argument of a task, call or constructor (kind PDC_ARG_*,
      value).
    - TASK: a task spec in PUSH_TASKS, or a call spec in ACTOR_CALLS.
    - RESULT: one task's result in TASK_RESULTS (kind PDC_RES_*).
    - NODE_ROW: one node of the cluster view in NODES_REPLY.
    - STAT: one (name, number) pair of STATUS_REPLY.
*/
#define PDC_F_TOKEN_(name, token) token
#define PDC_F_INDEX_(name, token) PDC_##name,

#define PDC_ARG_FIELDS(F)                                                                          \
    F(ARG_KIND, "u")                                                                               \
    F(ARG_VALUE, "v")
#define PDC_ARG_SCHEMA "(" PDC_ARG_FIELDS(PDC_F_TOKEN_) ")"

#define PDC_TASK_FIELDS(F)                                                                         \
    F(TASK_ID, "d")                                                                                \
    F(TASK_LIBRARY, "s")                                                                           \
    F(TASK_FUNCTION, "s")                                                                          \
    F(TASK_ARGS, "*" PDC_ARG_SCHEMA)
#define PDC_TASK_SCHEMA "(" PDC_TASK_FIELDS(PDC_F_TOKEN_) ")"

#define PDC_RESULT_FIELDS(F)                                                                       \
    F(RESULT_TASK_ID, "d")                                                                         \
    F(RESULT_STATUS, "i")                                                                          \
    F(RESULT_KIND, "u")                                                                            \
    F(RESULT_VALUE, "v")                                                                           \
    F(RESULT_FUNCTION, "s")                                                                        \
    F(RESULT_MESSAGE, "s")                                                                         \
    F(RESULT_BUSY_US, "u")
#define PDC_RESULT_SCHEMA "(" PDC_RESULT_FIELDS(PDC_F_TOKEN_) ")"

#define PDC_NODE_ROW_FIELDS(F)                                                                     \
    F(NODE_ROW_ID, "s")                                                                            \
    F(NODE_ROW_ENDPOINT, "s")                                                                      \
    F(NODE_ROW_ALIVE, "u")                                                                         \
    F(NODE_ROW_TOTAL, "{}")                                                                        \
    F(NODE_ROW_AVAILABLE, "{}")                                                                    \
    F(NODE_ROW_LABELS, "s")                                                                        \
    F(NODE_ROW_LOCAL_ENDPOINT, "s")
#define PDC_NODE_ROW_SCHEMA "(" PDC_NODE_ROW_FIELDS(PDC_F_TOKEN_) ")"

#define PDC_JOB_ROW_FIELDS(F)                                                                      \
    F(JOB_ROW_ID, "s")                                                                             \
    F(JOB_ROW_COMMAND, "s")                                                                        \
    F(JOB_ROW_STATE, "u")                                                                          \
    F(JOB_ROW_NODE, "s")                                                                           \
    F(JOB_ROW_SUBMITTED_MS, "u")                                                                   \
    F(JOB_ROW_START_MS, "u")                                                                       \
    F(JOB_ROW_END_MS, "u")                                                                         \
    F(JOB_ROW_EXIT_STATUS, "i")                                                                    \
    F(JOB_ROW_MESSAGE, "s")                                                                        \
    F(JOB_ROW_DRIVER_PID, "u")
#define PDC_JOB_ROW_SCHEMA "(" PDC_JOB_ROW_FIELDS(PDC_F_TOKEN_) ")"

#define PDC_ACTOR_ROW_FIELDS(F)                                                                    \
    F(ACTOR_ROW_ACTOR_ID, "d")                                                                     \
    F(ACTOR_ROW_CLASS, "s")                                                                        \
    F(ACTOR_ROW_NAMESPACE, "s")                                                                    \
    F(ACTOR_ROW_NAME, "s")                                                                         \
    F(ACTOR_ROW_STATE, "u")                                                                        \
    F(ACTOR_ROW_NODE, "s")                                                                         \
    F(ACTOR_ROW_ENDPOINT, "s")                                                                     \
    F(ACTOR_ROW_OWNER_NODE, "s")                                                                   \
    F(ACTOR_ROW_RESTARTS, "u")                                                                     \
    F(ACTOR_ROW_MAX_RESTARTS, "i")                                                                 \
    F(ACTOR_ROW_MAX_TASK_RETRIES, "i")                                                             \
    F(ACTOR_ROW_REASON, "s")
#define PDC_ACTOR_ROW_SCHEMA "(" PDC_ACTOR_ROW_FIELDS(PDC_F_TOKEN_) ")"

#define PDC_STAT_FIELDS(F)                                                                         \
    F(STAT_NAME, "s")                                                                              \
    F(STAT_VALUE, "f")
#define PDC_STAT_SCHEMA "(" PDC_STAT_FIELDS(PDC_F_TOKEN_) ")"

/* Any daemon */
#define PDC_ERROR_FIELDS(F)                                                                        \
    F(ERROR_CODE, "i")                                                                             \
    F(ERROR_MESSAGE, "s")
#define PDC_PING_FIELDS(F)
#define PDC_PONG_FIELDS(F)
#define PDC_STATUS_FIELDS(F)
#define PDC_STATUS_REPLY_FIELDS(F) F(STATUS_REPLY_STATS, "*" PDC_STAT_SCHEMA)

/* Raylet <-> its local clients */
#define PDC_REGISTER_FIELDS(F)                                                                     \
    F(REGISTER_KIND, "u")                                                                          \
    F(REGISTER_PID, "u")                                                                           \
    F(REGISTER_CLIENT_ID, "d")                                                                     \
    F(REGISTER_ENDPOINT, "s")                                                                      \
    F(REGISTER_PUBLIC_ENDPOINT, "s")                                                               \
    F(REGISTER_NODE, "s")
#define PDC_REGISTERED_FIELDS(F)                                                                   \
    F(REGISTERED_NODE, "s")                                                                        \
    F(REGISTERED_STORE_DIR, "s")                                                                   \
    F(REGISTERED_INLINE_MAX, "u")                                                                  \
    F(REGISTERED_SESSION_DIR, "s")                                                                 \
    F(REGISTERED_HEAD_ENDPOINT, "s")                                                               \
    F(REGISTERED_NODE_IP, "s")
#define PDC_LEASE_REQUEST_FIELDS(F)                                                                \
    F(LEASE_REQUEST_CPUS, "f")                                                                     \
    F(LEASE_REQUEST_FLAGS, "u")                                                                    \
    F(LEASE_REQUEST_RESOURCES, "{}")                                                               \
    F(LEASE_REQUEST_STRATEGY, "u")                                                                 \
    F(LEASE_REQUEST_AFFINITY_NODE, "s")                                                            \
    F(LEASE_REQUEST_LABEL_SELECTOR, "s")                                                           \
    F(LEASE_REQUEST_ARG_NODE, "s")                                                                 \
    F(LEASE_REQUEST_RUNTIME, "s")                                                                  \
    F(LEASE_REQUEST_JOB, "s")
#define PDC_LEASE_GRANT_FIELDS(F)                                                                  \
    F(LEASE_GRANT_WORKER_ID, "d")                                                                  \
    F(LEASE_GRANT_ENDPOINT, "s")                                                                   \
    F(LEASE_GRANT_PUBLIC_ENDPOINT, "s")                                                            \
    F(LEASE_GRANT_NODE, "s")                                                                       \
    F(LEASE_GRANT_GPU_IDS, "s")
#define PDC_LEASE_REDIRECT_FIELDS(F)                                                               \
    F(LEASE_REDIRECT_NODE, "s")                                                                    \
    F(LEASE_REDIRECT_ENDPOINT, "s")
#define PDC_LEASE_RETURN_FIELDS(F) F(LEASE_RETURN_WORKER_ID, "d")
#define PDC_BLOCKED_FIELDS(F)
#define PDC_UNBLOCKED_FIELDS(F)
#define PDC_LENDING_FIELDS(F)
#define PDC_NOT_LENDING_FIELDS(F)
#define PDC_KEEPALIVE_FIELDS(F)
#define PDC_BYE_FIELDS(F)
#define PDC_WORKER_DIED_FIELDS(F)                                                                  \
    F(WORKER_DIED_WORKER_ID, "d")                                                                  \
    F(WORKER_DIED_STATUS, "i")

/* Owner <-> leased worker */
#define PDC_WORKER_LEASE_FIELDS(F) F(WORKER_LEASE_GPU_IDS, "s")
#define PDC_PUSH_TASKS_FIELDS(F)   F(PUSH_TASKS_TASKS, "*" PDC_TASK_SCHEMA)
#define PDC_TASK_RESULTS_FIELDS(F)                                                                 \
    F(TASK_RESULTS_NODE, "s")                                                                      \
    F(TASK_RESULTS_RESULTS, "*" PDC_RESULT_SCHEMA)

/* Caller <-> an actor's worker */
#define PDC_ACTOR_CREATE_FIELDS(F)                                                                 \
    F(ACTOR_CREATE_ACTOR_ID, "d")                                                                  \
    F(ACTOR_CREATE_LIBRARY, "s")                                                                   \
    F(ACTOR_CREATE_CLASS, "s")                                                                     \
    F(ACTOR_CREATE_ARGS, "*" PDC_ARG_SCHEMA)                                                       \
    F(ACTOR_CREATE_MAX_CONCURRENCY, "u")
#define PDC_ACTOR_CALLS_FIELDS(F)                                                                  \
    F(ACTOR_CALLS_ACTOR_ID, "d")                                                                   \
    F(ACTOR_CALLS_CALLS, "*" PDC_TASK_SCHEMA)
#define PDC_ACTOR_KILL_FIELDS(F) F(ACTOR_KILL_ACTOR_ID, "d")

/* Named actors, at the head */
#define PDC_ACTOR_NAME_REGISTER_FIELDS(F)                                                          \
    F(ACTOR_NAME_REGISTER_NAMESPACE, "s")                                                          \
    F(ACTOR_NAME_REGISTER_NAME, "s")                                                               \
    F(ACTOR_NAME_REGISTER_ACTOR_ID, "d")                                                           \
    F(ACTOR_NAME_REGISTER_ENDPOINT, "s")
#define PDC_ACTOR_NAME_DROP_FIELDS(F)                                                              \
    F(ACTOR_NAME_DROP_NAMESPACE, "s")                                                              \
    F(ACTOR_NAME_DROP_NAME, "s")                                                                   \
    F(ACTOR_NAME_DROP_ACTOR_ID, "d")
#define PDC_ACTOR_LOOKUP_FIELDS(F)                                                                 \
    F(ACTOR_LOOKUP_NAMESPACE, "s")                                                                 \
    F(ACTOR_LOOKUP_NAME, "s")
#define PDC_ACTOR_INFO_FIELDS(F)                                                                   \
    F(ACTOR_INFO_ACTOR_ID, "d")                                                                    \
    F(ACTOR_INFO_ENDPOINT, "s")

/* Raylet <-> head */
#define PDC_NODE_REGISTER_FIELDS(F)                                                                \
    F(NODE_REGISTER_NODE, "s")                                                                     \
    F(NODE_REGISTER_ENDPOINT, "s")                                                                 \
    F(NODE_REGISTER_RESOURCES, "{}")                                                               \
    F(NODE_REGISTER_LABELS, "s")                                                                   \
    F(NODE_REGISTER_LOCAL_ENDPOINT, "s")
#define PDC_NODE_REGISTERED_FIELDS(F) F(NODE_REGISTERED_HEARTBEAT_MS, "u")
#define PDC_HEARTBEAT_FIELDS(F)                                                                    \
    F(HEARTBEAT_NODE, "s")                                                                         \
    F(HEARTBEAT_AVAILABLE, "{}")
#define PDC_NODES_FIELDS(F)
#define PDC_NODES_REPLY_FIELDS(F) F(NODES_REPLY_NODES, "*" PDC_NODE_ROW_SCHEMA)

/* Objects and code between nodes */
#define PDC_OBJECT_PULL_FIELDS(F)                                                                  \
    F(OBJECT_PULL_OBJECT_ID, "d")                                                                  \
    F(OBJECT_PULL_NODE, "s")                                                                       \
    F(OBJECT_PULL_REPLICA, "u")
#define PDC_OBJECT_READY_FIELDS(F) F(OBJECT_READY_OBJECT_ID, "d")
#define PDC_OBJECT_FETCH_FIELDS(F)                                                                 \
    F(OBJECT_FETCH_OBJECT_ID, "d")                                                                 \
    F(OBJECT_FETCH_OFFSET, "u")                                                                    \
    F(OBJECT_FETCH_LENGTH, "u")
#define PDC_OBJECT_CHUNK_FIELDS(F)                                                                 \
    F(OBJECT_CHUNK_OBJECT_ID, "d")                                                                 \
    F(OBJECT_CHUNK_TYPE, "u")                                                                      \
    F(OBJECT_CHUNK_TOTAL_SIZE, "u")                                                                \
    F(OBJECT_CHUNK_OFFSET, "u")
#define PDC_OBJECT_FREE_FIELDS(F)                                                                  \
    F(OBJECT_FREE_FORWARD, "u")                                                                    \
    F(OBJECT_FREE_OBJECT_IDS, "*d")
#define PDC_CODE_PUT_FIELDS(F)                                                                     \
    F(CODE_PUT_HASH, "s")                                                                          \
    F(CODE_PUT_FILE_NAME, "s")
#define PDC_CODE_STORED_FIELDS(F) F(CODE_STORED_HASH, "s")
#define PDC_CODE_GET_FIELDS(F)    F(CODE_GET_HASH, "s")
#define PDC_CODE_FIELDS(F)        F(CODE_HASH, "s")
#define PDC_CODE_PATH_FIELDS(F)                                                                    \
    F(CODE_PATH_HASH, "s")                                                                         \
    F(CODE_PATH_PATH, "s")

/* Jobs */
#define PDC_JOB_SUBMIT_FIELDS(F)                                                                   \
    F(JOB_SUBMIT_JOB_ID, "s")                                                                      \
    F(JOB_SUBMIT_PACKAGE, "s")                                                                     \
    F(JOB_SUBMIT_ARGV, "*s")                                                                       \
    F(JOB_SUBMIT_ENV, "*s")                                                                        \
    F(JOB_SUBMIT_RESOURCES, "{}")                                                                  \
    F(JOB_SUBMIT_LABEL_SELECTOR, "s")                                                              \
    F(JOB_SUBMIT_FOLLOW, "u")
#define PDC_JOB_LIST_FIELDS(F)  F(JOB_LIST_JOB_ID, "s")
#define PDC_JOB_TABLE_FIELDS(F) F(JOB_TABLE_JOBS, "*" PDC_JOB_ROW_SCHEMA)
#define PDC_JOB_LOGS_FIELDS(F)                                                                     \
    F(JOB_LOGS_JOB_ID, "s")                                                                        \
    F(JOB_LOGS_FOLLOW, "u")
#define PDC_JOB_STOP_FIELDS(F) F(JOB_STOP_JOB_ID, "s")
#define PDC_JOB_START_FIELDS(F)                                                                    \
    F(JOB_START_JOB_ID, "s")                                                                       \
    F(JOB_START_PACKAGE, "s")                                                                      \
    F(JOB_START_ARGV, "*s")                                                                        \
    F(JOB_START_ENV, "*s")
#define PDC_JOB_STARTED_FIELDS(F)                                                                  \
    F(JOB_STARTED_JOB_ID, "s")                                                                     \
    F(JOB_STARTED_PID, "u")
#define PDC_JOB_LOG_FIELDS(F)                                                                      \
    F(JOB_LOG_JOB_ID, "s")                                                                         \
    F(JOB_LOG_TEXT, "s")
#define PDC_JOB_EXITED_FIELDS(F)                                                                   \
    F(JOB_EXITED_JOB_ID, "s")                                                                      \
    F(JOB_EXITED_STATUS, "i")                                                                      \
    F(JOB_EXITED_MESSAGE, "s")
#define PDC_JOB_DONE_FIELDS(F)           F(JOB_DONE_JOB, PDC_JOB_ROW_SCHEMA)
#define PDC_JOB_CLEANED_FIELDS(F)        F(JOB_CLEANED_JOB_ID, "s")
#define PDC_OBJECT_FREE_PREFIX_FIELDS(F) F(OBJECT_FREE_PREFIX_OWNER, "d")
#define PDC_ACTOR_STATE_FIELDS(F)        F(ACTOR_STATE_ACTOR, PDC_ACTOR_ROW_SCHEMA)
#define PDC_ACTOR_RESOLVE_FIELDS(F)      F(ACTOR_RESOLVE_ACTOR_ID, "d")
#define PDC_ACTOR_LIST_FIELDS(F)
#define PDC_ACTOR_TABLE_FIELDS(F) F(ACTOR_TABLE_ACTORS, "*" PDC_ACTOR_ROW_SCHEMA)
/* Borrowed references (client/pdc_borrow.h) */
#define PDC_BORROW_ADD_FIELDS(F)  F(BORROW_ADD_OBJECT_IDS, "*d")
#define PDC_BORROW_ACK_FIELDS(F)  F(BORROW_ACK_GONE, "*d")
#define PDC_BORROW_DROP_FIELDS(F) F(BORROW_DROP_OBJECT_IDS, "*d")
#define PDC_OBJECT_WAIT_FIELDS(F) F(OBJECT_WAIT_OBJECT_ID, "d")
#define PDC_OBJECT_INFO_FIELDS(F)                                                                  \
    F(OBJECT_INFO_OBJECT_ID, "d")                                                                  \
    F(OBJECT_INFO_KIND, "u")                                                                       \
    F(OBJECT_INFO_VALUE, "v")                                                                      \
    F(OBJECT_INFO_NODE, "s")                                                                       \
    F(OBJECT_INFO_STATUS, "i")                                                                     \
    F(OBJECT_INFO_FUNCTION, "s")                                                                   \
    F(OBJECT_INFO_MESSAGE, "s")

/* The messages, in wire order (a message's type is its place here: add
   new ones at the end).  X(NAME); its fields are PDC_NAME_FIELDS. */
#define PDC_MESSAGES(X)                                                                            \
    X(ERROR)                                                                                       \
    X(PING)                                                                                        \
    X(PONG)                                                                                        \
    X(STATUS)                                                                                      \
    X(STATUS_REPLY)                                                                                \
    X(REGISTER)                                                                                    \
    X(REGISTERED)                                                                                  \
    X(LEASE_REQUEST)                                                                               \
    X(LEASE_GRANT)                                                                                 \
    X(LEASE_RETURN)                                                                                \
    X(BLOCKED)                                                                                     \
    X(UNBLOCKED)                                                                                   \
    X(WORKER_DIED)                                                                                 \
    X(BYE)                                                                                         \
    X(KEEPALIVE)                                                                                   \
    X(PUSH_TASKS)                                                                                  \
    X(TASK_RESULTS)                                                                                \
    X(NODE_REGISTER)                                                                               \
    X(NODE_REGISTERED)                                                                             \
    X(HEARTBEAT)                                                                                   \
    X(NODES)                                                                                       \
    X(NODES_REPLY)                                                                                 \
    X(ACTOR_CREATE)                                                                                \
    X(ACTOR_CALLS)                                                                                 \
    X(ACTOR_KILL)                                                                                  \
    X(ACTOR_NAME_REGISTER)                                                                         \
    X(ACTOR_NAME_DROP)                                                                             \
    X(ACTOR_LOOKUP)                                                                                \
    X(ACTOR_INFO)                                                                                  \
    X(LEASE_REDIRECT)                                                                              \
    X(OBJECT_PULL)                                                                                 \
    X(OBJECT_READY)                                                                                \
    X(OBJECT_FETCH)                                                                                \
    X(OBJECT_CHUNK)                                                                                \
    X(OBJECT_FREE)                                                                                 \
    X(CODE_PUT)                                                                                    \
    X(CODE_STORED)                                                                                 \
    X(CODE_GET)                                                                                    \
    X(CODE)                                                                                        \
    X(CODE_PATH)                                                                                   \
    X(WORKER_LEASE)                                                                                \
    X(JOB_SUBMIT)                                                                                  \
    X(JOB_LIST)                                                                                    \
    X(JOB_TABLE)                                                                                   \
    X(JOB_LOGS)                                                                                    \
    X(JOB_STOP)                                                                                    \
    X(JOB_START)                                                                                   \
    X(JOB_STARTED)                                                                                 \
    X(JOB_LOG)                                                                                     \
    X(JOB_EXITED)                                                                                  \
    X(JOB_DONE)                                                                                    \
    X(JOB_CLEANED)                                                                                 \
    X(OBJECT_FREE_PREFIX)                                                                          \
    X(ACTOR_STATE)                                                                                 \
    X(ACTOR_RESOLVE)                                                                               \
    X(ACTOR_LIST)                                                                                  \
    X(ACTOR_TABLE)                                                                                 \
    X(BORROW_ADD)                                                                                  \
    X(BORROW_ACK)                                                                                  \
    X(BORROW_DROP)                                                                                 \
    X(OBJECT_WAIT)                                                                                 \
    X(OBJECT_INFO)                                                                                 \
    X(LENDING)                                                                                     \
    X(NOT_LENDING)

/* The schema string of message NAME (a string literal). */
#define PDC_SCHEMA_OF(name) "" PDC_##name##_FIELDS(PDC_F_TOKEN_)

typedef enum {
#define PDC_X_ENUM(name) PDC_MSG_##name,
    PDC_MESSAGES(PDC_X_ENUM)
#undef PDC_X_ENUM
        PDC_MSG_COUNT_
} pdc_msg_type;

/* The field indexes: PDC_LEASE_GRANT_NODE, ..., PDC_LEASE_GRANT_NFIELDS. */
#define PDC_X_FIELD_ENUM(name) enum { PDC_##name##_FIELDS(PDC_F_INDEX_) PDC_##name##_NFIELDS };
PDC_MESSAGES(PDC_X_FIELD_ENUM)
PDC_X_FIELD_ENUM(ARG)
PDC_X_FIELD_ENUM(TASK)
PDC_X_FIELD_ENUM(RESULT)
PDC_X_FIELD_ENUM(NODE_ROW)
PDC_X_FIELD_ENUM(STAT)
PDC_X_FIELD_ENUM(JOB_ROW)
PDC_X_FIELD_ENUM(ACTOR_ROW)
#undef PDC_X_FIELD_ENUM

/* True when fields a and b of two messages are in the same place, for
   code that reads both messages with one index:
   _Static_assert(PDC_SAME_FIELD(PDC_CODE_GET_HASH, PDC_CODE_PUT_HASH), ...)
   (each message's indexes are their own enum; this compares them as int). */
#define PDC_SAME_FIELD(a, b) ((int) (a) == (int) (b))

/* Argument and result kinds inside PUSH_TASKS and TASK_RESULTS. */
/* The end of a raylet's ERROR (PDC_EINVAL) to a sender that did not
   REGISTER first; a client that did, on a connection the raylet lost
   track of (a partition, a reconnect), registers again on seeing it. */
#define PDC_NOT_REGISTERED_TEXT "before REGISTER: register first"

/* An actor handle argument (PDC_ARG_ACTOR) is the string "ID@ENDPOINT",
   ID in 32 hex digits. */
/* A stored object on another node (PDC_ARG_REMOTE) is the string
   "ID@NODE": the worker's raylet pulls it from that node first. */
enum {
    PDC_ARG_INLINE = 0,
    PDC_ARG_STORED = 1,
    PDC_ARG_ACTOR = 2,
    PDC_ARG_REMOTE = 3,
    PDC_ARG_REFS = 4 /* a list of references: its encoding (client/pdc_refs.h) */
};
enum { PDC_LEASE_ACTOR = 1, PDC_LEASE_DETACHED = 2, PDC_LEASE_SOFT = 4, PDC_LEASE_SPILLED = 8 };
enum { PDC_RES_INLINE = 0, PDC_RES_STORED = 1, PDC_RES_ERROR = 2, PDC_RES_REFS = 3 };
/* OBJECT_INFO's kind beyond the PDC_RES_* ones: not ready yet. */
#define PDC_INFO_PENDING 4

/* The name ("LEASE_REQUEST") and schema of a type; NULL if out of range. */
const char *pdc_msg_name(unsigned type);
const char *pdc_msg_schema(unsigned type);

/* ---- Encoding --------------------------------------------------------- */

/* An encoder: a growing buffer and a msgpack packer over it.  Start one
   message with pdc_enc_begin (writes version, type, request id); write
   the fields in schema order with the pdc_enc_* calls; the finished bytes
   are enc->buf.data / enc->buf.size.  Reuse with another pdc_enc_begin. */
typedef struct {
    msgpack_sbuffer buf;
    msgpack_packer pk;
} pdc_enc_t;

void pdc_enc_init(pdc_enc_t *enc);
void pdc_enc_free(pdc_enc_t *enc);
void pdc_enc_begin(pdc_enc_t *enc, pdc_msg_type type, uint64_t request_id);
void pdc_enc_u(pdc_enc_t *enc, uint64_t v);
void pdc_enc_i(pdc_enc_t *enc, int64_t v);
void pdc_enc_f(pdc_enc_t *enc, double v);
void pdc_enc_s(pdc_enc_t *enc, const char *s);
void pdc_enc_sn(pdc_enc_t *enc, const char *s, size_t n);
void pdc_enc_b(pdc_enc_t *enc, const void *p, size_t n);
void pdc_enc_id(pdc_enc_t *enc, const uint8_t id[16]);
void pdc_enc_nil(pdc_enc_t *enc);
void pdc_enc_array(pdc_enc_t *enc, size_t n); /* for * and ( ) */
void pdc_enc_map(pdc_enc_t *enc, size_t n);   /* for {}: n s,f pairs */
/* Append items encoded earlier by another pdc_enc_t (batching: a worker
   encodes each result as it finishes, then sends them in one array). */
void pdc_enc_raw(pdc_enc_t *enc, const void *bytes, size_t n);

/* ---- Decoding --------------------------------------------------------- */

typedef struct {
    unsigned type;
    uint64_t request_id;
    const msgpack_object *fields; /* nfields entries, validated          */
    uint32_t nfields;
    msgpack_unpacked unpacked_; /* owns the tree                         */
} pdc_msg_t;

/* Decode and validate one header frame.  0 on success (free with
   pdc_msg_free); -1 with a message in err that says what was wrong:
   "LEASE_REQUEST field 1: expected number, got string". */
int pdc_msg_decode(const void *data, size_t size, pdc_msg_t *msg, char *err, size_t errlen);
void pdc_msg_free(pdc_msg_t *msg);

/* Validate bytes against a schema alone (used by pdc_msg_decode and by
   the tests).  0 or -1 with err. */
int pdc_proto_check(const void *data, size_t size, const char *schema, char *err, size_t errlen);

/* Accessors for validated fields (no checks: the schema guaranteed the
   types).  pdc_f_str returns a pointer into the message, not NUL-ended. */
static inline uint64_t pdc_f_u(const msgpack_object *o) {
    return o->via.u64;
}
static inline int64_t pdc_f_i(const msgpack_object *o) {
    return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? (int64_t) o->via.u64 : o->via.i64;
}
static inline double pdc_f_f(const msgpack_object *o) {
    switch (o->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return (double) o->via.u64;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return (double) o->via.i64;
    default:
        return o->via.f64;
    }
}
static inline const char *pdc_f_str(const msgpack_object *o, size_t *len) {
    if (len)
        *len = o->via.str.size;
    return o->via.str.ptr;
}
static inline const void *pdc_f_bin(const msgpack_object *o, size_t *len) {
    if (len)
        *len = o->via.bin.size;
    return o->via.bin.ptr;
}
static inline const uint8_t *pdc_f_id(const msgpack_object *o) {
    return (const uint8_t *) o->via.bin.ptr;
}
static inline uint32_t pdc_f_count(const msgpack_object *o) {
    return o->type == MSGPACK_OBJECT_MAP ? o->via.map.size : o->via.array.size;
}
static inline const msgpack_object *pdc_f_at(const msgpack_object *o, uint32_t i) {
    return &o->via.array.ptr[i];
}
/* Copy a string field into buf as a NUL-ended C string (truncating). */
const char *pdc_f_cstr(const msgpack_object *o, char *buf, size_t bufsize);

#endif
