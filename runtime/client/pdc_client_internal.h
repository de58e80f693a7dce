/*  pdc_client_internal: the client's state, shared by the parts of the
    owner core (see pdc_client.c for the map), the task context and
    worker loop, and the embedded cluster.  Not installed; the public API
    is include/pdc.h, and the actor layer sees only pdc_owner.h. */
#ifndef PDC_CLIENT_INTERNAL_H_INCLUDED
#define PDC_CLIENT_INTERNAL_H_INCLUDED

#include "pdc.h"
#include "pdc_config.h"
#include "pdc_idmap.h"
#include "pdc_job.h"
#include "pdc_loop.h"
#include "pdc_proto.h"
#include "pdc_resources.h"
#include "pdc_session.h" /* pdc_bin_dir */
#include "pdc_store.h"

#include "pdc_graph.h"
#include "pdc_io.h"
#include "pdc_lineage.h"
#include "pdc_objects.h"
#include "pdc_peer.h"
#include "pdc_replicas.h"
#include "pdc_requests.h"
#include "pdc_sched.h"

#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/types.h>

typedef struct interned {
    struct interned *next;
    char text[];
} interned_t;

struct pdc_client {
    pdc_config_t cfg;
    int is_worker;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pdc_idmap_t objects;      /* pdc_objects.c */
    pdc_requests_t requests;  /* pdc_requests.c */
    sched_class_t *classes;   /* pdc_sched.c */
    struct pdc_actor *actors; /* actors/pdc_actor.c */
    interned_t *strings;
    /* Finished tasks kept as lineage, oldest first (pdc_lineage.c). */
    pdc_task_list_t lineage;
    size_t lineage_bytes;
    int lineage_warned;
    task_t *lineage_dead; /* dropped, to free (pdc_lineage_reap) */
    int lineage_reaping;
    uint64_t graph_seq; /* orders results becoming ready and dispatches */

    pdc_store_t *store;
    char node_id[64];
    char store_dir[PATH_MAX];
    char session[PATH_MAX];
    char node_ip[64]; /* the node's address for other hosts ("" none) */
    size_t inline_max;

    /* The I/O thread and what it owns (pdc_io.c). */
    pthread_t io_thread;
    int io_started, handles_open;
    uv_loop_t loop;
    uv_async_t wake;
    uv_timer_t lease_timer;
    uv_timer_t keepalive; /* KEEPALIVE to other nodes' raylets */
    int stopping;
    pdc_peer_t *raylet;
    conn_t *conns;
    pdc_enc_t enc;
    int control[64]; /* BLOCKED/UNBLOCKED to send, in order */
    int ncontrol;
    size_t nlending;  /* own objects with borrowers (pdc_borrow.c) */
    int lending_told; /* the raylet was told LENDING (pdc_io_pump) */
    char head_endpoint[PATH_MAX];
    pdc_peer_t *head;            /* opened on first use */
    char job_id[PDC_JOB_ID_MAX]; /* PDC_JOB_ID, sent with lease requests */
    /* This node's raylet is gone (its connection dropped): why, for the
       errors of every call that needs it (pdc_io.c). */
    int raylet_lost;
    char raylet_lost_why[PATH_MAX + 160];

    /* Other nodes (pdc_remote.c). */
    struct raylet_conn *raylets; /* other nodes' raylets we asked for leases */
    struct spilled *spilled;
    struct pull *pulls;
    struct code_upload *uploads;
    struct replication *replications; /* copies of puts being made (pdc_replicas.c) */
    uint8_t (*frees)[PDC_ID_LEN];     /* stored objects to free on every node */
    size_t nfrees, capfrees;

    /* References owned by other processes, and this process's object
       service for those it lends (pdc_borrow.c). */
    struct lender *lenders;
    void *owner_sock; /* zsock_t *: the service's ROUTER */
    struct pdc_zwatch *owner_watch;
    char owner_ipc[PATH_MAX], owner_tcp[PATH_MAX]; /* its endpoints ("" none) */
    int owner_state;                               /* 0 none, 1 asked, 2 serving, -1 failed */
    char owner_why[PATH_MAX + 128];
    uint64_t borrow_requests;
    size_t nborrow_due; /* borrowed entries told "pending", to ask again */
    int freeing_all;    /* pdc_obj_free_all runs: entries go without unrefs */

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
    pdc_store_pin_t *pin;    /* for an argument read from the store */
    struct pdc_actor *actor; /* for an actor handle (held) */
    struct obj **held;       /* a list's references, once borrowed */
    uint32_t nheld;
} task_input_t;

struct pdc_task {
    pdc_client *client;
    uint8_t id[PDC_ID_LEN];
    const char *function; /* "library:function" for messages */
    pdc_fn self;          /* library and name, interned in the client */
    size_t nargs;
    task_input_t *args;
    /* The outcome. */
    int code; /* PDC_OK, or the PDC_E* it failed with */
    char message[1024];
    pdc_type rtype;
    int64_t ri64;
    double rf64;
    const void *rdata; /* inline result bytes (points at rbuf or caller) */
    size_t rsize;
    void *rbuf;       /* owned result buffer (pdc_return_alloc, copies) */
    int rstored;      /* the result was written to the store */
    int rlent;        /* the result's references are lent to the caller */
    size_t lost_arg;  /* 1 + the argument that lost every copy, or 0 */
    uint64_t busy_us; /* wall time less time blocked in pdc_get */
};

/* What the parts share (pdc_client.c, pdc_get.c), mutex held. */
const char *pdc_client_intern(pdc_client *c, const char *text);
void pdc_client_wake(pdc_client *c);
/* Wait (mutex held) until pred(c, arg) or the timeout: PDC_OK,
   PDC_ETIMEOUT or PDC_ESHUTDOWN.  With lend_cpu, a task's thread gives its
   CPU slot back to the raylet meanwhile (BLOCKED, UNBLOCKED): only for
   waits on other tasks (get, wait), which could otherwise deadlock the
   pool.  A wait on the raylet itself (a pull, a code package) keeps the
   slot: lending it there let a 1-CPU node start a second task. */
int pdc_client_wait_until(pdc_client *c, int (*pred)(pdc_client *, void *), void *arg,
                          int64_t timeout_ms, int lend_cpu);
const char *pdc_type_name(pdc_type t);
uint64_t pdc_now_ms(void);
uint64_t pdc_now_us(void);
/* Forget the last error (an API call that succeeds). */
void pdc_clear_error(void);

/* The owner's side of other nodes (pdc_remote.c), mutex held. */
/* The library name to send to a worker on node: the path for this node,
   a code package reference for another (uploaded to the head on first
   use).  I/O thread. */
const char *pdc_client_library_for(pdc_client *c, const char *library, const char *node);
/* Load a library named by a path or a code package reference (fetched
   through the raylet); NULL with why.  Mutex not held. */
void *pdc_client_dlopen(pdc_client *c, const char *library, char *why, size_t len);
/* Send enc's message (and a payload) to the head, opening the socket on
   first use.  -1 if there is no head.  I/O thread. */
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
void pdc_remote_spilled_forget(pdc_client *c, uint64_t request, void *raylet);
/* msg on sock is another node's raylet refusing a request because it does
   not know this client (it dropped it during a partition): register there
   again and ask the request again.  1 if so (msg is handled), else 0. */
int pdc_remote_on_unregistered(pdc_client *c, const pdc_msg_t *msg, void *sock);
void pdc_remote_on_redirect(pdc_client *c, uint64_t request, const char *node,
                            const char *endpoint);
void pdc_remote_send(pdc_client *c); /* frees and pulls waiting to go out */
/* The socket to node's raylet (at endpoint), opened on first use and
   registered there as a holder; NULL if it is down.  I/O thread. */
void *pdc_remote_raylet_sock(pdc_client *c, const char *node, const char *endpoint);
void pdc_remote_on_keepalive(uv_timer_t *h);
/* This node's raylet is gone: pulls and code requests waiting on it fail. */
void pdc_remote_on_raylet_lost(pdc_client *c);
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

/* Microseconds the task thread of a worker has spent blocked in pdc_get
   or pdc_wait so far. */
uint64_t pdc_client_blocked_us(pdc_client *c);

/* Connect to the raylet at endpoint and register (kind 0 driver, 1
   worker), then start the I/O thread.  Returns NULL with a message on
   stderr on failure. */
pdc_client *pdc_client_connect(const char *raylet_endpoint, int is_worker, const uint8_t *worker_id,
                               const char *endpoint, const char *public_endpoint);
/* Stop the I/O thread, close everything, free.  (pdc_shutdown also stops
   the embedded cluster.) */
void pdc_client_close(pdc_client *c);

/* Record a thread-local error message; returns code. */
int pdc_set_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Embedded cluster: start one and return the raylet endpoint. */
int pdc_embed_start(pdc_client *tmp, char *raylet_ep, size_t len, char *session, size_t session_len,
                    pid_t *head_pid, pid_t *raylet_pid, char *store_path, size_t store_len);
void pdc_embed_stop(pid_t head_pid, pid_t raylet_pid, const char *session, const char *store_path,
                    int64_t timeout_ms);
/* Remove what dead drivers' embedded clusters left behind. */
void pdc_embed_clean_stale(void);

/* Worker side: run one task message's tasks (pdc_task.c). */
int pdc_worker_main(int argc, char **argv);

#endif
