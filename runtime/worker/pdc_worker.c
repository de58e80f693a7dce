/*  pdc_worker: a worker process: runs the tasks its lease holders push.

    The raylet starts a worker with its id and the session directory.  The
    worker binds a ROUTER on its own endpoint (ipc://SESSION/w-ID.sock),
    then registers with the raylet through an ordinary pdc client, so that
    a task it runs can submit and get tasks of its own (nested tasks); that
    client's I/O thread owns the raylet socket, while this main thread owns
    the ROUTER and runs the tasks on it.

    An owner holding a lease on this worker sends PUSH_TASKS with a batch
    of task specs.  The worker runs them in order, encodes each result as
    it finishes and sends them back in TASK_RESULTS batches: a batch goes
    out when the pushed batch is done or when the oldest result in it has
    waited result_flush_us, so no-op tasks travel in bulk and long tasks
    report at once.  Functions are found with dlopen/dlsym and cached;
    a library or symbol that cannot be loaded fails that task with
    PDC_ENOFUNC and the dlerror text, and the worker keeps serving.  A
    library named by a code package reference is loaded from the node's
    cache (pdc_client_dlopen).  Before a lease's first task the owner
    sends WORKER_LEASE with the lease's GPUs, which become
    CUDA_VISIBLE_DEVICES.

    A language worker (pdc_worker_run with a resolver, see pdc.h) runs
    this same loop; its resolver is asked for every function and class
    before the library is opened, so its tasks are calls of its own
    callbacks.
*/
#include "pdc_worker.h"

#include "pdc_client_internal.h"

#include "pdc_actor_host.h"

#include "pdc_id.h"
#include "pdc_log.h"
#include "pdc_wire.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

typedef struct loaded_fn {
    char *library, *name;
    pdc_function_ptr fn;
    pdc_fn self; /* for pdc_task_self, interned once */
    char *error; /* why it could not be loaded */
    struct loaded_fn *next;
} loaded_fn_t;

typedef struct {
    pdc_client *client;
    void *router;
    loaded_fn_t *fns;
    pdc_enc_t out; /* replies other than results            */
    pdc_result_batch_t results;
    pdc_actor_host_t *actor; /* once this worker hosts an actor       */
    int64_t flush_us;
    const char *cuda_visible; /* CUDA_VISIBLE_DEVICES as started (leases without GPUs) */
    volatile sig_atomic_t stop;
} worker_t;

#define s_now_us pdc_now_us

/* The language worker's resolver (pdc_worker_run), if any. */
static pdc_symbol_resolver s_resolve;
static void *s_resolve_arg;

void *pdc_worker_resolve(const char *library, const char *symbol) {
    return s_resolve ? s_resolve(library, symbol, s_resolve_arg) : NULL;
}

static loaded_fn_t *s_lookup(worker_t *self, const char *library, const char *name) {
    for (loaded_fn_t *f = self->fns; f; f = f->next)
        if (!strcmp(f->name, name) && !strcmp(f->library, library))
            return f;
    loaded_fn_t *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->library = strdup(library);
    f->name = strdup(name);
    f->self = pdc_function(self->client, library, name);
    char why[1024];
    void *handle = NULL, *resolved = pdc_worker_resolve(library, name);
    if (resolved)
        f->fn = (pdc_function_ptr) resolved;
    else if (!(handle = pdc_client_dlopen(self->client, library, why, sizeof why))) {
        f->error = strdup(why);
    } else {
        dlerror();
        void *sym = dlsym(handle, name);
        if (!sym) {
            snprintf(why, sizeof why, "library '%s' has no function '%s'", library, name);
            f->error = strdup(why);
        } else {
            f->fn = (pdc_function_ptr) sym;
        }
    }
    f->next = self->fns;
    self->fns = f;
    return f;
}

/* Encode t's outcome as one result tuple into self->batch. */
static void s_flush(worker_t *self, const void *rid, size_t rid_len) {
    pdc_result_batch_send(&self->results, self->router, rid, rid_len, self->client->node_id);
}

static void s_run_task(worker_t *self, const msgpack_object *spec) {
    char library[PATH_MAX], name[256], function[PATH_MAX + 260];
    pdc_f_cstr(pdc_f_at(spec, PDC_TASK_LIBRARY), library, sizeof library);
    pdc_f_cstr(pdc_f_at(spec, PDC_TASK_FUNCTION), name, sizeof name);
    snprintf(function, sizeof function, "%s:%s", library, name);
    pdc_task t = {.client = self->client, .function = function, .rtype = PDC_T_NIL};
    memcpy(t.id, pdc_f_id(pdc_f_at(spec, PDC_TASK_ID)), PDC_ID_LEN);
    pdc_task_read_args(&t, pdc_f_at(spec, PDC_TASK_ARGS));
    if (t.code == PDC_OK) {
        loaded_fn_t *fn = s_lookup(self, library, name);
        if (fn)
            t.self = fn->self;
        if (!fn || !fn->fn) {
            t.code = PDC_ENOFUNC;
            snprintf(t.message, sizeof t.message, "%s", fn ? fn->error : "out of memory");
        } else {
            uint64_t start = s_now_us(), blocked = pdc_client_blocked_us(self->client);
            int rc = fn->fn(&t);
            uint64_t wall = s_now_us() - start;
            blocked = pdc_client_blocked_us(self->client) - blocked;
            t.busy_us = wall > blocked ? wall - blocked : 0;
            if (rc != 0 && t.code == PDC_OK) {
                t.code = PDC_ETASK;
                snprintf(t.message, sizeof t.message, "%s returned %d without pdc_fail", name, rc);
            }
        }
    }
    fflush(stdout);
    pdc_result_batch_add(&self->results, &t);
    pdc_task_release(&t);
}

static void s_on_message(worker_t *self) {
    pdc_inbound_t in;
    pdc_enc_t *e = &self->out;
    if (!pdc_wire_serve(self->router, &in, e, NULL))
        return;
    const void *rid = zmq_msg_data(&in.frames[0]);
    size_t rid_len = zmq_msg_size(&in.frames[0]);
    if (in.msg.type == PDC_MSG_WORKER_LEASE) {
        /* A new lease: the GPUs its tasks (or its actor) may use. */
        char ids[256];
        pdc_f_cstr(&in.msg.fields[PDC_WORKER_LEASE_GPU_IDS], ids, sizeof ids);
        if (*ids)
            setenv("CUDA_VISIBLE_DEVICES", ids, 1);
        else if (self->cuda_visible)
            setenv("CUDA_VISIBLE_DEVICES", self->cuda_visible, 1);
        else
            unsetenv("CUDA_VISIBLE_DEVICES");
    } else if (in.msg.type == PDC_MSG_PUSH_TASKS) {
        const msgpack_object *list = &in.msg.fields[PDC_PUSH_TASKS_TASKS];
        for (uint32_t i = 0; i < pdc_f_count(list); i++) {
            s_run_task(self, pdc_f_at(list, i));
            if (pdc_result_batch_age_us(&self->results) >= (uint64_t) self->flush_us)
                s_flush(self, rid, rid_len);
        }
        s_flush(self, rid, rid_len);
    } else if (in.msg.type == PDC_MSG_ACTOR_CREATE || in.msg.type == PDC_MSG_ACTOR_CALLS ||
               in.msg.type == PDC_MSG_ACTOR_KILL) {
        if (!self->actor)
            self->actor = pdc_actor_host_new(self->client, self->router, self->flush_us);
        if (self->actor) {
            if (pdc_actor_host_handle(self->actor, &in))
                self->stop = 1; /* killed */
            return;             /* the host closed the message */
        }
        pdc_wire_reply_error(self->router, &in, e, PDC_ENOMEM, "cannot host an actor");
    } else {
        pdc_wire_refuse(self->router, &in, e, "a worker", NULL);
    }
    pdc_inbound_close(&in);
}

static worker_t *s_worker;
/* SIGTERM also writes to this pipe, which the main loop polls: zmq_poll
   retries internally when a signal lands outside its poll(2), so the
   flag alone could wait out the whole poll timeout. */
static int s_wake_pipe[2] = {-1, -1};
static void s_on_signal(int sig) {
    (void) sig;
    if (s_worker)
        s_worker->stop = 1;
    if (s_wake_pipe[1] >= 0) {
        int saved = errno;
        ssize_t n = write(s_wake_pipe[1], "", 1);
        (void) n;
        errno = saved;
    }
}

static void s_usage(FILE *out) {
    fprintf(out, "Usage: pdc-worker --raylet EP --worker-id HEX --session DIR\n"
                 "A pdc worker process.  The raylet starts these; you do not run them by hand.\n\n"
                 "  --raylet EP        the raylet's endpoint\n"
                 "  --worker-id HEX    the 32-digit id the raylet gave this worker\n"
                 "  --session DIR      the session directory (the worker's socket goes there)\n"
                 "  --node-ip IP       also listen on tcp://IP:* for owners on other nodes\n"
                 "  -h, --help         this text\n");
}

static int s_parse_id(const char *hex, uint8_t id[PDC_ID_LEN]) {
    return strlen(hex) == 2 * PDC_ID_LEN ? pdc_id_parse(hex, id) : -1;
}

int pdc_worker_main(int argc, char **argv) {
    return pdc_worker_run(argc, argv, NULL, NULL);
}

int pdc_worker_run(int argc, char **argv, pdc_symbol_resolver resolve, void *arg) {
    /* Its output goes to a log file that a job's submitter follows line
       by line (raylet/pdc_job_runner.h): whole lines, as they come. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    s_resolve = resolve;
    s_resolve_arg = arg;
    optind = 1; /* a language worker may have parsed options of its own */
    static const struct option opts[] = {
        {"raylet", required_argument, 0, 'r'},  {"worker-id", required_argument, 0, 'w'},
        {"session", required_argument, 0, 's'}, {"node-ip", required_argument, 0, 'i'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    const char *raylet = NULL, *idhex = NULL, *session = NULL, *node_ip = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            raylet = optarg;
            break;
        case 'w':
            idhex = optarg;
            break;
        case 's':
            session = optarg;
            break;
        case 'i':
            node_ip = optarg;
            break;
        case 'h':
            s_usage(stdout);
            return 0;
        default:
            s_usage(stderr);
            return 2;
        }
    }
    uint8_t id[PDC_ID_LEN];
    if (!raylet || !idhex || !session || s_parse_id(idhex, id)) {
        fprintf(stderr,
                "pdc-worker: --raylet, --session and a 32-digit --worker-id are required\n");
        s_usage(stderr);
        return 2;
    }
    pid_t parent = getppid();
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the raylet */
    if (getppid() != parent || parent == 1)
        return 1;
    pdc_log_init("pdc-worker", PDC_LOG_INFO);

    worker_t self = {0};
    s_worker = &self;
    if (pipe2(s_wake_pipe, O_CLOEXEC | O_NONBLOCK))
        s_wake_pipe[0] = s_wake_pipe[1] = -1;
    signal(SIGTERM, s_on_signal);
    signal(SIGINT, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    pdc_config_t cfg;
    if (pdc_config_load(&cfg))
        return 2;
    self.flush_us = cfg.result_flush_us;
    if (getenv("CUDA_VISIBLE_DEVICES"))
        self.cuda_visible = strdup(getenv("CUDA_VISIBLE_DEVICES"));

    zsys_handler_set(NULL);
    pdc_peer_raise_limits(cfg.max_sockets); /* before the first socket, or it is too late */
    zsock_t *router = zsock_new(ZMQ_ROUTER);
    if (!router)
        return 1;
    self.router = zsock_resolve(router);
    pdc_wire_tune(self.router, node_ip ? cfg.max_message_size : 0);
    char endpoint[PATH_MAX];
    snprintf(endpoint, sizeof endpoint, "ipc://%s/w-%.16s.sock", session, idhex + 16);
    if (zsock_bind(router, "%s", endpoint) < 0) {
        pdc_error("cannot bind %s: %s", endpoint, zmq_strerror(errno));
        zsock_destroy(&router);
        return 1;
    }
    /* Owners on other nodes reach this worker on tcp, same ROUTER, on a
       random port of the dynamic range ("!"): the first free one ("*")
       is the port a raylet or worker that just died on this host had,
       and peers still reconnecting to it would reach this worker. */
    char public_endpoint[PATH_MAX] = "";
    if (node_ip && *node_ip) {
        int port = zsock_bind(router, "tcp://%s:!", node_ip);
        if (port < 0) {
            pdc_error("cannot listen on %s: %s", node_ip, zmq_strerror(errno));
            zsock_destroy(&router);
            unlink(endpoint + 6);
            return 1;
        }
        snprintf(public_endpoint, sizeof public_endpoint, "tcp://%s:%d", node_ip, port);
    }
    self.client = pdc_client_connect(raylet, 1, id, endpoint, public_endpoint);
    if (!self.client) {
        zsock_destroy(&router);
        unlink(endpoint + 6);
        return 1;
    }
    pdc_enc_init(&self.out);
    pdc_result_batch_init(&self.results);
    pdc_debug("worker ready on %s", endpoint);

    zmq_pollitem_t items[3] = {{self.router, 0, ZMQ_POLLIN, 0},
                               {NULL, s_wake_pipe[0], ZMQ_POLLIN, 0},
                               {NULL, -1, ZMQ_POLLIN, 0}};
    while (!self.stop) {
        /* A threaded actor's finished calls wake us through its pipe. */
        int host_fd = self.actor ? pdc_actor_host_fd(self.actor) : -1;
        items[2].fd = host_fd;
        int n = zmq_poll(items, host_fd >= 0 ? 3 : 2, 1000);
        if (n < 0 && errno != EINTR)
            break;
        if (getppid() != parent)
            break;
        while (!self.stop && pdc_zsock_readable(self.router))
            s_on_message(&self);
        if (self.actor)
            pdc_actor_host_flush(self.actor);
    }
    pdc_actor_host_destroy(&self.actor);

    pdc_client_close(self.client);
    zsock_destroy(&router);
    unlink(endpoint + 6);
    pdc_enc_free(&self.out);
    pdc_result_batch_free(&self.results);
    free((char *) self.cuda_visible);
    while (self.fns) {
        loaded_fn_t *f = self.fns;
        self.fns = f->next;
        free(f->library);
        free(f->name);
        free(f->error);
        free(f);
    }
    for (int i = 0; i < 2; i++)
        if (s_wake_pipe[i] >= 0)
            close(s_wake_pipe[i]);
    return 0;
}
