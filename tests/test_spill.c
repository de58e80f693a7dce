/*  The store beyond its capacity: spilling to disk, restoring, eviction of
    copies (objectstore/pdc_spill.c), on real stores in /dev/shm with a
    spill directory on disk under /tmp. */
#include "pdc_store.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB ((size_t) 1 << 20)

static char g_dir[256], g_spill[256], g_err[1024];
static unsigned g_counter;
static pdc_store_t *g_store;

static void s_setup(void) {
    snprintf(g_dir, sizeof g_dir, "/dev/shm/pdc-test-spill-%d-%u", (int) getpid(), g_counter);
    snprintf(g_spill, sizeof g_spill, "/tmp/pdc-test-spill-%d-%u", (int) getpid(), g_counter++);
    pdc_store_remove_dir(g_dir);
    g_err[0] = '\0';
}

static void s_teardown(void) {
    pdc_store_destroy(&g_store);
    pdc_store_remove_dir(g_dir);
    cr_assert_eq(access(g_spill, F_OK), -1, "pdc_store_remove_dir left %s", g_spill);
}

TestSuite(spill, .init = s_setup, .fini = s_teardown);

static pdc_store_t *s_create(size_t capacity) {
    pdc_store_config_t cfg = {.capacity = capacity, .shards = 2, .spill_dir = g_spill};
    g_store = pdc_store_create(g_dir, &cfg, g_err, sizeof g_err);
    cr_assert_not_null(g_store, "create %s: %s", g_dir, g_err);
    return g_store;
}

static void s_id(uint8_t id[PDC_ID_SIZE], uint64_t n) {
    memset(id, 0, PDC_ID_SIZE);
    memcpy(id, &n, sizeof n);
    id[15] = 0x5a;
}

static void s_fill(uint8_t *p, size_t size, uint64_t seed) {
    for (size_t i = 0; i < size; i++)
        p[i] = (uint8_t) (seed * 29 + i * 13 + (i >> 11));
}

static int s_check(const uint8_t *p, size_t size, uint64_t seed) {
    for (size_t i = 0; i < size; i++)
        if (p[i] != (uint8_t) (seed * 29 + i * 13 + (i >> 11)))
            return 0;
    return 1;
}

static int s_put(uint64_t n, size_t size) {
    uint8_t id[PDC_ID_SIZE], *buf = malloc(size);
    cr_assert_not_null(buf);
    s_id(id, n);
    s_fill(buf, size, n);
    int rc = pdc_store_put(g_store, id, PDC_T_BYTES, buf, size, g_err, sizeof g_err);
    free(buf);
    return rc;
}

/* Whether object n is a spilled file. */
static int s_spilled(uint64_t n) {
    uint8_t id[PDC_ID_SIZE];
    s_id(id, n);
    char path[512];
    int len = snprintf(path, sizeof path, "%s/", g_spill);
    for (int i = 0; i < PDC_ID_SIZE; i++)
        len += snprintf(path + len, sizeof path - (size_t) len, "%02x", id[i]);
    return access(path, F_OK) == 0;
}

static int s_files(void) {
    DIR *d = opendir(g_spill);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* Get object n (restoring it if it was spilled) and check its bytes. */
static void s_get_ok(uint64_t n, size_t size) {
    uint8_t id[PDC_ID_SIZE];
    s_id(id, n);
    const void *data;
    size_t got;
    pdc_store_pin_t *pin;
    int rc = pdc_store_get(g_store, id, &data, &got, NULL, &pin);
    if (rc == PDC_ENOTFOUND) {
        cr_assert_eq(pdc_store_restore(g_store, id, g_err, sizeof g_err), PDC_OK,
                     "restore of %llu: %s", (unsigned long long) n, g_err);
        rc = pdc_store_get(g_store, id, &data, &got, NULL, &pin);
    }
    cr_assert_eq(rc, PDC_OK, "get of %llu: %s", (unsigned long long) n, pdc_store_last_error());
    cr_assert_eq(got, size);
    cr_assert(s_check(data, size, n), "object %llu's bytes", (unsigned long long) n);
    pdc_store_unpin(g_store, &pin);
}

static size_t s_used(void) {
    pdc_store_usage_t u;
    cr_assert_eq(pdc_store_usage(g_store, &u), PDC_OK);
    return u.used;
}

Test(spill, live_objects_three_times_the_capacity_all_round_trip) {
    s_create(32 * MIB);
    for (uint64_t n = 1; n <= 24; n++) {
        cr_assert_eq(s_put(n, 4 * MIB), PDC_OK, "put %llu: %s", (unsigned long long) n, g_err);
        cr_assert_leq(s_used(), 32 * MIB);
    }
    int files = s_files();
    cr_assert_geq(files, 16, "24 x 4 MiB in 32 MiB: at least 16 spilled, %d files", files);
    for (int round = 0; round < 2; round++)
        for (uint64_t n = 1; n <= 24; n++)
            s_get_ok(n, 4 * MIB); /* each restore spills others */
    for (uint64_t n = 1; n <= 24; n++) {
        uint8_t id[PDC_ID_SIZE];
        s_id(id, n);
        cr_assert_eq(pdc_store_delete(g_store, id), PDC_OK, "delete of %llu, spilled or not",
                     (unsigned long long) n);
    }
    cr_assert_eq(s_files(), 0, "a delete removes the spilled file");
    cr_assert_eq(s_used(), 0);
}

Test(spill, the_least_recently_used_goes_first) {
    s_create(32 * MIB);
    for (uint64_t n = 1; n <= 3; n++) {
        cr_assert_eq(s_put(n, 8 * MIB), PDC_OK, "%s", g_err);
        usleep(20 * 1000); /* the clock of last use counts milliseconds */
    }
    s_get_ok(1, 8 * MIB); /* 1 is now the most recently used */
    usleep(20 * 1000);
    cr_assert_eq(s_put(4, 8 * MIB), PDC_OK, "%s", g_err);
    cr_assert(!s_spilled(1) && !s_spilled(3) && !s_spilled(4), "fits without spilling yet");
    cr_assert_eq(s_put(5, 8 * MIB), PDC_OK, "%s", g_err);
    cr_assert(s_spilled(2), "2 was used least recently");
    cr_assert(!s_spilled(1), "1 was read since");
}

Test(spill, copies_are_evicted_before_anything_is_spilled) {
    s_create(32 * MIB);
    cr_assert_eq(s_put(1, 8 * MIB), PDC_OK, "%s", g_err);
    usleep(20 * 1000);
    uint8_t copy[PDC_ID_SIZE];
    s_id(copy, 2);
    void *data;
    cr_assert_eq(
        pdc_store_create_copy(g_store, copy, PDC_T_BYTES, 8 * MIB, &data, g_err, sizeof g_err),
        PDC_OK, "%s", g_err);
    s_fill(data, 8 * MIB, 2);
    cr_assert_eq(pdc_store_seal(g_store, copy), PDC_OK);
    cr_assert_eq(s_put(3, 8 * MIB), PDC_OK, "%s", g_err);
    cr_assert_eq(s_put(4, 8 * MIB), PDC_OK, "%s", g_err);
    cr_assert_eq(pdc_store_contains(g_store, copy), 0, "the copy made room");
    cr_assert(!s_spilled(2), "a copy is evicted, never written out");
    cr_assert(!s_spilled(1), "1 is older, but a primary copy");
    s_get_ok(1, 8 * MIB);
}

Test(spill, pinned_objects_stay_and_a_store_all_pinned_says_so) {
    s_create(32 * MIB);
    pdc_store_pin_t *pins[3];
    for (uint64_t n = 1; n <= 3; n++) {
        cr_assert_eq(s_put(n, 8 * MIB), PDC_OK, "%s", g_err);
        uint8_t id[PDC_ID_SIZE];
        const void *data;
        s_id(id, n);
        cr_assert_eq(pdc_store_get(g_store, id, &data, NULL, NULL, &pins[n - 1]), PDC_OK);
    }
    cr_assert_eq(s_put(4, 8 * MIB), PDC_ESTOREFULL, "only pinned objects to spill");
    cr_assert(strstr(g_err, "pinned by readers (3 objects)"), "err: %s", g_err);
    cr_assert(strstr(g_err, g_spill), "names the spill directory: %s", g_err);
    cr_assert_eq(s_files(), 0, "nothing pinned was spilled");
    pdc_store_unpin(g_store, &pins[0]);
    cr_assert_eq(s_put(4, 8 * MIB), PDC_OK, "one unpinned: room (%s)", g_err);
    cr_assert(s_spilled(1));
    pdc_store_unpin(g_store, &pins[1]);
    pdc_store_unpin(g_store, &pins[2]);
}

Test(spill, an_object_larger_than_the_store_is_refused_without_spilling) {
    s_create(32 * MIB);
    cr_assert_eq(s_put(1, 8 * MIB), PDC_OK, "%s", g_err);
    cr_assert_eq(s_put(2, 40 * MIB), PDC_ESTOREFULL);
    cr_assert(strstr(g_err, "capacity"), "err: %s", g_err);
    cr_assert_eq(s_files(), 0);
}

Test(spill, another_process_restores_and_reads_a_spilled_object) {
    s_create(16 * MIB);
    for (uint64_t n = 1; n <= 4; n++)
        cr_assert_eq(s_put(n, 6 * MIB), PDC_OK, "%s", g_err);
    cr_assert(s_spilled(1));
    pid_t pid = fork();
    if (pid == 0) {
        char err[512];
        pdc_store_t *st = pdc_store_open(g_dir, err, sizeof err);
        uint8_t id[PDC_ID_SIZE];
        const void *data;
        size_t size;
        pdc_store_pin_t *pin;
        s_id(id, 1);
        int ok = st && pdc_store_restore(st, id, err, sizeof err) == PDC_OK &&
                 pdc_store_get(st, id, &data, &size, NULL, &pin) == PDC_OK && size == 6 * MIB &&
                 s_check(data, size, 1);
        _exit(ok ? 0 : 1);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child restored it");
    cr_assert(!s_spilled(1), "restored: the file is gone");
    s_get_ok(1, 6 * MIB);
}

Test(spill, a_spilled_object_is_read_in_parts_without_coming_back) {
    s_create(16 * MIB);
    for (uint64_t n = 1; n <= 4; n++)
        cr_assert_eq(s_put(n, 6 * MIB), PDC_OK, "%s", g_err);
    cr_assert(s_spilled(1));
    uint8_t id[PDC_ID_SIZE], *buf = malloc(MIB), *want = malloc(6 * MIB);
    s_id(id, 1);
    s_fill(want, 6 * MIB, 1);
    pdc_type type;
    size_t total;
    cr_assert_eq(pdc_store_spilled_read(g_store, id, 5 * MIB + 7, buf, MIB, &type, &total),
                 (long) (MIB - 7), "the last part is short");
    cr_assert_eq(total, 6 * MIB);
    cr_assert_eq(type, PDC_T_BYTES);
    cr_assert_eq(memcmp(buf, want + 5 * MIB + 7, MIB - 7), 0);
    cr_assert(s_spilled(1), "still spilled");
    s_id(id, 99);
    cr_assert_eq(pdc_store_spilled_read(g_store, id, 0, buf, MIB, NULL, NULL), -PDC_ENOTFOUND);
    free(buf);
    free(want);
}

Test(spill, delete_by_prefix_and_remove_dir_take_the_files) {
    s_create(16 * MIB);
    for (uint64_t n = 1; n <= 4; n++)
        cr_assert_eq(s_put(n, 6 * MIB), PDC_OK, "%s", g_err);
    int files = s_files();
    cr_assert_geq(files, 2);
    uint8_t id[PDC_ID_SIZE];
    s_id(id, 1); /* ids 1..4 share their first byte only with themselves */
    cr_assert_geq(pdc_store_delete_prefix(g_store, id, 1), 1);
    cr_assert(!s_spilled(1));
    cr_assert_eq(pdc_store_restore(g_store, id, g_err, sizeof g_err), PDC_ENOTFOUND);
    pdc_store_destroy(&g_store);
    cr_assert_eq(pdc_store_remove_dir(g_dir), 0);
    cr_assert_eq(access(g_spill, F_OK), -1, "the spill directory went with the store");
}
