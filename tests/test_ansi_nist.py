"""ANSI/NIST-ITL transactions (traditional encoding): read, write, images, minutiae, bad input.

Shared data: the NBIS an2k test files (types 2..17 and 99) and libbiomeval's .an2k files
(types 3, 4, 9 with standard and EFS minutiae, 13, 15).
"""

from __future__ import annotations

import datetime
import math
import re
from pathlib import Path

import numpy as np
import pytest

from afis._fuzz import fuzz
from afis.errors import FormatError, ImageError
from afis.image import FingerprintImage
from afis.interchange import ansi_nist_itl as an
from afis.interchange.ansi_nist_itl import (
    BinaryImageRecord,
    Field,
    OpaqueRecord,
    SignatureRecord,
    TaggedRecord,
    Transaction,
)
from afis.template import FingerPosition, MinutiaType, Template

FS, GS, RS, US = b"\x1c", b"\x1d", b"\x1e", b"\x1f"
NBIS = "nbis_an2k_testdata"
LIBBIOMEVAL = "nist_libbiomeval_testdata"
#: Shared files whose declared image size differs from their image data (NBIS test data:
#: three WSQ images of 1600x976 / 1600x800 pixels in Type-14 records that say 1800x1000 /
#: 1800x900).
SIZE_MISMATCH = {"valid1.8.an2"}
DATE = datetime.date(2024, 2, 29)


def an2k_files(root: Path) -> list[Path]:
    files = sorted((root / NBIS).rglob("*.an2")) + sorted((root / LIBBIOMEVAL).glob("*.an2k"))
    if not files:
        pytest.skip("no ANSI/NIST-ITL files in the shared datasets")
    return files


def listed_content(data: bytes) -> list[tuple[int, int]]:
    """(type, IDC) pairs of field 1.003, read straight from the bytes with a regex."""
    match = re.search(rb"1\.0*3:([^\x1d\x1c]*)", data)
    assert match is not None
    subfields = [s.split(US) for s in match.group(1).split(RS)]
    return [(int(t), int(i)) for t, i in subfields[1:]]


def ridges(height: int = 96, width: int = 80, ppi: float = 500.0) -> FingerprintImage:
    yy, xx = np.mgrid[0:height, 0:width]
    pixels = np.clip(128 + 100 * np.sin(xx / 2.0 + yy / 5.0), 0, 255).astype(np.uint8)
    return FingerprintImage(pixels, ppi)


def small_template() -> Template:
    return Template(
        width=300,
        height=400,
        resolution=500.0,
        source_resolution=500.0,
        x=[10, 150, 299, 0],
        y=[20, 200, 399, 0],
        direction=[0.0, 1.0, 3.5, 6.2],
        type=[MinutiaType.ENDING, MinutiaType.BIFURCATION, MinutiaType.OTHER, 1],
        quality=[100, 50, 1, 0],
        image_quality=70,
        finger_position=FingerPosition.LEFT_INDEX,
        singular_x=[150, 40],
        singular_y=[180, 350],
        singular_type=[1, 2],
    )


# ------------------------------------------------------------------------ the shared files


@pytest.mark.datasets
def test_every_shared_transaction_parses_and_rewrites_identically(datasets_root):
    files = an2k_files(datasets_root)
    assert len(files) == 27  # 21 from NBIS, 6 from libbiomeval
    for path in files:
        data = path.read_bytes()
        transaction = an.decode(data)
        content = listed_content(data)
        assert [r.type for r in transaction.records[1:]] == [t for t, _ in content], path
        assert transaction.records[0].type == 1
        assert transaction.to_bytes() == data, path
        assert re.fullmatch(r"0[2-5]0[0-9]", transaction.version), path


@pytest.mark.datasets
def test_every_shared_image_decodes_to_its_declared_size(datasets_root):
    decoded = expected = 0
    for path in an2k_files(datasets_root):
        data = path.read_bytes()
        transaction = an.decode(data)
        if path.name not in SIZE_MISMATCH:
            expected += sum(t in (3, 4, 13, 14, 15) for t, _ in listed_content(data))
        for record in transaction.records:
            if record.type not in (3, 4, 13, 14, 15):
                continue
            if path.name in SIZE_MISMATCH:
                with pytest.raises(FormatError, match=r"declared 1800x(1000|900) pixels"):
                    transaction.image(record)
                continue
            image = transaction.image(record)
            decoded += 1
            if isinstance(record, BinaryImageRecord):
                assert (image.width, image.height) == (record.width, record.height)
            else:
                width = int(record.get(6).value)
                height = int(record.get(7).value)
                assert (image.width, image.height) == (width, height), path
            assert 50 <= image.ppi <= 1000
            assert float(image.pixels.std()) > 5, path  # not blank
    assert decoded == expected > 30


@pytest.mark.datasets
@pytest.mark.parametrize(
    ("name", "record_type", "ppi"),
    [
        ("valid1.1.an2", 4, 500.0),  # ISR 0, 1.012 = 19.69 ppmm
        ("valid1.2.an2", 4, 508.0),  # 1.012 = 20.00 ppmm
        ("type3.an2k", 3, 250.0),  # low resolution: 1.012 = 09.84 ppmm
        ("type4-slaps.an2k", 4, 500.0),
        ("valid1.4.an2", 13, 100.0),  # SLC 1, 13.009 = 100
        ("type9-15.an2k", 15, 500.0),
        ("valid1.9.an2", 14, 96.0),
    ],
)
def test_image_resolutions_follow_the_records(datasets_root, name, record_type, ppi):
    path = next((p for p in an2k_files(datasets_root) if p.name == name), None)
    if path is None:
        pytest.skip(f"{name} is missing")
    transaction = an.decode(path.read_bytes())
    record = transaction.of_type(record_type)[0]
    assert transaction.image_ppi(record) == ppi
    assert transaction.image(record).ppi == ppi


@pytest.mark.datasets
def test_record_contents_of_known_files(datasets_root):
    nbis = datasets_root / NBIS / "an2kconvert_testdata"
    if not nbis.is_dir():
        pytest.skip(f"{nbis} is missing")
    face = an.decode((nbis / "face_jpb_DOM_GMT_DCS.an2").read_bytes())
    assert face.encoding == "ascii"  # 1.015: 000 ASCII 7-bit English
    record10 = face.of_type(10)[0]
    assert face.text(record10, 3) == "FACE"
    assert record10.get(999).value[:2] == b"\xff\xd8"  # JPEG
    assert (face.text(record10, 6), face.text(record10, 7)) == ("768", "1024")

    signature = an.decode((nbis / "sign_vec.an2").read_bytes()).records[1]
    assert isinstance(signature, SignatureRecord) and signature.representation == 2
    assert signature.vectors().shape == (4, 3)
    raw = an.decode((nbis / "sign_raw.an2").read_bytes()).records[1]
    assert isinstance(raw, SignatureRecord) and raw.representation == 0
    assert len(raw.data) == raw.width * raw.height == 256 * 64

    mixed = an.decode((nbis / "valid1.9.an2").read_bytes())
    opaque = mixed.of_type(7)[0]
    assert isinstance(opaque, OpaqueRecord) and opaque.idc == 2
    iris = mixed.of_type(17)[0]
    assert iris.get(999) is not None

    demographics = an.decode((nbis / "type_3_wvu.an2").read_bytes())
    assert demographics.text(demographics.records[1], 18) == "MASTERSON,RYAN MARTIN"
    assert len(demographics.of_type(3)) == 14


@pytest.mark.datasets
def test_type9_standard_minutiae_agree_with_the_incits_378_record_they_came_from(datasets_root):
    # libbiomeval's type9-13.an2k was made by NIST's fmr2an2k from view 3 of fmr.ansi2004
    # (with the 191x357 image of its Type-13 record): compare with that view, read here
    # straight from the INCITS 378-2004 bytes.
    folder = datasets_root / LIBBIOMEVAL
    if not (folder / "type9-13.an2k").exists():
        pytest.skip(f"{folder} is missing")
    transaction = an.decode((folder / "type9-13.an2k").read_bytes())
    template = transaction.template(transaction.of_type(9)[0])
    assert (template.width, template.height, template.resolution) == (191, 357, 500.0)
    fmr = (folder / "fmr.ansi2004").read_bytes()
    pos, views = 26, []
    for _ in range(3):
        count = fmr[pos + 3]
        pos += 4
        view = []
        for _ in range(count):
            word = int.from_bytes(fmr[pos : pos + 2], "big")
            y = int.from_bytes(fmr[pos + 2 : pos + 4], "big") & 0x3FFF
            view.append((word >> 14, word & 0x3FFF, y, fmr[pos + 4] * 2))
            pos += 6
        pos += 2 + int.from_bytes(fmr[pos : pos + 2], "big")
        views.append(view)
    reference = views[2]
    assert len(template) == len(reference) == 28
    for i in range(len(template)):
        kind, x, y, angle = reference[i]
        assert int(template.type[i]) == kind
        assert int(template.x[i]) == x
        assert abs(int(template.y[i]) - y) <= 1  # fmr2an2k truncates Y
        assert round(math.degrees(float(template.direction[i]))) % 360 == angle
    assert len(template.singular_x) == 0
    assert template.finger_position == FingerPosition.UNKNOWN


@pytest.mark.datasets
def test_type9_without_an_image_needs_the_grid(datasets_root):
    folder = datasets_root / LIBBIOMEVAL
    if not (folder / "type9.an2k").exists():
        pytest.skip(f"{folder} is missing")
    transaction = an.decode((folder / "type9.an2k").read_bytes())
    record = transaction.of_type(9)[0]
    with pytest.raises(FormatError, match="image size: expected a finger image record"):
        transaction.template(record)
    template = transaction.template(record, width=191, height=357)
    with_image = an.decode((folder / "type9-13.an2k").read_bytes())
    reference = with_image.template(with_image.of_type(9)[0])
    # the same 28 minutiae (type9.an2k repeats ridge counts; one angle differs by 1 degree)
    assert len(template) == len(reference)
    np.testing.assert_array_equal(template.x, reference.x)
    assert np.abs(template.y.astype(int) - reference.y).max() <= 1


@pytest.mark.datasets
def test_efs_and_user_defined_type9_fields_are_kept(datasets_root):
    path = datasets_root / LIBBIOMEVAL / "type9-efs.an2k"
    if not path.exists():
        pytest.skip(f"{path} is missing")
    transaction = an.decode(path.read_bytes())
    records = transaction.of_type(9)
    assert len(records) == 8
    first = records[0]
    assert first.get(4).value == b"U"
    minutiae = first.get(331).items()
    assert len(minutiae) == 60 and minutiae[0] == ["1908", "41", "186", "E"]
    with pytest.raises(FormatError, match=r"9\.004 \(FMT\): expected 'S'"):
        transaction.template(first, width=3000, height=3000)


# --------------------------------------------------------------------------- text encoding


def test_text_with_stx_etx_runs_and_declared_encodings():
    name = "ÉLODIE,ÇA"
    value = b"\x02003" + name.encode("utf-8") + b"\x03 JR"
    assert an.decode_text(value, "ascii", "2.018") == name + " JR"
    assert an.decode_text("Zoë".encode("latin-1"), "latin-1") == "Zoë"
    with pytest.raises(FormatError, match="expected ascii text"):
        an.decode_text("Zoë".encode("latin-1"), "ascii", "2.018")
    with pytest.raises(FormatError, match="3-digit character set index"):
        an.decode_text(b"\x02x3abc\x03", "ascii", "2.018")
    with pytest.raises(FormatError, match="user-defined or reserved"):
        an.decode_text(b"\x02200abc\x03", "ascii", "2.018")


def test_utf8_transaction_round_trip():
    record = an.type2_record(0, {18: "ŁUKASZ,ŻÓŁW", 20: [["a", "b"], ["c"]]}, encoding="utf-8")
    transaction = Transaction.build([record], character_set=3, date=DATE)
    again = an.decode(transaction.to_bytes())
    assert again.encoding == "utf-8"
    assert again.text(again.records[1], 18) == "ŁUKASZ,ŻÓŁW"
    assert again.records[1].get(20).items() == [["a", "b"], ["c"]]


def test_type1_and_items_refuse_what_cannot_be_encoded():
    with pytest.raises(FormatError, match="cannot be encoded as ascii"):
        Transaction.build([], originator="ÖRI")
    with pytest.raises(FormatError, match="reserved control character 0x1E"):
        an.type2_record(0, {18: "A\x1eB"})
    with pytest.raises(FormatError, match="field tag"):
        Field("2.0x1", b"")


# ----------------------------------------------------------------------- write, then read


def all_records() -> list[an.Record]:
    image = ridges()
    return [
        an.type2_record(0, {18: "DOE,JOHN", 22: "19800101"}),
        an.type4_record(image, idc=1, position=2, codec="wsq"),
        an.type4_record(image, idc=2, position=3, codec="raw"),
        an.type9_record(small_template(), idc=3),
        an.type10_record(np.full((64, 48, 3), 90, np.uint8), idc=4, codec="jpeg"),
        an.type14_record(ridges(ppi=1000.0), idc=5, position=7, codec="png", date=DATE),
        an.type14_record(image, idc=6, position=8, codec="jpeg2000-lossless", date=DATE),
        an.type17_record(np.full((40, 60), 120, np.uint8), idc=7, eye=2, ppi=600, date=DATE),
        an.type8_record(idc=8, vectors=[(0, 0, 0), (1000, 65535, 255)]),
        an.type8_record(idc=9, pixels=np.arange(200, dtype=np.uint8).reshape(10, 20)),
    ]


def test_every_record_type_survives_write_then_read():
    transaction = Transaction.build(
        all_records(), destination="DAI", originator="ORI", control_number="TCN-1", date=DATE
    )
    data = transaction.to_bytes()
    again = an.decode(data)
    assert again.to_bytes() == data
    expected = [(2, 0), (4, 1), (4, 2), (9, 3), (10, 4), (14, 5), (14, 6), (17, 7), (8, 8)]
    assert again.content() == [*expected, (8, 9)]
    assert listed_content(data) == again.content()
    type1 = again.type1
    assert [again.text(type1, n) for n in (4, 5, 7, 8, 9, 11, 12)] == [
        "CAR",
        "20240229",
        "DAI",
        "ORI",
        "TCN-1",
        "19.69",
        "19.69",
    ]
    images = {(r.type, r.idc): image for r, image in again.finger_images()}
    source = ridges().pixels
    np.testing.assert_array_equal(images[(4, 2)].pixels, source)
    np.testing.assert_array_equal(images[(14, 5)].pixels, source)
    np.testing.assert_array_equal(images[(14, 6)].pixels, source)
    assert np.abs(images[(4, 1)].pixels.astype(int) - source).mean() < 6  # WSQ
    assert images[(4, 1)].ppi == 500.0 and images[(14, 5)].ppi == 1000.0
    face = again.of_type(10)[0]
    assert face.get(12).value == b"SRGB" and face.get(999).value[:2] == b"\xff\xd8"
    iris = again.of_type(17)[0]
    assert iris.get(3).value == b"2" and iris.get(999).value[:4] == b"\x89PNG"
    vectors, pixels = again.of_type(8)
    assert vectors.vectors().tolist() == [[0, 0, 0], [1000, 65535, 255]]
    assert pixels.data == bytes(range(200)) and (pixels.width, pixels.height) == (20, 10)


def test_type9_round_trip_of_a_template():
    template = small_template()
    transaction = Transaction.build([an.type9_record(template, idc=1)], date=DATE)
    again = an.decode(transaction.to_bytes())
    back = again.template(again.records[1], width=300, height=400, resolution=500.0)
    np.testing.assert_array_equal(back.x, template.x)
    np.testing.assert_array_equal(back.y, template.y)
    turn = np.angle(np.exp(1j * (back.direction.astype(float) - template.direction)))
    assert np.abs(np.degrees(turn)).max() <= 0.5  # whole degrees
    assert back.type.tolist() == [1, 2, 0, 1]
    assert np.abs(back.quality.astype(int) - template.quality).max() <= 1
    assert back.finger_position == FingerPosition.LEFT_INDEX
    np.testing.assert_array_equal(back.singular_x, template.singular_x)
    np.testing.assert_array_equal(back.singular_y, template.singular_y)
    np.testing.assert_array_equal(back.singular_type, template.singular_type)
    record = again.records[1]
    mrc = record.get(12).items()
    # x=10 px at 500 ppi = 0.508 mm -> 0051; y from the bottom: (399 - 20) px -> 1925
    # direction 0 rad (ISO) -> 180 degrees; quality 100 -> 2 (highest confidence)
    assert mrc[0] == ["001", "00511925180", "2", "A"]
    assert record.get(10).value == b"4"


def test_type9_uses_the_grid_of_the_image_with_its_idc():
    image = ridges(400, 300)
    template = small_template()
    transaction = Transaction.build(
        [
            an.type14_record(image, idc=3, position=7, codec="png", date=DATE),
            an.type9_record(template, idc=3),
        ],
        date=DATE,
    )
    back = transaction.template(transaction.of_type(9)[0])
    assert (back.width, back.height, back.resolution) == (300, 400, 500.0)
    np.testing.assert_array_equal(back.y, template.y)


def test_type9_minutiae_outside_the_grid_are_format_errors():
    transaction = Transaction.build([an.type9_record(small_template(), idc=1)], date=DATE)
    with pytest.raises(FormatError, match=r"9\.012 \(MRC\) minutia 2 X"):
        transaction.template(transaction.records[1], width=100, height=400)


def test_noncanonical_lengths_are_rewritten_canonically():
    data = Transaction.build([an.type2_record(0, {18: "X"})], date=DATE).to_bytes()
    length = int(re.match(rb"2\.001:([0-9]+)", data[data.index(b"2.001:") :]).group(1))
    padded = data.replace(b"2.001:%d" % length, b"2.001:0%d" % (length + 1))
    transaction = an.decode(padded)
    assert transaction.to_bytes() == data  # the leading zero is not kept


def test_content_field_is_regenerated_when_records_change():
    transaction = Transaction.build([an.type2_record(0, {18: "A"})], date=DATE)
    extended = Transaction((*transaction.records, an.type9_record(small_template(), idc=4)))
    again = an.decode(extended.to_bytes())
    assert again.content() == [(2, 0), (9, 4)]
    assert again.type1.get(3).items() == [["1", "2"], ["2", "00"], ["9", "04"]]


def test_builders_refuse_bad_arguments():
    with pytest.raises(ValueError, match="codec"):
        an.type14_record(ridges(), idc=1, position=1, codec="gif")
    with pytest.raises(ValueError, match="idc"):
        an.type2_record(100, {})
    with pytest.raises(ValueError, match=r"3\.\.999"):
        an.type2_record(1, {2: "x"})
    with pytest.raises(ValueError, match="eye"):
        an.type17_record(np.zeros((8, 8), np.uint8), idc=1, eye=3, ppi=500)
    with pytest.raises(ValueError, match="exactly one"):
        an.type8_record(idc=1)
    with pytest.raises(FormatError, match="Type-1"):
        Transaction((an.type2_record(0, {}),))


# ---------------------------------------------------------------------------- hostile bytes


def sample() -> bytes:
    """A small transaction with tagged, binary image, signature and minutiae records."""
    image = ridges(24, 20)
    records = [
        an.type2_record(0, {18: "DOE"}),
        an.type4_record(image, idc=1, position=2, codec="raw"),
        an.type9_record(small_template(), idc=1),
        an.type8_record(idc=2, vectors=[(1, 2, 3)]),
        an.type14_record(image, idc=3, position=3, codec="png", date=DATE),
    ]
    return Transaction.build(records, date=DATE).to_bytes()


def record_offsets(data: bytes) -> list[tuple[int, int, int]]:
    """(type, start, end) of each record of a valid transaction."""
    out, pos = [], 0
    for rtype, record in zip(
        [1] + [t for t, _ in listed_content(data)], an.decode(data).records, strict=True
    ):
        end = pos + len(record.to_bytes())
        out.append((rtype, pos, end))
        pos = end
    return out


def assert_format_error(data: bytes, *fragments: str) -> str:
    with pytest.raises(FormatError) as info:
        an.decode(data)
    message = str(info.value)
    assert "ANSI/NIST-ITL" in message and "expected" in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_wrong_start_and_wrong_types():
    data = sample()
    assert_format_error(b"2" + data[1:], "Type-1", "'1.001:'")
    assert_format_error(b"", "first field")
    assert_format_error(b"1.001:8\x1c", "1.002 (VER)")
    with pytest.raises(TypeError):
        an.decode("1.001:")  # type: ignore[arg-type]


def test_truncation_at_every_offset_is_a_format_error():
    data = sample()
    for n in range(len(data)):
        with pytest.raises(FormatError):
            an.decode(data[:n])
    assert_format_error(data + b"x", "end of data", "1 more bytes")


@pytest.mark.datasets
def test_truncation_of_real_files_at_every_offset(datasets_root):
    for name in ("sign_vec.an2", "valid1.15.an2", "type9.an2k", "valid1.13.an2"):
        path = next(p for p in an2k_files(datasets_root) if p.name == name)
        data = path.read_bytes()
        for n in range(len(data)):
            with pytest.raises(FormatError):
                an.decode(data[:n])


def tagged_length_lies(length: int) -> list[bytes]:
    return [b"0", b"1", b"%d" % (length - 1), b"%d" % (length + 1), b"999999999999", b"12a"]


def test_lying_lengths_of_every_tagged_record():
    data = sample()
    for rtype, start, end in record_offsets(data):
        if rtype in an.BINARY_RECORD_TYPES:
            continue
        prefix = b"%d.001:" % rtype
        assert data.startswith(prefix, start)
        value_end = data.index(GS, start)
        for lie in tagged_length_lies(end - start):
            bad = data[: start + len(prefix)] + lie + data[value_end:]
            assert_format_error(bad, f"Type-{rtype}", "LEN")


def test_lying_lengths_of_every_binary_record():
    data = sample()
    checked = 0
    for rtype, start, end in record_offsets(data):
        if rtype not in an.BINARY_RECORD_TYPES:
            continue
        length = end - start
        for lie in (0, 1, 11, length - 1, length + 1, 0xFFFFFFFF):
            bad = data[:start] + lie.to_bytes(4, "big") + data[start + 4 :]
            assert_format_error(bad)
            checked += 1
    assert checked == 12


def test_huge_counts_and_bad_content_fields():
    data = sample()
    count = len(listed_content(data))
    cnt_start = data.index(b"1.003:1\x1f") + 8
    assert data[cnt_start : cnt_start + 1] == b"%d" % count
    for lie, fragment in [
        (b"999999", "count equal to"),
        (b"9999999", "two numbers"),
        (b"0", "count equal to"),
    ]:
        bad = data[:cnt_start] + lie + data[cnt_start + 1 :]
        bad = _fix_type1_length(bad)
        assert_format_error(bad, "1.003", fragment)
    many = b"1.003:1\x1f600" + b"".join(b"\x1e2\x1f00" for _ in range(600))
    bad = _fix_type1_length(re.sub(rb"1\.003:[^\x1d]*", many, data, count=1))
    assert_format_error(bad)  # 600 records listed, far fewer present
    for entry, fragment in [(b"\x1e0\x1f00", "record type 2..99"), (b"\x1e100\x1f00", "2..99")]:
        bad = data.replace(b"1.003:1\x1f%d" % count, b"1.003:1\x1f%d" % (count + 1), 1)
        at = bad.index(GS, bad.index(b"1.003:"))
        bad = _fix_type1_length(bad[:at] + entry + bad[at:])
        assert_format_error(bad, fragment)


def _fix_type1_length(data: bytes) -> bytes:
    """Rewrite 1.001 so that the Type-1 record (up to its FS) is self-consistent."""
    end = data.index(FS) + 1
    body = data[data.index(GS) : end]
    length = len(b"1.001:") + len(body)
    digits = len(str(length + 1))
    return b"1.001:%d" % (length + digits) + body + data[end:]


def test_bad_separators_and_tags():
    data = sample()
    type2 = data.index(b"2.001:")
    gs_in_type2 = data.index(GS, type2)
    cases = {
        "GS turned RS": data[:gs_in_type2] + RS + data[gs_in_type2 + 1 :],
        "FS removed": data.replace(b"DOE" + FS, b"DOEX", 1),
        "double GS": data.replace(b"\x1d2.018:", b"\x1d\x1d2.018", 1),
        "letter in tag": data.replace(b"2.018:", b"2.0a8:", 1),
        "tag without dot": data.replace(b"2.018:", b"20018:", 1),
        "no colon": data.replace(b"2.018:", b"2.018=", 1),
        "type in tag": data.replace(b"2.001:", b"x.001:", 1),
        "first field not LEN": data.replace(b"2.001:", b"2.005:", 1),
        "record of another type": data.replace(b"2.001:", b"3.001:", 1),
        "IDC not a number": data.replace(b"2.002:00", b"2.002:AB", 1),
    }
    for name, bad in cases.items():
        assert len(bad) == len(data), name
        message = assert_format_error(bad)
        assert "record" in message, (name, message)


def test_messages_name_record_field_and_expectation():
    data = sample()
    message = assert_format_error(data.replace(b"2.018:", b"2.0a8:", 1))
    assert message.startswith("ANSI/NIST-ITL record 2, Type-2: field tag at offset")
    assert "expected 'T.NNN:'" in message and "2.0a8" in message


def test_image_helpers_name_the_record_on_bad_records():
    transaction = an.decode(sample())
    type2 = transaction.records[1]
    with pytest.raises(FormatError, match=r"record 2, Type-2: record: expected a Type-3, 4"):
        transaction.image(type2)
    with pytest.raises(FormatError, match="expected a Type-9 minutiae record"):
        transaction.template(type2)
    record14 = transaction.of_type(14)[0]
    broken = TaggedRecord(14, tuple(f for f in record14.fields if f.number != 11))
    with pytest.raises(FormatError, match=r"14\.011 \(CGA\)"):
        Transaction((transaction.type1, broken)).image(broken)


def test_writers_refuse_values_that_do_not_fit_their_fields():
    record = an.type4_record(ridges(), idc=1, position=2, codec="raw")
    import dataclasses

    with pytest.raises(FormatError, match=r"Type-4 record: IDC: expected 0\.\.255, got 300"):
        dataclasses.replace(record, idc=300).to_bytes()
    with pytest.raises(FormatError, match="HLL"):
        dataclasses.replace(record, width=-1).to_bytes()
    with pytest.raises(FormatError, match="SRT"):
        SignatureRecord(1, 0, 256, 0, 0, 0, b"").to_bytes()
    with pytest.raises(FormatError, match="body"):
        OpaqueRecord(7, b"").to_bytes()
    transaction = an.decode(sample())
    with pytest.raises(ValueError, match="not one of this transaction's records"):
        transaction.image(record)


# ------------------------------------------------------------------------------ bounded fuzz


def _fuzz_seeds() -> list[bytes]:
    transaction = Transaction.build(all_records()[:4] + all_records()[8:], date=DATE)
    return [sample(), transaction.to_bytes()]


def test_bounded_fuzz_of_the_transaction_parser():
    report = fuzz("ansi_nist_itl", _fuzz_seeds(), 4000, seed=21)
    assert report.ok(), report.summary() + repr(report.failures[:3])
    assert report.rejected > 1000 and report.accepted > 10


def test_bounded_fuzz_of_validation_with_images_and_minutiae():
    report = fuzz("ansi_nist_itl_validate", _fuzz_seeds(), 800, seed=22, slow_ms=3000)
    assert report.ok(), report.summary() + repr(report.failures[:3])


def test_fuzzed_transactions_that_parse_also_rewrite():
    import random

    from afis._fuzz import mutate

    rng = random.Random(23)
    seeds = _fuzz_seeds()
    rewritten = 0
    for _ in range(2000):
        data = mutate(rng.choice(seeds), rng, seeds)
        try:
            transaction = an.decode(data)
        except FormatError:
            continue
        again = an.decode(transaction.to_bytes())
        assert [type(r) for r in again.records] == [type(r) for r in transaction.records]
        rewritten += 1
    assert rewritten > 20


def test_record_kinds():
    transaction = an.decode(sample())
    kinds = [type(r) for r in transaction.records]
    assert kinds == [
        TaggedRecord,
        TaggedRecord,
        BinaryImageRecord,
        TaggedRecord,
        SignatureRecord,
        TaggedRecord,
    ]


def test_encoded_images_are_stored_unchanged():
    """WSQ made once at capture time, a camera's JPEG and an iris PNG go into the records
    byte for byte, with size, resolution and colour space from their headers."""
    from afis.image import encode_wsq
    from afis.interchange._images import encode_pil, encoded_header

    finger = FingerprintImage(ridges().pixels, 569.0)
    wsq = encode_wsq(finger)
    face, *_ = encode_pil(np.full((60, 40, 3), 90, np.uint8), "jpeg")
    iris, *_ = encode_pil(np.full((48, 64), 30, np.uint8), "png")
    records = [
        an.type14_record(wsq, idc=1, position=2, date=DATE),
        an.type10_record(face, idc=2, date=DATE),
        an.type17_record(iris, idc=3, eye=1, ppi=500, date=DATE),
    ]
    again = an.decode(Transaction.build(records, date=DATE).to_bytes())
    type14, type10, type17 = again.of_type(14)[0], again.of_type(10)[0], again.of_type(17)[0]
    assert type14.get(999).value == wsq and type14.get(11).value == b"WSQ20"
    assert (type14.get(6).value, type14.get(9).value) == (str(finger.width).encode(), b"569")
    assert again.image(type14).pixels.shape == finger.pixels.shape
    assert type10.get(999).value == face and type10.get(11).value == b"JPEGB"
    assert (type10.get(6).value, type10.get(7).value) == (b"40", b"60")
    assert type17.get(999).value == iris and type17.get(13).value == b"GRAY"
    assert encoded_header(wsq).ppi == 569.0
    with pytest.raises(ImageError, match="not WSQ, PNG, JPEG or JPEG 2000"):
        an.type14_record(b"BM" + bytes(100), idc=1, position=2)
    with pytest.raises(ImageError, match="cannot decode WSQ"):
        an.type14_record(wsq[: len(wsq) // 2], idc=1, position=2)
    with pytest.raises(ValueError, match="greyscale"):
        an.type14_record(face, idc=1, position=2)
    with pytest.raises(ValueError, match="WSQ is for fingerprints"):
        an.type10_record(wsq, idc=1)
