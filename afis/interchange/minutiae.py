"""Finger minutiae records: the decoded form shared by every edition, and format detection.

The codecs (one module per standard and edition) all decode to a :class:`MinutiaeRecord`
holding one :class:`FingerView` per finger view (ISO calls them representations). Each view
carries the minutiae as an engine :class:`~afis.template.Template` plus what the record
says beyond it (ridge counts, core and delta angles, vendor blocks, raw header fields).

=========================  =========================================  ==========  =======
format name                standard                                   magic       codec
=========================  =========================================  ==========  =======
``iso19794-2:2005``        ISO/IEC 19794-2:2005 record format         FMR\\0 20\\0  read, write
``iso19794-2:2011``        ISO/IEC 19794-2:2011 record format         FMR\\0 030\\0 read
``ansi378:2004``           ANSI INCITS 378-2004                       FMR\\0 20\\0  read, write
``ansi378:2009``           ANSI INCITS 378-2009 (version "030")       FMR\\0 030\\0 read
=========================  =========================================  ==========  =======

The card formats of ISO/IEC 19794-2 (no header at all) live in
:mod:`afis.interchange.iso19794_2_card`. :mod:`afis.interchange.convert` reads any of these
(``read_record``) and converts templates to and from them (``to_iso``, ``from_iso``, ...).

Conventions (how record fields become template fields)
------------------------------------------------------
* Coordinates: record pixels, origin top left, y down, as in the template. The record's
  resolution in pixels per centimetre becomes the template resolution in whole ppi,
  ``round(px_cm * 2.54)`` (197 px/cm -> 500 ppi, 224 px/cm -> 569 ppi); writing uses
  ``round(ppi / 2.54)``. Unequal x and y resolutions are made square by rescaling y.
* Angles: the records count counter-clockwise from +x with y up, like the template, but a
  record's ridge ending points *into* its ridge and a bifurcation *into the valley between
  its branches* (the bisector of the smallest angle of the three rays, ISO/IEC 19794-2 and
  INCITS 378), while the engine points an ending out of its ridge and a bifurcation along
  its stem. The two differ by exactly 180 degrees for both types; every codec converts.
  Checked against another vendor's extractor on FVC2002 (``tests/test_interchange_minutiae``).
* Minutia types 0, 1, 2 are the template's ``MinutiaType`` codes; record qualities 0..100
  carry over; "not reported" (254) and "failed" (255) of the newer editions read as 0.
* Core and delta points become the template's singular points; their angles and the ridge
  counts stay in the :class:`FingerView`.

Overrides for records whose header is wrong
-------------------------------------------
``resolution`` (ppi) replaces the header's resolution. ``image_size`` (width, height) gives
the real size of the image the minutiae belong to: coordinates are scaled per axis from the
record's declared image size onto it, and directions follow the same (possibly anisotropic)
scaling. The SecuGen records of FVC2002 in the shared datasets need both: every header says
300 x 400 pixels at 197 px/cm, and the minutiae are those of the image stretched to 300 x 400;
``resolution=569, image_size=(296, 560)`` reads a DB2 record onto its real image.
"""

from __future__ import annotations

import math
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from afis.errors import FormatError
from afis.interchange._binary import as_buffer
from afis.template import MinutiaType, Template

__all__ = [
    "FORMATS",
    "CorePoint",
    "DeltaPoint",
    "ExtendedBlock",
    "FingerView",
    "MinutiaeRecord",
    "RidgeCount",
    "detect_format",
    "keep_best",
]

#: Names of the record formats :func:`afis.interchange.read_record` knows.
FORMATS: tuple[str, ...] = ("iso19794-2:2005", "iso19794-2:2011", "ansi378:2004", "ansi378:2009")

MAGIC = b"FMR\x00"
VERSION_20 = b" 20\x00"
VERSION_030 = b"030\x00"

#: Extended data block type codes shared by all editions.
EXT_RIDGE_COUNT = 0x0001
EXT_CORE_DELTA = 0x0002

#: Most minutiae one finger view can hold (an 8-bit count).
MAX_VIEW_MINUTIAE = 255
#: Most core (or delta) points one core/delta block can hold (a 6-bit count).
MAX_SINGULAR_POINTS = 63
#: Largest record coordinate (14 bits).
MAX_COORDINATE = 0x3FFF
#: Finger position codes the records define (0..10 single fingers, 11..14 plain multi-finger).
MAX_FINGER_POSITION = 14

TWO_PI = 2.0 * math.pi
CM_PER_INCH = 2.54


# ----------------------------------------------------------------------------- types


@dataclass(frozen=True)
class CorePoint:
    """A core as the record gives it: record pixels, angle in the record's units or None."""

    x: int
    y: int
    angle: int | None = None


@dataclass(frozen=True)
class DeltaPoint:
    """A delta as the record gives it: record pixels, three angles in record units or None."""

    x: int
    y: int
    angles: tuple[int, int, int] | None = None


@dataclass(frozen=True)
class RidgeCount:
    """Ridges crossed between two minutiae (indices as the record numbers them)."""

    index_a: int
    index_b: int
    count: int


@dataclass(frozen=True)
class ExtendedBlock:
    """An extended data block of a type this reader does not interpret (vendor data)."""

    type_id: int
    data: bytes


@dataclass(frozen=True, eq=False)
class FingerView:
    """One finger view of a minutiae record.

    Attributes
    ----------
    template : Template
        The minutiae, converted to the engine's conventions (see the module docstring).
    finger_position : int
        Finger position code as recorded (0..14; codes above 10 read as
        ``FingerPosition.UNKNOWN`` in the template).
    view_number : int
        View number of this finger (0 for the first impression of a finger).
    impression_type : int
        Impression type code (0 live-scan plain, 1 live-scan rolled, 2 non-live plain,
        3 non-live rolled, 8 swipe, ...).
    finger_quality : int
        Finger quality as recorded (0..100, or 254/255 in the newer editions).
    image_width, image_height : int
        Image size the record declares for this view (pixels).
    x_resolution, y_resolution : int
        Resolution the record declares, pixels per centimetre.
    ridge_count_method : int or None
        Extraction method of the ridge counts (0 unspecified, 1 four-neighbour, 2 eight-
        neighbour), None without a ridge count block.
    ridge_counts : tuple of RidgeCount
    cores, deltas : tuple of CorePoint, tuple of DeltaPoint
        In record pixels and record angle units (the template holds them converted).
    extended_blocks : tuple of ExtendedBlock
        Blocks of other (vendor-defined) types, kept as bytes; never written back.
    fields : Mapping[str, Any]
        Further raw header fields of this view (edition-specific, read only).
    warnings : tuple of str
        What a lenient read (``strict=False``) skipped or repaired in this view.
    """

    template: Template
    finger_position: int = 0
    view_number: int = 0
    impression_type: int = 0
    finger_quality: int = 0
    image_width: int = 0
    image_height: int = 0
    x_resolution: int = 0
    y_resolution: int = 0
    ridge_count_method: int | None = None
    ridge_counts: tuple[RidgeCount, ...] = ()
    cores: tuple[CorePoint, ...] = ()
    deltas: tuple[DeltaPoint, ...] = ()
    extended_blocks: tuple[ExtendedBlock, ...] = ()
    fields: Mapping[str, Any] = field(default_factory=lambda: types.MappingProxyType({}))
    warnings: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return (
            f"FingerView(position {self.finger_position}, view {self.view_number}, "
            f"{len(self.template)} minutiae)"
        )


@dataclass(frozen=True, eq=False)
class MinutiaeRecord:
    """A decoded finger minutiae record.

    Attributes
    ----------
    format : str
        One of :data:`FORMATS`.
    views : tuple of FingerView
        The finger views in record order.
    fields : Mapping[str, Any]
        Raw record header fields (capture equipment, CBEFF product id, ...), read only.
    warnings : tuple of str
        What a lenient read skipped at record level (each view has its own).
    """

    format: str
    views: tuple[FingerView, ...]
    fields: Mapping[str, Any] = field(default_factory=lambda: types.MappingProxyType({}))
    warnings: tuple[str, ...] = ()

    def template(self, view: int = 0) -> Template:
        """The template of one finger view (index into :attr:`views`).

        Raises
        ------
        FormatError
            If the record has no such view.
        """
        if isinstance(view, bool) or not isinstance(view, int | np.integer):
            raise TypeError(f"view must be an int, got {type(view).__name__}")
        if not 0 <= view < len(self.views):
            raise FormatError(
                f"{self.format} record: view {view} requested but the record holds "
                f"{len(self.views)} finger view(s)"
            )
        return self.views[view].template

    def __repr__(self) -> str:
        return f"MinutiaeRecord({self.format}, {len(self.views)} view(s))"


# ----------------------------------------------------------------------------- selection


def keep_best(template: Template, count: int) -> Template:
    """The ``count`` minutiae to keep when a format or card accepts no more.

    Follows ISO/IEC 19794-2:2011 clause 9.3.2: with minutia qualities, the lowest quality goes
    first and, among equal qualities, the minutia farthest from the centre of mass of all
    minutiae; then ridge endings before other types, then the larger angle. Without qualities
    (all zero) the farthest minutiae go first. The kept minutiae stay in their original order;
    singular points and the header are unchanged.

    Parameters
    ----------
    template : Template
    count : int
        Minutiae to keep, 0 or more.

    Returns
    -------
    Template
        ``template`` itself when it holds ``count`` minutiae or fewer.

    Examples
    --------
    >>> t = Template(width=100, height=100, resolution=500.0, source_resolution=500.0,
    ...              x=[10, 50, 52, 90], y=[10, 50, 48, 90], direction=[0, 0, 0, 0],
    ...              type=[1, 1, 2, 2], quality=[40, 40, 90, 40], image_quality=50)
    >>> kept = keep_best(t, 2)
    >>> [int(v) for v in kept.x]
    [50, 52]
    """
    if isinstance(count, bool) or not isinstance(count, int | np.integer) or count < 0:
        raise ValueError(f"count must be a non-negative int, got {count!r}")
    n = len(template)
    if n <= count:
        return template
    x = template.x.astype(np.float64)
    y = template.y.astype(np.float64)
    distance = np.hypot(x - x.mean(), y - y.mean())
    angle = np.mod(template.direction.astype(np.float64) + math.pi, TWO_PI)  # record angle
    ending = (template.type == MinutiaType.ENDING).astype(np.int64)
    # np.lexsort sorts by the last key first; ascending order = order of keeping.
    order = np.lexsort((angle, ending, distance, -template.quality.astype(np.int64)))
    keep = np.sort(order[:count])
    return Template(
        width=template.width,
        height=template.height,
        resolution=template.resolution,
        source_resolution=template.source_resolution,
        x=template.x[keep],
        y=template.y[keep],
        direction=template.direction[keep],
        type=template.type[keep],
        quality=template.quality[keep],
        image_quality=template.image_quality,
        finger_position=template.finger_position,
        singular_x=template.singular_x,
        singular_y=template.singular_y,
        singular_type=template.singular_type,
    )


# ----------------------------------------------------------------------------- detection


def detect_format(data: bytes | bytearray | memoryview) -> str | None:
    """Which record format ``data`` holds, from its header; None if it is no minutiae record.

    ``FMR\\0`` + ``" 20\\0"`` is ISO/IEC 19794-2:2005 or ANSI INCITS 378-2004, told apart by
    the record length field (4 bytes in ISO, 2 or 2+4 in ANSI) against the data length;
    ``FMR\\0`` + ``"030\\0"`` is ISO/IEC 19794-2:2011 when its representation lengths add up
    to the record length, ANSI INCITS 378-2009 otherwise.

    Examples
    --------
    >>> detect_format(b"FMR\\x00 20\\x00" + (26).to_bytes(2, "big") + bytes(16))
    'ansi378:2004'
    >>> detect_format(b"NAFT") is None
    True
    """
    buf = as_buffer(data, "finger minutiae record")
    if len(buf) < 12 or bytes(buf[:4]) != MAGIC:
        return None
    version = bytes(buf[4:8])
    size = len(buf)
    if version == VERSION_20:
        short = int.from_bytes(buf[8:10], "big")
        iso_length = int.from_bytes(buf[8:12], "big")
        if short == size and short >= 26:
            return "ansi378:2004"
        if iso_length == size:
            return "iso19794-2:2005"
        if short == 0 and size >= 14 and int.from_bytes(buf[10:14], "big") == size:
            return "ansi378:2004"
        # Padded buffers: the heuristic of the lengths alone (fits both real-world cases).
        if short >= 26:
            return "ansi378:2004"
        if short > 0 or int.from_bytes(buf[10:12], "big") >= 24:
            return "iso19794-2:2005"
        return "ansi378:2004"
    if version == VERSION_030:
        return "iso19794-2:2011" if _looks_like_iso2011(buf) else "ansi378:2009"
    return None


def _looks_like_iso2011(buf: memoryview) -> bool:
    if len(buf) < 15:
        return False
    total = int.from_bytes(buf[8:12], "big")
    count = int.from_bytes(buf[12:14], "big")
    if total > len(buf) or count == 0:
        return False
    pos = 15
    for _ in range(count):
        if pos + 4 > total:
            return False
        length = int.from_bytes(buf[pos : pos + 4], "big")
        if length < 4:
            return False
        pos += length
    return pos == total
