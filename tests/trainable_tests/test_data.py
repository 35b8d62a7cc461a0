from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from trainable.base.errors import InputError
from trainable.data.pairs import Pair, leakage, load_pairs, sample_data_dir

REAL_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "enja"


def _jsonl(tmp_path: Path, rows: list[object], name: str = "d.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_jsonl_loads_pairs_with_file_line(tmp_path: Path) -> None:
    path = _jsonl(tmp_path, [{"en": "Open file", "ja": "ファイルを開く", "source": "x"},
                             {"en": "Save", "ja": "保存"}])
    pairs = load_pairs(path)
    assert pairs == [Pair("Open file", "ファイルを開く", f"{path}:1"), Pair("Save", "保存", f"{path}:2")]


def test_custom_field_names(tmp_path: Path) -> None:
    path = _jsonl(tmp_path, [{"source": "Save", "target": "保存"}])
    assert load_pairs(path, src_field="source", tgt_field="target")[0].ref == "保存"
    with pytest.raises(InputError, match=r"d\.jsonl:1: missing field 'en'"):
        load_pairs(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"en": "a", "ja": "b"}\n{"en": "c", "ja": \n', r":2: invalid JSON"),
        (b'{"en": "a", "ja": "b"}\n{"en": "c"}\n', r":2: missing field 'ja'"),
        (b'{"en": "a", "ja": "b"}\n{"en": "  ", "ja": "d"}\n', r":2: field 'en' is empty"),
        (b'{"en": "a", "ja": 3}\n', r":1: field 'ja' must be a string, got int"),
        (b'{"en": "a", "ja": null}\n', r":1: missing field 'ja'"),
        (b'["a", "b"]\n', r":1: expected a JSON object"),
        (b'{"en": "a", "ja": "b"}\n\n{"en": "c", "ja": "d"}\n', r":2: blank line"),
        (b'{"en": "a", "ja": "b"}\n{"en": "\xff\xfe", "ja": "d"}\n', r":2: invalid UTF-8"),
        (b"", r"no pairs found"),
    ],
)
def test_jsonl_errors_name_file_and_line(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message) as info:
        load_pairs(path)
    assert str(info.value).startswith(str(path))
    assert "\n" not in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        load_pairs(tmp_path / "nope.jsonl")


def test_duplicates_warn_with_count_and_are_kept(tmp_path: Path) -> None:
    row = {"en": "Save", "ja": "保存"}
    path = _jsonl(tmp_path, [row, {"en": "Open", "ja": "開く"}, row, row])
    with pytest.warns(UserWarning, match=r"2 duplicate pair\(s\).*d\.jsonl:1"):
        pairs = load_pairs(path)
    assert len(pairs) == 4


def test_no_warning_without_duplicates(tmp_path: Path) -> None:
    path = _jsonl(tmp_path, [{"en": "Save", "ja": "保存"}, {"en": "Save", "ja": "保存する"}])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(load_pairs(path)) == 2


def test_csv_with_quoted_multiline_cell_keeps_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text('en,ja\n"Two\nlines",二行\nSave,保存\nOpen,\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"d\.csv:5: field 'ja' is empty"):
        load_pairs(path)
    path.write_text('en,ja\n"Two\nlines",二行\nSave,保存\n', encoding="utf-8")
    pairs = load_pairs(path)
    assert [p.src for p in pairs] == ["Two\nlines", "Save"]
    assert pairs[1].where == f"{path}:4"


def test_csv_missing_column(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("en,japanese\nSave,保存\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"d\.csv:1: missing column 'ja'"):
        load_pairs(path)


def test_parquet(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"en": ["Save", "Open"], "ja": ["保存", "開く"]}), path)
    assert [p.ref for p in load_pairs(path)] == ["保存", "開く"]
    pq.write_table(pa.table({"en": ["Save", "Open"], "ja": ["保存", None]}), path)
    with pytest.raises(InputError, match=r"d\.parquet:row 2: missing field 'ja'"):
        load_pairs(path)


def test_hf_dataset_dir(tmp_path: Path) -> None:
    import datasets

    ds = datasets.Dataset.from_dict({"en": ["Save"], "ja": ["保存"], "other": [1]})
    ds.save_to_disk(str(tmp_path / "ds"))
    assert load_pairs(tmp_path / "ds") == [Pair("Save", "保存", f"{tmp_path / 'ds'}:row 1")]
    datasets.DatasetDict({"train": ds}).save_to_disk(str(tmp_path / "dd"))
    with pytest.raises(InputError, match=r"DatasetDict with splits \['train'\]"):
        load_pairs(tmp_path / "dd")


def test_leakage_counts_and_examples() -> None:
    train = [Pair("Save  file", "a", "t:1"), Pair("Open", "b", "t:2")]
    dev = [Pair("Save file", "x", "d:1"), Pair("Close", "y", "d:2"), Pair("Open", "z", "d:3")]
    report = leakage(train, dev, max_examples=1)
    assert report.count == 2
    assert report.examples == ("d:1: 'Save file'",)
    assert "2 source(s) also in train" in report.summary()
    assert not leakage(train, [Pair("Close", "y", "d:2")])


def test_sample_data_dir_location() -> None:
    assert sample_data_dir() == Path(__file__).resolve().parents[2] / "trainable" / "data" / "sample_data"


@pytest.mark.skipif(not (sample_data_dir() / "dev.jsonl").exists(), reason="sample data not written yet")
def test_sample_data_loads_without_leakage() -> None:
    splits = {name: load_pairs(sample_data_dir() / f"{name}.jsonl") for name in ("train", "dev", "test")}
    assert sum(len(v) for v in splits.values()) >= 300
    assert leakage(splits["train"], splits["dev"]).count == 0
    assert leakage(splits["train"], splits["test"]).count == 0


@pytest.mark.skipif(not REAL_DATA.exists(), reason="shared EN-JA corpus absent")
def test_real_corpus_splits_do_not_leak() -> None:
    train = load_pairs(REAL_DATA / "train.jsonl")
    dev = load_pairs(REAL_DATA / "dev.jsonl")
    assert len(dev) == 1500
    assert leakage(train, dev).count == 0
