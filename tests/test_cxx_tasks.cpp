/*  test_cxx_tasks: a task library written in C++, for test_cxx.

    PDC_FUNCTION and PDC_ACTOR_CLASS give C linkage in C++, so a worker
    finds cxx_answer and CxxTwice by their plain names, as it finds C
    ones.  Built with -std=c++11 -pedantic-errors -Werror like test_cxx. */
#include <pdc.h>

#include <cstdlib>

namespace {

void *twice_new(pdc_task *t) {
    int64_t *base = static_cast<int64_t *>(std::malloc(sizeof *base));
    if (base)
        *base = pdc_arg_count(t) ? pdc_arg_i64(t, 0) : 0;
    return base;
}
void twice_free(void *state) {
    std::free(state);
}
/* twice(k): base + 2k. */
PDC_METHOD(twice) {
    return pdc_return_i64(t, *static_cast<int64_t *>(state) + 2 * pdc_arg_i64(t, 0));
}
/* base(): the constructor's argument (0 without one). */
PDC_METHOD(base) {
    return pdc_return_i64(t, *static_cast<int64_t *>(state));
}

} // namespace

/* cxx_answer(): 42, from a call with no arguments. */
PDC_FUNCTION(cxx_answer) {
    return pdc_return_i64(t, 42);
}

/* cxx_sum(values...): the sum of its i64 arguments, however many. */
PDC_FUNCTION(cxx_sum) {
    int64_t sum = 0;
    for (size_t i = 0; i < pdc_arg_count(t); i++)
        sum += pdc_arg_i64(t, i);
    return pdc_return_i64(t, sum);
}

PDC_ACTOR_CLASS(CxxTwice, twice_new, twice_free, PDC_METHOD_ENTRY(twice), PDC_METHOD_ENTRY(base));
/* A class without methods compiles too (never created). */
PDC_ACTOR_CLASS(CxxEmpty, twice_new, twice_free);
