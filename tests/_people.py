"""Synthetic ten-finger people for the people-gallery tests."""

from __future__ import annotations

from afis.synth import Population
from afis.template import Template


def people_of(ids: list[int], impression: int, seed: int) -> list[dict[int, Template]]:
    """Ten-finger people of ``Population(seed)`` (finger id = person * 10 + position - 1)."""
    fingers = [10 * p + f for p in ids for f in range(10)]
    templates = Population(seed).impressions(fingers, impression).templates()
    return [
        dict(zip(range(1, 11), templates[10 * n : 10 * n + 10], strict=True))
        for n in range(len(ids))
    ]
