#!/usr/bin/env python3
"""pdc driven from Python, measured the way `ray microbenchmark` measures Ray.

The third side of bench/compare.py, beside build/bench/pdc-microbench (pdc
driven from C) and bench/ray_microbench.py (Ray). Same command line as
those two (--quick, --only a,b,c, --list), same timing (Ray's timeit: a
1 s warm-up, then 4 rounds that each repeat the operation for >= 2 s in
steps of warm-up count / 10 + 1, the rate of a round being multiplier *
operations / elapsed; --quick: 0.2 s, 2 rounds of 0.5 s), and the same
stdout, one line per metric:

    METRIC per second MEAN +- STD

Progress, skipped metrics and notes go to stderr.

The work (--work) is, by default, Python, as in Ray's microbenchmark: the
no-op task is a Python function returning b"ok" (@pdc.remote) and the
actor a Python class with the same methods as Ray's, so every metric is
Ray's own, clients included (tasks that put, client actors that call
other actors, tasks that call actors round-robin).  --work c runs pdc's C
benchmark library instead (bench/bench_tasks.c, libpdc_bench_tasks.so):
the driver is Python, what runs remotely is C; the metrics whose client is
a task or an actor in Ray are then skipped, and the multi-client metrics
use several Python driver processes, each its own pdc.init() joining this
driver's embedded cluster.

Needs PDC_LIBRARY / PDC_BIN_DIR (or an installed pdc) and numpy.
"""

import argparse
import glob
import multiprocessing
import os
import signal
import sys
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)

# Ray's names and order, and Ray's timeit, from bench/ray_microbench.py
# (which imports Ray only when it runs).
sys.path.insert(0, BENCH_DIR)
from ray_microbench import ALL_METRICS, timeit  # noqa: E402

# Metrics that need Python code running as a task or actor (skipped with
# --work c).
SKIPPED_C = {
    "multi_client_put_calls_Plasma_Store":
        "Ray's clients are 10 tasks that each put 100 objects; a putting task would be "
        "Python code running as a task (not available yet)",
    "multi_client_put_gigabytes":
        "Ray's clients are 10 tasks that each put 10 x 80 MiB; a putting task would be "
        "Python code running as a task (not available yet)",
    "1_n_actor_calls_async":
        "Ray's client is an actor that calls the n actors; that client would be a Python "
        "actor (not available yet)",
    "n_n_actor_calls_with_arg_async":
        "Ray's clients are actors that put an object and pass its reference; those clients "
        "would be Python actors (not available yet)",
}

BIG_INT64 = 100 * 1024 * 1024  # Ray: 100 Mi int64 = 800 MiB, counted as 0.8 "GB"

pdc = None  # imported in main() and in the client processes


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def default_lib():
    env = os.environ.get("PDC_BENCH_LIB")
    if env:
        return env
    cands = [os.path.join(REPO_DIR, "build", "bench", "libpdc_bench_tasks.so")]
    others = glob.glob(os.path.join(REPO_DIR, "build*", "bench", "libpdc_bench_tasks.so"))
    cands += sorted(others, key=os.path.getmtime, reverse=True)
    for c in cands:
        if os.access(c, os.R_OK):
            return c
    return cands[0]


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Ray's microbenchmark metrics against pdc driven from Python (the pdc "
        "package over ctypes; the remote work is pdc's C benchmark library). stdout: "
        "'METRIC per second MEAN +- STD' lines only; progress goes to stderr.",
        epilog="metrics: " + ", ".join(ALL_METRICS))
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 0.2 s warm-up, 2 rounds of >= 0.5 s")
    p.add_argument("--only", metavar="A,B,...",
                   help="comma-separated metric names to run (default: all)")
    p.add_argument("--list", action="store_true", help="print the metric names and exit")
    p.add_argument("--lib", default=None,
                   help="the benchmark task library libpdc_bench_tasks.so (default: "
                   "$PDC_BENCH_LIB, else build/bench/ in the repository, else the newest "
                   "build*/bench/)")
    p.add_argument("--clients", type=int, default=4,
                   help="clients of the multi-client metrics (Ray's m = 4)")
    p.add_argument("--work", choices=("python", "c"), default="python",
                   help="what runs remotely: Python functions and actors (default, as Ray's "
                   "benchmark) or pdc's C benchmark library")
    args = p.parse_args(argv)
    selected = list(ALL_METRICS)
    if args.only:
        wanted = [m.strip() for m in args.only.split(",") if m.strip()]
        unknown = [m for m in wanted if m not in ALL_METRICS]
        if unknown:
            p.error("unknown metric(s): %s (known: %s)"
                    % (", ".join(unknown), ", ".join(ALL_METRICS)))
        selected = [m for m in selected if m in wanted]
    args.metrics = selected
    if args.quick:
        args.warmup, args.rounds, args.round_time = 0.2, 2, 0.5
    else:
        args.warmup, args.rounds, args.round_time = 1.0, 4, 2.0
    if args.lib is None:
        args.lib = default_lib()
    return args


# ---------------------------------------------------------------------------
# Client processes of the multi-client metrics: each is a Python driver of
# its own (pdc.init(address) joining the benchmark's cluster) that runs one
# batch per request from the parent and answers when all its results are in.

def _client_main(conn, address, lib, job, arg):
    global pdc
    os.dup2(2, 1)  # keep stdout for the parent's metric lines
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import pdc as _pdc
    pdc = _pdc
    batch = None
    try:
        pdc.init(address)
        if job == "tasks":
            f = pdc.function(lib, "small_value")

            def batch(n):
                pdc.get([f.remote() for _ in range(n)])
        else:  # "actors": round-robin over the named actors in arg
            actors = [pdc.get_actor(name, timeout=60) for name in arg]
            k = len(actors)
            methods = [a.small_value for a in actors]

            def batch(n):
                pdc.get([methods[i % k].remote() for i in range(n)])
        conn.send(("ready", None))
        while True:
            n = conn.recv()
            if n is None:
                break
            batch(n)
            conn.send(("done", None))
    except Exception as e:  # tell the parent, then stop
        try:
            conn.send(("error", repr(e)))
        except Exception:
            pass
    finally:
        batch = None  # drop the handles before shutdown
        pdc.shutdown()
        conn.close()


class ClientPool:
    def __init__(self, m, address, lib, job, arg=None):
        ctx = multiprocessing.get_context("spawn")
        self.procs, self.conns = [], []
        for _ in range(m):
            parent, child = ctx.Pipe()
            p = ctx.Process(target=_client_main, args=(child, address, lib, job, arg),
                            daemon=True)
            p.start()
            child.close()
            self.procs.append(p)
            self.conns.append(parent)
        for c in self.conns:
            self._expect(c, "ready")

    @staticmethod
    def _expect(conn, what):
        kind, info = conn.recv()
        if kind != what:
            raise RuntimeError("a client process failed: %s" % info)

    def run(self, n):
        for c in self.conns:
            c.send(n)
        for c in self.conns:
            self._expect(c, "done")

    def close(self):
        for c in self.conns:
            try:
                c.send(None)
            except Exception:
                pass
        for p in self.procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
                p.join()
        for c in self.conns:
            c.close()


def cluster_address(session):
    """The address other drivers join this driver's cluster at: the one it
    was given, else the embedded cluster's head socket, in the session
    directory /tmp/pdc/session-DATE-PID-RAND (PDC_SESSION_ROOT) that
    pdc_init(NULL) made for this process."""
    if session.address:
        return session.address
    if os.environ.get("PDC_ADDRESS"):
        return os.environ["PDC_ADDRESS"]
    root = os.environ.get("PDC_SESSION_ROOT", "/tmp/pdc")
    socks = glob.glob(os.path.join(root, "session-*-%d-*" % os.getpid(), "head.sock"))
    if len(socks) != 1:
        raise RuntimeError("cannot find the embedded cluster's head socket under %s" % root)
    return "ipc://" + socks[0]


# ---------------------------------------------------------------------------
# Metric set-ups: each returns (operation, multiplier, cleanup or None).

def setup_single_client_get_calls_Plasma_Store(ctx):
    ref = pdc.put(0)
    return (lambda: pdc.get(ref)), 1, None


def setup_single_client_put_calls_Plasma_Store(ctx):
    return (lambda: pdc.put(0)), 1, None


def setup_single_client_put_gigabytes(ctx):
    import numpy as np

    arr = np.zeros(BIG_INT64, dtype=np.int64)
    t0 = time.perf_counter()
    ref = pdc.put(arr)  # the store's pages are touched for the first time
    dt = time.perf_counter() - t0
    del ref
    log("  note: single_client_put_gigabytes first (cold) put: %.3f GB/s (%.3f s)"
        % (0.8 / dt, dt))
    return (lambda: pdc.put(arr)), 8 * 0.1, None


def _batch(f, n):
    def op():
        pdc.get([f.remote() for _ in range(n)])
    return op


def python_work():
    """The Python side of Ray's benchmark, as @pdc.remote functions and
    classes (Ray's definitions, in bench/ray_microbench.py)."""

    @pdc.remote
    def small_value():
        return b"ok"

    @pdc.remote
    def put_small_100():
        for _ in range(100):
            pdc.put(0)

    @pdc.remote
    def put_gigabytes_10():
        import numpy as np
        for _ in range(10):
            pdc.put(np.zeros(10 * 1024 * 1024, dtype=np.int64))

    @pdc.remote
    def create_object_containing_ref():
        return [pdc.put(1) for _ in range(10000)]

    @pdc.remote
    class Actor:
        def small_value(self):
            return b"ok"

        def small_value_arg(self, x):
            return b"ok"

        def small_value_batch(self, n):
            pdc.get([small_value.remote() for _ in range(n)])

    @pdc.remote
    class Client:
        def __init__(self, *servers):
            self.servers = servers

        def small_value_batch(self, n):
            refs = []
            for s in self.servers:
                refs.extend(s.small_value.remote() for _ in range(n))
            pdc.get(refs)

        def small_value_batch_arg(self, n):
            arg = pdc.put(0)
            refs = []
            for s in self.servers:
                refs.extend(s.small_value_arg.remote(arg) for _ in range(n))
            pdc.get(refs)

    @pdc.remote
    def round_robin_calls(n, *actors):
        k = len(actors)
        pdc.get([actors[i % k].small_value.remote() for i in range(n)])

    return {"small_value": small_value, "put_small_100": put_small_100,
            "put_gigabytes_10": put_gigabytes_10, "Actor": Actor,
            "Client": Client, "round_robin_calls": round_robin_calls,
            "create_object_containing_ref": create_object_containing_ref}


def setup_multi_client_put_calls_Plasma_Store(ctx):
    # Ray: 10 tasks x 100 puts = 1000 puts per operation.
    f = ctx["put_small_100"]

    def op():
        pdc.get([f.remote() for _ in range(10)])
    return op, 1000, None


def setup_multi_client_put_gigabytes(ctx):
    # Ray: 10 tasks x 10 puts of 80 MiB, counted as 10 * 8 * 0.1 "GB".
    f = ctx["put_gigabytes_10"]

    def op():
        pdc.get([f.remote() for _ in range(10)])
    return op, 10 * 8 * 0.1, None


def setup_single_client_get_object_containing_10k_refs(ctx):
    # Ray: a task returns [ray.put(1) for _ in range(10000)]; one get of
    # that list (10000 ObjectRefs made and dropped) is one operation.
    containing = ctx["create_object_containing_ref"].remote()
    pdc.get(containing)

    def op():
        pdc.get(containing)
    return op, 1, None


def setup_single_client_tasks_and_get_batch(ctx):
    return _batch(ctx["small_value"], 1000), 1, None


def setup_single_client_wait_1k_refs(ctx):
    f = ctx["small_value"]

    def op():
        not_ready = [f.remote() for _ in range(1000)]
        while not_ready:
            _ready, not_ready = pdc.wait(not_ready, num_returns=1)
    return op, 1, None


def setup_single_client_tasks_sync(ctx):
    f = ctx["small_value"]
    return (lambda: pdc.get(f.remote())), 1, None


def setup_single_client_tasks_async(ctx):
    return _batch(ctx["small_value"], 1000), 1000, None


def setup_multi_client_tasks_async(ctx):
    # Ray: m = 4 client actors, each submits n = 10 000 no-ops and gets
    # them all (with --work c: m driver processes).
    n, m = 10000, ctx["clients"]
    if ctx["work"] == "python":
        clients = [_actor(ctx) for _ in range(m)]
        return (lambda: pdc.get([c.small_value_batch.remote(n) for c in clients])), n * m, \
            _kill(clients)
    pool = ClientPool(m, ctx["address"], ctx["lib"], "tasks")
    return (lambda: pool.run(n)), n * m, pool.close


def _actor(ctx, **options):
    cls = ctx["Actor"].options(**options) if options else ctx["Actor"]
    a = cls.remote()
    pdc.actor_ready(a, timeout=600)
    return a


def _kill(actors):
    def cleanup():
        for a in actors:
            try:
                pdc.kill(a)
            except Exception:
                pass
    return cleanup


def setup_1_1_actor_calls_sync(ctx):
    a = _actor(ctx)
    m = a.small_value
    return (lambda: pdc.get(m.remote())), 1, _kill([a])


def _actor_async(a):
    m = a.small_value

    def op():
        pdc.get([m.remote() for _ in range(1000)])
    return op


def setup_1_1_actor_calls_async(ctx):
    a = _actor(ctx)
    return _actor_async(a), 1000, _kill([a])


def setup_1_1_actor_calls_concurrent(ctx):
    a = _actor(ctx, max_concurrency=16)
    return _actor_async(a), 1000, _kill([a])


def setup_1_n_actor_calls_async(ctx):
    # Ray: one client actor, n = 5000 calls to each of cpu_count // 2 actors.
    n = 5000
    actors = [_actor(ctx) for _ in range(ctx["n_cpu"])]
    client = ctx["Client"].remote(*actors)
    return (lambda: pdc.get(client.small_value_batch.remote(n))), n * len(actors), \
        _kill(actors + [client])


def setup_n_n_actor_calls_with_arg_async(ctx):
    # Ray: cpu_count // 2 client/server pairs, each client makes n = 1000
    # calls passing a reference to an object it put.
    n = 1000
    servers = [_actor(ctx) for _ in range(ctx["n_cpu"])]
    clients = [ctx["Client"].remote(s) for s in servers]
    return (lambda: pdc.get([c.small_value_batch_arg.remote(n) for c in clients])), \
        n * len(clients), _kill(servers + clients)


def setup_n_n_actor_calls_async(ctx):
    # Ray: m = 4 client tasks, each n = 5000 calls round-robin over
    # cpu_count // 2 actors; with --work c the clients are driver
    # processes that find the actors by name.
    n, m = 5000, ctx["clients"]
    if ctx["work"] == "python":
        actors = [_actor(ctx) for _ in range(ctx["n_cpu"])]
        rr = ctx["round_robin_calls"]
        return (lambda: pdc.get([rr.remote(n, *actors) for _ in range(m)])), m * n, \
            _kill(actors)
    names = ["pdc-py-bench-%d-%d" % (os.getpid(), i) for i in range(ctx["n_cpu"])]
    actors = [_actor(ctx, name=name) for name in names]
    try:
        pool = ClientPool(m, ctx["address"], ctx["lib"], "actors", names)
    except Exception:
        _kill(actors)()
        raise

    def cleanup():
        pool.close()
        _kill(actors)()
    return (lambda: pool.run(n)), m * n, cleanup


SETUPS = {name: globals()["setup_" + name] for name in ALL_METRICS}


class _Terminated(Exception):
    pass


def _on_signal(signum, frame):
    raise _Terminated("signal %d" % signum)


def main(argv=None):
    global pdc
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.list:
        print("\n".join(ALL_METRICS))
        return 0
    if args.work == "c" and not os.access(args.lib, os.R_OK):
        log("pdc_py_microbench: cannot read the task library %s (use --lib)" % args.lib)
        return 2

    # Only metric lines reach stdout: keep a handle on it and point fd 1 at
    # stderr for everything else (the daemons inherit fd 1).
    sys.stdout.flush()
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)

    import pdc as _pdc
    pdc = _pdc
    failed = []
    t_start = time.perf_counter()
    session = None
    try:
        session = pdc.init()
        n_cpu = max(1, min(16, (os.cpu_count() or 2) // 2))
        ctx = {"lib": args.lib, "n_cpu": n_cpu, "clients": args.clients, "work": args.work,
               "address": cluster_address(session)}
        if args.work == "python":
            log("pdc (Python) %s, library %s, Python tasks and actors"
                % (pdc.__version__, pdc.library_path()))
            ctx.update(python_work())
        else:
            log("pdc (Python) %s, library %s, C tasks from %s"
                % (pdc.__version__, pdc.library_path(), args.lib))
            ctx["small_value"] = pdc.function(args.lib, "small_value")
            ctx["create_object_containing_ref"] = pdc.function(args.lib,
                                                               "create_object_containing_ref")
            ctx["Actor"] = pdc.actor_class(args.lib, "Actor")
        skipped = SKIPPED_C if args.work == "c" else {}
        for name in args.metrics:
            if name in skipped:
                log("  note: %s skipped: %s" % (name, skipped[name]))
                continue
            log("[%7.1fs] %s ..." % (time.perf_counter() - t_start, name))
            t0 = time.perf_counter()
            cleanup = None
            try:
                op, mult, cleanup = SETUPS[name](ctx)
                mean, sd = timeit(op, mult, args.warmup, args.rounds, args.round_time)
            except (KeyboardInterrupt, _Terminated):
                raise
            except Exception as e:  # keep going with the other metrics
                log("  FAILED: %s: %r" % (name, e))
                failed.append(name)
                continue
            finally:
                op = None
                if cleanup is not None:
                    try:
                        cleanup()
                    except Exception as e:
                        log("  cleanup of %s: %r" % (name, e))
            out.write("%s per second %.2f +- %.2f\n" % (name, mean, sd))
            out.flush()
            log("  done in %.1f s" % (time.perf_counter() - t0))
    except (KeyboardInterrupt, _Terminated) as e:
        log("interrupted (%s); shutting pdc down" % (e or "SIGINT"))
        return 130
    finally:
        ctx = None
        if session is not None:
            pdc.shutdown()
        log("pdc.shutdown() done; total %.1f s" % (time.perf_counter() - t_start))
        out.close()
    if failed:
        log("failed metrics: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
