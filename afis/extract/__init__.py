"""Minutiae extraction (C++ core with a thin Python face)."""

from afis.extract.extractor import ExtractionTrace, ExtractOptions, extract, extract_many, trace

__all__ = ["ExtractOptions", "ExtractionTrace", "extract", "extract_many", "trace"]
