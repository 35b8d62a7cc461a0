"""Tiny offline assets for tests and the demo: a toy Qwen2 LM + tokenizer and a tiny COMET checkpoint.

``make_tiny_assets(out_dir)`` writes ``out_dir/model`` (trained on the bundled sample data, see
:func:`trainable.testing.tiny_model.build_tiny_lm`) and ``out_dir/comet`` (:func:`trainable.testing.tiny_comet.build_tiny_comet`).
Both are toys: they exercise the real code paths, their scores mean nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

# Used only when the bundled sample data is missing (a stripped install).
_FALLBACK_PAIRS: tuple[tuple[str, str], ...] = (
    ("Save the file", "ファイルを保存"),
    ("Open settings", "設定を開く"),
    ("Delete the selected item", "選択した項目を削除"),
    ("Connection failed", "接続に失敗しました"),
    ("Invite users", "ユーザーを招待"),
    ("Clear all notifications", "すべての通知をクリア"),
    ("Backup schedule", "バックアップのスケジュール"),
    ("Restart the server", "サーバーを再起動"),
)


@dataclass(frozen=True)
class TinyAssets:
    """Where the tiny assets are."""

    model_dir: Path
    """Toy causal LM + tokenizer directory (``from_pretrained`` loads it)."""
    comet_ckpt: Path
    """Tiny COMET checkpoint (``comet.load_from_checkpoint`` loads it)."""


def sample_pairs() -> list[tuple[str, str]]:
    """(en, ja) pairs of the bundled sample train split, or a small inline list when it is missing."""
    from trainable.data.pairs import sample_data_dir

    path = sample_data_dir() / "train.jsonl"
    if not path.is_file():
        return list(_FALLBACK_PAIRS)
    pairs = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                pairs.append((row["en"], row["ja"]))
    return pairs


def make_tiny_assets(out_dir: str | Path, *, pretrain_steps: int = 200, seed: int = 0) -> TinyAssets:
    """Build the toy LM (pre-trained ``pretrain_steps`` steps on the sample train split) and tiny COMET."""
    from trainable.testing.tiny_comet import build_tiny_comet
    from trainable.testing.tiny_model import build_tiny_lm

    out = Path(out_dir).resolve()
    pairs = sample_pairs()
    texts = [text for pair in pairs for text in pair]
    model_dir = build_tiny_lm(
        out / "model", texts=texts, chat_pairs=pairs, pretrain_steps=pretrain_steps, seed=seed
    )
    comet_ckpt = build_tiny_comet(out / "comet")
    return TinyAssets(model_dir=model_dir, comet_ckpt=Path(comet_ckpt))
