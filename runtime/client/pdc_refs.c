/*  pdc_refs: lists of references as values (see the header). */
#include "pdc_client_internal.h"

#include "pdc_borrow.h"
#include "pdc_refs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAGIC     "PDCREFS1"
#define S_HEAD      16 /* magic, n, owners */
#define S_ENTRY     (PDC_ID_LEN + 4)
#define S_MAX_OWNER 3 /* strings per owner: ipc, tcp, node */

static void s_put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t) (v >> (8 * i));
}

static uint32_t s_get32(const uint8_t *p) {
    return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

/* ---- Encoding ----------------------------------------------------------- */

/* The owners of a list being encoded: each a distinct (ipc, tcp, node). */
typedef struct {
    const char *s[S_MAX_OWNER];
} s_owner_t;

static uint32_t s_owner_index(s_owner_t **owners, uint32_t *n, uint32_t *cap, const char *ipc,
                              const char *tcp, const char *node) {
    for (uint32_t i = 0; i < *n; i++)
        if (!strcmp((*owners)[i].s[0], ipc)) /* an ipc endpoint names a process */
            return i;
    if (*n == *cap) {
        uint32_t grown = *cap ? 2 * *cap : 4;
        s_owner_t *more = realloc(*owners, grown * sizeof *more);
        if (!more)
            return UINT32_MAX;
        *owners = more;
        *cap = grown;
    }
    (*owners)[*n] = (s_owner_t){{ipc, tcp, node}};
    return (*n)++;
}

int pdc_refs_encode(pdc_client *c, const pdc_ref *refs, size_t n, void **out, size_t *len,
                    char *why, size_t why_len) {
    *out = NULL;
    *len = 0;
    char hex[33];
    for (size_t i = 0; i < n; i++) {
        obj_t *o = pdc_obj_find(c, refs[i].id);
        if (!o) {
            snprintf(why, why_len,
                     "reference %zu (%s) is not one of this process's: released, or never "
                     "taken with pdc_object_ref",
                     i, pdc_id_hex(refs[i].id, hex));
            return PDC_EINVAL;
        }
        if (!o->lender && pdc_borrow_service(c, why, why_len) != PDC_OK)
            return PDC_ECONNECT;
    }
    if (n > UINT32_MAX / S_ENTRY) {
        snprintf(why, why_len, "a list of %zu references is too long", n);
        return PDC_EINVAL;
    }
    s_owner_t *owners = NULL;
    uint32_t nowners = 0, cap = 0;
    uint32_t *index = malloc((n ? n : 1) * sizeof *index);
    for (size_t i = 0; index && i < n; i++) {
        obj_t *o = pdc_obj_find(c, refs[i].id); /* the service's start let go of the mutex */
        if (!o) {
            snprintf(why, why_len, "reference %zu (%s) was released meanwhile", i,
                     pdc_id_hex(refs[i].id, hex));
            free(index);
            free(owners);
            return PDC_EINVAL;
        }
        index[i] = o->lender ? s_owner_index(&owners, &nowners, &cap, pdc_borrow_lender_ipc(o),
                                             pdc_borrow_lender_tcp(o), o->node)
                             : s_owner_index(&owners, &nowners, &cap, c->owner_ipc, c->owner_tcp,
                                             c->node_id);
        if (index[i] == UINT32_MAX)
            break;
    }
    size_t bytes = S_HEAD + n * S_ENTRY;
    for (uint32_t k = 0; k < nowners; k++)
        for (int s = 0; s < S_MAX_OWNER; s++)
            bytes += 2 + strlen(owners[k].s[s]);
    uint8_t *p = index ? malloc(bytes) : NULL;
    if (!p || (n && index[n - 1] == UINT32_MAX)) {
        free(p);
        free(index);
        free(owners);
        snprintf(why, why_len, "out of memory for a list of %zu references", n);
        return PDC_ENOMEM;
    }
    memcpy(p, S_MAGIC, 8);
    s_put32(p + 8, (uint32_t) n);
    s_put32(p + 12, nowners);
    uint8_t *q = p + S_HEAD;
    for (size_t i = 0; i < n; i++, q += S_ENTRY) {
        memcpy(q, refs[i].id, PDC_ID_LEN);
        s_put32(q + PDC_ID_LEN, index[i]);
    }
    for (uint32_t k = 0; k < nowners; k++)
        for (int s = 0; s < S_MAX_OWNER; s++) {
            size_t l = strlen(owners[k].s[s]);
            q[0] = (uint8_t) l;
            q[1] = (uint8_t) (l >> 8);
            memcpy(q + 2, owners[k].s[s], l);
            q += 2 + l;
        }
    free(index);
    free(owners);
    *out = p;
    *len = bytes;
    return PDC_OK;
}

/* ---- Decoding ----------------------------------------------------------- */

size_t pdc_refs_count(const void *data, size_t len) {
    return len >= S_HEAD ? s_get32((const uint8_t *) data + 8) : 0;
}

/* Where owner k's strings start, or NULL if the encoding is short. */
static const uint8_t *s_owner_at(const uint8_t *p, size_t len, uint32_t k) {
    uint32_t n = s_get32(p + 8);
    const uint8_t *q = p + S_HEAD + (size_t) n * S_ENTRY, *end = p + len;
    for (uint32_t i = 0; i <= k; i++) {
        if (i == k)
            return q;
        for (int s = 0; s < S_MAX_OWNER; s++) {
            if (end - q < 2)
                return NULL;
            size_t l = (size_t) q[0] | (size_t) q[1] << 8;
            if ((size_t) (end - q) < 2 + l)
                return NULL;
            q += 2 + l;
        }
    }
    return NULL;
}

int pdc_refs_valid(const void *data, size_t len) {
    const uint8_t *p = data;
    if (!p || len < S_HEAD || memcmp(p, S_MAGIC, 8))
        return 0;
    uint64_t n = s_get32(p + 8), owners = s_get32(p + 12);
    if (S_HEAD + n * S_ENTRY > len)
        return 0;
    for (uint64_t i = 0; i < n; i++)
        if (s_get32(p + S_HEAD + i * S_ENTRY + PDC_ID_LEN) >= owners)
            return 0;
    /* every owner's strings lie inside: the one after the last does */
    const uint8_t *q = owners ? s_owner_at(p, len, (uint32_t) owners - 1) : p;
    if (!q)
        return 0;
    for (int s = 0; owners && s < S_MAX_OWNER; s++) {
        if ((size_t) (p + len - q) < 2)
            return 0;
        size_t l = (size_t) q[0] | (size_t) q[1] << 8;
        if ((size_t) (p + len - q) < 2 + l)
            return 0;
        q += 2 + l;
    }
    return 1;
}

int pdc_refs_at(const void *data, size_t len, size_t i, uint8_t id[PDC_ID_LEN],
                pdc_refs_owner_t *owner) {
    const uint8_t *p = data;
    if (i >= pdc_refs_count(data, len))
        return -1;
    const uint8_t *e = p + S_HEAD + i * S_ENTRY;
    memcpy(id, e, PDC_ID_LEN);
    if (!owner)
        return 0;
    const uint8_t *q = s_owner_at(p, len, s_get32(e + PDC_ID_LEN));
    if (!q)
        return -1;
    const char **str[S_MAX_OWNER] = {&owner->ipc, &owner->tcp, &owner->node};
    size_t *lens[S_MAX_OWNER] = {&owner->ipc_len, &owner->tcp_len, &owner->node_len};
    for (int s = 0; s < S_MAX_OWNER; s++) {
        *lens[s] = (size_t) q[0] | (size_t) q[1] << 8;
        *str[s] = (const char *) q + 2;
        q += 2 + *lens[s];
    }
    return 0;
}

/* ---- Holding ------------------------------------------------------------ */

/* Hold what the list (data, len) refers to: an entry of this table
   counts one more, another process's object becomes a borrowed entry.
   lent: its worker counted this process once for each reference when it
   returned the list, so those counts become the borrowed entries (or,
   for ones already borrowed here, are given back). */
static int s_hold(pdc_client *c, const void *data, size_t len, int lent, obj_t ***held,
                  uint32_t *nheld, char *why, size_t why_len) {
    *held = NULL;
    *nheld = 0;
    if (!pdc_refs_valid(data, len)) {
        snprintf(why, why_len, "a malformed list of references (%zu bytes)", len);
        return PDC_EPROTO;
    }
    size_t n = pdc_refs_count(data, len);
    obj_t **list = malloc((n ? n : 1) * sizeof *list);
    if (!list) {
        snprintf(why, why_len, "out of memory for a list of %zu references", n);
        return PDC_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t id[PDC_ID_LEN];
        pdc_refs_owner_t owner;
        pdc_refs_at(data, len, i, id, &owner);
        obj_t *o = pdc_obj_find(c, id);
        if (o) {
            o->refs++;
            if (lent)
                pdc_borrow_give_back(c, id, &owner);
        } else if (!(o = lent ? pdc_borrow_lent(c, id, &owner, why, why_len)
                              : pdc_borrow_new(c, id, &owner, why, why_len))) {
            pdc_refs_release(c, list, (uint32_t) i);
            return PDC_ENOMEM;
        }
        list[i] = o;
    }
    *held = list;
    *nheld = (uint32_t) n;
    return PDC_OK;
}

int pdc_refs_hold_list(pdc_client *c, const void *data, size_t len, obj_t ***held, uint32_t *nheld,
                       char *why, size_t why_len) {
    return s_hold(c, data, len, 0, held, nheld, why, why_len);
}

int pdc_refs_hold(pdc_client *c, obj_t *o, const void *data, size_t len, int lent, char *why,
                  size_t why_len) {
    if (o->inner_held)
        return PDC_OK;
    int rc = s_hold(c, data, len, lent, &o->inner, &o->ninner, why, why_len);
    if (rc == PDC_OK)
        o->inner_held = 1;
    return rc;
}

int pdc_refs_settled(obj_t *const *held, uint32_t nheld) {
    for (uint32_t i = 0; i < nheld; i++)
        if (!pdc_borrow_settled(held[i]))
            return 0;
    return 1;
}

void pdc_refs_release(pdc_client *c, obj_t **held, uint32_t nheld) {
    for (uint32_t i = 0; i < nheld; i++)
        pdc_obj_unref(c, held[i]);
    free(held);
}
