"""The de-duplication job: outcomes, thresholds, idempotence, resuming after kill -9, SQLite
against PostgreSQL, local against Dask; adjudication and deletion; every status reachable."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa
from _enrollment import fresh_store, population, postgres_url, snapshot

from afis.people_shards import ShardedPeopleGallery
from enrollment.adjudication import (
    decide,
    file_deletion,
    pending_cases,
    pending_deletions,
    resolve_deletion,
)
from enrollment.checks import run_checks
from enrollment.dedup import DedupOptions, run_dedup, sync_gallery, thresholds
from enrollment.status import UNIQUE_STATUSES, Status
from enrollment.store import Store, StoreError, dedup_candidates, dedup_results, samples

REPO = Path(__file__).resolve().parent.parent
OPTIONS = DedupOptions(chunk_size=16)


def gallery_ids(work: Path) -> list[int]:
    with ShardedPeopleGallery.open(work / "gallery") as gallery:
        return gallery.person_ids.tolist()


def unique_ids(store: Store) -> list[int]:
    """Records in a unique status that have fingers (exempt records are not searchable)."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT DISTINCT r.id FROM records r JOIN samples s ON s.record_id = r.id "
                "WHERE s.state = 'captured' AND r.status IN ("
                + ", ".join(f"'{s.value}'" for s in UNIQUE_STATUSES)
                + ") ORDER BY r.id"
            )
        ).scalars()
        return [int(r) for r in rows]


@functools.cache
def _records():
    return population()


def _enrol(store: Store) -> list[int]:
    ids = store.add_records(_records(), actor="region", batch="t")
    run_checks(store)
    return ids


@functools.cache
def _reference(tmp: str) -> dict:
    """One uninterrupted local run on SQLite (shared by the comparisons)."""
    with fresh_store("sqlite", Path(tmp)) as store:
        _enrol(store)
        summary = run_dedup(store, Path(tmp) / "work", OPTIONS, threads=2)
        assert summary.chunks_resumed == 0
        return snapshot(store)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    return _reference(str(tmp_path_factory.mktemp("reference")))


def test_outcomes(reference: dict) -> None:
    items = _records()
    statuses = reference["statuses"]
    ids = sorted(statuses)
    by_position = dict(enumerate(ids))
    # the planted duplicates are found, the special cases land where they must
    results = {r[0]: r for r in reference["results"]}
    reenrol, wrong, exempt, partial = (by_position[len(items) - k] for k in (4, 3, 2, 1))
    assert statuses[reenrol] == "PRINT_READY_RECORD"
    assert "matches its own earlier record" in results[reenrol][4]
    assert statuses[wrong] == "ADJUDICATE_RECORD"
    assert "does not match its earlier" in results[wrong][4]
    assert statuses[exempt] == "ADJUDICATE_RECORD"
    assert statuses[partial] == "PRINT_READY_RECORD"  # found unique on its other fingers
    duplicates = [r for r in reference["results"] if r[1] == "DUPLICATE_RECORD"]
    assert len(duplicates) == 3
    assert all(r[2] == "one_to_one" for r in duplicates)
    counts = {s: list(statuses.values()).count(s) for s in set(statuses.values())}
    assert counts["REQUEST_VALIDATION"] == 2
    assert counts["PRINT_READY_RECORD"] == len(items) - 2 - 3 - 2
    # a duplicate's candidate row carries ten finger scores that sum to the fused score
    rows = [c for c in reference["candidates"] if c[0] == duplicates[0][0]]
    assert rows and rows[0][5] == "match" and len(rows[0][4]) == 10
    assert rows[0][3] == pytest.approx(sum(rows[0][4]), abs=1e-5)
    assert rows[0][3] >= thresholds(len(items), DedupOptions()).duplicate


def test_thresholds_follow_the_search_size() -> None:
    small, large = thresholds(1000, DedupOptions()), thresholds(10**11, DedupOptions())
    assert small.duplicate >= small.adjudicate
    assert large.adjudicate > small.adjudicate
    stricter = thresholds(10**11, DedupOptions(fpir_adjudicate=1e-6, fpir_duplicate=1e-6))
    assert stricter.adjudicate > large.adjudicate
    with pytest.raises(ValueError):
        DedupOptions(fpir_adjudicate=1e-6, fpir_duplicate=1e-5)
    with pytest.raises(ValueError, match="shortlist_depth must lie"):
        DedupOptions(shortlist_depth=-1)
    with pytest.raises(ValueError, match="gallery_shards must lie"):
        DedupOptions(gallery_shards=0)


def test_idempotent_and_second_batch(tmp_path) -> None:
    with fresh_store("sqlite", tmp_path) as store:
        store.add_records(_records()[:40], actor="region")
        run_checks(store)
        first = run_dedup(store, tmp_path / "w", OPTIONS, threads=1, progress=True)
        assert first.records == 39  # one planted mismatch among the first 40? counted below
        again = run_dedup(store, tmp_path / "w", OPTIONS)
        assert again.job_id is None and again.lines() == ["nothing to de-duplicate"]
        before = snapshot(store)
        assert gallery_ids(tmp_path / "w") == unique_ids(store)
        segments = sorted((tmp_path / "w" / "gallery").glob("shard-*/segments/*"))
        # a second batch is searched against the first one's unique records, which stay in
        # the persistent gallery: only the second batch's unique records are added
        store.add_records(_records()[40:], actor="region")
        run_checks(store)
        second = run_dedup(store, tmp_path / "w", OPTIONS)
        assert second.job_id == first.job_id + 1
        after = snapshot(store)
        assert all(after["statuses"][k] == v for k, v in before["statuses"].items())
        assert gallery_ids(tmp_path / "w") == unique_ids(store)
        assert set(segments) < set((tmp_path / "w" / "gallery").glob("shard-*/segments/*"))
        # a record that left the unique statuses (a correction made outside the lifecycle)
        # leaves the gallery at the next job's sync
        gone = sorted(unique_ids(store))[0]
        with store.begin() as conn:
            conn.execute(
                sa.text("UPDATE records SET status = 'ADJUDICATE_RECORD' WHERE id = :i"),
                {"i": gone},
            )
        assert sync_gallery(store, tmp_path / "w" / "gallery") == (0, 1)
        assert gone not in gallery_ids(tmp_path / "w")
        assert sync_gallery(store, tmp_path / "w" / "gallery") == (0, 0)
        # the maintenance commands
        from enrollment.cli import main

        held = gallery_ids(tmp_path / "w")
        for action in ("status", "compact", "repartition"):
            assert main(["gallery", action, "--work-dir", str(tmp_path / "w")]) == 0
        assert gallery_ids(tmp_path / "w") == held
        assert main(["gallery", "status", "--work-dir", str(tmp_path / "nowhere")]) == 2


def _kill_script(url: str, work: Path, event: str, chunk: int) -> str:
    return textwrap.dedent(
        f"""
        import os, signal
        from enrollment.dedup import DedupOptions, run_dedup
        from enrollment.store import Store

        def hook(name, number):
            if (name, number) == ({event!r}, {chunk}):
                os.kill(os.getpid(), signal.SIGKILL)

        run_dedup(Store({url!r}), {str(work)!r}, DedupOptions(chunk_size=16), threads=2,
                  hook=hook)
        """
    )


def test_resume_after_kill(reference: dict, tmp_path) -> None:
    with fresh_store("sqlite", tmp_path) as store:
        _enrol(store)
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        for event, chunk in (
            ("prepared", -1),
            ("committing", 2),
            ("committed", 4),
            ("inserting", -1),
        ):
            done = subprocess.run(
                [sys.executable, "-c", _kill_script(store.url, tmp_path / "w", event, chunk)],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert done.returncode == -signal.SIGKILL, done.stderr
        with store.engine.connect() as conn:
            checkpoints = conn.execute(sa.text("SELECT chunk FROM dedup_checkpoints")).scalars()
            chunks = sorted(checkpoints)  # chunk 2 rolled back, then redone; all committed
            assert chunks == list(range(len(chunks))) and len(chunks) > 5
        # killed while the unique records were being inserted into the new gallery (after
        # the two shards' creation and the first shard's insert): the resumed job inserts
        # the rest, none twice
        kill_in_insert = textwrap.dedent(
            f"""
            import os, signal
            import afis.people
            from enrollment.dedup import run_dedup
            from enrollment.store import Store

            commits = []
            def checkpoint(stage):
                if stage == "after-replace":
                    commits.append(stage)
                    if len(commits) == 3:
                        os.kill(os.getpid(), signal.SIGKILL)

            afis.people._checkpoint = checkpoint
            run_dedup(Store({store.url!r}), {str(tmp_path / "w")!r}, threads=2)
            """
        )
        done = subprocess.run(
            [sys.executable, "-c", kill_in_insert], env=env, capture_output=True, text=True
        )
        assert done.returncode == -signal.SIGKILL, done.stderr
        held = gallery_ids(tmp_path / "w")
        assert 0 < len(held) < len(unique_ids(store))
        summary = run_dedup(store, tmp_path / "w", OPTIONS, threads=2)
        assert summary.chunks_resumed == len(chunks)
        assert snapshot(store) == reference
        assert gallery_ids(tmp_path / "w") == unique_ids(store)
        with store.engine.connect() as conn:
            results = conn.execute(sa.select(sa.func.count()).select_from(dedup_results))
            assert results.scalar_one() == len(reference["results"])
            pairs = conn.execute(
                sa.select(dedup_candidates.c.result_id, dedup_candidates.c.candidate_id)
            ).all()
            assert len(pairs) == len(set(pairs)) == len(reference["candidates"])
            # one history entry per decision: no status change was written twice
            moved = conn.execute(
                sa.text("SELECT COUNT(*) FROM status_history WHERE actor = 'dedup-job'")
            ).scalar_one()
            assert moved == len(reference["results"])


def test_postgresql_gives_the_same(reference: dict, tmp_path) -> None:
    postgres_url()
    with fresh_store("postgresql", tmp_path) as store:
        _enrol(store)
        run_dedup(store, tmp_path / "w", OPTIONS, threads=2)
        assert snapshot(store) == reference


def _two_batches(store: Store, work: Path, client: object = None) -> dict:
    """Two jobs: the second searches the first one's unique records in the gallery."""
    store.add_records(_records()[:40], actor="region")
    run_checks(store)
    run_dedup(store, work, OPTIONS, threads=1)
    store.add_records(_records()[40:], actor="region")
    run_checks(store)
    run_dedup(store, work, OPTIONS, client=client, threads=1)
    return snapshot(store)


def test_dask_gives_the_same(tmp_path) -> None:
    distributed = pytest.importorskip("distributed")
    (tmp_path / "local").mkdir()
    (tmp_path / "dask").mkdir()
    with fresh_store("sqlite", tmp_path / "local") as store:
        local = _two_batches(store, tmp_path / "local" / "w")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
        fresh_store("sqlite", tmp_path / "dask") as store,
    ):
        assert _two_batches(store, tmp_path / "dask" / "w", client) == local
        # the workers served the gallery's shards themselves (only probes were sent)
        served = client.run(
            lambda: sorted(__import__("afis.people_shards", fromlist=["_OPEN"])._OPEN)
        )
        assert sorted(f for folders in served.values() for f in folders) == sorted(
            str(p.resolve()) for p in (tmp_path / "dask" / "w" / "gallery").glob("shard-*")
        )


def test_adjudication_deletion_and_every_status(reference: dict, tmp_path) -> None:
    with fresh_store("sqlite", tmp_path) as store:
        ids = _enrol(store)
        with store.begin() as conn:  # damaged after the checks passed it: a search failure
            conn.execute(
                samples.update()
                .where(samples.c.record_id == ids[-1], samples.c.position == 3)
                .values(template=b"\x00" * 40)
            )
        run_dedup(store, tmp_path / "w", OPTIONS, threads=2)
        reached = {Status(s) for s in snapshot(store)["statuses"].values()}
        cases = pending_cases(store)
        assert len(cases) == 2
        wrong = next(c for c in cases if c.candidates)
        assert wrong.candidates[0].same_nik and len(wrong.candidates[0].finger_scores) == 10
        exempt = next(c for c in cases if not c.candidates)
        assert decide(store, wrong.record_id, "same_person", actor="ana", reason="x") == (
            Status.DUPLICATE_RECORD
        )
        assert decide(store, exempt.record_id, "different_people", actor="ana", reason="y") == (
            Status.PRINT_READY_RECORD
        )
        with pytest.raises(StoreError, match="decision must be"):
            decide(store, exempt.record_id, "maybe", actor="ana", reason="z")
        from enrollment.status import IllegalTransition

        with pytest.raises(IllegalTransition):  # no longer pending: nothing changes
            decide(store, exempt.record_id, "same_person", actor="ana", reason="z")
        assert pending_cases(store) == []
        # deletion: a duplicate and a record the region could not validate
        duplicate = next(
            r for r, s in snapshot(store)["statuses"].items() if s == "DUPLICATE_RECORD"
        )
        invalid = next(
            r for r, s in snapshot(store)["statuses"].items() if s == "REQUEST_VALIDATION"
        )
        first = file_deletion(
            store, duplicate, actor="region", reason="same face", counterpart_id=1
        )
        second = file_deletion(store, invalid, actor="region", reason="typo")
        assert [r.id for r in pending_deletions(store)] == [first, second]
        assert resolve_deletion(store, first, True, actor="centre", reason="ok") == Status.DELETED
        assert resolve_deletion(store, second, False, actor="centre", reason="fix it") == (
            Status.REQUEST_VALIDATION
        )
        with pytest.raises(StoreError, match="already approved"):
            resolve_deletion(store, first, False, actor="centre", reason="again")
        with pytest.raises(StoreError, match="no deletion request"):
            resolve_deletion(store, 999, True, actor="centre", reason="?")
        assert [h.to_status for h in store.history(duplicate)][-2:] == [
            Status.REQUEST_FOR_DELETION,
            Status.DELETED,
        ]
        # the rest of the lifecycle: the region re-sends, printing, issuing, a failed pick-up
        store.transition(invalid, Status.PACKET_ENTRY, actor="region", reason="corrected")
        store.transition(invalid, Status.RECEIVED_AT_CENTRAL, actor="centre", reason="again")
        failed = next(
            r for r, s in snapshot(store)["statuses"].items() if s == "SEARCH_FAILURE_AT_CENTRAL"
        )
        store.transition(failed, Status.SENT_FOR_DEDUP, actor="centre", reason="retry")
        printed = ids[0] if store.status(ids[0]) == Status.PRINT_READY_RECORD else ids[1]
        for s in (
            Status.SENT_FOR_CARD_PRINTING,
            Status.CARD_PRINTED,
            Status.CARD_SHIPPED,
            Status.PRINT_READY_RECORD,  # pick-up verification failed: card destroyed
            Status.SENT_FOR_CARD_PRINTING,
            Status.CARD_PRINTED,
            Status.CARD_SHIPPED,
            Status.CARD_ISSUED,
        ):
            store.transition(printed, s, actor="print-office", reason="card")
        young = store.add_record(store.person(ids[0]), [], actor="siak", status=Status.UNREGISTERED)
        for s in (
            Status.BIO_CAPTURED,
            Status.PROCESSING,
            Status.SENT_FOR_ENROLLMENT,
            Status.RECEIVED_AT_CENTRAL,
        ):
            store.transition(young, s, actor="region", reason="enrolment")
        regional = store.add_record(store.person(ids[0]), [], actor="siak", status="UNREGISTERED")
        for s in (Status.BIO_CAPTURED, Status.PROCESSING, Status.ENROLL_FAILURE_AT_REGIONAL):
            store.transition(regional, s, actor="region", reason="wrong area code")
        for record in (young,):
            run_checks(store)
            assert store.status(record) == Status.ENROLL_FAILURE_AT_CENTRAL  # no fingers
        with store.engine.connect() as conn:
            for (status,) in conn.execute(sa.text("SELECT DISTINCT to_status FROM status_history")):
                reached.add(Status(status))
        assert reached == set(Status)


def test_worker_processes_give_the_same(reference: dict, tmp_path) -> None:
    with fresh_store("sqlite", tmp_path) as store:
        _enrol(store)
        summary = run_dedup(store, tmp_path / "w", OPTIONS, processes=2)
        assert summary.records == len(reference["results"])
        assert snapshot(store) == reference


def test_unreadable_template_is_a_search_failure(tmp_path) -> None:
    with fresh_store("sqlite", tmp_path) as store:
        ids = store.add_records(_records()[:20], actor="region")
        run_checks(store)
        victim = next(i for i in ids if store.status(i) == Status.SENT_FOR_DEDUP)
        with store.begin() as conn:  # damaged on disk after the checks passed it
            conn.execute(
                samples.update()
                .where(samples.c.record_id == victim, samples.c.position == 3)
                .values(template=b"\x00" * 40)
            )
        summary = run_dedup(store, tmp_path / "w", OPTIONS, threads=1)
        assert summary.outcomes["SEARCH_FAILURE_AT_CENTRAL"] == 1
        assert store.status(victim) == Status.SEARCH_FAILURE_AT_CENTRAL
        assert "cannot be read" in store.history(victim)[-1].reason


def test_one_to_many(tmp_path) -> None:
    import dataclasses

    from _enrollment import person

    from afis.synth import Population
    from enrollment.store import Sample

    def fingers(impression: int) -> list[Sample]:
        batch = Population(9).impressions(range(70, 80), impression)
        return [
            Sample(position=t.finger_position, template=t.to_bytes()) for t in batch.templates()
        ]

    base = _records()[:12]
    third = person(nik="3171015203850002", date_of_birth=__import__("datetime").date(1985, 3, 12))
    items = [
        *base,
        (person(), fingers(0)),
        (dataclasses.replace(third, nik="3171015203850001"), fingers(1)),
        (third, fingers(2)),
    ]
    with fresh_store("sqlite", tmp_path) as store:
        ids = store.add_records(items, actor="region")
        run_checks(store)
        run_dedup(store, tmp_path / "w", OPTIONS, threads=1)
        assert [store.status(i).value for i in ids[-3:]] == [
            "PRINT_READY_RECORD",
            "DUPLICATE_RECORD",
            "DUPLICATE_RECORD",
        ]
        with store.engine.connect() as conn:
            kinds = (
                conn.execute(
                    sa.select(dedup_results.c.kind)
                    .where(dedup_results.c.record_id.in_(ids[-2:]))
                    .order_by(dedup_results.c.record_id)
                )
                .scalars()
                .all()
            )
        assert kinds == ["one_to_one", "one_to_many"]
