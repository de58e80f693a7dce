"""paramserver.py: data-parallel linear regression with a parameter-server
actor written in Python, as examples/paramserver.c does in C.

The driver makes y = X w* + noise (X: N x D standard normal, w* standard
normal, Gaussian noise of sigma 0.1), cuts the rows into shards and puts
each shard in the object store once.  A ParameterServer actor holds the
weights w (numpy, starting at zero); each iteration

    w     = ps.get_weights.remote()                     an actor call
    g[s]  = gradient.remote(shard[s], w)                s = 0 .. S-1
    w'    = ps.apply_gradients.remote(*g)

passes the weights and the gradients as references: the driver does not
read them and does not wait between iterations (the actor runs one
caller's calls in order).  Every 10 iterations it prints the loss over all
shards; at the end

    final loss 0.0100 (noise floor 0.0100), |w - w*| = 0.0040: converged

and exits 0 only when the loss is within 10% of the noise floor and w is
within 0.05 of w*.

    python examples/python/paramserver.py [--iters 60] [--shards 8] [--address ADDR]
"""

import argparse
import sys

import numpy as np

import pdc

SIGMA = 0.1


@pdc.remote
class ParameterServer:
    def __init__(self, dim, rate):
        self.w = np.zeros(dim)
        self.rate = rate

    def get_weights(self):
        return self.w

    def apply_gradients(self, *gradients):
        self.w -= self.rate * np.mean(gradients, axis=0)
        return self.w


@pdc.remote
def gradient(shard, w):
    x, y = shard
    return 2.0 * x.T @ (x @ w - y) / len(y)


@pdc.remote
def loss(shard, w):
    x, y = shard
    r = x @ w - y
    return float(r @ r), len(y)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=16_000, help="data rows (default 16000)")
    ap.add_argument("--dim", type=int, default=10, help="features (default 10)")
    ap.add_argument("--shards", type=int, default=8, help="shards (default 8)")
    ap.add_argument("--iters", type=int, default=60, help="iterations (default 60)")
    ap.add_argument("--rate", type=float, default=0.2, help="learning rate (default 0.2)")
    ap.add_argument("--address", default=None, help="a running cluster's head (tcp://HOST:PORT)")
    args = ap.parse_args()
    if min(args.rows, args.dim, args.shards, args.iters) <= 0 or args.rows < args.shards:
        sys.exit("paramserver.py: sizes must be positive, with at least one row per shard")
    rng = np.random.default_rng(3)
    w_true = rng.standard_normal(args.dim)
    x = rng.standard_normal((args.rows, args.dim))
    y = x @ w_true + SIGMA * rng.standard_normal(args.rows)

    with pdc.init(args.address):
        # A shard is a Python value (a tuple of arrays): made once by a
        # task, kept in the store, read by reference every iteration.
        make = pdc.remote(lambda a, b: (a, b))
        shards = [make.remote(xs, ys) for xs, ys in
                  zip(np.array_split(x, args.shards), np.array_split(y, args.shards))]
        ps = ParameterServer.remote(args.dim, args.rate)

        def mean_loss(w):
            parts = pdc.get([loss.remote(s, w) for s in shards], timeout=120)
            return sum(p for p, _ in parts) / sum(n for _, n in parts)

        w = None
        for it in range(1, args.iters + 1):
            weights = ps.get_weights.remote()
            w = ps.apply_gradients.remote(*[gradient.remote(s, weights) for s in shards])
            if it % 10 == 0:
                print("iter %d  loss %.5f" % (it, mean_loss(w)))
        final = mean_loss(w)
        w_final = pdc.get(ps.get_weights.remote(), timeout=120)
        pdc.kill(ps)
    dist = float(np.linalg.norm(w_final - w_true))
    floor = SIGMA * SIGMA
    ok = final <= 1.1 * floor and dist <= 0.05
    print("final loss %.4f (noise floor %.4f), |w - w*| = %.4f: %s"
          % (final, floor, dist, "converged" if ok else "NOT converged"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
