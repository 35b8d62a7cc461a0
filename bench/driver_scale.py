"""Driver footprint of a long sweep: RSS and time per trial of a real ``mtsweep run`` at trials 100,
500 and 1,000 (issue "A sweep driver that survives real operations", Load).

    python bench/driver_scale.py                         # 1,000 zero-work SYNTHETIC trials, 2 at a time
    python bench/driver_scale.py --trials 300 --at 100 200 300
    python bench/driver_scale.py --keep /tmp/scale        # samples kept in /tmp/scale/driver_samples.csv
    python bench/driver_scale.py --report /tmp/scale --at 100 500 900   # tabulate a run cut short
    python bench/driver_scale.py --keep /tmp/scale --profile-at 150 900   # + py-spy profiles of the driver

Runs ``mtsweep run sweep/configs/synthetic.yaml`` (SYNTHETIC trainable, ``work_s 0``, reused actors,
MO-ASHA on, local Ray on 2 CPUs) as a subprocess, samples the driver's resident memory (``VmRSS`` of the
``mtsweep`` process only, not Ray's) and CPU time every 0.2 s, and counts finished trials from
``trials.jsonl``. Printed per checkpoint N: the driver RSS when trial N finished, and the wall time and
driver CPU time per trial over the ``--window`` trials around N (local slopes, so a driver that slows
down with the trial count shows as a growing number; the CPU column is what the driver itself spends,
and moves far less than wall time when other jobs share the machine). The growth lines are the issue's
targets: RSS growth first -> last checkpoint <= 60 MB, time per trial at the last within 1.25x of the
first.

With ``--keep``: the driver's CPU per trial by thread (main thread, Ray's native threads, Python helper
threads such as Ray's upload thread) and of each Ray process under it, over the 100 trials before each
checkpoint; ``--profile-at N``: ``py-spy record --gil`` of the driver from trial N to N +
``--profile-window``, summarised as seconds per trial for the busiest functions (compare two windows to
see what grows; ``py-spy`` is in the dev extras).

Not a test: timings depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import os
import signal
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
        return _stat_cpu_s(Path(f"/proc/{pid}/stat"))
    except (FileNotFoundError, ProcessLookupError):
        return None


def _stat_cpu_s(stat_path: Path) -> float:
    """User + system CPU seconds from a ``/proc/.../stat`` file (a process or one of its threads)."""
    fields = stat_path.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_cpu_s(pid: int) -> dict[str, float]:
    """CPU seconds of the driver's main thread, its other threads by name (same names summed: Ray's native
    pools) and of every process under it by name (``proc:``; Ray's GCS, raylet, workers, agents)."""
    out: dict[str, float] = {}

    def add(name: str, seconds: float) -> None:
        out[name] = out.get(name, 0.0) + seconds

    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            name = "main thread" if task.name == str(pid) else (task / "comm").read_text().strip()
            add(name, _stat_cpu_s(task / "stat"))
        except (FileNotFoundError, ProcessLookupError):
            continue
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            children.setdefault(int(stat.read_text().rsplit(")", 1)[1].split()[1]), []).append(int(stat.parent.name))
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    todo = list(children.get(pid, []))
    while todo:
        child = todo.pop()
        todo.extend(children.get(child, []))
        try:
            name = Path(f"/proc/{child}/comm").read_text().strip()
            add(f"proc:{name}", _stat_cpu_s(Path(f"/proc/{child}/stat")))
        except (FileNotFoundError, ProcessLookupError):
            continue
    return out


THREADS_CSV = "driver_threads.csv"
"""Per-thread CPU of the driver (``trials,thread name,cpu s``) each time another 50 trials have finished."""


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


PYSPY_HZ = 100
"""py-spy's sampling rate for ``--profile-at``."""


class Profiler:
    """py-spy records the driver from trial ``n`` to ``n + window`` for each ``n`` in ``starts``
    (raw collapsed stacks of the thread holding the GIL: where the driver spends CPU)."""

    def __init__(self, starts: list[int], window: int, out: Path) -> None:
        self.todo, self.window, self.out = sorted(starts), window, out
        self.running: tuple[int, subprocess.Popen] | None = None

    def poll(self, pid: int, trials: int) -> None:
        if self.running and trials >= self.running[0] + self.window:
            self.stop()
        if self.running is None and self.todo and trials >= self.todo[0]:
            n = self.todo.pop(0)
            cmd = ["py-spy", "record", "--pid", str(pid), "--rate", str(PYSPY_HZ), "--gil", "--nonblocking", "--format", "raw",
                   "--output", str(self.out / f"pyspy_{n}.txt")]  # fmt: skip
            py_spy = Path(sys.executable).with_name("py-spy")
            cmd[0] = str(py_spy) if py_spy.exists() else "py-spy"
            self.running = (n, subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def stop(self) -> None:
        """End the recording in progress (py-spy writes its file on SIGINT)."""
        if self.running:
            self.running[1].send_signal(signal.SIGINT)
            self.running[1].wait()
            self.running = None


def sample(
    proc: subprocess.Popen, trials_file: Path, samples: list[Sample], log: Path | None = None,
    profiler: Profiler | None = None,
) -> None:
    """A :data:`Sample` every 0.2 s until the driver exits (also appended to ``log``)."""
    start = time.monotonic()
    next_threads = 0
    while proc.poll() is None:
        mb, cpu = rss_mb(proc.pid), cpu_s(proc.pid)
        if mb is not None and cpu is not None:
            samples.append((time.monotonic() - start, count_lines(trials_file), mb, cpu))
            if log is not None and samples[-1][1] >= next_threads and trials_file.parent.is_dir():
                with log.with_name(THREADS_CSV).open("a") as f:
                    f.writelines(f"{samples[-1][1]},{name},{t:.2f}\n" for name, t in thread_cpu_s(proc.pid).items())
                next_threads = samples[-1][1] // 50 * 50 + 50
            if profiler is not None:
                profiler.poll(proc.pid, samples[-1][1])
            if log is not None and trials_file.parent.is_dir():
                with log.open("a") as f:
                    f.write(",".join(f"{v:.3f}" for v in samples[-1]) + "\n")
        time.sleep(0.2)
    if profiler is not None:
        profiler.stop()


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
    parser.add_argument("--profile-at", type=int, nargs="*", default=[], metavar="N",
                        help="py-spy the driver over --profile-window trials from each N (needs --keep)")
    parser.add_argument("--profile-window", type=int, default=60)
    parser.add_argument("--top", type=int, default=25, help="functions listed per profile")
    args = parser.parse_args()
    if args.profile_at and not args.keep:
        parser.error("--profile-at needs --keep DIR (the profiles are written there)")
    if args.report:
        samples = read_samples(Path(args.report) / SAMPLES_CSV)
        print(f"\n{args.report}: {samples[-1][1]} trials finished, {samples[-1][0]:.0f} s sampled")
        table(samples, args)
        threads(Path(args.report), args)
        profiles(Path(args.report), args)
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
            profiler = Profiler(args.profile_at, args.profile_window, out) if args.profile_at else None
            sampler = threading.Thread(
                target=sample, args=(proc, out / "trials.jsonl", samples, samples_csv, profiler), daemon=True
            )
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
    if args.keep:
        threads(Path(args.keep), args)
        profiles(Path(args.keep), args)


def threads(folder: Path, args: argparse.Namespace) -> None:
    """CPU per trial by driver thread and by process under the driver (ended processes drop out), over
    the 100 trials before each checkpoint: which part grows."""
    path = folder / THREADS_CSV
    if not path.exists():
        return
    snaps: dict[int, dict[str, float]] = {}
    for line in path.read_text().splitlines():
        trials, rest = line.split(",", 1)
        name, cpu = rest.rsplit(",", 1)  # a thread name may hold a comma
        snaps.setdefault(int(trials), {})[name] = float(cpu)
    counts = sorted(snaps)
    spans = []
    for n in args.at:
        hi = next((c for c in counts if c >= n), counts[-1])
        lo = next((c for c in reversed(counts) if c <= hi - 100), None)
        if lo is not None:
            spans.append((n, lo, hi))
    if not spans:
        return
    names = sorted(set().union(*(snaps[hi] for _, _, hi in spans)), key=lambda k: -snaps[spans[-1][2]].get(k, 0))
    print("\nCPU s/trial by driver thread / process (trials lo..hi):  " + "  ".join(f"{lo}..{hi}" for _, lo, hi in spans))
    for name in names[:16]:
        cells = [(snaps[hi].get(name, 0) - snaps[lo].get(name, 0)) / (hi - lo) for _, lo, hi in spans]
        print(f"  {name[:28]:28}  " + "  ".join(f"{c:9.4f}" for c in cells))


def profiles(folder: Path, args: argparse.Namespace) -> None:
    """Per py-spy profile: the functions with the most samples (inclusive, each counted once per stack),
    as samples per trial of the profiled window, so two windows compare directly."""
    for path in sorted(folder.glob("pyspy_*.txt"), key=lambda p: int(p.stem.split("_")[1])):
        inclusive: dict[str, int] = {}
        total = 0
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack:
                continue
            n = int(count)
            total += n
            for frame in set(stack.split(";")):
                inclusive[frame] = inclusive.get(frame, 0) + n
        per = args.profile_window
        print(f"\n{path.name}: {total} samples at {PYSPY_HZ} Hz over {per} trials ({total / PYSPY_HZ / per:.3f} s of driver CPU/trial, GIL held)")
        for frame, n in sorted(inclusive.items(), key=lambda kv: -kv[1])[: args.top]:
            print(f"  {n / PYSPY_HZ / per:7.4f} s/trial  {frame[:150]}")


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
