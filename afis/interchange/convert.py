"""Reading and writing templates in the interchange formats: the public shortcuts.

:class:`afis.Template` knows only the engine's own format (:meth:`~afis.Template.to_bytes`,
:meth:`~afis.Template.from_bytes`); the standard formats are read and written here, by the
codec modules of :mod:`afis.interchange`:

==========================  ==============================  ==================================
function                    format                          codec
==========================  ==============================  ==================================
:func:`to_iso`              ISO/IEC 19794-2:2005            :mod:`~.iso19794_2_2005`
:func:`from_iso`            ISO/IEC 19794-2:2005 or :2011   :mod:`~.iso19794_2_2005`, ``_2011``
:func:`to_ansi378`          ANSI INCITS 378-2004            :mod:`~.ansi378_2004`
:func:`from_ansi378`        ANSI INCITS 378-2004 or -2009   :mod:`~.ansi378_2004`, ``_2009``
:func:`to_iso_card`         ISO/IEC 19794-2 card formats    :mod:`~.iso19794_2_card`
:func:`from_iso_card`       ISO/IEC 19794-2 card formats    :mod:`~.iso19794_2_card`
:func:`read_record`         any of the four record formats  detected by its header
==========================  ==============================  ==================================

Conventions and overrides (``resolution``, ``image_size``, ``strict``) are described in
:mod:`afis.interchange.minutiae`.
"""

from __future__ import annotations

from afis.errors import FormatError
from afis.interchange import (
    ansi378_2004,
    ansi378_2009,
    iso19794_2_2005,
    iso19794_2_2011,
    iso19794_2_card,
)
from afis.interchange._binary import as_buffer
from afis.interchange.minutiae import FORMATS, MinutiaeRecord, detect_format
from afis.template import Template

__all__ = [
    "from_ansi378",
    "from_iso",
    "from_iso_card",
    "read_record",
    "to_ansi378",
    "to_iso",
    "to_iso_card",
]

_CODECS = {
    iso19794_2_2005.FORMAT: iso19794_2_2005.decode,
    iso19794_2_2011.FORMAT: iso19794_2_2011.decode,
    ansi378_2004.FORMAT: ansi378_2004.decode,
    ansi378_2009.FORMAT: ansi378_2009.decode,
}


def read_record(
    data: bytes | bytearray | memoryview,
    *,
    format: str | None = None,
    resolution: float | None = None,
    image_size: tuple[int, int] | None = None,
    strict: bool = True,
) -> MinutiaeRecord:
    """Decode a finger minutiae record of any supported format.

    Parameters
    ----------
    data : bytes-like
    format : str, optional
        One of :data:`~afis.interchange.minutiae.FORMATS`; detected from the header by
        default (:func:`~afis.interchange.minutiae.detect_format`).
    resolution, image_size, strict
        Passed to the codec (see :mod:`afis.interchange.minutiae` and the codecs).

    Returns
    -------
    MinutiaeRecord
        Every finger view of the record.

    Raises
    ------
    FormatError
        If the data is no supported record or is malformed.

    Examples
    --------
    >>> t = Template.empty(300, 400)
    >>> record = read_record(to_ansi378(t))
    >>> record.format, [len(view.template) for view in record.views]
    ('ansi378:2004', [0])
    >>> read_record(b"NAFT" + bytes(40))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    afis.errors.FormatError: finger minutiae record: format identifier and version ...
    """
    if format is None:
        format = detect_format(data)
        if format is None:
            head = bytes(as_buffer(data, "finger minutiae record")[:8])
            raise FormatError(
                f"finger minutiae record: format identifier and version {head!r} (expected "
                "b'FMR\\x00 20\\x00' or b'FMR\\x00030\\x00')"
            )
    if format not in _CODECS:
        raise ValueError(f"unknown record format {format!r}; expected one of {', '.join(FORMATS)}")
    return _CODECS[format](data, resolution=resolution, image_size=image_size, strict=strict)


def _read_view(
    data: bytes | bytearray | memoryview,
    formats: tuple[str, ...],
    view: int,
    resolution: float | None,
    image_size: tuple[int, int] | None,
    strict: bool,
) -> Template:
    """One view of a minutiae record whose format must be one of ``formats``."""
    found = detect_format(data)
    if found not in formats:
        what = f"a {found} record" if found else "no finger minutiae record"
        raise FormatError(f"expected {' or '.join(formats)} data, got {what}")
    record = read_record(
        data, format=found, resolution=resolution, image_size=image_size, strict=strict
    )
    return record.template(view)


def to_iso(template: Template, *, impression_type: int = 0, capture_device_id: int = 0) -> bytes:
    """Write an ISO/IEC 19794-2:2005 finger minutiae record with one view, ``template``.

    Parameters
    ----------
    template : Template
    impression_type : int
        Impression type code of the view (0: live-scan plain).
    capture_device_id : int
        Capture device ID of the record header.

    Returns
    -------
    bytes

    See Also
    --------
    afis.interchange.iso19794_2_2005.encode : several views, details.

    Examples
    --------
    >>> t = Template(width=300, height=400, resolution=500.0, source_resolution=500.0,
    ...              x=[10, 20], y=[30, 40], direction=[1.0, 2.0], type=[1, 2],
    ...              quality=[90, 80], image_quality=75)
    >>> data = to_iso(t)
    >>> data[:8], len(data)
    (b'FMR\\x00 20\\x00', 42)
    >>> back = from_iso(data)
    >>> bool((back.x == t.x).all()), back.resolution
    (True, 500.0)
    """
    return iso19794_2_2005.encode(
        template, impression_type=impression_type, capture_device_id=capture_device_id
    )


def from_iso(
    data: bytes | bytearray | memoryview,
    *,
    view: int = 0,
    resolution: float | None = None,
    image_size: tuple[int, int] | None = None,
    strict: bool = True,
) -> Template:
    """Read one view of an ISO/IEC 19794-2 record (2005 or 2011 edition, detected).

    Parameters
    ----------
    data : bytes-like
    view : int
        Index of the finger view to return (all views: :func:`read_record`).
    resolution, image_size, strict
        Overrides for wrong headers and leniency; see :mod:`afis.interchange.minutiae`.

    Returns
    -------
    Template

    Raises
    ------
    FormatError
        If the data is no ISO/IEC 19794-2 record, is malformed, or lacks the view.

    Examples
    --------
    >>> t = Template.empty(300, 400)
    >>> from_iso(to_iso(t)) == t
    True
    >>> from_iso(to_ansi378(t))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    afis.errors.FormatError: expected iso19794-2:2005 or iso19794-2:2011 data, got a ansi378...
    """
    return _read_view(
        data, ("iso19794-2:2005", "iso19794-2:2011"), view, resolution, image_size, strict
    )


def to_ansi378(
    template: Template,
    *,
    impression_type: int = 0,
    product_owner: int = 0,
    product_type: int = 0,
    capture_equipment_id: int = 0,
) -> bytes:
    """Write an ANSI INCITS 378-2004 finger minutiae record with one view, ``template``.

    Parameters
    ----------
    template : Template
    impression_type : int
        Impression type code of the view (0: live-scan plain).
    product_owner, product_type : int
        CBEFF product identifier of the record header.
    capture_equipment_id : int
        Capture equipment ID of the record header.

    Returns
    -------
    bytes

    See Also
    --------
    afis.interchange.ansi378_2004.encode : several views, details.

    Examples
    --------
    >>> t = Template.empty(256, 360)
    >>> from_ansi378(to_ansi378(t)) == t
    True
    """
    return ansi378_2004.encode(
        template,
        impression_type=impression_type,
        product_owner=product_owner,
        product_type=product_type,
        capture_equipment_id=capture_equipment_id,
    )


def from_ansi378(
    data: bytes | bytearray | memoryview,
    *,
    view: int = 0,
    resolution: float | None = None,
    image_size: tuple[int, int] | None = None,
    strict: bool = True,
) -> Template:
    """Read one view of an ANSI INCITS 378 record (2004, or 2009 "030", detected).

    Parameters
    ----------
    data : bytes-like
    view : int
        Index of the finger view to return (all views: :func:`read_record`).
    resolution, image_size, strict
        Overrides for wrong headers and leniency; see :mod:`afis.interchange.minutiae`.

    Returns
    -------
    Template

    Raises
    ------
    FormatError
        If the data is no ANSI INCITS 378 record, is malformed, or lacks the view.

    Examples
    --------
    >>> t = Template.empty(256, 360)
    >>> from_ansi378(to_ansi378(t)).width
    256
    """
    return _read_view(data, ("ansi378:2004", "ansi378:2009"), view, resolution, image_size, strict)


def to_iso_card(
    template: Template,
    *,
    compact: bool = True,
    max_minutiae: int = 60,
    order: int = 0,
    wrap: bool = True,
) -> bytes:
    """Write the minutiae of ``template`` in an ISO/IEC 19794-2 card format (match-on-card).

    Parameters
    ----------
    template : Template
    compact : bool
        Compact size (3 bytes a minutia, 0.1 mm) if true, else normal size (5 bytes,
        0.01 mm).
    max_minutiae : int
        Most minutiae written (0..255); the best are kept by quality, as the standard
        prescribes.
    order : int
        A BIT order byte (:data:`afis.interchange.iso19794_2_card.ORDER_NONE`, ...).
    wrap : bool
        Give the ``7F2E`` biometric data template a VERIFY command carries; the bare
        minutiae if false.

    Returns
    -------
    bytes

    See Also
    --------
    afis.interchange.iso19794_2_card.encode : details.

    Examples
    --------
    >>> t = Template(width=300, height=400, resolution=500.0, source_resolution=500.0,
    ...              x=[100, 50], y=[200, 30], direction=[0.0, 1.0], type=[1, 2],
    ...              quality=[80, 90], image_quality=70)
    >>> to_iso_card(t, wrap=False).hex()
    '336660190faa'
    >>> back = from_iso_card(to_iso_card(t))
    >>> [int(v) for v in back.x]
    [100, 49]
    """
    return iso19794_2_card.encode(
        template, compact=compact, max_minutiae=max_minutiae, order=order, wrap=wrap
    )


def from_iso_card(
    data: bytes | bytearray | memoryview,
    *,
    compact: bool = True,
    resolution: float = 500.0,
    image_size: tuple[int, int] | None = None,
) -> Template:
    """Read card-format minutiae (bare or in a ``7F2E`` template) onto a pixel grid.

    Parameters
    ----------
    data : bytes-like
    compact : bool
        Compact size if true, else normal size (the data does not say which).
    resolution : float
        Resolution in ppi of the template's pixel grid.
    image_size : (int, int), optional
        Width and height of the grid; by default just large enough for the minutiae.

    Returns
    -------
    Template

    Raises
    ------
    FormatError
        If the data is no card-format minutiae of that size.

    See Also
    --------
    afis.interchange.iso19794_2_card.decode : details.

    Examples
    --------
    >>> t = Template(width=300, height=400, resolution=500.0, source_resolution=500.0,
    ...              x=[100], y=[200], direction=[0.0], type=[1], quality=[80],
    ...              image_quality=70)
    >>> back = from_iso_card(to_iso_card(t, compact=False), compact=False)
    >>> [int(v) for v in back.x], [int(v) for v in back.y], back.resolution
    ([100], [200], 500.0)
    """
    return iso19794_2_card.decode(
        data, compact=compact, resolution=resolution, image_size=image_size
    )
