"""Synthetic fingerprint populations at template level (no images).

A :class:`Population` is a seeded, unbounded set of people with ten fingers each. Finger
``f`` belongs to person ``f // 10`` at ISO finger position ``f % 10 + 1`` (right thumb ..
left little). Each finger has a *master*: the minutiae of the whole fingertip, placed with a
minimum spacing inside a finger-shaped ellipse, with directions that follow a smooth
orientation field with cores and deltas (zero-pole model, Sherlock & Monro 1993) of one of
five pattern classes. An *impression* of a master is what an extractor would report from one
capture: a partial contact area, plastic skin distortion (after Cappelli, Maio & Maltoni
2001: the outer skin turns and slides against an undistorted contact core), rotation and
translation on the sensor, lost and spurious minutiae, position, direction and quality noise.

Output is packed arrays (:class:`Masters`, :class:`Impressions`) that turn into
:class:`afis.Template` objects on demand. Every finger and impression draws from its own
random stream keyed by (seed, finger id, impression index): the same seed gives identical
output however the fingers are chunked, ordered or spread over threads (on one platform:
the kernels use the C maths library, whose last bits may differ between platforms). The
defaults were tuned so that the statistics of impressions (minutiae count,
nearest-neighbour spacing, genuine and impostor scores under :func:`afis.compare`) are
close to those of the engine's extractor on FVC2002 DB1_B; ``benchmarks/SYNTH.md`` has the
figures.

Examples
--------
>>> import afis
>>> from afis.synth import Population
>>> pop = Population(seed=7)
>>> batch = pop.impressions(range(3), impression=0)
>>> len(batch), batch.fingers.tolist()
(3, [0, 1, 2])
>>> t = batch.template(0)
>>> t.width, t.height, t.resolution, t.finger_position.name
(388, 374, 500.0, 'RIGHT_THUMB')
>>> again = Population(seed=7).impressions([2, 0], impression=0)
>>> again.template(1) == t
True
>>> mate = pop.impressions([0], impression=1).template(0)
>>> other = pop.impressions([5], impression=1).template(0)
>>> afis.compare(t, mate) > afis.compare(t, other)
True
"""

from __future__ import annotations

import dataclasses
import math
import operator
from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from afis._threads import resolve_threads
from afis.synth import _kernels as _k
from afis.template import FingerPosition, SingularType, Template

__all__ = [
    "PATTERN_CLASSES",
    "PROFILES",
    "Impressions",
    "Masters",
    "Population",
    "SynthOptions",
    "background",
]

#: Pattern class names, in the order of :attr:`SynthOptions.pattern_proportions` and of the
#: codes in :attr:`Masters.pattern`.
PATTERN_CLASSES = ("arch", "tented_arch", "left_loop", "right_loop", "whorl")

#: Largest finger id (ids are non-negative integers below this).
MAX_FINGER_ID = 2**48
#: Largest impression index (exclusive).
MAX_IMPRESSION = 2**32
#: Resolution of the synthetic templates' grid (ppi).
RESOLUTION = 500.0
#: Fingers per kernel call (bounds the scratch memory to about 40 MB) and the default
#: chunk of :meth:`Population.iter_impressions`.
DEFAULT_CHUNK = 2048


@dataclass(frozen=True)
class SynthOptions:
    """Statistics of a synthetic population; frozen and validated.

    Lengths are pixels on a 500 ppi grid, angles degrees.

    Parameters
    ----------
    width, height : int
        Size of the impressions' image grid (default: FVC2002 DB1, 388 x 374).
    pattern_proportions : tuple of 5 float
        Shares of arch, tented arch, left loop, right loop and whorl; non-negative, sum 1.
    person_correlation : float
        Probability that a finger takes its person's pattern class rather than an
        independent draw (the marginal shares stay as given).
    finger_semi_axes : tuple of 2 float
        Mean semi-axes (x, y) of the fingertip ellipse of a master; thumbs are 12 % larger,
        little fingers 14 % smaller, each finger varies by about 6 %.
    minutia_density : float
        Mean master minutiae per square pixel.
    density_spread : float
        Standard deviation of the log density between fingers.
    min_distance : float
        No two master minutiae are closer than this.
    ending_fraction : float
        Share of ridge endings (the rest are bifurcations).
    orientation_noise : float
        Standard deviation of a master minutia's direction about the orientation field.
    convergent_sense : float
        Share of master minutiae whose direction points where the ridge flow converges
        (0.5: a random sense). Real minutiae mostly do, and the shared pattern makes
        unrelated fingers agree more often: with a random sense the impostor tail is about
        ten times lighter than real (``benchmarks/SYNTH.md``).
    flow_density : float
        How much more likely a master minutia is where the flow spreads or narrows fastest
        (divergence of 0.01 radian per pixel or more, near cores and deltas) than where the
        ridges run parallel: darts elsewhere are kept with probability down to
        1 / (1 + flow_density). 0 places them uniformly. Real minutiae gather there: with
        uniform placement the impostor tail is lighter still.
    contact_scale : tuple of 2 float
        Range of the contact ellipse's semi-axes as fractions of the master's.
    contact_shift : float
        Standard deviation of the contact centre, as a fraction of the master's semi-axes.
    rotation_sd, max_rotation : float
        Rotation of an impression on the sensor: normal, clipped to +-max_rotation.
    translation_sd : float
        Standard deviation of the contact centre about the image centre.
    distortion_rotation_sd, distortion_translation_sd : float
        Plastic distortion: turn and slide of the outer skin against the contact core.
    distortion_inner : float
        Undistorted core, as a fraction of the contact ellipse (0..1); the distortion grows
        smoothly to its full value at the contact edge.
    drop_rate : float
        Mean share of true minutiae the extractor misses (more for low-quality ones and in
        poor captures, see ``condition_spread``).
    spurious_rate : float
        Spurious minutiae per kept true one.
    spurious_pair_fraction : float
        Share of spurious events that are broken ridges (two facing endings).
    position_noise, direction_noise : float
        Standard deviations of the per-minutia position and direction error.
    type_swap_rate : float
        Share of minutiae whose type flips (ending <-> bifurcation).
    condition_spread : float
        Standard deviation of the log of an impression's capture condition, which scales
        its miss and spurious rates (mean 1): some captures are much worse than others.
    quality_noise : float
        Standard deviation of the per-impression minutia quality about the master's.
    border : float
        Minutiae closer than this to the contact edge or the image edge are not reported.

    Examples
    --------
    >>> SynthOptions().width, SynthOptions(width=300, height=300).height
    (388, 300)
    >>> SynthOptions(drop_rate=1.5)
    Traceback (most recent call last):
    ...
    ValueError: SynthOptions.drop_rate must be in [0, 0.66], got 1.5
    """

    width: int = 388
    height: int = 374
    pattern_proportions: tuple[float, float, float, float, float] = (
        0.037,
        0.029,
        0.338,
        0.317,
        0.279,
    )
    person_correlation: float = 0.5
    finger_semi_axes: tuple[float, float] = (160.0, 235.0)
    minutia_density: float = 5.0e-4
    density_spread: float = 0.05
    min_distance: float = 13.0
    ending_fraction: float = 0.5
    orientation_noise: float = 4.0
    convergent_sense: float = 0.9
    flow_density: float = 30.0
    contact_scale: tuple[float, float] = (0.6, 1.0)
    contact_shift: float = 0.15
    rotation_sd: float = 10.0
    max_rotation: float = 30.0
    translation_sd: float = 20.0
    distortion_rotation_sd: float = 1.5
    distortion_translation_sd: float = 2.5
    distortion_inner: float = 0.35
    drop_rate: float = 0.12
    spurious_rate: float = 0.18
    spurious_pair_fraction: float = 0.25
    position_noise: float = 1.5
    direction_noise: float = 6.0
    type_swap_rate: float = 0.1
    condition_spread: float = 0.6
    quality_noise: float = 12.0
    border: float = 12.0

    def __post_init__(self) -> None:
        for name, lo, hi in (("width", 32, 0xFFFF), ("height", 32, 0xFFFF)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise TypeError(f"SynthOptions.{name} must be an int, got {type(v).__name__}")
            if not lo <= v <= hi:
                raise ValueError(f"SynthOptions.{name} must be in {lo}..{hi}, got {v}")
            object.__setattr__(self, name, int(v))
        for name, lo, hi in _RANGES:
            object.__setattr__(self, name, _real(name, getattr(self, name), lo, hi))
        props = _real_tuple("pattern_proportions", self.pattern_proportions, 5, 0.0, 1.0)
        if abs(sum(props) - 1.0) > 1e-6:
            raise ValueError(f"SynthOptions.pattern_proportions must sum to 1, got {sum(props)}")
        object.__setattr__(self, "pattern_proportions", props)
        axes = _real_tuple("finger_semi_axes", self.finger_semi_axes, 2, 40.0, 2000.0)
        object.__setattr__(self, "finger_semi_axes", axes)
        contact = _real_tuple("contact_scale", self.contact_scale, 2, 0.1, 1.0)
        if contact[0] > contact[1]:
            raise ValueError(f"SynthOptions.contact_scale must be (low, high), got {contact}")
        object.__setattr__(self, "contact_scale", contact)
        expected = math.pi * axes[0] * axes[1] * self.minutia_density
        if expected * math.exp(3 * self.density_spread) > _k.MAX_MASTER_MINUTIAE:
            raise ValueError(
                f"SynthOptions.minutia_density {self.minutia_density} with finger_semi_axes "
                f"{axes} asks for about {expected:.0f} master minutiae; at most "
                f"{_k.MAX_MASTER_MINUTIAE} are generated"
            )

    def _vector(self) -> np.ndarray:
        p = np.zeros(_k.P_SIZE)
        p[_k.P_CUM_ARCH : _k.P_CUM_ARCH + 5] = np.cumsum(self.pattern_proportions)
        p[_k.P_PERSON_CORR] = self.person_correlation
        p[_k.P_AXIS_X], p[_k.P_AXIS_Y] = self.finger_semi_axes
        p[_k.P_DENSITY] = self.minutia_density
        p[_k.P_DENSITY_SPREAD] = self.density_spread
        p[_k.P_MIN_DISTANCE] = self.min_distance
        p[_k.P_ENDING] = self.ending_fraction
        p[_k.P_ORIENT_NOISE] = math.radians(self.orientation_noise)
        p[_k.P_CONVERGE] = self.convergent_sense
        p[_k.P_FLOW_DENSITY] = self.flow_density
        p[_k.P_CONTACT_LO], p[_k.P_CONTACT_HI] = self.contact_scale
        p[_k.P_CONTACT_SHIFT] = self.contact_shift
        p[_k.P_ROT_SD] = math.radians(self.rotation_sd)
        p[_k.P_ROT_MAX] = math.radians(self.max_rotation)
        p[_k.P_TRANS_SD] = self.translation_sd
        p[_k.P_DIST_ROT_SD] = math.radians(self.distortion_rotation_sd)
        p[_k.P_DIST_TRANS_SD] = self.distortion_translation_sd
        p[_k.P_DIST_INNER] = self.distortion_inner
        p[_k.P_DROP] = self.drop_rate
        p[_k.P_SPURIOUS] = self.spurious_rate
        p[_k.P_PAIR] = self.spurious_pair_fraction
        p[_k.P_POS_NOISE] = self.position_noise
        p[_k.P_DIR_NOISE] = math.radians(self.direction_noise)
        p[_k.P_SWAP] = self.type_swap_rate
        p[_k.P_QUAL_NOISE] = self.quality_noise
        p[_k.P_CONDITION] = self.condition_spread
        p[_k.P_BORDER] = self.border
        p[_k.P_WIDTH] = self.width
        p[_k.P_HEIGHT] = self.height
        return p


# (name, low, high) of every scalar real option; drop_rate times 1.5 (its weight for the
# poorest minutiae) must stay a probability.
_RANGES: tuple[tuple[str, float, float], ...] = (
    ("person_correlation", 0.0, 1.0),
    ("minutia_density", 1e-5, 5e-3),
    ("density_spread", 0.0, 1.0),
    ("min_distance", 0.0, 40.0),
    ("ending_fraction", 0.0, 1.0),
    ("orientation_noise", 0.0, 90.0),
    ("convergent_sense", 0.0, 1.0),
    ("flow_density", 0.0, 100.0),
    ("contact_shift", 0.0, 1.0),
    ("rotation_sd", 0.0, 180.0),
    ("max_rotation", 0.0, 180.0),
    ("translation_sd", 0.0, 1000.0),
    ("distortion_rotation_sd", 0.0, 30.0),
    ("distortion_translation_sd", 0.0, 100.0),
    ("distortion_inner", 0.0, 0.95),
    ("drop_rate", 0.0, 0.66),
    ("spurious_rate", 0.0, 5.0),
    ("spurious_pair_fraction", 0.0, 1.0),
    ("position_noise", 0.0, 50.0),
    ("direction_noise", 0.0, 180.0),
    ("type_swap_rate", 0.0, 1.0),
    ("condition_spread", 0.0, 2.0),
    ("quality_noise", 0.0, 100.0),
    ("border", 0.0, 200.0),
)


def _real(name: str, value: Any, lo: float, hi: float) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"SynthOptions.{name} must be a real number, got {type(value).__name__}")
    v = float(value)
    if not (math.isfinite(v) and lo <= v <= hi):
        raise ValueError(f"SynthOptions.{name} must be in [{lo:g}, {hi:g}], got {value!r}")
    return v


def _real_tuple(name: str, value: Any, size: int, lo: float, hi: float) -> tuple[float, ...]:
    if not isinstance(value, (tuple, list)) or len(value) != size:
        raise TypeError(f"SynthOptions.{name} must be a tuple of {size} numbers, got {value!r}")
    return tuple(_real(f"{name}[{i}]", v, lo, hi) for i, v in enumerate(value))


def _ids(value: Any, what: str, limit: int) -> np.ndarray:
    """Finger ids or impression indices: an int n (meaning 0..n-1 for fingers), a range or
    a 1-D array-like of non-negative integers below ``limit``."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{what} must be integers, not a bool")
    if isinstance(value, range):
        value = np.arange(value.start, value.stop, value.step, dtype=np.int64)
    try:
        arr = np.asarray(value)
    except Exception as exc:
        raise TypeError(f"{what} cannot be converted to an array: {exc}") from None
    if arr.dtype.kind not in "iu" and not (arr.size == 0 and arr.dtype.kind == "f"):
        raise TypeError(f"{what} must be integers, got dtype {arr.dtype}")
    if arr.ndim > 1:
        raise ValueError(f"{what} must be 1-D, got shape {arr.shape}")
    arr = arr.astype(np.int64, copy=False).reshape(-1) if arr.size else np.empty(0, np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= limit):
        raise ValueError(f"{what} must be in 0..{limit - 1}, got {arr.min()}..{arr.max()}")
    return np.ascontiguousarray(arr)


@dataclass(frozen=True, eq=False)
class Masters:
    """Master minutiae of a set of fingers, packed.

    Finger ``i`` (id ``fingers[i]``) has minutiae ``offsets[i]:offsets[i+1]`` of ``x``,
    ``y`` (float32, pixels in the master frame: origin at the fingertip ellipse's centre, y
    down), ``direction`` (float32 radians, template convention), ``type`` (uint8
    :class:`afis.MinutiaType` codes) and ``quality`` (uint8, 0..100). ``pattern`` holds
    the class codes (indices into :data:`PATTERN_CLASSES`), ``semi_axes`` the ellipse
    (N, 2), and ``singular_offsets``/``singular_x``/``singular_y``/``singular_type`` the
    cores and deltas.

    Examples
    --------
    >>> m = Population(seed=1).masters(4)
    >>> len(m), m.offsets.shape, int(m.counts().min()) > 40
    (4, (5,), True)
    >>> t = m.template(0)
    >>> len(t) == int(m.counts()[0]), t.width > 2 * float(m.semi_axes[0, 0])
    (True, True)
    """

    fingers: np.ndarray
    offsets: np.ndarray
    x: np.ndarray
    y: np.ndarray
    direction: np.ndarray
    type: np.ndarray
    quality: np.ndarray
    pattern: np.ndarray
    semi_axes: np.ndarray
    singular_offsets: np.ndarray
    singular_x: np.ndarray
    singular_y: np.ndarray
    singular_type: np.ndarray

    def __len__(self) -> int:
        return int(self.fingers.shape[0])

    def counts(self) -> np.ndarray:
        """Minutiae per finger (int64)."""
        return np.diff(self.offsets)

    def template(self, i: int) -> Template:
        """Master ``i`` as a :class:`afis.Template` on a grid just holding its ellipse."""
        i = _index(i, len(self))
        a, b = self.semi_axes[i]
        margin = 2
        w, h = math.ceil(2 * a) + 2 * margin, math.ceil(2 * b) + 2 * margin
        sl = slice(self.offsets[i], self.offsets[i + 1])
        ss = slice(self.singular_offsets[i], self.singular_offsets[i + 1])

        def grid(v: np.ndarray, centre: float, size: int) -> np.ndarray:
            return np.clip(np.rint(v + centre), 0, size - 1).astype(np.uint16)

        return Template(
            width=w,
            height=h,
            resolution=RESOLUTION,
            source_resolution=RESOLUTION,
            x=grid(self.x[sl], w / 2, w),
            y=grid(self.y[sl], h / 2, h),
            direction=self.direction[sl],
            type=self.type[sl],
            quality=self.quality[sl],
            image_quality=round(float(self.quality[sl].mean())) if sl.stop > sl.start else 0,
            finger_position=_position(int(self.fingers[i])),
            singular_x=grid(self.singular_x[ss], w / 2, w),
            singular_y=grid(self.singular_y[ss], h / 2, h),
            singular_type=self.singular_type[ss],
        )

    def templates(self) -> list[Template]:
        """Every master as a :class:`afis.Template`."""
        return [self.template(i) for i in range(len(self))]


@dataclass(frozen=True, eq=False)
class Impressions:
    """Impressions (one per row) in the packed form an index builds from.

    Row ``i`` is impression ``impressions[i]`` of finger ``fingers[i]``; its minutiae are
    ``offsets[i]:offsets[i+1]`` of ``x``, ``y`` (uint16 pixels on the ``width`` x
    ``height`` grid at 500 ppi), ``direction`` (float32 radians on the template's
    2 pi/65536 grid), ``type`` and ``quality`` (uint8). ``image_quality`` is per row.

    Examples
    --------
    >>> b = Population(seed=3).impressions([10, 11, 12], impression=[0, 0, 4])
    >>> int(b.offsets[-1]) == len(b.x), b.x.dtype.name, b.direction.dtype.name
    (True, 'uint16', 'float32')
    >>> [t.finger_position.name for t in b.templates()]
    ['RIGHT_THUMB', 'RIGHT_INDEX', 'RIGHT_MIDDLE']
    """

    fingers: np.ndarray
    impressions: np.ndarray
    offsets: np.ndarray
    x: np.ndarray
    y: np.ndarray
    direction: np.ndarray
    type: np.ndarray
    quality: np.ndarray
    image_quality: np.ndarray
    width: int
    height: int

    def __len__(self) -> int:
        return int(self.fingers.shape[0])

    def counts(self) -> np.ndarray:
        """Minutiae per impression (int64)."""
        return np.diff(self.offsets)

    def template(self, i: int) -> Template:
        """Row ``i`` as a :class:`afis.Template`."""
        i = _index(i, len(self))
        sl = slice(self.offsets[i], self.offsets[i + 1])
        return Template(
            width=self.width,
            height=self.height,
            resolution=RESOLUTION,
            source_resolution=RESOLUTION,
            x=self.x[sl],
            y=self.y[sl],
            direction=self.direction[sl],
            type=self.type[sl],
            quality=self.quality[sl],
            image_quality=int(self.image_quality[i]),
            finger_position=_position(int(self.fingers[i])),
        )

    def templates(self) -> list[Template]:
        """Every row as a :class:`afis.Template`."""
        return [self.template(i) for i in range(len(self))]


def _index(i: Any, n: int) -> int:
    try:
        k = operator.index(i)
    except TypeError:
        raise TypeError(f"index must be an integer, got {type(i).__name__}") from None
    if not -n <= k < n:
        raise IndexError(f"index {k} out of range for {n} rows")
    return k % n


def _position(finger: int) -> FingerPosition:
    return FingerPosition(finger % 10 + 1)


class Population:
    """A seeded synthetic population: people with ten fingers, any number of impressions.

    Parameters
    ----------
    seed : int
        Any non-negative integer; it fixes every finger and impression.
    options : SynthOptions, optional
        Statistics; default :class:`SynthOptions()`.

    Examples
    --------
    >>> pop = Population(seed=11)
    >>> a = pop.impressions(range(1000, 1004), impression=2)
    >>> b = Population(11).impressions([1003, 1001], impression=2)
    >>> b.template(0) == a.template(3) and b.template(1) == a.template(1)
    True
    >>> sum(len(c) for c in pop.iter_impressions(range(10), chunk_size=4))
    10
    """

    def __init__(self, seed: int, options: SynthOptions | None = None) -> None:
        if isinstance(seed, (bool, np.bool_)):
            raise TypeError("seed must be an integer, not a bool")
        try:
            seed = operator.index(seed)
        except TypeError:
            raise TypeError(f"seed must be an integer, got {type(seed).__name__}") from None
        if seed < 0:
            raise ValueError(f"seed must be non-negative, got {seed}")
        if options is None:
            options = SynthOptions()
        if not isinstance(options, SynthOptions):
            raise TypeError(f"options must be SynthOptions, got {type(options).__name__}")
        self.seed = seed
        self.options = options
        # one 64-bit key from any-size seed
        state = np.random.SeedSequence(seed).generate_state(2, np.uint32)
        self._key = np.uint64((int(state[0]) << 32) | int(state[1]))
        self._p = options._vector()

    def __repr__(self) -> str:
        return f"Population(seed={self.seed})"

    def _masters_raw(self, fingers: np.ndarray) -> tuple[np.ndarray, ...]:
        n = fingers.shape[0]
        cap = _k.MAX_MASTER_MINUTIAE
        counts = np.zeros(n, np.int64)
        mx = np.zeros((n, cap))
        my = np.zeros((n, cap))
        md = np.zeros((n, cap))
        mt = np.zeros((n, cap), np.uint8)
        mq = np.zeros((n, cap))
        fld = np.zeros((n, _k.F_SIZE))
        sx = np.zeros((n, _k.MAX_SINGULAR))
        sy = np.zeros((n, _k.MAX_SINGULAR))
        st = np.zeros((n, _k.MAX_SINGULAR), np.uint8)
        _k.masters_kernel(self._key, fingers, self._p, counts, mx, my, md, mt, mq, fld, sx, sy, st)
        return counts, mx, my, md, mt, mq, fld, sx, sy, st

    def masters(self, fingers: Any) -> Masters:
        """The master minutiae of ``fingers``.

        Parameters
        ----------
        fingers : int, range or array_like of int
            Finger ids (``n`` means ``range(n)``); any order, repeats allowed.

        Returns
        -------
        Masters
        """
        ids = _fingers(fingers)
        parts = [
            self._masters_chunk(ids[i : i + DEFAULT_CHUNK])
            for i in range(0, max(ids.shape[0], 1), DEFAULT_CHUNK)
        ]
        return parts[0] if len(parts) == 1 else _concat(Masters, parts)

    def _masters_chunk(self, ids: np.ndarray) -> Masters:
        counts, mx, my, md, mt, mq, fld, sx, sy, st = self._masters_raw(ids)
        keep = np.arange(_k.MAX_MASTER_MINUTIAE)[None, :] < counts[:, None]
        offsets = np.zeros(len(ids) + 1, np.int64)
        np.cumsum(counts, out=offsets[1:])
        ns = fld[:, _k.F_NSING].astype(np.int64)
        skeep = np.arange(_k.MAX_SINGULAR)[None, :] < ns[:, None]
        soff = np.zeros(len(ids) + 1, np.int64)
        np.cumsum(ns, out=soff[1:])
        codes = np.where(st[skeep] == 1, int(SingularType.CORE), int(SingularType.DELTA))
        return Masters(
            fingers=ids,
            offsets=offsets,
            x=mx[keep].astype(np.float32),
            y=my[keep].astype(np.float32),
            direction=_grid_direction(md[keep]),
            type=mt[keep],
            quality=np.rint(mq[keep]).astype(np.uint8),
            pattern=fld[:, _k.F_CLASS].astype(np.uint8),
            semi_axes=fld[:, _k.F_A : _k.F_B + 1].copy(),
            singular_offsets=soff,
            singular_x=sx[skeep].astype(np.float32),
            singular_y=sy[skeep].astype(np.float32),
            singular_type=codes.astype(np.uint8),
        )

    def impressions(self, fingers: Any, impression: Any = 0) -> Impressions:
        """Impressions of ``fingers``, one per finger.

        Parameters
        ----------
        fingers : int, range or array_like of int
            Finger ids (``n`` means ``range(n)``); any order, repeats allowed.
        impression : int or array_like of int
            Impression index for every finger, or one per finger. Impression ``k`` of a
            finger is the same whatever else is generated with it.

        Returns
        -------
        Impressions
        """
        ids = _fingers(fingers)
        imp = _impression_indices(impression, ids)
        parts = [
            self._impressions_chunk(ids[i : i + DEFAULT_CHUNK], imp[i : i + DEFAULT_CHUNK])
            for i in range(0, max(ids.shape[0], 1), DEFAULT_CHUNK)
        ]
        return parts[0] if len(parts) == 1 else _concat(Impressions, parts)

    def _impressions_chunk(self, ids: np.ndarray, imp: np.ndarray) -> Impressions:
        unique, rows = np.unique(ids, return_inverse=True)
        counts, mx, my, md, mt, mq, fld, sx, sy, st = self._masters_raw(unique)
        n = ids.shape[0]
        cap = _k.MAX_IMPRESSION_MINUTIAE
        offsets = np.zeros(n + 1, np.int64)
        ox = np.empty(n * cap, np.uint16)
        oy = np.empty(n * cap, np.uint16)
        od = np.empty(n * cap, np.float64)
        ot = np.empty(n * cap, np.uint8)
        oq = np.empty(n * cap, np.uint8)
        iq = np.empty(n, np.uint8)
        _k.impressions_kernel(
            self._key,
            ids,
            imp,
            rows.astype(np.int64).reshape(-1),
            self._p,
            counts,
            mx,
            my,
            md,
            mt,
            mq,
            fld,
            sx,
            sy,
            st,
            offsets,
            ox,
            oy,
            od,
            ot,
            oq,
            iq,
        )
        m = int(offsets[-1])
        return Impressions(
            fingers=ids,
            impressions=imp,
            offsets=offsets,
            x=ox[:m].copy(),
            y=oy[:m].copy(),
            direction=_grid_direction(od[:m]),
            type=ot[:m].copy(),
            quality=oq[:m].copy(),
            image_quality=iq,
            width=self.options.width,
            height=self.options.height,
        )

    def iter_impressions(
        self,
        fingers: Any,
        impression: Any = 0,
        *,
        chunk_size: int = DEFAULT_CHUNK,
        threads: int | None = 1,
    ) -> Iterator[Impressions]:
        """Impressions of ``fingers`` in chunks of ``chunk_size`` rows.

        Arguments as :meth:`impressions`; the chunks hold exactly the rows of
        ``self.impressions(fingers, impression)``, in order, with bounded memory.
        ``threads`` chunks are generated at once (``None``: one per CPU); the output does
        not depend on it.

        Yields
        ------
        Impressions
        """
        ids = _fingers(fingers)
        imp = _impression_indices(impression, ids)
        size = _count(chunk_size, "chunk_size")
        if size == 0:
            raise ValueError("chunk_size must be positive")
        workers = resolve_threads(threads)
        starts = range(0, ids.shape[0], size)
        if workers == 1:
            for start in starts:
                yield self.impressions(ids[start : start + size], imp[start : start + size])
            return
        with ThreadPoolExecutor(workers) as pool:
            pending: deque[Future[Impressions]] = deque()
            for start in starts:
                sl = slice(start, start + size)
                pending.append(pool.submit(self.impressions, ids[sl], imp[sl]))
                if len(pending) > 2 * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()


def _fingers(fingers: Any) -> np.ndarray:
    if isinstance(fingers, (int, np.integer)) and not isinstance(fingers, (bool, np.bool_)):
        fingers = range(_count(fingers))
    return _ids(fingers, "fingers", MAX_FINGER_ID)


def _impression_indices(impression: Any, ids: np.ndarray) -> np.ndarray:
    if isinstance(impression, (int, np.integer)) and not isinstance(impression, (bool, np.bool_)):
        first = _ids([impression], "impression", MAX_IMPRESSION)[0]
        return np.full(ids.shape, first, np.int64)
    imp = _ids(impression, "impression", MAX_IMPRESSION)
    if imp.shape != ids.shape:
        raise ValueError(
            f"impression must be one int or one per finger ({ids.size}), got {imp.size}"
        )
    return imp


def _concat(cls: type, parts: list[Any]) -> Any:
    """Concatenate packed batches: offset arrays are rebased, the rest joined."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        values = [getattr(p, f.name) for p in parts]
        if f.name in ("width", "height"):
            out[f.name] = values[0]
        elif f.name.endswith("offsets"):
            joined = [values[0]]
            for v in values[1:]:
                joined.append(v[1:] + joined[-1][-1])
            out[f.name] = np.concatenate(joined)
        else:
            out[f.name] = np.concatenate(values)
    return cls(**out)


def _count(value: Any, what: str = "fingers") -> int:
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{what} must be an integer, not a bool")
    try:
        v = operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be an integer, got {type(value).__name__}") from None
    if not 0 <= v <= MAX_FINGER_ID:
        raise ValueError(f"{what} must be in 0..{MAX_FINGER_ID}, got {v}")
    return v


def _grid_direction(d: np.ndarray) -> np.ndarray:
    """Radians -> float32 on the template's 2 pi/65536 grid, [0, 2 pi)."""
    codes = np.rint(np.asarray(d, np.float64) * (65536 / (2 * math.pi))).astype(np.int64) % 65536
    return (codes * (2 * math.pi / 65536)).astype(np.float32)


#: Options tuned to imitate the engine's extractor on particular sensors (see
#: ``benchmarks/SYNTH.md``): ``"fvc2002_db1"`` (optical, 388 x 374, the defaults) and
#: ``"fvc2000_db1"`` (low-cost optical, 300 x 300: the finger fills the window and the
#: captures are noisier).
PROFILES: Mapping[str, SynthOptions] = MappingProxyType(
    {
        "fvc2002_db1": SynthOptions(),
        "fvc2000_db1": SynthOptions(
            width=300,
            height=300,
            translation_sd=10.0,
            contact_scale=(0.75, 1.0),
            drop_rate=0.15,
            spurious_rate=0.5,
        ),
    }
)


def background(count: int, seed: int) -> Iterator[Template]:
    """First impressions of ``count`` synthetic fingers, as templates.

    The background source of ``afis bench identify`` (signature ``(count, seed)``): fingers
    ``0 .. count-1`` of ``Population(seed)``, impression 0, generated in chunks on all
    cores, so a million fingers stream without holding their arrays at once.

    Parameters
    ----------
    count : int
        Number of fingers, at least 0.
    seed : int
        Seed of the population.

    Yields
    ------
    Template

    Examples
    --------
    >>> ts = list(background(3, seed=7))
    >>> len(ts), ts[0] == list(background(1, seed=7))[0]
    (3, True)
    """
    n = _count(count, "count")
    if n == 0:
        return
    for chunk in Population(seed).iter_impressions(range(n), 0, threads=None):
        yield from chunk.templates()
