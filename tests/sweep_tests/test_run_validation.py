"""`mtsweep run` refuses every malformed input before Ray starts: one line naming file and key, exit 2,
no results folder, Ray never imported (cases in bad_run_inputs.py, through the real CLI entry point)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sweep.cli import main
from tests.sweep_tests.bad_run_inputs import CASES, OUT, Case, materialize, write_base, written_results


@pytest.fixture
def empty_hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hugging Face cache (hub ids resolve against it, offline)."""
    from huggingface_hub import constants

    cache = tmp_path / "hf_cache"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


def _ray_untouched(ray_was_imported: bool) -> bool:
    if not ray_was_imported:
        return "ray" not in sys.modules
    import ray

    return not ray.is_initialized()


def test_the_base_sweep_passes_every_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, empty_hf_cache: Path) -> None:
    """The control: without its one change, no case fails (so each error is the case's own)."""
    from sweep.config import load_sweep_config
    from sweep.preflight import preflight

    case_dir = tmp_path / "case"
    case_dir.mkdir()
    materialize(Case("base", ()), case_dir)
    monkeypatch.chdir(case_dir)
    cfg = load_sweep_config("sweep.yaml")
    preflight(cfg, where="sweep.yaml")
    assert written_results(case_dir) == []


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_malformed_input_fails_before_anything_starts(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    empty_hf_cache: Path,
) -> None:
    case_dir = tmp_path / "case"
    case_dir.mkdir()
    argv = materialize(case, case_dir)
    monkeypatch.chdir(case_dir)
    ray_was_imported = "ray" in sys.modules
    rc = main(argv)
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert rc == 2, captured.err + captured.out
    assert len(lines) == 1 and lines[0].startswith("mtsweep run: error: "), captured.err
    for part in case.expect:
        assert part in lines[0], (part, lines[0])
    assert "Traceback" not in captured.err + captured.out
    assert written_results(case_dir) == []
    assert _ray_untouched(ray_was_imported)


def test_at_least_40_malformed_inputs_with_unique_ids() -> None:
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize(("argv_tail", "expected"), [
    (["--num-cpus", "two"], "argument --num-cpus: invalid int value"),
    (["--wandb", "loud"], "argument --wandb: invalid choice"),
])
def test_argparse_flag_errors_exit_2(tmp_path: Path, argv_tail: list[str], expected: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", str(tmp_path / "sweep.yaml"), *argv_tail])
    assert info.value.code == 2
    assert expected in capsys.readouterr().err.strip().splitlines()[-1]


def test_hub_ids_in_the_local_cache_or_allowed_downloads_pass(tmp_path: Path, empty_hf_cache: Path) -> None:
    """A hub id is accepted when the local HF cache holds it (real cache layout), or with --allow-download."""
    from trainable.base.errors import InputError
    from trainable.model.sources import base_model_source, comet_model_source

    with pytest.raises(InputError, match="not in the local Hugging Face cache"):
        base_model_source("org/tiny-model")
    assert base_model_source("org/tiny-model", allow_download=True) == "hub"
    snapshot = empty_hf_cache / "models--org--tiny-model" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (empty_hf_cache / "models--org--tiny-model" / "refs").mkdir()
    (empty_hf_cache / "models--org--tiny-model" / "refs" / "main").write_text("abc123")
    assert base_model_source("org/tiny-model") == "cache"
    with pytest.raises(InputError, match="not in the local Hugging Face cache"):
        comet_model_source("org/tiny-model")  # cached, but not a COMET repo (no checkpoints/model.ckpt)
    assert comet_model_source("none") is None


def test_resume_refuses_a_folder_without_sweep_yaml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ray_was_imported = "ray" in sys.modules
    assert main(["resume", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"mtsweep resume: error: {tmp_path}: not a sweep results folder (no sweep.yaml)"
    )
    assert main(["resume", str(tmp_path), "--num-cpus", "0"]) == 2
    assert "--num-cpus: must be >= 1" in capsys.readouterr().err
    assert _ray_untouched(ray_was_imported)


@pytest.mark.parametrize("case_id", ["config_empty_file", "trial_train_path_missing", "space_dropout_above_1"])
def test_real_script_refuses_before_ray(case_id: str, tmp_path: Path) -> None:
    """The installed `mtsweep` script in its own process: exit 2, one line, nothing written."""
    script = shutil.which("mtsweep", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("mtsweep console script not installed in this environment")
    case = next(c for c in CASES if c.id == case_id)
    argv = materialize(case, tmp_path)
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "hf_cache"), "RAY_ADDRESS": ""}
    proc = subprocess.run([script, *argv], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and all(part in lines[0] for part in case.expect), proc.stderr
    assert written_results(tmp_path) == [] and not (tmp_path / OUT).exists()
    assert "Traceback" not in proc.stderr + proc.stdout


def test_write_base_is_loadable(tmp_path: Path) -> None:
    from trainable.data.glossary import load_glossary
    from trainable.data.pairs import load_pairs

    write_base(tmp_path)
    assert len(load_pairs(tmp_path / "data" / "train.jsonl")) == 2
    assert len(load_glossary(tmp_path / "data" / "glossary.tsv")) == 1


def _results_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``tmp_path/case/results``: the folder `mtsweep run` writes before Ray starts (its sweep.yaml), for the
    valid base case (data next to it, cwd = the case folder)."""
    from sweep.config import load_sweep_config
    from sweep.results_dir import write_sweep_yaml

    case_dir = tmp_path / "case"
    case_dir.mkdir()
    materialize(Case("base", ()), case_dir)
    monkeypatch.chdir(case_dir)
    results = case_dir / "results"
    results.mkdir()
    write_sweep_yaml(results, load_sweep_config("sweep.yaml"))
    return results


def test_resume_runs_the_same_checks_as_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str], empty_hf_cache: Path) -> None:
    """Data moved after `mtsweep run` wrote the folder: `mtsweep resume` says so in one line (exit 2)
    before Ray starts, and writes nothing."""
    results = _results_folder(tmp_path, monkeypatch)
    (results.parent / "data" / "train.jsonl").unlink()
    before = sorted(p.name for p in results.iterdir())
    ray_was_imported = "ray" in sys.modules
    assert main(["resume", str(results)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"mtsweep resume: error: {results / 'sweep.yaml'}: key 'trial.train_path'") and "\n" not in err
    assert sorted(p.name for p in results.iterdir()) == before and _ray_untouched(ray_was_imported)


def test_resume_refuses_a_moved_or_copied_results_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """A copy's sweep.yaml, Ray state and writers name the original folder (and its study.db): resuming
    the copy would write into the original sweep. One line, exit 2, Ray not started, nothing written in
    either folder."""
    import shutil

    original = _results_folder(tmp_path, monkeypatch)
    copy = tmp_path / "elsewhere" / "results"
    shutil.copytree(original, copy)
    before = {p: sorted(q.name for q in p.iterdir()) for p in (original, copy)}
    ray_was_imported = "ray" in sys.modules
    assert main(["resume", str(copy)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"mtsweep resume: error: {copy / 'sweep.yaml'}: out_dir: this sweep was written as {original}")
    assert "\n" not in err and _ray_untouched(ray_was_imported)
    assert {p: sorted(q.name for q in p.iterdir()) for p in (original, copy)} == before
