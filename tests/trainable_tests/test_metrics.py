from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from sacrebleu.metrics import BLEU, CHRF

from trainable.base.metric_names import METRIC_DIRECTIONS, METRIC_TARGETS
from trainable.data.glossary import Term
from trainable.eval.metrics import score_all

SRCS = ["Open the server settings.", "Delete two policies?", "Save", "Restart the load balancer now."]
REFS = ["サーバー設定を開きます。", "2 つのポリシーを削除しますか?", "保存", "ロードバランサーを今すぐ再起動します。"]
HYPS = ["サーバの設定を開く。", "ポリシーを2つ削除しますか?", "保存する", "今すぐロードバランサーを再起動。"]
TERMS = [Term("server", ("サーバー",), ("サーバ",)), Term("policy", ("ポリシー",)),
         Term("load balancer", ("ロードバランサー",))]


def _sacrebleu_cli(tmp_path: Path, *args: str) -> list[dict[str, object]]:
    (tmp_path / "ref.txt").write_text("\n".join(REFS) + "\n", encoding="utf-8")
    (tmp_path / "hyp.txt").write_text("\n".join(HYPS) + "\n", encoding="utf-8")
    out = subprocess.run(
        [sys.executable, "-m", "sacrebleu", str(tmp_path / "ref.txt"), "-i", str(tmp_path / "hyp.txt"),
         "-w", "8", *args], capture_output=True, text=True, check=True,
    ).stdout
    data = json.loads(out)
    return data if isinstance(data, list) else [data]


def test_bleu_char_and_chrf_pp_equal_sacrebleu_cli_on_same_files(tmp_path: Path) -> None:
    result = score_all(SRCS, HYPS, REFS)
    bleu, chrf = _sacrebleu_cli(tmp_path, "-m", "bleu", "chrf", "-tok", "char", "--chrf-word-order", "2")
    assert result["bleu_char"] == pytest.approx(bleu["score"], abs=1e-6)
    assert result["chrf_pp"] == pytest.approx(chrf["score"], abs=1e-6)
    assert result["signatures"]["bleu_char"] == bleu["signature"]
    assert result["signatures"]["chrf_pp"] == chrf["signature"]
    assert 0 < result["bleu_char"] < 100


def test_bleu_mecab_equals_sacrebleu_cli(tmp_path: Path) -> None:
    result = score_all(SRCS, HYPS, REFS, mecab=True)
    (mecab,) = _sacrebleu_cli(tmp_path, "-m", "bleu", "-tok", "ja-mecab")
    assert result["bleu_mecab"] == pytest.approx(mecab["score"], abs=1e-6)
    assert "tok:ja-mecab" in result["signatures"]["bleu_mecab"]


def test_equals_sacrebleu_api() -> None:
    result = score_all(SRCS, HYPS, REFS)
    assert result["bleu_char"] == BLEU(tokenize="char").corpus_score(HYPS, [REFS]).score
    assert result["chrf_pp"] == CHRF(word_order=2).corpus_score(HYPS, [REFS]).score


def test_identity_scores_100_and_len_ratio_1() -> None:
    result = score_all(SRCS, REFS, REFS, terms=TERMS)
    assert result["bleu_char"] == pytest.approx(100.0)
    assert result["chrf_pp"] == pytest.approx(100.0)
    assert result["len_ratio"] == 1.0
    assert (result["term_hits"], result["term_total"], result["term_acc"]) == (3, 3, 1.0)


def test_len_ratio_is_total_chars_and_shows_run_on_output() -> None:
    result = score_all(["a", "b"], ["ああああ", "い"], ["あ", "いい"])
    assert result["len_ratio"] == pytest.approx(5 / 3)


def test_term_metrics_and_latency() -> None:
    result = score_all(SRCS, HYPS, REFS, terms=TERMS, latencies_ms=[10.0, 20.0, 30.0, 40.0])
    assert (result["term_hits"], result["term_total"], result["term_forbidden"]) == (2, 3, 1)
    assert result["term_acc"] == pytest.approx(2 / 3)
    assert result["latency_ms"] == pytest.approx(25.0)
    assert "comet" not in result


def test_no_terms_gives_none_not_nan() -> None:
    result = score_all(["Hello"], ["こんにちは"], ["こんにちは"], terms=TERMS)
    assert result["term_acc"] is None and result["term_total"] == 0
    result = score_all(["Hello"], ["こんにちは"], ["こんにちは"])
    assert result["term_acc"] is None
    for value in result.values():
        assert not (isinstance(value, float) and math.isnan(value))


def test_keys_and_directions() -> None:
    result = score_all(SRCS, HYPS, REFS, terms=TERMS)
    assert set(result) == {"n", "bleu_char", "chrf_pp", "len_ratio", "term_acc", "term_hits", "term_total",
                           "term_forbidden", "signatures", "runon_rate", "trunc_rate"}
    assert result["n"] == 4
    assert METRIC_DIRECTIONS["trunc_rate"] == METRIC_DIRECTIONS["runon_rate"] == "min"
    assert METRIC_DIRECTIONS["comet"] == METRIC_DIRECTIONS["term_acc"] == "max"
    assert METRIC_DIRECTIONS["latency_ms"] == "min"
    assert "len_ratio" not in METRIC_DIRECTIONS and METRIC_TARGETS["len_ratio"] == 1.0


def test_comet_none_disables() -> None:
    assert "comet" not in score_all(SRCS, HYPS, REFS, comet="none")


def test_length_mismatch_and_empty_raise() -> None:
    with pytest.raises(ValueError, match="length mismatch"):
        score_all(SRCS, HYPS[:2], REFS)
    with pytest.raises(ValueError, match="0 segments"):
        score_all([], [], [])


def test_runon_rate_counts_segments_over_their_own_ratio() -> None:
    from trainable.eval.metrics import runon_rate, score_all

    refs = ["ファイルを保存", "開く", "設定", ""]
    hyps = ["ファイルを保存します", "開く開く開く開く開く", "設定", "何か"]  # 10/7, 10/2, 2/2, empty ref skipped
    assert runon_rate(hyps, refs) == pytest.approx(1 / 3)
    assert runon_rate(hyps, refs, ratio=1.2) == pytest.approx(2 / 3)
    scores = score_all(["a", "b", "c", "d"], hyps, refs, runon_ratio=1.2)
    assert scores["runon_rate"] == pytest.approx(2 / 3) and scores["trunc_rate"] is None
    assert score_all(["a"], ["x"], ["y"], truncated=[True])["trunc_rate"] == 1.0
