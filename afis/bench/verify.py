"""Verification benchmark on FVC-style folders of fingerprint images.

A folder holds images named ``<finger>_<impression>.<ext>`` (FVC 'B' sets: fingers
101..110, impressions 1..8). :func:`verify` extracts every image once, scores the pairs of
one or more protocols with a pairwise scorer (by default :func:`afis.compare`) and reports
per folder and protocol the error rates of :mod:`afis.bench.metrics` together with the
median extraction and comparison times.

Protocols (see :func:`protocol_pairs`):

* ``fvc``: genuine = every pair of impressions of one finger (280 on a full set);
  impostor = the first impression of each finger against that of every other (45);
* ``allpairs``: genuine as ``fvc``; impostor = every pair of impressions of different
  fingers (2,880).

The scorer is assumed symmetric: each unordered pair is scored once, shared by the
protocols that need it.
"""

from __future__ import annotations

import copy
import functools
import itertools
import json
import logging
import math
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

import afis
import afis.match
from afis._native import _core
from afis.bench.metrics import ErrorRates, det_curve, error_rates
from afis.image import load_image
from afis.template import Template

__all__ = [
    "IMAGE_SUFFIXES",
    "PROTOCOLS",
    "Key",
    "Pair",
    "Scorer",
    "ScorerUnavailableError",
    "VerifyReport",
    "folder_dpi",
    "manifest_entry",
    "protocol_pairs",
    "read_fvc_folder",
    "verify",
]

log = logging.getLogger(__name__)

#: Image file extensions :func:`read_fvc_folder` looks at (those :func:`afis.load_image` reads).
IMAGE_SUFFIXES: tuple[str, ...] = (
    ".tif",
    ".tiff",
    ".png",
    ".bmp",
    ".jpg",
    ".jpeg",
    ".jp2",
    ".j2k",
    ".wsq",
)
#: Protocols :func:`protocol_pairs` knows.
PROTOCOLS: tuple[str, ...] = ("fvc", "allpairs")

#: ``(finger, impression)``
Key = tuple[int, int]
#: An unordered pair of keys, stored with the smaller key first.
Pair = tuple[Key, Key]
#: ``scorer(a, b) -> similarity``: symmetric, higher = more alike.
Scorer = Callable[[Template, Template], float]

StrPath = str | PathLike[str]

#: Pairs handed to a scoring thread at a time.
_CHUNK = 64
#: Seconds between progress log lines when stderr is not a terminal.
_LOG_EVERY_S = 15.0


class ScorerUnavailableError(RuntimeError):
    """No scorer was given and :func:`afis.compare` does not exist in this build."""


# --------------------------------------------------------------------------- folders


def read_fvc_folder(path: StrPath) -> dict[Key, Path]:
    """The FVC-named images of a folder.

    Parameters
    ----------
    path : str or path-like
        A folder. Files named ``<finger>_<impression>.<ext>`` (decimal numbers, ``ext``
        one of :data:`IMAGE_SUFFIXES`, any case) are taken; every other file is ignored.

    Returns
    -------
    dict
        ``{(finger, impression): path}``, sorted by key.

    Raises
    ------
    ValueError
        If ``path`` is not a folder, holds no such image, or two files name the same
        finger and impression (``101_1.tif`` and ``101_01.png``).

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> for name in ("101_1.tif", "101_2.png", "notes.txt", "101_x.tif"):
    ...     _ = (folder / name).write_bytes(b"")
    >>> sorted(read_fvc_folder(folder))
    [(101, 1), (101, 2)]
    """
    folder = Path(path)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder")
    found: dict[Key, Path] = {}
    for file in sorted(folder.iterdir()):
        if file.suffix.lower() not in IMAGE_SUFFIXES or not file.is_file():
            continue
        finger, sep, impression = file.stem.partition("_")
        if not (sep and _decimal(finger) and _decimal(impression)):
            continue
        key = (int(finger), int(impression))
        if key in found:
            raise ValueError(
                f"{folder}: {found[key].name} and {file.name} are both finger {key[0]} "
                f"impression {key[1]}"
            )
        found[key] = file
    if not found:
        raise ValueError(
            f"{folder} holds no images named <finger>_<impression>.<ext> "
            f"(ext one of {', '.join(s[1:] for s in IMAGE_SUFFIXES)})"
        )
    return dict(sorted(found.items()))


def _decimal(text: str) -> bool:
    return text.isascii() and text.isdigit()


def folder_dpi(folder: StrPath, manifest: StrPath | None = None) -> float | None:
    """Resolution of a folder's images as given by a manifest, or None.

    Parameters
    ----------
    folder : str or path-like
        Folder of images.
    manifest : str or path-like, optional
        A JSON file with a ``"sets"`` mapping from set names to entries with a ``"dpi"``
        (e.g. ``datasets/fvc.json``); the entry whose name ends the folder's path
        (``fvc2002/DB2_B``) applies.

    Returns
    -------
    float or None
        In order: ``dpi`` of a ``manifest.json`` beside the images (``{"dpi": 569}``), else
        that of the matching ``manifest`` entry, else None (the resolution then comes from
        each file, or is the default; see :func:`afis.load_image`). An explicit resolution
        given by the caller should be tried before this function.

    Raises
    ------
    ValueError
        If a manifest is not valid JSON or ``manifest`` has no ``"sets"`` mapping.
    OSError
        If ``manifest`` cannot be read.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> folder_dpi(folder) is None
    True
    >>> _ = (folder / "manifest.json").write_text('{"dpi": 569}')
    >>> folder_dpi(folder)
    569.0
    """
    local = Path(folder) / "manifest.json"
    if local.is_file():
        entry = json.loads(local.read_text())
        if isinstance(entry, dict) and "dpi" in entry:
            return float(entry["dpi"])
    found = manifest_entry(folder, manifest) if manifest is not None else None
    return float(found[1]["dpi"]) if found is not None and "dpi" in found[1] else None


def manifest_entry(folder: StrPath, manifest: StrPath) -> tuple[str, dict[str, Any]] | None:
    """The ``manifest`` entry of a folder: ``(set name, entry)``, or None.

    The entry applies when its set name ends the folder's path, as given or with links
    resolved (``.../fvc2002/DB2_B`` is ``fvc2002/DB2_B``).

    Raises
    ------
    ValueError
        If the manifest is not valid JSON or has no ``"sets"`` mapping.
    OSError
        If ``manifest`` cannot be read.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> _ = (root / "m.json").write_text('{"sets": {"fvc2002/DB2_B": {"dpi": 569}}}')
    >>> manifest_entry(root / "fvc2002" / "DB2_B", root / "m.json")
    ('fvc2002/DB2_B', {'dpi': 569})
    >>> manifest_entry(root / "other", root / "m.json") is None
    True
    """
    path = Path(manifest)
    stat = path.stat()
    data = _read_manifest(str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    sets = data.get("sets") if isinstance(data, dict) else None
    if not isinstance(sets, dict):
        raise ValueError(f"manifest {manifest} has no 'sets' mapping of set name -> entry")
    # the path as given and with links resolved: either may end with the set's name
    paths = {Path(folder).absolute().as_posix(), Path(folder).resolve().as_posix()}
    for name, entry in sets.items():
        suffix = "/" + name.strip("/")
        if any(p.endswith(suffix) for p in paths):
            if not isinstance(entry, dict):
                raise ValueError(f"manifest {manifest}: entry {name!r} is not a mapping")
            return name.strip("/"), copy.deepcopy(entry)
    return None


@functools.lru_cache(maxsize=8)
def _read_manifest(path: str, mtime_ns: int, size: int) -> Any:
    """A manifest's parsed JSON, read once per version of the file (the benchmarks look up
    every folder in the same manifest; callers get copies of the entries they need)."""
    del mtime_ns, size  # part of the cache key only
    return json.loads(Path(path).read_text())


# --------------------------------------------------------------------------- protocols


def protocol_pairs(keys: Iterable[Key], protocol: str) -> tuple[list[Pair], list[Pair]]:
    """Genuine and impostor pairs of a verification protocol.

    Parameters
    ----------
    keys : iterable of (int, int)
        The ``(finger, impression)`` images available (e.g. the keys of
        :func:`read_fvc_folder`); duplicates are ignored.
    protocol : {"fvc", "allpairs"}
        ``fvc``: genuine = every unordered pair of impressions of the same finger;
        impostor = the first impression of each finger against the first impression of
        every other finger. "First" is the lowest-numbered impression present, i.e.
        impression 1 on a complete set. ``allpairs``: genuine as ``fvc``; impostor = every
        unordered pair of impressions of different fingers.

    Returns
    -------
    genuine, impostor : list of ((int, int), (int, int))
        Unordered pairs, smaller key first, in sorted order. A symmetric scorer needs each
        once.

    Raises
    ------
    ValueError
        If ``protocol`` is unknown.

    Examples
    --------
    >>> keys = [(f, i) for f in range(101, 111) for i in range(1, 9)]
    >>> [len(p) for p in protocol_pairs(keys, "fvc")]
    [280, 45]
    >>> [len(p) for p in protocol_pairs(keys, "allpairs")]
    [280, 2880]
    >>> protocol_pairs([(101, 1), (101, 2), (102, 2)], "fvc")
    ([((101, 1), (101, 2))], [((101, 1), (102, 2))])
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; expected one of {', '.join(PROTOCOLS)}")
    ordered = sorted({(int(f), int(i)) for f, i in keys})
    by_finger: dict[int, list[Key]] = {}
    for key in ordered:
        by_finger.setdefault(key[0], []).append(key)
    genuine = [p for imps in by_finger.values() for p in itertools.combinations(imps, 2)]
    if protocol == "fvc":
        impostor = list(itertools.combinations([imps[0] for imps in by_finger.values()], 2))
    else:
        impostor = [(a, b) for a, b in itertools.combinations(ordered, 2) if a[0] != b[0]]
    return genuine, impostor


# --------------------------------------------------------------------------- report


_METRICS = ("eer", "fmr100", "fmr1000", "zero_fmr")


@dataclass(eq=False)
class VerifyReport:
    """Result of :func:`verify`.

    Attributes
    ----------
    rows : list of dict
        Per protocol: one row per folder (``kind == "set"``), then a macro-average row
        (``kind == "macro"``, ``set == "macro-average"``: mean of the per-set rates, sums of
        the counts, median times over all sets' measurements pooled). Rates are in percent,
        ``median_extract_ms`` in milliseconds, ``median_compare_us`` in microseconds.
    rates : dict
        ``{(set, protocol): ErrorRates}``.
    scores : dict
        ``{(set, protocol): (genuine, impostor)}``: the raw score arrays.
    pairs : dict
        ``{(set, protocol): (genuine_pairs, impostor_pairs)}``, aligned with ``scores``.
    protocols : tuple of str
        Protocols run, in order.
    sets : list of str
        Names of the sets (folders) in order.
    meta : dict
        How the run was made (scorer, threads, afis version).
    """

    rows: list[dict[str, Any]]
    rates: dict[tuple[str, str], ErrorRates] = field(default_factory=dict)
    scores: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    pairs: dict[tuple[str, str], tuple[list[Pair], list[Pair]]] = field(default_factory=dict)
    protocols: tuple[str, ...] = PROTOCOLS
    sets: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self, include_scores: bool = False) -> dict[str, Any]:
        """The report as plain data; raw scores and their pairs only on request."""
        out: dict[str, Any] = {"meta": self.meta, "rows": self.rows}
        if include_scores:
            scores: dict[str, dict[str, Any]] = {}
            for (name, protocol), (genuine, impostor) in self.scores.items():
                gp, ip = self.pairs[(name, protocol)]
                scores.setdefault(name, {})[protocol] = {
                    "genuine": genuine.tolist(),
                    "impostor": impostor.tolist(),
                    "genuine_pairs": [[*a, *b] for a, b in gp],
                    "impostor_pairs": [[*a, *b] for a, b in ip],
                }
            out["scores"] = scores
        return out

    def to_json(self, path: StrPath, include_scores: bool = False) -> None:
        """Write :meth:`to_dict` as JSON; ``include_scores`` adds every raw score with its
        pair as ``[finger_a, impression_a, finger_b, impression_b]``."""
        Path(path).write_text(json.dumps(self.to_dict(include_scores), indent=2) + "\n")

    def format_table(self) -> str:
        """A fixed-width text table, one line per row of :attr:`rows`."""
        header = ("protocol", "EER %", "FMR100 %", "FMR1000 %", "ZeroFMR %")
        width = max([40, *(len(str(r["set"])) + 2 for r in self.rows)])
        lines = [
            f"{'set':<{width}}"
            + "".join(f"{h:>11}" for h in header)
            + f"{'extract ms':>12}{'compare µs':>12}"
        ]
        for r in self.rows:
            values = (r["protocol"], *(f"{r[m]:.2f}" for m in _METRICS))
            lines.append(
                f"{r['set']:<{width}}"
                + "".join(f"{v:>11}" for v in values)
                + f"{_fmt(r['median_extract_ms'], 2):>12}{_fmt(r['median_compare_us'], 1):>12}"
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format_table()

    def det_curves(self, protocol: str | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """``{set: (fmr, fnmr)}`` in percent for one protocol (default: ``allpairs`` if it
        was run, else the first protocol run)."""
        protocol = self._det_protocol(protocol)
        curves = {}
        for name in self.sets:
            curve = det_curve(*self.scores[(name, protocol)])
            curves[name] = (curve.fmr, curve.fnmr)
        return curves

    def plot_det(self, path: StrPath, protocol: str | None = None) -> None:
        """Draw the DET curves of one protocol, one line per set, into an image file (PNG by
        its extension).

        Both error rates sit on normal-deviate (probit) axes, x = Φ⁻¹(FMR) and
        y = Φ⁻¹(FNMR), as in Martin et al., "The DET curve in assessment of detection task
        performance" (Eurospeech 1997) and ISO/IEC 19795-1: scores that are normal within
        each class then draw straight lines, and the low-error corner is spread out. Ticks
        are labelled in percent. The axes end at 50 %, where chance lies.

        Zero rates cannot sit on a probit axis (Φ⁻¹(0) = -∞): they are drawn at the
        bottom/left edge, half the smallest non-zero rate any set can reach. Only the
        picture is transformed; the numbers of :attr:`rows` are those of
        :mod:`afis.bench.metrics`. The Agg backend is used directly, so no display and no
        global matplotlib state are involved.
        """
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        protocol = self._det_protocol(protocol)
        curves = self.det_curves(protocol)
        n_imp = max(self.rates[(s, protocol)].n_impostor for s in self.sets)
        n_gen = max(self.rates[(s, protocol)].n_genuine for s in self.sets)
        floor_x, floor_y = 50.0 / n_imp, 50.0 / n_gen

        fig = Figure(figsize=(6.4, 5.6), layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        for name, (fmr, fnmr) in curves.items():
            eer = self.rates[(name, protocol)].eer
            ax.plot(
                _probit(np.clip(fmr, floor_x, _DET_CEILING)),
                _probit(np.clip(fnmr, floor_y, _DET_CEILING)),
                drawstyle="steps-post",
                label=f"{name} (EER {eer:.2f} %)",
            )
        lo = _probit(min(floor_x, floor_y))
        ax.plot([lo, 0], [lo, 0], color="0.6", linestyle=":", linewidth=1, label="FMR = FNMR")
        for axis, floor in ((ax.xaxis, floor_x), (ax.yaxis, floor_y)):
            ticks = [t for t in _DET_TICKS if t >= floor]
            axis.set_ticks(_probit(np.array(ticks)), [f"{t:g}" for t in ticks])
        ax.set_xlim(_probit(floor_x), _probit(_DET_TOP))
        ax.set_ylim(_probit(floor_y), _probit(_DET_TOP))
        ax.set_xlabel("FMR (%, normal-deviate scale)")
        ax.set_ylabel("FNMR (%, normal-deviate scale)")
        ax.set_title(f"DET, {protocol} protocol")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
        fig.savefig(Path(path), dpi=120)

    def _det_protocol(self, protocol: str | None) -> str:
        if protocol is None:
            return "allpairs" if "allpairs" in self.protocols else self.protocols[0]
        if protocol not in self.protocols:
            raise ValueError(
                f"protocol {protocol!r} was not run; this report has {', '.join(self.protocols)}"
            )
        return protocol


#: DET axes: tick labels (percent), where the axes end, and where rates near 100 % are held
#: so that a curve leaving the frame stays finite.
_DET_TICKS = (0.001, 0.01, 0.1, 0.5, 1, 2, 5, 10, 20, 40)
_DET_TOP = 50.0
_DET_CEILING = 99.99


def _probit(percent: float | np.ndarray) -> Any:
    """The normal deviate Φ⁻¹(p) of a rate ``p`` given in percent: the DET axis transform.

    >>> float(_probit(50.0)), round(float(_probit(2.275)), 3)
    (0.0, -2.0)
    """
    from scipy.special import ndtri

    return ndtri(np.asarray(percent, dtype=float) / 100.0)


def _fmt(value: float | None, digits: int) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"


# --------------------------------------------------------------------------- running


class _Progress:
    """A tqdm bar on a terminal; otherwise a log line every ``_LOG_EVERY_S`` seconds of a
    long stage (each folder's result is logged anyway); nothing when disabled."""

    def __init__(self, enabled: bool, total: int, description: str, unit: str) -> None:
        self.total, self.description, self.unit = total, description, unit
        self.enabled = enabled
        self.done = 0
        self.last_log = time.monotonic()
        self.bar = None
        if enabled and sys.stderr.isatty():
            self.bar = tqdm(total=total, desc=description, unit=unit, leave=False)

    def update(self, n: int = 1) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        elif self.enabled and time.monotonic() - self.last_log >= _LOG_EVERY_S:
            self.last_log = time.monotonic()
            log.info("%s: %d/%d %ss", self.description, self.done, self.total, self.unit)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _resolve_scorer(scorer: Scorer | None) -> tuple[Scorer, str]:
    if scorer is not None:
        if not callable(scorer):
            raise TypeError(f"scorer must be callable, got {type(scorer).__name__}")
        name = getattr(scorer, "__qualname__", None) or type(scorer).__name__
        return scorer, f"{getattr(scorer, '__module__', None) or '?'}.{name}"
    compare = getattr(afis, "compare", None)
    if compare is None:
        raise ScorerUnavailableError(
            "afis.compare does not exist in this build of afis (no matcher yet), so there is "
            "nothing to score pairs with; from Python, pass scorer=<callable(a, b) -> float> "
            "to afis.bench.verify.verify()"
        )
    return compare, "afis.compare"


def _compare_prepared(a: Any, b: Any) -> float:
    return float(_core.compare(a, b))


def _set_names(folders: Sequence[Path]) -> list[str]:
    """Short names: the last two path parts (``fvc2002/DB1_B``), unless that is ambiguous."""
    short = ["/".join(f.absolute().parts[-2:]) for f in folders]
    if len(set(short)) == len(short):
        return short
    return [str(f) for f in folders]


def _extract_all(
    images: dict[Key, Any], progress: _Progress
) -> tuple[dict[Key, Template], np.ndarray]:
    """Templates of decoded images, each extraction timed on this thread (ns)."""
    extract = afis.extract  # looked up at call time
    templates: dict[Key, Template] = {}
    times = np.empty(len(images), np.int64)
    for n, (key, image) in enumerate(images.items()):
        start = time.perf_counter_ns()
        templates[key] = extract(image)
        times[n] = time.perf_counter_ns() - start
        progress.update()
    return templates, times


def _score_all(
    scorer: Scorer,
    templates: dict[Key, Any],
    pairs: list[Pair],
    threads: int,
    progress: _Progress,
) -> tuple[dict[Pair, float], np.ndarray]:
    """Score every pair once; returns ``{pair: score}`` and each comparison's time (ns)."""

    def work(chunk: list[Pair]) -> tuple[list[Any], np.ndarray]:
        raw: list[Any] = []
        ns = np.empty(len(chunk), np.int64)
        clock = time.perf_counter_ns
        for j, (a, b) in enumerate(chunk):
            ta, tb = templates[a], templates[b]
            start = clock()
            s = scorer(ta, tb)
            ns[j] = clock() - start
            raw.append(s)
        return raw, ns

    chunks = [pairs[k : k + _CHUNK] for k in range(0, len(pairs), _CHUNK)]
    results: list[tuple[list[Any], np.ndarray]] = []
    if threads == 1 or len(chunks) <= 1:
        for chunk in chunks:
            results.append(work(chunk))
            progress.update(len(chunk))
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            for chunk, result in zip(chunks, pool.map(work, chunks), strict=True):
                results.append(result)
                progress.update(len(chunk))
    scores: dict[Pair, float] = {}
    for chunk, (raw, _) in zip(chunks, results, strict=True):
        for pair, value in zip(chunk, raw, strict=True):
            try:
                score = float(value)
            except (TypeError, ValueError):
                raise TypeError(
                    f"scorer returned {value!r} for {_pair_name(pair)}; expected a number"
                ) from None
            if not math.isfinite(score):
                raise ValueError(
                    f"scorer returned {score} for {_pair_name(pair)}; scores must be finite"
                )
            scores[pair] = score
    times = np.concatenate([ns for _, ns in results]) if results else np.empty(0, np.int64)
    return scores, times


def _pair_name(pair: Pair) -> str:
    (fa, ia), (fb, ib) = pair
    return f"{fa}_{ia} vs {fb}_{ib}"


def _median(values: np.ndarray, scale: float) -> float | None:
    return float(np.median(values)) * scale if values.size else None


def verify(
    folders: StrPath | Sequence[StrPath],
    *,
    scorer: Scorer | None = None,
    protocols: str | Sequence[str] = PROTOCOLS,
    dpi: float | None = None,
    manifest: StrPath | None = None,
    threads: int | None = None,
    progress: bool = True,
) -> VerifyReport:
    """Run a verification benchmark on FVC-style folders.

    Parameters
    ----------
    folders : path or sequence of paths
        Folders of images named ``<finger>_<impression>.<ext>`` (:func:`read_fvc_folder`).
    scorer : callable, optional
        ``scorer(a, b) -> float``, a symmetric similarity of two templates. Defaults to
        :func:`afis.compare`, looked up when this function is called.
    protocols : str or sequence of str
        Among ``"fvc"`` and ``"allpairs"`` (:func:`protocol_pairs`).
    dpi : float, optional
        Resolution of every image. Otherwise :func:`folder_dpi` decides per folder, and
        failing that each file's header or the default (:func:`afis.load_image`).
    manifest : path, optional
        Manifest of set resolutions for :func:`folder_dpi` (e.g. ``datasets/fvc.json``).
        Needed for FVC2002 DB2 (569 ppi; its TIFFs claim 1 dpi).
    threads : int, optional
        Threads scoring pairs, default 1, so that comparison times are single-thread
        times (more threads finish sooner, but may inflate each comparison's time).
        Extraction always runs on one thread, each image timed alone with its decoding
        excluded.
    progress : bool
        Show a progress bar (on a terminal) or log progress lines (otherwise).

    Returns
    -------
    VerifyReport
        Rows per set and protocol plus macro averages, raw scores and pairs.

    Raises
    ------
    ScorerUnavailableError
        (a RuntimeError) If no scorer is given and :func:`afis.compare` does not exist.
    ValueError
        If a folder holds no FVC-named images, a protocol is unknown or leaves no genuine
        or impostor pair, or the scorer returns a non-finite score.
    afis.ImageError
        If an image cannot be decoded or extracted.
    """
    score_fn, scorer_name = _resolve_scorer(scorer)
    if isinstance(protocols, str):
        protocols = (protocols,)
    protocols = tuple(dict.fromkeys(protocols))
    if not protocols:
        raise ValueError("no protocol to run")
    for protocol in protocols:
        if protocol not in PROTOCOLS:
            raise ValueError(
                f"unknown protocol {protocol!r}; expected one of {', '.join(PROTOCOLS)}"
            )
    if threads is None:
        threads = 1
    elif isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive int, got {threads!r}")
    paths = [Path(folders)] if isinstance(folders, str | PathLike) else [Path(f) for f in folders]
    if not paths:
        raise ValueError("no folder to benchmark")
    listings = [read_fvc_folder(p) for p in paths]  # fail early, before any extraction
    names = _set_names(paths)

    report = VerifyReport(rows=[], protocols=protocols, sets=names)
    report.meta = {
        "scorer": scorer_name,
        "threads": threads,
        "afis_version": afis.__version__,
        "protocols": list(protocols),
    }
    extract_ns: list[np.ndarray] = []
    compare_ns: list[np.ndarray] = []
    set_rows: dict[str, list[dict[str, Any]]] = {p: [] for p in protocols}
    for folder, name, files in zip(paths, names, listings, strict=True):
        set_dpi = dpi if dpi is not None else folder_dpi(folder, manifest)
        if set_dpi is None:
            log.debug("%s: no resolution given, each file's own or the default is used", name)
        images = {key: load_image(f, dpi=set_dpi) for key, f in files.items()}  # decoding
        bar = _Progress(progress, len(images), f"{name} extract", "image")
        try:
            templates, ext_ns = _extract_all(images, bar)
        finally:
            bar.close()

        wanted = {p: protocol_pairs(files, p) for p in protocols}
        for protocol, (genuine, impostor) in wanted.items():
            if not genuine or not impostor:
                raise ValueError(
                    f"{folder}: the {protocol} protocol has {len(genuine)} genuine and "
                    f"{len(impostor)} impostor pairs; it needs at least one of each (two "
                    "impressions of a finger, and two fingers)"
                )
        union = sorted({pair for g, i in wanted.values() for pair in (*g, *i)})
        inputs: dict[Key, Any] = templates
        pair_fn = score_fn
        if scorer is None and score_fn is afis.match.compare:
            # The engine's matcher: prepare each template once (as Matcher does for a probe),
            # so the timing is of comparisons, not of repeated cylinder building.
            inputs = {key: afis.match._cylinders(t) for key, t in templates.items()}
            pair_fn = _compare_prepared
        bar = _Progress(progress, len(union), f"{name} compare", "pair")
        try:
            scores, cmp_ns = _score_all(pair_fn, inputs, union, threads, bar)
        finally:
            bar.close()
        extract_ns.append(ext_ns)
        compare_ns.append(cmp_ns)

        ppi = sorted({image.ppi for image in images.values()})
        for protocol, (genuine, impostor) in wanted.items():
            g = np.array([scores[p] for p in genuine], dtype=np.float64)
            i = np.array([scores[p] for p in impostor], dtype=np.float64)
            rates = error_rates(g, i)
            report.rates[(name, protocol)] = rates
            report.scores[(name, protocol)] = (g, i)
            report.pairs[(name, protocol)] = (genuine, impostor)
            row = {
                "kind": "set",
                "set": name,
                "folder": str(folder),
                "protocol": protocol,
                "images": len(images),
                "ppi": ppi[0] if len(ppi) == 1 else ppi,
                **rates.to_dict(),
                "median_extract_ms": _median(ext_ns, 1e-6),
                "median_compare_us": _median(cmp_ns, 1e-3),
            }
            set_rows[protocol].append(row)
        if progress:
            log.info(
                "%s: %d images, %d comparisons, %s",
                name,
                len(images),
                len(union),
                ", ".join(f"{p} EER {report.rates[(name, p)].eer:.2f} %" for p in protocols),
            )

    all_ext = np.concatenate(extract_ns)
    all_cmp = np.concatenate(compare_ns)
    for protocol in protocols:
        rows = set_rows[protocol]
        report.rows.extend(rows)
        macro = {
            "kind": "macro",
            "set": "macro-average",
            "folder": None,
            "protocol": protocol,
            "images": sum(r["images"] for r in rows),
            "ppi": None,
        }
        for key in ErrorRates.__dataclass_fields__:
            if key.startswith("n_"):
                macro[key] = sum(r[key] for r in rows)
            else:
                macro[key] = statistics.fmean(r[key] for r in rows)
        macro["median_extract_ms"] = _median(all_ext, 1e-6)
        macro["median_compare_us"] = _median(all_cmp, 1e-3)
        report.rows.append(macro)
    return report
