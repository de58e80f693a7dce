/*  test_cxx: pdc.h as a C++11 program uses it.

    Built with -std=c++11 -pedantic-errors -Wall -Wextra -Werror (see
    tests/meson.build), against the public libpdc.so only.  C++ has no
    compound literals or designated initialisers, so pdc.h gives it inline
    functions and templates under the same macro names; this program calls
    each of them, with no arguments and with some, on a real embedded
    cluster: noop() and add(a, b) of libpdc_test_tasks.so (PDC_TEST_LIB)
    and its Counter actor; then the remote functions and actor class of
    libpdc_test_cxx_tasks.so (test_cxx_tasks.cpp, its argument), written
    in C++, which workers must find by their plain names.  Prints what it
    checked and exits non-zero if anything was wrong. */
#include <pdc.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

const int64_t timeout_ms = 30000;
bool failed = false;

void check(bool ok, const char *what, pdc_client *c) {
    std::printf("%s: %s\n", ok ? "ok" : "FAIL", what);
    if (!ok) {
        std::fprintf(stderr, "  last error: %s\n", c ? pdc_last_error(c) : "");
        failed = true;
    }
}

int64_t get_i64(pdc_client *c, pdc_ref r) {
    int64_t v = -1;
    if (pdc_get_i64(c, r, &v, timeout_ms) != PDC_OK)
        v = -1;
    pdc_ref_release(c, r);
    return v;
}

} // namespace

int main(int argc, char **argv) {
    const char *lib = std::getenv("PDC_TEST_LIB");
    if (!lib || !*lib || argc != 2) {
        std::fprintf(stderr, "usage: PDC_TEST_LIB=libpdc_test_tasks.so test_cxx "
                             "libpdc_test_cxx_tasks.so (run it through meson test)\n");
        return 1;
    }
    const char *cxx_lib = argv[1];

    pdc_client *c = pdc_init(NULL);
    if (!c) {
        std::fprintf(stderr, "test_cxx: pdc_init(NULL) could not start an embedded cluster\n");
        return 1;
    }
    pdc_fn noop = pdc_function(c, lib, "noop");
    pdc_fn add = pdc_function(c, lib, "add");

    pdc_object o;
    pdc_ref r = pdc_call(c, noop);
    int rc = pdc_get(c, r, &o, timeout_ms);
    check(rc == PDC_OK && o.type == PDC_T_BYTES && o.size == 2 && !std::memcmp(o.data, "ok", 2),
          "pdc_call(c, noop) with no arguments returns \"ok\"", c);
    pdc_object_release(c, &o);
    pdc_ref_release(c, r);

    int64_t v = 0;
    r = pdc_call(c, add, PDC_I64(2), PDC_I64(40));
    rc = pdc_get_i64(c, r, &v, timeout_ms);
    check(rc == PDC_OK && v == 42, "pdc_call(c, add, PDC_I64(2), PDC_I64(40)) returns 42", c);
    pdc_ref_release(c, r);

    pdc_opts opts = pdc_opts();
    opts.name = "cxx-call";
    r = pdc_call_opts(c, noop, &opts);
    rc = pdc_get(c, r, &o, timeout_ms);
    check(rc == PDC_OK && o.type == PDC_T_BYTES, "pdc_call_opts(c, noop, &opts) with no arguments",
          c);
    pdc_object_release(c, &o);
    pdc_ref_release(c, r);

    /* A reference argument, and the other value constructors. */
    int st = 0;
    pdc_ref seven = pdc_put(c, PDC_I64(7), &st);
    r = pdc_call_opts(c, add, &opts, PDC_REF(seven), PDC_I64(1));
    rc = pdc_get_i64(c, r, &v, timeout_ms);
    check(st == PDC_OK && rc == PDC_OK && v == 8,
          "pdc_call_opts(c, add, &opts, PDC_REF(put 7), PDC_I64(1)) returns 8", c);
    pdc_ref_release(c, r);
    pdc_ref_release(c, seven);
    pdc_value s = PDC_STR("text"), b = PDC_BYTES("ab", 2), n = PDC_STRN("xyz", 2), f = PDC_F64(0.5);
    check(s.type == PDC_T_STR && s.as.buf.size == 4 && b.type == PDC_T_BYTES &&
              b.as.buf.size == 2 && n.as.buf.size == 2 && f.type == PDC_T_F64 && f.as.f64 == 0.5,
          "PDC_STR, PDC_BYTES, PDC_STRN and PDC_F64 build values", c);

    pdc_actor *a = pdc_actor_create(c, lib, "Counter", NULL);
    check(a && pdc_actor_ready(c, a, timeout_ms) == PDC_OK,
          "pdc_actor_create(c, lib, \"Counter\", NULL) with no constructor arguments", c);
    r = pdc_actor_call(c, a, "incr", PDC_I64(5));
    rc = pdc_get_i64(c, r, &v, timeout_ms);
    check(rc == PDC_OK && v == 5, "pdc_actor_call(c, a, \"incr\", PDC_I64(5)) returns 5", c);
    pdc_ref_release(c, r);
    r = pdc_actor_call(c, a, "get");
    rc = pdc_get_i64(c, r, &v, timeout_ms);
    check(rc == PDC_OK && v == 5, "pdc_actor_call(c, a, \"get\") with no arguments returns 5", c);
    pdc_ref_release(c, r);

    pdc_actor *b2 = pdc_actor_create(c, lib, "Counter", NULL, PDC_I64(10));
    r = pdc_actor_call(c, b2, "get");
    rc = pdc_get_i64(c, r, &v, timeout_ms);
    check(rc == PDC_OK && v == 10, "pdc_actor_create(..., NULL, PDC_I64(10)), then get returns 10",
          c);
    pdc_ref_release(c, r);
    pdc_actor_release(c, b2);
    pdc_actor_release(c, a);

    /* Remote functions and an actor class written in C++. */
    check(get_i64(c, pdc_call(c, pdc_function(c, cxx_lib, "cxx_answer"))) == 42,
          "C++ PDC_FUNCTION cxx_answer() returns 42", c);
    check(get_i64(c, pdc_call(c, pdc_function(c, cxx_lib, "cxx_sum"), PDC_I64(1), PDC_I64(2),
                              PDC_I64(3))) == 6,
          "C++ PDC_FUNCTION cxx_sum(1, 2, 3) returns 6", c);
    pdc_actor *t = pdc_actor_create(c, cxx_lib, "CxxTwice", NULL);
    check(get_i64(c, pdc_actor_call(c, t, "twice", PDC_I64(4))) == 8,
          "C++ PDC_ACTOR_CLASS CxxTwice (no constructor arguments): twice(4) returns 8", c);
    pdc_actor_release(c, t);
    t = pdc_actor_create(c, cxx_lib, "CxxTwice", NULL, PDC_I64(100));
    check(get_i64(c, pdc_actor_call(c, t, "base")) == 100,
          "C++ PDC_ACTOR_CLASS CxxTwice(100): base() with no arguments returns 100", c);
    pdc_actor_release(c, t);

    pdc_shutdown(&c);
    return failed ? 1 : 0;
}
