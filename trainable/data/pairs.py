"""Parallel EN-JA data: strict loading (JSONL, CSV, Parquet, local HF dataset dir) and leakage checks.

Every error is an :class:`~trainable.base.errors.InputError` naming ``file:line`` (``file:row N`` for
Parquet / dataset dirs, which have no lines). Duplicate pairs are kept but warned about.
"""

from __future__ import annotations

import json
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from trainable.base.errors import InputError


@dataclass(frozen=True)
class Pair:
    """One parallel segment."""

    src: str
    """English source."""
    ref: str
    """Japanese reference translation."""
    where: str
    """Origin, ``file:line`` (or ``file:row N``)."""


@dataclass(frozen=True)
class LeakageReport:
    """English sources of ``other`` that also occur in ``train``."""

    count: int
    """How many pairs of ``other`` have a source that also occurs in train."""
    examples: tuple[str, ...]
    """Up to ``max_examples`` leaked sources, each as ``"<other where>: <src>"``."""

    def __bool__(self) -> bool:
        return self.count > 0

    def summary(self) -> str:
        """One line for logs and warnings."""
        if not self.count:
            return "no leakage"
        shown = "; ".join(self.examples)
        return f"{self.count} source(s) also in train, e.g. {shown}"


def sample_data_dir() -> Path:
    """The bundled sample data: ``{train,dev,test}.jsonl`` and ``glossary.tsv``."""
    return Path(__file__).parent / "sample_data"


def load_pairs(path: str | Path, *, src_field: str = "en", tgt_field: str = "ja") -> list[Pair]:
    """Load and validate parallel data from ``path``.

    ``.jsonl``/``.json`` lines are objects holding ``src_field`` and ``tgt_field``; ``.csv`` has a
    header row naming them; ``.parquet`` and a directory saved by ``datasets.Dataset.save_to_disk`` have
    such columns. Raises InputError naming file and line on the first problem.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(str(path), "file not found")
    if path.is_dir():
        pairs = _load_hf_dir(path, src_field, tgt_field)
    else:
        suffix = path.suffix.lower()
        if suffix == ".csv":
            pairs = _load_csv(path, src_field, tgt_field)
        elif suffix == ".parquet":
            pairs = _load_parquet(path, src_field, tgt_field)
        else:
            pairs = _load_jsonl(path, src_field, tgt_field)
    if not pairs:
        raise InputError(str(path), "no pairs found (empty file)")
    _warn_duplicates(path, pairs)
    return pairs


def leakage(train: list[Pair], other: list[Pair], *, max_examples: int = 5) -> LeakageReport:
    """Pairs of ``other`` whose English source (whitespace-normalised) also occurs in ``train``."""
    seen = {_norm_src(p.src) for p in train}
    leaked = [p for p in other if _norm_src(p.src) in seen]
    examples = tuple(f"{p.where}: {p.src!r}" for p in leaked[:max_examples])
    return LeakageReport(count=len(leaked), examples=examples)


def _norm_src(text: str) -> str:
    return " ".join(text.split())


def _check_row(row: object, where: str, src_field: str, tgt_field: str) -> Pair:
    if not isinstance(row, dict):
        raise InputError(where, f"expected a JSON object with keys '{src_field}' and '{tgt_field}', "
                                f"got {type(row).__name__}")
    values = []
    for key in (src_field, tgt_field):
        if key not in row or row[key] is None:
            raise InputError(where, f"missing field '{key}'")
        value = row[key]
        if not isinstance(value, str):
            raise InputError(where, f"field '{key}' must be a string, got {type(value).__name__}")
        if not value.strip():
            raise InputError(where, f"field '{key}' is empty")
        values.append(value)
    return Pair(src=values[0], ref=values[1], where=where)


def _load_jsonl(path: Path, src_field: str, tgt_field: str) -> list[Pair]:
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the final newline
    pairs = []
    for lineno, line_bytes in enumerate(lines, start=1):
        where = f"{path}:{lineno}"
        try:
            line = line_bytes.decode("utf-8-sig" if lineno == 1 else "utf-8")
        except UnicodeDecodeError as err:
            raise InputError(where, f"invalid UTF-8 at byte {err.start}") from None
        if not line.strip():
            raise InputError(where, "blank line (one JSON object per line expected)")
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(where, f"invalid JSON: {err.msg} (column {err.colno})") from None
        pairs.append(_check_row(row, where, src_field, tgt_field))
    return pairs


def _load_csv(path: Path, src_field: str, tgt_field: str) -> list[Pair]:
    import csv

    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = path.read_bytes()[: err.start].count(b"\n") + 1
        raise InputError(f"{path}:{line}", "invalid UTF-8") from None
    reader = csv.reader(text.splitlines(keepends=True))
    header = next(reader, None)
    if header is None:
        raise InputError(str(path), "empty file (a header row is expected)")
    header = [h.strip() for h in header]
    for key in (src_field, tgt_field):
        if key not in header:
            raise InputError(f"{path}:1", f"missing column '{key}' in header {header}")
    pairs = []
    start_line = reader.line_num + 1
    for cells in reader:
        where = f"{path}:{start_line}"
        start_line = reader.line_num + 1
        if not any(c.strip() for c in cells):
            raise InputError(where, "blank line")
        if len(cells) != len(header):
            raise InputError(where, f"expected {len(header)} columns, got {len(cells)}")
        pairs.append(_check_row(dict(zip(header, cells, strict=True)), where, src_field, tgt_field))
    return pairs


def _rows_from_dataset(ds: object, path: Path, src_field: str, tgt_field: str) -> list[Pair]:
    columns = list(ds.column_names)  # type: ignore[attr-defined]
    for key in (src_field, tgt_field):
        if key not in columns:
            raise InputError(str(path), f"missing column '{key}' (columns: {columns})")
    srcs, tgts = ds[src_field], ds[tgt_field]  # type: ignore[index]
    return [
        _check_row({src_field: s, tgt_field: t}, f"{path}:row {i}", src_field, tgt_field)
        for i, (s, t) in enumerate(zip(srcs, tgts, strict=True), start=1)
    ]


def _load_parquet(path: Path, src_field: str, tgt_field: str) -> list[Pair]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as err:  # pyarrow raises several types for a corrupt file
        raise InputError(str(path), f"not a readable Parquet file ({type(err).__name__})") from None
    return _rows_from_dataset(_ArrowColumns(table), path, src_field, tgt_field)


def _load_hf_dir(path: Path, src_field: str, tgt_field: str) -> list[Pair]:
    import datasets

    try:
        ds = datasets.load_from_disk(str(path))
    except FileNotFoundError:
        raise InputError(str(path), "directory is not a saved Hugging Face dataset") from None
    if isinstance(ds, datasets.DatasetDict):
        raise InputError(str(path), f"is a DatasetDict with splits {sorted(ds)}: pass one split's directory")
    return _rows_from_dataset(ds, path, src_field, tgt_field)


class _ArrowColumns:
    """Minimal column access over a pyarrow Table (same shape as a ``datasets.Dataset``)."""

    def __init__(self, table: object) -> None:
        self._table = table
        self.column_names = table.column_names  # type: ignore[attr-defined]

    def __getitem__(self, key: str) -> list[object]:
        return self._table.column(key).to_pylist()  # type: ignore[attr-defined]


def _warn_duplicates(path: Path, pairs: list[Pair]) -> None:
    counts = Counter((p.src, p.ref) for p in pairs)
    extra = sum(c - 1 for c in counts.values() if c > 1)
    if extra:
        first = next(p for p in pairs if counts[(p.src, p.ref)] > 1)
        warnings.warn(
            f"{path}: {extra} duplicate pair(s) (kept), first at {first.where}", UserWarning, stacklevel=3
        )
