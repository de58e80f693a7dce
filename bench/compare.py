#!/usr/bin/env python3
"""Run pdc's and Ray's microbenchmarks side by side and tabulate the ratios.

  1. Makes sure bench/.venv exists and holds the pinned Ray (and numpy, which
     Ray's put-gigabytes metric uses) -- creating / pip-installing if needed.
  2. Runs the pdc microbenchmark binary (--pdc-bin), bench/pdc_py_microbench.py
     (pdc driven from Python through the pdc package, with --pdc-python) and
     bench/ray_microbench.py (with the venv's python) in the same invocation.
     Metrics are split into groups (objects, tasks, actors); for each group
     every side runs, and the order alternates from group to group (pdc,
     pdc (Python), Ray; then Ray, pdc (Python), pdc; ...) so that no side
     always gets the warmer / quieter machine.
  3. Prints a Markdown table
     | metric | pdc | Ray | pdc/Ray | pdc (Python) | pdc (Python)/Ray |
     preceded by the date, the machine and the command line, and saves it to
     bench/results/<date>.md (or --output).

All three programs print lines `METRIC per second MEAN +- STD` on stdout and
accept --quick and --only a,b,c. Absolute numbers drift between runs on the
shared 2-core machines; only the ratios from one run count (BENCH.md).
"""

import argparse
import datetime
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
VENV_DIR = os.path.join(BENCH_DIR, ".venv")
VENV_PY = os.path.join(VENV_DIR, "bin", "python")
RAY_SCRIPT = os.path.join(BENCH_DIR, "ray_microbench.py")
PDC_PY_SCRIPT = os.path.join(BENCH_DIR, "pdc_py_microbench.py")
RESULTS_DIR = os.path.join(BENCH_DIR, "results")
DEFAULT_PDC_BIN = os.path.join(REPO_DIR, "build", "bench", "pdc-microbench")

# Newest Ray that installs on Python 3.11 here (checked with
# `pip index versions ray`); plain `ray`, not ray[default].
RAY_VERSION = "2.60.0"
NUMPY_VERSION = "2.4.6"

sys.path.insert(0, BENCH_DIR)
import ray_microbench as rmb  # noqa: E402  (no Ray import at module level)

# Groups for alternating the run order. Each group costs one ray.init on
# the Ray side (a few seconds), which is cheap next to the metrics.
GROUPS = [
    ("objects", [
        "single_client_get_calls_Plasma_Store",
        "single_client_put_calls_Plasma_Store",
        "multi_client_put_calls_Plasma_Store",
        "single_client_put_gigabytes",
        "multi_client_put_gigabytes",
        "single_client_get_object_containing_10k_refs",
    ]),
    ("tasks", [
        "single_client_tasks_and_get_batch",
        "single_client_wait_1k_refs",
        "single_client_tasks_sync",
        "single_client_tasks_async",
        "multi_client_tasks_async",
    ]),
    ("actors", list(rmb.ACTOR_METRICS)),
]
assert sorted(m for _, ms in GROUPS for m in ms) == sorted(rmb.ALL_METRICS)

SKIP_RE = re.compile(r"note: (?P<name>\S+) skipped: ")
LINE_RE = re.compile(
    r"^\s*(?P<name>\S+) per second (?P<mean>[-+]?(?:[0-9.]+(?:[eE][-+]?\d+)?|nan|inf))"
    r" \+- (?P<std>[-+]?(?:[0-9.]+(?:[eE][-+]?\d+)?|nan|inf))\s*$")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Run pdc's microbenchmark binary and Ray's (bench/ray_microbench.py "
        "in bench/.venv with ray==%s) in one invocation and print a Markdown table "
        "| metric | pdc | Ray | pdc/Ray |, also saved to bench/results/<date>.md; with the "
        "Python side (bench/pdc_py_microbench.py) two more columns, pdc (Python) and "
        "pdc (Python)/Ray." % RAY_VERSION,
        epilog="metrics: " + ", ".join(rmb.ALL_METRICS))
    p.add_argument("--quick", action="store_true",
                   help="pass --quick to both sides (short rounds, smoke run)")
    p.add_argument("--only", metavar="A,B,...",
                   help="comma-separated metric names to run (default: all)")
    p.add_argument("--pdc-bin", default=DEFAULT_PDC_BIN,
                   help="pdc microbenchmark binary (default: build/bench/pdc-microbench "
                   "in the repository)")
    p.add_argument("--ray-only", action="store_true",
                   help="run only Ray's side (the pdc columns show n/a)")
    p.add_argument("--pdc-python", default=sys.executable, metavar="PYTHON",
                   help="the Python that has the pdc package (and numpy) installed, for "
                   "bench/pdc_py_microbench.py (default: this one, %(default)s)")
    p.add_argument("--no-pdc-python", action="store_true",
                   help="leave out the pdc (Python) side")
    p.add_argument("--output", metavar="FILE",
                   help="where to save the Markdown (default: bench/results/<date>.md, "
                   "with -2, -3... appended if that exists)")
    p.add_argument("--no-alternate", action="store_true",
                   help="run pdc once for all metrics, then Ray once, instead of "
                   "alternating the order per metric group")
    p.add_argument("--timeout", type=float, default=3600,
                   help="seconds allowed for one run of either side (default %(default)s)")
    args = p.parse_args(argv)
    selected = list(rmb.ALL_METRICS)
    if args.only:
        wanted = [m.strip() for m in args.only.split(",") if m.strip()]
        unknown = [m for m in wanted if m not in rmb.ALL_METRICS]
        if unknown:
            p.error("unknown metric(s): %s" % ", ".join(unknown))
        selected = [m for m in selected if m in wanted]
    args.metrics = selected
    return args


# ---------------------------------------------------------------------------
# The virtual environment with Ray.

def pdc_py_env(args):
    """The environment of the Python side: the libpdc, daemons and task
    library of the build that --pdc-bin is from, unless PDC_LIBRARY /
    PDC_BIN_DIR / PDC_BENCH_LIB already say otherwise."""
    env = dict(os.environ)
    bench_dir = os.path.dirname(os.path.abspath(args.pdc_bin))
    runtime = os.path.join(os.path.dirname(bench_dir), "runtime")
    lib = os.path.join(runtime, "libpdc.so.0")
    if "PDC_LIBRARY" not in env and os.path.exists(lib):
        env["PDC_LIBRARY"] = lib
    if "PDC_BIN_DIR" not in env and os.path.exists(os.path.join(runtime, "pdc-raylet")):
        env["PDC_BIN_DIR"] = runtime
    tasks = os.path.join(bench_dir, "libpdc_bench_tasks.so")
    if "PDC_BENCH_LIB" not in env and os.path.exists(tasks):
        env["PDC_BENCH_LIB"] = tasks
    return env


def venv_has_ray():
    if not os.path.exists(VENV_PY):
        return False
    r = subprocess.run(
        [VENV_PY, "-c", "import ray, numpy; print(ray.__version__, numpy.__version__)"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return r.returncode == 0 and r.stdout.split() == [RAY_VERSION, NUMPY_VERSION]


def ensure_venv():
    if venv_has_ray():
        return
    if not os.path.exists(VENV_PY):
        log("creating %s" % VENV_DIR)
        subprocess.run([sys.executable, "-m", "venv", VENV_DIR], check=True)
    log("installing ray==%s numpy==%s into %s" % (RAY_VERSION, NUMPY_VERSION, VENV_DIR))
    subprocess.run([VENV_PY, "-m", "pip", "install", "--disable-pip-version-check", "-q",
                    "ray==" + RAY_VERSION, "numpy==" + NUMPY_VERSION],
                   check=True, stdout=sys.stderr)
    if not venv_has_ray():
        raise SystemExit("compare.py: ray==%s did not install into %s" % (RAY_VERSION, VENV_DIR))


# ---------------------------------------------------------------------------
# Running one side.

def run_side(label, cmd, timeout, results, notes, env=None, skipped=None):
    """Run cmd; parse its stdout metric lines into results; pass its stderr
    through, keeping lines that contain 'note:' for the report (and the
    names of metrics it says it skipped, into skipped)."""
    log("=== %s: %s" % (label, shlex.join(cmd)))
    t0 = time.perf_counter()
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, text=True, bufsize=1,
                                start_new_session=True, env=env)
    except OSError as e:
        log("%s: cannot run %s: %s" % (label, cmd[0], e))
        return False

    def pump_stderr():
        for line in proc.stderr:
            sys.stderr.write("  [%s] %s" % (label, line))
            sys.stderr.flush()
            if "note:" in line:
                notes.append("%s: %s" % (label, line.split("note:", 1)[1].strip()))
                m = SKIP_RE.search(line)
                if m and skipped is not None:
                    skipped.add(m["name"])

    t = threading.Thread(target=pump_stderr, daemon=True)
    t.start()
    timer = threading.Timer(timeout, lambda: _terminate(proc, label))
    timer.start()
    try:
        for line in proc.stdout:
            m = LINE_RE.match(line)
            if m:
                results[m["name"]] = (float(m["mean"]), float(m["std"]))
                log("  [%s] %s" % (label, line.rstrip()))
            elif line.strip():
                log("  [%s] unexpected stdout line: %r" % (label, line.rstrip()))
        rc = proc.wait()
    except KeyboardInterrupt:
        _terminate(proc, label)
        raise
    finally:
        timer.cancel()
        t.join(timeout=5)
    log("=== %s finished in %.1f s, exit code %d" % (label, time.perf_counter() - t0, rc))
    return rc == 0


def _terminate(proc, label):
    if proc.poll() is not None:
        return
    log("%s: stopping it (SIGTERM)" % label)
    try:
        proc.send_signal(signal.SIGTERM)   # ray_microbench.py then calls ray.shutdown()
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()


# ---------------------------------------------------------------------------
# The report.

def machine_info():
    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:
        nproc = os.cpu_count()
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "unknown"
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = "%.1f GiB" % (int(line.split()[1]) / 1024 / 1024)
                    break
    except OSError:
        pass
    return nproc, model, mem


def _decimals(mean):
    a = abs(mean)
    return 0 if a >= 100 else 1 if a >= 10 else 2 if a >= 1 else 3


def cell(r, skipped=False):
    """'MEAN ± STD', both with the decimals that suit the mean's size."""
    if r is None:
        return "skipped" if skipped else "n/a"
    mean, std = r
    if mean != mean:  # nan
        return "nan"
    d = _decimals(mean)
    return "%.*f ± %.*f" % (d, mean, d, std)


def ratio(p, r):
    if p is None or r is None or r[0] == 0:
        return "n/a"
    return "%.2f" % (p[0] / r[0])


def make_report(args, pdc, ray, notes, status, started, pdc_py=None, py_skipped=()):
    pdc_py = {} if pdc_py is None else pdc_py
    nproc, model, mem = machine_info()
    names = [m for m in args.metrics]
    for src in (pdc, ray, pdc_py):
        for m in src:
            if m not in names:
                names.append(m)
    lines = [
        "# pdc vs Ray microbenchmarks",
        "",
        "- date: %s" % started.strftime("%Y-%m-%d %H:%M:%S %Z").strip(),
        "- machine: nproc %s, %s, %s memory" % (nproc, model, mem),
        "- command: `%s`" % shlex.join([os.path.relpath(sys.argv[0], os.getcwd())] + sys.argv[1:]),
        "- pdc: `%s`%s" % (args.pdc_bin, " (not run: --ray-only)" if args.ray_only else ""),
        "- pdc (Python): %s" % ("not run" if args.ray_only or args.no_pdc_python else
                                "`%s bench/pdc_py_microbench.py`, the pdc package over ctypes, "
                                "with Python functions and actors (@pdc.remote) as Ray's "
                                "benchmark has" % args.pdc_python),
        "- Ray: ray==%s, `ray.init(num_cpus=%d)`, bench/ray_microbench.py" % (RAY_VERSION, os.cpu_count() or 1),
        "- mode: %s; order: %s" % ("quick (smoke run, short rounds)" if args.quick else "full (1 s warm-up, 4 rounds >= 2 s)",
                                  "one run each" if args.no_alternate else "alternating per group"),
        "- units: operations per second (*_put_gigabytes: GB/s); "
        "mean ± std of the rounds; pdc/Ray > 1 means pdc is faster",
        "- skipped: metrics a side says it skipped (their notes below say why)",
    ]
    if status:
        lines.append("- problems: " + "; ".join(status))
    lines += [
        "",
        "| metric | pdc | Ray | pdc/Ray | pdc (Python) | pdc (Python)/Ray |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for m in names:
        p, r, q = pdc.get(m), ray.get(m), pdc_py.get(m)
        lines.append("| %s | %s | %s | %s | %s | %s |" % (
            m, cell(p), cell(r), ratio(p, r), cell(q, m in py_skipped), ratio(q, r)))
    notes = list(dict.fromkeys(notes))  # de-duplicated, in order
    if notes:
        lines += ["", "Notes printed by the runs (stderr lines with 'note:'):", ""]
        lines += ["- " + n for n in notes]
    return "\n".join(lines) + "\n"


def output_path(args, started):
    if args.output:
        return args.output
    base = os.path.join(RESULTS_DIR, started.strftime("%Y-%m-%d"))
    path, i = base + ".md", 2
    while os.path.exists(path):
        path, i = "%s-%d.md" % (base, i), i + 1
    return path


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    started = datetime.datetime.now().astimezone()
    if not args.ray_only and not os.access(args.pdc_bin, os.X_OK):
        log("compare.py: pdc binary %s not found or not executable "
            "(build it, pass --pdc-bin, or use --ray-only)" % args.pdc_bin)
        return 2
    ensure_venv()

    pdc, ray, pdc_py, notes, status = {}, {}, {}, [], []
    py_skipped = set()
    py_env = pdc_py_env(args)
    quick = ["--quick"] if args.quick else []
    if args.no_alternate:
        groups = [("all", args.metrics)]
    else:
        groups = [(g, [m for m in ms if m in args.metrics]) for g, ms in GROUPS]
        groups = [(g, ms) for g, ms in groups if ms]

    def side(which, metrics):
        only = ["--only", ",".join(metrics)]
        if which == "pdc":
            ok = run_side("pdc", [args.pdc_bin] + quick + only, args.timeout, pdc, notes)
        elif which == "pdc-py":
            ok = run_side("pdc-py", [args.pdc_python, PDC_PY_SCRIPT] + quick + only,
                          args.timeout, pdc_py, notes, env=py_env, skipped=py_skipped)
        else:
            ok = run_side("ray", [VENV_PY, RAY_SCRIPT] + quick + only, args.timeout, ray, notes)
        if not ok:
            status.append("%s run failed for %s" % (which, ",".join(metrics)))

    for i, (g, ms) in enumerate(groups):
        if args.ray_only:
            order = ["ray"]
        else:
            order = ["pdc", "ray"] if args.no_pdc_python else ["pdc", "pdc-py", "ray"]
            if i % 2:
                order.reverse()
        log("--- group %s: %s" % (g, " then ".join(order)))
        for which in order:
            side(which, ms)

    report = make_report(args, pdc, ray, notes, status, started, pdc_py, py_skipped)
    sys.stdout.write(report)
    sys.stdout.flush()
    path = output_path(args, started)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write(report)
    log("saved %s" % path)
    return 1 if status else 0


if __name__ == "__main__":
    sys.exit(main())
