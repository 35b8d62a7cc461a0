"""Plain-text trial tables: the live view while a sweep runs and ``mtsweep status``."""

from __future__ import annotations

from typing import Any


def fmt(value: Any) -> str:
    """Compact cell text: floats to 4 significant digits, None as ``-``."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_table(headers: list[str], rows: list[list[Any]]) -> str:
    """Left-aligned text columns (numbers right-aligned)."""
    cells = [[fmt(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    numeric = [all(isinstance(row[i], int | float) or row[i] is None for row in rows) for i in range(len(headers))]

    def line(values: list[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    out = [line(headers), line(["-" * w for w in widths])]
    out.extend(line(r) for r in cells)
    return "\n".join(out)


def short_params(params: dict[str, Any], limit: int = 60) -> str:
    """``lr=0.0001 lora_r=16 masking=full`` (``_``-prefixed helper keys skipped), cut at ``limit``."""
    text = " ".join(f"{k}={fmt(v)}" for k, v in params.items() if not str(k).startswith("_"))
    return text if len(text) <= limit else text[: limit - 1] + "…"
