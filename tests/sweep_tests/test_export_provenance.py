"""What the model card says about finalize comes from the results folder at hand, wherever finalize ran."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from sweep.export_checkpoint import finalize_results


def test_finalize_results_of_a_copied_folder_match_its_own_checkpoints(tmp_path: Path) -> None:
    cluster = tmp_path / "cluster" / "sweep"
    ckpt = cluster / "ray" / "trial_a" / "checkpoint_000002"
    ckpt.mkdir(parents=True)
    (cluster / "final").mkdir()
    member = {"checkpoint": str(ckpt.resolve()), "metrics": {"comet": 0.81}}
    (cluster / "final" / "s0_vs_s1.json").write_text(json.dumps(
        {"split": "test", "members": [member, {"checkpoint": str(cluster / "ray" / "b" / "c"), "metrics": {}}],
         "s0": {"comet": 0.78}}))
    laptop = tmp_path / "laptop" / "sweep"
    shutil.copytree(cluster, laptop)
    here = str((laptop / "ray" / "trial_a" / "checkpoint_000002").resolve())
    for root, path in ((cluster, str(ckpt.resolve())), (laptop, here)):
        found = finalize_results(root, path)
        assert [(f["split"], f["metrics"], f["s0"]) for f in found] == [("test", {"comet": 0.81}, {"comet": 0.78})]
    assert finalize_results(laptop, str(laptop / "ray" / "trial_a" / "checkpoint_000001")) == []
