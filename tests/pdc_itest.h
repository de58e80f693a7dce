/*  pdc_itest: what the integration tests (test_tasks, test_objects,
    test_nested) share: a fixture that starts a real embedded cluster per
    test, the functions of libpdc_test_tasks.so (task_lib.c), a checksum,
    a clock, and a way to count the objects in the cluster's store.

    Criterion runs each test in its own process; the fixture calls
    pdc_init(NULL) there (head, raylet and worker processes, a store in
    /dev/shm) and pdc_shutdown after the test, also when an assertion
    failed.  The tests run through `meson test`, which sets PDC_TEST_LIB,
    PDC_BIN_DIR and PDC_SESSION_ROOT.  Every wait has a finite timeout. */
#ifndef PDC_ITEST_H_INCLUDED
#define PDC_ITEST_H_INCLUDED

/* pdc_store.h's comment of pdc_store_get has a slash-star inside it. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wcomment"
#include "pdc_store.h"
#pragma GCC diagnostic pop
#include <pdc.h>

#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <dirent.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How long any single wait of a test may take. */
#define T_TIMEOUT_MS 30000
#define KIB          ((size_t) 1 << 10)
#define MIB          ((size_t) 1 << 20)

/* libpdc's sweep of sessions whose driver is gone (pdc_embed.c); not in
   pdc.h.  The runner calls it after all tests, so that a test process
   that crashed before its fixture could shut down leaves nothing behind
   (its daemons also stop by themselves when they notice). */
void pdc_embed_clean_stale(void);

ReportHook(POST_ALL)(struct criterion_global_stats *stats) {
    (void) stats;
    pdc_embed_clean_stale();
}

static pdc_client *g_c;
static const char *g_lib;

static inline void itest_setup(void) {
    g_lib = getenv("PDC_TEST_LIB");
    cr_assert(g_lib && *g_lib, "PDC_TEST_LIB is not set: run the tests through meson test");
    g_c = pdc_init(NULL);
    cr_assert(g_c, "pdc_init(NULL) could not start an embedded cluster");
}

static inline void itest_teardown(void) {
    pdc_shutdown(&g_c);
}

static inline pdc_fn fn(const char *name) {
    return pdc_function(g_c, g_lib, name);
}

static inline double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

/* The checksum task_lib.c's checksum and describe compute. */
static inline int64_t fnv1a(const void *data, size_t size) {
    const unsigned char *p = data;
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < size; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return (int64_t) h;
}

/* The bytes task_lib.c's make_bytes(n, seed) returns. */
static inline void fill_pattern(unsigned char *p, size_t n, int64_t seed) {
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char) (((int64_t) i * 31 + seed) & 0xff);
}

/* The store directory of this process's embedded cluster, read from its
   session directory (PDC_SESSION_ROOT/session-DATE-TIME-PID-RAND/
   store.path): other test programs may run clusters at the same time. */
static inline int itest_store_dir(char *out, size_t len) {
    const char *root = getenv("PDC_SESSION_ROOT");
    if (!root || !*root)
        root = "/tmp/pdc";
    DIR *d = opendir(root);
    if (!d)
        return -1;
    int rc = -1;
    struct dirent *e;
    while (rc && (e = readdir(d))) {
        if (strncmp(e->d_name, "session-", 8))
            continue;
        const char *last = strrchr(e->d_name, '-');
        if (!last || last == e->d_name)
            continue;
        const char *p = last - 1;
        while (p > e->d_name && *p != '-')
            p--;
        if (atoi(p + 1) != (int) getpid())
            continue;
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s/store.path", root, e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        if (fgets(out, (int) len, f)) {
            out[strcspn(out, "\n")] = '\0';
            rc = 0;
        }
        fclose(f);
    }
    closedir(d);
    return rc;
}

/* How many objects the cluster's store holds, or -1.  The count is read
   in a child process: LMDB forbids opening an environment twice in one
   process, and this process has the store open through its client. */
static inline long itest_store_objects(void) {
    char dir[PATH_MAX];
    if (itest_store_dir(dir, sizeof dir))
        return -1;
    int fd[2];
    if (pipe(fd))
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        return -1;
    }
    if (pid == 0) {
        close(fd[0]);
        char err[512];
        long n = -1;
        pdc_store_t *s = pdc_store_open(dir, err, sizeof err);
        pdc_store_usage_t u;
        if (s && pdc_store_usage(s, &u) == 0)
            n = (long) u.objects;
        pdc_store_destroy(&s);
        ssize_t w = write(fd[1], &n, sizeof n);
        _exit(w == (ssize_t) sizeof n ? 0 : 1);
    }
    close(fd[1]);
    long n = -1;
    if (read(fd[0], &n, sizeof n) != (ssize_t) sizeof n)
        n = -1;
    close(fd[0]);
    waitpid(pid, NULL, 0);
    return n;
}

#endif
