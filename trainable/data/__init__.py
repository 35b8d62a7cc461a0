"""Parallel data, glossary, chat prompt + loss masking, batching: what a trial trains and evaluates on."""
