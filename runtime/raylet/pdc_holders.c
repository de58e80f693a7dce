/*  pdc_holders: the lease holders a raylet knows that are not its own
    workers (see the header).  A short list: one entry per driver or
    remote owner that talks to this raylet. */
#include "pdc_holders.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct holder {
    pdc_rid_t rid;
    int pid;                    /* on this node: its death is seen by pid */
    char node[PDC_NODE_ID_MAX]; /* on another node: "" here              */
    uint64_t last_seen;         /* ms; a holder on another node sends KEEPALIVE */
    uint8_t owner[PDC_ID_LEN];  /* a driver's own id (its objects' prefix) */
    int has_owner;
    struct holder *next;
} holder_t;

struct pdc_holders {
    holder_t *list;
};

pdc_holders_t *pdc_holders_new(void) {
    return calloc(1, sizeof(pdc_holders_t));
}

void pdc_holders_destroy(pdc_holders_t **self_p) {
    if (!self_p || !*self_p)
        return;
    pdc_holders_t *self = *self_p;
    while (self->list) {
        holder_t *h = self->list;
        self->list = h->next;
        free(h);
    }
    free(self);
    *self_p = NULL;
}

static holder_t *s_find(pdc_holders_t *self, const void *rid, size_t len) {
    for (holder_t *h = self->list; h; h = h->next)
        if (pdc_rid_is(&h->rid, rid, len))
            return h;
    return NULL;
}

int pdc_holders_add(pdc_holders_t *self, const void *rid, size_t len, int pid, const char *node,
                    const uint8_t *owner, uint64_t now_ms) {
    holder_t *h = calloc(1, sizeof *h);
    if (!h || pdc_rid_set(&h->rid, rid, len)) {
        free(h);
        return -1;
    }
    h->pid = pid;
    if (owner) {
        memcpy(h->owner, owner, PDC_ID_LEN);
        h->has_owner = 1;
    }
    if (node) {
        snprintf(h->node, sizeof h->node, "%s", *node ? node : "?");
        h->last_seen = now_ms;
    }
    h->next = self->list;
    self->list = h;
    return 0;
}

const char *pdc_holders_find(pdc_holders_t *self, const void *rid, size_t len) {
    holder_t *h = s_find(self, rid, len);
    return h ? h->node : NULL;
}

void pdc_holders_keepalive(pdc_holders_t *self, const void *rid, size_t len, uint64_t now_ms) {
    holder_t *h = s_find(self, rid, len);
    if (h)
        h->last_seen = now_ms;
}

int pdc_holders_remove(pdc_holders_t *self, const void *rid, size_t len) {
    for (holder_t **p = &self->list; *p; p = &(*p)->next)
        if (pdc_rid_is(&(*p)->rid, rid, len)) {
            holder_t *h = *p;
            *p = h->next;
            free(h);
            return 1;
        }
    return 0;
}

/* Why h is gone (into why), or 0 if it is not. */
static int s_gone(const holder_t *h, uint64_t now_ms, uint64_t silence_ms, pdc_view_t *view,
                  int check_pids, char *why, size_t len) {
    if (!*h->node) {
        if (!check_pids || !(kill(h->pid, 0) && errno == ESRCH))
            return 0;
        snprintf(why, len, "driver %d is gone", h->pid);
        return 1;
    }
    pdc_view_node_t *n = view ? pdc_view_find(view, h->node) : NULL;
    if (n && !n->alive) {
        snprintf(why, len, "node %s is dead", h->node);
        return 1;
    }
    uint64_t silence = now_ms - h->last_seen;
    if (silence <= silence_ms)
        return 0;
    snprintf(why, len, "the lease holder on node %s has been silent for %llu ms", h->node,
             (unsigned long long) silence);
    return 1;
}

void pdc_holders_expire(pdc_holders_t *self, uint64_t now_ms, uint64_t silence_ms, pdc_view_t *view,
                        int check_pids, pdc_holders_gone_fn *gone, void *arg) {
    for (holder_t **p = &self->list; *p;) {
        holder_t *h = *p;
        char why[256];
        if (!s_gone(h, now_ms, silence_ms, view, check_pids, why, sizeof why)) {
            p = &h->next;
            continue;
        }
        *p = h->next;
        gone(&h->rid, h->has_owner && !*h->node ? h->owner : NULL, why, arg);
        free(h);
    }
}
