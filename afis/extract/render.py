"""Pictures of what the extractor did, one PNG per stage, for people to inspect.

Drawing goes through Pillow. Colours: ridge endings red, bifurcations blue, each with a tail
along its direction; cores green circles, deltas orange triangles.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from afis.extract.extractor import ExtractionTrace
from afis.template import MinutiaType, SingularType, Template

__all__ = ["draw_minutiae", "render_stages", "save_stages"]

_ENDING = (220, 30, 30)
_BIFURCATION = (30, 60, 220)
_CORE = (0, 170, 0)
_DELTA = (255, 140, 0)
_TAIL = 10  # pixels


def _rgb(grey: np.ndarray) -> Image.Image:
    return Image.fromarray(np.ascontiguousarray(grey, dtype=np.uint8)).convert("RGB")


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
    picture = _rgb(pixels)
    pen = ImageDraw.Draw(picture)
    for x, y, angle, kind in zip(
        template.x, template.y, template.direction, template.type, strict=True
    ):
        colour = _BIFURCATION if kind == MinutiaType.BIFURCATION else _ENDING
        x, y = int(x), int(y)
        pen.rectangle([x - 3, y - 3, x + 3, y + 3], outline=colour)
        pen.line(
            [x, y, x + _TAIL * math.cos(angle), y - _TAIL * math.sin(angle)], fill=colour, width=1
        )
    for x, y, kind in zip(
        template.singular_x, template.singular_y, template.singular_type, strict=True
    ):
        x, y = int(x), int(y)
        if kind == SingularType.CORE:
            pen.ellipse([x - 7, y - 7, x + 7, y + 7], outline=_CORE, width=2)
        else:
            pen.polygon([(x, y - 8), (x - 7, y + 6), (x + 7, y + 6)], outline=_DELTA, width=2)
    return picture


def _orientation_picture(steps: ExtractionTrace) -> Image.Image:
    picture = _rgb(steps.image // 2 + 64)
    pen = ImageDraw.Draw(picture)
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
        pen.line([cx - dx, cy - dy, cx + dx, cy + dy], fill=(255, 0, 0))
    return picture


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
    masked = np.where(steps.mask, steps.image, steps.image // 3)
    enhanced = np.clip(128 + 400 * steps.enhanced, 0, 255)
    skeleton = np.where(steps.skeleton, 0, np.where(steps.binary, 200, 255))
    return {
        "01-image": _rgb(steps.image),
        "02-mask": _rgb(masked),
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
