/*  References inside objects, on a real embedded cluster: lists of
    references put by a driver and returned by tasks, taken out and read
    back, passed to tasks, nested; the objects they refer to live exactly
    as long as something holds them (counted in the node's store, not
    assumed); the owner's death reads as PDC_EOWNERDIED.  The remote
    functions are in task_lib.c (put_list, sum_list, return_borrowed). */
#include "pdc_itest.h"

#include <signal.h>

TestSuite(nested_refs, .init = itest_setup, .fini = itest_teardown);

#define BIG (200 * KIB) /* over inline_max: each one in the store */

/* Wait (up to 10 s) until the store holds want objects. */
static void s_expect_objects(long want, const char *when) {
    long n = -1;
    for (int i = 0; i < 500 && (n = itest_store_objects()) != want; i++)
        usleep(20 * 1000);
    cr_assert_eq(n, want, "%s: the store holds %ld objects, expected %ld", when, n, want);
}

static pdc_ref s_put(pdc_value v) {
    int status;
    pdc_ref r = pdc_put(g_c, v, &status);
    cr_assert_eq(status, PDC_OK, "pdc_put: %s", pdc_last_error(g_c));
    return r;
}

/* Get the list a call returned, take its n references out into refs and
   let the list go. */
static void s_take_all(pdc_ref list, pdc_ref *refs, size_t n) {
    pdc_object o;
    cr_assert_eq(pdc_get(g_c, list, &o, T_TIMEOUT_MS), PDC_OK, "%s", pdc_last_error(g_c));
    cr_assert_eq(pdc_object_nrefs(&o), n);
    for (size_t i = 0; i < n; i++)
        refs[i] = pdc_object_ref(g_c, &o, i, NULL);
    pdc_object_release(g_c, &o);
    pdc_ref_release(g_c, list);
}

/* The bytes put_list puts as object i. */
static int s_put_list_bytes_ok(const pdc_object *o, int64_t i, size_t size) {
    const unsigned char *p = o->data;
    if (o->size != size)
        return 0;
    for (size_t k = 0; k < size; k++)
        if (p[k] != (unsigned char) ((k * 131 + (size_t) i * 7 + 3) & 0xff))
            return 0;
    return 1;
}

Test(nested_refs, a_put_list_keeps_what_it_refers_to_until_it_goes) {
    unsigned char *buf = malloc(BIG);
    pdc_ref inner[4];
    for (int i = 0; i < 3; i++) {
        fill_pattern(buf, BIG, i);
        inner[i] = s_put(PDC_BYTES(buf, BIG));
    }
    inner[3] = s_put(PDC_I64(42));
    pdc_ref list = s_put(PDC_REFS(inner, 4));
    for (int i = 0; i < 4; i++)
        pdc_ref_release(g_c, inner[i]);
    s_expect_objects(3, "the list alone holds its three stored objects");

    pdc_object o;
    cr_assert_eq(pdc_get(g_c, list, &o, T_TIMEOUT_MS), PDC_OK, "%s", pdc_last_error(g_c));
    cr_assert_eq(o.type, PDC_T_REFS);
    cr_assert_eq(pdc_object_nrefs(&o), 4);
    for (int i = 0; i < 3; i++) {
        int status;
        pdc_ref r = pdc_object_ref(g_c, &o, (size_t) i, &status);
        cr_assert_eq(status, PDC_OK, "%s", pdc_last_error(g_c));
        pdc_object v;
        cr_assert_eq(pdc_get(g_c, r, &v, T_TIMEOUT_MS), PDC_OK, "%s", pdc_last_error(g_c));
        fill_pattern(buf, BIG, i);
        cr_assert(v.size == BIG && !memcmp(v.data, buf, BIG), "object %d's bytes", i);
        pdc_object_release(g_c, &v);
        pdc_ref_release(g_c, r);
    }
    int status;
    pdc_ref last = pdc_object_ref(g_c, &o, 3, &status);
    int64_t x = 0;
    cr_assert_eq(pdc_get_i64(g_c, last, &x, T_TIMEOUT_MS), PDC_OK);
    cr_assert_eq(x, 42);
    pdc_object_ref(g_c, &o, 4, &status);
    cr_assert_eq(status, PDC_EINVAL, "past the end");
    cr_assert(strstr(pdc_last_error(g_c), "past the end"), "%s", pdc_last_error(g_c));
    pdc_object_release(g_c, &o);

    pdc_ref_release(g_c, list);
    s_expect_objects(0, "the stored objects went with the list");
    cr_assert_eq(pdc_get_i64(g_c, last, &x, T_TIMEOUT_MS), PDC_OK, "the int taken out lives on");
    cr_assert_eq(x, 42);
    pdc_ref_release(g_c, last);
    free(buf);
}

Test(nested_refs, a_list_inside_a_list_holds_through_both) {
    unsigned char *buf = malloc(BIG);
    fill_pattern(buf, BIG, 9);
    pdc_ref x = s_put(PDC_BYTES(buf, BIG));
    pdc_ref a = s_put(PDC_REFS(&x, 1));
    pdc_ref b = s_put(PDC_REFS(&a, 1));
    pdc_ref_release(g_c, x);
    pdc_ref_release(g_c, a);
    s_expect_objects(1, "b holds a, which holds x");
    pdc_object ob, oa, ox;
    cr_assert_eq(pdc_get(g_c, b, &ob, T_TIMEOUT_MS), PDC_OK);
    pdc_ref ra = pdc_object_ref(g_c, &ob, 0, NULL);
    cr_assert_eq(pdc_get(g_c, ra, &oa, T_TIMEOUT_MS), PDC_OK);
    cr_assert_eq(pdc_object_nrefs(&oa), 1);
    pdc_ref rx = pdc_object_ref(g_c, &oa, 0, NULL);
    cr_assert_eq(pdc_get(g_c, rx, &ox, T_TIMEOUT_MS), PDC_OK);
    cr_assert(ox.size == BIG && !memcmp(ox.data, buf, BIG));
    pdc_object_release(g_c, &ox);
    pdc_object_release(g_c, &oa);
    pdc_object_release(g_c, &ob);
    pdc_ref_release(g_c, b);
    pdc_ref_release(g_c, ra);
    s_expect_objects(1, "rx still holds x");
    pdc_ref_release(g_c, rx);
    s_expect_objects(0, "all gone");
    free(buf);
}

Test(nested_refs, a_task_returns_references_its_worker_owns_and_the_caller_borrows) {
    enum { N = 5 };
    pdc_ref list = pdc_call(g_c, fn("put_list"), PDC_I64(N), PDC_I64((int64_t) BIG));
    pdc_ref refs[N];
    s_take_all(list, refs, N);
    s_expect_objects(N, "the worker's objects live on for the borrower");
    for (int i = 0; i < N; i++) {
        pdc_object v;
        cr_assert_eq(pdc_get(g_c, refs[i], &v, T_TIMEOUT_MS), PDC_OK, "get %d: %s", i,
                     pdc_last_error(g_c));
        cr_assert(s_put_list_bytes_ok(&v, i, BIG), "object %d's bytes", i);
        pdc_object_release(g_c, &v);
    }
    /* A borrowed reference passed on to another task. */
    pdc_ref sum = pdc_call(g_c, fn("checksum"), PDC_REF(refs[2]));
    pdc_object v;
    cr_assert_eq(pdc_get(g_c, refs[2], &v, T_TIMEOUT_MS), PDC_OK);
    int64_t want = fnv1a(v.data, v.size), got = 0;
    pdc_object_release(g_c, &v);
    cr_assert_eq(pdc_get_i64(g_c, sum, &got, T_TIMEOUT_MS), PDC_OK, "%s", pdc_last_error(g_c));
    cr_assert_eq(got, want, "a task read the borrowed object");
    pdc_ref_release(g_c, sum);
    for (int i = 0; i < N - 1; i++)
        pdc_ref_release(g_c, refs[i]);
    s_expect_objects(1, "the last borrow holds its object");
    pdc_ref_release(g_c, refs[N - 1]);
    s_expect_objects(0, "every borrow dropped: the worker freed them");
}

/* The references a task returns may still be pending at their owner (its
   calls not finished): the borrower asks again until they are ready. */
Test(nested_refs, references_returned_before_their_tasks_finish_become_ready) {
    enum { N = 4 };
    pdc_ref list = pdc_call(g_c, fn("sleep_list"), PDC_I64(N), PDC_I64(300));
    pdc_ref refs[N];
    s_take_all(list, refs, N);
    for (int i = 0; i < N; i++) {
        int64_t v = -1;
        int rc = pdc_get_i64(g_c, refs[i], &v, 20000);
        cr_assert_eq(rc, PDC_OK, "reference %d: %s: %s", i, pdc_status_name(rc),
                     pdc_last_error(g_c));
        cr_assert_eq(v, 300 + i, "reference %d holds %lld", i, (long long) v);
        pdc_ref_release(g_c, refs[i]);
    }
}

Test(nested_refs, a_task_reads_a_list_argument_by_borrowing) {
    pdc_ref ints[10];
    for (int i = 0; i < 10; i++)
        ints[i] = s_put(PDC_I64(i * i));
    pdc_ref list = s_put(PDC_REFS(ints, 10));
    int64_t got = 0;
    pdc_ref by_ref = pdc_call(g_c, fn("sum_list"), PDC_REF(list));
    cr_assert_eq(pdc_get_i64(g_c, by_ref, &got, T_TIMEOUT_MS), PDC_OK, "%s", pdc_last_error(g_c));
    cr_assert_eq(got, 285, "the sum of 0..9 squared, read through the list");
    pdc_ref by_value = pdc_call(g_c, fn("sum_list"), PDC_REFS(ints, 3));
    cr_assert_eq(pdc_get_i64(g_c, by_value, &got, T_TIMEOUT_MS), PDC_OK, "%s", pdc_last_error(g_c));
    cr_assert_eq(got, 5, "a list passed by value");
    pdc_ref bad = pdc_call(g_c, fn("return_borrowed"), PDC_REF(list));
    cr_assert_neq(pdc_get_i64(g_c, bad, &got, T_TIMEOUT_MS), PDC_OK);
    cr_assert(strstr(pdc_last_error(g_c), "borrowed"), "%s", pdc_last_error(g_c));
    pdc_ref_release(g_c, bad);
    pdc_ref_release(g_c, by_ref);
    pdc_ref_release(g_c, by_value);
    pdc_ref_release(g_c, list);
    for (int i = 0; i < 10; i++)
        pdc_ref_release(g_c, ints[i]);
}

Test(nested_refs, a_list_of_an_unknown_reference_is_refused) {
    pdc_ref stranger;
    memset(&stranger, 0x77, sizeof stranger);
    int status;
    pdc_ref r = pdc_put(g_c, PDC_REFS(&stranger, 1), &status);
    cr_assert_eq(status, PDC_EINVAL);
    cr_assert(strstr(pdc_last_error(g_c), "not one of this process's"), "%s", pdc_last_error(g_c));
    pdc_ref_release(g_c, r);
}

Test(nested_refs, ten_thousand_references_in_one_list) {
    enum { N = 10000 };
    pdc_ref list = pdc_call(g_c, fn("put_list"), PDC_I64(N), PDC_I64(0));
    pdc_object o;
    cr_assert_eq(pdc_get(g_c, list, &o, T_TIMEOUT_MS), PDC_OK, "%s", pdc_last_error(g_c));
    cr_assert_eq(pdc_object_nrefs(&o), N);
    int64_t sum = 0;
    for (size_t i = 0; i < N; i += 997) {
        pdc_ref r = pdc_object_ref(g_c, &o, i, NULL);
        int64_t v = -1;
        cr_assert_eq(pdc_get_i64(g_c, r, &v, T_TIMEOUT_MS), PDC_OK, "%s", pdc_last_error(g_c));
        sum += v - (int64_t) i;
        pdc_ref_release(g_c, r);
    }
    cr_assert_eq(sum, 0, "each reference holds its own index");
    pdc_object_release(g_c, &o);
    pdc_ref_release(g_c, list);
}

Test(nested_refs, a_dead_owners_references_read_as_owner_died) {
    /* Object 0 of the list holds its owner's pid (pid_list). */
    pdc_ref list = pdc_call(g_c, fn("pid_list"), PDC_I64(3));
    pdc_object o;
    cr_assert_eq(pdc_get(g_c, list, &o, T_TIMEOUT_MS), PDC_OK, "%s", pdc_last_error(g_c));
    pdc_ref first = pdc_object_ref(g_c, &o, 0, NULL), second = pdc_object_ref(g_c, &o, 1, NULL);
    pdc_object_release(g_c, &o);
    pdc_ref_release(g_c, list);
    int64_t pid = 0, v = 0;
    cr_assert_eq(pdc_get_i64(g_c, first, &pid, T_TIMEOUT_MS), PDC_OK, "%s", pdc_last_error(g_c));
    cr_assert_gt(pid, 0);
    /* A list of the driver's holding a borrowed reference, for a task. */
    pdc_ref again = s_put(PDC_REFS(&second, 1));
    cr_assert_eq(kill((pid_t) pid, SIGKILL), 0, "kill the owner %lld", (long long) pid);
    double start = now_ms();
    int rc = pdc_get_i64(g_c, second, &v, T_TIMEOUT_MS);
    cr_assert_eq(rc, PDC_EOWNERDIED, "%s: %s", pdc_status_name(rc), pdc_last_error(g_c));
    cr_assert(strstr(pdc_last_error(g_c), "owner") && strstr(pdc_last_error(g_c), "gone"), "%s",
              pdc_last_error(g_c));
    cr_assert_eq(pdc_get_i64(g_c, first, &v, T_TIMEOUT_MS), PDC_EOWNERDIED,
                 "one read before the death reads as the owner's death too");
    cr_assert_lt(now_ms() - start, 5000, "the borrower learned of it within 5 s");
    /* Tasks: one given the borrowed reference as an argument fails
       without running; one that borrows it from a list reads the death. */
    pdc_ref direct = pdc_call(g_c, fn("add"), PDC_REF(second), PDC_I64(1));
    rc = pdc_get_i64(g_c, direct, &v, T_TIMEOUT_MS);
    cr_assert_eq(rc, PDC_EOWNERDIED, "a task's argument: %s: %s", pdc_status_name(rc),
                 pdc_last_error(g_c));
    pdc_ref summed = pdc_call(g_c, fn("sum_list"), PDC_REF(again));
    rc = pdc_get_i64(g_c, summed, &v, T_TIMEOUT_MS);
    cr_assert(rc != PDC_OK && strstr(pdc_last_error(g_c), "PDC_EOWNERDIED"),
              "a task borrowing from the dead owner: %s: %s", pdc_status_name(rc),
              pdc_last_error(g_c));
    cr_assert_lt(now_ms() - start, 10000, "the tasks learned of it within 10 s");
    pdc_ref_release(g_c, direct);
    pdc_ref_release(g_c, summed);
    pdc_ref_release(g_c, again);
    pdc_ref_release(g_c, first);
    pdc_ref_release(g_c, second);
}
