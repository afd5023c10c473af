"""Helpers of the data-centre tests: stores on SQLite and PostgreSQL, a small population,
and a snapshot of everything a de-duplication job decides."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from enrollment.demo import DemoOptions, synthetic_records
from enrollment.store import Person, Sample, SampleState, Store

BACKENDS = ("sqlite", "postgresql")
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@localhost:55432/afis_test"


def postgres_url() -> str:
    """The test server's URL (``tools/start-postgres.sh`` prints it); skips without one,
    except under CI (``CI=true``), where the PostgreSQL tests must run."""
    # where tools/start-postgres.sh (run by tools/test-services.sh) puts it by default
    url = os.environ.get("AFIS_TEST_POSTGRES_URL", "") or DEFAULT_POSTGRES_URL
    required = os.environ.get("CI", "").lower() == "true"
    try:
        engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.connect():
            pass
        engine.dispose()
    except sa.exc.OperationalError as exc:
        if required:
            raise
        pytest.skip(
            f"PostgreSQL at {url} is unreachable (bash tools/test-services.sh starts one, or "
            f"set AFIS_TEST_POSTGRES_URL): {exc.orig}"
        )
    return url


@contextlib.contextmanager
def fresh_store(backend: str, tmp_path: Path) -> Iterator[Store]:
    """An empty, migrated store: a SQLite file, or a new database on the PostgreSQL server."""
    if backend == "sqlite":
        store = Store(tmp_path / f"centre-{uuid.uuid4().hex[:8]}.db")
        try:
            yield store
        finally:
            store.close()
        return
    url = postgres_url()
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"afis_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    base = sa.engine.make_url(url).set(database=name)
    store = Store(base.render_as_string(hide_password=False))
    try:
        yield store
    finally:
        store.close()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def person(nik: str = "3171014501900001", **changes: Any) -> Person:
    """A valid record (a woman born 1990-01-05 registered in 317101) with ``changes``."""
    base = Person(
        nik=nik,
        name="SITI AMINAH",
        sex="F",
        date_of_birth=datetime.date(1990, 1, 5),
        place_of_birth="JAKARTA",
        region="317101",
    )
    return dataclasses.replace(base, **changes)


def population(people: int = 110, seed: int = 5) -> list[tuple[Person, list[Sample]]]:
    """A small demo population plus the special cases every outcome needs:

    - the last-but-three record: a re-enrolment of record 0 under its own NIK (new impressions);
    - the last-but-two: someone else's fingers under record 1's NIK (must go to a person);
    - the last-but-one: a person exempt from fingerprinting;
    - the last: thumbs and index fingers missing (searched on its other six fingers).
    """
    from afis.synth import Population

    items, truth = synthetic_records(
        DemoOptions(people=people, duplicate_share=0.03, mismatches=2, seed=seed)
    )
    assert truth.duplicate_pairs
    taken = {n for pair in truth.duplicate_pairs for n in pair} | set(truth.mismatches)
    plain = [n for n in range(len(items)) if n not in taken]
    synth = Population(seed)

    def fingers(person_index: int, impression: int) -> list[Sample]:
        batch = synth.impressions(range(person_index * 10, person_index * 10 + 10), impression)
        return [
            Sample(
                position=t.finger_position,
                template=t.to_bytes(),
                quality=t.image_quality,
                image_ref=f"test://{person_index}/{impression}/{int(t.finger_position)}",
            )
            for t in batch.templates()
        ]

    own = items[plain[0]]
    own_index = int(own[1][0].image_ref.split("/")[-2])
    reenrol = (own[0], fingers(own_index, 2))
    wrong = (items[plain[1]][0], fingers(people + 5, 0))
    exempt = (
        person(nik="3171010101800001", sex="M", date_of_birth=datetime.date(1980, 1, 1)),
        [Sample(position=p, state=SampleState.EXEMPT, reason="no hands") for p in range(1, 11)],
    )
    partial = (
        person(nik="3171010202810001", sex="M", date_of_birth=datetime.date(1981, 2, 2)),
        [
            s
            if int(s.position) not in (1, 2, 6, 7)
            else Sample(position=s.position, state=SampleState.MISSING, reason="bandaged")
            for s in fingers(people + 6, 0)
        ],
    )
    return [*items, reenrol, wrong, exempt, partial]


def snapshot(store: Store) -> dict[str, Any]:
    """Everything the job decided, without ids and times that differ between runs."""
    from enrollment.store import dedup_candidates, dedup_results

    with store.engine.connect() as conn:
        results = conn.execute(
            sa.select(
                dedup_results.c.id,
                dedup_results.c.record_id,
                dedup_results.c.decision,
                dedup_results.c.kind,
                dedup_results.c.best_score,
                dedup_results.c.reason,
            ).order_by(dedup_results.c.record_id)
        ).all()
        owner = {r.id: r.record_id for r in results}
        candidates = conn.execute(sa.select(dedup_candidates)).all()
    return {
        "statuses": {k: v.value for k, v in store.statuses().items()},
        "results": [tuple(r)[1:] for r in results],
        "candidates": sorted(
            (
                owner[c.result_id],
                c.candidate_id,
                c.rank,
                c.fused_score,
                tuple(c.finger_scores),
                c.verdict,
                bool(c.same_nik),
            )
            for c in candidates
        ),
    }
