"""The data centre's record store: SQLAlchemy Core over SQLite (default) or PostgreSQL.

One schema (:data:`metadata`) holds the enrolment records, their fingerprint samples, every
status change (time, actor, reason), the de-duplication jobs with their checkpoints, results
and candidates, adjudication decisions and deletion requests. The schema is created and
upgraded by Alembic migrations (``enrollment/migrations``), run when a store is opened.

A SQLite file is opened in WAL mode with foreign keys on; PostgreSQL is reached by URL
(``postgresql+psycopg://user@host/db``). Every status change goes through
:meth:`Store.transition`, which checks the lifecycle table and changes the record only if it
is still in the status the caller saw (compare-and-set), writing the history row in the same
transaction.

Examples
--------
>>> import datetime
>>> store = Store("sqlite://")
>>> person = Person(nik="3171014501900001", name="SITI", sex="F",
...                 date_of_birth=datetime.date(1990, 1, 5), place_of_birth="JAKARTA",
...                 region="317101")
>>> rid = store.add_record(person, [], actor="test")
>>> store.status(rid).value
'RECEIVED_AT_CENTRAL'
>>> store.transition(rid, Status.SENT_FOR_DEDUP, actor="checks", reason="clean")
>>> [h.to_status.value for h in store.history(rid)]
['RECEIVED_AT_CENTRAL', 'SENT_FOR_DEDUP']
>>> store.transition(rid, Status.CARD_ISSUED, actor="x", reason="y")
Traceback (most recent call last):
...
enrollment.status.IllegalTransition: SENT_FOR_DEDUP -> CARD_ISSUED is not an allowed transition
"""

from __future__ import annotations

import datetime
import enum
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from afis.errors import AfisError
from afis.template import FingerPosition
from enrollment.kinds import Citizenship, Issuance
from enrollment.status import IllegalTransition, Status, check_transition

__all__ = [
    "Citizenship",
    "HistoryEntry",
    "Issuance",
    "Person",
    "Sample",
    "SampleState",
    "Store",
    "StoreError",
    "metadata",
    "packet_receipts",
    "workstation_audit",
    "workstation_claims",
    "workstation_users",
    "workstation_votes",
]

#: Statuses a record may be created in: known to SIAK only, or a packet arriving at the centre.
INITIAL_STATUSES = frozenset({Status.UNREGISTERED, Status.RECEIVED_AT_CENTRAL})


class StoreError(AfisError, ValueError):
    """The store cannot do what was asked (unknown record, bad argument, unreachable database)."""


class SampleState(str, enum.Enum):
    """A finger position's state in a record."""

    CAPTURED = "captured"
    MISSING = "missing"  # amputated or bandaged: nothing could be captured
    EXEMPT = "exempt"  # the person is exempt from fingerprinting (disability)


#: Longest values of the short fields (the columns' sizes; the checks judge the content).
_FIELD_LIMITS = {"nik": 16, "sex": 1, "region": 6, "family_card": 16}


@dataclass(frozen=True)
class Person:
    """The demographic part of an enrolment record.

    Fields may be empty (the centre's checks send such records back for validation); their
    types are checked here.
    """

    nik: str
    name: str
    sex: str  # "M" or "F"
    date_of_birth: datetime.date | None
    place_of_birth: str
    region: str  # six-digit code of the registering province, regency/city, district
    issuance: Issuance = Issuance.MASS
    citizenship: Citizenship = Citizenship.CITIZEN
    family_card: str = ""
    address: str = ""

    def __post_init__(self) -> None:
        for name in ("nik", "name", "sex", "place_of_birth", "region", "family_card", "address"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise TypeError(f"Person.{name} must be a str, got {type(value).__name__}")
            limit = _FIELD_LIMITS.get(name, 200)
            if len(value) > limit:
                raise StoreError(f"Person.{name} is longer than {limit} characters: {value!r}")
        if self.date_of_birth is not None and not isinstance(self.date_of_birth, datetime.date):
            raise TypeError("Person.date_of_birth must be a datetime.date or None")
        object.__setattr__(self, "issuance", Issuance(self.issuance))
        object.__setattr__(self, "citizenship", Citizenship(self.citizenship))


@dataclass(frozen=True)
class Sample:
    """One finger position of a record: a template (``afis.Template.to_bytes()``) or why not."""

    position: FingerPosition
    state: SampleState = SampleState.CAPTURED
    template: bytes | None = None
    quality: int | None = None
    image_ref: str | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        position = FingerPosition(int(self.position))
        if position == FingerPosition.UNKNOWN:
            raise StoreError("a sample needs a finger position 1..10")
        object.__setattr__(self, "position", position)
        object.__setattr__(self, "state", SampleState(self.state))
        if self.template is not None and not isinstance(self.template, bytes):
            raise TypeError("Sample.template must be bytes or None")
        if (self.state == SampleState.CAPTURED) != (self.template is not None):
            raise StoreError("a captured sample has a template, a missing or exempt one has none")
        if self.quality is not None and not (
            isinstance(self.quality, int) and 0 <= self.quality <= 100
        ):
            raise StoreError("Sample.quality must be an int in 0..100 or None")


@dataclass(frozen=True)
class HistoryEntry:
    """One status change of a record."""

    record_id: int
    from_status: Status | None
    to_status: Status
    at: datetime.datetime
    actor: str
    reason: str


metadata = sa.MetaData()

records = sa.Table(
    "records",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("nik", sa.String(16), nullable=False, index=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("sex", sa.String(1), nullable=False),
    sa.Column("date_of_birth", sa.Date, nullable=True),
    sa.Column("place_of_birth", sa.String(200), nullable=False),
    sa.Column("region", sa.String(6), nullable=False),
    sa.Column("issuance", sa.String(16), nullable=False),
    sa.Column("citizenship", sa.String(16), nullable=False),
    sa.Column("family_card", sa.String(16), nullable=False),
    sa.Column("address", sa.String(200), nullable=False),
    sa.Column("batch", sa.String(64), nullable=False),
    sa.Column("status", sa.String(32), nullable=False, index=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

samples = sa.Table(
    "samples",
    metadata,
    sa.Column("record_id", sa.Integer, sa.ForeignKey("records.id"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("template", sa.LargeBinary, nullable=True),
    sa.Column("quality", sa.Integer, nullable=True),
    sa.Column("image_ref", sa.String(500), nullable=True),
    sa.Column("reason", sa.String(500), nullable=False),
)

status_history = sa.Table(
    "status_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("record_id", sa.Integer, sa.ForeignKey("records.id"), nullable=False, index=True),
    sa.Column("from_status", sa.String(32), nullable=True),
    sa.Column("to_status", sa.String(32), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.String(100), nullable=False),
    sa.Column("reason", sa.String(1000), nullable=False),
)

dedup_jobs = sa.Table(
    "dedup_jobs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("work_dir", sa.String(1000), nullable=False),
    sa.Column("settings", sa.JSON, nullable=False),
    sa.Column("summary", sa.JSON, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
)

dedup_job_items = sa.Table(
    "dedup_job_items",
    metadata,
    sa.Column("job_id", sa.Integer, sa.ForeignKey("dedup_jobs.id"), primary_key=True),
    sa.Column("record_id", sa.Integer, sa.ForeignKey("records.id"), primary_key=True),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("chunk", sa.Integer, nullable=False),
    sa.UniqueConstraint("job_id", "seq", name="uq_dedup_job_items_seq"),
)

dedup_checkpoints = sa.Table(
    "dedup_checkpoints",
    metadata,
    sa.Column("job_id", sa.Integer, sa.ForeignKey("dedup_jobs.id"), primary_key=True),
    sa.Column("chunk", sa.Integer, primary_key=True),
    sa.Column("records", sa.Integer, nullable=False),
    sa.Column("committed_at", sa.DateTime(timezone=True), nullable=False),
)

dedup_results = sa.Table(
    "dedup_results",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job_id", sa.Integer, sa.ForeignKey("dedup_jobs.id"), nullable=False),
    sa.Column("record_id", sa.Integer, sa.ForeignKey("records.id"), nullable=False, index=True),
    sa.Column("decision", sa.String(32), nullable=False),
    sa.Column("kind", sa.String(16), nullable=True),  # one_to_one / one_to_many
    sa.Column("best_score", sa.Float, nullable=False),
    sa.Column("reason", sa.String(1000), nullable=False),
    sa.UniqueConstraint("job_id", "record_id", name="uq_dedup_results_job_record"),
)

dedup_candidates = sa.Table(
    "dedup_candidates",
    metadata,
    sa.Column("result_id", sa.Integer, sa.ForeignKey("dedup_results.id"), primary_key=True),
    sa.Column("candidate_id", sa.Integer, sa.ForeignKey("records.id"), primary_key=True),
    sa.Column("rank", sa.Integer, nullable=False),
    sa.Column("fused_score", sa.Float, nullable=False),
    sa.Column("finger_scores", sa.JSON, nullable=False),  # ten floats, right thumb first
    sa.Column("verdict", sa.String(16), nullable=False),  # match / grey / below
    sa.Column("same_nik", sa.Boolean, nullable=False),  # an earlier record under the same NIK
)

adjudications = sa.Table(
    "adjudications",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("record_id", sa.Integer, sa.ForeignKey("records.id"), nullable=False, index=True),
    sa.Column("result_id", sa.Integer, sa.ForeignKey("dedup_results.id"), nullable=True),
    sa.Column("decision", sa.String(32), nullable=False),  # same_person / different_people
    sa.Column("decided_by", sa.String(100), nullable=False),
    sa.Column("reason", sa.String(1000), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

deletion_requests = sa.Table(
    "deletion_requests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("record_id", sa.Integer, sa.ForeignKey("records.id"), nullable=False, index=True),
    sa.Column("counterpart_id", sa.Integer, sa.ForeignKey("records.id"), nullable=True),
    sa.Column("previous_status", sa.String(32), nullable=False),
    sa.Column("filed_by", sa.String(100), nullable=False),
    sa.Column("reason", sa.String(1000), nullable=False),
    sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # pending / approved / rejected
    sa.Column("resolved_by", sa.String(100), nullable=True),
    sa.Column("resolution", sa.String(1000), nullable=True),
    sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
)


ktp_credentials = sa.Table(
    "ktp_credentials",
    metadata,
    # the credential id: its bit in the signed revocation status list
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("record_id", sa.Integer, sa.ForeignKey("records.id"), nullable=False, index=True),
    sa.Column("kid", sa.String(32), nullable=False),
    sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("revoked_by", sa.String(100), nullable=True),
    sa.Column("revocation_reason", sa.String(1000), nullable=True),
)

# -- packets received from the enrolment stations (enrollment.receiver) ---------------------

packet_receipts = sa.Table(
    "packet_receipts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("registration_id", sa.String(160), nullable=False, index=True),
    # SHA-256 of the sealed bytes: a replayed packet is found by it and answered again
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("station_id", sa.String(128), nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # new / resent
    # the answer given to the station (RECEIVED_AT_CENTRAL or ENROLL_FAILURE_AT_REGIONAL)
    sa.Column("outcome", sa.String(32), nullable=False),
    sa.Column("reason", sa.String(2000), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # pending / ingested / failed
    sa.Column("record_id", sa.Integer, sa.ForeignKey("records.id"), nullable=True, index=True),
    sa.Column("path", sa.String(1000), nullable=False),  # the sealed packet as received
    sa.UniqueConstraint("sha256", name="uq_packet_receipts_sha256"),
)

# -- the adjudication workstation (enrollment.workstation) -----------------------------------

workstation_users = sa.Table(
    "workstation_users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(100), nullable=False),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("role", sa.String(32), nullable=False),  # adjudicator / supervisor / ...
    sa.Column("region", sa.String(6), nullable=False),  # a regional officer's region, else ""
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("failed_logins", sa.Integer, nullable=False),
    sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("username", name="uq_workstation_users_username"),
)

workstation_audit = sa.Table(
    "workstation_audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("username", sa.String(100), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target", sa.String(200), nullable=False),
    sa.Column("detail", sa.String(2000), nullable=False),
    sa.Column("remote_addr", sa.String(64), nullable=False),
)

workstation_claims = sa.Table(
    "workstation_claims",
    metadata,
    sa.Column("record_id", sa.Integer, sa.ForeignKey("records.id"), primary_key=True),
    sa.Column("username", sa.String(100), nullable=False),
    sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
)

workstation_votes = sa.Table(
    "workstation_votes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("record_id", sa.Integer, sa.ForeignKey("records.id"), nullable=False, index=True),
    sa.Column("result_id", sa.Integer, sa.ForeignKey("dedup_results.id"), nullable=True),
    sa.Column("username", sa.String(100), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),  # primary / secondary / supervisor
    sa.Column("decision", sa.String(32), nullable=False),  # same_person / different / inconclusive
    sa.Column("reason", sa.String(1000), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("record_id", "result_id", "role", name="uq_workstation_votes_role"),
)

# Statements of the hot path (a status change per record), built once: SQLAlchemy's statement
# construction and cache-key generation cost more than SQLite's execution of them.
SELECT_STATUS = sa.select(records.c.status).where(records.c.id == sa.bindparam("record_id"))
UPDATE_STATUS = (
    records.update()
    .where(
        records.c.id == sa.bindparam("record_id"),
        records.c.status == sa.bindparam("old_status"),
    )
    .values(status=sa.bindparam("new_status"), updated_at=sa.bindparam("at"))
)


def now() -> datetime.datetime:
    """The current time in UTC (every timestamp in the store is UTC)."""
    return datetime.datetime.now(datetime.timezone.utc)


def _url(url: str | os.PathLike[str]) -> str:
    text = os.fspath(url)
    if "://" in text:
        if text.startswith("postgresql://"):
            text = "postgresql+psycopg://" + text[len("postgresql://") :]
        return text
    return f"sqlite:///{Path(text)}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _create_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        kwargs: dict[str, Any] = {}
        if url in ("sqlite://", "sqlite:///:memory:"):
            kwargs["poolclass"] = sa.pool.StaticPool
            kwargs["connect_args"] = {"check_same_thread": False}
        engine = sa.create_engine(url, **kwargs)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


class Store:
    """The record store.

    Parameters
    ----------
    url : str or path-like
        A SQLAlchemy URL (``sqlite:///centre.db``, ``postgresql+psycopg://...``; a plain
        ``postgresql://`` URL uses psycopg 3) or a path to a SQLite file.
    migrate : bool
        Bring the schema up to date with the migrations (default).
    """

    def __init__(self, url: str | os.PathLike[str] = "afis-centre.db", *, migrate: bool = True):
        self.url = _url(url)
        try:
            self.engine = _create_engine(self.url)
        except (sa.exc.ArgumentError, ImportError) as exc:
            raise StoreError(f"cannot open the store at {self.url!r}: {exc}") from exc
        if migrate:
            from enrollment.migrate import upgrade

            try:
                upgrade(self.engine)
            except sa.exc.OperationalError as exc:
                raise StoreError(f"cannot reach the store at {self.url!r}: {exc.orig}") from exc

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection in a transaction, committed on success, rolled back on error."""
        with self.engine.begin() as conn:
            yield conn

    # -- records ---------------------------------------------------------------------------

    def add_record(
        self,
        person: Person,
        fingers: Sequence[Sample],
        *,
        actor: str,
        batch: str = "",
        status: Status = Status.RECEIVED_AT_CENTRAL,
        reason: str = "packet received",
        conn: Connection | None = None,
    ) -> int:
        """Store one record with its samples; returns its id (see :meth:`add_records`)."""
        return self.add_records(
            [(person, fingers)], actor=actor, batch=batch, status=status, reason=reason, conn=conn
        )[0]

    def add_records(
        self,
        items: Iterable[tuple[Person, Sequence[Sample]]],
        *,
        actor: str,
        batch: str = "",
        status: Status = Status.RECEIVED_AT_CENTRAL,
        reason: str = "packet received",
        conn: Connection | None = None,
    ) -> list[int]:
        """Store many records in one transaction; returns their ids in order.

        Parameters
        ----------
        items : iterable of (Person, sequence of Sample)
            One entry per record; at most one sample per finger position.
        actor, reason : str
            Recorded in the first history entry.
        batch : str
            The delivery the records came in.
        status : Status
            ``RECEIVED_AT_CENTRAL`` (a packet arrived) or ``UNREGISTERED`` (known to SIAK only).
        conn : Connection, optional
            Join the caller's transaction instead of opening one.
        """
        status = Status(status)
        if status not in INITIAL_STATUSES:
            raise IllegalTransition(f"a new record cannot start in {status.value}")
        rows = list(items)
        for person, fingers in rows:
            _check_record(person, fingers)
        if conn is None:
            with self.begin() as own:
                return self._add_records(own, rows, actor, batch, status, reason)
        return self._add_records(conn, rows, actor, batch, status, reason)

    def replace_record(
        self, record_id: int, person: Person, fingers: Sequence[Sample], conn: Connection
    ) -> None:
        """Replace a record's demographics and samples (a packet sent again after a failure,
        inside the caller's transaction; the status is the caller's to change).

        Raises
        ------
        StoreError
            No such record, or samples that do not fit.
        """
        _check_record(person, fingers)
        self.status(record_id, conn)  # refuses a missing record
        conn.execute(
            records.update()
            .where(records.c.id == record_id)
            .values(**_person_row(person), updated_at=now())
        )
        conn.execute(samples.delete().where(samples.c.record_id == record_id))
        if fingers:
            conn.execute(samples.insert(), [_sample_row(record_id, s) for s in fingers])

    def _add_records(
        self,
        conn: Connection,
        rows: Sequence[tuple[Person, Sequence[Sample]]],
        actor: str,
        batch: str,
        status: Status,
        reason: str,
    ) -> list[int]:
        at = now()
        ids: list[int] = []
        for person, _ in rows:
            rid = conn.execute(
                records.insert().returning(records.c.id),
                {
                    **_person_row(person),
                    "batch": batch,
                    "status": status.value,
                    "created_at": at,
                    "updated_at": at,
                },
            ).scalar_one()
            ids.append(int(rid))
        sample_rows = [
            _sample_row(rid, s)
            for rid, (_, fingers) in zip(ids, rows, strict=True)
            for s in fingers
        ]
        if sample_rows:
            conn.execute(samples.insert(), sample_rows)
        if ids:
            conn.execute(
                status_history.insert(),
                [
                    {
                        "record_id": rid,
                        "from_status": None,
                        "to_status": status.value,
                        "at": at,
                        "actor": actor,
                        "reason": reason,
                    }
                    for rid in ids
                ],
            )
        return ids

    def person(self, record_id: int) -> Person:
        """The demographics of a record."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(records).where(records.c.id == record_id)).first()
        if row is None:
            raise StoreError(f"no record {record_id}")
        return _person(row)

    def samples(self, record_id: int) -> list[Sample]:
        """The samples of a record, by finger position."""
        return self.samples_of([record_id]).get(record_id, [])

    def samples_of(
        self, record_ids: Sequence[int], conn: Connection | None = None
    ) -> dict[int, list[Sample]]:
        """Samples of many records (record id -> samples by finger position)."""
        out: dict[int, list[Sample]] = {int(r): [] for r in record_ids}
        if not out:
            return out
        query = (
            sa.select(samples)
            .where(samples.c.record_id.in_(list(out)))
            .order_by(samples.c.record_id, samples.c.position)
        )
        with self._conn(conn) as c:
            for row in c.execute(query):
                out[row.record_id].append(
                    Sample(
                        position=FingerPosition(row.position),
                        state=SampleState(row.state),
                        template=None if row.template is None else bytes(row.template),
                        quality=row.quality,
                        image_ref=row.image_ref,
                        reason=row.reason,
                    )
                )
        return out

    @contextmanager
    def _conn(self, conn: Connection | None) -> Iterator[Connection]:
        if conn is not None:
            yield conn
        else:
            with self.engine.connect() as c:
                yield c

    # -- statuses --------------------------------------------------------------------------

    def status(self, record_id: int, conn: Connection | None = None) -> Status:
        """The record's current status (inside the caller's transaction if ``conn`` is given).

        Raises
        ------
        StoreError
            No such record.
        """
        with self._conn(conn) as c:
            value = c.execute(SELECT_STATUS, {"record_id": record_id}).scalar_one_or_none()
        if value is None:
            raise StoreError(f"no record {record_id}")
        return Status(value)

    def statuses(self) -> dict[int, Status]:
        """Every record's status (record id -> status)."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(records.c.id, records.c.status).order_by(records.c.id))
            return {int(r.id): Status(r.status) for r in rows}

    def status_counts(self) -> dict[Status, int]:
        """How many records are in each status (statuses with none left out)."""
        query = sa.select(records.c.status, sa.func.count()).group_by(records.c.status)
        with self.engine.connect() as conn:
            return {Status(s): int(n) for s, n in conn.execute(query)}

    def records_in(self, status: Status, conn: Connection | None = None) -> list[int]:
        """Ids of the records in ``status``, ascending."""
        query = (
            sa.select(records.c.id)
            .where(records.c.status == Status(status).value)
            .order_by(records.c.id)
        )
        with self._conn(conn) as c:
            return [int(r) for r in c.execute(query).scalars()]

    def records_with_nik(
        self, nik: str, status: Status | None = None, conn: Connection | None = None
    ) -> list[int]:
        """Ids of the records under ``nik`` (in ``status`` if given), ascending.

        Examples
        --------
        >>> Store("sqlite://").records_with_nik("3171014501900001")
        []
        """
        if not isinstance(nik, str):
            raise TypeError(f"a NIK is a string of 16 digits, got {type(nik).__name__}")
        query = sa.select(records.c.id).where(records.c.nik == nik).order_by(records.c.id)
        if status is not None:
            query = query.where(records.c.status == Status(status).value)
        with self._conn(conn) as c:
            return [int(r) for r in c.execute(query).scalars()]

    def transition(
        self,
        record_id: int,
        new: Status | str,
        *,
        actor: str,
        reason: str,
        expected: Status | None = None,
        conn: Connection | None = None,
    ) -> None:
        """Move a record to ``new``, writing the history entry in the same transaction.

        Parameters
        ----------
        record_id : int
        new : Status
        actor, reason : str
            Who made the change and why (kept in the status history).
        expected : Status, optional
            The status the caller saw; the change is refused if the record has moved since.
        conn : Connection, optional
            Join the caller's transaction instead of opening one.

        Raises
        ------
        IllegalTransition
            The lifecycle does not allow the move, or the record moved meanwhile; nothing
            was changed.
        StoreError
            No such record.
        """
        new = Status(new)
        if not actor or not isinstance(actor, str):
            raise StoreError("a status change needs an actor")
        if conn is None:
            with self.begin() as own:
                self._transition(own, record_id, new, actor, reason, expected)
        else:
            self._transition(conn, record_id, new, actor, reason, expected)

    def _transition(
        self,
        conn: Connection,
        record_id: int,
        new: Status,
        actor: str,
        reason: str,
        expected: Status | None,
    ) -> None:
        current = self.status(record_id, conn)
        if expected is not None and current != expected:
            raise IllegalTransition(
                f"record {record_id} is in {current.value}, not {Status(expected).value}"
            )
        check_transition(current, new)
        at = now()
        done = conn.execute(
            UPDATE_STATUS,
            {
                "record_id": record_id,
                "old_status": current.value,
                "new_status": new.value,
                "at": at,
            },
        )
        if done.rowcount != 1:
            raise IllegalTransition(f"record {record_id} changed status meanwhile; retry")
        conn.execute(
            status_history.insert(),
            {
                "record_id": record_id,
                "from_status": current.value,
                "to_status": new.value,
                "at": at,
                "actor": actor,
                "reason": reason,
            },
        )

    def history(self, record_id: int) -> list[HistoryEntry]:
        """Every status change of a record, oldest first."""
        query = (
            sa.select(status_history)
            .where(status_history.c.record_id == record_id)
            .order_by(status_history.c.id)
        )
        with self.engine.connect() as conn:
            return [
                HistoryEntry(
                    record_id=int(r.record_id),
                    from_status=None if r.from_status is None else Status(r.from_status),
                    to_status=Status(r.to_status),
                    at=r.at,
                    actor=r.actor,
                    reason=r.reason,
                )
                for r in conn.execute(query)
            ]


def _check_record(person: Person, fingers: Sequence[Sample]) -> None:
    if not isinstance(person, Person):
        raise TypeError(f"expected a Person, got {type(person).__name__}")
    if isinstance(fingers, (str, bytes)) or not all(isinstance(s, Sample) for s in fingers):
        raise TypeError(f"record {person.nik}: samples must be a sequence of Sample")
    positions = [s.position for s in fingers]
    if len(set(positions)) != len(positions):
        raise StoreError(f"record {person.nik}: two samples of one finger position")


def _person_row(person: Person) -> dict[str, Any]:
    return {
        "nik": person.nik,
        "name": person.name,
        "sex": person.sex,
        "date_of_birth": person.date_of_birth,
        "place_of_birth": person.place_of_birth,
        "region": person.region,
        "issuance": person.issuance.value,
        "citizenship": person.citizenship.value,
        "family_card": person.family_card,
        "address": person.address,
    }


def _sample_row(record_id: int, sample: Sample) -> dict[str, Any]:
    return {
        "record_id": record_id,
        "position": int(sample.position),
        "state": sample.state.value,
        "template": sample.template,
        "quality": sample.quality,
        "image_ref": sample.image_ref,
        "reason": sample.reason,
    }


def _person(row: Any) -> Person:
    return Person(
        nik=row.nik,
        name=row.name,
        sex=row.sex,
        date_of_birth=row.date_of_birth,
        place_of_birth=row.place_of_birth,
        region=row.region,
        issuance=Issuance(row.issuance),
        citizenship=Citizenship(row.citizenship),
        family_card=row.family_card,
        address=row.address,
    )
