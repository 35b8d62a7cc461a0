"""Where a long sweep's driver memory goes: a real ``mtsweep run`` (the same sweep as ``driver_scale.py``)
with one extra Tune callback that, when trial N finishes, writes the driver's memory by kind.

    python bench/driver_memory.py /tmp/mem                       # 1,000 trials, probes at 100 500 1000
    python bench/driver_memory.py /tmp/mem --trials 300 --at 100 300

Per probe (a JSON line in ``DIR.probe.jsonl``, and printed): RSS and its anonymous part; glibc's heap
(``mallinfo2``: in use vs free inside the heap); Python's small-object allocator (bytes in allocated
blocks); the RSS after ``malloc_trim(0)`` (what the heap's free space costs); Ray's cached JSON of the
trials (what snapshots write; a trial changed since the last snapshot has none cached yet); counts of Ray's per-trial objects. The probe's own trim lowers the
RSS after it: compare the RSS columns with ``driver_scale.py``, not across probes.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RAY_TYPES = ("Trial", "_TrainingResult", "ObjectRef", "StorageContext", "PlacementGroupFactory")


class Mallinfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                "fsmblks", "uordblks", "fordblks", "keepcost")]


def status_mb(*keys: str) -> dict[str, float]:
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key = line.split(":")[0]
        if key in keys:
            out[key] = int(line.split()[1]) / 1024
    return out


def pymalloc_used_mb() -> float | None:
    """Bytes in pymalloc's allocated blocks (``sys._debugmallocstats`` writes to the C stderr)."""
    with tempfile.TemporaryFile("w+") as f:
        saved = os.dup(2)
        sys.stderr.flush()
        os.dup2(f.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        f.seek(0)
        for line in f.read().splitlines():
            if line.startswith("# bytes in allocated blocks"):
                return int(line.split("=")[1].replace(",", "")) / 2**20
    return None


def probe(done: int, trials: list) -> dict:
    gc.collect()
    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = Mallinfo2
    m = libc.mallinfo2()
    row = {"trials": done, **status_mb("VmRSS", "RssAnon"),
           "heap_in_use_mb": m.uordblks / 2**20, "heap_free_mb": m.fordblks / 2**20, "pymalloc_mb": pymalloc_used_mb(),
           "ray_json_mb": sum(len(t._state_json or "") + len(t.run_metadata._cached_json or "") for t in trials) / 2**20}
    libc.malloc_trim(0)
    row["rss_after_trim"] = status_mb("VmRSS")["VmRSS"]
    counts = Counter(type(o).__name__ for o in gc.get_objects())
    row["objects"] = {k: counts.get(k, 0) for k in RAY_TYPES}
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="results folder (must not exist)")
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--at", type=int, nargs="+", default=[100, 500, 1000])
    args = parser.parse_args()
    log = Path(args.out).with_suffix(".probe.jsonl")

    from ray.tune.callback import Callback

    import sweep.ray_footprint as footprint

    class Probe(Callback):
        def __init__(self) -> None:
            self.done = 0

        def __reduce__(self) -> tuple:  # the tuner pickles its callbacks: stand in as a plain one
            return (Callback, ())

        def on_trial_complete(self, iteration: int, trials: list, trial, **info) -> None:  # noqa: ANN001
            self.done += 1
            if self.done in args.at:
                row = probe(self.done, trials)
                print("probe " + json.dumps(row), flush=True)
                with log.open("a") as f:
                    f.write(json.dumps(row) + "\n")

    plain = footprint.footprint_callbacks
    footprint.footprint_callbacks = lambda: [*plain(), Probe()]  # read by sweep/tuner.py when it builds the Tuner
    from sweep.cli import main as mtsweep

    sys.exit(mtsweep(["run", str(REPO / "sweep" / "configs" / "synthetic.yaml"), "--set", f"num_trials={args.trials}",
                      "--set", "max_concurrent=2", "--set", "reuse_actors=true", "--set", "trial.work_s=0",
                      "--out", args.out, "--num-cpus", "2", "--live-every", "60"]))


if __name__ == "__main__":
    main()
