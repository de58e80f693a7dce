/*  pdc.h: the public C API of pdc, a distributed task runtime.

    A program links libpdc, calls pdc_init() to start (or join) a cluster,
    names remote functions that live in shared libraries, calls them, and
    gets their results back through object references:

        pdc_client *c = pdc_init(NULL);              // embedded local cluster
        pdc_fn f = pdc_function(c, "libpi.so", "sample_pi");
        pdc_ref r = pdc_call(c, f, PDC_I64(1000000));
        double v;
        if (pdc_get_f64(c, r, &v, PDC_FOREVER) == PDC_OK) ...
        pdc_ref_release(c, r);
        pdc_shutdown(&c);

    Ownership rules, stated once:
    - A pdc_client is owned by the caller of pdc_init and freed by
      pdc_shutdown, which also stops an embedded cluster.
    - Every pdc_ref returned to you (by pdc_call, pdc_put) holds one
      reference.  Give it back with pdc_ref_release; take another with
      pdc_ref_retain.  The object is freed when no reference is left.
    - A pdc_object filled by pdc_get points into memory that pdc owns
      (the owner's memory for small values, the node's shared-memory store
      for large ones).  It stays valid until pdc_object_release.  Do not
      write through it and do not keep it for long: a held large object
      pins store pages.
    - Functions that can fail return a pdc_status: PDC_OK (0) or a negative
      code below.  pdc_last_error(client) says what was wrong.

    Remote functions are written with PDC_FUNCTION and compiled into a
    shared library; see "Writing remote functions" below.  Every call is
    thread-safe: many threads may submit and get through one client.

    Building against an installed pdc (pkg-config finds it; point
    PKG_CONFIG_PATH at PREFIX/lib/.../pkgconfig for a private prefix):

        cc main.c -o main $(pkg-config --cflags --libs pdc)
        cc -shared -fPIC tasks.c -o libtasks.so $(pkg-config --cflags --libs pdc)

    The header is ISO C11 (gcc -std=c11 -pedantic-errors compiles it,
    calls with no arguments included) and C++11: in C++ the value
    constructors and calling macros are inline functions and templates
    with the same names and arguments, and PDC_FUNCTION and
    PDC_ACTOR_CLASS give C linkage, so that workers find them by name.
*/
#ifndef PDC_H_INCLUDED
#define PDC_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

/* PDC_EXPORT marks what libpdc exports: every function declared in this
   header, and nothing else.  libpdc is built with hidden visibility, so a
   function without it stays inside the library (tests/test_exports.sh
   checks the two lists are the same). */
#if defined(__GNUC__) || defined(__clang__)
#define PDC_EXPORT __attribute__((visibility("default")))
#else
#define PDC_EXPORT
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------
   Status codes.  Errors are values: a task that failed stores an error in
   the objects it was to return, and pdc_get hands it back with one of the
   task codes below (PDC_ETASK and after).
   ------------------------------------------------------------------------ */
typedef enum {
    PDC_OK = 0,
    PDC_EINVAL = -1,     /* a bad argument to an API call                  */
    PDC_ETIMEOUT = -2,   /* the wait ran out before the object was ready   */
    PDC_ENOMEM = -3,     /* out of process memory                          */
    PDC_ECONNECT = -4,   /* the cluster could not be reached or started    */
    PDC_ESTOREFULL = -5, /* the object store has no room for the object    */
    PDC_ETYPE = -6,      /* the object holds another type than asked for   */
    PDC_EPROTO = -7,     /* a malformed or unexpected message              */
    PDC_ENOTFOUND = -8,  /* no such object, function, library or node      */
    PDC_ESHUTDOWN = -9,  /* the client or cluster is shutting down         */
    /* Task errors: stored in a failed task's return objects. */
    PDC_ETASK = -20,       /* the function returned an error (pdc_fail)      */
    PDC_ENOFUNC = -21,     /* library or function could not be loaded        */
    PDC_EARGS = -22,       /* wrong number or types of arguments             */
    PDC_EWORKERDIED = -23, /* the worker died; retries were used up          */
    PDC_ECANCELLED = -24,  /* the task was cancelled before it ran           */
    PDC_EOBJECTLOST = -25, /* every copy of the object was lost, and it could
                              not be rebuilt: a put, a task out of retries,
                              or lineage evicted (the message says which)  */
    PDC_EOWNERDIED = -26,  /* the process owning the object is gone          */
    PDC_EINFEASIBLE = -27, /* no node can ever satisfy the resource request  */
    PDC_EACTORDIED = -28,  /* the actor was killed, crashed or never started */
} pdc_status;

/* A short, static name for a status code ("PDC_ETIMEOUT"). */
PDC_EXPORT const char *pdc_status_name(int status);

/* ------------------------------------------------------------------------
   Handles and values
   ------------------------------------------------------------------------ */
typedef struct pdc_client pdc_client;

/* An object reference: 16 bytes naming one object cluster-wide.  Plain
   value; copying it does not add a reference (use pdc_ref_retain). */
#define PDC_ID_SIZE 16
typedef struct {
    uint8_t id[PDC_ID_SIZE];
} pdc_ref;

/* A remote function: a library path and a symbol name.  Cheap to copy;
   the strings are owned by the client and live until pdc_shutdown. */
typedef struct {
    const char *library;
    const char *name;
} pdc_fn;

typedef enum {
    PDC_T_NIL = 0,
    PDC_T_I64 = 1,
    PDC_T_F64 = 2,
    PDC_T_STR = 3, /* bytes that are text; not necessarily NUL-ended     */
    PDC_T_BYTES = 4,
    PDC_T_REF = 5,   /* only as an argument: resolved before the task runs */
    PDC_T_ERROR = 6, /* only in results: see pdc_object.error             */
    PDC_T_ACTOR = 7, /* only as an argument: an actor handle              */
    PDC_T_REFS = 8,  /* a list of references (see "References inside
                        objects"): built with PDC_REFS, read with
                        pdc_object_ref / pdc_arg_ref                  */
} pdc_type;

/* One argument of a call.  Build it with the PDC_I64 ... PDC_REF macros.
   Strings and byte buffers are copied at submission; the caller may free
   them when pdc_call returns. */
typedef struct {
    pdc_type type;
    union {
        int64_t i64;
        double f64;
        struct {
            const void *data;
            size_t size;
        } buf;
        pdc_ref ref;
        struct pdc_actor *actor;
    } as;
} pdc_value;

/* The value constructors.  In C they are compound literals; in C++,
   which has none, calls of inline functions (at the end of this file)
   that build the same values.  PDC_STR(s) takes a NUL-ended string (NULL
   is the empty string), PDC_STRN and PDC_BYTES a pointer and a size. */
#ifndef __cplusplus
#define PDC_I64(x)      ((pdc_value){.type = PDC_T_I64, .as.i64 = (int64_t) (x)})
#define PDC_F64(x)      ((pdc_value){.type = PDC_T_F64, .as.f64 = (double) (x)})
#define PDC_STR(s)      ((pdc_value){.type = PDC_T_STR, .as.buf = {(s), pdc_strlen_(s)}})
#define PDC_STRN(s, n)  ((pdc_value){.type = PDC_T_STR, .as.buf = {(s), (size_t) (n)}})
#define PDC_BYTES(p, n) ((pdc_value){.type = PDC_T_BYTES, .as.buf = {(p), (size_t) (n)}})
#define PDC_REF(r)      ((pdc_value){.type = PDC_T_REF, .as.ref = (r)})
#define PDC_REFS(refs, n)                                                                          \
    ((pdc_value){.type = PDC_T_REFS, .as.buf = {(refs), (size_t) (n) * sizeof(pdc_ref)}})
/* An actor handle as an argument (see Actors below). */
#define PDC_ACTOR(h) ((pdc_value){.type = PDC_T_ACTOR, .as.actor = (h)})
#else
#define PDC_I64(x)        pdc_cxx_i64_((int64_t) (x))
#define PDC_F64(x)        pdc_cxx_f64_((double) (x))
#define PDC_STR(s)        pdc_cxx_buf_(PDC_T_STR, (s), pdc_strlen_(s))
#define PDC_STRN(s, n)    pdc_cxx_buf_(PDC_T_STR, (s), (size_t) (n))
#define PDC_BYTES(p, n)   pdc_cxx_buf_(PDC_T_BYTES, (p), (size_t) (n))
#define PDC_REF(r)        pdc_cxx_ref_(r)
#define PDC_REFS(refs, n) pdc_cxx_buf_(PDC_T_REFS, (refs), (size_t) (n) * sizeof(pdc_ref))
#define PDC_ACTOR(h)      pdc_cxx_actor_(h)
#endif
/* strlen that takes NULL as "": what PDC_STR measures with. */
PDC_EXPORT size_t pdc_strlen_(const char *s);

/* How the calling macros below (pdc_call, pdc_call_opts,
   pdc_actor_create, pdc_actor_call, PDC_ACTOR_CLASS) take any number of
   arguments, none included, in ISO C: before C23 a macro's "..." must get
   at least one argument, so the last named parameter is the first of the
   "..." (pdc_call(c, fn) passes just fn there), PDC_FIRST_ picks it out
   and PDC_AFTER_FIRST_ gives the rest.  Each is called with one more
   argument (a ~ or an end marker) so that its own "..." is never empty.
   In C++ the macros call templates instead (the end of this file). */
#define PDC_FIRST_(first, ...)       first
#define PDC_AFTER_FIRST_(first, ...) __VA_ARGS__
/* The call's values as an array ended by a NIL marker, and their count
   without the marker (sizeof does not evaluate the arguments again). */
#define PDC_VALUES_(...)  ((const pdc_value[]){PDC_AFTER_FIRST_(__VA_ARGS__, {.type = PDC_T_NIL})})
#define PDC_NVALUES_(...) (sizeof(PDC_VALUES_(__VA_ARGS__)) / sizeof(pdc_value) - 1)

/* What a failed task left in its results. */
typedef struct {
    int code;             /* a PDC_E* task code                         */
    const char *function; /* "library:function" that failed             */
    const char *message;  /* what went wrong, in words                  */
    const char *node;     /* the node it ran on ("" if it never ran)    */
} pdc_error;

/* A result read by pdc_get.  data/size are valid until
   pdc_object_release.  For PDC_T_ERROR, error is filled instead. */
typedef struct {
    pdc_type type;
    int64_t i64;
    double f64;
    const void *data; /* STR and BYTES: the bytes, zero-copy              */
    size_t size;
    pdc_error error;
    void *pin_; /* private: what keeps data alive                         */
} pdc_object;

/* ------------------------------------------------------------------------
   Cluster connection
   ------------------------------------------------------------------------ */

/* Start or join a cluster.  address NULL and PDC_ADDRESS unset: start a
   private local cluster (a head and a raylet as child processes, sized to
   this machine) and stop it at pdc_shutdown.  Otherwise join the head at
   address ("tcp://host:6380").  Returns NULL on failure; the reason is
   printed to stderr.  Settings come from PDC_* environment variables
   (docs/configuration.md). */
PDC_EXPORT pdc_client *pdc_init(const char *address);

/* Stop: release every reference, stop the embedded cluster if this client
   started it, free the client and set *client_p to NULL.  Safe on NULL. */
PDC_EXPORT void pdc_shutdown(pdc_client **client_p);

/* The last error message of the calling thread on this client. */
PDC_EXPORT const char *pdc_last_error(pdc_client *client);
/* The PDC_E* code of this thread's last error (PDC_OK when the last call
   succeeded or none failed yet): what pdc_last_error's message is about,
   for calls that return NULL (pdc_init, pdc_actor_create,
   pdc_actor_get_named, pdc_put_reserve). */
PDC_EXPORT int pdc_last_error_code(pdc_client *client);

/* ------------------------------------------------------------------------
   Remote functions and calls
   ------------------------------------------------------------------------ */

/* Names a remote function.  library is a path to a shared library (a
   relative path is resolved against the current directory now, so that
   workers find the same file).  Nothing is loaded here: an unknown
   library or function surfaces as a PDC_ENOFUNC error of the call. */
PDC_EXPORT pdc_fn pdc_function(pdc_client *client, const char *library, const char *name);

/* Where a task or actor may run (pdc_opts.strategy, pdc_actor_opts).

   PDC_SCHED_DEFAULT (hybrid, as Ray's default): on the submitter's node
   while that node can run it and is below the spillback threshold
   (spillback_threshold_pct of its CPUs busy), else on the feasible node
   with the most room, preferring the node that holds most of the task's
   argument bytes.  PDC_SCHED_SPREAD: over every feasible node in turn.
   PDC_SCHED_NODE_AFFINITY: on node_id only; with soft set, elsewhere
   when that node is dead or cannot run it, else the call fails with
   PDC_EINFEASIBLE naming the node.  Every strategy honours resources
   and label_selector.  A request no live node can satisfy waits,
   logged with what no node has, for infeasible_timeout_ms and then fails
   with PDC_EINFEASIBLE (at once on an embedded cluster, which no node
   can join). */
enum { PDC_SCHED_DEFAULT = 0, PDC_SCHED_SPREAD = 1, PDC_SCHED_NODE_AFFINITY = 2 };

/* Per-call options; zero-initialise and set what you need. */
typedef struct {
    double num_cpus;            /* CPU slots the task needs; 0 means the default 1    */
    const char *resources;      /* other resources it needs, "GPU=1,edge=0.5";
                              a node declares them with --resources or
                              PDC_RESOURCES (GPUs are also detected).  Asking
                              for more than any node has fails with
                              PDC_EINFEASIBLE naming the resource.  A task or
                              actor given GPUs sees them in
                              CUDA_VISIBLE_DEVICES (whole devices for whole
                              amounts, a shared one for a fraction) */
    int max_retries;            /* retries after a worker death, and re-runs to
                                   rebuild a stored result that lost every copy
                                   (lineage; both count): 0 means the default 3,
                                   a negative value means never retry            */
    const char *name;           /* a name for logs; NULL uses the function name      */
    int strategy;               /* PDC_SCHED_*; 0 is the default (hybrid)            */
    const char *node_id;        /* the node of PDC_SCHED_NODE_AFFINITY            */
    int soft;                   /* affinity may fall back to another node            */
    const char *label_selector; /* nodes whose labels match, e.g.
                         "tier=edge,zone!=b,gpu in (a100|h100),!spot";
                         nodes declare labels with --labels / PDC_LABELS */
    const char *runtime;        /* the worker processes to run it in: NULL or ""
                                   is pdc-worker (C); otherwise a command line,
                                   its words separated by tabs, that ends in
                                   pdc_worker_run (see Language workers)      */
} pdc_opts;

/* The id of the node this client is on (a worker's: the node running the
   task).  Owned by the client. */
PDC_EXPORT const char *pdc_node_id(pdc_client *client);

/* One node of the cluster as its head sees it (pdc_nodes). */
typedef struct {
    char id[64];         /* the node's id (what pdc_node_id says there)   */
    int alive;           /* 0 once the head declared it dead                */
    char endpoint[256];  /* its raylet's endpoint                          */
    char labels[256];    /* "tier=edge,zone=a" ("" if none)                 */
    char total[512];     /* its resources, "CPU=2,GPU=1,edge=2"             */
    char available[512]; /* what of them is free now, the same form         */
} pdc_node_info;

/* The cluster's nodes, asked of the head (waiting up to timeout_ms, or
   PDC_FOREVER).  Fills up to max entries of out and returns how many
   nodes the head knows, which may be more than max (call again with a
   larger array); or a negative PDC_E* code with pdc_last_error saying
   why: PDC_ETIMEOUT if the head did not answer, PDC_ECONNECT if this
   node has no head. */
PDC_EXPORT int pdc_nodes(pdc_client *client, pdc_node_info *out, size_t max, int64_t timeout_ms);

/* Submit a call; returns its result reference at once (never blocks on
   the task).  On a submission error (bad arguments, client shut down) the
   returned reference holds that error, so every call returns a usable
   reference.  args: n values; a PDC_REF argument is resolved to its value
   before the task runs, and if it holds an error the task fails with that
   error without running.  The task holds its own reference to each
   argument: the caller may release its references as soon as this
   returns. */
PDC_EXPORT pdc_ref pdc_call_args(pdc_client *client, pdc_fn fn, const pdc_opts *opts,
                                 const pdc_value *args, size_t nargs);

/* pdc_call(client, fn, args...): the variadic form with default options;
   pdc_call(client, fn) calls with no arguments.
   pdc_call_opts(client, fn, &opts, args...): the same with options. */
#ifndef __cplusplus
#define pdc_call(client, ...)                                                                      \
    pdc_call_args((client), PDC_FIRST_(__VA_ARGS__, ~), NULL, PDC_VALUES_(__VA_ARGS__),            \
                  PDC_NVALUES_(__VA_ARGS__))
#define pdc_call_opts(client, fn, ...)                                                             \
    pdc_call_args((client), (fn), PDC_FIRST_(__VA_ARGS__, ~), PDC_VALUES_(__VA_ARGS__),            \
                  PDC_NVALUES_(__VA_ARGS__))
#else
#define pdc_call(client, ...)          pdc_cxx_call_((client), __VA_ARGS__)
#define pdc_call_opts(client, fn, ...) pdc_cxx_call_opts_((client), (fn), __VA_ARGS__)
#endif

/* Cancel a task that has not started; its result then holds
   PDC_ECANCELLED.  A running task is not interrupted (PDC_EINVAL). */
PDC_EXPORT int pdc_cancel(pdc_client *client, pdc_ref ref);

/* ------------------------------------------------------------------------
   Objects
   ------------------------------------------------------------------------ */

/* Store a value and return a reference to it.  Small values stay in this
   process's memory; large ones (over PDC_INLINE_MAX, 100 KiB by default)
   are written once into the node's shared-memory store.  On failure
   (PDC_ESTOREFULL, ...) the reference holds the error and *status (if not
   NULL) says which. */
PDC_EXPORT pdc_ref pdc_put(pdc_client *client, pdc_value value, int *status);

/* Options of pdc_put_opts (zeroed: as pdc_put). */
#define PDC_PUT_MAX_REPLICAS 8
typedef struct {
    int replicas; /* copies of a stored value on distinct live nodes, this
                     node's included: 0 or 1 keeps this node's only, as
                     pdc_put; at most PDC_PUT_MAX_REPLICAS */
} pdc_put_options;

/* pdc_put with options.  Puts have no lineage: a put object whose every
   copy is lost is gone for good (its gets say PDC_EOBJECTLOST and why).
   With replicas > 1 a large value is also copied to replicas - 1 other
   live nodes (chosen from the head's node list; fewer if fewer are
   alive, with a warning) before this returns (within pull_timeout_ms):
   when this node's copy is lost, a get or a task reads another copy, and
   a copy lost with its node is made again on another live node.  Small
   values (kept in this process) ignore replicas.  PDC_EINVAL for
   replicas outside 0..PDC_PUT_MAX_REPLICAS. */
PDC_EXPORT pdc_ref pdc_put_opts(pdc_client *client, pdc_value value, const pdc_put_options *opts,
                                int *status);

/* Reserve size bytes for a BYTES object and return where to write it;
   pdc_put_commit stores it and returns its reference (status as for
   pdc_put).  NULL on failure, with pdc_last_error set. */
PDC_EXPORT void *pdc_put_reserve(pdc_client *client, size_t size, void **reservation);
PDC_EXPORT pdc_ref pdc_put_commit(pdc_client *client, void **reservation, int *status);

/* Wait up to timeout_ms (PDC_FOREVER: no limit) for the object and read
   it.  PDC_OK: out is filled, release it with pdc_object_release.  When
   the object holds an error (a failed task, or a failed submission or
   put, such as PDC_ESTOREFULL): that code is returned, out->type is
   PDC_T_ERROR and out->error says what failed; release it too.  When the
   get itself fails (PDC_ETIMEOUT, PDC_ENOTFOUND, PDC_ESHUTDOWN): out is
   zeroed and releasing it is a harmless no-op.  In every failure pdc_last_error has the message.

   Alignment: bytes of objects larger than the inline limit come straight
   from the store and are 64-byte aligned; smaller ones are not aligned
   (copy them before reading doubles in place on strict platforms).

   A worker blocked here inside a task gives its CPU slot back to the
   raylet until the wait ends, so recursive tasks cannot deadlock the
   worker pool.

   Lost objects.  A remote function's stored result whose every copy is
   gone (its node died, or its copy was deleted) is rebuilt: the owner
   re-runs the task that made it under the same id, on a live node, and
   the arguments it lost too, and this call waits for that within
   timeout_ms.  Each re-run counts against the task's max_retries;
   PDC_EOBJECTLOST, naming the object, its task and why, when they are
   used up, when the object was put (puts have no lineage), when the
   task took an actor handle, or when its spec was dropped past the
   lineage_max_bytes setting (docs/configuration.md). */
#define PDC_FOREVER ((int64_t) -1)
PDC_EXPORT int pdc_get(pdc_client *client, pdc_ref ref, pdc_object *out, int64_t timeout_ms);
PDC_EXPORT void pdc_object_release(pdc_client *client, pdc_object *obj);

/* Typed shortcuts over pdc_get: copy the value out and release.  On a
   task error the code is returned and pdc_last_error holds the task's
   message; PDC_ETYPE if the object holds another type. */
PDC_EXPORT int pdc_get_i64(pdc_client *client, pdc_ref ref, int64_t *out, int64_t timeout_ms);
PDC_EXPORT int pdc_get_f64(pdc_client *client, pdc_ref ref, double *out, int64_t timeout_ms);

/* Wait until num_ready of the n references are ready (a value or an
   error) or the timeout runs out.  ready[i] is set to 1 for each ready
   reference (0 otherwise); returns how many are ready, or a negative
   status.  A reference this client does not know (released, or never
   its own) counts as ready: a get on it answers PDC_ENOTFOUND at once.  Like Ray's wait: with
   timeout 0 it only looks. */
PDC_EXPORT int pdc_wait(pdc_client *client, const pdc_ref *refs, size_t n, size_t num_ready,
                        int64_t timeout_ms, uint8_t *ready);

/* Reference counting (see the ownership rules at the top). */
PDC_EXPORT void pdc_ref_retain(pdc_client *client, pdc_ref ref);
PDC_EXPORT void pdc_ref_release(pdc_client *client, pdc_ref ref);

/* ---- References inside objects ------------------------------------------

   An object may hold references: pdc_put(c, PDC_REFS(refs, n), ...), or
   a task's pdc_return_refs.  While the object lives, so do the objects
   it refers to, whoever owns them.  A process that reads it (pdc_get,
   or a task argument) and takes reference i (pdc_object_ref,
   pdc_arg_ref) borrows that object from its owner: the owner keeps it
   alive while any holder has it, its own references, objects holding
   it and borrowers in other processes counted alike, and frees it when
   the last lets go.  A borrowed reference works as an owned one (get,
   wait, pass it to calls, put it in another list).  If the owner's
   process dies, every borrower's get of it fails with PDC_EOWNERDIED.
   A task may return only references it owns (its puts and the results
   of its calls), not borrowed ones.  A list is one value: up to
   max_message_size / 32 references. */

/* How many references obj (of type PDC_T_REFS) holds; 0 for any other. */
PDC_EXPORT size_t pdc_object_nrefs(const pdc_object *obj);
/* Reference i of obj: a new reference of the caller's (release it with
   pdc_ref_release).  *status (if given): PDC_OK, PDC_EINVAL for another
   type or an index past the end. */
PDC_EXPORT pdc_ref pdc_object_ref(pdc_client *client, const pdc_object *obj, size_t i, int *status);

/* Format a reference as 32 hex digits into buf (at least 33 bytes). */
PDC_EXPORT const char *pdc_ref_hex(pdc_ref ref, char *buf);

/* ------------------------------------------------------------------------
   Writing remote functions

       PDC_FUNCTION(add) {
           int64_t a = pdc_arg_i64(t, 0), b = pdc_arg_i64(t, 1);
           return pdc_return_i64(t, a + b);
       }

   The body sees `pdc_task *t`.  It reads arguments with pdc_arg_*, sets
   one result with pdc_return_* (which returns 0), or fails with
   pdc_fail(t, "format", ...) (which returns nonzero).  Reading an
   argument with the wrong type, or one past the end, fails the task with
   PDC_EARGS naming the argument; the accessor returns 0/NULL and the task
   result becomes that error whatever the function returns afterwards.
   Inside a task, pdc_task_client(t) is a client for nested calls (do not
   shut it down), and pdc_task_self(t) names the running function, for
   recursion.

   Lifetimes: argument pointers (pdc_arg_str, pdc_arg_bytes) are valid
   until the function returns, across nested gets.  The first failure
   wins: a later pdc_fail does not replace an argument error.  The
   function returns 0 after pdc_return_* or pdc_return_alloc, nonzero
   after pdc_fail; returning nonzero without pdc_fail fails the task with
   a message that says so.  A task that sets no result returns nil.
   ------------------------------------------------------------------------ */
typedef struct pdc_task pdc_task;

#ifndef __cplusplus
#define PDC_FUNCTION(name) int name(pdc_task *t)
#else /* C linkage, so that workers find it by its name */
#define PDC_FUNCTION(name) extern "C" int name(pdc_task *t)
#endif
typedef int (*pdc_function_ptr)(pdc_task *t);

PDC_EXPORT size_t pdc_arg_count(pdc_task *t);
PDC_EXPORT pdc_type pdc_arg_type(pdc_task *t, size_t i);
PDC_EXPORT int64_t pdc_arg_i64(pdc_task *t, size_t i);
PDC_EXPORT double pdc_arg_f64(pdc_task *t, size_t i);
PDC_EXPORT const char *pdc_arg_str(pdc_task *t, size_t i, size_t *len);
PDC_EXPORT const void *pdc_arg_bytes(pdc_task *t, size_t i, size_t *size);
/* Argument i as a list of references (PDC_T_REFS): how many, and a new
   reference to the k-th, borrowed for as long as the task keeps it
   (release it with pdc_ref_release on pdc_task_client(t)). */
PDC_EXPORT size_t pdc_arg_nrefs(pdc_task *t, size_t i);
PDC_EXPORT pdc_ref pdc_arg_ref(pdc_task *t, size_t i, size_t k);

PDC_EXPORT int pdc_return_i64(pdc_task *t, int64_t v);
PDC_EXPORT int pdc_return_f64(pdc_task *t, double v);
PDC_EXPORT int pdc_return_str(pdc_task *t, const char *s);
PDC_EXPORT int pdc_return_bytes(pdc_task *t, const void *data, size_t size);
/* The result is a list of references this task's process owns (its
   puts, the results of its calls): they live on for the caller. */
PDC_EXPORT int pdc_return_refs(pdc_task *t, const pdc_ref *refs, size_t n);
/* Reserve size bytes for the result and return where to write them:
   large results go straight into the object store.  NULL on failure
   (the task then fails with the reason). */
PDC_EXPORT void *pdc_return_alloc(pdc_task *t, size_t size);
/* Fail the task with PDC_ETASK and a message. */
PDC_EXPORT int pdc_fail(pdc_task *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

PDC_EXPORT pdc_client *pdc_task_client(pdc_task *t);
PDC_EXPORT pdc_fn pdc_task_self(pdc_task *t);

/* ------------------------------------------------------------------------
   Language workers

   Tasks and actors of another language run in that language's own
   worker processes.  A call whose options name a runtime (pdc_opts.runtime,
   pdc_actor_opts.runtime: a command line, its words separated by tabs)
   runs on a worker the raylet starts with that command line, the usual
   worker arguments (--raylet, --worker-id, --session, --node-ip) appended;
   each node keeps a pool of such workers per runtime, apart from the C
   workers.  The command hands its arguments to pdc_worker_run, which runs
   the process as a worker until the raylet stops it, as pdc-worker does.
   Every function and actor class a task names is first asked of resolve
   (library, symbol, arg): it returns the pdc_function_ptr, the
   pdc_actor_class * or NULL, which loads it from the library as
   pdc-worker does.  The Python package's worker (python -m pdc._worker)
   is one: its functions are ctypes callbacks.  Returns the exit status:
   0 when stopped, 2 for bad arguments.
   ------------------------------------------------------------------------ */
typedef void *(*pdc_symbol_resolver)(const char *library, const char *symbol, void *arg);
PDC_EXPORT int pdc_worker_run(int argc, char **argv, pdc_symbol_resolver resolve, void *arg);

/* ------------------------------------------------------------------------
   Actors

   An actor is a stateful worker process: a C "class" with a constructor
   that builds a state from call arguments, methods over that state and a
   destructor.  A class lives in a shared library like remote functions:

       static void *counter_new(pdc_task *t) {
           int64_t *n = malloc(sizeof *n);
           *n = pdc_arg_count(t) ? pdc_arg_i64(t, 0) : 0;
           return n;                       // NULL after pdc_fail = failure
       }
       static void counter_free(void *state) { free(state); }
       static PDC_METHOD(incr) {           // int incr(void *state, pdc_task *t)
           int64_t *n = state;
           return pdc_return_i64(t, *n += pdc_arg_i64(t, 0));
       }
       PDC_ACTOR_CLASS(Counter, counter_new, counter_free,
                       PDC_METHOD_ENTRY(incr));

   and is used as

       pdc_actor *a = pdc_actor_create(c, "libcounter.so", "Counter", NULL,
                                       PDC_I64(10));
       pdc_ref r = pdc_actor_call(c, a, "incr", PDC_I64(1));   // 11

   Semantics, as in Ray:
   - pdc_actor_create returns at once; the actor is placed on a dedicated
     worker process of a node with the resources it asks for.  A creation
     error (unknown library or class, a failed constructor, infeasible
     resources) is returned by pdc_actor_ready and by every call.
   - Calls from one caller run in the order they were submitted (with
     max_concurrency 1, the default).  They go from the caller to the
     actor's worker directly; results come back as references.
   - Method errors (pdc_fail, wrong arguments, an unknown method) are
     error values; the actor keeps serving.
   - Handles pass to tasks and other actors as PDC_ACTOR(h) arguments
     (pdc_arg_actor reads them).  Named actors are found cluster-wide with
     pdc_actor_get_named; a name can be held by one live actor at a time.
   - An actor dies with the process that created it, unless detached.
     pdc_actor_kill stops it: its destructor runs, and calls not finished
     and calls made later fail with PDC_EACTORDIED.  A crashed actor's
     calls fail with PDC_EACTORDIED too; nothing waits forever.
   - Restarts: an actor created with max_restarts > 0 (or -1, without
     limit) whose worker dies (crash, kill -9, its node's death) is
     created again by its creator on a feasible node: the constructor runs
     again with its original arguments (its state starts afresh), under
     the same id, and every handle (the creator's, other processes', a
     name) goes on working; calls wait while it restarts, and
     pdc_actor_ready waits for the new constructor.  Calls that were
     running when it died are sent again up to max_task_retries times
     each (-1: without limit; at least once, so make them idempotent),
     or with max_task_retries 0 fail with PDC_EACTORDIED (at most once).
     pdc_actor_kill, the creator's exit and a constructor error end it
     for good.  The head's actor table (pdc status) shows each actor as
     PENDING, ALIVE, RESTARTING or DEAD, with the reason and restarts.
     A holder other than the creator learns where the actor went from
     the head, and gives up after actor_restart_timeout_ms.
   - Every handle you are given (create, get_named, pdc_arg_actor excepted)
     is released with pdc_actor_release; releasing does not kill.
   ------------------------------------------------------------------------ */
typedef struct pdc_actor pdc_actor;

#define PDC_METHOD(name) int name(void *state, pdc_task *t)
typedef int (*pdc_method_ptr)(void *state, pdc_task *t);
typedef struct {
    const char *name;
    pdc_method_ptr fn;
} pdc_method;
#define PDC_METHOD_ENTRY(name)                                                                     \
    { #name, name }

typedef struct {
    const char *name;
    void *(*create)(pdc_task *t);
    void (*destroy)(void *state);
    const pdc_method *methods; /* ended by {NULL, NULL} */
} pdc_actor_class;

/* PDC_ACTOR_CLASS(NAME, ctor, dtor, PDC_METHOD_ENTRY(m)...) declares the
   class table `pdc_actor_class NAME`, exported under NAME; a class may
   have no methods.  A method named "*" ({"*", fn}) is called for every
   method the table does not name, and pdc_task_self(t).name says which
   was called (a language worker's classes take their methods so).  (dtor is the first of the "...":
   see PDC_FIRST_.) */
#ifndef __cplusplus
#define PDC_ACTOR_CLASS(cls, ctor, ...)                                                            \
    static const pdc_method cls##_pdc_methods_[] = {PDC_AFTER_FIRST_(__VA_ARGS__, {NULL, NULL})};  \
    const pdc_actor_class cls = {#cls, ctor, PDC_FIRST_(__VA_ARGS__, ~), cls##_pdc_methods_}
#else /* a const object has internal linkage in C++ unless extern */
#define PDC_ACTOR_CLASS(cls, ctor, ...)                                                            \
    static const pdc_method cls##_pdc_methods_[] = {PDC_AFTER_FIRST_(__VA_ARGS__, {NULL, NULL})};  \
    extern "C" const pdc_actor_class cls = {#cls, ctor, PDC_FIRST_(__VA_ARGS__, ~),                \
                                            cls##_pdc_methods_}
#endif

typedef struct {
    double num_cpus;       /* CPU slots held for the actor's life; default 0
                              (as Ray: placed as 1, holds none)              */
    const char *resources; /* other resources held, as in pdc_opts       */
    int max_concurrency;   /* calls run at once on threads; 0 means 1        */
    const char *name;      /* a cluster-wide name, or NULL                  */
    const char *ns;        /* the name's namespace; NULL means "default"    */
    int detached;          /* outlive the creating process                  */
    int strategy;          /* placement, as in pdc_opts                      */
    const char *node_id;
    int soft;
    const char *label_selector;
    const char *runtime;  /* the worker process to host it in, as in pdc_opts */
    int max_restarts;     /* re-create it when its worker dies, this many
                             times; -1 without limit; default 0 (never)  */
    int max_task_retries; /* send a call that was running when it died
                             again, this many times; -1 without limit;
                             default 0: such calls fail (PDC_EACTORDIED) */
} pdc_actor_opts;

PDC_EXPORT pdc_actor *pdc_actor_create_args(pdc_client *client, const char *library,
                                            const char *cls, const pdc_actor_opts *opts,
                                            const pdc_value *args, size_t nargs);
/* pdc_actor_create(client, library, cls, opts, args...): the variadic
   form; pdc_actor_create(client, library, cls, opts) passes no
   arguments to the constructor. */
#ifndef __cplusplus
#define pdc_actor_create(client, library, cls, ...)                                                \
    pdc_actor_create_args((client), (library), (cls), PDC_FIRST_(__VA_ARGS__, ~),                  \
                          PDC_VALUES_(__VA_ARGS__), PDC_NVALUES_(__VA_ARGS__))
#else
#define pdc_actor_create(client, library, cls, ...)                                                \
    pdc_cxx_actor_create_((client), (library), (cls), __VA_ARGS__)
#endif

/* Wait until the constructor ran: PDC_OK, a creation error code (with
   pdc_last_error set), or PDC_ETIMEOUT. */
PDC_EXPORT int pdc_actor_ready(pdc_client *client, pdc_actor *actor, int64_t timeout_ms);

PDC_EXPORT pdc_ref pdc_actor_call_args(pdc_client *client, pdc_actor *actor, const char *method,
                                       const pdc_value *args, size_t nargs);
/* pdc_actor_call(client, actor, "method", args...): the variadic form;
   pdc_actor_call(client, actor, "method") calls with no arguments. */
#ifndef __cplusplus
#define pdc_actor_call(client, actor, ...)                                                         \
    pdc_actor_call_args((client), (actor), PDC_FIRST_(__VA_ARGS__, ~), PDC_VALUES_(__VA_ARGS__),   \
                        PDC_NVALUES_(__VA_ARGS__))
#else
#define pdc_actor_call(client, actor, ...) pdc_cxx_actor_call_((client), (actor), __VA_ARGS__)
#endif

/* Stop the actor (see above).  PDC_OK, or PDC_EACTORDIED if it was dead. */
PDC_EXPORT int pdc_actor_kill(pdc_client *client, pdc_actor *actor);

/* Find a named actor (ns NULL: "default"); waits up to timeout_ms for it
   to be placed.  NULL with pdc_last_error set if there is none. */
PDC_EXPORT pdc_actor *pdc_actor_get_named(pdc_client *client, const char *name, const char *ns,
                                          int64_t timeout_ms);

PDC_EXPORT void pdc_actor_release(pdc_client *client, pdc_actor *actor);
/* Take another reference to a handle, e.g. to keep one given as an
   argument (pdc_arg_actor) beyond the call that received it. */
PDC_EXPORT void pdc_actor_retain(pdc_client *client, pdc_actor *actor);

/* The 32-hex-digit id of an actor, into buf (33 bytes). */
PDC_EXPORT const char *pdc_actor_id(pdc_actor *actor, char *buf);

/* An actor handle passed as argument i, usable with pdc_task_client(t)
   until the task returns (do not release it). */
PDC_EXPORT pdc_actor *pdc_arg_actor(pdc_task *t, size_t i);

#ifdef __cplusplus
}

/* ------------------------------------------------------------------------
   C++ (C++11 and later): what the C macros above build with compound
   literals and designated initialisers, neither of which C++ has.  The
   value constructors are inline functions; the calling macros call
   variadic templates that gather their pdc_value arguments into an array
   (one longer than needed, so that it is never empty) and call the same
   *_args functions.
   ------------------------------------------------------------------------ */
inline pdc_value pdc_cxx_i64_(int64_t x) {
    pdc_value v = pdc_value();
    v.type = PDC_T_I64;
    v.as.i64 = x;
    return v;
}
inline pdc_value pdc_cxx_f64_(double x) {
    pdc_value v = pdc_value();
    v.type = PDC_T_F64;
    v.as.f64 = x;
    return v;
}
inline pdc_value pdc_cxx_buf_(pdc_type type, const void *data, size_t size) {
    pdc_value v = pdc_value();
    v.type = type;
    v.as.buf.data = data;
    v.as.buf.size = size;
    return v;
}
inline pdc_value pdc_cxx_ref_(pdc_ref r) {
    pdc_value v = pdc_value();
    v.type = PDC_T_REF;
    v.as.ref = r;
    return v;
}
inline pdc_value pdc_cxx_actor_(pdc_actor *h) {
    pdc_value v = pdc_value();
    v.type = PDC_T_ACTOR;
    v.as.actor = h;
    return v;
}

template <typename... V>
inline pdc_ref pdc_cxx_call_opts_(pdc_client *client, pdc_fn fn, const pdc_opts *opts,
                                  const V &...args) {
    const pdc_value values[] = {args..., pdc_value()};
    return pdc_call_args(client, fn, opts, values, sizeof...(V));
}
template <typename... V>
inline pdc_ref pdc_cxx_call_(pdc_client *client, pdc_fn fn, const V &...args) {
    return pdc_cxx_call_opts_(client, fn, (const pdc_opts *) 0, args...);
}
template <typename... V>
inline pdc_actor *pdc_cxx_actor_create_(pdc_client *client, const char *library, const char *cls,
                                        const pdc_actor_opts *opts, const V &...args) {
    const pdc_value values[] = {args..., pdc_value()};
    return pdc_actor_create_args(client, library, cls, opts, values, sizeof...(V));
}
template <typename... V>
inline pdc_ref pdc_cxx_actor_call_(pdc_client *client, pdc_actor *actor, const char *method,
                                   const V &...args) {
    const pdc_value values[] = {args..., pdc_value()};
    return pdc_actor_call_args(client, actor, method, values, sizeof...(V));
}
#endif
#endif
