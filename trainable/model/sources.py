"""Can a trial load its base model and COMET model? Checked cheaply, offline, before a sweep starts.

A model is usable when it is a local folder (or COMET checkpoint), a hub id already in the local Hugging
Face cache, or (only when the user allows downloads) a well-formed hub id that each trial fetches. Uses the
same path rules as the loaders (:func:`trainable.model.loading.load_base_model`,
:func:`trainable.eval.metrics.comet_checkpoint_path`). Imports no torch: ``huggingface_hub`` only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from trainable.base.errors import InputError

Source = Literal["local", "cache", "hub"]


def base_model_source(model: str, *, allow_download: bool = False) -> Source:
    """Where ``model`` (``TrialConfig.model``) would load from; InputError(``model``, ...) when nowhere."""
    from trainable.model.loading import _looks_like_path

    if _looks_like_path(model):
        folder = Path(model).expanduser()
        if not folder.is_dir():
            raise InputError("model", f"no such model folder: {model}")
        if not (folder / "config.json").is_file():
            raise InputError("model", f"{model} holds no config.json (not a Hugging Face model folder)")
        return "local"
    return _hub_source(model, "config.json", "model", allow_download=allow_download)


def comet_model_source(model: str, *, allow_download: bool = False) -> Source | None:
    """Like :func:`base_model_source` for ``TrialConfig.comet_model``; None when COMET is off (``none``)."""
    from trainable.eval.metrics import comet_checkpoint_path, comet_disabled

    if comet_disabled(model):
        return None
    try:
        if comet_checkpoint_path(model) is not None:
            return "local"
    except InputError as err:
        raise InputError("comet_model", err.message if err.where == model else str(err)) from None
    # comet.download_model(name) snapshots the repo and loads checkpoints/model.ckpt from it.
    return _hub_source(model, "checkpoints/model.ckpt", "comet_model", allow_download=allow_download)


def _hub_source(repo_id: str, filename: str, key: str, *, allow_download: bool) -> Source:
    from huggingface_hub import constants, try_to_load_from_cache
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError:
        raise InputError(key, f"{repo_id!r} is neither a local path nor a Hugging Face hub id") from None
    if isinstance(try_to_load_from_cache(repo_id, filename), str):
        return "cache"
    if allow_download:
        return "hub"
    raise InputError(
        key,
        f"{repo_id!r} is not a local folder and not in the local Hugging Face cache ({constants.HF_HUB_CACHE}): "
        f"fetch it first (huggingface-cli download {repo_id}) or pass --allow-download to let each trial download it",
    )
