/*  pdc_head: the cluster's membership and resource view.

    One head per cluster.  Raylets register with NODE_REGISTER (node id,
    endpoint, resources) and then send HEARTBEAT every heartbeat period
    with what they have available.  A node silent for node_timeout_ms is
    declared dead; a heartbeat from a node the head does not know (after a
    head restart, or after it was declared dead) is answered with ERROR,
    and the raylet registers again.  NODES answers the table.

    Named actors live here too: a name in a namespace maps to one actor id
    and its endpoint.  The creator claims the name before placing the
    actor (so a clash fails the creation at once), fills in the endpoint
    when the actor is built, and drops the name when the actor dies.

    So does the table of every actor and its state (pdc_actors_table.h),
    which creators report and holders resolve.

    Jobs live here as well (pdc_jobs_table.h): the table of what
    pdc-submit ran, their output and who follows it.  The head reaches a
    node's raylet for them on the raylet's own connection (the routing id
    of its last NODE_REGISTER or HEARTBEAT).

    The head is not on the per-task path: tasks and actor calls go from
    callers to workers directly.

    Restart (pdc_head_db.h): started with --db DIR, the head writes its
    tables through to an LMDB environment there as they change (a node's
    registration and death, a name's claim, endpoint and drop, a code
    package, a job's steps; never a heartbeat) and reads them back when
    it starts.  A node read back is alive until node_timeout_ms pass
    without a heartbeat from it, as if it had just registered: its raylet
    goes on heartbeating (ERROR makes it register again only if the head
    does not know it), and one that never comes back is declared dead as
    usual.

    Every message is decoded totally; a malformed one is answered with
    ERROR, counted and logged, and the head keeps serving.
*/
#include "pdc_head.h"

#include "pdc.h"
#include "pdc_actors_table.h"
#include "pdc_code.h"
#include "pdc_config.h"
#include "pdc_daemon.h"
#include "pdc_head_db.h"
#include "pdc_job.h"
#include "pdc_jobs_table.h"
#include "pdc_labels.h"
#include "pdc_log.h"
#include "pdc_loop.h"
#include "pdc_wire.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#define MAX_RESOURCES 16

typedef struct {
    char name[32];
    double total, available;
} resource_t;

typedef struct node {
    char id[64];
    char endpoint[PATH_MAX];       /* from other hosts                  */
    char local_endpoint[PATH_MAX]; /* from the node's own host          */
    char labels[1024];
    uint8_t rid[256]; /* its raylet's connection to the head */
    size_t rid_len;
    int alive;
    uint64_t last_seen;
    resource_t res[MAX_RESOURCES];
    int nres;
    struct node *next;
} node_t;

typedef struct actor_name {
    char ns[64], name[128];
    uint8_t id[16];
    char endpoint[PATH_MAX];
    struct actor_name *next;
} actor_name_t;

/* A code package: a library uploaded by an owner (see pdc_code.h). */
typedef struct code_pkg {
    char hash[PDC_CODE_HASH_LEN + 1];
    char name[256];
    void *bytes;
    size_t size;
    struct code_pkg *next;
} code_pkg_t;

typedef struct {
    pdc_config_t cfg;
    uv_loop_t *loop;
    actor_name_t *names;
    code_pkg_t *code;
    size_t code_bytes;
    char endpoint[PATH_MAX];
    int owner_pid;
    zsock_t *router;
    pdc_zwatch_t *watch;
    node_t *nodes;
    pdc_enc_t enc;
    uv_timer_t check;
    pdc_daemon_signals_t signals;
    uint64_t bad_messages;
    pdc_jobs_table_t *jobs;
    pdc_actors_table_t *actors;
    int insecure_jobs;
    pdc_head_db_t *db; /* NULL: nothing is kept across a restart */
    char db_dir[PATH_MAX];
} head_t;

/* The tables the head keeps in its database, and their rows' schemas. */
#define S_NODES    "nodes" /* node id -> (endpoint, local endpoint, labels, total, alive) */
#define S_NODE_ROW "(sss{}u)"
enum { S_NODE_ENDPOINT, S_NODE_LOCAL_ENDPOINT, S_NODE_LABELS, S_NODE_TOTAL, S_NODE_ALIVE };
#define S_NAMES    "names" /* namespace NUL name -> (namespace, name, actor id, endpoint) */
#define S_NAME_ROW "(ssds)"
enum { S_NAME_NAMESPACE, S_NAME_NAME, S_NAME_ACTOR_ID, S_NAME_ENDPOINT };
#define S_CODE     "code" /* hash -> (file name, bytes) */
#define S_CODE_ROW "(sb)"
enum { S_CODE_FILE_NAME, S_CODE_BYTES };

/* Wall-clock milliseconds, for the job table's times. */
static uint64_t s_wall_ms(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t) tv.tv_sec * 1000 + (uint64_t) tv.tv_usec / 1000;
}

/* Where the head reaches n's raylet: the connection its last message
   came on. */
static void s_note_rid(node_t *n, pdc_inbound_t *in) {
    size_t len = zmq_msg_size(&in->frames[0]);
    if (len <= sizeof n->rid) {
        memcpy(n->rid, zmq_msg_data(&in->frames[0]), len);
        n->rid_len = len;
    }
}

static node_t *s_node(head_t *self, const char *id) {
    for (node_t *n = self->nodes; n; n = n->next)
        if (!strcmp(n->id, id))
            return n;
    return NULL;
}

/* Copy a validated {} map into res; field selects total or available. */
static void s_read_resources(node_t *n, const msgpack_object *map, int available) {
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        char name[32];
        pdc_f_cstr(&map->via.map.ptr[i].key, name, sizeof name);
        double v = pdc_f_f(&map->via.map.ptr[i].val);
        int k;
        for (k = 0; k < n->nres && strcmp(n->res[k].name, name); k++) {
        }
        if (k == n->nres) {
            if (n->nres == MAX_RESOURCES || available)
                continue;
            snprintf(n->res[n->nres++].name, sizeof n->res[0].name, "%s", name);
        }
        if (available)
            n->res[k].available = v;
        else
            n->res[k].total = n->res[k].available = v;
    }
}

/* Write n's row (on registration and death; never per heartbeat). */
static void s_save_node(head_t *self, const node_t *n) {
    if (!self->db)
        return;
    pdc_head_db_row(&self->enc);
    pdc_enc_array(&self->enc, 5);
    pdc_enc_s(&self->enc, n->endpoint);
    pdc_enc_s(&self->enc, n->local_endpoint);
    pdc_enc_s(&self->enc, n->labels);
    pdc_enc_map(&self->enc, (size_t) n->nres);
    for (int k = 0; k < n->nres; k++) {
        pdc_enc_s(&self->enc, n->res[k].name);
        pdc_enc_f(&self->enc, n->res[k].total);
    }
    pdc_enc_u(&self->enc, (uint64_t) n->alive);
    if (pdc_head_db_put(self->db, S_NODES, n->id, strlen(n->id), &self->enc))
        pdc_warn("node %s: %s", n->id, pdc_head_db_error(self->db));
}

static void s_on_node_register(head_t *self, pdc_inbound_t *in) {
    const msgpack_object *f = in->msg.fields;
    char id[64];
    pdc_f_cstr(&f[PDC_NODE_REGISTER_NODE], id, sizeof id);
    node_t *n = s_node(self, id);
    if (!n) {
        n = calloc(1, sizeof *n);
        if (!n)
            return;
        snprintf(n->id, sizeof n->id, "%s", id);
        n->next = self->nodes;
        self->nodes = n;
    }
    pdc_f_cstr(&f[PDC_NODE_REGISTER_ENDPOINT], n->endpoint, sizeof n->endpoint);
    n->nres = 0;
    s_read_resources(n, &f[PDC_NODE_REGISTER_RESOURCES], 0);
    pdc_f_cstr(&f[PDC_NODE_REGISTER_LABELS], n->labels, sizeof n->labels);
    pdc_f_cstr(&f[PDC_NODE_REGISTER_LOCAL_ENDPOINT], n->local_endpoint, sizeof n->local_endpoint);
    n->alive = 1;
    n->last_seen = uv_now(self->loop);
    s_note_rid(n, in);
    pdc_actors_table_node_alive(self->actors, n->id);
    s_save_node(self, n);
    pdc_info("node %s registered at %s", n->id, n->endpoint);
    pdc_enc_begin(&self->enc, PDC_MSG_NODE_REGISTERED, in->msg.request_id);
    pdc_enc_u(&self->enc, (uint64_t) self->cfg.heartbeat_ms);
    pdc_wire_reply(zsock_resolve(self->router), in, &self->enc);
}

/* 1 if the node is known and alive (answer with the view), else 0. */
static int s_on_heartbeat(head_t *self, pdc_inbound_t *in) {
    char id[64];
    pdc_f_cstr(&in->msg.fields[PDC_HEARTBEAT_NODE], id, sizeof id);
    node_t *n = s_node(self, id);
    if (!n || !n->alive) {
        char why[128];
        snprintf(why, sizeof why, "node %s is not registered", id);
        pdc_wire_reply_error(zsock_resolve(self->router), in, &self->enc, PDC_ENOTFOUND, why);
        return 0;
    }
    n->last_seen = uv_now(self->loop);
    s_note_rid(n, in);
    s_read_resources(n, &in->msg.fields[PDC_HEARTBEAT_AVAILABLE], 1);
    return 1;
}

static void s_enc_resources(head_t *self, node_t *n, int available) {
    pdc_enc_map(&self->enc, (size_t) n->nres);
    for (int k = 0; k < n->nres; k++) {
        pdc_enc_s(&self->enc, n->res[k].name);
        pdc_enc_f(&self->enc, available ? n->res[k].available : n->res[k].total);
    }
}

/* NODES_REPLY: the node table.  Raylets get it after every heartbeat as
   their cluster view; pdc status and joining drivers ask with NODES. */
static void s_reply_nodes(head_t *self, pdc_inbound_t *in) {
    size_t count = 0;
    for (node_t *n = self->nodes; n; n = n->next)
        count++;
    pdc_enc_begin(&self->enc, PDC_MSG_NODES_REPLY, in->msg.request_id);
    pdc_enc_array(&self->enc, count);
    for (node_t *n = self->nodes; n; n = n->next) {
        pdc_enc_array(&self->enc, PDC_NODE_ROW_NFIELDS);
        pdc_enc_s(&self->enc, n->id);
        pdc_enc_s(&self->enc, n->endpoint);
        pdc_enc_u(&self->enc, (uint64_t) n->alive);
        s_enc_resources(self, n, 0);
        s_enc_resources(self, n, 1);
        pdc_enc_s(&self->enc, n->labels);
        pdc_enc_s(&self->enc, n->local_endpoint);
    }
    pdc_wire_reply(zsock_resolve(self->router), in, &self->enc);
}

static void s_on_status(head_t *self, pdc_inbound_t *in) {
    double alive = 0, dead = 0;
    for (node_t *n = self->nodes; n; n = n->next)
        *(n->alive ? &alive : &dead) += 1;
    pdc_enc_begin(&self->enc, PDC_MSG_STATUS_REPLY, in->msg.request_id);
    const char *names[] = {"nodes_alive",       "nodes_dead",   "bad_messages",  "pid",
                           "jobs_pending",      "jobs_running", "insecure_jobs", "actors_alive",
                           "actors_restarting", "actors_dead"};
    double values[] = {alive,
                       dead,
                       (double) self->bad_messages,
                       (double) getpid(),
                       pdc_jobs_table_count(self->jobs, PDC_JOB_PENDING),
                       pdc_jobs_table_count(self->jobs, PDC_JOB_RUNNING),
                       self->insecure_jobs,
                       pdc_actors_table_count(self->actors, PDC_ACTOR_ALIVE),
                       pdc_actors_table_count(self->actors, PDC_ACTOR_RESTARTING),
                       pdc_actors_table_count(self->actors, PDC_ACTOR_DEAD)};
    size_t count = sizeof names / sizeof *names;
    pdc_enc_array(&self->enc, count);
    for (size_t i = 0; i < count; i++) {
        pdc_enc_array(&self->enc, PDC_STAT_NFIELDS);
        pdc_enc_s(&self->enc, names[i]);
        pdc_enc_f(&self->enc, values[i]);
    }
    pdc_wire_reply(zsock_resolve(self->router), in, &self->enc);
}

static actor_name_t **s_name_slot(head_t *self, const msgpack_object *ns,
                                  const msgpack_object *name) {
    char n[64], k[128];
    pdc_f_cstr(ns, n, sizeof n);
    pdc_f_cstr(name, k, sizeof k);
    actor_name_t **p = &self->names;
    while (*p && (strcmp((*p)->ns, n) || strcmp((*p)->name, k)))
        p = &(*p)->next;
    return p;
}

static void s_reply_actor(head_t *self, pdc_inbound_t *in, actor_name_t *a) {
    pdc_enc_begin(&self->enc, PDC_MSG_ACTOR_INFO, in->msg.request_id);
    pdc_enc_id(&self->enc, a->id);
    pdc_enc_s(&self->enc, a->endpoint);
    pdc_wire_reply(zsock_resolve(self->router), in, &self->enc);
}

/* ACTOR_NAME_REGISTER, ACTOR_NAME_DROP and ACTOR_LOOKUP: the three share
   the places of their namespace, name and actor id. */
_Static_assert(PDC_SAME_FIELD(PDC_ACTOR_NAME_DROP_NAMESPACE, PDC_ACTOR_NAME_REGISTER_NAMESPACE) &&
                   PDC_SAME_FIELD(PDC_ACTOR_LOOKUP_NAMESPACE, PDC_ACTOR_NAME_REGISTER_NAMESPACE) &&
                   PDC_SAME_FIELD(PDC_ACTOR_NAME_DROP_NAME, PDC_ACTOR_NAME_REGISTER_NAME) &&
                   PDC_SAME_FIELD(PDC_ACTOR_LOOKUP_NAME, PDC_ACTOR_NAME_REGISTER_NAME) &&
                   PDC_SAME_FIELD(PDC_ACTOR_NAME_DROP_ACTOR_ID, PDC_ACTOR_NAME_REGISTER_ACTOR_ID),
               "the actor name messages read their common fields in one place");

static void s_on_actor_name(head_t *self, pdc_inbound_t *in) {
    const msgpack_object *f = in->msg.fields;
    actor_name_t **slot = s_name_slot(self, &f[PDC_ACTOR_NAME_REGISTER_NAMESPACE],
                                      &f[PDC_ACTOR_NAME_REGISTER_NAME]),
                 *a = *slot;
    char why[300], ns[64], name[128];
    pdc_f_cstr(&f[PDC_ACTOR_NAME_REGISTER_NAMESPACE], ns, sizeof ns);
    pdc_f_cstr(&f[PDC_ACTOR_NAME_REGISTER_NAME], name, sizeof name);
    if (in->msg.type == PDC_MSG_ACTOR_LOOKUP) {
        if (a) {
            s_reply_actor(self, in, a);
            return;
        }
        snprintf(why, sizeof why, "no actor named '%s' in namespace '%s'", name, ns);
        pdc_wire_reply_error(zsock_resolve(self->router), in, &self->enc, PDC_ENOTFOUND, why);
        return;
    }
    const uint8_t *id = pdc_f_id(&f[PDC_ACTOR_NAME_REGISTER_ACTOR_ID]);
    char key[sizeof ns + sizeof name];
    size_t key_len = (size_t) snprintf(key, sizeof key, "%s%c%s", ns, 0, name);
    if (in->msg.type == PDC_MSG_ACTOR_NAME_DROP) {
        if (a && !memcmp(a->id, id, 16)) {
            *slot = a->next;
            free(a);
            if (pdc_head_db_delete(self->db, S_NAMES, key, key_len))
                pdc_warn("actor name '%s': %s", name, pdc_head_db_error(self->db));
        }
        return;
    }
    if (a && memcmp(a->id, id, 16)) {
        snprintf(why, sizeof why, "an actor named '%s' already exists in namespace '%s'", name, ns);
        pdc_wire_reply_error(zsock_resolve(self->router), in, &self->enc, PDC_EINVAL, why);
        return;
    }
    if (!a) {
        a = calloc(1, sizeof *a);
        if (!a)
            return;
        snprintf(a->ns, sizeof a->ns, "%s", ns);
        snprintf(a->name, sizeof a->name, "%s", name);
        memcpy(a->id, id, 16);
    }
    char endpoint[PATH_MAX];
    pdc_f_cstr(&f[PDC_ACTOR_NAME_REGISTER_ENDPOINT], endpoint, sizeof endpoint);
    if (self->db && (!*slot || strcmp(endpoint, a->endpoint))) {
        /* The claim is the actor's once it is on disk: a restarted head
           must not give the name to another. */
        pdc_head_db_row(&self->enc);
        pdc_enc_array(&self->enc, 4);
        pdc_enc_s(&self->enc, ns);
        pdc_enc_s(&self->enc, name);
        pdc_enc_id(&self->enc, id);
        pdc_enc_s(&self->enc, endpoint);
        if (pdc_head_db_put(self->db, S_NAMES, key, key_len, &self->enc)) {
            pdc_warn("actor name '%s': %s", name, pdc_head_db_error(self->db));
            if (!*slot)
                free(a);
            pdc_wire_reply_error(zsock_resolve(self->router), in, &self->enc, PDC_ESTOREFULL,
                                 pdc_head_db_error(self->db));
            return;
        }
    }
    *slot = a;
    snprintf(a->endpoint, sizeof a->endpoint, "%s", endpoint);
    s_reply_actor(self, in, a);
}

static code_pkg_t *s_code(head_t *self, const char *hash) {
    for (code_pkg_t *p = self->code; p; p = p->next)
        if (!strcmp(p->hash, hash))
            return p;
    return NULL;
}

/* Keep a package in memory (the list CODE_GET serves).  NULL if out of
   memory. */
static code_pkg_t *s_keep_code(head_t *self, const char *hash, const char *name, const void *data,
                               size_t size) {
    code_pkg_t *p = calloc(1, sizeof *p);
    void *bytes = p ? malloc(size ? size : 1) : NULL;
    if (!bytes) {
        free(p);
        return NULL;
    }
    memcpy(bytes, data, size);
    snprintf(p->hash, sizeof p->hash, "%s", hash);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->bytes = bytes;
    p->size = size;
    p->next = self->code;
    self->code = p;
    self->code_bytes += size;
    return p;
}

/* CODE_PUT: keep the package if its bytes match its hash.  CODE_GET:
   send it.  Both carry the hash in the same place. */
_Static_assert(PDC_SAME_FIELD(PDC_CODE_GET_HASH, PDC_CODE_PUT_HASH),
               "CODE_GET and CODE_PUT read the hash in one place");

static void s_on_code(head_t *self, pdc_inbound_t *in) {
    void *sock = zsock_resolve(self->router);
    size_t hlen;
    const char *h = pdc_f_str(&in->msg.fields[PDC_CODE_PUT_HASH], &hlen);
    char hash[PDC_CODE_HASH_LEN + 1], why[400];
    if (!pdc_code_hash_valid(h, hlen)) {
        self->bad_messages++;
        pdc_wire_reply_error(sock, in, &self->enc, PDC_EINVAL,
                             "a code hash is 64 lowercase hex digits");
        return;
    }
    memcpy(hash, h, PDC_CODE_HASH_LEN);
    hash[PDC_CODE_HASH_LEN] = '\0';
    code_pkg_t *p = s_code(self, hash);
    if (in->msg.type == PDC_MSG_CODE_GET) {
        if (!p) {
            snprintf(why, sizeof why, "no code package %s at the head", hash);
            pdc_wire_reply_error(sock, in, &self->enc, PDC_ENOTFOUND, why);
            return;
        }
        pdc_enc_begin(&self->enc, PDC_MSG_CODE, in->msg.request_id);
        pdc_enc_s(&self->enc, hash);
        pdc_wire_send(sock, zmq_msg_data(&in->frames[0]), zmq_msg_size(&in->frames[0]), &self->enc,
                      p->bytes, p->size);
        return;
    }
    zmq_msg_t *body = pdc_inbound_payload(in, 0);
    if (!p) {
        char got[PDC_CODE_HASH_LEN + 1];
        size_t size = body ? zmq_msg_size(body) : 0;
        if (!body) { /* a question: does the head have it? */
            snprintf(why, sizeof why, "no code package %s at the head: send its bytes", hash);
            pdc_wire_reply_error(sock, in, &self->enc, PDC_ENOTFOUND, why);
            return;
        }
        pdc_code_hash(zmq_msg_data(body), size, got);
        if (strcmp(got, hash)) {
            snprintf(why, sizeof why, "CODE_PUT: the bytes hash to %s, not %s", got, hash);
            pdc_wire_reply_error(sock, in, &self->enc, PDC_EINVAL, why);
            return;
        }
        if (self->code_bytes + size > (size_t) self->cfg.max_code_bytes) {
            snprintf(why, sizeof why,
                     "the head holds %zu bytes of code; %zu more would pass max_code_bytes (%lld)",
                     self->code_bytes, size, (long long) self->cfg.max_code_bytes);
            pdc_wire_reply_error(sock, in, &self->enc, PDC_ESTOREFULL, why);
            return;
        }
        char name[256];
        pdc_f_cstr(&in->msg.fields[PDC_CODE_PUT_FILE_NAME], name, sizeof name);
        if (self->db) { /* on disk before CODE_STORED: a new node after a restart gets it */
            pdc_head_db_row(&self->enc);
            pdc_enc_array(&self->enc, 2);
            pdc_enc_s(&self->enc, name);
            pdc_enc_b(&self->enc, zmq_msg_data(body), size);
            if (pdc_head_db_put(self->db, S_CODE, hash, PDC_CODE_HASH_LEN, &self->enc)) {
                pdc_warn("code package %s: %s", hash, pdc_head_db_error(self->db));
                pdc_wire_reply_error(sock, in, &self->enc, PDC_ESTOREFULL,
                                     pdc_head_db_error(self->db));
                return;
            }
        }
        if (!s_keep_code(self, hash, name, zmq_msg_data(body), size)) {
            pdc_wire_reply_error(sock, in, &self->enc, PDC_ENOMEM,
                                 "out of memory for the code package");
            return;
        }
        pdc_info("code package %s (%s, %zu bytes) uploaded", hash, name, size);
    }
    pdc_enc_begin(&self->enc, PDC_MSG_CODE_STORED, in->msg.request_id);
    pdc_enc_s(&self->enc, hash);
    pdc_wire_reply(sock, in, &self->enc);
}

static void s_on_router(pdc_zwatch_t *watch, void *sock, void *arg) {
    (void) watch;
    head_t *self = arg;
    pdc_inbound_t in;
    if (!pdc_wire_serve(sock, &in, &self->enc, &self->bad_messages))
        return;
    switch (in.msg.type) {
    case PDC_MSG_NODE_REGISTER:
        s_on_node_register(self, &in);
        break;
    case PDC_MSG_HEARTBEAT:
        if (s_on_heartbeat(self, &in))
            s_reply_nodes(self, &in);
        break;
    case PDC_MSG_NODES:
        s_reply_nodes(self, &in);
        break;
    case PDC_MSG_STATUS:
        s_on_status(self, &in);
        break;
    case PDC_MSG_ACTOR_NAME_REGISTER:
    case PDC_MSG_ACTOR_NAME_DROP:
    case PDC_MSG_ACTOR_LOOKUP:
        s_on_actor_name(self, &in);
        break;
    case PDC_MSG_CODE_PUT:
    case PDC_MSG_CODE_GET:
        s_on_code(self, &in);
        break;
    default:
        if (pdc_jobs_table_on_message(self->jobs, &in, s_wall_ms()) ||
            pdc_actors_table_on_message(self->actors, &in))
            break;
        pdc_wire_refuse(sock, &in, &self->enc, "the head", &self->bad_messages);
    }
    pdc_inbound_close(&in);
}

static void s_on_check(uv_timer_t *t) {
    head_t *self = t->data;
    if (pdc_daemon_owner_gone(self->owner_pid)) {
        pdc_info("stopping: the driver that started this cluster is gone");
        uv_stop(self->loop);
        return;
    }
    uint64_t now = uv_now(self->loop);
    for (node_t *n = self->nodes; n; n = n->next)
        if (n->alive && now - n->last_seen > (uint64_t) self->cfg.node_timeout_ms) {
            n->alive = 0;
            pdc_warn("node %s missed heartbeats for %llu ms: declared dead", n->id,
                     (unsigned long long) (now - n->last_seen));
            s_save_node(self, n);
            pdc_jobs_table_node_dead(self->jobs, n->id, s_wall_ms());
            pdc_actors_table_node_dead(self->actors, n->id);
        }
    pdc_jobs_table_check(self->jobs, s_wall_ms());
}

/* ---- What the job table asks of the nodes ------------------------------ */

/* The amount of resource name node n has free (CPU included). */
static double s_free(const node_t *n, const char *name) {
    for (int k = 0; k < n->nres; k++)
        if (!strcmp(n->res[k].name, name))
            return n->res[k].available;
    return 0;
}

static int s_place_job(void *arg, const pdc_resources_t *want, const char *selector, char *node,
                       size_t len, char *why, size_t why_len) {
    head_t *self = arg;
    pdc_selector_t sel;
    if (pdc_selector_parse(selector, &sel, why, why_len))
        return -1;
    node_t *best = NULL;
    int alive = 0;
    for (node_t *n = self->nodes; n; n = n->next) {
        if (!n->alive || !n->rid_len)
            continue;
        alive++;
        pdc_labels_t labels;
        char err[128];
        if (pdc_labels_parse(n->labels, &labels, err, sizeof err) ||
            !pdc_selector_match(&sel, &labels))
            continue;
        int fits = 1;
        for (int k = 0; k < want->n && fits; k++)
            fits = s_free(n, want->name[k]) + 1e-9 >= want->amount[k];
        if (fits && (!best || s_free(n, "CPU") > s_free(best, "CPU")))
            best = n;
    }
    if (!best) {
        char res[256];
        snprintf(why, why_len, "none of the %d live nodes has %s free%s%s", alive,
                 want->n ? pdc_resources_format(want, res, sizeof res) : "a place",
                 *selector ? " with labels matching " : "", selector);
        return -1;
    }
    snprintf(node, len, "%s", best->id);
    return 0;
}

static int s_send_to_node(void *arg, const char *node, const pdc_enc_t *enc) {
    head_t *self = arg;
    int sent = 0;
    for (node_t *n = self->nodes; n; n = n->next)
        if (n->alive && n->rid_len && (!node || !strcmp(n->id, node)))
            sent += !pdc_wire_send(zsock_resolve(self->router), n->rid, n->rid_len, enc, NULL, 0);
    return node && !sent ? -1 : 0;
}

static int s_sender_node(void *arg, pdc_inbound_t *in, char *node, size_t len) {
    head_t *self = arg;
    for (node_t *n = self->nodes; n; n = n->next)
        if (n->rid_len == zmq_msg_size(&in->frames[0]) &&
            !memcmp(n->rid, zmq_msg_data(&in->frames[0]), n->rid_len)) {
            snprintf(node, len, "%s", n->id);
            return 0;
        }
    return -1;
}

static int s_live_nodes(void *arg, char (*ids)[64], int max) {
    head_t *self = arg;
    int n = 0;
    for (node_t *node = self->nodes; node && (!ids || n < max); node = node->next)
        if (node->alive && node->rid_len) {
            if (ids)
                snprintf(ids[n], sizeof ids[0], "%s", node->id);
            n++;
        }
    return n;
}

static int s_has_code(void *arg, const char *hash) {
    return s_code(arg, hash) != NULL;
}

/* ---- Reading the tables back after a restart --------------------------- */

static void s_load_node(void *arg, const void *key, size_t key_len, const msgpack_object *f,
                        uint32_t count) {
    (void) count;
    head_t *self = arg;
    node_t *n = calloc(1, sizeof *n);
    if (!n || key_len >= sizeof n->id) {
        free(n);
        return;
    }
    memcpy(n->id, key, key_len);
    pdc_f_cstr(&f[S_NODE_ENDPOINT], n->endpoint, sizeof n->endpoint);
    pdc_f_cstr(&f[S_NODE_LOCAL_ENDPOINT], n->local_endpoint, sizeof n->local_endpoint);
    pdc_f_cstr(&f[S_NODE_LABELS], n->labels, sizeof n->labels);
    s_read_resources(n, &f[S_NODE_TOTAL], 0);
    /* Alive as if it had just registered: dead after node_timeout_ms
       unless its raylet heartbeats again. */
    n->alive = (int) pdc_f_u(&f[S_NODE_ALIVE]);
    n->last_seen = uv_now(self->loop);
    n->next = self->nodes;
    self->nodes = n;
}

static void s_load_name(void *arg, const void *key, size_t key_len, const msgpack_object *f,
                        uint32_t count) {
    (void) key;
    (void) key_len;
    (void) count;
    head_t *self = arg;
    actor_name_t *a = calloc(1, sizeof *a);
    if (!a)
        return;
    pdc_f_cstr(&f[S_NAME_NAMESPACE], a->ns, sizeof a->ns);
    pdc_f_cstr(&f[S_NAME_NAME], a->name, sizeof a->name);
    memcpy(a->id, pdc_f_id(&f[S_NAME_ACTOR_ID]), 16);
    pdc_f_cstr(&f[S_NAME_ENDPOINT], a->endpoint, sizeof a->endpoint);
    a->next = self->names;
    self->names = a;
}

static void s_load_code(void *arg, const void *key, size_t key_len, const msgpack_object *f,
                        uint32_t count) {
    (void) count;
    head_t *self = arg;
    char hash[PDC_CODE_HASH_LEN + 1], name[256], got[PDC_CODE_HASH_LEN + 1];
    size_t size;
    const void *bytes = pdc_f_bin(&f[S_CODE_BYTES], &size);
    if (key_len != PDC_CODE_HASH_LEN)
        return;
    memcpy(hash, key, PDC_CODE_HASH_LEN);
    hash[PDC_CODE_HASH_LEN] = '\0';
    pdc_code_hash(bytes, size, got);
    if (strcmp(got, hash)) {
        pdc_warn("the head's database: code package %s hashes to %s: skipped", hash, got);
        return;
    }
    if (!s_code(self, hash) &&
        !s_keep_code(self, hash, pdc_f_cstr(&f[S_CODE_FILE_NAME], name, sizeof name), bytes, size))
        pdc_warn("out of memory reading code package %s back", hash);
}

static void s_free_tables(head_t *self) {
    pdc_head_db_destroy(&self->db);
    while (self->code) {
        code_pkg_t *p = self->code;
        self->code = p->next;
        free(p->bytes);
        free(p);
    }
    while (self->names) {
        actor_name_t *a = self->names;
        self->names = a->next;
        free(a);
    }
    while (self->nodes) {
        node_t *n = self->nodes;
        self->nodes = n->next;
        free(n);
    }
}

/* Open --db and read its tables back.  0, or -1 (logged). */
static int s_load(head_t *self) {
    char why[600];
    self->db = pdc_head_db_open(self->db_dir, &self->cfg, why, sizeof why);
    if (!self->db) {
        pdc_error("%s", why);
        return -1;
    }
    uv_update_time(self->loop);
    int nodes = pdc_head_db_each(self->db, S_NODES, S_NODE_ROW, s_load_node, self);
    int names = pdc_head_db_each(self->db, S_NAMES, S_NAME_ROW, s_load_name, self);
    int code = pdc_head_db_each(self->db, S_CODE, S_CODE_ROW, s_load_code, self);
    if (nodes < 0 || names < 0 || code < 0) {
        pdc_error("%s", pdc_head_db_error(self->db));
        return -1;
    }
    if (nodes || names || code)
        pdc_info("restarted on %s: %d nodes, %d actor names, %d code packages (%zu bytes)",
                 self->db_dir, nodes, names, code, self->code_bytes);
    return 0;
}

static void s_on_signal(uv_signal_t *h, int signum) {
    head_t *self = h->data;
    pdc_info("stopping: %s", signum == SIGINT ? "SIGINT" : "SIGTERM");
    uv_stop(self->loop);
}

static void s_usage(FILE *out) {
    fprintf(
        out,
        "Usage: pdc-head --endpoint EP [options]\n"
        "The cluster daemon of pdc: node membership, heartbeats, resource view.\n\n"
        "  --endpoint EP        where raylets and clients reach it (tcp://HOST:6380 or ipc://...)\n"
        "  --owner-pid PID      stop when this process is gone (embedded clusters)\n"
        "  --db DIR             keep the tables (nodes, actor names, code packages, jobs) in an\n"
        "                       LMDB environment in DIR, and read them back when started again\n"
        "  --insecure-jobs      take job submissions (pdc-submit) from any host, not only\n"
        "                       from this one: anyone who reaches the port can run code\n"
        "  --set NAME=VALUE     any setting of --print-config\n"
        "  --print-config       print every setting and exit\n"
        "  -h, --help           this text\n");
}

int pdc_head_main(int argc, char **argv) {
    head_t *self = calloc(1, sizeof *self);
    if (!self)
        return 1;
    if (pdc_config_load(&self->cfg)) {
        free(self);
        return 2;
    }
    pdc_log_init("pdc-head", PDC_LOG_INFO);
    static const struct option opts[] = {
        {"endpoint", required_argument, 0, 'e'}, {"owner-pid", required_argument, 0, 'o'},
        {"db", required_argument, 0, 'd'},       {"set", required_argument, 0, 'x'},
        {"print-config", no_argument, 0, 'p'},   {"insecure-jobs", no_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
    int c;
    char err[256];
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'e':
            snprintf(self->endpoint, sizeof self->endpoint, "%s", optarg);
            break;
        case 'o':
            self->owner_pid = atoi(optarg);
            break;
        case 'd':
            snprintf(self->db_dir, sizeof self->db_dir, "%s", optarg);
            break;
        case 'j':
            self->insecure_jobs = 1;
            break;
        case 'x':
            if (pdc_config_set(&self->cfg, optarg, err, sizeof err)) {
                fprintf(stderr, "pdc-head: %s\n", err);
                free(self);
                return 2;
            }
            break;
        case 'p':
            pdc_config_print(&self->cfg, stdout);
            free(self);
            return 0;
        case 'h':
            s_usage(stdout);
            free(self);
            return 0;
        default:
            s_usage(stderr);
            free(self);
            return 2;
        }
    }
    if (!*self->endpoint) {
        fprintf(stderr, "pdc-head: --endpoint is required\n");
        s_usage(stderr);
        free(self);
        return 2;
    }
    zsys_handler_set(NULL);
    self->router = zsock_new(ZMQ_ROUTER);
    pdc_wire_tune(zsock_resolve(self->router), self->cfg.max_message_size);
    if (zsock_bind(self->router, "%s", self->endpoint) < 0) {
        pdc_error("cannot bind %s: %s", self->endpoint, zmq_strerror(errno));
        zsock_destroy(&self->router);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    self->loop = uv_default_loop();
    pdc_enc_init(&self->enc);
    if (*self->db_dir && s_load(self)) {
        s_free_tables(self);
        pdc_enc_free(&self->enc);
        zsock_destroy(&self->router);
        free(self);
        return 1;
    }
    pdc_jobs_table_config_t jcfg = {.router = zsock_resolve(self->router),
                                    .cfg = &self->cfg,
                                    .insecure_jobs = self->insecure_jobs,
                                    .place = s_place_job,
                                    .send = s_send_to_node,
                                    .sender = s_sender_node,
                                    .live_nodes = s_live_nodes,
                                    .has_code = s_has_code,
                                    .db = self->db,
                                    .arg = self};
    self->jobs = pdc_jobs_table_new(&jcfg);
    self->actors = pdc_actors_table_new(zsock_resolve(self->router), &self->cfg, self->db);
    if (!self->jobs || !self->actors) {
        pdc_error("out of memory starting the head");
        zsock_destroy(&self->router);
        return 1;
    }
    if (self->insecure_jobs)
        pdc_warn("--insecure-jobs: any host that reaches %s can submit jobs, which run code as "
                 "this cluster's user",
                 self->endpoint);
    self->watch = pdc_zwatch_new(self->loop, zsock_resolve(self->router), s_on_router, self);
    uv_timer_init(self->loop, &self->check);
    self->check.data = self;
    uint64_t period =
        (uint64_t) (self->cfg.heartbeat_ms < self->cfg.owner_check_ms ? self->cfg.heartbeat_ms
                                                                      : self->cfg.owner_check_ms);
    uv_timer_start(&self->check, s_on_check, period, period);
    pdc_daemon_signals_start(self->loop, &self->signals, s_on_signal, self);
    pdc_info("serving on %s", self->endpoint);

    uv_run(self->loop, UV_RUN_DEFAULT);

    /* The socket goes before the signal handlers (see pdc_daemon.h). */
    pdc_zwatch_destroy(&self->watch);
    zsock_destroy(&self->router);
    pdc_daemon_unlink_endpoint(self->endpoint);
    uv_close((uv_handle_t *) &self->check, NULL);
    pdc_daemon_signals_close(&self->signals);
    uv_run(self->loop, UV_RUN_DEFAULT);
    uv_loop_close(self->loop);
    pdc_jobs_table_destroy(&self->jobs);
    pdc_actors_table_destroy(&self->actors);
    s_free_tables(self);
    pdc_enc_free(&self->enc);
    pdc_info("stopped");
    free(self);
    return 0;
}
