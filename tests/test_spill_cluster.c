/*  Spilling through a real embedded cluster: a driver and tasks whose
    live objects are three times the store's capacity (64 MiB) get every
    byte back; a store all pinned by the driver refuses a put and says
    what holds it; no spill file outlives its object or the cluster.
    The store's capacity and spill directory are given to the embedded
    raylet through PDC_OBJECT_STORE_MEMORY and PDC_SPILL_DIR. */
#include "pdc_itest.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#define OBJECTS 24
#define SIZE    (8 * MIB)
#define GIB     ((size_t) 1 << 30)

static char g_spill_root[PATH_MAX];

static void s_setup_capacity(const char *bytes) {
    const char *root = getenv("PDC_SESSION_ROOT");
    snprintf(g_spill_root, sizeof g_spill_root, "%s/spill-test-%d", root ? root : "/tmp/pdc",
             (int) getpid());
    mkdir(root ? root : "/tmp/pdc", 0700);
    cr_assert(mkdir(g_spill_root, 0700) == 0 || errno == EEXIST, "mkdir %s", g_spill_root);
    setenv("PDC_SPILL_DIR", g_spill_root, 1);
    setenv("PDC_OBJECT_STORE_MEMORY", bytes, 1);
    itest_setup();
}

static void s_setup(void) {
    s_setup_capacity("67108864");
}

/* Spill files under the spill root (each node spills to a directory of
   its own there); -1 with no node directory. */
static int s_spill_files(void) {
    DIR *d = opendir(g_spill_root);
    cr_assert_not_null(d);
    int files = -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "spill-", 6))
            continue;
        char path[PATH_MAX + 300];
        snprintf(path, sizeof path, "%s/%s", g_spill_root, e->d_name);
        DIR *n = opendir(path);
        if (!n)
            continue;
        files = files < 0 ? 0 : files;
        struct dirent *f;
        while ((f = readdir(n)))
            files += f->d_name[0] != '.';
        closedir(n);
    }
    closedir(d);
    return files;
}

static void s_teardown(void) {
    itest_teardown();
    DIR *d = opendir(g_spill_root);
    cr_assert_not_null(d);
    struct dirent *e;
    while ((e = readdir(d)))
        cr_assert(e->d_name[0] == '.', "%s/%s is left after the cluster stopped", g_spill_root,
                  e->d_name);
    closedir(d);
    rmdir(g_spill_root);
    unsetenv("PDC_SPILL_DIR");
    unsetenv("PDC_OBJECT_STORE_MEMORY");
}

TestSuite(spill_cluster, .init = s_setup, .fini = s_teardown);

Test(spill_cluster, a_driver_holding_three_times_the_store_gets_every_byte_back) {
    pdc_ref refs[OBJECTS];
    unsigned char *buf = malloc(SIZE);
    cr_assert_not_null(buf);
    for (int i = 0; i < OBJECTS; i++) {
        fill_pattern(buf, SIZE, i);
        int status;
        refs[i] = pdc_put(g_c, PDC_BYTES(buf, SIZE), &status);
        cr_assert_eq(status, PDC_OK, "put %d: %s", i, pdc_last_error(g_c));
    }
    int spilled = s_spill_files();
    cr_assert_geq(spilled, OBJECTS - 8, "192 MiB held in 64 MiB: %d spilled", spilled);
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < OBJECTS; i++) {
            pdc_object o;
            int rc = pdc_get(g_c, refs[i], &o, T_TIMEOUT_MS);
            cr_assert_eq(rc, PDC_OK, "get %d: %s", i, pdc_last_error(g_c));
            fill_pattern(buf, SIZE, i);
            cr_assert(o.size == SIZE && !memcmp(o.data, buf, SIZE), "object %d's bytes", i);
            pdc_object_release(g_c, &o);
        }
    for (int i = 0; i < OBJECTS; i++)
        pdc_ref_release(g_c, refs[i]);
    free(buf);
    for (int tries = 0; tries < 100 && s_spill_files() > 0; tries++)
        usleep(20 * 1000);
    cr_assert_eq(s_spill_files(), 0, "released objects leave no spill file");
}

Test(spill_cluster, tasks_make_and_read_three_times_the_store) {
    pdc_fn make = fn("make_bytes"), sum = fn("checksum");
    pdc_ref made[OBJECTS], sums[OBJECTS];
    for (int i = 0; i < OBJECTS; i++)
        made[i] = pdc_call(g_c, make, PDC_I64((int64_t) SIZE), PDC_I64(i));
    for (int i = 0; i < OBJECTS; i++) {
        uint8_t ready;
        cr_assert_eq(pdc_wait(g_c, &made[i], 1, 1, T_TIMEOUT_MS, &ready), 1, "made %d: %s", i,
                     pdc_last_error(g_c));
        sums[i] = pdc_call(g_c, sum, PDC_REF(made[i]));
    }
    unsigned char *want = malloc(SIZE);
    cr_assert_not_null(want);
    for (int i = 0; i < OBJECTS; i++) {
        for (size_t k = 0; k < SIZE; k++)
            want[k] = (unsigned char) ((k * 31 + (size_t) i) & 0xff);
        int64_t got = 0;
        cr_assert_eq(pdc_get_i64(g_c, sums[i], &got, T_TIMEOUT_MS), PDC_OK, "checksum %d: %s", i,
                     pdc_last_error(g_c));
        cr_assert_eq(got, fnv1a(want, SIZE), "a task read object %d's bytes back", i);
        pdc_ref_release(g_c, sums[i]);
    }
    cr_assert_gt(s_spill_files(), 0, "the results were spilled on the way");
    for (int i = 0; i < OBJECTS; i++) {
        pdc_object o;
        cr_assert_eq(pdc_get(g_c, made[i], &o, T_TIMEOUT_MS), PDC_OK, "get %d: %s", i,
                     pdc_last_error(g_c));
        for (size_t k = 0; k < SIZE; k++)
            want[k] = (unsigned char) ((k * 31 + (size_t) i) & 0xff);
        cr_assert(o.size == SIZE && !memcmp(o.data, want, SIZE), "the driver reads result %d", i);
        pdc_object_release(g_c, &o);
        pdc_ref_release(g_c, made[i]);
    }
    free(want);
}

Test(spill_cluster, a_store_all_pinned_refuses_a_put_and_says_what_holds_it) {
    enum { HELD = 7 };
    pdc_ref refs[HELD];
    pdc_object held[HELD];
    unsigned char *buf = calloc(1, 2 * SIZE);
    cr_assert_not_null(buf);
    for (int i = 0; i < HELD; i++) {
        int status;
        refs[i] = pdc_put(g_c, PDC_BYTES(buf, SIZE), &status);
        cr_assert_eq(status, PDC_OK, "put %d: %s", i, pdc_last_error(g_c));
        cr_assert_eq(pdc_get(g_c, refs[i], &held[i], T_TIMEOUT_MS), PDC_OK);
    }
    int status;
    pdc_ref more = pdc_put(g_c, PDC_BYTES(buf, 2 * SIZE), &status);
    cr_assert_eq(status, PDC_ESTOREFULL, "%s: %s", pdc_status_name(status), pdc_last_error(g_c));
    const char *why = pdc_last_error(g_c);
    cr_assert(strstr(why, "pinned by readers (7 objects)") && strstr(why, "spill directory"),
              "the error says what holds the store: %s", why);
    pdc_ref_release(g_c, more);
    pdc_object_release(g_c, &held[0]);
    pdc_object_release(g_c, &held[1]);
    more = pdc_put(g_c, PDC_BYTES(buf, 2 * SIZE), &status);
    cr_assert_eq(status, PDC_OK, "two unpinned make room: %s", pdc_last_error(g_c));
    pdc_ref_release(g_c, more);
    for (int i = 0; i < HELD; i++) {
        if (i >= 2)
            pdc_object_release(g_c, &held[i]);
        pdc_ref_release(g_c, refs[i]);
    }
    free(buf);
}

/* ---- An object over 4 GiB --------------------------------------------- */

#define BIG_OBJECT ((size_t) 5 << 30)
#define BIG_SECOND ((size_t) 3 << 30)

/* Room for the 5 GiB object (7 GiB), not for it and the 3 GiB one. */
static void s_big_setup(void) {
    s_setup_capacity("7516192768");
}

TestSuite(spill_big, .init = s_big_setup, .fini = s_teardown, .timeout = 600);

static uint64_t s_word(size_t j) {
    return j * 0x9e3779b97f4a7c15ull + 1;
}

static int64_t s_sum_task(pdc_ref r) {
    int64_t sum = 0;
    pdc_ref s = pdc_call(g_c, fn("sum_words"), PDC_REF(r));
    int rc = pdc_get_i64(g_c, s, &sum, 300000);
    cr_assert_eq(rc, PDC_OK, "sum_words: %s: %s", pdc_status_name(rc), pdc_last_error(g_c));
    pdc_ref_release(g_c, s);
    return sum;
}

/* A 5 GiB object (over LMDB's 4 GiB value limit: stored in parts) put
   by the driver is read whole by a task and by the driver, goes to the
   spill directory when a 3 GiB put needs the room, and comes back from
   there for a task, every word intact; its file goes with it. */
Test(spill_big, a_5_gib_object_round_trips_through_a_task_and_the_spill_directory) {
    struct statvfs vfs;
    double shm = statvfs("/dev/shm", &vfs) == 0 ? (double) vfs.f_bavail * vfs.f_frsize : 0;
    double mem = (double) sysconf(_SC_AVPHYS_PAGES) * (double) sysconf(_SC_PAGESIZE);
    if (shm < 8.0 * GIB || mem < 10.0 * GIB)
        cr_skip_test("a 5 GiB object needs 8 GiB of /dev/shm and 10 GiB of memory: %.1f and "
                     "%.1f GiB free here",
                     shm / GIB, mem / GIB);
    void *res;
    uint64_t *w = pdc_put_reserve(g_c, BIG_OBJECT, &res);
    cr_assert_not_null(w, "pdc_put_reserve of 5 GiB: %s", pdc_last_error(g_c));
    uint64_t sum = 0;
    for (size_t j = 0; j < BIG_OBJECT / 8; j++)
        sum += w[j] = s_word(j);
    int status;
    pdc_ref big = pdc_put_commit(g_c, &res, &status);
    cr_assert_eq(status, PDC_OK, "pdc_put_commit: %s", pdc_last_error(g_c));
    cr_assert_eq((uint64_t) s_sum_task(big), sum, "a task read the 5 GiB object");

    pdc_object o;
    cr_assert_eq(pdc_get(g_c, big, &o, T_TIMEOUT_MS), PDC_OK, "%s", pdc_last_error(g_c));
    cr_assert_eq(o.size, BIG_OBJECT);
    const uint64_t *r = o.data;
    size_t bad = BIG_OBJECT / 8;
    for (size_t j = 0; j < BIG_OBJECT / 8 && bad == BIG_OBJECT / 8; j++)
        if (r[j] != s_word(j))
            bad = j;
    cr_assert_eq(bad, BIG_OBJECT / 8, "the driver's get: word %zu differs", bad);
    pdc_object_release(g_c, &o);

    void *res2;
    void *p2 = pdc_put_reserve(g_c, BIG_SECOND, &res2);
    cr_assert_not_null(p2, "pdc_put_reserve of 3 GiB: %s", pdc_last_error(g_c));
    memset(p2, 7, BIG_SECOND);
    pdc_ref second = pdc_put_commit(g_c, &res2, &status);
    cr_assert_eq(status, PDC_OK, "the 3 GiB put: %s", pdc_last_error(g_c));
    cr_assert_geq(s_spill_files(), 1, "the 5 GiB object was not spilled");
    cr_assert_eq((uint64_t) s_sum_task(big), sum, "a task read the 5 GiB object from the spill");
    pdc_ref_release(g_c, second);
    pdc_ref_release(g_c, big);
    int files = -2;
    for (int i = 0; i < 500 && (files = s_spill_files()) > 0; i++)
        usleep(20 * 1000);
    cr_assert_leq(files, 0, "%d spill files left once both objects were freed", files);
}
