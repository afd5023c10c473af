"""Tests of afis.template: the Template type and its binary format."""

from __future__ import annotations

import dataclasses
import doctest
import math
import struct
import zlib

import numpy as np
import pytest

import afis.template as template_module
from afis.errors import AfisError, TemplateError
from afis.template import (
    TEMPLATE_FORMAT_VERSION,
    FingerPosition,
    MinutiaType,
    SingularType,
    Template,
)

HEADER_SIZE = 28
# byte offsets of header fields
OFF_VERSION = 4
OFF_HEADER_LEN = 6
OFF_WIDTH = 8
OFF_HEIGHT = 10
OFF_RESOLUTION = 12
OFF_SOURCE_RESOLUTION = 16
OFF_IMAGE_QUALITY = 20
OFF_FINGER = 21
OFF_N = 22
OFF_M = 24
OFF_RESERVED = 25


def random_template(rng: np.random.Generator, n: int, m: int = 0, **overrides) -> Template:
    width = int(rng.integers(1, 1000))
    height = int(rng.integers(1, 1000))
    kwargs = dict(
        width=width,
        height=height,
        resolution=500.0,
        source_resolution=float(rng.choice([500.0, 569.0, 1000.0, 250.0])),
        x=rng.integers(0, width, n),
        y=rng.integers(0, height, n),
        direction=rng.uniform(0.0, 2.0 * np.pi, n),
        type=rng.integers(0, 3, n),
        quality=rng.integers(0, 101, n),
        image_quality=int(rng.integers(0, 101)),
        finger_position=FingerPosition(int(rng.integers(0, 11))),
        singular_x=rng.integers(0, width, m),
        singular_y=rng.integers(0, height, m),
        singular_type=rng.integers(1, 3, m),
    )
    kwargs.update(overrides)
    return Template(**kwargs)


def two_minutiae(**overrides) -> Template:
    kwargs = dict(
        width=388,
        height=374,
        resolution=500.0,
        source_resolution=569.0,
        x=[10, 200],
        y=[20, 300],
        direction=[0.25, 4.0],
        type=[MinutiaType.ENDING, MinutiaType.BIFURCATION],
        quality=[80, 55],
        image_quality=71,
    )
    kwargs.update(overrides)
    return Template(**kwargs)


def with_crc(body: bytes | bytearray) -> bytes:
    """Replace the last 4 bytes of a buffer by the CRC-32 of everything before them."""
    body = bytes(body[:-4])
    return body + struct.pack("<I", zlib.crc32(body))


def patched(data: bytes, offset: int, fmt: str, value) -> bytes:
    """Overwrite a header field and fix the CRC so only the field's own check can fire."""
    buf = bytearray(data)
    struct.pack_into(fmt, buf, offset, value)
    return with_crc(buf)


@pytest.fixture
def ten() -> Template:
    return random_template(np.random.default_rng(1234), 10, 2)


# ------------------------------------------------------------------------ round trips


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("n", [0, 1, 10, 100, 1000])
def test_round_trip_is_exact(seed, n):
    rng = np.random.default_rng(seed)
    t = random_template(rng, n, int(rng.integers(0, 5)))
    data = t.to_bytes()
    back = Template.from_bytes(data)
    assert back == t
    assert back.to_bytes() == data
    for name in ("x", "y", "direction", "type", "quality"):
        assert np.array_equal(getattr(back, name), getattr(t, name))
        assert getattr(back, name).dtype == getattr(t, name).dtype


def test_round_trip_of_maximum_size_template():
    rng = np.random.default_rng(65535)
    t = random_template(rng, 65535, 255)
    data = t.to_bytes()
    assert len(data) == HEADER_SIZE + 8 * 65535 + 5 * 255 + 4
    assert Template.from_bytes(data) == t


def test_round_trip_preserves_metadata_and_singular_points():
    t = two_minutiae(
        finger_position=FingerPosition.LEFT_RING,
        singular_x=[100, 150],
        singular_y=[120, 40],
        singular_type=[SingularType.CORE, SingularType.DELTA],
    )
    back = Template.from_bytes(t.to_bytes())
    assert back.finger_position is FingerPosition.LEFT_RING
    assert back.width == 388 and back.height == 374
    assert back.resolution == 500.0 and back.source_resolution == 569.0
    assert back.image_quality == 71
    assert back.singular_x.tolist() == [100, 150]
    assert back.singular_y.tolist() == [120, 40]
    assert back.singular_type.tolist() == [1, 2]
    assert back == t


def test_empty_template_round_trips():
    t = Template.empty(300, 400, image_quality=5)
    assert len(t) == 0
    assert t.resolution == t.source_resolution == 500.0
    data = t.to_bytes()
    assert len(data) == HEADER_SIZE + 4
    back = Template.from_bytes(data)
    assert back == t
    assert len(back) == 0 and back.x.dtype == np.uint16 and back.direction.dtype == np.float32


def test_empty_accepts_source_resolution_and_finger_position():
    t = Template.empty(10, 20, 1000.0, 569.0, 3, FingerPosition.RIGHT_THUMB)
    assert (t.width, t.height, t.resolution, t.source_resolution) == (10, 20, 1000.0, 569.0)
    assert t.image_quality == 3 and t.finger_position is FingerPosition.RIGHT_THUMB


@pytest.mark.parametrize("ppi", [500.0, 569.0, 1000, 1, 250, 19.69, 65535.0, 1_000_000])
def test_resolution_round_trips_exactly(ppi):
    t = two_minutiae(resolution=ppi, source_resolution=ppi)
    back = Template.from_bytes(t.to_bytes())
    assert back.resolution == t.resolution == float(ppi)
    assert back.source_resolution == float(ppi)


def test_resolution_is_quantised_to_hundredths_of_a_ppi():
    t = two_minutiae(resolution=500.004, source_resolution=568.996)
    assert t.resolution == 500.0 and t.source_resolution == 569.0
    assert Template.from_bytes(t.to_bytes()) == t


def test_from_bytes_accepts_other_bytes_like_objects(ten):
    data = ten.to_bytes()
    assert Template.from_bytes(bytearray(data)) == ten
    assert Template.from_bytes(memoryview(data)) == ten
    assert Template.from_bytes(np.frombuffer(data, dtype=np.uint8)) == ten
    # a non-contiguous view
    spread = np.zeros(2 * len(data), dtype=np.uint8)
    spread[::2] = np.frombuffer(data, dtype=np.uint8)
    assert Template.from_bytes(memoryview(spread[::2])) == ten
    # a slice of a larger buffer
    assert Template.from_bytes(memoryview(b"xx" + data + b"yy")[2:-2]) == ten


def test_parsed_template_does_not_alias_the_input_buffer(ten):
    buf = bytearray(ten.to_bytes())
    back = Template.from_bytes(buf)
    buf[HEADER_SIZE : HEADER_SIZE + 8] = bytes(8)
    buf.extend(b"more")  # would fail if a view were still exported
    assert back == ten


# -------------------------------------------------------------- directions & determinism


def test_direction_is_quantised_to_the_stored_grid():
    rng = np.random.default_rng(7)
    d = rng.uniform(0.0, 2.0 * np.pi, 1000)
    t = random_template(rng, 1000, direction=d)
    k = np.round(d * 65536 / (2 * np.pi)).astype(np.int64) % 65536
    expected = (k * (2 * np.pi / 65536)).astype(np.float32)
    assert t.direction.dtype == np.float32
    assert np.array_equal(t.direction, expected)
    assert np.max(np.abs(t.direction.astype(np.float64) - d) % (2 * np.pi)) <= np.pi / 65536 + 1e-6


def test_direction_quantisation_is_idempotent():
    rng = np.random.default_rng(8)
    t = random_template(rng, 5000)
    again = dataclasses.replace(t, direction=t.direction)
    assert np.array_equal(again.direction, t.direction)
    again64 = dataclasses.replace(t, direction=t.direction.astype(np.float64))
    assert np.array_equal(again64.direction, t.direction)
    # every grid point maps onto itself
    k = np.arange(65536)
    grid = (k * (2 * np.pi / 65536)).astype(np.float32)
    t_all = Template(
        width=1,
        height=1,
        resolution=500.0,
        source_resolution=500.0,
        x=np.zeros(65535, np.uint16),
        y=np.zeros(65535, np.uint16),
        direction=grid[1:],
        type=np.ones(65535, np.uint8),
        quality=np.zeros(65535, np.uint8),
        image_quality=0,
    )
    assert np.array_equal(t_all.direction, grid[1:])
    assert Template.from_bytes(t_all.to_bytes()) == t_all


def test_direction_wraps_into_zero_to_two_pi():
    t = two_minutiae(direction=[-np.pi / 2, 2 * np.pi])
    assert t.direction[0] == np.float32(3 * np.pi / 2)
    assert t.direction[1] == 0.0
    t2 = two_minutiae(direction=[2 * np.pi - 1e-9, 1e6])
    assert np.all((t2.direction >= 0) & (t2.direction < 2 * np.pi))
    assert t2.direction[0] == 0.0


def test_bytes_are_deterministic():
    a = random_template(np.random.default_rng(42), 50, 3)
    b = random_template(np.random.default_rng(42), 50, 3)
    assert a is not b and a == b
    assert a.to_bytes() == b.to_bytes() == a.to_bytes()
    assert Template.from_bytes(a.to_bytes()).to_bytes() == a.to_bytes()


def test_byte_layout_matches_the_documented_format():
    t = two_minutiae(
        finger_position=FingerPosition.RIGHT_INDEX,
        singular_x=[7],
        singular_y=[9],
        singular_type=[SingularType.DELTA],
    )
    data = t.to_bytes()
    assert len(data) == HEADER_SIZE + 2 * 8 + 5 + 4
    assert data[:4] == b"NAFT"
    fields = struct.unpack_from("<HHHHIIBBHB3s", data, 4)
    assert fields == (TEMPLATE_FORMAT_VERSION, 28, 388, 374, 50000, 56900, 71, 2, 2, 1, bytes(3))
    x, y, d, ty, q = struct.unpack_from("<HHHBB", data, HEADER_SIZE + 8)
    assert (x, y, ty, q) == (200, 300, 2, 55)
    assert d == round(4.0 * 65536 / (2 * math.pi))
    assert struct.unpack_from("<HHB", data, HEADER_SIZE + 16) == (7, 9, 2)
    assert struct.unpack_from("<I", data, len(data) - 4)[0] == zlib.crc32(data[:-4])


# --------------------------------------------------------------------- hostile buffers


def test_every_truncation_raises_template_error(ten):
    data = ten.to_bytes()
    for cut in range(len(data)):
        with pytest.raises(TemplateError):
            Template.from_bytes(data[:cut])


def test_truncated_header_message():
    with pytest.raises(TemplateError, match=r"truncated: 10 bytes, header needs 28"):
        Template.from_bytes(b"NAFT" + bytes(6))
    with pytest.raises(TemplateError, match="truncated: 0 bytes"):
        Template.from_bytes(b"")


def test_every_single_bit_flip_is_detected(ten):
    data = ten.to_bytes()
    for offset in range(len(data)):
        for bit in range(8):
            buf = bytearray(data)
            buf[offset] ^= 1 << bit
            with pytest.raises(TemplateError):
                Template.from_bytes(bytes(buf))


def test_corrupted_payload_reports_crc_mismatch(ten):
    buf = bytearray(ten.to_bytes())
    buf[HEADER_SIZE + 3] ^= 0x10
    with pytest.raises(TemplateError, match="CRC mismatch"):
        Template.from_bytes(bytes(buf))


def test_wrong_magic_is_rejected(ten):
    data = b"XXXX" + ten.to_bytes()[4:]
    with pytest.raises(TemplateError, match=r"not an nusafis template: magic b'XXXX'"):
        Template.from_bytes(data)


def test_short_foreign_buffer_reports_magic_not_truncation():
    with pytest.raises(TemplateError, match="not an nusafis template"):
        Template.from_bytes(b"hello")


def test_iso_record_gets_a_hint_to_use_the_iso_codec():
    iso = b"FMR\x00 20\x00" + bytes(40)
    with pytest.raises(TemplateError, match="ISO/IEC 19794-2") as info:
        Template.from_bytes(iso)
    assert "ISO codec" in str(info.value)


def test_future_version_is_rejected(ten):
    data = patched(ten.to_bytes(), OFF_VERSION, "<H", TEMPLATE_FORMAT_VERSION + 1)
    with pytest.raises(TemplateError, match=r"unsupported template format version 2"):
        Template.from_bytes(data)


def test_version_zero_is_rejected(ten):
    with pytest.raises(TemplateError, match="version 0"):
        Template.from_bytes(patched(ten.to_bytes(), OFF_VERSION, "<H", 0))


def test_short_header_length_is_rejected(ten):
    with pytest.raises(TemplateError, match="header length 20"):
        Template.from_bytes(patched(ten.to_bytes(), OFF_HEADER_LEN, "<H", 20))


def test_header_length_beyond_buffer_is_rejected(ten):
    with pytest.raises(TemplateError, match="truncated"):
        Template.from_bytes(patched(ten.to_bytes(), OFF_HEADER_LEN, "<H", 0xFFFF))


def test_longer_header_from_a_compatible_writer_is_skipped(ten):
    data = ten.to_bytes()
    ext = bytearray(data[:HEADER_SIZE] + b"\xaa\xbb\xcc\xdd" + data[HEADER_SIZE:])
    struct.pack_into("<H", ext, OFF_HEADER_LEN, HEADER_SIZE + 4)
    assert Template.from_bytes(with_crc(ext)) == ten


def test_lying_minutia_count_is_caught_by_the_length_check(ten):
    data = patched(ten.to_bytes(), OFF_N, "<H", 38)
    with pytest.raises(TemplateError, match=r"declares 38 minutiae \(304 bytes\)") as info:
        Template.from_bytes(data)
    assert "remain" in str(info.value)


def test_understated_minutia_count_leaves_trailing_bytes(ten):
    data = patched(ten.to_bytes(), OFF_N, "<H", 9)
    with pytest.raises(TemplateError, match="8 trailing bytes"):
        Template.from_bytes(data)


def test_lying_singular_count_is_caught(ten):
    data = patched(ten.to_bytes(), OFF_M, "<B", 200)
    with pytest.raises(TemplateError, match="200 singular points"):
        Template.from_bytes(data)


def test_trailing_bytes_are_rejected(ten):
    with pytest.raises(TemplateError, match="1 trailing bytes"):
        Template.from_bytes(ten.to_bytes() + b"\x00")
    with pytest.raises(TemplateError, match="trailing"):
        Template.from_bytes(ten.to_bytes() * 2)


def test_huge_declared_count_in_short_buffer_fails_fast():
    empty = Template.empty(100, 100).to_bytes()
    data = bytearray(empty)
    struct.pack_into("<H", data, OFF_N, 0xFFFF)
    struct.pack_into("<B", data, OFF_M, 0xFF)
    with pytest.raises(TemplateError, match="declares 65535 minutiae"):
        Template.from_bytes(with_crc(data))


@pytest.mark.parametrize(
    ("offset", "fmt", "value", "message"),
    [
        (OFF_WIDTH, "<H", 0, "width must be in 1..65535, got 0"),
        (OFF_HEIGHT, "<H", 0, "height"),
        (OFF_WIDTH, "<H", 5, "x must be in 0..4"),
        (OFF_HEIGHT, "<H", 3, "y must be in 0..2"),
        (OFF_RESOLUTION, "<I", 0, "resolution"),
        (OFF_SOURCE_RESOLUTION, "<I", 0, "resolution"),
        (OFF_IMAGE_QUALITY, "<B", 101, "image_quality"),
        (OFF_FINGER, "<B", 11, "finger_position"),
        (OFF_RESERVED, "<B", 1, "reserved"),
        (HEADER_SIZE + 6, "<B", 3, "invalid MinutiaType code 3"),
        (HEADER_SIZE + 7, "<B", 101, "quality must be in 0..100"),
        (HEADER_SIZE + 8 * 10 + 4, "<B", 0, "invalid SingularType code 0"),
        (HEADER_SIZE + 8 * 10, "<H", 1000, "singular_x"),
    ],
)
def test_invalid_fields_with_valid_crc_are_rejected(offset, fmt, value, message):
    t = random_template(
        np.random.default_rng(5),
        10,
        2,
        width=300,
        height=300,
        x=np.full(10, 10),
        y=np.full(10, 10),
        singular_x=[20, 30],
        singular_y=[40, 50],
    )
    data = patched(t.to_bytes(), offset, fmt, value)
    with pytest.raises(TemplateError, match=message):
        Template.from_bytes(data)


@pytest.mark.parametrize("seed", range(6))
def test_from_bytes_builds_what_the_constructor_builds(seed):
    """The parser's short cut for valid records gives the constructor's fields, type for type."""
    rng = np.random.default_rng(seed)
    t = random_template(rng, int(rng.integers(0, 90)), int(rng.integers(0, 4)))
    parsed = Template.from_bytes(t.to_bytes())
    for field in dataclasses.fields(Template):
        got, expected = getattr(parsed, field.name), getattr(t, field.name)
        assert type(got) is type(expected), field.name
        if isinstance(expected, np.ndarray):
            assert got.dtype == expected.dtype and got.dtype.isnative, field.name
            assert got.flags.c_contiguous and not got.flags.writeable, field.name
            np.testing.assert_array_equal(got, expected, err_msg=field.name)
        else:
            assert got == expected, field.name


def test_every_stored_direction_code_converts_as_the_constructor_converts_it():
    codes = np.arange(65536, dtype=np.uint16)
    table = template_module._DIRECTION_TABLE
    np.testing.assert_array_equal(table, template_module._directions_from_codes(codes))
    np.testing.assert_array_equal(table, template_module._quantize_direction(table))


def test_records_at_the_limits_of_their_fields_parse():
    t = random_template(
        np.random.default_rng(9),
        3,
        1,
        width=7,
        height=9,
        x=[0, 6, 6],
        y=[8, 0, 8],
        type=[0, 2, 1],
        quality=[0, 100, 100],
        image_quality=100,
        finger_position=FingerPosition.LEFT_LITTLE,
        singular_x=[6],
        singular_y=[8],
        singular_type=[2],
    )
    assert Template.from_bytes(t.to_bytes()) == t


@pytest.mark.parametrize("bad", [None, "NAFT", 5, 3.0, [1, 2, 3], object()])
def test_from_bytes_rejects_non_bytes_like_with_type_error(bad):
    with pytest.raises(TypeError):
        Template.from_bytes(bad)


def test_int_argument_is_not_taken_as_a_length():
    with pytest.raises(TypeError):
        Template.from_bytes(40)


# ------------------------------------------------------------------- constructor checks


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"x": [-1, 5]}, "x must be in"),
        ({"x": [388, 5]}, "x must be in 0..387"),
        ({"x": [70000, 5]}, "x must be in"),
        ({"y": [5, 374]}, "y must be in 0..373"),
        ({"x": [1.5, 5]}, "x must hold integers"),
        ({"x": [np.nan, 5]}, "x must be finite"),
        ({"x": ["a", "b"]}, "x must hold integers"),
        ({"direction": [np.nan, 0.0]}, "direction must be finite"),
        ({"direction": [np.inf, 0.0]}, "direction must be finite"),
        ({"direction": ["up", "down"]}, "direction must hold real numbers"),
        ({"type": [3, 1]}, "invalid MinutiaType code 3"),
        ({"type": [-1, 1]}, "type must be in"),
        ({"quality": [101, 0]}, "quality must be in 0..100"),
        ({"quality": [-1, 0]}, "quality must be in"),
        ({"y": [1, 2, 3]}, "y has 3 entries but x has 2"),
        ({"direction": [0.0]}, "direction has 1 entries"),
        ({"type": [1]}, "type has 1 entries"),
        ({"quality": [1, 2, 3]}, "quality has 3 entries"),
        ({"x": [[1, 2]], "y": [[1, 2]]}, "x must be 1-D"),
        ({"direction": [[0.0, 1.0]]}, "direction must be 1-D"),
        ({"x": 5}, "x must be 1-D"),
        ({"width": 0}, "width must be in 1..65535"),
        ({"width": 65536}, "width must be in 1..65535"),
        ({"height": -3}, "height"),
        ({"width": 300.0}, "width must be an integer"),
        ({"width": True}, "width must be an integer"),
        ({"resolution": 0.0}, "resolution must be a finite positive"),
        ({"resolution": -500.0}, "resolution"),
        ({"resolution": float("nan")}, "resolution"),
        ({"resolution": "500"}, "resolution must be a number"),
        ({"resolution": 0.001}, "resolution must be in"),
        ({"source_resolution": None}, "source_resolution"),
        ({"image_quality": 101}, "image_quality must be in 0..100"),
        ({"finger_position": 11}, "finger_position"),
        ({"singular_x": [1], "singular_y": [1], "singular_type": [3]}, "SingularType"),
        ({"singular_x": [1], "singular_y": [1], "singular_type": [0]}, "SingularType"),
        ({"singular_x": [388], "singular_y": [1], "singular_type": [1]}, "singular_x"),
        ({"singular_x": [1], "singular_y": [], "singular_type": [1]}, "singular_y has 0"),
    ],
)
def test_constructor_rejects_invalid_fields(overrides, message):
    with pytest.raises(TemplateError, match=message) as info:
        two_minutiae(**overrides)
    assert isinstance(info.value, ValueError) and isinstance(info.value, AfisError)


def test_too_many_minutiae_or_singular_points_are_rejected():
    n = 65536
    with pytest.raises(TemplateError, match="too many minutiae"):
        Template(
            width=10,
            height=10,
            resolution=500.0,
            source_resolution=500.0,
            x=np.zeros(n, np.uint16),
            y=np.zeros(n, np.uint16),
            direction=np.zeros(n),
            type=np.zeros(n, np.uint8),
            quality=np.zeros(n, np.uint8),
            image_quality=0,
        )
    with pytest.raises(TemplateError, match="too many singular points"):
        two_minutiae(singular_x=[1] * 256, singular_y=[1] * 256, singular_type=[1] * 256)


def test_constructor_coerces_compatible_inputs():
    t = two_minutiae(
        x=np.array([10.0, 200.0]),
        y=np.array([20, 300], dtype=np.int64),
        direction=np.array([0, 1], dtype=np.int32),
        type=(1, 2),
        quality=np.array([80, 55], dtype=np.uint64),
        width=np.int32(388),
        finger_position=2,
        resolution=np.float32(500),
        source_resolution=569,
    )
    assert t.x.dtype == np.uint16 and t.x.tolist() == [10, 200]
    assert t.y.dtype == np.uint16 and t.type.dtype == np.uint8 and t.quality.dtype == np.uint8
    assert t.direction.dtype == np.float32
    assert t.finger_position is FingerPosition.RIGHT_INDEX
    assert type(t.width) is int and type(t.resolution) is float
    assert t.source_resolution == 569.0


def test_arguments_are_keyword_only():
    with pytest.raises(TypeError):
        Template(10, 10, 500.0, 500.0, [], [], [], [], [], 0)  # type: ignore[misc]


# ------------------------------------------------------- repr, equality, immutability


def test_repr_is_a_short_summary():
    rng = np.random.default_rng(3)
    t = two_minutiae(
        x=rng.integers(0, 388, 38),
        y=rng.integers(0, 374, 38),
        direction=rng.uniform(0, 6, 38),
        type=rng.integers(0, 3, 38),
        quality=rng.integers(0, 101, 38),
    )
    assert repr(t) == "Template(38 minutiae, 388x374 @ 500 ppi, quality 71)"
    assert repr(Template.empty(5, 6, resolution=569.0)) == (
        "Template(0 minutiae, 5x6 @ 569 ppi, quality 0)"
    )
    rich = two_minutiae(
        finger_position=FingerPosition.LEFT_INDEX,
        singular_x=[1],
        singular_y=[1],
        singular_type=[1],
    )
    assert repr(rich) == (
        "Template(2 minutiae, 388x374 @ 500 ppi, quality 71, LEFT_INDEX, 1 singular points)"
    )


def test_len_counts_minutiae():
    assert len(two_minutiae()) == 2
    assert len(Template.empty(1, 1)) == 0


def test_equality_compares_every_field_exactly():
    base = two_minutiae(singular_x=[1], singular_y=[2], singular_type=[1])
    assert base == two_minutiae(singular_x=[1], singular_y=[2], singular_type=[1])
    changes = {
        "width": 389,
        "height": 375,
        "resolution": 1000.0,
        "source_resolution": 500.0,
        "x": [11, 200],
        "y": [20, 301],
        "direction": [0.25, 4.001],
        "type": [1, 1],
        "quality": [80, 56],
        "image_quality": 70,
        "finger_position": FingerPosition.RIGHT_THUMB,
        "singular_x": [2],
        "singular_y": [3],
        "singular_type": [2],
    }
    for name, value in changes.items():
        other = dataclasses.replace(base, **{name: value})
        assert other != base, name
        assert not (other == base), name


def test_equality_with_other_types_is_false():
    t = two_minutiae()
    assert t != t.to_bytes()
    assert t != None  # noqa: E711
    assert t.__eq__(42) is NotImplemented


def test_templates_are_unhashable():
    with pytest.raises(TypeError):
        hash(two_minutiae())
    with pytest.raises(TypeError):
        {two_minutiae()}


def test_arrays_are_read_only_and_contiguous():
    t = two_minutiae(singular_x=[1], singular_y=[2], singular_type=[1])
    for name in (
        "x",
        "y",
        "direction",
        "type",
        "quality",
        "singular_x",
        "singular_y",
        "singular_type",
    ):
        arr = getattr(t, name)
        assert not arr.flags.writeable, name
        assert arr.flags.c_contiguous, name
        with pytest.raises(ValueError):
            arr[0] = 0


def test_attributes_cannot_be_assigned():
    t = two_minutiae()
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.width = 10  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.x = np.zeros(2, np.uint16)  # type: ignore[misc]


def test_input_arrays_are_copied():
    x = np.array([10, 200], dtype=np.uint16)
    t = two_minutiae(x=x)
    x[0] = 99
    assert t.x[0] == 10
    assert x.flags.writeable


def test_minutiae_property_is_a_structured_copy():
    t = two_minutiae()
    m = t.minutiae
    assert m.dtype.names == ("x", "y", "direction", "type", "quality")
    assert m["x"].tolist() == [10, 200]
    assert np.array_equal(m["direction"], t.direction)
    assert m["type"].tolist() == [1, 2] and m["quality"].tolist() == [80, 55]
    m["x"][0] = 0
    assert t.x[0] == 10
    assert Template.empty(3, 3).minutiae.shape == (0,)


def test_enums_have_iso_codes():
    assert [int(m) for m in MinutiaType] == [0, 1, 2]
    assert (SingularType.CORE, SingularType.DELTA) == (1, 2)
    assert FingerPosition.RIGHT_THUMB == 1 and FingerPosition.LEFT_LITTLE == 10
    assert len(FingerPosition) == 11


def test_public_names():
    assert set(template_module.__all__) == {
        "Template",
        "MinutiaType",
        "SingularType",
        "FingerPosition",
        "TEMPLATE_FORMAT_VERSION",
    }
    assert TEMPLATE_FORMAT_VERSION == 1


def test_docstring_examples_run():
    result = doctest.testmod(template_module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
