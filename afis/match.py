"""Pairwise matching: how alike are two templates?

The scorer is Minutia Cylinder-Code (Cappelli, Ferrara & Maltoni, IEEE TPAMI 2010) in its
bit form with LSS-R consolidation, fused with a global pairing of the minutiae under the
alignments of the two pairs LSS-R trusts most, in C++ (``afis/_native/src/match/``:
``cylinders.cpp``, ``local_similarity.cpp``, ``consolidation.cpp``, ``global_pairing.cpp``).
Scores lie in [0, 1], are symmetric and comparable across pairs. Minutiae are paired only
when their directions differ by at most 90 degrees, so the rotation between two captures
must stay below that (true of upright live-scan and card captures).
"""

from __future__ import annotations

import bisect
import functools
import itertools
import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from afis._native import _core
from afis._threads import resolve_threads
from afis.constants import MAX_MATCH_MINUTIAE, PROCESSING_PPI
from afis.errors import TemplateError
from afis.template import _DIRECTION_TABLE, Template, _minutia_words

__all__ = [
    "Explanation",
    "Gallery",
    "Matcher",
    "Reranker",
    "compare",
    "explain",
    "fmr_for_score",
    "threshold_for_fmr",
]

#: Format version of a saved gallery folder.
GALLERY_FORMAT_VERSION = 1
_GALLERY_ARRAYS = ("offsets", "minutiae", "bits", "valid", "usable")
_GALLERY_MAGIC = "nusafis-gallery"


def _check_template(value: object, what: str) -> Template:
    if not isinstance(value, Template):
        raise TypeError(f"{what} must be an afis.Template, got {type(value).__name__}")
    return value


def _kept(template: Template) -> np.ndarray | slice:
    """The minutiae the matcher uses: all, or the :data:`~afis.constants.MAX_MATCH_MINUTIAE`
    of highest quality (in template order)."""
    if len(template) > MAX_MATCH_MINUTIAE:
        return np.sort(
            np.argsort(-template.quality.astype(np.int32), kind="stable")[:MAX_MATCH_MINUTIAE]
        )
    return slice(None)


def _cylinders(template: Template) -> _core.Cylinders:
    """The template's minutiae scaled to the processing grid, as cylinders (at most
    :data:`~afis.constants.MAX_MATCH_MINUTIAE`, those of highest quality)."""
    scale = PROCESSING_PPI / template.resolution
    keep = _kept(template)
    return _core.Cylinders(
        template.x[keep].astype(np.float32) * np.float32(scale),
        template.y[keep].astype(np.float32) * np.float32(scale),
        template.direction[keep],
    )


def _matcher_parts(template: Template) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The x, y and direction :func:`_cylinders` keeps of a template (unscaled)."""
    if len(template) <= MAX_MATCH_MINUTIAE:
        return template.x, template.y, template.direction
    keep = _kept(template)
    return template.x[keep], template.y[keep], template.direction[keep]


def _packed_minutiae(
    parts: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], scales: Sequence[np.float32]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Templates' (x, y, direction) concatenated as the matcher takes them: coordinates as
    ``float32`` times each template's scale to the processing grid, and each one's count."""
    counts = np.fromiter((len(p[0]) for p in parts), np.int64, len(parts))
    if not parts:
        empty = np.empty(0, np.float32)
        return empty, empty, empty, counts
    scale = np.repeat(np.array(scales, np.float32), counts)
    x = np.concatenate([p[0] for p in parts]).astype(np.float32) * scale
    y = np.concatenate([p[1] for p in parts]).astype(np.float32) * scale
    direction = np.concatenate([p[2] for p in parts]).astype(np.float32, copy=False)
    return x, y, direction, counts


def _matcher_minutiae(
    templates: Sequence[Template],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """What :func:`_cylinders` hands the matcher for each template, for many templates at once:
    x, y and direction concatenated (``float32``, the same values bit for bit) and the count of
    each template's minutiae (``int64``)."""
    return _packed_minutiae(
        [_matcher_parts(t) for t in templates],
        [np.float32(PROCESSING_PPI / t.resolution) for t in templates],
    )


def compare(a: Template, b: Template) -> float:
    """Similarity of two templates.

    Parameters
    ----------
    a, b : Template
        Templates from :func:`afis.extract` (or any source at any resolution).

    Returns
    -------
    float
        In [0, 1]; ``compare(a, b) == compare(b, a)``. Empty templates score 0.

    Examples
    --------
    >>> import numpy as np
    >>> from afis.template import Template
    >>> empty = Template.empty(100, 100)
    >>> compare(empty, empty)
    0.0
    """
    a = _check_template(a, "a")
    b = _check_template(b, "b")
    return float(_core.compare(_cylinders(a), _cylinders(b)))


def _frozen(values: np.ndarray) -> np.ndarray:
    values.flags.writeable = False
    return values


@dataclass(frozen=True, eq=False)
class Explanation:
    """What :func:`compare` counted for one pair of templates (made by :func:`explain`).

    The score fuses two stages (``afis/_native/src/match/``): LSS-R consolidation of the
    cylinders' local similarities (``consolidation.cpp``) and a global pairing of all the
    minutiae under the alignments of the two pairs LSS-R trusts most
    (``global_pairing.cpp``). Both pair minutiae; both are exposed. Minutia indices are
    into ``a.x``/``b.x`` etc., the templates' own order (the matcher's cap of
    :data:`~afis.constants.MAX_MATCH_MINUTIAE` minutiae by quality is undone), column 0
    for ``a`` and column 1 for ``b`` whichever order the matcher used internally.

    Attributes
    ----------
    score : float
        ``compare(a, b)``, bit for bit.
    pairs : numpy.ndarray
        ``int64`` (k, 2): the global pairing's one-to-one minutia pairs under its best
        alignment (the pairs behind ``parts["pairing"]``), closest pairs first. Empty when
        the pairing did not run (LSS-R scored 0) or found nothing.
    pair_scores : numpy.ndarray
        ``float32`` (k,): each pair's contribution to ``parts["mates"]``:
        ``1 - PAIRING_DISTANCE_DISCOUNT * distance / tolerance``, in (0.5, 1].
    local_pairs : numpy.ndarray
        ``int64`` (n, 2): the n_P pairs LSS-R kept (highest efficiency after relaxation
        first), whose weights make ``parts["lssr"]``.
    local_pair_scores : numpy.ndarray
        ``float32`` (n,): their relaxed weights (their sum over ``parts["lssr_divisor"]``
        is ``parts["lssr"]``).
    parts : dict of str to float
        ``lssr`` (LSS-R score), ``lssr_divisor`` (n_P), ``pairing`` (global pairing score),
        ``mates`` (sum of ``pair_scores``), ``overlap_a``/``overlap_b`` (minutiae of each
        template within reach of the other under the alignment), ``min_overlap``
        (PAIRING_MIN_OVERLAP) and ``lssr_weight`` (LSSR_WEIGHT, w). They recombine as::

            lssr    = sum(local_pair_scores) / lssr_divisor             (0 if no divisor)
            pairing = min(1, mates**2 / (max(overlap_a, min_overlap)
                                         * max(overlap_b, min_overlap)))
            score   = lssr**w * pairing**(1 - w)   (0 when lssr or pairing is 0)

        to float32 rounding (the engine sums in float32); ``score`` itself is exact.
    alignment : dict of str to float or None
        The global pairing's best alignment, mapping ``b`` onto ``a`` in the processing
        grid (template pixels times ``500 / resolution``; image axes, y down): a point
        ``(x, y)`` of ``b`` goes to ``(cos r * x - sin r * y + dx, sin r * x + cos r * y +
        dy)`` with ``r = alignment["rotation"]`` (radians; a minutia's template direction,
        counter-clockwise, changes by ``-r``), ``dx``, ``dy`` (pixels). None when the
        pairing did not run.
    anchor : tuple of int or None
        The pair (index in ``a``, index in ``b``) whose superposition defines the alignment;
        pairs may lie ``PAIRING_TOLERANCE + PAIRING_TOLERANCE_GROWTH / 2 * (distance of the
        ``a`` minutia to the anchor's + distance of the ``b`` minutia to the anchor's)``
        apart after alignment.
    swapped : bool
        The matcher compares templates in a canonical order (fewer minutiae first, then by
        coordinates) so that ``compare`` is symmetric; True when it put ``b`` first. Then
        the pairing aligned ``a`` onto ``b`` and ``alignment`` is its exact inverse.

    Examples
    --------
    >>> import numpy as np
    >>> import afis
    >>> r = np.random.default_rng(1)
    >>> t = afis.Template(width=300, height=300, resolution=500, source_resolution=500,
    ...                   x=r.integers(20, 280, 40), y=r.integers(20, 280, 40),
    ...                   direction=r.uniform(0, 6.28, 40), type=np.ones(40),
    ...                   quality=np.full(40, 60), image_quality=60)
    >>> e = afis.explain(t, t)
    >>> e.score == afis.compare(t, t)
    True
    >>> len(e.pairs), bool((e.pairs[:, 0] == e.pairs[:, 1]).all())
    (40, True)
    >>> sorted(e.parts)  # doctest: +NORMALIZE_WHITESPACE
    ['lssr', 'lssr_divisor', 'lssr_weight', 'mates', 'min_overlap', 'overlap_a',
     'overlap_b', 'pairing']
    """

    score: float
    pairs: np.ndarray
    pair_scores: np.ndarray
    local_pairs: np.ndarray
    local_pair_scores: np.ndarray
    parts: dict[str, float]
    alignment: dict[str, float] | None
    anchor: tuple[int, int] | None
    swapped: bool


def explain(a: Template, b: Template) -> Explanation:
    """:func:`compare` with what it counted: the minutiae it paired and each part's score.

    Runs the engine's own comparison (same code, ``score == compare(a, b)`` bit for bit)
    recording the pairs; deterministic. See :class:`Explanation` for the fields.

    Parameters
    ----------
    a, b : Template
        As for :func:`compare`.

    Returns
    -------
    Explanation

    Examples
    --------
    >>> from afis.template import Template
    >>> e = explain(Template.empty(100, 100), Template.empty(100, 100))
    >>> e.score, e.pairs.shape, e.alignment
    (0.0, (0, 2), None)
    """
    a = _check_template(a, "a")
    b = _check_template(b, "b")
    d = _core.explain(_cylinders(a), _cylinders(b))
    swapped = bool(d["swapped"])
    index_a = np.arange(len(a), dtype=np.int64)[_kept(a)]
    index_b = np.arange(len(b), dtype=np.int64)[_kept(b)]
    first, second = (index_b, index_a) if swapped else (index_a, index_b)

    def pairs(stage: dict) -> np.ndarray:
        p, q = first[stage["a"]], second[stage["b"]]
        return _frozen(np.stack([q, p] if swapped else [p, q], axis=1).reshape(-1, 2))

    local, pairing = d["local"], d["global"]
    overlaps = (float(pairing["overlap_a"]), float(pairing["overlap_b"]))
    if swapped:
        overlaps = overlaps[::-1]
    parts = {
        "lssr": float(d["lssr"]),
        "lssr_divisor": float(local["divisor"]),
        "pairing": float(d["pairing"]),
        "mates": float(pairing["mates"]),
        "overlap_a": overlaps[0],
        "overlap_b": overlaps[1],
        "min_overlap": float(_core.PAIRING_MIN_OVERLAP),
        "lssr_weight": float(_core.LSSR_WEIGHT),
    }
    alignment = anchor = None
    if pairing["anchor"] >= 0:
        r, dx, dy = (float(pairing[k]) for k in ("rotation", "translation_x", "translation_y"))
        if swapped:  # the pairing mapped a onto b: invert it
            c, s = math.cos(r), math.sin(r)
            r, dx, dy = -r, -(c * dx + s * dy), -(-s * dx + c * dy)
        alignment = {"rotation": r, "dx": dx, "dy": dy}
        i, j = int(first[pairing["anchor_a"]]), int(second[pairing["anchor_b"]])
        anchor = (j, i) if swapped else (i, j)
    return Explanation(
        score=float(d["score"]),
        pairs=pairs(pairing),
        pair_scores=_frozen(np.asarray(pairing["weight"], dtype=np.float32)),
        local_pairs=pairs(local),
        local_pair_scores=_frozen(np.asarray(local["weight"], dtype=np.float32)),
        parts=parts,
        alignment=alignment,
        anchor=anchor,
        swapped=swapped,
    )


class Gallery:
    """Templates packed in contiguous arrays for fast one-to-many comparison.

    Build with :meth:`from_templates`; :meth:`save` writes a folder of ``.npy`` arrays that
    :meth:`load` can memory-map, so a large gallery is shared between processes by the
    operating system's page cache.

    Examples
    --------
    >>> from afis.template import Template
    >>> gallery = Gallery.from_templates([Template.empty(50, 50)] * 3)
    >>> len(gallery)
    3
    """

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        missing = [k for k in _GALLERY_ARRAYS if k not in arrays]
        if missing:
            raise TemplateError(f"gallery lacks arrays: {', '.join(missing)}")
        self._arrays = {k: arrays[k] for k in _GALLERY_ARRAYS}
        offsets = self._arrays["offsets"]
        if offsets.ndim != 1 or len(offsets) < 1 or offsets[0] != 0:
            raise TemplateError("gallery offsets are corrupt")
        if int(offsets[-1]) != len(self._arrays["minutiae"]):
            raise TemplateError(
                f"gallery offsets end at {int(offsets[-1])} but there are "
                f"{len(self._arrays['minutiae'])} minutiae"
            )

    @classmethod
    def from_templates(
        cls, templates: Iterable[Template], *, threads: int | None = None
    ) -> Gallery:
        """Prepare and pack templates (cylinders are built on ``threads`` threads)."""
        items = [_check_template(t, "gallery entry") for t in templates]
        workers = resolve_threads(threads)
        return cls(dict(_core.prepare_packed(*_matcher_minutiae(items), workers)))

    @classmethod
    def from_buffers(
        cls,
        buffers: Iterable[bytes | bytearray | memoryview | np.ndarray],
        *,
        threads: int | None = None,
    ) -> Gallery:
        """Prepare and pack serialised templates (:meth:`Template.to_bytes`) without making
        :class:`Template` objects: the gallery ``from_templates`` makes of
        ``Template.from_bytes`` of each, array for array, in a quarter or less of the parsing
        time (a people gallery re-ranks hundreds of stored templates a probe).

        Raises
        ------
        TemplateError
            If a buffer is not a valid template (as :meth:`Template.from_bytes` says).

        Examples
        --------
        >>> from afis.template import Template
        >>> t = Template.empty(50, 50)
        >>> len(Gallery.from_buffers([t.to_bytes(), t.to_bytes()]))
        2
        """
        items = list(buffers)
        words, resolutions = _minutia_words(items)
        parts = [
            _matcher_parts(Template.from_bytes(data))  # the whole parse decides
            if held is None or len(held) > MAX_MATCH_MINUTIAE
            else (held[:, 0], held[:, 1], _DIRECTION_TABLE[held[:, 2]])
            for data, held in zip(items, words, strict=True)
        ]
        minutiae = _packed_minutiae(parts, [np.float32(PROCESSING_PPI / r) for r in resolutions])
        return cls(dict(_core.prepare_packed(*minutiae, resolve_threads(threads))))

    def __len__(self) -> int:
        return len(self._arrays["offsets"]) - 1

    @property
    def arrays(self) -> dict[str, np.ndarray]:
        """The packed arrays (read them, do not modify them): the storage layout, for tests
        and the native bindings; other code uses :meth:`subset`, :meth:`matcher` and
        :attr:`minutiae`."""
        return dict(self._arrays)

    @property
    def minutiae(self) -> int:
        """Minutiae held over all templates (those the matcher uses)."""
        return int(self._arrays["offsets"][-1])

    def subset(self, rows: Sequence[int] | np.ndarray) -> Gallery:
        """A packed gallery of the templates at ``rows`` (in that order, repeats allowed).

        Copies only the rows asked for, so a shortlist of a memory-mapped gallery reads
        nothing else.

        Examples
        --------
        >>> from afis.template import Template
        >>> g = Gallery.from_templates([Template.empty(50, 50)] * 3)
        >>> len(g.subset([2, 0])), len(g.subset([]))
        (2, 0)
        """
        where = np.asarray(rows, dtype=np.int64).reshape(-1)
        if where.size and (where.min() < 0 or where.max() >= len(self)):
            raise IndexError(f"rows must index the gallery's {len(self)} templates")
        offsets = np.asarray(self._arrays["offsets"], dtype=np.int64)
        starts, stops = offsets[where], offsets[where + 1]
        counts = stops - starts
        new_offsets = np.zeros(len(where) + 1, dtype=self._arrays["offsets"].dtype)
        np.cumsum(counts, out=new_offsets[1:])
        picked = np.repeat(starts - new_offsets[:-1].astype(np.int64), counts) + np.arange(
            int(counts.sum())
        )
        subset = {"offsets": new_offsets}
        for name in _GALLERY_ARRAYS[1:]:
            subset[name] = np.ascontiguousarray(np.asarray(self._arrays[name])[picked])
        return Gallery(subset)

    def matcher(self, row: int) -> Matcher:
        """A matcher for the template at ``row``, from its packed cylinders
        (:meth:`Matcher.from_gallery`)."""
        return Matcher.from_gallery(self, row)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the gallery to a folder (created if needed)."""
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        for name in _GALLERY_ARRAYS:
            np.save(folder / f"{name}.npy", np.ascontiguousarray(self._arrays[name]))
        header = {
            "format": _GALLERY_MAGIC,
            "version": GALLERY_FORMAT_VERSION,
            "templates": len(self),
            "cylinder_words": int(_core.CYLINDER_WORDS),
        }
        (folder / "gallery.json").write_text(json.dumps(header))

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, mmap: bool = True) -> Gallery:
        """Read a folder written by :meth:`save`, memory-mapped unless ``mmap=False``."""
        folder = Path(path)
        try:
            header = json.loads((folder / "gallery.json").read_text())
        except (OSError, ValueError) as exc:
            raise TemplateError(f"{folder}: not a gallery folder ({exc})") from exc
        if header.get("format") != _GALLERY_MAGIC:
            raise TemplateError(f"{folder}: not an nusafis gallery")
        if header.get("version") != GALLERY_FORMAT_VERSION:
            raise TemplateError(f"{folder}: unsupported gallery version {header.get('version')}")
        if header.get("cylinder_words") != int(_core.CYLINDER_WORDS):
            raise TemplateError(f"{folder}: gallery built with another cylinder layout; rebuild it")
        arrays = {}
        for name in _GALLERY_ARRAYS:
            try:
                arrays[name] = np.load(folder / f"{name}.npy", mmap_mode="r" if mmap else None)
            except (OSError, ValueError) as exc:
                raise TemplateError(f"{folder}: cannot read {name}.npy ({exc})") from exc
        gallery = cls(arrays)
        if len(gallery) != header.get("templates"):
            raise TemplateError(
                f"{folder}: header says {header.get('templates')} templates, "
                f"arrays hold {len(gallery)}"
            )
        return gallery


class Matcher:
    """A probe prepared once, compared against many templates.

    Examples
    --------
    >>> from afis.template import Template
    >>> matcher = Matcher(Template.empty(60, 60))
    >>> matcher.compare_many(Gallery.from_templates([Template.empty(60, 60)])).tolist()
    [0.0]
    """

    def __init__(self, probe: Template) -> None:
        self.probe: Template | None = _check_template(probe, "probe")
        self._cylinders = _cylinders(self.probe)

    @classmethod
    def from_gallery(cls, gallery: Gallery, index: int) -> Matcher:
        """A matcher for template ``index`` of ``gallery``, from its packed cylinders.

        Scores are those of ``Matcher(template)``; the cylinders are copied from the gallery
        instead of being built again (the probe template itself is not kept: ``probe`` is
        None).

        Examples
        --------
        >>> from afis.template import Template
        >>> g = Gallery.from_templates([Template.empty(60, 60)])
        >>> Matcher.from_gallery(g, 0).compare_many(g).tolist()
        [0.0]
        """
        if not isinstance(gallery, Gallery):
            raise TypeError(f"gallery must be an afis.Gallery, got {type(gallery).__name__}")
        if isinstance(index, bool) or not isinstance(index, int | np.integer):
            raise TypeError(f"index must be an int, got {type(index).__name__}")
        if not 0 <= index < len(gallery):
            raise IndexError(f"index {index} out of range for a gallery of {len(gallery)}")
        a = gallery._arrays
        start, end = int(a["offsets"][index]), int(a["offsets"][index + 1])
        rows = slice(start, end)
        self = cls.__new__(cls)
        self.probe = None
        try:
            self._cylinders = _core.Cylinders.from_arrays(
                np.ascontiguousarray(a["minutiae"][rows]),
                np.ascontiguousarray(a["bits"][rows]),
                np.ascontiguousarray(a["valid"][rows]),
                np.ascontiguousarray(a["usable"][rows]),
            )
        except (ValueError, TypeError) as exc:
            raise TemplateError(f"gallery template {index}: {exc}") from None
        return self

    def compare(self, candidate: Template) -> float:
        """Similarity of the probe and one template (same as :func:`compare`)."""
        return float(
            _core.compare(self._cylinders, _cylinders(_check_template(candidate, "candidate")))
        )

    def compare_many(
        self,
        gallery: Gallery | Sequence[Template],
        *,
        threads: int | None = None,
        rows: Sequence[int] | np.ndarray | None = None,
    ) -> np.ndarray:
        """Scores against every template of ``gallery``, on all cores, GIL released.

        Parameters
        ----------
        gallery : Gallery or sequence of Template
        threads : int, optional
            Threads (``None``: one per CPU).
        rows : sequence of int, optional
            Score only the templates at these rows (in that order, repeats allowed), read in
            place: what ``compare_many(gallery.subset(rows))`` returns, without the copy.

        Returns
        -------
        numpy.ndarray
            ``float32`` scores, one per gallery template (or row), in that order.

        Examples
        --------
        >>> from afis.template import Template
        >>> g = Gallery.from_templates([Template.empty(50, 50)] * 3)
        >>> Matcher(Template.empty(50, 50)).compare_many(g, rows=[2, 0]).shape
        (2,)
        """
        workers = resolve_threads(threads)
        if not isinstance(gallery, Gallery):
            gallery = Gallery.from_templates(gallery, threads=workers)
        if rows is not None:
            rows = np.asarray(rows).reshape(-1)
            if rows.size and not np.issubdtype(rows.dtype, np.integer):
                raise TypeError(f"rows must be integers, got {rows.dtype}")
            rows = np.ascontiguousarray(rows, dtype=np.int64)
            if rows.size and (rows.min() < 0 or rows.max() >= len(gallery)):
                raise IndexError(f"rows must index the gallery's {len(gallery)} templates")
        a = gallery._arrays
        return _core.compare_many(
            self._cylinders,
            a["offsets"],
            a["minutiae"],
            a["bits"],
            a["valid"],
            a["usable"],
            workers,
            rows,
        )


@functools.cache
def _calibration() -> dict:
    return json.loads(resources.files("afis").joinpath("data/thresholds.json").read_text())


@functools.cache
def _threshold_table() -> tuple[tuple[float, float], ...]:
    return tuple((row["fmr"], row["threshold"]) for row in _calibration()["table"])


def _log10_fmr(score: float, *, extrapolate: bool) -> float:
    """log10 of the calibrated false match rate at ``score``: log-linear between the calibrated
    thresholds; past the last one the fitted tail (``extrapolate``) or its rate (clamped);
    below the first one, log-linear down to FMR 1 at score 0 (``extrapolate``) or clamped."""
    table = _threshold_table()  # fmr descending, threshold ascending
    thresholds = [t for _, t in table]
    (f_first, t_first), (f_last, t_last) = table[0], table[-1]
    if score >= t_last:
        if not extrapolate:
            return math.log10(f_last)
        return math.log10(f_last) + _calibration()["tail"]["slope"] * (score - t_last)
    if score <= t_first:
        if not extrapolate:
            return math.log10(f_first)
        return math.log10(f_first) * max(score, 0.0) / t_first
    i = bisect.bisect_right(thresholds, score)
    (f1, t1), (f2, t2) = table[i - 1], table[i]
    share = 0.0 if t2 == t1 else (score - t1) / (t2 - t1)
    return math.log10(f1) + share * (math.log10(f2) - math.log10(f1))


def fmr_for_score(score: float) -> float:
    """The false match rate of a decision threshold at ``score``: the calibrated share of
    impostor comparisons that score at least that much.

    The inverse of :func:`threshold_for_fmr` within its calibrated range (1e-4 .. 0.1); below
    it, log-linear down to 1 at score 0; above it, the impostor tail fitted on the highest
    impostor scores of the calibration (``log10 FMR`` linear in the score, flattened so that
    it decays more slowly than measured). Extrapolated rates let independent evidence be
    combined (two fingers of a card: multiply their rates), never a single finger's decision
    below 1e-4 be trusted more than the calibration shows.

    Parameters
    ----------
    score : float
        A :func:`compare` score (in [0, 1]; a larger one counts as 1).

    Returns
    -------
    float
        In (0, 1]; non-increasing in ``score``.

    Examples
    --------
    >>> round(fmr_for_score(threshold_for_fmr(1e-3)), 9)
    0.001
    >>> fmr_for_score(0.0)
    1.0
    >>> fmr_for_score(0.1) < 1e-8
    True
    """
    if isinstance(score, bool) or not isinstance(score, int | float | np.floating):
        raise TypeError(f"score must be a number, got {type(score).__name__}")
    if not math.isfinite(score):
        raise ValueError(f"score must be finite, got {score!r}")
    return 10 ** _log10_fmr(min(float(score), 1.0), extrapolate=True)


def threshold_for_fmr(fmr: float) -> float:
    """The score threshold that keeps the false match rate at or below ``fmr``.

    Calibrated on impostor pairs of the FVC2000 and FVC2002 'B' sets (about 200,000 pairs,
    within and across sets; see ``benchmarks/calibrate_thresholds.py``). Between calibrated
    rates the threshold is interpolated in log(FMR).

    Parameters
    ----------
    fmr : float
        Target false match rate, between 1e-4 and 0.1 (the calibrated range).

    Returns
    -------
    float
        Accept a comparison as a match when ``compare(a, b) >= threshold``.

    Examples
    --------
    >>> threshold_for_fmr(1e-4) > threshold_for_fmr(1e-2) > 0
    True
    """
    if isinstance(fmr, bool) or not isinstance(fmr, int | float):
        raise TypeError(f"fmr must be a number, got {type(fmr).__name__}")
    table = _threshold_table()
    low, high = table[-1][0], table[0][0]
    if not (math.isfinite(fmr) and low * (1 - 1e-9) <= fmr <= high * (1 + 1e-9)):
        raise ValueError(f"fmr must lie within the calibrated range {low:g}..{high:g}, got {fmr!r}")
    target = math.log10(fmr)
    for (f1, t1), (f2, t2) in itertools.pairwise(table):
        l1, l2 = math.log10(f1), math.log10(f2)
        if l2 <= target <= l1:
            share = 0.0 if l1 == l2 else (l1 - target) / (l1 - l2)
            return t1 + share * (t2 - t1)
    return table[-1][1]


class Reranker:
    """Exact re-scoring of shortlisted candidates: ids -> rows of a packed gallery -> scores.

    The project's one re-ranking component, modelled on faiss's ``IndexRefine``: an index
    (or any other source) hands it candidate ids and it re-scores them exactly with the
    matcher. :func:`afis.identify`, the enrolment layer's de-duplication job and ``afis bench
    identify`` all re-rank through it.

    Parameters
    ----------
    gallery : Gallery
        The enrolled templates, packed (cylinders built once; memory-mapped galleries work).
    ids : array-like of int, optional
        The id of each gallery row (unique); default ``0 .. len(gallery) - 1``.

    Notes
    -----
    Looking up ``m`` candidates costs ``O(m log N)`` (binary search in the sorted ids, sorted
    once here); scoring them costs ``m`` comparisons and copies only their rows. Nothing per
    search grows with the gallery.

    Examples
    --------
    >>> from afis.synth import Population
    >>> people = Population(seed=1)
    >>> enrolled = people.impressions(range(5), impression=0).templates()
    >>> reranker = Reranker(Gallery.from_templates(enrolled), ids=[50, 51, 52, 53, 54])
    >>> probe = people.impressions([3], impression=1).templates()[0]  # finger 3 again
    >>> ids, scores = reranker.rank(probe, [50, 53, 99])  # 99 is not enrolled
    >>> ids.tolist(), bool(scores[0] > scores[1])
    ([53, 50], True)
    """

    def __init__(self, gallery: Gallery, ids: Sequence[int] | np.ndarray | None = None) -> None:
        if not isinstance(gallery, Gallery):
            raise TypeError(f"gallery must be an afis.Gallery, got {type(gallery).__name__}")
        if ids is None:
            ids = np.arange(len(gallery), dtype=np.int64)
        ids = np.asarray(ids)
        if ids.dtype.kind not in "iu" and ids.size:
            raise TypeError(f"ids must be integers, got dtype {ids.dtype}")
        ids = ids.astype(np.int64, copy=False)
        if ids.shape != (len(gallery),):
            raise ValueError(f"ids must hold {len(gallery)} ids, got shape {ids.shape}")
        order = np.argsort(ids, kind="stable")
        sorted_ids = ids[order]
        if sorted_ids.size > 1 and (np.diff(sorted_ids) == 0).any():
            raise ValueError("ids must be unique")
        self.gallery = gallery
        self._sorted_ids = sorted_ids
        self._rows = order

    def __len__(self) -> int:
        return len(self.gallery)

    def rows(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """The gallery row of each id (``int64``), -1 where the id is not enrolled."""
        wanted = np.asarray(ids, dtype=np.int64).reshape(-1)
        if not len(self._sorted_ids):
            return np.full(len(wanted), -1, np.int64)
        at = np.searchsorted(self._sorted_ids, wanted)
        inside = at < len(self._sorted_ids)
        found = np.zeros(len(wanted), dtype=bool)
        found[inside] = self._sorted_ids[at[inside]] == wanted[inside]
        return np.where(found, self._rows[np.minimum(at, len(self._rows) - 1)], -1)

    def matcher(self, probe: Template, probe_id: int | None = None) -> Matcher:
        """The probe's matcher: from its packed cylinders when ``probe_id`` is enrolled here
        (nothing built again), else built from the template. Scores are the same."""
        if probe_id is not None:
            row = int(self.rows([probe_id])[0])
            if row >= 0:
                return Matcher.from_gallery(self.gallery, row)
        return Matcher(probe)

    def scores(
        self,
        probe: Template | Matcher,
        ids: Sequence[int] | np.ndarray,
        *,
        threads: int | None = None,
    ) -> np.ndarray:
        """Matcher scores of ``probe`` against each id (``float32``, 0 where not enrolled)."""
        matcher = probe if isinstance(probe, Matcher) else Matcher(probe)
        rows = self.rows(ids)
        out = np.zeros(len(rows), dtype=np.float32)
        present = rows >= 0
        if present.any():
            out[present] = matcher.compare_many(self.gallery.subset(rows[present]), threads=threads)
        return out

    def rank(
        self,
        probe: Template | Matcher,
        ids: Sequence[int] | np.ndarray,
        *,
        threads: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The enrolled ids among ``ids``, best score first (ties by id), and their scores."""
        wanted = np.asarray(ids, dtype=np.int64).reshape(-1)
        known = wanted[self.rows(wanted) >= 0]
        scores = self.scores(probe, known, threads=threads)
        order = np.lexsort((known, -scores))
        return known[order], scores[order]
