"""W&B logging of a sweep (sweep/wandb_logging.py): a real synthetic Ray Tune sweep logged offline, then
the offline run files read back (summary JSON, config YAML and the history in the ``.wandb`` datastore)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sweep.wandb_logging import api_key_configured, history_row, resolve_mode, trial_config

REPO = Path(__file__).resolve().parents[2]
FAKE_KEY = "local-0123456789abcdef0123456789abcdef01234567"  # shaped like a W&B key, never valid


# --- reading offline runs back ---------------------------------------------------------------
def _set(target: dict[str, Any], item: Any) -> None:
    """Apply one W&B key/value item (``key`` or ``nested_key`` path) to a nested dict."""
    path = [item.key] if item.key else list(item.nested_key)
    for part in path[:-1]:
        target = target.setdefault(part, {})
    target[path[-1]] = json.loads(item.value_json)


def read_offline_run(run_dir: Path) -> dict[str, Any]:
    """Config, summary and history of an offline W&B run folder (``offline-run-*``), read from its
    ``run-*.wandb`` datastore (offline runs have no wandb-summary.json; ``wandb.Api`` needs a server)."""
    from wandb.proto import wandb_internal_pb2
    from wandb.sdk.internal.datastore import DataStore

    (store_path,) = run_dir.glob("run-*.wandb")
    store = DataStore()
    store.open_for_scan(str(store_path))
    config: dict[str, Any] = {}
    summary: dict[str, Any] = {}
    history: list[dict[str, Any]] = []
    run_info: dict[str, str] = {}
    while (data := store.scan_data()) is not None:
        rec = wandb_internal_pb2.Record()
        rec.ParseFromString(data)
        kind = rec.WhichOneof("record_type")
        if kind == "run":
            run_info = {"id": rec.run.run_id, "group": rec.run.run_group, "job_type": rec.run.job_type}
            for item in rec.run.config.update:
                _set(config, item)
        elif kind == "config":
            for item in rec.config.update:
                _set(config, item)
        elif kind == "summary":
            for item in rec.summary.update:
                _set(summary, item)
        elif kind == "history":
            row: dict[str, Any] = {}
            for item in rec.history.item:
                _set(row, item)
            history.append(row)
    store.close()
    return {"config": config, "summary": summary, "history": history, "run": run_info, "dir": run_dir}


def offline_runs(results_dir: Path) -> dict[str, dict[str, Any]]:
    """Every offline run under ``<results>/wandb``, keyed by run id."""
    runs = {}
    for run_dir in sorted((results_dir / "wandb").glob("offline-run-*")):
        data = read_offline_run(run_dir)
        runs[data["run"]["id"]] = data
    return runs


# --- unit: mode, key detection, rows ------------------------------------------------------
def test_mode_is_offline_without_a_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    assert not api_key_configured()
    assert resolve_mode("auto") == "offline"
    assert resolve_mode("online") == "offline"
    assert resolve_mode("off") == "off"
    (tmp_path / "netrc").write_text("machine api.wandb.ai\n  login user\n  password " + FAKE_KEY + "\n")
    (tmp_path / "netrc").chmod(0o600)
    assert api_key_configured()
    assert resolve_mode("auto") == "online"
    monkeypatch.setenv("NETRC", str(tmp_path / "none"))
    monkeypatch.setenv("WANDB_API_KEY", FAKE_KEY)
    assert resolve_mode("auto") == "online"
    with pytest.raises(ValueError, match="wandb mode"):
        resolve_mode("sometimes")


def test_history_row_keeps_metrics_only() -> None:
    row = history_row(
        {"step": 100, "comet": 0.8, "loss": None, "grad_norm": float("nan"), "stop_cause": "completed",
         "diverged": False, "config": {"lr": 1}, "pid": 3, "training_iteration": 1, "_x": 1}
    )  # fmt: skip
    assert row == {"step": 100, "comet": 0.8, "training_iteration": 1}
    assert trial_config({"lr": 1e-4, "_optuna_number": 3, "_secret": 1}) == {"lr": 1e-4, "optuna_number": 3}


def test_a_wandb_failure_never_fails_the_sweep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from types import SimpleNamespace

    from sweep.wandb_logging import WandbTrialLogger

    cb = WandbTrialLogger(results_dir=tmp_path, sweep_name="s", mode="offline")

    def refuse(**kwargs: Any) -> None:
        raise ConnectionError("api.wandb.ai unreachable")

    monkeypatch.setattr(cb, "_init_run", refuse)
    trial = SimpleNamespace(trial_id="t1", config={"lr": 1e-4}, status="RUNNING")
    cb.on_trial_start(0, [trial], trial)
    cb.on_trial_result(1, [trial], trial, {"step": 100, "comet": 0.8})
    cb.on_trial_complete(2, [trial], trial)
    cb.on_experiment_end([trial])
    assert "api.wandb.ai unreachable" in caplog.text


def test_failed_wandb_init_backs_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unreachable W&B blocks the driver for its timeout on every init: after a failure no init is
    tried for 10 s, doubling per failure in a row; a success resets the wait."""
    from types import SimpleNamespace

    from sweep.wandb_logging import WandbTrialLogger

    now = [0.0]
    cb = WandbTrialLogger(results_dir=tmp_path, sweep_name="s", mode="offline", clock=lambda: now[0])
    tries: list[float] = []
    up = [False]

    def init(**kwargs: Any) -> Any:
        tries.append(now[0])
        if not up[0]:
            raise ConnectionError("api.wandb.ai unreachable")
        return SimpleNamespace(log=lambda *a, **k: None, summary={}, finish=lambda **k: None)

    monkeypatch.setattr(cb, "_init_run", init)
    for i in range(40):  # a report every second from trials t0..t3
        now[0] = float(i)
        trial = SimpleNamespace(trial_id=f"t{i % 4}", config={"lr": 1e-4})
        cb.on_trial_result(i, [trial], trial, {"step": 100 * i, "comet": 0.8})
    assert tries == [0.0, 10.0, 30.0]  # waits 10 s, then 20 s (next would be at 70 s)
    up[0] = True
    now[0] = 70.0
    trial = SimpleNamespace(trial_id="t9", config={"lr": 1e-4})
    cb.on_trial_result(70, [trial], trial, {"step": 100, "comet": 0.8})
    assert tries[-1] == 70.0 and "t9" in cb._runs and cb._init_failures == 0


# --- integration: a real synthetic Ray Tune sweep, W&B offline ---------------------------------
def _run_synthetic_sweep(results_dir: Path) -> list[Any]:
    import ray
    from ray import tune

    from sweep.wandb_logging import WandbTrialLogger
    from trainable.testing.synthetic import synthetic_trainable

    space = {
        "lr": tune.grid_search([1e-4, 3e-3]),  # the second diverges (NaN at a known step)
        "lora_r": 16,
        "lora_alpha": 32,
        "masking": "weighted",
        "prompt_loss_weight": 0.3,
        "eval_every": 100,
        "max_steps": 300,
        "_optuna_number": 0,
    }
    logger = WandbTrialLogger(results_dir=results_dir, sweep_name="wbtest", mode="offline")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        grid = tune.Tuner(
            synthetic_trainable,
            param_space=space,
            tune_config=tune.TuneConfig(max_concurrent_trials=2),
            run_config=tune.RunConfig(
                name="ray", storage_path=str(results_dir), callbacks=[logger], verbose=0
            ),
        ).fit()
    finally:
        ray.shutdown()
    return [r.metrics for r in grid]


@pytest.mark.integration
def test_offline_sweep_logs_every_report_and_stop_cause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WANDB_API_KEY", FAKE_KEY)  # present but must never be written anywhere
    monkeypatch.setenv("WANDB_SILENT", "true")
    results = tmp_path / "sweep"
    finals = _run_synthetic_sweep(results)
    assert len(finals) == 2

    runs = offline_runs(results)
    trial_runs = {k: v for k, v in runs.items() if v["run"]["job_type"] == "trial"}
    assert len(trial_runs) == 2
    assert all(v["run"]["group"] == "wbtest" for v in runs.values())
    by_lr = {v["config"]["lr"]: v for v in trial_runs.values()}

    stable = by_lr[1e-4]
    assert [h["step"] for h in stable["history"]] == [100, 200, 300]
    assert all(0 < h["comet"] <= 1 and 0 <= h["term_acc"] <= 1 for h in stable["history"])
    assert all(0 <= h[k] <= 1 for h in stable["history"] for k in ("trunc_rate", "runon_rate"))
    assert stable["summary"]["stop_cause"] == "completed"
    assert stable["summary"]["diverged"] is False
    assert stable["config"]["masking"] == "weighted" and stable["config"]["optuna_number"] == 0

    diverged = by_lr[3e-3]
    assert diverged["summary"]["diverged"] is True
    assert diverged["summary"]["stop_cause"] in ("nonfinite_loss", "no_good_eval")
    assert diverged["summary"]["diverged_step"] >= 1

    # A bare Tuner's folder is no mtsweep results folder: no Pareto run (test_mtsweep_run_wandb_offline has it).
    assert [v for v in runs.values() if v["run"]["job_type"] == "pareto"] == []

    # The key is never written: not in any result file, nor in the captured output.
    captured = capfd.readouterr()
    assert FAKE_KEY not in captured.out + captured.err
    leaks = [p for p in results.rglob("*") if p.is_file() and FAKE_KEY.encode() in p.read_bytes()]
    assert leaks == []


@pytest.mark.integration
def test_mtsweep_run_wandb_offline(tmp_path: Path) -> None:
    """`mtsweep run --wandb offline` on the synthetic sweep: one run per trial under <results>/wandb,
    grouped by sweep, history per eval, stop cause in the summary, a Pareto run; the key never leaks."""
    out = tmp_path / "syn"
    env = {**os.environ, "WANDB_API_KEY": FAKE_KEY, "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.run(
        [sys.executable, "-m", "sweep.cli", "run", str(REPO / "sweep/configs/synthetic.yaml"), "--wandb", "offline",
         "--out", str(out), "--set", "num_trials=3", "--set", "max_concurrent=2", "--num-cpus", "2",
         "--live-every", "1000"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert FAKE_KEY not in proc.stdout + proc.stderr

    trials = [json.loads(line) for line in (out / "trials.jsonl").read_text().splitlines()]
    runs = offline_runs(out)
    trial_runs = [v for v in runs.values() if v["run"]["job_type"] == "trial"]
    assert len(trial_runs) == len(trials) == 3
    assert {v["run"]["group"] for v in runs.values()} == {out.name}
    for rec in trials:
        (run,) = [v for v in trial_runs if v["run"]["id"].endswith(rec["trial_id"])]
        assert run["summary"]["stop_cause"] == rec["stop_cause"]
        assert run["summary"]["diverged"] == bool(rec["diverged"])
        for key, value in rec["params"].items():
            if not key.startswith("_"):
                assert run["config"][key] == value
        reports = [json.loads(x) for x in (out / "reports.jsonl").read_text().splitlines()]
        steps = [r["metrics"]["step"] for r in reports if r["trial_id"] == rec["trial_id"]]
        assert [h["step"] for h in run["history"]] == sorted(set(steps))
        if rec["state"] == "COMPLETE":
            assert run["history"][-1]["comet"] == pytest.approx(rec["values"]["comet"])
    (pareto,) = [v for v in runs.values() if v["run"]["job_type"] == "pareto"]
    table_meta = pareto["summary"]["pareto_table"]
    assert table_meta["_type"] == "table-file" and table_meta["nrows"] == 3
    assert pareto["summary"]["n_pareto"] >= 1
    (table_file,) = pareto["dir"].glob(f"files/{table_meta['path']}")
    table = json.loads(table_file.read_text())
    assert "comet" in table["columns"] and "pareto" in table["columns"]
    assert pareto["summary"]["pareto_plot"]["_type"] == "image-file"
    assert list(pareto["dir"].glob("files/media/images/pareto_plot*.png"))
    leaks = [p for p in out.rglob("*") if p.is_file() and FAKE_KEY.encode() in p.read_bytes()]
    assert leaks == []
