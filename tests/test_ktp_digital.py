"""KTP Digital: issuance, the QR round trip, offline verification, revocation, the wallet, and
every bad input of the issue (altered, unknown key, foreign signature, expired, not yet
valid, revoked, truncated, garbled, oversized, decompression bomb, wrong PIN)."""

from __future__ import annotations

import datetime
import io
import zlib

import base45
import cbor2
import numpy as np
import pytest
from PIL import Image

from afis._fuzz import fuzz
from afis.synth import Population
from afis.template import FingerPosition
from enrollment import constants as C
from enrollment.cli import main
from enrollment.ktp_digital import (
    Credential,
    CredentialError,
    IssuerKey,
    StatusList,
    TrustList,
    WalletError,
    WalletLocked,
    encode,
    verify,
)
from enrollment.ktp_digital import _fuzz as ktp_fuzz
from enrollment.ktp_digital.credential import inflate, sign
from enrollment.ktp_digital.demo import PATH_TO_CARD, run_ktp_demo, synthetic_face
from enrollment.ktp_digital.issuance import Issuer, biodata_of
from enrollment.ktp_digital.qr import face_thumbnail, make_qr, png_bytes, read_qr
from enrollment.ktp_digital.verifier import check_image, export
from enrollment.ktp_digital.wallet import Wallet
from enrollment.status import Status
from enrollment.store import Person, Sample, Store

KEY = IssuerKey.generate("ktp-test-1")
TRUST = TrustList([KEY.public()])
CRED = Credential.example()
NOW = CRED.issued_at + 3600


def _text(credential: Credential = CRED, key: IssuerKey = KEY) -> str:
    return encode(credential, key)


def _reencode(signed: bytes) -> str:
    return C.KTP_PREFIX + base45.b45encode(zlib.compress(signed)).decode("ascii")


# -- the credential and the QR round trip -----------------------------------------------------


@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
def test_qr_round_trip_verifies_with_either_algorithm(alg: str) -> None:
    key = IssuerKey.generate(f"k-{alg}", alg)
    photo = face_thumbnail(synthetic_face(3))
    credential = Credential(
        42, "KEMENDAGRI", CRED.biodata, CRED.issued_at, CRED.not_before, CRED.expires, photo
    )
    code = make_qr(encode(credential, key))
    assert code.version <= C.KTP_QR_MAX_VERSION and code.error == "M"
    result = check_image(png_bytes(code), TrustList([key.public()]), now=NOW)
    assert result.valid, result.message
    assert result.credential == credential
    assert result.kid == key.kid


def test_a_camera_like_image_of_the_code_still_reads() -> None:
    """Blurred, rotated a little, noisy and with uneven light: what a phone camera gives."""
    text = _text()  # ECDSA signatures differ each time: one text
    png = png_bytes(make_qr(text), scale=3)
    image = Image.open(io.BytesIO(png)).convert("L").rotate(7, expand=True, fillcolor=255)
    pixels = np.asarray(image, np.float32)
    gradient = np.linspace(0.75, 1.0, pixels.shape[1])[None, :]
    rng = np.random.default_rng(1)
    pixels = np.clip(pixels * gradient + rng.normal(0, 12, pixels.shape), 0, 255)
    assert read_qr(pixels.astype(np.uint8)) == text


def test_thumbnail_fits_and_qr_stays_within_version_25() -> None:
    for seed in range(5):
        thumb = face_thumbnail(synthetic_face(seed))
        assert len(thumb) <= C.KTP_THUMBNAIL_BYTES
        assert Image.open(io.BytesIO(thumb)).size == (48, 60)


# -- bad input: each gives an outcome and a message, never an exception ----------------------


def test_payload_altered_by_one_byte_is_refused() -> None:
    signed = bytearray(inflate(_text(), C.KTP_PREFIX))
    refused = set()
    for position in (30, len(signed) // 2, len(signed) - 10):
        altered = bytearray(signed)
        altered[position] ^= 0x01
        result = verify(_reencode(bytes(altered)), TRUST, now=NOW)
        assert not result.valid and result.credential is None
        refused.add(result.status)
    assert refused <= {"invalid_signature", "malformed"}
    assert "invalid_signature" in refused


def test_unknown_key_id_and_a_signature_by_another_key() -> None:
    stranger = IssuerKey.generate("not-trusted")
    result = verify(_text(key=stranger), TRUST, now=NOW)
    assert result.status == "unknown_key" and "not-trusted" in result.message
    impostor = IssuerKey.generate(KEY.kid)  # same key id, another key
    result = verify(_text(key=impostor), TRUST, now=NOW)
    assert result.status == "invalid_signature" and result.credential is None


def test_expired_and_not_yet_valid() -> None:
    assert verify(_text(), TRUST, now=CRED.expires).status == "expired"
    early = verify(_text(), TRUST, now=CRED.not_before - 1)
    assert early.status == "not_yet_valid" and "not valid before" in early.message


def test_revoked_credential_and_a_stale_status_list() -> None:
    listing = StatusList("KEMENDAGRI", 10, [CRED.credential_id], issued_at=0, next_update=NOW + 10)
    status = StatusList.from_bytes(listing.sign(KEY), TRUST)
    result = verify(_text(), TRUST, now=NOW, status_list=status)
    assert result.status == "revoked" and result.credential is not None
    clean = StatusList.from_bytes(
        StatusList("KEMENDAGRI", 10, issued_at=0, next_update=NOW - 1).sign(KEY), TRUST
    )
    result = verify(_text(), TRUST, now=NOW, status_list=clean)
    assert result.valid and any("out of date" in w for w in result.warnings)


def test_status_list_forged_or_altered_is_refused() -> None:
    data = bytearray(StatusList("KEMENDAGRI", 64, [5], issued_at=0, next_update=1).sign(KEY))
    data[-5] ^= 1
    with pytest.raises(CredentialError, match="invalid signature"):
        StatusList.from_bytes(bytes(data), TRUST)
    other = IssuerKey.generate("other")
    with pytest.raises(CredentialError, match="unknown key"):
        StatusList.from_bytes(StatusList("X", 8, issued_at=0, next_update=1).sign(other), TRUST)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (_text()[:-40], "truncated|Base45|inflate"),
        (_text()[:7], "Base45|inflate|truncated"),
        ("KTP1:" + "%%%%", "Base45|inflate"),
        ("HC1:NCFOXN%TS3DH", "does not start"),
        ("KTP1:" + "A" * (C.KTP_MAX_TEXT + 1), "longer than"),
        ("", "does not start"),
        (b"\xff\xfe KTP1:", "not ASCII"),
    ],
    ids=["truncated", "cut-short", "garbled", "foreign", "oversized", "empty", "binary"],
)
def test_truncated_garbled_and_oversized_codes(text: str | bytes, reason: str) -> None:
    result = verify(text, TRUST, now=NOW)
    assert result.status == "malformed"
    assert result.credential is None
    import re

    assert re.search(reason, result.message), result.message


def test_decompression_bomb_stops_at_the_limit() -> None:
    bomb = zlib.compress(bytes(50_000_000), 9)  # 50 MB of zeros in about 50 kB
    text = C.KTP_PREFIX + base45.b45encode(bomb[:2800]).decode("ascii")
    result = verify(text, TRUST, now=NOW)
    assert result.status == "malformed" and "more than" in result.message


def test_signed_garbage_claims_are_malformed_not_crashes() -> None:
    fields = list(CRED.biodata.values())
    for claims in (
        {},
        [1, 2],
        {7: b"12345678", C.KTP_CLAIM: {1: ["x"] * 21}},
        {7: b"12345678", C.KTP_CLAIM: {1: fields, 3: [b"not a map"]}},
        b"\xff",
    ):
        payload = cbor2.dumps(claims) if not isinstance(claims, bytes) else claims
        result = verify(_reencode(sign(payload, KEY)), TRUST, now=NOW)
        assert result.status == "malformed", claims
        assert result.kid == KEY.kid


def test_wrong_types_are_refused_clearly() -> None:
    assert verify(12345, TRUST).status == "malformed"  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="TrustList"):
        verify(_text(), {"ktp-test-1": KEY})  # type: ignore[arg-type]
    with pytest.raises(CredentialError, match="nik must be 16 digits"):
        Credential(1, "X", {**CRED.biodata, "nik": "123"}, 0, 0, 1)
    with pytest.raises(CredentialError, match="printable ASCII"):
        Credential(1, "X", {**CRED.biodata, "name": 'A "quoted" name'}, 0, 0, 1)
    assert check_image(np.zeros((5,), np.uint8), TRUST).status == "malformed"
    assert "no readable QR" in check_image(np.full((80, 80), 255, np.uint8), TRUST).message


def test_trust_list_and_key_files(tmp_path) -> None:
    path = KEY.save(tmp_path / "key.pem")
    assert (path.stat().st_mode & 0o777) == 0o600
    assert IssuerKey.load(path).public() == KEY.public()
    TRUST.save(tmp_path / "trust.json")
    assert TrustList.load(tmp_path / "trust.json").kids() == [KEY.kid]
    (tmp_path / "bad.json").write_text('{"format": "something else"}')
    with pytest.raises(
        CredentialError, match=r"bad\.json: trust list: not a KTP Digital trust list"
    ):
        TrustList.load(tmp_path / "bad.json")
    (tmp_path / "bad.pem").write_bytes(b"# kid: x\nnot a key")
    with pytest.raises(CredentialError, match=r"bad\.pem"):
        IssuerKey.load(tmp_path / "bad.pem")


def test_bounded_fuzz_of_the_verifier() -> None:
    """A short run in the suite; ``python -m enrollment.ktp_digital._fuzz`` runs 10^5 each."""
    for name, target in ktp_fuzz.TARGETS.items():
        report = fuzz(target, ktp_fuzz.seeds(name), 1500, seed=5, slow_ms=2000)
        assert report.ok(), report.summary() + repr(report.failures[:2])


# -- the data centre's side --------------------------------------------------------------------


def _issued_store(count: int = 2) -> tuple[Store, list[int], Population]:
    store = Store("sqlite://")
    population = Population(11)
    ids = []
    for n in range(count):
        batch = population.impressions(np.arange(n * 10, n * 10 + 10), np.zeros(10, np.int64))
        samples = [Sample(f + 1, template=t.to_bytes()) for f, t in enumerate(batch.templates())]
        person = Person(
            f"31710105019{n:05d}",
            f"WARGA {n}",
            "M",
            datetime.date(1990, 1, 5),
            "BANDUNG",
            "317101",
            address="JL. ASIA AFRIKA 8",
        )
        ids.append(store.add_record(person, samples, actor="t"))
    for status in PATH_TO_CARD:
        store.transition(ids[0], Status[status], actor="t", reason="t")
    return store, ids, population


def test_issue_reissue_revoke_and_the_status_list() -> None:
    store, ids, _ = _issued_store()
    issuer = Issuer(store, KEY)
    with pytest.raises(CredentialError, match="CARD_ISSUED"):
        issuer.issue(ids[1], actor="desk")
    first, text1 = issuer.issue(ids[0], actor="desk", photo=synthetic_face(1), fingers=True)
    assert first.biodata["name"] == "WARGA 0" and first.biodata["sex"] == "LAKI-LAKI"
    assert sorted(first.fingers) == [2, 7] and first.photo
    second, text2 = issuer.issue(ids[0], actor="desk")
    rows = issuer.credentials(ids[0])
    assert [r["revocation_reason"] for r in rows] == ["re-issued", None]
    status = StatusList.from_bytes(issuer.status_list().sign(KEY), TRUST)
    assert verify(text1, TRUST, status_list=status).status == "revoked"
    assert verify(text2, TRUST, status_list=status).valid
    issuer.revoke(second.credential_id, actor="region", reason="phone lost")
    status = StatusList.from_bytes(issuer.status_list().sign(KEY), TRUST)
    assert verify(text2, TRUST, status_list=status).status == "revoked"
    with pytest.raises(CredentialError, match="already revoked"):
        issuer.revoke(second.credential_id, actor="region", reason="again")


def test_biodata_of_a_record_fills_unknown_fields_with_a_dash() -> None:
    person = Person("3171014501900001", "SITI", "F", None, "MEDAN", "127101")
    fields = biodata_of(person, datetime.date(2026, 12, 7))
    assert list(fields) == list(C.KTP_BIODATA_FIELDS)
    assert fields["sex"] == "PEREMPUAN" and fields["date_of_birth"] == "-"
    assert fields["religion"] == "-" and fields["province"] == "12"


# -- the wallet ---------------------------------------------------------------------------------


def test_wallet_activation_with_a_live_fingerprint(tmp_path) -> None:
    store, ids, population = _issued_store()
    issuer = Issuer(store, KEY)
    nik = store.person(ids[0]).nik
    live = population.impressions(np.array([1]), np.array([3])).templates()[0]  # a new capture
    assert live.finger_position == FingerPosition.RIGHT_INDEX
    impostor = population.impressions(np.array([11]), np.array([3])).templates()[0]
    wallet = Wallet(tmp_path / "phone")
    with pytest.raises(WalletError, match="biometric check failed"):
        wallet.activate(nik, "246810", issuer, TRUST, fingerprint=impostor)
    with pytest.raises(WalletError, match="no card issued"):
        wallet.activate(store.person(ids[1]).nik, "246810", issuer, TRUST, fingerprint=live)
    with pytest.raises(WalletError, match="needs a live fingerprint"):
        wallet.activate(nik, "246810", issuer, TRUST)
    credential = wallet.activate(nik, "246810", issuer, TRUST, fingerprint=live)
    assert credential.nik == nik
    assert read_qr(Wallet(tmp_path / "phone").qr_png("246810")).startswith(C.KTP_PREFIX)


def test_wallet_face_check_is_pluggable(tmp_path) -> None:
    store, ids, _ = _issued_store(1)

    class Always:
        def __init__(self, answer: bool) -> None:
            self.answer = answer

        def verify(self, live: object, record_id: int) -> bool:
            return self.answer

    nik = store.person(ids[0]).nik
    with pytest.raises(WalletError, match="biometric"):
        Wallet(tmp_path).activate(
            nik, "111111", Issuer(store, KEY, face_verifier=Always(False)), TRUST, face=b"x"
        )
    credential = Wallet(tmp_path).activate(
        nik, "111111", Issuer(store, KEY, face_verifier=Always(True)), TRUST, face=b"x"
    )
    assert credential.nik == nik


def test_wallet_pin_lockout_change_and_reissue(tmp_path) -> None:
    wallet = Wallet(tmp_path)
    with pytest.raises(WalletError, match="six digits"):
        wallet.store(_text(), "12ab56", TRUST, now=NOW)
    wallet.store(_text(), "123456", TRUST, now=NOW)
    raw = (tmp_path / "wallet.json").read_bytes()
    assert b"BUDI" not in raw and b"3171230501900001" not in raw  # encrypted at rest
    with pytest.raises(WalletError, match="wrong PIN \\(4 attempts left\\)"):
        wallet.unlock("000000")
    assert Wallet(tmp_path).attempts_left == 4  # counted on disk before answering
    assert verify(wallet.unlock("123456"), TRUST, now=NOW).credential == CRED
    assert wallet.attempts_left == 5
    wallet.change_pin("123456", "654321")
    with pytest.raises(WalletError, match="wrong PIN"):
        wallet.unlock("123456")
    newer = Credential(2, "KEMENDAGRI", CRED.biodata, CRED.issued_at, CRED.not_before, CRED.expires)
    wallet.replace(encode(newer, KEY), "654321", TRUST, now=NOW)
    assert wallet.credential("654321", TRUST, now=NOW).credential_id == 2
    someone = Credential.example(3, nik="3171230501900002")
    with pytest.raises(WalletError, match="another NIK"):
        wallet.replace(encode(someone, KEY), "654321", TRUST, now=NOW)
    for left in (4, 3, 2, 1):
        with pytest.raises(WalletError, match=f"{left} attempts left"):
            wallet.unlock("999999")
    with pytest.raises(WalletLocked, match="locked"):
        wallet.unlock("999999")
    with pytest.raises(WalletLocked):
        Wallet(tmp_path).unlock("654321")  # the right PIN no longer helps
    assert b"ciphertext" not in (tmp_path / "wallet.json").read_bytes()


def test_a_damaged_wallet_file_is_named(tmp_path) -> None:
    (tmp_path / "wallet.json").write_text("{not json")
    with pytest.raises(WalletError, match=r"wallet\.json: not a readable wallet"):
        Wallet(tmp_path)


# -- command line and the acceptance run ------------------------------------------------------


def test_cli_keygen_issue_status_list_verify_and_revoke(tmp_path, capsys) -> None:
    store, ids, _ = _issued_store(1)
    db = tmp_path / "centre.db"
    file_store = Store(db)
    person, samples = store.person(ids[0]), store.samples(ids[0])
    rid = file_store.add_record(person, samples, actor="t")
    for status in PATH_TO_CARD:
        file_store.transition(rid, Status[status], actor="t", reason="t")
    key, trust = tmp_path / "key.pem", tmp_path / "trust.json"
    assert (
        main(["ktp-digital", "keygen", "--kid", "cli-1", "--key", str(key), "--trust", str(trust)])
        == 0
    )
    synthetic_face(2).save(tmp_path / "face.jpg")
    out = tmp_path / "qr"
    args = ["ktp-digital", "issue", "--db", str(db), str(rid), "--key", str(key), "--out", str(out)]
    assert main([*args, "--photo", str(tmp_path / "face.jpg"), "--actor", "desk"]) == 0
    png = out / f"{person.nik}.png"
    assert png.exists() and (out / f"{person.nik}.svg").exists()
    status = tmp_path / "status.cose"
    assert (
        main(
            ["ktp-digital", "status-list", "--db", str(db), "--key", str(key), "--out", str(status)]
        )
        == 0
    )
    verify_args = [
        "ktp-digital",
        "verify",
        str(png),
        "--trust",
        str(trust),
        "--status",
        str(status),
    ]
    assert main([*verify_args, "--out", str(tmp_path / "read")]) == 0
    printed = capsys.readouterr().out
    assert "valid: genuine" in printed and "WARGA 0" in printed
    exported = sorted(p.name for p in (tmp_path / "read").iterdir())
    assert exported == [f"{person.nik}{s}" for s in (".csv", ".txt", "_photo.bmp", "_preview.jpg")]
    assert (
        main(["ktp-digital", "revoke", "--db", str(db), "1", "--actor", "r", "--reason", "lost"])
        == 0
    )
    assert (
        main(
            ["ktp-digital", "status-list", "--db", str(db), "--key", str(key), "--out", str(status)]
        )
        == 0
    )
    assert main(verify_args) == 1
    assert "revoked" in capsys.readouterr().out
    (tmp_path / "junk.png").write_bytes(b"\x89PNG garbage")
    assert main(["ktp-digital", "verify", str(tmp_path / "junk.png"), "--trust", str(trust)]) == 1
    assert "malformed: not a readable image" in capsys.readouterr().out


def test_export_of_a_refused_code_writes_no_biodata(tmp_path) -> None:
    result = verify(_text(key=IssuerKey.generate("x")), TRUST, now=NOW)
    paths = export(result, tmp_path)
    text = paths["txt"].read_text()
    assert "unknown_key" in text and "BUDI" not in text and "photo" not in paths


@pytest.mark.parametrize("records", [60])
def test_synthetic_records_issue_read_and_verify(tmp_path, records: int) -> None:
    """The acceptance run in small (``afis-enrollment ktp-digital demo --records 1000``)."""
    report = run_ktp_demo(tmp_path, records=records, seed=3)
    assert report.verified == report.records == records
    assert report.largest_version <= C.KTP_QR_MAX_VERSION
