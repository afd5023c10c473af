"""Verification error rates from genuine and impostor similarity scores.

Scores are similarities: the higher, the more alike. A comparison is accepted as a match
when its score reaches the threshold ``t``:

* ``FMR(t)``  = share of impostor scores ``>= t`` (false match rate);
* ``FNMR(t)`` = share of genuine scores ``< t`` (false non-match rate).

Both are step functions of ``t`` that change only at score values, so evaluating them at
every distinct score plus ``+inf`` (where nothing is accepted) covers every threshold. Every
comparison between rates is done on integer counts, so ties between scores, and between
rates such as 1/3 and 2/6, are exact.

The equal error rate follows the FVC convention (Maio et al., "FVC2000: Fingerprint
Verification Competition", IEEE PAMI 24(3), 2002, section 3): with

* ``t1`` = the largest threshold with ``FNMR(t1) <= FMR(t1)``,
* ``t2`` = the smallest threshold with ``FNMR(t2) >= FMR(t2)``,

``[EER_low, EER_high]`` is ``[FNMR(t1), FMR(t1)]`` if ``FNMR(t1) + FMR(t1) <=
FNMR(t2) + FMR(t2)``, else ``[FMR(t2), FNMR(t2)]``, and ``EER = (EER_low + EER_high) / 2``.
When the curves meet at a threshold the interval is a single point. No interpolation is done.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["DetCurve", "ErrorRates", "det_curve", "error_rates"]


@dataclass(frozen=True)
class ErrorRates:
    """Summary error rates of one verification experiment, in percent.

    Attributes
    ----------
    eer : float
        Equal error rate, ``(eer_low + eer_high) / 2`` (FVC convention, see the module).
    eer_low, eer_high : float
        The interval in which the FMR and FNMR curves cross.
    fmr100 : float
        Lowest FNMR reachable with FMR <= 1 %.
    fmr1000 : float
        Lowest FNMR reachable with FMR <= 0.1 %.
    zero_fmr : float
        Lowest FNMR reachable with FMR = 0.
    n_genuine, n_impostor : int
        Numbers of scores the rates come from. With fewer than 100 (1000) impostor
        scores FMR100 (FMR1000) equals ZeroFMR, since the only FMR <= 1 % (0.1 %) is 0.
    """

    eer: float
    eer_low: float
    eer_high: float
    fmr100: float
    fmr1000: float
    zero_fmr: float
    n_genuine: int
    n_impostor: int

    def to_dict(self) -> dict[str, Any]:
        """The rates as a plain dictionary (JSON-ready)."""
        return asdict(self)


@dataclass(frozen=True, eq=False)
class DetCurve:
    """FMR and FNMR, in percent, at every distinct score and at ``+inf``.

    ``thresholds`` rises; ``fmr`` falls from 100 to 0 along it and ``fnmr`` rises from 0
    to 100. Plot ``fmr`` against ``fnmr`` for a DET curve.
    """

    thresholds: np.ndarray
    fmr: np.ndarray
    fnmr: np.ndarray


def _sorted_scores(values: ArrayLike, what: str) -> np.ndarray:
    try:
        scores = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} scores must be numbers: {exc}") from None
    if scores.ndim != 1:
        raise ValueError(f"{what} scores must be a 1-D array, got shape {scores.shape}")
    if scores.size == 0:
        raise ValueError(f"no {what} scores: error rates need at least one {what} comparison")
    bad = ~np.isfinite(scores)
    if bad.any():
        raise ValueError(
            f"{what} scores must be finite: {int(np.isnan(scores).sum())} NaN and "
            f"{int(np.isinf(scores).sum())} infinite among {scores.size}"
        )
    return np.sort(scores)


def _counts(
    genuine: ArrayLike, impostor: ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Thresholds and, at each, the false non-match and false match counts."""
    g = _sorted_scores(genuine, "genuine")
    i = _sorted_scores(impostor, "impostor")
    thresholds = np.append(np.unique(np.concatenate([g, i])), np.inf)
    fnm = np.searchsorted(g, thresholds, side="left").astype(np.int64)  # genuine < t
    fm = i.size - np.searchsorted(i, thresholds, side="left").astype(np.int64)  # impostor >= t
    return thresholds, fnm, fm, g.size, i.size


def det_curve(genuine: ArrayLike, impostor: ArrayLike) -> DetCurve:
    """FMR and FNMR over all thresholds (a DET curve), in percent.

    Parameters
    ----------
    genuine, impostor : array_like
        1-D similarity scores of genuine (same finger) and impostor comparisons.

    Returns
    -------
    DetCurve
        ``thresholds`` (every distinct score, then ``inf``), ``fmr`` and ``fnmr``.

    Raises
    ------
    ValueError
        If either array is empty, not 1-D, or holds NaN or infinite values.

    Examples
    --------
    >>> curve = det_curve([0.8, 0.9], [0.1, 0.85])
    >>> curve.thresholds.tolist()
    [0.1, 0.8, 0.85, 0.9, inf]
    >>> curve.fmr.tolist(), curve.fnmr.tolist()
    ([100.0, 50.0, 50.0, 0.0, 0.0], [0.0, 0.0, 50.0, 50.0, 100.0])
    """
    thresholds, fnm, fm, n_g, n_i = _counts(genuine, impostor)
    return DetCurve(thresholds, 100.0 * fm / n_i, 100.0 * fnm / n_g)


def error_rates(genuine: ArrayLike, impostor: ArrayLike) -> ErrorRates:
    """EER, FMR100, FMR1000 and ZeroFMR of a set of scores, in percent.

    Parameters
    ----------
    genuine, impostor : array_like
        1-D similarity scores (higher = more alike) of genuine and impostor comparisons.

    Returns
    -------
    ErrorRates
        The EER follows the FVC convention: the midpoint of the interval
        ``[EER_low, EER_high]`` in which the FMR and FNMR curves cross, without
        interpolation (see :mod:`afis.bench.metrics`).

    Raises
    ------
    ValueError
        If either array is empty, not 1-D, or holds NaN or infinite values.

    Examples
    --------
    Perfect separation:

    >>> r = error_rates([0.8, 0.9], [0.1, 0.2])
    >>> r.eer, r.zero_fmr
    (0.0, 0.0)

    Curves crossing between thresholds: at t = 0.6 FNMR = 50 % < FMR = 66.7 %, at t = 0.7
    FNMR = 50 % > FMR = 33.3 %, so EER = (33.3 + 50) / 2:

    >>> r = error_rates([0.5, 0.9], [0.1, 0.6, 0.7])
    >>> round(r.eer_low, 2), r.eer_high, round(r.eer, 2), r.zero_fmr
    (33.33, 50.0, 41.67, 50.0)
    """
    _, fnm, fm, n_g, n_i = _counts(genuine, impostor)
    # rates compared exactly: FNMR <= FMR  <=>  fnm * n_i <= fm * n_g
    lhs, rhs = fnm * n_i, fm * n_g
    t1 = int(np.flatnonzero(lhs <= rhs)[-1])  # exists: at the lowest score FNMR = 0
    t2 = int(np.flatnonzero(lhs >= rhs)[0])  # exists: at +inf FMR = 0
    if lhs[t1] + rhs[t1] <= lhs[t2] + rhs[t2]:
        low, high = fnm[t1] / n_g, fm[t1] / n_i
    else:
        low, high = fm[t2] / n_i, fnm[t2] / n_g

    def lowest_fnmr(allowed: np.ndarray) -> float:
        # FNMR rises with the threshold, so the first allowed threshold is the best one;
        # one always exists since FMR(+inf) = 0.
        return 100.0 * float(fnm[np.flatnonzero(allowed)[0]]) / n_g

    return ErrorRates(
        eer=100.0 * float(low + high) / 2,
        eer_low=100.0 * float(low),
        eer_high=100.0 * float(high),
        fmr100=lowest_fnmr(fm * 100 <= n_i),
        fmr1000=lowest_fnmr(fm * 1000 <= n_i),
        zero_fmr=lowest_fnmr(fm == 0),
        n_genuine=int(n_g),
        n_impostor=int(n_i),
    )
