"""ray_cluster.yaml passes the Ray cluster launcher's own validation (what `ray up` runs first)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
CLUSTER_YAML = REPO / "ray_cluster.yaml"


def _load() -> dict:
    return yaml.safe_load(CLUSTER_YAML.read_text())


def _prepared() -> dict:
    """The config as `ray up` sees it after `_bootstrap_config`'s provider-independent steps."""
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = prepare_config(_load())
    validate_config(config)
    return config


def test_cluster_yaml_passes_ray_validation() -> None:
    config = _prepared()
    assert config["provider"]["type"] == "aws"
    assert config["head_node_type"] == "head"
    assert set(config["available_node_types"]) == {"head", "gpu_worker"}


def test_schema_rejects_a_broken_copy() -> None:
    """The validation is real: a misspelt top-level key or a bad type is refused."""
    import jsonschema
    from ray.autoscaler._private.util import prepare_config, validate_config

    bad = _load()
    bad["max_worker"] = 3  # typo of max_workers
    with pytest.raises(jsonschema.ValidationError):
        validate_config(prepare_config(copy.deepcopy(bad)))
    bad = _load()
    bad["available_node_types"]["gpu_worker"]["min_workers"] = 99  # more than max_workers
    with pytest.raises(ValueError):
        validate_config(prepare_config(bad))


def test_head_runs_no_trials_and_workers_autoscale_with_gpus() -> None:
    config = _prepared()
    head = config["available_node_types"]["head"]
    worker = config["available_node_types"]["gpu_worker"]
    assert head["resources"].get("CPU") == 0
    assert head["resources"].get("GPU", 0) == 0
    assert worker["resources"]["GPU"] >= 1
    assert worker["min_workers"] == 0 < worker["max_workers"] <= config["max_workers"]


def test_setup_installs_pinned_torch_before_mtsweep() -> None:
    cmds = _load()["setup_commands"]
    torch_idx = next(i for i, c in enumerate(cmds) if "torch==" in c)
    mtsweep_idx = next(i for i, c in enumerate(cmds) if "mtsweep" in c and "pip install" in c)
    assert torch_idx < mtsweep_idx
    import torch

    pinned = cmds[torch_idx].split("torch==")[1].split()[0]
    assert torch.__version__.split("+")[0] == pinned  # same torch as the tested stack


def test_file_mounts_exist_and_source_tree_is_installable() -> None:
    config = _load()
    for remote, local in config["file_mounts"].items():
        assert (REPO / local).is_dir(), f"file_mounts {remote}: {local} is not a directory"
    (remote_src,) = [r for r, loc in config["file_mounts"].items() if (REPO / loc).resolve() == REPO]
    assert any(remote_src in c for c in config["setup_commands"])
    assert (REPO / "pyproject.toml").is_file()


def test_shared_storage_is_mounted_into_the_container() -> None:
    config = _load()
    mount = "/mnt/shared"
    assert any(mount in c for c in config["initialization_commands"])
    assert f"-v {mount}:{mount}" in config["docker"]["run_options"]


def test_docker_images_match_installed_ray_and_python() -> None:
    import sys

    import ray

    docker = _load()["docker"]
    py = f"py{sys.version_info.major}{sys.version_info.minor}"
    for image in (docker["head_image"], docker["worker_image"]):
        assert f":{ray.__version__}-{py}" in image


def test_opens_with_the_commands_that_use_it() -> None:
    head = CLUSTER_YAML.read_text().split("\n\n", 1)[0]
    for cmd in ("ray up ray_cluster.yaml", "ray job submit", "mtsweep run", "ray down ray_cluster.yaml"):
        assert cmd in head


def test_cluster_sweep_config_writes_to_the_shared_volume() -> None:
    """sweep/configs/cluster.yaml loads, and everything it reads or writes is on the mounted volume."""
    from sweep.config import load_sweep_config

    cfg = load_sweep_config(REPO / "sweep" / "configs" / "cluster.yaml")
    mount = "/mnt/shared"
    assert cfg.out_dir is not None and cfg.out_dir.startswith(mount + "/")
    for key in ("train_path", "dev_path", "test_path", "glossary_path"):
        assert cfg.trial[key].startswith(mount + "/"), key
    assert 0 < cfg.resources.gpus_per_trial < 1  # fractional: several trials per GPU
    per_gpu = round(1 / cfg.resources.gpus_per_trial)
    worker = _prepared()["available_node_types"]["gpu_worker"]
    assert cfg.max_concurrent <= per_gpu * worker["resources"]["GPU"] * worker["max_workers"]
    assert cfg.resources.cpus_per_trial * per_gpu <= worker["resources"]["CPU"]
