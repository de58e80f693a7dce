/*  pdc_jobs_table: the head's jobs (see the header).

    Jobs are a list, newest first; a head keeps a few hundred at most
    (job_history ended ones, and those running), so lookups walk it. */
#include "pdc_jobs_table.h"

#include "pdc.h"
#include "pdc_code.h"
#include "pdc_id.h"
#include "pdc_job.h"
#include "pdc_labels.h"
#include "pdc_log.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_COMMAND_MAX  1024
#define S_MESSAGE_MAX  512
#define S_SELECTOR_MAX 256
#define S_ARGS_MAX     256  /* words of a command, and variables of its env */
#define S_ARG_MAX      4096 /* bytes of one */
/* How long past shutdown_timeout_ms an ending job waits for its nodes. */
#define S_CLEAN_SLACK_MS 5000

typedef struct follower {
    uint8_t rid[256];
    size_t rid_len;
    uint64_t request;
    struct follower *next;
} follower_t;

typedef struct job {
    char id[PDC_JOB_ID_MAX];
    char command[S_COMMAND_MAX]; /* the words, for people */
    char **argv, **env;          /* NULL-terminated, for JOB_START */
    char package[PDC_CODE_HASH_LEN + 1];
    pdc_resources_t want;
    char selector[S_SELECTOR_MAX];
    pdc_job_state state;
    char node[64];
    int started_on_node; /* JOB_START sent */
    int stop_requested;
    uint64_t submitted_ms, start_ms, end_ms, pid;
    int64_t status;
    char message[S_MESSAGE_MAX];
    char *log; /* the last job_log_max_bytes of output */
    size_t log_len;
    uint64_t log_dropped;
    follower_t *followers;
    /* Ending: the outcome, kept until the nodes have cleaned up. */
    int ending;
    pdc_job_state final_state;
    uint64_t ending_deadline;
    char (*awaiting)[64]; /* the nodes that have not sent JOB_CLEANED */
    int nawaiting;
    struct job *next;
} job_t;

struct pdc_jobs_table {
    pdc_jobs_table_config_t cfg;
    job_t *jobs;
    pdc_enc_t enc;
};

static void s_job_free(job_t *j);
static void s_load_job(void *arg, const void *key, size_t key_len, const msgpack_object *f,
                       uint32_t count);

/* The table of jobs in the head's database, and its rows: job id ->
   (command, argv, env, package, resources, selector, state, node,
   started_on_node, stop_requested, submitted, start, end, pid, status,
   message, log). */
#define S_JOBS    "jobs"
#define S_JOB_ROW "(s*s*ss{}susuuuuuuiss)"
enum {
    S_JOB_COMMAND,
    S_JOB_ARGV,
    S_JOB_ENV,
    S_JOB_PACKAGE,
    S_JOB_RESOURCES,
    S_JOB_SELECTOR,
    S_JOB_STATE,
    S_JOB_NODE,
    S_JOB_STARTED_ON_NODE,
    S_JOB_STOP_REQUESTED,
    S_JOB_SUBMITTED,
    S_JOB_START,
    S_JOB_END,
    S_JOB_PID,
    S_JOB_STATUS,
    S_JOB_MESSAGE,
    S_JOB_LOG,
    S_JOB_NFIELDS
};

pdc_jobs_table_t *pdc_jobs_table_new(const pdc_jobs_table_config_t *cfg) {
    pdc_jobs_table_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    pdc_enc_init(&self->enc);
    int n = pdc_head_db_each(cfg->db, S_JOBS, S_JOB_ROW, s_load_job, self);
    if (n < 0)
        pdc_warn("jobs not read back: %s", pdc_head_db_error(cfg->db));
    else if (n)
        pdc_info("read back %d jobs (%d running, %d pending)", n,
                 pdc_jobs_table_count(self, PDC_JOB_RUNNING),
                 pdc_jobs_table_count(self, PDC_JOB_PENDING));
    return self;
}

static void s_job_free(job_t *j) {
    while (j->followers) {
        follower_t *f = j->followers;
        j->followers = f->next;
        free(f);
    }
    pdc_job_words_free(j->argv);
    pdc_job_words_free(j->env);
    free(j->log);
    free(j->awaiting);
    free(j);
}

void pdc_jobs_table_destroy(pdc_jobs_table_t **self_p) {
    pdc_jobs_table_t *self = *self_p;
    if (!self)
        return;
    *self_p = NULL;
    while (self->jobs) {
        job_t *j = self->jobs;
        self->jobs = j->next;
        s_job_free(j);
    }
    pdc_enc_free(&self->enc);
    free(self);
}

static job_t *s_job(pdc_jobs_table_t *self, const char *id) {
    for (job_t *j = self->jobs; j; j = j->next)
        if (!strcmp(j->id, id))
            return j;
    return NULL;
}

int pdc_jobs_table_count(pdc_jobs_table_t *self, int state) {
    int n = 0;
    for (job_t *j = self->jobs; j; j = j->next)
        n += (int) j->state == state;
    return n;
}

/* ---- Across a restart --------------------------------------------------- */

static void s_enc_words(pdc_enc_t *enc, char **words) {
    size_t n = 0;
    while (words && words[n])
        n++;
    pdc_enc_array(enc, n);
    for (size_t i = 0; i < n; i++)
        pdc_enc_s(enc, words[i]);
}

/* Write j's row: as it will be once its nodes have cleaned up if it is
   ending, with its output once it has ended. */
static void s_save(pdc_jobs_table_t *self, const job_t *j) {
    if (!self->cfg.db)
        return;
    pdc_enc_t *e = &self->enc;
    pdc_head_db_row(e);
    pdc_enc_array(e, S_JOB_NFIELDS);
    pdc_enc_s(e, j->command);
    s_enc_words(e, j->argv);
    s_enc_words(e, j->env);
    pdc_enc_s(e, j->package);
    pdc_resources_encode(&j->want, e);
    pdc_enc_s(e, j->selector);
    pdc_enc_u(e, (uint64_t) (j->ending ? j->final_state : j->state));
    pdc_enc_s(e, j->node);
    pdc_enc_u(e, (uint64_t) j->started_on_node);
    pdc_enc_u(e, (uint64_t) j->stop_requested);
    pdc_enc_u(e, j->submitted_ms);
    pdc_enc_u(e, j->start_ms);
    pdc_enc_u(e, j->end_ms);
    pdc_enc_u(e, j->pid);
    pdc_enc_i(e, j->status);
    pdc_enc_s(e, j->message);
    if (pdc_job_state_ended(j->state) && j->log)
        pdc_enc_sn(e, j->log, j->log_len);
    else
        pdc_enc_s(e, "");
    if (pdc_head_db_put(self->cfg.db, S_JOBS, j->id, strlen(j->id), e))
        pdc_warn("job %s: %s", j->id, pdc_head_db_error(self->cfg.db));
}

static void s_load_job(void *arg, const void *key, size_t key_len, const msgpack_object *f,
                       uint32_t count) {
    (void) count;
    pdc_jobs_table_t *self = arg;
    job_t *j = calloc(1, sizeof *j);
    if (!j || key_len >= sizeof j->id) {
        free(j);
        return;
    }
    memcpy(j->id, key, key_len);
    pdc_f_cstr(&f[S_JOB_COMMAND], j->command, sizeof j->command);
    j->argv = pdc_job_words_copy(&f[S_JOB_ARGV]);
    j->env = pdc_job_words_copy(&f[S_JOB_ENV]);
    if (!j->argv || !j->env || pdc_job_id_check(j->id, j->message, sizeof j->message) ||
        pdc_f_u(&f[S_JOB_STATE]) > PDC_JOB_STOPPED) {
        pdc_warn("the head's database: job row %.*s not read back", (int) key_len,
                 (const char *) key);
        s_job_free(j);
        return;
    }
    pdc_f_cstr(&f[S_JOB_PACKAGE], j->package, sizeof j->package);
    pdc_resources_decode(&f[S_JOB_RESOURCES], &j->want);
    pdc_f_cstr(&f[S_JOB_SELECTOR], j->selector, sizeof j->selector);
    j->state = (pdc_job_state) pdc_f_u(&f[S_JOB_STATE]);
    pdc_f_cstr(&f[S_JOB_NODE], j->node, sizeof j->node);
    j->started_on_node = (int) pdc_f_u(&f[S_JOB_STARTED_ON_NODE]);
    j->stop_requested = (int) pdc_f_u(&f[S_JOB_STOP_REQUESTED]);
    j->submitted_ms = pdc_f_u(&f[S_JOB_SUBMITTED]);
    j->start_ms = pdc_f_u(&f[S_JOB_START]);
    j->end_ms = pdc_f_u(&f[S_JOB_END]);
    j->pid = pdc_f_u(&f[S_JOB_PID]);
    j->status = pdc_f_i(&f[S_JOB_STATUS]);
    pdc_f_cstr(&f[S_JOB_MESSAGE], j->message, sizeof j->message);
    size_t len;
    const char *log = pdc_f_str(&f[S_JOB_LOG], &len);
    size_t max = (size_t) self->cfg.cfg->job_log_max_bytes;
    if (len > max) {
        log += len - max;
        len = max;
    }
    if (len && (j->log = malloc(max))) {
        memcpy(j->log, log, len);
        j->log_len = len;
    }
    /* Newest first, as submitted. */
    job_t **p = &self->jobs;
    while (*p && (*p)->submitted_ms > j->submitted_ms)
        p = &(*p)->next;
    j->next = *p;
    *p = j;
}

/* ---- Who may submit ---------------------------------------------------- */

/* Whether the IPv4 address a (network order) is one of this host's. */
static int s_is_own_address(const struct sockaddr *want) {
    struct ifaddrs *list;
    if (getifaddrs(&list))
        return 0;
    int own = 0;
    for (struct ifaddrs *i = list; i && !own; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != want->sa_family)
            continue;
        if (want->sa_family == AF_INET)
            own = ((const struct sockaddr_in *) i->ifa_addr)->sin_addr.s_addr ==
                  ((const struct sockaddr_in *) want)->sin_addr.s_addr;
        else
            own =
                !memcmp(&((const struct sockaddr_in6 *) i->ifa_addr)->sin6_addr,
                        &((const struct sockaddr_in6 *) want)->sin6_addr, sizeof(struct in6_addr));
    }
    freeifaddrs(list);
    return own;
}

int pdc_peer_is_local(zmq_msg_t *frame, char *peer, size_t len) {
    const char *address = zmq_msg_gets(frame, "Peer-Address");
    snprintf(peer, len, "%s", address && *address ? address : "this host (ipc)");
    if (!address || !*address)
        return 1; /* ipc: only this host reaches the socket file */
    struct sockaddr_in v4 = {.sin_family = AF_INET};
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6};
    if (inet_pton(AF_INET, address, &v4.sin_addr) == 1)
        return (ntohl(v4.sin_addr.s_addr) >> 24) == 127 || s_is_own_address((void *) &v4);
    if (inet_pton(AF_INET6, address, &v6.sin6_addr) == 1) {
        if (IN6_IS_ADDR_LOOPBACK(&v6.sin6_addr))
            return 1;
        if (IN6_IS_ADDR_V4MAPPED(&v6.sin6_addr)) {
            memcpy(&v4.sin_addr, &v6.sin6_addr.s6_addr[12], 4);
            return (ntohl(v4.sin_addr.s_addr) >> 24) == 127 || s_is_own_address((void *) &v4);
        }
        return s_is_own_address((void *) &v6);
    }
    return 0;
}

/* 1 if in's sender may submit or stop jobs; otherwise refused (ERROR
   naming the rule, and a log line with its address). */
static int s_may_run_jobs(pdc_jobs_table_t *self, pdc_inbound_t *in, const char *what) {
    char peer[128];
    if (self->cfg.insecure_jobs || pdc_peer_is_local(&in->frames[1], peer, sizeof peer))
        return 1;
    char why[400];
    snprintf(why, sizeof why,
             "%s refused: this head takes jobs only from its own host (loopback or one of its "
             "addresses), and %s is another; start the head with --insecure-jobs to take them "
             "from any host that reaches it",
             what, peer);
    pdc_warn("refused %s from %s: not this host, and the head runs without --insecure-jobs", what,
             peer);
    pdc_wire_reply_error(self->cfg.router, in, &self->enc, PDC_EINVAL, why);
    return 0;
}

/* ---- Rows, logs, followers --------------------------------------------- */

static void s_enc_row(pdc_jobs_table_t *self, const job_t *j) {
    pdc_enc_array(&self->enc, PDC_JOB_ROW_NFIELDS);
    pdc_enc_s(&self->enc, j->id);
    pdc_enc_s(&self->enc, j->command);
    pdc_enc_u(&self->enc, (uint64_t) j->state);
    pdc_enc_s(&self->enc, j->node);
    pdc_enc_u(&self->enc, j->submitted_ms);
    pdc_enc_u(&self->enc, j->start_ms);
    pdc_enc_u(&self->enc, j->end_ms);
    pdc_enc_i(&self->enc, j->status);
    pdc_enc_s(&self->enc, j->message);
    pdc_enc_u(&self->enc, j->pid);
}

static void s_reply_rows(pdc_jobs_table_t *self, pdc_inbound_t *in, job_t *only) {
    size_t n = 0;
    for (job_t *j = self->jobs; j; j = j->next)
        n += !only || j == only;
    pdc_enc_begin(&self->enc, PDC_MSG_JOB_TABLE, in->msg.request_id);
    pdc_enc_array(&self->enc, n);
    for (job_t *j = self->jobs; j; j = j->next)
        if (!only || j == only)
            s_enc_row(self, j);
    pdc_wire_reply(self->cfg.router, in, &self->enc);
}

static void s_follow(job_t *j, pdc_inbound_t *in) {
    follower_t *f = calloc(1, sizeof *f);
    size_t len = zmq_msg_size(&in->frames[0]);
    if (!f || len > sizeof f->rid) {
        free(f);
        return;
    }
    memcpy(f->rid, zmq_msg_data(&in->frames[0]), len);
    f->rid_len = len;
    f->request = in->msg.request_id;
    f->next = j->followers;
    j->followers = f;
}

static void s_send_log(pdc_jobs_table_t *self, const job_t *j, const void *rid, size_t rid_len,
                       uint64_t request, const char *text, size_t len) {
    pdc_enc_begin(&self->enc, PDC_MSG_JOB_LOG, request);
    pdc_enc_s(&self->enc, j->id);
    pdc_enc_sn(&self->enc, text, len);
    pdc_wire_send(self->cfg.router, rid, rid_len, &self->enc, NULL, 0);
}

/* Keep text in j's log (the oldest whole lines go past the limit) and
   send it to j's followers. */
static void s_append_log(pdc_jobs_table_t *self, job_t *j, const char *text, size_t len) {
    size_t max = (size_t) self->cfg.cfg->job_log_max_bytes;
    if (!len)
        return;
    if (len > max) { /* only the end of a huge chunk is kept */
        j->log_dropped += len - max;
        text += len - max;
        len = max;
    }
    if (j->log_len + len > max) {
        size_t cut = j->log_len + len - max;
        const char *nl = memchr(j->log + cut, '\n', j->log_len - cut);
        cut = nl ? (size_t) (nl + 1 - j->log) : j->log_len;
        memmove(j->log, j->log + cut, j->log_len - cut);
        j->log_len -= cut;
        j->log_dropped += cut;
    }
    if (!j->log && !(j->log = malloc(max)))
        return;
    memcpy(j->log + j->log_len, text, len);
    j->log_len += len;
    for (follower_t *f = j->followers; f; f = f->next)
        s_send_log(self, j, f->rid, f->rid_len, f->request, text, len);
}

/* What the head kept of j's output, to one submitter. */
static void s_replay_log(pdc_jobs_table_t *self, const job_t *j, pdc_inbound_t *in) {
    char note[200] = "";
    if (j->log_dropped)
        snprintf(note, sizeof note,
                 "[pdc: %llu earlier bytes of this job's output were dropped: the head keeps "
                 "the last %lld (job_log_max_bytes)]\n",
                 (unsigned long long) j->log_dropped, (long long) self->cfg.cfg->job_log_max_bytes);
    size_t n = strlen(note);
    char *all = malloc(n + j->log_len + 1);
    if (!all)
        return;
    memcpy(all, note, n);
    if (j->log_len)
        memcpy(all + n, j->log, j->log_len);
    s_send_log(self, j, zmq_msg_data(&in->frames[0]), zmq_msg_size(&in->frames[0]),
               in->msg.request_id, all, n + j->log_len);
    free(all);
}

/* Forget the oldest ended jobs past job_history. */
static void s_trim_history(pdc_jobs_table_t *self) {
    int64_t ended = 0;
    for (job_t **p = &self->jobs; *p;) {
        job_t *j = *p;
        if (pdc_job_state_ended(j->state) && ++ended > self->cfg.cfg->job_history) {
            *p = j->next;
            if (pdc_head_db_delete(self->cfg.db, S_JOBS, j->id, strlen(j->id)))
                pdc_warn("job %s: %s", j->id, pdc_head_db_error(self->cfg.db));
            s_job_free(j);
        } else {
            p = &j->next;
        }
    }
}

/* The job has ended: its row is final and its followers get JOB_DONE. */
static void s_finish(pdc_jobs_table_t *self, job_t *j) {
    j->state = j->final_state;
    j->ending = 0;
    free(j->awaiting);
    j->awaiting = NULL;
    j->nawaiting = 0;
    pdc_info("job %s %s%s%s", j->id, pdc_job_state_name(j->state), *j->message ? ": " : "",
             j->message);
    s_save(self, j);
    while (j->followers) {
        follower_t *f = j->followers;
        j->followers = f->next;
        pdc_enc_begin(&self->enc, PDC_MSG_JOB_DONE, f->request);
        s_enc_row(self, j);
        pdc_wire_send(self->cfg.router, f->rid, f->rid_len, &self->enc, NULL, 0);
        free(f);
    }
}

/* The job ends with state: every live node stops what is left of it
   and says when it has; the end is final once they all have. */
static void s_end(pdc_jobs_table_t *self, job_t *j, pdc_job_state state, int64_t status,
                  const char *message, uint64_t now_ms) {
    if (pdc_job_state_ended(j->state) || j->ending)
        return;
    j->ending = 1;
    j->final_state = state;
    j->status = status;
    j->end_ms = now_ms;
    snprintf(j->message, sizeof j->message, "%s", message);
    j->ending_deadline = now_ms + (uint64_t) self->cfg.cfg->shutdown_timeout_ms + S_CLEAN_SLACK_MS;
    int live = self->cfg.live_nodes(self->cfg.arg, NULL, 0);
    j->awaiting = live > 0 ? calloc((size_t) live, sizeof *j->awaiting) : NULL;
    j->nawaiting = j->awaiting ? self->cfg.live_nodes(self->cfg.arg, j->awaiting, live) : 0;
    s_save(self, j);
    pdc_enc_begin(&self->enc, PDC_MSG_JOB_STOP, 0);
    pdc_enc_s(&self->enc, j->id);
    self->cfg.send(self->cfg.arg, NULL, &self->enc);
    if (!j->nawaiting)
        s_finish(self, j);
}

/* node has no more of j (it cleaned up, or died). */
static void s_node_done(pdc_jobs_table_t *self, job_t *j, const char *node) {
    for (int i = 0; i < j->nawaiting; i++)
        if (!strcmp(j->awaiting[i], node)) {
            memcpy(j->awaiting[i], j->awaiting[--j->nawaiting], sizeof j->awaiting[i]);
            break;
        }
    if (j->ending && !j->nawaiting)
        s_finish(self, j);
}

/* Find j a node and send it JOB_START; it stays PENDING until then. */
static void s_try_start(pdc_jobs_table_t *self, job_t *j) {
    char why[S_MESSAGE_MAX];
    if (self->cfg.place(self->cfg.arg, &j->want, j->selector, j->node, sizeof j->node, why,
                        sizeof why)) {
        snprintf(j->message, sizeof j->message, "waiting for a node: %s", why);
        return;
    }
    j->message[0] = '\0';
    pdc_enc_begin(&self->enc, PDC_MSG_JOB_START, 0);
    pdc_enc_s(&self->enc, j->id);
    pdc_enc_s(&self->enc, j->package);
    size_t n = 0;
    while (j->argv[n])
        n++;
    pdc_enc_array(&self->enc, n);
    for (size_t i = 0; i < n; i++)
        pdc_enc_s(&self->enc, j->argv[i]);
    for (n = 0; j->env[n];)
        n++;
    pdc_enc_array(&self->enc, n);
    for (size_t i = 0; i < n; i++)
        pdc_enc_s(&self->enc, j->env[i]);
    if (self->cfg.send(self->cfg.arg, j->node, &self->enc)) {
        snprintf(j->message, sizeof j->message, "waiting for a node: node %s cannot be reached",
                 j->node);
        j->node[0] = '\0';
        return;
    }
    j->started_on_node = 1;
    s_save(self, j);
    pdc_info("job %s: starting on node %s: %s", j->id, j->node, j->command);
}

/* ---- Submitters -------------------------------------------------------- */

/* A validated *s list into a NULL-terminated copy; NULL with why. */
static char **s_words(const msgpack_object *list, const char *what, int need_equals, char *why,
                      size_t len) {
    uint32_t n = pdc_f_count(list);
    if (n > S_ARGS_MAX) {
        snprintf(why, len, "a job's %s has at most %d entries, not %u", what, S_ARGS_MAX, n);
        return NULL;
    }
    for (uint32_t i = 0; i < n; i++) {
        size_t size;
        const char *text = pdc_f_str(pdc_f_at(list, i), &size);
        if (size >= S_ARG_MAX || memchr(text, '\0', size) ||
            (need_equals && (!memchr(text, '=', size) || text[0] == '='))) {
            snprintf(why, len, "the job's %s entry %u is not %s", what, i,
                     size >= S_ARG_MAX          ? "shorter than 4096 bytes"
                     : memchr(text, '\0', size) ? "free of NUL bytes"
                                                : "NAME=VALUE");
            return NULL;
        }
    }
    char **words = pdc_job_words_copy(list);
    if (!words)
        snprintf(why, len, "out of memory for the job's %s", what);
    return words;
}

/* The words joined by spaces, a word with a space or nothing quoted. */
static void s_join(char **words, char *out, size_t len) {
    size_t at = 0;
    out[0] = '\0';
    for (size_t i = 0; words[i] && at < len; i++) {
        int quote = !*words[i] || strpbrk(words[i], " \t\"'");
        at += (size_t) snprintf(out + at, len - at, quote ? "%s'%s'" : "%s%s", i ? " " : "",
                                words[i]);
    }
}

static void s_on_submit(pdc_jobs_table_t *self, pdc_inbound_t *in, uint64_t now_ms) {
    if (!s_may_run_jobs(self, in, "job submission"))
        return;
    const msgpack_object *f = in->msg.fields;
    char why[S_MESSAGE_MAX], id[PDC_JOB_ID_MAX + 1], selector[S_SELECTOR_MAX];
    size_t idlen, hlen;
    pdc_f_str(&f[PDC_JOB_SUBMIT_JOB_ID], &idlen);
    pdc_f_cstr(&f[PDC_JOB_SUBMIT_JOB_ID], id, sizeof id);
    if (!idlen) {
        char hex[17];
        snprintf(id, sizeof id, "job-%s", pdc_random_hex(hex, 12));
    }
    const char *hash = pdc_f_str(&f[PDC_JOB_SUBMIT_PACKAGE], &hlen);
    pdc_selector_t parsed;
    int bad = 1;
    if (idlen >= PDC_JOB_ID_MAX || pdc_job_id_check(id, why, sizeof why)) {
        if (idlen >= PDC_JOB_ID_MAX)
            snprintf(why, sizeof why, "a job id has at most %d characters", PDC_JOB_ID_MAX - 1);
    } else if (s_job(self, id)) {
        snprintf(why, sizeof why, "there is a job %s already: choose another --job-id", id);
    } else if (!pdc_f_count(&f[PDC_JOB_SUBMIT_ARGV])) {
        snprintf(why, sizeof why, "a job needs a command");
    } else if (hlen && !pdc_code_hash_valid(hash, hlen)) {
        snprintf(why, sizeof why, "a package hash is 64 lowercase hex digits");
    } else if (f[PDC_JOB_SUBMIT_LABEL_SELECTOR].via.str.size >= sizeof selector ||
               pdc_selector_parse(
                   pdc_f_cstr(&f[PDC_JOB_SUBMIT_LABEL_SELECTOR], selector, sizeof selector),
                   &parsed, why, sizeof why)) {
        if (f[PDC_JOB_SUBMIT_LABEL_SELECTOR].via.str.size >= sizeof selector)
            snprintf(why, sizeof why, "the label selector is too long");
    } else {
        bad = 0;
    }
    char package[PDC_CODE_HASH_LEN + 1] = "";
    if (!bad && hlen) {
        memcpy(package, hash, PDC_CODE_HASH_LEN);
        package[PDC_CODE_HASH_LEN] = '\0';
        if (!self->cfg.has_code(self->cfg.arg, package)) {
            snprintf(why, sizeof why, "the head has no package %s: upload it first (CODE_PUT)",
                     package);
            pdc_wire_reply_error(self->cfg.router, in, &self->enc, PDC_ENOTFOUND, why);
            return;
        }
    }
    job_t *j = bad ? NULL : calloc(1, sizeof *j);
    if (!bad && j) {
        j->argv = s_words(&f[PDC_JOB_SUBMIT_ARGV], "command", 0, why, sizeof why);
        j->env =
            j->argv ? s_words(&f[PDC_JOB_SUBMIT_ENV], "environment", 1, why, sizeof why) : NULL;
        if (!j->env) {
            s_job_free(j);
            j = NULL;
            bad = 1;
        }
    } else if (!bad) {
        snprintf(why, sizeof why, "out of memory for a job");
        bad = 1;
    }
    if (bad) {
        pdc_wire_reply_error(self->cfg.router, in, &self->enc, PDC_EINVAL, why);
        return;
    }
    snprintf(j->id, sizeof j->id, "%s", id);
    snprintf(j->package, sizeof j->package, "%s", package);
    snprintf(j->selector, sizeof j->selector, "%s", selector);
    pdc_resources_decode(&f[PDC_JOB_SUBMIT_RESOURCES], &j->want);
    s_join(j->argv, j->command, sizeof j->command);
    j->state = PDC_JOB_PENDING;
    j->submitted_ms = now_ms;
    j->next = self->jobs;
    self->jobs = j;
    char peer[128];
    pdc_peer_is_local(&in->frames[1], peer, sizeof peer);
    pdc_info("job %s submitted from %s: %s", j->id, peer, j->command);
    if (pdc_f_u(&f[PDC_JOB_SUBMIT_FOLLOW]))
        s_follow(j, in);
    s_save(self, j);
    s_try_start(self, j);
    s_reply_rows(self, in, j);
}

static job_t *s_job_or_error(pdc_jobs_table_t *self, pdc_inbound_t *in,
                             const msgpack_object *field) {
    char id[PDC_JOB_ID_MAX + 1], why[200];
    job_t *j = s_job(self, pdc_f_cstr(field, id, sizeof id));
    if (!j) {
        snprintf(why, sizeof why, "no job %s at this head", id);
        pdc_wire_reply_error(self->cfg.router, in, &self->enc, PDC_ENOTFOUND, why);
    }
    return j;
}

static void s_on_list(pdc_jobs_table_t *self, pdc_inbound_t *in) {
    if (!in->msg.fields[PDC_JOB_LIST_JOB_ID].via.str.size) {
        s_reply_rows(self, in, NULL);
        return;
    }
    job_t *j = s_job_or_error(self, in, &in->msg.fields[PDC_JOB_LIST_JOB_ID]);
    if (j)
        s_reply_rows(self, in, j);
}

static void s_on_logs(pdc_jobs_table_t *self, pdc_inbound_t *in) {
    job_t *j = s_job_or_error(self, in, &in->msg.fields[PDC_JOB_LOGS_JOB_ID]);
    if (!j)
        return;
    s_replay_log(self, j, in);
    if (pdc_job_state_ended(j->state)) {
        pdc_enc_begin(&self->enc, PDC_MSG_JOB_DONE, in->msg.request_id);
        s_enc_row(self, j);
        pdc_wire_reply(self->cfg.router, in, &self->enc);
    } else if (pdc_f_u(&in->msg.fields[PDC_JOB_LOGS_FOLLOW])) {
        s_follow(j, in);
    } else {
        s_reply_rows(self, in, j);
    }
}

static void s_on_stop(pdc_jobs_table_t *self, pdc_inbound_t *in, uint64_t now_ms) {
    if (!s_may_run_jobs(self, in, "stopping a job"))
        return;
    job_t *j = s_job_or_error(self, in, &in->msg.fields[PDC_JOB_STOP_JOB_ID]);
    if (!j)
        return;
    if (!pdc_job_state_ended(j->state) && !j->ending) {
        char peer[128];
        pdc_peer_is_local(&in->frames[1], peer, sizeof peer);
        pdc_info("job %s: stop requested from %s", j->id, peer);
        j->stop_requested = 1;
        s_save(self, j);
        if (!j->started_on_node) {
            s_end(self, j, PDC_JOB_STOPPED, 0, "stopped before it started", now_ms);
        } else {
            pdc_enc_begin(&self->enc, PDC_MSG_JOB_STOP, 0);
            pdc_enc_s(&self->enc, j->id);
            self->cfg.send(self->cfg.arg, NULL, &self->enc);
        }
    }
    s_reply_rows(self, in, j);
}

/* ---- Raylets ----------------------------------------------------------- */

static void s_on_exited(pdc_jobs_table_t *self, job_t *j, pdc_inbound_t *in, uint64_t now_ms) {
    const msgpack_object *f = in->msg.fields;
    int64_t status = pdc_f_i(&f[PDC_JOB_EXITED_STATUS]);
    char message[S_MESSAGE_MAX];
    pdc_f_cstr(&f[PDC_JOB_EXITED_MESSAGE], message, sizeof message);
    pdc_job_state state = j->stop_requested          ? PDC_JOB_STOPPED
                          : status == 0 && !*message ? PDC_JOB_SUCCEEDED
                                                     : PDC_JOB_FAILED;
    if (!*message && status > 0)
        snprintf(message, sizeof message, "the driver exited with status %lld", (long long) status);
    else if (!*message && status < 0)
        snprintf(message, sizeof message, "the driver was killed by signal %lld (%s)",
                 (long long) -status, strsignal((int) -status));
    if (j->stop_requested) {
        char what[S_MESSAGE_MAX];
        snprintf(what, sizeof what, "stopped on request%s%s", *message ? "; " : "", message);
        snprintf(message, sizeof message, "%s", what);
    }
    s_end(self, j, state, status, message, now_ms);
}

static int s_on_message(pdc_jobs_table_t *self, pdc_inbound_t *in, uint64_t now_ms) {
    const msgpack_object *f = in->msg.fields;
    switch (in->msg.type) {
    case PDC_MSG_JOB_SUBMIT:
        s_on_submit(self, in, now_ms);
        return 1;
    case PDC_MSG_JOB_LIST:
        s_on_list(self, in);
        return 1;
    case PDC_MSG_JOB_LOGS:
        s_on_logs(self, in);
        return 1;
    case PDC_MSG_JOB_STOP:
        s_on_stop(self, in, now_ms);
        return 1;
    case PDC_MSG_JOB_STARTED:
    case PDC_MSG_JOB_LOG:
    case PDC_MSG_JOB_EXITED:
    case PDC_MSG_JOB_CLEANED:
        break;
    default:
        return 0;
    }
    /* From raylets: a job the head no longer knows (it restarted, or
       the job was forgotten) is ignored. */
    _Static_assert(PDC_SAME_FIELD(PDC_JOB_STARTED_JOB_ID, PDC_JOB_LOG_JOB_ID) &&
                       PDC_SAME_FIELD(PDC_JOB_EXITED_JOB_ID, PDC_JOB_LOG_JOB_ID) &&
                       PDC_SAME_FIELD(PDC_JOB_CLEANED_JOB_ID, PDC_JOB_LOG_JOB_ID),
                   "the job messages of raylets read the job id in one place");
    char id[PDC_JOB_ID_MAX + 1], node[64] = "";
    job_t *j = s_job(self, pdc_f_cstr(&f[PDC_JOB_LOG_JOB_ID], id, sizeof id));
    if (!j || pdc_job_state_ended(j->state))
        return 1;
    /* Only a node's raylet speaks of jobs, and of a driver only its own. */
    if (self->cfg.sender(self->cfg.arg, in, node, sizeof node) ||
        ((in->msg.type == PDC_MSG_JOB_STARTED || in->msg.type == PDC_MSG_JOB_EXITED) &&
         strcmp(node, j->node))) {
        pdc_warn("ignored %s for job %s from %s", pdc_msg_name(in->msg.type), j->id,
                 *node ? node : "a peer that is no node's raylet");
        return 1;
    }
    if (in->msg.type == PDC_MSG_JOB_CLEANED) {
        if (j->ending)
            s_node_done(self, j, node);
    } else if (in->msg.type == PDC_MSG_JOB_LOG) {
        size_t len;
        const char *text = pdc_f_str(&f[PDC_JOB_LOG_TEXT], &len);
        s_append_log(self, j, text, len);
    } else if (j->ending) {
        ; /* a late start or exit of a job that has ended already */
    } else if (in->msg.type == PDC_MSG_JOB_STARTED) {
        j->state = PDC_JOB_RUNNING;
        j->start_ms = now_ms;
        j->pid = pdc_f_u(&f[PDC_JOB_STARTED_PID]);
        s_save(self, j);
    } else {
        s_on_exited(self, j, in, now_ms);
    }
    return 1;
}

int pdc_jobs_table_on_message(pdc_jobs_table_t *self, pdc_inbound_t *in, uint64_t now_ms) {
    int handled = s_on_message(self, in, now_ms);
    s_trim_history(self);
    return handled;
}

void pdc_jobs_table_check(pdc_jobs_table_t *self, uint64_t now_ms) {
    for (job_t *j = self->jobs; j; j = j->next) {
        if (j->ending && now_ms >= j->ending_deadline) {
            pdc_warn("job %s: %d nodes did not confirm its clean-up within %lld ms", j->id,
                     j->nawaiting, (long long) (now_ms - j->end_ms));
            s_finish(self, j);
        } else if (j->state == PDC_JOB_PENDING && !j->started_on_node && !j->ending) {
            s_try_start(self, j);
        }
    }
    s_trim_history(self);
}

void pdc_jobs_table_node_dead(pdc_jobs_table_t *self, const char *node, uint64_t now_ms) {
    for (job_t *j = self->jobs; j; j = j->next)
        if (j->ending)
            s_node_done(self, j, node);
        else if (!pdc_job_state_ended(j->state) && j->started_on_node && !strcmp(j->node, node)) {
            char why[200];
            snprintf(why, sizeof why, "node %s, where its driver ran, died", node);
            s_end(self, j, j->stop_requested ? PDC_JOB_STOPPED : PDC_JOB_FAILED, 0, why, now_ms);
        }
    s_trim_history(self);
}
