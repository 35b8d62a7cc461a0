"""The real unbabel-comet path (load_from_checkpoint + predict) with the tiny offline checkpoint."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from trainable.base.errors import InputError
from trainable.eval.metrics import get_comet_scorer, score_all

SRCS = ["Open the file.", "Restart the server.", "Save"]
REFS = ["ファイルを開きます。", "サーバーを再起動します。", "保存"]
HYPS = ["ファイルを開く。", "サーバーを再起動。", "保存する"]


def test_tiny_checkpoint_layout(tiny_comet_ckpt: Path) -> None:
    assert tiny_comet_ckpt.name == "model.ckpt" and tiny_comet_ckpt.parent.name == "checkpoints"
    hparams = yaml.safe_load((tiny_comet_ckpt.parents[1] / "hparams.yaml").read_text())
    assert hparams["class_identifier"] == "regression_metric"
    assert Path(hparams["pretrained_model"]).is_dir()


def test_comet_runs_end_to_end_and_is_cached(tiny_comet_ckpt: Path) -> None:
    import comet

    scorer = get_comet_scorer(str(tiny_comet_ckpt))
    assert scorer is not None
    assert isinstance(scorer.model, comet.models.RegressionMetric)
    assert get_comet_scorer(str(tiny_comet_ckpt)) is scorer  # loaded once per process
    scorer.batch_size = 2  # more than one batch
    seg = scorer.segment_scores(SRCS, HYPS, REFS)
    assert len(seg) == 3 and all(math.isfinite(s) for s in seg)
    assert scorer.segment_scores(SRCS, HYPS, REFS) == pytest.approx(seg)  # deterministic (eval mode)
    result = score_all(SRCS, HYPS, REFS, comet=str(tiny_comet_ckpt))
    assert result["comet"] == pytest.approx(sum(seg) / 3)


def test_same_scores_as_comet_predict_directly(tiny_comet_ckpt: Path) -> None:
    import comet

    model = comet.load_from_checkpoint(str(tiny_comet_ckpt), local_files_only=True)
    samples = [{"src": s, "mt": h, "ref": r} for s, h, r in zip(SRCS, HYPS, REFS, strict=True)]
    direct = model.predict(samples, batch_size=8, gpus=0, progress_bar=False)
    scorer = get_comet_scorer(str(tiny_comet_ckpt))
    assert scorer.segment_scores(SRCS, HYPS, REFS) == pytest.approx(list(direct.scores))
    assert scorer.score(SRCS, HYPS, REFS) == pytest.approx(direct.system_score)


def test_checkpoint_directory_is_accepted(tiny_comet_ckpt: Path) -> None:
    scorer = get_comet_scorer(str(tiny_comet_ckpt.parents[1]))
    assert scorer is not None and math.isfinite(scorer.score(SRCS[:1], HYPS[:1], REFS[:1]))


@pytest.mark.parametrize("name", ["none", "None", "", None])
def test_none_disables(name: str | None) -> None:
    assert get_comet_scorer(name) is None


def test_missing_checkpoint_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="COMET checkpoint not found"):
        get_comet_scorer(str(tmp_path / "nope.ckpt"))
    with pytest.raises(InputError, match=r"no checkpoints/\*\.ckpt"):
        get_comet_scorer(str(tmp_path))
