"""The base every package stands on: errors, YAML config loading, finite checks, JSONL, Pareto
dominance, ``module:function`` import, metric names, report keys, feasibility bands.

Imports nothing else of the project (a test checks it) and nothing heavy at module top level, so
``sweep/``, ``trainable/``, ``search_spaces/`` and ``analysis/`` (an analyst's install without torch)
all use it. Imports run one way: CLI -> sweep -> trainable / search_spaces / analysis -> base.
"""
