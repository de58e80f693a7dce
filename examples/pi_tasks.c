/*  pi_tasks.c: the remote function of the Monte Carlo pi example.

    Compiled into libpdc_example_pi.so, which pdc workers dlopen.  The one
    task, sample_pi(seed, samples), throws `samples` random points into the
    unit square and returns how many fell inside the quarter circle of
    radius 1, as an i64.  The driver (pi.c) runs many of these with
    different seeds and adds the counts up: hits / total ≈ pi / 4.

    Each task has its own random stream, derived from its seed with
    splitmix64 (example_util.h), so tasks are independent and a run is
    reproducible from its seeds.  rand() would share hidden state inside
    a worker process that runs several tasks in turn, and is not good
    enough anyway.
*/
#include <pdc.h>

#include "example_util.h"

#include <stdint.h>

/* A uniform double in [0, 1) from the top 53 bits of the next output. */
static double s_uniform(uint64_t *state) {
    return (double) (example_splitmix64(state) >> 11) * 0x1.0p-53;
}

/* sample_pi(seed: i64, samples: i64) -> i64 hits inside the circle. */
PDC_FUNCTION(sample_pi) {
    if (pdc_arg_count(t) != 2)
        return pdc_fail(t,
                        "sample_pi takes 2 arguments (seed, samples), "
                        "got %zu",
                        pdc_arg_count(t));
    int64_t seed = pdc_arg_i64(t, 0);
    int64_t samples = pdc_arg_i64(t, 1);
    if (samples < 0)
        return pdc_fail(t, "samples must be >= 0, got %lld", (long long) samples);

    /* Scramble the seed once, so that seeds 1, 2, 3 ... start far apart. */
    uint64_t state = (uint64_t) seed;
    state = example_splitmix64(&state);

    int64_t hits = 0;
    for (int64_t i = 0; i < samples; i++) {
        double x = s_uniform(&state);
        double y = s_uniform(&state);
        if (x * x + y * y < 1.0)
            hits++;
    }
    return pdc_return_i64(t, hits);
}
