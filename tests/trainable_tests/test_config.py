"""TrialConfig: reference defaults, validation naming the key, YAML + --set, Ray-style dicts."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest

from trainable.base.errors import InputError
from trainable.config import TrialConfig

CONFIGS = Path(__file__).resolve().parents[2] / "trainable" / "configs"


def test_defaults_are_the_reference_final_stable_config():
    cfg = TrialConfig()
    assert (cfg.model, cfg.quantization) == ("Qwen/Qwen2.5-0.5B-Instruct", "nf4")
    assert (cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout) == (16, 16.0, 0.05)
    assert cfg.target_modules == ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    assert (cfg.lr, cfg.batch_size, cfg.grad_accum, cfg.epochs, cfg.max_steps) == (5e-6, 8, 4, 1, 400)
    assert (cfg.max_seq_len, cfg.eval_every, cfg.patience, cfg.grad_clip) == (2048, 100, 1, 0.1)
    assert (cfg.masking, cfg.nan_policy, cfg.early_stop_rule) == ("full", "stop", "any_objective_improved")
    assert cfg.objectives == ["comet", "term_acc"] and cfg.comet_model == "Unbabel/wmt22-comet-da"
    assert cfg.inject_fault_step is None and cfg.inject_fault_kind is None  # test hooks off


def test_every_field_has_an_attribute_docstring():
    import ast
    import dataclasses
    import inspect

    import trainable.config as mod

    tree = ast.parse(inspect.getsource(mod))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "TrialConfig")
    documented = set()
    for prev, node in zip(cls.body, cls.body[1:], strict=False):
        if isinstance(prev, ast.AnnAssign) and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            documented.add(prev.target.id)
    assert {f.name for f in dataclasses.fields(TrialConfig)} == documented


def test_from_dict_ignores_reserved_keys_and_coerces():
    cfg = TrialConfig.from_dict({"lr": "2e-4", "lora_alpha": 32, "_trial_id": "abc", "_sweep": {"x": 1}})
    assert cfg.lr == 2e-4 and cfg.lora_alpha == 32.0


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"lr": 0}, "lr"),
        ({"lora_r": 0}, "lora_r"),
        ({"lora_dropout": 1.0}, "lora_dropout"),
        ({"prompt_loss_weight": 1.5}, "prompt_loss_weight"),
        ({"masking": "half"}, "masking"),
        ({"quantization": "int8"}, "quantization"),
        ({"eval_samples": 0}, "eval_samples"),
        ({"spike_min_history": 500}, "spike_min_history"),
        ({"objectives": ["comet", "rouge"]}, "objectives"),
        ({"objectives": []}, "objectives"),
        ({"comet_model": "none"}, "objectives"),
        ({"inject_fault_step": 3}, "inject_fault_kind"),
        ({"inject_fault_kind": "nan_loss", "inject_fault_step": 3, "nan_policy": "ignore"}, "nan_policy"),
        ({"device": "tpu"}, "device"),
        ({"batch_size": 8, "grad_accum": 4, "micro_batch_size": 5}, "micro_batch_size"),
        ({"learning_rate": 1e-4}, "learning_rate"),
        ({"batch_size": "eight"}, "batch_size"),
    ],
)
def test_bad_values_name_the_key(data, key):
    with pytest.raises(InputError) as err:
        TrialConfig.from_dict(data, where="my.yaml")
    assert str(err.value).startswith("my.yaml: ") and f"'{key}'" in str(err.value)
    assert "\n" not in str(err.value)


def test_yaml_with_overrides(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("lr: 1.0e-4\nmasking: weighted\nprompt_loss_weight: 0.3\n", encoding="utf-8")
    cfg = TrialConfig.from_yaml(path, ["lr=5e-5", "objectives=[comet, term_acc, bleu_char]", "max_steps=null"])
    assert (cfg.lr, cfg.masking, cfg.prompt_loss_weight, cfg.max_steps) == (5e-5, "weighted", 0.3, None)
    assert cfg.objectives == ["comet", "term_acc", "bleu_char"]
    with pytest.raises(InputError, match=r"t\.yaml: key 'lora_r'"):
        TrialConfig.from_yaml(path, ["lora_r=-1"])


def test_round_trip_through_dict():
    cfg = TrialConfig(lr=1e-4, target_modules=["q_proj"], train_samples=10)
    assert TrialConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.replace(lr=2e-4).lr == 2e-4


def test_shipped_configs_load():
    shipped = sorted(CONFIGS.glob("*.yaml"))
    assert shipped
    for path in shipped:
        text = path.read_text(encoding="utf-8")
        assert text.startswith("# ") and "mtsweep trial" in text.splitlines()[0] + text.splitlines()[1]
        cfg = TrialConfig.from_yaml(path, ["model=/some/tiny_model"])
        assert cfg.model == "/some/tiny_model"


@pytest.mark.parametrize(
    ("batch_size", "grad_accum", "micro"),
    [(8, 4, 32), (4, 2, 8), (16, 4, 32), (12, 4, 24), (5, 7, 7), (1, 1, 1), (64, 1, 32)],
)
def test_micro_batch_auto_is_the_largest_divisor_up_to_32(batch_size, grad_accum, micro):
    cfg = TrialConfig(batch_size=batch_size, grad_accum=grad_accum)
    assert cfg.micro_batch_size == "auto" and cfg.resolved_micro_batch_size() == micro
    effective = batch_size * grad_accum
    assert effective % micro == 0 and micro <= 32
    assert TrialConfig(batch_size=8, grad_accum=4, micro_batch_size=None).resolved_micro_batch_size() is None
    assert TrialConfig(batch_size=8, grad_accum=4, micro_batch_size=16).resolved_micro_batch_size() == 16


@pytest.mark.parametrize(
    ("compile_", "packed", "device", "steps", "mode"),
    [("auto", False, "cuda", 10, "step-graph"), ("auto", False, "cuda", 5000, "step-graph"),
     ("auto", True, "cuda", 1000, "reduce-overhead"), ("auto", True, "cuda", 999, None),
     ("auto", False, "cpu", 5000, None), (True, False, "cpu", 10, "default"), (False, False, "cuda", 600, None),
     ("reduce-overhead", False, "cuda", 10, "reduce-overhead"), ("step-graph", False, "cpu", 10, "step-graph")],
)
def test_compile_resolution(compile_, packed, device, steps, mode):
    assert TrialConfig(compile=compile_, packed=packed).resolved_compile(device, steps) == mode


def test_compile_names_are_validated():
    from trainable.config import CompileChoice

    assert "step-graph" in typing.get_args(CompileChoice)
    with pytest.raises(InputError, match="key 'compile': 'graph' is not one of 'auto', 'reduce-overhead', 'step-graph'"):
        TrialConfig.from_dict({"compile": "graph"})
    with pytest.raises(InputError, match="packed: false"):
        TrialConfig.from_dict({"compile": "step-graph", "packed": True})


def test_speed_lever_values_from_yaml(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("compile: reduce-overhead\nmicro_batch_size: auto\neval_merge_nf4: false\n", encoding="utf-8")
    cfg = TrialConfig.from_yaml(path)
    assert (cfg.compile, cfg.micro_batch_size, cfg.eval_merge_nf4) == ("reduce-overhead", "auto", False)
    for bad, key in (("compile: fast\n", "compile"), ("micro_batch_size: big\n", "micro_batch_size")):
        path.write_text(bad, encoding="utf-8")
        with pytest.raises(InputError, match=rf"t\.yaml: key '{key}'"):
            TrialConfig.from_yaml(path)
