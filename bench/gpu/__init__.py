"""The pieces of ``bench/gpu_throughput.py``: specs, model setup, measurements, sharing, table."""
