"""Feasibility constraints in a sweep: config validation (one-line errors naming the key) and what the
recorder writes to the Optuna study (constraint attrs before tell; the study's front is feasible only)."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import yaml

from sweep.config import load_sweep_config
from sweep.study import make_sampler, make_storage
from trainable.base.errors import InputError

BANDS = {"len_ratio": (0.7, 1.5), "bleu_char": (10.0, None), "comet": None}


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({"trainable": "trainable.testing.synthetic:synthetic_trainable", **data}))
    return path


@pytest.mark.parametrize(
    ("constraints", "key", "words"),
    [
        ({"fluency": [0, 1]}, "'constraints.fluency'", "unknown metric"),
        ({"len_ratio": [1.5, 0.7]}, "'constraints.len_ratio'", "min 1.5 > max 0.7"),
        ({"len_ratio": [None, None]}, "'constraints.len_ratio'", "both sides are null"),
        ({"len_ratio": 1.0}, "'constraints.len_ratio'", "expected [min, max]"),
        ({"len_ratio": [0.7, 1.5, 2]}, "'constraints.len_ratio'", "expected [min, max]"),
        ({"bleu_char": ["ten", None]}, "'constraints.bleu_char'", "finite numbers or null"),
        ([0.7, 1.5], "'constraints'", "mapping"),
    ],
)
def test_bad_constraints_are_one_line_errors_naming_the_key(tmp_path: Path, constraints, key, words) -> None:
    path = write(tmp_path, {"constraints": constraints})
    with pytest.raises(InputError) as err:
        load_sweep_config(path)
    message = str(err.value)
    assert message.startswith(str(path)) and key in message and words in message and "\n" not in message


def test_config_default_and_user_trainable_names(tmp_path: Path) -> None:
    assert load_sweep_config(write(tmp_path, {})).constraints == {"len_ratio": [0.7, 1.5]}
    cfg = load_sweep_config(write(tmp_path, {"constraints": {"len_ratio": None, "bleu_char": [10, None]}}))
    assert cfg.constraints == {"len_ratio": None, "bleu_char": [10.0, None]}
    # --set reaches one band; a user trainable may constrain any metric it reports.
    cfg = load_sweep_config(write(tmp_path, {"trainable": "my.module:fn", "constraints": {"runs_on": [None, 0.1]}}),
                            ["constraints.len_ratio=[0.8,1.25]"])  # fmt: skip
    assert cfg.constraints == {"len_ratio": [0.8, 1.25], "runs_on": [None, 0.1]}


# --- the recorder ---------------------------------------------------------------------------
class StubScheduler:
    """The recorder reads only ``stopped_trials`` from the scheduler."""

    def __init__(self) -> None:
        self.stopped_trials: dict[str, int] = {}


def test_recorder_writes_optuna_constraints_before_tell(tmp_path: Path) -> None:
    from sweep.recorder import RecordingOptunaSearch

    def space(trial):
        trial.suggest_float("x", 0.0, 1.0)

    scheduler = StubScheduler()
    url = f"sqlite:///{tmp_path / 'study.db'}"
    searcher = RecordingOptunaSearch(
        space=space, metric=["comet", "term_acc"], mode=["max", "max"], sampler=make_sampler("tpe", seed=0),
        study_name="c", storage=make_storage(url), scheduler=scheduler, constraints=BANDS,
    )  # fmt: skip
    for tid in ("good", "runon", "pruned_bad", "err"):
        searcher.suggest(tid)
    final = {"is_final": True, "stop_cause": "completed"}
    searcher.on_trial_complete("good", {"step": 200, "comet": 0.80, "term_acc": 0.30, "len_ratio": 1.02,
                                        "bleu_char": 23.0, **final})  # fmt: skip
    # Dominates "good" but runs on: never on the front.
    searcher.on_trial_complete("runon", {"step": 200, "comet": 0.85, "term_acc": 0.40, "len_ratio": 2.4,
                                         "bleu_char": 5.3, **final})  # fmt: skip
    searcher.on_trial_result("pruned_bad", {"step": 100, "comet": 0.6, "term_acc": 0.1, "len_ratio": 0.0, "bleu_char": 0.0})
    scheduler.stopped_trials["pruned_bad"] = 100
    searcher.on_trial_complete("pruned_bad", {"step": 100, "comet": 0.6, "term_acc": 0.1, "len_ratio": 0.0, "bleu_char": 0.0})
    searcher.on_trial_complete("err", error=True)

    study = optuna.load_study(study_name="c", storage=url)
    by_id = {t.user_attrs["ray_trial_id"]: t for t in study.trials}
    assert [by_id[t].state.name for t in ("good", "runon", "pruned_bad", "err")] == ["COMPLETE", "COMPLETE", "PRUNED", "FAIL"]
    assert by_id["good"].user_attrs["feasible"] is True and by_id["good"].user_attrs["failed_constraints"] == []
    assert max(by_id["good"].constraints.values()) <= 0  # FrozenTrial.constraints: what samplers read
    assert by_id["runon"].user_attrs["failed_constraints"] == ["len_ratio 2.4 > 1.5", "bleu_char 5.3 < 10"]
    assert by_id["runon"].constraints["len_ratio<=1.5"] == pytest.approx(0.6)
    assert by_id["pruned_bad"].user_attrs["feasible"] is False and by_id["pruned_bad"].constraints["bleu_char>=10"] == 1.0
    assert by_id["err"].constraints == {} and "feasible" not in by_id["err"].user_attrs
    assert [t.user_attrs["ray_trial_id"] for t in study.best_trials] == ["good"]  # Optuna's front: feasible only
    # TPE sorts the infeasible trial out of its "good" group (Optuna 5 reads the stored constraints).
    from optuna.samplers._tpe.sampler import _get_infeasible_trial_score

    assert _get_infeasible_trial_score(by_id["runon"]) > 0 and _get_infeasible_trial_score(by_id["good"]) == 0
