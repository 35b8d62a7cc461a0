"""COMET as one shared scorer per node: a named Ray actor that trials call instead of loading a copy each.

:func:`comet_service` returns a :class:`CometServiceScorer` (same ``score`` / ``segment_scores`` interface
as :class:`trainable.eval.metrics.CometScorer`, so ``score_all(..., comet=scorer)`` takes it). Behind it is
one actor per (node, model), named ``mtsweep-comet-<node>-<hash>`` in the ``mtsweep`` namespace, created
with ``get_if_exists=True`` on the calling node (node affinity) and a fraction of a GPU when the node has
GPUs. It is ``detached`` so it outlives the trial that happened to create it; the sweep (or a test)
ends it with :func:`stop_comet_services`. A scorer whose actor died re-creates it once and retries.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

NAMESPACE = "mtsweep"
NAME_PREFIX = "mtsweep-comet-"
DEFAULT_GPU_FRACTION = 0.1


def _actor_class() -> Any:
    import ray

    @ray.remote
    class CometActor:
        """Holds one COMET model (``trainable.eval.metrics.get_comet_scorer``) and scores for any caller."""

        def __init__(self, model: str, batch_size: int) -> None:
            from trainable.eval.metrics import get_comet_scorer

            self.scorer = get_comet_scorer(model)
            if self.scorer is None:
                raise ValueError("COMET is disabled ('none'): no service to start")
            self.scorer.batch_size = batch_size
            self.calls = 0

        def segment_scores(self, srcs: list[str], hyps: list[str], refs: list[str]) -> list[float]:
            self.calls += 1
            return self.scorer.segment_scores(srcs, hyps, refs)

        def info(self) -> dict[str, Any]:
            import os

            return {"pid": os.getpid(), "calls": self.calls, "model": self.scorer.name}

    return CometActor


def actor_name(model: str, node_id: str) -> str:
    """The actor name of ``model``'s scorer on node ``node_id``."""
    digest = hashlib.sha1(model.encode()).hexdigest()[:12]
    return f"{NAME_PREFIX}{node_id[:16]}-{digest}"


@dataclass
class CometServiceScorer:
    """Client of the shared COMET actor; a drop-in for :class:`trainable.eval.metrics.CometScorer`."""

    name: str
    gpu_fraction: float = DEFAULT_GPU_FRACTION
    batch_size: int = 64
    _actor: Any = field(default=None, repr=False)

    @property
    def actor(self) -> Any:
        if self._actor is None:
            self._actor = _get_or_create_actor(self.name, self.gpu_fraction, self.batch_size)
        return self._actor

    def segment_scores(self, srcs: Sequence[str], hyps: Sequence[str], refs: Sequence[str]) -> list[float]:
        """Per-segment scores from the shared actor (re-created once if it died)."""
        import ray

        args = (list(srcs), list(hyps), list(refs))
        try:
            return ray.get(self.actor.segment_scores.remote(*args))
        except ray.exceptions.RayActorError:
            self._actor = None
            return ray.get(self.actor.segment_scores.remote(*args))

    def score(self, srcs: Sequence[str], hyps: Sequence[str], refs: Sequence[str]) -> float:
        scores = self.segment_scores(srcs, hyps, refs)
        return sum(scores) / len(scores)


def comet_service(
    model: str | None, *, gpu_fraction: float = DEFAULT_GPU_FRACTION, batch_size: int = 64
) -> CometServiceScorer | None:
    """The shared scorer of ``model`` on this node; None when COMET is off. Needs ``ray.init`` done."""
    import ray

    if model is None or model.strip().lower() in ("", "none"):
        return None
    if not ray.is_initialized():
        raise RuntimeError("comet_service needs a running Ray (ray.init) in this process")
    return CometServiceScorer(name=model, gpu_fraction=gpu_fraction, batch_size=batch_size)


def _get_or_create_actor(model: str, gpu_fraction: float, batch_size: int) -> Any:
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    node_id = ray.get_runtime_context().get_node_id()
    node_gpus = next((n["Resources"].get("GPU", 0) for n in ray.nodes() if n["NodeID"] == node_id), 0)
    return _actor_class().options(
        name=actor_name(model, node_id),
        namespace=NAMESPACE,
        get_if_exists=True,
        lifetime="detached",
        num_cpus=0,
        num_gpus=gpu_fraction if node_gpus else 0,
        scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=node_id, soft=False),
    ).remote(model, batch_size)


def stop_comet_services() -> list[str]:
    """Kill every shared COMET actor of this cluster; returns their names."""
    import ray

    killed = []
    for entry in ray.util.list_named_actors(all_namespaces=True):
        if entry["namespace"] == NAMESPACE and entry["name"].startswith(NAME_PREFIX):
            try:
                ray.kill(ray.get_actor(entry["name"], namespace=NAMESPACE))
            except ValueError:  # already gone
                continue
            killed.append(entry["name"])
    return killed
