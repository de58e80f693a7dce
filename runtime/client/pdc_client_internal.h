/*  pdc_client_internal: the parts of libpdc's client shared between its
    files (client core, task context, worker loop, embedded cluster).
    Not installed; the public API is include/pdc.h. */
#ifndef PDC_CLIENT_INTERNAL_H_INCLUDED
#define PDC_CLIENT_INTERNAL_H_INCLUDED

#include "pdc.h"
#include "pdc_config.h"
#include "pdc_idmap.h"
#include "pdc_loop.h"
#include "pdc_proto.h"
#include "pdc_resources.h"
#include "pdc_store.h"

#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/types.h>

typedef enum { OBJ_PENDING, OBJ_READY, OBJ_FAILED } obj_state;

#define PDC_NODE_LEN 64

/* Where a task or actor may run (the strategy fields of pdc_opts and
   pdc_actor_opts), as the owner keeps it. */
typedef struct {
    unsigned strategy; /* PDC_SCHED_* */
    char node[PDC_NODE_LEN];
    int soft;
    char labels[256];
} pdc_sched_t;

typedef struct task task_t;
typedef struct lease lease_t;

/* An object this process owns.  refs counts user references, tasks that
   take it as an argument, the task that produces it, and objects handed
   out by pdc_get; it is freed (and its store copy deleted) at zero. */
typedef struct obj {
    uint8_t id[PDC_ID_LEN];
    obj_state state;
    int refs;
    pdc_type type;
    int64_t i64;
    double f64;
    void *data; /* inline STR/BYTES bytes (malloc), NULL if stored */
    size_t size;
    int stored; /* the bytes are in a node's store under id */
    char node[PDC_NODE_LEN]; /* that node */
    int spread; /* copies may exist on other nodes: free them there too */
    pdc_error err; /* for OBJ_FAILED; strings malloc'd */
    task_t *task;  /* the producing task while it is alive */
    task_t **dependents;
    int ndependents, capdependents;
} obj_t;

/* One argument of a task as the owner keeps it. */
typedef struct {
    pdc_type type; /* REF args become the value's type once resolved */
    int64_t i64;
    double f64;
    void *data;
    size_t size;
    obj_t *ref; /* for reference arguments (holds a ref) */
    int stored; /* resolved to an object in the store */
    struct pdc_actor *actor; /* for actor handle arguments (holds a ref) */
} task_arg_t;

typedef enum { T_WAITING, T_QUEUED, T_INFLIGHT, T_DONE } task_state;

struct task {
    uint8_t id[PDC_ID_LEN];
    const char *library, *function; /* interned in the client */
    size_t nargs;
    task_arg_t *args;
    int pending_deps;
    double cpus;
    int retries_left;
    task_state state;
    obj_t *result;
    struct sched_class *cls;
    lease_t *lease;
    struct pdc_actor *actor; /* an actor call or creation: its actor */
    int in_actor_queue;      /* in actor->head..tail, not yet sent */
    task_t *next, *prev; /* in a queue or an in-flight list */
};

typedef enum { A_NAMING, A_PLACING, A_PLACED, A_DEAD } actor_state;

/* An actor as one client sees it: the creator's copy drives placement and
   creation; other clients' copies (from pdc_actor_get_named or a handle
   argument) only know where the actor is.  One struct per actor id per
   client, shared by every handle to it there (refs). */
struct pdc_actor {
    uint8_t id[PDC_ID_LEN];
    pdc_client *client;
    int refs;
    int owned, detached, max_concurrency;
    double cpus;
    pdc_resources_t res;
    pdc_sched_t sched;
    actor_state state;
    char endpoint[PATH_MAX];        /* where this client reaches it       */
    char public_endpoint[PATH_MAX]; /* where anyone reaches it (handles)  */
    char node[PDC_NODE_LEN];        /* its node                           */
    char gpu_ids[256];              /* its GPU devices (WORKER_LEASE)     */
    struct conn *conn;
    uint8_t worker_id[PDC_ID_LEN];
    uint64_t lease_request;
    const char *library, *cls; /* interned */
    char ns[64], name[128];
    int name_registered;
    task_t *create;           /* the creator's creation task until sent */
    obj_t *ready;             /* the creator's creation result          */
    task_t *head, *tail;      /* calls waiting to be pushed             */
    size_t queued;
    task_t *inflight;         /* calls pushed, not answered             */
    int kill_pending;         /* ACTOR_KILL to send                      */
    int dead_code;
    char dead_why[256];
    struct pdc_actor *next;
};

/* A connection to a leased worker's endpoint. */
typedef struct conn {
    char endpoint[PATH_MAX];
    zsock_t *sock;
    pdc_zwatch_t *watch;
    zsock_t *monitor; /* for actor connections: disconnect events */
    pdc_zwatch_t *monitor_watch;
    struct pdc_client *client;
    struct conn *next;
} conn_t;

struct lease {
    uint8_t worker_id[PDC_ID_LEN];
    char node[PDC_NODE_LEN]; /* the worker's node */
    void *raylet;            /* the raylet that granted it (raw socket) */
    int spent;               /* a spread lease runs one task, then goes */
    char gpu_ids[256];       /* its GPU devices, told to the worker     */
    int told;                /* WORKER_LEASE sent                       */
    conn_t *conn;
    int inflight;
    task_t *tasks; /* in flight, doubly linked */
    uint64_t idle_since;
    struct sched_class *cls;
    lease_t *next;
};

/* Tasks with the same resource shape share leases. */
typedef struct sched_class {
    double cpus;
    pdc_resources_t res; /* other resources every task of it needs */
    pdc_sched_t sched;   /* where its tasks may run */
    char key[700];       /* res and sched formatted, to compare classes */
    task_t *head, *tail; /* ready to dispatch */
    size_t queued;
    lease_t *leases;
    int requests; /* LEASE_REQUESTs outstanding */
    double busy_us; /* moving average of the tasks' busy time; < 0 unknown */
    struct sched_class *next;
} sched_class_t;

/* A connection to a raylet on another node, opened when the local raylet
   sends a lease request there (LEASE_REDIRECT). */
typedef struct raylet_conn {
    char node[PDC_NODE_LEN];
    char endpoint[PATH_MAX];
    zsock_t *sock;
    pdc_zwatch_t *watch;
    zsock_t *monitor;
    pdc_zwatch_t *monitor_watch;
    struct pdc_client *client;
    int connected;       /* the monitor saw the connection up            */
    int down;            /* it dropped (or never came up): node dead     */
    uint64_t created_ms;
    struct raylet_conn *next;
} raylet_conn_t;

/* A lease request sent to another node's raylet, not answered yet (raylet
   set), or one to ask the local raylet again at due (raylet NULL): the
   other node went away, and the local raylet's view may still send the
   request there until the head declares that node dead. */
typedef struct spilled {
    uint64_t request;
    raylet_conn_t *raylet;
    uint64_t due; /* ms, for a deferred one */
    struct spilled *next;
} spilled_t;

/* A request to the local raylet a thread waits on: an object to copy
   into this node's store (OBJECT_PULL), or a code package to find
   (CODE_GET, hash set; the answer's path goes to path). */
typedef struct pull {
    uint8_t id[PDC_ID_LEN];
    char node[PDC_NODE_LEN];
    char hash[72];
    char path[PATH_MAX];
    uint64_t request;
    int sent, done, code;
    char why[512];
    struct pull *next;
} pull_t;

/* A library this client has uploaded to the head as a code package. */
typedef struct code_upload {
    const char *library; /* interned */
    char *ref;           /* "pdc-code:HASH:PATH", or NULL if it failed */
    struct code_upload *next;
} code_upload_t;

typedef struct interned {
    struct interned *next;
    char text[];
} interned_t;

struct pdc_client {
    pdc_config_t cfg;
    int is_worker;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pdc_idmap_t objects;
    sched_class_t *classes;
    interned_t *strings;

    pdc_store_t *store;
    char node_id[64];
    char store_dir[PATH_MAX];
    char session[PATH_MAX];
    size_t inline_max;

    /* The I/O thread and what it owns. */
    pthread_t io_thread;
    int io_started;
    uv_loop_t loop;
    uv_async_t wake;
    uv_timer_t lease_timer;
    uv_timer_t keepalive;   /* KEEPALIVE to other nodes' raylets */
    int stopping;
    zsock_t *raylet;
    pdc_zwatch_t *raylet_watch;
    conn_t *conns;
    pdc_enc_t enc;
    uint64_t next_request;
    int control[64]; /* BLOCKED/UNBLOCKED to send, in order */
    int ncontrol;
    struct pdc_actor *actors;
    char head_endpoint[PATH_MAX];
    zsock_t *head;             /* for named actors, opened on first use */
    pdc_zwatch_t *head_watch;
    raylet_conn_t *raylets;    /* other nodes' raylets we asked for leases */
    spilled_t *spilled;
    pull_t *pulls;
    code_upload_t *uploads;
    uint8_t (*frees)[PDC_ID_LEN]; /* stored objects to free on every node */
    size_t nfrees, capfrees;

    /* A worker's identity. */
    uint8_t worker_id[PDC_ID_LEN];
    char endpoint[PATH_MAX];
    char public_endpoint[PATH_MAX];
    pthread_t exec_thread;
    uint64_t blocked_us; /* exec thread's time blocked in waits (mu) */

    /* The embedded cluster this client started, if any. */
    int embedded;
    pid_t head_pid, raylet_pid;
    char store_path[PATH_MAX];
};

/* The context a remote function runs in (pdc_task in pdc.h). */
typedef struct {
    pdc_type type;
    int64_t i64;
    double f64;
    const void *data;
    size_t size;
    pdc_store_pin_t *pin; /* for an argument read from the store */
    struct pdc_actor *actor; /* for an actor handle (held) */
} task_input_t;

struct pdc_task {
    pdc_client *client;
    uint8_t id[PDC_ID_LEN];
    const char *function; /* "library:function" for messages */
    pdc_fn self;          /* library and name, interned in the client */
    size_t nargs;
    task_input_t *args;
    /* The outcome. */
    int code;          /* PDC_OK, or the PDC_E* it failed with */
    char message[1024];
    pdc_type rtype;
    int64_t ri64;
    double rf64;
    const void *rdata; /* inline result bytes (points at rbuf or caller) */
    size_t rsize;
    void *rbuf;        /* owned result buffer (pdc_return_alloc, copies) */
    int rstored;       /* the result was written to the store */
    uint64_t busy_us;  /* wall time less time blocked in pdc_get */
};

/* Client internals used by actors/pdc_actor.c (mutex held, and on the
   I/O thread for the ones that touch sockets). */
task_t *pdc_client_task_new(pdc_client *c, const char *library, const char *function,
                            const pdc_value *args, size_t nargs, pdc_ref *ref);
void pdc_client_task_submit(pdc_client *c, task_t *t);
void pdc_client_task_finish(pdc_client *c, task_t *t);
void pdc_client_obj_fail(obj_t *o, int code, const char *function, const char *node,
                         const char *message);
void pdc_client_obj_unref(pdc_client *c, obj_t *o);
const char *pdc_client_intern(pdc_client *c, const char *text);
pdc_ref pdc_client_error_ref(pdc_client *c, int code, const char *function, const char *message);
void pdc_client_wake(pdc_client *c);
conn_t *pdc_client_conn(pdc_client *c, const char *endpoint);
void pdc_client_conn_close(pdc_client *c, conn_t *k);
/* Encode t (or its arguments) into c->enc for a worker on node. */
void pdc_client_encode_task(pdc_client *c, task_t *t, const char *node);
void pdc_client_encode_args(pdc_client *c, task_t *t, const char *node);
void pdc_client_send_raylet(pdc_client *c);            /* c->enc */
/* Send a LEASE_REQUEST on raylet (a raw socket; NULL: the local one). */
void pdc_client_request_lease(pdc_client *c, void *raylet, uint64_t request, double cpus,
                              unsigned flags, const pdc_resources_t *res, const pdc_sched_t *sched,
                              const char *locality);
/* Fill sched from the strategy fields of the options.  0, or
   PDC_EINVAL with why. */
int pdc_sched_from_opts(pdc_sched_t *sched, int strategy, const char *node_id, int soft,
                        const char *label_selector, char *why, size_t len);
/* The library name to send to a worker on node: the path for this node,
   a code package reference for another (uploaded to the head on first
   use).  Mutex held, I/O thread. */
const char *pdc_client_library_for(pdc_client *c, const char *library, const char *node);
/* Load a library named by a path or a code package reference (fetched
   through the raylet); NULL with why.  Mutex not held. */
void *pdc_client_dlopen(pdc_client *c, const char *library, char *why, size_t len);
/* Send enc's message (and a payload) to the head, opening the socket on
   first use.  -1 if there is no head. */
int pdc_client_send_head(pdc_client *c, const pdc_enc_t *enc, const void *payload, size_t size);
/* Have the local raylet copy object id from node into this node's store
   (blocks up to timeout_ms, or pull_timeout_ms if that is negative or
   longer; mutex not held).  PDC_OK, or a code with why. */
int pdc_client_pull(pdc_client *c, const uint8_t *id, const char *node, int64_t timeout_ms,
                    char *why, size_t len);
/* The same in two steps, so that several pulls run at once: start one
   (never NULL but for lack of memory), then wait for it (frees it). */
typedef struct pull pdc_pull_t;
pdc_pull_t *pdc_client_pull_start(pdc_client *c, const uint8_t *id, const char *node);
int pdc_client_pull_wait(pdc_client *c, pdc_pull_t *p, int64_t timeout_ms, char *why, size_t len);

/* The actors' side of the client (actors/pdc_actor.c), called by it with
   the mutex held. */
void pdc_actor_enqueue(pdc_client *c, task_t *t);       /* a ready call */
void pdc_actor_dequeue(struct pdc_actor *a, task_t *t); /* cancel       */
void pdc_actor_call_answered(struct pdc_actor *a, task_t *t);
void pdc_actor_created(pdc_client *c, struct pdc_actor *a); /* ready set */
void pdc_actor_unref(pdc_client *c, struct pdc_actor *a);
const char *pdc_actor_to_wire(struct pdc_actor *a, char *buf, size_t len);
void pdc_actor_pump(pdc_client *c);                       /* I/O thread */
int pdc_actor_on_grant(pdc_client *c, uint64_t request, const uint8_t *worker_id,
                       const char *endpoint, const char *public_endpoint, const char *node,
                       const char *gpu_ids);
/* Encode WORKER_LEASE (the lease's GPU devices) into c->enc. */
void pdc_client_encode_worker_lease(pdc_client *c, const char *gpu_ids);
/* A lease request of an actor is to be asked of raylet instead (NULL: of
   the local raylet again), flags added.  1 if it was an actor's. */
int pdc_actor_on_redirect(pdc_client *c, uint64_t request, void *raylet, unsigned flags);
int pdc_actor_on_lease_error(pdc_client *c, uint64_t request, int code, const char *why);
int pdc_actor_on_worker_died(pdc_client *c, const uint8_t *worker_id, int status);
void pdc_actor_stop_owned(pdc_client *c); /* at close: kill the non-detached */
/* Messages from the head (named actors; upload errors). */
void pdc_actor_on_head(pdc_zwatch_t *watch, void *sock, void *arg);
void pdc_actor_free_all(pdc_client *c);   /* after the I/O thread ended      */

/* The client core's internals that pdc_remote.c uses (mutex held). */
void pdc_client_pump(pdc_client *c);
sched_class_t *pdc_client_class_of_request(pdc_client *c, uint64_t request_id);
void pdc_client_on_worker_died(pdc_client *c, const uint8_t *worker_id, int status);
void pdc_client_on_raylet(pdc_zwatch_t *watch, void *sock, void *arg); /* a raylet's socket */
int pdc_client_wait_until(pdc_client *c, int (*pred)(pdc_client *, void *), void *arg,
                          int64_t timeout_ms);

/* The owner's side of other nodes (pdc_remote.c). */
const char *pdc_remote_locality(task_t *t); /* node with most argument bytes, or "" */
/* Socket options for a connection to endpoint (before connecting): the
   largest message, and for tcp heartbeats, so a silent peer is seen. */
void pdc_remote_tune(pdc_client *c, zsock_t *sock, const char *endpoint);
/* Watch sock's connection events (ZMQ_EVENT_* bits) with fn(arg). */
void pdc_remote_monitor(pdc_client *c, zsock_t *sock, unsigned events, zsock_t **monitor,
                        pdc_zwatch_t **watch, pdc_zwatch_fn *fn, void *arg);
void pdc_remote_on_lease_monitor(pdc_zwatch_t *watch, void *sock, void *arg); /* arg: conn_t */
int pdc_remote_monitor_event(void *sock); /* 1: the peer went away */
void pdc_remote_spilled_forget(pdc_client *c, uint64_t request, void *raylet);
void pdc_remote_on_redirect(pdc_client *c, uint64_t request, const char *node, const char *endpoint);
void pdc_remote_send(pdc_client *c); /* frees and pulls waiting to go out */
/* The raylet answered a pull or code request: 1 if it was one. */
int pdc_remote_on_answer(pdc_client *c, uint64_t request, int code, const char *why);
void pdc_remote_on_keepalive(uv_timer_t *h);
void pdc_remote_unwatch(pdc_client *c);
void pdc_remote_close(pdc_client *c);

/* Worker side (pdc_task.c): fill t->args from a spec's argument list
   (t->client set); encode t's outcome as one TASK_RESULTS entry; release
   what the arguments and result hold. */
void pdc_task_read_args(pdc_task *t, const msgpack_object *list);
void pdc_task_encode_result(pdc_task *t, pdc_enc_t *e);
void pdc_task_release(pdc_task *t);

/* Results finished by a worker, waiting to go back in one TASK_RESULTS. */
typedef struct {
    pdc_enc_t out, one;
    msgpack_sbuffer batch;
    size_t count;
    uint64_t first_us; /* when the oldest result in it finished */
} pdc_result_batch_t;
void pdc_result_batch_init(pdc_result_batch_t *b);
void pdc_result_batch_free(pdc_result_batch_t *b);
void pdc_result_batch_add(pdc_result_batch_t *b, pdc_task *t);
uint64_t pdc_result_batch_age_us(const pdc_result_batch_t *b);
/* Send the batch (if any) to rid on a ROUTER and empty it. */
void pdc_result_batch_send(pdc_result_batch_t *b, void *router, const void *rid, size_t rid_len,
                           const char *node);
uint64_t pdc_now_us(void);

/* An actor handle from its wire form "ID@ENDPOINT" (actors/pdc_actor.c);
   the caller holds one reference.  NULL if malformed. */
struct pdc_actor *pdc_actor_from_wire(pdc_client *c, const char *text, size_t len);

/* Microseconds the task thread of a worker has spent blocked in pdc_get
   or pdc_wait so far. */
uint64_t pdc_client_blocked_us(pdc_client *c);

/* Connect to the raylet at endpoint and register (kind 0 driver, 1
   worker), then start the I/O thread.  Returns NULL with a message on
   stderr on failure. */
pdc_client *pdc_client_connect(const char *raylet_endpoint, int is_worker,
                               const uint8_t *worker_id, const char *endpoint,
                               const char *public_endpoint);
/* Stop the I/O thread, close everything, free.  (pdc_shutdown also stops
   the embedded cluster.) */
void pdc_client_close(pdc_client *c);

/* Record a thread-local error message; returns code. */
int pdc_set_error(int code, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* Embedded cluster: start one and return the raylet endpoint. */
int pdc_embed_start(pdc_client *tmp, char *raylet_ep, size_t len,
                    char *session, size_t session_len, pid_t *head_pid,
                    pid_t *raylet_pid, char *store_path, size_t store_len);
void pdc_embed_stop(pid_t head_pid, pid_t raylet_pid, const char *session,
                    const char *store_path, int64_t timeout_ms);
/* Remove what dead drivers' embedded clusters left behind. */
void pdc_embed_clean_stale(void);

/* Worker side: run one task message's tasks (pdc_task.c). */
int pdc_worker_main(int argc, char **argv);

/* The directory holding pdc-head, pdc-raylet and pdc-worker. */
int pdc_bin_dir(char *out, size_t len);

#endif
