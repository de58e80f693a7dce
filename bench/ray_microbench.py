#!/usr/bin/env python3
"""Ray's side of the pdc-vs-Ray microbenchmark comparison.

Measures, against a real local Ray cluster (started here with
ray.init(num_cpus=<machine's CPU count>)), the subset of Ray's own
`ray microbenchmark` metrics (python/ray/_private/ray_perf.py) that pdc
implements, with the same per-operation semantics and the same timing
method (see /work/shared/BENCH.md):

  one warm-up period (1 s), then 4 rounds, each repeating the operation for
  at least 2 s (in steps of warm-up-count/10 + 1 operations, as Ray does);
  the rate of each round is multiplier * operations / elapsed; report the
  mean and the (population) standard deviation of the rates.

stdout carries exactly one line per metric:

  METRIC per second MEAN +- STD

and nothing else; progress and Ray's own chatter go to stderr.

Differences from Ray's script, none of which changes what one operation is:
  * Ray sleeps 10 s before every metric "to avoid noisy neighbours"; here
    that pause is --settle (default 1 s, 0 with --quick).
  * Actors created for one metric are killed after it, so that each metric
    (and any --only subset) sees the same idle cluster.
  * Sizes that Ray derives from the machine (n = cpu_count // 2 actors for
    the 1:n / n:n metrics) are derived the same way, so on this 2-core
    machine n == 1, exactly as `ray microbenchmark` would use. The fixed
    counts (4 clients x 10 000 tasks, 5000 calls, 1000 calls, 10 x 100
    puts, 800 MB buffer) are Ray's own and are NOT reduced: a full run of
    all metrics takes a few minutes on a 2-core machine.
"""

import argparse
import os
import signal
import statistics
import sys
import time

# Metric names as in BENCH.md: Ray's display names with ':', spaces and
# parentheses turned into '_'. Order: Ray's order within each group.
NON_ACTOR_METRICS = [
    "single_client_get_calls_Plasma_Store",
    "single_client_put_calls_Plasma_Store",
    "multi_client_put_calls_Plasma_Store",
    "single_client_put_gigabytes",
    "multi_client_put_gigabytes",
    "single_client_tasks_and_get_batch",
    "single_client_get_object_containing_10k_refs",
    "single_client_wait_1k_refs",
    "single_client_tasks_sync",
    "single_client_tasks_async",
    "multi_client_tasks_async",
]
ACTOR_METRICS = [
    "1_1_actor_calls_sync",
    "1_1_actor_calls_async",
    "1_1_actor_calls_concurrent",
    "1_n_actor_calls_async",
    "n_n_actor_calls_async",
    "n_n_actor_calls_with_arg_async",
]
ALL_METRICS = NON_ACTOR_METRICS + ACTOR_METRICS
GROUPS = {"all": ALL_METRICS, "nonactor": NON_ACTOR_METRICS, "actor": ACTOR_METRICS}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Run Ray's microbenchmarks (ray_perf.py semantics) for "
        "the metrics pdc implements. stdout: 'METRIC per second MEAN +- STD' "
        "lines only; progress goes to stderr.",
        epilog="metrics: " + ", ".join(ALL_METRICS),
    )
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 0.2 s warm-up, 2 rounds of >= 0.5 s, no settle pause")
    p.add_argument("--only", metavar="A,B,...",
                   help="comma-separated metric names to run (default: all)")
    p.add_argument("--group", choices=sorted(GROUPS), default="all",
                   help="run one group of metrics: actor, nonactor or all (default); "
                   "combined with --only, the intersection runs")
    p.add_argument("--num-cpus", type=int, default=os.cpu_count() or 1,
                   help="num_cpus for ray.init (default: this machine's CPU count, %(default)s)")
    p.add_argument("--settle", type=float, default=None,
                   help="seconds to sleep before each metric (Ray uses 10; default 1, 0 with --quick)")
    p.add_argument("--list", action="store_true", help="print the metric names and exit")
    args = p.parse_args(argv)

    selected = list(GROUPS[args.group])
    if args.only:
        wanted = [m.strip() for m in args.only.split(",") if m.strip()]
        unknown = [m for m in wanted if m not in ALL_METRICS]
        if unknown:
            p.error("unknown metric(s): %s (known: %s)" % (", ".join(unknown), ", ".join(ALL_METRICS)))
        selected = [m for m in selected if m in wanted]
    args.metrics = selected
    if args.quick:
        args.warmup, args.rounds, args.round_time = 0.2, 2, 0.5
    else:
        args.warmup, args.rounds, args.round_time = 1.0, 4, 2.0
    if args.settle is None:
        args.settle = 0.0 if args.quick else 1.0
    return args


def timeit(fn, multiplier, warmup, rounds, round_time):
    """Ray's timeit: warm-up, then `rounds` rounds of >= round_time seconds."""
    start = time.perf_counter()
    count = 0
    while time.perf_counter() - start < warmup:
        fn()
        count += 1
    step = count // 10 + 1
    rates = []
    for _ in range(rounds):
        start = time.perf_counter()
        count = 0
        while time.perf_counter() - start < round_time:
            for _ in range(step):
                fn()
            count += step
        end = time.perf_counter()
        rates.append(multiplier * count / (end - start))
    return statistics.fmean(rates), statistics.pstdev(rates)


# ---------------------------------------------------------------------------
# Ray remote functions and actors (same behaviour as ray_perf.py's). Defined
# at run time so that --help and --list work without Ray installed.

ray = None
R = {}


def define_remotes():
    global ray
    import ray as _ray
    ray = _ray

    @ray.remote
    def small_value():
        return b"ok"

    @ray.remote
    def put_small_100():
        # multi client put calls: each task puts 100 small objects.
        for _ in range(100):
            ray.put(0)

    @ray.remote
    def put_gigabytes_10():
        # multi client put gigabytes: each task puts 10 x 80 MiB.
        import numpy as np
        for _ in range(10):
            ray.put(np.zeros(10 * 1024 * 1024, dtype=np.int64))

    @ray.remote
    def create_object_containing_ref():
        # single client get object containing 10k refs.
        return [ray.put(1) for _ in range(10000)]

    @ray.remote(num_cpus=0)
    class Actor:
        def small_value(self):
            return b"ok"

        def small_value_arg(self, x):
            return b"ok"

        def small_value_batch(self, n):
            # Acts as a client that submits n no-op tasks and gets them all.
            ray.get([small_value.remote() for _ in range(n)])

    @ray.remote(num_cpus=0)
    class Client:
        def __init__(self, servers):
            self.servers = servers if isinstance(servers, list) else [servers]

        def small_value_batch(self, n):
            refs = []
            for s in self.servers:
                refs.extend(s.small_value.remote() for _ in range(n))
            ray.get(refs)

        def small_value_batch_arg(self, n):
            arg = ray.put(0)
            refs = []
            for s in self.servers:
                refs.extend(s.small_value_arg.remote(arg) for _ in range(n))
            ray.get(refs)

    @ray.remote
    def round_robin_calls(actors, n):
        # n:n actor calls: one client task, n calls spread over the actors.
        k = len(actors)
        ray.get([actors[i % k].small_value.remote() for i in range(n)])

    R.update(small_value=small_value, put_small_100=put_small_100,
             put_gigabytes_10=put_gigabytes_10, Actor=Actor,
             Client=Client, round_robin_calls=round_robin_calls,
             create_object_containing_ref=create_object_containing_ref)


# ---------------------------------------------------------------------------
# Metric set-ups. Each returns (operation, multiplier, list of actors to kill).


def setup_single_client_get_calls_Plasma_Store(ctx):
    ref = ray.put(0)
    return (lambda: ray.get(ref)), 1, []


def setup_single_client_put_calls_Plasma_Store(ctx):
    return (lambda: ray.put(0)), 1, []


def setup_multi_client_put_calls_Plasma_Store(ctx):
    # 10 tasks x 100 puts = 1000 puts per operation.
    def op():
        ray.get([R["put_small_100"].remote() for _ in range(10)])
    return op, 1000, []


def setup_single_client_put_gigabytes(ctx):
    import numpy as np

    # 100 Mi int64 = 800 MiB; Ray counts it as 0.8 "GB" (8 * 0.1), kept here.
    arr = np.zeros(100 * 1024 * 1024, dtype=np.int64)
    # The first put lands in memory the store has never touched ("cold");
    # the timed puts reuse freed store memory ("warm"). Report the cold one
    # on stderr for reference (BENCH.md asks for both).
    t0 = time.perf_counter()
    ref = ray.put(arr)
    dt = time.perf_counter() - t0
    del ref
    log("  note: single_client_put_gigabytes first (cold) put: %.3f GB/s (%.3f s)" % (0.8 / dt, dt))
    return (lambda: ray.put(arr)), 8 * 0.1, []


def setup_multi_client_put_gigabytes(ctx):
    # 10 tasks x 10 puts of 80 MiB; Ray counts 10 * 8 * 0.1 "GB".
    def op():
        ray.get([R["put_gigabytes_10"].remote() for _ in range(10)])
    return op, 10 * 8 * 0.1, []


def setup_single_client_tasks_and_get_batch(ctx):
    def op():
        ray.get([R["small_value"].remote() for _ in range(1000)])
    return op, 1, []


def setup_single_client_get_object_containing_10k_refs(ctx):
    containing = R["create_object_containing_ref"].remote()
    ray.get(containing)

    def op():
        ray.get(containing)
    return op, 1, []


def setup_single_client_wait_1k_refs(ctx):
    def op():
        not_ready = [R["small_value"].remote() for _ in range(1000)]
        # As Ray: only the first wait needs to trigger fetch_local; the
        # raylet keeps the fetch requests afterwards.
        fetch_local = True
        for _ in range(1000):
            _ready, not_ready = ray.wait(not_ready, fetch_local=fetch_local)
            fetch_local = False
    return op, 1, []


def setup_single_client_tasks_sync(ctx):
    return (lambda: ray.get(R["small_value"].remote())), 1, []


def setup_single_client_tasks_async(ctx):
    def op():
        ray.get([R["small_value"].remote() for _ in range(1000)])
    return op, 1000, []


def setup_multi_client_tasks_async(ctx):
    # Ray: m = 4 client actors, each submits n = 10 000 tasks and gets them.
    n, m = 10000, 4
    clients = [R["Actor"].remote() for _ in range(m)]

    def op():
        ray.get([c.small_value_batch.remote(n) for c in clients])
    return op, n * m, clients


def setup_1_1_actor_calls_sync(ctx):
    a = R["Actor"].remote()
    return (lambda: ray.get(a.small_value.remote())), 1, [a]


def setup_1_1_actor_calls_async(ctx):
    a = R["Actor"].remote()

    def op():
        ray.get([a.small_value.remote() for _ in range(1000)])
    return op, 1000, [a]


def setup_1_1_actor_calls_concurrent(ctx):
    a = R["Actor"].options(max_concurrency=16).remote()

    def op():
        ray.get([a.small_value.remote() for _ in range(1000)])
    return op, 1000, [a]


def setup_1_n_actor_calls_async(ctx):
    # Ray: one client actor, n = 5000 calls to each of cpu_count // 2 actors.
    n = 5000
    actors = [R["Actor"].remote() for _ in range(ctx["n_cpu"])]
    client = R["Client"].remote(actors)
    return (lambda: ray.get(client.small_value_batch.remote(n))), n * len(actors), actors + [client]


def setup_n_n_actor_calls_async(ctx):
    # Ray: m = 4 client tasks, each n = 5000 calls round-robin over
    # cpu_count // 2 actors.
    n, m = 5000, 4
    actors = [R["Actor"].remote() for _ in range(ctx["n_cpu"])]

    def op():
        ray.get([R["round_robin_calls"].remote(actors, n) for _ in range(m)])
    return op, m * n, actors


def setup_n_n_actor_calls_with_arg_async(ctx):
    # Ray: cpu_count // 2 client/server pairs, each client makes n = 1000
    # calls passing a reference to an object it put.
    n = 1000
    servers = [R["Actor"].remote() for _ in range(ctx["n_cpu"])]
    clients = [R["Client"].remote(s) for s in servers]

    def op():
        ray.get([c.small_value_batch_arg.remote(n) for c in clients])
    return op, n * len(clients), servers + clients


SETUPS = {name: globals()["setup_" + name] for name in ALL_METRICS}


class _Terminated(Exception):
    pass


def _on_signal(signum, frame):
    raise _Terminated("signal %d" % signum)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.list:
        print("\n".join(ALL_METRICS))
        return 0

    # Only metric lines may reach stdout: keep a private handle on it and
    # point fd 1 at stderr, so Ray's messages (and the processes Ray spawns,
    # which inherit fd 1) cannot write there.
    sys.stdout.flush()
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)

    failed = []
    t_start = time.perf_counter()
    try:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        define_remotes()
        log("ray %s: ray.init(num_cpus=%d)" % (ray.__version__, args.num_cpus))
        ray.init(num_cpus=args.num_cpus, include_dashboard=False,
                 logging_level="warning", configure_logging=True)
        ctx = {"n_cpu": max(1, args.num_cpus // 2)}
        for name in args.metrics:
            if args.settle > 0:
                time.sleep(args.settle)
            log("[%7.1fs] %s ..." % (time.perf_counter() - t_start, name))
            t0 = time.perf_counter()
            actors = []
            try:
                op, mult, actors = SETUPS[name](ctx)
                mean, sd = timeit(op, mult, args.warmup, args.rounds, args.round_time)
            except (KeyboardInterrupt, _Terminated):
                raise
            except Exception as e:  # keep going with the other metrics
                log("  FAILED: %s: %r" % (name, e))
                failed.append(name)
                continue
            finally:
                for a in actors:
                    try:
                        ray.kill(a)
                    except Exception:
                        pass
            out.write("%s per second %.2f +- %.2f\n" % (name, mean, sd))
            out.flush()
            log("  done in %.1f s" % (time.perf_counter() - t0))
    except (KeyboardInterrupt, _Terminated) as e:
        log("interrupted (%s); shutting Ray down" % (e or "SIGINT"))
        return 130
    finally:
        if ray is not None:
            ray.shutdown()
        log("ray.shutdown() done; total %.1f s" % (time.perf_counter() - t_start))
        out.close()
    if failed:
        log("failed metrics: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
