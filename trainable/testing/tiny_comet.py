"""A tiny, randomly initialised COMET regression model built fully offline (for tests and demos).

It exercises the real unbabel-comet code path (``comet.load_from_checkpoint(...).predict(...)``) in
seconds; its scores mean nothing. Layout, as ``comet.download_model`` leaves it::

    <out_dir>/hparams.yaml
    <out_dir>/checkpoints/model.ckpt
    <out_dir>/encoder/          tiny XLM-R config + tokenizer (hparams' ``pretrained_model``)
"""

from __future__ import annotations

import string
from pathlib import Path

_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]  # XLM-R ids 0..3; <mask> goes last


def _build_tokenizer(encoder_dir: Path) -> int:
    """Save a character-level XLM-R-style fast tokenizer; returns the vocabulary size."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import XLMRobertaTokenizerFast

    chars = list(string.ascii_letters + string.digits + string.punctuation)
    chars += [chr(c) for c in range(0x3041, 0x3097)]  # hiragana
    chars += [chr(c) for c in range(0x30A1, 0x30FD)]  # katakana incl. ー
    chars += list("、。「」・〜　日本語翻訳設定追加削除表示画面")
    pieces = ["▁"] + list(dict.fromkeys(chars))
    vocab = [(tok, 0.0) for tok in _SPECIALS] + [(p, -1.0) for p in pieces] + [("<mask>", 0.0)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=3, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", 0), ("</s>", 2)],
    )
    fast = XLMRobertaTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", sep_token="</s>", cls_token="<s>",
        unk_token="<unk>", pad_token="<pad>", mask_token="<mask>", model_max_length=256,
    )
    fast.save_pretrained(str(encoder_dir))
    return len(vocab)


def build_tiny_comet(out_dir: str | Path, *, seed: int = 0) -> Path:
    """Build the tiny COMET model under ``out_dir``; returns the checkpoint path (``model.ckpt``)."""
    import pytorch_lightning
    import torch
    import yaml
    from comet.models import RegressionMetric
    from transformers import XLMRobertaConfig

    out_dir = Path(out_dir).resolve()
    encoder_dir = out_dir / "encoder"
    encoder_dir.mkdir(parents=True, exist_ok=True)
    vocab_size = _build_tokenizer(encoder_dir)
    XLMRobertaConfig(
        vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=258, pad_token_id=1, bos_token_id=0,
        eos_token_id=2, type_vocab_size=1,
    ).save_pretrained(str(encoder_dir))

    torch.manual_seed(seed)
    model = RegressionMetric(
        encoder_model="XLM-RoBERTa", pretrained_model=str(encoder_dir), load_pretrained_weights=False,
        local_files_only=True, hidden_sizes=[32], dropout=0.0, batch_size=8,
    )
    hparams = dict(model.hparams)
    ckpt = out_dir / "checkpoints" / "model.ckpt"
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": model.state_dict(), "hyper_parameters": hparams,
                "pytorch-lightning_version": pytorch_lightning.__version__, "epoch": 0, "global_step": 0},
               ckpt)
    (out_dir / "hparams.yaml").write_text(yaml.safe_dump(hparams, sort_keys=True))
    return ckpt
