"""The station's outbox: its own record statuses, sealed packets, and delivery to the data
centre exactly once (issue 22, part 8).

The outbox keeps, in the station's own SQLite file (``<station folder>/outbox.db``, WAL,
``synchronous=FULL``), one row per capture session with the station's status of the
record and its history:

``UNREGISTERED`` (session started: the NIK is known to SIAK, nothing is captured yet) ->
``BIO_CAPTURED`` (signed off, waiting for the supervisor's end-of-day approval) ->
``PROCESSING`` (approved; the packet is sealed and queued) -> ``SENT_FOR_ENROLLMENT`` (the
centre acknowledged it: ``RECEIVED_AT_CENTRAL`` there), or ``ENROLL_FAILURE_AT_REGIONAL``
when the centre's area or schema check failed (its reason is kept); after the cause is
fixed :meth:`Outbox.resend` seals the record again under the same registration id and the
centre takes it as a re-sent packet (``PACKET_ENTRY``). :data:`STATION_TRANSITIONS` is the
station's table (the centre's moves of :data:`enrollment.status.TRANSITIONS`, except that a
re-sent packet returns the station's record to ``PROCESSING``).

Crash safety, step by step (any step may be cut by kill -9; :meth:`Outbox.sync` and
:meth:`Outbox.deliver` pick up where it stopped):

1. the registration id (station, serial, time) is committed before the packet is sealed,
   so a packet is always rebuilt under the id it was given;
2. the sealed packet is written atomically (temporary file, fsync, rename, fsync of the
   folder) to ``<station folder>/outbox/<registration id>.pkt``, then its SHA-256 and the
   ``PROCESSING`` status are committed; a file without its row is complete and is adopted;
3. a delivery POSTs the file (its SHA-256 checked first; a damaged file is sealed again)
   and records the centre's answer afterwards. A crash between the centre's receipt and
   that record makes the next try a replay, which the centre recognises by the packet's
   hash and answers with its first answer: no packet is lost, none is taken twice.

A centre that is down, or answers 5xx, is tried again with exponential back-off (from
``base_delay``, doubling, capped at ``max_delay``, with seeded jitter), as long as it takes;
a refusal that sending again cannot cure (not signed by a registered station, a conflict
with an earlier packet) holds the packet with its reason until an officer releases it
(:meth:`Outbox.release`). Nothing else stops the outbox: each packet is delivered on its
own. A home-visit station captures with no network at all and delivers when it is back.

Examples
--------
>>> sorted(s.value for s in STATION_TRANSITIONS[Status.PROCESSING])
['ENROLL_FAILURE_AT_REGIONAL', 'SENT_FOR_ENROLLMENT']
>>> options = OutboxOptions(base_delay=1.0)
>>> 4.0 <= options.delay(3, "ST-01-00001-20260302170000") <= 5.0  # 1 s doubled twice, + jitter
True
>>> options.delay(30, "ST-01-00001-20260302170000") <= 900 * 1.25  # capped
True
"""

from __future__ import annotations

import datetime
import enum
import hashlib
import http.client
import json
import logging
import random
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ec

from afis.atomic import atomic_write
from afis.errors import AfisError
from enrollment import constants as C
from enrollment.capture.session import Station
from enrollment.packet import build_packet, registration_id
from enrollment.status import IllegalTransition, Status

__all__ = [
    "STATION_TRANSITIONS",
    "Delivery",
    "DeliveryOutcome",
    "HistoryEntry",
    "Outbox",
    "OutboxEntry",
    "OutboxError",
    "OutboxOptions",
]

log = logging.getLogger(__name__)

S = Status
#: The station's own status moves (see the module docstring).
STATION_TRANSITIONS: MappingProxyType[Status, frozenset[Status]] = MappingProxyType(
    {
        S.UNREGISTERED: frozenset({S.BIO_CAPTURED}),
        S.BIO_CAPTURED: frozenset({S.PROCESSING}),
        S.PROCESSING: frozenset({S.SENT_FOR_ENROLLMENT, S.ENROLL_FAILURE_AT_REGIONAL}),
        S.ENROLL_FAILURE_AT_REGIONAL: frozenset({S.PROCESSING}),
        S.SENT_FOR_ENROLLMENT: frozenset(),
    }
)
del S

#: Version of the outbox's schema.
SCHEMA_VERSION = "1"
#: HTTP statuses after which the same packet is simply sent again later.
_TRANSIENT = frozenset({408, 425, 429, 500, 502, 503, 504})

#: Test hook: called with (event, session id) at ``reserved`` (registration id committed),
#: ``sealed`` (packet built, not yet written), ``written`` (file on disk, not yet queued),
#: ``sending`` (about to POST) and ``answered`` (the centre answered, not yet recorded).
Hook = Callable[[str, str], None]


class OutboxError(AfisError, ValueError):
    """A request the outbox cannot carry out (the message says why)."""


@dataclass(frozen=True)
class OutboxOptions:
    """How the outbox retries.

    Examples
    --------
    >>> OutboxOptions(max_delay=1.0)
    Traceback (most recent call last):
    ...
    ValueError: max_delay must be at least base_delay (5.0), got 1.0
    """

    base_delay: float = C.OUTBOX_BASE_DELAY
    max_delay: float = C.OUTBOX_MAX_DELAY
    jitter: float = C.OUTBOX_JITTER
    timeout: float = C.OUTBOX_TIMEOUT
    #: seed of the retry jitter (each packet and try draws from ``seed``, id and try)
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("base_delay", "max_delay", "jitter", "timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"{name} must be a number, got {type(value).__name__}")
        if not 0 < self.base_delay <= 86_400:
            raise ValueError(f"base_delay must lie in (0, 86400] seconds, got {self.base_delay}")
        if not self.base_delay <= self.max_delay <= 86_400:
            raise ValueError(
                f"max_delay must be at least base_delay ({self.base_delay}), got {self.max_delay}"
            )
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter must lie in 0..1, got {self.jitter}")
        if not 0 < self.timeout <= 3600:
            raise ValueError(f"timeout must lie in (0, 3600] seconds, got {self.timeout}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise TypeError(f"seed must be an int, got {type(self.seed).__name__}")

    def delay(self, attempts: int, key: str) -> float:
        """Seconds to wait after ``attempts`` failed tries of the packet ``key``."""
        wait = min(self.max_delay, self.base_delay * 2.0 ** max(0, attempts - 1))
        draw = random.Random(f"{self.seed}:{key}:{attempts}").random()
        return wait * (1.0 + self.jitter * draw)


class DeliveryOutcome(str, enum.Enum):
    """What one delivery try came to."""

    DELIVERED = "delivered"  # the centre took it (RECEIVED_AT_CENTRAL), or had taken it
    REGIONAL_FAILURE = "regional_failure"  # taken, failed the area or schema check
    RETRY = "retry"  # the centre was unreachable or busy: tried again later
    HELD = "held"  # refused for a reason sending again cannot cure: an officer must look


@dataclass(frozen=True)
class Delivery:
    """One delivery try."""

    session_id: str
    registration_id: str
    outcome: DeliveryOutcome
    http_status: int | None
    reason: str
    replayed: bool = False
    attempts: int = 0


@dataclass(frozen=True)
class OutboxEntry:
    """One record in the outbox."""

    session_id: str
    nik: str
    status: Status
    registration_id: str | None
    sha256: str | None
    delivery: str  # none / queued / held / done
    attempts: int
    next_attempt_at: datetime.datetime | None
    last_error: str
    receipt: int | None
    centre_outcome: str


@dataclass(frozen=True)
class HistoryEntry:
    """One status change of the station's record."""

    session_id: str
    from_status: Status | None
    to_status: Status
    at: datetime.datetime
    reason: str


_meta = sa.MetaData()
_packets = sa.Table(
    "packets",
    _meta,
    sa.Column("session_id", sa.String(160), primary_key=True),
    sa.Column("nik", sa.String(16), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("registration_id", sa.String(160), nullable=True, unique=True),
    sa.Column("serial", sa.Integer, nullable=True),
    sa.Column("created_at", sa.String(40), nullable=True),  # the packet's time
    sa.Column("sha256", sa.String(64), nullable=True),
    sa.Column("size", sa.Integer, nullable=True),
    sa.Column("delivery", sa.String(8), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", sa.String(40), nullable=True),
    sa.Column("last_error", sa.String(2000), nullable=False),
    sa.Column("receipt", sa.Integer, nullable=True),
    sa.Column("centre_outcome", sa.String(32), nullable=False),
    sa.Column("updated_at", sa.String(40), nullable=False),
)
_history = sa.Table(
    "history",
    _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("session_id", sa.String(160), nullable=False, index=True),
    sa.Column("from_status", sa.String(32), nullable=True),
    sa.Column("to_status", sa.String(32), nullable=False),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("reason", sa.String(2000), nullable=False),
)
_info = sa.Table(
    "outbox_info",
    _meta,
    sa.Column("key", sa.String(32), primary_key=True),
    sa.Column("value", sa.String(200), nullable=False),
)


def _pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def _time(value: str | None) -> datetime.datetime | None:
    return None if value is None else datetime.datetime.fromisoformat(value)


class Outbox:
    """A station's outbox (see the module docstring).

    Parameters
    ----------
    station : Station
        The capture station whose sessions it tracks and whose records it seals.
    station_key : EllipticCurvePrivateKey
        The station's P-256 signing key.
    centre_key : EllipticCurvePublicKey
        The data centre's P-256 public key.
    options : OutboxOptions, optional
    hook : callable, optional
        Called with ``(event, session id)`` at the points listed at :data:`Hook`.
    """

    def __init__(
        self,
        station: Station,
        *,
        station_key: ec.EllipticCurvePrivateKey,
        centre_key: ec.EllipticCurvePublicKey,
        options: OutboxOptions | None = None,
        hook: Hook | None = None,
    ) -> None:
        if not isinstance(station, Station):
            raise TypeError(f"expected a Station, got {type(station).__name__}")
        if not isinstance(station_key, ec.EllipticCurvePrivateKey):
            raise OutboxError("the station key must be a P-256 private key")
        if not isinstance(centre_key, ec.EllipticCurvePublicKey):
            raise OutboxError("the centre key must be a P-256 public key")
        self.station = station
        self.station_key = station_key
        self.centre_key = centre_key
        self.options = options or OutboxOptions()
        self.hook = hook
        self.folder = Path(station.folder) / "outbox"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.engine = sa.create_engine(f"sqlite:///{Path(station.folder) / 'outbox.db'}")
        sa.event.listen(self.engine, "connect", _pragmas)
        _meta.create_all(self.engine)
        with self.engine.begin() as conn:
            version = conn.execute(
                sa.select(_info.c.value).where(_info.c.key == "schema")
            ).scalar_one_or_none()
            if version is None:
                conn.execute(_info.insert(), {"key": "schema", "value": SCHEMA_VERSION})
            elif version != SCHEMA_VERSION:
                raise OutboxError(f"outbox schema {version}, this version reads {SCHEMA_VERSION}")
        self._lock = threading.Lock()

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    # -- statuses ----------------------------------------------------------------------------

    def _now(self) -> datetime.datetime:
        at = self.station.clock()
        if not isinstance(at, datetime.datetime) or at.tzinfo is None:
            raise OutboxError("the station's clock must return timezone-aware datetimes")
        return at

    def _row(self, conn: sa.Connection, session_id: str) -> Any:
        row = conn.execute(sa.select(_packets).where(_packets.c.session_id == session_id)).first()
        if row is None:
            raise OutboxError(f"no session {session_id!r} in the outbox")
        return row

    def _move(
        self,
        conn: sa.Connection,
        session_id: str,
        new: Status,
        reason: str,
        at: datetime.datetime,
        **values: Any,
    ) -> None:
        current = Status(self._row(conn, session_id).status)
        if new not in STATION_TRANSITIONS[current]:
            raise IllegalTransition(
                f"{session_id}: {current.value} -> {new.value} is not a station transition"
            )
        conn.execute(
            _packets.update()
            .where(_packets.c.session_id == session_id)
            .values(status=new.value, updated_at=at.isoformat(), **values)
        )
        conn.execute(
            _history.insert(),
            {
                "session_id": session_id,
                "from_status": current.value,
                "to_status": new.value,
                "at": at.isoformat(),
                "reason": reason[:2000],
            },
        )

    def status(self, session_id: str) -> Status:
        """The station's status of a session's record."""
        with self.engine.connect() as conn:
            return Status(self._row(conn, session_id).status)

    def entry(self, session_id: str) -> OutboxEntry:
        """A session's row."""
        with self.engine.connect() as conn:
            return _entry(self._row(conn, session_id))

    def entries(self) -> list[OutboxEntry]:
        """Every row, by session id."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(_packets).order_by(_packets.c.session_id)).all()
        return [_entry(r) for r in rows]

    def history(self, session_id: str) -> list[HistoryEntry]:
        """A session's status changes, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(_history)
                .where(_history.c.session_id == session_id)
                .order_by(_history.c.id)
            ).all()
        return [
            HistoryEntry(
                r.session_id,
                None if r.from_status is None else Status(r.from_status),
                Status(r.to_status),
                datetime.datetime.fromisoformat(r.at),
                r.reason,
            )
            for r in rows
        ]

    # -- tracking and sealing ----------------------------------------------------------------

    def sync(self) -> dict[Status, int]:
        """Track every session of the station and seal the packets of approved records
        (resuming any sealing a crash cut short); returns the count in each status."""
        with self._lock:
            for session_id in self.station.session_ids():
                self._track(session_id)
        counts: dict[Status, int] = {}
        for entry in self.entries():
            counts[entry.status] = counts.get(entry.status, 0) + 1
        return counts

    def _track(self, session_id: str) -> None:
        info = self.station.session_info(session_id)
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(_packets).where(_packets.c.session_id == session_id)
            ).first()
            if row is None:
                at = info.started_at.isoformat()
                conn.execute(
                    _packets.insert(),
                    {
                        "session_id": session_id,
                        "nik": info.nik,
                        "status": Status.UNREGISTERED.value,
                        "delivery": "none",
                        "attempts": 0,
                        "last_error": "",
                        "centre_outcome": "",
                        "updated_at": at,
                    },
                )
                conn.execute(
                    _history.insert(),
                    {
                        "session_id": session_id,
                        "from_status": None,
                        "to_status": Status.UNREGISTERED.value,
                        "at": at,
                        "reason": f"session started ({info.issuance})",
                    },
                )
                status = Status.UNREGISTERED
            else:
                status = Status(row.status)
            if status == Status.UNREGISTERED and info.finished_at is not None:
                self._move(conn, session_id, Status.BIO_CAPTURED, "signed off", info.finished_at)
                status = Status.BIO_CAPTURED
            if status == Status.BIO_CAPTURED and info.review is not None:
                if not info.review.approved:
                    note = f"rejected at the end of the day: {info.review.reason}"
                    conn.execute(
                        _packets.update()
                        .where(_packets.c.session_id == session_id)
                        .values(last_error=note[:2000])
                    )
                    return
            else:
                return
        self._seal(session_id)

    def _seal(self, session_id: str) -> None:
        """Seal an approved record's packet (steps 1 and 2 of the module docstring)."""
        with self.engine.begin() as conn:
            row = self._row(conn, session_id)
            if row.registration_id is None:
                at = self._now()
                used = conn.execute(
                    sa.select(sa.func.count()).where(_packets.c.registration_id.is_not(None))
                ).scalar_one()
                serial = int(used) % 99_999 + 1  # 1..99999, then again from 1
                rid = registration_id(self.station.station_id, at, serial)
                conn.execute(
                    _packets.update()
                    .where(_packets.c.session_id == session_id)
                    .values(registration_id=rid, serial=serial, created_at=at.isoformat())
                )
        self._hook("reserved", session_id)
        with self.engine.connect() as conn:
            row = self._row(conn, session_id)
        path = self.folder / f"{row.registration_id}.pkt"
        data = path.read_bytes() if path.exists() else self._write(row, path)
        with self.engine.begin() as conn:
            self._move(
                conn,
                session_id,
                Status.PROCESSING,
                f"approved; packet {row.registration_id} sealed",
                self._now(),
                sha256=hashlib.sha256(data).hexdigest(),
                size=len(data),
                delivery="queued",
                attempts=0,
                next_attempt_at=None,
                last_error="",
            )

    def _write(self, row: Any, path: Path) -> bytes:
        record = self.station.record(row.session_id)
        data = build_packet(
            record,
            registration_id=row.registration_id,
            station_key=self.station_key,
            centre_key=self.centre_key,
            created_at=datetime.datetime.fromisoformat(row.created_at),
        )
        self._hook("sealed", row.session_id)
        atomic_write(path, data)
        self._hook("written", row.session_id)
        return data

    def _packet(self, row: Any) -> bytes:
        """The packet's bytes, sealed again when the file is gone or damaged (its hash)."""
        path = self.folder / f"{row.registration_id}.pkt"
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            data = b""
        if row.sha256 is not None and hashlib.sha256(data).hexdigest() == row.sha256:
            return data
        log.warning("packet %s missing or damaged on disk: sealed again", row.registration_id)
        path.unlink(missing_ok=True)
        data = self._write(row, path)
        with self.engine.begin() as conn:
            conn.execute(
                _packets.update()
                .where(_packets.c.session_id == row.session_id)
                .values(sha256=hashlib.sha256(data).hexdigest(), size=len(data))
            )
        return data

    def _hook(self, event: str, session_id: str) -> None:
        if self.hook is not None:
            self.hook(event, session_id)

    # -- delivery ----------------------------------------------------------------------------

    def due(self, now: datetime.datetime | None = None) -> list[str]:
        """Sessions whose packets are queued and due by ``now`` (the station's clock)."""
        at = (now or self._now()).isoformat()
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(_packets.c.session_id)
                .where(
                    _packets.c.delivery == "queued",
                    sa.or_(_packets.c.next_attempt_at.is_(None), _packets.c.next_attempt_at <= at),
                )
                .order_by(_packets.c.registration_id)
            ).scalars()
            return list(rows)

    def next_due(self) -> datetime.datetime | None:
        """When the earliest queued packet is due (None: nothing queued)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(_packets.c.next_attempt_at).where(_packets.c.delivery == "queued")
            ).scalars()
            times = [_time(t) for t in rows]
        if not times:
            return None
        return min((t for t in times if t is not None), default=self._now())

    def deliver(
        self, url: str, *, now: datetime.datetime | None = None, limit: int | None = None
    ) -> list[Delivery]:
        """Try every due packet once (oldest registration first); returns the tries.

        Parameters
        ----------
        url : str
            The centre's receiving endpoint, e.g. ``http://127.0.0.1:8470`` (``/packets``
            is added).
        now : datetime, optional
            The time the back-off is measured against (the station's clock by default).
        limit : int, optional
            Try at most this many packets.
        """
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise OutboxError(f"the centre's URL must be http(s)://host[:port], got {url!r}")
        out = []
        with self._lock:
            for session_id in self.due(now)[:limit]:
                out.append(self._deliver_one(session_id, parts, now))
        return out

    def _deliver_one(
        self, session_id: str, url: urllib.parse.SplitResult, now: datetime.datetime | None
    ) -> Delivery:
        with self.engine.connect() as conn:
            row = self._row(conn, session_id)
        rid = row.registration_id
        data = self._packet(row)
        self._hook("sending", session_id)
        status, body = _post(url, data, rid, self.options.timeout)
        self._hook("answered", session_id)
        at = now or self._now()
        reason = str(body.get("reason", ""))[:2000] if body else ""
        replayed = bool(body.get("replayed")) if body else False
        outcome = body.get("outcome") if body else None
        with self.engine.begin() as conn:
            attempts = int(self._row(conn, session_id).attempts) + 1
            common = {"attempts": attempts, "centre_outcome": str(outcome or "")[:32]}
            if status == 200 and outcome == Status.RECEIVED_AT_CENTRAL.value:
                self._move(
                    conn,
                    session_id,
                    Status.SENT_FOR_ENROLLMENT,
                    f"received at the centre (receipt {body.get('receipt')}"
                    + (", a replay" if replayed else "")
                    + ")",
                    at,
                    delivery="done",
                    receipt=int(body.get("receipt") or 0) or None,
                    last_error="",
                    **common,
                )
                result = DeliveryOutcome.DELIVERED
            elif status == 422 and outcome == Status.ENROLL_FAILURE_AT_REGIONAL.value:
                self._move(
                    conn,
                    session_id,
                    Status.ENROLL_FAILURE_AT_REGIONAL,
                    reason,
                    at,
                    delivery="done",
                    receipt=int(body.get("receipt") or 0) or None,
                    last_error=reason,
                    **common,
                )
                result = DeliveryOutcome.REGIONAL_FAILURE
            elif status is None or status in _TRANSIENT or bool(body.get("retry")):
                wait = self.options.delay(attempts, rid)
                due = at + datetime.timedelta(seconds=wait)
                why = reason or (f"HTTP {status}" if status else str(body.get("error", "")))
                conn.execute(
                    _packets.update()
                    .where(_packets.c.session_id == session_id)
                    .values(
                        next_attempt_at=due.isoformat(),
                        last_error=f"try {attempts}: {why}; next at {due.isoformat()}"[:2000],
                        **common,
                    )
                )
                result = DeliveryOutcome.RETRY
            else:
                conn.execute(
                    _packets.update()
                    .where(_packets.c.session_id == session_id)
                    .values(
                        delivery="held",
                        last_error=f"refused (HTTP {status}): {reason}"[:2000],
                        **common,
                    )
                )
                result = DeliveryOutcome.HELD
        if result == DeliveryOutcome.RETRY:
            log.info("packet %s: centre unavailable (%s), will retry", rid, reason or status)
        elif result == DeliveryOutcome.HELD:
            log.warning("packet %s held: %s", rid, reason)
        return Delivery(session_id, rid, result, status, reason, replayed, attempts)

    def release(self, session_id: str) -> None:
        """Queue a held packet again (an officer looked into the refusal)."""
        with self.engine.begin() as conn:
            row = self._row(conn, session_id)
            if row.delivery != "held":
                raise OutboxError(f"{session_id} is not held (delivery {row.delivery})")
            conn.execute(
                _packets.update()
                .where(_packets.c.session_id == session_id)
                .values(delivery="queued", next_attempt_at=None, attempts=0)
            )

    def resend(self, session_id: str, reason: str) -> None:
        """Seal a record the centre failed at the area or schema check again, under the
        same registration id, and queue it (the centre takes it as a re-sent packet)."""
        if not isinstance(reason, str) or not reason.strip():
            raise OutboxError("a re-sent packet needs the reason (what was fixed)")
        with self.engine.begin() as conn:
            row = self._row(conn, session_id)
            if Status(row.status) != Status.ENROLL_FAILURE_AT_REGIONAL:
                raise OutboxError(
                    f"{session_id} is {row.status}; only ENROLL_FAILURE_AT_REGIONAL is re-sent"
                )
            self._move(
                conn,
                session_id,
                Status.PROCESSING,
                f"re-sent: {reason}",
                self._now(),
                sha256=None,
                delivery="queued",
                attempts=0,
                next_attempt_at=None,
                last_error="",
            )
        with self.engine.connect() as conn:
            self._packet(self._row(conn, session_id))

    def run(
        self,
        url: str,
        *,
        stop: threading.Event | None = None,
        until_sent: bool = False,
        poll: float = 5.0,
    ) -> list[Delivery]:
        """Sync and deliver until ``stop`` is set (or, with ``until_sent``, until nothing
        is queued), sleeping until the next packet is due; returns every try."""
        stop = stop or threading.Event()
        tries: list[Delivery] = []
        while not stop.is_set():
            self.sync()
            tries += self.deliver(url)
            due = self.next_due()
            if due is None and until_sent:
                break
            wait = poll if due is None else (due - self._now()).total_seconds()
            stop.wait(min(max(wait, 0.05), poll))
        return tries


def _entry(row: Any) -> OutboxEntry:
    return OutboxEntry(
        row.session_id,
        row.nik,
        Status(row.status),
        row.registration_id,
        row.sha256,
        row.delivery,
        int(row.attempts),
        _time(row.next_attempt_at),
        row.last_error,
        row.receipt,
        row.centre_outcome,
    )


def _post(
    url: urllib.parse.SplitResult, data: bytes, rid: str, timeout: float
) -> tuple[int | None, dict[str, Any]]:
    """POST a packet; (HTTP status, JSON body), or (None, {"error": ...}) when the centre
    could not be reached or its answer was cut off."""
    cls = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
    connection = cls(url.hostname, url.port, timeout=timeout)
    try:
        connection.request(
            "POST",
            url.path.rstrip("/") + "/packets",
            body=data,
            headers={
                "Content-Type": "application/octet-stream",
                "X-Packet-SHA256": hashlib.sha256(data).hexdigest(),
                "X-Registration-Id": rid,
            },
        )
        response = connection.getresponse()
        raw = response.read(1 << 20)
        status = response.status
    except (OSError, http.client.HTTPException) as exc:
        return None, {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        connection.close()
    try:
        body = json.loads(raw)
        if not isinstance(body, dict):
            raise ValueError("not an object")
    except ValueError:
        return status, {"reason": f"the centre answered HTTP {status} without JSON"}
    return status, body
