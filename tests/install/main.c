/*  main.c: the driver of the install test (test_install.sh), compiled
    against an installed pdc with pkg-config alone:

        cc main.c -o main $(pkg-config --cflags --libs pdc)

    main LIBTASKS.so starts an embedded local cluster from the installed
    daemons, calls answer() and add(2, 40) of the task library and prints
    their results; the test compares the output.  Exits 1 with the reason
    on stderr if anything fails. */
#include <pdc.h>

#include <inttypes.h>
#include <stdio.h>

#define TIMEOUT_MS 30000

static int call(pdc_client *c, const char *what, pdc_ref r) {
    int64_t v;
    int rc = pdc_get_i64(c, r, &v, TIMEOUT_MS);
    pdc_ref_release(c, r);
    if (rc != PDC_OK) {
        fprintf(stderr, "main: %s failed: %s: %s\n", what, pdc_status_name(rc), pdc_last_error(c));
        return 1;
    }
    printf("%s = %" PRId64 "\n", what, v);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: main LIBTASKS.so\n");
        return 2;
    }
    pdc_client *c = pdc_init(NULL);
    if (!c)
        return 1; /* pdc_init said why */
    pdc_fn answer = pdc_function(c, argv[1], "answer");
    pdc_fn add = pdc_function(c, argv[1], "add");
    int failed = call(c, "answer()", pdc_call(c, answer));
    failed |= call(c, "add(2, 40)", pdc_call(c, add, PDC_I64(2), PDC_I64(40)));
    pdc_shutdown(&c);
    return failed;
}
