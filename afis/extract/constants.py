"""Constants of the extraction subsystem that the Python layer needs.

The tuned constants of the stages themselves live in ``afis/_native/include/afis/params.hpp``.
"""

from __future__ import annotations

from afis._native import _core

#: Resolution every image is resampled to before extraction (pixels per inch).
PROCESSING_PPI: float = float(_core.PROCESSING_PPI)
#: Accepted image side, in pixels of the processing grid.
MIN_IMAGE_SIDE: int = int(_core.MIN_IMAGE_SIDE)
MAX_IMAGE_SIDE: int = int(_core.MAX_IMAGE_SIDE)
#: Default cap on minutiae per template (the best by quality are kept).
DEFAULT_MAX_MINUTIAE: int = 150
#: Upper bound of ``ExtractOptions.max_minutiae`` (the template format counts in uint16).
MAX_MINUTIAE_LIMIT: int = 1000
