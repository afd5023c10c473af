"""The record store, the lifecycle table and the centre's checks, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime

import pytest
import sqlalchemy as sa
from _enrollment import BACKENDS, fresh_store, person

from afis.synth import Population
from enrollment.checks import CheckOptions, check_record, nik_problems, run_checks
from enrollment.migrate import current, head
from enrollment.status import (
    TRANSITIONS,
    UNIQUE_STATUSES,
    IllegalTransition,
    Status,
    allowed,
    check_transition,
)
from enrollment.store import Person, Sample, SampleState, Store, StoreError, metadata


def test_twenty_statuses_one_table() -> None:
    assert len(Status) == 20
    assert set(TRANSITIONS) == set(Status)
    for targets in TRANSITIONS.values():
        assert targets <= set(Status)
    # every status but the first can be entered, and every status can be reached from the start
    entered = set().union(*TRANSITIONS.values())
    assert entered == set(Status) - {Status.UNREGISTERED}
    seen, todo = {Status.UNREGISTERED}, [Status.UNREGISTERED]
    while todo:
        for nxt in TRANSITIONS[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    assert seen | {Status.RECEIVED_AT_CENTRAL} == set(Status)
    assert UNIQUE_STATUSES <= set(Status)


def test_check_transition() -> None:
    check_transition("SENT_FOR_DEDUP", "ADJUDICATE_RECORD")
    with pytest.raises(IllegalTransition, match="CARD_ISSUED -> PRINT_READY_RECORD"):
        check_transition(Status.CARD_ISSUED, Status.PRINT_READY_RECORD)
    with pytest.raises(IllegalTransition, match="unknown status"):
        check_transition("NOT_A_STATUS", "CARD_ISSUED")
    with pytest.raises(TypeError):
        check_transition(3, "CARD_ISSUED")  # type: ignore[arg-type]
    assert allowed(Status.DELETED) == frozenset()


@pytest.mark.parametrize("backend", BACKENDS)
def test_schema_matches_migrations(backend: str, tmp_path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with fresh_store(backend, tmp_path) as store:
        assert current(store.engine) == head()
        with store.engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diffs == []
        Store(store.url)  # opening again migrates nothing and fails nothing


@pytest.mark.parametrize("backend", BACKENDS)
def test_illegal_transition_changes_nothing(backend: str, tmp_path) -> None:
    with fresh_store(backend, tmp_path) as store:
        rid = store.add_record(person(), [], actor="region")
        before = store.history(rid)
        for bad in (Status.CARD_ISSUED, Status.PRINT_READY_RECORD, Status.UNREGISTERED):
            with pytest.raises(IllegalTransition):
                store.transition(rid, bad, actor="x", reason="y")
        assert store.status(rid) == Status.RECEIVED_AT_CENTRAL
        assert store.history(rid) == before
        # compare-and-set: a caller that saw another status is refused
        with pytest.raises(IllegalTransition, match="not PACKET_ENTRY"):
            store.transition(
                rid, Status.SENT_FOR_DEDUP, actor="x", reason="y", expected=Status.PACKET_ENTRY
            )
        assert store.history(rid) == before
        with pytest.raises(StoreError, match="no record"):
            store.transition(rid + 100, Status.SENT_FOR_DEDUP, actor="x", reason="y")
        with pytest.raises(StoreError, match="actor"):
            store.transition(rid, Status.SENT_FOR_DEDUP, actor="", reason="y")
        with pytest.raises(IllegalTransition):
            store.add_record(person(), [], actor="x", status=Status.PRINT_READY_RECORD)


@pytest.mark.parametrize("backend", BACKENDS)
def test_round_trip_and_history(backend: str, tmp_path) -> None:
    t = Population(1).impressions([0], 0).template(0)
    fingers = [
        Sample(position=1, template=t.to_bytes(), quality=55, image_ref="img/1.wsq"),
        Sample(position=2, state=SampleState.MISSING, reason="amputated"),
    ]
    p = person(family_card="3171010000000001", address="JL. MERDEKA 1")
    with fresh_store(backend, tmp_path) as store:
        rid = store.add_record(p, fingers, actor="region", batch="b1")
        assert store.person(rid) == p
        assert store.samples(rid) == fingers
        store.transition(rid, "SENT_FOR_DEDUP", actor="checks", reason="clean")
        history = store.history(rid)
        assert [(h.from_status, h.to_status) for h in history] == [
            (None, Status.RECEIVED_AT_CENTRAL),
            (Status.RECEIVED_AT_CENTRAL, Status.SENT_FOR_DEDUP),
        ]
        assert history[1].actor == "checks" and history[1].reason == "clean"
        assert history[1].at >= history[0].at.replace(tzinfo=history[1].at.tzinfo)
        assert store.status_counts() == {Status.SENT_FOR_DEDUP: 1}


def test_bad_records_refused() -> None:
    with pytest.raises(StoreError, match="nik"):
        person(nik="1" * 17)
    with pytest.raises(TypeError):
        person(name=None)
    with pytest.raises(ValueError):
        person(issuance="by post")
    with pytest.raises(StoreError, match="captured sample has a template"):
        Sample(position=1)
    with pytest.raises(StoreError, match="finger position"):
        Sample(position=0, state=SampleState.MISSING)
    store = Store("sqlite://")
    with pytest.raises(StoreError, match="two samples"):
        store.add_record(person(), [Sample(position=1, state="missing")] * 2, actor="x")
    with pytest.raises(TypeError, match="sequence of Sample"):
        store.add_record(person(), [b"template"], actor="x")  # type: ignore[list-item]
    with pytest.raises(TypeError, match="expected a Person"):
        store.add_records([("3171014501900001", [])], actor="x")  # type: ignore[list-item]
    with pytest.raises(StoreError, match="cannot"):
        Store("nosuchdialect://x")


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, []),
        ({"sex": "M"}, ["encodes a woman but the sex field says M"]),
        ({"nik": "3171010501900001"}, ["encodes a man but the sex field says F"]),
        ({"region": "317102"}, ["differs from the record's region"]),
        ({"date_of_birth": datetime.date(1991, 1, 5)}, ["differs from the date of birth"]),
        ({"nik": "31710145019A0001"}, ["not 16 digits"]),
        ({"nik": "3171014513900001"}, ["not a date"]),
        ({"nik": "3171014501900000"}, ["serial is 0000"]),
        ({"name": ""}, ["name is empty"]),
        ({"date_of_birth": None}, ["date_of_birth is empty"]),
        ({"sex": "X"}, ["sex must be M or F"]),
    ],
)
def test_nik_checks(changes: dict, expected: list[str]) -> None:
    problems = nik_problems(person(**changes))
    assert len(problems) >= len(expected)
    for text in expected:
        assert any(text in p for p in problems), problems
    if not expected:
        assert problems == []


def _fingers(quality: int = 60, count: int = 10) -> list[Sample]:
    batch = Population(3).impressions(range(10), 0)
    return [
        Sample(position=t.finger_position, template=t.to_bytes(), quality=quality)
        for t in batch.templates()[:count]
    ]


def test_biometric_checks() -> None:
    good = _fingers()
    assert check_record(person(), good).status == Status.SENT_FOR_DEDUP
    assert check_record(person(sex="M"), good).status == Status.REQUEST_VALIDATION
    assert check_record(person(region="997101"), good).status == Status.ENROLL_FAILURE_AT_REGIONAL
    low = check_record(person(), _fingers(quality=5))
    assert low.status == Status.ENROLL_FAILURE_AT_CENTRAL and "quality 5 below" in low.reason
    few = check_record(person(), _fingers(count=4))
    assert few.status == Status.ENROLL_FAILURE_AT_CENTRAL and "not captured" in few.reason
    # fingers marked missing are excused: four usable of four present will do
    missing = [*_fingers(count=4)] + [
        Sample(position=p, state=SampleState.MISSING) for p in range(5, 11)
    ]
    assert check_record(person(), missing).status == Status.SENT_FOR_DEDUP
    exempt = [Sample(position=p, state=SampleState.EXEMPT) for p in range(1, 11)]
    assert check_record(person(), exempt).status == Status.SENT_FOR_DEDUP
    corrupt = [Sample(position=1, template=b"junk"), *good[1:]]
    result = check_record(person(), corrupt, CheckOptions(min_usable_fingers=10))
    assert result.status == Status.ENROLL_FAILURE_AT_CENTRAL and "corrupt template" in result.reason
    with pytest.raises(ValueError):
        CheckOptions(quality_floor=101)


@pytest.mark.parametrize("backend", BACKENDS)
def test_run_checks(backend: str, tmp_path) -> None:
    good = _fingers()
    with fresh_store(backend, tmp_path) as store:
        ids = store.add_records(
            [
                (person(), good),
                (person(sex="M"), good),
                (person(region="997101"), good),
                (person(), _fingers(quality=5)),
            ],
            actor="region",
        )
        other = store.add_record(person(), good, actor="siak", status=Status.UNREGISTERED)
        counts = run_checks(store)
        assert counts == {
            Status.SENT_FOR_DEDUP: 1,
            Status.REQUEST_VALIDATION: 1,
            Status.ENROLL_FAILURE_AT_REGIONAL: 1,
            Status.ENROLL_FAILURE_AT_CENTRAL: 1,
        }
        assert [store.status(i) for i in ids] == [
            Status.SENT_FOR_DEDUP,
            Status.REQUEST_VALIDATION,
            Status.ENROLL_FAILURE_AT_REGIONAL,
            Status.ENROLL_FAILURE_AT_CENTRAL,
        ]
        assert "sex field says M" in store.history(ids[1])[-1].reason
        assert store.status(other) == Status.UNREGISTERED
        assert run_checks(store) == {}  # nothing left: a second run changes nothing


def test_person_types() -> None:
    with pytest.raises(TypeError):
        Person(
            nik="1",
            name="A",
            sex="M",
            date_of_birth="1990-01-01",  # type: ignore[arg-type]
            place_of_birth="B",
            region="317101",
        )
    with pytest.raises(StoreError, match="no record"):
        Store("sqlite://").status(1)
    with pytest.raises(sa.exc.NoSuchModuleError):
        sa.create_engine("nosuchdialect://x")
