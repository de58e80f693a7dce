/*  pdc_borrow: references owned by another process (see the header). */
#include "pdc_client_internal.h"

#include "pdc_borrow.h"
#include "pdc_log.h"
#include "pdc_wire.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* OBJECT_WAIT again this long after a "pending", doubling up to the max. */
#define S_INFO_FIRST_MS 1
#define S_INFO_MAX_MS   50
/* Ids one BORROW_ADD or BORROW_DROP carries at most. */
#define S_BATCH 4096

typedef struct {
    uint8_t (*ids)[PDC_ID_LEN];
    size_t n, cap;
} s_ids_t;

/* A BORROW_ADD sent and not answered yet: which ids it asked for. */
typedef struct s_batch {
    uint64_t request;
    s_ids_t ids;
    struct s_batch *next;
} s_batch_t;

struct lender {
    char ipc[PATH_MAX], tcp[PATH_MAX], node[PDC_NODE_LEN];
    pdc_peer_t *peer; /* to ipc on this node, else to tcp */
    int down;
    char why[PATH_MAX + 128];
    uint64_t created_ms;
    s_ids_t adds, drops, waits; /* to send */
    s_batch_t *sent;            /* BORROW_ADDs not answered */
    struct lender *next;
};

static int s_ids_add(s_ids_t *l, const uint8_t *id) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        void *grown = realloc(l->ids, cap * sizeof *l->ids);
        if (!grown)
            return -1;
        l->ids = grown;
        l->cap = cap;
    }
    memcpy(l->ids[l->n++], id, PDC_ID_LEN);
    return 0;
}

static void s_ids_free(s_ids_t *l) {
    free(l->ids);
    memset(l, 0, sizeof *l);
}

/* ---- The owner's side: the object service -------------------------------- */

/* Objects with borrowers: a worker tells its raylet while it has any
   (pdc_io_pump sends LENDING / NOT_LENDING), so that the pool does not
   stop it for being idle, which would lose them for every borrower. */
static void s_lending_changed(pdc_client *c) {
    if (c->is_worker)
        uv_async_send(&c->wake);
}

static void s_borrower_add(pdc_client *c, obj_t *o) {
    o->refs++;
    if (o->borrowers++ == 0 && c->nlending++ == 0)
        s_lending_changed(c);
}

static void s_borrower_drop(pdc_client *c, obj_t *o) {
    if (!o || o->borrowers == 0)
        return;
    if (--o->borrowers == 0 && --c->nlending == 0)
        s_lending_changed(c);
    pdc_obj_unref(c, o);
}

/* OBJECT_INFO for id (o may be NULL: freed). */
static void s_encode_info(pdc_client *c, pdc_enc_t *e, uint64_t request, const uint8_t *id,
                          const obj_t *o) {
    pdc_enc_begin(e, PDC_MSG_OBJECT_INFO, request);
    pdc_enc_id(e, id);
    if (!o || o->state == OBJ_FAILED) {
        char hex[33], why[256];
        snprintf(why, sizeof why, "object %s was freed by its owner (pid %d on node %s)",
                 pdc_id_hex(id, hex), (int) getpid(), c->node_id);
        pdc_enc_u(e, PDC_RES_ERROR);
        pdc_enc_nil(e);
        pdc_enc_s(e, o ? o->err.node : c->node_id);
        pdc_enc_i(e, o ? o->err.code : PDC_EOBJECTLOST);
        pdc_enc_s(e, o ? o->err.function : "");
        pdc_enc_s(e, o ? o->err.message : why);
        return;
    }
    if (o->state == OBJ_PENDING) {
        pdc_enc_u(e, PDC_INFO_PENDING);
        pdc_enc_nil(e);
    } else if (o->stored) {
        pdc_enc_u(e, PDC_RES_STORED);
        pdc_enc_u(e, o->size);
    } else if (o->type == PDC_T_REFS) {
        pdc_enc_u(e, PDC_RES_REFS);
        pdc_enc_b(e, o->data, o->size);
    } else {
        pdc_enc_u(e, PDC_RES_INLINE);
        switch (o->type) {
        case PDC_T_I64:
            pdc_enc_i(e, o->i64);
            break;
        case PDC_T_F64:
            pdc_enc_f(e, o->f64);
            break;
        case PDC_T_STR:
            pdc_enc_sn(e, o->data, o->size);
            break;
        case PDC_T_BYTES:
            pdc_enc_b(e, o->data, o->size);
            break;
        default:
            pdc_enc_nil(e);
        }
    }
    pdc_enc_s(e, o->stored ? o->node : c->node_id);
    pdc_enc_i(e, PDC_OK);
    pdc_enc_s(e, "");
    pdc_enc_s(e, "");
}

static void s_on_service(pdc_zwatch_t *watch, void *sock, void *arg) {
    (void) watch;
    pdc_client *c = arg;
    pdc_inbound_t in;
    pthread_mutex_lock(&c->mu);
    while (pdc_zsock_readable(sock)) {
        if (!pdc_wire_serve(sock, &in, &c->enc, NULL))
            continue;
        const msgpack_object *f = in.msg.fields;
        if (in.msg.type == PDC_MSG_BORROW_ADD) {
            const msgpack_object *ids = &f[PDC_BORROW_ADD_OBJECT_IDS];
            s_ids_t gone = {0};
            for (uint32_t i = 0; i < ids->via.array.size; i++) {
                const uint8_t *id = pdc_f_id(&ids->via.array.ptr[i]);
                obj_t *o = pdc_obj_find(c, id);
                if (o && !o->lender)
                    s_borrower_add(c, o);
                else
                    s_ids_add(&gone, id);
            }
            pdc_enc_begin(&c->enc, PDC_MSG_BORROW_ACK, in.msg.request_id);
            pdc_enc_array(&c->enc, gone.n);
            for (size_t i = 0; i < gone.n; i++)
                pdc_enc_id(&c->enc, gone.ids[i]);
            pdc_wire_reply(sock, &in, &c->enc);
            s_ids_free(&gone);
        } else if (in.msg.type == PDC_MSG_BORROW_DROP) {
            const msgpack_object *ids = &f[PDC_BORROW_DROP_OBJECT_IDS];
            for (uint32_t i = 0; i < ids->via.array.size; i++)
                s_borrower_drop(c, pdc_obj_find(c, pdc_f_id(&ids->via.array.ptr[i])));
        } else if (in.msg.type == PDC_MSG_OBJECT_WAIT) {
            const uint8_t *id = pdc_f_id(&f[PDC_OBJECT_WAIT_OBJECT_ID]);
            obj_t *o = pdc_obj_find(c, id);
            s_encode_info(c, &c->enc, in.msg.request_id, id, o && !o->lender ? o : NULL);
            pdc_wire_reply(sock, &in, &c->enc);
        } else {
            pdc_wire_refuse(sock, &in, &c->enc, "an object service", NULL);
        }
        pdc_inbound_close(&in);
    }
    pdc_io_pump(c);
    pthread_mutex_unlock(&c->mu);
}

/* I/O thread: bind the service's ROUTER, on ipc and, when the node has an
   address for other hosts, on tcp. */
static void s_start_service(pdc_client *c) {
    zsock_t *s = zsock_new(ZMQ_ROUTER);
    char ipc[PATH_MAX];
    snprintf(ipc, sizeof ipc, "ipc://%s/o-%d-%08x.sock", c->session, (int) getpid(),
             (unsigned) pdc_now_ms());
    int port = 0;
    if (s) {
        pdc_wire_tune(zsock_resolve(s), c->cfg.max_message_size);
        if (zsock_bind(s, "%s", ipc) < 0)
            port = -1;
        else if (*c->node_ip && (port = zsock_bind(s, "tcp://%s:!", c->node_ip)) < 0)
            unlink(ipc + 6);
    }
    if (!s || port < 0) {
        snprintf(c->owner_why, sizeof c->owner_why,
                 "cannot start this process's object service on %s%s%s: %s", ipc,
                 *c->node_ip ? " and tcp://" : "", c->node_ip, zmq_strerror(zmq_errno()));
        zsock_destroy(&s);
        c->owner_state = -1;
        return;
    }
    snprintf(c->owner_ipc, sizeof c->owner_ipc, "%s", ipc);
    if (port > 0)
        snprintf(c->owner_tcp, sizeof c->owner_tcp, "tcp://%s:%d", c->node_ip, port);
    c->owner_sock = s;
    c->owner_watch = pdc_zwatch_new(&c->loop, zsock_resolve(s), s_on_service, c);
    c->owner_state = 2;
}

static int s_service_decided(pdc_client *c, void *arg) {
    (void) arg;
    return c->owner_state != 1;
}

int pdc_borrow_service(pdc_client *c, char *why, size_t len) {
    if (c->owner_state == 0) {
        c->owner_state = 1;
        pdc_client_wake(c);
    }
    if (c->owner_state == 1 &&
        pdc_client_wait_until(c, s_service_decided, NULL, c->cfg.connect_timeout_ms, 0) != PDC_OK) {
        snprintf(why, len, "this process's object service did not start within %lld ms",
                 (long long) c->cfg.connect_timeout_ms);
        return PDC_ETIMEOUT;
    }
    if (c->owner_state < 0) {
        snprintf(why, len, "%s", c->owner_why);
        return PDC_ECONNECT;
    }
    return PDC_OK;
}

int pdc_borrow_lend(pdc_client *c, const void *data, size_t len, char *why, size_t why_len) {
    size_t n = pdc_refs_count(data, len);
    char hex[33];
    for (size_t i = 0; i < n; i++) {
        uint8_t id[PDC_ID_LEN];
        pdc_refs_at(data, len, i, id, NULL);
        obj_t *o = pdc_obj_find(c, id);
        if (!o || o->lender) {
            snprintf(why, why_len,
                     "reference %zu (%s) of the returned list is %s: a task returns only "
                     "references its process owns (its puts and the results of its calls)",
                     i, pdc_id_hex(id, hex), o ? "borrowed" : "not one of this process's");
            return PDC_EINVAL;
        }
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t id[PDC_ID_LEN];
        pdc_refs_at(data, len, i, id, NULL);
        s_borrower_add(c, pdc_obj_find(c, id)); /* the caller's, dropped with BORROW_DROP */
    }
    return PDC_OK;
}

void pdc_borrow_unlend(pdc_client *c, const void *data, size_t len) {
    size_t n = pdc_refs_count(data, len);
    for (size_t i = 0; i < n; i++) {
        uint8_t id[PDC_ID_LEN];
        pdc_refs_at(data, len, i, id, NULL);
        s_borrower_drop(c, pdc_obj_find(c, id));
    }
}

/* ---- The borrower's side -------------------------------------------------- */

static void s_on_lender_msg(pdc_peer_t *peer, void *sock, void *arg);
static void s_on_lender_event(pdc_peer_t *peer, unsigned events, void *arg);

/* owner's strings as C strings. */
static void s_owner_strings(const pdc_refs_owner_t *owner, char *ipc, char *tcp, char *node) {
    snprintf(ipc, PATH_MAX, "%.*s", (int) owner->ipc_len, owner->ipc);
    snprintf(tcp, PATH_MAX, "%.*s", (int) owner->tcp_len, owner->tcp);
    snprintf(node, PDC_NODE_LEN, "%.*s", (int) owner->node_len, owner->node);
}

/* Whether the process named by an owner's ipc endpoint (o-PID-X.sock)
   is alive: a process killed with SIGKILL leaves its socket file, and a
   connection to it would only be refused until the connect timeout. */
static int s_ipc_owner_alive(const char *ep) {
    const char *base = strrchr(ep, '/');
    int pid = 0;
    if (!base || sscanf(base, "/o-%d-", &pid) != 1 || pid <= 0)
        return 1;
    return kill((pid_t) pid, 0) == 0 || errno != ESRCH;
}

/* The lender for owner (opened on first use), or NULL (why). */
static lender_t *s_lender(pdc_client *c, const pdc_refs_owner_t *owner, char *why, size_t len) {
    char ipc[PATH_MAX], tcp[PATH_MAX], node[PDC_NODE_LEN];
    s_owner_strings(owner, ipc, tcp, node);
    for (lender_t *l = c->lenders; l; l = l->next)
        if (!strcmp(l->ipc, ipc))
            return l;
    lender_t *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(why, len, "out of memory for a borrowed reference");
        return NULL;
    }
    snprintf(l->ipc, sizeof l->ipc, "%s", ipc);
    snprintf(l->tcp, sizeof l->tcp, "%s", tcp);
    snprintf(l->node, sizeof l->node, "%s", node);
    l->created_ms = pdc_now_ms();
    l->next = c->lenders;
    c->lenders = l;
    pdc_client_wake(c); /* the I/O thread opens its connection */
    return l;
}

static obj_t *s_new(pdc_client *c, const uint8_t *id, const pdc_refs_owner_t *owner, int lent,
                    char *why, size_t len) {
    char ipc[PATH_MAX], hex[33];
    snprintf(ipc, sizeof ipc, "%.*s", (int) owner->ipc_len, owner->ipc);
    int mine = *c->owner_ipc && !strcmp(ipc, c->owner_ipc);
    lender_t *l = mine ? NULL : s_lender(c, owner, why, len);
    obj_t *o = (mine || l) ? pdc_obj_new(c, id) : NULL;
    if (!o) {
        if (mine || l)
            snprintf(why, len, "out of memory for a borrowed reference");
        return NULL;
    }
    if (mine) {
        /* This process owns it and has let it go: it was freed. */
        char msg[128];
        snprintf(msg, sizeof msg, "object %s was freed by its owner (this process)",
                 pdc_id_hex(id, hex));
        pdc_obj_fail(o, PDC_EOBJECTLOST, "a borrowed reference", c->node_id, msg);
        return o;
    }
    o->lender = l;
    snprintf(o->node, sizeof o->node, "%s", l->node);
    if (l->down) {
        pdc_obj_fail(o, PDC_EOWNERDIED, "a borrowed reference", l->node, l->why);
        return o;
    }
    o->borrow_acked = lent;
    if (!lent && s_ids_add(&l->adds, id)) {
        pdc_obj_fail(o, PDC_ENOMEM, "a borrowed reference", c->node_id, "out of memory");
        return o;
    }
    pdc_client_wake(c);
    return o;
}

obj_t *pdc_borrow_new(pdc_client *c, const uint8_t *id, const pdc_refs_owner_t *owner, char *why,
                      size_t len) {
    return s_new(c, id, owner, 0, why, len);
}

obj_t *pdc_borrow_lent(pdc_client *c, const uint8_t *id, const pdc_refs_owner_t *owner, char *why,
                       size_t len) {
    return s_new(c, id, owner, 1, why, len);
}

void pdc_borrow_give_back(pdc_client *c, const uint8_t *id, const pdc_refs_owner_t *owner) {
    char why[256];
    lender_t *l = s_lender(c, owner, why, sizeof why);
    if (l && !l->down && !s_ids_add(&l->drops, id))
        pdc_client_wake(c);
}

int pdc_borrow_settled(const obj_t *o) {
    return !o->lender || o->borrow_acked || o->state == OBJ_FAILED;
}

void pdc_borrow_want_info(pdc_client *c, obj_t *o) {
    lender_t *l = o->lender;
    if (!l || o->info_state || o->state != OBJ_PENDING)
        return;
    o->info_state = 1;
    o->info_wait_ms = S_INFO_FIRST_MS;
    if (!s_ids_add(&l->waits, o->id))
        pdc_client_wake(c);
}

void pdc_borrow_drop(pdc_client *c, obj_t *o) {
    if (c->stopping)
        return; /* pdc_borrow_close dropped them all */
    lender_t *l = o->lender;
    if (l && !l->down && !s_ids_add(&l->drops, o->id))
        pdc_client_wake(c);
}

const char *pdc_borrow_lender_ipc(const obj_t *o) {
    return o->lender ? o->lender->ipc : "";
}

const char *pdc_borrow_lender_tcp(const obj_t *o) {
    return o->lender ? o->lender->tcp : "";
}

/* Every entry borrowed from l fails: its owner is gone. */
static void s_fail_borrowed(void *value, void *arg) {
    obj_t *o = value;
    lender_t *l = ((void **) arg)[1];
    pdc_client *c = ((void **) arg)[0];
    if (o->lender != l || o->state == OBJ_FAILED)
        return;
    pdc_obj_fail(o, PDC_EOWNERDIED, "a borrowed reference", l->node, l->why);
    pdc_graph_object_final(c, o);
}

static void s_lender_down(pdc_client *c, lender_t *l, const char *what) {
    if (l->down)
        return;
    l->down = 1;
    snprintf(l->why, sizeof l->why,
             "the owner of this borrowed object (the process serving %s on node %s) is gone: %s",
             l->ipc, l->node, what);
    pdc_warn("%s", l->why);
    void *arg[2] = {c, l};
    pdc_idmap_each(&c->objects, s_fail_borrowed, arg);
    l->adds.n = l->drops.n = l->waits.n = 0;
    pthread_cond_broadcast(&c->cv);
}

static void s_on_lender_event(pdc_peer_t *peer, unsigned events, void *arg) {
    pdc_client *c = arg;
    pthread_mutex_lock(&c->mu);
    for (lender_t *l = c->lenders; l; l = l->next)
        if (l->peer == peer && (events & ZMQ_EVENT_DISCONNECTED))
            s_lender_down(c, l, "its connection dropped");
    pthread_mutex_unlock(&c->mu);
}

/* OBJECT_INFO: o learns its value. */
static void s_on_info(pdc_client *c, lender_t *l, const msgpack_object *f) {
    obj_t *o = pdc_obj_find(c, pdc_f_id(&f[PDC_OBJECT_INFO_OBJECT_ID]));
    if (!o || o->lender != l || o->state != OBJ_PENDING)
        return;
    unsigned kind = (unsigned) pdc_f_u(&f[PDC_OBJECT_INFO_KIND]);
    const msgpack_object *v = &f[PDC_OBJECT_INFO_VALUE];
    char node[PDC_NODE_LEN], fn[512], msg[1024];
    pdc_f_cstr(&f[PDC_OBJECT_INFO_NODE], node, sizeof node);
    if (kind == PDC_INFO_PENDING) {
        if (o->info_state != 2)
            c->nborrow_due++;
        o->info_state = 2; /* asked again when due (s_ask_due) */
        o->info_due = pdc_now_ms() + o->info_wait_ms;
        if (o->info_wait_ms < S_INFO_MAX_MS)
            o->info_wait_ms *= 2;
        return;
    }
    pdc_obj_set_result(o, kind, v, node, (int) pdc_f_i(&f[PDC_OBJECT_INFO_STATUS]),
                       pdc_f_cstr(&f[PDC_OBJECT_INFO_FUNCTION], fn, sizeof fn),
                       pdc_f_cstr(&f[PDC_OBJECT_INFO_MESSAGE], msg, sizeof msg));
    o->info_state = 3;
    pdc_graph_object_final(c, o);
    pthread_cond_broadcast(&c->cv);
}

static void s_on_lender_msg(pdc_peer_t *peer, void *sock, void *arg) {
    pdc_client *c = arg;
    pdc_inbound_t in;
    int rc = pdc_wire_recv(sock, 0, &in);
    if (rc == 0)
        return;
    pthread_mutex_lock(&c->mu);
    lender_t *l = c->lenders;
    while (l && l->peer != peer)
        l = l->next;
    if (rc < 0 || !l) {
        pdc_warn("refused a message from an object's owner at %s: %s", pdc_peer_endpoint(peer),
                 rc < 0 ? in.error : "unknown");
    } else if (in.msg.type == PDC_MSG_BORROW_ACK) {
        s_batch_t **p = &l->sent;
        while (*p && (*p)->request != in.msg.request_id)
            p = &(*p)->next;
        if (*p) {
            s_batch_t *b = *p;
            *p = b->next;
            const msgpack_object *gone = &in.msg.fields[PDC_BORROW_ACK_GONE];
            for (size_t i = 0; i < b->ids.n; i++) {
                obj_t *o = pdc_obj_find(c, b->ids.ids[i]);
                if (o && o->lender == l)
                    o->borrow_acked = 1;
            }
            for (uint32_t i = 0; i < gone->via.array.size; i++) {
                obj_t *o = pdc_obj_find(c, pdc_f_id(&gone->via.array.ptr[i]));
                char hex[33], msg[256];
                if (!o || o->lender != l || o->state == OBJ_FAILED)
                    continue;
                snprintf(msg, sizeof msg, "object %s was freed by its owner before it was borrowed",
                         pdc_id_hex(o->id, hex));
                pdc_obj_fail(o, PDC_EOBJECTLOST, "a borrowed reference", l->node, msg);
                pdc_graph_object_final(c, o);
            }
            s_ids_free(&b->ids);
            free(b);
            pthread_cond_broadcast(&c->cv);
        }
    } else if (in.msg.type == PDC_MSG_OBJECT_INFO) {
        s_on_info(c, l, in.msg.fields);
    } else if (in.msg.type == PDC_MSG_ERROR) {
        char why[512];
        pdc_warn("the owner at %s refused a message: %s", pdc_peer_endpoint(peer),
                 pdc_f_cstr(&in.msg.fields[PDC_ERROR_MESSAGE], why, sizeof why));
    }
    pdc_io_pump(c);
    pthread_mutex_unlock(&c->mu);
    pdc_inbound_close(&in);
}

/* Send the ids of list as messages of type (S_BATCH ids each); a
   BORROW_ADD's batches are remembered until answered. */
static void s_send_ids(pdc_client *c, lender_t *l, s_ids_t *list, pdc_msg_type type) {
    for (size_t from = 0; from < list->n; from += S_BATCH) {
        size_t n = list->n - from < S_BATCH ? list->n - from : S_BATCH;
        uint64_t request = ++c->borrow_requests;
        pdc_enc_begin(&c->enc, type, type == PDC_MSG_BORROW_ADD ? request : 0);
        pdc_enc_array(&c->enc, n);
        for (size_t i = 0; i < n; i++)
            pdc_enc_id(&c->enc, list->ids[from + i]);
        pdc_peer_send(l->peer, &c->enc, NULL, 0);
        if (type != PDC_MSG_BORROW_ADD)
            continue;
        s_batch_t *b = calloc(1, sizeof *b);
        if (!b)
            continue;
        b->request = request;
        for (size_t i = 0; i < n; i++)
            s_ids_add(&b->ids, list->ids[from + i]);
        b->next = l->sent;
        l->sent = b;
    }
    list->n = 0;
}

static void s_ask_due(void *value, void *arg) {
    obj_t *o = value;
    pdc_client *c = ((void **) arg)[0];
    uint64_t now = *(uint64_t *) ((void **) arg)[1];
    if (!o->lender || o->info_state != 2)
        return;
    if (o->state != OBJ_PENDING) { /* settled meanwhile: ask no more */
        o->info_state = 3;
        c->nborrow_due--;
    } else if (o->info_due <= now) {
        o->info_state = 1;
        c->nborrow_due--;
        s_ids_add(&o->lender->waits, o->id);
    }
}

uint64_t pdc_borrow_pump(pdc_client *c) {
    if (c->owner_state == 1) {
        s_start_service(c);
        pthread_cond_broadcast(&c->cv);
    }
    uint64_t now = pdc_now_ms(), next = 0;
    if (c->nborrow_due) {
        void *arg[2] = {c, &now};
        pdc_idmap_each(&c->objects, s_ask_due, arg);
    }
    for (lender_t *l = c->lenders; l; l = l->next) {
        if (l->down)
            continue;
        if (!l->peer) {
            const char *ep = !strcmp(l->node, c->node_id) ? l->ipc : l->tcp;
            char why[512];
            if (!*ep) {
                snprintf(why, sizeof why, "it is on node %s, which has no address for other hosts",
                         l->node);
                s_lender_down(c, l, why);
                continue;
            }
            if (!strncmp(ep, "ipc://", 6) && access(ep + 6, F_OK)) {
                s_lender_down(c, l, "its socket file is gone");
                continue;
            }
            if (!strncmp(ep, "ipc://", 6) && !s_ipc_owner_alive(ep)) {
                s_lender_down(c, l, "its process has exited");
                continue;
            }
            l->peer =
                pdc_peer_new_monitored(&c->loop, &c->cfg, ep, s_on_lender_msg, c,
                                       ZMQ_EVENT_DISCONNECTED, s_on_lender_event, why, sizeof why);
            if (!l->peer) {
                s_lender_down(c, l, why);
                continue;
            }
        }
        if (!pdc_peer_connected(l->peer) &&
            now - l->created_ms > 2 * (uint64_t) c->cfg.node_timeout_ms) {
            s_lender_down(c, l, "no connection to it came up");
            continue;
        }
        s_send_ids(c, l, &l->adds, PDC_MSG_BORROW_ADD);
        for (size_t i = 0; i < l->waits.n; i++) {
            pdc_enc_begin(&c->enc, PDC_MSG_OBJECT_WAIT, ++c->borrow_requests);
            pdc_enc_id(&c->enc, l->waits.ids[i]);
            pdc_peer_send(l->peer, &c->enc, NULL, 0);
        }
        l->waits.n = 0;
        s_send_ids(c, l, &l->drops, PDC_MSG_BORROW_DROP);
        if (!pdc_peer_connected(l->peer))
            next = now + (uint64_t) c->cfg.heartbeat_ms; /* look again */
    }
    /* Entries told "pending" ask again when due. */
    if (c->nborrow_due && (!next || now + S_INFO_FIRST_MS < next))
        next = now + S_INFO_FIRST_MS;
    return next;
}

/* At close: every borrowed entry left is dropped with its owner. */
static void s_drop_left(void *value, void *arg) {
    obj_t *o = value;
    if (o->lender && !o->lender->down)
        s_ids_add(&o->lender->drops, o->id);
    (void) arg;
}

void pdc_borrow_close(pdc_client *c) {
    pdc_idmap_each(&c->objects, s_drop_left, c);
    while (c->lenders) {
        lender_t *l = c->lenders;
        c->lenders = l->next;
        /* Drops still to go, sent before the connection closes. */
        if (l->peer && !l->down)
            s_send_ids(c, l, &l->drops, PDC_MSG_BORROW_DROP);
        pdc_peer_destroy(&l->peer, (int) c->cfg.shutdown_timeout_ms);
        while (l->sent) {
            s_batch_t *b = l->sent;
            l->sent = b->next;
            s_ids_free(&b->ids);
            free(b);
        }
        s_ids_free(&l->adds);
        s_ids_free(&l->drops);
        s_ids_free(&l->waits);
        free(l);
    }
    pdc_zwatch_destroy(&c->owner_watch);
    if (c->owner_sock) {
        zsock_t *s = c->owner_sock;
        zsock_destroy(&s);
        c->owner_sock = NULL;
        unlink(c->owner_ipc + 6);
    }
}
