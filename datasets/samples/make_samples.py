"""Make the project's own small sample fingerprints (synthetic, no real person).

Ridges are ``cos(phase)`` where the phase is a smooth field (a loop-like flow) plus one
spiral term ``±atan2(y - y_i, x - x_i)`` per minutia: a phase singularity of winding one
adds or removes a ridge there, which is exactly a ridge ending or bifurcation, so the
true minutiae positions are known. Images are 500 ppi, ridge period about 9 px.

Run ``python datasets/samples/make_samples.py`` to regenerate (deterministic: the seed is
fixed per sample). Writes ``sample_<n>.png`` and ``sample_<n>.json`` (true minutiae).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).parent
PERIOD = 9.0


def make_sample(seed: int, width: int = 320, height: int = 400, minutiae: int = 30):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    cx, cy = width * rng.uniform(0.4, 0.6), height * rng.uniform(0.35, 0.5)
    # Loop-like flow: elliptic rings around a core, opening downwards.
    ry = np.where(yy > cy, (yy - cy) * 0.35, yy - cy)
    phase = 2 * np.pi * np.hypot(xx - cx, ry * 1.1) / PERIOD
    truth = []
    margin = 40
    while len(truth) < minutiae:
        x, y = rng.uniform(margin, width - margin), rng.uniform(margin, height - margin)
        if np.hypot(x - cx, y - cy) < 30 or any(np.hypot(x - a, y - b) < 22 for a, b, _ in truth):
            continue
        sign = int(rng.choice([-1, 1]))
        phase += sign * np.arctan2(yy - y, xx - x)
        truth.append((float(x), float(y), sign))
    # Elliptical finger outline with a soft edge, mild noise, uneven pressure.
    outline = ((xx - width / 2) / (width * 0.46)) ** 2 + ((yy - height / 2) / (height * 0.47)) ** 2
    contact = np.clip((1.0 - outline) * 6, 0, 1)
    ridges = 0.5 + 0.5 * np.cos(phase)
    pressure = 0.75 + 0.25 * np.sin(xx / 57.0 + yy / 83.0)
    grey = 255 - 200 * contact * pressure * (1 - ridges)
    grey += rng.normal(0, 8, grey.shape)
    pixels = np.clip(grey, 0, 255).astype(np.uint8)
    return pixels, truth


def main() -> None:
    for n, seed in enumerate((11, 23, 37), start=1):
        pixels, truth = make_sample(seed)
        Image.fromarray(pixels).save(HERE / f"sample_{n}.png", dpi=(500, 500), optimize=True)
        (HERE / f"sample_{n}.json").write_text(
            json.dumps({"seed": seed, "ppi": 500, "minutiae_xy_sign": truth}, indent=1)
        )


if __name__ == "__main__":
    main()
