/*  pdc_refs: lists of references as values (PDC_T_REFS), and what an
    object holding one holds.

    A list's value is its encoding, the same bytes in an owner's table, in
    a task spec and result, and in OBJECT_INFO:

        "PDCREFS1"                      8 bytes
        n, owners                       u32 each, little-endian
        n x { id[16], owner u32 }       the references, in order
        owners x { ipc, tcp, node }     each a u16 length and its bytes

    An owner is the object service of the process that owns the object
    (pdc_borrow.h): its ipc endpoint (for its own host), its tcp one (""
    when its node has no address for other hosts) and its node.  Entry i
    is found without a parse of those before it.

    An object whose value is a list holds every object the list refers
    to (obj_t.inner) while it lives: its own, counted in the entry, and
    other processes' as borrowed entries of this table (pdc_borrow.h).
    All functions run with the client's mutex held. */
#ifndef PDC_REFS_H_INCLUDED
#define PDC_REFS_H_INCLUDED

#include "pdc_objects.h"

/* Encode n references, each one of this table (owned or borrowed), into
   a new buffer (*out, malloc'd, *len bytes).  PDC_OK, or a code with why
   (an unknown reference, no memory).  May start this process's object
   service (its endpoints go in the encoding): the mutex is let go while
   it starts. */
int pdc_refs_encode(pdc_client *c, const pdc_ref *refs, size_t n, void **out, size_t *len,
                    char *why, size_t why_len);
/* Whether data is a well-formed encoding; its count of references. */
int pdc_refs_valid(const void *data, size_t len);
size_t pdc_refs_count(const void *data, size_t len);
/* Reference i: its id, and its owner's endpoints and node (pointers into
   data, not NUL-ended: *_len bytes).  0, or -1 past the end. */
typedef struct {
    const char *ipc, *tcp, *node;
    size_t ipc_len, tcp_len, node_len;
} pdc_refs_owner_t;
int pdc_refs_at(const void *data, size_t len, size_t i, uint8_t id[PDC_ID_LEN],
                pdc_refs_owner_t *owner);

/* Make o (whose value is the list data) hold each object it refers to:
   entries of this table gain a reference; one this process does not
   know becomes a borrowed entry, and its owner is told (BORROW_ADD), or,
   with lent, was told already (a task result: its worker counted this
   process when it returned the list).  Once per object.  PDC_OK, or a
   code with why. */
int pdc_refs_hold(pdc_client *c, obj_t *o, const void *data, size_t len, int lent, char *why,
                  size_t why_len);
/* The same for a holder that is not an object of the table (a task's
   argument): the entries held are put in *held (malloc'd, *nheld). */
int pdc_refs_hold_list(pdc_client *c, const void *data, size_t len, obj_t ***held, uint32_t *nheld,
                       char *why, size_t why_len);
/* Whether every borrowed entry o holds is known to its owner (its
   BORROW_ADD answered, or failed): a reader waits for this before it
   hands the list out, so that no release of o can overtake a borrow. */
int pdc_refs_settled(obj_t *const *held, uint32_t nheld);
/* Let go of what o holds (o is being freed). */
void pdc_refs_release(pdc_client *c, obj_t **held, uint32_t nheld);

#endif
