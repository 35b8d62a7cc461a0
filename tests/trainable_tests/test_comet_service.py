"""The shared COMET actor (real local Ray, tiny COMET checkpoint) scores exactly like the in-process scorer."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainable.eval.metrics import get_comet_scorer, score_all

SRCS = ["Open the file.", "Restart the server.", "Save", "Delete the row."]
REFS = ["ファイルを開きます。", "サーバーを再起動します。", "保存", "行を削除します。"]
HYPS = ["ファイルを開く。", "サーバーを再起動。", "保存する", "行を削除"]


@pytest.fixture
def local_ray():
    import ray
    import torch  # noqa: F401  (before ray.init: see DESIGN.md, oneMKL trap)

    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        from trainable.eval.comet_service import stop_comet_services

        stop_comet_services()
        ray.shutdown()


@pytest.mark.integration
def test_shared_actor_matches_in_process_scorer(local_ray, tiny_comet_ckpt: Path) -> None:
    from trainable.eval.comet_service import NAMESPACE, CometServiceScorer, comet_service, stop_comet_services

    ray = local_ray
    local = get_comet_scorer(str(tiny_comet_ckpt))
    want = local.segment_scores(SRCS, HYPS, REFS)

    service = comet_service(str(tiny_comet_ckpt), batch_size=3)
    assert isinstance(service, CometServiceScorer)
    assert service.segment_scores(SRCS, HYPS, REFS) == pytest.approx(want, abs=1e-6)
    assert score_all(SRCS, HYPS, REFS, comet=service)["comet"] == pytest.approx(sum(want) / len(want), abs=1e-6)

    @ray.remote(num_cpus=0)
    def trial_like(ckpt: str) -> tuple[float, int]:
        from trainable.eval.comet_service import comet_service

        scorer = comet_service(ckpt)
        return scorer.score(SRCS, HYPS, REFS), ray.get(scorer.actor.info.remote())["pid"]

    # Two "trials" in other processes reach the same actor: one copy of the model per node.
    results = ray.get([trial_like.remote(str(tiny_comet_ckpt)) for _ in range(2)])
    info = ray.get(service.actor.info.remote())
    assert {pid for _, pid in results} == {info["pid"]} and info["calls"] == 4
    assert all(score == pytest.approx(sum(want) / len(want), abs=1e-6) for score, _ in results)

    # The actor is detached (outlives its creator) until stopped; a scorer whose actor died re-creates it.
    names = stop_comet_services()
    assert len(names) == 1 and not [a for a in ray.util.list_named_actors(all_namespaces=True)
                                    if a["namespace"] == NAMESPACE]
    assert service.segment_scores(SRCS, HYPS, REFS) == pytest.approx(want, abs=1e-6)


def test_none_disables_without_ray() -> None:
    from trainable.eval.comet_service import actor_name, comet_service

    assert comet_service("none") is None and comet_service(None) is None
    assert actor_name("a", "n" * 40) != actor_name("b", "n" * 40)
