"""A real two-node Ray cluster on this machine: a sweep submitted with `ray job submit` spreads its trials
over both nodes and writes complete results (issue "Cluster and tracking").

Loopback only; the cluster gets its own temp dir, ports and auth token, and the test ends exactly the
processes it started (never `ray stop`, which would end every Ray on the machine).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
RAY = str(Path(sys.executable).with_name("ray"))


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@dataclass
class Cluster:
    gcs_address: str  # 127.0.0.1:PORT
    dashboard_url: str  # http://127.0.0.1:PORT
    env: dict[str, str]  # environment for every ray CLI call against this cluster
    temp_dir: Path


def _ray_start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """`ray start ... --block` in its own session, so the test can end it and everything it spawned."""
    with log.open("w") as fh:
        return subprocess.Popen(
            [RAY, "start", "--block", "--disable-usage-stats", *args],
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _wait_for_nodes(cluster: Cluster, n: int, procs: list[subprocess.Popen], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"ray start exited with {p.returncode}; see {cluster.temp_dir}")
        out = subprocess.run(
            [RAY, "list", "nodes", "--address", cluster.dashboard_url, "--format", "json"],
            env=cluster.env,
            capture_output=True,
            text=True,
        )
        if out.returncode == 0 and out.stdout.lstrip().startswith("["):
            alive = [x for x in json.loads(out.stdout) if x.get("state") == "ALIVE"]
            if len(alive) >= n:
                return
        time.sleep(2)
    raise TimeoutError(f"{n} Ray nodes not alive after {timeout}s")


def _pids_using(temp_dir: Path) -> list[int]:
    """Processes whose command line names this cluster's temp dir (ours alone: the dir is unique)."""
    import psutil

    marker = f"{temp_dir}/"
    mine = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        with contextlib.suppress(psutil.Error):
            if any(marker in a for a in p.info["cmdline"] or ()):
                mine.append(p.info["pid"])
    return mine


def _end(procs: list[subprocess.Popen], temp_dir: Path) -> None:
    """End the `ray start --block` processes (they stop their node), then anything of ours left."""
    import psutil

    for p in reversed(procs):  # worker node first, then the head
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=30)
    for p in procs:  # whatever is left in the sessions we created
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(p.pid, signal.SIGKILL)
        if p.poll() is None:
            p.kill()
            p.wait(timeout=10)
    leftovers = []
    for pid in _pids_using(temp_dir):
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            proc.kill()
            leftovers.append(proc)
    psutil.wait_procs(leftovers, timeout=10)


@pytest.fixture
def two_node_cluster() -> Iterator[Cluster]:
    temp_dir = Path(tempfile.mkdtemp(prefix="mtsw2n_", dir="/tmp"))  # short: unix socket paths
    gcs, dash, agent1, agent1g, agent2, agent2g, client, metrics1, metrics2, rte1, rte2 = _free_ports(11)
    env = {
        **os.environ,
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": secrets.token_hex(16),  # this cluster's own token, not ~/.ray/auth_token
        "RAY_USAGE_STATS_ENABLED": "0",
    }
    env.pop("RAY_ADDRESS", None)
    cluster = Cluster(f"127.0.0.1:{gcs}", f"http://127.0.0.1:{dash}", env, temp_dir)
    procs: list[subprocess.Popen] = []
    try:
        procs.append(
            _ray_start(
                [
                    "--head",
                    "--node-ip-address=127.0.0.1",
                    f"--port={gcs}",
                    "--include-dashboard=true",
                    "--dashboard-host=127.0.0.1",
                    f"--dashboard-port={dash}",
                    f"--dashboard-agent-listen-port={agent1}",
                    f"--dashboard-agent-grpc-port={agent1g}",
                    f"--ray-client-server-port={client}",
                    f"--metrics-export-port={metrics1}",
                    f"--runtime-env-agent-port={rte1}",
                    f"--temp-dir={temp_dir / 'head'}",
                    "--num-cpus=1",
                    "--num-gpus=0",
                    '--resources={"node1": 1}',
                ],
                env,
                temp_dir.with_suffix(".head.log"),
            )
        )
        _wait_for_nodes(cluster, 1, procs)
        procs.append(
            _ray_start(
                [
                    f"--address={cluster.gcs_address}",
                    "--node-ip-address=127.0.0.1",
                    f"--dashboard-agent-listen-port={agent2}",
                    f"--dashboard-agent-grpc-port={agent2g}",
                    f"--metrics-export-port={metrics2}",
                    f"--runtime-env-agent-port={rte2}",
                    # Its own temp dir: two nodes sharing one would garbage-collect each other's
                    # runtime_resources (the job's working dir).
                    f"--temp-dir={temp_dir / 'node2'}",
                    "--num-cpus=1",
                    "--num-gpus=0",
                    '--resources={"node2": 1}',
                ],
                env,
                temp_dir.with_suffix(".node2.log"),
            )
        )
        _wait_for_nodes(cluster, 2, procs)
        yield cluster
    finally:
        _end(procs, temp_dir)
        shutil.rmtree(temp_dir, ignore_errors=True)
        for suffix in (".head.log", ".node2.log"):
            temp_dir.with_suffix(suffix).unlink(missing_ok=True)


def _ray_json(cluster: Cluster, *args: str) -> list[dict]:
    out = subprocess.run(
        [RAY, *args, "--address", cluster.dashboard_url, "--format", "json"],
        env=cluster.env, capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    return json.loads(out.stdout)


def test_sweep_job_spreads_trials_over_both_nodes(two_node_cluster: Cluster, tmp_path: Path) -> None:
    cluster = two_node_cluster
    out = tmp_path / "shared" / "syn2n"  # one filesystem for both nodes: the stand-in for NFS
    n_trials = 4
    job = subprocess.run(
        [RAY, "job", "submit", "--address", cluster.dashboard_url, "--working-dir", str(REPO),
         "--runtime-env-json", json.dumps({"excludes": ["sweeps/", "wandb/", "*.db"]}),
         "--", sys.executable, "-m", "sweep.cli", "run", "sweep/configs/synthetic.yaml", "--address", "auto",
         "--out", str(out), "--set", f"num_trials={n_trials}", "--set", "max_concurrent=2",
         "--set", "trial.work_s=1.0", "--live-every", "1000"],
        env=cluster.env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    log = job.stdout[-6000:] + job.stderr[-3000:]
    assert job.returncode == 0, log
    assert "succeeded" in log

    # Results complete: every trial finished in trials.jsonl with its reports, none left RUNNING.
    trials = [json.loads(x) for x in (out / "trials.jsonl").read_text().splitlines()]
    assert len(trials) == n_trials
    assert {t["state"] for t in trials} <= {"COMPLETE", "PRUNED", "FAIL"}
    assert any(t["state"] == "COMPLETE" for t in trials)
    reports = [json.loads(x) for x in (out / "reports.jsonl").read_text().splitlines()]
    assert {r["trial_id"] for r in reports} == {t["trial_id"] for t in trials}
    import optuna

    study = optuna.load_study(study_name="synthetic", storage=f"sqlite:///{out / 'study.db'}")
    assert len(study.trials) == n_trials
    assert all(t.state.is_finished() for t in study.trials)

    # Node spread: the actor that ran each trial (pid from Ray's result.json) and its node.
    nodes = {n["node_id"]: n for n in _ray_json(cluster, "list", "nodes")}
    assert len(nodes) == 2
    actors = _ray_json(cluster, "list", "actors", "--detail", "--limit", "10000")
    node_of_pid = {a["pid"]: a["node_id"] for a in actors if a.get("pid")}
    trial_nodes = {}
    for result_json in (out / "ray").glob("*/result.json"):
        first = json.loads(result_json.read_text().splitlines()[0])
        trial_nodes[first["trial_id"]] = node_of_pid[first["pid"]]
    assert set(trial_nodes) == {t["trial_id"] for t in trials}
    assert set(trial_nodes.values()) == set(nodes), f"trials ran on {sorted(set(trial_nodes.values()))} only"
