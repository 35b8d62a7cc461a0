"""Evaluation: greedy generation, metrics (BLEU char, chrF++, COMET, term_acc), the shared COMET scorer."""
