"""Finger minutiae interchange: ISO/IEC 19794-2 (2005, 2011, card formats), ANSI INCITS 378
(2004, 2009), their Template methods and ``afis convert``.

Round trips keep every minutia within the quantisation of the format; every real record in
the shared datasets parses (with the checks a person would make of it); hostile bytes get a
FormatError that names the record, the field and the expectation; and the angle convention
is checked against another vendor's extractor on FVC2002.
"""

from __future__ import annotations

import math
import re
import struct
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import afis
from afis import FingerPosition, FormatError, Template
from afis._fuzz import DECODERS, fuzz
from afis.cli import main as cli_main
from afis.interchange import (
    ansi378_2004,
    ansi378_2009,
    from_ansi378,
    from_iso,
    from_iso_card,
    iso19794_2_2005,
    iso19794_2_2011,
    iso19794_2_card,
    minutiae,
    read_record,
    to_ansi378,
    to_iso,
    to_iso_card,
)
from afis.interchange.iso19794_2_card import (
    ORDER_ANGLE,
    ORDER_ASCENDING,
    ORDER_DESCENDING,
    ORDER_POLAR,
    ORDER_XY,
    ORDER_YX,
    BiometricInformationTemplate,
    CardFormat,
)

TWO_PI = 2 * math.pi
MM_PER_INCH = 25.4

RECORD_CODECS = {
    "iso19794-2:2005": (iso19794_2_2005, 256),
    "ansi378:2004": (ansi378_2004, 180),
}


# ----------------------------------------------------------------------------- helpers


def random_template(
    seed: int,
    ppi: float = 500.0,
    width: int = 400,
    height: int = 560,
    count: int = 60,
    singular: int = 2,
    position: FingerPosition = FingerPosition.RIGHT_INDEX,
) -> Template:
    rng = np.random.default_rng(seed)
    return Template(
        width=width,
        height=height,
        resolution=ppi,
        source_resolution=ppi,
        x=rng.integers(0, width, count),
        y=rng.integers(0, height, count),
        direction=rng.uniform(0, TWO_PI, count),
        type=rng.integers(0, 3, count),
        quality=rng.integers(0, 101, count),
        image_quality=int(rng.integers(0, 101)),
        finger_position=position,
        singular_x=rng.integers(0, width, singular),
        singular_y=rng.integers(0, height, singular),
        singular_type=rng.integers(1, 3, singular),
    )


def angle_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = np.mod(np.asarray(a, np.float64) - np.asarray(b, np.float64), TWO_PI)
    return np.minimum(d, TWO_PI - d)


def iso2011_representation(
    *,
    x=(10, 200),
    y=(20, 300),
    angle=(0, 64),
    kind=(1, 2),
    quality=(50, 254),
    width=300,
    height=400,
    resolution=(197, 197),
    position=2,
    number=0,
    impression=0,
    qualities=((80, 0x0101, 0x0002),),
    certificates=(),
    certified=False,
    field_length=6,
    ending_type=0,
    extended=b"",
) -> bytes:
    """One finger representation of an ISO/IEC 19794-2:2011 record, byte by byte."""
    body = struct.pack(">HBBBBBH", 2024, 5, 17, 9, 30, 0, 0)  # capture date-time
    body += struct.pack(">BHH", 1, 0x0033, 0x0001)  # device technology, vendor, type
    body += bytes([len(qualities)]) + b"".join(struct.pack(">BHH", *q) for q in qualities)
    if certified:
        body += bytes([len(certificates)]) + b"".join(struct.pack(">HB", *c) for c in certificates)
    body += struct.pack(">BBHHBHH", position, number, *resolution, impression, width, height)
    body += bytes([(field_length << 4) | ending_type, len(x)])
    for i in range(len(x)):
        body += struct.pack(">HHB", (kind[i] << 14) | x[i], y[i], angle[i])
        if field_length == 6:
            body += bytes([quality[i]])
    body += struct.pack(">H", len(extended)) + extended
    return struct.pack(">I", len(body) + 4) + body


def iso2011_record(*representations: bytes, certified: bool = False) -> bytes:
    body = b"".join(representations)
    return (
        b"FMR\x00030\x00"
        + struct.pack(">IHB", 15 + len(body), len(representations), int(certified))
        + body
    )


def ansi2009_record(*views: bytes, owner: int = 0x0042, product: int = 0x0011) -> bytes:
    body = b"".join(views)
    return (
        b"FMR\x00030\x00"
        + struct.pack(">IHHHBB", 20 + len(body), owner, product, 0x00B5, len(views), 0)
        + body
    )


def ansi2009_view(
    *,
    x=(10, 100),
    y=(20, 200),
    angle=(0, 45),
    kind=(1, 2),
    quality=(60, 255),
    position=7,
    number=0,
    finger_quality=90,
    size=(512, 512),
    resolution=(197, 197),
    extended=b"",
) -> bytes:
    out = struct.pack(">BBBBHH", position, number, 0, finger_quality, 0x0006, 0x0037)
    out += struct.pack(">HHHHB", *size, *resolution, len(x))
    for i in range(len(x)):
        out += struct.pack(">HHBB", (kind[i] << 14) | x[i], y[i], angle[i], quality[i])
    return out + struct.pack(">H", len(extended)) + extended


def core_delta_block(body: bytes) -> bytes:
    return struct.pack(">HH", 2, len(body) + 4) + body


def dataset(root: Path, *parts: str) -> Path:
    path = root.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not in the shared datasets")
    return path


# ----------------------------------------------------------------------------- records


@pytest.mark.parametrize("fmt", list(RECORD_CODECS))
@pytest.mark.parametrize("ppi", [250.0, 500.0, 569.0, 1000.0])
@pytest.mark.parametrize("seed", [1, 2])
def test_record_round_trip_keeps_every_minutia(fmt, ppi, seed):
    codec, units = RECORD_CODECS[fmt]
    t = random_template(seed, ppi=ppi)
    record = codec.decode(codec.encode(t))
    assert record.format == fmt and len(record.views) == 1
    back = record.views[0].template
    assert (back.width, back.height, back.resolution) == (t.width, t.height, t.resolution)
    for name in ("x", "y", "type", "quality", "singular_x", "singular_y", "singular_type"):
        np.testing.assert_array_equal(getattr(back, name), getattr(t, name), err_msg=name)
    # half an angle unit of the format, plus the template's own 2 pi / 65536 grid
    assert angle_error(back.direction, t.direction).max() <= math.pi / units + 1e-4
    assert back.finger_position == t.finger_position
    assert back.image_quality == t.image_quality
    view = record.views[0]
    assert (view.finger_position, view.view_number, view.impression_type) == (2, 0, 0)
    assert (view.image_width, view.image_height) == (400, 560)
    assert view.x_resolution == view.y_resolution == round(ppi / 2.54)
    assert len(view.cores) + len(view.deltas) == 2 and not view.warnings


@pytest.mark.parametrize("fmt", list(RECORD_CODECS))
def test_multi_view_records_number_views_per_finger(fmt):
    codec, _ = RECORD_CODECS[fmt]
    views = [
        random_template(3, position=FingerPosition.RIGHT_INDEX),
        random_template(4, position=FingerPosition.LEFT_INDEX),
        random_template(5, position=FingerPosition.RIGHT_INDEX, count=0, singular=0),
    ]
    record = codec.decode(codec.encode(views, impression_type=1))
    assert [(v.finger_position, v.view_number, v.impression_type) for v in record.views] == [
        (2, 0, 1),
        (7, 0, 1),
        (2, 1, 1),
    ]
    assert [len(v.template) for v in record.views] == [60, 60, 0]
    np.testing.assert_array_equal(record.template(1).x, views[1].x)
    with pytest.raises(FormatError, match="view 3 requested but the record holds 3"):
        record.template(3)
    # a decoded view re-encodes with its own view number, impression and ridge counts
    again = codec.decode(codec.encode(list(record.views)))
    assert [(v.view_number, v.impression_type) for v in again.views] == [(0, 1), (0, 1), (1, 1)]


def test_ansi_records_over_64_kib_use_the_long_length_form():
    views = [
        random_template(s, count=255, singular=0, position=FingerPosition(s % 11))
        for s in range(50)
    ]
    data = ansi378_2004.encode(views)
    assert data[8:10] == b"\x00\x00" and int.from_bytes(data[10:14], "big") == len(data)
    assert len(ansi378_2004.decode(data).views) == 50
    assert minutiae.detect_format(data) == "ansi378:2004"


def test_encoders_refuse_what_the_format_cannot_hold():
    with pytest.raises(FormatError, match=r"at most 255.*keep_best"):
        iso19794_2_2005.encode(random_template(1, count=256))
    with pytest.raises(FormatError, match="one image size and resolution for all views"):
        iso19794_2_2005.encode([random_template(1), random_template(1, width=300)])
    with pytest.raises(FormatError, match="do not fit 14 bits"):
        iso19794_2_2005.encode(random_template(1, width=20000, height=10))
    with pytest.raises(FormatError, match="capture device id 5000"):
        iso19794_2_2005.encode(random_template(1), capture_device_id=5000)
    with pytest.raises(FormatError, match="nothing to write"):
        ansi378_2004.encode([])
    with pytest.raises(TypeError, match="must be a Template or FingerView"):
        ansi378_2004.encode(["not a template"])


def test_keep_best_follows_the_standard_removal_rule():
    t = random_template(7, count=100)
    kept = minutiae.keep_best(t, 40)
    assert len(kept) == 40
    chosen = {(int(x), int(y)) for x, y in zip(kept.x, kept.y, strict=True)}
    dropped_quality = [
        int(q) for x, y, q in zip(t.x, t.y, t.quality, strict=True) if (x, y) not in chosen
    ]
    assert max(dropped_quality) <= int(kept.quality.min())
    # without qualities the minutiae nearest the centre of mass stay
    flat = Template(
        width=200,
        height=200,
        resolution=500.0,
        source_resolution=500.0,
        x=[100, 101, 10, 190],
        y=[100, 99, 10, 190],
        direction=[0] * 4,
        type=[1] * 4,
        quality=[0] * 4,
        image_quality=0,
    )
    assert sorted(int(v) for v in minutiae.keep_best(flat, 2).x) == [100, 101]
    assert minutiae.keep_best(t, 500) is t


def test_resolution_reads_as_whole_ppi():
    for ppi in (250, 300, 400, 500, 569, 600, 750, 1000, 1200):
        t = random_template(1, ppi=float(ppi), count=3, singular=0)
        assert from_iso(to_iso(t)).resolution == ppi
        assert from_ansi378(to_ansi378(t)).resolution == ppi


def test_unequal_x_and_y_resolution_is_made_square():
    data = bytearray(iso19794_2_2005.encode(random_template(2, count=5, singular=0)))
    data[20:22] = (394).to_bytes(2, "big")  # y twice as fine as x (197 px/cm)
    t = iso19794_2_2005.decode(bytes(data)).views[0].template
    assert (t.width, t.height, t.resolution) == (400, 280, 500.0)


def test_overrides_map_a_stretched_record_onto_the_real_image():
    # A vendor frame of 300 x 400 made by stretching a 600 x 200 image.
    t = Template(
        width=300,
        height=400,
        resolution=500.0,
        source_resolution=500.0,
        x=[150, 299],
        y=[200, 0],
        direction=[math.pi / 4, 0.0],
        type=[1, 2],
        quality=[0, 0],
        image_quality=0,
    )
    back = from_iso(to_iso(t), resolution=569, image_size=(600, 200))
    assert (back.width, back.height, back.resolution) == (600, 200, 569.0)
    assert [int(v) for v in back.x] == [300, 598] and [int(v) for v in back.y] == [100, 0]
    # x stretched 2 and y 0.5 in the real image: 45 degrees becomes atan(0.25)
    assert angle_error(back.direction[:1], [math.atan2(0.25, 1)])[0] < 0.02
    assert angle_error(back.direction[1:], [0.0])[0] < 0.02


def test_iso_2011_representations_decode():
    ext = core_delta_block(bytes([1]) + struct.pack(">HHB", 0x4000 | 50, 60, 64) + bytes([0]))
    rep0 = iso2011_representation(extended=ext)
    rep1 = iso2011_representation(
        number=1,
        field_length=5,
        x=(5,),
        y=(6,),
        angle=(128,),
        kind=(0,),
        quality=(0,),
        qualities=(),
        resolution=(394, 394),
        width=600,
        height=800,
    )
    record = iso19794_2_2011.decode(iso2011_record(rep0, rep1))
    assert minutiae.detect_format(iso2011_record(rep0, rep1)) == "iso19794-2:2011"
    first, second = record.views
    t = first.template
    assert [int(v) for v in t.x] == [10, 200] and [int(v) for v in t.y] == [20, 300]
    # angle 0 (an ISO ending pointing +x into its ridge) is the engine's pi; 64 units = 90 deg
    assert angle_error(t.direction, [math.pi, 1.5 * math.pi]).max() < 1e-4
    assert [int(q) for q in t.quality] == [50, 0]  # 254 (not reported) reads as 0
    assert first.finger_quality == 80 and t.image_quality == 80
    assert first.cores == (minutiae.CorePoint(50, 60, 64),)
    assert [int(v) for v in t.singular_x] == [50] and t.finger_position == 2
    assert first.fields["capture_datetime"] == (2024, 5, 17, 9, 30, 0, 0)
    assert first.fields["quality_blocks"] == ((80, 0x0101, 0x0002),)
    assert second.view_number == 1 and second.template.resolution == 1000.0
    assert second.fields["minutia_field_length"] == 5 and second.finger_quality == 0
    certified = iso2011_record(
        iso2011_representation(certified=True, certificates=((0x0101, 1),)), certified=True
    )
    assert iso19794_2_2011.decode(certified).views[0].fields["certification_blocks"] == (
        (0x0101, 1),
    )
    assert from_iso(iso2011_record(rep0)).resolution == 500.0


def test_ansi_2009_views_decode():
    data = ansi2009_record(ansi2009_view(), ansi2009_view(position=2, number=0, quality=(0, 0)))
    assert minutiae.detect_format(data) == "ansi378:2009"
    record = ansi378_2009.decode(data)
    t = record.template(0)
    assert [int(v) for v in t.x] == [10, 100] and [int(q) for q in t.quality] == [60, 0]
    assert angle_error(t.direction, [math.pi, math.pi + math.radians(90)]).max() < 1e-4
    assert record.fields["cbeff_product_owner"] == 0x42
    assert record.views[0].fields["quality_algorithm_id"] == 0x37
    assert from_ansi378(data, view=1).finger_position == FingerPosition.RIGHT_INDEX


def test_template_methods_refuse_the_other_family():
    t = random_template(1, count=3)
    with pytest.raises(
        FormatError,
        match="expected ansi378:2004 or ansi378:2009 data, got a iso19794-2:2005 record",
    ):
        from_ansi378(to_iso(t))
    with pytest.raises(FormatError, match="got no finger minutiae record"):
        from_iso(t.to_bytes())


def test_detect_format_tells_iso_2005_from_ansi_2004_by_the_length_fields():
    iso = iso19794_2_2005.encode(random_template(1))
    ansi = ansi378_2004.encode(random_template(1))
    assert minutiae.detect_format(iso) == "iso19794-2:2005"
    assert minutiae.detect_format(ansi) == "ansi378:2004"
    assert minutiae.detect_format(iso + bytes(100)) == "iso19794-2:2005"  # padded buffer
    assert minutiae.detect_format(ansi + bytes(100)) == "ansi378:2004"
    assert minutiae.detect_format(b"NAFT" + bytes(40)) is None
    assert read_record(iso + bytes(7)).template().width == 400


# ----------------------------------------------------------------------------- card formats


@pytest.mark.parametrize("fmt", list(CardFormat))
@pytest.mark.parametrize("ppi", [500.0, 569.0, 1000.0])
@pytest.mark.parametrize("wrap", [True, False])
def test_card_round_trip_within_the_format_quantisation(fmt, ppi, wrap):
    limit_px = int(fmt.max_unit * fmt.unit_mm / MM_PER_INCH * ppi)  # 25.5 mm compact
    t = random_template(11, ppi=ppi, width=min(400, limit_px), height=min(560, limit_px))
    compact = fmt is CardFormat.COMPACT
    data = iso19794_2_card.encode(t, compact=compact, max_minutiae=255, wrap=wrap)
    assert len(iso19794_2_card.unwrap(data)) == len(t) * fmt.size
    for out_ppi in (500.0, ppi):
        back = iso19794_2_card.decode(data, compact=compact, resolution=out_ppi)
        assert len(back) == len(t) and back.resolution == out_ppi
        np.testing.assert_array_equal(back.type, t.type)
        # millimetres: half a card unit, plus half an output pixel
        tolerance = fmt.unit_mm / 2 + MM_PER_INCH / out_ppi / 2 + 1e-9
        for name in ("x", "y"):
            mm_in = getattr(t, name) * MM_PER_INCH / ppi
            mm_out = getattr(back, name) * MM_PER_INCH / out_ppi
            assert np.abs(mm_out - mm_in).max() <= tolerance, name
        assert angle_error(back.direction, t.direction).max() <= (math.pi / fmt.angle_units + 1e-4)
        assert not back.quality.any()


def test_card_cap_keeps_the_best_and_compact_drops_what_it_cannot_reach():
    t = random_template(12, width=500, height=500, count=120)  # all within 25.5 mm
    back = from_iso_card(to_iso_card(t, max_minutiae=40, compact=False), compact=False)
    kept = minutiae.keep_best(t, 40)
    assert len(back) == 40
    # the same minutiae, in the same order, to within the 0.01 mm unit and a pixel
    assert np.abs(back.x.astype(int) - kept.x).max() <= 1
    assert np.abs(back.y.astype(int) - kept.y).max() <= 1
    # compact reaches 25.5 mm = 502 px at 500 ppi; normal reaches 163.8 mm
    far = Template(
        width=700,
        height=700,
        resolution=500.0,
        source_resolution=500.0,
        x=[10, 600],
        y=[10, 20],
        direction=[0, 0],
        type=[1, 1],
        quality=[50, 90],
        image_quality=0,
    )
    assert len(from_iso_card(to_iso_card(far))) == 1
    assert len(from_iso_card(to_iso_card(far, compact=False), compact=False)) == 2


@pytest.mark.parametrize(
    ("method", "key"),
    [
        (ORDER_XY, lambda x, y, a: list(zip(x, y, strict=True))),
        (ORDER_YX, lambda x, y, a: list(zip(y, x, strict=True))),
        (ORDER_ANGLE, lambda x, y, a: list(zip(a, x, y, strict=True))),
        (
            ORDER_POLAR,
            lambda x, y, a: list(np.hypot(np.subtract(x, np.mean(x)), np.subtract(y, np.mean(y)))),
        ),
    ],
)
@pytest.mark.parametrize("direction", [ORDER_ASCENDING, ORDER_DESCENDING])
def test_card_sort_orders(method, key, direction):
    t = random_template(13, width=300, height=400, count=50)
    raw = iso19794_2_card.encode(t, order=method | direction, wrap=False)
    x, y, ta = raw[0::3], raw[1::3], raw[2::3]
    keys = key(list(x), list(y), [v & 0x3F for v in ta])
    expected = sorted(keys, reverse=direction == ORDER_DESCENDING)
    assert keys == expected


def test_card_data_objects():
    t = random_template(14, width=300, height=400, count=10)
    for tag in (0x81, 0x90):
        data = iso19794_2_card.encode(t, data_tag=tag)
        assert data[:2] == b"\x7f\x2e" and data[3] == tag
        assert len(from_iso_card(data)) == 10
    # other objects inside 7F2E (ridge counts, 91) are skipped
    inner = bytes([0x91, 0x01, 0x00, 0x81, 0x03, 10, 20, 0x40])
    assert len(iso19794_2_card.decode(bytes([0x7F, 0x2E, len(inner)]) + inner)) == 1
    with pytest.raises(FormatError, match="holds 0 finger minutiae data objects"):
        iso19794_2_card.decode(bytes([0x7F, 0x2E, 3, 0x91, 1, 0]))
    with pytest.raises(FormatError, match=r"minutia 0 at .* outside image_size 10 x 10"):
        iso19794_2_card.decode(bytes([100, 100, 0x40]), image_size=(10, 10))


@pytest.mark.parametrize("position", list(FingerPosition))
def test_bit_round_trip(position):
    for fmt, order, features in (
        (CardFormat.COMPACT, 0, None),
        (CardFormat.NORMAL, ORDER_ASCENDING | ORDER_POLAR, 0x07),
    ):
        bit = BiometricInformationTemplate(
            card_format=fmt,
            finger_position=position,
            min_minutiae=16,
            max_minutiae=83,
            order=order,
            feature_handling=features,
        )
        assert iso19794_2_card.decode_bit(bit.to_bytes()) == bit
    group = b"\x7f\x61" + bytes([3 + 2 * len(bit.to_bytes()), 0x02, 0x01, 0x02])
    group += bit.to_bytes() * 2
    assert iso19794_2_card.decode_bit_group(group) == (bit, bit)


def test_bit_subtypes_are_those_of_iso_7816_11():
    def subtype(position):
        data = BiometricInformationTemplate(finger_position=position).to_bytes()
        return data[data.index(b"\x82\x01") + 2]

    assert subtype(FingerPosition.RIGHT_THUMB) == 0x05
    assert subtype(FingerPosition.RIGHT_INDEX) == 0x09
    assert subtype(FingerPosition.LEFT_INDEX) == 0x0A
    assert subtype(FingerPosition.LEFT_LITTLE) == 0x16
    assert subtype(FingerPosition.UNKNOWN) == 0x00


def test_bit_rejects_bad_fields():
    good = BiometricInformationTemplate().to_bytes()
    with pytest.raises(FormatError, match="expected exactly one 7F60"):
        iso19794_2_card.decode_bit(good + good)
    with pytest.raises(FormatError, match="min minutiae 70 exceeds max minutiae 60"):
        iso19794_2_card.decode_bit(good.replace(b"\x81\x02\x0c\x3c", b"\x81\x02\x46\x3c"))
    with pytest.raises(FormatError, match="order 0x03 is not a defined order"):
        iso19794_2_card.decode_bit(good.replace(b"\x82\x01\x00", b"\x82\x01\x03"))
    with pytest.raises(FormatError, match="biometric type 0x02"):
        iso19794_2_card.decode_bit(good.replace(b"\x81\x01\x08", b"\x81\x01\x02"))
    with pytest.raises(ValueError, match="min_minutiae 9 exceeds max_minutiae 8"):
        BiometricInformationTemplate(min_minutiae=9, max_minutiae=8)
    with pytest.raises(ValueError, match="a sort key needs a direction"):
        BiometricInformationTemplate(order=ORDER_XY)


# ----------------------------------------------------------------------------- datasets


def test_nist_iso_2005_sample(datasets_root):
    data = dataset(datasets_root, "nist_libbiomeval_testdata", "fmr.iso2005").read_bytes()
    # Its core/delta block declares 42 bytes where the record has 41 (NIST's sample is off by
    # one): strict reading refuses, lenient reading recovers the block.
    with pytest.raises(FormatError, match=r"view 1: extended data length 42 runs past the 41"):
        iso19794_2_2005.decode(data)
    record = iso19794_2_2005.decode(data, strict=False)
    assert [(v.finger_position, len(v.template), v.finger_quality) for v in record.views] == [
        (7, 27, 90),
        (2, 22, 70),
    ]
    view = record.views[1]
    assert len(view.cores) == 2 and len(view.deltas) == 4 and len(view.warnings) == 2
    assert view.cores[0] == minutiae.CorePoint(150, 250, 90)
    assert view.deltas[1].angles is None and view.deltas[0].angles == (100, 110, 120)
    assert len(view.template.singular_x) == 6
    assert record.views[0].template.width == 512 and record.views[0].template.resolution == 500


def test_nist_samples_agree_across_iso_and_ansi(datasets_root):
    folder = dataset(datasets_root, "nist_libbiomeval_testdata")
    iso = iso19794_2_2005.decode((folder / "fmr.iso2005").read_bytes(), strict=False)
    a04 = ansi378_2004.decode((folder / "fmr.ansi2004").read_bytes(), strict=False)
    a09 = ansi378_2009.decode((folder / "fmr.ansi2007").read_bytes())  # strict: consistent
    for view in range(2):
        ref = iso.template(view)
        for other in (a04.template(view), a09.template(view)):
            np.testing.assert_array_equal(other.x, ref.x)
            np.testing.assert_array_equal(other.y, ref.y)
            np.testing.assert_array_equal(other.type, ref.type)
            # same angles within the coarser (2-degree) unit and the 1.4-degree ISO unit
            assert angle_error(other.direction, ref.direction).max() <= math.radians(2.1)
    assert a04.fields["cbeff_product_owner"] == 0x42 and len(a04.views) == 3
    assert a04.views[2].ridge_count_method == 2 and len(a04.views[2].ridge_counts) == 224
    assert a04.views[1].ridge_count_method == 1
    assert a04.views[1].ridge_counts == (
        minutiae.RidgeCount(1, 20, 12),
        minutiae.RidgeCount(5, 7, 5),
    )
    # its core/delta block is two bytes short of its content: strict refuses
    with pytest.raises(FormatError, match="view 2 extended data block 1 delta 3 angle"):
        ansi378_2004.decode((folder / "fmr.ansi2004").read_bytes())
    assert any("2 bytes left after the last finger view" in w for w in a04.warnings)
    assert [v.fields["quality_algorithm_vendor_id"] for v in a09.views] == [6, 66]


def test_sourceafis_iso_templates(datasets_root):
    folder = dataset(datasets_root, "sourceafis_java_testresources")
    expected = {
        "iso-probe.dat": (38, 224, 288),
        "iso-matching.dat": (38, 224, 288),
        "iso-nonmatching.dat": (39, 208, 320),
    }
    for name, (count, width, height) in expected.items():
        data = (folder / name).read_bytes()
        assert len(data) == 384  # a zero-padded buffer: the record is shorter
        record = read_record(data)
        assert record.format == "iso19794-2:2005" and len(record.views) == 1
        view = record.views[0]
        t = view.template
        assert (len(t), t.width, t.height, t.resolution) == (count, width, height, 500.0)
        assert view.finger_quality == 100 and set(np.unique(t.type)) <= {1, 2}
        assert [b.type_id for b in view.extended_blocks] == [0x0144]  # vendor block, kept


def test_every_secugen_record_parses(datasets_root, fvc_manifest):
    root = dataset(datasets_root, "fvc2002_iso19794-2_secugen")
    total = 0
    for db in ("DB1_B", "DB2_B", "DB3_B", "DB4_B"):
        meta = fvc_manifest["sets"][f"fvc2002/{db}"]
        files = sorted((root / db).glob("*.iso"))
        assert len(files) == 80
        for path in files:
            data = path.read_bytes()
            record = iso19794_2_2005.decode(data)
            assert record.fields["width"] == 300 and record.fields["height"] == 400
            assert record.fields["x_resolution"] == 197 and len(record.views) == 1
            t = record.views[0].template
            assert 10 <= len(t) <= 80 and set(np.unique(t.type)) <= {1, 2}
            real = from_iso(data, resolution=meta["dpi"], image_size=meta["size"])
            assert (real.width, real.height) == tuple(meta["size"])
            assert real.resolution == meta["dpi"] and len(real) == len(t)
            total += 1
    assert total == 320


@pytest.mark.parametrize("db", ["DB1_B", "DB2_B", "DB3_B", "DB4_B"])
def test_secugen_minutiae_land_on_ours(datasets_root, fvc_manifest, db):
    """Another vendor's minutiae, read with the right resolution and image size, fall on the
    engine's own minutiae of the same image with the same direction: not turned by 180
    degrees (the records' angle convention is converted), not mirrored (positions match)."""
    meta = fvc_manifest["sets"][f"fvc2002/{db}"]
    paired = near_180 = near_0 = theirs_total = 0
    for name in ("101_1", "103_2", "106_5"):
        image = dataset(datasets_root, "fvc2002", db, f"{name}.tif")
        ours = afis.extract(afis.load_image(image, dpi=meta["dpi"]))
        data = dataset(datasets_root, "fvc2002_iso19794-2_secugen", db, f"{name}.iso").read_bytes()
        theirs = from_iso(data, resolution=meta["dpi"], image_size=meta["size"])
        # both in millimetres (ours is on the 500 ppi grid, theirs at the set's dpi)
        o = np.stack([ours.x, ours.y], 1) * (MM_PER_INCH / ours.resolution)
        t = np.stack([theirs.x, theirs.y], 1) * (MM_PER_INCH / theirs.resolution)
        distance = np.hypot(*(o[:, None, :] - t[None, :, :]).transpose(2, 0, 1))
        nearest = distance.argmin(0)
        close = distance.min(0) < 0.3  # mm, about 6 pixels at 500 ppi
        d = angle_error(ours.direction[nearest[close]], theirs.direction[close])
        paired += int(close.sum())
        near_0 += int((d < math.radians(30)).sum())
        near_180 += int((d > math.radians(150)).sum())
        theirs_total += len(theirs)
    assert paired >= 0.5 * theirs_total, (paired, theirs_total)
    assert near_0 >= 0.85 * paired, (near_0, paired)
    assert near_180 <= 0.05 * paired, (near_180, paired)


# ----------------------------------------------------------------------------- hostile bytes


def secugen_like_record() -> bytes:
    """An ISO 2005 record with every part: two views, ridge counts, core/delta, a vendor
    block (made here so that the hostile-bytes tests need no datasets)."""
    t = random_template(21, count=12, singular=2)
    view = minutiae.FingerView(
        template=t,
        finger_position=2,
        view_number=0,
        impression_type=0,
        finger_quality=70,
        ridge_count_method=1,
        ridge_counts=(minutiae.RidgeCount(1, 2, 3),),
    )
    return iso19794_2_2005.encode([view, random_template(22, count=8, singular=0)])


SAMPLES = {
    "iso19794-2:2005": lambda: secugen_like_record(),
    "ansi378:2004": lambda: ansi378_2004.encode(
        [random_template(23, count=9), random_template(24, count=4)]
    ),
    "iso19794-2:2011": lambda: iso2011_record(
        iso2011_representation(extended=core_delta_block(bytes([0, 0]))),
        iso2011_representation(number=1),
    ),
    "ansi378:2009": lambda: ansi2009_record(ansi2009_view(), ansi2009_view(position=2)),
}
DECODE = {
    "iso19794-2:2005": iso19794_2_2005.decode,
    "ansi378:2004": ansi378_2004.decode,
    "iso19794-2:2011": iso19794_2_2011.decode,
    "ansi378:2009": ansi378_2009.decode,
}
NAMES = {
    "iso19794-2:2005": "ISO/IEC 19794-2:2005 record",
    "ansi378:2004": "ANSI INCITS 378-2004 record",
    "iso19794-2:2011": "ISO/IEC 19794-2:2011 record",
    "ansi378:2009": "ANSI INCITS 378-2009 record",
}


@pytest.mark.parametrize("fmt", list(SAMPLES))
def test_truncation_at_every_offset_is_a_format_error(fmt):
    data = SAMPLES[fmt]()
    assert len(DECODE[fmt](data).views) == 2
    for end in range(len(data)):
        with pytest.raises(FormatError, match=NAMES[fmt]):
            DECODE[fmt](data[:end])


@pytest.mark.parametrize("fmt", list(SAMPLES))
def test_wrong_magic_version_and_types(fmt):
    data = SAMPLES[fmt]()
    with pytest.raises(FormatError, match=r"format identifier \(offset 0\): b'FMX\\x00'"):
        DECODE[fmt](b"FMX" + data[3:])
    with pytest.raises(FormatError, match=r"version \(offset 4\): b' 21\\x00'"):
        DECODE[fmt](data[:4] + b" 21\x00" + data[8:])
    for wrong in (None, "FMR", 12, 3.5, [1, 2]):
        with pytest.raises(FormatError, match="expected a bytes-like object"):
            DECODE[fmt](wrong)


def test_lying_lengths_and_counts_iso_2005():
    data = bytearray(secugen_like_record())
    n = len(data)

    def with_u(offset: int, size: int, value: int) -> bytes:
        out = bytearray(data)
        out[offset : offset + size] = value.to_bytes(size, "big")
        return bytes(out)

    cases = {
        "record length (offset 8): 23 (expected at least 24": with_u(8, 4, 23),
        f"record length: {n + 1} bytes declared but only {n} given": with_u(8, 4, n + 1),
        "number of finger views (offset 22): 200 declared": with_u(22, 1, 200),
        "view 0 minutiae (200 declared)": with_u(27, 1, 200),
        "1 bytes left after the last finger view": with_u(8, 4, n + 1) + b"\x07",
    }
    for message, bad in cases.items():
        with pytest.raises(FormatError, match=re.escape(message)):
            iso19794_2_2005.decode(bad)
    # a record length that stops early: the rest reads as junk after the record, and even
    # when junk is tolerated the last view is cut short
    with pytest.raises(FormatError, match="3 bytes after the record's declared length"):
        iso19794_2_2005.decode(with_u(8, 4, n - 3))
    with pytest.raises(FormatError, match="ISO/IEC 19794-2:2005 record: view 1"):
        iso19794_2_2005.decode(with_u(8, 4, n - 3), strict=False)
    # extended data length of view 0 (after 12 minutiae) pointing past the record
    ext = 24 + 4 + 12 * 6
    with pytest.raises(FormatError, match="view 0: extended data length 60000 runs past"):
        iso19794_2_2005.decode(with_u(ext, 2, 60000))
    # a block length inside the extended data that lies
    with pytest.raises(FormatError, match=r"extended data block 0: length 3 \(expected at least"):
        iso19794_2_2005.decode(with_u(ext + 4, 2, 3))
    # junk after the record (zero padding is fine)
    assert iso19794_2_2005.decode(bytes(data) + bytes(9)).views
    with pytest.raises(FormatError, match="3 bytes after the record's declared length"):
        iso19794_2_2005.decode(bytes(data) + b"abc")
    assert iso19794_2_2005.decode(bytes(data) + b"abc", strict=False).warnings


def test_out_of_range_fields_name_the_minutia():
    t = Template(
        width=100,
        height=100,
        resolution=500.0,
        source_resolution=500.0,
        x=[10, 20],
        y=[30, 40],
        direction=[0, 0],
        type=[1, 2],
        quality=[5, 6],
        image_quality=0,
    )
    data = bytearray(iso19794_2_2005.encode(t))
    first = 28  # first minutia
    cases = [
        (first, (0xC000 | 10).to_bytes(2, "big"), "view 0 minutia 0: type 3 .expected 0"),
        (
            first + 6,
            (150).to_bytes(2, "big"),
            "view 0 minutia 1: x coordinate 150 .expected 0..99, the image width is 100",
        ),
        (first + 8, (100).to_bytes(2, "big"), "minutia 1: y coordinate 100"),
        (first + 5, bytes([101]), "view 0 minutia 0: quality 101 .expected 0..100"),
        (24, bytes([15]), r"view 0 finger position \(offset 24\): 15 .expected 0..14"),
        (26, bytes([101]), "view 0 finger quality .offset 26.: 101"),
        (14, (0).to_bytes(2, "big"), "view 0: image size 0 x 100"),
        (18, (0).to_bytes(2, "big"), "resolution 0 x 197 px/cm .expected positive"),
    ]
    for offset, value, message in cases:
        bad = bytearray(data)
        bad[offset : offset + len(value)] = value
        with pytest.raises(FormatError, match=message):
            iso19794_2_2005.decode(bytes(bad))
    ansi = bytearray(ansi378_2004.encode(t))
    ansi[30 + 4] = 180  # angle of minutia 0, 2-degree units go to 179
    with pytest.raises(FormatError, match=r"minutia 0: angle 180 .expected 0..179"):
        ansi378_2004.decode(bytes(ansi))


def test_edition_specific_hostile_fields():
    rep = iso2011_representation()
    with pytest.raises(FormatError, match=r"minutia field length .offset 50.: 7 .expected 5 or 6"):
        iso19794_2_2011.decode(iso2011_record(iso2011_representation(field_length=7)))
    with pytest.raises(FormatError, match=r"certification flag .offset 14.: 2"):
        iso19794_2_2011.decode(iso2011_record(rep)[:14] + b"\x02" + rep)
    huge = bytearray(iso2011_record(rep))
    huge[12:14] = b"\xff\xff"
    with pytest.raises(FormatError, match=r"number of finger representations .* 65535 declared"):
        iso19794_2_2011.decode(bytes(huge))
    short = bytearray(iso2011_record(rep))
    short[15:19] = (10).to_bytes(4, "big")
    with pytest.raises(FormatError, match=r"representation 0 length .offset 15.: 10"):
        iso19794_2_2011.decode(bytes(short))
    with pytest.raises(FormatError, match=r"finger quality .offset 23.: 200"):
        ansi378_2009.decode(ansi2009_record(ansi2009_view(finger_quality=200)))
    padded = iso2011_representation(extended=b"") + b"\x00"  # a byte after the extended data
    padded = (len(padded)).to_bytes(4, "big") + padded[4:]
    with pytest.raises(FormatError, match="representation 0: 1 bytes left after its extended"):
        iso19794_2_2011.decode(iso2011_record(padded))


def test_core_delta_outside_the_image_and_stray_bytes():
    t = Template(
        width=100,
        height=100,
        resolution=500.0,
        source_resolution=500.0,
        x=[1],
        y=[1],
        direction=[0],
        type=[1],
        quality=[0],
        image_quality=0,
    )
    base = iso19794_2_2005.encode(t)[:-2]  # drop the empty extended data length

    def with_ext(ext: bytes) -> bytes:
        body = base + len(ext).to_bytes(2, "big") + ext
        return body[:8] + len(body).to_bytes(4, "big") + body[12:]

    outside = core_delta_block(bytes([1]) + struct.pack(">HH", 500, 5) + bytes([0]))
    with pytest.raises(FormatError, match=r"core 0 .* position \(500, 5\) outside the 100 x 100"):
        iso19794_2_2005.decode(with_ext(outside))
    lenient = iso19794_2_2005.decode(with_ext(outside), strict=False)
    assert "the block is skipped" in lenient.views[0].warnings[0]
    stray = core_delta_block(bytes([0, 0, 9]))
    with pytest.raises(FormatError, match="1 bytes after the last delta"):
        iso19794_2_2005.decode(with_ext(stray))
    ridge = struct.pack(">HH", 1, 9) + bytes([0, 1, 2, 3, 4])  # 4 bytes, not triplets
    with pytest.raises(FormatError, match=r"ridge counts .*4 bytes .expected 3 bytes per"):
        iso19794_2_2005.decode(with_ext(ridge))


@pytest.mark.parametrize("compact", [True, False])
def test_card_hostile_bytes(compact):
    data = iso19794_2_card.encode(
        random_template(31, width=300, height=400, count=20), compact=compact
    )
    assert len(iso19794_2_card.decode(b"", compact=compact)) == 0  # no minutiae: valid
    for end in range(1, len(data)):
        with pytest.raises(FormatError, match="ISO/IEC 19794-2 card data"):
            iso19794_2_card.decode(data[:end], compact=compact)
    size = 3 if compact else 5
    with pytest.raises(FormatError, match=f"expected a multiple of {size}"):
        iso19794_2_card.decode(bytes(size + 1), compact=compact)
    with pytest.raises(FormatError, match=r"256 minutiae .expected at most 255"):
        iso19794_2_card.decode(bytes(256 * size), compact=compact)
    bad_type = bytes([1, 1, 0xC0]) if compact else bytes([0xC0, 1, 0, 1, 0])
    with pytest.raises(FormatError, match="minutia 0: type 3"):
        iso19794_2_card.decode(bad_type, compact=compact)
    with pytest.raises(FormatError, match="length form 0x84"):
        iso19794_2_card.decode(b"\x7f\x2e\x84\x00\x00\x00\x03", compact=compact)
    with pytest.raises(FormatError, match="expected a bytes-like object, got str"):
        iso19794_2_card.decode("7f2e", compact=compact)
    if not compact:
        with pytest.raises(FormatError, match="minutia 0: reserved bits 1"):
            iso19794_2_card.decode(bytes([0x40, 1, 0x40, 1, 0]), compact=False)


# ----------------------------------------------------------------------------- fuzzing


def fuzz_seeds() -> dict[str, list[bytes]]:
    cards = [random_template(s, width=300, height=400, count=c) for s, c in ((41, 20), (42, 3))]
    bit = BiometricInformationTemplate(order=ORDER_ASCENDING | ORDER_XY, feature_handling=1)
    records = [f() for f in SAMPLES.values()]
    return {
        "iso19794_2_2005": [SAMPLES["iso19794-2:2005"]()],
        "iso19794_2_2011": [SAMPLES["iso19794-2:2011"]()],
        "ansi378_2004": [SAMPLES["ansi378:2004"]()],
        "ansi378_2009": [SAMPLES["ansi378:2009"]()],
        "minutiae_record": records,
        "iso19794_2_card_compact": [to_iso_card(c) for c in cards],
        "iso19794_2_card_normal": [to_iso_card(c, compact=False) for c in cards],
        "iso7816_11_bit": [bit.to_bytes()],
        "iso7816_11_bit_group": [
            b"\x7f\x61" + bytes([3 + len(bit.to_bytes()), 2, 1, 1]) + bit.to_bytes()
        ],
    }


def test_every_minutiae_decoder_is_registered_for_fuzzing():
    for name in fuzz_seeds():
        assert name in DECODERS


@pytest.mark.parametrize("name", list(fuzz_seeds()))
def test_bounded_fuzz(name):
    seeds = fuzz_seeds()[name]
    start = time.perf_counter()
    report = fuzz(name, seeds, 3000, seed=7, slow_ms=250.0)
    assert report.ok(), (report.summary(), report.failures[:3], [ms for _, ms in report.slow[:3]])
    assert report.rejected > 0 and time.perf_counter() - start < 20.0


# ----------------------------------------------------------------------------- CLI


def test_cli_convert_between_all_formats(tmp_path, capsys):
    t = random_template(51, width=300, height=400, count=30, singular=1)
    src = tmp_path / "t.aft"
    src.write_bytes(t.to_bytes())
    outputs = {}
    for fmt in ("nusafis", "iso2005", "ansi378", "iso-card-compact", "iso-card-normal"):
        out = tmp_path / f"t.{fmt}"
        assert cli_main(["convert", str(src), str(out), "--to", fmt]) == 0
        outputs[fmt] = out
    assert Template.from_bytes(outputs["nusafis"].read_bytes()) == t
    for fmt in ("iso2005", "ansi378", "iso-card-compact", "iso-card-normal"):
        back = tmp_path / f"back.{fmt}.aft"
        assert cli_main(["convert", str(outputs[fmt]), str(back), "--to", "nusafis"]) == 0
        b = Template.from_bytes(back.read_bytes())
        assert len(b) == 30
        if fmt in ("iso2005", "ansi378"):
            np.testing.assert_array_equal(b.x, t.x)
    capped = tmp_path / "capped.cc"
    assert (
        cli_main(
            [
                "convert",
                str(src),
                str(capped),
                "--to",
                "iso-card-compact",
                "--max-minutiae",
                "12",
                "--order",
                "yx-asc",
            ]
        )
        == 0
    )
    assert len(iso19794_2_card.unwrap(capped.read_bytes())) == 36
    assert "iso-card-compact" in capsys.readouterr().out


def test_cli_convert_image_and_errors(tmp_path, synthetic, capsys):
    pixels, _ = synthetic.fingerprint(seed=3)
    image = tmp_path / "print.png"
    Image.fromarray(pixels).save(image)
    out = tmp_path / "print.iso"
    assert cli_main(["convert", str(image), str(out), "--to", "iso2005", "--dpi", "500"]) == 0
    assert minutiae.detect_format(out.read_bytes()) == "iso19794-2:2005"
    bad = tmp_path / "bad.iso"
    bad.write_bytes(out.read_bytes()[:30])
    assert cli_main(["convert", str(bad), str(tmp_path / "x"), "--to", "nusafis"]) == 2
    assert "ISO/IEC 19794-2:2005 record" in capsys.readouterr().err
    assert (
        cli_main(["convert", str(tmp_path / "missing"), str(tmp_path / "x"), "--to", "nusafis"])
        == 2
    )


def test_fuzz_command_retimes_slow_inputs(tmp_path, capsys):
    from afis._fuzz import main as fuzz_main

    seed = tmp_path / "seed.bin"
    seed.write_bytes(b"FMR\0 20\0" + bytes(40))
    slow_decoder = "time:sleep"  # sleep(bytes) raises TypeError: a failure, not slow
    assert fuzz_main([slow_decoder, str(seed), "--count", "5"]) == 1
    # these decode in well under the default 100 ms: nothing to re-time
    assert fuzz_main(["iso19794_2_2005", str(seed), "--count", "50", "--retime", "2"]) == 0
    # a limit of 0 ms makes every input slow; re-timed, they are still over it
    assert (
        fuzz_main(["iso19794_2_2005", str(seed), "--count", "5", "--slow-ms", "0", "--retime", "2"])
        == 1
    )
    out = capsys.readouterr().out
    assert "re-timed 5 slow inputs (best of 2): 5 still over 0 ms" in out
    with pytest.raises(SystemExit):
        fuzz_main(["iso19794_2_2005", str(seed), "--retime", "-1"])
    assert "--retime must be 0 or more" in capsys.readouterr().err
