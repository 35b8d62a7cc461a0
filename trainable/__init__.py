"""One QLoRA trial (Ray Tune function trainable): ``trial.py`` (the recipe) and ``config.py`` at the top,
the rest by concern in ``data/``, ``model/``, ``training/``, ``eval/``, ``testing/``, and the shared
``base/``.

Never imports ``sweep`` (nor ``analysis``). Heavy packages are imported inside the functions that need them.
"""
