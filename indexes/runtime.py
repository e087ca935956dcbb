"""Process-wide thread pools and offline flags, set once before the first model or search.

On 2 cores, a model's intra-op pool and OpenBLAS (numpy) each default to all cores and thrash
each other; pinning both made retrieval 4-5x faster here.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from indexes.config import RuntimeConfig

_applied = False

# Read by huggingface_hub/transformers at import time: nothing may be downloaded at run time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

offline_hub = True  # importing this module is what sets the flags above


def apply_runtime(cfg: RuntimeConfig) -> None:
    """Pin the BLAS thread pool (idempotent)."""
    global _applied
    if _applied:
        return
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=cfg.blas_threads, user_api="blas")
    _applied = True


def pin_torch_threads(threads: int) -> None:
    """Called just before a torch model loads (the `torch` runtime only)."""
    import torch

    torch.set_num_threads(threads)


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """More torch threads for a bulk embedding job when torch is in use, restored afterwards."""
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
