"""Shared fixtures and helpers of the test suite.

Tests that need the shared fingerprint datasets find them through ``AFIS_DATASETS`` (the
``datasets_root`` fixture skips without it). Synthetic images whose answer is known come from
:class:`Synthetic` (fixture ``synthetic``): they need nothing outside the repository.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
FVC_MANIFEST = REPO / "datasets" / "fvc.json"


def datasets_root() -> Path:
    """The shared datasets folder (``AFIS_DATASETS``); skips the calling test without it."""
    value = os.environ.get("AFIS_DATASETS")
    if not value:
        pytest.skip("AFIS_DATASETS is not set (it names the shared datasets folder)")
    root = Path(value)
    if not root.is_dir():
        pytest.skip(f"AFIS_DATASETS={value} is not a folder")
    return root


def fvc_manifest() -> dict[str, Any]:
    """``datasets/fvc.json``: per FVC set its sensor, image size [width, height] and dpi."""
    return json.loads(FVC_MANIFEST.read_text())


def fvc_set_names() -> list[str]:
    """Names of the FVC sets (``fvc2000/DB1_B`` ...), usable at collection time."""
    return list(fvc_manifest()["sets"])


def fvc_set_files(name: str) -> list[Path]:
    """The TIFFs of one FVC set, sorted; skips when the datasets or the set are missing."""
    folder = datasets_root() / name
    files = sorted(folder.glob("*.tif"))
    if not files:
        pytest.skip(f"{folder} holds no FVC images")
    return files


@pytest.fixture
def level_cap() -> Iterator[None]:
    """Restores the SIMD cap of the native kernels after a test that changes it."""
    from afis._native import _core

    previous = _core._set_simd_limit(2)
    _core._set_simd_limit(previous)
    yield
    _core._set_simd_limit(previous)


@pytest.fixture(name="datasets_root", scope="session")
def datasets_root_fixture() -> Path:
    return datasets_root()


@pytest.fixture(name="fvc_manifest", scope="session")
def fvc_manifest_fixture() -> dict[str, Any]:
    return fvc_manifest()


def _line(image: np.ndarray, x0: float, y0: float, x1: float, y1: float) -> None:
    """Set the pixels of an 8-connected Bresenham line from (x0, y0) to (x1, y1)."""
    x0, y0, x1, y1 = (round(v) for v in (x0, y0, x1, y1))
    dx, dy = abs(x1 - x0), -abs(y1 - y0)
    sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
    err = dx + dy
    while True:
        image[y0, x0] = 1
        if x0 == x1 and y0 == y1:
            return
        e2 = 2 * err
        if e2 >= dy:
            err += dy
            x0 += sx
        if e2 <= dx:
            err += dx
            y0 += sy


class Synthetic:
    """Images whose ridge structure is known exactly.

    Angles given to these helpers follow the template convention (counter-clockwise from +x
    with y up) unless a helper says otherwise.
    """

    @staticmethod
    def grey(values: np.ndarray) -> np.ndarray:
        return np.clip(np.rint(values), 0, 255).astype(np.uint8)

    @staticmethod
    def grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        yy, xx = np.mgrid[0:height, 0:width]
        return yy.astype(np.float64), xx.astype(np.float64)

    @classmethod
    def wave(cls, phi: float, period: float, size: int = 256, phase: float = 0.0) -> np.ndarray:
        """``cos(2 pi (x cos phi + y sin phi) / period + phase)`` in IMAGE coordinates (y
        down), values in -1..1. The wave vector points at ``phi``; ridges run at
        ``phi + pi/2``."""
        yy, xx = cls.grid(size, size)
        return np.cos(2 * np.pi * (xx * np.cos(phi) + yy * np.sin(phi)) / period + phase)

    @classmethod
    def ridges(cls, phi: float, period: float, size: int = 256) -> np.ndarray:
        """The grey image ``127 + 100 * wave`` (dark where the wave is negative)."""
        return cls.grey(127 + 100 * cls.wave(phi, period, size))

    @classmethod
    def concentric(cls, size: int = 300, period: float = 10.0) -> np.ndarray:
        """Concentric circular ridges around the image centre (Poincare index +1)."""
        yy, xx = cls.grid(size, size)
        r = np.hypot(xx - size / 2, yy - size / 2)
        return cls.grey(127 + 100 * np.cos(2 * np.pi * r / period))

    @classmethod
    def loop(cls, cx: float, cy: float, rotation: float = 0.0, size: int = 300) -> np.ndarray:
        """Nested parabolic ridges around (cx, cy): a loop, Poincare index +1/2 (a core).

        The phase ``2 r cos(theta / 2)`` has level sets that are parabolas opening along the
        direction ``rotation``; the ridge period stays within 7..14 pixels.
        """
        yy, xx = cls.grid(size, size)
        r = np.hypot(xx - cx, yy - cy)
        theta = np.angle(np.exp(1j * (np.arctan2(cy - yy, xx - cx) - rotation)))
        return cls.grey(127 + 100 * np.cos(2 * np.pi * 2 * r * np.cos(theta / 2) / 14.0))

    @classmethod
    def delta(cls, cx: float, cy: float, rotation: float = 0.0, size: int = 300) -> np.ndarray:
        """Three ridge systems meeting at (cx, cy): a delta, Poincare index -1/2.

        Phase ``(r / 1.5) cos(1.5 theta)``; the ridge period stays within 7..10.5 pixels.
        """
        yy, xx = cls.grid(size, size)
        r = np.hypot(xx - cx, yy - cy)
        theta = np.angle(np.exp(1j * (np.arctan2(cy - yy, xx - cx) - rotation)))
        return cls.grey(127 + 100 * np.cos(2 * np.pi * (r / 1.5) * np.cos(1.5 * theta) / 7.0))

    @classmethod
    def dislocation(
        cls,
        direction: float,
        winding: int,
        offset: float = 0.0,
        size: int = 256,
        period: float = 9.0,
    ) -> tuple[np.ndarray, float]:
        """Parallel ridges with one phase singularity at the centre: a single minutia.

        In a frame rotated by ``direction`` (template convention) the ridges run along u and
        the phase is ``2 pi v / period + winding * atan2(v, u) + offset``. Winding +1 adds a
        ridge on the +u side, so the new ridge starts at the centre and runs towards +u: the
        minutia (ending or bifurcation, depending on ``offset``) points towards -u. Returns
        the image and that true minutia direction, in [0, 2 pi).
        """
        yy, xx = cls.grid(size, size)
        x, y = xx - size // 2, size // 2 - yy
        u = x * math.cos(direction) + y * math.sin(direction)
        v = -x * math.sin(direction) + y * math.cos(direction)
        phase = 2 * np.pi * v / period + winding * np.arctan2(v, u) + offset
        truth = (direction + (math.pi if winding > 0 else 0.0)) % (2 * math.pi)
        return cls.grey(127 + 100 * np.cos(phase)), truth

    @classmethod
    def fingerprint(
        cls, seed: int, width: int = 320, height: int = 400, minutiae: int = 30, noise: float = 4.0
    ) -> tuple[np.ndarray, np.ndarray]:
        """A loop-like synthetic print with ``minutiae`` phase singularities at known places.

        Same construction as ``datasets/samples/make_samples.py``. Returns the image and the
        true minutiae positions as an (N, 2) array of (x, y).
        """
        rng = np.random.default_rng(seed)
        yy, xx = cls.grid(height, width)
        cx, cy = width * rng.uniform(0.4, 0.6), height * rng.uniform(0.35, 0.5)
        ry = np.where(yy > cy, (yy - cy) * 0.35, yy - cy)
        phase = 2 * np.pi * np.hypot(xx - cx, ry * 1.1) / 9.0
        truth: list[tuple[float, float]] = []
        while len(truth) < minutiae:
            x, y = rng.uniform(40, width - 40), rng.uniform(40, height - 40)
            if math.hypot(x - cx, y - cy) < 30 or any(
                math.hypot(x - a, y - b) < 22 for a, b in truth
            ):
                continue
            phase += int(rng.choice([-1, 1])) * np.arctan2(yy - y, xx - x)
            truth.append((x, y))
        outline = ((xx - width / 2) / (width * 0.46)) ** 2 + (
            (yy - height / 2) / (height * 0.47)
        ) ** 2
        contact = np.clip((1.0 - outline) * 6, 0, 1)
        grey = 255 - 200 * contact * (0.5 - 0.5 * np.cos(phase))
        grey += rng.normal(0, noise, grey.shape)
        return cls.grey(grey), np.array(truth)

    @staticmethod
    def canvas(height: int, width: int) -> np.ndarray:
        return np.zeros((height, width), np.uint8)

    line = staticmethod(_line)

    @staticmethod
    def fork(
        stem_direction: float, spread: float = math.radians(36), length: int = 40
    ) -> np.ndarray:
        """A one-pixel "Y" skeleton on a 121x121 canvas, fork at (60, 60).

        The stem leaves the fork towards ``stem_direction`` (template convention); the two
        branches leave towards the opposite direction, ``spread`` to either side of it.
        """
        image = np.zeros((121, 121), np.uint8)
        c = 60
        _line(
            image,
            c,
            c,
            c + length * math.cos(stem_direction),
            c - length * math.sin(stem_direction),
        )
        for side in (-1, 1):
            b = stem_direction + math.pi + side * spread
            _line(image, c, c, c + length * math.cos(b), c - length * math.sin(b))
        return image


@pytest.fixture(scope="session")
def synthetic() -> type[Synthetic]:
    """The :class:`Synthetic` image helpers."""
    return Synthetic


def angle_difference(a: float, b: float, period: float = 2 * math.pi) -> float:
    """Smallest absolute difference between two angles modulo ``period``."""
    d = (a - b) % period
    return min(d, period - d)


@pytest.fixture(scope="session")
def angle_diff():
    """:func:`angle_difference` (angles modulo a period, default 2 pi)."""
    return angle_difference
