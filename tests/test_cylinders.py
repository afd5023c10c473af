"""Cylinder building (``cylinders.cpp``) gives the very bits of the matcher before its speed-ups.

The cylinders are what every score is computed from: a cylinder bit or validity bit that moves
moves scores. ``tests/data/cylinders_reference.npz`` holds the minutiae of a set of templates
(synthetic fingers, random sets at odd resolutions, and degenerate or hostile ones: a single
minutia, collinear and duplicated minutiae, huge coordinates, directions of several turns)
with a digest of the cylinders the original implementation built for each (bits, validity
masks and usable flags). It was written by the build before the fast cylinder builder and
must only be regenerated for a deliberate change of the cylinders
(``python tests/test_cylinders.py --write``, and say so in the commit).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from _shared import simd_levels

import afis
from afis._native import _core
from afis.match import _cylinders
from afis.synth import Population

REFERENCE = Path(__file__).resolve().parent / "data" / "cylinders_reference.npz"


def _digest(cylinders: _core.Cylinders) -> bytes:
    """SHA-256 of a cylinder set's packed arrays (minutiae, bits, valid, usable)."""
    arrays = _core.pack([cylinders])
    h = hashlib.sha256()
    for name in ("minutiae", "bits", "valid", "usable"):
        h.update(np.ascontiguousarray(arrays[name]).tobytes())
    return h.digest()


def _scaled(template: afis.Template) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The arrays ``afis.match`` hands the native code (processing-grid coordinates)."""
    scale = np.float32(500.0 / template.resolution)
    return (
        template.x.astype(np.float32) * scale,
        template.y.astype(np.float32) * scale,
        template.direction.astype(np.float32),
    )


def _random_set(seed: int, n: int, size: float, scale: float = 1.0) -> tuple:
    r = np.random.default_rng(seed)
    x = np.float32(scale) * r.integers(0, int(size), n).astype(np.float32)
    y = np.float32(scale) * r.integers(0, int(size), n).astype(np.float32)
    return x, y, r.uniform(0, 2 * math.pi, n).astype(np.float32)


def _degenerate_sets() -> list[tuple]:
    f = np.float32
    sets: list[tuple] = []

    def add(x, y, d) -> None:
        sets.append((np.asarray(x, f), np.asarray(y, f), np.asarray(d, f)))

    r = np.random.default_rng(7)
    add([], [], [])
    add([100], [100], [1.0])
    add([100, 140], [100, 120], [0.5, 2.0])
    add([100, 100, 100], [50, 50, 50], [0.0, 1.0, 2.0])  # duplicates
    line = np.arange(0, 300, 15, dtype=f)
    add(line, 2 * line + 7, r.uniform(0, 6.28, len(line)))  # collinear
    add(line, np.full_like(line, 200), r.uniform(0, 6.28, len(line)))  # horizontal line
    add([100, 200, 150], [100, 100, 101], [0.1, 0.2, 0.3])  # a very thin triangle
    cluster = r.normal(200, 4, (2, 30)).astype(f)
    add(cluster[0], cluster[1], r.uniform(0, 6.28, 30))  # everything within a few pixels
    ring = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    add(200 + 120 * np.cos(ring), 200 + 120 * np.sin(ring), ring)  # every minutia on the hull
    add(r.uniform(0, 300, 40), r.uniform(0, 300, 40), r.uniform(-12.5, 12.5, 40))  # several turns
    for big in (3e4, 1e5, 3e6, 1e9, 9e11):  # coordinates past where the inner disc is used
        x, y, d = _random_set(11, 30, 300)
        add(x + f(big), y + f(big), d)
        add(x * f(big / 300), y * f(big / 300), d)
    add(-_random_set(12, 30, 300)[0], _random_set(12, 30, 300)[1], _random_set(12, 30, 300)[2])
    x, y, d = _random_set(13, 60, 300)
    add(x[:30], y[:30], d[:30])
    add(np.concatenate([x, x[:5]]), np.concatenate([y, y[:5]]), np.concatenate([d, d[:5] + 1]))
    return sets


def _reference_sets() -> list[tuple]:
    """Minutiae (x, y, image-free direction) of every reference template."""
    sets = []
    people = Population(seed=26)
    for impression in (0, 1):
        for t in people.impressions(range(8), impression).templates():
            sets.append(_scaled(t))
    for seed in range(6):
        sets.append(_random_set(100 + seed, 20 + 12 * seed, 400))
        sets.append(_random_set(200 + seed, 35, 500, scale=500 / 569))  # 569 ppi coordinates
    sets.append(_random_set(300, 200, 900))  # the matcher's largest template
    return sets + _degenerate_sets()


def write_reference(path: Path) -> None:
    sets = _reference_sets()
    lengths = np.array([len(s[0]) for s in sets])
    digests = [_digest(_core.Cylinders(*s)) for s in sets]
    np.savez_compressed(
        path,
        offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        x=np.concatenate([s[0] for s in sets]).astype(np.float32),
        y=np.concatenate([s[1] for s in sets]).astype(np.float32),
        direction=np.concatenate([s[2] for s in sets]).astype(np.float32),
        digests=np.frombuffer(b"".join(digests), np.uint8).reshape(len(sets), 32),
    )


def _stored() -> list[tuple]:
    data = np.load(REFERENCE)
    return [
        (data["x"][s:e], data["y"][s:e], data["direction"][s:e], bytes(digest))
        for (s, e), digest in zip(itertools.pairwise(data["offsets"]), data["digests"], strict=True)
    ]


def test_the_reference_holds_every_kind_of_template():
    stored = _stored()
    assert len(stored) > 50
    assert max(len(s[0]) for s in stored) == 200
    assert any(len(s[0]) == 0 for s in stored)


@pytest.mark.parametrize("block", range(4))
def test_cylinders_equal_the_reference_bit_for_bit(block):
    """The cylinders of the original implementation (see the module docstring)."""
    stored = _stored()
    for index in range(block, len(stored), 4):
        x, y, direction, digest = stored[index]
        assert _digest(_core.Cylinders(x, y, direction)) == digest, f"template {index}"


def _arrays(cylinders: _core.Cylinders) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in _core.pack([cylinders]).items()}


def _random_sets(seed: int, count: int) -> list[tuple]:
    """Minutiae of every density and shape: spread, clustered, on lines, at odd scales, huge."""
    r = np.random.default_rng(seed)
    sets = []
    for _ in range(count):
        n = int(r.integers(1, 120))
        kind = r.integers(0, 6)
        if kind == 0:  # a print
            x, y = r.uniform(0, 400, n), r.uniform(0, 450, n)
        elif kind == 1:  # a small, dense patch
            x, y = r.normal(150, 25, n), r.normal(150, 25, n)
        elif kind == 2:  # near a line, few pixels wide
            t = r.uniform(0, 300, n)
            x, y = t + r.normal(0, 2, n), 0.5 * t + r.normal(0, 2, n)
        elif kind == 3:  # integer pixels scaled as from another resolution
            k = 500 / r.uniform(250, 1000)
            x, y = r.integers(0, 500, n) * k, r.integers(0, 500, n) * k
        elif kind == 4:  # far from the origin
            shift = 10 ** r.uniform(3, 11)
            x, y = r.uniform(0, 400, n) + shift, r.uniform(0, 400, n) - shift
        else:  # spread over a huge range
            x, y = r.uniform(-1e6, 1e6, n), r.uniform(-1e6, 1e6, n)
        direction = r.uniform(-12.5, 12.5, n) if r.random() < 0.2 else r.uniform(0, 2 * np.pi, n)
        sets.append((x.astype(np.float32), y.astype(np.float32), direction.astype(np.float32)))
    return sets


@pytest.mark.parametrize("seed", range(3))
def test_cylinders_equal_the_original_builder_on_random_minutiae(level_cap, seed):
    """The fast builder against the original one kept as a test hook, at every SIMD level."""
    sets = _random_sets(seed, 60)
    for level in simd_levels():
        _core._set_simd_limit(level)
        for index, minutiae in enumerate(sets):
            got = _arrays(_core.Cylinders(*minutiae))
            expected = _arrays(_core._reference_cylinders(*minutiae))
            for name, values in expected.items():
                np.testing.assert_array_equal(
                    got[name], values, err_msg=f"{index} {name} level {level}"
                )


def test_the_reference_hook_is_the_original_builder():
    """The hook itself reproduces the stored digests (so the random test compares with the
    original arithmetic, not with a copy that drifted)."""
    for x, y, direction, digest in _stored()[::5]:
        assert _digest(_core._reference_cylinders(x, y, direction)) == digest


@pytest.mark.parametrize("threads", [1, 3])
def test_a_gallery_packs_what_each_template_prepares(threads):
    """``Gallery.from_templates`` builds every template's cylinders in one native call; the
    arrays are those of the one-template path (``afis.match._cylinders``), packed."""
    people = Population(seed=4)
    templates = people.impressions(range(6), 0).templates()
    r = np.random.default_rng(3)
    for n, ppi in ((40, 569.0), (0, 500.0), (260, 1000.0), (1, 250.0), (35, 500.0)):
        templates.append(
            afis.Template(
                width=2000,
                height=2000,
                resolution=ppi,
                source_resolution=ppi,
                x=r.integers(0, 2000, n),
                y=r.integers(0, 2000, n),
                direction=r.uniform(0, 2 * np.pi, n),
                type=r.integers(1, 3, n),
                quality=r.integers(0, 101, n),
                image_quality=50,
            )
        )
    gallery = afis.Gallery.from_templates(templates, threads=threads).arrays
    expected = _core.pack([_cylinders(t) for t in templates])
    assert set(gallery) == set(expected)
    for name, values in expected.items():
        np.testing.assert_array_equal(gallery[name], values, err_msg=name)
    assert afis.Gallery.from_templates([]).minutiae == 0


def test_preparing_many_refuses_inconsistent_arrays():
    ones = np.ones(4, np.float32)
    with pytest.raises(ValueError, match="add up"):
        _core.prepare_packed(ones, ones, ones, np.array([1, 2], np.int64), 1)
    with pytest.raises(ValueError, match=r"0\.\.1000 minutiae"):
        _core.prepare_packed(ones, ones, ones, np.array([5, -1], np.int64), 1)
    with pytest.raises(ValueError, match="finite"):
        _core.prepare_packed(ones, ones * np.nan, ones, np.array([4], np.int64), 1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Write the cylinders' reference digests.")
    parser.add_argument("--write", action="store_true", help=f"rewrite {REFERENCE}")
    if parser.parse_args().write:
        REFERENCE.parent.mkdir(exist_ok=True)
        write_reference(REFERENCE)
        print(f"wrote {REFERENCE} with {afis.__file__}")
