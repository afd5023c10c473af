"""Helpers of the delivery tests: keys, a data centre (store, receiver, waitress on an
ephemeral port of 127.0.0.1 in a thread), and a station with approved records."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from _capture import (
    TODAY,
    adult,
    capture_rest,
    devices,
    make_station,
    operator_finger,
    start,
    supervisor_finger,
)
from cryptography.hazmat.primitives.asymmetric import ec

from enrollment.capture import Station
from enrollment.packet.keys import new_key, read_private_key, write_private_key
from enrollment.receiver import Receiver, StationRegister, make_server
from enrollment.store import Store


@dataclass
class Centre:
    store: Store
    receiver: Receiver
    url: str
    server: object

    def stop(self) -> None:
        self.server.close()  # type: ignore[attr-defined]


def keys(folder: Path) -> tuple[ec.EllipticCurvePrivateKey, ec.EllipticCurvePrivateKey]:
    """The station's and the centre's keys, written once to ``folder`` (a subprocess
    re-reads them)."""
    station, centre = folder / "station.pem", folder / "centre.pem"
    if not station.exists():
        folder.mkdir(parents=True, exist_ok=True)
        write_private_key(station, new_key())
        write_private_key(centre, new_key())
    return read_private_key(station), read_private_key(centre)


def register(
    station_key: ec.EllipticCurvePrivateKey, areas: tuple[str, ...] = ()
) -> StationRegister:
    stations = StationRegister()
    stations.add("ST-01", station_key.public_key(), areas)
    return stations


def _serve(server: object) -> None:
    try:
        server.run()  # type: ignore[attr-defined]
    except OSError:  # the socket closed under the loop by server.close()
        pass


@contextlib.contextmanager
def centre(
    folder: Path,
    centre_key: ec.EllipticCurvePrivateKey,
    stations: StationRegister,
    *,
    port: int = 0,
    ingest_interval: float | None = None,
) -> Iterator[Centre]:
    """A running receiving endpoint (closed on exit; its store stays in ``folder``)."""
    folder.mkdir(parents=True, exist_ok=True)
    store = Store(folder / "centre.db")
    receiver = Receiver(store, folder / "inbox", centre_key, stations)
    server = make_server(receiver, port=port, threads=4, ingest_interval=ingest_interval)
    thread = threading.Thread(target=_serve, args=(server,), daemon=True)
    thread.start()
    try:
        yield Centre(store, receiver, f"http://127.0.0.1:{server.effective_port}", server)
    finally:
        server.close()
        thread.join(10)
        store.close()


def approved_station(
    folder: Path, people: int, *, open_one: bool = False
) -> tuple[Station, list[str]]:
    """A station whose ``people`` sessions are signed off and approved (synthetic devices),
    and with ``open_one`` one more session left open."""
    station = make_station(folder)
    ids = []
    for index in range(people):
        session = start(station, adult(station, index))
        kit = devices(300 + index)
        for position in range(1, 11):
            session.capture_finger(position, kit["finger"])
        capture_rest(session, kit)
        session.sign_off(operator_finger())
        ids.append(session.session_id)
    station.end_of_day("sv-1", supervisor_finger(), day=TODAY, approve=ids)
    if open_one:
        start(station, adult(station, people))
    return station, ids
