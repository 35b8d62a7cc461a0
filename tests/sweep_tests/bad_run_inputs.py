"""Malformed inputs to `mtsweep run` (config, search space, trial section, flags), as data.

Each :class:`Case` changes ONE thing of a base sweep that passes every check (:func:`materialize` writes it
into a folder): the real CLI must then refuse it with a one-line error naming the file (or flag) and key,
exit 2, write no results folder and never start Ray. Used by ``test_run_validation.py`` and by
``bench/bad_inputs.py`` (which replays the list against another checkout, e.g. main before the change).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DELETE = object()
"""A ``config`` value that removes the key."""

BASE_SPACE: dict[str, Any] = {
    "name": "small",
    "params": {
        "lr": {"kind": "loguniform", "low": 1.0e-5, "high": 1.0e-3},
        "lora_r": {"kind": "categorical", "choices": [8, 16]},
        "lora_alpha_multiple": {"kind": "categorical", "choices": [1, 2]},
        "masking": {"kind": "categorical", "choices": ["full", "answer_only", "weighted"]},
        "prompt_loss_weight": {"kind": "uniform", "low": 0.0, "high": 1.0, "when": {"masking": "weighted"}},
        "lora_dropout": {"kind": "uniform", "low": 0.0, "high": 0.1},
    },
    "presets": [{"name": "ref", "lr": 1.0e-4, "lora_r": 16, "lora_alpha": 16, "masking": "full", "max_steps": 8}],
}
BASE_CONFIG: dict[str, Any] = {
    "name": "bad-input",
    "trainable": "trainable.trial:tune_trainable",
    "search_space": "space.yaml",
    "objectives": ["term_acc", "bleu_char"],
    "num_trials": 1,
    "max_concurrent": 1,
    "resources": {"cpus_per_trial": 1, "gpus_per_trial": 0},
    "scheduler": {"mo_asha": True, "reduction_factor": 2},
    "trial": {
        "model": "model",
        "comet_model": "none",
        "device": "cpu",
        "max_steps": 8,
        "eval_every": 4,
        "train_path": "data/train.jsonl",
        "dev_path": "data/dev.jsonl",
        "glossary_path": "data/glossary.tsv",
    },
    "wandb": {"mode": "off"},
}
TRAIN = [{"en": "Open file", "ja": "ファイルを開く"}, {"en": "Save", "ja": "保存"}]
GLOSSARY = "en\tja\tforbidden\nfile\tファイル\t\n"
OUT = "results"
"""The ``--out`` folder every case names (it must never appear)."""


@dataclass(frozen=True)
class Case:
    """One malformed input: what differs from the base, and what the error line must contain."""

    id: str
    expect: tuple[str, ...]
    """Substrings of the error line: the file (or flag) and the key."""
    config: dict[str, Any] = field(default_factory=dict)
    """Dotted key -> value (or DELETE) applied to the base config."""
    text: str | None = None
    """Raw config text instead of the base config."""
    space: dict[str, Any] | str | None = None
    """Search space (a mapping, or raw text) instead of the base space."""
    files: dict[str, str] = field(default_factory=dict)
    """Extra or replaced files, relative to the case folder."""
    argv: tuple[str, ...] = ()
    """Extra command-line arguments."""
    config_name: str = "sweep.yaml"
    """The config path given on the command line (need not exist)."""


def _space(**changes: Any) -> dict[str, Any]:
    """The base space with ``params`` entries replaced (None removes one) or top-level keys changed."""
    space = json.loads(json.dumps(BASE_SPACE))
    for key, value in changes.items():
        if key in ("presets", "name"):
            space[key] = value
        elif value is None:
            del space["params"][key]
        else:
            space["params"][key] = value
    return space


CASES: list[Case] = [
    # --- the config file itself --------------------------------------------------------------
    Case("config_empty_file", ("sweep.yaml", "empty sweep config"), text=""),
    Case("config_only_comments", ("sweep.yaml", "empty sweep config"), text="# nothing here\n"),
    Case("config_not_a_mapping", ("sweep.yaml", "mapping"), text="- name: a\n- name: b\n"),
    Case("config_invalid_yaml", ("sweep.yaml:3", "invalid YAML"), text="name: x\ntrial: {max_steps: [1\n"),
    Case("config_missing_file", ("nope.yaml", "file not found"), config_name="nope.yaml"),
    Case("config_unknown_key", ("sweep.yaml", "'bogus'"), config={"bogus": 1}),
    Case("config_sampler_unknown", ("sweep.yaml", "'sampler'"), config={"sampler": "cmaes"}),
    Case("config_tie_break_hypervolume", ("sweep.yaml", "'scheduler.tie_break'"),
         config={"scheduler.tie_break": "hypervolume"}),
    Case("config_wandb_mode_unknown", ("sweep.yaml", "'wandb.mode'"), config={"wandb.mode": "loud"}),
    Case("config_one_objective", ("sweep.yaml", "'objectives'"), config={"objectives": ["term_acc"]}),
    Case("config_unknown_objective", ("sweep.yaml", "'objectives'", "fluency"),
         config={"objectives": ["term_acc", "fluency"]}),
    Case("config_comet_objective_without_comet", ("sweep.yaml", "'objectives'"),
         config={"objectives": ["comet", "term_acc"]}),
    Case("config_num_trials_zero", ("sweep.yaml", "'num_trials'"), config={"num_trials": 0}),
    Case("config_max_concurrent_zero", ("sweep.yaml", "'max_concurrent'"), config={"max_concurrent": 0}),
    Case("config_cpus_per_trial_zero", ("sweep.yaml", "'resources.cpus_per_trial'"),
         config={"resources.cpus_per_trial": 0}),
    Case("config_gpus_per_trial_fraction_above_1", ("sweep.yaml", "'resources.gpus_per_trial'"),
         config={"resources.gpus_per_trial": 1.5}),
    Case("config_reduction_factor_1", ("sweep.yaml", "'scheduler.reduction_factor'"),
         config={"scheduler.reduction_factor": 1}),
    Case("config_grace_steps_past_max_steps", ("sweep.yaml", "'scheduler.grace_steps'"),
         config={"scheduler.grace_steps": 16}),
    Case("config_first_rung_eval_every_past_max_steps", ("sweep.yaml", "'trial.eval_every'"),
         config={"trial.eval_every": 16}),
    Case("config_storage_not_a_url", ("sweep.yaml", "'storage'"), config={"storage": "study.db"}),
    Case("config_storage_unknown_database", ("sweep.yaml", "'storage'"), config={"storage": "nosuchdb://h/x"}),
    Case("config_storage_sqlite_folder_missing", ("sweep.yaml", "'storage'", "does not exist"),
         config={"storage": "sqlite:///no/such/folder/study.db"}),
    Case("config_cpus_per_trial_above_local_ray", ("sweep.yaml", "'resources.cpus_per_trial'"),
         config={"resources.cpus_per_trial": 4}, argv=("--num-cpus", "2")),
    Case("config_gpus_per_trial_without_gpus", ("sweep.yaml", "'resources.gpus_per_trial'"),
         config={"resources.gpus_per_trial": 0.25}, argv=("--num-gpus", "0")),
    Case("config_trial_not_a_mapping", ("sweep.yaml", "'trial'"), config={"trial": [1, 2]}),
    Case("config_objectives_not_a_list", ("sweep.yaml", "'objectives'"), config={"objectives": "term_acc"}),
    Case("config_constraint_unknown_metric", ("sweep.yaml", "'constraints.fluency'"),
         config={"constraints": {"fluency": [0.5, None]}}),
    Case("config_constraint_min_above_max", ("sweep.yaml", "'constraints.len_ratio'"),
         config={"constraints": {"len_ratio": [1.5, 0.7]}}),
    Case("config_name_with_slash", ("sweep.yaml", "'name'"), config={"name": "a/b"}),
    Case("config_trainable_not_module_function", ("sweep.yaml", "'trainable'"), config={"trainable": "train"}),
    Case("config_trainable_module_missing", ("sweep.yaml", "'trainable'", "no_such_pkg"),
         config={"trainable": "no_such_pkg.mod:train"}),
    Case("config_trainable_function_missing", ("sweep.yaml", "'trainable'", "no_such_function"),
         config={"trainable": "trainable.testing.synthetic:no_such_function"}),
    Case("config_search_space_missing", ("sweep.yaml", "'search_space'"), config={"search_space": "nope.yaml"}),
    # --- the trial section -------------------------------------------------------------------
    Case("trial_lr_negative", ("sweep.yaml", "'trial.lr'"), config={"trial.lr": -1}),
    Case("trial_unknown_field", ("sweep.yaml", "'trial.bogus_field'"), config={"trial.bogus_field": 1}),
    Case("trial_masking_unknown", ("sweep.yaml", "'trial.masking'"), config={"trial.masking": "assistant_only"}),
    Case("trial_micro_batch_not_dividing", ("sweep.yaml", "'trial.micro_batch_size'"),
         config={"trial.micro_batch_size": 3}),
    Case("trial_spike_history_past_window", ("sweep.yaml", "'trial.spike_min_history'"),
         config={"trial.spike_window": 10, "trial.spike_min_history": 20}),
    Case("trial_train_path_missing", ("sweep.yaml", "'trial.train_path'", "no_train.jsonl"),
         config={"trial.train_path": "data/no_train.jsonl"}),
    Case("trial_dev_path_missing", ("sweep.yaml", "'trial.dev_path'"), config={"trial.dev_path": "data/no_dev.jsonl"}),
    Case("trial_test_path_missing", ("sweep.yaml", "'trial.test_path'"), config={"trial.test_path": "nope.csv"}),
    Case("trial_glossary_path_missing", ("sweep.yaml", "'trial.glossary_path'"),
         config={"trial.glossary_path": "data/none.tsv"}),
    Case("trial_train_bad_json_line", ("sweep.yaml", "'trial.train_path'", "train.jsonl:2"),
         files={"data/train.jsonl": '{"en": "a", "ja": "b"}\n{"en": "Save" "ja": "x"}\n'}),
    Case("trial_train_wrong_field_name", ("sweep.yaml", "'trial.train_path'", "missing field 'japanese'"),
         config={"trial.tgt_field": "japanese"}),
    Case("trial_glossary_bad_header", ("sweep.yaml", "'trial.glossary_path'", "glossary.tsv:1"),
         files={"data/glossary.tsv": "en\tjapanese\nfile\tファイル\n"}),
    Case("trial_device_cuda_without_gpus", ("sweep.yaml", "'trial.device'"), config={"trial.device": "cuda"}),
    Case("trial_model_folder_missing", ("sweep.yaml", "'trial.model'"), config={"trial.model": "./no_model"}),
    Case("trial_model_folder_without_config", ("sweep.yaml", "'trial.model'", "config.json"),
         config={"trial.model": "data"}),
    Case("trial_model_hub_id_not_cached", ("sweep.yaml", "'trial.model'", "Hugging Face cache"),
         config={"trial.model": "Qwen/Qwen2.5-0.5B-Instruct"}),
    Case("trial_model_not_a_hub_id", ("sweep.yaml", "'trial.model'"), config={"trial.model": "a b c"}),
    Case("trial_comet_checkpoint_missing", ("sweep.yaml", "'trial.comet_model'"),
         config={"trial.comet_model": "./comet/model.ckpt"}),
    Case("trial_comet_hub_id_not_cached", ("sweep.yaml", "'trial.comet_model'", "Hugging Face cache"),
         config={"trial.comet_model": "Unbabel/wmt22-comet-da", "objectives": ["comet", "term_acc"]}),
    # --- the search space --------------------------------------------------------------------
    Case("space_dropout_above_1", ("space.yaml", "'params.lora_dropout.high'"),
         space=_space(lora_dropout={"kind": "uniform", "low": 0.0, "high": 1.5})),
    Case("space_masking_assistant_only", ("space.yaml", "'params.masking.choices'", "assistant_only"),
         space=_space(masking={"kind": "categorical", "choices": ["full", "assistant_only"]}, prompt_loss_weight=None,
                      presets=[])),
    Case("space_lora_r_int_from_0", ("space.yaml", "'params.lora_r.low'"),
         space=_space(lora_r={"kind": "int", "low": 0, "high": 16}, presets=[])),
    Case("space_lora_r_choice_0", ("space.yaml", "'params.lora_r.choices'"),
         space=_space(lora_r={"kind": "categorical", "choices": [0, 8]}, presets=[])),
    Case("space_alpha_multiple_from_0", ("space.yaml", "'params.lora_alpha_multiple.low'"),
         space=_space(lora_alpha_multiple={"kind": "uniform", "low": 0.0, "high": 2.0}, presets=[])),
    Case("space_prompt_loss_weight_above_1", ("space.yaml", "'params.prompt_loss_weight.high'"),
         space=_space(prompt_loss_weight={"kind": "uniform", "low": 0.0, "high": 2.0, "when": {"masking": "weighted"}})),
    Case("space_quantization_int8", ("space.yaml", "'params.quantization.choices'", "int8"),
         space=_space(quantization={"kind": "categorical", "choices": ["nf4", "int8"]})),
    Case("space_batch_size_fixed_0", ("space.yaml", "'params.batch_size.value'"),
         space=_space(batch_size={"kind": "fixed", "value": 0})),
    Case("space_preset_max_steps_0", ("space.yaml", "'presets[0]'"),
         space=_space(presets=[{"name": "p", "lr": 1.0e-4, "max_steps": 0}])),
    Case("space_param_not_a_trial_field", ("sweep.yaml", "'search_space'", "warmup_ratio"),
         space=_space(warmup_ratio={"kind": "uniform", "low": 0.0, "high": 0.1})),
    Case("space_log_low_0", ("space.yaml", "'params.lr.low'"),
         space=_space(lr={"kind": "loguniform", "low": 0.0, "high": 1.0e-3})),
    Case("space_low_above_high", ("space.yaml", "'params.lora_dropout.low'"),
         space=_space(lora_dropout={"kind": "uniform", "low": 0.2, "high": 0.1})),
    Case("space_unknown_kind", ("space.yaml", "'params.lr.kind'"), space=_space(lr={"kind": "normal", "low": 0, "high": 1})),
    Case("space_empty_file", ("space.yaml", "'params'"), space=""),
    # --- flags -------------------------------------------------------------------------------
    Case("flag_set_without_equals", ("--set", "num_trials"), argv=("--set", "num_trials")),
    Case("flag_set_empty_key", ("--set", "empty key"), argv=("--set", "=3")),
    Case("flag_set_unknown_key", ("sweep.yaml", "'bogus'"), argv=("--set", "bogus=1")),
    Case("flag_set_bad_type", ("sweep.yaml", "'num_trials'"), argv=("--set", "num_trials=many")),
    Case("flag_set_trial_lr_text", ("sweep.yaml", "'trial.lr'"), argv=("--set", "trial.lr=fast")),
    Case("flag_set_through_a_value", ("--set", "'resources'"), argv=("--set", "resources=2", "--set", "resources.x=1")),
    Case("flag_trainable_unimportable", ("--trainable", "no_such_pkg"), argv=("--trainable", "no_such_pkg:train")),
    Case("flag_num_cpus_0", ("--num-cpus",), argv=("--num-cpus", "0")),
    Case("flag_num_gpus_negative", ("--num-gpus",), argv=("--num-gpus", "-1")),
    Case("flag_live_every_negative", ("--live-every",), argv=("--live-every", "-5")),
    Case("flag_address_malformed", ("--address",), argv=("--address", "head-node")),
    Case("flag_out_under_a_file", ("--out", "data/glossary.tsv"), argv=("--out", "data/glossary.tsv/results")),
]


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        data = data.setdefault(part, {})
    if value is DELETE:
        data.pop(last, None)
    else:
        data[last] = value


def write_base(folder: Path) -> None:
    """The base sweep's files: data, glossary, a model folder (config.json only: never loaded here)."""
    (folder / "data").mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in TRAIN)
    (folder / "data" / "train.jsonl").write_text(lines, encoding="utf-8")
    (folder / "data" / "dev.jsonl").write_text(lines, encoding="utf-8")
    (folder / "data" / "glossary.tsv").write_text(GLOSSARY, encoding="utf-8")
    (folder / "model").mkdir(exist_ok=True)
    (folder / "model" / "config.json").write_text('{"model_type": "qwen2"}\n', encoding="utf-8")


def materialize(case: Case, folder: Path) -> list[str]:
    """Write the case's files into ``folder``; the `mtsweep` argv (run from ``folder``)."""
    write_base(folder)
    config = json.loads(json.dumps(BASE_CONFIG))
    for key, value in case.config.items():
        _set(config, key, value)
    text = case.text if case.text is not None else yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    (folder / "sweep.yaml").write_text(text, encoding="utf-8")
    space = BASE_SPACE if case.space is None else case.space
    space_text = space if isinstance(space, str) else yaml.safe_dump(space, sort_keys=False)
    (folder / "space.yaml").write_text(space_text, encoding="utf-8")
    for name, content in case.files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(content, encoding="utf-8")
    argv = ["run", case.config_name]
    if "--out" not in case.argv:
        argv += ["--out", OUT]
    return argv + list(case.argv)


def written_results(folder: Path) -> list[str]:
    """Results folders a run left behind (the ``--out`` folder, ``sweeps/``, suffixed copies)."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith((OUT, "sweeps")))
