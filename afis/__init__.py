"""nusafis: an automated fingerprint identification engine.

The public surface is small::

    import afis
    image = afis.load_image("101_1.tif", dpi=500)
    template = afis.extract(image)
    data = template.to_bytes()
    assert afis.Template.from_bytes(data) == template

Intermediate results of extraction: ``afis.trace(image)``.
"""

from afis.errors import AfisError, FormatError, ImageError, TemplateError

# ``afis.extract`` is both a subpackage and the main function; the function wins the
# attribute (``from afis.extract import ...`` still reaches the subpackage).
from afis.extract import (
    ExtractionTrace,
    ExtractOptions,
    extract,
    extract_many,
    trace,
)
from afis.identification import Identification, identify
from afis.image import FingerprintImage, load_image
from afis.match import Gallery, Matcher, compare, threshold_for_fmr
from afis.template import FingerPosition, MinutiaType, SingularType, Template

__version__ = "0.1.0"

__all__ = [
    "AfisError",
    "ExtractOptions",
    "ExtractionTrace",
    "FingerPosition",
    "FingerprintImage",
    "FormatError",
    "Gallery",
    "Identification",
    "ImageError",
    "Matcher",
    "MinutiaType",
    "SingularType",
    "Template",
    "TemplateError",
    "__version__",
    "compare",
    "extract",
    "extract_many",
    "identify",
    "load_image",
    "threshold_for_fmr",
    "trace",
]
