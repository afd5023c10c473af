"""Interchange formats: standard minutiae records, finger image records, transactions.

One codec module per standard and edition. Every decoder takes ``bytes`` and raises
:class:`afis.errors.FormatError` naming the record, the field and what was expected when the
input is not a valid record; no decoder reads past its input or trusts a length field.
"""

from __future__ import annotations

__all__: list[str] = []
