"""Pictures of what the extractor did, one PNG per stage, for people to inspect.

Marks are drawn with scikit-image's anti-aliased rasterisers (``skimage.draw.line_aa``,
``circle_perimeter_aa``: Wu's lines and circles, whose coverage blends each mark into the
picture) rather than Pillow's one-pixel aliased pen, whose thin slanted strokes break into
stairs at this scale; the segmentation outline comes from ``skimage.segmentation``. Pillow
only wraps the finished array. Colours: ridge endings red, bifurcations blue, each a ring
with a tail along its direction; cores green rings, deltas orange triangles; the mask's
boundary yellow.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image
from skimage.draw import circle_perimeter_aa, line_aa

from afis.extract.extractor import ExtractionTrace
from afis.template import MinutiaType, SingularType, Template

__all__ = ["draw_minutiae", "render_stages", "save_stages"]

_ENDING = (220, 30, 30)
_BIFURCATION = (30, 60, 220)
_CORE = (0, 170, 0)
_DELTA = (255, 140, 0)
_BOUNDARY = (255, 190, 0)
_ORIENTATION = (220, 0, 0)
_RING = 3  # radius of a minutia's ring, pixels
_TAIL = 10  # pixels from the minutia to the end of its tail


def _rgb(grey: np.ndarray) -> Image.Image:
    return Image.fromarray(np.ascontiguousarray(grey, dtype=np.uint8)).convert("RGB")


class _Canvas:
    """An RGB float picture and, per colour, a coverage layer that anti-aliased marks add to
    (by maximum, so crossings do not darken); :meth:`image` blends the layers in order."""

    def __init__(self, grey: np.ndarray) -> None:
        self.rgb = np.repeat(np.asarray(grey, dtype=np.float32)[..., None], 3, axis=2)
        self.layers: dict[tuple[int, int, int], np.ndarray] = {}

    def _add(self, colour: tuple[int, int, int], rr, cc, val) -> None:
        h, w = self.rgb.shape[:2]
        inside = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
        layer = self.layers.setdefault(colour, np.zeros((h, w), np.float32))
        np.maximum.at(layer, (rr[inside], cc[inside]), val[inside])

    def line(self, colour, x0: float, y0: float, x1: float, y1: float) -> None:
        rr, cc, val = line_aa(round(y0), round(x0), round(y1), round(x1))
        self._add(colour, rr, cc, val)

    def ring(self, colour, x: float, y: float, radius: int, width: int = 1) -> None:
        for r in range(radius - width + 1, radius + 1):
            self._add(colour, *circle_perimeter_aa(round(y), round(x), r))

    def polygon(self, colour, points: list[tuple[float, float]]) -> None:
        for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1], strict=True):
            self.line(colour, x0, y0, x1, y1)

    def image(self) -> Image.Image:
        out = self.rgb
        for colour, alpha in self.layers.items():
            a = alpha[..., None]
            out = out * (1 - a) + a * np.asarray(colour, np.float32)
        return Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8), "RGB")


def draw_minutiae(pixels: np.ndarray, template: Template) -> Image.Image:
    """Draw a template's minutiae and singular points over a greyscale image.

    Parameters
    ----------
    pixels : numpy.ndarray
        2-D ``uint8`` image on the template's coordinate grid.
    template : Template
        What to draw.

    Returns
    -------
    PIL.Image.Image
        An RGB picture.

    Examples
    --------
    >>> import numpy as np
    >>> from afis.template import Template
    >>> picture = draw_minutiae(np.zeros((50, 60), np.uint8), Template.empty(60, 50))
    >>> picture.size
    (60, 50)
    """
    canvas = _Canvas(np.asarray(pixels, np.float32) * 0.7 + 76)  # lighter ridges, marks read
    for x, y, angle, kind in zip(
        template.x, template.y, template.direction, template.type, strict=True
    ):
        colour = _BIFURCATION if kind == MinutiaType.BIFURCATION else _ENDING
        x, y, c, s = float(x), float(y), math.cos(angle), -math.sin(angle)  # y grows down
        canvas.ring(colour, x, y, _RING)
        canvas.line(colour, x + _RING * c, y + _RING * s, x + _TAIL * c, y + _TAIL * s)
    for x, y, kind in zip(
        template.singular_x, template.singular_y, template.singular_type, strict=True
    ):
        x, y = float(x), float(y)
        if kind == SingularType.CORE:
            canvas.ring(_CORE, x, y, 7, width=2)
        else:
            for k in (1.0, 0.85):  # two strokes: a triangle two pixels wide
                canvas.polygon(
                    _DELTA, [(x, y - 8 * k), (x - 7 * k, y + 6 * k), (x + 7 * k, y + 6 * k)]
                )
    return canvas.image()


def _mask_picture(steps: ExtractionTrace) -> Image.Image:
    """Background dimmed to a third, the foreground's boundary outlined."""
    from skimage.segmentation import find_boundaries  # pulls in scipy.ndimage: only here

    canvas = _Canvas(np.where(steps.mask, steps.image, steps.image // 3))
    canvas.layers[_BOUNDARY] = find_boundaries(steps.mask, mode="thick").astype(np.float32)
    return canvas.image()


def _orientation_picture(steps: ExtractionTrace) -> Image.Image:
    canvas = _Canvas(steps.image * 0.4 + 140)  # faint ridges under the field
    block = steps.orientation_block
    for by, bx in zip(*np.nonzero(steps.coherence >= 0), strict=True):
        cx, cy = (bx + 0.5) * block, (by + 0.5) * block
        if not steps.mask[
            min(int(cy), steps.mask.shape[0] - 1), min(int(cx), steps.mask.shape[1] - 1)
        ]:
            continue
        a = float(steps.orientation[by, bx])
        half = 0.5 * block * (0.3 + 0.7 * float(steps.coherence[by, bx]))
        dx, dy = half * math.cos(a), half * math.sin(a)
        canvas.line(_ORIENTATION, cx - dx, cy - dy, cx + dx, cy + dy)
    return canvas.image()


def _field_picture(
    field: np.ndarray, block: int, shape: tuple[int, int], lo: float, hi: float
) -> Image.Image:
    scaled = np.clip((field - lo) / (hi - lo), 0, 1) * 255
    grey = np.kron(scaled, np.ones((block, block)))[: shape[0], : shape[1]]
    return _rgb(grey)


def render_stages(steps: ExtractionTrace) -> dict[str, Image.Image]:
    """One picture per pipeline stage, keyed by a stable, ordered name.

    Examples
    --------
    >>> import numpy as np
    >>> from afis.extract import trace
    >>> yy, xx = np.mgrid[0:96, 0:96]
    >>> pictures = render_stages(trace((127 + 100 * np.sin(xx / 1.5)).astype(np.uint8)))
    >>> list(pictures)[:3]
    ['01-image', '02-mask', '03-orientation']
    """
    shape = steps.image.shape
    template = steps.template if steps.template is not None else Template.empty(shape[1], shape[0])
    enhanced = np.clip(128 + 400 * steps.enhanced, 0, 255)
    skeleton = np.where(steps.skeleton, 0, np.where(steps.binary, 200, 255))
    return {
        "01-image": _rgb(steps.image),
        "02-mask": _mask_picture(steps),
        "03-orientation": _orientation_picture(steps),
        "04-frequency": _field_picture(steps.period, steps.period_block, shape, 5.0, 15.0),
        "05-enhanced": _rgb(enhanced),
        "06-binary": _rgb(np.where(steps.binary, 0, 255)),
        "07-skeleton": _rgb(skeleton),
        "08-minutiae": draw_minutiae(steps.image, template),
    }


def save_stages(steps: ExtractionTrace, directory: str | Path, stem: str) -> list[Path]:
    """Write :func:`render_stages` as ``<directory>/<stem>.<NN-stage>.png``; returns the paths."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, picture in render_stages(steps).items():
        path = out / f"{stem}.{name}.png"
        picture.save(path)
        written.append(path)
    return written
