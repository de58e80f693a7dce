"""The head survives kill -9: on a cluster started with `pdc start` on
loopback, the head is killed for real and started again on its session
directory (`pdc start --head` on the same address), where it reads its
tables back (SESSION/head.db).  While it is down, what does not need it
goes on (an actor call, a local get); once it is back, a task that ran
throughout finishes, a named actor resolves and answers, a node that
joins afterwards runs a library uploaded before the restart (the code
package came back from disk: without it that node fails with
FunctionNotFoundError), `pdc status` lists the nodes and a new driver's
task is accepted.  A named actor created while the head is down waits
for it and is built once it is back.  The job table (pdc-submit) is read
back too, and a job running across the restart ends in it."""

import os
import subprocess
import sys
import textwrap
import threading
import time

import _pdc_testing as T
import pdc

CLUSTER = T.LoopbackCluster("head-restart", [["--num-cpus", "1"]])

NEW_DRIVER = textwrap.dedent(
    """
    import sys, time
    import pdc
    pdc.init(sys.argv[1])
    node = pdc.get(pdc.function(sys.argv[2], "node").remote(), timeout=30)
    print(repr(time.time()), node, flush=True)
    pdc.shutdown()
    """
)


def _new_driver(lib):
    return subprocess.Popen(
        [sys.executable, "-c", NEW_DRIVER, CLUSTER.address, lib],
        env=dict(os.environ, PDC_SESSION_ROOT=CLUSTER.root),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _other_node():
    me = pdc.node_id()
    return [n["NodeID"] for n in pdc.nodes() if n["Alive"] and n["NodeID"] != me][0]


def test_the_head_restarts_on_its_tables_and_the_cluster_goes_on(lib):
    with CLUSTER.joined():
        fn = lambda name: pdc.function(lib, name)  # noqa: E731
        other = _other_node()
        on_other = pdc.NodeAffinity(other)
        # The library goes to the head as a code package (the other node
        # fetches it from there).
        assert pdc.get(fn("node").options(strategy=on_other).remote(), timeout=T.TIMEOUT) == other
        keeper = (
            pdc.actor_class(lib, "Counter")
            .options(name="keeper", lifetime="detached", strategy=on_other)
            .remote(1)
        )
        assert pdc.get(keeper.incr.remote(1), timeout=T.TIMEOUT) == 2
        put = pdc.put(b"kept" * 1000)
        running = fn("sleep_node").options(strategy=on_other).remote(4000)

        CLUSTER.kill_head()
        # Down: calls to a placed actor and local gets need no head.
        assert pdc.get(keeper.incr.remote(1), timeout=T.TIMEOUT) == 3
        assert bytes(pdc.get(put, timeout=T.TIMEOUT)) == b"kept" * 1000

        restart_at = time.time()
        driver = _new_driver(lib)  # started while the head is down: it waits
        started = CLUSTER.restart_head()
        start_s = time.time() - restart_at
        assert "restarted" in started.stdout, started.stdout
        out, err = driver.communicate(timeout=T.TIMEOUT)
        assert driver.returncode == 0, err
        first_task_at, node = out.split()
        assert node in (n["NodeID"] for n in pdc.nodes())
        print(
            "\nhead restart: pdc start --head took %.0f ms; first task of a new driver accepted "
            "%.0f ms after the restart began" % (start_s * 1e3, (float(first_task_at) - restart_at) * 1e3)
        )

        assert pdc.get(running, timeout=T.TIMEOUT) == other
        found = pdc.get_actor("keeper", timeout=T.TIMEOUT)
        assert pdc.get(found.incr.remote(1), timeout=T.TIMEOUT) == 4

        third = CLUSTER.add_node("--num-cpus", "1")
        assert T.wait_until(lambda: third in [n["NodeID"] for n in pdc.nodes() if n["Alive"]])
        on_third = pdc.NodeAffinity(third)
        assert pdc.get(fn("node").options(strategy=on_third).remote(), timeout=T.TIMEOUT) == third

        status = CLUSTER.cli("status", "--address", CLUSTER.address)
        assert status.returncode == 0, status.stderr
        assert "3 nodes alive, 0 dead" in status.stdout, status.stdout
        # The actor table came back from the head's database: the detached
        # actor is ALIVE under its name, on the other node.
        row = [line for line in status.stdout.splitlines() if "default/keeper" in line]
        assert row and "ALIVE" in row[0] and other in row[0], status.stdout
        pdc.kill(found)


def test_a_named_actor_created_while_the_head_is_down_is_built_once_it_is_back(lib):
    with CLUSTER.joined():
        # The driver has a connection to the head when it dies.
        assert pdc.get(pdc.function(lib, "node").remote(), timeout=T.TIMEOUT)
        CLUSTER.kill_head()
        made = {}

        def create():
            try:
                made["actor"] = pdc.actor_class(lib, "Counter").options(name="late").remote(10)
            except Exception as e:  # the test reports it below
                made["error"] = e

        creator = threading.Thread(target=create)
        creator.start()
        time.sleep(2.5)  # the creator claims the name again meanwhile
        assert creator.is_alive(), "create returned while the head was down: %s" % made
        CLUSTER.restart_head()
        creator.join(timeout=T.TIMEOUT)
        assert not creator.is_alive() and "actor" in made, made
        assert pdc.get(made["actor"].incr.remote(1), timeout=T.TIMEOUT) == 11
        again = pdc.get_actor("late", timeout=T.TIMEOUT)
        assert pdc.get(again.get.remote(), timeout=T.TIMEOUT) == 11
        pdc.kill(made["actor"])


def test_the_job_table_survives_the_restart_and_a_running_job_ends_in_it(tmp_path):
    submit = os.path.join(T.bin_dir(), "pdc-submit")
    address = CLUSTER.start()
    try:
        run = lambda *args: subprocess.run(  # noqa: E731
            [submit, "--address", address, *args],
            env=dict(os.environ, PDC_SESSION_ROOT=CLUSTER.root),
            capture_output=True,
            text=True,
            timeout=T.TIMEOUT,
        )
        wd = ["--working-dir", str(tmp_path)]
        done = run(*wd, "--job-id", "quick", "--", "sh", "-c", "echo hi")
        assert done.returncode == 0, done.stderr
        started = run(*wd, "--job-id", "across", "--no-wait", "--", "sh", "-c", "sleep 3; echo late")
        assert started.returncode == 0, started.stderr
        assert T.wait_until(lambda: "RUNNING" in run("--status", "across").stdout)
        CLUSTER.kill_head()
        CLUSTER.restart_head()
        listed = run("--list").stdout
        assert "quick" in listed and "SUCCEEDED" in listed, listed
        assert T.wait_until(lambda: "SUCCEEDED" in run("--status", "across").stdout, timeout=15)
        assert "late" in run("--logs", "across").stdout
    finally:
        CLUSTER.stop()
