"""matmul.py: a blocked matrix multiply from Python, on pdc's C tasks.

The blocks are numpy arrays; the work is the C library of the C example
(examples/matmul_tasks.c, built as libpdc_example_matmul.so): block_mul
multiplies two blocks with OpenBLAS, block_add sums products.  Each block
is put into the object store once (zero-copy from the numpy buffer) and
passed to tasks as a reference, so every task reads it in place; C is read
back as read-only numpy views over the store and checked against numpy's
own product.

    python examples/python/matmul.py [--n 1024] [--block 256] [--library PATH]

The library defaults to build/examples/libpdc_example_matmul.so from the
top of the source tree.  Prints the time and the largest error.
"""

import argparse
import os
import sys
import time

import numpy as np

import pdc

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_LIBRARY = os.path.join(HERE, "..", "..", "build", "examples", "libpdc_example_matmul.so")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1024, help="matrix side (default 1024)")
    ap.add_argument("--block", type=int, default=256, help="block side (default 256)")
    ap.add_argument("--library", default=DEFAULT_LIBRARY, help="libpdc_example_matmul.so")
    args = ap.parse_args()
    n, b = args.n, args.block
    if n <= 0 or b <= 0 or n % b:
        sys.exit("matmul.py: --n must be a positive multiple of --block")
    k = n // b
    rng = np.random.default_rng(7)
    a = rng.standard_normal((n, n))
    bm = rng.standard_normal((n, n))

    def block(m, i, j):
        return np.ascontiguousarray(m[i * b:(i + 1) * b, j * b:(j + 1) * b])

    with pdc.init():
        mul = pdc.function(args.library, "block_mul")
        add = pdc.function(args.library, "block_add")
        t0 = time.perf_counter()
        ra = [[pdc.put(block(a, i, j)) for j in range(k)] for i in range(k)]
        rb = [[pdc.put(block(bm, i, j)) for j in range(k)] for i in range(k)]
        rc = [[add.remote(b, *[mul.remote(b, ra[i][x], rb[x][j]) for x in range(k)])
               for j in range(k)] for i in range(k)]
        c = np.empty((n, n))
        for i in range(k):
            for j in range(k):
                view = pdc.get_numpy(rc[i][j], np.float64, (b, b))
                c[i * b:(i + 1) * b, j * b:(j + 1) * b] = view
                del view
        seconds = time.perf_counter() - t0
    err = float(np.max(np.abs(c - a @ bm)))
    print("matmul %dx%d in %dx%d blocks: %.2f s, max error vs numpy %.3g" % (n, n, b, b, seconds, err))
    return 0 if err < 1e-8 * n else 1


if __name__ == "__main__":
    sys.exit(main())
