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
#include "pdc_store.h"

#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/types.h>

typedef enum { OBJ_PENDING, OBJ_READY, OBJ_FAILED } obj_state;

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
    int stored; /* the bytes are in the node's store under id */
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
    task_t *next, *prev; /* in the class queue or the lease's in-flight list */
};

/* A connection to a leased worker's endpoint. */
typedef struct conn {
    char endpoint[PATH_MAX];
    zsock_t *sock;
    pdc_zwatch_t *watch;
    struct pdc_client *client;
    struct conn *next;
} conn_t;

struct lease {
    uint8_t worker_id[PDC_ID_LEN];
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
    task_t *head, *tail; /* ready to dispatch */
    size_t queued;
    lease_t *leases;
    int requests; /* LEASE_REQUESTs outstanding */
    double busy_us; /* moving average of the tasks' busy time; < 0 unknown */
    struct sched_class *next;
} sched_class_t;

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
    int stopping;
    zsock_t *raylet;
    pdc_zwatch_t *raylet_watch;
    conn_t *conns;
    pdc_enc_t enc;
    uint64_t next_request;
    int control[64]; /* BLOCKED/UNBLOCKED to send, in order */
    int ncontrol;

    /* A worker's identity. */
    uint8_t worker_id[PDC_ID_LEN];
    char endpoint[PATH_MAX];
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

/* Microseconds the task thread of a worker has spent blocked in pdc_get
   or pdc_wait so far. */
uint64_t pdc_client_blocked_us(pdc_client *c);

/* Connect to the raylet at endpoint and register (kind 0 driver, 1
   worker), then start the I/O thread.  Returns NULL with a message on
   stderr on failure. */
pdc_client *pdc_client_connect(const char *raylet_endpoint, int is_worker,
                               const uint8_t *worker_id, const char *endpoint);
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
