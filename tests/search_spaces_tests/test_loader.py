"""Search-space loader: shipped YAMLs, validation errors, define-by-run on a real Optuna study."""

from __future__ import annotations

import pickle
import random
import sys
from pathlib import Path

import optuna
import pytest
import yaml

from search_spaces.errors import SearchSpaceError
from search_spaces.loader import ALPHA_MULTIPLE_OPTUNA, load_search_space

SPACES = Path(__file__).resolve().parents[2] / "search_spaces"
SHIPPED = sorted(SPACES.glob("*.yaml"))
BASE = {
    "lr": {"kind": "loguniform", "low": 1e-6, "high": 5e-4},
    "lora_r": {"kind": "categorical", "choices": [8, 16]},
    "masking": {"kind": "categorical", "choices": ["full", "weighted"]},
}


def study() -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(
        directions=["maximize", "maximize"], sampler=optuna.samplers.RandomSampler(seed=0)
    )


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_every_shipped_yaml_loads_and_samples(path):
    space = load_search_space(path)
    assert "lr" in space.param_names
    s = study()
    for preset in space.presets:
        s.enqueue_trial(preset)
    for _ in range(len(space.presets) + 5):
        trial = s.ask()
        constants = space.define_by_run(trial) or {}
        config = {**trial.params, **constants}
        assert config["lora_alpha"] == config[ALPHA_MULTIPLE_OPTUNA] * config["lora_r"]
        assert ("prompt_loss_weight" in config) == (config["masking"] == "weighted")
        assert 1e-6 <= config["lr"] <= 5e-4
        s.tell(trial, [0.5, 0.5])
    assert pickle.loads(pickle.dumps(space)) == space  # Ray pickles the searcher with it
    assert path.read_text().startswith("#"), "each shipped YAML opens with a comment on how it is used"


def test_default_space_covers_reference_and_usual_lora_lrs():
    space = load_search_space(SPACES / "default.yaml")
    lr = next(p for p in space.params if p.name == "lr")
    assert lr.log and lr.low <= 3e-6 and lr.high >= 2e-4
    choices = {p.name: p.choices for p in space.params if p.kind == "categorical"}
    assert choices["lora_r"] == (8, 16, 32, 64)
    assert set(choices["masking"]) == {"full", "answer_only", "weighted"}
    assert set(choices["quantization"]) == {"nf4", "bf16"}


def test_reference_presets_are_enqueued_first_with_their_constants():
    space = load_search_space(SPACES / "reference_presets.yaml")
    assert [p["_preset"] for p in space.presets] == ["ref_A", "ref_B", "ref_D", "ref_final"]
    s = study()
    for preset in space.presets:
        s.enqueue_trial(preset)
    got = []
    for _ in range(4):
        trial = s.ask()
        constants = space.define_by_run(trial)
        got.append({**trial.params, **constants})
    a, b, d, final = got
    assert (a["lr"], a["lora_r"], a["lora_alpha"], a["masking"], a["max_steps"]) == (
        5e-6,
        16,
        16,
        "full",
        600,
    )
    assert (b["lr"], b["max_steps"]) == (3e-6, 600)
    assert (d["lr"], d["masking"], d["max_steps"]) == (5e-6, "answer_only", 300)
    assert (final["lr"], final["lora_dropout"], final["quantization"], final["max_steps"]) == (
        5e-6,
        0.05,
        "nf4",
        400,
    )
    # After the presets, the sampler takes over and no preset constant leaks into later trials.
    later = s.ask()
    assert "max_steps" not in space.define_by_run(later)


def test_define_by_run_through_ray_optuna_search():
    from ray.tune.search.optuna import OptunaSearch

    space = load_search_space(SPACES / "reference_presets.yaml")
    searcher = OptunaSearch(space=space.define_by_run, metric=["comet", "term_acc"], mode=["max", "max"],
                            points_to_evaluate=space.presets, seed=1)  # fmt: skip
    first = searcher.suggest("t1")
    assert first["_preset"] == "ref_A" and first["lora_alpha"] == 16 and first["max_steps"] == 600
    for i in range(2, 8):
        config = searcher.suggest(f"t{i}")
        assert config["lora_alpha"] == config[ALPHA_MULTIPLE_OPTUNA] * config["lora_r"]


def test_sample_random_is_seeded_and_in_range():
    space = load_search_space(SPACES / "default.yaml")
    a = [space.sample_random(random.Random(7)) for _ in range(2)]
    assert a[0] == a[1]
    points = [space.sample_random(random.Random(i)) for i in range(200)]
    assert all(1e-6 <= p["lr"] <= 5e-4 for p in points)
    assert {p["masking"] for p in points} == {"full", "answer_only", "weighted"}
    assert all(("prompt_loss_weight" in p) == (p["masking"] == "weighted") for p in points)


def test_fixed_otherwise_int_and_absolute_alpha(tmp_path):
    space = load_search_space({"params": {
        **BASE,
        "lora_alpha": {"kind": "categorical", "choices": [16, 32]},
        "prompt_loss_weight": {"kind": "uniform", "low": 0.0, "high": 1.0, "when": {"masking": "weighted"}, "otherwise": 1.0},
        "warmup_steps": {"kind": "int", "low": 0, "high": 50, "step": 10},
        "quantization": {"kind": "fixed", "value": "bf16"},
    }, "presets": [{"lr": 1e-4, "lora_r": 8, "lora_alpha": 32, "masking": "full"}]})  # fmt: skip
    assert "quantization" not in space.param_names
    s = study()
    s.enqueue_trial(space.presets[0])
    trial = s.ask()
    constants = space.define_by_run(trial)
    config = {**trial.params, **constants}
    assert (
        config["lora_alpha"] == 32
        and config["quantization"] == "bf16"
        and config["prompt_loss_weight"] == 1.0
    )
    assert config["warmup_steps"] % 10 == 0


def test_python_escape_hatch(tmp_path, monkeypatch):
    (tmp_path / "my_space.py").write_text(
        "def space(trial):\n"
        "    trial.suggest_float('lr', 1e-5, 1e-3, log=True)\n"
        "    return {'lora_alpha': 2 * trial.suggest_categorical('lora_r', [8, 16])}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        space = load_search_space("my_space:space")
        s = study()
        trial = s.ask()
        ret = space.define_by_run(trial)
        assert ret["lora_alpha"] == 2 * trial.params["lora_r"]
        point = space.sample_random(random.Random(0))
        assert point["lora_alpha"] == 2 * point["lora_r"]
        path = tmp_path / "py.yaml"
        path.write_text("define_by_run: my_space:space\npresets:\n  - {lr: 1.0e-4, lora_r: 8}\n")
        assert load_search_space(path).presets == [{"lr": 1e-4, "lora_r": 8}]
    finally:
        sys.modules.pop("my_space", None)


BAD = [
    ({"params": {"lr": {"kind": "gaussian", "low": 1, "high": 2}}}, "params.lr.kind", "unknown kind"),
    ({"params": {"lr": {"kind": "uniform", "low": 2, "high": 1}}}, "params.lr.low", "must be < high"),
    (
        {"params": {"lr": {"kind": "loguniform", "low": 0, "high": 1}}},
        "params.lr.low",
        "log scale needs low > 0",
    ),
    ({"params": {"lr": {"kind": "int", "low": -1, "high": 5, "log": True}}}, "params.lr.low", "log scale"),
    ({"params": {"lora_r": {"kind": "categorical", "choices": []}}}, "params.lora_r.choices", "non-empty"),
    (
        {"params": {"lora_r": {"kind": "categorical", "choices": [8, 8]}}},
        "params.lora_r.choices",
        "duplicate",
    ),
    ({"params": {"lr": {"kind": "uniform", "high": 1}}}, "params.lr.low", "required"),
    (
        {"params": {"lr": {"kind": "uniform", "low": 0, "high": 1, "scale": 2}}},
        "params.lr.scale",
        "not valid",
    ),
    ({"params": {"lr": {"kind": "uniform", "low": "x", "high": 1}}}, "params.lr.low", "finite number"),
    (
        {
            "params": {
                **BASE,
                "prompt_loss_weight": {"kind": "uniform", "low": 0, "high": 1, "when": {"mask": "weighted"}},
            }
        },
        "params.prompt_loss_weight.when.mask",
        "unknown parameter",
    ),
    (
        {
            "params": {
                **BASE,
                "prompt_loss_weight": {
                    "kind": "uniform",
                    "low": 0,
                    "high": 1,
                    "when": {"masking": "partial"},
                },
            }
        },
        "params.prompt_loss_weight.when.masking",
        "not a possible value",
    ),
    (
        {
            "params": {
                **BASE,
                "lora_alpha_multiple": {"kind": "categorical", "choices": [1, 2]},
                "lora_alpha": {"kind": "fixed", "value": 16},
            }
        },
        "params.lora_alpha_multiple",
        "not both",
    ),
    (
        {"params": {"lora_alpha_multiple": {"kind": "categorical", "choices": [1]}}},
        "params.lora_alpha_multiple",
        "lora_r",
    ),
    ({"params": {}}, "params", "non-empty"),
    ({"params": BASE, "sampler": "tpe"}, "sampler", "unknown key"),
    ({"params": BASE, "presets": [{"lr": 1.0}]}, "presets[0].lr", "outside the search space"),
    ({"params": BASE, "presets": [{"lora_r": 12}]}, "presets[0].lora_r", "outside"),
    (
        {
            "params": {
                **BASE,
                "prompt_loss_weight": {
                    "kind": "uniform",
                    "low": 0,
                    "high": 1,
                    "when": {"masking": "weighted"},
                },
            },
            "presets": [{"masking": "full", "prompt_loss_weight": 0.5}],
        },
        "presets[0].prompt_loss_weight",
        "condition",
    ),
    (
        {
            "params": {**BASE, "lora_alpha_multiple": {"kind": "categorical", "choices": [1, 2]}},
            "presets": [{"lora_r": 16, "lora_alpha": 48}],
        },
        "presets[0].lora_alpha",
        "lora_alpha_multiple",
    ),
    (
        {
            "params": {**BASE, "lora_alpha_multiple": {"kind": "categorical", "choices": [1, 2]}},
            "presets": [{"lora_alpha": 16}],
        },
        "presets[0].lora_alpha",
        "needs lora_r",
    ),
    ({"params": BASE, "presets": {"lr": 1e-4}}, "presets", "list"),
    ({"define_by_run": "no_such_module_xyz:f"}, "define_by_run", "cannot import"),
    ({"define_by_run": "not a path"}, "define_by_run", "module:function"),
]


@pytest.mark.parametrize(("data", "key", "message"), BAD, ids=[b[1] + ":" + b[2] for b in BAD])
def test_validation_errors_name_file_and_key(tmp_path, data, key, message):
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(SearchSpaceError) as err:
        load_search_space(path)
    text = str(err.value)
    assert text.startswith(f"{path}:") and f"'{key}'" in text and message in text, text
    assert "\n" not in text


def test_missing_file_and_bad_yaml_name_the_file(tmp_path):
    with pytest.raises(SearchSpaceError, match="file not found"):
        load_search_space(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("params:\n  lr: {kind: uniform\n")
    with pytest.raises(SearchSpaceError, match=rf"{bad}:\d+: invalid YAML"):
        load_search_space(bad)


def test_loader_does_not_import_optuna_at_module_level():
    import subprocess

    code = "import sys, search_spaces.loader; print('optuna' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=SPACES.parent
    )
    assert out.stdout.strip() == "False"
