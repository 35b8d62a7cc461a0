"""`mtsweep score`: score translations against references (BLEU-char, chrF++, terminology, COMET)."""

from __future__ import annotations

import argparse

HELP = "score hypotheses against references: bleu_char, chrf_pp, len_ratio, term_acc, optional COMET"

_EPILOG = """\
inputs: either --src SRC --ref REF (plain text, one segment a line) or --data FILE (JSONL/CSV/Parquet
with --src-field/--tgt-field columns); --hyp is plain text, one segment a line, in the same order.
COMET is off unless --comet names a model: a local checkpoint (.ckpt or its directory) or a hub name
such as Unbabel/wmt22-comet-da (needs hub access or a populated cache).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = _EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--hyp", required=True, help="hypotheses, one segment a line")
    parser.add_argument("--src", help="sources, one segment a line (with --ref)")
    parser.add_argument("--ref", help="references, one segment a line (with --src)")
    parser.add_argument("--data", help="parallel data file with sources and references (instead of --src/--ref)")
    parser.add_argument("--src-field", default="en", help="source field/column of --data (default: en)")
    parser.add_argument("--tgt-field", default="ja", help="reference field/column of --data (default: ja)")
    parser.add_argument("--glossary", help="glossary (TSV en/ja/forbidden, CSV or JSON) for term_acc")
    parser.add_argument("--comet", default="none",
                        help="COMET model: checkpoint path or hub name, or 'none' (default: none)")
    parser.add_argument("--comet-batch-size", type=int, default=64, help="COMET batch size (default: 64)")
    parser.add_argument("--mecab", action="store_true", help="also report bleu_mecab (tokenize=ja-mecab)")
    parser.add_argument("--per-term", action="store_true", help="also print the per-term breakdown")
    parser.add_argument("--json", metavar="OUT", help="write all scores (and per-term counts) as JSON to OUT")


def _read_lines(path: str, flag: str) -> list[str]:
    from pathlib import Path

    from trainable.base.errors import InputError

    p = Path(path)
    if not p.exists() or p.is_dir():
        raise InputError(flag, f"file not found: {path}")
    raw = p.read_bytes()  # also works for pipes such as <(...)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise InputError(f"{path}:{line}", "invalid UTF-8") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r") for line in lines]


def _inputs(args: argparse.Namespace) -> tuple[list[str], list[str], list[str]]:
    from trainable.base.errors import InputError

    if args.data and (args.src or args.ref):
        raise InputError("--data", "give either --data or --src/--ref, not both")
    if args.data:
        from trainable.data.pairs import load_pairs

        pairs = load_pairs(args.data, src_field=args.src_field, tgt_field=args.tgt_field)
        srcs, refs, ref_name = [p.src for p in pairs], [p.ref for p in pairs], args.data
    else:
        for flag, value in (("--src", args.src), ("--ref", args.ref)):
            if not value:
                raise InputError(flag, "missing: give --src and --ref, or --data")
        srcs, refs, ref_name = _read_lines(args.src, "--src"), _read_lines(args.ref, "--ref"), args.ref
        if len(srcs) != len(refs):
            raise InputError(args.src, f"{len(srcs)} lines but {args.ref} has {len(refs)}")
    hyps = _read_lines(args.hyp, "--hyp")
    if len(hyps) != len(refs):
        raise InputError(args.hyp, f"{len(hyps)} lines but {ref_name} has {len(refs)} segments")
    if not hyps:
        raise InputError(args.hyp, "no segments to score (empty file)")
    return srcs, hyps, refs


def _table(result: dict[str, object]) -> str:
    rows = []
    for key in ("n", "bleu_char", "chrf_pp", "bleu_mecab", "comet", "len_ratio", "term_acc", "term_hits",
                "term_total", "term_forbidden"):
        if key not in result:
            continue
        value = result[key]
        text = "-" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)
        rows.append(f"{key:<15} {text:>10}")
    return "\n".join(rows)


def run(args: argparse.Namespace) -> int:
    import json
    import time
    from pathlib import Path

    from trainable.base.errors import InputError

    if args.comet_batch_size < 1:
        raise InputError("--comet-batch-size", "must be >= 1")
    start = time.perf_counter()
    srcs, hyps, refs = _inputs(args)
    terms = None
    if args.glossary:
        from trainable.data.glossary import load_glossary

        terms = load_glossary(args.glossary)

    from trainable.eval.metrics import get_comet_scorer, score_all

    scorer = get_comet_scorer(args.comet)
    if scorer is not None:
        scorer.batch_size = args.comet_batch_size
    result = score_all(srcs, hyps, refs, terms=terms, comet=scorer, mecab=args.mecab)
    per_term = None
    if terms:
        from dataclasses import asdict

        from trainable.eval.terminology import score_terms

        per_term = {en: asdict(stats) for en, stats in score_terms(srcs, hyps, terms).per_term.items()}
    elapsed = time.perf_counter() - start

    print(_table(result))
    if args.per_term and per_term:
        print("\nterm                           total  hits  forbidden")
        for en, stats in sorted(per_term.items(), key=lambda kv: -kv[1]["total"]):
            print(f"{en[:30]:<30} {stats['total']:>6} {stats['hits']:>5} {stats['forbidden']:>10}")
    print(f"\n({len(hyps)} segments scored in {elapsed:.2f} s)")
    for name, sig in result["signatures"].items():
        print(f"{name}: {sig}")
    if args.json:
        out = dict(result, seconds=elapsed, comet_model=None if scorer is None else scorer.name)
        if per_term is not None:
            out["per_term"] = per_term
        try:
            Path(args.json).write_text(json.dumps(out, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        except OSError as err:
            raise InputError("--json", f"cannot write {args.json}: {err.strerror}") from None
    return 0
