"""Two-stage identification (1:N): the candidate index shortlists, the matcher re-ranks.

The re-ranking itself is :class:`afis.match.Reranker`, the project's one re-ranking
component (also used by the enrolment layer's de-duplication job and ``afis bench
identify``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from afis.index import CandidateIndex, ShardedIndex
from afis.match import Gallery, Reranker, _log10_fmr, _threshold_table, threshold_for_fmr
from afis.template import Template

__all__ = ["Identification", "estimated_fmr", "identify"]


@dataclass(frozen=True)
class Identification:
    """Ranked candidates of one probe.

    Attributes
    ----------
    ids : numpy.ndarray
        ``int64`` candidate ids, best first (the matcher's order).
    scores : numpy.ndarray
        ``float32`` matcher scores (the scale of :func:`afis.compare`).
    fmr : numpy.ndarray
        ``float64`` estimated false match rate of each score: the calibrated FMR at which the
        score would be the threshold (:func:`estimated_fmr`). Bounded to the calibrated range.
    matches : numpy.ndarray
        ``bool``: score at or above ``threshold`` (candidates to adjudicate).
    threshold : float
        The decision threshold used (from :func:`afis.threshold_for_fmr`).
    shortlist : int
        How many candidates the index handed to the matcher.
    """

    ids: np.ndarray
    scores: np.ndarray
    fmr: np.ndarray
    matches: np.ndarray
    threshold: float
    shortlist: int

    def __len__(self) -> int:
        return len(self.ids)


def estimated_fmr(score: float) -> float:
    """The false match rate at which ``score`` is the calibrated threshold.

    The inverse of :func:`afis.threshold_for_fmr` (log-linear between calibrated points);
    scores outside the calibrated range are clamped to its ends (0.1 and 1e-4).

    Examples
    --------
    >>> from afis.match import threshold_for_fmr
    >>> round(estimated_fmr(threshold_for_fmr(1e-3)), 6)
    0.001
    >>> estimated_fmr(1.0)
    0.0001
    """
    if not math.isfinite(score):
        return _threshold_table()[0][0]
    return 10 ** _log10_fmr(score, extrapolate=False)


def identify(
    probe: Template,
    index: CandidateIndex | ShardedIndex,
    gallery: Mapping[int, Template] | Gallery | Reranker,
    *,
    gallery_ids: Sequence[int] | np.ndarray | None = None,
    k: int | None = None,
    penetration: float | None = None,
    fmr: float = 1e-4,
    threads: int | None = None,
) -> Identification:
    """Search a probe finger: shortlist with the index, re-rank with the matcher.

    Parameters
    ----------
    probe : Template
        The probe finger.
    index : CandidateIndex or ShardedIndex
        Index of the enrolled fingers.
    gallery : mapping, Gallery or Reranker
        The enrolled templates: a mapping id -> Template, a packed :class:`afis.Gallery`
        (much faster: cylinders are built once) with ``gallery_ids`` giving each entry's id,
        or a :class:`Reranker` over one (fastest for many searches: its id lookup is built
        once).
    k, penetration : optional
        Shortlist size, as in :meth:`CandidateIndex.search` (default ``penetration=0.01``).
    fmr : float
        False match rate that sets the decision threshold (:func:`afis.threshold_for_fmr`).
    threads : int, optional
        Matcher threads.

    Returns
    -------
    Identification
        The shortlist re-ranked by matcher score.

    Examples
    --------
    >>> import numpy as np
    >>> from afis.index import CandidateIndex
    >>> from afis.template import Template
    >>> def finger(seed):
    ...     r = np.random.default_rng(seed)
    ...     return Template(width=300, height=300, resolution=500, source_resolution=500,
    ...                     x=r.integers(20, 280, 40), y=r.integers(20, 280, 40),
    ...                     direction=r.uniform(0, 6.28, 40), type=np.ones(40),
    ...                     quality=np.full(40, 60), image_quality=60)
    >>> enrolled = {i: finger(i) for i in range(20)}
    >>> index = CandidateIndex()
    >>> index.add(list(enrolled.values()), ids=list(enrolled))
    >>> result = identify(finger(7), index, enrolled, k=5)
    >>> int(result.ids[0]), bool(result.matches[0])
    (7, True)
    """
    if not isinstance(probe, Template):
        raise TypeError(f"probe must be an afis.Template, got {type(probe).__name__}")
    if not isinstance(index, CandidateIndex | ShardedIndex):
        raise TypeError(
            f"index must be a CandidateIndex or ShardedIndex, got {type(index).__name__}"
        )
    threshold = threshold_for_fmr(fmr)
    if k is None and penetration is None:
        penetration = 0.01
    _, shortlist = index.search([probe], k=k, penetration=penetration)
    candidates = shortlist[0][shortlist[0] >= 0]
    if isinstance(gallery, Reranker):
        reranker = gallery
    elif isinstance(gallery, Gallery):
        if gallery_ids is None:
            raise ValueError("a packed Gallery needs gallery_ids (the id of each entry)")
        reranker = Reranker(gallery, gallery_ids)
    elif isinstance(gallery, Mapping):
        known = [int(c) for c in candidates if int(c) in gallery]
        packed = Gallery.from_templates([gallery[c] for c in known], threads=threads)
        reranker = Reranker(packed, np.asarray(known, dtype=np.int64))
    else:
        raise TypeError(
            "gallery must be a Mapping, an afis.Gallery or a Reranker, "
            f"got {type(gallery).__name__}"
        )
    ranked_ids, ranked_scores = reranker.rank(probe, candidates, threads=threads)
    return Identification(
        ids=ranked_ids,
        scores=ranked_scores,
        fmr=np.array([estimated_fmr(float(s)) for s in ranked_scores], dtype=np.float64),
        matches=ranked_scores >= threshold,
        threshold=threshold,
        shortlist=len(candidates),
    )
