/*  test_iso_c: pdc.h as a strict ISO C11 program uses it.

    Built with -std=c11 -pedantic-errors -Wall -Wextra -Werror (see
    tests/meson.build), against the public libpdc.so only.  It calls every
    variadic macro of pdc.h with no arguments and with some, on a real
    embedded cluster: noop() and add(a, b) of libpdc_test_tasks.so
    (PDC_TEST_LIB), and its Counter actor created without constructor
    arguments.  Before C23 a variadic macro given nothing for its "..." is
    an error under -pedantic-errors, so compiling this file is half the
    test; running it is the other half.  Prints what it checked and exits
    non-zero on the first wrong result. */
#include <pdc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_TIMEOUT_MS 30000

static int s_failed;

static void s_check(int ok, const char *what, pdc_client *c) {
    printf("%s: %s\n", ok ? "ok" : "FAIL", what);
    if (!ok) {
        fprintf(stderr, "  last error: %s\n", pdc_last_error(c));
        s_failed = 1;
    }
}

/* A method-less class: PDC_ACTOR_CLASS with nothing after the destructor
   must compile too (it is never created). */
static void *s_empty_new(pdc_task *t) {
    (void) t;
    return NULL;
}
static void s_empty_free(void *state) {
    (void) state;
}
PDC_ACTOR_CLASS(IsoEmpty, s_empty_new, s_empty_free);

int main(void) {
    const char *lib = getenv("PDC_TEST_LIB");
    if (!lib || !*lib) {
        fprintf(stderr, "test_iso_c: PDC_TEST_LIB is not set: run it through meson test\n");
        return 1;
    }
    pdc_client *c = pdc_init(NULL);
    if (!c) {
        fprintf(stderr, "test_iso_c: pdc_init(NULL) could not start an embedded cluster\n");
        return 1;
    }
    pdc_fn noop = pdc_function(c, lib, "noop");
    pdc_fn add = pdc_function(c, lib, "add");

    pdc_object o;
    pdc_ref r = pdc_call(c, noop);
    int rc = pdc_get(c, r, &o, S_TIMEOUT_MS);
    s_check(rc == PDC_OK && o.type == PDC_T_BYTES && o.size == 2 && !memcmp(o.data, "ok", 2),
            "pdc_call(c, noop) with no arguments returns \"ok\"", c);
    pdc_object_release(c, &o);
    pdc_ref_release(c, r);

    int64_t v = 0;
    r = pdc_call(c, add, PDC_I64(2), PDC_I64(40));
    rc = pdc_get_i64(c, r, &v, S_TIMEOUT_MS);
    s_check(rc == PDC_OK && v == 42, "pdc_call(c, add, PDC_I64(2), PDC_I64(40)) returns 42", c);
    pdc_ref_release(c, r);

    pdc_opts opts = {0};
    opts.name = "iso-noop";
    r = pdc_call_opts(c, noop, &opts);
    rc = pdc_get(c, r, &o, S_TIMEOUT_MS);
    s_check(rc == PDC_OK && o.type == PDC_T_BYTES,
            "pdc_call_opts(c, noop, &opts) with no arguments", c);
    pdc_object_release(c, &o);
    pdc_ref_release(c, r);

    r = pdc_call_opts(c, add, &opts, PDC_I64(-1), PDC_I64(1));
    rc = pdc_get_i64(c, r, &v, S_TIMEOUT_MS);
    s_check(rc == PDC_OK && v == 0,
            "pdc_call_opts(c, add, &opts, PDC_I64(-1), PDC_I64(1)) returns 0", c);
    pdc_ref_release(c, r);

    pdc_actor *a = pdc_actor_create(c, lib, "Counter", NULL);
    s_check(a && pdc_actor_ready(c, a, S_TIMEOUT_MS) == PDC_OK,
            "pdc_actor_create(c, lib, \"Counter\", NULL) with no constructor arguments", c);
    r = pdc_actor_call(c, a, "incr", PDC_I64(5));
    rc = pdc_get_i64(c, r, &v, S_TIMEOUT_MS);
    s_check(rc == PDC_OK && v == 5, "pdc_actor_call(c, a, \"incr\", PDC_I64(5)) returns 5", c);
    pdc_ref_release(c, r);
    r = pdc_actor_call(c, a, "get");
    rc = pdc_get_i64(c, r, &v, S_TIMEOUT_MS);
    s_check(rc == PDC_OK && v == 5, "pdc_actor_call(c, a, \"get\") with no arguments returns 5", c);
    pdc_ref_release(c, r);
    pdc_actor_release(c, a);

    pdc_actor *b = pdc_actor_create(c, lib, "Counter", NULL, PDC_I64(10));
    r = pdc_actor_call(c, b, "get");
    rc = pdc_get_i64(c, r, &v, S_TIMEOUT_MS);
    s_check(rc == PDC_OK && v == 10,
            "pdc_actor_create(..., NULL, PDC_I64(10)), then get returns 10", c);
    pdc_ref_release(c, r);
    pdc_actor_release(c, b);

    s_check(IsoEmpty.methods[0].name == NULL && IsoEmpty.destroy == s_empty_free,
            "PDC_ACTOR_CLASS with no methods", c);

    pdc_shutdown(&c);
    return s_failed;
}
