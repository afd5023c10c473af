"""Helpers of the workstation tests: a store with grey-zone cases and users of every role."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import sqlalchemy as sa

import afis
from enrollment.store import (
    Person,
    Sample,
    Store,
    dedup_candidates,
    dedup_jobs,
    dedup_results,
    now,
)
from enrollment.workstation.users import add_user

PASSWORD = "correct horse battery"
USERS = {
    "ana": ("adjudicator", ""),
    "bob": ("adjudicator", ""),
    "sue": ("supervisor", ""),
    "rio": ("regional_officer", "317101"),
    "ria": ("regional_officer", "327301"),
    "aud": ("auditor", ""),
}
THRESHOLDS = {"duplicate": 0.384, "adjudicate": 0.359, "searched": 10}


def person(nik: str, name: str, **changes: object) -> Person:
    base = Person(
        nik=nik,
        name=name,
        sex="F",
        date_of_birth=datetime.date(1990, 1, 5),
        place_of_birth="JAKARTA",
        region="317101",
        family_card="3171010101900001",
        address="JL. MERDEKA 1",
    )
    return dataclasses.replace(base, **changes)


def toy_template(seed: int, n: int = 20, position: int = 1) -> afis.Template:
    """A template with ``n`` random minutiae on a 300x400 grid."""
    rng = np.random.default_rng(seed)
    return afis.Template(
        width=300,
        height=400,
        resolution=500.0,
        source_resolution=500.0,
        x=rng.integers(10, 290, n),
        y=rng.integers(10, 390, n),
        direction=rng.uniform(0, 2 * np.pi, n),
        type=rng.integers(1, 3, n),
        quality=rng.integers(40, 100, n),
        image_quality=60,
        finger_position=afis.FingerPosition(position),
    )


def add_users(store: Store, names: Sequence[str] = tuple(USERS)) -> None:
    for name in names:
        role, region = USERS[name]
        add_user(store, name, PASSWORD, role=role, region=region)


def make_case(
    store: Store,
    probe: tuple[Person, list[Sample]],
    candidates: Sequence[tuple[Person, list[Sample], Sequence[float]]],
    *,
    job_id: int | None = None,
) -> tuple[int, list[int], int]:
    """A probe in ADJUDICATE_RECORD with a de-dup result listing ``candidates`` (each with
    its ten per-finger scores); the candidates are PRINT_READY_RECORD. Returns the probe's
    id, the candidates' ids and the result's id."""
    ids = []
    for p, fingers, _ in candidates:
        rid = store.add_record(p, fingers, actor="region")
        store.transition(rid, "SENT_FOR_DEDUP", actor="checks", reason="clean")
        store.transition(rid, "PRINT_READY_RECORD", actor="dedup", reason="unique")
        ids.append(rid)
    pid = store.add_record(probe[0], probe[1], actor="region")
    store.transition(pid, "SENT_FOR_DEDUP", actor="checks", reason="clean")
    store.transition(pid, "ADJUDICATE_RECORD", actor="dedup", reason="grey zone")
    with store.begin() as conn:
        if job_id is None:
            job_id = conn.execute(
                dedup_jobs.insert().returning(dedup_jobs.c.id),
                {
                    "state": "done",
                    "work_dir": "",
                    "settings": {"options": {}, "thresholds": THRESHOLDS},
                    "created_at": now(),
                },
            ).scalar_one()
        fused = [float(sum(scores)) for _, _, scores in candidates]
        result_id = conn.execute(
            dedup_results.insert().returning(dedup_results.c.id),
            {
                "job_id": job_id,
                "record_id": pid,
                "decision": "ADJUDICATE_RECORD",
                "kind": None,
                "best_score": max(fused),
                "reason": "best candidate in the grey zone",
            },
        ).scalar_one()
        for rank, (rid, (_, _, scores), f) in enumerate(zip(ids, candidates, fused, strict=True)):
            conn.execute(
                dedup_candidates.insert(),
                {
                    "result_id": result_id,
                    "candidate_id": rid,
                    "rank": rank,
                    "fused_score": f,
                    "finger_scores": [float(s) for s in scores],
                    "verdict": "match"
                    if f >= THRESHOLDS["duplicate"]
                    else "grey"
                    if f >= THRESHOLDS["adjudicate"]
                    else "below",
                    "same_nik": False,
                },
            )
    return pid, ids, int(result_id)


def newer_result(store: Store, record_id: int) -> int:
    """Another de-dup result for the record (as if it had been searched again)."""
    with store.begin() as conn:
        job = conn.execute(
            dedup_jobs.insert().returning(dedup_jobs.c.id),
            {
                "state": "done",
                "work_dir": "",
                "settings": {"options": {}, "thresholds": THRESHOLDS},
                "created_at": now(),
            },
        ).scalar_one()
        return int(
            conn.execute(
                dedup_results.insert().returning(dedup_results.c.id),
                {
                    "job_id": job,
                    "record_id": record_id,
                    "decision": "ADJUDICATE_RECORD",
                    "kind": None,
                    "best_score": 0.37,
                    "reason": "searched again",
                },
            ).scalar_one()
        )


def fvc_store(path: Path, datasets: Path) -> dict[str, object]:
    """A SQLite store with real FVC2002 DB1_B prints: three grey-zone cases.

    Fingers 101..104 impression 1 are the probes' right thumb, index, middle and ring; the
    candidates carry impression 2 of the same fingers (case 1, two candidates: the second
    carries other fingers), or of other fingers. Every sample's ``image_ref`` is the TIFF.
    """
    folder = datasets / "fvc2002" / "DB1_B"
    cache: dict[tuple[int, int], afis.Template] = {}

    def template(finger: int, impression: int) -> tuple[afis.Template, str]:
        path = folder / f"{finger}_{impression}.tif"
        if (finger, impression) not in cache:
            cache[finger, impression] = afis.extract(afis.load_image(path, dpi=500))
        return cache[finger, impression], str(path)

    def fingers(spec: Sequence[tuple[int, int]]) -> list[Sample]:
        out = []
        for position, (finger, impression) in enumerate(spec, start=1):
            t, path = template(finger, impression)
            out.append(
                Sample(
                    position=position,
                    template=t.to_bytes(),
                    quality=t.image_quality,
                    image_ref=path,
                )
            )
        return out

    def scores(a: list[Sample], b: list[Sample]) -> list[float]:
        out = [0.0] * 10
        for sa_, sb in zip(a, b, strict=True):
            out[int(sa_.position) - 1] = afis.compare(
                afis.Template.from_bytes(sa_.template), afis.Template.from_bytes(sb.template)
            )
        return out

    store = Store(path)
    add_users(store)
    same = [(101, 1), (102, 1), (103, 1), (104, 1)]
    mate = [(101, 2), (102, 2), (103, 2), (104, 2)]
    other = [(105, 2), (106, 2), (107, 2), (108, 2)]
    probe1 = fingers(same)
    cand1, cand2 = fingers(mate), fingers(other)
    case1 = make_case(
        store,
        (person("3171014501900001", "SITI AMINAH"), probe1),
        [
            (
                person("3171014501900002", "SITI AMINA", address="JL. MAWAR 2"),
                cand1,
                scores(probe1, cand1),
            ),
            (
                person("3273014501900003", "DEWI LESTARI", region="327301"),
                cand2,
                scores(probe1, cand2),
            ),
        ],
    )
    probe2 = fingers([(105, 1), (106, 1), (107, 1), (108, 1)])
    cand3 = fingers([(105, 3), (106, 3), (107, 3), (108, 3)])
    case2 = make_case(
        store,
        (person("3171010501910004", "BUDI SANTOSO", sex="M"), probe2),
        [(person("3171010501910005", "BUDI SANTOSA", sex="M"), cand3, scores(probe2, cand3))],
    )
    with store.engine.connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(dedup_results)).scalar_one()
    return {"store": store, "case1": case1, "case2": case2, "results": n, "templates": cache}
