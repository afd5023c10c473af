"""How many worker threads a call may use: one rule for every public ``threads=`` argument."""

from __future__ import annotations

import os

import numpy as np


def resolve_threads(threads: int | None) -> int:
    """``None`` means every CPU; otherwise a positive int (0, negatives and bools are refused)."""
    if threads is None:
        return os.cpu_count() or 1
    if isinstance(threads, bool) or not isinstance(threads, int | np.integer):
        raise TypeError(f"threads must be an int, got {type(threads).__name__}")
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    return int(threads)
