/*  paramserver.c: data-parallel linear regression with a parameter-server
    actor.

    Shows an actor (a stateful worker) and tasks working together, with
    every intermediate value flowing between them as object references.
    The driver makes a synthetic data set, y = X w* + noise (X: N×D
    standard normal, so the features are already standardised; w*
    standard normal; noise Gaussian with sigma 0.1), cuts the rows into S
    shards and stores each shard, X rows and y together, with pdc_put (a
    default shard is 1.3 MB, over the 100 KiB inline limit, so it is
    written once into the node's shared-memory store).  It creates one
    ParameterServer actor holding the weights w (starting at zero) and
    runs, for each iteration,

        w     = ps.get_weights()                          an actor call
        g[s]  = gradient(ref shard[s], ref w)             s = 0 .. S-1
        w'    = ps.apply_gradients(ref g[0], ..., ref g[S-1])

    The weights go from the actor to the gradient tasks, and the
    gradients from the tasks to the actor, as references: the driver
    never reads them, and does not wait between iterations.  An actor runs
    one caller's calls in the order they were made, so get_weights of
    iteration k+1 sees the weights apply_gradients of iteration k left.
    Every 10 iterations the driver computes the loss over all shards with
    loss(ref shard[s], ref w') tasks and prints

        iter 10  loss 0.37311

    At the end it gets the final weights and prints

        final loss 0.0100 (noise floor 0.0100), |w - w*| = 0.0041: converged

    exiting 0 only when the final loss is within 10% of the noise floor
    sigma^2 = 0.01 (the best any w can do) and w is within 0.05 of w*.
    The actor and tasks are in paramserver_tasks.c
    (libpdc_example_paramserver.so, found next to this program or given
    with --lib PATH).
*/
#include <pdc.h>

#include "example_util.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIBRARY_FILE   "libpdc_example_paramserver.so"
#define DEFAULT_ROWS   20000
#define DEFAULT_DIMS   32
#define DEFAULT_SHARDS 4
#define DEFAULT_ITERS  100
#define DEFAULT_LR     0.1
#define DEFAULT_SEED   1
#define MAX_ROWS       (INT64_C(1) << 24)
#define MAX_DIMS       1024
#define MAX_SHARDS     256
#define MAX_ITERS      100000
/* The most doubles of X the driver makes: 2 GiB. */
#define MAX_CELLS  (INT64_C(1) << 28)
#define LOSS_EVERY 10
/* The noise of y and the convergence test. */
#define NOISE_SIGMA        0.1
#define LOSS_TOLERANCE     0.10 /* relative to the noise floor sigma^2 */
#define MAX_WEIGHT_ERROR   0.05 /* |w - w*|                            */
#define SHARD_HEADER_BYTES (2 * sizeof(int64_t))

typedef struct {
    int64_t rows;
    int64_t dims;
    int64_t shards;
    int64_t iters;
    double lr;
    int64_t seed;
    int64_t timeout_s;
    const char *library; /* --lib, or NULL for the default */
} ps_config;

static void s_usage(FILE *out, const char *prog) {
    fprintf(out,
            "usage: %s [options]\n"
            "Train a linear regression model by data-parallel gradient "
            "descent:\n"
            "gradient tasks on data shards, weights kept by a "
            "ParameterServer actor.\n"
            "\n"
            "  --rows N        rows of the synthetic data set (default %d)\n"
            "  --dims D        features per row (default %d)\n"
            "  --shards S      data shards, one gradient task each per "
            "iteration\n"
            "                  (default %d)\n"
            "  --iters K       gradient descent iterations (default %d)\n"
            "  --lr RATE       learning rate (default %g)\n"
            "  --seed S        seed of the data set (default %d)\n",
            prog, DEFAULT_ROWS, DEFAULT_DIMS, DEFAULT_SHARDS, DEFAULT_ITERS, DEFAULT_LR,
            DEFAULT_SEED);
    example_usage_options(out, LIBRARY_FILE);
    fprintf(out,
            "\nExits 0 when the final loss is within %g%% of the noise "
            "floor %g and\n"
            "|w - w*| < %g.\n",
            LOSS_TOLERANCE * 100, NOISE_SIGMA * NOISE_SIGMA, MAX_WEIGHT_ERROR);
}

/* Parse option `name`'s value as a number in (0, max]. */
static int s_parse_positive(const char *name, const char *text, double max, double *out) {
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end != '\0' || !(v > 0.0 && v <= max)) {
        fprintf(stderr,
                "error: --%s wants a number above 0 and at most %g, got "
                "'%s'\n",
                name, max, text);
        return -1;
    }
    *out = v;
    return 0;
}

/* Fill cfg from the command line.  Returns 0 to run, 1 when --help was
   printed, -1 on a usage error (already reported). */
static int s_parse_args(int argc, char **argv, ps_config *cfg) {
    static const struct option options[] = {
        {"rows", required_argument, NULL, 'r'},
        {"dims", required_argument, NULL, 'd'},
        {"shards", required_argument, NULL, 's'},
        {"iters", required_argument, NULL, 'i'},
        {"lr", required_argument, NULL, 'L'},
        {"seed", required_argument, NULL, 'S'},
        EXAMPLE_OPTIONS,
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        int rc = 0;
        switch (opt) {
        case 'r':
            rc = example_parse_i64("rows", optarg, 1, MAX_ROWS, &cfg->rows);
            break;
        case 'd':
            rc = example_parse_i64("dims", optarg, 1, MAX_DIMS, &cfg->dims);
            break;
        case 's':
            rc = example_parse_i64("shards", optarg, 1, MAX_SHARDS, &cfg->shards);
            break;
        case 'i':
            rc = example_parse_i64("iters", optarg, 1, MAX_ITERS, &cfg->iters);
            break;
        case 'L':
            rc = s_parse_positive("lr", optarg, 10.0, &cfg->lr);
            break;
        case 'S':
            rc = example_parse_i64("seed", optarg, 0, INT64_MAX, &cfg->seed);
            break;
        default:
            rc = example_option(opt, argv, s_usage, &cfg->timeout_s, &cfg->library);
            break;
        }
        if (rc != 0)
            return rc;
    }
    if (example_no_operands(argc, argv, s_usage))
        return -1;
    if (cfg->shards > cfg->rows) {
        fprintf(stderr, "error: --shards %" PRId64 " is more than --rows %" PRId64 "\n",
                cfg->shards, cfg->rows);
        return -1;
    }
    if (cfg->rows * cfg->dims > MAX_CELLS) {
        fprintf(stderr, "error: --rows × --dims = %" PRId64 " is over %" PRId64 "\n",
                cfg->rows * cfg->dims, MAX_CELLS);
        return -1;
    }
    return 0;
}

/* A standard normal variate by Box-Muller, from two uniforms in (0, 1]. */
static double s_gaussian(uint64_t *state) {
    double u1 = (double) ((example_splitmix64(state) >> 11) + 1) * 0x1.0p-53;
    double u2 = (double) (example_splitmix64(state) >> 11) * 0x1.0p-53;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* Rows of shard s when `rows` are split into `shards` nearly equal parts. */
static size_t s_shard_rows(const ps_config *cfg, size_t s) {
    size_t rows = (size_t) cfg->rows, shards = (size_t) cfg->shards;
    return rows / shards + (s < rows % shards ? 1 : 0);
}

/* Make the data set shard by shard and store each one with pdc_put into
   shard_refs[], counting the references taken in *count.  A shard is a
   header (int64 rows, int64 dims), X (rows×dims, row-major) and y.
   w_true (dims doubles) is filled first, from the same stream.  Returns
   0, or -1 after printing why. */
static int s_put_shards(pdc_client *client, const ps_config *cfg, double *w_true,
                        pdc_ref *shard_refs, size_t *count) {
    size_t dims = (size_t) cfg->dims, shards = (size_t) cfg->shards;
    uint64_t state = (uint64_t) cfg->seed;
    for (size_t j = 0; j < dims; j++)
        w_true[j] = s_gaussian(&state);

    size_t max_rows = s_shard_rows(cfg, 0); /* shard 0 is the largest */
    size_t max_bytes = SHARD_HEADER_BYTES + max_rows * (dims + 1) * sizeof(double);
    char *buf = malloc(max_bytes);
    if (!buf) {
        fprintf(stderr, "error: out of memory for a %zu-byte shard\n", max_bytes);
        return -1;
    }
    int rc = 0;
    for (size_t s = 0; s < shards && rc == 0; s++) {
        size_t rows = s_shard_rows(cfg, s);
        size_t bytes = SHARD_HEADER_BYTES + rows * (dims + 1) * sizeof(double);
        int64_t header[2] = {(int64_t) rows, (int64_t) dims};
        memcpy(buf, header, sizeof header);
        double *x = (double *) (buf + SHARD_HEADER_BYTES); /* malloc'd: aligned */
        double *y = x + rows * dims;
        for (size_t i = 0; i < rows; i++) {
            double dot = 0.0;
            for (size_t j = 0; j < dims; j++) {
                double v = s_gaussian(&state);
                x[i * dims + j] = v;
                dot += v * w_true[j];
            }
            y[i] = dot + NOISE_SIGMA * s_gaussian(&state);
        }
        int status = PDC_OK;
        /* pdc_put copies the bytes, so the buffer is reused. */
        shard_refs[*count] = pdc_put(client, PDC_BYTES(buf, bytes), &status);
        (*count)++; /* the reference is held even when it holds an error */
        if (status != PDC_OK) {
            fprintf(stderr, "error: pdc_put of shard %zu (%zu bytes): %s: %s\n", s, bytes,
                    pdc_status_name(status), pdc_last_error(client));
            rc = -1;
        }
    }
    free(buf);
    return rc;
}

/* Format a loss or distance with `decimals` decimals, or in exponent form
   when it is too large for that to read well (a diverging run). */
static const char *s_fmt(char *buf, size_t size, double v, int decimals) {
    if (fabs(v) < 1e6)
        snprintf(buf, size, "%.*f", decimals, v);
    else
        snprintf(buf, size, "%.*e", decimals - 1, v);
    return buf;
}

/* The mean squared error over all shards of the weights in `weights`
   (a reference), from one loss task per shard.  Returns 0 with *out set,
   or -1 after printing why. */
static int s_total_loss(pdc_client *client, pdc_fn loss_fn, const ps_config *cfg,
                        const pdc_ref *shard_refs, pdc_ref weights, double deadline, double *out) {
    size_t shards = (size_t) cfg->shards;
    pdc_ref *losses = calloc(shards, sizeof *losses);
    if (!losses) {
        fprintf(stderr, "error: out of memory for %zu references\n", shards);
        return -1;
    }
    for (size_t s = 0; s < shards; s++)
        losses[s] = pdc_call(client, loss_fn, PDC_REF(shard_refs[s]), PDC_REF(weights));
    int rc = 0;
    double sum = 0.0;
    for (size_t s = 0; s < shards; s++) {
        double mse = 0.0;
        int status =
            rc == 0 ? pdc_get_f64(client, losses[s], &mse, example_ms_left(deadline)) : PDC_OK;
        if (rc == 0 && status != PDC_OK) {
            fprintf(stderr, "error: loss of shard %zu: %s: %s%s\n", s, pdc_status_name(status),
                    pdc_last_error(client), status == PDC_ETIMEOUT ? " (raise --timeout?)" : "");
            rc = -1;
        }
        /* Weighted by rows: the mean over all rows, not over shards. */
        sum += mse * (double) s_shard_rows(cfg, s);
        pdc_ref_release(client, losses[s]);
    }
    free(losses);
    *out = sum / (double) cfg->rows;
    return rc;
}

/* Read the weights object `ref` (dims doubles) into w. */
static int s_get_weights(pdc_client *client, pdc_ref ref, double *w, size_t dims, double deadline) {
    pdc_object obj;
    if (example_get(client, ref, &obj, deadline, "final weights"))
        return -1;
    int ok = obj.type == PDC_T_BYTES && obj.size == dims * sizeof(double);
    if (ok)
        memcpy(w, obj.data, obj.size); /* obj.data need not be aligned */
    else
        fprintf(stderr,
                "error: final weights: expected %zu bytes, got type %d with "
                "%zu bytes\n",
                dims * sizeof(double), (int) obj.type, obj.size);
    pdc_object_release(client, &obj);
    return ok ? 0 : -1;
}

/* The training loop: cfg->iters rounds of get_weights, one gradient task
   per shard, apply_gradients, with the loss printed every LOSS_EVERY
   iterations.  On success *final_weights holds the reference of the last
   apply_gradients result and *final_loss its loss.  Returns 0, or -1
   after printing why. */
static int s_train(pdc_client *client, const char *library, const ps_config *cfg, pdc_actor *ps,
                   const pdc_ref *shard_refs, double deadline, pdc_ref *final_weights,
                   double *final_loss) {
    size_t shards = (size_t) cfg->shards;
    pdc_fn gradient_fn = pdc_function(client, library, "gradient");
    pdc_fn loss_fn = pdc_function(client, library, "loss");
    pdc_ref *grads = calloc(shards, sizeof *grads);
    pdc_value *apply_args = calloc(shards, sizeof *apply_args);
    if (!grads || !apply_args) {
        fprintf(stderr, "error: out of memory for %zu gradients\n", shards);
        free(grads);
        free(apply_args);
        return -1;
    }
    int rc = 0;
    for (int64_t it = 1; it <= cfg->iters && rc == 0; it++) {
        pdc_ref weights = pdc_actor_call_args(client, ps, "get_weights", NULL, 0);
        for (size_t s = 0; s < shards; s++) {
            grads[s] = pdc_call(client, gradient_fn, PDC_REF(shard_refs[s]), PDC_REF(weights));
            apply_args[s] = PDC_REF(grads[s]);
        }
        pdc_ref updated = pdc_actor_call_args(client, ps, "apply_gradients", apply_args, shards);
        /* The calls hold their own references to their arguments. */
        pdc_ref_release(client, weights);
        for (size_t s = 0; s < shards; s++)
            pdc_ref_release(client, grads[s]);

        /* No wait here: the next get_weights is queued behind this
           apply_gradients (one caller's calls run in submission order,
           even when an earlier call still waits for its arguments), so
           the whole run is submitted without blocking. */

        if (it % LOSS_EVERY == 0 || it == cfg->iters) {
            double loss = 0.0;
            rc = s_total_loss(client, loss_fn, cfg, shard_refs, updated, deadline, &loss);
            if (rc == 0) {
                char text[64];
                printf("iter %" PRId64 "  loss %s\n", it, s_fmt(text, sizeof text, loss, 5));
                fflush(stdout);
                *final_loss = loss;
            }
        }
        if (it == cfg->iters && rc == 0)
            *final_weights = updated; /* the caller releases it */
        else
            pdc_ref_release(client, updated);
    }
    free(grads);
    free(apply_args);
    return rc;
}

/* Make the data, create the actor, train and check.  shard_refs has room
   for cfg->shards references; *shard_count counts those taken, and *ps
   is the actor once created: the caller releases both.  w_true and w
   hold cfg->dims doubles.  Returns 0 when converged, else -1 after
   printing why. */
static int s_train_and_check(pdc_client *client, const char *library, const ps_config *cfg,
                             double *w_true, double *w, pdc_ref *shard_refs, size_t *shard_count,
                             pdc_actor **ps) {
    size_t dims = (size_t) cfg->dims;
    size_t shard_bytes = SHARD_HEADER_BYTES + s_shard_rows(cfg, 0) * (dims + 1) * sizeof(double);
    printf("linear regression: %" PRId64 " rows × %" PRId64 " dims in %" PRId64
           " shards of %.2f MB, lr %g, %" PRId64 " iterations\n",
           cfg->rows, cfg->dims, cfg->shards, (double) shard_bytes / 1e6, cfg->lr, cfg->iters);
    fflush(stdout);

    double deadline = example_now() + (double) cfg->timeout_s;
    if (s_put_shards(client, cfg, w_true, shard_refs, shard_count))
        return -1;

    *ps = pdc_actor_create(client, library, "ParameterServer", NULL, PDC_I64(cfg->dims),
                           PDC_F64(cfg->lr));
    if (!*ps) {
        fprintf(stderr, "error: creating the ParameterServer actor: %s\n", pdc_last_error(client));
        return -1;
    }
    int status = pdc_actor_ready(client, *ps, example_ms_left(deadline));
    if (status != PDC_OK) {
        fprintf(stderr, "error: the ParameterServer actor: %s: %s\n", pdc_status_name(status),
                pdc_last_error(client));
        return -1;
    }

    double start = example_now();
    pdc_ref final_weights;
    double final_loss = 0.0;
    if (s_train(client, library, cfg, *ps, shard_refs, deadline, &final_weights, &final_loss))
        return -1;
    int got = s_get_weights(client, final_weights, w, dims, deadline);
    pdc_ref_release(client, final_weights);
    if (got != 0)
        return -1;
    double elapsed = example_now() - start;

    double dist2 = 0.0;
    for (size_t j = 0; j < dims; j++)
        dist2 += (w[j] - w_true[j]) * (w[j] - w_true[j]);
    double dist = sqrt(dist2);
    double noise_floor = NOISE_SIGMA * NOISE_SIGMA;
    int loss_ok = fabs(final_loss - noise_floor) <= LOSS_TOLERANCE * noise_floor;
    int weights_ok = dist < MAX_WEIGHT_ERROR; /* false for NaN too */
    int64_t calls =
        cfg->iters * (cfg->shards + 2) + (cfg->iters + LOSS_EVERY - 1) / LOSS_EVERY * cfg->shards;
    printf("%" PRId64 " iterations in %.2f s (%.1f ms each; %" PRId64 " tasks and actor calls)\n",
           cfg->iters, elapsed, elapsed * 1e3 / (double) cfg->iters, calls);
    char loss_text[64], dist_text[64];
    s_fmt(loss_text, sizeof loss_text, final_loss, 4);
    s_fmt(dist_text, sizeof dist_text, dist, 4);
    printf("final loss %s (noise floor %.4f), |w - w*| = %s: %s\n", loss_text, noise_floor,
           dist_text, loss_ok && weights_ok ? "converged" : "not converged");
    fflush(stdout);
    if (!loss_ok)
        fprintf(stderr,
                "error: the final loss %s is not within %g%% of the noise "
                "floor %g (more --iters or another --lr?)\n",
                loss_text, LOSS_TOLERANCE * 100, noise_floor);
    if (!weights_ok)
        fprintf(stderr,
                "error: |w - w*| = %s is not below %g (more --iters or "
                "--rows?)\n",
                dist_text, MAX_WEIGHT_ERROR);
    return loss_ok && weights_ok ? 0 : -1;
}

/* Allocate, run, stop the actor, release everything; the exit code. */
static int s_run(pdc_client *client, const char *library, const ps_config *cfg) {
    size_t dims = (size_t) cfg->dims, shards = (size_t) cfg->shards;
    double *w_true = calloc(dims, sizeof *w_true);
    double *w = calloc(dims, sizeof *w);
    pdc_ref *shard_refs = calloc(shards, sizeof *shard_refs);
    size_t shard_count = 0;
    pdc_actor *ps = NULL;
    int rc = -1;
    if (w_true && w && shard_refs)
        rc = s_train_and_check(client, library, cfg, w_true, w, shard_refs, &shard_count, &ps);
    else
        fprintf(stderr, "error: out of memory for %zu weights\n", dims);
    if (ps) {
        /* Stop the actor (its destructor runs); every call has finished.
           PDC_EACTORDIED means it had died already, which a failed call
           has reported. */
        int killed = pdc_actor_kill(client, ps);
        if (killed != PDC_OK && killed != PDC_EACTORDIED) {
            fprintf(stderr, "error: killing the actor: %s: %s\n", pdc_status_name(killed),
                    pdc_last_error(client));
            rc = -1;
        }
        pdc_actor_release(client, ps);
    }
    for (size_t s = 0; s < shard_count; s++)
        pdc_ref_release(client, shard_refs[s]);
    free(shard_refs);
    free(w);
    free(w_true);
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    ps_config cfg = {
        .rows = DEFAULT_ROWS,
        .dims = DEFAULT_DIMS,
        .shards = DEFAULT_SHARDS,
        .iters = DEFAULT_ITERS,
        .lr = DEFAULT_LR,
        .seed = DEFAULT_SEED,
        .timeout_s = EXAMPLE_DEFAULT_TIMEOUT_S,
    };
    int parsed = s_parse_args(argc, argv, &cfg);
    if (parsed != 0)
        return parsed > 0 ? 0 : 2;

    char *library = example_find_library(cfg.library, LIBRARY_FILE);
    if (!library)
        return 1;
    pdc_client *client = pdc_init(NULL);
    if (!client) {
        fprintf(stderr, "error: could not start a local pdc cluster "
                        "(the reason is printed above)\n");
        free(library);
        return 1;
    }
    int exit_code = s_run(client, library, &cfg);
    pdc_shutdown(&client);
    free(library);
    return exit_code;
}
