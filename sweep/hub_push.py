"""Upload an export folder to the Hugging Face Hub (``mtsweep export --push-to-hub REPO``).

Uses ``huggingface_hub``'s client as configured by the environment (``HF_TOKEN`` or ``huggingface-cli
login``; ``HF_ENDPOINT`` for a private hub). Any failure becomes one line (:class:`HubPushError`).
"""

from __future__ import annotations

import re
from pathlib import Path

from trainable.base.errors import InputError

_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$")


class HubPushError(RuntimeError):
    """The push did not complete (one line: why)."""


def check_repo_id(repo_id: str) -> str:
    """``owner/name`` (InputError naming ``--push-to-hub`` otherwise)."""
    if not _REPO_ID.match(repo_id) or ".." in repo_id or repo_id.endswith((".git", ".")):
        raise InputError("--push-to-hub", f"expected a hub repository id 'owner/name', got {repo_id!r}")
    return repo_id


def push_folder(folder: Path, repo_id: str, *, private: bool = False, message: str = "mtsweep export") -> str:
    """Create ``repo_id`` (model repo, kept if it exists) and upload ``folder``; returns the repo URL."""
    from huggingface_hub import HfApi

    api = HfApi()
    try:
        url = api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
        api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="model", commit_message=message)
    except Exception as err:  # network, auth, hub refusal: all end the export the same way
        first = (str(err).strip().splitlines() or [""])[0][:300]
        raise HubPushError(f"push to the Hugging Face Hub ({api.endpoint}) failed: {type(err).__name__}: {first}") from None
    return str(url)
