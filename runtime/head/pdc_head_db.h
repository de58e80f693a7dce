/*  pdc_head_db: the head's tables on disk, so that a head restarted on
    the same directory (pdc start --head again, after kill -9) has them.

    One LMDB environment in a directory of the head's session (DIR/head.db,
    passed to pdc-head as --db), holding named tables: each a set of rows,
    a row a key (bytes) and a value, a msgpack tuple of the table owner's
    schema (pdc_proto.h's language: "(ss{}u)").  The head keeps its tables
    in memory as before and writes a row through here when it changes, one
    LMDB transaction per change, committed before the reply goes; it reads
    every row back once, when it starts.  Nothing is written per heartbeat.

    Adding a table is a few lines: a name, a schema, a put where a row
    changes, a delete where it goes, and one pdc_head_db_each at start:

        pdc_head_db_row(&enc);                 (begin a row)
        pdc_enc_array(&enc, 2); pdc_enc_s(&enc, ...); pdc_enc_u(&enc, ...);
        pdc_head_db_put(db, "actors", id, 16, &enc);
        ...
        pdc_head_db_each(db, "actors", "(su)", on_row, self);

    Durability: a commit is written to the file before put returns, so a
    head killed right after its reply loses nothing it acknowledged (the
    page cache outlives the process); with head_db_sync (the default) it
    is also fsynced, which a machine crash needs.

    A db of NULL (a head started without --db: embedded clusters, which
    die with their driver) keeps nothing: every call succeeds and each
    finds no rows.  One head at a time uses a directory (an flock on it);
    a second is refused at open. */
#ifndef PDC_HEAD_DB_H_INCLUDED
#define PDC_HEAD_DB_H_INCLUDED

#include "pdc_config.h"
#include "pdc_proto.h"

#include <stddef.h>

typedef struct pdc_head_db pdc_head_db_t;

/* Open (creating it if it is not there) the environment in dir.  NULL
   with why: the directory cannot be made, another head holds it, the
   environment is not pdc's or of a format this head does not read. */
pdc_head_db_t *pdc_head_db_open(const char *dir, const pdc_config_t *cfg, char *why, size_t len);
void pdc_head_db_destroy(pdc_head_db_t **self_p);

/* Begin a row in enc (its buffer emptied; no message header): encode
   the tuple with pdc_enc_* after it. */
void pdc_head_db_row(pdc_enc_t *enc);

/* Store enc's row under key in table (replacing one there), committed
   when it returns.  0, or -1 with the reason in pdc_head_db_error (the
   map is full: head_db_size; the disk failed). */
int pdc_head_db_put(pdc_head_db_t *self, const char *table, const void *key, size_t key_len,
                    const pdc_enc_t *row);
/* Remove key's row from table (none there is no error).  0 or -1. */
int pdc_head_db_delete(pdc_head_db_t *self, const char *table, const void *key, size_t key_len);

/* Call fn for every row of table in key order, with the row's fields
   (its tuple's count items, already checked against schema).  A row that
   does not match schema is logged, named by table and key, and skipped.
   The key and fields live until fn returns.  How many rows fn got, or -1
   when the table cannot be read. */
typedef void (*pdc_head_db_row_fn)(void *arg, const void *key, size_t key_len,
                                   const msgpack_object *fields, uint32_t count);
int pdc_head_db_each(pdc_head_db_t *self, const char *table, const char *schema,
                     pdc_head_db_row_fn fn, void *arg);

/* Why the last call failed ("" if it did not). */
const char *pdc_head_db_error(const pdc_head_db_t *self);
/* The directory (NULL for a NULL db). */
const char *pdc_head_db_dir(const pdc_head_db_t *self);

#endif
