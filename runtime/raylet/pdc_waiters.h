/*  pdc_waiters: the clients waiting for one answer of a raylet.

    A pull of an object or a fetch of a code package may be asked for by
    several clients at once; the raylet does the work once and answers each
    of them.  A waiter is where the answer goes: the client's routing id on
    the raylet's ROUTER and the request id its answer carries.  The list
    owns its entries. */
#ifndef PDC_WAITERS_H_INCLUDED
#define PDC_WAITERS_H_INCLUDED

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PDC_WAITER_RID_MAX 256

typedef struct pdc_waiter {
    uint8_t rid[PDC_WAITER_RID_MAX];
    size_t rid_len;
    uint64_t request;
    struct pdc_waiter *next;
} pdc_waiter_t;

/* Add one; 0, or -1 (out of memory, or a routing id too long). */
static inline int pdc_waiters_add(pdc_waiter_t **list, const void *rid, size_t rid_len,
                                  uint64_t request) {
    pdc_waiter_t *w = rid_len <= PDC_WAITER_RID_MAX ? calloc(1, sizeof *w) : NULL;
    if (!w)
        return -1;
    if (rid_len) /* none: the raylet's own wait (pdc_code_cache_fetch) */
        memcpy(w->rid, rid, rid_len);
    w->rid_len = rid_len;
    w->request = request;
    w->next = *list;
    *list = w;
    return 0;
}

static inline void pdc_waiters_free(pdc_waiter_t **list) {
    while (*list) {
        pdc_waiter_t *w = *list;
        *list = w->next;
        free(w);
    }
}

#endif
