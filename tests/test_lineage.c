/*  test_lineage: lost results rebuilt by re-running their tasks, on a
    real embedded cluster.

    An object's only copy is deleted from the node's store under its
    owner (a child process opens the store and deletes it, as an eviction
    would); the owner then re-runs the task that made it, for a pdc_get
    and for a dependent task, down a chain, and says PDC_EOBJECTLOST,
    naming the object and why, where it cannot: a put, a task with no
    retries left, lineage evicted past lineage_max_bytes.  (Killed nodes:
    python-bindings/tests/test_lineage.py, on loopback clusters.) */
#include "pdc_itest.h"

static void s_setup_no_lineage(void) {
    setenv("PDC_LINEAGE_MAX_BYTES", "1", 1); /* no spec fits */
    itest_setup();
}

TestSuite(lineage, .init = itest_setup, .fini = itest_teardown);
/* Its own suite: criterion runs a suite's .init before a test's own. */
TestSuite(lineage_evicted, .init = s_setup_no_lineage, .fini = itest_teardown);

#define SIZE (300 * KIB) /* over inline_max: results go to the store */

/* Deleting an object from the store happens in a fresh process: this
   program run again with PDC_TEST_DELETE="DIR HEX" set, which deletes
   and exits before criterion starts: LMDB forbids a second environment
   of the store in this process, and a fresh one inherits none of its
   state. */
__attribute__((constructor)) static void s_delete_helper(void) {
    const char *job = getenv("PDC_TEST_DELETE");
    char dir[PATH_MAX], hex[33];
    uint8_t id[16];
    if (!job)
        return;
    if (sscanf(job, "%4095s %32s", dir, hex) != 2 || strlen(hex) != 32)
        _exit(1);
    for (int i = 0; i < 16; i++) {
        unsigned byte;
        if (sscanf(hex + 2 * i, "%2x", &byte) != 1)
            _exit(1);
        id[i] = (uint8_t) byte;
    }
    char err[512];
    pdc_store_t *s = pdc_store_open(dir, err, sizeof err);
    if (!s)
        fprintf(stderr, "test_lineage: cannot open the store %s: %s\n", dir, err);
    int rc = s ? pdc_store_delete(s, id) : -1;
    pdc_store_destroy(&s);
    _exit(rc == PDC_OK ? 0 : rc == PDC_ENOTFOUND ? 2 : 1);
}

static void s_hex(pdc_ref r, char out[33]);

static void s_delete_from_store(pdc_ref r) {
    char dir[PATH_MAX], hex[33], job[PATH_MAX + 40];
    cr_assert_eq(itest_store_dir(dir, sizeof dir), 0, "no store directory for this process");
    s_hex(r, hex);
    snprintf(job, sizeof job, "%s %s", dir, hex);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        setenv("PDC_TEST_DELETE", job, 1);
        execl("/proc/self/exe", "test_lineage", (char *) NULL);
        _exit(1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    cr_assert_eq(rc, 0, "could not delete object %s from the store %s (%s)", hex, dir,
                 rc == 2 ? "not found" : "see above");
}

static void s_hex(pdc_ref r, char out[33]) {
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", r.id[i]);
}

static void s_expect_bytes(pdc_ref r, int64_t seed, int plus) {
    pdc_object o;
    int rc = pdc_get(g_c, r, &o, T_TIMEOUT_MS);
    cr_assert_eq(rc, PDC_OK, "pdc_get: %s: %s", pdc_status_name(rc), pdc_last_error(g_c));
    cr_assert_eq(o.size, SIZE);
    const unsigned char *p = o.data;
    for (size_t i = 0; i < SIZE; i++)
        if (p[i] != (unsigned char) ((int64_t) i * 31 + seed + plus)) {
            pdc_object_release(g_c, &o);
            cr_assert_fail("byte %zu of the rebuilt object is wrong", i);
        }
    pdc_object_release(g_c, &o);
}

/* A get of r fails with PDC_EOBJECTLOST, naming r and containing what. */
static void s_expect_lost(pdc_ref r, const char *what) {
    pdc_object o;
    char hex[33];
    s_hex(r, hex);
    int rc = pdc_get(g_c, r, &o, T_TIMEOUT_MS);
    cr_assert_eq(rc, PDC_EOBJECTLOST, "pdc_get: %s: %s", pdc_status_name(rc), pdc_last_error(g_c));
    cr_assert_eq(o.type, PDC_T_ERROR);
    cr_assert(strstr(o.error.message, hex) && strstr(o.error.message, what), "the error says: %s",
              o.error.message);
    pdc_object_release(g_c, &o);
}

Test(lineage, a_result_deleted_from_the_store_is_rebuilt_for_a_get) {
    pdc_ref r = pdc_call(g_c, fn("make_bytes"), PDC_I64(SIZE), PDC_I64(4));
    s_expect_bytes(r, 4, 0);
    s_delete_from_store(r);
    s_expect_bytes(r, 4, 0);
    cr_assert_eq(itest_store_objects(), 1, "the rebuilt object is not in the store");
    pdc_ref_release(g_c, r);
    cr_assert_eq(itest_store_objects(), 0, "the rebuilt object outlived its reference");
}

Test(lineage, a_chain_whose_results_were_deleted_is_rebuilt_for_a_dependent) {
    pdc_ref refs[6];
    refs[0] = pdc_call(g_c, fn("make_bytes"), PDC_I64(SIZE), PDC_I64(8));
    for (int i = 1; i < 6; i++)
        refs[i] = pdc_call(g_c, fn("bytes_plus_one"), PDC_REF(refs[i - 1]));
    s_expect_bytes(refs[5], 8, 5);
    for (int i = 0; i < 6; i++)
        s_delete_from_store(refs[i]);
    /* The dependent's worker finds its argument lost; the owner rebuilds
       it, which finds its own argument lost, and so on to the first. */
    pdc_ref last = pdc_call(g_c, fn("bytes_plus_one"), PDC_REF(refs[5]));
    s_expect_bytes(last, 8, 6);
    s_expect_bytes(refs[0], 8, 0);
    for (int i = 0; i < 6; i++)
        pdc_ref_release(g_c, refs[i]);
    pdc_ref_release(g_c, last);
    cr_assert_eq(itest_store_objects(), 0, "objects outlived their references");
}

Test(lineage, a_lost_result_of_a_task_without_retries_names_the_object_and_task) {
    pdc_opts opts = {.max_retries = -1};
    pdc_ref r = pdc_call_opts(g_c, fn("make_bytes"), &opts, PDC_I64(SIZE), PDC_I64(1));
    s_expect_bytes(r, 1, 0);
    s_delete_from_store(r);
    s_expect_lost(r, "make_bytes");
    s_expect_lost(r, "max_retries");
    pdc_ref_release(g_c, r);
}

Test(lineage, a_lost_put_says_it_has_no_lineage) {
    unsigned char *data = malloc(SIZE);
    fill_pattern(data, SIZE, 2);
    int status;
    pdc_ref r = pdc_put(g_c, PDC_BYTES(data, SIZE), &status);
    free(data);
    cr_assert_eq(status, PDC_OK);
    s_delete_from_store(r);
    s_expect_lost(r, "no lineage");
    pdc_ref_release(g_c, r);
}

Test(lineage_evicted, a_lost_result_whose_lineage_was_evicted_says_so) {
    pdc_ref r = pdc_call(g_c, fn("make_bytes"), PDC_I64(SIZE), PDC_I64(3));
    s_expect_bytes(r, 3, 0);
    s_delete_from_store(r);
    s_expect_lost(r, "lineage was evicted");
    pdc_ref_release(g_c, r);
}
