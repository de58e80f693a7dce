/*  pdc_client: the owner side of libpdc, and what its parts share.

    Every process that calls the API (a driver, or a worker running a task
    that submits more) is an owner, as in Ray: it keeps the objects its
    calls return in its own table, with their state, value (or where in
    the node's store the value is), reference count and the task that
    will produce them.  The owner is built from parts, each a file:

      pdc_objects   the object table: states, values, counts, frees
      pdc_graph     the task graph: arguments, dependencies, ready, finish
      pdc_lineage   finished tasks kept to rebuild lost results
      pdc_replicas  copies of replicated puts on other nodes
      pdc_sched     the scheduler: classes, lease requests, pushes, returns
      pdc_get       put, get, wait, release (the API threads' side)
      pdc_io        the I/O thread: its loop, dispatch, connect, close
      pdc_requests  every outstanding request by id
      pdc_peer      every outgoing socket
      pdc_remote    what other nodes take: redirected leases, liveness,
                    objects and code between nodes

    Actors (actors/pdc_actor.c) sit above it: their calls are tasks of the
    graph whose hook is the actor layer's, and the client reaches the
    actor layer only through pdc_actor_owner.h.

    Two kinds of thread touch a client.  API threads take the client
    mutex, change the tables and wake the I/O thread; the I/O thread owns
    every socket.  This file holds the little that is neither: errors,
    interned names, the clock.
*/
#include "pdc_client_internal.h"

#include "pdc_id.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- Errors ----------------------------------------------------------- */

static __thread char s_last_error[512];
static __thread int s_last_code;

int pdc_set_error(int code, const char *fmt, ...) {
    s_last_code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s_last_error, sizeof s_last_error, fmt, ap);
    va_end(ap);
    return code;
}

void pdc_clear_error(void) {
    s_last_error[0] = '\0';
    s_last_code = PDC_OK;
}

int pdc_last_error_code(pdc_client *client) {
    (void) client;
    return s_last_code;
}

const char *pdc_last_error(pdc_client *client) {
    (void) client;
    return s_last_error;
}

const char *pdc_status_name(int status) {
    switch (status) {
#define S(x)                                                                                       \
    case x:                                                                                        \
        return #x;
        S(PDC_OK)
        S(PDC_EINVAL)
        S(PDC_ETIMEOUT)
        S(PDC_ENOMEM)
        S(PDC_ECONNECT)
        S(PDC_ESTOREFULL)
        S(PDC_ETYPE)
        S(PDC_EPROTO)
        S(PDC_ENOTFOUND)
        S(PDC_ESHUTDOWN)
        S(PDC_ETASK)
        S(PDC_ENOFUNC)
        S(PDC_EARGS)
        S(PDC_EWORKERDIED)
        S(PDC_ECANCELLED)
        S(PDC_EOBJECTLOST)
        S(PDC_EOWNERDIED)
        S(PDC_EINFEASIBLE)
        S(PDC_EACTORDIED)
#undef S
    default:
        return "PDC_E?";
    }
}

const char *pdc_type_name(pdc_type t) {
    static const char *names[] = {"nil",   "int",       "float", "string",
                                  "bytes", "reference", "error", "actor"};
    return (unsigned) t < sizeof names / sizeof names[0] ? names[t] : "?";
}

size_t pdc_strlen_(const char *s) {
    return s ? strlen(s) : 0;
}

const char *pdc_ref_hex(pdc_ref ref, char *buf) {
    return pdc_id_hex(ref.id, buf);
}

const char *pdc_node_id(pdc_client *c) {
    return c ? c->node_id : "";
}

/* ---- Clocks ----------------------------------------------------------- */

uint64_t pdc_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

uint64_t pdc_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

/* ---- Names and wake-ups ----------------------------------------------- */

const char *pdc_client_intern(pdc_client *c, const char *text) {
    for (interned_t *s = c->strings; s; s = s->next)
        if (!strcmp(s->text, text))
            return s->text;
    size_t n = strlen(text) + 1;
    interned_t *s = malloc(sizeof *s + n);
    if (!s)
        return NULL;
    memcpy(s->text, text, n);
    s->next = c->strings;
    c->strings = s;
    return s->text;
}

void pdc_client_wake(pdc_client *c) {
    if (c->io_started)
        uv_async_send(&c->wake);
}

pdc_fn pdc_function(pdc_client *c, const char *library, const char *name) {
    pdc_fn fn = {NULL, NULL};
    if (!c || !library || !name) {
        pdc_set_error(PDC_EINVAL, "pdc_function: client, library and name are required");
        return fn;
    }
    char path[PATH_MAX];
    if (library[0] != '/' && strchr(library, '/') && realpath(library, path))
        library = path;
    pthread_mutex_lock(&c->mu);
    fn.library = pdc_client_intern(c, library);
    fn.name = pdc_client_intern(c, name);
    pthread_mutex_unlock(&c->mu);
    return fn;
}
