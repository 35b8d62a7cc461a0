from __future__ import annotations

import json
from pathlib import Path

import pytest

from trainable.base.errors import InputError
from trainable.data.glossary import Term, load_glossary

REAL_GLOSSARY = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "enja" / "glossary.tsv"


def _tsv(tmp_path: Path, body: str, name: str = "g.tsv") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def test_tsv_alternatives_and_forbidden(tmp_path: Path) -> None:
    path = _tsv(tmp_path, "en\tja\tforbidden\nserver\tサーバー|サーバ\t\nload  balancer\tロードバランサー\tロードバランサ|LB\n")
    terms = load_glossary(path)
    assert terms == [Term("server", ("サーバー", "サーバ"), ()),
                     Term("load balancer", ("ロードバランサー",), ("ロードバランサ", "LB"))]
    assert terms[1].where == f"{path}:3"


def test_forbidden_column_is_optional_and_extra_columns_ignored(tmp_path: Path) -> None:
    path = _tsv(tmp_path, "en\tja\tnote\nfile\tファイル\tcommon\n")
    assert load_glossary(path) == [Term("file", ("ファイル",), ())]


def test_csv_and_json_formats(tmp_path: Path) -> None:
    csv_path = tmp_path / "g.csv"
    csv_path.write_text('en,ja,forbidden\nfolder,"フォルダー|フォルダ",\n', encoding="utf-8")
    assert load_glossary(csv_path) == [Term("folder", ("フォルダー", "フォルダ"), ())]

    json_path = tmp_path / "g.json"
    json_path.write_text(json.dumps([{"en": "folder", "ja": ["フォルダー", "フォルダ"], "forbidden": "ディレクトリ"}]))
    assert load_glossary(json_path) == [Term("folder", ("フォルダー", "フォルダ"), ("ディレクトリ",))]
    json_path.write_text(json.dumps({"file": "ファイル", "folder": ["フォルダー"]}))
    assert [t.en for t in load_glossary(json_path)] == ["file", "folder"]


def test_identical_duplicate_warns_and_is_dropped(tmp_path: Path) -> None:
    path = _tsv(tmp_path, "en\tja\tforbidden\nFile\tファイル\t\nfile\tファイル\t\n")
    with pytest.warns(UserWarning, match=r"g\.tsv:3: duplicate of term 'file' at .*g\.tsv:2"):
        terms = load_glossary(path)
    assert len(terms) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("english\tja\nfile\tファイル\n", r"g\.tsv:1: missing column 'en'"),
        ("en\tforbidden\nfile\tx\n", r"g\.tsv:1: missing column 'ja'"),
        ("en\tja\tforbidden\n\tファイル\t\n", r"g\.tsv:2: empty term: 'en' is empty"),
        ("en\tja\tforbidden\nfile\t \t\n", r"g\.tsv:2: empty term: 'ja' is empty"),
        ("en\tja\tforbidden\nfile\tファイル||ファイル\t\n", r"g\.tsv:2: empty rendering in 'ja'"),
        ("en\tja\tforbidden\nfile\tファイル\n", r"g\.tsv:2: expected 3 columns"),
        ("en\tja\tforbidden\nfile\tファイル\t\nfile\tフアイル\t\n",
         r"g\.tsv:3: term 'file' has conflicting approved renderings: \['フアイル'\] here, \['ファイル'\] at"),
        ("en\tja\tforbidden\nfile\tファイル\tファイル\n", r"g\.tsv:2: .*both approved and forbidden"),
        ("en\tja\tforbidden\n", r"g\.tsv: glossary has no terms"),
        ("", r"g\.tsv: empty file"),
    ],
)
def test_tsv_errors_name_file_and_line(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        load_glossary(_tsv(tmp_path, body))


def test_invalid_utf8_names_line(tmp_path: Path) -> None:
    path = tmp_path / "g.tsv"
    path.write_bytes(b"en\tja\tforbidden\nfile\t\xff\t\n")
    with pytest.raises(InputError, match=r"g\.tsv:2: invalid UTF-8"):
        load_glossary(path)


def test_json_errors(tmp_path: Path) -> None:
    path = tmp_path / "g.json"
    path.write_text('[{"en": "file",\n "ja": }]')
    with pytest.raises(InputError, match=r"g\.json:2: invalid JSON"):
        load_glossary(path)
    path.write_text(json.dumps([{"en": "file", "ja": "ファイル"}, {"en": "save"}]))
    with pytest.raises(InputError, match=r"g\.json:entry 2: missing key 'ja'"):
        load_glossary(path)
    path.write_text(json.dumps([{"en": "file", "ja": 3}]))
    with pytest.raises(InputError, match=r"entry 1: 'ja' must be a string"):
        load_glossary(path)


@pytest.mark.skipif(not REAL_GLOSSARY.exists(), reason="shared EN-JA corpus absent")
def test_real_glossary_loads() -> None:
    terms = load_glossary(REAL_GLOSSARY)
    assert len(terms) == 319
    assert any(t.forbidden for t in terms)
