"""Malformed data, glossaries and flags: each gives a one-line error naming file/line/key, exit != 0,
and no traceback (through the real CLI entry point)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sweep.cli import main

GOOD_GLOSSARY = "en\tja\tforbidden\nfile\tファイル\t\n"


def _setup(tmp_path: Path) -> dict[str, Path]:
    p = {name: tmp_path / f"{name}.txt" for name in ("src", "ref", "hyp")}
    p["src"].write_text("Open file\nSave\n", encoding="utf-8")
    p["ref"].write_text("ファイルを開く\n保存\n", encoding="utf-8")
    p["hyp"].write_text("ファイルを開く\n保存\n", encoding="utf-8")
    p["data"] = tmp_path / "d.jsonl"
    p["data"].write_text('{"en": "Open file", "ja": "ファイルを開く"}\n{"en": "Save", "ja": "保存"}\n',
                         encoding="utf-8")
    p["glossary"] = tmp_path / "g.tsv"
    p["glossary"].write_text(GOOD_GLOSSARY, encoding="utf-8")
    return p


def _write(path: Path, content: str | bytes) -> None:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")


# (name, file to overwrite or None, its content, extra/replacement argv, expected text in the error)
CASES = [
    ("data_bad_json", "data", '{"en": "a", "ja": "b"}\n{"en": "Save" "ja": "保存"}\n', [], "d.jsonl:2: invalid JSON"),
    ("data_missing_field", "data", '{"en": "a", "ja": "b"}\n{"en": "Save"}\n', [], "d.jsonl:2: missing field 'ja'"),
    ("data_empty_field", "data", '{"en": "", "ja": "b"}\n{"en": "Save", "ja": "保存"}\n', [],
     "d.jsonl:1: field 'en' is empty"),
    ("data_non_string", "data", '{"en": "a", "ja": ["b"]}\n{"en": "Save", "ja": "保存"}\n', [],
     "d.jsonl:1: field 'ja' must be a string, got list"),
    ("data_invalid_utf8", "data", b'{"en": "a", "ja": "b"}\n{"en": "\xc3\x28", "ja": "x"}\n', [],
     "d.jsonl:2: invalid UTF-8"),
    ("data_blank_line", "data", '{"en": "a", "ja": "b"}\n\n{"en": "Save", "ja": "保存"}\n', [], "d.jsonl:2: blank line"),
    ("data_not_object", "data", '"just a string"\n{"en": "Save", "ja": "保存"}\n', [], "d.jsonl:1: expected a JSON object"),
    ("data_wrong_field_flag", None, "", ["--tgt-field", "japanese"], "d.jsonl:1: missing field 'japanese'"),
    ("data_line_count_mismatch", "data", '{"en": "a", "ja": "b"}\n', [], "hyp.txt: 2 lines but"),
    ("glossary_missing_column", "glossary", "en\tjapanese\nfile\tファイル\n", [], "g.tsv:1: missing column 'ja'"),
    ("glossary_empty_term", "glossary", "en\tja\tforbidden\nfile\tファイル\t\n\t保存\t\n", [],
     "g.tsv:3: empty term: 'en' is empty"),
    ("glossary_empty_rendering", "glossary", "en\tja\tforbidden\nfile\t\t\n", [], "g.tsv:2: empty term: 'ja' is empty"),
    ("glossary_conflict", "glossary", "en\tja\tforbidden\nfile\tファイル\t\nFile\tフアイル\t\n", [],
     "g.tsv:3: term 'File' has conflicting approved renderings"),
    ("glossary_column_count", "glossary", "en\tja\tforbidden\nfile\tファイル\t\tx\n", [], "g.tsv:2: expected 3 columns"),
    ("glossary_approved_forbidden", "glossary", "en\tja\tforbidden\nfile\tファイル\tファイル\n", [],
     "both approved and forbidden"),
    ("text_line_count_mismatch", "hyp", "ファイルを開く\n", ["TEXT"], "hyp.txt: 1 lines but"),
    ("text_src_ref_mismatch", "src", "Open file\n", ["TEXT"], "src.txt: 1 lines but"),
    ("hyp_missing_file", None, "", ["--hyp", "{missing}/no_such.txt"], "--hyp: file not found"),
    ("hyp_invalid_utf8", "hyp", b"ok\n\xff\n", [], "hyp.txt:2: invalid UTF-8"),
    ("flags_data_and_src", None, "", ["--src", "{src}"], "--data: give either --data or --src/--ref"),
    ("flags_src_without_ref", None, "", ["ONLY_SRC"], "--ref: missing"),
    ("flags_batch_size", None, "", ["--comet-batch-size", "0"], "--comet-batch-size: must be >= 1"),
    ("flags_comet_missing_ckpt", None, "", ["--comet", "./nope/model.ckpt"], "COMET checkpoint not found"),
    ("glossary_missing_file", None, "", ["--glossary", "{missing}/no_such.tsv"], "no_such.tsv: file not found"),
]


def _argv(p: dict[str, Path], extra: list[str]) -> list[str]:
    if extra[:1] == ["TEXT"]:
        return ["score", "--src", str(p["src"]), "--ref", str(p["ref"]), "--hyp", str(p["hyp"])]
    if extra[:1] == ["ONLY_SRC"]:
        return ["score", "--src", str(p["src"]), "--hyp", str(p["hyp"])]
    argv = ["score", "--data", str(p["data"]), "--hyp", str(p["hyp"]), "--glossary", str(p["glossary"])]
    extra = [x.format(src=p["src"], missing=p["src"].parent) for x in extra]
    return argv + extra


@pytest.mark.parametrize(("name", "target", "content", "extra", "expected"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str,
                                     target: str | None, content: str | bytes, extra: list[str],
                                     expected: str) -> None:
    p = _setup(tmp_path)
    if target:
        _write(p[target], content)
    rc = main(_argv(p, extra))
    captured = capsys.readouterr()
    assert rc == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("mtsweep score: error: ")
    assert expected in lines[0]
    assert "Traceback" not in captured.err + captured.out


@pytest.mark.parametrize(("argv_tail", "expected"), [
    (["--src", "a"], "the following arguments are required: --hyp"),
    (["--hyp", "h", "--comet-batch-size", "many"], "argument --comet-batch-size: invalid int value"),
])
def test_argparse_flag_errors_exit_2(argv_tail: list[str], expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["score", *argv_tail])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert expected in err.strip().splitlines()[-1]
    assert "Traceback" not in err


def test_real_script_prints_one_line_and_no_traceback(tmp_path: Path) -> None:
    script = shutil.which("mtsweep", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("mtsweep console script not installed in this environment")
    p = _setup(tmp_path)
    _write(p["data"], '{"en": "a", "ja": "b"}\n' + json.dumps({"en": "x"}) + "\n")
    proc = subprocess.run([script, "score", "--data", str(p["data"]), "--hyp", str(p["hyp"])],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"mtsweep score: error: {p['data']}:2: missing field 'ja'"
    assert "Traceback" not in proc.stderr + proc.stdout
