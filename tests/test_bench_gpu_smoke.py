"""``bench/gpu_throughput.py --cpu-smoke`` runs every item on the tiny model and prints the whole table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.integration
def test_cpu_smoke_prints_every_row(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import gpu_throughput as bench
    finally:
        sys.path.pop(0)
    out = tmp_path / "rows.json"
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "gpu_throughput.py"), "--cpu-smoke", "--budget-s", "900", "--json", str(out)],
        capture_output=True, text=True, timeout=900, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    expected = [s.name for s in bench.train_specs()] + [e[0] for e in bench.eval_specs()]
    expected += [f"share: {k} trial(s) on one GPU" for k in bench.SHARE_COUNTS]
    assert [r["name"] for r in rows] == expected
    table = proc.stdout
    assert all(name in table for name in expected) and "device: CPU" in table
    for row in rows:
        if row["name"] in ("share: 4 trial(s) on one GPU", "share: 8 trial(s) on one GPU"):
            assert row["note"].startswith("skipped in --cpu-smoke")
            continue
        assert row["values"], row  # measured, not skipped
        main = row["values"].get("tok/s") or row["values"].get("new tok/s")
        assert main and main > 0, row
    by_name = {r["name"]: r for r in rows}
    assert "full-dev s" in by_name["eval: bf16 merged b1024"]["values"]
    assert "paid back" in by_name["lever: + torch.compile"]["note"] or "never pays back" in by_name["lever: + torch.compile"]["note"]
