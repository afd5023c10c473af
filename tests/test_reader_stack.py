"""The card-reader layer on the real PC/SC stack: pcscd + vsmartcard's vpcd + pyscard, with
the project's emulated e-KTP chip and SAM. Skips without pcscd unless CI=true."""

from __future__ import annotations

import logging
import time

import numpy as np
import openpyxl
import pytest
from PIL import Image
from reader_helpers import AES_MASTER, PIN, TDES_MASTER, Bench, fvc_templates, record, require_pcsc

from afis.errors import FormatError
from afis.template import FingerPosition
from reader import constants as c
from reader.apdu import Command
from reader.emulator import EmulatedCard
from reader.errors import (
    AuthenticationError,
    CardRemovedError,
    CardStatusError,
    PassiveAuthenticationError,
    SamError,
    SamLockedError,
    SecureMessagingError,
)
from reader.export import append_log, export_card, log_row, read_log
from reader.personalise import personalise
from reader.session import CardSession, read_card
from reader.sm import TDES
from reader.transport import wait_for_removal
from reader.verify import BERHASIL, GAGAL, ImageFileScanner, VerifyOptions, match_card, verify

R, L = FingerPosition.RIGHT_INDEX, FingerPosition.LEFT_INDEX
#: Cards of the acceptance test: (right finger, left finger) of FVC2002 DB1_B.
PAIRS = [(101, 102), (103, 104), (105, 106), (107, 108), (109, 110)]


@pytest.fixture(scope="module")
def bench():
    require_pcsc()
    b = Bench()
    yield b
    b.close()


@pytest.fixture(scope="module")
def card_state(bench, templates):
    """One card (FVC2002 DB1_B fingers 101 and 102, impression 1) personalised through the
    stack; tests get a fresh copy each."""
    return bench.make_card(record(templates[101, 1], templates[102, 1]), _uid(99)).to_state()


@pytest.fixture
def card(card_state):
    return EmulatedCard.from_state(card_state)


@pytest.fixture
def sam(bench):
    return bench.sam_client()


@pytest.fixture(scope="module")
def db1(datasets_root):
    return datasets_root / "fvc2002" / "DB1_B"


@pytest.fixture(scope="module")
def templates(db1):
    return fvc_templates(db1)


def _uid(n: int) -> bytes:
    return bytes([0x04, 0x10, 0x20, 0x30, 0x40, 0x50, n])


def test_acceptance_fvc2002(bench, templates):
    """Cards from impression 1; impressions 2-8 of the same fingers -> berhasil (>= 95 % of
    single attempts); impressions of other fingers -> gagal in every case."""
    options = VerifyOptions(max_attempts=1)
    genuine, accepted, impostor, false_accepts = 0, 0, 0, 0
    for n, (right, left) in enumerate(PAIRS):
        rec = record(templates[right, 1], templates[left, 1], seed=n)
        sam = bench.sam_client()
        with bench.inserted(bench.blank_card(_uid(n))) as link:
            personalise(link, sam, rec, bench.issuer)
            data = read_card(link, sam)  # the writer reads its card back
        assert data.biodata == rec.biodata
        assert set(data.fingers) == {R, L}
        for impression in range(2, 9):
            live = {R: [templates[right, impression]], L: [templates[left, impression]]}
            result = match_card(data.fingers, ImageFileScanner(live), options)
            genuine += 1
            accepted += result.outcome == BERHASIL
        either = VerifyOptions(policy="either", max_attempts=1)
        for other_right, other_left in PAIRS:
            if (other_right, other_left) == (right, left):
                continue
            for impression in range(1, 9):
                live = {
                    R: [templates[other_right, impression]],
                    L: [templates[other_left, impression]],
                }
                result = match_card(data.fingers, ImageFileScanner(live), either)
                impostor += 1
                false_accepts += result.outcome != GAGAL
    assert genuine == 35 and impostor == 160
    assert accepted / genuine >= 0.95, f"berhasil in {accepted} of {genuine} attempts"
    assert false_accepts == 0


def test_full_verification_through_the_stack(bench, sam, card, db1, caplog):
    caplog.set_level(logging.DEBUG)
    issued = []
    scanner = ImageFileScanner(
        {R: [db1 / f"101_{i}.tif" for i in (2, 3)], L: [db1 / f"102_{i}.tif" for i in (2, 3)]}
    )
    with bench.inserted(card) as link:
        start = time.perf_counter()
        result = verify(link, sam, scanner, on_issued=lambda nik, v: issued.append(nik))
        elapsed = time.perf_counter() - start
    assert result.outcome == BERHASIL, result.message
    assert result.checks == {"mutual_authentication": True, "passive_authentication": True}
    assert issued == [result.card.biodata.nik]
    assert elapsed <= 2.0
    t = result.timings
    assert t.transport > 0 and t.sam > 0 and t.extract > 0 and t.match > 0
    # no key material and no PIN in any log line
    text = caplog.text.lower()
    for secret in (AES_MASTER.hex(), TDES_MASTER.hex(), PIN):
        assert secret not in text


def test_impostor_fingers_are_gagal_after_four_attempts(bench, sam, card, db1):
    scanner = ImageFileScanner(
        {
            R: [db1 / f"105_{i}.tif" for i in range(1, 5)],
            L: [db1 / f"106_{i}.tif" for i in range(1, 5)],
        }
    )
    issued = []
    with bench.inserted(card) as link:
        result = verify(link, sam, scanner, on_issued=lambda nik, v: issued.append(nik))
    assert result.outcome == GAGAL
    assert len(result.attempts) == 4 and issued == []
    assert all(
        s is not None and s < result.threshold for a in result.attempts for s in a.scores.values()
    )


def test_trace_lists_the_exchange_and_hides_the_pin(bench, sam, card):
    with bench.recording(), bench.inserted(card, trace=True) as link:
        read_card(link, sam)
    labels = [e.label for e in bench.trace]
    for expected in (
        "GET CHALLENGE",
        "SAM AUTH INIT",
        "MUTUAL AUTHENTICATE",
        "SAM AUTH FINISH",
        "SAM WRAP",
        "READ EF 6FF1",
        "SAM UNWRAP",
        "READ EF 6FF2",
        "SAM VERIFY SO",
    ):
        assert expected in labels
    # the biodata travels encrypted: the NIK never appears in a card response
    nik = b"3171234501900000".hex()
    assert not any(nik in e.response for e in bench.trace if e.device == "card")
    with bench.recording():
        sam.unlock(PIN)
    assert (
        bench.trace[0].command.endswith("*" * 12)
        and PIN.encode().hex() not in bench.trace[0].command
    )


def test_tdes_profile_card(bench, templates):
    card = bench.make_card(record(templates[103, 1], templates[104, 1]), _uid(23), TDES)
    sam = bench.sam_client()
    with bench.inserted(card) as link:
        data = read_card(link, sam)
    assert data.control.sm_profile == TDES.code
    assert data.checks["passive_authentication"]


def test_altered_card_fails_passive_authentication(bench, sam, card):
    card.files[c.EF_BIODATA][20] ^= 0x01  # one byte of 6FF1 changed after signing
    with bench.inserted(card) as link:
        with pytest.raises(PassiveAuthenticationError, match="EF 6FF1"):
            read_card(link, sam)
    with bench.inserted(card) as link:
        result = verify(link, sam, ImageFileScanner({}))
    assert result.outcome == GAGAL and "EF 6FF1" in result.message
    assert result.checks == {"passive_authentication": False, "mutual_authentication": True}


def test_forged_security_object_fails(bench, sam, card):
    so = card.files[c.EF_SECURITY_OBJECT]
    so[-5] ^= 0x40  # inside the signature
    with bench.inserted(card) as link, pytest.raises(PassiveAuthenticationError):
        read_card(link, sam)


def test_cloned_card_fails_mutual_authentication(bench, sam, card):
    for clone in (card.clone(), card.clone(master_key=bytes(16))):
        with bench.inserted(clone) as link:
            with pytest.raises(AuthenticationError, match="clone"):
                read_card(link, sam)
        with bench.inserted(clone) as link:
            result = verify(link, sam, ImageFileScanner({}))
        assert result.outcome == GAGAL and result.checks == {"mutual_authentication": False}


def test_clone_that_accepts_any_cryptogram_is_caught_by_the_sam(bench, sam, card):
    """A clone that skips its own check still cannot answer with the card key."""
    clone = card.clone()

    def fake_answer(command, answer):
        if command is not None and command.ins == 0x82:
            return bytes(40) + b"\x90\x00"
        return answer

    clone.response_hook = fake_answer
    with bench.inserted(clone) as link, pytest.raises(AuthenticationError, match=r"SAM|clone"):
        read_card(link, sam)


def test_sam_locks_after_three_wrong_pins(bench, card):
    sam = bench.sam_client(pin=None)
    with pytest.raises(SamError, match="2 tries left"):
        sam.unlock("000000")
    with pytest.raises(SamError, match="1 tries left"):
        sam.unlock("111111")
    with pytest.raises(SamLockedError, match="locked"):
        sam.unlock("222222")
    with pytest.raises(SamLockedError, match="locked"):
        sam.unlock(PIN)  # the right PIN no longer helps
    assert sam.tries_left() == 0
    with bench.inserted(card) as link:
        session = CardSession(link, sam)
        with pytest.raises(SamLockedError):
            session.authenticate(1, session.uid())


def test_sam_without_pin_refuses(bench):
    sam = bench.sam_client(pin=None)
    with bench.inserted(bench.blank_card(_uid(29))) as link:
        session = CardSession(link, sam)
        with pytest.raises(SamLockedError, match="not unlocked"):
            session.authenticate(1, session.uid())


def test_missing_card_is_a_clear_error(bench):
    from reader.errors import NoReaderError
    from reader.transport import CardLink

    with pytest.raises(NoReaderError, match="no card"):
        CardLink("Virtual PCD 00 00", "card").connect(0.3)
    with pytest.raises(NoReaderError, match="no reader match"):
        CardLink("ACS ACR1281", "sam").connect(0.3)


def test_card_removed_mid_read(bench, sam, card, tmp_path):
    with bench.inserted(card, remove_after=12) as link:
        with pytest.raises(CardRemovedError, match="left reader"):
            read_card(link, sam)
        row = log_row(link.reader, error="card removed")
    append_log(tmp_path / "log.xlsx", row)
    assert [p.name for p in tmp_path.iterdir()] == ["log.xlsx"]  # nothing half-written
    assert read_log(tmp_path / "log.xlsx")[0]["outcome"] == "error"


def test_card_going_silent_is_a_removal(bench, sam, card):
    card.response_hook = lambda command, answer: (
        None if command and command.ins == 0xB0 and command.cla == 0x0C else answer
    )
    with bench.inserted(card) as link, pytest.raises(CardRemovedError):
        read_card(link, sam)


def _hooked(bench, sam, card, hook):
    card.response_hook = hook
    with bench.inserted(card) as link:
        read_card(link, sam)


def _on_protected_read(change):
    state = {"n": 0}

    def hook(command, answer):
        if command is not None and command.cla == 0x0C and command.ins == 0xB0:
            state["n"] += 1
            if state["n"] == 2:
                return change(answer)
        return answer

    return hook


@pytest.mark.parametrize(
    ("name", "change", "error"),
    [
        ("garbled", lambda a: a[:10] + bytes([a[10] ^ 0xFF]) + a[11:], SecureMessagingError),
        ("truncated", lambda a: a[:40] + a[-2:], SecureMessagingError),
        ("oversized", lambda a: a[:-2] + bytes(300) + a[-2:], SecureMessagingError),
        ("mac-stripped", lambda a: a[:-12] + a[-2:], SecureMessagingError),
        ("error-status", lambda a: b"\x6a\x82", CardStatusError),
        ("short", lambda a: b"\x90", FormatError),
    ],
)
def test_faulty_protected_responses(bench, sam, card, name, change, error):
    with pytest.raises(error):
        _hooked(bench, sam, card, _on_protected_read(change))


def test_replayed_response_is_refused(bench, sam, card):
    state = {"n": 0, "first": b""}

    def replay(command, answer):
        if command is not None and command.cla == 0x0C and command.ins == 0xB0:
            state["n"] += 1
            if state["n"] == 1:
                state["first"] = answer
            elif state["n"] == 2:
                return state["first"]
        return answer

    card.response_hook = replay
    with bench.inserted(card) as link, pytest.raises(SecureMessagingError, match="replayed"):
        read_card(link, sam)


def test_personalised_card_is_read_only(bench, sam, card):
    with bench.inserted(card) as link:
        session = CardSession(link, sam)
        session.select_df()
        session.authenticate(1, session.uid())
        with pytest.raises(CardStatusError, match="6986"):
            session.write_protected(c.EF_BIODATA, b"x")
        # and plain reads of protected EFs are refused
        with pytest.raises(CardStatusError, match="6982"):
            session._plain(Command(0x00, 0xB0, 0, 0, le=16), "READ").check("READ")


def test_non_fingerprint_live_image(bench, sam, card, tmp_path):
    photo = tmp_path / "face.png"
    Image.fromarray(np.full((300, 300), 128, np.uint8)).save(photo)
    noise = tmp_path / "noise.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (300, 300), dtype=np.uint8)).save(
        noise
    )
    text = tmp_path / "not-an-image.png"
    text.write_text("hello")
    scanner = ImageFileScanner({R: [photo, noise, text], L: [photo, noise, text]})
    with bench.inserted(card) as link:
        result = verify(link, sam, scanner, VerifyOptions(max_attempts=3))
    assert result.outcome == GAGAL
    assert "not a usable fingerprint" in result.message and "unusable" in result.message
    assert all(s is None for a in result.attempts for s in a.scores.values())


def test_exports_reopen_and_hold_what_was_read(bench, templates, db1, tmp_path):
    rec = record(templates[101, 1], templates[102, 1], seed=3)
    card = bench.make_card(rec, _uid(44))
    sam = bench.sam_client()
    scanner = ImageFileScanner({R: [db1 / "101_2.tif"], L: [db1 / "102_2.tif"]})
    with bench.inserted(card) as link:
        result = verify(link, sam, scanner)
    data = result.card
    paths = export_card(data, tmp_path, result)
    text = paths["txt"].read_text()
    assert rec.biodata.nik in text and rec.biodata.name in text
    import csv

    rows = list(csv.reader(paths["csv"].read_text().splitlines()))
    assert rows[1] == list(rec.biodata.as_dict().values())
    with Image.open(paths["photo"]) as im:
        assert im.format == "BMP" and im.size == (120, 150)
        assert (
            np.abs(np.asarray(im, float) - np.asarray(data.photo.convert("RGB"), float)).max() == 0
        )
    with Image.open(paths["signature"]) as im:
        assert im.format == "BMP" and im.size == (168, 44)
        assert ((np.asarray(im.convert("L")) < 128) == rec.signature).all()
    with Image.open(paths["preview"]) as im:
        assert im.format == "JPEG" and im.size == (720, 420)
    append_log(tmp_path / "reads.xlsx", log_row(data.reader, result))
    append_log(tmp_path / "reads.xlsx", log_row(data.reader, card=data))
    book = openpyxl.load_workbook(tmp_path / "reads.xlsx")
    rows = list(book["reads"].iter_rows(values_only=True))
    assert rows[0][:3] == ("time", "reader", "nik")
    assert rows[1][1] == "Virtual PCD 00 00" and rows[1][2] == "317123******0003"
    assert rows[1][3] is True and rows[1][4] is True and rows[1][5] == BERHASIL
    assert rows[2][5] == "read"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporaries left


def test_cli_verify(bench, sam, card, db1, tmp_path, monkeypatch, capsys):
    from reader.cli import main

    monkeypatch.setenv("AFIS_SAM_PIN", PIN)
    with bench.inserted(card):
        code = main(
            [
                "verify",
                "--right",
                str(db1 / "101_3.tif"),
                "--left",
                str(db1 / "102_3.tif"),
                "--out",
                str(tmp_path),
                "--trace",
            ]
        )
    out = capsys.readouterr().out
    assert code == 0 and out.startswith("berhasil"), out
    assert "MUTUAL AUTHENTICATE" in out and PIN.encode().hex() not in out
    assert read_log(tmp_path / "reads.xlsx")[0]["outcome"] == "berhasil"
    assert main(["readers"]) == 0


def test_cli_personalise_and_read_with_the_emulator_as_a_process(
    bench, templates, db1, tmp_path, monkeypatch, capsys
):
    """The card emulator in its own process (python -m reader.emulator), the CLI writing and
    then reading it."""
    import json
    import os
    import signal
    import subprocess
    import sys

    from cryptography.hazmat.primitives import serialization

    from reader.cli import main
    from reader.emulator import EmulatedCard
    from reader.transport import card_present

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    (tmp_path / "master.bin").write_bytes(AES_MASTER)
    state = tmp_path / "card.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "reader.emulator",
            "new-card",
            str(state),
            "--uid",
            "04c0ffee000001",
            "--master-file",
            str(tmp_path / "master.bin"),
        ],
        check=True,
        env=env,
    )
    key = tmp_path / "issuer.pem"
    key.write_bytes(
        bench.issuer.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert = tmp_path / "issuer.crt"
    cert.write_bytes(bench.issuer.certificate.public_bytes(serialization.Encoding.PEM))
    biodata = tmp_path / "biodata.json"
    biodata.write_text(json.dumps(record(templates[101, 1], templates[102, 1]).biodata.as_dict()))
    signature_png = tmp_path / "signature.png"
    Image.fromarray(np.where(np.eye(44, 168, dtype=bool), 0, 255).astype(np.uint8)).save(
        signature_png
    )
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(record(templates[101, 1], templates[102, 1]).photo)
    bench.sam_client()
    monkeypatch.setenv("AFIS_SAM_PIN", PIN)

    def serve():
        return subprocess.Popen(
            [sys.executable, "-m", "reader.emulator", "serve", str(state)],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )

    process = serve()
    try:
        assert "inserted" in process.stdout.readline()
        code = main(
            [
                "personalise",
                "--biodata",
                str(biodata),
                "--photo",
                str(photo),
                "--signature",
                str(signature_png),
                "--finger",
                f"right_index={db1 / '101_1.tif'}",
                "--finger",
                f"left_index={db1 / '102_1.tif'}",
                "--issuer-key",
                str(key),
                "--issuer-cert",
                str(cert),
            ]
        )
        assert code == 0, capsys.readouterr().err
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(10)
        if card_present("Virtual PCD 00 00"):
            wait_for_removal("Virtual PCD 00 00")
    written = EmulatedCard.from_state(json.loads(state.read_text()))
    assert written.lifecycle == "operational" and len(written.files[c.EF_FINGER_1]) > 100
    process = serve()
    try:
        assert "inserted" in process.stdout.readline()
        assert main(["read", "--out", str(tmp_path / "out")]) == 0
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(10)
        if card_present("Virtual PCD 00 00"):
            wait_for_removal("Virtual PCD 00 00")
    assert (tmp_path / "out" / "3171234501900000.txt").exists()
    assert read_log(tmp_path / "out" / "reads.xlsx")[0]["outcome"] == "read"
    # a locked SAM: the CLI says so, exits 2 and logs the error
    monkeypatch.setenv("AFIS_SAM_PIN", "999999")
    bench.sam.tries_left = 1
    bench.sam.power_on()
    capsys.readouterr()
    assert main(["read", "--out", str(tmp_path / "out"), "--timeout", "0.5"]) == 2
    assert "locked" in capsys.readouterr().err
    assert read_log(tmp_path / "out" / "reads.xlsx")[-1]["outcome"] == "error"
