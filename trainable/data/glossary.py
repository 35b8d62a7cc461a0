"""Terminology glossary: TSV (``en<TAB>ja<TAB>forbidden``), CSV with the same header, or JSON.

``ja`` holds one or more approved renderings separated by ``|``; ``forbidden`` (optional column, may be
empty) holds ``|``-separated renderings that must not be used. Errors name ``file:line`` (JSON:
``file:entry N``); the same English term listed twice with different renderings is an error, listed
twice identically a warning.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from trainable.base.errors import InputError


@dataclass(frozen=True)
class Term:
    """One glossary entry."""

    en: str
    """English term (matched case-insensitively, whole words, with plural forms)."""
    ja: tuple[str, ...]
    """Approved Japanese renderings (any one is a hit)."""
    forbidden: tuple[str, ...] = ()
    """Renderings that must not appear."""
    where: str = field(default="", compare=False)
    """Origin, ``file:line``."""


def load_glossary(path: str | Path) -> list[Term]:
    """Load and validate a glossary; the format follows the suffix (``.tsv``, ``.csv``, ``.json``)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), "file not found")
    suffix = path.suffix.lower()
    if suffix == ".json":
        rows = _json_rows(path)
    else:
        rows = _table_rows(path, delimiter="," if suffix == ".csv" else "\t")
    terms = _build_terms(rows)
    if not terms:
        raise InputError(str(path), "glossary has no terms")
    return terms


def _decode(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise InputError(f"{path}:{line}", "invalid UTF-8") from None


def _table_rows(path: Path, delimiter: str) -> list[tuple[str, dict[str, object]]]:
    import csv

    text = _decode(path)
    if delimiter == "\t":  # TSV: no quoting, a cell is everything between tabs
        lines = [(i, line.split("\t")) for i, line in enumerate(text.splitlines(), start=1)]
    else:
        reader = csv.reader(text.splitlines(keepends=True))
        lines, start = [], 1
        for cells in reader:
            lines.append((start, cells))
            start = reader.line_num + 1
    lines = [(i, cells) for i, cells in lines if any(c.strip() for c in cells)]  # skip blank lines
    if not lines:
        raise InputError(str(path), "empty file (header 'en, ja, forbidden' expected)")
    head_line, header = lines[0]
    header = [h.strip().lower() for h in header]
    for key in ("en", "ja"):
        if key not in header:
            raise InputError(f"{path}:{head_line}", f"missing column '{key}' in header {header} "
                                                    f"(expected en, ja[, forbidden])")
    rows = []
    for lineno, cells in lines[1:]:
        where = f"{path}:{lineno}"
        if len(cells) != len(header):
            raise InputError(where, f"expected {len(header)} columns {header}, got {len(cells)}")
        rows.append((where, dict(zip(header, cells, strict=True))))
    return rows


def _json_rows(path: Path) -> list[tuple[str, dict[str, object]]]:
    try:
        data = json.loads(_decode(path))
    except json.JSONDecodeError as err:
        raise InputError(f"{path}:{err.lineno}", f"invalid JSON: {err.msg}") from None
    if isinstance(data, dict) and "terms" in data:
        data = data["terms"]
    if isinstance(data, dict):  # {"en term": "ja" | ["ja", ...]}
        return [(f"{path}: key {en!r}", {"en": en, "ja": ja}) for en, ja in data.items()]
    if not isinstance(data, list):
        raise InputError(str(path), "expected a list of {en, ja, forbidden} objects or an {en: ja} mapping")
    rows = []
    for i, entry in enumerate(data, start=1):
        where = f"{path}:entry {i}"
        if not isinstance(entry, dict):
            raise InputError(where, f"expected an object with keys en, ja, got {type(entry).__name__}")
        for key in ("en", "ja"):
            if key not in entry:
                raise InputError(where, f"missing key '{key}'")
        rows.append((where, entry))
    return rows


def _split(value: object, where: str, key: str, *, required: bool) -> tuple[str, ...]:
    if value is None:
        value = ""
    if isinstance(value, str):
        parts = value.split("|") if value.strip() else []
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        parts = list(value)
    else:
        raise InputError(where, f"'{key}' must be a string ('|'-separated) or a list of strings")
    parts = [p.strip() for p in parts]
    if any(not p for p in parts):
        raise InputError(where, f"empty rendering in '{key}' (check for '||' or a trailing '|')")
    if required and not parts:
        raise InputError(where, f"empty term: '{key}' is empty")
    return tuple(dict.fromkeys(parts))  # de-duplicate, keep order


def _build_terms(rows: list[tuple[str, dict[str, object]]]) -> list[Term]:
    terms: list[Term] = []
    by_key: dict[str, Term] = {}
    for where, row in rows:
        en = row.get("en")
        if not isinstance(en, str):
            raise InputError(where, "'en' must be a string")
        en = " ".join(en.split())
        if not en:
            raise InputError(where, "empty term: 'en' is empty")
        ja = _split(row.get("ja"), where, "ja", required=True)
        forbidden = _split(row.get("forbidden"), where, "forbidden", required=False)
        clash = set(ja) & set(forbidden)
        if clash:
            raise InputError(where, f"term {en!r}: {sorted(clash)} is both approved and forbidden")
        term = Term(en=en, ja=ja, forbidden=forbidden, where=where)
        key = en.casefold()
        previous = by_key.get(key)
        if previous is not None:
            for label, old, new in (("approved", previous.ja, ja), ("forbidden", previous.forbidden, forbidden)):
                if set(old) != set(new):
                    raise InputError(where, f"term {en!r} has conflicting {label} renderings: {list(new)} "
                                            f"here, {list(old)} at {previous.where}")
            warnings.warn(f"{where}: duplicate of term {en!r} at {previous.where} (ignored)",
                          UserWarning, stacklevel=3)
            continue
        by_key[key] = term
        terms.append(term)
    return terms
