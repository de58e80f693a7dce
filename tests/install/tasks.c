/*  tasks.c: the task library of the install test (test_install.sh),
    compiled against an installed pdc with pkg-config alone:

        cc -shared -fPIC tasks.c -o libtasks.so $(pkg-config --cflags --libs pdc)
*/
#include <pdc.h>

/* answer(): 42, from a call with no arguments. */
PDC_FUNCTION(answer) {
    return pdc_return_i64(t, 42);
}

/* add(a, b): a + b. */
PDC_FUNCTION(add) {
    return pdc_return_i64(t, pdc_arg_i64(t, 0) + pdc_arg_i64(t, 1));
}
