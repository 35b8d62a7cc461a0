"""Translation metrics, the one place that computes them (names and directions: ``trainable/base/metric_names.py``).

- ``bleu_char``: sacrebleu BLEU, ``tokenize="char"``; ``chrf_pp``: sacrebleu ``CHRF(word_order=2)``;
  ``bleu_mecab`` (optional): BLEU with ``tokenize="ja-mecab"``. Scores are sacrebleu's own; its
  signatures are returned under ``signatures``.
- ``comet``: unbabel-comet system score (model by name or local checkpoint, loaded once per process).
- ``term_acc`` / ``term_hits`` / ``term_total`` / ``term_forbidden``: see :mod:`trainable.eval.terminology`.
- ``len_ratio``: total hypothesis characters / total reference characters (1.0 is ideal).
- ``runon_rate``: share of segments whose own ratio ``len(hyp) / len(ref)`` (characters) is above
  ``runon_ratio`` (default :data:`DEFAULT_RUNON_RATIO` = 2): output that rambles on past its translation.
- ``trunc_rate``: share of segments whose generation hit ``max_new_tokens`` without a stop token (scored
  as if complete, so a high value means the cap cut real output); None when the caller does not know.
- ``latency_ms``: mean generation milliseconds per segment, when the caller timed generation.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainable.base.finite import nonfinite_to_none
from trainable.data.glossary import Term

DEFAULT_RUNON_RATIO = 2.0
"""A segment runs on when ``len(hyp) / len(ref)`` is above this (``TrialConfig.runon_ratio``)."""

DEFAULT_COMET_MODEL = "Unbabel/wmt22-comet-da"


def score_all(
    srcs: Sequence[str],
    hyps: Sequence[str],
    refs: Sequence[str],
    *,
    terms: Sequence[Term] | None = None,
    comet: str | CometScorer | None = None,
    latencies_ms: Sequence[float] | None = None,
    truncated: Sequence[bool] | None = None,
    runon_ratio: float = DEFAULT_RUNON_RATIO,
    mecab: bool = False,
) -> dict[str, Any]:
    """Score a corpus. Keys: ``n, bleu_char, chrf_pp, len_ratio, runon_rate, trunc_rate, term_acc,
    term_hits, term_total, term_forbidden, signatures``, plus ``comet`` when a model (name, path or
    scorer; ``"none"`` = off) is given, ``latency_ms`` when latencies are given, ``bleu_mecab`` when
    ``mecab``. ``truncated`` (per segment: generation hit the cap without a stop token) gives
    ``trunc_rate``; without it ``trunc_rate`` is None.

    ``term_acc`` is None when no glossary term occurs (never NaN); so are ``len_ratio`` and
    ``runon_rate`` for empty refs.
    """
    from sacrebleu.metrics import BLEU, CHRF

    if not (len(srcs) == len(hyps) == len(refs)):
        raise ValueError(f"length mismatch: {len(srcs)} sources, {len(hyps)} hypotheses, {len(refs)} refs")
    if not hyps:
        raise ValueError("nothing to score (0 segments)")
    srcs, hyps, refs = list(srcs), list(hyps), list(refs)
    result: dict[str, Any] = {"n": len(hyps)}
    signatures: dict[str, str] = {}

    bleu = BLEU(tokenize="char")
    result["bleu_char"] = bleu.corpus_score(hyps, [refs]).score
    signatures["bleu_char"] = bleu.get_signature().format()
    chrf = CHRF(word_order=2)
    result["chrf_pp"] = chrf.corpus_score(hyps, [refs]).score
    signatures["chrf_pp"] = chrf.get_signature().format()
    if mecab:
        bleu_m = BLEU(tokenize="ja-mecab")
        result["bleu_mecab"] = bleu_m.corpus_score(hyps, [refs]).score
        signatures["bleu_mecab"] = bleu_m.get_signature().format()

    ref_chars = sum(len(r) for r in refs)
    result["len_ratio"] = sum(len(h) for h in hyps) / ref_chars if ref_chars else None
    result["runon_rate"] = runon_rate(hyps, refs, runon_ratio)
    if truncated is not None:
        cut = list(truncated)
        if len(cut) != len(hyps):
            raise ValueError(f"length mismatch: {len(hyps)} hypotheses, {len(cut)} truncation flags")
        result["trunc_rate"] = sum(map(bool, cut)) / len(cut)
    else:
        result["trunc_rate"] = None

    result.update(term_metrics(srcs, hyps, terms))

    scorer = get_comet_scorer(comet) if isinstance(comet, str) else comet
    if scorer is not None:
        result["comet"] = scorer.score(srcs, hyps, refs)

    if latencies_ms is not None:
        lat = list(latencies_ms)
        result["latency_ms"] = sum(lat) / len(lat) if lat else None

    result["signatures"] = signatures
    return nonfinite_to_none(result)


def runon_rate(hyps: Sequence[str], refs: Sequence[str], ratio: float = DEFAULT_RUNON_RATIO) -> float | None:
    """Share of segments (with a non-empty reference) whose ``len(hyp) / len(ref)`` is above ``ratio``."""
    lengths = [(len(h), len(r)) for h, r in zip(hyps, refs, strict=True) if r]
    if not lengths:
        return None
    return sum(h > ratio * r for h, r in lengths) / len(lengths)


def term_metrics(srcs: Sequence[str], hyps: Sequence[str], terms: Sequence[Term] | None) -> dict[str, Any]:
    """``term_acc, term_hits, term_total, term_forbidden`` (all zero / None without a glossary)."""
    from trainable.eval.terminology import score_terms

    if not terms:
        return {"term_acc": None, "term_hits": 0, "term_total": 0, "term_forbidden": 0}
    scores = score_terms(srcs, hyps, terms)
    return {"term_acc": scores.acc, "term_hits": scores.hits, "term_total": scores.total,
            "term_forbidden": scores.forbidden}


@dataclass
class CometScorer:
    """A loaded COMET model; ``score`` returns the system score (mean of segment scores)."""

    name: str
    model: Any
    batch_size: int = 64

    def segment_scores(self, srcs: Sequence[str], hyps: Sequence[str], refs: Sequence[str]) -> list[float]:
        """Per-segment COMET scores, batched, on the GPU when one is available."""
        import torch

        samples = [{"src": s, "mt": h, "ref": r} for s, h, r in zip(srcs, hyps, refs, strict=True)]
        gpus = 1 if torch.cuda.is_available() else 0
        for name in ("pytorch_lightning", "pytorch_lightning.utilities.rank_zero", "lightning.pytorch"):
            logging.getLogger(name).setLevel(logging.ERROR)  # "GPU available", tips: once per predict
        with warnings.catch_warnings():  # Lightning's per-call deprecation chatter
            warnings.simplefilter("ignore")
            output = self.model.predict(samples, batch_size=self.batch_size, gpus=gpus, progress_bar=False,
                                        num_workers=0)
        return [float(x) for x in output.scores]

    def score(self, srcs: Sequence[str], hyps: Sequence[str], refs: Sequence[str]) -> float:
        scores = self.segment_scores(srcs, hyps, refs)
        return sum(scores) / len(scores)


_COMET_CACHE: dict[str, CometScorer] = {}


def get_comet_scorer(model: str | None) -> CometScorer | None:
    """Load a COMET model once per process (cached by name). ``None``/``"none"``/``""`` disables COMET.

    ``model`` is a local checkpoint file (``.../checkpoints/model.ckpt``), a directory holding one, or a
    model name for ``comet.download_model`` (e.g. ``Unbabel/wmt22-comet-da``; needs hub access or a
    populated cache).
    """
    if comet_disabled(model):
        return None
    if model not in _COMET_CACHE:
        _COMET_CACHE[model] = CometScorer(name=model, model=_load_comet(model))
    return _COMET_CACHE[model]


def comet_disabled(model: str | None) -> bool:
    """``None``, ``""`` or ``"none"`` (any case): no COMET model."""
    return model is None or model.strip().lower() in ("", "none")


def comet_checkpoint_path(model: str) -> Path | None:
    """The local checkpoint ``model`` names (a ``.ckpt`` file or a folder holding one); None for a hub
    name. InputError(``model``, ...) when it looks like a path but holds no checkpoint."""
    from trainable.base.errors import InputError

    path = Path(model).expanduser()
    if path.is_dir():
        found = sorted(path.glob("checkpoints/*.ckpt")) or sorted(path.glob("*.ckpt"))
        if not found:
            raise InputError(model, "COMET directory holds no checkpoints/*.ckpt")
        return found[0]
    if path.is_file():
        return path
    if path.suffix == ".ckpt" or model.startswith((".", "/", "~")):
        raise InputError(model, "COMET checkpoint not found")
    return None


def _load_comet(model: str) -> Any:
    from trainable.base.errors import InputError

    path = comet_checkpoint_path(model)
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric", "comet"):
        logging.getLogger(name).setLevel(logging.WARNING)
    with warnings.catch_warnings():  # torchmetrics' pkg_resources deprecation warning at import
        warnings.simplefilter("ignore")
        import comet

    if path is not None:
        return comet.load_from_checkpoint(str(path), local_files_only=True)
    try:
        ckpt = comet.download_model(model)
    except Exception as err:  # hub errors come in many types
        raise InputError(model, f"cannot download COMET model ({type(err).__name__}); give a local "
                                f"checkpoint path or --comet none") from None
    return comet.load_from_checkpoint(ckpt)
