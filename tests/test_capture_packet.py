"""Part 7 of issue 22 (started): a capture record as an ANSI/NIST-ITL 1-2011 transaction
with a manifest, signed by the station and encrypted to the centre; tampering, other
stations and other centres refused; mutated packets only ever give a PacketError."""

from __future__ import annotations

import datetime

import numpy as np
import pytest
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

import afis
from afis.interchange import ansi_nist_itl as an
from enrollment.capture import CaptureRecord
from enrollment.packet import (
    TRANSACTION_PART,
    PacketError,
    build_packet,
    demographics,
    open_packet,
    registration_id,
    seal,
)

AT = datetime.datetime(2026, 3, 2, 17, 0, tzinfo=datetime.timezone.utc)


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CaptureRecord]:
    """An approved record (slaps and one finger exception) and a rejected one."""
    station = make_station(tmp_path_factory.mktemp("station"))
    ids = []
    for index, seed in enumerate((51, 52)):
        session = start(station, adult(station, index))
        kit = devices(seed)
        if index == 0:
            session.mark_exception(9, "amputated", "lost in 2019")
            session.approve_exceptions("sv-1", supervisor_finger())
            kit["slap"].present(seed, missing=[9])  # the resident has no left ring finger
            for slap in ("left_slap", "right_slap", "two_thumbs"):
                session.capture_slap(slap, kit["slap"])
        else:
            for position in range(1, 11):
                session.capture_finger(position, kit["finger"])
        capture_rest(session, kit)
        session.sign_off(operator_finger())
        ids.append(session.session_id)
    station.end_of_day(
        "sv-1", supervisor_finger(), day=TODAY, approve=[ids[0]], reject={ids[1]: "blurred face"}
    )
    return {"approved": station.record(ids[0]), "rejected": station.record(ids[1])}


@pytest.fixture(scope="module")
def keys() -> dict[str, ec.EllipticCurvePrivateKey]:
    return {
        name: ec.generate_private_key(ec.SECP256R1()) for name in ("station", "centre", "other")
    }


@pytest.fixture(scope="module")
def sealed(records, keys) -> bytes:
    return build_packet(
        records["approved"],
        registration_id=registration_id("ST-01", AT, 1),
        station_key=keys["station"],
        centre_key=keys["centre"].public_key(),
        created_at=AT,
        minutiae=True,
    )


def _open(data: bytes, keys, station: str = "station"):
    return open_packet(
        data, centre_key=keys["centre"], station_keys={"ST-01": keys[station].public_key()}
    )


def test_a_packet_holds_the_record_as_an_ansi_nist_transaction(records, keys, sealed) -> None:
    record = records["approved"]
    opened = _open(sealed, keys)
    assert opened.registration_id == "ST-01-00001-20260302170000"
    manifest = opened.manifest
    assert manifest["nik"] == record.nik and manifest["operator_id"] == "op-1"
    assert manifest["supervisor_id"] == "sv-1" and manifest["review"]["approved"]
    assert manifest["exceptions"] == [
        {"position": 9, "kind": "amputated", "reason": "lost in 2019"}
    ]
    assert manifest["chip_fingers"] == {"right": 2, "left": 7}
    assert sorted(f["position"] for f in manifest["fingers"]) == [1, 2, 3, 4, 5, 6, 7, 8, 10]
    assert all(f["attempts"] == 1 and not f["forced"] for f in manifest["fingers"])
    transaction = an.validate(opened.parts[TRANSACTION_PART])
    assert transaction.text(transaction.type1, 4) == "EKTP-ENROL"
    assert transaction.text(transaction.type1, 9) == opened.registration_id
    counts = {t: len(transaction.of_type(t)) for t in (2, 8, 9, 10, 14, 17)}
    assert counts == {2: 1, 8: 2, 9: 9, 10: 1, 14: 9 + 3, 17: 2}
    text = demographics(opened.parts[TRANSACTION_PART])
    assert text["nik"] == record.nik and text["name"] == record.resident.name
    assert text["rt"] == record.resident.rt and text["chip_finger_left"] == "7"
    threshold = afis.threshold_for_fmr(1e-4)
    fingers = [
        r
        for r in transaction.of_type(14)
        if transaction.text(r, 13) in {str(p) for p in range(1, 11)}
    ]
    for finger_record in fingers:
        position = int(transaction.text(finger_record, 13))
        decoded = afis.extract(transaction.image(finger_record))
        stored = afis.Template.from_bytes(record.finger(position).template)
        assert afis.compare(decoded, stored) >= threshold, position  # WSQ kept the finger


def test_only_approved_records_are_packed(records, keys) -> None:
    with pytest.raises(PacketError, match="rejected at the end of the day"):
        build_packet(
            records["rejected"],
            registration_id="r",
            station_key=keys["station"],
            centre_key=keys["centre"].public_key(),
            created_at=AT,
        )


def test_altered_packets_are_refused(keys, sealed) -> None:
    header_end = sealed.index(b"}") + 1
    for offset in (
        len(b"NSPK1\n") + 5,
        header_end + 3,
        header_end + 40,
        len(sealed) // 2,
        len(sealed) - 1,
    ):
        altered = bytearray(sealed)
        altered[offset] ^= 0x01
        with pytest.raises(PacketError):
            _open(bytes(altered), keys)
    with pytest.raises(PacketError, match="truncated"):
        _open(sealed[:20], keys)
    with pytest.raises(PacketError, match="decryption failed"):
        _open(sealed[:-1], keys)
    with pytest.raises(PacketError, match="magic"):
        _open(b"PK" + sealed, keys)


def test_unknown_stations_wrong_signers_and_other_centres_are_refused(keys, sealed) -> None:
    with pytest.raises(PacketError, match="unknown station 'ST-01'"):
        open_packet(sealed, centre_key=keys["centre"], station_keys={})
    with pytest.raises(PacketError, match="signature is not station ST-01's"):
        _open(sealed, keys, station="other")
    with pytest.raises(PacketError, match="another centre key"):
        open_packet(
            sealed, centre_key=keys["other"], station_keys={"ST-01": keys["station"].public_key()}
        )
    forged = seal(
        {TRANSACTION_PART: b"x"},
        {"registration_id": "R", "station_id": "ST-01"},
        station_key=keys["other"],
        centre_key=keys["centre"].public_key(),
    )
    with pytest.raises(PacketError, match="signature"):
        _open(forged, keys)


def test_mutated_packets_only_ever_raise_packet_error(keys) -> None:
    """2,000 seeded mutations (bit flips, cuts, splices, inserted bytes) of a small packet."""
    small = seal(
        {TRANSACTION_PART: b"t" * 300},
        {"registration_id": "R1", "station_id": "ST-01"},
        station_key=keys["station"],
        centre_key=keys["centre"].public_key(),
    )
    rng = np.random.default_rng(2026)
    refused = 0
    for _ in range(2000):
        data = bytearray(small)
        kind = int(rng.integers(4))
        at = int(rng.integers(len(data)))
        if kind == 0:
            data[at] ^= 1 << int(rng.integers(8))
        elif kind == 1:
            data = data[:at]
        elif kind == 2:
            data[at:at] = rng.integers(0, 256, int(rng.integers(1, 9)), dtype=np.uint8).tobytes()
        else:
            data[at : at + 4] = b"\x00\xff\x7f\x80"
        try:
            _open(bytes(data), keys)
        except PacketError:
            refused += 1
    assert refused == 2000
