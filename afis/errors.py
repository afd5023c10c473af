"""Exceptions raised by the engine.

Every error a caller can provoke with bad input is an :class:`AfisError`, and also a
:class:`ValueError` (or :class:`TypeError`) so generic handlers keep working.
"""

from __future__ import annotations

__all__ = ["AfisError", "FormatError", "ImageError", "IndexFileError", "TemplateError"]


class AfisError(Exception):
    """Base class of the engine's own errors."""


class ImageError(AfisError, ValueError):
    """An image could not be read or is unusable (corrupt, empty, wrong shape or dtype)."""


class TemplateError(AfisError, ValueError):
    """A template buffer is corrupt, truncated, foreign or of an unsupported version."""


class FormatError(AfisError, ValueError):
    """An interchange record (ISO/IEC 19794, ANSI INCITS 378, ANSI/NIST-ITL) is malformed.

    The message names the record, the field and what was expected.
    """


class IndexFileError(AfisError, ValueError):
    """A saved candidate index (:mod:`afis.index`) is missing, truncated, altered, foreign or of
    an unsupported version, or an index is used in a way its state does not allow (adding to a
    read-only memory-mapped index)."""
