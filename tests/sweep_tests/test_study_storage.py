"""A sweep's study in a shared database (PostgreSQL URL), read by `optuna-dashboard` (issue "Cluster
and tracking"). Starts a throwaway PostgreSQL server on loopback; skipped when PostgreSQL, its Python
driver (psycopg) or optuna-dashboard is not installed."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(candidates[-1]) if candidates else None


@pytest.fixture
def postgres_url(tmp_path: Path) -> Iterator[str]:
    """A fresh PostgreSQL server (trust auth, loopback, own socket dir); its SQLAlchemy URL."""
    pytest.importorskip("psycopg")
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("PostgreSQL server binaries not installed (apt-get install postgresql)")
    as_user: list[str] = []
    if os.geteuid() == 0:  # postgres refuses to run as root: run it as the 'postgres' user
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser")
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and no 'postgres' user")
        as_user = ["runuser", "-u", "postgres", "--"]
    base = Path(f"/tmp/mtsw_pg_{os.getpid()}_{tmp_path.name[-8:]}")  # short: unix socket path limit
    base.mkdir(mode=0o700)
    if as_user:
        shutil.chown(base, "postgres", "postgres")
    data, port = base / "data", _free_port()
    subprocess.run([*as_user, initdb, "-D", str(data), "-U", "mtsweep", "--auth=trust", "-E", "UTF8"],
                   check=True, capture_output=True, timeout=120)  # fmt: skip
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {base} -c fsync=off"
    subprocess.run([*as_user, pg_ctl, "-D", str(data), "-o", opts, "-l", str(base / "log"), "-w", "start"],
                   check=True, capture_output=True, timeout=120)  # fmt: skip
    try:
        yield f"postgresql+psycopg://mtsweep@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"],
                       capture_output=True, timeout=120)  # fmt: skip
        shutil.rmtree(base, ignore_errors=True)


@contextlib.contextmanager
def _optuna_dashboard(storage: str) -> Iterator[str]:
    exe = shutil.which("optuna-dashboard", path=str(Path(sys.executable).parent)) or shutil.which("optuna-dashboard")
    if exe is None:
        pytest.skip("optuna-dashboard not installed (pip install -e '.[dev]')")
    port = _free_port()
    proc = subprocess.Popen([exe, storage, "--host", "127.0.0.1", "--port", str(port), "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _get_json(url: str, timeout: float = 60) -> object:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                return json.loads(resp.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_sweep_study_in_postgres_seen_by_optuna_dashboard(postgres_url: str, tmp_path: Path) -> None:
    out = tmp_path / "pg"
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.run(
        [sys.executable, "-m", "sweep.cli", "run", str(REPO / "sweep/configs/synthetic.yaml"), "--out", str(out),
         "--set", f"storage={postgres_url}", "--set", "num_trials=3", "--num-cpus", "2", "--live-every", "1000"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert not (out / "study.db").exists()  # the study went to the database, not to SQLite

    import optuna

    study = optuna.load_study(study_name="synthetic", storage=postgres_url)
    assert len(study.trials) == 3
    assert all(t.state.is_finished() for t in study.trials)
    assert all("stop_cause" in t.user_attrs for t in study.trials)

    with _optuna_dashboard(postgres_url) as url:
        (summary,) = _get_json(f"{url}/api/studies")["study_summaries"]
        detail = _get_json(f"{url}/api/studies/{summary['study_id']}?after=0")
    assert summary["study_name"] == "synthetic"
    assert summary["directions"] == ["maximize", "maximize"]
    assert len(detail["trials"]) == 3
    assert {t["number"] for t in detail["best_trials"]} == {t.number for t in study.best_trials}
