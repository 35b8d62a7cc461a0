from __future__ import annotations

import json
from pathlib import Path

import pytest
from sacrebleu.metrics import BLEU, CHRF

from sweep.cli import main

SRCS = ["Open the server settings.", "Delete two policies?", "Save the folder"]
REFS = ["サーバー設定を開きます。", "2 つのポリシーを削除しますか?", "フォルダーを保存"]
HYPS = ["サーバの設定を開く。", "ポリシーを2つ削除しますか?", "フォルダを保存する"]
REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "enja"


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for name, lines in (("src", SRCS), ("ref", REFS), ("hyp", HYPS)):
        out[name] = tmp_path / f"{name}.txt"
        out[name].write_text("\n".join(lines) + "\n", encoding="utf-8")
    out["glossary"] = tmp_path / "g.tsv"
    out["glossary"].write_text("en\tja\tforbidden\nserver\tサーバー\tサーバ\npolicy\tポリシー\t\n"
                               "folder\tフォルダー|フォルダ\t\n", encoding="utf-8")
    out["data"] = tmp_path / "d.jsonl"
    out["data"].write_text("".join(json.dumps({"en": s, "ja": r}, ensure_ascii=False) + "\n"
                                   for s, r in zip(SRCS, REFS, strict=True)), encoding="utf-8")
    return out


def test_score_text_files_writes_json(files: dict[str, Path], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "scores.json"
    rc = main(["score", "--src", str(files["src"]), "--hyp", str(files["hyp"]), "--ref", str(files["ref"]),
               "--glossary", str(files["glossary"]), "--json", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "bleu_char" in printed and "term_acc" in printed and "tok:char" in printed
    result = json.loads(out.read_text(encoding="utf-8"))
    for key in ("bleu_char", "chrf_pp", "term_acc", "term_hits", "term_total", "term_forbidden", "len_ratio", "n"):
        assert key in result
    assert result["bleu_char"] == pytest.approx(BLEU(tokenize="char").corpus_score(HYPS, [REFS]).score)
    assert result["chrf_pp"] == pytest.approx(CHRF(word_order=2).corpus_score(HYPS, [REFS]).score)
    assert (result["term_hits"], result["term_total"], result["term_forbidden"]) == (2, 3, 1)
    assert result["per_term"]["server"] == {"total": 1, "hits": 0, "forbidden": 1}
    assert "comet" not in result and result["comet_model"] is None


def test_score_data_file_mode(files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "scores.json"
    rc = main(["score", "--data", str(files["data"]), "--hyp", str(files["ref"]), "--json", str(out),
               "--mecab"])
    assert rc == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["bleu_char"] == pytest.approx(100.0)
    assert result["bleu_mecab"] == pytest.approx(100.0)
    assert result["len_ratio"] == 1.0 and result["term_acc"] is None


def test_score_with_tiny_comet(files: dict[str, Path], tmp_path: Path, tiny_comet_ckpt: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "scores.json"
    rc = main(["score", "--data", str(files["data"]), "--hyp", str(files["hyp"]), "--comet", str(tiny_comet_ckpt),
               "--json", str(out)])
    assert rc == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    assert isinstance(result["comet"], float)
    assert result["comet_model"] == str(tiny_comet_ckpt)
    assert "comet" in capsys.readouterr().out


@pytest.mark.integration
@pytest.mark.skipif(not (REAL / "dev.jsonl").exists(), reason="shared EN-JA corpus absent")
def test_real_dev_reference_as_hypothesis(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [json.loads(line) for line in (REAL / "dev.jsonl").read_text(encoding="utf-8").splitlines()]
    hyp = tmp_path / "hyp.txt"
    hyp.write_text("".join(r["ja"] + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "scores.json"
    rc = main(["score", "--data", str(REAL / "dev.jsonl"), "--hyp", str(hyp),
               "--glossary", str(REAL / "glossary.tsv"), "--comet", "none", "--json", str(out)])
    assert rc == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["n"] == 1500
    assert result["bleu_char"] == pytest.approx(100.0) and result["len_ratio"] == 1.0
    assert 0.9 < result["term_acc"] < 1.0  # the corpus is not fully consistent


def test_score_bundled_sample_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from trainable.data.pairs import load_pairs, sample_data_dir

    data = sample_data_dir() / "dev.jsonl"
    if not data.exists():
        pytest.skip("sample data not written yet")
    hyp = tmp_path / "hyp.txt"
    hyp.write_text("".join(p.ref + "\n" for p in load_pairs(data)), encoding="utf-8")
    out = tmp_path / "scores.json"
    assert main(["score", "--data", str(data), "--hyp", str(hyp), "--glossary",
                 str(sample_data_dir() / "glossary.tsv"), "--json", str(out)]) == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["bleu_char"] == pytest.approx(100.0) and result["len_ratio"] == 1.0
    assert result["term_total"] > 0 and result["term_acc"] is not None
