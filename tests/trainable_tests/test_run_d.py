"""The reference's Run D reproduced: a model that never ends its turn (here: a copy of the toy model whose
end-of-turn / eos logits are suppressed) is trained with the real trial code; its evals show the run-on
output (``trunc_rate``, ``runon_rate``, ``len_ratio``) and the default feasibility constraint keeps it off the front."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.front import Point, pareto_front
from tests.trainable_tests.trial_helpers import tiny_config
from trainable.base.constraints import failed, parse_constraints
from trainable.training.reporting import ListReporter
from trainable.trial import run_trial

OBJECTIVES = ("bleu_char", "term_acc")


def _end_of_turn_suppressed(model_dir: Path, out: Path) -> Path:
    """A copy whose (untied) LM-head rows of every stop id are zero: their logit is 0, below the top token's."""
    import torch

    from trainable.eval.generation import stop_token_ids
    from trainable.model.loading import load_base_model

    model, tokenizer = load_base_model(str(model_dir), quantization="bf16", device="cpu", dtype="float32")
    head = torch.nn.Linear(model.config.hidden_size, model.config.vocab_size, bias=False)
    with torch.no_grad():
        head.weight.copy_(model.get_input_embeddings().weight)
        head.weight[stop_token_ids(tokenizer, model)] = 0.0
    model.config.tie_word_embeddings = False
    model.lm_head = head
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.mark.integration
def test_run_d_run_on_output_is_measured_and_infeasible(tiny_assets, tmp_path: Path) -> None:
    finals = {}
    for name, folder in (("normal", tiny_assets.model_dir),
                         ("run_d", _end_of_turn_suppressed(tiny_assets.model_dir, tmp_path / "run_d"))):
        cfg = tiny_config(tiny_assets, model=str(folder), max_new_tokens="auto", comet_model="none",
                          objectives=list(OBJECTIVES))
        finals[name] = run_trial(cfg, ListReporter())
    normal, run_d = finals["normal"], finals["run_d"]
    assert normal["max_new_tokens"] == run_d["max_new_tokens"] > 16  # auto: from the dev references
    assert run_d["trunc_rate"] == 1.0 and run_d["runon_rate"] >= 0.9 and run_d["len_ratio"] > 2.0
    assert normal["trunc_rate"] <= 0.25 and normal["runon_rate"] <= 0.25
    assert run_d["bleu_char"] < normal["bleu_char"]
    default = parse_constraints(None)  # what a sweep applies unless its config says otherwise
    assert failed(default, run_d) == [f"len_ratio {run_d['len_ratio']:.4g} > 1.5"]
    assert failed(default, normal) == []
    points = [Point(name, final["step"], {o: final[o] for o in OBJECTIVES}, final, {}, None, state="COMPLETE",
                    failed_constraints=tuple(failed(default, final))) for name, final in finals.items()]
    front = pareto_front(points, OBJECTIVES, ("max", "max"))
    assert [p.trial_id for p in front.front] == ["normal"] and [p.trial_id for p in front.infeasible] == ["run_d"]
