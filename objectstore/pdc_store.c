/*  pdc_store: a node's shared-memory object store over LMDB.

    The design is in pdc_store.h; this file is the implementation.  A store
    is a directory holding:

        store.conf      capacity, shards and read slots, written once by
                        pdc_store_create so that pdc_store_open (in any
                        process) opens the shards the same way
        inflight        one 64-byte slot per shard, mmap'd by every process:
                        the bytes the shard's current writer has reserved
                        but not committed, and the id it reserves (see
                        s_check_room and s_elsewhere)
        shard-<i>/      one LMDB environment (data.mdb, lock.mdb) per shard

    An object lives under its 16-byte id in shard XXH64(id) % shards if it
    has less than PDC_STORE_LARGE_OBJECT bytes of data, else in shard 0
    (S_LARGE_SHARD), whatever its id: warm pages.  tmpfs gives a page of
    data.mdb its memory at the first touch, and on a VM that fault costs
    about 10 us (the hypervisor backs the page), so filling pages LMDB has
    never used runs at about 0.4 GB/s; pages a deleted object freed stay
    backed, LMDB reuses them for the next put, and writing them runs at
    memory speed.  Large objects come and go (task results, objects
    received from other nodes) with ids nobody chose; kept in one shard,
    each reuses what the last ones freed (s_touch makes the pages of a
    large delete reusable at once), where spread by hash every shard
    would fault in its own set.  So a lookup by id tries the hashed shard
    and then shard 0 (s_find, s_delete), and a reserve refuses an id
    present in either (s_elsewhere checks the one it does not write).
    Its value is a 64-byte header area plus the data:

        [header: magic, type, offset, size, state][pad][data ... size][pad]
        |<- offset -------------------------------->|
        |<- S_HDR_AREA + size ------------------------------------------>|

    The header proper is 24 bytes; the data starts at the first 64-byte
    boundary at least 24 bytes into the value (offset in 24..64), and the
    unused rest of the 64 bytes trails the data.  An object larger than
    about half an LMDB page is stored on overflow pages, whose value starts
    16 bytes into a page, so its data lands at page start + 64: aligned.
    (A small object sits inside a leaf page at a 2-byte aligned spot; when
    no 64-byte boundary fits, its data starts at offset 64, unaligned.)
    An object of S_PLACED_MIN (1 MiB) or more has a header area of 4 KiB
    + 64 bytes, and its data starts at the page offset that suits the copy
    into it (s_data_offset says why): at the source's offset within a
    page, rounded down to 64, for pdc_store_put; at a page boundary for a
    reserve.
    state is 0 for an ordinary object and 1 for one still being received
    (see "Receiving in pieces"), which get and contains treat as absent.

    Each shard keeps its used bytes (header area + data of every object)
    under a reserved 1-byte key, updated in the same write transaction as
    the put or delete that changes it; it is the one key that is not 16
    bytes long.

    Reservations hold the shard's LMDB write lock, a process-shared mutex
    owned by the thread that took it: commit and abort must run on the
    thread that reserved (see pdc_store_reserve).  Pins are counted on
    shared read transactions, snapshots, of which a process keeps a few per
    shard whatever the number of its pins: the essay above s_look_begin
    says how.

    A pdc_store_t belongs to the process that opened it: after fork the
    child must not use it (not even destroy it; it only frees memory
    there) and opens the store again itself.  One process opens a store
    directory once at a time (LMDB's rule: a second open of the same
    environment in one process breaks its file locks).
*/

#include "pdc_store.h"
#include "pdc_spill.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lmdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

/* ------------------------------------------------------------------------
   Settings
   ------------------------------------------------------------------------ */
#define S_DEFAULT_SHARDS 4
/* Read slots per shard: every process of the node holds a few (a driver
   with 2 000 actors is 2 000 worker processes on one node), and a slot
   costs 64 bytes of the shard's lock file. */
#define S_DEFAULT_READERS 16384
#define S_MAX_SHARDS      1024
/* Bytes of a value before and around the data: header + alignment pad. */
#define S_HDR_AREA 64
/* Objects of at least this many bytes of data have a header area of a
   page more, so that their data may start at any 64-byte boundary of a
   4 KiB page: the one s_data_offset picks for the copy into it. */
#define S_PLACED_MIN      ((size_t) 1 << 20)
#define S_COPY_PAGE       ((size_t) 4096)
#define S_HDR_AREA_PLACED (S_COPY_PAGE + S_HDR_AREA)
/* Data alignment promised for objects larger than a page. */
#define S_ALIGN 64
/* "PDCO" */
#define S_MAGIC 0x4f434450u
/* Map size of a shard beyond capacity: LMDB's B-tree, free list, pages
   freed but not yet reusable and pages pinned by readers. */
#define S_MAP_MARGIN_FIXED   ((size_t) 64 << 20)
#define S_MAP_MARGIN_DIVISOR 8
/* Free filesystem space kept for LMDB's own pages (copied branch and leaf
   pages, free-list records) on top of an object's bytes. */
#define S_FS_SLACK ((size_t) 4 << 20)
/* LMDB stores a value's size in 32 bits: one object is at most this,
   header area included. */
#define S_MAX_VALUE ((uint64_t) UINT32_MAX)
/* Reset snapshots (read transactions) a shard keeps for the next read
   to renew, within PDC_STORE_SNAPSHOTS: a reset one still holds its
   reader slot, a new one costs a malloc and the reader-table lock. */
#define S_SNAPSHOT_SPARES 2
/* Bytes of the reason pdc_store_last_error gives. */
#define S_WHY_LEN   512
#define S_NS_PER_MS 1000000ull
#define S_NS_PER_S  1000000000ull
/* An object being received whose value (header area + data) is at most
   this many LMDB pages is staged in memory until sealed; a larger one is
   written in place (see "Receiving in pieces"). */
#define S_STAGE_MAX_PAGES 4
/* The key of a shard's used-bytes counter; ids are PDC_ID_SIZE long. */
#define S_COUNTER_KEY    "\0"
#define S_COUNTER_KEYLEN 1
/* The key of a shard's count of part values (see "Objects over 4 GiB"). */
#define S_PARTS_KEY "\1"
/* The shard of every object of at least PDC_STORE_LARGE_OBJECT bytes. */
#define S_LARGE_SHARD 0u
/* How many times a write refused for want of room is tried again after
   spilling (s_room_again): others may take the room meanwhile (a reader
   restoring a spilled object reserves its bytes while it reads the
   file), and each try spills what is left to spill. */
#define S_ROOM_TRIES 10
/* The most objects one write transaction of pdc_store_delete_prefix
   deletes: it holds the shard's write lock, so other writers of the shard
   wait at most this many deletes, and LMDB's dirty pages of one
   transaction stay few. */
#define S_DELETE_BATCH 1024

/* Version 2: the value header grew a state field (objects being
   received); a build that knows only version 1 would show those.
   Version 3: large objects live in shard 0 whatever their id, and the
   inflight slot carries the id being reserved; a build that knows only
   version 2 would not find them, nor see the ids.
   Version 4: objects of S_PLACED_MIN bytes or more have a header area of
   S_HDR_AREA_PLACED bytes; a build that knows version 3 would call them
   malformed. */
#define S_CONF_VERSION  4
#define S_CONF_NAME     "store.conf"
#define S_CONF_TMP_NAME "store.conf.tmp"
#define S_INFLIGHT_NAME "inflight"
#define S_SHARD_PREFIX  "shard-"
#define S_ENV_FLAGS     (MDB_WRITEMAP | MDB_NOSYNC | MDB_NOMETASYNC | MDB_NOTLS)

/* ------------------------------------------------------------------------
   Structures
   ------------------------------------------------------------------------ */

/* The header at the start of every value.  Read and written with memcpy:
   a small value is only 2-byte aligned. */
typedef struct {
    uint32_t magic;
    uint16_t type;   /* pdc_type                                      */
    uint16_t offset; /* where the data starts, from the value start   */
    uint64_t size;   /* bytes of data                                 */
    uint32_t flags;  /* S_FLAG_*                                      */
    uint32_t spare;  /* zero                                          */
    uint32_t state;  /* S_STATE_*; atomic: see s_state_load           */
    /* Of a tracked value only (s_tracked: on overflow pages, which stay
       where they are while the value lives), written outside any write
       transaction by every reader, atomically: */
    uint32_t pins;    /* gets not yet unpinned, in every process       */
    uint64_t used_ms; /* the last get, or the put: CLOCK_MONOTONIC ms  */
} s_header_t;
_Static_assert(sizeof(s_header_t) <= S_HDR_AREA - 16, "the header fits a small value's area");
#define S_HDR_SIZE ((size_t) sizeof(s_header_t))
/* The header bytes before state: what s_header_read copies plainly. */
#define S_HDR_FIXED      ((size_t) offsetof(s_header_t, state))
#define S_STATE_SEALED   0u /* an ordinary object: visible               */
#define S_STATE_UNSEALED 1u /* being received: invisible until sealed    */
#define S_FLAG_COPY      1u /* a copy of an object of another node       */
#define S_FLAG_PARTS     2u /* data over 4 GiB: the rest in part values  */

/* One shard's slot in the shared inflight file.  bytes is 0 when the
   shard has no reservation in flight; then id means nothing. */
typedef struct {
    _Atomic uint64_t bytes; /* header area + data being reserved       */
    _Atomic uint64_t fresh; /* filesystem bytes the reservation takes  */
    _Atomic int64_t pid;    /* the writer, to ignore a dead one's slot */
    _Atomic uint64_t id[2]; /* the id reserved (PDC_ID_SIZE bytes)     */
    char pad_[24];
} s_slot_t;
_Static_assert(sizeof(s_slot_t) == 64, "an inflight slot is 64 bytes");
_Static_assert(PDC_ID_SIZE == 2 * sizeof(uint64_t), "an id is 16 bytes");

/* A snapshot: one LMDB read transaction of a shard, on which pins are
   counted.  The pin handle pdc_store_get returns is the snapshot the pin
   is counted on, so many pins share one handle.  Under the shard's
   snap_lock. */
struct pdc_store_pin {
    uint32_t kind; /* S_PIN_SNAPSHOT (0)                             */
    MDB_txn *txn;
    unsigned shard;
    size_t pins;                  /* pins counted here; > 0: in the pinned list  */
    uint64_t behind_ns;           /* pinned: when a read here first found it
                                     behind (a commit it does not show); 0: not
                                     yet.  Monotonic clock.                     */
    pdc_store_pin_t *prev, *next; /* pinned list; next: spare list    */
};

/* An object over 4 GiB (see "Objects over 4 GiB"): its parts' data in
   the map: where each part's data is. */
typedef struct {
    unsigned n;
    const char **data; /* n pointers into the map                    */
    uint64_t *len;
} s_parts_t;

struct pdc_store_reservation {
    MDB_txn *txn;
    MDB_env *env;
    unsigned shard;
    pthread_t owner;
    /* an object over 4 GiB: its parts and the writable view of them */
    s_parts_t parts;
    void *view;
    size_t view_len;
    pdc_store_reservation_t *next_held; /* the owner's other ones      */
};

/* The pin handle of a get of a tracked object (s_tracked): its count in
   the object's header goes back at unpin, then the snapshot's.  kind is
   the first field of both handles. */
#define S_PIN_SNAPSHOT 0u
#define S_PIN_OBJECT   0x4f42504eu
typedef struct {
    uint32_t kind; /* S_PIN_OBJECT */
    pdc_store_pin_t *snapshot;
    void *value;
    void *view; /* an object over 4 GiB: its mapping (view_len bytes) */
    size_t view_len;
} s_object_pin_t;

/* The reservations the calling thread holds.  A thread that holds a
   shard's write lock and asks for it again would wait on itself for
   ever; this list turns that into PDC_EINVAL. */
static __thread pdc_store_reservation_t *s_held;

/* An object this process is receiving (pdc_store_create_unsealed), until
   it is sealed, aborted or deleted. */
typedef struct s_unsealed {
    uint8_t id[PDC_ID_SIZE];
    unsigned shard;
    pdc_type type;
    size_t size;
    uint32_t flags; /* S_FLAG_* of its header                        */
    void *value;    /* in place: the value in the map (its header)    */
    void *buf;      /* staged: the bytes so far; NULL when in place    */
    void *data;     /* in place: where its data starts                 */
    void *view;     /* over 4 GiB: the writable view of its parts      */
    size_t view_len;
    s_parts_t parts; /* over 4 GiB: where each part's data is in the map */
    struct s_unsealed *next;
} s_unsealed_t;

typedef struct {
    MDB_env *env;
    MDB_dbi dbi;
    size_t psize;  /* LMDB's page size in this environment          */
    uintptr_t map; /* where data.mdb is mapped here; 0: not known  */
    /* snap_lock guards the lists and every use of their transactions */
    pthread_mutex_t snap_lock;
    pdc_store_pin_t *oldest, *newest; /* pinned snapshots, by age     */
    unsigned pinned;                  /* how many                     */
    pdc_store_pin_t *spare;           /* reset snapshots, to renew            */
    unsigned spares;
    uint64_t look_ns; /* when the read under way found newest behind */
} s_shard_t;

struct pdc_store {
    char *dir;
    size_t capacity;
    unsigned nshards;
    unsigned max_readers;
    unsigned snapshots; /* read txns kept a shard: PDC_STORE_SNAPSHOTS
                           or max_readers, the lesser             */
    size_t mapsize;
    size_t page_size;
    pid_t pid;          /* the process that opened the store        */
    int dirfd;          /* the store directory, for fstatvfs        */
    s_slot_t *inflight; /* mmap'd, nshards slots                    */
    size_t inflight_len;
    s_shard_t *shards;
    unsigned opened; /* shards whose environment is open         */
    pthread_mutex_t unsealed_lock;
    s_unsealed_t *unsealed; /* objects being received, any shard   */
    char *spill_dir;        /* NULL: no spilling (pdc_spill.h)      */
};

/* ------------------------------------------------------------------------
   Small helpers
   ------------------------------------------------------------------------ */

static void s_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void s_err(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* "1.5 GiB" into buf (at least 32 bytes). */
static const char *s_human(uint64_t n, char *buf) {
    static const char *units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
    if (n < 1024) {
        snprintf(buf, 32, "%llu B", (unsigned long long) n);
        return buf;
    }
    double v = (double) n / 1024.0;
    size_t u = 0;
    while (v >= 1024.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1024.0;
        u++;
    }
    snprintf(buf, 32, "%.1f %s", v, units[u]);
    return buf;
}

/* 32 hex digits into buf (at least 33 bytes). */
static const char *s_hex(const uint8_t id[PDC_ID_SIZE], char *buf) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < PDC_ID_SIZE; i++) {
        buf[2 * i] = digits[id[i] >> 4];
        buf[2 * i + 1] = digits[id[i] & 15];
    }
    buf[2 * PDC_ID_SIZE] = '\0';
    return buf;
}

/* An LMDB or errno code as a pdc status. */
static int s_status(int rc) {
    switch (rc) {
    case MDB_SUCCESS:
        return PDC_OK;
    case MDB_NOTFOUND:
        return PDC_ENOTFOUND;
    case MDB_MAP_FULL:
    case MDB_TXN_FULL:
    case MDB_PAGE_FULL:
    case ENOSPC:
        return PDC_ESTOREFULL;
    case MDB_READERS_FULL:
    case ENOMEM:
        return PDC_ENOMEM;
    case MDB_CORRUPTED:
    case MDB_PANIC:
    case MDB_VERSION_MISMATCH:
    case MDB_INVALID:
    case MDB_BAD_TXN:
    case MDB_BAD_VALSIZE:
        return PDC_EPROTO;
    default:
        return PDC_EINVAL;
    }
}

static int s_path(char *buf, size_t len, const char *dir, const char *name) {
    int n = snprintf(buf, len, "%s/%s", dir, name);
    return n >= 0 && (size_t) n < len ? 0 : -1;
}

static int s_shard_path(char *buf, size_t len, const char *dir, unsigned i) {
    int n = snprintf(buf, len, "%s/" S_SHARD_PREFIX "%u", dir, i);
    return n >= 0 && (size_t) n < len ? 0 : -1;
}

static unsigned s_shard_of(pdc_store_t *self, const uint8_t *id) {
    return (unsigned) (XXH64(id, PDC_ID_SIZE, 0) % self->nshards);
}

/* The shard an object of id with size bytes of data is written to. */
static unsigned s_shard_for(pdc_store_t *self, const uint8_t *id, size_t size) {
    return size >= PDC_STORE_LARGE_OBJECT ? S_LARGE_SHARD : s_shard_of(self, id);
}

unsigned pdc_store_shard_of(pdc_store_t *self, const uint8_t id[PDC_ID_SIZE]) {
    return s_shard_of(self, id);
}

unsigned pdc_store_shard_for(pdc_store_t *self, const uint8_t id[PDC_ID_SIZE], size_t size) {
    return s_shard_for(self, id, size);
}

static int s_alive(int64_t pid) {
    if (pid <= 0)
        return 0;
    return kill((pid_t) pid, 0) == 0 || errno == EPERM;
}

/* The bytes of a value besides its size bytes of data. */
static size_t s_hdr_area(uint64_t size) {
    return size >= S_PLACED_MIN ? S_HDR_AREA_PLACED : S_HDR_AREA;
}

/* Where the data of a value at `value` with size bytes of data starts.

   A small one: the first 64-byte boundary with room for the header
   before it, if one is within the header area, else the end of the
   header area.

   A placed one (S_PLACED_MIN bytes or more): the first spot after the
   header whose offset within a 4 KiB page is source_offset's, rounded
   down to 64 bytes.  That is for the copy into it: glibc's memcpy of a
   large block leaves its non-temporal loop, and runs at a third of the
   speed or less, when the destination lies a little ahead of the source
   within a page (measured: 8.6 GB/s with the data at page + 64 and a
   malloc'd source at page + 16, 33-35 GB/s at page + 0 or + 16).  With
   the data at the source's page offset, or up to 63 bytes behind it,
   the copy takes the fast loop and the data stays 64-byte aligned.
   source_offset is 0 when nobody copies from one buffer (a reserve). */
static uint16_t s_data_offset(const void *value, uint64_t size, uintptr_t source_offset) {
    uintptr_t p = (uintptr_t) value;
    if (size >= S_PLACED_MIN) {
        uintptr_t want = source_offset % S_COPY_PAGE & ~((uintptr_t) S_ALIGN - 1);
        uintptr_t off = (want - p % S_COPY_PAGE) % S_COPY_PAGE;
        while (off < S_HDR_SIZE)
            off += S_COPY_PAGE;
        return (uint16_t) off;
    }
    uintptr_t aligned = (p + S_HDR_SIZE + S_ALIGN - 1) & ~((uintptr_t) S_ALIGN - 1);
    uintptr_t off = aligned - p;
    return (uint16_t) (off <= S_HDR_AREA ? off : S_HDR_AREA);
}

/* The state field of the value at `value`.  pdc_store_seal flips it in
   place, in the shared map, with a release store while readers of any
   process look at it: this load acquires, so a reader that sees
   S_STATE_SEALED sees the bytes written before the seal.  Only values on
   overflow pages are flipped, and those are aligned; a value in a leaf
   page (maybe only 2-byte aligned) is only ever written inside a write
   transaction, so a plain copy reads it. */
static uint32_t s_state_load(const void *value) {
    const char *p = (const char *) value + offsetof(s_header_t, state);
    if ((uintptr_t) p % _Alignof(uint32_t) == 0)
        return __atomic_load_n((const uint32_t *) p, __ATOMIC_ACQUIRE);
    uint32_t state;
    memcpy(&state, p, sizeof(state));
    return state;
}

static void s_state_store(void *value, uint32_t state) {
    char *p = (char *) value + offsetof(s_header_t, state);
    __atomic_store_n((uint32_t *) p, state, __ATOMIC_RELEASE);
}

/* Whether the value v is tracked: on overflow pages (larger than a page:
   never in a leaf, where LMDB moves values about), which stay where they
   are while the value lives, so that every reader may count its pins and
   note its last use in the header (s_pins_of, s_used_of). */
static int s_tracked(const pdc_store_t *self, const MDB_val *v) {
    return v->mv_size > self->page_size && (uintptr_t) v->mv_data % 8 == 0;
}

static uint32_t *s_pins_of(void *value) {
    return (uint32_t *) ((char *) value + offsetof(s_header_t, pins));
}

static uint64_t *s_used_of(void *value) {
    return (uint64_t *) ((char *) value + offsetof(s_header_t, used_ms));
}

static uint64_t s_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------------
   Objects over 4 GiB

   LMDB keeps a value's size in 32 bits, so an object whose value would
   be larger (S_MAX_VALUE) is stored as several values, its parts, and
   read back whole, zero-copy, through a mapping of its own.  Part 0 is
   the value under the id, with the object's header (flags S_FLAG_PARTS,
   size the whole size) and the first S_PART_BYTES - w bytes of data,
   where w is the data's offset within its page (s_data_offset: the
   source's, for the copy), so that it ends on a page boundary.  Part k
   (1, 2, ...) is the value under the key id + k (two bytes, big-endian:
   the parts sort right after the id), with a small header (s_part_t)
   and up to S_PART_BYTES bytes of data from a page boundary.  Every part
   sits on overflow pages, which LMDB never moves while the value lives,
   and data.mdb is the map itself (MDB_WRITEMAP): so the parts' pages can
   be mapped again, from the file, next to each other (s_view_map), and
   the object is one run of bytes there.  A get maps that view on its
   pin's snapshot and unpin unmaps it; a reserve or an object being
   received maps it writable for the writer.  A part key is 18 bytes
   long: scans skip it, deletes of the id (or of a prefix) take it too,
   and the used-bytes counter counts every part's value.
   ------------------------------------------------------------------------ */
static void s_why_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int s_parts_count_add(MDB_txn *txn, MDB_dbi dbi, int64_t delta);

#define S_PART_BYTES  ((uint64_t) 1 << 30)
#define S_PART_KEYLEN (PDC_ID_SIZE + 2)
#define S_PART_MAGIC  0x54504450u /* "PDPT" */

typedef struct {
    uint32_t magic;
    uint16_t index;
    uint16_t offset; /* where the part's data starts, from its value */
    uint64_t size;   /* bytes of data in this part                   */
} s_part_t;

static int s_parted(uint64_t size) {
    return size + S_HDR_AREA_PLACED > S_MAX_VALUE;
}

/* Bytes of data in part 0 when the data starts at page offset w. */
static uint64_t s_part0_len(uintptr_t w) {
    return S_PART_BYTES - w % S_COPY_PAGE;
}

static unsigned s_nparts(uint64_t size, uint64_t len0) {
    return 1 + (unsigned) ((size - len0 + S_PART_BYTES - 1) / S_PART_BYTES);
}

static uint64_t s_part_len(uint64_t size, uint64_t len0, unsigned k) {
    if (k == 0)
        return len0;
    uint64_t rest = size - len0 - (uint64_t) (k - 1) * S_PART_BYTES;
    return rest < S_PART_BYTES ? rest : S_PART_BYTES;
}

/* The bytes the values of a parted object of size bytes take. */
static uint64_t s_parted_need(uint64_t size, uintptr_t w) {
    return size + (uint64_t) s_nparts(size, s_part0_len(w)) * S_HDR_AREA_PLACED;
}

static void s_part_key(uint8_t key[S_PART_KEYLEN], const uint8_t *id, unsigned k) {
    memcpy(key, id, PDC_ID_SIZE);
    key[PDC_ID_SIZE] = (uint8_t) (k >> 8);
    key[PDC_ID_SIZE + 1] = (uint8_t) k;
}

/* Part 0's header: its value holds the header area and part 0's data. */
static int s_parted_header_ok(const MDB_val *v, const s_header_t *hdr) {
    uintptr_t w = ((uintptr_t) v->mv_data + hdr->offset) % S_COPY_PAGE;
    return hdr->magic == S_MAGIC && s_parted(hdr->size) && hdr->offset >= S_HDR_SIZE &&
           hdr->offset <= S_HDR_AREA_PLACED && v->mv_size == S_HDR_AREA_PLACED + s_part0_len(w) &&
           (hdr->state == S_STATE_SEALED || hdr->state == S_STATE_UNSEALED);
}

static void s_parts_free(s_parts_t *p) {
    free(p->data);
    free(p->len);
    memset(p, 0, sizeof *p);
}

/* Look up the parts of the parted object whose part 0 is v (header hdr)
   in txn, and fill p.  An LMDB code (MDB_CORRUPTED: a part is missing or
   malformed). */
static int s_parts_find(pdc_store_t *self, unsigned shard, MDB_txn *txn, const uint8_t *id,
                        const MDB_val *v, const s_header_t *hdr, s_parts_t *p) {
    const char *data0 = (const char *) v->mv_data + hdr->offset;
    uint64_t len0 = s_part0_len((uintptr_t) data0);
    p->n = s_nparts(hdr->size, len0);
    p->data = calloc(p->n, sizeof *p->data);
    p->len = calloc(p->n, sizeof *p->len);
    if (!p->data || !p->len) {
        s_parts_free(p);
        return ENOMEM;
    }
    p->data[0] = data0;
    p->len[0] = len0;
    for (unsigned k = 1; k < p->n; k++) {
        uint8_t kb[S_PART_KEYLEN];
        s_part_key(kb, id, k);
        MDB_val key = {S_PART_KEYLEN, kb}, val;
        int rc = mdb_get(txn, self->shards[shard].dbi, &key, &val);
        s_part_t part = {0};
        if (rc == MDB_SUCCESS && val.mv_size >= sizeof part)
            memcpy(&part, val.mv_data, sizeof part);
        if (rc == MDB_SUCCESS &&
            (val.mv_size < sizeof part || part.magic != S_PART_MAGIC || part.index != k ||
             part.size != s_part_len(hdr->size, len0, k) || part.offset + part.size > val.mv_size ||
             ((uintptr_t) val.mv_data + part.offset) % S_COPY_PAGE))
            rc = MDB_CORRUPTED;
        if (rc) {
            s_parts_free(p);
            return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
        }
        p->data[k] = (const char *) val.mv_data + part.offset;
        p->len[k] = part.size;
    }
    return MDB_SUCCESS;
}

/* Map the parts p of shard's map next to each other: *view (view_len
   bytes, to munmap) holds the object's data from *view + the first
   part's page offset.  PDC_OK or an error (s_why says it). */
static int s_view_map(pdc_store_t *self, unsigned shard, const s_parts_t *p, int writable,
                      void **view, size_t *view_len, char **data) {
    s_shard_t *sh = &self->shards[shard];
    mdb_filehandle_t fd;
    uintptr_t w = (uintptr_t) p->data[0] % S_COPY_PAGE;
    uint64_t total = w;
    for (unsigned k = 0; k < p->n; k++)
        total += p->len[k];
    size_t len = (size_t) ((total + S_COPY_PAGE - 1) / S_COPY_PAGE * S_COPY_PAGE);
    *view = NULL;
    if (!sh->map || mdb_env_get_fd(sh->env, &fd) != MDB_SUCCESS) {
        s_why_set("object store %s: shard %u: cannot find its map, which an object over 4 GiB "
                  "is read through",
                  self->dir, shard);
        return PDC_EINVAL;
    }
    char *base = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) {
        s_why_set("object store: cannot reserve %zu bytes of address space for an object over "
                  "4 GiB: %s",
                  len, strerror(errno));
        return PDC_ENOMEM;
    }
    char *at = base;
    for (unsigned k = 0; k < p->n; k++) {
        uintptr_t start = (uintptr_t) p->data[k] - (k ? 0 : w);
        size_t n =
            (size_t) ((p->len[k] + (k ? 0 : w) + S_COPY_PAGE - 1) / S_COPY_PAGE * S_COPY_PAGE);
        if (mmap(at, n, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED | MAP_FIXED, fd,
                 (off_t) (start - sh->map)) == MAP_FAILED) {
            s_why_set("object store %s: shard %u: mmap of part %u of an object over 4 GiB: %s",
                      self->dir, shard, k, strerror(errno));
            munmap(base, len);
            return PDC_ENOMEM;
        }
        at += n;
    }
    *view = base;
    *view_len = len;
    *data = base + w;
    return PDC_OK;
}

/* Put the parts 1.. of a parted object of size bytes in txn (MDB_RESERVE)
   and note where their data goes in p, whose part 0 the caller set and
   whose n it counted.  An LMDB code. */
static int s_parts_put(pdc_store_t *self, unsigned shard, MDB_txn *txn, const uint8_t *id,
                       uint64_t size, s_parts_t *p) {
    for (unsigned k = 1; k < p->n; k++) {
        uint8_t kb[S_PART_KEYLEN];
        s_part_key(kb, id, k);
        uint64_t len = s_part_len(size, p->len[0], k);
        MDB_val key = {S_PART_KEYLEN, kb}, val = {S_HDR_AREA_PLACED + len, NULL};
        int rc = mdb_put(txn, self->shards[shard].dbi, &key, &val, MDB_RESERVE | MDB_NOOVERWRITE);
        if (rc)
            return rc;
        uintptr_t v = (uintptr_t) val.mv_data;
        uintptr_t off = (S_COPY_PAGE - v % S_COPY_PAGE) % S_COPY_PAGE;
        while (off < sizeof(s_part_t))
            off += S_COPY_PAGE;
        if (off + len > val.mv_size)
            return MDB_CORRUPTED; /* LMDB placed it where no page fits  */
        s_part_t part = {
            .magic = S_PART_MAGIC, .index = (uint16_t) k, .offset = (uint16_t) off, .size = len};
        memcpy(val.mv_data, &part, sizeof part);
        p->data[k] = (const char *) val.mv_data + off;
        p->len[k] = len;
    }
    return MDB_SUCCESS;
}

/* Delete the parts 1.. of the parted object id (header hdr, part 0 at v)
   in txn; adds their values' bytes to *freed. */
static int s_parts_delete(pdc_store_t *self, unsigned shard, MDB_txn *txn, const uint8_t *id,
                          const MDB_val *v, const s_header_t *hdr, uint64_t *freed) {
    uint64_t len0 = s_part0_len((uintptr_t) v->mv_data + hdr->offset);
    unsigned n = s_nparts(hdr->size, len0);
    for (unsigned k = 1; k < n; k++) {
        uint8_t kb[S_PART_KEYLEN];
        s_part_key(kb, id, k);
        MDB_val key = {S_PART_KEYLEN, kb}, val;
        int rc = mdb_get(txn, self->shards[shard].dbi, &key, &val);
        if (rc == MDB_NOTFOUND)
            continue;
        if (rc == MDB_SUCCESS) {
            *freed += val.mv_size;
            rc = mdb_del(txn, self->shards[shard].dbi, &key, NULL);
        }
        if (rc == MDB_SUCCESS)
            rc = s_parts_count_add(txn, self->shards[shard].dbi, -1);
        if (rc)
            return rc;
    }
    return MDB_SUCCESS;
}

/* Check a stored value; fills hdr (not pins and used_ms).  0 or -1.  The
   fields before state never change once committed: a plain copy; state
   is loaded apart. */
static int s_header_read(const MDB_val *v, s_header_t *hdr) {
    if (v->mv_size < S_HDR_AREA)
        return -1;
    memcpy(hdr, v->mv_data, S_HDR_FIXED);
    hdr->state = s_state_load(v->mv_data);
    hdr->spare = 0;
    hdr->pins = 0;
    hdr->used_ms = 0;
    if (hdr->flags & S_FLAG_PARTS)
        return s_parted_header_ok(v, hdr) ? 0 : -1;
    if (hdr->magic != S_MAGIC || hdr->size > v->mv_size || hdr->offset < S_HDR_SIZE ||
        hdr->offset > s_hdr_area(hdr->size) || hdr->size + s_hdr_area(hdr->size) != v->mv_size ||
        (hdr->state != S_STATE_SEALED && hdr->state != S_STATE_UNSEALED))
        return -1;
    return 0;
}

/* Whether the calling thread holds env's write lock (a reservation). */
static int s_holds(MDB_env *env) {
    for (pdc_store_reservation_t *r = s_held; r; r = r->next_held)
        if (r->env == env)
            return 1;
    return 0;
}

static void s_held_remove(pdc_store_reservation_t *res) {
    for (pdc_store_reservation_t **r = &s_held; *r; r = &(*r)->next_held)
        if (*r == res) {
            *r = res->next_held;
            return;
        }
}

/* A shard's used-bytes counter as seen by txn. */
static int s_counter_get_at(MDB_txn *txn, MDB_dbi dbi, const char *name, uint64_t *used) {
    MDB_val key = {S_COUNTER_KEYLEN, (void *) name}, val;
    int rc = mdb_get(txn, dbi, &key, &val);
    if (rc == MDB_NOTFOUND) {
        *used = 0;
        return MDB_SUCCESS;
    }
    if (rc)
        return rc;
    if (val.mv_size != sizeof(uint64_t))
        return MDB_CORRUPTED;
    memcpy(used, val.mv_data, sizeof(uint64_t));
    return MDB_SUCCESS;
}

static int s_counter_put_at(MDB_txn *txn, MDB_dbi dbi, const char *name, uint64_t used) {
    MDB_val key = {S_COUNTER_KEYLEN, (void *) name};
    MDB_val val = {sizeof(used), &used};
    return mdb_put(txn, dbi, &key, &val, 0);
}

static int s_counter_get(MDB_txn *txn, MDB_dbi dbi, uint64_t *used) {
    return s_counter_get_at(txn, dbi, S_COUNTER_KEY, used);
}

static int s_counter_put(MDB_txn *txn, MDB_dbi dbi, uint64_t used) {
    return s_counter_put_at(txn, dbi, S_COUNTER_KEY, used);
}

/* Add delta to the shard's count of part values (objects over 4 GiB),
   which pdc_store_usage takes off the entries: they are not objects. */
static int s_parts_count_add(MDB_txn *txn, MDB_dbi dbi, int64_t delta) {
    uint64_t n = 0;
    int rc = s_counter_get_at(txn, dbi, S_PARTS_KEY, &n);
    if (rc == MDB_SUCCESS)
        rc = s_counter_put_at(txn, dbi, S_PARTS_KEY,
                              delta < 0 && n < (uint64_t) -delta ? 0 : n + (uint64_t) delta);
    return rc;
}

/* The objects being received (s_unsealed_t), under unsealed_lock. */
static void s_unsealed_add(pdc_store_t *self, s_unsealed_t *u) {
    pthread_mutex_lock(&self->unsealed_lock);
    u->next = self->unsealed;
    self->unsealed = u;
    pthread_mutex_unlock(&self->unsealed_lock);
}

/* Unlink and return the entry of id, or NULL.  Who takes it owns it:
   seal and abort take it first, so two of them racing cannot both act. */
static s_unsealed_t *s_unsealed_take(pdc_store_t *self, const uint8_t *id) {
    s_unsealed_t *u = NULL;
    pthread_mutex_lock(&self->unsealed_lock);
    for (s_unsealed_t **p = &self->unsealed; *p; p = &(*p)->next)
        if (memcmp((*p)->id, id, PDC_ID_SIZE) == 0) {
            u = *p;
            *p = u->next;
            u->next = NULL;
            break;
        }
    pthread_mutex_unlock(&self->unsealed_lock);
    return u;
}

static void s_unsealed_free(s_unsealed_t *u) {
    if (u) {
        if (u->view)
            munmap(u->view, u->view_len);
        s_parts_free(&u->parts);
        free(u->buf);
        free(u);
    }
}

/* Forget the objects this process is receiving in shard whose ids start
   with the len bytes of prefix (pdc_store_delete_prefix deleted them). */
static void s_unsealed_drop_prefix(pdc_store_t *self, unsigned shard, const uint8_t *prefix,
                                   size_t len) {
    s_unsealed_t *dropped = NULL;
    pthread_mutex_lock(&self->unsealed_lock);
    for (s_unsealed_t **p = &self->unsealed; *p;) {
        s_unsealed_t *u = *p;
        if (u->shard == shard && memcmp(u->id, prefix, len) == 0) {
            *p = u->next;
            u->next = dropped;
            dropped = u;
        } else
            p = &u->next;
    }
    pthread_mutex_unlock(&self->unsealed_lock);
    while (dropped) {
        s_unsealed_t *u = dropped;
        dropped = u->next;
        s_unsealed_free(u);
    }
}

static int s_delete_in(pdc_store_t *self, unsigned shard, const uint8_t *id, int unsealed_only);

/* ------------------------------------------------------------------------
   Snapshots: read transactions that pins share

   A pin must keep its object's bytes where they are until it is
   released, even if the object is deleted meanwhile.  An LMDB read
   transaction promises that: LMDB reuses a page only once every reader
   is newer than the commit that freed it.  But one read transaction per
   pin costs one reader slot per pin, and a shard has max_readers slots
   (1024 by default then) for all the node's processes together: a process
   that held 4096 objects at once had taken them all, and the next get
   failed.

   The promise covers more than the transaction's own pages.  A read
   transaction of commit b keeps from reuse every page that a commit
   after b frees, hence every page that any later snapshot shows (such a
   page is freed, if ever, by a commit after that snapshot, so after b).
   So an object found in a fresh snapshot may have its pin counted on an
   older snapshot that is still held, and costs no slot.  For each shard
   a process keeps:

   - its pinned snapshots, oldest first, each with the number of pins
     counted on it (a pin handle is the snapshot it is counted on);
   - a few spares: reset read transactions, kept to be renewed (a reset
     transaction keeps its reader slot, so renewing it is cheap).

   Every read of a shard (get, contains, and the store's own look-ups:
   usage, the other shard of a reserve, seal) begins with s_look_begin.
   It takes the shard's snap_lock and reads in the newest pinned snapshot
   if that one is current (no commit since it began: its transaction id
   is the last committed one, which mdb_env_info reads from the map),
   else in a fresh snapshot (a spare renewed, or a new transaction).  So
   a read sees what a new read transaction would see: a delete, or a put
   committed just before it, included.  A get that finds its object in
   the current newest pinned snapshot counts the pin there; one that
   finds it in a fresh snapshot counts it on the newest pinned snapshot,
   and the fresh snapshot goes back to the spares, while that one has
   been behind for less than PDC_STORE_SNAPSHOT_SHARE_MS (since a read
   first found a commit it does not show: until then it held back no
   page); after that the fresh snapshot takes the pin and is the newest
   pinned one from then on.  The bound is what keeps a long-held pin from
   holding the pages of every later pin: once the newest pinned snapshot
   has been behind that long, later pins start another, and the old one
   goes when its own pins go.  Unpin
   counts the pin off its snapshot, and the last one resets it (back to
   the spares, or closed when the shard keeps enough).  A snapshot with
   no pin is never left open, so an idle process holds back no pages.

   Slots.  A shard keeps at most `snapshots` read transactions of this
   process, pinned and spare (PDC_STORE_SNAPSHOTS, 8, or max_readers if
   that is less), one of them left for a fresh read: a get whose pin
   would make the pinned ones `snapshots` counts it on the newest pinned
   one however old.  So however many objects a process pins, it takes at
   most `snapshots` slots a shard, and max_readers (16384 by default)
   has room for 2048 such processes.  The pattern "put one, pin it, put the next, pin
   it" finds each object only in a fresh snapshot (it was committed after
   the newest pinned one began), counts each pin on the newest pinned
   snapshot, and renews the same spare for every get: one pinned
   snapshot a shard for each PDC_STORE_SNAPSHOT_SHARE_MS the loop runs
   (one or two for 5000 objects, which take some tens of milliseconds),
   never more than `snapshots` - 1, plus the spare; max_readers need not
   grow.  What the sharing costs:
   the pages freed after a pinned snapshot began stay unreusable until
   every pin counted on it goes, not only the pins that saw those pages.
   The bound and the cap keep that to pins taken within
   PDC_STORE_SNAPSHOT_SHARE_MS of each other, or, for a process that
   holds pins from `snapshots` - 1 moments at once, to pins counted on
   the newest of them.  A current snapshot costs nothing: no page has
   been freed since it began, so a pin counted there holds back what a
   new transaction would.

   Other processes' readers can still fill a shard's table.  Then
   (MDB_READERS_FULL) the slots of dead processes are cleared once
   (mdb_reader_check) and, if that frees none, the read fails with a
   message that names the limit; it is never told as "not found".

   Threads: snap_lock guards the lists and every use of their
   transactions, the look-up included, as LMDB does not promise that two
   threads may search one read transaction at once; a look-up is a short
   B-tree search.  Unpin takes the same lock, from any thread (MDB_NOTLS
   frees a read transaction from its thread).
   ------------------------------------------------------------------------ */

/* Why the last call of this thread that has no err argument failed. */
static __thread char s_why[S_WHY_LEN];

static void s_why_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void s_why_set(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s_why, sizeof(s_why), fmt, ap);
    va_end(ap);
}

const char *pdc_store_last_error(void) {
    return s_why;
}

static uint64_t s_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t) ts.tv_sec * S_NS_PER_S + (uint64_t) ts.tv_nsec;
}

/* The id of the last transaction committed to env. */
static size_t s_last_txnid(MDB_env *env) {
    MDB_envinfo info;
    return mdb_env_info(env, &info) == MDB_SUCCESS ? info.me_last_txnid : 0;
}

/* Why shard could not begin a read (LMDB error rc), into s_why. */
static void s_why_read(pdc_store_t *self, unsigned shard, int rc) {
    s_shard_t *sh = &self->shards[shard];
    if (rc == MDB_READERS_FULL)
        s_why_set("object store %s: shard %u has no free read slot: all %u "
                  "(max_readers, per shard, for all the node's processes) "
                  "are taken, %u of them by this process (%u pinned "
                  "snapshots, %u spare); release pins, end the processes "
                  "that hold them, or create the store with a larger "
                  "max_readers",
                  self->dir, shard, self->max_readers, sh->pinned + sh->spares, sh->pinned,
                  sh->spares);
    else
        s_why_set("object store %s: shard %u: cannot begin a read: %s", self->dir, shard,
                  mdb_strerror(rc));
}

static void s_pinned_add(s_shard_t *sh, pdc_store_pin_t *snap) {
    snap->prev = sh->newest;
    snap->next = NULL;
    if (sh->newest)
        sh->newest->next = snap;
    else
        sh->oldest = snap;
    sh->newest = snap;
    sh->pinned++;
}

static void s_pinned_remove(s_shard_t *sh, pdc_store_pin_t *snap) {
    if (snap->prev)
        snap->prev->next = snap->next;
    else
        sh->oldest = snap->next;
    if (snap->next)
        snap->next->prev = snap->prev;
    else
        sh->newest = snap->prev;
    snap->prev = snap->next = NULL;
    sh->pinned--;
}

/* A fresh snapshot of shard: a spare renewed, or a new read transaction
   (clearing dead readers' slots once if the table is full).  Under
   snap_lock.  MDB_SUCCESS, or an LMDB error that s_why explains. */
static int s_snap_fresh(pdc_store_t *self, unsigned shard, pdc_store_pin_t **snap_p) {
    s_shard_t *sh = &self->shards[shard];
    pdc_store_pin_t *snap = sh->spare;
    int rc;
    if (snap) {
        sh->spare = snap->next;
        sh->spares--;
        snap->next = NULL;
        rc = mdb_txn_renew(snap->txn);
        if (rc == MDB_SUCCESS) {
            *snap_p = snap;
            return MDB_SUCCESS;
        }
        mdb_txn_abort(snap->txn); /* begin a new one instead          */
        snap->txn = NULL;
    } else {
        snap = calloc(1, sizeof(*snap));
        if (!snap) {
            s_why_set("object store %s: shard %u: out of memory for a "
                      "snapshot",
                      self->dir, shard);
            return ENOMEM;
        }
        snap->shard = shard;
    }
    rc = mdb_txn_begin(sh->env, NULL, MDB_RDONLY, &snap->txn);
    if (rc == MDB_READERS_FULL) {
        int dead = 0;
        if (mdb_reader_check(sh->env, &dead) == MDB_SUCCESS && dead > 0)
            rc = mdb_txn_begin(sh->env, NULL, MDB_RDONLY, &snap->txn);
    }
    if (rc) {
        s_why_read(self, shard, rc);
        free(snap);
        return rc;
    }
    *snap_p = snap;
    return MDB_SUCCESS;
}

/* Put back a snapshot that has no pin and is not in the pinned list:
   reset (its pages may be reused), and kept as a spare while the shard
   keeps fewer than S_SNAPSHOT_SPARES and has room within `snapshots`,
   else closed (its slot freed).  Under snap_lock. */
static void s_snap_release(pdc_store_t *self, s_shard_t *sh, pdc_store_pin_t *snap) {
    mdb_txn_reset(snap->txn);
    snap->pins = 0;
    snap->prev = NULL;
    if (sh->spares < S_SNAPSHOT_SPARES && sh->pinned + sh->spares < self->snapshots) {
        snap->next = sh->spare;
        sh->spare = snap;
        sh->spares++;
        return;
    }
    mdb_txn_abort(snap->txn);
    free(snap);
}

/* Begin a read of shard: take snap_lock and find a snapshot as current
   as a new read transaction (see above).  MDB_SUCCESS: *look is it,
   live, and the lock is held until s_look_end(look); else the lock is
   not held and s_why says what failed. */
static int s_look_begin(pdc_store_t *self, unsigned shard, pdc_store_pin_t **look) {
    s_shard_t *sh = &self->shards[shard];
    pthread_mutex_lock(&sh->snap_lock);
    pdc_store_pin_t *newest = sh->newest;
    if (newest) {
        if (mdb_txn_id(newest->txn) == s_last_txnid(sh->env)) {
            *look = newest;
            return MDB_SUCCESS;
        }
        sh->look_ns = s_now_ns();
        if (!newest->behind_ns)
            newest->behind_ns = sh->look_ns;
    }
    int rc = s_snap_fresh(self, shard, look);
    if (rc)
        pthread_mutex_unlock(&sh->snap_lock);
    return rc;
}

/* End the read that look began: a fresh snapshot that took no pin is
   released; then the lock. */
static void s_look_end(pdc_store_t *self, unsigned shard, pdc_store_pin_t *look) {
    s_shard_t *sh = &self->shards[shard];
    if (look->pins == 0)
        s_snap_release(self, sh, look);
    pthread_mutex_unlock(&sh->snap_lock);
}

/* Count a pin of an object that look (from s_look_begin, lock held)
   shows, and return the snapshot it is counted on: look itself when it
   is the newest pinned one; else (look is fresh, newer than every pinned
   one) the newest pinned snapshot, while it has been behind for less
   than PDC_STORE_SNAPSHOT_SHARE_MS or the shard has no room for one
   more; else look, which becomes the newest pinned snapshot.  (A fresh
   look with a newest pinned snapshot means s_look_begin found that one
   behind, and set look_ns and its behind_ns.) */
static pdc_store_pin_t *s_pin_count(pdc_store_t *self, s_shard_t *sh, pdc_store_pin_t *look) {
    pdc_store_pin_t *snap = look;
    if (snap->pins == 0) {
        pdc_store_pin_t *newest = sh->newest;
        if (newest &&
            (sh->look_ns - newest->behind_ns < PDC_STORE_SNAPSHOT_SHARE_MS * S_NS_PER_MS ||
             sh->pinned + 1 >= self->snapshots))
            snap = newest;
        else {
            snap->behind_ns = 0;
            s_pinned_add(sh, snap);
        }
    }
    snap->pins++;
    return snap;
}

/* Close every snapshot of shard, pinned or spare; owner: this process
   opened them (in a forked child only the memory is freed). */
static void s_snaps_close(s_shard_t *sh, int owner) {
    while (sh->oldest) {
        pdc_store_pin_t *snap = sh->oldest;
        s_pinned_remove(sh, snap);
        if (owner)
            mdb_txn_abort(snap->txn);
        free(snap);
    }
    while (sh->spare) {
        pdc_store_pin_t *snap = sh->spare;
        sh->spare = snap->next;
        if (owner)
            mdb_txn_abort(snap->txn);
        free(snap);
    }
    sh->spares = 0;
}

/* Whether shard holds id, in any state: 1 with *rc_p MDB_SUCCESS, or 0
   with *rc_p MDB_SUCCESS (absent) or the LMDB error that kept it from
   telling (s_why says it). */
static int s_present(pdc_store_t *self, unsigned shard, const uint8_t *id, int *rc_p) {
    pdc_store_pin_t *look;
    int rc = s_look_begin(self, shard, &look);
    if (rc == MDB_SUCCESS) {
        MDB_val key = {PDC_ID_SIZE, (void *) id}, val;
        rc = mdb_get(look->txn, self->shards[shard].dbi, &key, &val);
        if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
            s_why_set("object store %s: shard %u: get: %s", self->dir, shard, mdb_strerror(rc));
        s_look_end(self, shard, look);
    }
    *rc_p = rc == MDB_NOTFOUND ? MDB_SUCCESS : rc;
    return rc == MDB_SUCCESS;
}

/* A shard's committed used bytes (and objects, if wanted).  An error is
   explained in s_why. */
static int s_shard_usage(pdc_store_t *self, unsigned shard, uint64_t *used, size_t *objects) {
    pdc_store_pin_t *look;
    int rc = s_look_begin(self, shard, &look);
    if (rc)
        return rc;
    MDB_dbi dbi = self->shards[shard].dbi;
    rc = s_counter_get(look->txn, dbi, used);
    if (rc == MDB_SUCCESS && objects) {
        MDB_stat st;
        rc = mdb_stat(look->txn, dbi, &st);
        if (rc == MDB_SUCCESS) {
            MDB_val key = {S_COUNTER_KEYLEN, (void *) S_COUNTER_KEY}, val;
            size_t counters = mdb_get(look->txn, dbi, &key, &val) == 0;
            uint64_t parts = 0;
            key.mv_data = (void *) S_PARTS_KEY;
            counters += mdb_get(look->txn, dbi, &key, &val) == 0;
            rc = s_counter_get_at(look->txn, dbi, S_PARTS_KEY, &parts);
            *objects = st.ms_entries - counters - (size_t) parts;
        }
    }
    s_look_end(self, shard, look);
    if (rc)
        s_why_set("object store %s: cannot read the usage of shard %u: %s", self->dir, shard,
                  mdb_strerror(rc));
    return rc;
}

/* ------------------------------------------------------------------------
   Creating, opening, closing
   ------------------------------------------------------------------------ */

static pdc_store_t *s_store_new(const char *dir, size_t capacity, unsigned shards, unsigned readers,
                                char *err, size_t errlen) {
    if (capacity == 0 || capacity > SIZE_MAX / 4) {
        s_err(err, errlen, "object store %s: bad capacity %zu", dir, capacity);
        return NULL;
    }
    if (shards == 0 || shards > S_MAX_SHARDS || readers == 0) {
        s_err(err, errlen,
              "object store %s: bad shards %u or max_readers %u "
              "(shards 1..%u)",
              dir, shards, readers, S_MAX_SHARDS);
        return NULL;
    }
    pdc_store_t *self = calloc(1, sizeof(*self));
    if (self)
        self->shards = calloc(shards, sizeof(s_shard_t));
    if (self)
        self->dir = strdup(dir);
    if (!self || !self->shards || !self->dir) {
        if (self) {
            free(self->shards);
            free(self->dir);
        }
        free(self);
        s_err(err, errlen, "object store %s: out of memory", dir);
        return NULL;
    }
    self->capacity = capacity;
    self->nshards = shards;
    self->max_readers = readers;
    self->snapshots = readers < PDC_STORE_SNAPSHOTS ? readers : PDC_STORE_SNAPSHOTS;
    long ps = sysconf(_SC_PAGESIZE);
    self->page_size = ps > 0 ? (size_t) ps : 4096;
    size_t map =
        capacity + capacity / S_MAP_MARGIN_DIVISOR + S_MAP_MARGIN_FIXED + self->page_size - 1;
    self->mapsize = map - map % self->page_size;
    self->pid = getpid();
    self->dirfd = -1;
    for (unsigned i = 0; i < shards; i++) {
        pthread_mutex_init(&self->shards[i].snap_lock, NULL);
    }
    pthread_mutex_init(&self->unsealed_lock, NULL);
    return self;
}

/* Where env's data file is mapped in this process, or 0 if that cannot
   be found.  mdb_env_info's me_mapaddr is filled in only with
   MDB_FIXEDMAP, so look for the file's mapping at offset 0 in
   /proc/self/maps, by its device and inode. */
static uintptr_t s_map_base(MDB_env *env) {
    mdb_filehandle_t fd;
    struct stat st;
    if (mdb_env_get_fd(env, &fd) != MDB_SUCCESS || fstat(fd, &st) != 0)
        return 0;
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f)
        return 0;
    char line[PATH_MAX + 128];
    uintptr_t base = 0;
    while (!base && fgets(line, sizeof(line), f)) {
        unsigned long long start, end, off, ino;
        unsigned maj, min;
        if (sscanf(line, "%llx-%llx %*s %llx %x:%x %llu", &start, &end, &off, &maj, &min, &ino) ==
                6 &&
            off == 0 && ino == (unsigned long long) st.st_ino && maj == major(st.st_dev) &&
            min == minor(st.st_dev))
            base = (uintptr_t) start;
    }
    fclose(f);
    return base;
}

/* Open (create: make) shard i's environment. */
static int s_shard_open(pdc_store_t *self, unsigned i, int create, char *err, size_t errlen) {
    char path[PATH_MAX], file[PATH_MAX];
    if (s_shard_path(path, sizeof(path), self->dir, i) ||
        s_path(file, sizeof(file), path, "data.mdb")) {
        s_err(err, errlen, "object store %s: path too long", self->dir);
        return PDC_EINVAL;
    }
    if (create && mkdir(path, 0700) != 0) {
        s_err(err, errlen, "object store: cannot create %s: %s", path, strerror(errno));
        return errno == ENOSPC ? PDC_ESTOREFULL : PDC_EINVAL;
    }
    if (!create && access(file, R_OK | W_OK) != 0) {
        s_err(err, errlen, "object store: cannot open %s: %s", file, strerror(errno));
        return errno == ENOENT ? PDC_ENOTFOUND : PDC_EINVAL;
    }
    s_shard_t *sh = &self->shards[i];
    MDB_env *env;
    int rc = mdb_env_create(&env);
    if (rc) {
        s_err(err, errlen, "object store %s: %s", path, mdb_strerror(rc));
        return s_status(rc);
    }
    const char *step = "set max readers";
    rc = mdb_env_set_maxreaders(env, self->max_readers);
    if (rc == MDB_SUCCESS) {
        step = "set map size";
        rc = mdb_env_set_mapsize(env, self->mapsize);
    }
    if (rc == MDB_SUCCESS) {
        step = "open";
        rc = mdb_env_open(env, path, S_ENV_FLAGS, 0600);
    }
    MDB_txn *txn = NULL;
    if (rc == MDB_SUCCESS) {
        step = "begin";
        rc = mdb_txn_begin(env, NULL, create ? 0 : MDB_RDONLY, &txn);
    }
    if (rc == MDB_SUCCESS) {
        step = "open database";
        rc = mdb_dbi_open(txn, NULL, 0, &sh->dbi);
    }
    if (rc == MDB_SUCCESS && create) {
        step = "initialise";
        rc = s_counter_put(txn, sh->dbi, 0);
    }
    MDB_stat st;
    if (rc == MDB_SUCCESS) {
        step = "stat";
        rc = mdb_env_stat(env, &st);
    }
    if (txn) {
        if (rc == MDB_SUCCESS) {
            step = "commit";
            rc = mdb_txn_commit(txn);
        } else
            mdb_txn_abort(txn);
    }
    if (rc) {
        s_err(err, errlen, "object store: cannot %s %s: %s", step, path, mdb_strerror(rc));
        mdb_env_close(env);
        return s_status(rc);
    }
    sh->env = env;
    sh->psize = st.ms_psize;
    sh->map = s_map_base(env);
    return PDC_OK;
}

/* Map the inflight file (create: make it). */
static int s_inflight_open(pdc_store_t *self, int create, char *err, size_t errlen) {
    char path[PATH_MAX];
    if (s_path(path, sizeof(path), self->dir, S_INFLIGHT_NAME)) {
        s_err(err, errlen, "object store %s: path too long", self->dir);
        return PDC_EINVAL;
    }
    size_t len = (size_t) self->nshards * sizeof(s_slot_t);
    int fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0), 0600);
    if (fd < 0) {
        s_err(err, errlen, "object store: cannot open %s: %s", path, strerror(errno));
        return errno == ENOENT ? PDC_ENOTFOUND : PDC_EINVAL;
    }
    struct stat st;
    int ok = create ? ftruncate(fd, (off_t) len) == 0
                    : fstat(fd, &st) == 0 && (size_t) st.st_size >= len;
    void *map = ok ? mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
    int saved = errno;
    close(fd);
    if (map == MAP_FAILED) {
        s_err(err, errlen, "object store: cannot map %s: %s", path,
              ok ? strerror(saved) : "file too short or unreadable");
        return PDC_EINVAL;
    }
    self->inflight = map;
    self->inflight_len = len;
    return PDC_OK;
}

static int s_conf_write(pdc_store_t *self, char *err, size_t errlen) {
    char tmp[PATH_MAX], path[PATH_MAX];
    if (s_path(tmp, sizeof(tmp), self->dir, S_CONF_TMP_NAME) ||
        s_path(path, sizeof(path), self->dir, S_CONF_NAME)) {
        s_err(err, errlen, "object store %s: path too long", self->dir);
        return PDC_EINVAL;
    }
    FILE *f = fopen(tmp, "wx");
    if (!f) {
        s_err(err, errlen, "object store: cannot write %s: %s", tmp, strerror(errno));
        return PDC_EINVAL;
    }
    fprintf(f,
            "# pdc object store; written by pdc_store_create, do not edit\n"
            "version %d\ncapacity %zu\nshards %u\nmax_readers %u\n",
            S_CONF_VERSION, self->capacity, self->nshards, self->max_readers);
    if (self->spill_dir)
        fprintf(f, "spill_dir %s\n", self->spill_dir);
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        int e = errno;
        s_err(err, errlen, "object store: cannot write %s: %s", path, strerror(e));
        unlink(tmp);
        return e == ENOSPC ? PDC_ESTOREFULL : PDC_EINVAL;
    }
    return PDC_OK;
}

static int s_conf_read(const char *dir, size_t *capacity, unsigned *shards, unsigned *readers,
                       char *spill_dir, size_t spill_len, char *err, size_t errlen) {
    char path[PATH_MAX], line[PATH_MAX + 32];
    if (s_path(path, sizeof(path), dir, S_CONF_NAME)) {
        s_err(err, errlen, "object store %s: path too long", dir);
        return PDC_EINVAL;
    }
    if (spill_len)
        *spill_dir = '\0';
    FILE *f = fopen(path, "re");
    if (!f) {
        int e = errno;
        s_err(err, errlen, "object store %s: cannot read %s: %s%s", dir, path, strerror(e),
              e == ENOENT ? " (no store here, or not yet created)" : "");
        return e == ENOENT ? PDC_ENOTFOUND : PDC_EINVAL;
    }
    unsigned long long cap = 0, nsh = 0, nrd = 0, version = 0;
    while (fgets(line, sizeof(line), f)) {
        char name[32];
        unsigned long long value;
        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (!strncmp(line, "spill_dir ", 10)) {
            line[strcspn(line, "\n")] = '\0';
            snprintf(spill_dir, spill_len, "%s", line + 10);
            continue;
        }
        if (sscanf(line, "%31s %llu", name, &value) != 2)
            continue;
        if (strcmp(name, "version") == 0)
            version = value;
        else if (strcmp(name, "capacity") == 0)
            cap = value;
        else if (strcmp(name, "shards") == 0)
            nsh = value;
        else if (strcmp(name, "max_readers") == 0)
            nrd = value;
    }
    fclose(f);
    if (version && version != S_CONF_VERSION) {
        s_err(err, errlen,
              "object store %s: %s is of format version %llu, this build "
              "reads version %d (a store made by another pdc build)",
              dir, path, version, S_CONF_VERSION);
        return PDC_EPROTO;
    }
    if (version != S_CONF_VERSION || cap == 0 || cap > SIZE_MAX || nsh == 0 || nsh > S_MAX_SHARDS ||
        nrd == 0 || nrd > UINT_MAX) {
        s_err(err, errlen,
              "object store %s: %s is malformed (version %llu, capacity "
              "%llu, shards %llu, max_readers %llu)",
              dir, path, version, cap, nsh, nrd);
        return PDC_EPROTO;
    }
    *capacity = (size_t) cap;
    *shards = (unsigned) nsh;
    *readers = (unsigned) nrd;
    return PDC_OK;
}

static int s_open_all(pdc_store_t *self, int create, char *err, size_t errlen) {
    self->dirfd = open(self->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (self->dirfd < 0) {
        s_err(err, errlen, "object store: cannot open %s: %s", self->dir, strerror(errno));
        return errno == ENOENT ? PDC_ENOTFOUND : PDC_EINVAL;
    }
    int rc = s_inflight_open(self, create, err, errlen);
    for (unsigned i = 0; rc == PDC_OK && i < self->nshards; i++) {
        rc = s_shard_open(self, i, create, err, errlen);
        if (rc == PDC_OK)
            self->opened = i + 1;
    }
    return rc;
}

pdc_store_t *pdc_store_create(const char *dir, const pdc_store_config_t *cfg, char *err,
                              size_t errlen) {
    if (!dir || !*dir || !cfg) {
        s_err(err, errlen, "object store: no directory or configuration");
        return NULL;
    }
    pdc_store_t *self =
        s_store_new(dir, cfg->capacity, cfg->shards ? cfg->shards : S_DEFAULT_SHARDS,
                    cfg->max_readers ? cfg->max_readers : S_DEFAULT_READERS, err, errlen);
    if (!self)
        return NULL;
    if (mkdir(dir, 0700) != 0) {
        s_err(err, errlen, "object store: cannot create %s: %s%s", dir, strerror(errno),
              errno == EEXIST ? " (remove the old store first)" : "");
        pdc_store_destroy(&self);
        return NULL;
    }
    if (cfg->spill_dir && *cfg->spill_dir) {
        if (strchr(cfg->spill_dir, '\n') || !(self->spill_dir = strdup(cfg->spill_dir)) ||
            (mkdir(cfg->spill_dir, 0700) != 0 && errno != EEXIST)) {
            s_err(err, errlen, "object store: cannot make the spill directory %s: %s",
                  cfg->spill_dir, self->spill_dir ? strerror(errno) : "a bad name");
            pdc_store_destroy(&self);
            rmdir(dir);
            return NULL;
        }
    }
    /* store.conf last: until it exists, pdc_store_open refuses the dir */
    if (s_open_all(self, 1, err, errlen) != PDC_OK || s_conf_write(self, err, errlen) != PDC_OK) {
        pdc_store_destroy(&self);
        pdc_store_remove_dir(dir);
        return NULL;
    }
    return self;
}

pdc_store_t *pdc_store_open(const char *dir, char *err, size_t errlen) {
    if (!dir || !*dir) {
        s_err(err, errlen, "object store: no directory");
        return NULL;
    }
    size_t capacity;
    unsigned shards, readers;
    char spill_dir[PATH_MAX];
    if (s_conf_read(dir, &capacity, &shards, &readers, spill_dir, sizeof spill_dir, err, errlen))
        return NULL;
    pdc_store_t *self = s_store_new(dir, capacity, shards, readers, err, errlen);
    if (!self)
        return NULL;
    if (*spill_dir && !(self->spill_dir = strdup(spill_dir))) {
        s_err(err, errlen, "object store %s: out of memory", dir);
        pdc_store_destroy(&self);
        return NULL;
    }
    if (s_open_all(self, 0, err, errlen) != PDC_OK) {
        pdc_store_destroy(&self);
        return NULL;
    }
    /* No sweep of dead readers here: it costs a lock test per slot in use
       (the kernel walking every process's lock for each), so 2 000
       processes opening the store made it quadratic.  The raylet sweeps
       now and then, and a read that finds a table full sweeps first. */
    return self;
}

void pdc_store_destroy(pdc_store_t **self_p) {
    if (!self_p || !*self_p)
        return;
    pdc_store_t *self = *self_p;
    /* In a forked child the environments and their read slots are the
       parent's: closing them would free the parent's slots.  Free only
       our memory. */
    int owner = getpid() == self->pid;
    /* Objects still being received are given up: deleted, their space
       given back (in a forked child only forgotten). */
    while (self->unsealed) {
        s_unsealed_t *u = self->unsealed;
        self->unsealed = u->next;
        if (owner)
            s_delete_in(self, u->shard, u->id, 1);
        s_unsealed_free(u);
    }
    for (unsigned i = 0; i < self->nshards; i++) {
        s_shard_t *sh = &self->shards[i];
        s_snaps_close(sh, owner);
        if (owner && i < self->opened)
            mdb_env_close(sh->env);
        pthread_mutex_destroy(&sh->snap_lock);
    }
    pthread_mutex_destroy(&self->unsealed_lock);
    if (self->inflight)
        munmap(self->inflight, self->inflight_len);
    if (self->dirfd >= 0)
        close(self->dirfd);
    free(self->shards);
    free(self->dir);
    free(self->spill_dir);
    free(self);
    *self_p = NULL;
}

/* Remove every non-directory entry of the directory at dirfd/name (not
   following symlinks), then the directory itself. */
static int s_remove_flat(int dirfd, const char *name) {
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (unlinkat(fd, e->d_name, 0) != 0)
            rc = -1; /* a directory in a shard: not ours, keep it     */
    }
    closedir(d);
    if (unlinkat(dirfd, name, AT_REMOVEDIR) != 0)
        rc = -1;
    return rc;
}

int pdc_store_remove_dir(const char *dir) {
    if (!dir || !*dir) {
        errno = EINVAL;
        return -1;
    }
    /* its spill directory first: store.conf names it */
    size_t capacity;
    unsigned shards, readers;
    char spill_dir[PATH_MAX], err[64];
    if (s_conf_read(dir, &capacity, &shards, &readers, spill_dir, sizeof spill_dir, err,
                    sizeof err) == PDC_OK &&
        *spill_dir)
        pdc_spill_remove_dir(spill_dir);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1; /* nothing to remove           */
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        struct stat st;
        if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            rc = -1;
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            if (strncmp(e->d_name, S_SHARD_PREFIX, strlen(S_SHARD_PREFIX)) != 0 ||
                s_remove_flat(fd, e->d_name) != 0)
                rc = -1;
        } else if (unlinkat(fd, e->d_name, 0) != 0)
            rc = -1;
    }
    closedir(d);
    if (rmdir(dir) != 0)
        rc = -1;
    return rc;
}

/* ------------------------------------------------------------------------
   Room: capacity and filesystem space

   A reserve must be refused before it writes a byte if it would take the
   store over capacity, or the filesystem under the store (tmpfs) over its
   size: a page of a shared mapping that tmpfs cannot back raises SIGBUS in
   whoever touches it, so that is checked up front.  Two things make this
   more than "used + size <= capacity":

   Concurrent writers.  Each shard has its own writer, in any process, and
   a writer's bytes count in its shard's used counter only once committed.
   So every writer first publishes what it is about to reserve in its
   shard's slot of the shared inflight file (only the holder of the
   shard's write lock writes that slot), and only then reads the other
   shards' slots and counters.  Two racing writers both store before they
   load (sequentially consistent atomics), so at least one of them sees
   the other: together they cannot overshoot.  A committed reservation is
   cleared from its slot after the commit, so in between it is counted
   twice: conservative, and brief.  A writer that died leaves its slot set
   until the next writer of that shard overwrites it; a slot whose pid is
   dead is ignored when the check would otherwise fail.

   Fresh pages.  Each shard's data.mdb is a sparse file as large as its
   map, so its size says nothing; and pages LMDB freed stay allocated in
   tmpfs and are reused by later puts (a put after a delete of the same
   size needs no new memory at all).  What a reservation really costs the
   filesystem is the pages it places above the shard's high-water mark
   (the last page LMDB ever used).  That is only known once LMDB has
   placed the value, so the check has two steps: before the put, the
   filesystem must hold S_FS_SLACK (LMDB's own page writes during the put
   and commit) plus the other writers' fresh bytes; after the put, with
   the value's pages known from its address in the map, it must also hold
   the fresh pages of this value.  Only LMDB's one page header has been
   written in between, and inside the slack.
   ------------------------------------------------------------------------ */

/* Publish shard's reservation: id first, bytes last (bytes != 0 says
   the slot is in use, see s_elsewhere). */
static void s_slot_set(pdc_store_t *self, unsigned shard, const uint8_t *id, uint64_t bytes,
                       uint64_t fresh) {
    s_slot_t *slot = &self->inflight[shard];
    uint64_t w[2];
    memcpy(w, id, PDC_ID_SIZE);
    atomic_store(&slot->pid, (int64_t) self->pid);
    atomic_store(&slot->id[0], w[0]);
    atomic_store(&slot->id[1], w[1]);
    atomic_store(&slot->bytes, bytes);
    atomic_store(&slot->fresh, fresh);
}

static void s_slot_clear(pdc_store_t *self, unsigned shard) {
    s_slot_t *slot = &self->inflight[shard];
    atomic_store(&slot->fresh, 0);
    atomic_store(&slot->bytes, 0);
}

/* Bytes and fresh bytes in flight in the other shards' slots; live: skip
   slots of dead writers. */
static void s_inflight_others(pdc_store_t *self, unsigned shard, int live, uint64_t *bytes,
                              uint64_t *fresh) {
    *bytes = *fresh = 0;
    for (unsigned j = 0; j < self->nshards; j++) {
        if (j == shard)
            continue;
        s_slot_t *slot = &self->inflight[j];
        uint64_t b = atomic_load(&slot->bytes);
        uint64_t f = atomic_load(&slot->fresh);
        if ((b || f) && live && !s_alive(atomic_load(&slot->pid)))
            continue;
        *bytes += b;
        *fresh += f;
    }
}

static int s_fs_free(pdc_store_t *self, uint64_t *avail) {
    struct statvfs vfs;
    if (fstatvfs(self->dirfd, &vfs) != 0)
        return -1;
    *avail = (uint64_t) vfs.f_bavail * vfs.f_frsize;
    return 0;
}

/* Step one: capacity, and the filesystem slack.  own_used is this shard's
   counter read in the write transaction.  Sets *fresh_others. */
static int s_check_room(pdc_store_t *self, unsigned shard, uint64_t own_used, uint64_t need,
                        const uint8_t *id, uint64_t *fresh_others, char *err, size_t errlen) {
    char h1[32], h2[32], h3[32], h4[32], h5[32], hex[2 * PDC_ID_SIZE + 1];
    uint64_t others_used = 0, inflight, fresh;
    /* slots first, then counters: see above */
    s_inflight_others(self, shard, 0, &inflight, &fresh);
    for (unsigned j = 0; j < self->nshards; j++) {
        uint64_t u;
        if (j == shard)
            continue;
        int rc = s_shard_usage(self, j, &u, NULL);
        if (rc) {
            s_err(err, errlen, "%s", s_why);
            return s_status(rc);
        }
        others_used += u;
    }
    uint64_t used = own_used + others_used;
    if (used + inflight + need > self->capacity && inflight)
        s_inflight_others(self, shard, 1, &inflight, &fresh);
    if (used + inflight + need > self->capacity) {
        s_err(err, errlen,
              "object store full: %s of %s used, %s requested (object %s)"
              "%s%s%s; delete objects or give the store more capacity",
              s_human(used, h1), s_human(self->capacity, h2), s_human(need, h3), s_hex(id, hex),
              inflight ? ", " : "", inflight ? s_human(inflight, h4) : "",
              inflight ? " being written by others" : "");
        return PDC_ESTOREFULL;
    }
    uint64_t avail;
    if (s_fs_free(self, &avail) != 0) {
        s_err(err, errlen, "object store %s: statvfs: %s", self->dir, strerror(errno));
        return PDC_EINVAL;
    }
    if (fresh + S_FS_SLACK > avail && fresh) {
        s_inflight_others(self, shard, 1, &inflight, &fresh);
    }
    if (fresh + S_FS_SLACK > avail) {
        s_err(err, errlen,
              "object store full: the filesystem of %s has only %s free "
              "(%s of it being written by others), %s requested (object "
              "%s); the store holds %s of %s",
              self->dir, s_human(avail, h1), s_human(fresh, h2), s_human(need, h3), s_hex(id, hex),
              s_human(used, h4), s_human(self->capacity, h5));
        return PDC_ESTOREFULL;
    }
    *fresh_others = fresh;
    return PDC_OK;
}

/* The pages of the value at [value, value + len) in shard's map that lie
   above the shard's high-water mark: *bytes of them from file offset
   *off.  *bytes is 0 when there are none, or when it cannot tell. */
static void s_fresh_pages(pdc_store_t *self, unsigned shard, const void *value, size_t len,
                          uint64_t *off, uint64_t *bytes) {
    MDB_envinfo info;
    *off = *bytes = 0;
    if (len < self->page_size)
        return; /* in a leaf page: within the slack                   */
    if (mdb_env_info(self->shards[shard].env, &info) != MDB_SUCCESS)
        return;
    uintptr_t map = self->shards[shard].map, p = (uintptr_t) value;
    if (!map || p < map || p + len > map + info.me_mapsize)
        return; /* map not found, or value not in it: cannot tell      */
    /* byte offsets in the file; high: the first byte LMDB never used */
    uint64_t ps = self->page_size, start = p - map, end = p + len - map;
    uint64_t high = ((uint64_t) info.me_last_pgno + 1) * self->shards[shard].psize;
    if (end <= high)
        return;
    uint64_t from = (start > high ? start : high) / ps * ps;
    *off = from;
    *bytes = (end + ps - 1) / ps * ps - from;
}

/* Step two: the fresh pages of the value now placed at [value, value +
   len) in shard's map.  Sets *fresh. */
static int s_check_fresh(pdc_store_t *self, unsigned shard, const void *value, size_t len,
                         uint64_t fresh_others, uint64_t *fresh, const uint8_t *id, char *err,
                         size_t errlen) {
    uint64_t off;
    s_fresh_pages(self, shard, value, len, &off, fresh);
    if (*fresh == 0)
        return PDC_OK;
    uint64_t avail;
    if (s_fs_free(self, &avail) != 0)
        return PDC_OK; /* checked a moment ago; keep the old answer    */
    if (*fresh + fresh_others + S_FS_SLACK > avail) {
        char h1[32], h2[32], hex[2 * PDC_ID_SIZE + 1];
        s_err(err, errlen,
              "object store full: the filesystem of %s has only %s free, "
              "%s of new memory needed (object %s)",
              self->dir, s_human(avail, h1), s_human(*fresh, h2), s_hex(id, hex));
        return PDC_ESTOREFULL;
    }
    return PDC_OK;
}

/* Deleting an object at least this large commits one more transaction so
   its pages can be reused by the next put (see s_touch). */
#define PDC_STORE_TOUCH_MIN ((size_t) 1 << 20)

/* Commit a write transaction that only rewrites shard's counter, so that
   pages freed by the last transaction become reusable (LMDB reuses a
   transaction's freed pages only once a later transaction committed). */
static int s_touch(pdc_store_t *self, unsigned shard) {
    s_shard_t *sh = &self->shards[shard];
    MDB_txn *txn;
    uint64_t used;
    int rc = mdb_txn_begin(sh->env, NULL, 0, &txn);
    if (rc)
        return rc;
    rc = s_counter_get(txn, sh->dbi, &used);
    if (rc == MDB_SUCCESS)
        rc = s_counter_put(txn, sh->dbi, used);
    if (rc) {
        mdb_txn_abort(txn);
        return rc;
    }
    return mdb_txn_commit(txn);
}

/* ------------------------------------------------------------------------
   Put
   ------------------------------------------------------------------------ */

/* What a reserve found of its id (s_reserve, s_elsewhere). */
enum {
    S_FOUND_NONE,     /* absent: go ahead                              */
    S_FOUND_SEALED,   /* committed (or unreadable: taken all the same) */
    S_FOUND_UNSEALED, /* committed, being received                     */
    S_FOUND_WRITING   /* being reserved by the shard's writer          */
};

/* Whether id is in shard `other`, the other shard an object of this id
   could live in (its hashed shard and the large shard): committed, or
   being reserved by that shard's writer (its inflight slot).  The
   caller has published its own reservation in its slot; this reads the
   other slot (both sequentially consistent atomics) and only then begins
   a read transaction of the other shard.  So of two writers racing with
   one id in the two shards at least one sees the other (as in
   s_check_room), and a writer that has committed and cleared its slot
   meanwhile is seen by the read transaction.  A slot of a dead writer is
   ignored.  (s_look_begin reads as a new read transaction would.)
   MDB_SUCCESS with *found, or an LMDB error that s_why explains. */
static int s_elsewhere(pdc_store_t *self, unsigned other, const uint8_t *id, int *found) {
    s_slot_t *slot = &self->inflight[other];
    uint64_t w[2];
    memcpy(w, id, PDC_ID_SIZE);
    *found = S_FOUND_NONE;
    if (atomic_load(&slot->bytes) && atomic_load(&slot->id[0]) == w[0] &&
        atomic_load(&slot->id[1]) == w[1] && s_alive(atomic_load(&slot->pid))) {
        *found = S_FOUND_WRITING;
        return MDB_SUCCESS;
    }
    pdc_store_pin_t *look;
    int rc = s_look_begin(self, other, &look);
    if (rc)
        return rc;
    MDB_val key = {PDC_ID_SIZE, (void *) id}, val;
    s_header_t hdr;
    rc = mdb_get(look->txn, self->shards[other].dbi, &key, &val);
    if (rc == MDB_SUCCESS)
        *found = s_header_read(&val, &hdr) == 0 && hdr.state == S_STATE_UNSEALED ? S_FOUND_UNSEALED
                                                                                 : S_FOUND_SEALED;
    s_look_end(self, other, look);
    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
        s_why_set("object store %s: shard %u: get: %s", self->dir, other, mdb_strerror(rc));
    return rc == MDB_NOTFOUND ? MDB_SUCCESS : rc;
}

/* Free r (its transaction ended), with the view of an object over 4 GiB. */
static void s_reservation_free(pdc_store_reservation_t *r) {
    if (!r)
        return;
    if (r->view)
        munmap(r->view, r->view_len);
    s_parts_free(&r->parts);
    free(r);
}

/*  Reserve runs the whole write under the shard's LMDB write lock, which
    it takes here and pdc_store_commit or pdc_store_abort gives back:

    1. begin the write transaction on the object's shard (s_shard_for:
       shard 0 for a large object; wait for the shard's other writer);
    2. refuse an id that exists in that shard (PDC_EINVAL);
    3. publish the reservation (bytes and id) in the inflight slot; refuse
       an id that is in the other shard it could be in (s_elsewhere); check
       capacity and filesystem slack (s_check_room; PDC_ESTOREFULL);
    4. add the value's bytes to the shard's counter, then mdb_put with
       MDB_RESERVE: LMDB places the value and returns its address, the
       data is not copied.  The counter goes first so that nothing in the
       transaction moves the value after the caller has filled it;
    5. check the fresh pages of the placed value (s_check_fresh);
    6. write the header, return the data pointer.

    If LMDB's map is full at step 4 (its free pages are fragmented, held
    by a reader, or freed by the very last transaction and not reusable
    yet) the transaction is aborted, stale readers are cleared, an empty
    transaction is committed to make the last frees reusable, and the
    reserve is tried once more; a second failure is PDC_ESTOREFULL.

    Thread rule: LMDB's write lock is a process-shared mutex owned by the
    thread that locked it, and MDB_NOTLS does not change that.  A commit
    or abort from another thread cannot unlock it, and the shard then
    blocks every later writer for good.  So commit and abort must be
    called on the thread that reserved: from another thread commit returns
    PDC_EINVAL and abort does nothing, and *res stays set for the right
    thread to finish.  A thread that holds a reservation and writes to
    the same shard again (reserve, put, delete) would wait on itself for
    ever; that is refused with PDC_EINVAL, but as any two ids may share a
    shard, a thread should finish one reservation before it writes again.
    "The same shard" is the one written: for a reserve its s_shard_for
    (every large object shares shard 0), for a delete the shard the
    object is in.  The check of the other shard in step 3 takes no lock
    (a read transaction), so it never waits on a reservation.

    An object whose value would pass 4 GiB (LMDB keeps value sizes in 32
    bits) is put in parts, all in the same transaction (see "Objects over
    4 GiB"), and *data is then a writable view of them.  LMDB 0.9.24 (Debian 12)
   leaks 1 MiB per write of a value above 256 MiB: it allocates a spill list for such a transaction
   and never frees it (ITS#9155, fixed in 0.9.25).

    s_reserve is the whole of it for an object whose header says state
    (S_STATE_UNSEALED for pdc_store_create_unsealed); *value is the start
    of the value (its header), *data where the data goes. */
static int s_reserve(pdc_store_t *self, const uint8_t *id, pdc_type type, size_t size,
                     uint32_t state, uint32_t flags, uintptr_t source_offset, void **value,
                     void **data, pdc_store_reservation_t **res, char *err, size_t errlen) {
    char hex[2 * PDC_ID_SIZE + 1], h1[32], h2[32];
    size_t area = s_hdr_area(size);
    if (size > self->capacity || size + area > self->capacity) {
        s_err(err, errlen,
              "object store full: %s requested (object %s) is more than "
              "the capacity of %s",
              s_human(size, h1), s_hex(id, hex), s_human(self->capacity, h2));
        return PDC_ESTOREFULL;
    }
    /* an object over 4 GiB: parts (see "Objects over 4 GiB") */
    int parted = s_parted(size);
    uintptr_t want = source_offset % S_COPY_PAGE & ~((uintptr_t) S_ALIGN - 1);
    uint64_t need = parted ? s_parted_need(size, want) : size + area;
    if (parted && need > self->capacity) {
        s_err(err, errlen,
              "object store full: %s requested (object %s, in parts) is more than the capacity "
              "of %s",
              s_human(need, h1), s_hex(id, hex), s_human(self->capacity, h2));
        return PDC_ESTOREFULL;
    }
    /* shard: where the object goes; other: the other shard an object of
       this id could be in (the same when there is none) */
    unsigned shard = s_shard_for(self, id, size);
    unsigned other = shard == S_LARGE_SHARD ? s_shard_of(self, id) : S_LARGE_SHARD;
    s_shard_t *sh = &self->shards[shard];
    if (s_holds(sh->env)) {
        s_err(err, errlen,
              "object store: this thread holds an open reservation on "
              "shard %u, where object %s goes: commit or abort it first",
              shard, s_hex(id, hex));
        return PDC_EINVAL;
    }
    pdc_store_reservation_t *r = calloc(1, sizeof(*r));
    if (r && parted) {
        r->parts.n = s_nparts(size, s_part0_len(want));
        r->parts.data = calloc(r->parts.n, sizeof *r->parts.data);
        r->parts.len = calloc(r->parts.n, sizeof *r->parts.len);
    }
    if (!r || (parted && (!r->parts.data || !r->parts.len))) {
        s_reservation_free(r);
        s_err(err, errlen, "object store: reserve: out of memory");
        return PDC_ENOMEM;
    }
    MDB_val key = {PDC_ID_SIZE, (void *) id}, val;
    for (int attempt = 0;; attempt++) {
        MDB_txn *txn;
        int rc = mdb_txn_begin(sh->env, NULL, 0, &txn);
        if (rc) {
            s_err(err, errlen, "object store %s: shard %u: begin: %s", self->dir, shard,
                  mdb_strerror(rc));
            s_reservation_free(r);
            return s_status(rc);
        }
        /* the id in this shard (under the write lock), then, published
           in the slot, in the other shard it could be in */
        unsigned where = shard;
        int found = S_FOUND_NONE;
        rc = mdb_get(txn, sh->dbi, &key, &val);
        if (rc == MDB_SUCCESS) {
            s_header_t old;
            found = s_header_read(&val, &old) == 0 && old.state == S_STATE_UNSEALED
                        ? S_FOUND_UNSEALED
                        : S_FOUND_SEALED;
        } else if (rc == MDB_NOTFOUND)
            rc = MDB_SUCCESS;
        uint64_t used = 0, fresh_others = 0, fresh = 0;
        if (rc == MDB_SUCCESS && found == S_FOUND_NONE) {
            s_slot_set(self, shard, id, need, need);
            if (other != shard) {
                where = other;
                rc = s_elsewhere(self, other, id, &found);
            }
        }
        if (rc != MDB_SUCCESS || found != S_FOUND_NONE) {
            s_slot_clear(self, shard);
            mdb_txn_abort(txn);
            s_reservation_free(r);
            if (rc == MDB_SUCCESS) {
                s_err(err, errlen, "object store: object %s exists already%s", s_hex(id, hex),
                      found == S_FOUND_UNSEALED  ? " (unsealed: being received)"
                      : found == S_FOUND_WRITING ? " (being reserved by another writer)"
                                                 : "");
                return PDC_EINVAL;
            }
            if (where == shard)
                s_err(err, errlen, "object store %s: shard %u: %s", self->dir, where,
                      mdb_strerror(rc));
            else
                s_err(err, errlen, "%s", s_why); /* s_elsewhere's      */
            return s_status(rc);
        }
        rc = s_counter_get(txn, sh->dbi, &used);
        if (rc) {
            s_err(err, errlen, "object store %s: shard %u: counter: %s", self->dir, shard,
                  mdb_strerror(rc));
            rc = s_status(rc);
        } else
            rc = s_check_room(self, shard, used, need, id, &fresh_others, err, errlen);
        if (rc != PDC_OK) {
            s_slot_clear(self, shard);
            mdb_txn_abort(txn);
            s_reservation_free(r);
            return rc;
        }
        val.mv_size = parted ? S_HDR_AREA_PLACED + s_part0_len(want) : need;
        val.mv_data = NULL;
        rc = s_counter_put(txn, sh->dbi, used + need);
        if (rc == MDB_SUCCESS)
            rc = mdb_put(txn, sh->dbi, &key, &val, MDB_RESERVE | MDB_NOOVERWRITE);
        uint16_t offset = rc == MDB_SUCCESS ? s_data_offset(val.mv_data, size, source_offset) : 0;
        if (rc == MDB_SUCCESS && parted) {
            r->parts.data[0] = (const char *) val.mv_data + offset;
            r->parts.len[0] = s_part0_len(want);
            rc = s_parts_put(self, shard, txn, id, size, &r->parts);
            if (rc == MDB_SUCCESS)
                rc = s_parts_count_add(txn, sh->dbi, (int64_t) r->parts.n - 1);
        }
        if (rc == MDB_MAP_FULL && attempt == 0) {
            mdb_txn_abort(txn);
            int dead;
            mdb_reader_check(sh->env, &dead);
            if (s_touch(self, shard) == MDB_SUCCESS)
                continue;
            s_slot_clear(self, shard);
            rc = MDB_MAP_FULL;
            txn = NULL;
        }
        if (rc) {
            if (txn)
                mdb_txn_abort(txn);
            s_slot_clear(self, shard);
            s_reservation_free(r);
            if (rc == MDB_MAP_FULL || rc == MDB_TXN_FULL)
                s_err(err, errlen,
                      "object store full: shard %u of %s has no run of "
                      "free pages for %s (object %s): its space is "
                      "fragmented or held by long pins; unpin objects, "
                      "delete some or give the store more capacity",
                      shard, self->dir, s_human(need, h1), s_hex(id, hex));
            else
                s_err(err, errlen, "object store %s: shard %u: put: %s", self->dir, shard,
                      mdb_strerror(rc));
            return s_status(rc);
        }
        rc = s_check_fresh(self, shard, val.mv_data, val.mv_size, fresh_others, &fresh, id, err,
                           errlen);
        for (unsigned k = 1; rc == PDC_OK && k < r->parts.n; k++) {
            uint64_t more = 0; /* a part: its data and the page before */
            rc = s_check_fresh(self, shard, r->parts.data[k] - S_COPY_PAGE,
                               r->parts.len[k] + S_COPY_PAGE, fresh_others + fresh, &more, id, err,
                               errlen);
            fresh += more;
        }
        char *dst = (char *) val.mv_data + offset;
        if (rc == PDC_OK && parted &&
            s_view_map(self, shard, &r->parts, 1, &r->view, &r->view_len, &dst) != PDC_OK) {
            s_err(err, errlen, "%s", s_why);
            rc = PDC_ENOMEM;
        }
        if (rc != PDC_OK) {
            mdb_txn_abort(txn);
            s_slot_clear(self, shard);
            s_reservation_free(r);
            return rc;
        }
        s_slot_set(self, shard, id, need, fresh);

        s_header_t hdr = {.magic = S_MAGIC,
                          .type = (uint16_t) type,
                          .offset = offset,
                          .size = size,
                          .flags = flags | (parted ? S_FLAG_PARTS : 0),
                          .state = state,
                          .used_ms = s_now_ms()};
        memcpy(val.mv_data, &hdr, S_HDR_SIZE);
        r->txn = txn;
        r->env = sh->env;
        r->shard = shard;
        r->owner = pthread_self();
        r->next_held = s_held;
        s_held = r;
        *value = val.mv_data;
        *data = dst;
        *res = r;
        return PDC_OK;
    }
}

/* After a write refused with rc for size bytes of data (tries refusals
   so far): whether to write again, once the store has spilled or evicted
   objects to make room (pdc_spill_make_room).  Only for a store with a
   spill directory, an object no larger than the store, and a thread that
   holds no reservation (spilling writes to any shard); the last refusal
   and a room that cannot be made keep rc, with err saying what holds the
   space. */
static int s_room_again(pdc_store_t *self, int rc, size_t size, int tries, char *err,
                        size_t errlen) {
    if (rc != PDC_ESTOREFULL || !self->spill_dir || tries >= S_ROOM_TRIES || s_held ||
        size > self->capacity || size + s_hdr_area(size) > self->capacity)
        return 0;
    return pdc_spill_make_room(self, size + s_hdr_area(size), err, errlen) == PDC_OK;
}

int pdc_store_reserve(pdc_store_t *self, const uint8_t id[PDC_ID_SIZE], pdc_type type, size_t size,
                      void **data, pdc_store_reservation_t **res, char *err, size_t errlen) {
    if (data)
        *data = NULL;
    if (res)
        *res = NULL;
    if (!self || !id || !data || !res) {
        s_err(err, errlen, "object store: reserve: a NULL argument");
        return PDC_EINVAL;
    }
    void *value;
    int rc;
    for (int tries = 0;; tries++) {
        rc = s_reserve(self, id, type, size, S_STATE_SEALED, 0, 0, &value, data, res, err, errlen);
        if (!s_room_again(self, rc, size, tries, err, errlen))
            return rc;
    }
}

int pdc_store_commit(pdc_store_t *self, pdc_store_reservation_t **res) {
    if (!self || !res || !*res)
        return PDC_EINVAL;
    pdc_store_reservation_t *r = *res;
    if (!pthread_equal(r->owner, pthread_self()))
        return PDC_EINVAL; /* see pdc_store_reserve: the thread rule    */
    int rc = mdb_txn_commit(r->txn);
    s_slot_clear(self, r->shard);
    s_held_remove(r);
    s_reservation_free(r);
    *res = NULL;
    return s_status(rc);
}

void pdc_store_abort(pdc_store_t *self, pdc_store_reservation_t **res) {
    if (!self || !res || !*res)
        return;
    pdc_store_reservation_t *r = *res;
    if (!pthread_equal(r->owner, pthread_self()))
        return; /* see pdc_store_reserve: the thread rule              */
    mdb_txn_abort(r->txn);
    s_slot_clear(self, r->shard);
    s_held_remove(r);
    s_reservation_free(r);
    *res = NULL;
}

static int s_create_unsealed(pdc_store_t *self, const uint8_t *id, pdc_type type, size_t size,
                             uint32_t flags, int lazy, uintptr_t source_offset, void **data,
                             char *err, size_t errlen);

/* A put of a large object copies outside the write lock: created
   unsealed (a short write transaction), copied, sealed.  Every large
   object shares shard 0, and a copy of 80 MiB takes milliseconds, so
   under the lock two writers of the node copied by turns (CPUs idle a
   third of the time).  The data lands at the source's page offset, as
   under the lock (s_data_offset). */
static int s_put_unlocked(pdc_store_t *self, const uint8_t *id, pdc_type type, const void *data,
                          size_t size, char *err, size_t errlen) {
    void *dst;
    int rc;
    for (int tries = 0;; tries++) {
        rc = s_create_unsealed(self, id, type, size, 0, 0, (uintptr_t) data, &dst, err, errlen);
        if (!s_room_again(self, rc, size, tries, err, errlen))
            break;
    }
    if (rc != PDC_OK)
        return rc;
    memcpy(dst, data, size);
    rc = pdc_store_seal(self, id);
    if (rc != PDC_OK) {
        char hex[2 * PDC_ID_SIZE + 1];
        s_err(err, errlen, "object store: seal of object %s failed (%s)", s_hex(id, hex),
              rc == PDC_ENOTFOUND ? "deleted while it was written" : "error");
        pdc_store_abort_unsealed(self, id);
    }
    return rc;
}

int pdc_store_put(pdc_store_t *self, const uint8_t id[PDC_ID_SIZE], pdc_type type, const void *data,
                  size_t size, char *err, size_t errlen) {
    if (size && !data) {
        s_err(err, errlen, "object store: put: no data");
        return PDC_EINVAL;
    }
    if (!self || !id) {
        s_err(err, errlen, "object store: put: a NULL argument");
        return PDC_EINVAL;
    }
    void *value, *dst;
    pdc_store_reservation_t *res;
    int rc;
    if (size >= PDC_STORE_LARGE_OBJECT && size <= self->capacity)
        return s_put_unlocked(self, id, type, data, size, err, errlen);
    /* The data lands where the copy from data runs fastest. */
    for (int tries = 0;; tries++) {
        rc = s_reserve(self, id, type, size, S_STATE_SEALED, 0, (uintptr_t) data, &value, &dst,
                       &res, err, errlen);
        if (!s_room_again(self, rc, size, tries, err, errlen))
            break;
    }
    if (rc != PDC_OK)
        return rc;
    if (size)
        memcpy(dst, data, size);
    rc = pdc_store_commit(self, &res);
    if (rc != PDC_OK) {
        char hex[2 * PDC_ID_SIZE + 1];
        s_err(err, errlen, "object store%s: commit of object %s failed (%s)",
              rc == PDC_ESTOREFULL ? " full" : "", s_hex(id, hex),
              rc == PDC_ESTOREFULL ? "no room for LMDB's pages" : "error");
    }
    return rc;
}

/* ------------------------------------------------------------------------
   Get, contains, delete
   ------------------------------------------------------------------------ */

/* Find id's value, sealed or not: in its hashed shard, then, if not
   there, in the large shard.  MDB_SUCCESS: *hdr describes the value and,
   when pin_p is given and the value is sealed, a pin of it is counted on
   *pin_p and *val is valid until it is released (without a pin, *val is
   not to be used).  Else no pin is counted, and for an error other than
   MDB_NOTFOUND s_why says what failed. */
static int s_find(pdc_store_t *self, const uint8_t *id, pdc_store_pin_t **pin_p, MDB_val *val,
                  s_header_t *hdr, s_parts_t *parts) {
    unsigned shard = s_shard_of(self, id);
    MDB_val key = {PDC_ID_SIZE, (void *) id};
    char hex[2 * PDC_ID_SIZE + 1];
    for (;;) {
        s_shard_t *sh = &self->shards[shard];
        pdc_store_pin_t *look;
        int rc = s_look_begin(self, shard, &look);
        if (rc)
            return rc;
        rc = mdb_get(look->txn, sh->dbi, &key, val);
        if (rc == MDB_SUCCESS && s_header_read(val, hdr) != 0)
            rc = MDB_CORRUPTED;
        /* an object over 4 GiB: its parts, in the read that found it
           (the pin may be counted on an older snapshot, which keeps the
           pages but does not show them) */
        if (rc == MDB_SUCCESS && parts && pin_p && hdr->state == S_STATE_SEALED &&
            (hdr->flags & S_FLAG_PARTS))
            rc = s_parts_find(self, shard, look->txn, id, val, hdr, parts);
        if (rc == MDB_SUCCESS && pin_p && hdr->state == S_STATE_SEALED)
            *pin_p = s_pin_count(self, sh, look);
        s_look_end(self, shard, look);
        if (rc == MDB_CORRUPTED)
            s_why_set("object store %s: object %s in shard %u has a "
                      "malformed header, or a part of it over 4 GiB is missing or malformed",
                      self->dir, s_hex(id, hex), shard);
        else if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
            s_why_set("object store %s: shard %u: get of object %s: %s", self->dir, shard,
                      s_hex(id, hex), mdb_strerror(rc));
        if (rc != MDB_NOTFOUND || shard == S_LARGE_SHARD)
            return rc;
        shard = S_LARGE_SHARD; /* a large object: see the top of the file */
    }
}

int pdc_store_get(pdc_store_t *self, const uint8_t id[PDC_ID_SIZE], const void **data, size_t *size,
                  pdc_type *type, pdc_store_pin_t **pin_p) {
    if (pin_p)
        *pin_p = NULL;
    if (!self || !id || !data || !pin_p) {
        s_why_set("object store: get: a NULL argument");
        return PDC_EINVAL;
    }
    pdc_store_pin_t *pin = NULL;
    MDB_val val;
    s_header_t hdr;
    s_parts_t parts = {0};
    int rc = s_find(self, id, &pin, &val, &hdr, &parts);
    int unsealed = rc == MDB_SUCCESS && hdr.state != S_STATE_SEALED;
    if (unsealed)
        rc = MDB_NOTFOUND; /* still being received: no pin was counted  */
    if (rc) {
        char hex[2 * PDC_ID_SIZE + 1];
        if (rc == MDB_NOTFOUND)
            s_why_set("object store %s: no object %s%s", self->dir, s_hex(id, hex),
                      unsealed ? " (being received, not yet sealed)" : "");
        return s_status(rc);
    }
    if (s_tracked(self, &val)) {
        /* Counted in the object too, for whoever chooses what to spill;
           the snapshot's pin keeps the pages where they are until then. */
        s_object_pin_t *op = malloc(sizeof(*op));
        if (!op) {
            s_parts_free(&parts);
            pdc_store_unpin(self, &pin);
            s_why_set("object store: get: out of memory");
            return PDC_ENOMEM;
        }
        op->kind = S_PIN_OBJECT;
        op->snapshot = pin;
        op->value = val.mv_data;
        op->view = NULL;
        __atomic_add_fetch(s_pins_of(val.mv_data), 1, __ATOMIC_RELAXED);
        __atomic_store_n(s_used_of(val.mv_data), s_now_ms(), __ATOMIC_RELAXED);
        pin = (pdc_store_pin_t *) op;
    }
    *data = (const char *) val.mv_data + hdr.offset;
    if (hdr.flags & S_FLAG_PARTS) {
        /* over 4 GiB: its parts mapped as one */
        s_object_pin_t *op = (s_object_pin_t *) pin;
        char *view_data = NULL;
        rc = s_view_map(self, op->snapshot->shard, &parts, 0, &op->view, &op->view_len, &view_data);
        s_parts_free(&parts);
        if (rc) {
            pdc_store_unpin(self, &pin);
            return rc;
        }
        *data = view_data;
    }
    if (size)
        *size = (size_t) hdr.size;
    if (type)
        *type = (pdc_type) hdr.type;
    *pin_p = pin;
    return PDC_OK;
}

const pdc_store_pin_t *pdc_store_pin_snapshot(const pdc_store_pin_t *pin) {
    if (pin && *(const uint32_t *) pin == S_PIN_OBJECT)
        return ((const s_object_pin_t *) pin)->snapshot;
    return pin;
}

void pdc_store_unpin(pdc_store_t *self, pdc_store_pin_t **pin_p) {
    if (!self || !pin_p || !*pin_p)
        return;
    pdc_store_pin_t *snap = *pin_p;
    *pin_p = NULL;
    if (*(const uint32_t *) snap == S_PIN_OBJECT) {
        s_object_pin_t *op = (s_object_pin_t *) snap;
        if (op->view)
            munmap(op->view, op->view_len);
        __atomic_sub_fetch(s_pins_of(op->value), 1, __ATOMIC_RELAXED);
        snap = op->snapshot;
        free(op);
    }
    if (snap->shard >= self->nshards)
        return; /* not a pin of this store                              */
    s_shard_t *sh = &self->shards[snap->shard];
    pthread_mutex_lock(&sh->snap_lock);
    if (snap->pins > 0 && --snap->pins == 0) {
        s_pinned_remove(sh, snap);
        s_snap_release(self, sh, snap);
    }
    pthread_mutex_unlock(&sh->snap_lock);
}

int pdc_store_contains(pdc_store_t *self, const uint8_t id[PDC_ID_SIZE]) {
    if (!self || !id) {
        s_why_set("object store: contains: a NULL argument");
        return PDC_EINVAL;
    }
    MDB_val val;
    s_header_t hdr;
    int rc = s_find(self, id, NULL, &val, &hdr, NULL);
    if (rc == MDB_SUCCESS && hdr.state != S_STATE_SEALED)
        rc = MDB_NOTFOUND; /* still being received                  */
    if (rc == MDB_NOTFOUND)
        return 0;
    return rc == MDB_SUCCESS ? 1 : s_status(rc);
}

/* End txn, a write transaction of shard that deleted objects whose
   values (header area + data) took freed bytes, the largest of them
   largest: take freed off the shard's used-bytes counter and commit.  A
   large object's pages are worth reusing at once: they are already
   faulted in, where fresh pages of the map cost a page fault each.  LMDB
   hands them out only after one more commit, so when the largest value
   is at least PDC_STORE_TOUCH_MIN that commit is made now (s_touch).
   txn is ended either way; an LMDB code. */
static int s_delete_finish(pdc_store_t *self, unsigned shard, MDB_txn *txn, uint64_t freed,
                           size_t largest) {
    MDB_dbi dbi = self->shards[shard].dbi;
    uint64_t used = 0;
    int rc = s_counter_get(txn, dbi, &used);
    if (rc == MDB_SUCCESS)
        rc = s_counter_put(txn, dbi, used > freed ? used - freed : 0);
    if (rc) {
        mdb_txn_abort(txn);
        return rc;
    }
    rc = mdb_txn_commit(txn);
    if (rc == MDB_SUCCESS && largest >= PDC_STORE_TOUCH_MIN)
        s_touch(self, shard);
    return rc;
}

/* Delete id from shard, sealed or not; unsealed_only: only an object
   still being received (a sealed one is PDC_ENOTFOUND).  When the calling
   thread holds shard's write lock (a reservation), a delete of an object
   there would wait on itself: PDC_EINVAL; one of an id that is not there
   writes nothing: PDC_ENOTFOUND. */
static int s_delete_in(pdc_store_t *self, unsigned shard, const uint8_t *id, int unsealed_only) {
    s_shard_t *sh = &self->shards[shard];
    if (s_holds(sh->env)) {
        int prc;
        if (s_present(self, shard, id, &prc))
            return PDC_EINVAL; /* would wait on our own reservation     */
        return prc ? s_status(prc) : PDC_ENOTFOUND;
    }
    MDB_txn *txn;
    int rc = mdb_txn_begin(sh->env, NULL, 0, &txn);
    if (rc)
        return s_status(rc);
    MDB_val key = {PDC_ID_SIZE, (void *) id}, val;
    rc = mdb_get(txn, sh->dbi, &key, &val);
    if (rc == MDB_SUCCESS && unsealed_only) {
        s_header_t hdr;
        if (s_header_read(&val, &hdr) != 0)
            rc = MDB_CORRUPTED;
        else if (hdr.state != S_STATE_UNSEALED)
            rc = MDB_NOTFOUND; /* sealed meanwhile: not ours to drop    */
    }
    uint64_t len = 0;
    if (rc == MDB_SUCCESS) {
        s_header_t hdr;
        len = val.mv_size;
        if (s_header_read(&val, &hdr) == 0 && (hdr.flags & S_FLAG_PARTS))
            rc = s_parts_delete(self, shard, txn, id, &val, &hdr, &len);
    }
    if (rc == MDB_SUCCESS)
        rc = mdb_del(txn, sh->dbi, &key, NULL); /* val is invalid after it */
    if (rc) {
        mdb_txn_abort(txn);
        return s_status(rc);
    }
    return s_status(s_delete_finish(self, shard, txn, len, (size_t) len));
}

/* Delete id wherever it is: its hashed shard, then the large shard.  The
   large shard is first looked at with a read transaction: its write lock
   is the one every large reserve holds while its bytes are written, so a
   delete of an id that is not there does not wait for that. */
static int s_delete(pdc_store_t *self, const uint8_t *id, int unsealed_only) {
    unsigned shard = s_shard_of(self, id);
    int rc = s_delete_in(self, shard, id, unsealed_only);
    if (rc != PDC_ENOTFOUND || shard == S_LARGE_SHARD)
        return rc;
    int lrc;
    if (!s_present(self, S_LARGE_SHARD, id, &lrc))
        return lrc ? s_status(lrc) : PDC_ENOTFOUND;
    return s_delete_in(self, S_LARGE_SHARD, id, unsealed_only);
}

int pdc_store_delete(pdc_store_t *self, const uint8_t id[PDC_ID_SIZE]) {
    int rc = pdc_store_delete_resident(self, id);
    /* not in memory: maybe spilled (see pdc_spill.c for the races) */
    if (rc == PDC_ENOTFOUND && self->spill_dir && pdc_spill_forget(self->spill_dir, id))
        rc = PDC_OK;
    return rc;
}

int pdc_store_delete_resident(pdc_store_t *self, const uint8_t *id) {
    if (!self || !id)
        return PDC_EINVAL;
    int rc = s_delete(self, id, 0);
    /* an object this process was receiving is gone: forget it */
    if (rc == PDC_OK || rc == PDC_ENOTFOUND)
        s_unsealed_free(s_unsealed_take(self, id));
    return rc;
}

const char *pdc_store_spill_dir(pdc_store_t *self) {
    return self ? self->spill_dir : NULL;
}

size_t pdc_store_value_bytes(size_t size) {
    /* over 4 GiB: as many parts as the data's page offset can make */
    return s_parted(size) ? s_parted_need(size, S_COPY_PAGE - S_ALIGN) : size + s_hdr_area(size);
}

int pdc_store_scan(pdc_store_t *self, pdc_store_scan_fn *fn, void *arg) {
    if (!self || !fn) {
        s_why_set("object store: scan: a NULL argument");
        return PDC_EINVAL;
    }
    for (unsigned shard = 0; shard < self->nshards; shard++) {
        s_shard_t *sh = &self->shards[shard];
        MDB_txn *txn = NULL;
        MDB_cursor *cur = NULL;
        int rc = mdb_txn_begin(sh->env, NULL, MDB_RDONLY, &txn);
        if (rc == MDB_SUCCESS)
            rc = mdb_cursor_open(txn, sh->dbi, &cur);
        MDB_val key, val;
        for (int op = MDB_FIRST; rc == MDB_SUCCESS; op = MDB_NEXT) {
            rc = mdb_cursor_get(cur, &key, &val, (MDB_cursor_op) op);
            s_header_t hdr;
            if (rc != MDB_SUCCESS || key.mv_size != PDC_ID_SIZE || s_header_read(&val, &hdr))
                continue;
            pdc_store_entry_t e = {
                .size = (size_t) hdr.size,
                .bytes = hdr.flags & S_FLAG_PARTS
                             ? s_parted_need(hdr.size, (uintptr_t) val.mv_data + hdr.offset)
                             : val.mv_size,
                .type = (pdc_type) hdr.type,
                .sealed = hdr.state == S_STATE_SEALED,
                .copy = (hdr.flags & S_FLAG_COPY) != 0,
                .tracked = s_tracked(self, &val)};
            memcpy(e.id, key.mv_data, PDC_ID_SIZE);
            if (e.tracked) {
                e.pins = __atomic_load_n(s_pins_of(val.mv_data), __ATOMIC_RELAXED);
                e.used_ms = __atomic_load_n(s_used_of(val.mv_data), __ATOMIC_RELAXED);
            }
            fn(&e, arg);
        }
        if (cur)
            mdb_cursor_close(cur);
        if (rc == MDB_NOTFOUND) {
            mdb_txn_abort(txn);
            continue;
        }
        if (txn && rc != MDB_SUCCESS)
            mdb_txn_abort(txn);
        s_why_set("object store %s: shard %u: scan: %s", self->dir, shard, mdb_strerror(rc));
        return s_status(rc);
    }
    return PDC_OK;
}

/* ------------------------------------------------------------------------
   Delete by prefix

   A job's objects have ids that start with a tag of the job, and when the
   job stops its node deletes them all: pdc_store_delete_prefix.  Keys sort
   bytewise (LMDB's default order: memcmp, then the shorter first), so in
   each shard the ids that start with a prefix are one run of keys,
   beginning at the first key not less than the prefix (MDB_SET_RANGE with
   the prefix itself).  Every shard is walked, shard 0 for the job's large
   objects included.  A shard is first looked at with a read (s_look_begin,
   as s_delete does for the large shard): a shard without an object of the
   prefix is not written at all, so the delete does not wait for its write
   lock (a large reservation being filled, say).  Then the run is deleted
   with a cursor, S_DELETE_BATCH objects a write transaction, each
   transaction ended by s_delete_finish as pdc_store_delete's is: the
   used-bytes counter down by what the values took, and the touch that
   makes a large object's pages reusable at once.  The one key that is not
   an id, the counter's 1-byte "\0", begins the run of the prefix "\0":
   it is stepped over.  A pin is a read transaction, so it keeps its bytes
   as for pdc_store_delete.  Last, the objects this process was receiving
   in the shard with the prefix are forgotten, as pdc_store_delete forgets
   the one it deletes.
   ------------------------------------------------------------------------ */

/* Move cur to the next object whose id starts with the len bytes of
   prefix: op MDB_SET_RANGE for the first of the run, MDB_NEXT for the one
   after (also right after mdb_cursor_del, which leaves the cursor where
   MDB_NEXT returns the key that followed the deleted one).  MDB_SUCCESS
   with *key and *val, MDB_NOTFOUND past the run, or an LMDB error. */
static int s_prefix_step(MDB_cursor *cur, MDB_cursor_op op, const uint8_t *prefix, size_t len,
                         MDB_val *key, MDB_val *val) {
    if (op == MDB_SET_RANGE)
        *key = (MDB_val){len, (void *) prefix};
    for (;; op = MDB_NEXT) {
        int rc = mdb_cursor_get(cur, key, val, op);
        if (rc)
            return rc;
        if (key->mv_size < len || memcmp(key->mv_data, prefix, len) != 0)
            return MDB_NOTFOUND;
        if (key->mv_size == PDC_ID_SIZE || key->mv_size == S_PART_KEYLEN)
            return MDB_SUCCESS; /* else the used-bytes counter: not an id */
    }
}

/* Whether shard holds an object, in any state, whose id starts with the
   len bytes of prefix: as s_present. */
static int s_prefix_present(pdc_store_t *self, unsigned shard, const uint8_t *prefix, size_t len,
                            int *rc_p) {
    pdc_store_pin_t *look;
    int rc = s_look_begin(self, shard, &look);
    if (rc == MDB_SUCCESS) {
        MDB_cursor *cur;
        MDB_val key, val;
        rc = mdb_cursor_open(look->txn, self->shards[shard].dbi, &cur);
        if (rc == MDB_SUCCESS) {
            rc = s_prefix_step(cur, MDB_SET_RANGE, prefix, len, &key, &val);
            mdb_cursor_close(cur);
        }
        if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
            s_why_set("object store %s: shard %u: cursor: %s", self->dir, shard, mdb_strerror(rc));
        s_look_end(self, shard, look);
    }
    *rc_p = rc == MDB_NOTFOUND ? MDB_SUCCESS : rc;
    return rc == MDB_SUCCESS;
}

/* Delete from shard every object whose id starts with the len bytes of
   prefix; adds to *deleted how many it deleted.  MDB_SUCCESS, or an error
   that s_why explains (the batches committed before it stay deleted).
   When the calling thread holds shard's write lock (a reservation) and
   the shard has such an object, the delete would wait on itself: EDEADLK,
   and nothing deleted. */
static int s_delete_prefix_in(pdc_store_t *self, unsigned shard, const uint8_t *prefix, size_t len,
                              long *deleted) {
    s_shard_t *sh = &self->shards[shard];
    int rc;
    if (!s_prefix_present(self, shard, prefix, len, &rc))
        return rc; /* none here: no write                                */
    if (s_holds(sh->env)) {
        s_why_set("object store %s: this thread holds an open reservation on shard %u, which "
                  "holds objects of the prefix to delete: commit or abort it first",
                  self->dir, shard);
        return EDEADLK;
    }
    /* a batch that deleted S_DELETE_BATCH objects may have left some */
    for (long batch = S_DELETE_BATCH; batch == S_DELETE_BATCH;) {
        MDB_txn *txn = NULL;
        MDB_cursor *cur = NULL;
        MDB_val key, val;
        uint64_t freed = 0;
        size_t largest = 0;
        int64_t parts = 0;
        rc = mdb_txn_begin(sh->env, NULL, 0, &txn);
        if (rc == MDB_SUCCESS)
            rc = mdb_cursor_open(txn, sh->dbi, &cur);
        batch = 0;
        for (MDB_cursor_op op = MDB_SET_RANGE; rc == MDB_SUCCESS && batch < S_DELETE_BATCH;
             op = MDB_NEXT) {
            rc = s_prefix_step(cur, op, prefix, len, &key, &val);
            if (rc != MDB_SUCCESS)
                break;
            size_t size = val.mv_size;               /* val is invalid after the delete  */
            int part = key.mv_size == S_PART_KEYLEN; /* of an object over 4 GiB */
            rc = mdb_cursor_del(cur, 0);
            if (rc == MDB_SUCCESS) {
                freed += size;
                largest = size > largest ? size : largest;
                batch += !part;
                parts += part;
            }
        }
        if (cur)
            mdb_cursor_close(cur);
        if ((rc == MDB_SUCCESS || rc == MDB_NOTFOUND) && parts) {
            rc = s_parts_count_add(txn, sh->dbi, -parts);
            if (rc != MDB_SUCCESS)
                mdb_txn_abort(txn);
        }
        if (rc == MDB_SUCCESS || rc == MDB_NOTFOUND)
            rc = s_delete_finish(self, shard, txn, freed, largest);
        else if (txn)
            mdb_txn_abort(txn);
        if (rc) {
            s_why_set("object store %s: shard %u: delete by prefix: %s", self->dir, shard,
                      mdb_strerror(rc));
            return rc;
        }
        *deleted += batch;
    }
    return MDB_SUCCESS;
}

long pdc_store_delete_prefix(pdc_store_t *self, const uint8_t *prefix, size_t len) {
    if (!self || !prefix || len == 0 || len > PDC_ID_SIZE) {
        if (!self || !prefix)
            s_why_set("object store: delete_prefix: a NULL argument");
        else
            s_why_set("object store: delete_prefix: a prefix of %zu bytes (1 to %d)", len,
                      PDC_ID_SIZE);
        return -1;
    }
    /* every shard, also after one fails: a stopped job's space is wanted
       back; the first failure is the one told */
    char why[S_WHY_LEN];
    int failed = 0;
    long total = 0;
    for (unsigned shard = 0; shard < self->nshards; shard++) {
        int rc = s_delete_prefix_in(self, shard, prefix, len, &total);
        if (rc == MDB_SUCCESS)
            s_unsealed_drop_prefix(self, shard, prefix, len);
        else if (!failed++)
            memcpy(why, s_why, sizeof(why));
    }
    if (self->spill_dir)
        total += pdc_spill_forget_prefix(self->spill_dir, prefix, len);
    if (failed) {
        memcpy(s_why, why, sizeof(s_why));
        return -1;
    }
    return total;
}

/* ------------------------------------------------------------------------
   Receiving in pieces

   An object sent by another node arrives in chunks at the network's pace,
   and the shard's write lock must not wait on the network: every other
   writer of the shard, in every process, would wait too.  So
   pdc_store_create_unsealed does the whole reserve (capacity, filesystem
   space, the used-bytes counter, the value placed with MDB_RESERVE) and
   commits at once, with the value's header saying S_STATE_UNSEALED; get
   and contains treat such a value as absent.  Where the chunks go then
   depends on where LMDB put the value.  A value larger than about half a
   page lives on overflow pages of its own, and with MDB_WRITEMAP those are
   the shared map itself: a later transaction copies (COWs) only the leaf
   and branch pages it changes, which hold the value's page number, never
   the overflow pages, which move or change only when the key is
   overwritten or deleted.  So the chunks are written straight into the
   committed value, and pdc_store_seal flips the state in place with a
   release store (s_state_load acquires), under a pin so that a concurrent
   delete cannot hand the pages to someone else in between.  A value in a
   leaf page moves whenever a later transaction touches that page, so a
   pointer to it is stale after the commit: its chunks are staged in a
   heap buffer instead, and seal puts the bytes over the placeholder in a
   short write transaction (same size: the counter does not change).  The
   cut is S_STAGE_MAX_PAGES LMDB pages of value (16 KiB with 4 KiB pages),
   well above LMDB's own (node over about half a page: overflow), so what
   is written in place is surely on overflow pages, and a staged seal holds
   the lock for a copy of at most 16 KiB.  Before the commit, the value's
   fresh pages (above the shard's high-water mark) are given their memory
   with fallocate: after the commit other writers no longer count this
   reservation, and a write into a tmpfs page that cannot be backed would
   raise SIGBUS in the receiver; pages below the mark are backed already.
   That is the one step whose time grows with the size (about 0.1 ms per
   MiB, none for reused pages).  The objects being received are listed in
   the pdc_store_t (s_unsealed_t) by id; seal and abort take the entry out
   first, so whichever comes first acts and the other finds nothing.
   ------------------------------------------------------------------------ */

/* Back the fresh pages of the value at [value, value + len) in shard's
   map, while the reservation is still published in the inflight slot. */
static int s_back_pages(pdc_store_t *self, unsigned shard, const void *value, size_t len,
                        const uint8_t *id, char *err, size_t errlen) {
    uint64_t off, bytes;
    mdb_filehandle_t fd;
    s_fresh_pages(self, shard, value, len, &off, &bytes);
    if (bytes == 0 || mdb_env_get_fd(self->shards[shard].env, &fd) != MDB_SUCCESS)
        return PDC_OK;
    int rc;
    do
        rc = fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t) off, (off_t) bytes);
    while (rc != 0 && errno == EINTR);
    if (rc == 0 || errno == EOPNOTSUPP || errno == ENOSYS)
        return PDC_OK; /* not tmpfs: s_check_fresh was the check        */
    int e = errno;
    char h1[32], hex[2 * PDC_ID_SIZE + 1];
    s_err(err, errlen,
          "object store%s: cannot allocate %s of memory in %s for object %s "
          "(fallocate: %s)",
          e == ENOSPC ? " full" : "", s_human(bytes, h1), self->dir, s_hex(id, hex), strerror(e));
    return e == ENOSPC || e == ENOMEM ? PDC_ESTOREFULL : PDC_EINVAL;
}

static int s_create_unsealed(pdc_store_t *self, const uint8_t *id, pdc_type type, size_t size,
                             uint32_t flags, int lazy, uintptr_t source_offset, void **data,
                             char *err, size_t errlen) {
    char hex[2 * PDC_ID_SIZE + 1];
    if (data)
        *data = NULL;
    if (!self || !id || !data) {
        s_err(err, errlen, "object store: create_unsealed: a NULL argument");
        return PDC_EINVAL;
    }
    unsigned shard = s_shard_for(self, id, size); /* as s_reserve's     */
    int staged = size <= S_STAGE_MAX_PAGES * self->shards[shard].psize - S_HDR_AREA;
    s_unsealed_t *u = calloc(1, sizeof(*u));
    if (u && staged && posix_memalign(&u->buf, S_ALIGN, size ? size : 1))
        u->buf = NULL;
    if (!u || (staged && !u->buf)) {
        s_unsealed_free(u);
        s_err(err, errlen, "object store: create_unsealed: out of memory");
        return PDC_ENOMEM;
    }
    void *value, *dst;
    pdc_store_reservation_t *res;
    int rc = s_reserve(self, id, type, size, S_STATE_UNSEALED, flags, source_offset, &value, &dst,
                       &res, err, errlen);
    if (rc == PDC_OK) {
        if (staged)
            memset(dst, 0, size); /* the placeholder: back its pages too */
        else if (lazy && size > PDC_STORE_BACK_EAGER_MAX)
            ; /* the writer backs each range first (pdc_store_back) */
        else if (!res->view)
            rc = s_back_pages(self, shard, value, size + s_hdr_area(size), id, err, errlen);
        else
            for (unsigned k = 0; rc == PDC_OK && k < res->parts.n; k++) /* over 4 GiB */
                rc = s_back_pages(self, shard, res->parts.data[k] - S_COPY_PAGE,
                                  res->parts.len[k] + S_COPY_PAGE, id, err, errlen);
        if (rc != PDC_OK)
            pdc_store_abort(self, &res);
    }
    if (rc == PDC_OK && !staged) {
        /* where its data lies in the map, for pdc_store_back; the
           writer's view of an object over 4 GiB lives until the seal */
        u->data = dst;
        u->view = res->view;
        u->view_len = res->view_len;
        u->parts = res->parts;
        res->view = NULL;
        res->parts = (s_parts_t){0};
    }
    if (rc == PDC_OK) {
        rc = pdc_store_commit(self, &res);
        if (rc != PDC_OK)
            s_err(err, errlen, "object store%s: commit of unsealed object %s failed (%s)",
                  rc == PDC_ESTOREFULL ? " full" : "", s_hex(id, hex),
                  rc == PDC_ESTOREFULL ? "no room for LMDB's pages" : "error");
    }
    if (rc != PDC_OK) {
        s_unsealed_free(u);
        return rc;
    }
    memcpy(u->id, id, PDC_ID_SIZE);
    u->shard = shard;
    u->type = type;
    u->size = size;
    u->flags = flags;
    u->value = staged ? NULL : value;
    /* an entry left for id is stale: its object was deleted elsewhere */
    s_unsealed_free(s_unsealed_take(self, id));
    s_unsealed_add(self, u);
    *data = staged ? u->buf : dst;
    return PDC_OK;
}

int pdc_store_create_unsealed(pdc_store_t *self, const uint8_t id[PDC_ID_SIZE], pdc_type type,
                              size_t size, void **data, char *err, size_t errlen) {
    int rc;
    for (int tries = 0;; tries++) {
        rc = s_create_unsealed(self, id, type, size, 0, 0, 0, data, err, errlen);
        if (!s_room_again(self, rc, size, tries, err, errlen))
            return rc;
    }
}

int pdc_store_create_copy(pdc_store_t *self, const uint8_t id[PDC_ID_SIZE], pdc_type type,
                          size_t size, void **data, char *err, size_t errlen) {
    int rc;
    for (int tries = 0;; tries++) {
        rc = s_create_unsealed(self, id, type, size, S_FLAG_COPY, 0, 0, data, err, errlen);
        if (!s_room_again(self, rc, size, tries, err, errlen))
            return rc;
    }
}

int pdc_store_create_receiving(pdc_store_t *self, const uint8_t id[PDC_ID_SIZE], pdc_type type,
                               size_t size, int copy, void **data, char *err, size_t errlen) {
    int rc;
    for (int tries = 0;; tries++) {
        rc = s_create_unsealed(self, id, type, size, copy ? S_FLAG_COPY : 0, 1, 0, data, err,
                               errlen);
        if (!s_room_again(self, rc, size, tries, err, errlen))
            return rc;
    }
}

int pdc_store_back(pdc_store_t *self, const uint8_t id[PDC_ID_SIZE], size_t offset, size_t len,
                   char *err, size_t errlen) {
    if (!self || !id)
        return PDC_EINVAL;
    pthread_mutex_lock(&self->unsealed_lock);
    s_unsealed_t *u = self->unsealed;
    while (u && memcmp(u->id, id, PDC_ID_SIZE))
        u = u->next;
    int rc = PDC_OK;
    if (!u)
        rc = PDC_ENOTFOUND;
    else if (offset > u->size || len > u->size - offset)
        rc = PDC_EINVAL;
    else if (u->buf || u->size <= PDC_STORE_BACK_EAGER_MAX || !len)
        ; /* staged, or backed at its creation */
    else if (!u->parts.n)
        rc = s_back_pages(self, u->shard, (char *) u->data + offset, len, id, err, errlen);
    else {
        /* over 4 GiB: the ranges of the parts [offset, offset + len) covers */
        uint64_t at = 0, end = (uint64_t) offset + len;
        for (unsigned k = 0; rc == PDC_OK && k < u->parts.n && at < end; k++) {
            uint64_t from = offset > at ? offset - at : 0, n = u->parts.len[k];
            if (offset < at + n)
                rc = s_back_pages(self, u->shard, u->parts.data[k] + from,
                                  (size_t) ((end < at + n ? end - at : n) - from), id, err, errlen);
            at += n;
        }
    }
    pthread_mutex_unlock(&self->unsealed_lock);
    if (rc == PDC_ENOTFOUND || rc == PDC_EINVAL)
        s_err(err, errlen, "object store: back: %s",
              rc == PDC_ENOTFOUND ? "no such object being received here"
                                  : "a range outside the object");
    return rc;
}

/* Seal an object written in place: flip its state in the map.  The read
   (a snapshot as current as a new read transaction, held under the
   shard's snap_lock meanwhile) keeps the pages from reuse and shows the
   value is still the one created (not deleted, by another process say). */
static int s_seal_in_place(pdc_store_t *self, s_unsealed_t *u) {
    pdc_store_pin_t *look;
    int rc = s_look_begin(self, u->shard, &look);
    if (rc)
        return s_status(rc);
    MDB_val key = {PDC_ID_SIZE, u->id}, val;
    s_header_t hdr;
    rc = mdb_get(look->txn, self->shards[u->shard].dbi, &key, &val);
    if (rc == MDB_SUCCESS && s_header_read(&val, &hdr) != 0)
        rc = MDB_CORRUPTED;
    if (rc == MDB_SUCCESS && (val.mv_data != u->value || hdr.state != S_STATE_UNSEALED))
        rc = MDB_NOTFOUND; /* deleted, maybe made again: not ours      */
    if (rc == MDB_SUCCESS)
        s_state_store(val.mv_data, S_STATE_SEALED);
    s_look_end(self, u->shard, look);
    return s_status(rc);
}

/* Seal a staged object: put its bytes over the placeholder. */
static int s_seal_staged(pdc_store_t *self, s_unsealed_t *u) {
    s_shard_t *sh = &self->shards[u->shard];
    if (s_holds(sh->env))
        return PDC_EINVAL; /* would wait on our own reservation         */
    MDB_txn *txn;
    int rc = mdb_txn_begin(sh->env, NULL, 0, &txn);
    if (rc)
        return s_status(rc);
    MDB_val key = {PDC_ID_SIZE, u->id}, val;
    s_header_t hdr;
    rc = mdb_get(txn, sh->dbi, &key, &val);
    if (rc == MDB_SUCCESS && s_header_read(&val, &hdr) != 0)
        rc = MDB_CORRUPTED;
    if (rc == MDB_SUCCESS && (hdr.state != S_STATE_UNSEALED || hdr.size != u->size))
        rc = MDB_NOTFOUND; /* deleted, maybe made again: not ours      */
    if (rc == MDB_SUCCESS) {
        val.mv_size = u->size + s_hdr_area(u->size); /* as before: same counter */
        val.mv_data = NULL;
        rc = mdb_put(txn, sh->dbi, &key, &val, MDB_RESERVE);
    }
    if (rc) {
        mdb_txn_abort(txn);
        return s_status(rc);
    }
    hdr = (s_header_t){.magic = S_MAGIC,
                       .type = (uint16_t) u->type,
                       .offset = s_data_offset(val.mv_data, u->size, 0),
                       .size = u->size,
                       .flags = u->flags,
                       .state = S_STATE_SEALED,
                       .used_ms = s_now_ms()};
    memcpy(val.mv_data, &hdr, S_HDR_SIZE);
    if (u->size)
        memcpy((char *) val.mv_data + hdr.offset, u->buf, u->size);
    return s_status(mdb_txn_commit(txn));
}

int pdc_store_seal(pdc_store_t *self, const uint8_t id[PDC_ID_SIZE]) {
    if (!self || !id)
        return PDC_EINVAL;
    s_unsealed_t *u = s_unsealed_take(self, id);
    if (!u)
        return PDC_ENOTFOUND;
    int rc = u->value ? s_seal_in_place(self, u) : s_seal_staged(self, u);
    if (rc != PDC_OK && rc != PDC_ENOTFOUND) {
        s_unsealed_add(self, u); /* still open: seal again or abort     */
        return rc;
    }
    s_unsealed_free(u);
    return rc;
}

int pdc_store_abort_unsealed(pdc_store_t *self, const uint8_t id[PDC_ID_SIZE]) {
    if (!self || !id)
        return PDC_EINVAL;
    s_unsealed_t *u = s_unsealed_take(self, id);
    if (!u)
        return PDC_ENOTFOUND;
    int rc = s_delete_in(self, u->shard, id, 1);
    if (rc != PDC_OK && rc != PDC_ENOTFOUND) {
        s_unsealed_add(self, u); /* still open: abort again             */
        return rc;
    }
    s_unsealed_free(u);
    return rc;
}

/* ------------------------------------------------------------------------
   Usage and upkeep
   ------------------------------------------------------------------------ */

int pdc_store_usage(pdc_store_t *self, pdc_store_usage_t *usage) {
    if (!self || !usage) {
        s_why_set("object store: usage: a NULL argument");
        return PDC_EINVAL;
    }
    pdc_store_usage_t u = {0, self->capacity, 0, 0};
    uint64_t inflight, fresh;
    s_inflight_others(self, self->nshards, 1, &inflight, &fresh);
    u.reserving = (size_t) inflight;
    for (unsigned i = 0; i < self->nshards; i++) {
        uint64_t used;
        size_t objects;
        int rc = s_shard_usage(self, i, &used, &objects);
        if (rc)
            return s_status(rc);
        u.used += (size_t) used;
        u.objects += objects;
    }
    *usage = u;
    return PDC_OK;
}

int pdc_store_check_readers(pdc_store_t *self) {
    if (!self)
        return PDC_EINVAL;
    int total = 0;
    for (unsigned i = 0; i < self->nshards; i++) {
        int dead = 0;
        if (mdb_reader_check(self->shards[i].env, &dead) == MDB_SUCCESS)
            total += dead;
    }
    return total;
}

const char *pdc_store_dir(pdc_store_t *self) {
    return self ? self->dir : NULL;
}
