"""Seeded synthetic images for the synthetic devices: fingers, slaps, face, signature, iris.

:mod:`afis.synth` makes templates only, so the fingers here are drawn separately, from the
AM-FM model of a fingerprint (Larkin & Fletcher 2007, "A coherent framework for fingerprint
analysis: are fingerprints holograms?"): the ridges are ``cos(phase)``, where the phase is a
smooth, whorl-like continuous part plus one spiral ``±atan2`` term per minutia, so each
finger's minutiae sit exactly where its seed put them. An *impression* turns and shifts the
finger on the sensor and adds sensor noise; a *poor* one is faint, noisy and blurred (a dry
finger or a dirty platen) and scores below the quality floor. Two impressions of one seed
match under :func:`afis.compare`; different seeds do not. They are not realistic enough to
tune an extractor on: for that use real images (the FVC sets in the tests).

Face photos reuse :func:`enrollment.ktp_digital.demo.synthetic_face`; signatures are seeded
pen strokes, irises seeded radial texture in a pupil and iris disc.

Examples
--------
>>> import afis
>>> a, b = render_finger(3, 0), render_finger(3, 1)
>>> a.shape, a.dtype.name
((400, 320), 'uint8')
>>> ta, tb, other = afis.extract(a), afis.extract(b), afis.extract(render_finger(4, 0))
>>> afis.compare(ta, tb) > afis.threshold_for_fmr(1e-4) > afis.compare(ta, other)
True
>>> afis.extract(render_finger(3, 2, poor=True)).image_quality < 40
True
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

__all__ = [
    "compose_slap",
    "png",
    "render_face",
    "render_finger",
    "render_hand",
    "render_iris",
    "render_signature",
]

#: Size (width, height) of a synthetic finger image at 500 ppi.
FINGER_SIZE = (320, 400)
#: Minutiae (spiral phase points) of a synthetic finger.
FINGER_MINUTIAE = 45


def png(pixels: np.ndarray | Image.Image, ppi: float = 500.0) -> bytes:
    """Lossless PNG bytes of a greyscale or RGB image, its resolution recorded (pHYs).

    Examples
    --------
    >>> import numpy as np
    >>> png(np.zeros((4, 4), np.uint8))[:4]
    b'\\x89PNG'
    """
    image = pixels if isinstance(pixels, Image.Image) else Image.fromarray(pixels)
    out = io.BytesIO()
    image.save(out, format="PNG", dpi=(ppi, ppi))
    return out.getvalue()


def render_finger(
    finger: int, impression: int, *, poor: bool = False, size: tuple[int, int] = FINGER_SIZE
) -> np.ndarray:
    """One impression of synthetic finger ``finger`` (a seed), ``uint8``, 500 ppi."""
    width, height = size
    rng = np.random.default_rng([finger, 0x5EED])
    n = FINGER_MINUTIAE
    px = rng.uniform(-0.34 * width, 0.34 * width, n)
    py = rng.uniform(-0.38 * height, 0.38 * height, n)
    polarity = rng.choice([-1.0, 1.0], n)
    cx, cy = rng.uniform(-0.1 * width, 0.1 * width), rng.uniform(-0.15 * height, 0.0)
    period = rng.uniform(8.5, 10.5)
    squeeze = rng.uniform(0.2, 0.45)
    take = np.random.default_rng([finger, impression, 0x1A9])
    angle = take.normal(0, 0.12)
    tx, ty = take.normal(0, 10, 2)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    x, y = xx - width / 2 - tx, yy - height / 2 - ty
    c, s = np.cos(angle), np.sin(angle)
    u, v = c * x + s * y, -s * x + c * y
    phase = 2 * np.pi / period * np.sqrt(squeeze * (u - cx) ** 2 + (v - cy) ** 2)
    # the sum of the spirals' angles is the argument of one product (cheaper than n atan2s;
    # scaled so that the product stays far from overflow)
    z = (u + 1j * v) / max(width, height)
    spirals = np.ones_like(z)
    for x0, y0, p in zip(px, py, polarity, strict=True):
        factor = z - complex(x0, y0) / max(width, height)
        spirals *= factor if p > 0 else np.conj(factor)
    phase += np.angle(spirals)
    inside = (u / (width * 0.42)) ** 2 + ((v + 0.03 * height) / (height * 0.45)) ** 2 < 1
    contrast, noise = 100.0, 8.0
    if poor:  # a finger barely touching a dirty platen: a small, faint, noisy contact
        inside = (x / (width * 0.16)) ** 2 + (y / (height * 0.13)) ** 2 < 1
        contrast, noise = 30.0, 35.0
    pixels = np.where(inside, 128 - contrast * np.cos(phase), 235.0)
    pixels += take.normal(0, noise, pixels.shape)
    if poor:
        pixels = ndimage.gaussian_filter(pixels, 2.0)
    return np.clip(pixels, 0, 255).astype(np.uint8)


def compose_slap(
    fingers: Sequence[np.ndarray], *, gap: int = 40, margin: int = 30, seed: int = 0
) -> np.ndarray:
    """Single-finger images side by side on a white canvas, as a slap scanner shows them
    (fingertips at slightly different heights), ``uint8``.

    Examples
    --------
    >>> import numpy as np
    >>> compose_slap([np.zeros((50, 40), np.uint8)] * 4, gap=10, margin=5).shape
    (60, 200)
    """
    if not fingers:
        raise ValueError("a slap needs at least one finger image")
    rng = np.random.default_rng(seed)
    drops = rng.integers(0, margin + 1, len(fingers))
    height = max(f.shape[0] for f in fingers) + 2 * margin
    width = sum(f.shape[1] for f in fingers) + gap * (len(fingers) - 1) + 2 * margin
    canvas = np.full((height, width), 255, np.uint8)
    x = margin
    for finger, drop in zip(fingers, drops, strict=False):
        h, w = finger.shape
        canvas[drop : drop + h, x : x + w] = finger
        x += w + gap
    return canvas


def render_face(seed: int) -> Image.Image:
    """A made-up passport-style face photo (RGB), see
    :func:`enrollment.ktp_digital.demo.synthetic_face`."""
    from enrollment.ktp_digital.demo import synthetic_face

    return synthetic_face(seed)


def render_signature(seed: int, size: tuple[int, int] = (500, 160)) -> Image.Image:
    """A seeded pen signature on white (greyscale), as a signature pad returns it.

    Examples
    --------
    >>> render_signature(1).size
    (500, 160)
    """
    rng = np.random.default_rng([seed, 0x516])
    width, height = size
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    t = np.linspace(0, 1, 400)
    for stroke in range(int(rng.integers(1, 4))):
        k = rng.uniform(8, 20, 3)
        phase = rng.uniform(0, 2 * np.pi, 3)
        x0 = width * (0.08 + 0.3 * stroke)
        xs = x0 + t * width * rng.uniform(0.3, 0.6) + 12 * np.sin(k[0] * t + phase[0])
        ys = height / 2 + height * 0.3 * np.sin(k[1] * t + phase[1]) * np.cos(k[2] * t)
        points = [(float(a), float(b)) for a, b in zip(xs, ys, strict=False) if 0 <= a < width]
        draw.line(points, fill=20, width=3)
    return image


def render_iris(seed: int, size: int = 320) -> Image.Image:
    """A seeded synthetic iris (greyscale, 640x480-style framing cut to a square).

    Examples
    --------
    >>> render_iris(1).size
    (320, 320)
    """
    rng = np.random.default_rng([seed, 0x1815])
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) - size / 2
    r, theta = np.hypot(xx, yy), np.arctan2(yy, xx)
    pupil, limbus = size * rng.uniform(0.1, 0.16), size * rng.uniform(0.36, 0.42)
    texture = sum(
        rng.uniform(5, 15) * np.sin(int(rng.integers(8, 60)) * theta + rng.uniform(0, 6.3) + r / 9)
        for _ in range(6)
    )
    pixels = np.where(r < pupil, 25.0, np.where(r < limbus, 110.0 + texture, 215.0))
    pixels += rng.normal(0, 4, pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def render_hand(seed: int, side: str, size: tuple[int, int] = (300, 360)) -> Image.Image:
    """A seeded photo of a hand, palm up (greyscale), for the exemption path's hand photos.

    Examples
    --------
    >>> render_hand(1, "left").size
    (300, 360)
    """
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    rng = np.random.default_rng([seed, 0x4A2D, side == "left"])
    width, height = size
    image = Image.new("L", size, int(rng.integers(200, 240)))
    draw = ImageDraw.Draw(image)
    skin = int(rng.integers(110, 170))
    palm = (width * 0.22, height * 0.45, width * 0.78, height * 0.95)
    draw.ellipse(palm, fill=skin)
    lengths = rng.uniform(0.28, 0.4, 4) * height
    for i, length in enumerate(lengths):
        x = width * (0.27 + 0.15 * i)
        draw.rounded_rectangle(
            (x, height * 0.55 - length, x + width * 0.11, height * 0.6), radius=14, fill=skin
        )
    thumb_x = width * (0.1 if side == "right" else 0.72)
    draw.rounded_rectangle(
        (thumb_x, height * 0.5, thumb_x + width * 0.18, height * 0.62), radius=14, fill=skin
    )
    pixels = np.asarray(image, dtype=np.float64) + rng.normal(0, 3, (height, width))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
