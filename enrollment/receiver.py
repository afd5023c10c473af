"""The data centre's receiving endpoint for enrolment packets (issue 22, part 8).

A station's outbox (:mod:`enrollment.outbox`) POSTs each sealed packet
(:mod:`enrollment.packet`) to ``/packets``. :meth:`Receiver.receive` answers it:

1. a packet whose SHA-256 was received before is a **replay**: the answer given the first
   time is given again and nothing else happens (exactly once by packet hash);
2. decryption, the station's signature (the station must be in the centre's
   :class:`StationRegister`) and every part's hash are checked (:func:`~enrollment.packet.
   open_packet`): a refusal is HTTP 400 (403 for an unknown station), no record is made;
3. the schema (the manifest's fields, the ANSI/NIST-ITL transaction, its Type-1 control
   number and originator, the Type-2 NIK, one Type-14 per captured finger) and the **area
   code** (a valid region inside the station's registered areas) are checked: a problem
   makes the record ``ENROLL_FAILURE_AT_REGIONAL`` and the reasons go back to the station
   (HTTP 422);
4. a packet with a registration id received before but other content is a **re-sent**
   packet, taken when the earlier one failed (``ENROLL_FAILURE_AT_REGIONAL`` or
   ``_AT_CENTRAL``, ``SEARCH_FAILURE_AT_CENTRAL``, ``REQUEST_VALIDATION``: the record then
   passes through ``PACKET_ENTRY`` back to ``RECEIVED_AT_CENTRAL``), refused otherwise
   (HTTP 409);
5. the sealed bytes are written to the centre's packet folder (atomically, fsynced), then
   a receipt row is committed, and only then is the station answered (HTTP 200): a crash
   at any point leaves either no receipt (the station sends again) or a receipt (the
   station's next try is a replay).

:meth:`Receiver.ingest` turns receipts into records, each in one transaction: the
templates are extracted by the centre from the packet's WSQ finger images
(:func:`afis.extract`), not taken from its optional Type-9 minutiae, so that the whole
gallery holds templates of one extractor version whatever software a station runs, with
the engine's own features (per-minutia quality, singular points, image quality) that
standard minutiae do not carry, and with nothing a station computed trusted for the search.
The one exception is a receiver opened with ``minutiae=True``, for synthetic populations
that exist only as minutiae (:mod:`afis.synth`, the ``afis-enrollment demo``): it takes each
finger's template from the packet's Type-9 standard minutiae (the image quality from the
manifest), and never extracts. The record then meets the centre's checks
(:func:`enrollment.checks.run_checks`) and the de-duplication job
(:func:`enrollment.dedup.run_dedup`).

:func:`create_app` wraps a receiver in a small Flask application; :func:`make_server`
serves it with waitress (``afis-enrollment receiver serve``), ingesting in a background
thread.

Examples
--------
>>> RESENDABLE_STATUSES == {Status.ENROLL_FAILURE_AT_CENTRAL, Status.ENROLL_FAILURE_AT_REGIONAL,
...                         Status.SEARCH_FAILURE_AT_CENTRAL, Status.REQUEST_VALIDATION}
True
>>> area_problems("317101", ("3171",))
[]
>>> area_problems("327301", ("3171",))[0]
"region 327301 is outside the station's areas (3171)"
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ec

import afis
from afis.atomic import atomic_write
from afis.errors import AfisError
from afis.interchange import ansi_nist_itl as an
from afis.interchange._images import encoded_header
from afis.template import FingerPosition
from enrollment import constants as C
from enrollment.checks import region_problems
from enrollment.packet import TRANSACTION_PART, OpenedPacket, PacketError, open_packet
from enrollment.packet.build import MANIFEST_KEYS
from enrollment.packet.constants import MAX_PACKET, TYPE2_FIELDS
from enrollment.packet.keys import public_pem, read_public_key
from enrollment.status import TRANSITIONS, Status
from enrollment.store import (
    Citizenship,
    Issuance,
    Person,
    Sample,
    SampleState,
    Store,
    StoreError,
    now,
    packet_receipts,
)

__all__ = [
    "RESENDABLE_STATUSES",
    "Answer",
    "IngestReport",
    "Receiver",
    "StationEntry",
    "StationRegister",
    "area_problems",
    "create_app",
    "make_server",
    "serving",
]

log = logging.getLogger(__name__)

#: Statuses from which a record takes a re-sent packet (those that may enter PACKET_ENTRY).
RESENDABLE_STATUSES = frozenset(s for s, nxt in TRANSITIONS.items() if Status.PACKET_ENTRY in nxt)
#: Finger positions of a packet's Type-14 records (13-15 are the slaps).
_FINGER_FGP = frozenset(str(p) for p in range(1, 11))

#: Test hook: called with (event, registration id) at ``stored`` (the packet's file is
#: written, no receipt yet), ``receipted`` (the receipt is committed, the station not yet
#: answered) and ``ingesting`` (a record's transaction is about to commit).
Hook = Callable[[str, str], None]


def area_problems(region: str, areas: Iterable[str]) -> list[str]:
    """Why a packet's region does not fit the station's areas (empty when it does).

    ``areas`` are code prefixes (``"31"`` a province, ``"3171"`` a regency, ``"317101"`` a
    district); an empty list allows every valid region.
    """
    problems = region_problems(region)
    areas = tuple(areas)
    if not problems and areas and not any(region.startswith(a) for a in areas):
        problems.append(f"region {region} is outside the station's areas ({', '.join(areas)})")
    return problems


# -- the register of stations ------------------------------------------------------------------


@dataclass(frozen=True)
class StationEntry:
    """A station the centre takes packets from: its public key and its area codes."""

    station_id: str
    public_key: ec.EllipticCurvePublicKey
    areas: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.station_id, str) or not self.station_id:
            raise PacketError("a station needs an id")
        if not isinstance(self.public_key, ec.EllipticCurvePublicKey):
            raise PacketError(f"station {self.station_id}: the key must be a P-256 public key")
        areas = tuple(self.areas)
        bad = [a for a in areas if not (isinstance(a, str) and a.isdigit() and len(a) in (2, 4, 6))]
        if bad:
            raise PacketError(f"station {self.station_id}: area codes are 2, 4 or 6 digits: {bad}")
        object.__setattr__(self, "areas", areas)


class StationRegister:
    """The stations the centre knows, kept in a JSON file (written atomically).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from enrollment.packet.keys import new_key
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "stations.json"
    >>> register = StationRegister()
    >>> register.add("ST-01", new_key().public_key(), ["3171"])
    >>> register.save(path)
    >>> StationRegister.load(path).get("ST-01").areas
    ('3171',)
    """

    def __init__(self, entries: Iterable[StationEntry] = ()) -> None:
        self._entries = {e.station_id: e for e in entries}

    def add(
        self, station_id: str, public_key: ec.EllipticCurvePublicKey, areas: Iterable[str] = ()
    ) -> None:
        """Register (or re-key) a station."""
        self._entries[station_id] = StationEntry(station_id, public_key, tuple(areas))

    def get(self, station_id: str) -> StationEntry | None:
        """A station's entry, or None."""
        return self._entries.get(station_id)

    def keys(self) -> dict[str, ec.EllipticCurvePublicKey]:
        """Station id -> public key (what :func:`~enrollment.packet.open_packet` needs)."""
        return {sid: e.public_key for sid, e in self._entries.items()}

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the register as JSON, atomically."""
        body = {
            sid: {"public_key": public_pem(e.public_key), "areas": list(e.areas)}
            for sid, e in sorted(self._entries.items())
        }
        atomic_write(Path(path), json.dumps({"stations": body}, indent=1).encode())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> StationRegister:
        """Read a register written by :meth:`save`.

        Raises
        ------
        PacketError
            Unreadable, not JSON, or an entry without a valid key or areas.
        """
        try:
            data = json.loads(Path(path).read_bytes())
            stations = data["stations"]
            if not isinstance(stations, dict):
                raise TypeError("'stations' is not an object")
            return cls(
                StationEntry(sid, read_public_key(e["public_key"]), tuple(e.get("areas", ())))
                for sid, e in stations.items()
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise PacketError(f"{path}: not a station register ({exc})") from None


# -- answers -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """The centre's answer to a delivery: an HTTP status and a JSON body.

    ``body["outcome"]`` is ``RECEIVED_AT_CENTRAL`` (taken), ``ENROLL_FAILURE_AT_REGIONAL``
    (taken, failed the area or schema check; ``reason`` says why) or ``REFUSED`` (nothing
    taken); ``replayed`` is true when the same bytes had been received before; ``retry``
    is true when sending the same packet again may succeed.
    """

    http_status: int
    body: Mapping[str, Any] = field(default_factory=dict)


def _refused(status: int, reason: str, *, retry: bool = False, rid: str = "") -> Answer:
    return Answer(
        status, {"outcome": "REFUSED", "reason": reason, "retry": retry, "registration_id": rid}
    )


def _receipt_answer(row: Any, *, replayed: bool) -> Answer:
    regional = row.outcome == Status.ENROLL_FAILURE_AT_REGIONAL.value
    return Answer(
        422 if regional else 200,
        {
            "outcome": row.outcome,
            "reason": row.reason,
            "registration_id": row.registration_id,
            "receipt": int(row.id),
            "kind": row.kind,
            "replayed": replayed,
            "received_at": _iso(row.received_at),
            "retry": False,
        },
    )


def _iso(at: datetime.datetime) -> str:
    if at.tzinfo is None:  # SQLite returns naive UTC
        at = at.replace(tzinfo=datetime.timezone.utc)
    return at.isoformat()


@dataclass
class IngestReport:
    """What one :meth:`Receiver.ingest` call did."""

    records: int = 0  # new records
    resent: int = 0  # records that took a re-sent packet
    failed: int = 0  # receipts that could not become a record (see their reason)


@dataclass(frozen=True)
class _Checked:
    person: Person
    problems: tuple[str, ...]


# -- the receiver --------------------------------------------------------------------------------


class Receiver:
    """Receives, checks and ingests packets (see the module docstring).

    Parameters
    ----------
    store : Store
        The centre's record store (receipts and records).
    folder : path-like
        Where received packets are kept (``folder/packets/<sha256>.pkt``).
    centre_key : EllipticCurvePrivateKey
        The centre's P-256 key the packets are encrypted to.
    stations : StationRegister
    hook : callable, optional
        Called with ``(event, registration id)`` (tests kill the process there).
    minutiae : bool
        Take each finger's template from the packet's Type-9 minutiae instead of extracting
        it from the Type-14 image (synthetic populations without images only; see the
        module docstring). A finger without Type-9 minutiae is then left out.
    """

    def __init__(
        self,
        store: Store,
        folder: str | os.PathLike[str],
        centre_key: ec.EllipticCurvePrivateKey,
        stations: StationRegister,
        *,
        hook: Hook | None = None,
        minutiae: bool = False,
    ) -> None:
        if not isinstance(centre_key, ec.EllipticCurvePrivateKey):
            raise PacketError("the centre key must be a P-256 private key")
        self.store = store
        self.folder = Path(folder)
        self.packets = self.folder / "packets"
        self.packets.mkdir(parents=True, exist_ok=True)
        self.centre_key = centre_key
        self.stations = stations
        self.hook = hook
        if not isinstance(minutiae, bool):
            raise TypeError(f"minutiae must be True or False, got {minutiae!r}")
        self.minutiae = minutiae
        self._ingest_lock = threading.Lock()

    # -- receiving --------------------------------------------------------------------------

    def _by_sha(self, sha: str) -> Any:
        with self.store.engine.connect() as conn:
            return conn.execute(
                sa.select(packet_receipts).where(packet_receipts.c.sha256 == sha)
            ).first()

    def receive(self, data: bytes, *, sha256: str | None = None) -> Answer:
        """Answer one delivered packet (see the module docstring); never raises for bad
        input.

        Parameters
        ----------
        data : bytes
            The sealed packet as received.
        sha256 : str, optional
            The SHA-256 the station computed (``X-Packet-SHA256``): a mismatch means the
            bytes were damaged on the way and the station should send again.
        """
        if not isinstance(data, bytes | bytearray):
            return _refused(400, f"a packet is bytes, got {type(data).__name__}")
        data = bytes(data)
        if len(data) > MAX_PACKET:
            return _refused(413, f"packet of {len(data)} bytes is larger than {MAX_PACKET}")
        sha = hashlib.sha256(data).hexdigest()
        if sha256 is not None and sha256.strip().lower() != sha:
            return _refused(
                400,
                "the packet's SHA-256 differs from the one sent with it (damaged on the "
                "way); send it again",
                retry=True,
            )
        earlier = self._by_sha(sha)
        if earlier is not None:
            return _receipt_answer(earlier, replayed=True)
        try:
            opened = open_packet(
                data, centre_key=self.centre_key, station_keys=self.stations.keys()
            )
        except PacketError as exc:
            status = 403 if "unknown station" in str(exc) else 400
            log.warning("packet refused: %s", exc)
            return _refused(status, str(exc))
        rid = opened.registration_id
        try:
            checked = self._check(opened)
        except (PacketError, StoreError, TypeError, ValueError) as exc:
            return _refused(400, f"packet {rid}: {exc}", rid=rid)
        kind, conflict = self._kind(rid)
        if conflict:
            return _refused(409, conflict, rid=rid)
        path = self.packets / f"{sha}.pkt"
        atomic_write(path, data)
        self._hook("stored", rid)
        outcome = (
            Status.ENROLL_FAILURE_AT_REGIONAL if checked.problems else Status.RECEIVED_AT_CENTRAL
        )
        reason = "; ".join(checked.problems) or (
            "re-sent packet taken (PACKET_ENTRY)" if kind == "resent" else "packet received"
        )
        try:
            with self.store.begin() as conn:
                conn.execute(
                    packet_receipts.insert(),
                    {
                        "registration_id": rid,
                        "sha256": sha,
                        "station_id": opened.station_id,
                        "received_at": now(),
                        "kind": kind,
                        "outcome": outcome.value,
                        "reason": reason[:2000],
                        "state": "pending",
                        "record_id": None,
                        "path": str(path),
                    },
                )
        except sa.exc.IntegrityError:  # the same bytes arrived twice at once: one receipt
            pass
        row = self._by_sha(sha)
        self._hook("receipted", rid)
        log.info("packet %s: %s (%s)", rid, outcome.value, reason)
        return _receipt_answer(row, replayed=False)

    def _hook(self, event: str, rid: str) -> None:
        if self.hook is not None:
            self.hook(event, rid)

    def _kind(self, rid: str) -> tuple[str, str]:
        """``("new", "")``, ``("resent", "")`` or ``("", why it is refused)``."""
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                sa.select(packet_receipts)
                .where(packet_receipts.c.registration_id == rid)
                .order_by(packet_receipts.c.id)
            ).all()
            if not rows:
                return "new", ""
            last = rows[-1]
            if last.state == "pending":
                return "", (
                    f"registration {rid} was received already (receipt {last.id}) with other "
                    "content and is still being processed; send again later"
                )
            if last.record_id is not None:
                status = self.store.status(last.record_id, conn)
            else:
                status = Status(last.outcome) if last.state == "ingested" else None
        if status in RESENDABLE_STATUSES:
            return "resent", ""
        where = f"record {last.record_id} is {status.value}" if status else "it was not taken"
        return "", (
            f"registration {rid} was received already (receipt {last.id}) with other content "
            f"and {where}: a packet is re-sent only after a failure"
        )

    def _check(self, opened: OpenedPacket) -> _Checked:
        """The person the packet names and the schema and area problems it has.

        Raises PacketError (or StoreError) when not even a person can be read from it."""
        manifest = opened.manifest
        problems: list[str] = []
        missing = sorted(MANIFEST_KEYS - set(manifest))
        if missing:
            problems.append(f"the manifest lacks {', '.join(missing)}")
        if manifest.get("format") != "nusafis-ektp-packet/1":
            problems.append(f"unknown packet format {manifest.get('format')!r}")
        nik = manifest.get("nik")
        if not isinstance(nik, str) or not nik:
            raise PacketError("the manifest names no NIK")
        problems += _manifest_problems(manifest)
        values: dict[str, str] = {}
        if set(opened.parts) != {TRANSACTION_PART}:
            problems.append(f"parts {sorted(opened.parts)}, expected [{TRANSACTION_PART!r}]")
        else:
            try:
                values = _transaction_problems(opened, problems)
            except AfisError as exc:
                problems.append(f"the transaction is malformed: {exc}")
        region = manifest.get("region")
        region = region if isinstance(region, str) else ""
        entry = self.stations.get(opened.station_id)
        problems += area_problems(region, entry.areas if entry else ())
        if values.get("village_code") and not values["village_code"].startswith(region):
            problems.append(
                f"the village code {values['village_code']} is not in the region {region}"
            )
        return _Checked(_person(nik, region, manifest, values), tuple(problems))

    # -- ingesting --------------------------------------------------------------------------

    def ingest(self, limit: int | None = None) -> IngestReport:
        """Turn pending receipts into records, oldest first, each in one transaction
        (idempotent: a receipt is ingested once; a crash leaves it pending)."""
        report = IngestReport()
        with self._ingest_lock:
            with self.store.engine.connect() as conn:
                query = (
                    sa.select(packet_receipts.c.id)
                    .where(packet_receipts.c.state == "pending")
                    .order_by(packet_receipts.c.id)
                )
                if limit is not None:
                    query = query.limit(limit)
                todo = list(conn.execute(query).scalars())
            for receipt_id in todo:
                self._ingest_one(int(receipt_id), report)
        return report

    def _ingest_one(self, receipt_id: int, report: IngestReport) -> None:
        with self.store.engine.connect() as conn:
            row = conn.execute(
                sa.select(packet_receipts).where(packet_receipts.c.id == receipt_id)
            ).one()
        try:
            data = Path(row.path).read_bytes()
            opened = open_packet(
                data, centre_key=self.centre_key, station_keys=self.stations.keys()
            )
            checked = self._check(opened)
            regional = row.outcome == Status.ENROLL_FAILURE_AT_REGIONAL.value
            fingers = [] if regional else _samples(opened, row.sha256, self.minutiae)
        except (OSError, AfisError, StoreError, ValueError) as exc:
            self._fail(receipt_id, f"cannot ingest: {exc}")
            report.failed += 1
            return
        actor = f"receiver:{row.station_id}"
        with self.store.begin() as conn:
            state = conn.execute(
                sa.select(packet_receipts.c.state).where(packet_receipts.c.id == receipt_id)
            ).scalar_one()
            if state != "pending":
                return
            if row.kind == "resent":
                record_id = conn.execute(
                    sa.select(packet_receipts.c.record_id)
                    .where(
                        packet_receipts.c.registration_id == row.registration_id,
                        packet_receipts.c.record_id.is_not(None),
                        packet_receipts.c.id < receipt_id,
                    )
                    .order_by(packet_receipts.c.id.desc())
                ).first()
                if record_id is None or self.store.status(record_id[0], conn) not in (
                    RESENDABLE_STATUSES
                ):
                    conn.execute(
                        packet_receipts.update()
                        .where(packet_receipts.c.id == receipt_id)
                        .values(
                            state="failed", reason="the record no longer takes a re-sent packet"
                        )
                    )
                    report.failed += 1
                    return
                rid = int(record_id[0])
                self.store.transition(
                    rid,
                    Status.PACKET_ENTRY,
                    actor=actor,
                    reason=f"packet re-sent (receipt {receipt_id})",
                    conn=conn,
                )
                self.store.replace_record(rid, checked.person, fingers, conn)
                self.store.transition(
                    rid,
                    Status.RECEIVED_AT_CENTRAL,
                    actor=actor,
                    reason="re-sent packet received",
                    conn=conn,
                )
                report.resent += 1
            else:
                rid = self.store.add_record(
                    checked.person,
                    fingers,
                    actor=actor,
                    batch=row.registration_id[:64],
                    reason=f"packet {row.registration_id} received (receipt {receipt_id})",
                    conn=conn,
                )
                report.records += 1
            if regional:
                self.store.transition(
                    rid,
                    Status.ENROLL_FAILURE_AT_REGIONAL,
                    actor=actor,
                    reason=row.reason,
                    conn=conn,
                )
            conn.execute(
                packet_receipts.update()
                .where(packet_receipts.c.id == receipt_id)
                .values(state="ingested", record_id=rid)
            )
            self._hook("ingesting", row.registration_id)

    def _fail(self, receipt_id: int, reason: str) -> None:
        log.error("receipt %d: %s", receipt_id, reason)
        with self.store.begin() as conn:
            conn.execute(
                packet_receipts.update()
                .where(packet_receipts.c.id == receipt_id, packet_receipts.c.state == "pending")
                .values(state="failed", reason=reason[:2000])
            )

    # -- status ----------------------------------------------------------------------------

    def receipt(self, registration_id: str) -> dict[str, Any] | None:
        """The latest receipt of a registration with its record's status, or None.

        Examples
        --------
        >>> import tempfile
        >>> from enrollment.packet.keys import new_key
        >>> receiver = Receiver(Store("sqlite://"), tempfile.mkdtemp(), new_key(),
        ...                     StationRegister())
        >>> receiver.receipt("ST-01-00001-20260302170000") is None
        True
        >>> receiver.receive(b"NSPK1\\n...").body["reason"]
        'packet truncated in its header'
        """
        with self.store.engine.connect() as conn:
            row = conn.execute(
                sa.select(packet_receipts)
                .where(packet_receipts.c.registration_id == registration_id)
                .order_by(packet_receipts.c.id.desc())
            ).first()
            if row is None:
                return None
            status = None if row.record_id is None else self.store.status(row.record_id, conn)
        return {
            **_receipt_answer(row, replayed=False).body,
            "state": row.state,
            "record_id": row.record_id,
            "status": status.value if status else None,
        }


def _positions(items: Any, what: str, problems: list[str]) -> bool:
    """Whether ``items`` is a list of objects with a finger position 1..10 each."""
    ok = isinstance(items, list) and all(
        isinstance(i, dict)
        and isinstance(i.get("position"), int)
        and not isinstance(i.get("position"), bool)
        and 1 <= i["position"] <= 10
        for i in items
    )
    if not ok:
        problems.append(f"the manifest's {what} are not a list of finger positions 1..10")
    return ok


def _manifest_problems(manifest: Mapping[str, Any]) -> list[str]:
    """Type problems of the manifest's items the centre reads."""
    problems: list[str] = []
    if _positions(manifest.get("exceptions"), "exceptions", problems):
        for item in manifest["exceptions"]:
            if not (isinstance(item.get("kind"), str) and isinstance(item.get("reason"), str)):
                problems.append("an exception in the manifest has no kind or reason")
                break
    _positions(manifest.get("fingers"), "fingers", problems)
    if not isinstance(manifest.get("exempt"), bool):
        problems.append("the manifest's exempt flag is not true or false")
    return problems


def _transaction_problems(opened: OpenedPacket, problems: list[str]) -> dict[str, str]:
    """Check the transaction against the manifest; returns its Type-2 items by name."""
    manifest = opened.manifest
    # the structure is parsed here; each finger image's header and coded data are checked
    # (the WSQ frame against its declared size, without the wavelet synthesis); the
    # pixels are decoded when the record is ingested
    transaction = an.decode(opened.parts[TRANSACTION_PART])
    for record in transaction.of_type(14):
        data = record.get(999) if isinstance(record, an.TaggedRecord) else None
        if data is None:
            raise PacketError(f"Type-14 record {record.idc} holds no image")
        header = encoded_header(data.value, f"Type-14 record {record.idc}")
        declared = (transaction.text(record, 6), transaction.text(record, 7))
        if declared != (str(header.width), str(header.height)):
            problems.append(
                f"Type-14 record {record.idc}: image {header.width}x{header.height}, "
                f"declared {declared[0]}x{declared[1]}"
            )
    if transaction.text(transaction.type1, 9) != opened.registration_id:
        problems.append("the transaction's control number (1.009) is not the registration id")
    if transaction.text(transaction.type1, 8) != opened.station_id:
        problems.append("the transaction's originator (1.008) is not the station")
    type2 = transaction.of_type(2)
    if len(type2) != 1:
        raise PacketError(f"{len(type2)} Type-2 records, expected 1")
    values = {
        name: text
        for number, name in TYPE2_FIELDS.items()
        if (text := transaction.text(type2[0], number)) is not None
    }
    if values.get("nik") != manifest.get("nik"):
        problems.append("the Type-2 NIK differs from the manifest's")
    found = [
        int(fgp) for r in transaction.of_type(14) if (fgp := transaction.text(r, 13)) in _FINGER_FGP
    ]
    present = set(found)
    if len(found) != len(present):
        problems.append("two finger images of one position")
    listed: set[int] = set()
    excepted: set[int] = set()
    if not _manifest_problems(manifest):
        listed = {f["position"] for f in manifest["fingers"]}
        excepted = {e["position"] for e in manifest["exceptions"]}
    if present != listed:
        problems.append(
            f"finger images {sorted(present)} differ from the manifest's {sorted(listed)}"
        )
    if present & excepted or len(present | excepted) != 10:
        problems.append("every finger must be captured or excepted, not both")
    return values


def _person(
    nik: str, region: str, manifest: Mapping[str, Any], values: Mapping[str, str]
) -> Person:
    try:
        born: datetime.date | None = datetime.date.fromisoformat(values.get("date_of_birth", ""))
    except ValueError:
        born = None
    try:
        issuance = Issuance(manifest.get("issuance"))
    except ValueError:
        issuance = Issuance.REGULAR
    try:
        citizenship = Citizenship(manifest.get("citizenship"))
    except ValueError:
        citizenship = Citizenship.CITIZEN
    return Person(
        nik=nik,
        name=values.get("name", ""),
        sex=values.get("sex", "")[:1],
        date_of_birth=born,
        place_of_birth=values.get("place_of_birth", ""),
        region=region[:6],
        issuance=issuance,
        citizenship=citizenship,
        family_card=values.get("family_card", "")[:16],
        address=values.get("address", "")[:200],
    )


def _samples(opened: OpenedPacket, sha: str, minutiae: bool = False) -> list[Sample]:
    """One sample per finger position: a template the centre extracts from the Type-14
    image (with ``minutiae``, reads from the Type-9 record of the same IDC), or why there
    is none (the manifest's exceptions)."""
    manifest = opened.manifest
    exempt = bool(manifest.get("exempt"))
    out = []
    for e in manifest.get("exceptions", []):
        state = SampleState.EXEMPT if exempt else SampleState.MISSING
        out.append(
            Sample(FingerPosition(int(e["position"])), state, reason=f"{e['kind']}: {e['reason']}")
        )
    transaction = an.decode(opened.parts[TRANSACTION_PART])
    type9 = {int(r.idc): r for r in transaction.of_type(9)} if minutiae else {}
    qualities = {f["position"]: f.get("quality") for f in manifest.get("fingers", [])}
    for record in transaction.of_type(14):
        fgp = transaction.text(record, 13)
        if fgp not in _FINGER_FGP:
            continue
        position = FingerPosition(int(fgp))
        try:
            if minutiae:
                template = _minutiae(transaction, type9.get(int(record.idc)), qualities, position)
            else:
                template = afis.extract(transaction.image(record), finger_position=position)
        except AfisError as exc:  # left out: the checks count it as not captured
            log.warning("packet %s, %s: %s", opened.registration_id, position.name, exc)
            continue
        out.append(
            Sample(
                position,
                SampleState.CAPTURED,
                template.to_bytes(),
                int(template.image_quality),
                image_ref=f"packet:{sha}:{int(record.idc)}",
            )
        )
    return out


def _minutiae(
    transaction: an.Transaction,
    record: Any,
    qualities: Mapping[int, Any],
    position: FingerPosition,
) -> afis.Template:
    """A finger's template from its Type-9 standard minutiae, with the manifest's quality.

    Raises
    ------
    afis.errors.FormatError
        No Type-9 record for the finger, or a malformed one, or no quality 0..100.
    """
    if record is None:
        raise afis.FormatError("no Type-9 minutiae for the finger")
    quality = qualities.get(int(position))
    if isinstance(quality, bool) or not isinstance(quality, int) or not 0 <= quality <= 100:
        raise afis.FormatError(f"the manifest gives no quality 0..100 ({quality!r})")
    template = transaction.template(record)
    return dataclasses.replace(template, image_quality=quality, finger_position=position)


# -- HTTP ---------------------------------------------------------------------------------------


def create_app(receiver: Receiver) -> Any:
    """A Flask application: ``POST /packets`` (the sealed packet as the body, optionally
    ``X-Packet-SHA256``), ``GET /packets/<registration id>`` (the latest receipt and the
    record's status) and ``GET /health``."""
    from flask import Flask, jsonify, request

    app = Flask("enrollment.receiver")
    app.config["MAX_CONTENT_LENGTH"] = MAX_PACKET

    @app.post("/packets")
    def post_packet() -> Any:
        if request.content_length is not None and request.content_length > MAX_PACKET:
            answer = _refused(413, f"packet larger than {MAX_PACKET} bytes")
        else:
            try:
                answer = receiver.receive(
                    request.get_data(cache=False), sha256=request.headers.get("X-Packet-SHA256")
                )
            except (sa.exc.OperationalError, OSError) as exc:  # the store or disk is down
                log.error("cannot take a packet now: %s", exc)
                answer = _refused(503, "the centre cannot take packets now; retry", retry=True)
        return jsonify(dict(answer.body)), answer.http_status

    @app.get("/packets/<registration_id>")
    def get_packet(registration_id: str) -> Any:
        found = receiver.receipt(registration_id[:160])
        if found is None:
            return jsonify({"registration_id": registration_id, "outcome": "UNKNOWN"}), 404
        return jsonify(found), 200

    @app.get("/health")
    def health() -> Any:
        return jsonify({"ok": True}), 200

    @app.errorhandler(413)
    def too_large(_error: Any) -> Any:
        return jsonify(dict(_refused(413, f"packet larger than {MAX_PACKET} bytes").body)), 413

    return app


class _Ingester(threading.Thread):
    def __init__(self, receiver: Receiver, interval: float) -> None:
        super().__init__(name="packet-ingest", daemon=True)
        self.receiver, self.interval = receiver, interval
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.receiver.ingest()
            except Exception:  # logged; the next round tries again
                log.exception("ingest failed")
            self.stop.wait(self.interval)


def make_server(
    receiver: Receiver,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    threads: int = 4,
    ingest_interval: float | None = C.RECEIVER_INGEST_INTERVAL,
) -> Any:
    """A waitress server for the receiver (``port`` 0: an ephemeral one, see
    ``server.effective_port``); ``server.run()`` serves until ``server.close()``. With an
    ``ingest_interval`` a background thread ingests pending receipts that often (seconds),
    stopped by ``server.close()``.
    """
    from waitress.server import create_server

    server = create_server(
        create_app(receiver), host=host, port=port, threads=threads, ident="afis-receiver"
    )
    if ingest_interval is not None:
        ingester = _Ingester(receiver, float(ingest_interval))
        ingester.start()
        close = server.close

        def close_all() -> None:
            ingester.stop.set()
            close()

        server.close = close_all
    return server


@contextlib.contextmanager
def serving(receiver: Receiver, *, threads: int = 4) -> Iterator[str]:
    """Serve ``receiver`` on an ephemeral port of 127.0.0.1 in a background thread, without
    background ingestion; yields the URL and closes the server on exit."""
    server = make_server(receiver, threads=threads, ingest_interval=None)

    def run() -> None:
        try:
            server.run()
        except OSError:  # the socket closed under the loop by server.close()
            pass

    thread = threading.Thread(target=run, name="packet-receiver", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.close()
        thread.join(10)
