"""The device: synchronize, peak-memory bookkeeping, freeing memory, name and assumed peak."""

from __future__ import annotations

from .configs import PEAK_TFLOPS
from .specs import Bench


def sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def reset_peak(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def peak_gib(device: str) -> float | None:
    import torch

    return torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else None


def free() -> None:
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def setup_device(bench: Bench) -> None:
    """Device name and assumed peak (CUDA), or one CPU thread."""
    import torch

    if bench.device.startswith("cuda"):
        bench.device_name = torch.cuda.get_device_name(0)
        bench.peak_tflops = next((v for k, v in PEAK_TFLOPS if k in bench.device_name), None)
    else:
        bench.device_name = "CPU (1 thread)"
        torch.set_num_threads(1)
