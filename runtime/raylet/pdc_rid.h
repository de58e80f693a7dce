/*  pdc_rid: a peer's routing id on the raylet's ROUTER, kept by value.

    The raylet tells its peers apart by the routing id ZeroMQ gives each
    connection: a worker's client, a driver, a lease holder on another
    node.  The worker pool, the lease table and the holder list each keep
    the ids they answer to; this is that id, copied out of the message
    frame (which goes when the message is closed), with the two things
    done to it: set and compare.  A routing id longer than
    PDC_RID_MAX is refused by pdc_rid_set (ZeroMQ's are at most 255
    bytes). */
#ifndef PDC_RID_H_INCLUDED
#define PDC_RID_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PDC_RID_MAX 256

typedef struct {
    uint8_t bytes[PDC_RID_MAX];
    size_t len; /* 0: none */
} pdc_rid_t;

/* Copy len bytes of data into rid: 0, or -1 if they do not fit. */
static inline int pdc_rid_set(pdc_rid_t *rid, const void *data, size_t len) {
    if (len > PDC_RID_MAX)
        return -1;
    memcpy(rid->bytes, data, len);
    rid->len = len;
    return 0;
}

/* Whether rid is the id of len bytes at data (never for an empty rid). */
static inline int pdc_rid_is(const pdc_rid_t *rid, const void *data, size_t len) {
    return rid->len && rid->len == len && !memcmp(rid->bytes, data, len);
}

#endif
