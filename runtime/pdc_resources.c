/*  pdc_resources: named resource amounts (see pdc_resources.h). */
#include "pdc_resources.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int s_find(const pdc_resources_t *r, const char *name) {
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->name[i], name))
            return i;
    return -1;
}

static int s_slot(pdc_resources_t *r, const char *name) {
    int i = s_find(r, name);
    if (i >= 0 || r->n == PDC_MAX_RESOURCES)
        return i;
    snprintf(r->name[r->n], PDC_RESOURCE_NAME, "%s", name);
    r->amount[r->n] = 0;
    return r->n++;
}

int pdc_resources_parse(const char *text, pdc_resources_t *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    if (!text)
        return 0;
    const char *p = text;
    while (*p) {
        char name[PDC_RESOURCE_NAME];
        size_t n = 0;
        while (*p && *p != '=' && *p != ',') {
            if (!(isalnum((unsigned char) *p) || strchr("_-.", *p)) || n + 1 >= sizeof name) {
                snprintf(err, errlen, "resources '%s': bad or too long name near '%s'", text, p);
                return -1;
            }
            name[n++] = *p++;
        }
        name[n] = '\0';
        if (!n || *p != '=') {
            snprintf(err, errlen, "resources '%s': expected NAME=AMOUNT", text);
            return -1;
        }
        char *end;
        double v = strtod(p + 1, &end);
        if (end == p + 1 || v < 0 || (*end && *end != ',')) {
            snprintf(err, errlen, "resources '%s': '%s' needs a non-negative amount", text, name);
            return -1;
        }
        if (!strcmp(name, "CPU")) {
            snprintf(err, errlen, "resources '%s': give CPU with num_cpus / --num-cpus", text);
            return -1;
        }
        int i = s_slot(out, name);
        if (i < 0) {
            snprintf(err, errlen, "resources '%s': more than %d names", text, PDC_MAX_RESOURCES);
            return -1;
        }
        out->amount[i] = v;
        p = *end == ',' ? end + 1 : end;
    }
    return 0;
}

double pdc_resources_get(const pdc_resources_t *r, const char *name) {
    int i = s_find(r, name);
    return i < 0 ? 0 : r->amount[i];
}

void pdc_resources_add(pdc_resources_t *r, const pdc_resources_t *add, double sign) {
    for (int i = 0; i < add->n; i++) {
        int k = s_slot(r, add->name[i]);
        if (k >= 0)
            r->amount[k] += sign * add->amount[i];
    }
}

const char *pdc_resources_short(const pdc_resources_t *have, const pdc_resources_t *want) {
    for (int i = 0; i < want->n; i++)
        if (want->amount[i] > 0 && pdc_resources_get(have, want->name[i]) + 1e-9 < want->amount[i])
            return want->name[i];
    return NULL;
}

static int s_by_name(const void *a, const void *b) {
    return strcmp(*(char *const *) a, *(char *const *) b);
}

const char *pdc_resources_format(const pdc_resources_t *r, char *buf, size_t len) {
    const char *names[PDC_MAX_RESOURCES];
    for (int i = 0; i < r->n; i++)
        names[i] = r->name[i];
    qsort(names, (size_t) r->n, sizeof names[0], s_by_name);
    size_t at = 0;
    buf[0] = '\0';
    for (int i = 0; i < r->n && at < len; i++)
        at += (size_t) snprintf(buf + at, len - at, "%s%s=%g", i ? "," : "", names[i],
                                pdc_resources_get(r, names[i]));
    return buf;
}

void pdc_resources_encode(const pdc_resources_t *r, pdc_enc_t *enc) {
    pdc_enc_map(enc, (size_t) r->n);
    for (int i = 0; i < r->n; i++) {
        pdc_enc_s(enc, r->name[i]);
        pdc_enc_f(enc, r->amount[i]);
    }
}

void pdc_resources_decode(const msgpack_object *map, pdc_resources_t *out) {
    memset(out, 0, sizeof *out);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        char name[PDC_RESOURCE_NAME];
        pdc_f_cstr(&map->via.map.ptr[i].key, name, sizeof name);
        if (!strcmp(name, "CPU"))
            continue;
        int k = s_slot(out, name);
        if (k >= 0)
            out->amount[k] = pdc_f_f(&map->via.map.ptr[i].val);
    }
}
