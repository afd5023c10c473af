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
from afis.image import FingerprintImage, load_image
from afis.match import (
    Explanation,
    Gallery,
    Matcher,
    Reranker,
    compare,
    explain,
    fmr_for_score,
    threshold_for_fmr,
)
from afis.template import FingerPosition, MinutiaType, SingularType, Template

__version__ = "0.1.0"

# One-to-many search needs faiss and numba (about a second to import): loaded on first use.
_LAZY = {
    "identify": ("afis.identification", "identify"),
    "Identification": ("afis.identification", "Identification"),
    "index": ("afis.index", None),
    "PeopleGallery": ("afis.people", "PeopleGallery"),
}


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module 'afis' has no attribute {name!r}")
    import importlib

    module_name, attr = _LAZY[name]
    module = importlib.import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value


__all__ = [
    "AfisError",
    "Explanation",
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
    "PeopleGallery",
    "Reranker",
    "SingularType",
    "Template",
    "TemplateError",
    "__version__",
    "compare",
    "explain",
    "extract",
    "extract_many",
    "fmr_for_score",
    "identify",
    "load_image",
    "threshold_for_fmr",
    "trace",
]
