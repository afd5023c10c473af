"""Benchmarks of the engine on datasets.

:mod:`afis.bench.metrics`: verification error rates (EER, FMR100, FMR1000, ZeroFMR, DET)
from score arrays. :mod:`afis.bench.verify`: the verification benchmark on FVC-style
folders (``afis bench verify`` on the command line).
"""

from afis.bench.metrics import DetCurve, ErrorRates, det_curve, error_rates
from afis.bench.verify import (
    PROTOCOLS,
    ScorerUnavailableError,
    VerifyReport,
    folder_dpi,
    manifest_entry,
    protocol_pairs,
    read_fvc_folder,
    verify,
)

__all__ = [
    "PROTOCOLS",
    "DetCurve",
    "ErrorRates",
    "ScorerUnavailableError",
    "VerifyReport",
    "det_curve",
    "error_rates",
    "folder_dpi",
    "manifest_entry",
    "protocol_pairs",
    "read_fvc_folder",
    "verify",
]
