"""The live view stays short: a bounded block redrawn in place on a terminal, one line per event in a log."""

from __future__ import annotations

import io
from types import SimpleNamespace

from sweep.live_view import RECENT_ROWS, LiveView


def trial(i: int) -> SimpleNamespace:
    return SimpleNamespace(trial_id=f"t{i:04d}", config={"_optuna_number": i, "lr": 1e-4 * (i + 1)},
                           evaluated_params={"lr": 1e-4 * (i + 1)}, last_result={"stop_cause": "completed"})


def run_events(view: LiveView, n: int) -> None:
    for i in range(n):
        t = trial(i)
        view.on_trial_start(0, [], t)
        view.on_trial_result(0, [], t, {"step": 100, "comet": 0.8, "term_acc": 0.2})
        view.on_trial_complete(0, [], t) if i % 10 else view.on_trial_error(0, [], t)
        view.on_step_end(0, [])
    view.on_experiment_end([])


def test_log_output_is_one_line_per_event() -> None:
    out = io.StringIO()
    run_events(LiveView(["comet", "term_acc"], total=30, stream=out, tty=False), 30)
    lines = out.getvalue().splitlines()
    assert len(lines) == 30 * 3 + 1  # start, report, done/error per trial; the summary
    assert "report #7 step 100 comet 0.8 term_acc 0.2" in lines[7 * 3 + 1]
    assert lines[-1].endswith("30/30 finished, 0 running, 3 errors")
    assert "\x1b[" not in out.getvalue()


def test_terminal_block_is_redrawn_in_place_and_stays_short() -> None:
    out = io.StringIO()
    view = LiveView(["comet", "term_acc"], every_s=0.0, total=1000, stream=out, tty=True)
    run_events(view, 1000)
    blocks = out.getvalue().split("\x1b[J")  # each redraw: up to the block's first line, clear below
    assert len(blocks) > 100
    last = blocks[-1]
    assert last.splitlines()[0].endswith("1000/1000 finished, 0 running, 100 errors")
    assert len(last.splitlines()) <= 2 + 2 + RECENT_ROWS  # summary, "last finished:", table header + rule
    assert "t0999" in last and "t0995" in last and "t0994" not in last
