/*  test_head_db: the head's tables on disk (runtime/head/pdc_head_db.h).

    Rows put are read back by a second open of the directory, in key
    order, with their fields; a delete removes one; a row that does not
    match its table's schema is skipped, not handed on; a second head on
    the same directory is refused while the first has it; a NULL db keeps
    nothing and fails nothing.  It also measures a commit (with and
    without head_db_sync), the price of each change of the head's tables.
    Each test works in a directory of its own under PDC_SESSION_ROOT and
    removes it. */
#include "pdc_head_db.h"

#include <criterion/criterion.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char g_dir[PATH_MAX];
static pdc_config_t g_cfg;

static int s_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void) st;
    (void) flag;
    (void) ftw;
    remove(path);
    return 0;
}

static void s_setup(void) {
    const char *root = getenv("PDC_SESSION_ROOT");
    if (!root || !*root)
        root = "/tmp/pdc";
    mkdir(root, 0777);
    snprintf(g_dir, sizeof g_dir, "%s/head-db-%d", root, (int) getpid());
    cr_assert_eq(pdc_config_load(&g_cfg), 0);
    g_cfg.head_db_size = 64 << 20;
}

static void s_teardown(void) {
    nftw(g_dir, s_rm, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite(head_db, .init = s_setup, .fini = s_teardown, .timeout = 60);

static pdc_head_db_t *s_open(void) {
    char why[600];
    pdc_head_db_t *db = pdc_head_db_open(g_dir, &g_cfg, why, sizeof why);
    cr_assert(db, "%s", why);
    return db;
}

static void s_put(pdc_head_db_t *db, pdc_enc_t *enc, const char *key, const char *text,
                  uint64_t n) {
    pdc_head_db_row(enc);
    pdc_enc_array(enc, 2);
    pdc_enc_s(enc, text);
    pdc_enc_u(enc, n);
    cr_assert_eq(pdc_head_db_put(db, "things", key, strlen(key), enc), 0, "%s",
                 pdc_head_db_error(db));
}

typedef struct {
    int n;
    char keys[8][16], texts[8][16];
    uint64_t values[8];
} seen_t;

enum { THING_TEXT, THING_VALUE };

static void s_collect(void *arg, const void *key, size_t key_len, const msgpack_object *f,
                      uint32_t count) {
    seen_t *seen = arg;
    cr_assert_eq(count, 2);
    cr_assert_lt(seen->n, 8);
    snprintf(seen->keys[seen->n], sizeof seen->keys[0], "%.*s", (int) key_len, (const char *) key);
    pdc_f_cstr(&f[THING_TEXT], seen->texts[seen->n], sizeof seen->texts[0]);
    seen->values[seen->n++] = pdc_f_u(&f[THING_VALUE]);
}

Test(head_db, rows_outlive_the_environment_and_come_back_in_key_order) {
    pdc_enc_t enc;
    pdc_enc_init(&enc);
    pdc_head_db_t *db = s_open();
    s_put(db, &enc, "b", "second", 2);
    s_put(db, &enc, "a", "first", 1);
    s_put(db, &enc, "c", "third", 3);
    s_put(db, &enc, "b", "second again", 22); /* replaces */
    cr_assert_eq(pdc_head_db_delete(db, "things", "c", 1), 0);
    cr_assert_eq(pdc_head_db_delete(db, "things", "nothing", 7), 0, "a missing row is no error");
    pdc_head_db_destroy(&db);
    cr_assert_null(db);

    db = s_open();
    seen_t seen = {0};
    cr_assert_eq(pdc_head_db_each(db, "things", "(su)", s_collect, &seen), 2);
    cr_assert_eq(seen.n, 2);
    cr_assert_str_eq(seen.keys[0], "a");
    cr_assert_str_eq(seen.texts[0], "first");
    cr_assert_eq(seen.values[0], 1);
    cr_assert_str_eq(seen.keys[1], "b");
    cr_assert_str_eq(seen.texts[1], "second again");
    cr_assert_eq(seen.values[1], 22);
    seen_t none = {0};
    cr_assert_eq(pdc_head_db_each(db, "never-written", "(su)", s_collect, &none), 0);
    pdc_head_db_destroy(&db);
    pdc_enc_free(&enc);
}

Test(head_db, a_row_that_does_not_match_its_schema_is_skipped) {
    pdc_enc_t enc;
    pdc_enc_init(&enc);
    pdc_head_db_t *db = s_open();
    s_put(db, &enc, "good", "fine", 7);
    pdc_head_db_row(&enc);
    pdc_enc_array(&enc, 2);
    pdc_enc_u(&enc, 1); /* a number where the text goes */
    pdc_enc_u(&enc, 2);
    cr_assert_eq(pdc_head_db_put(db, "things", "bad", 3, &enc), 0);
    seen_t seen = {0};
    cr_assert_eq(pdc_head_db_each(db, "things", "(su)", s_collect, &seen), 1);
    cr_assert_str_eq(seen.keys[0], "good");
    pdc_head_db_destroy(&db);
    pdc_enc_free(&enc);
}

Test(head_db, a_second_head_on_the_directory_is_refused) {
    pdc_head_db_t *db = s_open();
    char why[600];
    pdc_head_db_t *other = pdc_head_db_open(g_dir, &g_cfg, why, sizeof why);
    cr_assert_null(other, "two heads opened one directory");
    cr_assert(strstr(why, "another head uses it"), "%s", why);
    pdc_head_db_destroy(&db);
    db = s_open(); /* free again once the first has gone */
    pdc_head_db_destroy(&db);
}

Test(head_db, a_null_db_keeps_nothing_and_fails_nothing) {
    pdc_enc_t enc;
    pdc_enc_init(&enc);
    pdc_head_db_row(&enc);
    pdc_enc_array(&enc, 0);
    cr_assert_eq(pdc_head_db_put(NULL, "things", "k", 1, &enc), 0);
    cr_assert_eq(pdc_head_db_delete(NULL, "things", "k", 1), 0);
    seen_t seen = {0};
    cr_assert_eq(pdc_head_db_each(NULL, "things", "(su)", s_collect, &seen), 0);
    cr_assert_str_eq(pdc_head_db_error(NULL), "");
    pdc_enc_free(&enc);
}

static double s_commit_us(int sync) {
    g_cfg.head_db_sync = sync;
    pdc_head_db_t *db = s_open();
    pdc_enc_t enc;
    pdc_enc_init(&enc);
    enum { N = 200 };
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < N; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        s_put(db, &enc, key, "a node's row, about this long", (uint64_t) i);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    pdc_enc_free(&enc);
    pdc_head_db_destroy(&db);
    return ((double) (b.tv_sec - a.tv_sec) * 1e9 + (double) (b.tv_nsec - a.tv_nsec)) / 1e3 / N;
}

Test(head_db, what_a_change_costs) {
    double synced = s_commit_us(1), written = s_commit_us(0);
    cr_assert_gt(synced, 0);
    cr_assert_gt(written, 0);
    fprintf(stderr, "head_db: a commit takes %.0f us with head_db_sync=1, %.0f us with 0 (%s)\n",
            synced, written, g_dir);
}
