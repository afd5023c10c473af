"""Extraction speed. Decoding is excluded: images are loaded once, outside the timing.

Compare runs on the same machine in the same session only (``--benchmark-compare``);
the ratios between cases (e.g. 2 threads vs 1) are what carries across machines.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

import afis


def test_extract_sample(benchmark, sample_image):
    template = benchmark(afis.extract, sample_image)
    assert len(template) > 0


def test_extract_fvc2002_db1_image(benchmark, fvc2002_db1):
    image = fvc2002_db1[0]
    template = benchmark(afis.extract, image)
    assert len(template) > 0


@pytest.mark.parametrize("threads", [1, 2])
def test_extract_fvc2002_db1_set(benchmark, fvc2002_db1, threads):
    """All 80 images; with 2 threads the rate should approach twice that of 1."""

    def run():
        with ThreadPoolExecutor(max_workers=threads) as pool:
            return list(pool.map(afis.extract, fvc2002_db1))

    templates = benchmark.pedantic(run, rounds=3, iterations=1)
    assert len(templates) == len(fvc2002_db1)


def test_trace_overhead(benchmark, fvc2002_db1):
    steps = benchmark(afis.trace, fvc2002_db1[0])
    assert steps.template is not None
