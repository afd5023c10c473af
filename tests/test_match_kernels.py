"""The matcher's run-time kernels: every SIMD level, and the short paths, give the same scores.

The native matcher picks its instruction set at run time (plain, AVX2, AVX-512 VPOPCNTDQ) and
takes short cuts that must not change a bit of any score: popcounts skipped for cylinders
whose valid cells are the whole disk, a greedy pair selection without a sort, denormals
flushed in the relaxation. These tests cap the level through a test hook and compare every
level the processor offers, on real-looking and on arbitrary (hostile) cylinder bits, against
each other and against a plain NumPy statement of the local similarity, and the whole score
against reference scores of the matcher before these speed-ups (``tests/data``).
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np
import pytest
from _shared import simd_levels

import afis
from afis import Gallery, Matcher, Template
from afis._native import _core
from afis.match import _cylinders

REFERENCE = Path(__file__).resolve().parent / "data" / "matcher_reference.npz"
TWO_PI = np.float32(2 * np.pi)
PI = np.float32(np.pi)
SPATIAL_CELLS, DIRECTION_CELLS, RADIUS = 16, 6, np.float32(70.0)
CELLS = SPATIAL_CELLS * SPATIAL_CELLS * DIRECTION_CELLS
MIN_MATCHABLE = int(np.float32(0.6) * CELLS)


def _random_template(seed: int, n: int = 40, size: int = 400) -> Template:
    rng = np.random.default_rng(seed)
    return Template(
        width=size,
        height=size,
        resolution=500.0,
        source_resolution=500.0,
        x=rng.integers(40, size - 40, n),
        y=rng.integers(40, size - 40, n),
        direction=rng.uniform(0, 2 * np.pi, n),
        type=rng.integers(1, 3, n),
        quality=np.full(n, 80),
        image_quality=80,
    )


def _jittered(t: Template, seed: int) -> Template:
    """``t`` with a few minutiae dropped and the rest moved by a pixel or two (genuine-like)."""
    rng = np.random.default_rng(seed)
    keep = rng.random(len(t)) < 0.85
    return Template(
        width=t.width,
        height=t.height,
        resolution=t.resolution,
        source_resolution=t.source_resolution,
        x=np.clip(t.x[keep].astype(int) + rng.integers(-2, 3, keep.sum()), 0, t.width - 1),
        y=np.clip(t.y[keep].astype(int) + rng.integers(-2, 3, keep.sum()), 0, t.height - 1),
        direction=(t.direction[keep] + rng.normal(0, 0.05, keep.sum())) % (2 * np.pi),
        type=t.type[keep],
        quality=t.quality[keep],
        image_quality=t.image_quality,
    )


def _templates() -> list[Template]:
    base = [_random_template(s, n=20 + 3 * s) for s in range(8)]
    return base + [_jittered(t, 100 + i) for i, t in enumerate(base)]


def _all_pairs(templates: list[Template]) -> np.ndarray:
    gallery = Gallery.from_templates(templates)
    return np.stack([Matcher(t).compare_many(gallery, threads=2) for t in templates])


def test_the_processor_level_is_reported():
    assert 0 <= _core._simd_level() <= _core._simd_supported() <= 2
    with pytest.raises(ValueError, match="SIMD level"):
        _core._set_simd_limit(3)


def test_every_simd_level_gives_the_same_scores(level_cap):
    templates = _templates()
    scores = {}
    for level in simd_levels():
        _core._set_simd_limit(level)
        scores[level] = _all_pairs(templates)
    for level in simd_levels():
        np.testing.assert_array_equal(scores[level], scores[0], err_msg=f"level {level}")
    # The genuine-like pairs score far above the others, so the matrix is not trivially equal.
    n = len(templates) // 2
    genuine = np.array([scores[0][i, i + n] for i in range(n)])
    assert genuine.min() > 3 * np.median(scores[0])


def _disk() -> np.ndarray:
    """Valid words of a cylinder whose whole disk lies in the print (as cylinders.cpp builds)."""
    cell = np.float32(2) * RADIUS / np.float32(SPATIAL_CELLS)
    half = np.float32(0.5) * np.float32(SPATIAL_CELLS - 1)
    offsets = cell * (np.arange(SPATIAL_CELLS, dtype=np.float32) - half)
    u, v = np.meshgrid(offsets, offsets)  # u varies along columns (i), v along rows (j)
    inside = (u * u + v * v <= RADIUS * RADIUS).ravel()
    bits = np.repeat(inside, DIRECTION_CELLS)
    return _pack_bits(bits[None, :])[0]


def _pack_bits(bits: np.ndarray) -> np.ndarray:
    """Rows of CELLS booleans as rows of little-endian uint64 words."""
    return np.packbits(bits.astype(np.uint8), axis=1, bitorder="little").view("<u8").copy()


def _popcount(words: np.ndarray) -> np.ndarray:
    return np.unpackbits(words.view(np.uint8), axis=-1).sum(axis=-1).astype(np.int64)


def _reference_local(a: tuple, b: tuple) -> np.ndarray:
    """The local-similarity matrix by its definition, in float32 like the native code."""
    (ma, ca, va, ua), (mb, cb, vb, ub) = a, b
    diff = np.abs(ma[:, None, 2] - mb[None, :, 2])
    diff = np.where(diff < TWO_PI, diff, np.fmod(diff, TWO_PI))
    diff = np.where(diff > PI, TWO_PI - diff, diff)
    both = va[:, None, :] & vb[None, :, :]
    xa, xb = ca[:, None, :] & both, cb[None, :, :] & both
    common, count_a, count_b = _popcount(both), _popcount(xa), _popcount(xb)
    differ = _popcount(xa ^ xb)
    norm = np.sqrt(count_a.astype(np.float32)) + np.sqrt(count_b.astype(np.float32))
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.float32(1) - np.sqrt(differ.astype(np.float32)) / norm
    ok = (
        (ua[:, None] != 0)
        & (ub[None, :] != 0)
        & ~(diff > np.float32(np.pi / 2))
        & (common >= MIN_MATCHABLE)
        & (norm > 0)
    )
    return np.where(ok, value, np.float32(0)).astype(np.float32)


def _raw(template: Template) -> tuple:
    arrays = _core.pack([_cylinders(template)])
    return tuple(np.array(arrays[k]) for k in ("minutiae", "bits", "valid", "usable"))


def _hostile(template: Template, seed: int) -> tuple:
    """A template's arrays with cylinder bits of every shape the kernels tell apart: valid
    cells the whole disk, within it, or spilling out of it; set bits outside the valid cells;
    directions far from [0, 2 pi)."""
    rng = np.random.default_rng(seed)
    minutiae, bits, valid, usable = _raw(template)
    n = len(minutiae)
    disk = _disk()
    shape = rng.integers(0, 4, n)
    sparse = _pack_bits(rng.random((n, CELLS)) < 0.97)  # most of the disk: pairs still match
    noise = _pack_bits(rng.random((n, CELLS)) < 0.8)
    choices = [disk & np.ones_like(valid), disk & sparse, noise, valid]  # full, inside, any, built
    valid = np.choose(shape[:, None], choices)
    bits = np.where((rng.random(n) < 0.3)[:, None], _pack_bits(rng.random((n, CELLS)) < 0.2), bits)
    minutiae = minutiae.copy()
    minutiae[: n // 4, 2] -= np.float32(2 * np.pi)  # differences beyond 2 pi take the fmod path
    usable = (rng.random(n) < 0.9).astype(np.uint8)
    return minutiae, bits, valid, usable


def test_the_disk_is_what_full_cylinders_hold():
    _, _, valid, _ = _raw(_random_template(3, n=60))
    assert (valid == _disk()).all(axis=1).sum() > 5


@pytest.mark.parametrize("seed", range(4))
def test_local_similarities_match_their_definition_on_any_bits(level_cap, seed):
    a = _hostile(_random_template(seed, n=30), seed)
    b = _hostile(_random_template(seed + 50, n=45), seed + 50)
    clean = _raw(_random_template(seed + 90, n=35))
    for first, second in [(a, b), (b, a), (clean, a), (a, clean), (clean, clean)]:
        expected = _reference_local(first, second)
        assert (expected > 0).sum() > 10
        for level in simd_levels():
            _core._set_simd_limit(level)
            got = _core._local_similarities(first, second)
            np.testing.assert_array_equal(got, expected, err_msg=f"level {level}")


def test_gallery_minutiae_out_of_bounds_are_refused():
    gallery = Gallery.from_templates([_random_template(s) for s in range(3)]).arrays
    probe = _cylinders(_random_template(9))
    for bad in (np.nan, 1e13, 20.0):
        minutiae = gallery["minutiae"].copy()
        minutiae[45, 0 if bad != 20.0 else 2] = bad
        with pytest.raises(ValueError, match="gallery template 1 has minutiae out of bounds"):
            _core.compare_many(
                probe,
                gallery["offsets"],
                minutiae,
                gallery["bits"],
                gallery["valid"],
                gallery["usable"],
                2,
            )


def test_gallery_templates_with_too_many_minutiae_are_refused():
    big = _random_template(1, n=300, size=2000)  # afis.match keeps 200 of them
    arrays = Gallery.from_templates([big] * 6).arrays
    offsets = np.array([0, 1200, 1200], np.int64)  # claims one template of 1,200 minutiae
    with pytest.raises(ValueError, match="more than 1000 minutiae"):
        _core.compare_many(
            _cylinders(big),
            offsets,
            arrays["minutiae"],
            arrays["bits"],
            arrays["valid"],
            arrays["usable"],
            1,
        )


def test_native_cylinders_refuse_coordinates_and_directions_out_of_bounds():
    ones = np.ones(2, np.float32)
    with pytest.raises(ValueError, match="within"):
        _core.Cylinders(ones * 2e12, ones, ones)
    with pytest.raises(ValueError, match="within"):
        _core.Cylinders(ones, ones, ones * 100)


# --- reference scores ------------------------------------------------------------------------


def _reference_templates() -> list[Template]:
    samples = Path(__file__).resolve().parent.parent / "datasets" / "samples"
    extracted = [afis.extract(p) for p in sorted(samples.glob("sample_*.png"))]
    return _templates() + extracted + [_jittered(t, 200 + i) for i, t in enumerate(extracted)]


def write_reference(path: Path) -> None:
    """Store the minutiae of the reference templates and all their pair scores."""
    templates = _reference_templates()
    scores = _all_pairs(templates)
    lengths = np.array([len(t) for t in templates])
    scaled = [(t, np.float32(500.0 / t.resolution)) for t in templates]  # as afis.match scales
    np.savez_compressed(
        path,
        offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        x=np.concatenate([t.x.astype(np.float32) * k for t, k in scaled]),
        y=np.concatenate([t.y.astype(np.float32) * k for t, k in scaled]),
        direction=np.concatenate([t.direction for t in templates]).astype(np.float32),
        scores=scores,
    )


def test_scores_equal_the_reference_scores_bit_for_bit(level_cap):
    """The scores of the matcher before its speed-ups (regenerate only for a deliberate change
    of the scorer: ``python tests/test_match_kernels.py --write``, and say so in the commit)."""
    data = np.load(REFERENCE)
    offsets = data["offsets"]
    cylinders = [
        _core.Cylinders(data["x"][s:e], data["y"][s:e], data["direction"][s:e])
        for s, e in itertools.pairwise(offsets)
    ]
    arrays = _core.pack(cylinders)
    rest = [arrays[k] for k in ("offsets", "minutiae", "bits", "valid", "usable")]
    for level in simd_levels():
        _core._set_simd_limit(level)
        scores = np.stack([_core.compare_many(c, *rest, 2) for c in cylinders])
        np.testing.assert_array_equal(scores, data["scores"], err_msg=f"level {level}")
        assert scores.max() > 0.5  # genuine-like pairs present


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Write the matcher's reference scores.")
    parser.add_argument("--write", action="store_true", help=f"rewrite {REFERENCE}")
    if parser.parse_args().write:
        REFERENCE.parent.mkdir(exist_ok=True)
        write_reference(REFERENCE)
        print(f"wrote {REFERENCE} with {afis.__file__}")
