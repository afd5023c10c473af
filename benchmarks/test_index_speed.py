"""Candidate index speed: enrolment (encode + add) and search.

The gallery is 10,000 fingers made from the 80 FVC2002 DB1 templates under seeded jitter
(``benchmarks/population.py``); the figures that count at scale come from
``afis bench identify`` with the synthetic population.
"""

from __future__ import annotations

import numpy as np
import pytest
from population import jitter

import afis
from afis.index import CandidateIndex

GALLERY = 10_000


@pytest.fixture(scope="module")
def db1_templates(fvc2002_db1):
    return afis.extract_many(fvc2002_db1)


@pytest.fixture(scope="module")
def population(db1_templates):
    rng = np.random.default_rng(0)
    return [jitter(db1_templates[n % len(db1_templates)], rng) for n in range(GALLERY)]


@pytest.fixture(scope="module")
def index(population):
    built = CandidateIndex()
    built.add(population, ids=np.arange(len(population)))
    return built


def test_add(benchmark, population):
    """Fingers per second = GALLERY / mean time."""
    CandidateIndex()._encode(population[:1])  # compile outside the timing

    def build():
        fresh = CandidateIndex()
        fresh.add(population, ids=np.arange(len(population)))
        return fresh

    built = benchmark.pedantic(build, rounds=3)
    assert len(built) == GALLERY


@pytest.mark.parametrize("batch", [1, 64])
def test_search(benchmark, index, db1_templates, batch):
    probes = db1_templates[:batch]
    _scores, ids = benchmark.pedantic(index.search, (probes,), {"penetration": 0.01}, rounds=5)
    assert ids.shape == (batch, GALLERY // 100)
