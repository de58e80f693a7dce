/*  pdc_job_runner: a raylet's jobs (see the header).

    Drivers, tails (log files being read) and stopped jobs are lists: a
    node runs a few jobs at a time. */
#include "pdc_job_runner.h"

#include "pdc.h"
#include "pdc_code.h"
#include "pdc_job.h"
#include "pdc_log.h"
#include "pdc_package.h"
#include "pdc_session.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* How often the log files of jobs are read. */
#define S_TAIL_MS 100
/* How long a stopped job's workers are stopped as they appear, and its
   objects deleted again. */
#define S_STOPPED_MS 10000
/* A line longer than this is sent in pieces. */
#define S_LINE_MAX (16 * 1024)
/* At most this much of one file is read in one round. */
#define S_READ_MAX (1024 * 1024)

typedef struct tail {
    char path[PATH_MAX + 80];
    char job[PDC_JOB_ID_MAX];
    char prefix[128]; /* before each line: "" for a driver */
    uint8_t worker_id[PDC_ID_LEN];
    int is_worker;
    off_t offset;
    char partial[S_LINE_MAX]; /* the start of a line not yet ended */
    size_t partial_len;
    struct tail *next;
} tail_t;

typedef struct driver {
    char job[PDC_JOB_ID_MAX];
    char dir[PATH_MAX]; /* SESSION/jobs/ID */
    char package[PDC_CODE_HASH_LEN + 1];
    char **argv, **env; /* kept until it starts */
    int waiting_package;
    uv_process_t proc;
    int pid, running;
    uint64_t kill_at; /* SIGKILL then (ms), if stopping */
    tail_t *tail;
    struct pdc_job_runner *runner;
    struct driver *next;
} driver_t;

typedef struct stopped {
    char job[PDC_JOB_ID_MAX];
    uint8_t tag[PDC_JOB_TAG_LEN];
    uint64_t since;
    int cleaned_sent; /* JOB_CLEANED went to the head for the last JOB_STOP */
    struct stopped *next;
} stopped_t;

struct pdc_job_runner {
    uv_loop_t *loop;
    char node_id[64];
    char session[PATH_MAX];
    char head_endpoint[PATH_MAX];
    void *head;
    pdc_pool_t *pool;
    pdc_store_t *store;
    pdc_transfers_t *transfers;
    pdc_code_cache_t *code;
    int64_t stop_grace_ms;
    size_t package_max_bytes;
    driver_t *drivers;
    tail_t *tails; /* of workers; a driver's is its own */
    stopped_t *stopped;
    uv_timer_t timer;
    pdc_enc_t enc;
    char *text; /* one JOB_LOG being put together */
    size_t text_len, text_cap;
};

static void s_on_tick(uv_timer_t *t);

pdc_job_runner_t *pdc_job_runner_new(uv_loop_t *loop, const pdc_job_runner_config_t *cfg) {
    pdc_job_runner_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->loop = loop;
    snprintf(self->node_id, sizeof self->node_id, "%s", cfg->node_id);
    snprintf(self->session, sizeof self->session, "%s", cfg->session);
    snprintf(self->head_endpoint, sizeof self->head_endpoint, "%s", cfg->head_endpoint);
    self->head = cfg->head;
    self->pool = cfg->pool;
    self->store = cfg->store;
    self->transfers = cfg->transfers;
    self->code = cfg->code;
    self->stop_grace_ms = cfg->stop_grace_ms;
    self->package_max_bytes = cfg->package_max_bytes;
    pdc_enc_init(&self->enc);
    uv_timer_init(loop, &self->timer);
    self->timer.data = self;
    uv_timer_start(&self->timer, s_on_tick, S_TAIL_MS, S_TAIL_MS);
    uv_unref((uv_handle_t *) &self->timer);
    return self;
}

static void s_driver_free(driver_t *d) {
    pdc_job_words_free(d->argv);
    pdc_job_words_free(d->env);
    free(d->tail);
    free(d);
}

static void s_on_timer_closed(uv_handle_t *h) {
    pdc_job_runner_t *self = h->data;
    pdc_enc_free(&self->enc);
    free(self->text);
    free(self);
}

void pdc_job_runner_destroy(pdc_job_runner_t **self_p) {
    pdc_job_runner_t *self = *self_p;
    if (!self)
        return;
    *self_p = NULL;
    while (self->drivers) { /* only those that never started are left */
        driver_t *d = self->drivers;
        self->drivers = d->next;
        s_driver_free(d);
    }
    while (self->tails) {
        tail_t *t = self->tails;
        self->tails = t->next;
        free(t);
    }
    while (self->stopped) {
        stopped_t *s = self->stopped;
        self->stopped = s->next;
        free(s);
    }
    uv_close((uv_handle_t *) &self->timer, s_on_timer_closed);
}

/* ---- Output ------------------------------------------------------------ */

static int s_text_add(pdc_job_runner_t *self, const char *bytes, size_t len) {
    if (!len)
        return 0;
    if (self->text_len + len > self->text_cap) {
        size_t cap = (self->text_len + len) * 2 + 4096;
        char *grown = realloc(self->text, cap);
        if (!grown)
            return -1;
        self->text = grown;
        self->text_cap = cap;
    }
    memcpy(self->text + self->text_len, bytes, len);
    self->text_len += len;
    return 0;
}

/* One line of t's (without its newline) into the text being put together. */
static void s_line(pdc_job_runner_t *self, tail_t *t, const char *line, size_t len) {
    s_text_add(self, t->prefix, strlen(t->prefix));
    s_text_add(self, t->partial, t->partial_len);
    s_text_add(self, line, len);
    s_text_add(self, "\n", 1);
    t->partial_len = 0;
}

/* Read what was added to t's file, and send its whole lines (all of it,
   the last line too, when final). */
static void s_read_tail(pdc_job_runner_t *self, tail_t *t, int final) {
    int fd = open(t->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    char buf[64 * 1024];
    self->text_len = 0;
    size_t read_now = 0;
    ssize_t n;
    while ((final || read_now < S_READ_MAX) && (n = pread(fd, buf, sizeof buf, t->offset)) > 0) {
        t->offset += n;
        read_now += (size_t) n;
        const char *at = buf, *end = buf + n;
        while (at < end) {
            const char *nl = memchr(at, '\n', (size_t) (end - at));
            if (nl) {
                s_line(self, t, at, (size_t) (nl - at));
                at = nl + 1;
                continue;
            }
            size_t rest = (size_t) (end - at), room = sizeof t->partial - t->partial_len;
            if (rest >= room) { /* a very long line: send what there is */
                s_line(self, t, at, room);
                at += room;
                continue;
            }
            memcpy(t->partial + t->partial_len, at, rest);
            t->partial_len += rest;
            at = end;
        }
    }
    close(fd);
    if (final && t->partial_len)
        s_line(self, t, "", 0);
    if (self->text_len && self->head) {
        pdc_enc_begin(&self->enc, PDC_MSG_JOB_LOG, 0);
        pdc_enc_s(&self->enc, t->job);
        pdc_enc_sn(&self->enc, self->text, self->text_len);
        pdc_wire_send(self->head, NULL, 0, &self->enc, NULL, 0);
    }
}

/* Tails for the job workers the pool started since the last round. */
static void s_find_new_workers(pdc_job_runner_t *self) {
    for (pdc_worker_t *w = pdc_pool_next(self->pool, NULL); w; w = pdc_pool_next(self->pool, w)) {
        if (!*pdc_worker_job(w))
            continue;
        tail_t *t = self->tails;
        while (t && !pdc_id_eq(t->worker_id, pdc_worker_id(w)))
            t = t->next;
        if (t || !(t = calloc(1, sizeof *t)))
            continue;
        t->is_worker = 1;
        memcpy(t->worker_id, pdc_worker_id(w), PDC_ID_LEN);
        snprintf(t->job, sizeof t->job, "%s", pdc_worker_job(w));
        snprintf(t->prefix, sizeof t->prefix, "(%s, pid=%d) ", self->node_id, pdc_worker_pid(w));
        pdc_worker_log_path(w, t->path, sizeof t->path);
        t->next = self->tails;
        self->tails = t;
    }
}

void pdc_job_runner_worker_exited(pdc_job_runner_t *self, pdc_worker_t *w) {
    for (tail_t **p = &self->tails; *p; p = &(*p)->next)
        if (pdc_id_eq((*p)->worker_id, pdc_worker_id(w))) {
            tail_t *t = *p;
            *p = t->next;
            s_read_tail(self, t, 1);
            free(t);
            return;
        }
    if (*pdc_worker_job(w)) { /* it came and went between two rounds */
        tail_t t = {.is_worker = 1};
        snprintf(t.job, sizeof t.job, "%s", pdc_worker_job(w));
        snprintf(t.prefix, sizeof t.prefix, "(%s, pid=%d) ", self->node_id, pdc_worker_pid(w));
        pdc_worker_log_path(w, t.path, sizeof t.path);
        s_read_tail(self, &t, 1);
    }
}

/* ---- Drivers ----------------------------------------------------------- */

static void s_send_exited(pdc_job_runner_t *self, const char *job, int64_t status,
                          const char *why) {
    if (!self->head)
        return;
    pdc_enc_begin(&self->enc, PDC_MSG_JOB_EXITED, 0);
    pdc_enc_s(&self->enc, job);
    pdc_enc_i(&self->enc, status);
    pdc_enc_s(&self->enc, why ? why : "");
    pdc_wire_send(self->head, NULL, 0, &self->enc, NULL, 0);
}

static void s_unlink_driver(pdc_job_runner_t *self, driver_t *d) {
    for (driver_t **p = &self->drivers; *p; p = &(*p)->next)
        if (*p == d) {
            *p = d->next;
            return;
        }
}

/* d could not be started: the head is told why, and d goes. */
static void s_failed(pdc_job_runner_t *self, driver_t *d, const char *why) {
    pdc_warn("job %s: %s", d->job, why);
    s_send_exited(self, d->job, 127, why);
    s_unlink_driver(self, d);
    pdc_session_remove(d->dir);
    s_driver_free(d);
}

static void s_on_driver_closed(uv_handle_t *h) {
    s_driver_free(h->data);
}

/* The driver exited: the rest of its output and its status go to the
   head, what it left running in its process group is killed, and its
   directory is removed. */
static void s_on_driver_exit(uv_process_t *proc, int64_t status, int sig) {
    driver_t *d = proc->data;
    pdc_job_runner_t *self = d->runner;
    d->running = 0;
    pdc_info("job %s: driver %d exited (%s %d)", d->job, d->pid, sig ? "signal" : "status",
             sig ? sig : (int) status);
    kill(-d->pid, SIGKILL);
    s_read_tail(self, d->tail, 1);
    s_send_exited(self, d->job, sig ? -sig : status, NULL);
    s_unlink_driver(self, d);
    pdc_session_remove(d->dir);
    uv_close((uv_handle_t *) proc, s_on_driver_closed);
}

int pdc_job_runner_exec_driver(int argc, char **argv) {
    if (argc < 3 || strcmp(argv[1], PDC_JOB_EXEC_OPTION))
        return -1;
    /* The raylet that started us may die without stopping us (SIGKILL):
       the kernel then kills the driver. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1)
        _exit(127); /* it died before the line above */
    execvp(argv[2], argv + 2);
    char cwd[PATH_MAX];
    fprintf(stderr, "pdc: cannot run '%s' in the job's working directory %s: %s\n", argv[2],
            getcwd(cwd, sizeof cwd) ? cwd : "?", strerror(errno));
    _exit(127);
}

/* The variables every driver gets, which the submitter's may not change. */
static int s_reserved(const char *var) {
    static const char *names[] = {"PDC_ADDRESS=", "PDC_NODE_ID=", PDC_JOB_ENV "=", "PDC_JOB_DIR="};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strncmp(var, names[i], strlen(names[i])))
            return 1;
    return 0;
}

/* Start d's command in its working directory. */
static void s_spawn(pdc_job_runner_t *self, driver_t *d) {
    char work[PATH_MAX + 8], logpath[PATH_MAX + 16], why[PATH_MAX + 300];
    snprintf(work, sizeof work, "%s/work", d->dir);
    snprintf(logpath, sizeof logpath, "%s/driver.log", d->dir);
    d->tail = calloc(1, sizeof *d->tail);
    if (!d->tail) {
        s_failed(self, d, "out of memory starting the driver");
        return;
    }
    snprintf(d->tail->path, sizeof d->tail->path, "%s", logpath);
    snprintf(d->tail->job, sizeof d->tail->job, "%s", d->job);
    int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(why, sizeof why, "cannot create %s: %s", logpath, strerror(errno));
        s_failed(self, d, why);
        return;
    }
    size_t n = 0;
    while (d->env[n])
        n++;
    char **extra = calloc(n + 6, sizeof *extra);
    char address[PATH_MAX + 16], node[96], job[PDC_JOB_ID_MAX + 16], dir[PATH_MAX + 16];
    snprintf(address, sizeof address, "PDC_ADDRESS=%s", self->head_endpoint);
    snprintf(node, sizeof node, "PDC_NODE_ID=%s", self->node_id);
    snprintf(job, sizeof job, "%s=%s", PDC_JOB_ENV, d->job);
    snprintf(dir, sizeof dir, "PDC_JOB_DIR=%s", work);
    char **env = NULL;
    if (extra) {
        size_t k = 0;
        extra[k++] = "PYTHONUNBUFFERED=1"; /* its output streams; the job's env may say 0 */
        for (size_t i = 0; i < n; i++)
            if (!s_reserved(d->env[i]))
                extra[k++] = d->env[i];
        extra[k++] = address;
        extra[k++] = node;
        extra[k++] = job;
        extra[k++] = dir;
        extra[k] = NULL;
        env = pdc_job_environ_list(extra);
    }
    uv_stdio_container_t stdio[3] = {{UV_IGNORE}, {UV_INHERIT_FD}, {UV_INHERIT_FD}};
    stdio[1].data.fd = stdio[2].data.fd = fd;
    /* The raylet's own binary starts the command (pdc_job_runner_exec_driver),
       so that the driver dies with the raylet. */
    size_t words = 0;
    while (d->argv[words])
        words++;
    char self_exe[] = "/proc/self/exe", option[] = PDC_JOB_EXEC_OPTION;
    char **args = calloc(words + 3, sizeof *args);
    if (args) {
        args[0] = self_exe;
        args[1] = option;
        memcpy(args + 2, d->argv, (words + 1) * sizeof *args);
    }
    uv_process_options_t opts = {.exit_cb = s_on_driver_exit,
                                 .file = self_exe,
                                 .args = args,
                                 .env = env,
                                 .cwd = work,
                                 .flags = UV_PROCESS_DETACHED,
                                 .stdio_count = 3,
                                 .stdio = stdio};
    d->proc.data = d;
    int rc = env && args ? uv_spawn(self->loop, &d->proc, &opts) : UV_ENOMEM;
    free(args);
    free(env);
    free(extra);
    close(fd);
    if (rc) {
        snprintf(why, sizeof why, "cannot run '%s' in the job's working directory %s: %s",
                 d->argv[0], work, uv_strerror(rc));
        if (env && args) { /* libuv holds the handle: it goes through uv_close */
            pdc_warn("job %s: %s", d->job, why);
            s_send_exited(self, d->job, 127, why);
            s_unlink_driver(self, d);
            pdc_session_remove(d->dir);
            uv_close((uv_handle_t *) &d->proc, s_on_driver_closed);
        } else {
            s_failed(self, d, why);
        }
        return;
    }
    d->pid = d->proc.pid;
    d->running = 1;
    pdc_info("job %s: driver %d started in %s: %s", d->job, d->pid, work, d->argv[0]);
    if (self->head) {
        pdc_enc_begin(&self->enc, PDC_MSG_JOB_STARTED, 0);
        pdc_enc_s(&self->enc, d->job);
        pdc_enc_u(&self->enc, (uint64_t) d->pid);
        pdc_wire_send(self->head, NULL, 0, &self->enc, NULL, 0);
    }
}

/* d's package is at path: unpack it into d's working directory and start. */
static void s_unpack_and_spawn(pdc_job_runner_t *self, driver_t *d, const char *path) {
    char work[PATH_MAX + 8], why[PATH_MAX + 400];
    snprintf(work, sizeof work, "%s/work", d->dir);
    void *bytes = NULL;
    size_t size = 0;
    if (path && pdc_code_read(path, self->package_max_bytes + (64u << 20), &bytes, &size, why,
                              sizeof why)) {
        s_failed(self, d, why);
        return;
    }
    int rc = path ? pdc_package_unpack(bytes, size, work, why, sizeof why) : mkdir(work, 0700);
    free(bytes);
    if (rc) {
        if (!path)
            snprintf(why, sizeof why, "cannot create %s: %s", work, strerror(errno));
        s_failed(self, d, why);
        return;
    }
    s_spawn(self, d);
}

void pdc_job_runner_package_ready(pdc_job_runner_t *self, const char *hash, const char *path,
                                  const char *why) {
    for (driver_t *d = self->drivers, *next; d; d = next) {
        next = d->next;
        if (!d->waiting_package || strcmp(d->package, hash))
            continue;
        d->waiting_package = 0;
        if (path) {
            s_unpack_and_spawn(self, d, path);
        } else {
            char what[600];
            snprintf(what, sizeof what, "cannot get the job's working directory: %s", why);
            s_failed(self, d, what);
        }
    }
}

static void s_on_start(pdc_job_runner_t *self, pdc_inbound_t *in) {
    const msgpack_object *f = in->msg.fields;
    char job[PDC_JOB_ID_MAX + 1], why[400];
    pdc_f_cstr(&f[PDC_JOB_START_JOB_ID], job, sizeof job);
    if (f[PDC_JOB_START_JOB_ID].via.str.size >= PDC_JOB_ID_MAX ||
        pdc_job_id_check(job, why, sizeof why) || !pdc_f_count(&f[PDC_JOB_START_ARGV])) {
        pdc_warn("JOB_START refused: %s", pdc_f_count(&f[PDC_JOB_START_ARGV]) ? why : "no command");
        return;
    }
    for (driver_t *d = self->drivers; d; d = d->next)
        if (!strcmp(d->job, job))
            return; /* already here */
    size_t hlen;
    const char *hash = pdc_f_str(&f[PDC_JOB_START_PACKAGE], &hlen);
    driver_t *d = calloc(1, sizeof *d);
    if (!d)
        return;
    d->runner = self;
    snprintf(d->job, sizeof d->job, "%s", job);
    snprintf(d->dir, sizeof d->dir, "%s/jobs/%s", self->session, job);
    d->argv = pdc_job_words_copy(&f[PDC_JOB_START_ARGV]);
    d->env = pdc_job_words_copy(&f[PDC_JOB_START_ENV]);
    d->next = self->drivers;
    self->drivers = d;
    char jobs[PATH_MAX + 8];
    snprintf(jobs, sizeof jobs, "%s/jobs", self->session);
    mkdir(jobs, 0700);
    if (!d->argv || !d->env) {
        s_failed(self, d, "out of memory starting the driver");
        return;
    }
    if (mkdir(d->dir, 0700) && errno != EEXIST) {
        snprintf(why, sizeof why, "cannot create the job's directory %s: %s", d->dir,
                 strerror(errno));
        s_failed(self, d, why);
        return;
    }
    if (hlen && pdc_code_hash_valid(hash, hlen)) {
        memcpy(d->package, hash, PDC_CODE_HASH_LEN);
        d->waiting_package = 1;
        pdc_code_cache_fetch(self->code, d->package, self->head, uv_now(self->loop));
    } else {
        s_unpack_and_spawn(self, d, NULL);
    }
}

/* ---- Stopping ---------------------------------------------------------- */

static driver_t *s_running_driver(pdc_job_runner_t *self, const char *job) {
    for (driver_t *d = self->drivers; d; d = d->next)
        if (d->running && !strcmp(d->job, job))
            return d;
    return NULL;
}

static void s_on_stop(pdc_job_runner_t *self, pdc_inbound_t *in) {
    char job[PDC_JOB_ID_MAX + 1], why[200];
    pdc_f_cstr(&in->msg.fields[PDC_JOB_STOP_JOB_ID], job, sizeof job);
    if (pdc_job_id_check(job, why, sizeof why))
        return;
    uint64_t now = uv_now(self->loop);
    for (driver_t *d = self->drivers, *next; d; d = next) {
        next = d->next;
        if (strcmp(d->job, job))
            continue;
        if (d->running && !d->kill_at) {
            pdc_info("job %s: stopping driver %d", job, d->pid);
            kill(-d->pid, SIGTERM);
            d->kill_at = now + (uint64_t) self->stop_grace_ms;
        } else if (d->waiting_package) {
            d->waiting_package = 0;
            s_failed(self, d, "stopped before it started");
        }
    }
    int killed = pdc_pool_kill_job(self->pool, job, SIGKILL);
    if (killed)
        pdc_info("job %s: stopping its %d workers", job, killed);
    stopped_t *s = self->stopped;
    while (s && strcmp(s->job, job))
        s = s->next;
    if (!s && (s = calloc(1, sizeof *s))) {
        snprintf(s->job, sizeof s->job, "%s", job);
        pdc_job_tag(job, s->tag);
        s->next = self->stopped;
        self->stopped = s;
    }
    if (s) {
        s->since = now;
        s->cleaned_sent = 0;
    }
}

/* A stopped job: workers started for it since are stopped; once none of
   its processes are left here, its objects are deleted (again each
   round, for S_STOPPED_MS). */
static void s_check_stopped(pdc_job_runner_t *self, uint64_t now) {
    for (stopped_t **p = &self->stopped; *p;) {
        stopped_t *s = *p;
        int left =
            pdc_pool_kill_job(self->pool, s->job, SIGKILL) + !!s_running_driver(self, s->job);
        if (!left && self->store) {
            if (self->transfers)
                pdc_transfers_end_prefix(self->transfers, s->tag, PDC_JOB_TAG_LEN,
                                         "its job was stopped");
            long gone = pdc_store_delete_prefix(self->store, s->tag, PDC_JOB_TAG_LEN);
            if (gone > 0)
                pdc_info("job %s: %ld of its objects deleted from the store", s->job, gone);
            else if (gone < 0)
                pdc_warn("job %s: deleting its objects: %s", s->job, pdc_store_last_error());
        }
        if (!left && !s->cleaned_sent && self->head) {
            pdc_enc_begin(&self->enc, PDC_MSG_JOB_CLEANED, 0);
            pdc_enc_s(&self->enc, s->job);
            pdc_wire_send(self->head, NULL, 0, &self->enc, NULL, 0);
            s->cleaned_sent = 1;
        }
        if (!left && now - s->since > S_STOPPED_MS) {
            *p = s->next;
            free(s);
        } else {
            p = &s->next;
        }
    }
}

void pdc_job_runner_on_head(pdc_job_runner_t *self, pdc_inbound_t *in) {
    if (in->msg.type == PDC_MSG_JOB_START)
        s_on_start(self, in);
    else if (in->msg.type == PDC_MSG_JOB_STOP)
        s_on_stop(self, in);
}

static void s_on_tick(uv_timer_t *timer) {
    pdc_job_runner_t *self = timer->data;
    uint64_t now = uv_now(self->loop);
    s_find_new_workers(self);
    for (tail_t *t = self->tails; t; t = t->next)
        s_read_tail(self, t, 0);
    for (driver_t *d = self->drivers; d; d = d->next) {
        if (d->running)
            s_read_tail(self, d->tail, 0);
        if (d->running && d->kill_at && now >= d->kill_at) {
            pdc_warn("job %s: driver %d did not stop within %lld ms of SIGTERM: SIGKILL", d->job,
                     d->pid, (long long) self->stop_grace_ms);
            kill(-d->pid, SIGKILL);
            d->kill_at = UINT64_MAX;
        }
    }
    s_check_stopped(self, now);
}

void pdc_job_runner_stop(pdc_job_runner_t *self, int signum) {
    for (driver_t *d = self->drivers; d; d = d->next)
        if (d->running)
            kill(-d->pid, signum);
}

int pdc_job_runner_drivers(pdc_job_runner_t *self) {
    int n = 0;
    for (driver_t *d = self->drivers; d; d = d->next)
        n += d->running;
    return n;
}
