"""Sweep config: validation errors name the key; paths resolve; shipped configs load; results folders."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sweep.config import SYNTHETIC_TRAINABLE, load_sweep_config
from sweep.results_dir import create_results_dir, read_resolved_config, write_sweep_yaml
from trainable.base.errors import InputError

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "sweep" / "configs").glob("*.yaml"))


def write(tmp_path: Path, data: dict, name: str = "sweep.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"bogus": 1}, "'bogus'"),
        ({"objectives": ["comet"]}, "'objectives'"),
        ({"objectives": ["comet", "term_acc", "bleu_char", "chrf_pp"]}, "'objectives'"),
        ({"objectives": ["comet", "fluency"]}, "'objectives'"),
        ({"objectives": ["comet", "comet"]}, "'objectives'"),
        ({"sampler": "cmaes"}, "'sampler'"),
        ({"num_trials": 0}, "'num_trials'"),
        ({"max_concurrent": 0}, "'max_concurrent'"),
        ({"seed": "x"}, "'seed'"),
        ({"population_size": 1}, "'population_size'"),
        ({"resources": {"gpus_per_trial": -0.5}}, "'resources.gpus_per_trial'"),
        ({"resources": {"gpus_per_trial": 1.5}}, "'resources.gpus_per_trial'"),
        ({"resources": {"cpus_per_trial": 0}}, "'resources.cpus_per_trial'"),
        ({"resources": {"tpus": 1}}, "'resources.tpus'"),
        ({"scheduler": {"reduction_factor": 1}}, "'scheduler.reduction_factor'"),
        ({"scheduler": {"grace_steps": 0}}, "'scheduler.grace_steps'"),
        ({"scheduler": {"tie_break": "random"}}, "'scheduler.tie_break'"),
        ({"trainable": "no_colon"}, "'trainable'"),
        ({"storage": "study.db"}, "'storage'"),
        ({"wandb": {"mode": "loud"}}, "'wandb.mode'"),
        ({"name": "a/b"}, "'name'"),
        ({"search_space": "does_not_exist"}, "'search_space'"),
        ({"trial": {"lr": -1}}, "'trial.lr'"),
        ({"trial": {"bogus_field": 1}}, "'trial.bogus_field'"),
        ({"trial": {"masking": "half"}}, "'trial.masking'"),
        ({"trial": {"comet_model": "none"}}, "'objectives'"),
    ],
)
def test_every_error_names_the_key(tmp_path: Path, data: dict, key: str) -> None:
    path = write(tmp_path, data)
    with pytest.raises(InputError) as err:
        load_sweep_config(path)
    message = str(err.value)
    assert message.startswith(str(path)), message
    assert key in message, message
    assert "\n" not in message


def test_override_errors_name_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, {"trainable": SYNTHETIC_TRAINABLE})
    with pytest.raises(InputError, match="'scheduler.reduction_factor'"):
        load_sweep_config(path, ["scheduler.reduction_factor=0.5"])
    with pytest.raises(InputError, match="--set"):
        load_sweep_config(path, ["num_trials"])


def test_user_trainable_skips_trial_config_validation(tmp_path: Path) -> None:
    path = write(tmp_path, {"trainable": SYNTHETIC_TRAINABLE, "trial": {"work_s": 0.5, "lr": -1}})
    cfg = load_sweep_config(path)
    assert cfg.trial == {"work_s": 0.5, "lr": -1}
    with pytest.raises(InputError, match="'trial.work_s'"):
        load_sweep_config(path, trainable="trainable.trial:tune_trainable")


def test_paths_resolve_against_the_file_or_the_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    space = (Path(__file__).resolve().parents[2] / "search_spaces" / "default.yaml").read_text()
    (conf / "my_space.yaml").write_text(space)
    (conf / "models" / "tiny").mkdir(parents=True)
    path = write(conf, {
        "search_space": "my_space.yaml",
        "trial": {"train_path": "data/train.jsonl", "model": "models/tiny", "comet_model": "Unbabel/wmt22-comet-da"},
        "out_dir": "runs/x",
    })  # fmt: skip
    cfg = load_sweep_config(path)
    assert cfg.search_space == str(conf / "my_space.yaml")
    assert cfg.trial["train_path"] == str(conf / "data" / "train.jsonl")
    assert cfg.trial["model"] == str(conf / "models" / "tiny")
    assert cfg.trial["comet_model"] == "Unbabel/wmt22-comet-da"  # a hub id stays a hub id
    assert cfg.out_dir == str(conf / "runs" / "x")
    monkeypatch.chdir(tmp_path)
    cfg = load_sweep_config(path, ["trial.dev_path=dev.jsonl", "search_space=default"])
    assert cfg.trial["dev_path"] == str(tmp_path / "dev.jsonl")
    assert Path(cfg.search_space).parent.name == "search_spaces"
    assert cfg.modes == ["max", "max"]


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_every_shipped_config_loads_and_opens_with_its_command(path: Path) -> None:
    cfg = load_sweep_config(path)
    assert 2 <= len(cfg.objectives) <= 3
    first = path.read_text(encoding="utf-8").splitlines()[:4]
    assert any(f"mtsweep run sweep/configs/{path.name}" in line for line in first), first


def test_shipped_configs_cover_synthetic_tiny_and_gpu() -> None:
    names = {p.name for p in CONFIGS}
    assert {"synthetic.yaml", "tiny.yaml", "qwen_gpu.yaml"} <= names
    gpu = load_sweep_config(CONFIGS[[p.name for p in CONFIGS].index("qwen_gpu.yaml")])
    assert 0 < gpu.resources.gpus_per_trial < 1
    assert gpu.trial["model"] == "Qwen/Qwen2.5-0.5B-Instruct"


def test_results_dir_is_never_overwritten(tmp_path: Path) -> None:
    first, note = create_results_dir(tmp_path / "sw")
    assert note is None and first == (tmp_path / "sw").resolve()
    (first / "keep.txt").write_text("x")
    second, note = create_results_dir(tmp_path / "sw")
    third, _ = create_results_dir(tmp_path / "sw")
    assert second.name == "sw-2" and third.name == "sw-3"
    assert "exists" in note and str(second) in note
    assert (first / "keep.txt").read_text() == "x"


def test_sweep_yaml_round_trips(tmp_path: Path) -> None:
    cfg = load_sweep_config(CONFIGS[[p.name for p in CONFIGS].index("synthetic.yaml")], ["num_trials=5"])
    out, _ = create_results_dir(tmp_path / "sw")
    write_sweep_yaml(out, cfg)
    back = read_resolved_config(out)
    assert back.num_trials == 5 and back.objectives == cfg.objectives and back.trial == cfg.trial
    assert back.storage == f"sqlite:///{out / 'study.db'}"
    assert back.study_name == cfg.name and back.out_dir == str(out)
    with pytest.raises(InputError, match="not a sweep results folder"):
        read_resolved_config(tmp_path)
