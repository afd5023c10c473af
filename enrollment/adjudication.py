"""Adjudication of grey-zone records and the deletion requests that resolve problem records.

An adjudicator lists the records in ``ADJUDICATE_RECORD`` with their candidates and the
per-finger scores, then decides: *same person* (the record is a duplicate:
``DUPLICATE_RECORD``, and the region may later file a deletion request) or *different people*
(``PRINT_READY_RECORD``). A region files ``REQUEST_FOR_DELETION`` for a duplicate or a record
it was asked to validate, after analysing it against its counterpart; the centre approves
(``DELETED``) or rejects (the record returns to where it was). Every step writes its own row
(``adjudications``, ``deletion_requests``) and a status-history entry in one transaction.

Examples
--------
>>> import datetime
>>> from enrollment.store import Person, Store
>>> store = Store("sqlite://")
>>> rid = store.add_record(Person(nik="3171010501900001", name="BUDI", sex="M",
...     date_of_birth=datetime.date(1990, 1, 5), place_of_birth="BOGOR", region="317101"),
...     [], actor="region")
>>> for s in ("SENT_FOR_DEDUP", "ADJUDICATE_RECORD"):
...     store.transition(rid, s, actor="test", reason="example")
>>> [case.record_id for case in pending_cases(store)] == [rid]
True
>>> decide(store, rid, "different_people", actor="ana", reason="ridge detail differs").value
'PRINT_READY_RECORD'
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from enrollment.status import Status
from enrollment.store import (
    Store,
    StoreError,
    adjudications,
    dedup_candidates,
    dedup_results,
    deletion_requests,
    now,
    records,
)

__all__ = [
    "DECISIONS",
    "Case",
    "CaseCandidate",
    "DeletionRequest",
    "decide",
    "file_deletion",
    "pending_cases",
    "pending_deletions",
    "resolve_deletion",
]

#: Adjudication decisions and the status each leads to.
DECISIONS = {
    "same_person": Status.DUPLICATE_RECORD,
    "different_people": Status.PRINT_READY_RECORD,
}


@dataclass(frozen=True)
class CaseCandidate:
    """A candidate of a pending case."""

    record_id: int
    nik: str
    name: str
    status: Status
    fused_score: float
    finger_scores: tuple[float, ...]
    verdict: str
    same_nik: bool


@dataclass(frozen=True)
class Case:
    """A record waiting for an adjudicator, with the search result that sent it there."""

    record_id: int
    nik: str
    name: str
    result_id: int | None
    reason: str
    candidates: tuple[CaseCandidate, ...]


@dataclass(frozen=True)
class DeletionRequest:
    """A region's request to delete a problem record."""

    id: int
    record_id: int
    counterpart_id: int | None
    previous_status: Status
    filed_by: str
    reason: str
    state: str


def _latest_result(conn: sa.Connection, record_id: int) -> sa.Row | None:
    return conn.execute(
        sa.select(dedup_results)
        .where(dedup_results.c.record_id == record_id)
        .order_by(dedup_results.c.id.desc())
        .limit(1)
    ).first()


def pending_cases(store: Store) -> list[Case]:
    """Records in ``ADJUDICATE_RECORD``, oldest first, with candidates best first."""
    cases = []
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(records.c.id, records.c.nik, records.c.name)
            .where(records.c.status == Status.ADJUDICATE_RECORD.value)
            .order_by(records.c.id)
        ).all()
        for row in rows:
            result = _latest_result(conn, row.id)
            candidates: list[CaseCandidate] = []
            if result is not None:
                query = (
                    sa.select(dedup_candidates, records.c.nik, records.c.name, records.c.status)
                    .join(records, records.c.id == dedup_candidates.c.candidate_id)
                    .where(dedup_candidates.c.result_id == result.id)
                    .order_by(dedup_candidates.c.rank)
                )
                candidates = [
                    CaseCandidate(
                        record_id=int(c.candidate_id),
                        nik=c.nik,
                        name=c.name,
                        status=Status(c.status),
                        fused_score=float(c.fused_score),
                        finger_scores=tuple(float(s) for s in c.finger_scores),
                        verdict=c.verdict,
                        same_nik=bool(c.same_nik),
                    )
                    for c in conn.execute(query)
                ]
            cases.append(
                Case(
                    record_id=int(row.id),
                    nik=row.nik,
                    name=row.name,
                    result_id=None if result is None else int(result.id),
                    reason="" if result is None else result.reason,
                    candidates=tuple(candidates),
                )
            )
    return cases


def decide(store: Store, record_id: int, decision: str, *, actor: str, reason: str) -> Status:
    """Record an adjudicator's decision on a pending case; returns the record's new status."""
    if decision not in DECISIONS:
        raise StoreError(f"decision must be one of {', '.join(DECISIONS)}, got {decision!r}")
    if not actor:
        raise StoreError("a decision needs the adjudicator's name")
    new = DECISIONS[decision]
    with store.begin() as conn:
        result = _latest_result(conn, record_id)
        store.transition(
            record_id,
            new,
            actor=actor,
            reason=f"adjudicated {decision}: {reason}",
            expected=Status.ADJUDICATE_RECORD,
            conn=conn,
        )
        conn.execute(
            adjudications.insert(),
            {
                "record_id": record_id,
                "result_id": None if result is None else result.id,
                "decision": decision,
                "decided_by": actor,
                "reason": reason,
                "at": now(),
            },
        )
    return new


def file_deletion(
    store: Store,
    record_id: int,
    *,
    actor: str,
    reason: str,
    counterpart_id: int | None = None,
) -> int:
    """A region asks for a duplicate (or a record it could not validate) to be deleted.

    Returns the request's id.
    """
    if not reason:
        raise StoreError("a deletion request needs the region's analysis as its reason")
    with store.begin() as conn:
        current = store.status(record_id, conn)
        if counterpart_id is not None:
            store.status(counterpart_id, conn)  # raises StoreError when there is no such record
        store.transition(
            record_id,
            Status.REQUEST_FOR_DELETION,
            actor=actor,
            reason=reason,
            expected=current,
            conn=conn,
        )
        request_id = conn.execute(
            deletion_requests.insert().returning(deletion_requests.c.id),
            {
                "record_id": record_id,
                "counterpart_id": counterpart_id,
                "previous_status": current.value,
                "filed_by": actor,
                "reason": reason,
                "filed_at": now(),
                "state": "pending",
            },
        ).scalar_one()
    return int(request_id)


def pending_deletions(store: Store) -> list[DeletionRequest]:
    """Deletion requests not yet resolved, oldest first."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(deletion_requests)
            .where(deletion_requests.c.state == "pending")
            .order_by(deletion_requests.c.id)
        ).all()
    return [
        DeletionRequest(
            id=int(r.id),
            record_id=int(r.record_id),
            counterpart_id=None if r.counterpart_id is None else int(r.counterpart_id),
            previous_status=Status(r.previous_status),
            filed_by=r.filed_by,
            reason=r.reason,
            state=r.state,
        )
        for r in rows
    ]


def resolve_deletion(
    store: Store, request_id: int, approve: bool, *, actor: str, reason: str
) -> Status:
    """Approve (the record becomes ``DELETED``) or reject (it returns to its previous status)."""
    if not actor:
        raise StoreError("a resolution needs the name of who resolved it")
    with store.begin() as conn:
        row = conn.execute(
            sa.select(deletion_requests).where(deletion_requests.c.id == request_id)
        ).first()
        if row is None:
            raise StoreError(f"no deletion request {request_id}")
        if row.state != "pending":
            raise StoreError(f"deletion request {request_id} is already {row.state}")
        new = Status.DELETED if approve else Status(row.previous_status)
        verb = "approved" if approve else "rejected"
        store.transition(
            int(row.record_id),
            new,
            actor=actor,
            reason=f"deletion request {request_id} {verb}: {reason}",
            expected=Status.REQUEST_FOR_DELETION,
            conn=conn,
        )
        done = conn.execute(
            deletion_requests.update()
            .where(deletion_requests.c.id == request_id, deletion_requests.c.state == "pending")
            .values(state=verb, resolved_by=actor, resolution=reason, resolved_at=now())
        )
        if done.rowcount != 1:
            raise StoreError(f"deletion request {request_id} was resolved meanwhile")
    return new
