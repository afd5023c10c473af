"""Statistics that compare a population of templates with another (synthetic with real).

Examples
--------
>>> from afis.synth import Population
>>> ts = Population(1).impressions([0, 0, 1], [0, 1, 0]).templates()
>>> bool(nearest_neighbour_distances(ts).min() > 0)
True
>>> genuine, impostor = pair_scores(ts, [0, 0, 1])
>>> genuine.shape, impostor.shape
((1,), (2,))
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

import afis

__all__ = ["nearest_neighbour_distances", "pair_scores"]


def nearest_neighbour_distances(templates: Sequence[afis.Template]) -> np.ndarray:
    """Distance (pixels) from every minutia to the nearest other minutia of its template.

    Templates with fewer than two minutiae contribute nothing.
    """
    out = [np.empty(0)]
    for t in templates:
        if len(t) < 2:
            continue
        p = np.c_[t.x, t.y].astype(float)
        d = np.hypot(*(p[:, None] - p[None]).transpose(2, 0, 1))
        np.fill_diagonal(d, np.inf)
        out.append(d.min(axis=1))
    return np.concatenate(out)


def pair_scores(
    templates: Sequence[afis.Template], fingers: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Matcher scores of every unordered pair: (genuine, impostor).

    ``fingers[i]`` is the finger of ``templates[i]``; pairs of one finger are genuine.
    """
    if len(fingers) != len(templates):
        raise ValueError(f"{len(templates)} templates but {len(fingers)} finger labels")
    gallery = afis.Gallery.from_templates(list(templates))
    rows = np.array([afis.Matcher(t).compare_many(gallery) for t in templates])
    upper = np.triu(np.ones(rows.shape, bool), k=1)
    same = np.equal.outer(np.asarray(fingers), np.asarray(fingers))
    return rows[upper & same], rows[upper & ~same]
