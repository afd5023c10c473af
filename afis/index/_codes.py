"""Binary codes of minutiae: coarse Minutia Cylinder-Code cylinders, computed directly.

Around each minutia, a cylinder aligned with its direction (Cappelli, Ferrara & Maltoni,
"Fingerprint Indexing Based on Minutia Cylinder-Code", IEEE TPAMI 2011, index such cylinders
as binary codes) is cut into a coarse grid: ``grid`` x ``grid`` square blocks spanning
``2 * radius`` pixels, times ``sections`` sections of relative direction. A bit is set when a
neighbouring minutia lies in the block (or within ``spread`` pixels of it) with a relative
direction in the section (or within ``angle_spread`` radians of it). Blocks whose centre lies
beyond ``radius`` are dropped. Coarse blocks behave like the matcher's 16 x 16 x 6 cylinder
cells pooled together (measured in ``benchmarks/INDEX.md``: pooled cylinders beat sampled
single cells by far) and cost a few microseconds per finger in vectorised numpy, without the
per-cell Gaussian sums.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import NamedTuple

import numba
import numpy as np

from afis._threads import resolve_threads
from afis.constants import MAX_MATCH_MINUTIAE, PROCESSING_PPI
from afis.template import Template

#: A minutia with fewer neighbours within the radius gets no code.
MIN_NEIGHBOURS = 2
TWO_PI = 2 * math.pi


def block_mask(grid: int, radius: float) -> np.ndarray:
    """Which blocks of the ``grid`` x ``grid`` base are kept: centre within ``radius``."""
    size = 2 * radius / grid
    centre = (np.arange(grid) - (grid - 1) / 2) * size
    return np.hypot(centre[:, None], centre[None, :]) <= radius * (1 + 1e-6)


@functools.lru_cache(maxsize=16)
def bit_table(grid: int, sections: int, radius: float, fold: bool) -> np.ndarray:
    """Bit of each (block, section), ``-1`` for dropped blocks: shape ``(grid * grid,
    sections)``, read-only (cached: every search and every add needs it).

    With ``fold``, the sections whose centre direction lies more than 60 degrees from both
    the minutia's direction and its opposite share one bit in every block outside the
    central ring (centre within ``radius / 2``). Ridges run nearly parallel, so a neighbour
    at right angles is rare (2-8 % of such bits are set, against 14-46 % of the others, in
    both FVC and ``afis.synth`` templates): folding them costs little information and, with
    6 sections and the 12 blocks of a 4 x 4 grid, brings the code from 72 to 64 bits, one
    8-byte word for faiss's fastest Hamming kernel.

    Examples
    --------
    >>> int(bit_table(4, 6, 70.0, False).max()) + 1, int(bit_table(4, 6, 70.0, True).max()) + 1
    (72, 64)
    """
    mask = block_mask(grid, radius).ravel()
    size = 2 * radius / grid
    centre = (np.arange(grid) - (grid - 1) / 2) * size
    inner = (np.hypot(centre[:, None], centre[None, :]) <= radius / 2).ravel()
    middle = (np.arange(sections) + 0.5) * TWO_PI / sections - math.pi  # relative direction
    across = np.abs(np.abs(middle) - math.pi / 2) < math.pi / 6
    table = np.full((grid * grid, sections), -1, np.int64)
    bit = 0
    for block in np.flatnonzero(mask):
        shared = -1
        for section in range(sections):
            if fold and across[section] and not inner[block]:
                if shared < 0:
                    shared, bit = bit, bit + 1
                table[block, section] = shared
            else:
                table[block, section], bit = bit, bit + 1
    table.flags.writeable = False
    return table


def code_bits(grid: int, sections: int, radius: float, fold: bool = False) -> int:
    """Meaningful bits of a code (before padding to whole bytes)."""
    return int(bit_table(grid, sections, radius, fold).max()) + 1


class _Minutiae(NamedTuple):
    x: np.ndarray
    y: np.ndarray
    direction: np.ndarray
    quality: np.ndarray


def _subset(template: Template, limit: int) -> _Minutiae:
    """The ``limit`` highest-quality minutiae, in template order."""
    keep = np.sort(np.argsort(-template.quality.astype(np.int32), kind="stable")[:limit])
    return _Minutiae(
        template.x[keep], template.y[keep], template.direction[keep], template.quality[keep]
    )


@numba.njit(parallel=True, cache=True, nogil=True)
def _encode_kernel(
    x: np.ndarray,
    y: np.ndarray,
    a: np.ndarray,
    q: np.ndarray,
    offsets: np.ndarray,
    grid: int,
    sections: int,
    radius: float,
    spread: float,
    angle_spread: float,
    max_codes: int,
    bit_of: np.ndarray,
    out: np.ndarray,
    coded: np.ndarray,
) -> None:  # pragma: no cover - compiled
    size = 2.0 * radius / grid
    width = TWO_PI / sections
    reach2 = (radius + spread) * (radius + spread)
    radius2 = radius * radius
    for t in numba.prange(len(offsets) - 1):
        s = offsets[t]
        e = offsets[t + 1]
        order = np.argsort(-q[s:e], kind="mergesort")
        done = 0
        for rank in range(e - s):
            if done >= max_codes:
                break
            i = s + order[rank]
            cos = math.cos(a[i])
            sin = math.sin(a[i])
            near = 0
            for j in range(s, e):
                if j == i:
                    continue
                dx = x[j] - x[i]
                dy = y[i] - y[j]  # y down in the template, up in the cylinder
                lu = dx * cos + dy * sin
                lv = -dx * sin + dy * cos
                d2 = lu * lu + lv * lv
                if d2 > reach2:
                    continue
                if d2 <= radius2:
                    near += 1
                u = lu + radius
                v = lv + radius
                d = (a[j] - a[i] + math.pi) % TWO_PI
                u0 = math.floor((u - spread) / size)
                u1 = math.floor((u + spread) / size)
                v0 = math.floor((v - spread) / size)
                v1 = math.floor((v + spread) / size)
                s0 = math.floor((d - angle_spread) / width)
                s1 = math.floor((d + angle_spread) / width)
                for bu in range(max(u0, 0), min(u1, grid - 1) + 1):
                    for bv in range(max(v0, 0), min(v1, grid - 1) + 1):
                        row = (bv * grid + bu) * sections
                        if bit_of[row] < 0:
                            continue
                        for sec in range(s0, s1 + 1):
                            bit = bit_of[row + sec % sections]
                            out[i, bit >> 3] |= np.uint8(1 << (bit & 7))
            if near >= MIN_NEIGHBOURS:
                coded[i] = True
                done += 1
            else:
                out[i, :] = 0


def template_codes(
    templates: Sequence[Template],
    *,
    grid: int,
    sections: int,
    radius: float,
    spread: float,
    angle_spread: float,
    max_codes: int,
    fold: bool = False,
    threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes of the templates' minutiae, the template each belongs to, and the minutiae.

    Each template's ``max_codes`` highest-quality minutiae with at least
    :data:`MIN_NEIGHBOURS` neighbours get a code, laid out by :func:`bit_table` (``fold``:
    the sections at right angles share a bit outside the inner blocks); templates are spread
    over ``threads`` threads.

    Returns
    -------
    codes : numpy.ndarray
        ``uint8`` array, one row of packed bits per code (little-endian bit order within a
        byte, bits padded to whole bytes).
    owner : numpy.ndarray
        ``int64`` position in ``templates`` of each code's template, ascending.
    geometry : numpy.ndarray
        ``float32`` rows ``(x, y, direction)`` of each code's minutia (pixels at 500 ppi, y
        down; radians).
    """
    bit_of = bit_table(grid, sections, radius, fold).ravel()
    bits = int(bit_of.max()) + 1
    nbytes = -(-bits // 8)
    parts = [
        t if len(t) <= MAX_MATCH_MINUTIAE else _subset(t, MAX_MATCH_MINUTIAE) for t in templates
    ]
    counts = np.fromiter((len(t.x) for t in parts), np.int64, len(parts))
    offsets = np.zeros(len(parts) + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    total = int(offsets[-1])
    scale = np.repeat(
        np.fromiter((PROCESSING_PPI / t.resolution for t in templates), np.float32, len(parts)),
        counts,
    )
    if total:
        x = np.concatenate([t.x for t in parts]).astype(np.float32) * scale
        y = np.concatenate([t.y for t in parts]).astype(np.float32) * scale
        a = np.concatenate([t.direction for t in parts]).astype(np.float32)
        q = np.concatenate([t.quality for t in parts]).astype(np.int32)
    else:
        x = y = a = np.zeros(0, np.float32)
        q = np.zeros(0, np.int32)
    out = np.zeros((total, nbytes), np.uint8)
    coded = np.zeros(total, np.bool_)
    if total:
        previous = numba.get_num_threads()
        numba.set_num_threads(min(resolve_threads(threads), numba.config.NUMBA_NUM_THREADS))
        try:
            _encode_kernel(
                x,
                y,
                a,
                q,
                offsets,
                grid,
                sections,
                float(radius),
                float(spread),
                float(angle_spread),
                max_codes,
                bit_of,
                out,
                coded,
            )
        finally:
            numba.set_num_threads(previous)
    owner = np.repeat(np.arange(len(parts), dtype=np.int64), counts)
    geometry = np.stack([x[coded], y[coded], a[coded]], axis=1)
    return out[coded], owner[coded], geometry
