/*  pdc_pool: a raylet's worker processes (see the header).

    The workers are a list, newest first; a node has tens of them, so
    every lookup walks it.  The pool owns each worker_t from uv_spawn
    until libuv has closed its process handle after the exit callback. */
#include "pdc_pool.h"

#include "pdc_job.h"
#include "pdc_log.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct pdc_worker {
    uint8_t id[PDC_ID_LEN];
    char idhex[2 * PDC_ID_LEN + 1];
    uv_process_t proc;
    int pid;
    pdc_worker_state_t state;
    char endpoint[PATH_MAX];        /* ipc, for owners on this node     */
    char public_endpoint[PATH_MAX]; /* tcp, for owners on other nodes   */
    pdc_rid_t rid;                  /* its client on our ROUTER         */
    char *runtime;                  /* its command line; "" for pdc-worker */
    char job[PDC_JOB_ID_MAX];       /* the job it was started for, or "" */
    uint64_t idle_since;
    int lending; /* owns objects others borrow: not stopped for idleness */
    pdc_pool_t *pool;
    struct pdc_worker *next;
};

/* How starting the workers of one runtime goes. */
typedef struct runtime_state {
    char *runtime;
    int failed;           /* starts in a row that failed */
    uint64_t quiet_until; /* no new worker of it before (ms): one failed */
    char why[768];        /* the last failure */
    struct runtime_state *next;
} runtime_state_t;

struct pdc_pool {
    uv_loop_t *loop;
    char worker_bin[PATH_MAX];
    char raylet[PATH_MAX];
    char session[PATH_MAX];
    char node_ip[64];
    int min, keep;
    uint64_t idle_ms;
    pdc_pool_exit_fn *on_exit;
    void *arg;
    pdc_worker_t *workers;
    uint64_t started;
    uint64_t retry_ms;
    runtime_state_t *runtimes;
    int stopping;
};

pdc_pool_t *pdc_pool_new(uv_loop_t *loop, const pdc_pool_config_t *cfg) {
    pdc_pool_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->loop = loop;
    snprintf(self->worker_bin, sizeof self->worker_bin, "%s", cfg->worker_bin);
    snprintf(self->raylet, sizeof self->raylet, "%s", cfg->raylet);
    snprintf(self->session, sizeof self->session, "%s", cfg->session);
    snprintf(self->node_ip, sizeof self->node_ip, "%s", cfg->node_ip ? cfg->node_ip : "");
    self->keep = cfg->keep;
    self->min = cfg->min < cfg->keep ? cfg->min : cfg->keep;
    self->idle_ms = cfg->idle_ms;
    self->retry_ms = cfg->retry_ms;
    self->on_exit = cfg->on_exit;
    self->arg = cfg->arg;
    return self;
}

void pdc_pool_destroy(pdc_pool_t **self_p) {
    if (!self_p || !*self_p)
        return;
    while ((*self_p)->runtimes) {
        runtime_state_t *r = (*self_p)->runtimes;
        (*self_p)->runtimes = r->next;
        free(r->runtime);
        free(r);
    }
    free(*self_p);
    *self_p = NULL;
}

/* The start state of runtime (made on first use; NULL without memory). */
static runtime_state_t *s_runtime(pdc_pool_t *self, const char *runtime) {
    for (runtime_state_t *r = self->runtimes; r; r = r->next)
        if (!strcmp(r->runtime, runtime))
            return r;
    runtime_state_t *r = calloc(1, sizeof *r);
    if (!r || !(r->runtime = strdup(runtime))) {
        free(r);
        return NULL;
    }
    r->next = self->runtimes;
    self->runtimes = r;
    return r;
}

/* Whether a worker of runtime may be started now (none failed lately). */
static int s_may_start(pdc_pool_t *self, const char *runtime) {
    runtime_state_t *r = s_runtime(self, runtime);
    return !r || uv_now(self->loop) >= r->quiet_until;
}

/* A start of runtime failed: no other for retry_ms, and why is kept. */
static void s_start_failed(pdc_pool_t *self, const char *runtime, const char *why) {
    runtime_state_t *r = s_runtime(self, runtime);
    if (!r)
        return;
    r->failed++;
    r->quiet_until = uv_now(self->loop) + self->retry_ms;
    snprintf(r->why, sizeof r->why, "%s", why);
}

int pdc_pool_start_failures(pdc_pool_t *self, const char *runtime, const char **why) {
    runtime_state_t *r = s_runtime(self, runtime ? runtime : "");
    if (why)
        *why = r ? r->why : "";
    return r ? r->failed : 0;
}

static int s_count(pdc_pool_t *self, pdc_worker_state_t state) {
    int n = 0;
    for (pdc_worker_t *w = self->workers; w; w = w->next)
        n += w->state == state;
    return n;
}

/* Workers in state of runtime (NULL: any runtime). */
static int s_count_of(pdc_pool_t *self, pdc_worker_state_t state, const char *runtime) {
    int n = 0;
    for (pdc_worker_t *w = self->workers; w; w = w->next)
        n += w->state == state && (!runtime || !strcmp(w->runtime, runtime));
    return n;
}

/* Start workers until the pool has its min (not counting those that
   are stopping: they are on their way out). */
static void s_top_up(pdc_pool_t *self) {
    if (!s_may_start(self, ""))
        return;
    int live = s_count_of(self, PDC_WORKER_STARTING, "") + s_count_of(self, PDC_WORKER_IDLE, "") +
               s_count_of(self, PDC_WORKER_LEASED, "");
    for (; live < self->min && pdc_pool_spawn(self, ""); live++) {
    }
}

static void s_unlink(pdc_pool_t *self, pdc_worker_t *gone) {
    for (pdc_worker_t **p = &self->workers; *p; p = &(*p)->next)
        if (*p == gone) {
            *p = gone->next;
            return;
        }
}

static void s_worker_free(pdc_worker_t *w) {
    free(w->runtime);
    free(w);
}

static void s_on_closed(uv_handle_t *h) {
    s_worker_free(h->data);
}

static void s_on_exit(uv_process_t *proc, int64_t status, int sig) {
    pdc_worker_t *w = proc->data;
    pdc_pool_t *self = w->pool;
    if (!self->stopping)
        pdc_log(w->state == PDC_WORKER_LEASED ? PDC_LOG_WARN : PDC_LOG_INFO,
                "worker %d exited (%s %d)%s", w->pid, sig ? "signal" : "status",
                sig ? sig : (int) status, w->state == PDC_WORKER_LEASED ? " while leased" : "");
    if (w->state == PDC_WORKER_STARTING && !self->stopping) {
        /* A worker that cannot start (a broken binary, a crash in its
           set-up) would be replaced at once, again and again. */
        char why[768];
        int program = (int) strcspn(w->runtime, "\t"); /* its first word */
        snprintf(why, sizeof why,
                 "worker %d%s%.*s%s exited (%s %d) before it registered (see "
                 "%s/logs/worker-%s.log)",
                 w->pid, *w->runtime ? " (" : "", program < 200 ? program : 200, w->runtime,
                 *w->runtime ? " ...)" : "", sig ? "signal" : "status", sig ? sig : (int) status,
                 self->session, w->idhex + PDC_ID_LEN);
        s_start_failed(self, w->runtime, why);
        pdc_warn("%s; no new worker of its runtime for %llu ms", why,
                 (unsigned long long) self->retry_ms);
    }
    if (!strncmp(w->endpoint, "ipc://", 6))
        unlink(w->endpoint + 6);
    s_unlink(self, w);
    if (self->on_exit)
        self->on_exit(self, w, sig ? -sig : (int) status, self->arg);
    if (!self->stopping)
        s_top_up(self);
    uv_close((uv_handle_t *) proc, s_on_closed);
}

/* The words of a runtime (tab-separated) into args, then pdc-worker's
   options after them; the number of words, or -1 if there are too many. */
static int s_runtime_args(char *runtime, char **args, int max) {
    int n = 0;
    for (char *save = NULL, *word = strtok_r(runtime, "\t", &save); word;
         word = strtok_r(NULL, "\t", &save)) {
        if (n == max)
            return -1;
        args[n++] = word;
    }
    return n;
}

#define RUNTIME_WORDS 32

pdc_worker_t *pdc_pool_spawn(pdc_pool_t *self, const char *runtime) {
    runtime = runtime ? runtime : "";
    pdc_worker_t *w = calloc(1, sizeof *w);
    char *words = strdup(runtime);
    if (!w || !words || !(w->runtime = strdup(runtime))) {
        free(words);
        if (w)
            s_worker_free(w);
        return NULL;
    }
    w->pool = self;
    pdc_id_new(w->id);
    pdc_id_hex(w->id, w->idhex);
    char *job = strchr(words, '\n'); /* a job's worker: runtime "\n" job */
    if (job) {
        *job++ = '\0';
        snprintf(w->job, sizeof w->job, "%s", job);
    }
    char *args[RUNTIME_WORDS + 10];
    int n = *words ? s_runtime_args(words, args, RUNTIME_WORDS) : 0;
    if (*words && n <= 0) {
        char why[768];
        snprintf(why, sizeof why, "cannot start a worker for runtime '%.200s': %s", runtime,
                 n < 0 ? "more than 32 words" : "no command");
        pdc_error("%s", why);
        s_start_failed(self, runtime, why);
        free(words);
        s_worker_free(w);
        return NULL;
    }
    if (!n)
        args[n++] = self->worker_bin;
    const char *program = args[0];
    char *options[] = {"--raylet", self->raylet, "--worker-id",
                       w->idhex,   "--session",  self->session};
    for (size_t i = 0; i < sizeof options / sizeof *options; i++)
        args[n++] = options[i];
    if (*self->node_ip) {
        args[n++] = "--node-ip";
        args[n++] = self->node_ip;
    }
    args[n] = NULL;
    char logpath[PATH_MAX + 64];
    pdc_worker_log_path(w, logpath, sizeof logpath);
    int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    uv_stdio_container_t stdio[3] = {{UV_IGNORE}, {UV_IGNORE}, {UV_IGNORE}};
    if (fd >= 0) {
        stdio[1].flags = stdio[2].flags = UV_INHERIT_FD;
        stdio[1].data.fd = stdio[2].data.fd = fd;
    }
    char job_var[PDC_JOB_ID_MAX + 16];
    snprintf(job_var, sizeof job_var, "%s=%s", PDC_JOB_ENV, w->job);
    char *job_env[] = {job_var, "PYTHONUNBUFFERED=1", NULL}; /* output as it comes */
    char **env = *w->job ? pdc_job_environ_list(job_env) : NULL;
    uv_process_options_t opts = {.exit_cb = s_on_exit,
                                 .file = program,
                                 .args = args,
                                 .env = env,
                                 .stdio_count = 3,
                                 .stdio = stdio};
    w->proc.data = w;
    int rc = uv_spawn(self->loop, &w->proc, &opts);
    free(env);
    if (fd >= 0)
        close(fd);
    if (rc) {
        char why[768];
        snprintf(why, sizeof why, "cannot start worker %.300s: %s", program, uv_strerror(rc));
        pdc_error("%s", why);
        s_start_failed(self, runtime, why);
        free(words);
        /* libuv put the handle in the loop even so: close it, w goes then. */
        uv_close((uv_handle_t *) &w->proc, s_on_closed);
        return NULL;
    }
    free(words);
    w->pid = w->proc.pid;
    w->state = PDC_WORKER_STARTING;
    w->next = self->workers;
    self->workers = w;
    self->started++;
    pdc_debug("started worker %d (%s)%s%.200s", w->pid, w->idhex, *runtime ? " for " : "", runtime);
    return w;
}

void pdc_pool_want(pdc_pool_t *self, const char *runtime, int n) {
    runtime = runtime ? runtime : "";
    if (!s_may_start(self, runtime))
        return;
    for (int starting = s_count_of(self, PDC_WORKER_STARTING, runtime);
         starting < n && pdc_pool_spawn(self, runtime); starting++) {
    }
}

pdc_worker_t *pdc_pool_register(pdc_pool_t *self, const uint8_t *id, const void *rid,
                                size_t rid_len, const char *endpoint, const char *public_endpoint) {
    pdc_worker_t *w = pdc_pool_find(self, id);
    if (!w || w->state != PDC_WORKER_STARTING || pdc_rid_set(&w->rid, rid, rid_len))
        return NULL;
    snprintf(w->endpoint, sizeof w->endpoint, "%s", endpoint);
    snprintf(w->public_endpoint, sizeof w->public_endpoint, "%s", public_endpoint);
    runtime_state_t *r = s_runtime(self, w->runtime);
    if (r)
        r->failed = 0; /* its runtime's workers start */
    w->state = PDC_WORKER_IDLE;
    w->idle_since = uv_now(self->loop);
    return w;
}

pdc_worker_t *pdc_pool_find(pdc_pool_t *self, const uint8_t *id) {
    for (pdc_worker_t *w = self->workers; w; w = w->next)
        if (pdc_id_eq(w->id, id))
            return w;
    return NULL;
}

pdc_worker_t *pdc_pool_find_rid(pdc_pool_t *self, const void *rid, size_t len) {
    for (pdc_worker_t *w = self->workers; w; w = w->next)
        if (pdc_rid_is(&w->rid, rid, len))
            return w;
    return NULL;
}

/* The idle worker that has waited longest in the list (the oldest). */
pdc_worker_t *pdc_pool_take(pdc_pool_t *self, const char *runtime) {
    pdc_worker_t *idle = NULL;
    runtime = runtime ? runtime : "";
    for (pdc_worker_t *w = self->workers; w; w = w->next)
        if (w->state == PDC_WORKER_IDLE && !strcmp(w->runtime, runtime))
            idle = w;
    if (idle)
        idle->state = PDC_WORKER_LEASED;
    return idle;
}

void pdc_pool_give_back(pdc_pool_t *self, pdc_worker_t *w) {
    w->state = PDC_WORKER_IDLE;
    w->idle_since = uv_now(self->loop);
}

pdc_worker_state_t pdc_worker_state(const pdc_worker_t *w) {
    return w->state;
}

const uint8_t *pdc_worker_id(const pdc_worker_t *w) {
    return w->id;
}

int pdc_worker_pid(const pdc_worker_t *w) {
    return w->pid;
}

const char *pdc_worker_endpoint(const pdc_worker_t *w, int remote) {
    return remote && *w->public_endpoint ? w->public_endpoint : w->endpoint;
}

const char *pdc_worker_runtime(const pdc_worker_t *w) {
    return w->runtime;
}

const char *pdc_worker_job(const pdc_worker_t *w) {
    return w->job;
}

void pdc_worker_log_path(const pdc_worker_t *w, char *out, size_t len) {
    snprintf(out, len, "%s/logs/worker-%s.log", w->pool->session, w->idhex + PDC_ID_LEN);
}

pdc_worker_t *pdc_pool_next(pdc_pool_t *self, pdc_worker_t *w) {
    return w ? w->next : self->workers;
}

int pdc_pool_kill_job(pdc_pool_t *self, const char *job, int signum) {
    int n = 0;
    for (pdc_worker_t *w = self->workers; w; w = w->next)
        if (!strcmp(w->job, job)) {
            uv_process_kill(&w->proc, signum);
            if (w->state != PDC_WORKER_LEASED)
                w->state = PDC_WORKER_STOPPING; /* takes no lease on its way out */
            n++;
        }
    return n;
}

const pdc_rid_t *pdc_worker_rid(const pdc_worker_t *w) {
    return &w->rid;
}

void pdc_worker_set_lending(pdc_worker_t *w, int lending) {
    w->lending = lending;
}

void pdc_worker_kill(pdc_worker_t *w, int signum) {
    uv_process_kill(&w->proc, signum);
}

/* keep applies to each runtime's workers apart; a worker that lends
   objects stays (its borrowers would lose them). */
void pdc_pool_check(pdc_pool_t *self, uint64_t now_ms) {
    for (pdc_worker_t *w = self->workers; w; w = w->next)
        if (w->state == PDC_WORKER_IDLE && !w->lending && now_ms - w->idle_since > self->idle_ms &&
            s_count_of(self, PDC_WORKER_IDLE, w->runtime) > self->keep) {
            uv_process_kill(&w->proc, SIGTERM);
            w->state = PDC_WORKER_STOPPING; /* reaped on exit */
            w->rid.len = 0;
        }
    s_top_up(self);
}

void pdc_pool_stop(pdc_pool_t *self, int signum) {
    self->stopping = 1;
    for (pdc_worker_t *w = self->workers; w; w = w->next)
        uv_process_kill(&w->proc, signum);
}

int pdc_pool_size(pdc_pool_t *self) {
    int n = 0;
    for (pdc_worker_t *w = self->workers; w; w = w->next)
        n++;
    return n;
}

void pdc_pool_stats(pdc_pool_t *self, pdc_pool_stats_t *out) {
    out->starting = s_count(self, PDC_WORKER_STARTING);
    out->idle = s_count(self, PDC_WORKER_IDLE);
    out->leased = s_count(self, PDC_WORKER_LEASED);
    out->stopping = s_count(self, PDC_WORKER_STOPPING);
    out->started = self->started;
    out->lending = 0;
    for (pdc_worker_t *w = self->workers; w; w = w->next)
        out->lending += w->lending && w->state != PDC_WORKER_STOPPING;
}
