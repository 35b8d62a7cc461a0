"""One module per CLI subcommand: ``HELP``, ``add_arguments(parser)``, ``run(args) -> int``.

Modules here import only the standard library at top level, so ``mtsweep --help`` stays instant.
"""

# subcommand name -> module under sweep.commands, in the order ``--help`` lists them.
COMMANDS: dict[str, str] = {
    "demo": "demo",
    "run": "run",
    "resume": "resume",
    "status": "status",
    "trial": "trial",
    "score": "score",
    "pareto": "pareto",
    "baseline": "baseline",
    "finalize": "finalize",
    "export": "export",
    "make-tiny-model": "make_tiny_model",
}
