"""Pick-up verification: read the card, capture the live fingers, match 1:1, decide.

The live right and left fingers (the chip's two finger positions: the index fingers unless
the card holds fallback fingers) come from a :class:`Scanner`: a scanner device object, or
:class:`ImageFileScanner` for image files. Each is matched against the chip template of the
same finger position with :func:`afis.compare`. The policy decides:

- ``"fused"`` (default): one decision from both fingers. Each score becomes the calibrated
  false match rate of a threshold at that score (:func:`afis.fmr_for_score`); the card is
  accepted when the product of the fingers' rates is small enough for a target false
  acceptance rate per card and attempt (``card_far``, 1e-8 by default: what "both" at
  FMR 1e-4 gives for two independent fingers). For two independent impostor fingers the
  product of their rates falls below ``a`` with probability ``a (1 - ln a)``; the required
  evidence ``-log10 a`` solves that for ``card_far``. A strong finger can so carry a weak
  one that "both" would reject, while two impostor fingers stay as unlikely to pass as
  before; a finger that could not be captured adds no evidence.
- ``"both"`` / ``"either"``: each finger against its own threshold at ``fmr``
  (:func:`afis.threshold_for_fmr`), both or one required.

Up to ``max_attempts`` captures; the outcome is ``"berhasil"`` (success: hand the card
over) or ``"gagal"`` (failed: the card goes back to be destroyed), with every score.

A card that fails mutual or passive authentication is ``"gagal"`` without capturing.
Transport faults (card removed, SAM locked or missing, garbled secure messaging) raise a
:class:`reader.errors.ReaderError`: nothing was decided, the operator reads again.

In issuance mode, a callable ``on_issued(nik, verification)`` records the outcome on the
record (``CARD_ISSUED`` in the data-centre store) after a success.

Examples
--------
>>> VerifyOptions().policy
'fused'
>>> round(required_evidence(1e-8), 2)  # decades of false match rate, both fingers together
9.35
>>> VerifyOptions(policy="either", fmr=1e-3).policy
'either'
>>> VerifyOptions(max_attempts=0)
Traceback (most recent call last):
...
ValueError: max_attempts must be 1..10, got 0
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from afis import compare, extract, fmr_for_score, load_image, threshold_for_fmr
from afis.errors import AfisError
from afis.image import FingerprintImage
from afis.template import FingerPosition, Template
from reader.constants import (
    CARD_FAR_RANGE,
    DEFAULT_CARD_FAR,
    DEFAULT_FMR,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_POLICY,
    MIN_LIVE_MINUTIAE,
    MIN_LIVE_QUALITY,
    POLICIES,
)
from reader.errors import AuthenticationError, CaptureError, PassiveAuthenticationError
from reader.sam import SamClient
from reader.session import CardData, Timings, read_card
from reader.transport import Link

__all__ = [
    "BERHASIL",
    "GAGAL",
    "Attempt",
    "ImageFileScanner",
    "Scanner",
    "Verification",
    "VerifyOptions",
    "evidence",
    "live_template",
    "mask",
    "match_card",
    "required_evidence",
    "verify",
]

log = logging.getLogger("reader.verify")

BERHASIL = "berhasil"
GAGAL = "gagal"


@dataclass(frozen=True)
class VerifyOptions:
    """Settings of a verification.

    Parameters
    ----------
    policy : {"fused", "both", "either"}
        One decision from both fingers' evidence (default), both fingers over their own
        threshold, or one finger over it.
    fmr : float
        False match rate of each finger's threshold (1e-4 .. 0.1) under "both" and "either";
        under "fused" it only sets the per-finger ``matched`` flags reported.
    max_attempts : int
        Captures before the outcome is "gagal" (1..10; 4 by default).
    dpi : int
        Resolution of live images given as files or arrays.
    card_far : float
        Target false acceptance rate per card and attempt of the "fused" policy
        (1e-12 .. 1e-2).
    """

    policy: str = DEFAULT_POLICY
    fmr: float = DEFAULT_FMR
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    dpi: int = 500
    card_far: float = DEFAULT_CARD_FAR

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"policy must be one of {', '.join(POLICIES)}; got {self.policy!r}")
        low, high = CARD_FAR_RANGE
        if (
            isinstance(self.card_far, bool)
            or not isinstance(self.card_far, float | int)
            or not low <= self.card_far <= high
        ):
            raise ValueError(f"card_far must be within {low:g}..{high:g}, got {self.card_far!r}")
        if not isinstance(self.fmr, float | int) or not 1e-4 <= self.fmr <= 0.1:
            raise ValueError(f"fmr must be within 1e-4..0.1, got {self.fmr!r}")
        if not isinstance(self.max_attempts, int) or not 1 <= self.max_attempts <= 10:
            raise ValueError(f"max_attempts must be 1..10, got {self.max_attempts!r}")
        if not isinstance(self.dpi, int) or not 250 <= self.dpi <= 1000:
            raise ValueError(f"dpi must be 250..1000, got {self.dpi!r}")

    @property
    def threshold(self) -> float:
        """The score threshold for :attr:`fmr`."""
        return threshold_for_fmr(float(self.fmr))


def required_evidence(card_far: float, fingers: int = 2) -> float:
    """Decades of false match rate the fingers must show together under the "fused" policy.

    The evidence of an attempt is ``-sum(log10(afis.fmr_for_score(score)))`` over the
    card's fingers. For ``fingers`` independent impostor fingers each rate is uniform on
    (0, 1], and their product falls below ``a`` with probability
    ``a * sum((-ln a)**j / j!, j < fingers)``; the result is ``-log10 a`` for the ``a`` that
    makes this ``card_far``.

    Examples
    --------
    >>> round(required_evidence(1e-4, fingers=1), 6)
    4.0
    >>> required_evidence(1e-8) > 8
    True
    """
    if isinstance(card_far, bool) or not isinstance(card_far, int | float):
        raise TypeError(f"card_far must be a number, got {type(card_far).__name__}")
    if not 0 < card_far < 1:
        raise ValueError(f"card_far must lie in (0, 1), got {card_far!r}")
    if isinstance(fingers, bool) or not isinstance(fingers, int) or fingers < 1:
        raise ValueError(f"fingers must be an int of at least 1, got {fingers!r}")

    def rate(decades: float) -> float:  # P(product < 10**-decades)
        ln = decades * math.log(10)
        return math.exp(-ln) * sum(ln**j / math.factorial(j) for j in range(fingers))

    low, high = 0.0, 60.0  # rate() falls from 1 at 0 decades
    for _ in range(100):
        middle = (low + high) / 2
        low, high = (middle, high) if rate(middle) > card_far else (low, middle)
    return high


def evidence(scores: Sequence[float | None]) -> float:
    """Decades of false match rate the scores show together: ``-sum(log10(
    afis.fmr_for_score(s)))``, a finger that could not be captured (None) adding nothing.

    Examples
    --------
    >>> from afis import threshold_for_fmr
    >>> round(evidence([threshold_for_fmr(1e-3), None, threshold_for_fmr(1e-2)]), 6)
    5.0
    """
    return -sum(math.log10(fmr_for_score(s)) for s in scores if s is not None)


LiveImage = str | Path | bytes | np.ndarray | FingerprintImage | Template


class Scanner(Protocol):
    """A fingerprint scanner: one live capture of a finger per call."""

    def capture(self, position: FingerPosition, attempt: int) -> LiveImage:
        """Capture ``position`` (attempt counts from 1)."""
        ...


class ImageFileScanner:
    """Live captures from image files: ``images[position][attempt - 1]``.

    Examples
    --------
    >>> s = ImageFileScanner({FingerPosition.RIGHT_INDEX: ["a.tif", "b.tif"]})
    >>> s.capture(FingerPosition.RIGHT_INDEX, 2)
    'b.tif'
    """

    def __init__(self, images: Mapping[FingerPosition, Sequence[LiveImage]]) -> None:
        self.images = {FingerPosition(int(k)): list(v) for k, v in images.items()}

    def capture(self, position: FingerPosition, attempt: int) -> LiveImage:
        """The image for this finger and attempt; CaptureError when none is left."""
        images = self.images.get(position, [])
        if attempt > len(images):
            raise CaptureError(f"no live image of {position.name} for attempt {attempt}")
        return images[attempt - 1]


def live_template(image: LiveImage, dpi: int = 500) -> Template:
    """Extract a live capture; CaptureError when it is not a usable fingerprint."""
    if isinstance(image, Template):
        return image
    try:
        if isinstance(image, str | Path | bytes):
            image = load_image(image, dpi=dpi)
        template = extract(image)
    except AfisError as exc:
        raise CaptureError(f"live image unusable: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise CaptureError(f"live image unusable: {exc}") from None
    if len(template.x) < MIN_LIVE_MINUTIAE or template.image_quality < MIN_LIVE_QUALITY:
        raise CaptureError(
            f"live image is not a usable fingerprint ({len(template.x)} minutiae, quality "
            f"{template.image_quality}; at least {MIN_LIVE_MINUTIAE} and {MIN_LIVE_QUALITY})"
        )
    return template


@dataclass
class Attempt:
    """One capture of both fingers: scores (None where the capture failed) and messages."""

    number: int
    scores: dict[FingerPosition, float | None]
    matched: dict[FingerPosition, bool]
    errors: dict[FingerPosition, str] = field(default_factory=dict)
    accepted: bool = False
    evidence: float | None = None  #: decades of FMR of both fingers ("fused" policy)


@dataclass
class Verification:
    """The outcome of one pick-up verification.

    ``fmr`` and ``threshold`` are each finger's; under the "fused" policy ``card_far`` is the
    target per card and ``evidence_needed`` the decades an attempt must show (see
    :func:`required_evidence`).
    """

    outcome: str
    message: str
    policy: str
    fmr: float
    threshold: float
    card_far: float | None = None
    evidence_needed: float | None = None
    attempts: list[Attempt] = field(default_factory=list)
    card: CardData | None = None
    checks: dict[str, bool] = field(default_factory=dict)
    timings: Timings = field(default_factory=Timings)

    @property
    def best_scores(self) -> dict[FingerPosition, float]:
        """Best score per finger over all attempts."""
        best: dict[FingerPosition, float] = {}
        for a in self.attempts:
            for p, s in a.scores.items():
                if s is not None:
                    best[p] = max(best.get(p, 0.0), s)
        return best


def match_card(
    fingers: Mapping[FingerPosition, Template],
    scanner: Scanner,
    options: VerifyOptions = VerifyOptions(),
    timings: Timings | None = None,
) -> Verification:
    """Match live captures against the chip's templates; the outcome with every score."""
    threshold = options.threshold
    timings = timings if timings is not None else Timings()
    result = _verification(options, "", fingers=max(len(fingers), 1))
    needed = result.evidence_needed  # what the card's fingers together must show ("fused")
    for number in range(1, options.max_attempts + 1):
        attempt = Attempt(number, {}, {})
        for position, enrolled in fingers.items():
            try:
                t = time.perf_counter()
                live = live_template(scanner.capture(position, number), options.dpi)
                timings.extract += time.perf_counter() - t
            except CaptureError as exc:
                attempt.scores[position], attempt.matched[position] = None, False
                attempt.errors[position] = str(exc)
                continue
            t = time.perf_counter()
            score = compare(live, enrolled)
            timings.match += time.perf_counter() - t
            attempt.scores[position] = score
            attempt.matched[position] = score >= threshold
        matched = list(attempt.matched.values())
        if needed is not None:
            attempt.evidence = evidence(list(attempt.scores.values()))
            attempt.accepted = bool(fingers) and attempt.evidence >= needed
        else:
            attempt.accepted = all(matched) if options.policy == "both" else any(matched)
        result.attempts.append(attempt)
        if attempt.accepted:
            result.outcome = BERHASIL
            result.message = f"fingers match at attempt {number} (policy {options.policy}"
            if needed is not None:
                result.message += (
                    f": {attempt.evidence:.2f} decades of FMR, {needed:.2f} needed for card "
                    f"FAR {options.card_far:g}"
                )
            result.message += ")"
            return result
        if all("no live image" in e for e in attempt.errors.values()) and attempt.errors:
            break
    scores = ", ".join(f"{p.name} {s:.4f}" for p, s in sorted(result.best_scores.items()))
    problems = "; ".join(e for a in result.attempts for e in a.errors.values())
    if needed is not None:
        shown = max((a.evidence or 0.0 for a in result.attempts), default=0.0)
        rule = (
            f"{needed:.2f} decades of FMR needed for card FAR {options.card_far:g}, "
            f"best {shown:.2f}"
        )
    else:
        rule = f"threshold {threshold:.4f}"
    result.message = (
        f"no match in {len(result.attempts)} attempt(s) at {rule} "
        f"(best: {scores or 'none'})" + (f"; {problems}" if problems else "")
    )
    return result


def _verification(options: VerifyOptions, message: str, fingers: int = 2) -> Verification:
    """An undecided ("gagal") verification carrying the options' decision rule for a card
    of ``fingers`` fingers."""
    fused = options.policy == "fused"
    return Verification(
        GAGAL,
        message,
        options.policy,
        float(options.fmr),
        options.threshold,
        card_far=float(options.card_far) if fused else None,
        evidence_needed=required_evidence(options.card_far, fingers) if fused else None,
    )


def verify(
    card: Link,
    sam: SamClient,
    scanner: Scanner,
    options: VerifyOptions = VerifyOptions(),
    on_issued: Callable[[str, Verification], None] | None = None,
) -> Verification:
    """Read the card through the SAM, check it, match the live fingers, decide.

    Parameters
    ----------
    card, sam : Link, SamClient
        The connected card and the unlocked SAM.
    scanner : Scanner
        Source of live captures.
    options : VerifyOptions
    on_issued : callable or None
        Issuance mode: called with the NIK and the verification after a success (records
        ``CARD_ISSUED`` on the store's record).

    Raises
    ------
    reader.errors.ReaderError
        When the card could not be read (removed, SAM locked, garbled secure messaging).
    """
    start = time.perf_counter()
    try:
        data = read_card(card, sam)
    except (AuthenticationError, PassiveAuthenticationError) as exc:
        name = "mutual" if isinstance(exc, AuthenticationError) else "passive"
        result = _verification(options, f"card rejected: {exc}")
        result.checks = {f"{name}_authentication": False}
        if name == "passive":
            result.checks["mutual_authentication"] = True
        log.warning("verification gagal on %s: %s", card.reader, exc)
        return result
    result = match_card(data.fingers, scanner, options, data.timings)
    result.card = data
    result.checks = dict(data.checks)
    result.timings = data.timings
    result.timings.total = time.perf_counter() - start
    log.info(
        "verification %s, NIK %s, %s",
        result.outcome,
        mask(data.biodata.nik),
        ", ".join(f"{p.name}={s:.4f}" for p, s in result.best_scores.items()),
    )
    if result.outcome == BERHASIL and on_issued is not None:
        on_issued(data.biodata.nik, result)
        log.info("issuance: CARD_ISSUED recorded for NIK %s", mask(data.biodata.nik))
    return result


def mask(nik: str) -> str:
    """A NIK with its date of birth hidden: region, six stars, serial.

    Examples
    --------
    >>> mask("3171230501900001")
    '317123******0001'
    """
    return nik[:6] + "*" * (len(nik) - 10) + nik[-4:] if len(nik) == 16 else "*" * len(nik)
