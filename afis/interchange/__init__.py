"""Interchange formats: standard minutiae records, finger image records, transactions.

One codec module per standard and edition:

=====================  ==========================================================
module                 format
=====================  ==========================================================
``iso19794_2_2005``    ISO/IEC 19794-2:2005 finger minutiae record (read, write)
``iso19794_2_2011``    ISO/IEC 19794-2:2011 finger minutiae record (read)
``ansi378_2004``       ANSI INCITS 378-2004 finger minutiae format (read, write)
``ansi378_2009``       ANSI INCITS 378-2009 (read)
``iso19794_2_card``    ISO/IEC 19794-2 compact and normal card formats, with the
                       ISO/IEC 7816-11 biometric information template
``iso19794_4_2005``    ISO/IEC 19794-4:2005 finger image record (read)
``iso19794_4_2011``    ISO/IEC 19794-4:2011 finger image record (read)
``iso19794_4``         either edition by its version bytes; writing
``ansi_nist_itl``      ANSI/NIST-ITL 1-2011 transactions, traditional encoding
=====================  ==========================================================

:class:`afis.Template` knows only the engine's own format; these functions (from
:mod:`afis.interchange.convert`) convert templates to and from the standard ones:
:func:`to_iso` / :func:`from_iso`, :func:`to_ansi378` / :func:`from_ansi378`,
:func:`to_iso_card` / :func:`from_iso_card`, and :func:`read_record` reads every view of a
minutiae record of any supported format.

Every decoder takes ``bytes`` and raises :class:`afis.errors.FormatError` naming the
record, the field and what was expected when the input is not a valid record; no decoder
reads past its input or trusts a length field. The ``afis convert`` command converts files.

Examples
--------
>>> import afis
>>> from afis.interchange import detect_format, from_iso, read_record, to_iso
>>> t = afis.Template(width=300, height=400, resolution=500.0, source_resolution=500.0,
...                   x=[10, 120], y=[20, 230], direction=[0.0, 1.5], type=[1, 2],
...                   quality=[80, 60], image_quality=71)
>>> data = to_iso(t)
>>> detect_format(data)
'iso19794-2:2005'
>>> len(read_record(data).views[0].template)
2
>>> from_iso(data).resolution
500.0
"""

from __future__ import annotations

from afis.interchange import (
    ansi378_2004,
    ansi378_2009,
    ansi_nist_itl,
    iso19794_2_2005,
    iso19794_2_2011,
    iso19794_2_card,
    iso19794_4,
    iso19794_4_2005,
    iso19794_4_2011,
)
from afis.interchange.convert import (
    from_ansi378,
    from_iso,
    from_iso_card,
    read_record,
    to_ansi378,
    to_iso,
    to_iso_card,
)
from afis.interchange.minutiae import FingerView, MinutiaeRecord, detect_format

__all__ = [
    "FingerView",
    "MinutiaeRecord",
    "ansi378_2004",
    "ansi378_2009",
    "ansi_nist_itl",
    "detect_format",
    "from_ansi378",
    "from_iso",
    "from_iso_card",
    "iso19794_2_2005",
    "iso19794_2_2011",
    "iso19794_2_card",
    "iso19794_4",
    "iso19794_4_2005",
    "iso19794_4_2011",
    "read_record",
    "to_ansi378",
    "to_iso",
    "to_iso_card",
]
