/*  pdc_task: what a remote function sees: its arguments and its result.

    A worker fills a pdc_task from one task spec and calls the function.
    Arguments are read in place: inline values point into the received
    message, stored objects into the node's shared-memory store (pinned
    until the task returns).  Reading an argument with the wrong type or
    one past the end fails the task with PDC_EARGS, naming the argument
    and what it holds, and the accessor returns 0 or NULL; the failure
    stands whatever the function does afterwards.  A result larger than
    the inline limit goes to the store under the task's id.
*/
#include "pdc_client_internal.h"

#include "pdc_borrow.h"
#include "pdc_refs.h"

#include "pdc_actor_owner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pdc_id.h"
#include "pdc_wire.h"

#include <time.h>

static const char *s_type_name(pdc_type t) {
    static const char *names[] = {"nil",      "an int",          "a float",
                                  "a string", "bytes",           "a reference",
                                  "an error", "an actor handle", "a list of references"};
    return (unsigned) t < sizeof names / sizeof *names ? names[t] : "?";
}

static void s_args_error(pdc_task *t, size_t i, const char *wanted) {
    if (t->code != PDC_OK)
        return;
    t->code = PDC_EARGS;
    if (i >= t->nargs)
        snprintf(t->message, sizeof t->message, "%s: argument %zu was read but the call passed %zu",
                 t->function, i, t->nargs);
    else
        snprintf(t->message, sizeof t->message, "%s: argument %zu is %s, expected %s", t->function,
                 i, s_type_name(t->args[i].type), wanted);
}

static task_input_t *s_arg(pdc_task *t, size_t i, pdc_type want, const char *wanted) {
    if (i < t->nargs && t->args[i].type == want)
        return &t->args[i];
    s_args_error(t, i, wanted);
    return NULL;
}

size_t pdc_arg_count(pdc_task *t) {
    return t->nargs;
}

pdc_type pdc_arg_type(pdc_task *t, size_t i) {
    return i < t->nargs ? t->args[i].type : PDC_T_NIL;
}

int64_t pdc_arg_i64(pdc_task *t, size_t i) {
    task_input_t *a = s_arg(t, i, PDC_T_I64, "an int");
    return a ? a->i64 : 0;
}

double pdc_arg_f64(pdc_task *t, size_t i) {
    if (i < t->nargs && t->args[i].type == PDC_T_I64)
        return (double) t->args[i].i64;
    task_input_t *a = s_arg(t, i, PDC_T_F64, "a float");
    return a ? a->f64 : 0.0;
}

const char *pdc_arg_str(pdc_task *t, size_t i, size_t *len) {
    task_input_t *a = s_arg(t, i, PDC_T_STR, "a string");
    if (len)
        *len = a ? a->size : 0;
    return a ? a->data : NULL;
}

const void *pdc_arg_bytes(pdc_task *t, size_t i, size_t *size) {
    task_input_t *a = i < t->nargs && t->args[i].type == PDC_T_STR
                          ? &t->args[i]
                          : s_arg(t, i, PDC_T_BYTES, "bytes");
    if (size)
        *size = a ? a->size : 0;
    return a ? a->data : NULL;
}

/* A list returned and then replaced, or not sent (the task failed):
   what it lent goes back. */
static void s_unlend(pdc_task *t) {
    if (!t->rlent)
        return;
    pthread_mutex_lock(&t->client->mu);
    pdc_borrow_unlend(t->client, t->rdata, t->rsize);
    pthread_mutex_unlock(&t->client->mu);
    t->rlent = 0;
}

static void s_clear_result(pdc_task *t) {
    s_unlend(t);
    free(t->rbuf);
    t->rbuf = NULL;
    t->rdata = NULL;
    t->rsize = 0;
}

int pdc_return_i64(pdc_task *t, int64_t v) {
    s_clear_result(t);
    t->rtype = PDC_T_I64;
    t->ri64 = v;
    return 0;
}

int pdc_return_f64(pdc_task *t, double v) {
    s_clear_result(t);
    t->rtype = PDC_T_F64;
    t->rf64 = v;
    return 0;
}

static int s_return_buf(pdc_task *t, pdc_type type, const void *data, size_t size) {
    s_clear_result(t);
    t->rbuf = malloc(size ? size : 1);
    if (!t->rbuf)
        return pdc_fail(t, "out of memory for a %zu-byte result", size);
    if (size)
        memcpy(t->rbuf, data, size);
    t->rtype = type;
    t->rdata = t->rbuf;
    t->rsize = size;
    return 0;
}

int pdc_return_str(pdc_task *t, const char *s) {
    return s_return_buf(t, PDC_T_STR, s ? s : "", s ? strlen(s) : 0);
}

int pdc_return_bytes(pdc_task *t, const void *data, size_t size) {
    if (size && !data)
        return pdc_fail(t, "pdc_return_bytes: NULL data");
    return s_return_buf(t, PDC_T_BYTES, data, size);
}

int pdc_return_refs(pdc_task *t, const pdc_ref *refs, size_t n) {
    if (n && !refs)
        return pdc_fail(t, "pdc_return_refs: NULL references");
    pdc_client *c = t->client;
    char why[512];
    void *data;
    size_t size;
    s_clear_result(t);
    pthread_mutex_lock(&c->mu);
    int rc = pdc_refs_encode(c, refs, n, &data, &size, why, sizeof why);
    /* Held for the caller from now on: the task may let go of its own. */
    if (rc == PDC_OK && (rc = pdc_borrow_lend(c, data, size, why, sizeof why)) != PDC_OK)
        free(data);
    pthread_mutex_unlock(&c->mu);
    if (rc != PDC_OK)
        return pdc_fail(t, "pdc_return_refs: %s", why);
    t->rbuf = data;
    t->rtype = PDC_T_REFS;
    t->rdata = data;
    t->rsize = size;
    t->rlent = 1;
    return 0;
}

size_t pdc_arg_nrefs(pdc_task *t, size_t i) {
    task_input_t *a = s_arg(t, i, PDC_T_REFS, "a list of references");
    return a ? pdc_refs_count(a->data, a->size) : 0;
}

static int s_held_settled(pdc_client *c, void *arg) {
    (void) c;
    task_input_t *a = arg;
    return pdc_refs_settled(a->held, a->nheld);
}

pdc_ref pdc_arg_ref(pdc_task *t, size_t i, size_t k) {
    pdc_ref ref;
    memset(&ref, 0, sizeof ref);
    task_input_t *a = s_arg(t, i, PDC_T_REFS, "a list of references");
    if (!a)
        return ref;
    if (pdc_refs_at(a->data, a->size, k, ref.id, NULL)) {
        pdc_fail(t, "pdc_arg_ref: argument %zu holds %zu references, not %zu", i,
                 pdc_refs_count(a->data, a->size), k + 1);
        return ref;
    }
    pdc_client *c = t->client;
    char why[512];
    pthread_mutex_lock(&c->mu);
    int rc = PDC_OK;
    if (!a->held) {
        /* The first reference taken borrows the whole list, and waits for
           the owners to answer: the caller, which holds the list for the
           task's duration, may let go of it as soon as the task ends. */
        rc = pdc_refs_hold_list(c, a->data, a->size, &a->held, &a->nheld, why, sizeof why);
        if (rc == PDC_OK &&
            pdc_client_wait_until(c, s_held_settled, a, c->cfg.connect_timeout_ms, 0) != PDC_OK) {
            rc = PDC_ETIMEOUT;
            snprintf(why, sizeof why, "the owners of its references did not answer in time");
        }
    }
    obj_t *o = rc == PDC_OK ? pdc_obj_find(c, ref.id) : NULL;
    if (o)
        o->refs++;
    pthread_mutex_unlock(&c->mu);
    if (!o)
        pdc_fail(t, "pdc_arg_ref: argument %zu: %s", i, rc == PDC_OK ? "not held" : why);
    return ref;
}

void *pdc_return_alloc(pdc_task *t, size_t size) {
    s_clear_result(t);
    t->rbuf = malloc(size ? size : 1);
    if (!t->rbuf) {
        pdc_fail(t, "out of memory for a %zu-byte result", size);
        return NULL;
    }
    t->rtype = PDC_T_BYTES;
    t->rdata = t->rbuf;
    t->rsize = size;
    return t->rbuf;
}

int pdc_fail(pdc_task *t, const char *fmt, ...) {
    if (t->code == PDC_OK) {
        t->code = PDC_ETASK;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(t->message, sizeof t->message, fmt, ap);
        va_end(ap);
    }
    return -1;
}

pdc_actor *pdc_arg_actor(pdc_task *t, size_t i) {
    if (i < t->nargs && t->args[i].type == PDC_T_ACTOR)
        return t->args[i].actor;
    s_args_error(t, i, "an actor handle");
    return NULL;
}

pdc_client *pdc_task_client(pdc_task *t) {
    return t->client;
}

pdc_fn pdc_task_self(pdc_task *t) {
    return t->self;
}

/* ---- The worker side: reading a spec, encoding the outcome ---------- */

/* An argument "ID@NODE" (a stored object on another node) into id and
   node; 0, or -1 if it is not one. */
static int s_parse_remote(const msgpack_object *v, uint8_t id[PDC_ID_LEN], char *node, size_t len) {
    char text[2 * PDC_ID_LEN + 80];
    if (v->type != MSGPACK_OBJECT_STR || v->via.str.size >= sizeof text)
        return -1;
    pdc_f_cstr(v, text, sizeof text);
    const char *sep = strchr(text, '@');
    if (!sep || sep - text != 2 * PDC_ID_LEN || pdc_id_parse(text, id))
        return -1;
    snprintf(node, len, "%s", sep + 1);
    return 0;
}

/* Fill t->args from the spec's argument list (validated by the schema).
   Arguments stored on other nodes are pulled all at once, before any is
   waited for. */
void pdc_task_read_args(pdc_task *t, const msgpack_object *list) {
    t->nargs = list->via.array.size;
    t->args = calloc(t->nargs ? t->nargs : 1, sizeof *t->args);
    pdc_pull_t **pulls = calloc(t->nargs ? t->nargs : 1, sizeof *pulls);
    if (!t->args || !pulls) {
        free(t->args);
        free(pulls);
        t->args = NULL;
        t->nargs = 0;
        pdc_fail(t, "out of memory for arguments");
        return;
    }
    for (size_t i = 0; i < t->nargs; i++) {
        const msgpack_object *pair = list->via.array.ptr[i].via.array.ptr;
        uint8_t id[PDC_ID_LEN];
        char node[128];
        if (pdc_f_u(&pair[PDC_ARG_KIND]) == PDC_ARG_REMOTE &&
            !s_parse_remote(&pair[PDC_ARG_VALUE], id, node, sizeof node))
            pulls[i] = pdc_client_pull_start(t->client, id, node);
    }
    for (size_t i = 0; i < t->nargs; i++) {
        const msgpack_object *pair = list->via.array.ptr[i].via.array.ptr;
        const msgpack_object *v = &pair[PDC_ARG_VALUE];
        task_input_t *a = &t->args[i];
        if (pdc_f_u(&pair[PDC_ARG_KIND]) == PDC_ARG_ACTOR) {
            a->type = PDC_T_ACTOR;
            if (v->type == MSGPACK_OBJECT_STR)
                a->actor = pdc_actor_from_wire(t->client, v->via.str.ptr, v->via.str.size);
            if (!a->actor && t->code == PDC_OK) {
                t->code = PDC_EPROTO;
                snprintf(t->message, sizeof t->message, "argument %zu: a malformed actor handle",
                         i);
            }
            continue;
        }
        uint8_t remote_id[PDC_ID_LEN];
        const uint8_t *stored_id = NULL;
        if (pdc_f_u(&pair[PDC_ARG_KIND]) == PDC_ARG_REMOTE) {
            /* "ID@NODE": brought to this node's store (started above). */
            char node[128], why[512];
            if (s_parse_remote(v, remote_id, node, sizeof node)) {
                if (t->code == PDC_OK) {
                    t->code = PDC_EPROTO;
                    snprintf(t->message, sizeof t->message,
                             "argument %zu: a remote argument needs ID@NODE", i);
                }
                continue;
            }
            int rc = pdc_client_pull_wait(t->client, pulls[i], -1, why, sizeof why);
            pulls[i] = NULL;
            if (rc != PDC_OK) {
                if (t->code == PDC_OK) {
                    t->code = rc;
                    t->lost_arg = rc == PDC_EOBJECTLOST ? i + 1 : 0;
                    snprintf(t->message, sizeof t->message, "argument %zu: %s", i, why);
                }
                continue;
            }
            stored_id = remote_id;
        } else if (pdc_f_u(&pair[PDC_ARG_KIND]) == PDC_ARG_REFS) {
            /* A list of references: read through pdc_arg_ref, which
               borrows what it refers to. */
            if (v->type != MSGPACK_OBJECT_BIN || !pdc_refs_valid(v->via.bin.ptr, v->via.bin.size)) {
                t->code = PDC_EPROTO;
                snprintf(t->message, sizeof t->message,
                         "argument %zu: a malformed list of references", i);
                continue;
            }
            a->type = PDC_T_REFS;
            a->data = v->via.bin.ptr;
            a->size = v->via.bin.size;
            continue;
        } else if (pdc_f_u(&pair[PDC_ARG_KIND]) == PDC_ARG_STORED) {
            if (v->type != MSGPACK_OBJECT_BIN || v->via.bin.size != PDC_ID_LEN) {
                t->code = PDC_EPROTO;
                snprintf(t->message, sizeof t->message,
                         "argument %zu: a stored argument needs a 16-byte id", i);
                continue;
            }
            stored_id = (const uint8_t *) v->via.bin.ptr;
        }
        if (stored_id) {
            int rc =
                pdc_store_get(t->client->store, stored_id, &a->data, &a->size, &a->type, &a->pin);
            char why[512];
            if (rc == PDC_ENOTFOUND &&
                pdc_store_restore(t->client->store, stored_id, why, sizeof why) == PDC_OK)
                rc = pdc_store_get(t->client->store, stored_id, &a->data, &a->size, &a->type,
                                   &a->pin); /* it was spilled */
            if (rc != PDC_OK && t->code == PDC_OK) {
                char hex[33];
                t->code = rc == PDC_ENOTFOUND ? PDC_EOBJECTLOST : rc;
                t->lost_arg = rc == PDC_ENOTFOUND ? i + 1 : 0;
                if (rc == PDC_ENOTFOUND)
                    snprintf(t->message, sizeof t->message,
                             "argument %zu: object %s is not in the store of node %s", i,
                             pdc_id_hex(stored_id, hex), t->client->node_id);
                else
                    snprintf(t->message, sizeof t->message, "argument %zu: object %s: %s", i,
                             pdc_id_hex(stored_id, hex), pdc_store_last_error());
            }
            continue;
        }
        switch (v->type) {
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
            a->type = PDC_T_I64;
            a->i64 = pdc_f_i(v);
            break;
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:
            a->type = PDC_T_F64;
            a->f64 = v->via.f64;
            break;
        case MSGPACK_OBJECT_STR:
            a->type = PDC_T_STR;
            a->data = v->via.str.ptr;
            a->size = v->via.str.size;
            break;
        case MSGPACK_OBJECT_BIN:
            a->type = PDC_T_BYTES;
            a->data = v->via.bin.ptr;
            a->size = v->via.bin.size;
            break;
        default:
            a->type = PDC_T_NIL;
            break;
        }
    }
    free(pulls); /* every one started was waited for above */
}

/* Encode t's outcome as one result tuple into e (emptied first); a
   result over the inline limit goes to the store under the task's id. */
void pdc_task_encode_result(pdc_task *t, pdc_enc_t *e) {
    pdc_client *c = t->client;
    e->buf.size = 0;
    if (t->code != PDC_OK)
        s_unlend(t); /* the caller gets no list */
    else if (t->rtype == PDC_T_REFS)
        t->rlent = 0; /* the caller drops what the list lends it */
    else if (t->rdata && t->rsize > c->inline_max) {
        char err[512];
        pdc_store_delete(c->store, t->id); /* a retry may find its own earlier copy */
        int rc = pdc_store_put(c->store, t->id, t->rtype, t->rdata, t->rsize, err, sizeof err);
        if (rc != PDC_OK) {
            t->code = rc;
            snprintf(t->message, sizeof t->message, "storing the %zu-byte result: %s", t->rsize,
                     err);
        } else {
            t->rstored = 1;
        }
    }
    pdc_enc_array(e, PDC_RESULT_NFIELDS);
    pdc_enc_id(e, t->id);
    pdc_enc_i(e, t->code);
    if (t->code != PDC_OK) {
        pdc_enc_u(e, PDC_RES_ERROR);
        if (t->code == PDC_EOBJECTLOST && t->lost_arg) /* which argument was lost */
            pdc_enc_u(e, t->lost_arg - 1);
        else
            pdc_enc_nil(e);
        pdc_enc_s(e, t->function);
        pdc_enc_s(e, t->message);
    } else if (t->rtype == PDC_T_REFS) {
        pdc_enc_u(e, PDC_RES_REFS);
        pdc_enc_b(e, t->rdata, t->rsize);
        pdc_enc_s(e, "");
        pdc_enc_s(e, "");
    } else if (t->rstored) {
        pdc_enc_u(e, PDC_RES_STORED);
        pdc_enc_u(e, t->rsize);
        pdc_enc_s(e, "");
        pdc_enc_s(e, "");
    } else {
        pdc_enc_u(e, PDC_RES_INLINE);
        switch (t->rtype) {
        case PDC_T_I64:
            pdc_enc_i(e, t->ri64);
            break;
        case PDC_T_F64:
            pdc_enc_f(e, t->rf64);
            break;
        case PDC_T_STR:
            pdc_enc_sn(e, t->rdata, t->rsize);
            break;
        case PDC_T_BYTES:
            pdc_enc_b(e, t->rdata, t->rsize);
            break;
        default:
            pdc_enc_nil(e);
            break;
        }
        pdc_enc_s(e, "");
        pdc_enc_s(e, "");
    }
    pdc_enc_u(e, t->busy_us);
}

void pdc_task_release(pdc_task *t) {
    for (size_t i = 0; i < t->nargs; i++) {
        if (t->args[i].pin)
            pdc_store_unpin(t->client->store, &t->args[i].pin);
        if (t->args[i].actor)
            pdc_actor_release(t->client, t->args[i].actor);
        if (t->args[i].held) {
            pthread_mutex_lock(&t->client->mu);
            pdc_refs_release(t->client, t->args[i].held, t->args[i].nheld);
            pthread_mutex_unlock(&t->client->mu);
        }
    }
    free(t->args);
    free(t->rbuf);
    t->args = NULL;
    t->rbuf = NULL;
    t->nargs = 0;
}

/* ---- Result batches ------------------------------------------------- */

void pdc_result_batch_init(pdc_result_batch_t *b) {
    pdc_enc_init(&b->out);
    pdc_enc_init(&b->one);
    msgpack_sbuffer_init(&b->batch);
    b->count = 0;
}

void pdc_result_batch_free(pdc_result_batch_t *b) {
    pdc_enc_free(&b->out);
    pdc_enc_free(&b->one);
    msgpack_sbuffer_destroy(&b->batch);
}

void pdc_result_batch_add(pdc_result_batch_t *b, pdc_task *t) {
    pdc_task_encode_result(t, &b->one);
    if (b->count == 0)
        b->first_us = pdc_now_us();
    msgpack_sbuffer_write(&b->batch, b->one.buf.data, b->one.buf.size);
    b->count++;
}

uint64_t pdc_result_batch_age_us(const pdc_result_batch_t *b) {
    return b->count ? pdc_now_us() - b->first_us : 0;
}

void pdc_result_batch_send(pdc_result_batch_t *b, void *router, const void *rid, size_t rid_len,
                           const char *node) {
    if (!b->count)
        return;
    pdc_enc_begin(&b->out, PDC_MSG_TASK_RESULTS, 0);
    pdc_enc_s(&b->out, node);
    pdc_enc_array(&b->out, b->count);
    pdc_enc_raw(&b->out, b->batch.data, b->batch.size);
    pdc_wire_send(router, rid, rid_len, &b->out, NULL, 0);
    b->batch.size = 0;
    b->count = 0;
}
