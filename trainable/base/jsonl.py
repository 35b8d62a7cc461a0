"""JSONL results files (reports.jsonl, trials.jsonl, rungs.jsonl, records.jsonl): append and read.

A running sweep appends while others read, so :func:`read_jsonl` reads the file once and skips an
incomplete last line; a complete line that is not a JSON object (a writer killed mid-line) is skipped and
counted. :func:`append_jsonl` starts on a fresh line when the file ends mid-line, so one torn write costs
one line, not the next record too.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class JsonlRead:
    """Records of one JSONL file plus what was skipped."""

    records: list[dict[str, Any]]
    partial_last_line: bool = False
    """True when the last line was incomplete (a writer was appending) and was skipped."""
    bad_lines: int = 0
    """Complete lines that were not a JSON object (skipped)."""


def read_jsonl(path: str | Path) -> JsonlRead:
    """Parse a JSONL file in one read; an absent file is empty; a complete line that is not a JSON object
    is skipped and counted."""
    path = Path(path)
    if not path.is_file():
        return JsonlRead([])
    lines = path.read_bytes().decode("utf-8", errors="replace").split("\n")
    complete, tail = lines[:-1], lines[-1]  # tail: text after the last newline ("" when none)
    out = JsonlRead([])
    for line in complete:
        if not line.strip():
            continue
        record = _record(line)
        if record is None:
            out.bad_lines += 1
        else:
            out.records.append(record)
    if tail.strip():
        record = _record(tail)
        if record is None:
            out.partial_last_line = True
        else:
            out.records.append(record)
    return out


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """Just the records of :func:`read_jsonl`."""
    return read_jsonl(path).records


def _record(line: str) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return None
    return record if isinstance(record, dict) else None


def append_jsonl(path: str | Path, record: dict[str, Any]) -> None:
    """Append one record as a JSON line (made JSON-safe by :func:`json_safe`)."""
    path = Path(path)
    line = json.dumps(json_safe(record), ensure_ascii=False, allow_nan=False) + "\n"
    with path.open("ab+") as f:
        if f.tell() > 0:
            f.seek(-1, 2)
            if f.read(1) != b"\n":
                line = "\n" + line  # the previous writer died mid-line
        f.write(line.encode("utf-8"))


def json_safe(value: Any) -> Any:
    """JSON-encodable copy: NaN/inf -> None, numpy scalars -> Python numbers, unknown objects -> str."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float) or hasattr(value, "__float__"):
        try:
            f = float(value)
        except (TypeError, ValueError):
            return str(value)
        if not math.isfinite(f):
            return None
        return int(value) if hasattr(value, "dtype") and "int" in str(value.dtype) else f
    return str(value)
