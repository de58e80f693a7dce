/*  pdc_view: the cluster view and the placement policy (see pdc_view.h). */
#include "pdc_view.h"

#include "pdc_job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pdc_view_init(pdc_view_t *v) {
    memset(v, 0, sizeof *v);
}

void pdc_view_free(pdc_view_t *v) {
    free(v->nodes);
    memset(v, 0, sizeof *v);
}

pdc_view_node_t *pdc_view_find(pdc_view_t *v, const char *id) {
    for (int i = 0; i < v->n; i++)
        if (!strcmp(v->nodes[i].id, id))
            return &v->nodes[i];
    return NULL;
}

pdc_view_node_t *pdc_view_upsert(pdc_view_t *v, const char *id) {
    pdc_view_node_t *n = pdc_view_find(v, id);
    if (n)
        return n;
    if (v->n == v->cap) {
        int cap = v->cap ? v->cap * 2 : 8;
        pdc_view_node_t *grown = realloc(v->nodes, (size_t) cap * sizeof *grown);
        if (!grown)
            return NULL;
        v->nodes = grown;
        v->cap = cap;
    }
    n = &v->nodes[v->n++];
    memset(n, 0, sizeof *n);
    snprintf(n->id, sizeof n->id, "%s", id);
    return n;
}

static int s_by_id(const void *a, const void *b) {
    return strcmp(((const pdc_view_node_t *) a)->id, ((const pdc_view_node_t *) b)->id);
}

/* CPU out of a {} map, the rest into res. */
static double s_read_map(const msgpack_object *map, pdc_resources_t *res) {
    double cpu = 0;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        size_t len;
        const char *name = pdc_f_str(&map->via.map.ptr[i].key, &len);
        if (len == 3 && !memcmp(name, "CPU", 3))
            cpu = pdc_f_f(&map->via.map.ptr[i].val);
    }
    pdc_resources_decode(map, res);
    return cpu;
}

void pdc_view_update(pdc_view_t *v, const msgpack_object *list) {
    v->n = 0;
    for (uint32_t i = 0; i < list->via.array.size; i++) {
        const msgpack_object *f = list->via.array.ptr[i].via.array.ptr;
        char id[PDC_NODE_ID_MAX], labels[1024], err[256];
        pdc_f_cstr(&f[PDC_NODE_ROW_ID], id, sizeof id);
        pdc_view_node_t *n = pdc_view_upsert(v, id);
        if (!n)
            break;
        pdc_f_cstr(&f[PDC_NODE_ROW_ENDPOINT], n->endpoint, sizeof n->endpoint);
        n->alive = (int) pdc_f_u(&f[PDC_NODE_ROW_ALIVE]);
        n->cpu_total = s_read_map(&f[PDC_NODE_ROW_TOTAL], &n->total);
        n->cpu_available = s_read_map(&f[PDC_NODE_ROW_AVAILABLE], &n->available);
        if (pdc_labels_parse(pdc_f_cstr(&f[PDC_NODE_ROW_LABELS], labels, sizeof labels), &n->labels,
                             err, sizeof err))
            memset(&n->labels, 0, sizeof n->labels);
        pdc_f_cstr(&f[PDC_NODE_ROW_LOCAL_ENDPOINT], n->local_endpoint, sizeof n->local_endpoint);
    }
    qsort(v->nodes, (size_t) v->n, sizeof *v->nodes, s_by_id);
}

int pdc_lease_shape_read(const msgpack_object *f, pdc_lease_shape_t *s, char *err, size_t errlen) {
    memset(s, 0, sizeof *s);
    s->cpus = pdc_f_f(&f[PDC_LEASE_REQUEST_CPUS]);
    s->flags = (unsigned) pdc_f_u(&f[PDC_LEASE_REQUEST_FLAGS]);
    pdc_resources_decode(&f[PDC_LEASE_REQUEST_RESOURCES], &s->res);
    s->strategy = (unsigned) pdc_f_u(&f[PDC_LEASE_REQUEST_STRATEGY]);
    pdc_f_cstr(&f[PDC_LEASE_REQUEST_AFFINITY_NODE], s->affinity, sizeof s->affinity);
    char selector[256];
    pdc_f_cstr(&f[PDC_LEASE_REQUEST_LABEL_SELECTOR], selector, sizeof selector);
    pdc_f_cstr(&f[PDC_LEASE_REQUEST_ARG_NODE], s->locality, sizeof s->locality);
    if (f[PDC_LEASE_REQUEST_RUNTIME].via.str.size >= sizeof s->runtime) {
        snprintf(err, errlen, "the runtime is too long (%u bytes, the most is %zu)",
                 f[PDC_LEASE_REQUEST_RUNTIME].via.str.size, sizeof s->runtime - 1);
        return -1;
    }
    pdc_f_cstr(&f[PDC_LEASE_REQUEST_RUNTIME], s->runtime, sizeof s->runtime);
    char job[PDC_JOB_ID_MAX + 1];
    if (f[PDC_LEASE_REQUEST_JOB].via.str.size) {
        char why[160];
        if (f[PDC_LEASE_REQUEST_JOB].via.str.size >= PDC_JOB_ID_MAX ||
            pdc_job_id_check(pdc_f_cstr(&f[PDC_LEASE_REQUEST_JOB], job, sizeof job), why,
                             sizeof why)) {
            snprintf(err, errlen, "the lease request's job: %s",
                     f[PDC_LEASE_REQUEST_JOB].via.str.size >= PDC_JOB_ID_MAX ? "too long" : why);
            return -1;
        }
        size_t at = strlen(s->runtime);
        if (at + 1 + strlen(job) >= sizeof s->runtime) {
            snprintf(err, errlen, "the runtime is too long for a job's lease (%zu bytes)", at);
            return -1;
        }
        snprintf(s->runtime + at, sizeof s->runtime - at, "\n%s", job);
    }
    if (s->strategy > PDC_SCHED_NODE_AFFINITY) {
        snprintf(err, errlen, "unknown scheduling strategy %u", s->strategy);
        return -1;
    }
    if (s->strategy == PDC_SCHED_NODE_AFFINITY && !*s->affinity) {
        snprintf(err, errlen, "node affinity needs a node id");
        return -1;
    }
    char why[256];
    if (pdc_selector_parse(selector, &s->selector, why, sizeof why)) {
        snprintf(err, errlen, "bad label selector '%s': %s", selector, why);
        return -1;
    }
    return 0;
}

int pdc_view_feasible(const pdc_view_node_t *n, const pdc_lease_shape_t *s, char *why, size_t len) {
    char buf[256];
    if (!why)
        why = buf, len = sizeof buf;
    if (!n->alive) {
        snprintf(why, len, "node %s is dead", n->id);
        return 0;
    }
    if (s->cpus > n->cpu_total + 1e-9) {
        snprintf(why, len, "%g CPU (node %s has %g in all)", s->cpus, n->id, n->cpu_total);
        return 0;
    }
    const char *missing = pdc_resources_short(&n->total, &s->res);
    if (missing) {
        snprintf(why, len, "%g %s (node %s has %g in all)", pdc_resources_get(&s->res, missing),
                 missing, n->id, pdc_resources_get(&n->total, missing));
        return 0;
    }
    char mismatch[200];
    if (pdc_selector_mismatch(&s->selector, &n->labels, mismatch, sizeof mismatch)) {
        snprintf(why, len, "labels %s on node %s", mismatch, n->id);
        return 0;
    }
    return 1;
}

int pdc_view_has_room(const pdc_view_node_t *n, const pdc_lease_shape_t *s) {
    return n->cpu_available + 1e-9 >= s->cpus && !pdc_resources_short(&n->available, &s->res);
}

static double s_utilisation(const pdc_view_node_t *n) {
    if (n->cpu_total <= 0)
        return 1.0;
    return 1.0 - n->cpu_available / n->cpu_total;
}

/* The feasible node (with room, if room is set) of lowest utilisation;
   self wins ties. */
static pdc_view_node_t *s_least_used(pdc_view_t *v, const char *self, const pdc_lease_shape_t *s,
                                     int room) {
    pdc_view_node_t *best = NULL;
    for (int i = 0; i < v->n; i++) {
        pdc_view_node_t *n = &v->nodes[i];
        if (!pdc_view_feasible(n, s, NULL, 0) || (room && !pdc_view_has_room(n, s)))
            continue;
        double u = s_utilisation(n), bu = best ? s_utilisation(best) : 2.0;
        if (!best || u < bu - 1e-9 || (u < bu + 1e-9 && !strcmp(n->id, self)))
            best = n;
    }
    return best;
}

static pdc_place_t s_to(pdc_view_node_t *n, const char *self, pdc_view_node_t **target) {
    *target = n;
    return strcmp(n->id, self) ? PDC_PLACE_REMOTE : PDC_PLACE_LOCAL;
}

static pdc_place_t s_place(pdc_view_t *v, const char *self, int threshold_pct,
                           const pdc_lease_shape_t *s, pdc_view_node_t **target, char *why,
                           size_t len) {
    pdc_view_node_t *me = pdc_view_find(v, self);
    if (s->flags & PDC_LEASE_SPILLED) {
        if (me && pdc_view_feasible(me, s, why, len))
            return s_to(me, self, target);
        return PDC_PLACE_FAIL;
    }
    if (s->strategy == PDC_SCHED_NODE_AFFINITY) {
        pdc_view_node_t *n = pdc_view_find(v, s->affinity);
        char reason[300];
        if (n && pdc_view_feasible(n, s, reason, sizeof reason))
            return s_to(n, self, target);
        if (!n && !(s->flags & PDC_LEASE_SOFT)) {
            /* Not in this view yet (it may be joining): wait for it. */
            snprintf(why, len, "node affinity to %s: no such node in the cluster", s->affinity);
            return PDC_PLACE_WAIT;
        }
        if (!(s->flags & PDC_LEASE_SOFT)) {
            snprintf(why, len, "node affinity to %s cannot be met: %s", s->affinity, reason);
            return PDC_PLACE_FAIL;
        }
    }
    int feasible = 0;
    for (int i = 0; i < v->n; i++)
        feasible += pdc_view_feasible(&v->nodes[i], s, NULL, 0);
    if (!feasible) {
        /* Say what the request lacks on the node closest to it: the
           first live one (they are sorted by id). */
        char reason[300] = "no live node";
        for (int i = 0; i < v->n; i++)
            if (v->nodes[i].alive && !pdc_view_feasible(&v->nodes[i], s, reason, sizeof reason))
                break;
        snprintf(why, len, "no live node can run it: it needs %s", reason);
        return PDC_PLACE_WAIT;
    }
    if (s->strategy == PDC_SCHED_SPREAD) {
        unsigned k = v->spread_cursor++ % (unsigned) feasible;
        for (int i = 0; i < v->n; i++)
            if (pdc_view_feasible(&v->nodes[i], s, NULL, 0) && k-- == 0)
                return s_to(&v->nodes[i], self, target);
    }
    if (*s->locality) {
        pdc_view_node_t *n = pdc_view_find(v, s->locality);
        if (n && pdc_view_feasible(n, s, NULL, 0) && pdc_view_has_room(n, s))
            return s_to(n, self, target);
    }
    if (me && pdc_view_feasible(me, s, NULL, 0) && pdc_view_has_room(me, s) &&
        s_utilisation(me) * 100.0 < (double) threshold_pct - 1e-9)
        return s_to(me, self, target);
    pdc_view_node_t *best = s_least_used(v, self, s, 1);
    if (best)
        return s_to(best, self, target);
    if (me && pdc_view_feasible(me, s, NULL, 0))
        return s_to(me, self, target);
    return s_to(s_least_used(v, self, s, 0), self, target);
}

pdc_place_t pdc_view_place(pdc_view_t *v, const char *self, int threshold_pct,
                           const pdc_lease_shape_t *s, pdc_view_node_t **target, char *why,
                           size_t len) {
    *target = NULL;
    if (len)
        why[0] = '\0';
    pdc_place_t p = s_place(v, self, threshold_pct, s, target, why, len);
    if (p == PDC_PLACE_REMOTE) { /* count it there until the next view */
        (*target)->cpu_available -= s->cpus;
        pdc_resources_add(&(*target)->available, &s->res, -1);
    }
    return p;
}
