/*  pdc_head_db: the head's tables in one LMDB environment (see the header).

    Each table is an LMDB named database, made on its first put.  Every
    put or delete is its own write transaction, committed before it
    returns: the head's tables change on a registration, a name, a code
    upload or a job's step, a few times a second at most, so a commit per
    change costs little and leaves nothing acknowledged in memory only.
    Without head_db_sync the environment is opened MDB_NOSYNC: a commit is
    still written (pwrite) before it returns, so it survives the process,
    but not the machine.

    The table "meta" holds the format of the rows ("format" -> (u)); a
    directory written by a head of another format is refused at open,
    rather than read as garbage. */
#include "pdc_head_db.h"

#include "pdc_log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* The rows' format; a change of any table's schema bumps it. */
#define S_FORMAT 1
/* Named tables an environment may hold. */
#define S_MAX_TABLES 32
/* The table "meta": name -> (value). */
enum { S_META_VALUE };

struct pdc_head_db {
    MDB_env *env;
    int lock_fd;
    char dir[PATH_MAX];
    char error[512];
};

static int s_fail(pdc_head_db_t *self, const char *what, const char *table, int rc) {
    snprintf(self->error, sizeof self->error, "the head's database %s: %s table '%s': %s",
             self->dir, what, table, mdb_strerror(rc));
    if (rc == MDB_MAP_FULL)
        snprintf(self->error + strlen(self->error), sizeof self->error - strlen(self->error),
                 " (raise head_db_size)");
    return -1;
}

void pdc_head_db_row(pdc_enc_t *enc) {
    msgpack_sbuffer_clear(&enc->buf);
}

/* One change in its own transaction: put (row) or delete (row NULL). */
static int s_change(pdc_head_db_t *self, const char *table, const void *key, size_t key_len,
                    const pdc_enc_t *row) {
    if (!self)
        return 0;
    self->error[0] = '\0';
    MDB_txn *txn;
    MDB_dbi dbi;
    int rc = mdb_txn_begin(self->env, NULL, 0, &txn);
    if (rc)
        return s_fail(self, "cannot begin a change of", table, rc);
    rc = mdb_dbi_open(txn, table, MDB_CREATE, &dbi);
    MDB_val k = {key_len, (void *) key};
    if (!rc && row) {
        MDB_val v = {row->buf.size, row->buf.data};
        rc = mdb_put(txn, dbi, &k, &v, 0);
    } else if (!rc) {
        rc = mdb_del(txn, dbi, &k, NULL);
        if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    if (rc) {
        mdb_txn_abort(txn);
        return s_fail(self, row ? "cannot write a row of" : "cannot delete a row of", table, rc);
    }
    rc = mdb_txn_commit(txn);
    return rc ? s_fail(self, "cannot commit a change of", table, rc) : 0;
}

int pdc_head_db_put(pdc_head_db_t *self, const char *table, const void *key, size_t key_len,
                    const pdc_enc_t *row) {
    return s_change(self, table, key, key_len, row);
}

int pdc_head_db_delete(pdc_head_db_t *self, const char *table, const void *key, size_t key_len) {
    return s_change(self, table, key, key_len, NULL);
}

/* A key for a log line: printable as it is, else its first bytes in hex. */
static const char *s_key_text(const MDB_val *k, char *out, size_t len) {
    const unsigned char *p = k->mv_data;
    int printable = k->mv_size > 0;
    for (size_t i = 0; i < k->mv_size && printable; i++)
        printable = (p[i] >= 0x20 && p[i] < 0x7f) || (p[i] == 0 && i + 1 < k->mv_size);
    size_t at = 0;
    out[0] = '\0';
    for (size_t i = 0; i < k->mv_size && at + 3 < len; i++)
        at += (size_t) snprintf(out + at, len - at, printable ? "%c" : "%02x",
                                printable ? (p[i] ? p[i] : '/') : p[i]);
    return out;
}

int pdc_head_db_each(pdc_head_db_t *self, const char *table, const char *schema,
                     pdc_head_db_row_fn fn, void *arg) {
    if (!self)
        return 0;
    self->error[0] = '\0';
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_cursor *cur;
    int rc = mdb_txn_begin(self->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return s_fail(self, "cannot read", table, rc);
    rc = mdb_dbi_open(txn, table, 0, &dbi);
    if (rc == MDB_NOTFOUND) { /* never written: no rows */
        mdb_txn_abort(txn);
        return 0;
    }
    if (rc || (rc = mdb_cursor_open(txn, dbi, &cur))) {
        mdb_txn_abort(txn);
        return s_fail(self, "cannot read", table, rc);
    }
    int rows = 0;
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        char err[256], key[160];
        if (pdc_proto_check(v.mv_data, v.mv_size, schema, err, sizeof err)) {
            pdc_warn("the head's database %s: skipped row '%s' of table '%s': %s", self->dir,
                     s_key_text(&k, key, sizeof key), table, err);
            continue;
        }
        msgpack_unpacked row;
        msgpack_unpacked_init(&row);
        size_t off = 0;
        if (msgpack_unpack_next(&row, v.mv_data, v.mv_size, &off) == MSGPACK_UNPACK_SUCCESS &&
            row.data.type == MSGPACK_OBJECT_ARRAY) {
            fn(arg, k.mv_data, k.mv_size, row.data.via.array.ptr, row.data.via.array.size);
            rows++;
        }
        msgpack_unpacked_destroy(&row);
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return rows;
}

static void s_read_format(void *arg, const void *key, size_t key_len, const msgpack_object *fields,
                          uint32_t count) {
    (void) key;
    (void) key_len;
    (void) count;
    *(uint64_t *) arg = pdc_f_u(&fields[S_META_VALUE]);
}

pdc_head_db_t *pdc_head_db_open(const char *dir, const pdc_config_t *cfg, char *why, size_t len) {
    pdc_head_db_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(why, len, "out of memory opening the head's database");
        return NULL;
    }
    self->lock_fd = -1;
    snprintf(self->dir, sizeof self->dir, "%s", dir);
    char lock[PATH_MAX + 16];
    snprintf(lock, sizeof lock, "%s/head.lock", dir);
    int rc;
    if (mkdir(dir, 0700) && errno != EEXIST) {
        snprintf(why, len, "cannot create the head's database directory %s: %s", dir,
                 strerror(errno));
        goto fail;
    }
    self->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (self->lock_fd < 0 || flock(self->lock_fd, LOCK_EX | LOCK_NB)) {
        snprintf(why, len, "the head's database %s: %s", dir,
                 self->lock_fd < 0 ? strerror(errno)
                 : errno == EWOULDBLOCK
                     ? "another head uses it (stop that one first, or give another directory)"
                     : strerror(errno));
        goto fail;
    }
    unsigned flags = MDB_NOTLS | (cfg->head_db_sync ? 0 : MDB_NOSYNC);
    if ((rc = mdb_env_create(&self->env)) || (rc = mdb_env_set_maxdbs(self->env, S_MAX_TABLES)) ||
        (rc = mdb_env_set_mapsize(self->env, (size_t) cfg->head_db_size)) ||
        (rc = mdb_env_open(self->env, dir, flags, 0600))) {
        snprintf(why, len, "cannot open the head's database %s: %s", dir, mdb_strerror(rc));
        goto fail;
    }
    uint64_t format = 0;
    if (pdc_head_db_each(self, "meta", "(u)", s_read_format, &format) < 0) {
        snprintf(why, len, "%s", self->error);
        goto fail;
    }
    if (format && format != S_FORMAT) {
        snprintf(why, len,
                 "the head's database %s holds rows of format %llu, and this head reads "
                 "format %d: start it on another directory",
                 dir, (unsigned long long) format, S_FORMAT);
        goto fail;
    }
    if (!format) {
        pdc_enc_t enc;
        pdc_enc_init(&enc);
        pdc_head_db_row(&enc);
        pdc_enc_array(&enc, 1);
        pdc_enc_u(&enc, S_FORMAT);
        rc = pdc_head_db_put(self, "meta", "format", 6, &enc);
        pdc_enc_free(&enc);
        if (rc) {
            snprintf(why, len, "%s", self->error);
            goto fail;
        }
    }
    return self;
fail:
    pdc_head_db_destroy(&self);
    return NULL;
}

void pdc_head_db_destroy(pdc_head_db_t **self_p) {
    pdc_head_db_t *self = *self_p;
    if (!self)
        return;
    *self_p = NULL;
    if (self->env)
        mdb_env_close(self->env);
    if (self->lock_fd >= 0)
        close(self->lock_fd);
    free(self);
}

const char *pdc_head_db_error(const pdc_head_db_t *self) {
    return self ? self->error : "";
}

const char *pdc_head_db_dir(const pdc_head_db_t *self) {
    return self ? self->dir : NULL;
}
