"""`mtsweep make-tiny-model DIR`: builds loadable toy assets and says they are toys."""

from __future__ import annotations

from pathlib import Path

from sweep.cli import build_parser, main


def test_help_says_it_is_a_toy() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices["make-tiny-model"]
    text = sub.format_help()
    assert "TOY" in text and "--pretrain-steps" in text


def test_builds_assets_and_prints_paths(tmp_path, capsys) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path / "tiny"
    assert main(["make-tiny-model", str(out), "--pretrain-steps", "2"]) == 0
    lines = dict(line.split(": ", 1) for line in capsys.readouterr().out.splitlines() if ": " in line)
    model_dir, comet_ckpt = Path(lines["model"]), Path(lines["comet"])
    assert model_dir == (out / "model").resolve() and comet_ckpt.is_file()
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    assert model.config.model_type == "qwen2" and tokenizer.eos_token == "<|im_end|>"


def test_negative_steps_is_a_user_error(tmp_path, capsys) -> None:
    assert main(["make-tiny-model", str(tmp_path / "x"), "--pretrain-steps", "-1"]) == 2
    assert "error: --pretrain-steps: must be >= 0" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
