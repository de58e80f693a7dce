/*  pdc_sched: the owner's scheduler for remote functions (see the header).

    How many tasks go to a lease at once (pdc_sched_push_count) and how
    many leases a class asks for (pdc_sched_requests_wanted) depend on how long its tasks
    run.  Short tasks are pushed in batches of up to max_tasks_in_flight,
    the queue shared among the leases, with one lease request out at a
    time: per-task messages would cost more than the tasks.  Long tasks
    (busy longer than spread_min_us on average, or not measured yet) go at
    most two to a worker (one running, one ready), and the class asks for
    the leases it can use, several at once, so that eight 100 ms tasks run
    on every free CPU and a cluster fills quickly.  Busy time excludes
    time blocked in pdc_get, so recursive tasks count as short and are not
    spread: spreading them would start a worker for each blocked parent.
    Spread asks for a lease per queued task, and each lease runs one task,
    so that each lands on the next node.
*/
#include "pdc_client_internal.h"

#include "pdc_labels.h"
#include "pdc_log.h"
#include "pdc_wire.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pdc_sched_from_opts(pdc_sched_t *sched, int strategy, const char *node_id, int soft,
                        const char *label_selector, const char *runtime, char *why, size_t len) {
    /* Not the whole runtime buffer: this runs for every call. */
    memset(sched, 0, offsetof(pdc_sched_t, runtime));
    sched->runtime[0] = '\0';
    if (strategy < PDC_SCHED_DEFAULT || strategy > PDC_SCHED_NODE_AFFINITY) {
        snprintf(why, len, "unknown strategy %d: use PDC_SCHED_DEFAULT, _SPREAD or _NODE_AFFINITY",
                 strategy);
        return PDC_EINVAL;
    }
    if (strategy == PDC_SCHED_NODE_AFFINITY && (!node_id || !*node_id)) {
        snprintf(why, len, "PDC_SCHED_NODE_AFFINITY needs node_id");
        return PDC_EINVAL;
    }
    pdc_selector_t sel;
    char err[256];
    if (pdc_selector_parse(label_selector, &sel, err, sizeof err)) {
        snprintf(why, len, "%s", err);
        return PDC_EINVAL;
    }
    if ((node_id && strlen(node_id) >= sizeof sched->node) ||
        (label_selector && strlen(label_selector) >= sizeof sched->labels)) {
        snprintf(why, len, "node_id or label_selector is too long");
        return PDC_EINVAL;
    }
    if (runtime && strlen(runtime) >= sizeof sched->runtime) {
        snprintf(why, len, "runtime is too long: %zu bytes, the most is %zu", strlen(runtime),
                 sizeof sched->runtime - 1);
        return PDC_EINVAL;
    }
    snprintf(sched->runtime, sizeof sched->runtime, "%s", runtime ? runtime : "");
    sched->strategy = (unsigned) strategy;
    snprintf(sched->node, sizeof sched->node, "%s",
             strategy == PDC_SCHED_NODE_AFFINITY ? node_id : "");
    sched->soft = strategy == PDC_SCHED_NODE_AFFINITY && soft;
    snprintf(sched->labels, sizeof sched->labels, "%s", label_selector ? label_selector : "");
    return PDC_OK;
}

void pdc_sched_request_lease(pdc_client *c, void *raylet, uint64_t request, double cpus,
                             unsigned flags, const pdc_resources_t *res, const pdc_sched_t *sched,
                             const char *locality) {
    pdc_enc_begin(&c->enc, PDC_MSG_LEASE_REQUEST, request);
    pdc_enc_f(&c->enc, cpus);
    pdc_enc_u(&c->enc, flags | (sched->soft ? PDC_LEASE_SOFT : 0));
    pdc_resources_encode(res, &c->enc);
    pdc_enc_u(&c->enc, sched->strategy);
    pdc_enc_s(&c->enc, sched->node);
    pdc_enc_s(&c->enc, sched->labels);
    pdc_enc_s(&c->enc, locality ? locality : "");
    pdc_enc_s(&c->enc, sched->runtime);
    pdc_enc_s(&c->enc, c->job_id);
    pdc_wire_send(raylet ? raylet : pdc_peer_sock(c->raylet), NULL, 0, &c->enc, NULL, 0);
}

/* ---- Queues ----------------------------------------------------------- */

static void s_queue_push(sched_class_t *k, task_t *t, int front) {
    t->state = T_QUEUED;
    pdc_task_list_push(&k->queue, t, front);
}

static void s_lease_remove_task(lease_t *l, task_t *t) {
    pdc_task_list_remove(t);
    t->lease = NULL;
    if (l->tasks.count == 0)
        l->idle_since = pdc_now_ms();
}

/* The task hook of remote functions. */
static void s_task_ready(pdc_client *c, task_t *t) {
    (void) c;
    s_queue_push(t->cls, t, 0);
}

static void s_task_done(pdc_client *c, task_t *t) {
    (void) c;
    if (t->lease)
        s_lease_remove_task(t->lease, t);
    else
        pdc_task_list_remove(t);
}

static const pdc_task_hook_t s_hook = {s_task_ready, s_task_done, NULL};

/* ---- Leases ----------------------------------------------------------- */

static void s_lease_unlink(sched_class_t *k, lease_t *l) {
    for (lease_t **p = &k->leases; *p; p = &(*p)->next)
        if (*p == l) {
            *p = l->next;
            break;
        }
}

static void s_lease_free(pdc_client *c, lease_t *l) {
    if (l->conn)
        pdc_io_conn_release(c, l->conn, 0);
    free(l);
}

static void s_lease_return(pdc_client *c, sched_class_t *k, lease_t *l) {
    s_lease_unlink(k, l);
    pdc_enc_begin(&c->enc, PDC_MSG_LEASE_RETURN, 0);
    pdc_enc_id(&c->enc, l->worker_id);
    pdc_wire_send(l->raylet ? l->raylet : pdc_peer_sock(c->raylet), NULL, 0, &c->enc, NULL, 0);
    s_lease_free(c, l);
}

size_t pdc_sched_push_count(const pdc_config_t *cfg, const sched_class_t *k, const lease_t *l) {
    if (k->sched.strategy == PDC_SCHED_SPREAD)
        return l->spent || !k->queue.count ? 0 : 1;
    size_t limit = (size_t) cfg->max_tasks_in_flight;
    int long_tasks = k->busy_us < 0 || k->busy_us >= (double) cfg->spread_min_us;
    if (long_tasks && limit > 2)
        limit = 2;
    if ((size_t) l->tasks.count >= limit)
        return 0;
    size_t nleases = 0;
    for (const lease_t *x = k->leases; x; x = x->next)
        nleases++;
    size_t ways = nleases ? nleases : 1;
    size_t share = (k->queue.count + ways - 1) / ways;
    size_t room = limit - (size_t) l->tasks.count;
    size_t n = room < share ? room : share;
    return n < k->queue.count ? n : k->queue.count;
}

size_t pdc_sched_requests_wanted(const pdc_config_t *cfg, const sched_class_t *k) {
    if (!k->queue.count)
        return 0;
    int spread = k->sched.strategy == PDC_SCHED_SPREAD;
    int long_tasks = k->busy_us < 0 || k->busy_us >= (double) cfg->spread_min_us;
    size_t want = spread ? k->queue.count : long_tasks ? (k->queue.count + 1) / 2 : 1;
    size_t cap =
        spread ? (size_t) cfg->max_tasks_in_flight : (size_t) cfg->max_pending_lease_requests;
    if (want > cap)
        want = cap;
    return want < 1 ? 1 : want;
}

static void s_dispatch(pdc_client *c, sched_class_t *k, lease_t *l) {
    int spread = k->sched.strategy == PDC_SCHED_SPREAD;
    size_t n = pdc_sched_push_count(&c->cfg, k, l);
    if (n == 0)
        return;
    void *sock = pdc_peer_sock(l->conn->peer);
    if (!l->told) {
        /* The worker learns the lease's GPUs before its first task. */
        pdc_io_encode_worker_lease(c, l->gpu_ids);
        pdc_wire_send(sock, NULL, 0, &c->enc, NULL, 0);
        l->told = 1;
    }
    l->spent = spread;
    pdc_enc_begin(&c->enc, PDC_MSG_PUSH_TASKS, 0);
    pdc_enc_array(&c->enc, n);
    for (size_t i = 0; i < n; i++) {
        task_t *t = k->queue.head;
        pdc_task_list_remove(t);
        t->state = T_INFLIGHT;
        t->sent_seq = ++c->graph_seq;
        t->lease = l;
        pdc_task_list_push(&l->tasks, t, 0);
        pdc_graph_encode(c, &c->enc, t, l->node);
    }
    pdc_wire_send(sock, NULL, 0, &c->enc, NULL, 0);
}

static void s_fail_queue(pdc_client *c, sched_class_t *k, int code, const char *why) {
    while (k->queue.head)
        pdc_graph_fail(c, k->queue.head, code, "", why);
}

/* A worker connection on another node went away. */
static void s_on_conn_lost(pdc_client *c, conn_t *k, const char *why) {
    (void) why;
    pdc_sched_on_conn_lost(c, k);
}

static void s_on_grant(pdc_client *c, sched_class_t *k, const pdc_msg_t *msg, void *sock) {
    /* (A request asked again after a dropped connection may be granted
       twice; the spare lease is used or returned.) */
    if (k->requests > 0)
        k->requests--;
    const msgpack_object *f = msg->fields;
    lease_t *l = calloc(1, sizeof *l);
    char endpoint[PATH_MAX], why[512];
    pdc_f_cstr(&f[PDC_LEASE_GRANT_ENDPOINT], endpoint, sizeof endpoint);
    void *raylet = sock == pdc_peer_sock(c->raylet) ? NULL : sock;
    if (l) {
        memcpy(l->worker_id, pdc_f_id(&f[PDC_LEASE_GRANT_WORKER_ID]), PDC_ID_LEN);
        pdc_f_cstr(&f[PDC_LEASE_GRANT_NODE], l->node, sizeof l->node);
        pdc_f_cstr(&f[PDC_LEASE_GRANT_GPU_IDS], l->gpu_ids, sizeof l->gpu_ids);
        l->raylet = raylet;
        l->cls = k;
        l->idle_since = pdc_now_ms();
        l->conn = pdc_io_conn_open(c, endpoint, why, sizeof why);
        if (!l->conn)
            pdc_warn("cannot reach the worker leased at %s: %s", endpoint, why);
    }
    if (!l || !l->conn) {
        /* Give it straight back. */
        pdc_enc_begin(&c->enc, PDC_MSG_LEASE_RETURN, 0);
        pdc_enc_id(&c->enc, pdc_f_id(&f[PDC_LEASE_GRANT_WORKER_ID]));
        pdc_wire_send(sock, NULL, 0, &c->enc, NULL, 0);
        free(l);
        return;
    }
    if (raylet)
        /* A worker on another node: its node may die before the
           connection comes up (then ZeroMQ only retries), or after. */
        pdc_io_conn_watch(c, l->conn, ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CONNECT_RETRIED,
                          s_on_conn_lost);
    l->next = k->leases;
    k->leases = l;
    if (!k->queue.count)
        s_lease_return(c, k, l);
}

static void s_on_answer(pdc_client *c, void *ctx, uint64_t id, const pdc_msg_t *msg, void *sock) {
    sched_class_t *k = ctx;
    const msgpack_object *f = msg->fields;
    if (msg->type == PDC_MSG_LEASE_GRANT) {
        s_on_grant(c, k, msg, sock);
    } else if (msg->type == PDC_MSG_LEASE_REDIRECT) {
        char node[PDC_NODE_LEN], endpoint[PATH_MAX];
        pdc_f_cstr(&f[PDC_LEASE_REDIRECT_NODE], node, sizeof node);
        pdc_f_cstr(&f[PDC_LEASE_REDIRECT_ENDPOINT], endpoint, sizeof endpoint);
        pdc_remote_on_redirect(c, id, node, endpoint);
    } else if (msg->type == PDC_MSG_ERROR) {
        char why[512];
        pdc_f_cstr(&f[PDC_ERROR_MESSAGE], why, sizeof why);
        if (k->requests > 0)
            k->requests--;
        s_fail_queue(c, k, (int) pdc_f_i(&f[PDC_ERROR_CODE]), why);
    }
}

static void s_reask(pdc_client *c, void *ctx, uint64_t id, void *raylet, unsigned flags) {
    sched_class_t *k = ctx;
    pdc_sched_request_lease(c, raylet, id, k->cpus, flags, &k->res, &k->sched, "");
}

static const pdc_request_ops_t s_request_ops = {"a task lease", s_on_answer, s_reask};

static sched_class_t *s_class(pdc_client *c, double cpus, const pdc_resources_t *res,
                              const pdc_sched_t *sched) {
    char key[sizeof((sched_class_t *) 0)->key], rkey[256];
    snprintf(key, sizeof key, "%s|%u|%s|%d|%s|%s", pdc_resources_format(res, rkey, sizeof rkey),
             sched->strategy, sched->node, sched->soft, sched->labels, sched->runtime);
    for (sched_class_t *k = c->classes; k; k = k->next)
        if (k->cpus == cpus && !strcmp(k->key, key))
            return k;
    sched_class_t *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    k->request = pdc_requests_add(&c->requests, &s_request_ops, k);
    if (!k->request) {
        free(k);
        return NULL;
    }
    k->cpus = cpus;
    k->res = *res;
    k->sched = *sched;
    snprintf(k->key, sizeof k->key, "%s", key);
    k->busy_us = -1;
    k->next = c->classes;
    c->classes = k;
    return k;
}

/* ---- The pump --------------------------------------------------------- */

uint64_t pdc_sched_pump(pdc_client *c, uint64_t now) {
    uint64_t next_check = 0, idle_ms = (uint64_t) c->cfg.lease_idle_ms;
    for (sched_class_t *k = c->classes; k; k = k->next) {
        if (c->raylet_lost) /* no lease can be asked for */
            s_fail_queue(c, k, PDC_ECONNECT, c->raylet_lost_why);
        for (lease_t *l = k->leases; l && k->queue.count; l = l->next)
            s_dispatch(c, k, l);
        size_t want = pdc_sched_requests_wanted(&c->cfg, k);
        while (k->queue.count && (size_t) k->requests < want) {
            k->requests++;
            pdc_sched_request_lease(c, NULL, k->request, k->cpus, 0, &k->res, &k->sched,
                                    pdc_graph_locality(k->queue.head));
        }
        for (lease_t *l = k->leases, *next; l; l = next) {
            next = l->next;
            if (l->tasks.count || (k->queue.count && !l->spent))
                continue;
            if (l->spent || now - l->idle_since >= idle_ms || c->stopping)
                s_lease_return(c, k, l);
            else if (!next_check || l->idle_since + idle_ms < next_check)
                next_check = l->idle_since + idle_ms;
        }
    }
    return next_check;
}

void pdc_sched_note_busy(task_t *t, double busy) {
    sched_class_t *k = t->cls;
    if (k)
        k->busy_us = k->busy_us < 0 ? busy : 0.8 * k->busy_us + 0.2 * busy;
}

/* l's worker is gone: retry or fail its tasks, free it. */
static void s_lease_lost(pdc_client *c, sched_class_t *k, lease_t *l, int status) {
    s_lease_unlink(k, l);
    while (l->tasks.head) {
        task_t *t = l->tasks.head;
        s_lease_remove_task(l, t);
        if (t->retries_left-- > 0) {
            pdc_warn("the worker on node %s died (%d) running %s:%s; retrying", l->node, status,
                     t->library, t->function);
            t->state = T_QUEUED;
            s_queue_push(k, t, 1);
            continue;
        }
        char why[256];
        snprintf(why, sizeof why, "the worker on node %s died (%s %d) and the retries are used up",
                 l->node, status < 0 ? "signal" : "exit status", status < 0 ? -status : status);
        pdc_graph_fail(c, t, PDC_EWORKERDIED, l->node, why);
    }
    s_lease_free(c, l);
}

int pdc_sched_on_worker_died(pdc_client *c, const uint8_t *worker_id, int status) {
    for (sched_class_t *k = c->classes; k; k = k->next)
        for (lease_t *l = k->leases; l; l = l->next)
            if (pdc_id_eq(l->worker_id, worker_id)) {
                s_lease_lost(c, k, l, status);
                return 1;
            }
    return 0;
}

int pdc_sched_on_arg_lost(pdc_client *c, task_t *t, size_t i, const char *why) {
    obj_t *dep = i < t->nargs && !t->args[i].actor ? t->args[i].ref : NULL;
    if (t->hook != &s_hook || t->state != T_INFLIGHT || !dep)
        return 0;
    /* Rebuild it, unless it was rebuilt after t went out (then t only
       missed the new copy) or is being rebuilt already. */
    if (dep->state == OBJ_READY && dep->ready_seq < t->sent_seq) {
        const char *colon = strstr(why, ": ");
        if (!strncmp(why, "argument ", 9) && colon) /* the worker's prefix */
            why = colon + 2;
        pdc_lineage_rebuild(c, dep, why);
    }
    if (t->lease)
        s_lease_remove_task(t->lease, t);
    else
        pdc_task_list_remove(t);
    pdc_graph_rewait(c, t); /* fails t if dep could not be rebuilt */
    return 1;
}

int pdc_sched_on_conn_lost(pdc_client *c, conn_t *conn) {
    /* Every lease on it (a request asked again may be granted twice, and
       both leases share the worker's connection); the last one's release
       frees conn, so its endpoint is copied first. */
    char endpoint[PATH_MAX];
    snprintf(endpoint, sizeof endpoint, "%s", pdc_peer_endpoint(conn->peer));
    int found = 0;
    for (sched_class_t *k = c->classes; k; k = k->next)
        for (lease_t *l = k->leases, *next; l; l = next) {
            next = l->next;
            if (l->conn != conn)
                continue;
            pdc_warn("lost the connection to worker %s on node %s", endpoint, l->node);
            s_lease_lost(c, k, l, -9);
            found = 1;
        }
    return found;
}

void pdc_sched_on_raylet_lost(pdc_client *c) {
    for (sched_class_t *k = c->classes; k; k = k->next) {
        for (lease_t *l = k->leases, *next; l; l = next) {
            next = l->next;
            if (l->raylet) /* a worker on another node: it runs on */
                continue;
            s_lease_unlink(k, l);
            while (l->tasks.head)
                pdc_graph_fail(c, l->tasks.head, PDC_ECONNECT, l->node, c->raylet_lost_why);
            s_lease_free(c, l);
        }
        k->requests = 0;
        s_fail_queue(c, k, PDC_ECONNECT, c->raylet_lost_why);
    }
}

void pdc_sched_close(pdc_client *c) {
    for (sched_class_t *k = c->classes; k; k = k->next)
        while (k->leases)
            s_lease_return(c, k, k->leases);
    while (c->classes) {
        sched_class_t *k = c->classes;
        c->classes = k->next;
        free(k);
    }
}

/* ---- Submission -------------------------------------------------------- */

pdc_ref pdc_call_args(pdc_client *c, pdc_fn fn, const pdc_opts *opts, const pdc_value *args,
                      size_t nargs) {
    pdc_ref ref;
    memset(&ref, 0, sizeof ref);
    if (!c) {
        pdc_set_error(PDC_EINVAL, "pdc_call: no client");
        return ref;
    }
    pdc_clear_error();
    pthread_mutex_lock(&c->mu);
    if (!fn.library || !fn.name) {
        ref = pdc_obj_error_ref(c, PDC_EINVAL, "?:?",
                                "pdc_call: the function has no library or name");
        pthread_mutex_unlock(&c->mu);
        return ref;
    }
    pdc_resources_t res;
    pdc_sched_t sched;
    char why[300];
    if (PDC_SCHED_FROM_OPTIONS(opts, &res, &sched, why, sizeof why)) {
        ref = pdc_obj_error_ref(c, PDC_EINVAL, fn.name, why);
        pthread_mutex_unlock(&c->mu);
        return ref;
    }
    double cpus = opts && opts->num_cpus > 0 ? opts->num_cpus : 1.0;
    sched_class_t *k = s_class(c, cpus, &res, &sched);
    if (!k) {
        ref = pdc_obj_error_ref(c, PDC_ENOMEM, fn.name, "out of memory");
        pthread_mutex_unlock(&c->mu);
        return ref;
    }
    task_t *t = pdc_graph_task_new(c, fn.library, fn.name, args, nargs, &s_hook, NULL, &ref);
    int wake = 0;
    if (t) {
        t->cls = k;
        t->rebuildable = 1; /* unless it holds an actor handle (lineage) */
        for (size_t i = 0; i < nargs; i++)
            if (args[i].type == PDC_T_ACTOR)
                t->rebuildable = 0;
        t->retries_left = !opts || opts->max_retries == 0 ? 3
                          : opts->max_retries < 0         ? 0
                                                          : opts->max_retries;
        pdc_graph_submit(c, t);
        wake = t->state == T_QUEUED;
    }
    pthread_mutex_unlock(&c->mu);
    if (wake)
        pdc_client_wake(c);
    return ref;
}
