"""Segmentation of a slap image into its fingers.

A slap scanner returns one image of four fingers of a hand (or the two thumbs). The
fingerprint area is where the image has ridge texture: the local standard deviation of the
grey levels (a box filter of ``x`` and ``x²``, :mod:`scipy.ndimage`) smoothed over about a
ridge period, thresholded by Otsu's method (:func:`skimage.filters.threshold_otsu`), closed
and filled; its connected components (:func:`skimage.measure.label`) larger than a share of
the largest are the fingers, ordered left to right and given the slap's positions
(:data:`~.constants.SLAP_POSITIONS`, those declared missing left out). A slap whose count of
fingers differs from the count expected is refused as a whole (:class:`~.errors.SlapCountError`):
assigning positions to a wrong count would file fingers under the wrong positions.

Examples
--------
>>> from enrollment.capture.synthetic import compose_slap, render_finger
>>> slap = compose_slap([render_finger(f, 0) for f in (2, 3, 4, 5)])
>>> [(s.position.name, s.box[2] - s.box[0] > 200) for s in segment_slap(slap, "right_slap")]
[('RIGHT_INDEX', True), ('RIGHT_MIDDLE', True), ('RIGHT_RING', True), ('RIGHT_LITTLE', True)]
>>> segment_slap(slap, "two_thumbs")
Traceback (most recent call last):
...
enrollment.capture.errors.SlapCountError: two_thumbs: 4 finger(s) found, 2 expected; ...
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage import filters, measure, morphology

from afis.template import FingerPosition
from enrollment.capture import constants as C
from enrollment.capture.errors import CaptureError, SlapCountError

__all__ = ["SlapFinger", "segment_slap"]

#: Padding (pixels) around a finger's box when it is cut out.
PAD = 8


@dataclass(frozen=True)
class SlapFinger:
    """One finger cut out of a slap: its position, its box (top, left, bottom, right) in the
    slap, and its pixels."""

    position: FingerPosition
    box: tuple[int, int, int, int]
    pixels: np.ndarray


def _texture(pixels: np.ndarray, ppi: float) -> np.ndarray:
    scale = ppi / 500.0
    size = max(3, round(9 * scale))
    x = pixels.astype(np.float32)
    mean = ndimage.uniform_filter(x, size)
    variance = np.maximum(ndimage.uniform_filter(x * x, size) - mean * mean, 0)
    return ndimage.gaussian_filter(np.sqrt(variance), C.SLAP_SMOOTHING * scale)


def segment_slap(
    pixels: np.ndarray,
    slap: str,
    *,
    missing: Iterable[FingerPosition | int] = (),
    ppi: float = 500.0,
) -> list[SlapFinger]:
    """The fingers of a slap image, left to right, with their positions.

    Parameters
    ----------
    pixels : numpy.ndarray
        2-D ``uint8`` slap image (dark ridges on a light background).
    slap : str
        ``"left_slap"``, ``"right_slap"`` or ``"two_thumbs"``.
    missing : iterable of FingerPosition
        Positions of this slap declared missing (exceptions): fewer fingers are expected.
    ppi : float
        Resolution of the image.

    Raises
    ------
    SlapCountError
        When the image holds another number of fingers than expected.
    CaptureError
        For an unknown slap name or an unusable array.
    """
    if slap not in C.SLAP_POSITIONS:
        raise CaptureError(f"unknown slap {slap!r}; one of {sorted(C.SLAP_POSITIONS)}")
    if not isinstance(pixels, np.ndarray) or pixels.ndim != 2 or pixels.dtype != np.uint8:
        raise CaptureError("a slap image must be a 2-D uint8 array")
    gone = {FingerPosition(int(p)) for p in missing}
    positions = [p for p in C.SLAP_POSITIONS[slap] if p not in gone]
    texture = _texture(pixels, ppi)
    if float(texture.max()) - float(texture.min()) < 1.0:
        raise SlapCountError(slap, len(positions), 0)
    mask = texture > filters.threshold_otsu(texture)
    mask = ndimage.binary_fill_holes(ndimage.binary_closing(mask, structure=morphology.disk(5)))
    labels = measure.label(mask)
    regions = measure.regionprops(labels)
    largest = max((r.area for r in regions), default=0)
    fingers = sorted(
        (r for r in regions if r.area >= C.SLAP_MIN_FINGER_AREA * largest),
        key=lambda r: r.centroid[1],
    )
    if len(fingers) != len(positions):
        raise SlapCountError(slap, len(positions), len(fingers))
    out = []
    height, width = pixels.shape
    for position, region in zip(positions, fingers, strict=False):
        top, left, bottom, right = region.bbox
        top, left = max(0, top - PAD), max(0, left - PAD)
        bottom, right = min(height, bottom + PAD), min(width, right + PAD)
        cut = pixels[top:bottom, left:right].copy()
        # pixels of the box outside this finger's blob (a neighbour's edge) become background
        inside = labels[top:bottom, left:right] == region.label
        inside = ndimage.binary_dilation(inside, iterations=PAD)
        cut[~inside] = 255
        out.append(SlapFinger(position, (top, left, bottom, right), cut))
    return out
