/*  pdc_io: a client's I/O thread (see the header): its loop, what it
    dispatches, the connections to workers, and connect and close. */
#include "pdc_client_internal.h"

#include "pdc_actor_owner.h"
#include "pdc_borrow.h"
#include "pdc_log.h"
#include "pdc_refs.h"
#include "pdc_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- Connections to workers ------------------------------------------- */

static void s_on_conn(pdc_peer_t *peer, void *sock, void *arg);

conn_t *pdc_io_conn_open(pdc_client *c, const char *endpoint, char *why, size_t len) {
    for (conn_t *k = c->conns; k; k = k->next)
        if (!strcmp(pdc_peer_endpoint(k->peer), endpoint)) {
            k->users++;
            return k;
        }
    conn_t *k = calloc(1, sizeof *k);
    if (!k) {
        snprintf(why, len, "out of memory");
        return NULL;
    }
    k->client = c;
    k->peer = pdc_peer_new(&c->loop, &c->cfg, endpoint, s_on_conn, k, why, len);
    if (!k->peer) {
        free(k);
        return NULL;
    }
    k->users = 1;
    k->next = c->conns;
    c->conns = k;
    return k;
}

static void s_on_conn_event(pdc_peer_t *peer, unsigned events, void *arg) {
    conn_t *k = arg;
    pdc_client *c = k->client;
    if (!(events & (ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CONNECT_RETRIED)))
        return;
    pthread_mutex_lock(&c->mu);
    char why[PATH_MAX + 64];
    snprintf(why, sizeof why, "lost the connection to the worker at %s", pdc_peer_endpoint(peer));
    if (k->on_lost)
        k->on_lost(c, k, why); /* may release k */
    pdc_io_pump(c);
    pthread_mutex_unlock(&c->mu);
}

void pdc_io_conn_watch(pdc_client *c, conn_t *k, unsigned events,
                       void (*on_lost)(pdc_client *c, conn_t *k, const char *why)) {
    (void) c;
    if (k->on_lost)
        return;
    k->on_lost = on_lost;
    if (pdc_peer_monitor(k->peer, events, s_on_conn_event))
        pdc_warn("cannot watch the connection to %s: a death of its worker will be noticed "
                 "only by its raylet",
                 pdc_peer_endpoint(k->peer));
}

void pdc_io_conn_release(pdc_client *c, conn_t *k, int linger_ms) {
    if (--k->users > 0)
        return;
    for (conn_t **p = &c->conns; *p; p = &(*p)->next)
        if (*p == k) {
            *p = k->next;
            break;
        }
    pdc_peer_destroy(&k->peer, linger_ms);
    free(k);
}

void pdc_io_encode_worker_lease(pdc_client *c, const char *gpu_ids) {
    pdc_enc_begin(&c->enc, PDC_MSG_WORKER_LEASE, 0);
    pdc_enc_s(&c->enc, gpu_ids);
}

void pdc_io_send_raylet(pdc_client *c) {
    pdc_peer_send(c->raylet, &c->enc, NULL, 0);
}

/* ---- Results ---------------------------------------------------------- */

/* Set o from one result (kind, value as the schema validated them). */
static void s_set_value(pdc_client *c, obj_t *o, unsigned kind, const msgpack_object *f,
                        const char *node) {
    char fn[512] = "", msg[1024] = "";
    if (kind == PDC_RES_ERROR) {
        pdc_f_cstr(&f[PDC_RESULT_FUNCTION], fn, sizeof fn);
        pdc_f_cstr(&f[PDC_RESULT_MESSAGE], msg, sizeof msg);
    }
    pdc_obj_set_result(o, kind, &f[PDC_RESULT_VALUE], node, (int) pdc_f_i(&f[PDC_RESULT_STATUS]),
                       fn, msg);
    if (kind == PDC_RES_REFS && o->state == OBJ_READY) {
        /* A list of references its worker owns and counted this process
           for: the entries are held by this result from now on. */
        char why[512];
        int rc = pdc_refs_hold(c, o, o->data, o->size, 1, why, sizeof why);
        if (rc != PDC_OK)
            pdc_obj_fail(o, rc, "result", node, why);
    }
}

/* One result of TASK_RESULTS (validated by the schema). */
static void s_apply_result(pdc_client *c, const msgpack_object *r, const char *node) {
    const msgpack_object *f = r->via.array.ptr;
    obj_t *o = pdc_obj_find(c, pdc_f_id(&f[PDC_RESULT_TASK_ID]));
    if (!o || !o->task || o->task->state != T_INFLIGHT)
        return;
    task_t *t = o->task;
    pdc_sched_note_busy(t, (double) pdc_f_u(&f[PDC_RESULT_BUSY_US]));
    const msgpack_object *v = &f[PDC_RESULT_VALUE];
    if (pdc_f_u(&f[PDC_RESULT_KIND]) == PDC_RES_ERROR &&
        pdc_f_i(&f[PDC_RESULT_STATUS]) == PDC_EOBJECTLOST &&
        v->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        /* An argument lost every copy: rebuild it and run t again. */
        char why[1024];
        pdc_f_cstr(&f[PDC_RESULT_MESSAGE], why, sizeof why);
        if (pdc_sched_on_arg_lost(c, t, (size_t) v->via.u64, why))
            return;
    }
    s_set_value(c, o, (unsigned) pdc_f_u(&f[PDC_RESULT_KIND]), f, node);
    pdc_graph_finish(c, t);
}

static void s_on_conn(pdc_peer_t *peer, void *sock, void *arg) {
    conn_t *k = arg;
    pdc_client *c = k->client;
    pdc_inbound_t in;
    int rc = pdc_wire_recv(sock, 0, &in);
    if (rc == 0)
        return;
    pthread_mutex_lock(&c->mu);
    const msgpack_object *f = rc > 0 ? in.msg.fields : NULL;
    if (rc < 0) {
        pdc_warn("refused a message from worker %s: %s", pdc_peer_endpoint(peer), in.error);
    } else if (in.msg.type == PDC_MSG_TASK_RESULTS) {
        char node[PDC_NODE_LEN];
        pdc_f_cstr(&f[PDC_TASK_RESULTS_NODE], node, sizeof node);
        const msgpack_object *list = &f[PDC_TASK_RESULTS_RESULTS];
        for (uint32_t i = 0; i < list->via.array.size; i++)
            s_apply_result(c, &list->via.array.ptr[i], node);
    } else if (in.msg.type == PDC_MSG_ERROR) {
        char why[512];
        pdc_warn("worker %s refused our message: %s", pdc_peer_endpoint(peer),
                 pdc_f_cstr(&f[PDC_ERROR_MESSAGE], why, sizeof why));
    }
    pdc_io_pump(c);
    pthread_mutex_unlock(&c->mu);
    pdc_inbound_close(&in);
}

/* ---- Raylets and the head --------------------------------------------- */

static void s_on_worker_died(pdc_client *c, const uint8_t *worker_id, int status) {
    if (!pdc_actors_on_worker_died(c, worker_id, status))
        pdc_sched_on_worker_died(c, worker_id, status);
}

void pdc_io_on_raylet(pdc_peer_t *peer, void *sock, void *arg) {
    pdc_client *c = arg;
    pdc_inbound_t in;
    int rc = pdc_wire_recv(sock, 0, &in);
    if (rc == 0)
        return;
    pthread_mutex_lock(&c->mu);
    if (rc < 0) {
        pdc_warn("refused a message from %s: %s", pdc_peer_endpoint(peer), in.error);
    } else if (in.msg.type == PDC_MSG_WORKER_DIED) {
        const msgpack_object *f = in.msg.fields;
        s_on_worker_died(c, pdc_f_id(&f[PDC_WORKER_DIED_WORKER_ID]),
                         (int) pdc_f_i(&f[PDC_WORKER_DIED_STATUS]));
    } else {
        int reasked = pdc_remote_on_unregistered(c, &in.msg, sock);
        if (!reasked && (in.msg.type == PDC_MSG_LEASE_GRANT || in.msg.type == PDC_MSG_ERROR))
            pdc_remote_spilled_forget(c, in.msg.request_id, sock);
        if (reasked) {
            /* registered there again, and the request asked again */
        } else if (!pdc_requests_answer(c, &c->requests, &in.msg, sock)) {
            if (in.msg.type == PDC_MSG_LEASE_GRANT) {
                /* Nobody wants it (any more): give it straight back. */
                pdc_enc_begin(&c->enc, PDC_MSG_LEASE_RETURN, 0);
                pdc_enc_id(&c->enc, pdc_f_id(&in.msg.fields[PDC_LEASE_GRANT_WORKER_ID]));
                pdc_wire_send(sock, NULL, 0, &c->enc, NULL, 0);
            } else if (in.msg.type == PDC_MSG_ERROR) {
                char why[512];
                pdc_warn("%s: %s", pdc_peer_endpoint(peer),
                         pdc_f_cstr(&in.msg.fields[PDC_ERROR_MESSAGE], why, sizeof why));
            }
        }
    }
    pdc_io_pump(c);
    pthread_mutex_unlock(&c->mu);
    pdc_inbound_close(&in);
}

/* ---- The loop --------------------------------------------------------- */

static void s_on_lease_timer(uv_timer_t *h);

void pdc_io_pump(pdc_client *c) {
    while (c->ncontrol) {
        pdc_enc_begin(&c->enc, (pdc_msg_type) c->control[0], 0);
        pdc_io_send_raylet(c);
        memmove(c->control, c->control + 1, (size_t) --c->ncontrol * sizeof c->control[0]);
    }
    if (c->is_worker && (c->nlending > 0) != c->lending_told) {
        c->lending_told = c->nlending > 0;
        pdc_enc_begin(&c->enc, c->lending_told ? PDC_MSG_LENDING : PDC_MSG_NOT_LENDING, 0);
        pdc_io_send_raylet(c);
    }
    uint64_t actors_again = pdc_actors_pump(c);
    pdc_remote_send(c);
    uint64_t now = pdc_now_ms();
    uint64_t next_check = pdc_sched_pump(c, now);
    if (actors_again && (!next_check || actors_again < next_check))
        next_check = actors_again;
    uint64_t borrow_again = pdc_borrow_pump(c);
    if (borrow_again && (!next_check || borrow_again < next_check))
        next_check = borrow_again;
    if (next_check)
        uv_timer_start(&c->lease_timer, s_on_lease_timer, next_check > now ? next_check - now : 0,
                       0);
}

static void s_on_wake(uv_async_t *h) {
    pdc_client *c = h->data;
    pthread_mutex_lock(&c->mu);
    pdc_io_pump(c); /* when stopping, this returns the idle leases */
    int stop = c->stopping;
    pthread_mutex_unlock(&c->mu);
    if (stop)
        uv_stop(&c->loop);
}

static void s_on_lease_timer(uv_timer_t *h) {
    pdc_client *c = h->data;
    pthread_mutex_lock(&c->mu);
    pdc_io_pump(c);
    pthread_mutex_unlock(&c->mu);
}

static void *s_io_main(void *arg) {
    pdc_client *c = arg;
    uv_run(&c->loop, UV_RUN_DEFAULT);
    return NULL;
}

/* ---- Connect and close ------------------------------------------------ */

/* Register with the raylet synchronously, before the I/O thread takes
   the socket.  0, or -1 with a message on stderr. */
static int s_register(pdc_client *c, const char *raylet_endpoint, const uint8_t *worker_id) {
    pdc_enc_begin(&c->enc, PDC_MSG_REGISTER, 1);
    pdc_enc_u(&c->enc, c->is_worker ? 1 : 0);
    pdc_enc_u(&c->enc, (uint64_t) getpid());
    uint8_t own[PDC_ID_LEN]; /* a driver's: its objects' prefix (pdc_proto.h) */
    pdc_id_new(own);
    pdc_enc_id(&c->enc, worker_id ? worker_id : own);
    pdc_enc_s(&c->enc, c->endpoint);
    pdc_enc_s(&c->enc, c->public_endpoint);
    pdc_enc_s(&c->enc, "");
    pdc_io_send_raylet(c);
    zmq_pollitem_t item = {pdc_peer_sock(c->raylet), 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, (long) c->cfg.connect_timeout_ms) <= 0) {
        fprintf(stderr, "pdc: the raylet at %s did not answer within %lld ms\n", raylet_endpoint,
                (long long) c->cfg.connect_timeout_ms);
        return -1;
    }
    pdc_inbound_t in;
    int rc = pdc_wire_recv(pdc_peer_sock(c->raylet), 0, &in);
    if (rc <= 0 || in.msg.type != PDC_MSG_REGISTERED) {
        char why[256] = "unexpected reply";
        if (rc < 0)
            snprintf(why, sizeof why, "%s", in.error);
        else if (rc > 0 && in.msg.type == PDC_MSG_ERROR)
            pdc_f_cstr(&in.msg.fields[PDC_ERROR_MESSAGE], why, sizeof why);
        fprintf(stderr, "pdc: registering with the raylet at %s failed: %s\n", raylet_endpoint,
                why);
        if (rc != 0)
            pdc_inbound_close(&in);
        return -1;
    }
    const msgpack_object *f = in.msg.fields;
    pdc_f_cstr(&f[PDC_REGISTERED_NODE], c->node_id, sizeof c->node_id);
    pdc_f_cstr(&f[PDC_REGISTERED_STORE_DIR], c->store_dir, sizeof c->store_dir);
    c->inline_max = (size_t) pdc_f_u(&f[PDC_REGISTERED_INLINE_MAX]);
    pdc_f_cstr(&f[PDC_REGISTERED_SESSION_DIR], c->session, sizeof c->session);
    pdc_f_cstr(&f[PDC_REGISTERED_HEAD_ENDPOINT], c->head_endpoint, sizeof c->head_endpoint);
    pdc_f_cstr(&f[PDC_REGISTERED_NODE_IP], c->node_ip, sizeof c->node_ip);
    pdc_inbound_close(&in);
    return 0;
}

/* This node's raylet dropped the connection: it died (a raylet that
   stops on purpose stops its clients' workers too).  Whatever needs it
   fails with PDC_ECONNECT from now on: queued tasks and those of leases
   on this node (their workers died with it, and nobody is left to say
   so), lease requests, pulls and actor placements; tasks leased on
   other nodes run on, and local gets and puts work on. */
static void s_on_own_raylet_event(pdc_peer_t *peer, unsigned events, void *arg) {
    pdc_client *c = arg;
    if (!(events & ZMQ_EVENT_DISCONNECTED))
        return;
    pthread_mutex_lock(&c->mu);
    if (!c->raylet_lost && !c->stopping) {
        c->raylet_lost = 1;
        snprintf(c->raylet_lost_why, sizeof c->raylet_lost_why,
                 "the raylet of node %s (%s) is gone: its connection dropped", c->node_id,
                 pdc_peer_endpoint(peer));
        pdc_warn("%s; what needs it fails with PDC_ECONNECT", c->raylet_lost_why);
        pdc_sched_on_raylet_lost(c);
        pdc_remote_on_raylet_lost(c);
        pdc_io_pump(c);
        pthread_cond_broadcast(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
}

pdc_client *pdc_client_connect(const char *raylet_endpoint, int is_worker, const uint8_t *worker_id,
                               const char *endpoint, const char *public_endpoint) {
    pdc_client *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (pdc_config_load(&c->cfg)) {
        free(c);
        return NULL;
    }
    c->is_worker = is_worker;
    snprintf(c->job_id, sizeof c->job_id, "%s", pdc_job_current());
    c->exec_thread = pthread_self();
    if (worker_id) {
        memcpy(c->worker_id, worker_id, PDC_ID_LEN);
        /* What this worker will own begins with a prefix its raylet can
           derive, to delete it when the worker exits. */
        uint8_t prefix[PDC_ID_PREFIX_LEN];
        pdc_id_worker_prefix(worker_id, c->job_id, prefix);
        pdc_id_use_prefix(prefix);
    }
    snprintf(c->endpoint, sizeof c->endpoint, "%s", endpoint ? endpoint : "");
    snprintf(c->public_endpoint, sizeof c->public_endpoint, "%s",
             public_endpoint ? public_endpoint : "");
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    pdc_idmap_init(&c->objects);
    pdc_requests_init(&c->requests);
    pdc_enc_init(&c->enc);
    zsys_handler_set(NULL);
    pdc_peer_raise_limits(c->cfg.max_sockets);
    uv_loop_init(&c->loop);
    char why[512], err[512];
    c->raylet =
        pdc_peer_new(&c->loop, &c->cfg, raylet_endpoint, pdc_io_on_raylet, c, why, sizeof why);
    if (!c->raylet) {
        fprintf(stderr, "pdc: cannot connect to the raylet at %s: %s\n", raylet_endpoint, why);
        goto fail;
    }
    if (s_register(c, raylet_endpoint, worker_id))
        goto fail;
    if (pdc_peer_monitor(c->raylet, ZMQ_EVENT_DISCONNECTED, s_on_own_raylet_event))
        pdc_warn("cannot watch the connection to the raylet at %s: its death will show as "
                 "timeouts",
                 raylet_endpoint);
    c->store = pdc_store_open(c->store_dir, err, sizeof err);
    if (!c->store) {
        fprintf(stderr, "pdc: cannot open the object store %s: %s\n", c->store_dir, err);
        goto fail;
    }
    uv_async_init(&c->loop, &c->wake, s_on_wake);
    c->wake.data = c;
    uv_timer_init(&c->loop, &c->lease_timer);
    c->lease_timer.data = c;
    uv_timer_init(&c->loop, &c->keepalive);
    c->keepalive.data = c;
    uv_timer_start(&c->keepalive, pdc_remote_on_keepalive, (uint64_t) c->cfg.keepalive_ms,
                   (uint64_t) c->cfg.keepalive_ms);
    c->handles_open = 1;
    if (pthread_create(&c->io_thread, NULL, s_io_main, c))
        goto fail;
    c->io_started = 1;
    return c;
fail:
    pdc_peer_destroy(&c->raylet, 0);
    if (c->handles_open) {
        uv_close((uv_handle_t *) &c->wake, NULL);
        uv_close((uv_handle_t *) &c->lease_timer, NULL);
        uv_close((uv_handle_t *) &c->keepalive, NULL);
    }
    uv_run(&c->loop, UV_RUN_DEFAULT);
    uv_loop_close(&c->loop);
    pdc_store_destroy(&c->store);
    pdc_enc_free(&c->enc);
    pdc_requests_free(&c->requests);
    pdc_idmap_free(&c->objects);
    free(c);
    return NULL;
}

void pdc_client_close(pdc_client *c) {
    if (!c)
        return;
    if (c->io_started) {
        pthread_mutex_lock(&c->mu);
        pdc_actors_stop(c); /* the I/O thread sends the kills below */
        c->stopping = 1;
        pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->mu);
        uv_async_send(&c->wake);
        pthread_join(c->io_thread, NULL);
        /* Return the leases still held (tasks in flight are abandoned). */
        pdc_sched_close(c);
        pdc_actors_free(c);
        while (c->conns) {
            c->conns->users = 1;
            pdc_io_conn_release(c, c->conns, 0);
        }
        pdc_remote_unwatch(c);
        pdc_borrow_close(c); /* drops what this process borrowed */
        pdc_peer_unwatch(c->raylet);
        uv_close((uv_handle_t *) &c->wake, NULL);
        uv_close((uv_handle_t *) &c->lease_timer, NULL);
        uv_close((uv_handle_t *) &c->keepalive, NULL);
        uv_run(&c->loop, UV_RUN_DEFAULT);
        uv_loop_close(&c->loop);
        if (!c->is_worker) {
            /* Lease requests still queued at the raylet would be granted
               to nobody: say goodbye so it drops them. */
            pdc_enc_begin(&c->enc, PDC_MSG_BYE, 0);
            pdc_io_send_raylet(c);
        }
    }
    pdc_remote_close(c);
    /* Deliver the LEASE_RETURNs and BYE just sent before the socket goes. */
    pdc_peer_destroy(&c->raylet, (int) c->cfg.shutdown_timeout_ms);
    pdc_obj_free_all(c);
    pdc_requests_free(&c->requests);
    while (c->strings) {
        interned_t *s = c->strings;
        c->strings = s->next;
        free(s);
    }
    pdc_store_destroy(&c->store);
    pdc_enc_free(&c->enc);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
}
