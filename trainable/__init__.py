"""One QLoRA trial (Ray Tune function trainable), data/glossary loading and translation metrics.

Never imports ``sweep``. Heavy packages are imported inside the functions that need them.
"""
