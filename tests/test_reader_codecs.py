"""The reader layer without a reader: APDU, BER-TLV, secure messaging (with known-answer
tests), the card profile's codecs, the security object, the emulators driven directly, and
a seeded fuzz of every parser."""

from __future__ import annotations

import random

import numpy as np
import pytest

from afis.errors import AfisError, FormatError
from afis.interchange import to_iso_card
from afis.template import FingerPosition, Template
from reader import constants as c
from reader import profile, security_object, tlv
from reader._fuzz import TARGETS, seeds
from reader.apdu import Command, Response, parse_command, parse_response
from reader.emulator import EmulatedCard, EmulatedSam
from reader.errors import AuthenticationError, PassiveAuthenticationError, SecureMessagingError
from reader.sm import (
    AES,
    TDES,
    SecureChannel,
    diversify,
    open_cryptogram,
    pad,
    seal_cryptogram,
    session_keys,
    unpad,
)
from reader.verify import VerifyOptions, mask


@pytest.mark.parametrize(
    "cmd",
    [
        Command(0x00, 0xA4, 0x01, 0x0C),
        Command(0x00, 0x84, 0, 0, le=8),
        Command(0x00, 0xB0, 0, 0, le=256),
        Command(0x00, 0xA4, 2, 4, b"\x6f\xf1"),
        Command(0x00, 0xA4, 2, 4, b"\x6f\xf1", 256),
        Command(0x00, 0xD6, 0, 0, bytes(300)),
        Command(0x00, 0xB0, 0, 0, le=65536),
        Command(0x00, 0xD6, 0, 0, bytes(300), 1000),
    ],
)
def test_command_apdu_round_trip(cmd):
    assert parse_command(cmd.to_bytes()) == cmd


@pytest.mark.parametrize(
    "raw",
    ["00", "00a402", "00a4020c05aabb", "00a4020c02aabbccdd", "00b000000000", "00b00000000005aa"],
)
def test_bad_command_apdus(raw):
    with pytest.raises(FormatError, match="command APDU"):
        parse_command(bytes.fromhex(raw))


def test_response_apdu_limits():
    assert parse_response(b"\x01\x02\x90\x00") == Response(b"\x01\x02", 0x9000)
    with pytest.raises(FormatError, match="more than the 1 expected"):
        parse_response(b"\x01\x02\x90\x00", max_data=1)
    with pytest.raises(FormatError):
        parse_response(b"")
    with pytest.raises(FormatError):
        parse_response("9000")  # type: ignore[arg-type]


def test_tlv_lengths():
    for n in (0, 1, 127, 128, 255, 256, 1000):
        data = tlv.encode(0x5F37, bytes(n))
        assert tlv.decode_all(data, "t") == [(0x5F37, bytes(n))]
    with pytest.raises(FormatError, match="says 5 bytes"):
        tlv.decode_all(b"\x80\x05abc", "t")
    with pytest.raises(FormatError, match="length byte 83"):
        tlv.decode_all(b"\x80\x83\x00\x00\x01a", "t")


def test_aes_cmac_known_answer():
    # RFC 4493 example 2 (16-byte message), truncated to 8 bytes
    key = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
    msg = bytes.fromhex("6bc1bee22e409f96e93d7e117393172a")
    assert AES.mac(key, msg).hex() == "070a16b46b4d4144"


def test_retail_mac_known_answer():
    # ICAO Doc 9303 part 11, worked example of basic access control: MAC of E_IFD
    k_mac = bytes.fromhex("7962D9ECE03D1ACD4C76089DCE131543")
    e_ifd = bytes.fromhex("72C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F2")
    assert TDES.mac(k_mac + bytes(8), pad(e_ifd, 8)).hex().upper() == "5F1448EEA8AD90A7"


def test_padding():
    assert unpad(pad(b"", 16)) == b""
    assert unpad(pad(b"\x80\x00", 8)) == b"\x80\x00"
    with pytest.raises(FormatError, match="padding"):
        unpad(bytes(16))


@pytest.mark.parametrize("prof", [AES, TDES], ids=lambda p: p.name)
def test_secure_messaging_both_ways(prof):
    keys = session_keys(prof, bytes(range(16)), bytes(16), bytes(8), bytes(range(8)))
    sam, card = SecureChannel(prof, *keys), SecureChannel(prof, *keys)
    exchanges = [
        (Command(0x00, 0xB0, 0x01, 0x00, le=0xD0), Response(bytes(range(208)), 0x9000)),
        (Command(0x00, 0xD6, 0x00, 0x00, bytes(range(200))), Response(b"", 0x9000)),
        (Command(0x00, 0x44, 0x00, 0x00), Response(b"", 0x6A82)),
        (Command(0x00, 0xB0, 0x00, 0x00, le=65536), Response(b"x", 0x6282)),
        (Command(0x00, 0xB0, 0x00, 0x00, le=300), Response(b"y", 0x9000)),
    ]
    for cmd, response in exchanges:
        protected = sam.wrap_command(cmd)
        assert protected.cla == 0x0C and len(protected.to_bytes()) <= 5 + 255 + 1
        assert card.unwrap_command(parse_command(protected.to_bytes())) == cmd
        raw = card.wrap_response(response)
        assert len(raw) <= 256 + 2
        assert sam.unwrap_response(raw) == response


@pytest.mark.parametrize("prof", [AES, TDES], ids=lambda p: p.name)
def test_secure_messaging_faults(prof):
    keys = session_keys(prof, bytes(range(16)), bytes(16), bytes(8), bytes(range(8)))
    sam, card = SecureChannel(prof, *keys), SecureChannel(prof, *keys)
    first = card.wrap_response(Response(b"first", 0x9000))
    assert sam.unwrap_response(first).data == b"first"
    second = card.wrap_response(Response(b"second", 0x9000))
    with pytest.raises(SecureMessagingError, match="replayed"):
        sam.unwrap_response(first)  # an old answer, old counter
    for bad in (second[:-3] + b"\x00\x90\x00", second[5:], second[:-2] + b"\x8e\x08" + bytes(8)):
        with pytest.raises(SecureMessagingError):
            SecureChannel(prof, *keys).unwrap_response(bad)
    other = SecureChannel(prof, keys[0], bytes(prof.key_length), keys[2])
    with pytest.raises(SecureMessagingError, match="MAC"):
        other.unwrap_command(SecureChannel(prof, *keys).wrap_command(Command(0, 0xB0, 0, 0, le=1)))
    assert repr(sam) == f"SecureChannel({prof.name})"  # no keys in reprs


def test_authentication_cryptograms():
    k_enc, k_mac = diversify(bytes(16), bytes(7), AES)
    sealed = seal_cryptogram(AES, k_enc, k_mac, bytes(range(32)))
    assert open_cryptogram(AES, k_enc, k_mac, sealed) == bytes(range(32))
    other_enc, other_mac = diversify(bytes(16), bytes(6) + b"\x01", AES)
    with pytest.raises(AuthenticationError, match="foreign key"):
        open_cryptogram(AES, other_enc, other_mac, sealed)
    with pytest.raises(AuthenticationError):
        open_cryptogram(AES, k_enc, k_mac, sealed[:39])


def test_biodata():
    b = profile.Biodata.example()
    assert profile.decode_biodata(b.to_bytes()) == b
    assert b.to_bytes().count(b'","') == 20
    with pytest.raises(FormatError, match="nik"):
        profile.Biodata.example(nik="12345")
    with pytest.raises(FormatError, match="double quotes"):
        profile.Biodata.example(name='A "B"')
    with pytest.raises(FormatError, match="ASCII"):
        profile.decode_biodata("Ä".encode() + b'","' * 20)
    with pytest.raises(FormatError, match="22 fields"):
        profile.decode_biodata(b.to_bytes() + b'","x')


def test_signature_and_photo():
    rng = np.random.default_rng(5)
    ink = rng.random((44, 168)) < 0.2
    assert (profile.decode_signature(profile.encode_signature(ink)) == ink).all()
    with pytest.raises(FormatError, match="924 bytes"):
        profile.decode_signature(bytes(923))
    with pytest.raises(FormatError, match="JPEG"):
        profile.decode_photo(b"\x89PNG....")
    with pytest.raises(FormatError, match="unreadable"):
        profile.decode_photo(b"\xff\xd8\xff\xe0" + bytes(50))


def test_finger_ef_keeps_the_position():
    t = Template(
        width=300,
        height=300,
        resolution=500.0,
        source_resolution=500.0,
        x=[10, 100, 150],
        y=[20, 120, 200],
        direction=[0.0, 1.0, 2.0],
        type=[1, 2, 1],
        quality=[60, 70, 80],
        image_quality=70,
        finger_position=FingerPosition.LEFT_MIDDLE,
    )
    back = profile.decode_finger(profile.encode_finger(t), 0x6FF5)
    assert back.finger_position == FingerPosition.LEFT_MIDDLE and len(back.x) == 3
    with pytest.raises(FormatError, match="7F60"):
        profile.decode_finger(to_iso_card(t), 0x6FF5)


def test_security_object():
    issuer, other = security_object.Issuer.from_seed(1), security_object.Issuer.from_seed(2)
    contents = {0x6FF1: b"biodata", 0x6FF4: b"finger"}
    obj = security_object.decode(security_object.sign(contents, issuer))
    security_object.verify_signature(obj, issuer.certificate)
    security_object.check_hashes(obj, contents)
    with pytest.raises(PassiveAuthenticationError, match="unknown issuer"):
        security_object.verify_signature(obj, other.certificate)
    with pytest.raises(PassiveAuthenticationError, match="not covered"):
        security_object.check_hashes(obj, {0x6FF2: b"photo"})
    forged = security_object.SecurityObject(
        1, obj.key_id, obj.hashes, obj.signed[:-1] + b"\x00", obj.signature
    )
    with pytest.raises(PassiveAuthenticationError, match="does not verify"):
        security_object.verify_signature(forged, issuer.certificate)
    assert "PRIVATE" not in repr(issuer)


def test_card_emulator_directly():
    card = EmulatedCard.manufacture(bytes.fromhex("04010203040506"), bytes(16))
    assert card.process(bytes.fromhex("00b0000010")) == b"\x69\x86"  # nothing selected
    assert card.process(bytes.fromhex("00a4010c027f0a")) == b"\x90\x00"
    assert card.process(bytes.fromhex("00a4020c02aaaa")) == b"\x6a\x82"
    assert card.process(bytes.fromhex("0082000028") + bytes(40)) == b"\x69\x85"  # no challenge
    assert len(card.process(bytes.fromhex("0084000008"))) == 10
    assert card.process(bytes.fromhex("0082000028") + bytes(40)) == b"\x63\x00"  # wrong key
    assert card.process(bytes.fromhex("0cb0000000")) == b"\x69\x82"  # no session
    assert card.process(b"\x00") == b"\x67\x00"
    assert card.process(bytes.fromhex("00ee0000")) == b"\x6d\x00"
    state = card.to_state()
    assert EmulatedCard.from_state(state).to_state() == state
    with pytest.raises(ValueError, match="malformed"):
        EmulatedCard.from_state({"kind": "ektp-card"})


def test_sam_emulator_pin_and_refusals():
    sam = EmulatedSam({AES.code: bytes(16)}, "1234")
    assert sam.process(bytes.fromhex("80a4000000")) == b"\x69\x82"  # locked until the PIN
    assert sam.process(bytes.fromhex("00200081")) == b"\x63\xc3"
    for left in (2, 1):
        assert sam.process(bytes.fromhex("0020008104") + b"9999") == bytes([0x63, 0xC0 | left])
    assert sam.process(bytes.fromhex("0020008104") + b"1234") == b"\x90\x00"
    assert sam.process(bytes.fromhex("80a4000005") + bytes.fromhex("00b0000010")) == b"\x69\x85"
    for _ in range(2):
        sam.process(bytes.fromhex("0020008104") + b"0000")
    assert sam.process(bytes.fromhex("0020008104") + b"0000") == b"\x69\x83"
    assert sam.process(bytes.fromhex("0020008104") + b"1234") == b"\x69\x83"  # blocked
    assert sam.process(bytes.fromhex("80a4000000")) == b"\x69\x83"
    assert "1234" not in repr(sam) and "0000" * 8 not in repr(sam)


def test_verify_options_and_mask():
    assert VerifyOptions().threshold > 0
    for bad in ({"policy": "any"}, {"fmr": 0.5}, {"fmr": "x"}, {"dpi": 10}):
        with pytest.raises(ValueError):
            VerifyOptions(**bad)
    assert mask("3171230501900001") == "317123******0001"


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_fuzz_parsers(name):
    """Seeded mutations of valid inputs: every target answers with a clean AfisError (or a
    status word), never another exception, never slowly."""
    from afis._fuzz import fuzz

    report = fuzz(TARGETS[name], seeds(name), 3000, seed=7)
    assert report.ok(), report.summary() + "".join(
        f"\n{d.hex()}: {e}" for d, e in report.failures[:3]
    )


def test_garbage_property():
    """Random bytes of every length to every parser."""
    rng = random.Random(11)
    for _ in range(2000):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 300)))
        for name, fn in TARGETS.items():
            try:
                fn(data)
            except AfisError:
                pass
            except Exception as exc:  # pragma: no cover - the assertion below reports it
                raise AssertionError(f"{name} raised {type(exc).__name__} on {data.hex()}") from exc
    assert c.EF_BIODATA == 0x6FF1


def test_read_and_verify_without_pcsc(synthetic, tmp_path):
    """The whole layer on the loopback link (no pcscd): personalise, read, verify, export —
    with the conftest's synthetic prints, so this runs everywhere."""
    import dataclasses

    from reader_helpers import photo_jpeg, signature

    from afis import extract
    from reader.emulator import LoopbackLink
    from reader.export import export_card
    from reader.personalise import CardRecord, personalise
    from reader.sam import SamClient
    from reader.session import read_card
    from reader.verify import BERHASIL, GAGAL, ImageFileScanner, verify

    right, _ = synthetic.fingerprint(1)
    left, _ = synthetic.fingerprint(2)
    other, _ = synthetic.fingerprint(3)
    fingers = {
        p: dataclasses.replace(extract(image), finger_position=p)
        for p, image in ((FingerPosition.RIGHT_INDEX, right), (FingerPosition.LEFT_INDEX, left))
    }
    issuer = security_object.Issuer.from_seed(4)
    master = bytes(range(16))
    sam = SamClient(LoopbackLink(EmulatedSam({AES.code: master}, "1234", [issuer.certificate])))
    sam.unlock("1234")
    card = EmulatedCard.manufacture(bytes.fromhex("04000000000001"), master)
    link = LoopbackLink(card)
    record = CardRecord(profile.Biodata.example(), photo_jpeg(1), signature(1), fingers)
    personalise(link, sam, record, issuer)
    data = read_card(link, sam)
    assert data.biodata == record.biodata and set(data.fingers) == set(fingers)
    shifted = {
        FingerPosition.RIGHT_INDEX: [np.roll(right, (6, 4), (0, 1))],
        FingerPosition.LEFT_INDEX: [np.roll(left, (-5, 3), (0, 1))],
    }
    result = verify(link, sam, ImageFileScanner(shifted))
    assert result.outcome == BERHASIL, result.message
    impostor = {FingerPosition.RIGHT_INDEX: [other], FingerPosition.LEFT_INDEX: [other]}
    result = verify(link, sam, ImageFileScanner(impostor), VerifyOptions(policy="either"))
    assert result.outcome == GAGAL
    assert set(export_card(data, tmp_path)) == {"txt", "csv", "photo", "signature", "preview"}
    _issuance_on_a_store(link, sam, record, ImageFileScanner(shifted), ImageFileScanner(impostor))
    card.files[c.EF_FINGER_2][-1] ^= 1  # a template altered after signing
    with pytest.raises(PassiveAuthenticationError, match="EF 6FF5"):
        read_card(link, sam)


def _issuance_on_a_store(link, sam, record, genuine, impostor) -> None:
    """Issuance mode: berhasil moves the store's record CARD_SHIPPED -> CARD_ISSUED, once."""
    import datetime

    from enrollment.status import Status
    from enrollment.store import Person, Store
    from reader.issuance import IssuanceError, StoreIssuance
    from reader.verify import BERHASIL, GAGAL, verify

    store = Store("sqlite://")
    bio = record.biodata
    person = Person(
        nik=bio.nik,
        name=bio.name,
        sex="M",
        date_of_birth=datetime.date(1990, 1, 5),
        place_of_birth=bio.place_of_birth,
        region=bio.nik[:6],
    )
    path = [
        Status.SENT_FOR_DEDUP,
        Status.PRINT_READY_RECORD,
        Status.SENT_FOR_CARD_PRINTING,
        Status.CARD_PRINTED,
        Status.CARD_SHIPPED,
    ]
    other, shipped = (store.add_record(person, [], actor="t") for _ in range(2))
    for record_id, steps in ((other, path[:2]), (shipped, path)):
        for status in steps:
            store.transition(record_id, status, actor="t", reason="test")
    hook = StoreIssuance(store, actor="pickup-desk-7")
    assert verify(link, sam, impostor, VerifyOptions(policy="either"), on_issued=hook).outcome == (
        GAGAL
    )
    assert store.status(shipped) == Status.CARD_SHIPPED  # gagal changes nothing
    assert verify(link, sam, genuine, on_issued=hook).outcome == BERHASIL
    assert store.status(shipped) == Status.CARD_ISSUED
    assert store.status(other) == Status.PRINT_READY_RECORD
    last = store.history(shipped)[-1]
    assert last.actor == "pickup-desk-7" and "berhasil" in last.reason
    assert "RIGHT_INDEX" in last.reason
    with pytest.raises(IssuanceError, match=r"found 0 .*CARD_ISSUED"):
        verify(link, sam, genuine, on_issued=hook)  # the card was already handed over
    assert len(store.history(shipped)) == len(path) + 2  # received, the path, issued
    with pytest.raises(ValueError, match="actor"):
        StoreIssuance(store, actor=" ")
