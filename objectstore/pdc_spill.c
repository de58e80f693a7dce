/*  pdc_spill: a node's objects beyond its memory, in files on disk.

    When a write would take the store over capacity, the writing process
    itself makes room (pdc_spill_make_room, called by pdc_store.c before
    it refuses): it scans the store (pdc_store_scan), evicts copies of
    objects other nodes hold (deleted: a reader pulls them again), then
    spills primary copies, least recently used first, and only objects
    no process holds a pin on, until the write fits and a sixteenth of the
    capacity more (so that a run of puts does not spill once each).

    The spill directory holds, for object ID (32 hex digits):

        ID            a spilled object: a 64-byte header (magic, type,
                      size) and its bytes
        ID.tmp        being written by a spiller (O_EXCL: one at a time)
        ID.restoring  being read back by a restorer (renamed from ID)

    There is no other index, so every process of the node sees the same
    thing, and each step is one rename or unlink.  Spilling ID: create
    ID.tmp, write it from a pin of the object, rename it to ID, then
    delete the object from memory (pdc_store_delete_resident).  If the
    object is gone by then (its owner freed it), the file is removed
    again.  The owner's free works either way round: pdc_store_delete
    deletes from memory, and when the object is not there removes ID
    (pdc_spill_forget).

    Restoring ID (pdc_store_restore, on a get that misses): rename ID to
    ID.restoring (only one restorer wins), create the object unsealed in
    the store (which may spill others to make room), read the bytes into
    it, seal it and remove ID.restoring.  A failed restore renames the
    file back.  A reader that finds neither the object nor ID but
    ID.restoring waits for the restorer (S_RESTORE_WAIT_MS, then takes
    the file over: its restorer died).  A free during a restore removes
    ID.restoring, and the restorer then deletes what it restored.

    Another node pulling a spilled object reads it from the file
    (pdc_store_spilled_read) without bringing it back.

    Files are written and read back with O_DIRECT (where the filesystem
    has it), through an aligned bounce buffer: spilling is for memory,
    and a spilled object kept in the page cache would still take it.
    The bytes start at the file's second 4 KiB block, and the last block
    is padded.  No fsync: a spilled object lives no longer than its
    node's store, which a crash loses anyway. */
#include "pdc_spill.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

/* The header takes the file's first block: the bytes after it stay
   aligned for O_DIRECT. */
#define S_HEADER_BYTES 4096
/* O_DIRECT transfers go through an aligned bounce buffer this large. */
#define S_BOUNCE_BYTES ((size_t) 8 << 20)
#define S_BLOCK        ((size_t) 4096)
#define S_MAGIC        "PDCSPIL1"
/* How long a reader waits for another process's restore of an object
   before it takes the file over (that restorer died). */
#define S_RESTORE_WAIT_MS 10000
/* Room made beyond a write's own: a sixteenth of the capacity. */
#define S_SLACK_DIVISOR 16
/* s_spill_one: another process spills the object now. */
#define S_BUSY (-1000)
/* How long make_room waits for the spills of other processes, when it
   found its picks being spilled by them: S_BUSY_WAITS x S_BUSY_WAIT_US. */
#define S_BUSY_WAITS   500
#define S_BUSY_WAIT_US 10000
/* Reads and writes of a file, at most this many bytes a call. */
#define S_IO_BYTES ((size_t) 64 << 20)

typedef struct {
    char magic[8];
    uint32_t type;
    uint32_t spare;
    uint64_t size;
    char pad[S_HEADER_BYTES - 24];
} s_file_header_t;
_Static_assert(sizeof(s_file_header_t) == S_HEADER_BYTES, "the file header is one block");

/* ---- Names -------------------------------------------------------------- */

static void s_hex(const uint8_t *id, size_t len, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[id[i] >> 4];
        out[2 * i + 1] = digits[id[i] & 15];
    }
    out[2 * len] = '\0';
}

/* dir/ID plus suffix; -1 if it does not fit. */
static int s_path(char *out, size_t len, const char *dir, const uint8_t *id, const char *suffix) {
    char hex[2 * PDC_ID_SIZE + 1];
    s_hex(id, PDC_ID_SIZE, hex);
    int n = snprintf(out, len, "%s/%s%s", dir, hex, suffix);
    return n < 0 || (size_t) n >= len ? -1 : 0;
}

static const char *s_human(uint64_t bytes, char *out, size_t len) {
    if (bytes >= (uint64_t) 1 << 30)
        snprintf(out, len, "%.2f GiB", (double) bytes / (double) (1u << 30));
    else if (bytes >= (uint64_t) 1 << 20)
        snprintf(out, len, "%.1f MiB", (double) bytes / (double) (1u << 20));
    else
        snprintf(out, len, "%llu bytes", (unsigned long long) bytes);
    return out;
}

static uint64_t s_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* ---- Whole reads and writes --------------------------------------------- */

static int s_write_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len < S_IO_BYTES ? len : S_IO_BYTES);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t) n;
    }
    return 0;
}

static int s_pread_all(int fd, void *buf, size_t len, off_t at) {
    char *p = buf;
    while (len) {
        ssize_t n = pread(fd, p, len < S_IO_BYTES ? len : S_IO_BYTES, at);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO; /* shorter than its header says */
            return -1;
        }
        p += n;
        at += n;
        len -= (size_t) n;
    }
    return 0;
}

/* An aligned buffer for O_DIRECT, or NULL. */
static void *s_bounce(void) {
    void *p;
    return posix_memalign(&p, S_BLOCK, S_BOUNCE_BYTES) ? NULL : p;
}

/* Write h and the object's size bytes at data to the new file fd: with
   O_DIRECT through a bounce buffer where the filesystem allows it (the
   last block padded), else plainly.  0 or -1 (errno). */
static int s_write_file(int fd, const s_file_header_t *h, const void *data, size_t size) {
    int flags = fcntl(fd, F_GETFL);
    void *bounce = flags >= 0 && fcntl(fd, F_SETFL, flags | O_DIRECT) == 0 ? s_bounce() : NULL;
    if (!bounce) {
        if (flags >= 0)
            fcntl(fd, F_SETFL, flags); /* no O_DIRECT here (tmpfs) */
        return s_write_all(fd, h, sizeof *h) || s_write_all(fd, data, size) ? -1 : 0;
    }
    memcpy(bounce, h, sizeof *h);
    int rc = s_write_all(fd, bounce, sizeof *h);
    for (size_t done = 0; rc == 0 && done < size;) {
        size_t n = size - done < S_BOUNCE_BYTES ? size - done : S_BOUNCE_BYTES;
        size_t padded = (n + S_BLOCK - 1) & ~(S_BLOCK - 1);
        memcpy(bounce, (const char *) data + done, n);
        memset((char *) bounce + n, 0, padded - n);
        rc = s_write_all(fd, bounce, padded);
        done += n;
    }
    free(bounce);
    return rc;
}

/* Read size bytes of object data from the file fd into data, with
   O_DIRECT through a bounce buffer where the filesystem allows it.  0 or
   -1 (errno). */
static int s_read_file(int fd, void *data, size_t size) {
    int flags = fcntl(fd, F_GETFL);
    void *bounce = flags >= 0 && fcntl(fd, F_SETFL, flags | O_DIRECT) == 0 ? s_bounce() : NULL;
    if (!bounce) {
        if (flags >= 0)
            fcntl(fd, F_SETFL, flags);
        return s_pread_all(fd, data, size, S_HEADER_BYTES);
    }
    int rc = 0;
    for (size_t done = 0; rc == 0 && done < size;) {
        size_t n = size - done < S_BOUNCE_BYTES ? size - done : S_BOUNCE_BYTES;
        size_t padded = (n + S_BLOCK - 1) & ~(S_BLOCK - 1);
        rc = s_pread_all(fd, bounce, padded, (off_t) (S_HEADER_BYTES + done));
        if (rc == 0)
            memcpy((char *) data + done, bounce, n);
        done += n;
    }
    free(bounce);
    return rc;
}

static int s_read_header(int fd, s_file_header_t *h) {
    if (s_pread_all(fd, h, sizeof *h, 0))
        return -1;
    if (memcmp(h->magic, S_MAGIC, sizeof h->magic)) {
        errno = EPROTO;
        return -1;
    }
    return 0;
}

/* ---- Spilling ----------------------------------------------------------- */

/* Write object id to the spill directory and delete it from memory.
   PDC_OK: its bytes are freed; S_BUSY: another process spills it; another
   code: it stays (freed meanwhile, or a failed write, with why). */
static int s_spill_one(pdc_store_t *store, const char *dir, const uint8_t *id, char *why,
                       size_t len) {
    char tmp[PATH_MAX], final[PATH_MAX];
    if (s_path(tmp, sizeof tmp, dir, id, ".tmp") || s_path(final, sizeof final, dir, id, "")) {
        snprintf(why, len, "spill directory %s: path too long", dir);
        return PDC_EINVAL;
    }
    const void *data;
    size_t size;
    pdc_type type;
    pdc_store_pin_t *pin;
    int rc = pdc_store_get(store, id, &data, &size, &type, &pin);
    if (rc != PDC_OK)
        return rc; /* gone meanwhile */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        int e = errno;
        pdc_store_unpin(store, &pin);
        if (e == EEXIST)
            return S_BUSY; /* another process spills it now */
        snprintf(why, len, "cannot create %s: %s", tmp, strerror(e));
        return PDC_ESTOREFULL;
    }
    s_file_header_t h = {.type = (uint32_t) type, .size = size};
    memcpy(h.magic, S_MAGIC, sizeof h.magic);
    int bad = s_write_file(fd, &h, data, size);
    int e = errno;
    bad |= close(fd) != 0;
    pdc_store_unpin(store, &pin);
    if (bad || rename(tmp, final) != 0) {
        if (!bad)
            e = errno;
        unlink(tmp);
        snprintf(why, len, "cannot write %s: %s", final, strerror(e));
        return PDC_ESTOREFULL;
    }
    rc = pdc_store_delete_resident(store, id);
    if (rc != PDC_OK) {
        unlink(final); /* freed meanwhile (or in a shard this thread writes) */
        return rc;
    }
    return PDC_OK;
}

/* What a scan found: the candidates, and where the rest of the space is. */
typedef struct {
    pdc_store_entry_t *list;
    size_t n, cap;
    uint64_t pinned, pinned_objects, unsealed, small, primary;
    int failed;
} s_scan_t;

static void s_collect(const pdc_store_entry_t *e, void *arg) {
    s_scan_t *s = arg;
    if (!e->sealed) {
        s->unsealed += e->bytes;
        return;
    }
    if (!e->tracked) {
        s->small += e->bytes;
        return;
    }
    if (e->pins) {
        s->pinned += e->bytes;
        s->pinned_objects++;
        return;
    }
    if (!e->copy)
        s->primary += e->bytes;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 256;
        pdc_store_entry_t *grown = realloc(s->list, cap * sizeof *grown);
        if (!grown) {
            s->failed = 1;
            return;
        }
        s->list = grown;
        s->cap = cap;
    }
    s->list[s->n++] = *e;
}

/* Copies first, then the least recently used. */
static int s_victim_order(const void *a, const void *b) {
    const pdc_store_entry_t *x = a, *y = b;
    if (x->copy != y->copy)
        return x->copy ? -1 : 1;
    return x->used_ms < y->used_ms ? -1 : x->used_ms > y->used_ms;
}

/* The spill directory's objects and bytes, and its filesystem's room. */
static void s_dir_usage(const char *dir, uint64_t *objects, uint64_t *bytes, uint64_t *free_bytes) {
    *objects = *bytes = *free_bytes = 0;
    struct statvfs vfs;
    if (statvfs(dir, &vfs) == 0)
        *free_bytes = (uint64_t) vfs.f_bavail * vfs.f_frsize;
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        struct stat st;
        if (e->d_name[0] == '.' || fstatat(dirfd(d), e->d_name, &st, 0) || !S_ISREG(st.st_mode))
            continue;
        (*objects)++;
        *bytes += (uint64_t) st.st_size;
    }
    closedir(d);
}

int pdc_store_spill(pdc_store_t *store, size_t bytes, char *err, size_t errlen) {
    if (!store || !pdc_store_spill_dir(store)) {
        snprintf(err, errlen, "object store: no spill directory");
        return PDC_EINVAL;
    }
    return pdc_spill_make_room(store, bytes, err, errlen);
}

void pdc_store_spill_usage(pdc_store_t *store, uint64_t *objects, uint64_t *bytes) {
    const char *dir = pdc_store_spill_dir(store);
    uint64_t free_bytes;
    *objects = *bytes = 0;
    if (dir)
        s_dir_usage(dir, objects, bytes, &free_bytes);
}

int pdc_spill_make_room(pdc_store_t *store, size_t need, char *err, size_t errlen) {
    const char *dir = pdc_store_spill_dir(store);
    pdc_store_usage_t u;
    if (!dir || pdc_store_usage(store, &u) != PDC_OK)
        return PDC_ESTOREFULL;
    size_t slack = u.capacity / S_SLACK_DIVISOR;
    size_t target = need + slack > u.capacity ? need : need + slack;
    s_scan_t s = {0};
    int rc = pdc_store_scan(store, s_collect, &s);
    if (rc != PDC_OK || s.failed) {
        free(s.list);
        snprintf(err, errlen, "object store full, and spilling could not look at it: %s",
                 s.failed ? "out of memory" : pdc_store_last_error());
        return PDC_ESTOREFULL;
    }
    if (s.n)
        qsort(s.list, s.n, sizeof *s.list, s_victim_order);
    /* others' reservations in flight take room too */
    size_t taken = u.used + u.reserving;
    size_t free_now = taken < u.capacity ? u.capacity - taken : 0;
    char why[PATH_MAX + 64] = "";
    uint64_t spilled = 0, evicted = 0, busy = 0;
    for (size_t i = 0; i < s.n && free_now < target; i++) {
        const pdc_store_entry_t *e = &s.list[i];
        int done = e->copy ? pdc_store_delete_resident(store, e->id)
                           : s_spill_one(store, dir, e->id, why, sizeof why);
        if (done == S_BUSY) {
            busy++; /* another process spills it: its room comes too */
            free_now += e->bytes;
            continue;
        }
        if (done != PDC_OK)
            continue;
        free_now += e->bytes;
        if (e->copy) {
            evicted++;
        } else {
            spilled++;
            s.primary -= e->bytes;
        }
    }
    free(s.list);
    /* Others spilling what this process picked too finish on their own
       time: wait for the room they make, a while. */
    for (int waits = 0;; waits++) {
        if (pdc_store_usage(store, &u) == PDC_OK && u.used + u.reserving <= u.capacity &&
            u.capacity - u.used - u.reserving >= need)
            return PDC_OK;
        if (!busy || waits == S_BUSY_WAITS)
            break;
        usleep(S_BUSY_WAIT_US);
    }
    uint64_t files, file_bytes, disk_free;
    s_dir_usage(dir, &files, &file_bytes, &disk_free);
    char h[8][32];
    snprintf(err, errlen,
             "object store full: %s used of %s (and %s being reserved by other writers), %s "
             "wanted; spilling %s%s could not make room "
             "(spilled %llu and evicted %llu objects now): %s pinned by readers (%llu objects), "
             "%s being received, %s primary copies left, %s in objects too small to spill; "
             "spill directory %s holds %llu objects (%s), %s free on its filesystem",
             s_human(u.used, h[0], sizeof h[0]), s_human(u.capacity, h[1], sizeof h[1]),
             s_human(u.reserving, h[7], sizeof h[7]), s_human(need, h[2], sizeof h[2]),
             *why ? "failed: " : "", why, (unsigned long long) spilled,
             (unsigned long long) evicted, s_human(s.pinned, h[3], sizeof h[3]),
             (unsigned long long) s.pinned_objects, s_human(s.unsealed, h[4], sizeof h[4]),
             s_human(s.primary, h[5], sizeof h[5]), s_human(s.small, h[6], sizeof h[6]), dir,
             (unsigned long long) files, s_human(file_bytes, h[0], sizeof h[0]),
             s_human(disk_free, h[1], sizeof h[1]));
    return PDC_ESTOREFULL;
}

/* ---- Restoring ---------------------------------------------------------- */

/* Read the file at path (renamed to ID.restoring by this process) back
   into the store as id.  PDC_OK or a code with err. */
static int s_restore_file(pdc_store_t *store, const uint8_t *id, const char *path, char *err,
                          size_t errlen) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    s_file_header_t h;
    if (fd < 0 || s_read_header(fd, &h)) {
        snprintf(err, errlen, "spilled object file %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return PDC_EPROTO;
    }
    void *data;
    int rc = pdc_store_create_unsealed(store, id, (pdc_type) h.type, (size_t) h.size, &data, err,
                                       errlen);
    if (rc == PDC_OK && s_read_file(fd, data, (size_t) h.size)) {
        snprintf(err, errlen, "spilled object file %s: %s", path, strerror(errno));
        pdc_store_abort_unsealed(store, id);
        rc = PDC_EPROTO;
    }
    close(fd);
    if (rc == PDC_OK && (rc = pdc_store_seal(store, id)) != PDC_OK) {
        snprintf(err, errlen, "cannot seal the object restored from %s", path);
        pdc_store_abort_unsealed(store, id);
    }
    return rc;
}

int pdc_store_restore(pdc_store_t *store, const uint8_t id[PDC_ID_SIZE], char *err, size_t errlen) {
    const char *dir = pdc_store_spill_dir(store);
    char final[PATH_MAX], restoring[PATH_MAX];
    if (!store || !id)
        return PDC_EINVAL;
    if (!dir || s_path(final, sizeof final, dir, id, "") ||
        s_path(restoring, sizeof restoring, dir, id, ".restoring")) {
        int here = pdc_store_contains(store, id);
        return here == 1 ? PDC_OK : here == 0 ? PDC_ENOTFOUND : here;
    }
    uint64_t deadline = s_now_ms() + S_RESTORE_WAIT_MS;
    for (;;) {
        int here = pdc_store_contains(store, id);
        if (here != 0)
            return here == 1 ? PDC_OK : here;
        if (rename(final, restoring) == 0) {
            int rc = s_restore_file(store, id, restoring, err, errlen);
            if (rc != PDC_OK) {
                rename(restoring, final); /* for a later try */
                return rc;
            }
            if (unlink(restoring) != 0) /* freed while it was read back */
                pdc_store_delete_resident(store, id);
            return PDC_OK;
        }
        if (access(restoring, F_OK) != 0) {
            here = pdc_store_contains(store, id); /* restored meanwhile? */
            return here == 1 ? PDC_OK : here == 0 ? PDC_ENOTFOUND : here;
        }
        if (s_now_ms() > deadline) {
            rename(restoring, final); /* its restorer is gone: take it over */
            deadline = s_now_ms() + S_RESTORE_WAIT_MS;
            continue;
        }
        usleep(1000); /* another process reads it back */
    }
}

long pdc_store_spilled_read(pdc_store_t *store, const uint8_t id[PDC_ID_SIZE], size_t offset,
                            void *buf, size_t len, pdc_type *type, size_t *total) {
    const char *dir = pdc_store_spill_dir(store);
    char path[PATH_MAX];
    if (!dir || !id || s_path(path, sizeof path, dir, id, ""))
        return -PDC_ENOTFOUND;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && !s_path(path, sizeof path, dir, id, ".restoring"))
        fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? -PDC_ENOTFOUND : -PDC_EPROTO;
    s_file_header_t h;
    long rc = -PDC_EPROTO;
    if (s_read_header(fd, &h) == 0) {
        size_t n = offset >= h.size ? 0 : h.size - offset < len ? (size_t) (h.size - offset) : len;
        if (s_pread_all(fd, buf, n, (off_t) (S_HEADER_BYTES + offset)) == 0) {
            rc = (long) n;
            if (type)
                *type = (pdc_type) h.type;
            if (total)
                *total = (size_t) h.size;
        }
    }
    close(fd);
    return rc;
}

/* ---- Forgetting --------------------------------------------------------- */

int pdc_spill_forget(const char *dir, const uint8_t *id) {
    char path[PATH_MAX];
    int removed = 0;
    if (!s_path(path, sizeof path, dir, id, ""))
        removed |= unlink(path) == 0;
    if (!s_path(path, sizeof path, dir, id, ".restoring"))
        removed |= unlink(path) == 0;
    return removed;
}

long pdc_spill_forget_prefix(const char *dir, const uint8_t *prefix, size_t len) {
    char hex[2 * PDC_ID_SIZE + 1];
    s_hex(prefix, len, hex);
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    long removed = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, hex, 2 * len) && !strstr(e->d_name, ".tmp") &&
            unlinkat(dirfd(d), e->d_name, 0) == 0)
            removed++; /* ID and ID.restoring; not ID.tmp (a spiller's) */
    closedir(d);
    return removed;
}

int pdc_spill_remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && unlinkat(dirfd(d), e->d_name, 0))
            rc = -1;
    closedir(d);
    return rmdir(dir) == 0 ? rc : -1;
}
