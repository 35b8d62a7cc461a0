"""Does the eval measure the trained model? Merged eval copies (fp32 and bf16) vs the unmerged fp32 model.

Trains a LoRA adapter with the trial's own loop (``TrialRecipe``: 100 steps at lr 5e-6, the reference
configuration's lr) on the toy model and on a Qwen2.5-0.5B-shaped model (random weights, ``--layers``
layers, toy vocabulary), then prints per eval-copy dtype: the adapter's own effect on the logits
(max |logits(base + adapter) - logits(base)|, fp32), the copy's logit error against the unmerged fp32
model, their ratio, and greedy agreement / BLEU(char) difference over the 150 dev + test segments.

    python bench/eval_exactness.py [--layers 1] [--steps 100] [--lr 5e-6]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    import torch
    from sacrebleu.metrics import BLEU

    from tests.trainable_tests.trial_helpers import qwen05b_shaped, tiny_config, train_steps
    from trainable.data.prompting import build_prompt_ids
    from trainable.eval.evaluate import load_split
    from trainable.eval.generation import generate_translations
    from trainable.model.nf4_merge import merge_error, unmerged_fp32
    from trainable.testing.tiny_assets import make_tiny_assets

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--lr", type=float, default=5e-6)
    args = parser.parse_args()
    torch.set_num_threads(1)
    tmp = Path(tempfile.mkdtemp(prefix="eval_exactness_"))
    assets = make_tiny_assets(tmp / "assets")
    print("| model | copy | adapter effect | logit error | error / effect | greedy same | BLEU(char) diff |")
    print("|---|---|---|---|---|---|---|")
    for shape in ("tiny", "qwen05b_shaped"):
        model_dir = assets.model_dir if shape == "tiny" else qwen05b_shaped(assets.model_dir, tmp / "q", layers=args.layers)
        cfg = tiny_config(assets, model=str(model_dir), lr=args.lr, max_steps=args.steps, eval_every=args.steps,
                          eval_samples=2, max_new_tokens=2, batch_size=2 if shape == "tiny" else 1, max_seq_len=64)
        model, tokenizer = train_steps(cfg)
        pairs = load_split(cfg, "dev") + load_split(cfg, "test")
        srcs, refs = [p.src for p in pairs], [p.ref for p in pairs]
        ids = torch.tensor([build_prompt_ids(tokenizer, s)[-24:] for s in srcs[:24]])
        exact = generate_translations(unmerged_fp32(model), tokenizer, srcs, max_new_tokens=12, batch_size=64,
                                      device="cpu", merge_lora=False).hyps
        bleu_exact = BLEU(tokenize="char").corpus_score(exact, [refs]).score
        for dtype in ("float32", "bfloat16"):
            err = merge_error(model, ids, dtype=getattr(torch, dtype))
            hyps = generate_translations(model, tokenizer, srcs, max_new_tokens=12, batch_size=64, device="cpu",
                                         merge_dtype=dtype).hyps
            same = sum(a == b for a, b in zip(hyps, exact, strict=True)) / len(srcs)
            bleu = BLEU(tokenize="char").corpus_score(hyps, [refs]).score
            print(f"| {shape} | {dtype} | {err['adapter_effect']:.3g} | {err['merge_error']:.3g} | "
                  f"{err['error_share']:.3g} | {same:.1%} | {bleu - bleu_exact:+.3f} |", flush=True)


if __name__ == "__main__":
    main()
