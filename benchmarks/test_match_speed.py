"""Matching speed: one comparison, and one probe against a packed gallery.

``compare_many`` is reported per gallery template; the 1- and 2-thread cases run in the
same session so their ratio is meaningful on a shared machine.
"""

from __future__ import annotations

import pytest

import afis
from afis.match import _cylinders


@pytest.fixture(scope="module")
def db1_templates(fvc2002_db1):
    return afis.extract_many(fvc2002_db1)


def test_compare_prepared_pair(benchmark, db1_templates):
    from afis._native import _core

    a, b = _cylinders(db1_templates[0]), _cylinders(db1_templates[1])
    score = benchmark(_core.compare, a, b)
    assert 0.0 <= score <= 1.0


def test_compare_templates(benchmark, db1_templates):
    """Includes building both templates' cylinders (what ``afis.compare`` does)."""
    score = benchmark(afis.compare, db1_templates[0], db1_templates[1])
    assert 0.0 <= score <= 1.0


@pytest.mark.parametrize("threads", [1, 2])
def test_compare_many(benchmark, db1_templates, threads):
    gallery = afis.Gallery.from_templates(db1_templates * 25)  # 2,000 templates
    matcher = afis.Matcher(db1_templates[3])
    scores = benchmark.pedantic(matcher.compare_many, (gallery,), {"threads": threads}, rounds=5)
    assert len(scores) == len(gallery)


@pytest.mark.parametrize("level", [0, 1, 2], ids=["plain", "avx2", "avx512"])
def test_compare_many_per_simd_level(benchmark, db1_templates, level):
    """One thread, the matcher's kernels capped at a SIMD level (same scores at every level)."""
    from afis._native import _core

    if level > _core._simd_supported():
        pytest.skip(f"this processor lacks SIMD level {level}")
    gallery = afis.Gallery.from_templates(db1_templates * 25)
    matcher = afis.Matcher(db1_templates[3])
    previous = _core._set_simd_limit(level)
    try:
        scores = benchmark.pedantic(matcher.compare_many, (gallery,), {"threads": 1}, rounds=5)
    finally:
        _core._set_simd_limit(previous)
    assert len(scores) == len(gallery)
