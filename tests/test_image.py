"""Tests for afis.image: decoding, greyscale conversion, resolution and bad input."""

from __future__ import annotations

import dataclasses
import doctest
import io
import os
import struct
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import wsq  # noqa: F401  (registers the WSQ format with Pillow, for writing test files)
from PIL import Image

import afis.image
from afis.errors import ImageError
from afis.image import FingerprintImage, load_image

# --------------------------------------------------------------------------------------------
# helpers


def _ridges(height: int = 200, width: int = 180) -> np.ndarray:
    """A synthetic fingerprint-like pattern of oblique sinusoidal ridges."""
    y, x = np.mgrid[0:height, 0:width]
    return (128 + 100 * np.sin(0.4 * x + 0.1 * y + 0.002 * x * y)).astype(np.uint8)


def _encode(image: Image.Image | np.ndarray, fmt: str, **params) -> bytes:
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    body = kind + payload
    return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))


def _png_header_only(width: int, height: int, rows: int = 4) -> bytes:
    """A greyscale PNG claiming width x height but holding only the first few rows.

    Built by hand so a huge image costs a few bytes; a loader that checks the header size
    rejects it before decoding, one that decodes first would allocate width*height bytes.
    """
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    scanlines = (b"\x00" + b"\x80" * width) * rows
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(scanlines))
        + _png_chunk(b"IEND", b"")
    )


def _mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int32) - b.astype(np.int32)).mean())


def _max_abs_diff(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.abs(a.astype(np.int32) - b.astype(np.int32)).max())


RIDGES = _ridges()

# format name -> (Pillow save parameters, file suffix, lossless?)
FORMATS = {
    "PNG": ({}, ".png", True),
    "BMP": ({}, ".bmp", True),
    "TIFF": ({}, ".tif", True),
    "JPEG": ({"quality": 95}, ".jpg", False),
    "JPEG2000": ({}, ".jp2", True),  # Pillow writes reversible (lossless) JPEG 2000 by default
    "WSQ": ({}, ".wsq", False),
}


def _check_pixels(image: FingerprintImage, expected: np.ndarray, lossless: bool) -> None:
    assert image.pixels.dtype == np.uint8
    assert image.pixels.shape == expected.shape
    assert (image.height, image.width) == expected.shape
    assert image.pixels.flags.c_contiguous
    assert not image.pixels.flags.writeable
    if lossless:
        np.testing.assert_array_equal(image.pixels, expected)
    else:  # JPEG q95 measures about 0.4, WSQ (0.75 bit/pixel) about 1.2 on this pattern
        assert _mean_abs_diff(image.pixels, expected) < 2.0


# --------------------------------------------------------------------------------------------
# formats


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("kind", ["str path", "pathlib path", "bytes", "bytearray", "memoryview"])
def test_every_format_round_trips_from_path_and_memory(tmp_path, fmt, kind):
    params, suffix, lossless = FORMATS[fmt]
    data = _encode(RIDGES, fmt, **params)
    path = tmp_path / f"ridges{suffix}"
    path.write_bytes(data)
    source = {
        "str path": str(path),
        "pathlib path": path,
        "bytes": data,
        "bytearray": bytearray(data),
        "memoryview": memoryview(data),
    }[kind]
    image = load_image(source)
    _check_pixels(image, RIDGES, lossless)
    assert image.ppi == 500.0


def test_format_is_recognised_from_content_not_file_name(tmp_path):
    path = tmp_path / "really_a_png.wsq"
    path.write_bytes(_encode(RIDGES, "PNG"))
    np.testing.assert_array_equal(load_image(path).pixels, RIDGES)


def test_pgm_is_read_too():
    _check_pixels(load_image(_encode(RIDGES, "PPM")), RIDGES, lossless=True)


def test_formats_outside_the_supported_list_are_rejected():
    gif = _encode(Image.fromarray(RIDGES).convert("P"), "GIF")
    with pytest.raises(ImageError, match="not a recognised image format"):
        load_image(gif)


def test_multi_frame_tiff_gives_first_frame():
    frames = [Image.fromarray(RIDGES), Image.fromarray(255 - RIDGES)]
    data = _encode(frames[0], "TIFF", save_all=True, append_images=frames[1:])
    assert getattr(Image.open(io.BytesIO(data)), "n_frames", 1) == 2
    np.testing.assert_array_equal(load_image(data).pixels, RIDGES)


# --------------------------------------------------------------------------------------------
# resolution


def _wsq_claiming(ppi_text: bytes) -> bytes:
    """A WSQ file whose NIST_COM comment says ``PPI <ppi_text>``."""
    data = _encode(RIDGES, "WSQ")
    # the wsq package writes SOI (FFA0), then a COM segment (FFA8, 2-byte length) holding
    # a NIST_COM comment with "PPI 500"
    assert data[:4] == b"\xff\xa0\xff\xa8" and b"\nPPI 500\n" in data
    length = int.from_bytes(data[4:6], "big")
    comment = data[6 : 4 + length].replace(b"\nPPI 500\n", b"\nPPI " + ppi_text + b"\n")
    return data[:4] + (len(comment) + 2).to_bytes(2, "big") + comment + data[4 + length :]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(_encode(RIDGES, "PNG", dpi=(600, 600)), 600.0, id="PNG 600"),
        pytest.param(_encode(RIDGES, "PNG", dpi=(1000, 1000)), 1000.0, id="PNG 1000"),
        pytest.param(_encode(RIDGES, "BMP", dpi=(508, 508)), 508.0, id="BMP 508"),
        pytest.param(_encode(RIDGES, "TIFF", dpi=(1000, 1000)), 1000.0, id="TIFF 1000"),
        pytest.param(
            _encode(RIDGES, "TIFF", resolution=200, resolution_unit=3), 508.0, id="TIFF 200/cm"
        ),
        pytest.param(_encode(RIDGES, "JPEG", dpi=(700, 700)), 700.0, id="JPEG 700"),
        pytest.param(_wsq_claiming(b"600"), 600.0, id="WSQ 600"),
    ],
)
def test_resolution_written_into_the_file_is_read_back(data, expected):
    assert load_image(data).ppi == expected


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(_encode(RIDGES, "TIFF", dpi=(1, 1)), id="TIFF 1 dpi (as FVC)"),
        pytest.param(_encode(RIDGES, "PNG", dpi=(72, 72)), id="PNG 72"),
        pytest.param(_encode(RIDGES, "PNG", dpi=(3000, 3000)), id="PNG 3000"),
        pytest.param(_encode(RIDGES, "BMP"), id="BMP 96 (Pillow default)"),
        pytest.param(_encode(RIDGES, "JPEG"), id="JPEG without density"),
        pytest.param(_encode(RIDGES, "PNG"), id="PNG without pHYs"),
        pytest.param(_wsq_claiming(b"100"), id="WSQ 100"),
        pytest.param(_wsq_claiming(b"-1"), id="WSQ -1 (unknown)"),
    ],
)
def test_implausible_or_missing_file_resolution_gives_500(data):
    assert load_image(data).ppi == 500.0


@pytest.mark.parametrize("dpi", [50, 300.5, 500, 1000, 5000])
def test_dpi_argument_overrides_the_file(dpi):
    data = _encode(RIDGES, "PNG", dpi=(600, 600))
    assert load_image(data, dpi=dpi).ppi == float(dpi)
    assert load_image(RIDGES, dpi=dpi).ppi == float(dpi)


def test_existing_image_is_returned_or_given_new_resolution():
    image = load_image(RIDGES)
    assert load_image(image) is image
    changed = load_image(image, dpi=1000)
    assert changed.ppi == 1000.0 and image.ppi == 500.0
    assert changed.pixels is image.pixels


# --------------------------------------------------------------------------------------------
# colour, palette, alpha, 16-bit, float images


def test_rgb_image_becomes_greyscale():
    rgb = np.stack([RIDGES] * 3, axis=-1)
    image = load_image(_encode(rgb, "PNG"))
    np.testing.assert_array_equal(image.pixels, RIDGES)


def test_coloured_rgb_image_uses_luma():
    rgb = np.zeros((32, 40, 3), np.uint8)
    rgb[..., 0] = 255  # pure red: ITU-R 601 luma 0.299 * 255 = 76
    assert np.all(load_image(_encode(rgb, "BMP")).pixels == 76)


def test_opaque_rgba_image_becomes_greyscale():
    rgba = np.dstack([RIDGES, RIDGES, RIDGES, np.full_like(RIDGES, 255)])
    np.testing.assert_array_equal(load_image(_encode(rgba, "PNG")).pixels, RIDGES)


def test_transparent_pixels_become_white():
    alpha = np.full_like(RIDGES, 255)
    alpha[:, :50] = 0
    alpha[:, 50:60] = 128
    la = Image.fromarray(np.dstack([RIDGES, alpha]), mode="LA")
    pixels = load_image(_encode(la, "PNG")).pixels
    assert np.all(pixels[:, :50] == 255)
    half = (RIDGES[:, 50:60].astype(int) * 128 + 255 * 127 + 127) // 255
    np.testing.assert_array_equal(pixels[:, 50:60], half)
    np.testing.assert_array_equal(pixels[:, 60:], RIDGES[:, 60:])


def test_palette_image_becomes_greyscale():
    palette_image = Image.fromarray(RIDGES).convert("P")  # a grey palette from "L"
    assert palette_image.mode == "P"
    np.testing.assert_array_equal(load_image(_encode(palette_image, "PNG")).pixels, RIDGES)


def test_bilevel_image_becomes_0_and_255():
    bilevel = Image.fromarray(RIDGES > 128)
    assert bilevel.mode == "1"
    pixels = load_image(_encode(bilevel, "PNG")).pixels
    np.testing.assert_array_equal(pixels, np.where(RIDGES > 128, 255, 0))


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_16_bit_image_is_scaled_to_8_bit(fmt):
    wide = RIDGES.astype(np.uint16) * 256 + 200  # high byte is the image, low byte noise
    data = _encode(Image.fromarray(wide), fmt)
    assert Image.open(io.BytesIO(data)).mode.startswith("I;16")
    image = load_image(data)
    assert image.pixels.dtype == np.uint8
    np.testing.assert_array_equal(image.pixels, RIDGES)


def test_float_tiff_follows_the_array_rules():
    data = _encode(Image.fromarray(RIDGES.astype(np.float32) / 255, mode="F"), "TIFF")
    np.testing.assert_array_equal(load_image(data).pixels, RIDGES)


# --------------------------------------------------------------------------------------------
# arrays

GRADIENT = np.tile(np.arange(256, dtype=np.uint8)[::8], (20, 1))  # 20 x 32, values 0..248


@pytest.mark.parametrize(
    ("array", "expected"),
    [
        pytest.param(GRADIENT, GRADIENT, id="uint8"),
        pytest.param(GRADIENT > 100, np.where(GRADIENT > 100, 255, 0), id="bool"),
        pytest.param(GRADIENT / 255.0, GRADIENT, id="float64 in 0..1"),
        pytest.param((GRADIENT / 255.0).astype(np.float32), GRADIENT, id="float32 in 0..1"),
        pytest.param(GRADIENT.astype(np.float64) + 0.3, GRADIENT, id="float in 0..255 rounded"),
        pytest.param(GRADIENT.astype(np.int16), GRADIENT, id="int16"),
        pytest.param(GRADIENT.astype(np.int64), GRADIENT, id="int64"),
        pytest.param(GRADIENT.astype(np.uint16), GRADIENT, id="uint16 within 0..255"),
        pytest.param(np.asfortranarray(GRADIENT), GRADIENT, id="Fortran order"),
        pytest.param(np.repeat(GRADIENT, 2, axis=1)[:, ::2], GRADIENT, id="strided view"),
    ],
)
def test_array_is_converted_to_uint8(array, expected):
    image = load_image(array)
    assert image.pixels.dtype == np.uint8
    np.testing.assert_array_equal(image.pixels, expected)
    assert image.pixels.flags.c_contiguous
    assert not image.pixels.flags.writeable
    assert image.ppi == 500.0


def test_image_does_not_alias_or_modify_the_callers_array():
    array = GRADIENT.copy()
    image = load_image(array)
    assert array.flags.writeable
    array[:] = 7
    np.testing.assert_array_equal(image.pixels, GRADIENT)
    with pytest.raises(ValueError):
        image.pixels[0, 0] = 1


def test_fingerprint_image_is_immutable_and_has_size_properties():
    image = FingerprintImage(GRADIENT.copy(), 1000)
    assert (image.width, image.height, image.ppi) == (32, 20, 1000.0)
    assert isinstance(image.ppi, float)
    assert not image.pixels.flags.writeable
    assert repr(image) == "FingerprintImage(width=32, height=20, ppi=1000)"
    with pytest.raises(dataclasses.FrozenInstanceError):
        image.ppi = 500.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("pixels", "ppi", "error", "message"),
    [
        (GRADIENT.astype(np.int16), 500, ImageError, "dtype uint8"),
        (GRADIENT[0], 500, ImageError, "2-D"),
        (GRADIENT, 10, ImageError, "50..5000"),
        (GRADIENT, float("nan"), ImageError, "finite"),
        (GRADIENT.tolist(), 500, TypeError, "numpy array"),
        (GRADIENT, "500", TypeError, "real number"),
    ],
)
def test_fingerprint_image_validates_its_fields(pixels, ppi, error, message):
    with pytest.raises(error, match=message):
        FingerprintImage(pixels, ppi)


# --------------------------------------------------------------------------------------------
# bad input


def test_empty_file_is_rejected(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(ImageError, match="empty") as info:
        load_image(path)
    assert str(path) in str(info.value)


def test_empty_bytes_are_rejected():
    with pytest.raises(ImageError, match=r"<0 bytes>: empty input"):
        load_image(b"")


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_image(tmp_path / "no_such_file.png")


def test_random_bytes_are_rejected(tmp_path):
    data = np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    with pytest.raises(ImageError, match=r"<4096 bytes>: .*not a recognised image format"):
        load_image(data)
    path = tmp_path / "noise.png"
    path.write_bytes(data)
    with pytest.raises(ImageError, match="not a recognised image format") as info:
        load_image(path)
    assert str(path) in str(info.value)


TRUNCATABLE = {fmt: _encode(RIDGES, fmt, **FORMATS[fmt][0]) for fmt in ("PNG", "TIFF", "JPEG")}
TRUNCATABLE["WSQ"] = _encode(RIDGES, "WSQ")
TRUNCATABLE["JPEG2000"] = _encode(RIDGES, "JPEG2000")


@pytest.mark.parametrize("fmt", list(TRUNCATABLE))
@pytest.mark.parametrize("cut", ["half", "first 20 bytes", "first 2 bytes"])
@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")  # Pillow's TIFF reader warns first
def test_truncated_file_is_rejected_naming_the_source(tmp_path, fmt, cut):
    data = TRUNCATABLE[fmt]
    data = data[: {"half": len(data) // 2, "first 20 bytes": 20, "first 2 bytes": 2}[cut]]
    with pytest.raises(ImageError, match=rf"^<{len(data)} bytes>: cannot (read|decode) "):
        load_image(data)
    path = tmp_path / f"truncated.{fmt.lower()}"
    path.write_bytes(data)
    with pytest.raises(ImageError, match=r"cannot (read|decode)") as info:
        load_image(path)
    assert str(info.value).startswith(str(path))


@pytest.mark.parametrize(("height", "width"), [(1, 1), (10, 10), (15, 100), (100, 15)])
def test_too_small_image_is_rejected(height, width):
    small = np.full((height, width), 200, np.uint8)
    for source in (small, _encode(small, "PNG")):
        with pytest.raises(ImageError, match=f"{width}x{height} pixels, smaller than .* 16 "):
            load_image(source)


def test_smallest_and_largest_allowed_sides_are_accepted():
    assert load_image(np.zeros((16, 16), np.uint8)).pixels.shape == (16, 16)
    assert load_image(np.zeros((16, 16384), np.uint8)).pixels.shape == (16, 16384)


def test_too_wide_array_is_rejected():
    with pytest.raises(ImageError, match="16385x16 pixels, larger than the maximum of 16384"):
        load_image(np.zeros((16, 16385), np.uint8))


def test_oversized_header_is_rejected_before_decoding():
    # 20000 x 100 holds only 4 rows of data: decoding would fail as truncated, so the
    # size message proves the header was checked first
    with pytest.raises(ImageError, match="20000x100 pixels, larger than the maximum of 16384"):
        load_image(_png_header_only(20000, 100))


def test_20000_by_20000_png_is_rejected_without_allocating_it():
    data = _png_header_only(20000, 20000)
    assert len(data) < 1000
    with pytest.raises(ImageError, match=r"too large|larger than the maximum"):
        load_image(data)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_image_over_pillows_pixel_limit_is_rejected():
    data = _png_header_only(10000, 9000)  # 90 M pixels: within the side limit, over Pillow's
    with pytest.raises(ImageError, match="decompression-bomb limit"):
        load_image(data)


def test_decompression_bomb_warning_as_error_is_still_an_image_error():
    data = _png_header_only(10000, 9000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ImageError, match="too large"):
            load_image(data)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        pytest.param(np.full((32, 32), np.nan), "NaN", id="NaN"),
        pytest.param(np.full((32, 32), np.inf), "infinite", id="inf"),
        pytest.param(np.full((32, 32), -0.5), "0..1 or 0..255", id="negative float"),
        pytest.param(np.full((32, 32), 255.5), "0..1 or 0..255", id="float over 255"),
        pytest.param(np.full((32, 32), -1, np.int16), "0..255", id="negative int"),
        pytest.param(np.full((32, 32), 256, np.uint16), "0..255", id="uint16 over 255"),
        pytest.param(
            np.zeros((32, 32, 3), np.uint8),
            r"expected a 2-D greyscale array, got shape \(32, 32, 3\)",
            id="3-D",
        ),
        pytest.param(np.zeros(1024, np.uint8), "expected a 2-D greyscale array", id="1-D"),
        pytest.param(np.zeros((32, 32), np.complex128), "unsupported dtype", id="complex"),
        pytest.param(np.zeros((32, 32), object), "unsupported dtype", id="object"),
        pytest.param(np.full((32, 32), "a"), "unsupported dtype", id="string"),
    ],
)
def test_unusable_array_is_rejected(array, message):
    with pytest.raises(ImageError, match=message):
        load_image(array)


@pytest.mark.parametrize("source", [None, 5, 3.5, [[0, 255]], {}, np.uint8(7)])
def test_wrong_python_type_raises_type_error(source):
    with pytest.raises(TypeError, match="expects a path, bytes"):
        load_image(source)


@pytest.mark.parametrize("dpi", [0, -500, 49.9, 5001, float("nan"), float("inf")])
def test_bad_dpi_is_rejected(dpi):
    with pytest.raises(ImageError, match=r"dpi must be a finite resolution within 50\.\.5000"):
        load_image(RIDGES, dpi=dpi)


@pytest.mark.parametrize("dpi", ["500", True, [500]])
def test_dpi_of_wrong_type_raises_type_error(dpi):
    with pytest.raises(TypeError, match="dpi must be a real number"):
        load_image(RIDGES, dpi=dpi)


def test_wsq_without_the_wsq_package_names_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "wsq", None)  # makes `import wsq` raise ImportError
    with pytest.raises(ImageError, match="WSQ support needs the `wsq` package"):
        load_image(_encode(RIDGES, "WSQ"))


def test_docstring_examples_run():
    result = doctest.testmod(afis.image, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


# --------------------------------------------------------------------------------------------
# real data (AFIS_DATASETS; the conftest fixture `datasets_root` skips without it)


def _existing(path: Path) -> Path:
    """``path`` if it exists, else skip (the shared datasets may be partial)."""
    if not path.exists():
        pytest.skip(f"{path} is missing")
    return path


@pytest.mark.datasets
def test_sourceafis_probe_reads_alike_in_every_format(datasets_root):
    folder = _existing(datasets_root / "sourceafis_java_testresources")
    png = load_image(folder / "probe.png")  # RGBA, fully opaque
    assert png.pixels.shape == (374, 388)
    assert png.ppi == 500.0
    for name, lossless in [("probe.bmp", True), ("probe.tiff", True), ("probe.jpeg", False)]:
        other = load_image(folder / name)
        assert other.pixels.shape == png.pixels.shape, name
        assert other.ppi == 500.0, name
        if lossless:
            np.testing.assert_array_equal(other.pixels, png.pixels)
        else:  # measured: mean 1.68, max 25
            assert _mean_abs_diff(other.pixels, png.pixels) < 2.5
            assert _max_abs_diff(other.pixels, png.pixels) <= 32


@pytest.mark.datasets
def test_sourceafis_wsq_matches_its_reference_decoding(datasets_root):
    folder = _existing(datasets_root / "sourceafis_java_testresources")
    decoded = load_image(folder / "wsq-original.wsq")
    reference = load_image(folder / "wsq-converted.png")  # palette PNG claiming 96 dpi
    assert decoded.pixels.shape == reference.pixels.shape == (768, 832)
    assert decoded.ppi == reference.ppi == 500.0
    # measured: identical (both NBIS-derived decoders); allow rounding differences only
    assert _mean_abs_diff(decoded.pixels, reference.pixels) < 0.5
    assert _max_abs_diff(decoded.pixels, reference.pixels) <= 1


@pytest.mark.datasets
def test_fvc2002_tiff_claiming_1_dpi_loads_at_500(datasets_root):
    image = load_image(_existing(datasets_root / "fvc2002" / "DB1_B" / "101_1.tif"))
    assert image.pixels.shape == (374, 388)
    assert image.ppi == 500.0


@pytest.mark.datasets
def test_libbiomeval_jpeg2000_decodes_with_its_resolution(datasets_root):
    image = load_image(_existing(datasets_root / "nist_libbiomeval_testdata" / "img.jp2"))
    assert image.pixels.shape == (1007, 908)
    assert image.ppi == 1000.0  # the file's resolution box says 999.998
    assert 0 < image.pixels.mean() < 255


@pytest.mark.datasets
def test_libbiomeval_wsq_decodes_with_its_resolution(datasets_root):
    image = load_image(_existing(datasets_root / "nist_libbiomeval_testdata" / "img.wsq"))
    assert image.pixels.shape == (256, 256)
    assert image.ppi == 500.0
    assert image.pixels.std() > 10


@pytest.mark.datasets
def test_pgafis_wsq_decodes_close_to_the_fvc_source(datasets_root):
    # These WSQ files were encoded (at 0.75 bit/pixel) from the raw bytes of PGM files,
    # the 15-byte PGM header included, so their pixels are the TIFF's shifted by 15.
    wsq_folder = _existing(datasets_root / "fvc2000_extras_pgafis" / "DB1_B_wsq")
    tif_folder = _existing(datasets_root / "fvc2000" / "DB1_B")
    for name in ["101_1", "105_3", "110_8"]:
        decoded = load_image(wsq_folder / f"{name}.wsq")
        source = load_image(tif_folder / f"{name}.tif")
        assert decoded.pixels.shape == source.pixels.shape == (300, 300)
        assert decoded.ppi == 500.0  # the files say PPI -1 (unknown)
        flat_decoded, flat_source = decoded.pixels.ravel()[15:], source.pixels.ravel()[:-15]
        # measured over all 80: mean <= 1.13, max <= 64
        assert _mean_abs_diff(flat_decoded, flat_source) < 1.5, name
        assert _max_abs_diff(flat_decoded, flat_source) <= 80, name


# --- WSQ decoder isolation -------------------------------------------------------------------


def _wsq_bytes() -> bytes:

    yy, xx = np.mgrid[0:64, 0:80]
    pixels = (128 + 100 * np.sin(xx / 2.0 + yy / 5.0)).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="WSQ")
    return buffer.getvalue()


def test_wsq_decoder_crash_becomes_image_error_and_worker_is_replaced(monkeypatch):
    from afis import image as image_module

    data = _wsq_bytes()
    crashing = image_module._WsqWorker()
    crashing.command = (sys.executable, "-c", "import os; os.abort()")
    monkeypatch.setattr(image_module, "_wsq_worker", crashing)
    with pytest.raises(ImageError, match="decoder crashed"):
        load_image(data)
    # A fresh worker with a working command succeeds.
    crashing.command = image_module._WsqWorker.command
    crashing.close()  # stop the worker started with the crashing command
    assert load_image(data).pixels.shape == (64, 80)


def test_a_crashing_codec_child_is_answered_for_by_the_worker(monkeypatch):
    import signal

    from afis import _wsq_worker

    def crash(operation, payload, stdout):
        import faulthandler

        faulthandler.disable()  # (in the forked child) pytest's handler would print a dump
        os.kill(os.getpid(), signal.SIGSEGV)

    monkeypatch.setattr(_wsq_worker, "_answer", crash)
    read, write = os.pipe()
    requests = [(_wsq_worker.DECODE, b"junk"), (_wsq_worker.ENCODE, b"x" * 9)]
    os.write(write, b"".join(_wsq_worker.REQUEST.pack(op, len(p)) + p for op, p in requests))
    os.close(write)  # then the end of the input: the worker returns
    out = io.BytesIO()
    with os.fdopen(read, "rb", buffering=0) as stdin:
        _wsq_worker._serve_forking(stdin, out)
    answer = out.getvalue()
    assert answer.count(b"E") >= 2 and answer[:1] == b"E"
    assert b"decoder crashed on it (signal SIGSEGV; corrupt data)" in answer
    assert b"the encoder crashed on this image (signal SIGSEGV)" in answer


def test_wsq_worker_without_fork_serves_in_its_own_process(monkeypatch):
    from afis import _wsq_worker

    monkeypatch.delattr(os, "fork")
    data = _wsq_bytes()
    read, write = os.pipe()
    request = _wsq_worker.REQUEST.pack(_wsq_worker.DECODE, len(data)) + data
    os.write(write, request + _wsq_worker.REQUEST.pack(_wsq_worker.QUIT, 0))
    os.close(write)
    out = io.BytesIO()
    with os.fdopen(read, "rb", buffering=0) as stdin:
        _wsq_worker.serve(stdin, out)
    answer = out.getvalue()
    assert answer[:1] == b"K"
    height, width, _ = _wsq_worker.OK.unpack_from(answer, 1)
    assert (height, width) == (64, 80) and len(answer) == 1 + _wsq_worker.OK.size + 64 * 80


def test_corrupt_wsq_is_answered_by_the_same_worker(monkeypatch):
    import random

    from afis import image as image_module
    from afis._fuzz import mutate

    data = _wsq_bytes()
    # Mutations of the sample that crashed the NBIS decoder (SIGSEGV) in a search by seed; it
    # reads uninitialised memory, so whether each crashes varies from run to run.
    corrupt = [mutate(data, random.Random(seed)) for seed in (49, 229, 416, 620, 656)]
    worker = image_module._WsqWorker()
    monkeypatch.setattr(image_module, "_wsq_worker", worker)
    assert load_image(data).pixels.shape == (64, 80)
    pid = worker._process.pid
    for bad in corrupt:
        try:
            load_image(bad)  # the decoder may also make some image of it
        except ImageError as exc:
            assert "cannot decode WSQ" in str(exc)
        assert load_image(data).pixels.shape == (64, 80)
    assert worker._process.pid == pid  # the same worker answered throughout
    worker.close()


def test_wsq_frame_header_out_of_bounds_is_refused_before_decoding(monkeypatch):
    import struct

    from afis import image as image_module

    data = bytearray(_wsq_bytes())
    (sof,) = [pos for marker, pos, _ in image_module._wsq_segments(bytes(data)) if marker == 0xA2]
    never = image_module._WsqWorker()
    never.command = (sys.executable, "-c", "import os; os.abort()")  # must not be asked
    monkeypatch.setattr(image_module, "_wsq_worker", never)
    for height, width, why in [(64, 20000, "larger than the maximum"), (3, 80, "smaller")]:
        struct.pack_into(">HH", data, sof + 6, height, width)
        with pytest.raises(ImageError, match=f"{why}.*WSQ frame header"):
            load_image(bytes(data))
    struct.pack_into(">HH", data, sof + 6, 16000, 16000)  # within the sides, too many pixels
    bomb = r"16000x16000 = 256000000 pixels, more than .*limit.*\(WSQ frame header\)"
    with pytest.raises(ImageError, match=bomb):
        load_image(bytes(data))
    assert never._process is None


def test_wsq_decoder_hang_becomes_image_error(monkeypatch):
    from afis import image as image_module

    hanging = image_module._WsqWorker()
    hanging.command = (sys.executable, "-c", "import time; time.sleep(60)")
    monkeypatch.setattr(image_module, "_wsq_worker", hanging)
    monkeypatch.setattr(image_module, "WSQ_DECODE_TIMEOUT", 0.5)
    with pytest.raises(ImageError, match="decoder hung"):
        load_image(_wsq_bytes())
    hanging.close()


def test_wsq_worker_killed_between_calls_is_restarted():
    from afis import image as image_module

    data = _wsq_bytes()
    assert load_image(data).pixels.shape == (64, 80)
    process = image_module._wsq_worker._process
    assert process is not None
    process.kill()
    process.wait()
    assert load_image(data).pixels.shape == (64, 80)
