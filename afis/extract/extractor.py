"""Minutiae extraction: from a fingerprint image to a :class:`~afis.template.Template`.

The work happens in the C++ core (``afis/_native``), one stage per source file:
segmentation, orientation, ridge period, oriented filtering, binarization, thinning,
ridge-graph tracing, false-minutiae removal, quality and singular points. This module
validates input, brings the image to the 500 ppi processing grid and wraps the result.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from afis._native import _core
from afis._threads import resolve_threads
from afis.constants import (
    DEFAULT_MAX_MINUTIAE,
    MAX_IMAGE_SIDE,
    MAX_MINUTIAE,
    MIN_IMAGE_SIDE,
    PROCESSING_PPI,
)
from afis.errors import ImageError
from afis.image import FingerprintImage, ImageSource, load_image
from afis.template import FingerPosition, Template

__all__ = ["ExtractOptions", "ExtractionTrace", "extract", "extract_many", "trace"]


@dataclass(frozen=True)
class ExtractOptions:
    """What a caller may tune about extraction.

    Parameters
    ----------
    max_minutiae : int
        Most minutiae kept per template; when an image yields more, those of highest
        quality are kept. Between 0 and :data:`afis.constants.MAX_MINUTIAE` (1000).

    Examples
    --------
    >>> ExtractOptions(max_minutiae=60).max_minutiae
    60
    """

    max_minutiae: int = DEFAULT_MAX_MINUTIAE

    def __post_init__(self) -> None:
        if isinstance(self.max_minutiae, bool) or not isinstance(
            self.max_minutiae, int | np.integer
        ):
            raise TypeError(f"max_minutiae must be an int, got {type(self.max_minutiae).__name__}")
        if not 0 <= self.max_minutiae <= MAX_MINUTIAE:
            raise ValueError(
                f"max_minutiae must be within 0..{MAX_MINUTIAE}, got {self.max_minutiae}"
            )

    def to_dict(self) -> dict[str, Any]:
        """The options as a plain dictionary (for logs and job manifests)."""
        return {"max_minutiae": int(self.max_minutiae)}


@dataclass(frozen=True, eq=False)
class ExtractionTrace:
    """Every intermediate result of one extraction, for people to look at.

    Pixel-level arrays are on the 500 ppi processing grid, shape ``(height, width)``.
    Block-level arrays have one cell per ``orientation_block`` (or ``period_block``) pixels.

    Attributes
    ----------
    image : numpy.ndarray
        ``uint8`` image on the processing grid.
    mask : numpy.ndarray
        ``bool`` foreground mask.
    orientation : numpy.ndarray
        ``float32`` ridge orientation per block, radians in [0, pi), image coordinates
        (x right, y down).
    coherence : numpy.ndarray
        ``float32`` orientation reliability per block, 0..1.
    period : numpy.ndarray
        ``float32`` ridge period in pixels per ``period_block`` cell.
    enhanced : numpy.ndarray
        ``float32`` oriented band-pass response (negative on ridges).
    binary : numpy.ndarray
        ``bool`` ridge pixels.
    skeleton : numpy.ndarray
        ``bool`` one-pixel-wide ridge skeleton.
    raw_minutiae : dict of numpy.ndarray
        Minutiae of the skeleton before false-minutiae removal and before their directions
        lean on the orientation field (``x``, ``y``, ``direction``, ``type``).
    quality : dict
        The measures behind the image quality score.
    template : Template
        The final result.
    """

    image: np.ndarray
    mask: np.ndarray
    orientation: np.ndarray
    coherence: np.ndarray
    orientation_block: int
    period: np.ndarray
    period_strength: np.ndarray
    period_block: int
    enhanced: np.ndarray
    binary: np.ndarray
    skeleton: np.ndarray
    raw_minutiae: dict[str, np.ndarray]
    quality: dict[str, float] = field(default_factory=dict)
    template: Template | None = None


def _prepare(image: ImageSource | FingerprintImage, dpi: float | None) -> tuple[np.ndarray, float]:
    """Decode if needed and resample to the processing grid; returns (pixels, source ppi)."""
    if not isinstance(image, FingerprintImage) or dpi is not None:
        image = load_image(image, dpi=dpi)
    scale = PROCESSING_PPI / image.ppi
    width, height = round(image.width * scale), round(image.height * scale)
    if min(width, height) < MIN_IMAGE_SIDE:
        raise ImageError(
            f"image of {image.width}x{image.height} pixels at {image.ppi:g} ppi is "
            f"{width}x{height} at {PROCESSING_PPI:g} ppi; at least {MIN_IMAGE_SIDE} pixels "
            "per side are needed to find ridges"
        )
    if max(width, height) > MAX_IMAGE_SIDE:
        raise ImageError(
            f"image of {image.width}x{image.height} pixels at {image.ppi:g} ppi is "
            f"{width}x{height} at {PROCESSING_PPI:g} ppi; at most {MAX_IMAGE_SIDE} pixels per "
            "side are supported (a ten-print card or slap must be segmented into fingers first)"
        )
    pixels = image.pixels
    if abs(scale - 1.0) > 1e-9:
        pixels = _core.resample(pixels, scale)
    return pixels, float(image.ppi)


def _template(result: dict[str, Any], source_ppi: float, finger_position: Any) -> Template:
    return Template(
        width=int(result["width"]),
        height=int(result["height"]),
        resolution=PROCESSING_PPI,
        source_resolution=source_ppi,
        x=result["x"],
        y=result["y"],
        direction=result["direction"],
        type=result["type"],
        quality=result["quality"],
        image_quality=int(result["quality_score"]),
        finger_position=FingerPosition(finger_position),
        singular_x=result["singular_x"],
        singular_y=result["singular_y"],
        singular_type=result["singular_type"],
    )


def _run(pixels: np.ndarray, options: ExtractOptions, with_trace: bool) -> dict[str, Any]:
    result = _core.extract(pixels, options.max_minutiae, with_trace)
    result["quality_score"] = result["image_quality"]["score"]
    return result


def _check_finger_position(finger_position: Any) -> FingerPosition:
    try:
        return FingerPosition(finger_position)
    except ValueError:
        raise ValueError(
            f"finger_position must be an ISO/IEC 19794-2 finger code 0..10, got {finger_position!r}"
        ) from None


def extract(
    image: ImageSource | FingerprintImage,
    *,
    dpi: float | None = None,
    finger_position: FingerPosition | int = FingerPosition.UNKNOWN,
    options: ExtractOptions | None = None,
) -> Template:
    """Extract a minutiae template from a fingerprint image.

    Parameters
    ----------
    image : FingerprintImage, path, bytes or numpy.ndarray
        The image, or anything :func:`afis.load_image` accepts.
    dpi : float, optional
        Resolution of the image when it is not a :class:`FingerprintImage` that already
        knows it (see :func:`afis.load_image` for how it is otherwise decided).
    finger_position : FingerPosition or int, optional
        ISO/IEC 19794-2 finger code recorded in the template.
    options : ExtractOptions, optional
        Tuning; the defaults suit 500 ppi single-finger captures.

    Returns
    -------
    Template
        Minutiae on the 500 ppi grid. A blank image gives an empty template with image
        quality close to 0 (no exception): enrolment decides what to do with it.

    Raises
    ------
    afis.errors.ImageError
        If the image cannot be decoded or is too small or too large.

    Notes
    -----
    The native work runs with the GIL released, so threads extract in parallel
    (see :func:`extract_many`). The same image always gives byte-identical templates.

    Examples
    --------
    >>> import numpy as np
    >>> yy, xx = np.mgrid[0:200, 0:200]
    >>> ridges = (127 + 100 * np.sin(2 * np.pi * xx / 9)).astype(np.uint8)
    >>> template = extract(ridges)
    >>> template.width, template.resolution
    (200, 500.0)
    """
    options = options or ExtractOptions()
    position = _check_finger_position(finger_position)
    pixels, source_ppi = _prepare(image, dpi)
    return _template(_run(pixels, options, False), source_ppi, position)


def extract_many(
    images: Iterable[ImageSource | FingerprintImage],
    *,
    dpi: float | None = None,
    options: ExtractOptions | None = None,
    threads: int | None = None,
) -> list[Template]:
    """Extract templates from many images on several threads.

    Parameters
    ----------
    images : iterable
        Images or sources accepted by :func:`extract`.
    dpi : float, optional
        Resolution applied to every source that does not carry its own.
    options : ExtractOptions, optional
        Shared by all images.
    threads : int, optional
        Worker threads, at least 1; defaults to the number of CPUs.

    Returns
    -------
    list of Template
        In the order of ``images``.

    Examples
    --------
    >>> import numpy as np
    >>> yy, xx = np.mgrid[0:120, 0:120]
    >>> ridges = (127 + 100 * np.sin(2 * np.pi * (xx + yy) / 12)).astype(np.uint8)
    >>> len(extract_many([ridges, ridges], threads=2))
    2
    """
    workers = resolve_threads(threads)
    items: Sequence[Any] = list(images)
    if workers == 1 or len(items) <= 1:
        return [extract(i, dpi=dpi, options=options) for i in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda i: extract(i, dpi=dpi, options=options), items))


def trace(
    image: ImageSource | FingerprintImage,
    *,
    dpi: float | None = None,
    options: ExtractOptions | None = None,
) -> ExtractionTrace:
    """Extract a template and keep every intermediate result.

    Same arguments as :func:`extract`. Costs a little more memory and time than
    :func:`extract`; the stages themselves are unaware of it (the native pipeline driver
    records their outputs).

    Examples
    --------
    >>> import numpy as np
    >>> yy, xx = np.mgrid[0:160, 0:160]
    >>> steps = trace((127 + 100 * np.sin(2 * np.pi * yy / 10)).astype(np.uint8))
    >>> steps.skeleton.shape
    (160, 160)
    """
    options = options or ExtractOptions()
    pixels, source_ppi = _prepare(image, dpi)
    result = _run(pixels, options, True)
    t = result["trace"]
    return ExtractionTrace(
        image=t["image"],
        mask=t["mask"].astype(bool),
        orientation=t["orientation"],
        coherence=t["coherence"],
        orientation_block=int(t["orientation_block"]),
        period=t["period"],
        period_strength=t["period_strength"],
        period_block=int(t["period_block"]),
        enhanced=t["enhanced"],
        binary=t["binary"].astype(bool),
        skeleton=t["skeleton"].astype(bool),
        raw_minutiae=dict(t["raw_minutiae"]),
        quality=dict(result["image_quality"]),
        template=_template(result, source_ppi, FingerPosition.UNKNOWN),
    )
