"""The engine's constants that Python code needs, in one place.

Limits that the native core defines are read from it (``afis._native._core``), never
restated; the tuned constants of the extraction stages and the matcher live in the core's
headers (``afis/_native/include/afis/``). Index settings come as named presets
(:data:`INDEX_PRESETS`) used by :meth:`afis.index.IndexOptions.preset`, the enrolment
layer's de-duplication job and ``afis bench identify`` alike. How the values were chosen is
recorded in ``benchmarks/*.md``.

Examples
--------
>>> PROCESSING_PPI
500.0
>>> MAX_MATCH_MINUTIAE <= MAX_MINUTIAE
True
>>> sorted(INDEX_PRESETS)
['national', 'small']
"""

from __future__ import annotations

from types import MappingProxyType

from afis._native import _core

__all__ = [
    "DEFAULT_MAX_MINUTIAE",
    "DEFAULT_PPI",
    "INDEX_PRESETS",
    "MAX_FILE_PPI",
    "MAX_IMAGE_SIDE",
    "MAX_MATCH_MINUTIAE",
    "MAX_MINUTIAE",
    "MAX_PPI",
    "MAX_SIDE",
    "MIN_FILE_PPI",
    "MIN_IMAGE_SIDE",
    "MIN_PPI",
    "MIN_SIDE",
    "PEOPLE_INDEX",
    "PROCESSING_PPI",
    "RERANK_CACHE_BYTES",
]

#: Resolution every image is resampled to before extraction, and the grid the matcher and
#: the index scale every template to (pixels per inch).
PROCESSING_PPI: float = float(_core.PROCESSING_PPI)
#: Resolution assumed when neither the caller nor the file gives a plausible one: the
#: live-scan standard.
DEFAULT_PPI: float = 500.0
#: Range accepted for a resolution given explicitly (``dpi`` argument, FingerprintImage.ppi).
MIN_PPI: float = 50.0
MAX_PPI: float = 5000.0
#: Range within which a resolution read from a file's header is believed. Outside it the
#: header is ignored and DEFAULT_PPI used (FVC TIFFs claim 1 dpi, many PNG/BMP writers 72 or
#: 96 dpi).
MIN_FILE_PPI: float = 250.0
MAX_FILE_PPI: float = 2000.0
#: Smallest and largest accepted image width and height as loaded, in pixels.
MIN_SIDE: int = 16
MAX_SIDE: int = 16384
#: Accepted image side, in pixels of the processing grid.
MIN_IMAGE_SIDE: int = int(_core.MIN_IMAGE_SIDE)
MAX_IMAGE_SIDE: int = int(_core.MAX_IMAGE_SIDE)
#: Most minutiae a template may hand the native core (and the upper bound of
#: ``ExtractOptions.max_minutiae``).
MAX_MINUTIAE: int = int(_core.MAX_MINUTIAE)
#: Most minutiae of a template the matcher and the index use (those of highest quality):
#: cylinder building is quadratic in the count, so the cap keeps a hostile or degenerate
#: template from stalling a comparison. Real fingers have 20-100.
MAX_MATCH_MINUTIAE: int = int(_core.MAX_MATCH_MINUTIAE)
#: Default cap on minutiae per extracted template (the best by quality are kept).
DEFAULT_MAX_MINUTIAE: int = 150

#: Named settings of the candidate index (:class:`afis.index.IndexOptions` fields):
#:
#: ``small``
#:     One list searched exhaustively: galleries up to about 10^4 fingers, where an IVF
#:     partition saves nothing worth its misses.
#: ``national``
#:     An IVF partition of at most ``nlist`` lists, fewer for a small gallery (each list
#:     keeps at least 8 fingers), ``nprobe`` visited per probe code: the data centre's
#:     de-duplication shards.
#:
#: Both retrieve 2,000 neighbours per probe code (the index's vote counting makes depth
#: cheap; see ``benchmarks/INDEX.md``, eighth round, and the enrolment layer's demo at
#: 50,000 people).
INDEX_PRESETS = MappingProxyType(
    {
        "small": MappingProxyType({"nlist": 1, "nprobe": 1, "neighbours": 2000}),
        "national": MappingProxyType({"nlist": 256, "nprobe": 16, "neighbours": 2000}),
    }
)

#: How a people gallery's candidate index is partitioned for its size
#: (:func:`afis.people.people_index_options`): about one coarse list per ``people_per_list``
#: people of a shard (a power of two, at most ``max_nlist``), one list in
#: ``lists_per_visit`` visited per probe code (within ``min_nprobe .. max_nprobe``), one code
#: retrieved per probe code for every ``people_per_neighbour`` people of a shard (within
#: ``min_neighbours .. max_neighbours``), k-means on ``train_per_list`` codes a list, at most
#: ``max_codes`` codes a finger. Ten fingers are indexed: their summed evidence lets each
#: finger's search be shallow (4 lists of 512 and 520 neighbours at 5x10^4 people, where four
#: fingers needed 16 and 1,562) and its codes few (24, not 48: 2.4 kB of index a person).
#: Measured in ``benchmarks/DEDUP.md``, seventh round.
PEOPLE_INDEX = MappingProxyType(
    {
        "people_per_list": 64,
        "max_nlist": 4096,
        "lists_per_visit": 128,
        "min_nprobe": 4,
        "max_nprobe": 32,
        "people_per_neighbour": 96,
        "min_neighbours": 512,
        "max_neighbours": 4096,
        "train_per_list": 64,
        "max_codes": 24,
    }
)

#: Bytes of prepared stored templates a people gallery opened for a batch searched against
#: itself keeps between searches (``PeopleGallery.open(rerank_cache=...)``; the data
#: centre's job gives it to its batch gallery): about 20 kB a template, so 2 GiB holds about
#: 100,000 of the 500,000 fingers of a 5x10^4-person batch.
RERANK_CACHE_BYTES: int = 2 << 30
