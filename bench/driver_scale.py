"""Driver footprint of a long sweep: RSS and time per trial of a real ``mtsweep run`` at trials 100,
500 and 1,000 (issue "A sweep driver that survives real operations", Load).

    python bench/driver_scale.py                         # 1,000 zero-work SYNTHETIC trials, 2 at a time
    python bench/driver_scale.py --trials 300 --at 100 200 300
    python bench/driver_scale.py --keep /tmp/scale        # samples kept in /tmp/scale/driver_samples.csv
    python bench/driver_scale.py --report /tmp/scale --at 100 500 900   # tabulate a run cut short

Runs ``mtsweep run sweep/configs/synthetic.yaml`` (SYNTHETIC trainable, ``work_s 0``, reused actors,
MO-ASHA on, local Ray on 2 CPUs) as a subprocess, samples the driver's resident memory (``VmRSS`` of the
``mtsweep`` process only, not Ray's) and CPU time every 0.2 s, and counts finished trials from
``trials.jsonl``. Printed per checkpoint N: the driver RSS when trial N finished, and the wall time and
driver CPU time per trial over the ``--window`` trials around N (local slopes, so a driver that slows
down with the trial count shows as a growing number; the CPU column is what the driver itself spends,
and moves far less than wall time when other jobs share the machine). The growth lines are the issue's
targets: RSS growth first -> last checkpoint <= 60 MB, time per trial at the last within 1.25x of the
first.

Not a test: timings depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` (its own, not its children's)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def count_lines(path: Path) -> int:
    try:
        with path.open("rb") as f:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 16), b""))
    except FileNotFoundError:
        return 0


Sample = tuple[float, int, float, float]
"""(wall seconds, trials finished, driver RSS MB, driver CPU seconds)."""


SAMPLES_CSV = "driver_samples.csv"
"""Written next to the results (``--keep DIR``) as the run goes: ``--report DIR`` tabulates a run that was cut short."""


def sample(proc: subprocess.Popen, trials_file: Path, samples: list[Sample], log: Path | None = None) -> None:
    """A :data:`Sample` every 0.2 s until the driver exits (also appended to ``log``)."""
    start = time.monotonic()
    while proc.poll() is None:
        mb, cpu = rss_mb(proc.pid), cpu_s(proc.pid)
        if mb is not None and cpu is not None:
            samples.append((time.monotonic() - start, count_lines(trials_file), mb, cpu))
            if log is not None and trials_file.parent.is_dir():
                with log.open("a") as f:
                    f.write(",".join(f"{v:.3f}" for v in samples[-1]) + "\n")
        time.sleep(0.2)


def read_samples(path: Path) -> list[Sample]:
    out: list[Sample] = []
    for line in path.read_text().splitlines():
        wall, trials, mb, cpu = line.split(",")
        out.append((float(wall), int(float(trials)), float(mb), float(cpu)))
    return out


def at_trial(samples: list[Sample], n: int) -> Sample | None:
    """The first sample with >= n trials finished."""
    return next((s for s in samples if s[1] >= n), None)


def per_trial(samples: list[Sample], n: int, window: int, column: int) -> float | None:
    """Seconds per trial (wall: column 0, driver CPU: column 3) between trial n - window/2 and
    n + window/2 (clipped to what ran)."""
    last = samples[-1][1] if samples else 0
    lo, hi = max(1, n - window // 2), min(last, n + window // 2)
    a, b = at_trial(samples, lo), at_trial(samples, hi)
    if a is None or b is None or hi <= lo:
        return None
    return (b[column] - a[column]) / (hi - lo)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--at", type=int, nargs="+", default=[100, 500, 1000], help="checkpoints (trial counts)")
    parser.add_argument("--window", type=int, default=100, help="trials averaged around each checkpoint")
    parser.add_argument("--concurrent", type=int, default=2)
    parser.add_argument("--keep", metavar="DIR", help="results folder to keep (default: a temporary one)")
    parser.add_argument("--report", metavar="DIR", help="only tabulate the samples a --keep run left in DIR")
    args = parser.parse_args()
    if args.report:
        samples = read_samples(Path(args.report) / SAMPLES_CSV)
        print(f"\n{args.report}: {samples[-1][1]} trials finished, {samples[-1][0]:.0f} s sampled")
        table(samples, args)
        return

    with tempfile.TemporaryDirectory(prefix="mtsweep_scale_") as tmp:
        out = Path(args.keep or Path(tmp) / "scale")
        cmd = [
            sys.executable, "-m", "sweep", "run", str(REPO / "sweep" / "configs" / "synthetic.yaml"),
            "--set", f"num_trials={args.trials}", "--set", f"max_concurrent={args.concurrent}",
            "--set", "reuse_actors=true", "--set", "trial.work_s=0", "--out", str(out), "--num-cpus", "2",
        ]  # fmt: skip
        samples: list[Sample] = []
        start = time.monotonic()
        with (Path(tmp) / "driver.log").open("w") as log:
            proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
            samples_csv = out / SAMPLES_CSV if args.keep else None
            sampler = threading.Thread(target=sample, args=(proc, out / "trials.jsonl", samples, samples_csv), daemon=True)
            sampler.start()
            rc = proc.wait()
            sampler.join()
        wall = time.monotonic() - start
        if rc != 0:
            print((Path(tmp) / "driver.log").read_text()[-3000:])
            raise SystemExit(f"mtsweep run exited {rc}")
    print(f"\n{args.trials} zero-work synthetic trials, {args.concurrent} concurrent, reused actors, local Ray "
          f"on 2 CPUs: driver exit {rc}, wall {wall:.0f} s (Ray start included), peak driver RSS "
          f"{max(s[2] for s in samples):.0f} MB, driver CPU {samples[-1][3]:.0f} s")
    table(samples, args)


def table(samples: list[Sample], args: argparse.Namespace) -> None:
    """The per-checkpoint table and the growth lines."""
    half = args.window // 2
    print(f"{'trial':>6}  {'t s':>7}  {'driver RSS MB':>13}  {f'wall s/trial +-{half}':>18}  {f'driver CPU s/trial +-{half}':>24}")
    rows = []
    for n in args.at:
        hit = at_trial(samples, n)
        wall, cpu = per_trial(samples, n, args.window, 0), per_trial(samples, n, args.window, 3)
        rows.append((n, hit, wall, cpu))
        cells = [f"{hit[0]:7.1f}" if hit else f"{'-':>7}", f"{hit[2]:13.0f}" if hit else f"{'-':>13}",
                 f"{wall:18.3f}" if wall else f"{'-':>18}", f"{cpu:24.4f}" if cpu else f"{'-':>24}"]
        print(f"{n:>6}  " + "  ".join(cells))
    (n0, h0, w0, c0), (n1, h1, w1, c1) = rows[0], rows[-1]
    if h0 and h1:
        print(f"RSS growth trial {n0} -> {n1}: {h1[2] - h0[2]:+.0f} MB (target <= 60)")
    if w0 and w1:
        print(f"wall time per trial at {n1} / at {n0}: {w1 / w0:.2f}x (target <= 1.25)")
    if c0 and c1:
        print(f"driver CPU per trial at {n1} / at {n0}: {c1 / c0:.2f}x (the part of the wall time that is the driver's)")


if __name__ == "__main__":
    main()
