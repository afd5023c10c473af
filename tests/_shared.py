"""Helpers shared by several test modules: random templates and the SIMD levels."""

from __future__ import annotations

import math

import numpy as np

from afis._native import _core
from afis.template import FingerPosition, Template


def random_finger(seed: int, n: int = 40, position: int = 0) -> Template:
    """A random minutiae set (a distinct 'finger' per seed)."""
    r = np.random.default_rng(seed)
    return Template(
        width=320,
        height=320,
        resolution=500,
        source_resolution=500,
        x=r.integers(20, 300, n),
        y=r.integers(20, 300, n),
        direction=r.uniform(0, 2 * math.pi, n),
        type=r.integers(1, 3, n),
        quality=r.integers(20, 100, n),
        image_quality=60,
        finger_position=FingerPosition(position),
    )


def simd_levels() -> list[int]:
    """Every SIMD level of the native kernels that this processor runs."""
    return list(range(_core._simd_supported() + 1))
