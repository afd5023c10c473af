"""The finger viewer's data: the stage images of a sample, its minutiae, the matched pairs.

Images come from a sample's ``image_ref`` when it names a readable image file: the file is
traced once (:func:`afis.trace`, kept in a small cache) and shown as the original, the
enhanced or the skeleton image, all on the template's 500 ppi grid, so the minutiae overlay
fits. Without an image the minutiae are drawn on a blank canvas of the template's size.

The pairs the matcher paired come from the engine's explanation API
(``afis.explain(a, b).pairs``) through :func:`matched_pairs`, the one place that calls it.

Examples
--------
>>> import afis
>>> t = afis.Template(width=100, height=80, resolution=500.0, source_resolution=500.0,
...                   x=[10, 50], y=[20, 40], direction=[0.0, 1.5708], type=[1, 2],
...                   quality=[80, 60], image_quality=70)
>>> [(m["x"], m["y"], m["x2"], m["y2"]) for m in minutiae(t)]
[(10, 20, 22.0, 20.0), (50, 40, 50.0, 28.0)]
>>> stage_image(None, "original") is None
True
>>> blank_png(4, 3)[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
True
"""

from __future__ import annotations

import functools
import io
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

import afis

__all__ = [
    "VIEWS",
    "blank_png",
    "matched_pairs",
    "minutiae",
    "png",
    "stage_image",
]

#: The image views of the viewer.
VIEWS = ("original", "enhanced", "skeleton")
#: Length of a minutia's direction line, pixels.
DIRECTION_LENGTH = 12.0


def matched_pairs(a: afis.Template, b: afis.Template) -> tuple[list[tuple[int, int]], str]:
    """The minutiae the matcher paired, ``[(index in a, index in b), ...]``, and a line saying
    what each part of the score contributed (from :func:`afis.explain`, whose score is
    :func:`afis.compare`'s)."""
    explanation = afis.explain(a, b)
    pairs = np.asarray(explanation.pairs, dtype=np.int64).reshape(-1, 2)
    parts = explanation.parts
    weight = parts["lssr_weight"]
    note = (
        f"score {explanation.score:.4f} = local similarity {parts['lssr']:.4f}^{weight:g} x "
        f"pairing {parts['pairing']:.4f}^{1 - weight:g} ({parts['mates']:.1f} mates)"
    )
    return [(int(i), int(j)) for i, j in pairs], note


def minutiae(t: afis.Template) -> list[dict[str, Any]]:
    """Each minutia as ``x, y`` and the end ``x2, y2`` of its direction line (image
    coordinates, y down; the template's directions are counter-clockwise with y up)."""
    out = []
    for x, y, d, kind in zip(t.x, t.y, t.direction, t.type, strict=True):
        x, y, d = int(x), int(y), float(d)
        out.append(
            {
                "x": x,
                "y": y,
                "x2": round(x + DIRECTION_LENGTH * math.cos(d), 1),
                "y2": round(y - DIRECTION_LENGTH * math.sin(d), 1),
                "type": "bifurcation" if int(kind) == 2 else "ending",
            }
        )
    return out


def _readable(image_ref: str | None) -> Path | None:
    if not image_ref or "://" in image_ref:
        return None
    path = Path(image_ref)
    return path if path.is_file() and os.access(path, os.R_OK) else None


@functools.lru_cache(maxsize=32)
def _trace(path: str, mtime: float) -> dict[str, np.ndarray]:
    steps = afis.trace(afis.load_image(path))
    enhanced = np.asarray(steps.enhanced, dtype=np.float32)
    scale = float(np.percentile(np.abs(enhanced), 99)) or 1.0
    # ridges (negative response) dark, valleys light
    enhanced_grey = np.clip(127.5 + 127.5 * enhanced / scale, 0, 255).astype(np.uint8)
    skeleton = np.where(np.asarray(steps.skeleton, dtype=bool), 0, 255).astype(np.uint8)
    return {
        "original": np.asarray(steps.image, dtype=np.uint8),
        "enhanced": enhanced_grey,
        "skeleton": skeleton,
    }


def stage_image(image_ref: str | None, view: str) -> np.ndarray | None:
    """The sample's image in one of :data:`VIEWS`, or None when there is no readable image."""
    if view not in VIEWS:
        raise ValueError(f"view must be one of {', '.join(VIEWS)}")
    path = _readable(image_ref)
    if path is None:
        return None
    try:
        return _trace(str(path), path.stat().st_mtime)[view]
    except (afis.AfisError, OSError):
        return None


def png(pixels: np.ndarray) -> bytes:
    """A greyscale array as PNG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8), mode="L").save(buffer, "PNG")
    return buffer.getvalue()


def blank_png(width: int, height: int) -> bytes:
    """A white canvas (no image was captured or it cannot be read)."""
    return png(np.full((max(1, height), max(1, width)), 255, np.uint8))
