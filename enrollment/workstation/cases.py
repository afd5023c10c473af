"""The adjudication queue, case claims and the two-person decisions of the workstation.

Queue
    Every record in ``ADJUDICATE_RECORD`` with its region, its age (since it entered the
    status, from ``status_history``), the best fused score of its latest de-duplication
    result and who holds a claim on it. A claim lasts :data:`CLAIM_MINUTES` minutes; while
    someone else holds one, nobody else may vote.

Decisions
    A *primary* and then a *secondary* adjudicator (two different users) vote independently:
    ``same_person``, ``different_people`` or ``inconclusive``, each with a reason. When both
    say the same ``same_person`` / ``different_people`` the status changes through
    :func:`enrollment.adjudication.decide` (actor ``"primary+secondary"``); a disagreement or
    an inconclusive vote goes to a *supervisor*, whose decision is final. A vote on a case
    that changed meanwhile (another status, a newer de-duplication result) is refused with
    :class:`CaseConflict`.

Examples
--------
>>> import datetime
>>> from enrollment.store import Person, Store
>>> from enrollment.workstation.users import User
>>> store = Store("sqlite://")
>>> rid = store.add_record(Person(nik="3171010501900001", name="BUDI", sex="M",
...     date_of_birth=datetime.date(1990, 1, 5), place_of_birth="BOGOR", region="317101"),
...     [], actor="region")
>>> for s in ("SENT_FOR_DEDUP", "ADJUDICATE_RECORD"):
...     store.transition(rid, s, actor="test", reason="example")
>>> [e.record_id for e in queue(store)] == [rid]
True
>>> ana = User(1, "ana", "adjudicator", "", True)
>>> bob = User(2, "bob", "adjudicator", "", True)
>>> vote(store, rid, None, ana, "different_people", "ridges differ").message
'primary decision recorded; a second adjudicator must decide'
>>> vote(store, rid, None, bob, "different_people", "core differs").status.value
'PRINT_READY_RECORD'
>>> vote(store, rid, None, bob, "same_person", "late")
Traceback (most recent call last):
...
enrollment.workstation.cases.CaseConflict: case ... was decided by someone else meanwhile: ...
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from enrollment.adjudication import DECISIONS, decide
from enrollment.status import IllegalTransition, Status
from enrollment.store import (
    Person,
    Store,
    StoreError,
    _person,
    dedup_candidates,
    dedup_jobs,
    dedup_results,
    now,
    records,
    status_history,
    workstation_claims,
    workstation_votes,
)

__all__ = [
    "CLAIM_MINUTES",
    "VOTES",
    "CandidateView",
    "CaseConflict",
    "CaseView",
    "QueueEntry",
    "VoteOutcome",
    "case_view",
    "claim",
    "queue",
    "release",
    "vote",
]

#: How long a claim on a case lasts.
CLAIM_MINUTES = 30
#: The votes an adjudicator may give, and how the pages name them.
VOTES = {
    "same_person": "Same person",
    "different_people": "Different people",
    "inconclusive": "Inconclusive",
}
#: Longest reason kept per vote.
MAX_REASON = 480


class CaseConflict(StoreError):
    """The action does not fit the case as it is now (decided meanwhile, claimed, voted)."""


@dataclass(frozen=True)
class QueueEntry:
    """One pending case in the queue."""

    record_id: int
    region: str
    entered_at: datetime.datetime
    best_score: float | None
    claimed_by: str | None
    claimed_at: datetime.datetime | None
    votes: int

    def age(self, at: datetime.datetime | None = None) -> datetime.timedelta:
        """Time since the record entered ``ADJUDICATE_RECORD``."""
        return (at or now()) - self.entered_at


@dataclass(frozen=True)
class CandidateView:
    """A candidate of a case: demographics and the scores against the probe."""

    record_id: int
    person: Person
    status: Status
    fused_score: float
    finger_scores: tuple[float, ...]
    verdict: str
    same_nik: bool


@dataclass(frozen=True)
class CaseView:
    """Everything the case page shows."""

    record_id: int
    person: Person
    status: Status
    entered_at: datetime.datetime | None
    result_id: int | None
    reason: str
    thresholds: dict[str, float]
    candidates: tuple[CandidateView, ...]
    votes: tuple[dict[str, Any], ...]
    claimed_by: str | None
    stage: str  # primary / secondary / supervisor / closed


@dataclass(frozen=True)
class VoteOutcome:
    """What a vote did: a message and the record's new status when the case closed."""

    message: str
    status: Status | None = None


def _aware(value: datetime.datetime | None) -> datetime.datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=datetime.timezone.utc)


def _latest_results() -> sa.Subquery:
    return (
        sa.select(
            dedup_results.c.record_id.label("record_id"),
            sa.func.max(dedup_results.c.id).label("result_id"),
        )
        .group_by(dedup_results.c.record_id)
        .subquery("latest")
    )


def _entered() -> sa.Subquery:
    return (
        sa.select(
            status_history.c.record_id.label("record_id"),
            sa.func.max(status_history.c.at).label("entered_at"),
        )
        .where(status_history.c.to_status == Status.ADJUDICATE_RECORD.value)
        .group_by(status_history.c.record_id)
        .subquery("entered")
    )


def queue(
    store: Store,
    *,
    region: str = "",
    sort: str = "age",
    at: datetime.datetime | None = None,
) -> list[QueueEntry]:
    """The pending cases (``ADJUDICATE_RECORD``), oldest first or best score first.

    Parameters
    ----------
    region : str
        Only records whose region code starts with this (a province, a regency, a district).
    sort : {"age", "score"}
    """
    at = at or now()
    latest, entered = _latest_results(), _entered()
    votes = (
        sa.select(workstation_votes.c.record_id, sa.func.count().label("n"))
        .group_by(workstation_votes.c.record_id)
        .subquery("nvotes")
    )
    query = (
        sa.select(
            records.c.id,
            records.c.region,
            records.c.updated_at,
            entered.c.entered_at,
            dedup_results.c.best_score,
            workstation_claims.c.username,
            workstation_claims.c.claimed_at,
            votes.c.n,
        )
        .select_from(records)
        .outerjoin(latest, latest.c.record_id == records.c.id)
        .outerjoin(dedup_results, dedup_results.c.id == latest.c.result_id)
        .outerjoin(entered, entered.c.record_id == records.c.id)
        .outerjoin(workstation_claims, workstation_claims.c.record_id == records.c.id)
        .outerjoin(votes, votes.c.record_id == records.c.id)
        .where(records.c.status == Status.ADJUDICATE_RECORD.value)
    )
    if region:
        query = query.where(records.c.region.startswith(region, autoescape=True))
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    expiry = at - datetime.timedelta(minutes=CLAIM_MINUTES)
    out = []
    for r in rows:
        claimed_at = _aware(r.claimed_at)
        live = claimed_at is not None and claimed_at > expiry
        out.append(
            QueueEntry(
                record_id=int(r.id),
                region=r.region,
                entered_at=_aware(r.entered_at or r.updated_at),
                best_score=None if r.best_score is None else float(r.best_score),
                claimed_by=r.username if live else None,
                claimed_at=claimed_at if live else None,
                votes=int(r.n or 0),
            )
        )
    if sort == "score":
        out.sort(key=lambda e: (-(e.best_score or 0.0), e.record_id))
    else:
        out.sort(key=lambda e: (e.entered_at, e.record_id))
    return out


def _holder(conn: sa.Connection, record_id: int, at: datetime.datetime) -> str | None:
    row = conn.execute(
        sa.select(workstation_claims).where(workstation_claims.c.record_id == record_id)
    ).first()
    if row is None:
        return None
    if _aware(row.claimed_at) <= at - datetime.timedelta(minutes=CLAIM_MINUTES):
        return None
    return row.username


def claim(store: Store, record_id: int, username: str) -> None:
    """Claim a pending case for :data:`CLAIM_MINUTES` minutes (renews one's own claim).

    Raises
    ------
    CaseConflict
        The case is not pending, or someone else holds a live claim.
    """
    at = now()
    with store.begin() as conn:
        status = store.status(record_id, conn)
        if status != Status.ADJUDICATE_RECORD:
            raise CaseConflict(f"case {record_id} is not pending (the record is {status.value})")
        holder = _holder(conn, record_id, at)
        if holder is not None and holder != username:
            raise CaseConflict(f"case {record_id} is claimed by {holder}")
        conn.execute(workstation_claims.delete().where(workstation_claims.c.record_id == record_id))
        conn.execute(
            workstation_claims.insert(),
            {"record_id": record_id, "username": username, "claimed_at": at},
        )


def release(store: Store, record_id: int, username: str, *, force: bool = False) -> None:
    """Release one's claim (a supervisor may release anyone's with ``force``)."""
    with store.begin() as conn:
        query = workstation_claims.delete().where(workstation_claims.c.record_id == record_id)
        if not force:
            query = query.where(workstation_claims.c.username == username)
        if conn.execute(query).rowcount != 1:
            raise CaseConflict(f"you hold no claim on case {record_id}")


def _votes(conn: sa.Connection, record_id: int, result_id: int | None) -> list[sa.Row]:
    query = sa.select(workstation_votes).where(workstation_votes.c.record_id == record_id)
    if result_id is None:
        query = query.where(workstation_votes.c.result_id.is_(None))
    else:
        query = query.where(workstation_votes.c.result_id == result_id)
    return list(conn.execute(query.order_by(workstation_votes.c.id)))


def _stage(votes: list[sa.Row], status: Status) -> str:
    if status != Status.ADJUDICATE_RECORD:
        return "closed"
    roles = {v.role: v for v in votes}
    if "supervisor" in roles:
        return "closed"
    if "primary" not in roles:
        return "primary"
    if "secondary" not in roles:
        return "secondary"
    return "supervisor"


def case_view(store: Store, record_id: int) -> CaseView:
    """The probe, its candidates (best first), the job's thresholds and the votes so far.

    Raises
    ------
    StoreError
        No such record.
    """
    at = now()
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(records).where(records.c.id == record_id)).first()
        if row is None:
            raise StoreError(f"no record {record_id}")
        status = Status(row.status)
        result = conn.execute(
            sa.select(dedup_results)
            .where(dedup_results.c.record_id == record_id)
            .order_by(dedup_results.c.id.desc())
            .limit(1)
        ).first()
        entered = conn.execute(
            sa.select(sa.func.max(status_history.c.at)).where(
                status_history.c.record_id == record_id,
                status_history.c.to_status == Status.ADJUDICATE_RECORD.value,
            )
        ).scalar_one_or_none()
        thresholds: dict[str, float] = {}
        candidates: list[CandidateView] = []
        if result is not None:
            settings = conn.execute(
                sa.select(dedup_jobs.c.settings).where(dedup_jobs.c.id == result.job_id)
            ).scalar_one_or_none()
            limits = (settings or {}).get("thresholds", {})
            thresholds = {k: float(limits[k]) for k in ("duplicate", "adjudicate") if k in limits}
            query = (
                sa.select(dedup_candidates, records)
                .join(records, records.c.id == dedup_candidates.c.candidate_id)
                .where(dedup_candidates.c.result_id == result.id)
                .order_by(dedup_candidates.c.rank)
            )
            for c in conn.execute(query):
                candidates.append(
                    CandidateView(
                        record_id=int(c.candidate_id),
                        person=_person(c),
                        status=Status(c.status),
                        fused_score=float(c.fused_score),
                        finger_scores=tuple(float(s) for s in c.finger_scores),
                        verdict=c.verdict,
                        same_nik=bool(c.same_nik),
                    )
                )
        result_id = None if result is None else int(result.id)
        votes = _votes(conn, record_id, result_id)
        holder = _holder(conn, record_id, at)
    return CaseView(
        record_id=record_id,
        person=_person(row),
        status=status,
        entered_at=_aware(entered),
        result_id=result_id,
        reason="" if result is None else result.reason,
        thresholds=thresholds,
        candidates=tuple(candidates),
        votes=tuple(
            {
                "username": v.username,
                "role": v.role,
                "decision": v.decision,
                "reason": v.reason,
                "at": _aware(v.at),
            }
            for v in votes
        ),
        claimed_by=holder,
        stage=_stage(votes, status),
    )


def vote(
    store: Store,
    record_id: int,
    result_id: int | None,
    user: Any,
    decision: str,
    reason: str,
) -> VoteOutcome:
    """Record a vote on a case seen with ``result_id``; closes the case when it can.

    ``user`` has ``username`` and ``role`` (an adjudicator votes primary or secondary, a
    supervisor decides a conflict).

    Raises
    ------
    CaseConflict
        The case was decided meanwhile or has a newer result, someone else holds a claim,
        the user voted already, or the case waits for another role.
    StoreError
        A bad decision or an empty reason.
    """
    reason = " ".join(reason.split())
    if decision not in VOTES:
        raise StoreError(f"decision must be one of {', '.join(VOTES)}")
    if not reason:
        raise StoreError("a decision needs a reason")
    if len(reason) > MAX_REASON:
        raise StoreError(f"a reason has at most {MAX_REASON} characters")
    at = now()
    with store.begin() as conn:
        status = store.status(record_id, conn)
        if status != Status.ADJUDICATE_RECORD:
            raise CaseConflict(
                f"case {record_id} was decided by someone else meanwhile: the record is now "
                f"{status.value}. Your decision was not recorded."
            )
        latest = conn.execute(
            sa.select(sa.func.max(dedup_results.c.id)).where(dedup_results.c.record_id == record_id)
        ).scalar_one_or_none()
        if latest != result_id:
            raise CaseConflict(
                f"case {record_id} has a newer de-duplication result than the one you saw; "
                "your decision was not recorded: open the case again"
            )
        holder = _holder(conn, record_id, at)
        if holder is not None and holder != user.username:
            raise CaseConflict(f"case {record_id} is claimed by {holder}; you cannot vote on it")
        votes = _votes(conn, record_id, result_id)
        stage = _stage(votes, status)
        if user.role == "adjudicator":
            if stage == "supervisor":
                raise CaseConflict(f"case {record_id} waits for a supervisor's decision")
            if any(v.username == user.username for v in votes):
                raise CaseConflict(
                    f"you decided case {record_id} already; a second adjudicator must decide"
                )
            role = stage
        elif user.role == "supervisor":
            if stage != "supervisor":
                raise CaseConflict(
                    f"case {record_id} waits for its {stage} adjudicator; a supervisor "
                    "decides only when the two adjudicators disagree or one is inconclusive"
                )
            if decision not in DECISIONS:
                raise StoreError("a supervisor's decision is final: same person or different")
            role = "supervisor"
        else:
            raise PermissionError(f"a {user.role} may not decide cases")
        try:
            conn.execute(
                workstation_votes.insert(),
                {
                    "record_id": record_id,
                    "result_id": result_id,
                    "username": user.username,
                    "role": role,
                    "decision": decision,
                    "reason": reason,
                    "at": at,
                },
            )
        except sa.exc.IntegrityError as exc:
            raise CaseConflict(f"case {record_id} got its {role} decision meanwhile") from exc
        conn.execute(workstation_claims.delete().where(workstation_claims.c.record_id == record_id))
    if role == "primary":
        return VoteOutcome("primary decision recorded; a second adjudicator must decide")
    if role == "secondary":
        first = votes[0]
        if first.decision != decision or decision not in DECISIONS:
            return VoteOutcome("secondary decision recorded; the case goes to a supervisor")
        actor = f"{first.username}+{user.username}"
        text = f"primary {first.username}: {first.reason}; secondary {user.username}: {reason}"
    else:
        actor = user.username
        text = f"supervisor {user.username}: {reason}"
    try:
        new = decide(store, record_id, decision, actor=actor[:100], reason=text[:950])
    except IllegalTransition as exc:
        raise CaseConflict(
            f"case {record_id} was decided by someone else meanwhile; your vote is kept but "
            "changed nothing"
        ) from exc
    return VoteOutcome(f"case closed: {VOTES[decision].lower()}", new)
