"""pi.py: Monte Carlo estimate of pi with Python remote functions.

Each task draws `--samples` points in the unit square with numpy (its own
seed, so the run is reproducible) and returns how many fell inside the
quarter circle; the driver submits `--tasks` of them at once, gathers the
counts with pdc.get and prints the estimate with its standard error:

    python examples/python/pi.py [--tasks 64] [--samples 1000000] [--address ADDR]

Without --address (and PDC_ADDRESS unset) it starts the embedded local
cluster; otherwise it joins that one.  Exits 0 when the estimate is within
five standard errors of pi.
"""

import argparse
import math
import sys
import time

import numpy as np

import pdc


@pdc.remote
def inside_quarter_circle(seed, samples):
    rng = np.random.default_rng(seed)
    x = rng.random(samples)
    y = rng.random(samples)
    return int(np.count_nonzero(x * x + y * y <= 1.0))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=64, help="tasks (default 64)")
    ap.add_argument("--samples", type=int, default=1_000_000, help="points per task")
    ap.add_argument("--address", default=None, help="a running cluster's head (tcp://HOST:PORT)")
    args = ap.parse_args()
    if args.tasks <= 0 or args.samples <= 0:
        sys.exit("pi.py: --tasks and --samples must be positive")
    with pdc.init(args.address):
        t0 = time.perf_counter()
        refs = [inside_quarter_circle.remote(seed, args.samples) for seed in range(args.tasks)]
        inside = sum(pdc.get(refs, timeout=600))
        seconds = time.perf_counter() - t0
    n = args.tasks * args.samples
    p = inside / n
    estimate = 4 * p
    stderr = 4 * math.sqrt(p * (1 - p) / n)
    print("pi ~ %.6f +- %.6f from %d points in %d Python tasks, %.2f s"
          % (estimate, stderr, n, args.tasks, seconds))
    return 0 if abs(estimate - math.pi) <= 5 * stderr else 1


if __name__ == "__main__":
    sys.exit(main())
