/*  pdc_store: a node's shared-memory object store over LMDB.

    One store per node lives in a directory under /dev/shm
    (/dev/shm/pdc-<cluster>-<node>/).  The raylet creates it; every worker
    and driver on the node opens the same directory with pdc_store_open and
    reads and writes objects directly, with no message to the raylet.

    The store is sharded into several LMDB environments (shard-0 ...
    shard-K-1) because LMDB allows one writer per environment: K shards
    give K concurrent writers.  Every environment is opened with
    MDB_WRITEMAP | MDB_NOSYNC | MDB_NOTLS | MDB_NOMETASYNC, so a write goes
    straight into shared memory and a read transaction is not tied to a
    thread.

    Where an object lives: one smaller than PDC_STORE_LARGE_OBJECT bytes
    of data in the shard a hash of its id chooses (pdc_store_shard_of); a
    large one in shard 0, the large shard, whatever its id
    (pdc_store_shard_for says which).  The reason is warm pages.  The
    first touch of a tmpfs page LMDB has never used costs a page fault
    (on a VM about 10 us per 4 KiB page: a large write into fresh pages
    runs at about 0.4 GB/s), while pages an earlier object freed are
    reused by LMDB and written at memory speed.  With every large object
    in one shard, a large object finds the pages that the large objects
    deleted before it left, whichever id it has (a task result, an object
    received from another node); spread by hash, each shard would have to
    fault in its own large objects' worth of pages.  The price: large
    objects have one writer at a time on the node.  A lookup by id (get,
    contains, delete, the duplicate-id check of reserve and create) looks
    in the id's hashed shard and then, if the object is not there, in
    shard 0; seal and abort use the shard create chose.

    Put writes the bytes once: pdc_store_reserve opens a write transaction
    on the object's shard, reserves space with MDB_RESERVE and returns
    where to write; pdc_store_commit commits.  Between the two, the shard's
    write lock is held: fill the buffer and commit promptly.

    An object received from another node arrives in pieces, at the
    network's pace, so it does not hold the write lock:
    pdc_store_create_unsealed reserves its space and commits at once, the
    caller writes the pieces (from any thread) and pdc_store_seal makes the
    object visible; pdc_store_abort_unsealed gives it up.  Until sealed the
    object is invisible in every process but holds its space.

    Get is zero-copy: pdc_store_get returns a pointer into the map and a
    pin; the bytes stay valid until pdc_store_unpin, even if the object is
    deleted (or deleted and put again) meanwhile.  Pins share read
    transactions (snapshots): while a read transaction is open LMDB reuses
    no page that it or any later snapshot shows, so the pin of an object
    found in a fresh snapshot may be counted on an older one still open.
    A process keeps at most PDC_STORE_SNAPSHOTS snapshots a shard (read
    slots out of max_readers) however many objects it pins: a hundred
    thousand pins at once are fine.  Every get and contains still reads
    as a new read transaction would: it sees every commit made before it.
    Pins block page reuse: the pages freed after a snapshot began stay
    unreusable until every pin counted on it goes, and pins taken within
    PDC_STORE_SNAPSHOT_SHARE_MS of each other may share one.  Keep pins
    short.

    Deleting by prefix: pdc_store_delete_prefix deletes every object
    whose id starts with given bytes, in every shard, with a cursor over
    the run of ids that share them (ids sort bytewise).  A node uses it to
    remove the objects of a stopped job: the job's processes draw ids that
    begin with a tag of the job.

    Capacity is bounded.  Used bytes are accounted per shard in the shard
    itself (updated in the same transaction as the put or delete), and a
    reserve that would take the total over capacity, or over what
    /dev/shm can still hold, is refused with PDC_ESTOREFULL before a byte
    is written (a tmpfs file that outgrows its filesystem raises SIGBUS).

    Stale read slots of dead processes are cleared with mdb_reader_check
    by pdc_store_check_readers, which the raylet calls every few seconds,
    and by a read that finds a shard's slots all taken.  Not on open: a
    sweep tests a lock per slot in use, which made thousands of processes
    opening the store quadratic.

    Every stored object has a small header before its bytes that records
    its type (pdc_type) so readers know what they hold.  Data pointers
    returned by get and reserve are 64-byte aligned for objects larger
    than an LMDB page.  A put of 1 MiB or more places the data at its
    source's offset within a 4 KiB page (rounded down to 64 bytes), where
    glibc's large copy runs at full speed; a reserve, at a page boundary.

    Thread safety: a pdc_store_t may be used from several threads at once.
    A pin may be released from any thread.  Reads of a shard (get,
    contains, unpin) take a per-shard lock for the look-up itself.  A
    reservation may not be finished on another thread: LMDB's write lock
    belongs to the thread that took it, so commit or abort on the thread
    that reserved (from another thread commit returns PDC_EINVAL and
    leaves *res set), and finish it before that thread writes to the
    store again (a second write on the same shard would deadlock, so it
    is refused with PDC_EINVAL; the shard is the one written: shard 0 for
    any large object, and for a delete the shard that holds the object,
    so a delete of an absent id is PDC_ENOTFOUND).  An object larger than
    LMDB's 4 GiB value is kept in parts of up to 1 GiB and read back as
    one run of bytes through a mapping of its own.  Never use a
    store across fork: the child opens its own.
*/
#ifndef PDC_STORE_H_INCLUDED
#define PDC_STORE_H_INCLUDED

#include "pdc.h"
#include <stddef.h>
#include <stdint.h>

/* Objects with at least this many bytes of data are large: they live in
   shard 0, whatever their id, to reuse the warm pages of the large
   objects deleted before them (see above).  At 16 MiB the fresh pages
   of one object cost about 40 ms of faults (10 us a page), while smaller
   objects keep the shards' concurrent writers. */
#define PDC_STORE_LARGE_OBJECT ((size_t) 16 << 20)

/* Pins share snapshots.  A get that finds its object only in a fresh
   snapshot (the object was committed after the newest snapshot that
   holds pins began) counts its pin on that newest snapshot while it has
   been behind (a read of this process first found a commit it does not
   show) for less than this many milliseconds; after that the fresh
   snapshot keeps the pin and is the newest from then on.  The bound
   keeps one long-held pin from holding the pages of every later pin:
   the pages freed while a snapshot is open stay unreusable until all the
   pins counted on it go. */
#define PDC_STORE_SNAPSHOT_SHARE_MS 100

/* The most read transactions (snapshots, pinned or kept for reuse) one
   process keeps open per shard, or max_readers if that is less: the read
   slots its pins take, however many.  When all but one hold pins, new
   pins are counted on the newest of them, however old.  max_readers (per
   shard, shared by every process of the node) must allow this many for
   each process that reads the store, plus a few for short reads. */
#define PDC_STORE_SNAPSHOTS 8

typedef struct pdc_store pdc_store_t;
typedef struct pdc_store_pin pdc_store_pin_t;
typedef struct pdc_store_reservation pdc_store_reservation_t;

typedef struct {
    size_t capacity;       /* bytes of object data the store may hold          */
    unsigned shards;       /* number of LMDB environments; 0 = default 4       */
    unsigned max_readers;  /* read slots per shard, for all the node's
                              processes together; 0 = default 16384.  A
                              process takes at most PDC_STORE_SNAPSHOTS
                              of them per shard, whatever its pins.      */
    const char *spill_dir; /* where objects go when the store is full
                              (made if missing; on disk, not tmpfs);
                              NULL or "": no spilling (see "Spilling")  */
} pdc_store_config_t;

/* Create a new store in dir (which must not exist; it is created with
   mode 0700).  Returns NULL and writes the reason to err on failure. */
pdc_store_t *pdc_store_create(const char *dir, const pdc_store_config_t *cfg, char *err,
                              size_t errlen);

/* Open an existing store created by pdc_store_create (another process). */
pdc_store_t *pdc_store_open(const char *dir, char *err, size_t errlen);

/* Close the store; safe twice.  Does not remove the files. */
void pdc_store_destroy(pdc_store_t **self_p);

/* Remove a store directory and everything in it (the raylet does this at
   shutdown, the cleanup of a dead session too).  0 or -1. */
int pdc_store_remove_dir(const char *dir);

/* Reserve size bytes for object id of type type.  On success returns
   PDC_OK, *data points to where the bytes go and *res holds the open
   transaction.  PDC_ESTOREFULL: err says how full the store is (used,
   capacity, the request).  An id that exists already, in either shard it
   could be in (also one still being received, unsealed, or being
   reserved by another writer): PDC_EINVAL.  The object goes to
   pdc_store_shard_for(self, id, size): shard 0 when size is at least
   PDC_STORE_LARGE_OBJECT. */
int pdc_store_reserve(pdc_store_t *self, const uint8_t id[PDC_ID_SIZE], pdc_type type, size_t size,
                      void **data, pdc_store_reservation_t **res, char *err, size_t errlen);
/* Make the reserved object visible.  Frees *res and nulls it. */
int pdc_store_commit(pdc_store_t *self, pdc_store_reservation_t **res);
/* Give the space back without storing anything.  Frees *res, nulls it. */
void pdc_store_abort(pdc_store_t *self, pdc_store_reservation_t **res);

/* Convenience: reserve, copy, commit. */
int pdc_store_put(pdc_store_t *self, const uint8_t id[PDC_ID_SIZE], pdc_type type, const void *data,
                  size_t size, char *err, size_t errlen);

/* Receiving an object in pieces (a transfer from another node).
   pdc_store_create_unsealed reserves size bytes for id (capacity checked as
   for pdc_store_reserve, PDC_ESTOREFULL with the same kind of message) and
   commits at once, so the shard's write lock is not held while the bytes
   arrive; *data is where the bytes go, valid until seal or abort.  The
   object is invisible (get: PDC_ENOTFOUND, contains: 0) until
   pdc_store_seal, in every process, but its space counts in usage (used
   and objects) from create on.  pdc_store_abort_unsealed deletes it and
   gives the space back; so does pdc_store_delete of the id, and
   pdc_store_destroy for the objects still unsealed.  Any thread may write
   to *data, seal or abort.

   A large object (size >= PDC_STORE_LARGE_OBJECT) is created in shard 0,
   as by reserve.

   Create: PDC_EINVAL for an id that exists (sealed or not) and, as for
   reserve, when the calling thread holds a reservation on the shard the
   object goes to (pdc_store_shard_for).
   Create takes the write lock for one short step; the only part of it that
   grows with size is giving the object's new pages their memory (about
   0.1 ms per MiB), so that a write into *data can never fault for want of
   memory.  *data is 64-byte aligned (a small object's is a heap buffer
   that seal copies into the store).  Seal: PDC_OK; PDC_ENOTFOUND when this
   pdc_store_t has no unsealed object id (never created here, sealed or
   aborted already, or deleted); another error (PDC_EINVAL if the calling
   thread holds a reservation on the shard) leaves it unsealed, to seal
   again or abort.  Abort: PDC_OK, PDC_ENOTFOUND as for seal, or an error
   that leaves it unsealed.

   The caller must not:
   - write outside [*data, *data + size), or write at all once it has
     called seal, abort or delete of the id: *data may be in the store's
     shared map, and the pages then belong to other objects;
   - call seal, abort or delete (pdc_store_delete, or
     pdc_store_delete_prefix of a prefix of the id) while another thread
     still writes to *data: every write must happen before the call (join
     the writing threads, or hand over with a lock or release/acquire);
   - seal or abort through another pdc_store_t than the one that created
     the object (another process's handle does not know it: seal and abort
     are PDC_ENOTFOUND there), nor use *data after fork in the child;
   - delete, from another process, an id that is being received here
     (by itself or by a prefix), as the writes would land in freed pages;
     and
   - leave an object unsealed for ever: it holds its space, and an
     unsealed object of a process that died stays (invisible, counted)
     until someone deletes its id. */
int pdc_store_create_unsealed(pdc_store_t *self, const uint8_t id[PDC_ID_SIZE], pdc_type type,
                              size_t size, void **data, char *err, size_t errlen);
/* The same for a copy of an object held by another node (a transfer):
   the first to go when the store needs room (evicted, not spilled). */
int pdc_store_create_copy(pdc_store_t *self, const uint8_t id[PDC_ID_SIZE], pdc_type type,
                          size_t size, void **data, char *err, size_t errlen);
/* The same (copy: as create_copy), for a writer that cannot wait for all
   the memory of a large object at once (a raylet receiving one: giving
   5 GiB of fresh tmpfs pages their memory takes seconds on a VM): an
   object over PDC_STORE_BACK_EAGER_MAX bytes gets no memory now, and the
   caller calls pdc_store_back for each range before it writes there.  A
   smaller one is backed at once, as by create_unsealed. */
#define PDC_STORE_BACK_EAGER_MAX ((size_t) 64 << 20)
int pdc_store_create_receiving(pdc_store_t *self, const uint8_t id[PDC_ID_SIZE], pdc_type type,
                               size_t size, int copy, void **data, char *err, size_t errlen);
/* Give the bytes [offset, offset + len) of the data of id, being
   received here (create_receiving), their memory.  PDC_OK;
   PDC_ESTOREFULL when the filesystem has no room for them (then abort);
   PDC_ENOTFOUND, PDC_EINVAL for an id or range that is not one. */
int pdc_store_back(pdc_store_t *self, const uint8_t id[PDC_ID_SIZE], size_t offset, size_t len,
                   char *err, size_t errlen);
int pdc_store_seal(pdc_store_t *self, const uint8_t id[PDC_ID_SIZE]);
int pdc_store_abort_unsealed(pdc_store_t *self, const uint8_t id[PDC_ID_SIZE]);

/* Look up id and pin it.  PDC_OK: the pointers data, size and type (size
   and type may be NULL) are set to the object's bytes, their number and
   pdc_type; the bytes stay valid, unchanged, until pdc_store_unpin(pin),
   whatever happens to the object meanwhile (delete, a new put of the same
   id).  The object is looked up as a new read transaction would: a put
   or delete committed before the call is seen.
   PDC_ENOTFOUND: no such object, or one not yet sealed (no pin); only
   then.  PDC_ENOMEM: out of memory, or every read slot of the shard
   (max_readers) taken by the node's processes; PDC_EPROTO: a malformed
   object; PDC_EINVAL: a NULL argument.  On an error *pin is NULL and
   pdc_store_last_error says what was wrong (for a full reader table:
   max_readers, and how many snapshots this process holds).

   A pin handle may be shared: two gets may return the same pointer, and
   each needs its own pdc_store_unpin.  The caller must not unpin a pin
   twice (a copy of the handle included), nor use the bytes after unpin,
   nor destroy the store with pins held. */
int pdc_store_get(pdc_store_t *self, const uint8_t id[PDC_ID_SIZE], const void **data, size_t *size,
                  pdc_type *type, pdc_store_pin_t **pin);
/* The snapshot pin is counted on (the handle itself, but for an object
   on overflow pages, whose handle also counts the pin in the object):
   for tests and diagnostics. */
const pdc_store_pin_t *pdc_store_pin_snapshot(const pdc_store_pin_t *pin);
/* Release a pin from get (any thread); nulls *pin; NULL is a no-op. */
void pdc_store_unpin(pdc_store_t *self, pdc_store_pin_t **pin);

/* Whether id is stored and sealed: 1 or 0 (no pin kept), seen as by a new
   read transaction; or a negative PDC_E* code, as for get, when it cannot
   tell (pdc_store_last_error says why). */
int pdc_store_contains(pdc_store_t *self, const uint8_t id[PDC_ID_SIZE]);

/* Why the calling thread's last failed get, contains or usage failed: a
   message that names the object or the limit.  Valid until the thread's
   next store call; meaningless after a success. */
const char *pdc_store_last_error(void);

/* Delete id, sealed or still being received.  PDC_OK, or PDC_ENOTFOUND;
   PDC_EINVAL when the object is in a shard the calling thread holds a
   reservation on. */
int pdc_store_delete(pdc_store_t *self, const uint8_t id[PDC_ID_SIZE]);

/* Delete every object whose id starts with the len bytes of prefix
   (1 <= len <= PDC_ID_SIZE), sealed or not, in every shard, as
   pdc_store_delete does for one (readers that hold a pin keep their view
   until they unpin; space is given back as pdc_store_delete gives it
   back).  The number deleted, or -1 on an LMDB error (pdc_store_last_error
   says which).

   What it is for: the node removes the objects of a stopped job, whose
   processes draw ids that begin with a tag of the job.  Ids sort bytewise
   in a shard, so the cost is a look-up per shard plus the objects deleted,
   not a scan of the store.  A shard that holds no object of the prefix is
   only read, never written (no wait for its write lock).  The deletes are
   committed in batches of up to 1024 objects (other writers of a shard
   wait for one batch, not for the whole job), so the delete is not
   atomic: a reader may see some of the objects gone and others not yet,
   and an object put with the prefix while it runs may be deleted or left
   (stop the job's writers first).  The objects this process is receiving
   with the prefix (pdc_store_create_unsealed) are deleted too, and
   forgotten as by pdc_store_delete (seal and abort: PDC_ENOTFOUND); the
   rules of pdc_store_delete for them hold here: no thread may still be
   writing their bytes, and no other process may be receiving one of them.

   Also -1: a NULL argument or a len out of range (nothing deleted), and,
   as for pdc_store_delete, a shard the calling thread holds a reservation
   on that has objects of the prefix (deleting there would wait on itself;
   commit or abort first).  A failed shard keeps its objects (or those of
   its batches not yet committed) and the other shards are still done:
   calling again deletes what is left. */
long pdc_store_delete_prefix(pdc_store_t *self, const uint8_t *prefix, size_t len);

/* Usage: bytes of object data held, capacity, number of objects (all
   counting objects still being received). */
typedef struct {
    size_t used;
    size_t capacity;
    size_t objects;
    size_t reserving; /* bytes being reserved now by live writers of any
                         process, not yet in used                       */
} pdc_store_usage_t;
int pdc_store_usage(pdc_store_t *self, pdc_store_usage_t *usage);

/* ---- Spilling (pdc_spill.c) ---------------------------------------------

   A store created with a spill directory never refuses a write for want
   of room while it holds objects it can let go: a reserve, put or create
   that would take it over capacity first evicts copies of other nodes'
   objects (pdc_store_create_copy), then writes primary copies to files in
   the spill directory, least recently used first, and deletes them from
   memory, until the write fits (pdc_spill_make_room); only objects no
   process holds a pin on go.  Any process of the node does this itself,
   under no lock but LMDB's: a file's name is the object's id, and its
   existence is the whole index.  Only then is the write refused
   (PDC_ESTOREFULL), with a message that says how full the store and the
   spill directory are and what holds the space.

   A spilled object is absent from the store (get: PDC_ENOTFOUND) until
   pdc_store_restore brings it back; delete (and delete by prefix)
   removes its file, and pdc_store_remove_dir the spill directory.  Only
   objects on overflow pages (larger than a page) count their pins and
   uses, and only they are spilled or evicted. */

/* Bring id back into memory if it was spilled.  PDC_OK: it is in the
   store (restored now, by another process, or never gone);
   PDC_ENOTFOUND: neither in the store nor spilled; another code, with
   err, when it could not be read back (no room, a bad file). */
int pdc_store_restore(pdc_store_t *self, const uint8_t id[PDC_ID_SIZE], char *err, size_t errlen);
/* Read up to len bytes of a spilled object's data from offset into buf,
   without bringing it back (for another node pulling it): the bytes
   read, with its type and whole size; -PDC_ENOTFOUND if it is not
   spilled, another -code on a failed read. */
long pdc_store_spilled_read(pdc_store_t *self, const uint8_t id[PDC_ID_SIZE], size_t offset,
                            void *buf, size_t len, pdc_type *type, size_t *total);
/* Make bytes of room now, as a write that needs them would (evicting and
   spilling): PDC_OK, or PDC_ESTOREFULL with err as a refused write's. */
int pdc_store_spill(pdc_store_t *self, size_t bytes, char *err, size_t errlen);
/* The spill directory, NULL if none. */
const char *pdc_store_spill_dir(pdc_store_t *self);
/* How many objects are spilled, and their files' bytes (0 without a
   spill directory); a walk of the directory. */
void pdc_store_spill_usage(pdc_store_t *self, uint64_t *objects, uint64_t *bytes);

/* One object, as pdc_store_scan sees it. */
typedef struct {
    uint8_t id[PDC_ID_SIZE];
    size_t size;  /* bytes of data                                 */
    size_t bytes; /* what it counts against capacity               */
    pdc_type type;
    int sealed;       /* 0: being received                             */
    int copy;         /* made by pdc_store_create_copy                 */
    int tracked;      /* pins and used_ms are counted (see above)      */
    unsigned pins;    /* gets not yet unpinned, in every process       */
    uint64_t used_ms; /* the last get, or the write (monotonic clock)  */
} pdc_store_entry_t;
typedef void pdc_store_scan_fn(const pdc_store_entry_t *entry, void *arg);
/* Call fn for every object of the store (sealed or not), shard by shard,
   each shard under one read transaction: fn must not write to the store.
   PDC_OK or an error (pdc_store_last_error says which). */
int pdc_store_scan(pdc_store_t *self, pdc_store_scan_fn *fn, void *arg);
/* What an object of size bytes of data counts against capacity. */
size_t pdc_store_value_bytes(size_t size);

/* Clear read slots left by dead processes; returns how many. */
int pdc_store_check_readers(pdc_store_t *self);

const char *pdc_store_dir(pdc_store_t *self);

/* The shard of a small object of id (0 .. shards-1): its hashed shard.
   Objects of at least PDC_STORE_LARGE_OBJECT bytes are in shard 0
   whatever this says; pdc_store_shard_for tells the shard an object of
   id and size is written to. */
unsigned pdc_store_shard_of(pdc_store_t *self, const uint8_t id[PDC_ID_SIZE]);
unsigned pdc_store_shard_for(pdc_store_t *self, const uint8_t id[PDC_ID_SIZE], size_t size);

#endif
