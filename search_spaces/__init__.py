"""Search spaces as YAML plus their loader. Imports none of sweep/, trainable/, analysis/."""
