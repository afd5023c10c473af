"""Shared fixtures for the benchmarks (run: ``python -m pytest benchmarks``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import afis

REPO = Path(__file__).resolve().parent.parent


def _fvc_images(name: str) -> list[afis.FingerprintImage]:
    root = os.environ.get("AFIS_DATASETS")
    if not root or not (Path(root) / name).is_dir():
        pytest.skip(f"AFIS_DATASETS does not hold {name}")
    dpi = json.loads((REPO / "datasets" / "fvc.json").read_text())["sets"][name]["dpi"]
    return [afis.load_image(p, dpi=dpi) for p in sorted((Path(root) / name).glob("*.tif"))]


@pytest.fixture(scope="session")
def fvc2002_db1() -> list[afis.FingerprintImage]:
    return _fvc_images("fvc2002/DB1_B")


@pytest.fixture(scope="session")
def sample_image() -> afis.FingerprintImage:
    return afis.load_image(REPO / "datasets" / "samples" / "sample_1.png")
