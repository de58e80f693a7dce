"""pdc-submit runs a Python script as a job on a three-node cluster started
with `pdc start` on loopback: the script, shipped in its working
directory, joins with pdc.init() (PDC_ADDRESS and PDC_JOB_ID come from the
node that runs it), spreads Python tasks and uses a Python actor; its
output and its workers' (prefixed by node and pid) stream back, and
pdc-submit exits with the script's status."""

import os
import subprocess
import sys

import pytest

import _pdc_testing as T

CLUSTER = T.LoopbackCluster("python-jobs", [["--num-cpus", "1"], ["--num-cpus", "1"]])

SCRIPT = '''
import os
import sys

import pdc

pdc.init()


@pdc.remote
def square(x):
    print("square of", x, "on", pdc.node_id())
    return x * x


@pdc.remote
class Total:
    def __init__(self):
        self.total = 0

    def add(self, x):
        self.total += x
        return self.total


spread = square.options(scheduling_strategy="SPREAD")
squares = pdc.get([spread.remote(i) for i in range(10)])
total = Total.remote()
for s in squares:
    last = total.add.remote(s)
print("job", os.environ["PDC_JOB_ID"], "total", pdc.get(last))
pdc.shutdown()
sys.exit(int(sys.argv[1]))
'''


@pytest.fixture(scope="module")
def cluster():
    address = CLUSTER.start()
    try:
        yield address
    finally:
        CLUSTER.stop()


def _submit(address, workdir, *args):
    env = dict(os.environ, PDC_SESSION_ROOT=CLUSTER.root)
    return subprocess.run(
        [os.path.join(T.bin_dir(), "pdc-submit"), "--address", address, *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_python_script_runs_as_a_job(cluster, tmp_path):
    (tmp_path / "script.py").write_text(SCRIPT)
    run = _submit(cluster, tmp_path, "--working-dir", ".", "--job-id", "py-1", "--",
                  sys.executable, "script.py", "0")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "job py-1 total 285" in run.stdout
    workers = [line for line in run.stdout.splitlines() if ", pid=" in line and "square of" in line]
    assert len(workers) == 10, run.stdout
    nodes = {line.split(",")[0].lstrip("(") for line in workers}
    assert len(nodes) >= 2, "the spread tasks ran on one node: %s" % run.stdout
    assert "job py-1 SUCCEEDED" in run.stderr


def test_a_python_jobs_exit_status_is_pdc_submits(cluster, tmp_path):
    (tmp_path / "script.py").write_text(SCRIPT)
    run = _submit(cluster, tmp_path, "--working-dir", ".", "--job-id", "py-5", "--",
                  sys.executable, "script.py", "5")
    assert run.returncode == 5, run.stdout + run.stderr
    assert "job py-5 total 285" in run.stdout
    listed = _submit(cluster, tmp_path, "--list")
    assert listed.returncode == 0
    rows = {line.split()[0]: line.split()[1] for line in listed.stdout.splitlines()[1:]}
    assert rows["py-1"] == "SUCCEEDED" and rows["py-5"] == "FAILED", listed.stdout
