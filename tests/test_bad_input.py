"""Bad input to the extraction entry points: every case either raises a clear exception or
returns a template, and nothing crashes the interpreter.

Covers ``afis.extract``, ``afis.trace``, ``afis.extract_many`` and the native functions
(``_core.extract``, ``resample``, ``thin``, ``skeleton_minutiae``) called directly. Cases that
could bring the process down are run in a child interpreter. ``tools/asan-tests.sh`` runs this
file again against an AddressSanitizer build of the core.
"""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import textwrap
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import afis
from afis import ImageError, Template
from afis._native import _core
from afis.image import encode_wsq

REPO = Path(__file__).resolve().parent.parent

ENTRY_POINTS = {
    "extract": afis.extract,
    "trace": lambda source: afis.trace(source).template,
    "extract_many": lambda source: afis.extract_many([source, source], threads=2)[0],
}


@pytest.fixture(params=list(ENTRY_POINTS), name="entry")
def entry_fixture(request):
    """Each extraction entry point, returning a Template."""
    return ENTRY_POINTS[request.param]


def ridge_image(height: int = 200, width: int = 180) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width]
    return (127 + 100 * np.cos(2 * np.pi * (0.8 * xx + 0.6 * yy) / 9)).astype(np.uint8)


def encode(pixels: np.ndarray, fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    body = kind + payload
    return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))


def huge_png_header(width: int, height: int) -> bytes:
    """A greyscale PNG claiming width x height whose IDAT holds two rows: a few hundred bytes."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (width + 1) * 2)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", rows)
        + png_chunk(b"IEND", b"")
    )


def run_isolated(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a child interpreter (numpy as np and _core imported)."""
    program = "import numpy as np\nfrom afis._native import _core\n" + textwrap.dedent(code)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=120, env=env
    )


def assert_empty_template(template: Template, shape: tuple[int, int]) -> None:
    assert isinstance(template, Template)
    assert len(template) == 0
    assert template.image_quality == 0
    assert (template.height, template.width) == shape
    assert Template.from_bytes(template.to_bytes()) == template


# ------------------------------------------------------------------------- encoded files


def test_an_empty_file_is_an_image_error(entry, tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(ImageError, match="empty"):
        entry(path)
    with pytest.raises(ImageError, match="empty"):
        entry(b"")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_bytes_are_an_image_error(entry, seed):
    data = np.random.default_rng(seed).bytes(2000)
    with pytest.raises(ImageError, match="cannot read image"):
        entry(data)


def truncations(fmt: str) -> list[bytes]:
    data = encode(ridge_image(), fmt)
    return [data[: len(data) // 2], data[:40], data[:12]]


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
@pytest.mark.parametrize("fmt", ["PNG", "TIFF", "BMP", "JPEG"])
def test_a_truncated_file_is_an_image_error(entry, fmt, tmp_path):
    for k, data in enumerate(truncations(fmt)):
        with pytest.raises(ImageError, match="cannot"):
            entry(data)
        path = tmp_path / f"cut_{k}.{fmt.lower()}"
        path.write_bytes(data)
        with pytest.raises(ImageError, match=str(path.name)):
            entry(path)


def test_a_truncated_wsq_file_is_an_image_error(entry):
    pytest.importorskip("wsq")
    data = encode(ridge_image(), "WSQ")
    assert afis.extract(data).width == 180  # the whole file is fine
    for cut in (len(data) // 2, 40, 8):
        with pytest.raises(ImageError, match="WSQ"):
            entry(data[:cut])


def _wsq_frame_offset(data: bytes) -> int:
    """Byte offset of a WSQ file's start-of-frame marker (FFA2)."""
    return data.index(b"\xff\xa2")


def test_a_wsq_frame_header_claiming_more_pixels_than_the_data_holds_is_refused(entry):
    pytest.importorskip("wsq")
    data = bytearray(encode(ridge_image(), "WSQ"))
    sof = _wsq_frame_offset(data)
    for field, value in ((8, 8448), (6, 4000), (8, 181)):  # width x47, height x20, one column more
        altered = bytearray(data)
        struct.pack_into(">H", altered, sof + field, value)
        with pytest.raises(ImageError, match=r"WSQ: its coded data holds [\d,]+ of the"):
            entry(bytes(altered))


@pytest.mark.parametrize(
    "width, height", [(1, 1), (2, 3), (7, 5), (180, 200), (545, 622), (65535, 65535)]
)
def test_wsq_subbands_tile_the_image(width, height):
    areas = _core.wsq_subband_areas(width, height)
    assert len(areas) == 64 and min(areas) >= 0 and sum(areas) == width * height


def test_wsq_scan_counts_exactly_the_coefficients_of_encoded_images():
    pytest.importorskip("wsq")
    rng = np.random.default_rng(5)
    for height, width in ((200, 180), (37, 613), (501, 19)):
        pixels = rng.integers(0, 256, (height, width)).astype(np.uint8)
        for bitrate in (0.3, 2.25):
            w, h, needed, coded = _core.wsq_scan(encode_wsq(pixels, bitrate))
            assert (w, h) == (width, height) and needed == coded > 0


def test_wsq_scan_survives_every_truncation_and_byte_flip():
    pytest.importorskip("wsq")
    data = encode(ridge_image(60, 50), "WSQ")
    rng = np.random.default_rng(11)
    variants = [data[:cut] for cut in range(len(data))]
    for _ in range(3000):
        altered = bytearray(data)
        for position in rng.integers(0, len(data), int(rng.integers(1, 4))):
            altered[position] = int(rng.integers(0, 256))
        variants.append(bytes(altered))
    variants += [b"", b"\xff", b"\xff\xa0", b"\xff\xa0\xff\xa1", b"\xff\xa0" + b"\xff" * 64]
    outcomes = {"ok": 0, "refused": 0}
    for variant in variants:
        try:
            w, h, needed, coded = _core.wsq_scan(variant)
        except ValueError as exc:
            assert str(exc)
            outcomes["refused"] += 1
        else:
            assert w > 0 and h > 0 and 0 <= coded <= needed <= w * h
            outcomes["ok"] += 1
    assert outcomes["refused"] > len(data) and outcomes["ok"] > 0


def test_a_png_claiming_20000_pixels_a_side_is_refused_without_decoding(entry, tmp_path):
    data = huge_png_header(20000, 20000)
    assert len(data) < 1000
    path = tmp_path / "huge.png"
    path.write_bytes(data)
    tracemalloc.start()
    try:
        for source in (data, path):
            with pytest.raises(ImageError, match=r"too large|larger than"):
                entry(source)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50_000_000  # a decoded 20000x20000 image would take 400 MB


def test_a_20000_pixel_array_is_refused_without_copying(entry):
    pixels = np.broadcast_to(np.uint8(255), (20000, 20000))  # zero-stride view, no memory
    tracemalloc.start()
    try:
        with pytest.raises(ImageError, match="larger than the maximum"):
            entry(pixels)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50_000_000


def test_a_missing_file_is_file_not_found(entry):
    with pytest.raises(FileNotFoundError):
        entry("not-a-file-that-exists")


def test_a_folder_is_an_os_error(entry, tmp_path):
    with pytest.raises(OSError):
        entry(tmp_path)


# ----------------------------------------------------------------------------- arrays


@pytest.mark.parametrize("shape", [(1, 1), (10, 10), (15, 300)])
def test_images_below_16_pixels_a_side_are_refused(entry, shape):
    with pytest.raises(ImageError, match="smaller than the minimum"):
        entry(np.zeros(shape, np.uint8))


@pytest.mark.parametrize("shape", [(20, 20), (31, 300)])
def test_images_below_32_processing_pixels_a_side_are_refused(entry, shape):
    with pytest.raises(ImageError, match="at least 32 pixels"):
        entry(np.zeros(shape, np.uint8))


def test_an_image_too_large_after_resampling_is_refused(entry):
    pixels = np.broadcast_to(np.uint8(255), (40, 8192))
    with pytest.raises(ImageError, match="at most 8192"):
        entry(afis.load_image(pixels, dpi=250))  # 16384 pixels wide at 500 ppi


@pytest.mark.parametrize(
    ("name", "pixels"),
    [
        ("white", np.full((300, 300), 255, np.uint8)),
        ("black", np.zeros((300, 300), np.uint8)),
        ("grey", np.full((300, 300), 128, np.uint8)),
        ("float white", np.ones((300, 300), np.float32)),
    ],
)
def test_a_blank_image_gives_an_empty_template_with_quality_zero(entry, name, pixels):
    assert_empty_template(entry(pixels), (300, 300))


@pytest.mark.parametrize("shape", [(40, 8192), (8192, 40)])
def test_an_extreme_aspect_ratio_gives_a_template(entry, shape):
    height, width = shape
    yy, xx = np.mgrid[0:height, 0:width]
    pixels = (127 + 100 * np.cos(2 * np.pi * (xx + yy) / 9)).astype(np.uint8)
    template = entry(pixels)
    assert (template.height, template.width) == shape
    assert np.all(template.x < width) and np.all(template.y < height)


@pytest.mark.parametrize("seed", [0, 7])
def test_uniform_noise_gives_a_template(entry, seed):
    pixels = np.random.default_rng(seed).integers(0, 256, (300, 300), dtype=np.uint8)
    template = entry(pixels)
    assert (template.height, template.width) == (300, 300)
    assert template.image_quality < 50  # noise is not a good print
    assert Template.from_bytes(template.to_bytes()) == template


@pytest.mark.parametrize("cell", [1, 4, 8, 32])
def test_a_checkerboard_gives_a_template(entry, cell):
    yy, xx = np.mgrid[0:300, 0:300]
    pixels = (((xx // cell + yy // cell) % 2) * 255).astype(np.uint8)
    template = entry(pixels)
    assert (template.height, template.width) == (300, 300)


@pytest.mark.parametrize("axis", [0, 1])
def test_a_single_pixel_line_gives_a_template(entry, axis):
    pixels = np.full((300, 300), 255, np.uint8)
    if axis == 0:
        pixels[150, :] = 0
    else:
        pixels[:, 150] = 0
    template = entry(pixels)
    assert (template.height, template.width) == (300, 300)
    assert template.image_quality <= 5


def test_a_float_image_with_nan_is_refused(entry):
    pixels = np.full((100, 100), 0.5)
    pixels[3, 4] = np.nan
    with pytest.raises(ImageError, match="NaN"):
        entry(pixels)


def test_a_colour_array_is_refused(entry):
    with pytest.raises(ImageError, match="2-D"):
        entry(np.zeros((100, 100, 3), np.uint8))


@pytest.mark.parametrize(
    "pixels",
    [
        np.zeros((100, 100), complex),
        np.zeros((100, 100), object),
        np.full((100, 100), "a"),
        np.zeros((100, 100), "datetime64[s]"),
    ],
    ids=["complex", "object", "str", "datetime"],
)
def test_arrays_of_unusable_dtype_are_refused(entry, pixels):
    with pytest.raises(ImageError, match="dtype"):
        entry(pixels)


@pytest.mark.parametrize("source", [None, 42, 4.5, [[0] * 100] * 100, {"pixels": 1}], ids=repr)
def test_unsupported_python_types_are_type_errors(entry, source):
    with pytest.raises(TypeError, match="expects a path, bytes"):
        entry(source)


def test_a_non_contiguous_array_gives_the_template_of_its_copy(entry):
    wide = np.repeat(ridge_image(), 2, axis=1)
    view = wide[:, ::2]
    assert not view.flags.c_contiguous
    assert entry(view) == afis.extract(np.ascontiguousarray(view))
    assert np.array_equal(view, ridge_image())  # never written to


@pytest.mark.parametrize("dpi", [0, -500, float("nan"), float("inf"), 10, 1e6])
def test_an_unusable_dpi_is_refused(dpi):
    with pytest.raises(ImageError, match="dpi"):
        afis.extract(ridge_image(), dpi=dpi)


@pytest.mark.parametrize("dpi", ["500", [500], True])
def test_a_dpi_of_the_wrong_type_is_a_type_error(dpi):
    with pytest.raises(TypeError, match="dpi"):
        afis.extract(ridge_image(), dpi=dpi)


def test_options_of_the_wrong_type_are_refused():
    with pytest.raises((TypeError, AttributeError)):
        afis.extract(ridge_image(), options={"max_minutiae": 5})


def test_extract_many_stops_at_a_bad_item():
    with pytest.raises(TypeError):
        afis.extract_many([ridge_image(), None], threads=2)


# ------------------------------------------------------------------ native core directly


@pytest.mark.parametrize(
    "pixels",
    [
        np.zeros((64, 64), np.float32),
        np.zeros((64, 64), np.int64),
        np.zeros((64, 64), np.uint16),
        np.zeros((64, 64), bool),
    ],
    ids=["float32", "int64", "uint16", "bool"],
)
def test_native_extract_refuses_a_wrong_dtype(pixels):
    with pytest.raises(TypeError, match="uint8"):
        _core.extract(pixels, 10, False)


@pytest.mark.parametrize("shape", [(64,), (64, 64, 1), (2, 64, 64), ()])
def test_native_extract_refuses_a_wrong_number_of_dimensions(shape):
    with pytest.raises(ValueError, match="2-D"):
        _core.extract(np.zeros(shape, np.uint8), 10, False)


@pytest.mark.parametrize("shape", [(0, 64), (64, 0), (0, 0), (31, 64), (8193, 40)])
def test_native_extract_refuses_sizes_outside_the_supported_range(shape):
    with pytest.raises(ValueError, match="outside the supported range"):
        _core.extract(np.zeros(shape, np.uint8), 10, True)


def test_native_extract_copies_non_contiguous_and_fortran_arrays():
    image = ridge_image(96, 128)
    expected = _core.extract(image, 150, False)
    for variant in (np.asfortranarray(image), np.repeat(image, 2, axis=1)[:, ::2]):
        result = _core.extract(variant, 150, False)
        assert np.array_equal(result["x"], expected["x"])
        assert np.array_equal(result["direction"], expected["direction"])


def test_native_extract_refuses_a_negative_max_minutiae():
    with pytest.raises(ValueError, match="max_minutiae"):
        _core.extract(ridge_image(), -1, False)


@pytest.mark.parametrize("source", [None, [[1, 2], [3, 4]], "image"])
def test_native_extract_refuses_non_arrays(source):
    with pytest.raises(TypeError):
        _core.extract(source, 10, False)


def test_native_extract_refuses_a_max_minutiae_beyond_int():
    with pytest.raises(TypeError):
        _core.extract(ridge_image(), 10**12, False)


@pytest.mark.parametrize("scale", [0.0, -1.0, float("nan"), float("inf"), float("-inf")])
def test_native_resample_refuses_a_scale_that_is_not_positive_and_finite(scale):
    with pytest.raises(ValueError, match="scale"):
        _core.resample(np.zeros((10, 10), np.uint8), scale)


@pytest.mark.parametrize("shape", [(0, 5), (5, 0), (0, 0)])
@pytest.mark.parametrize("scale", [0.5, 2.0])
def test_native_resample_of_an_empty_array_is_refused_or_empty(shape, scale):
    result = run_isolated(
        f"""
        try:
            out = _core.resample(np.zeros({shape}, np.uint8), {scale})
        except ValueError:
            print("refused")
        else:
            print("empty" if 0 in out.shape else f"invented {{out.shape}}")
        """
    )
    assert result.returncode == 0, f"crashed with {result.returncode}: {result.stderr[-2000:]}"
    assert result.stdout.strip() in ("refused", "empty")


@pytest.mark.parametrize("scale", [1e9, 1e20])
def test_native_resample_refuses_an_output_beyond_the_supported_size(scale):
    with pytest.raises((ValueError, MemoryError)):
        _core.resample(np.zeros((4, 4), np.uint8), scale)


@pytest.mark.parametrize(
    "pixels",
    [np.zeros((8, 8), np.float64), np.zeros((8, 8), bool), np.zeros((2, 8, 8), np.uint8)],
    ids=["float", "bool", "3-D"],
)
def test_native_thin_and_skeleton_minutiae_refuse_wrong_arrays(pixels):
    with pytest.raises((TypeError, ValueError)):
        _core.thin(pixels)
    with pytest.raises((TypeError, ValueError)):
        _core.skeleton_minutiae(pixels, True)


SHAPES = [(0, 5), (5, 0), (0, 0), (1, 1), (2, 2), (3, 3), (1, 50), (50, 1), (64, 64), (37, 91)]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("seed", range(4))
def test_native_thin_survives_random_binary_images(shape, seed):
    rng = np.random.default_rng(seed)
    binary = (rng.random(shape) < rng.uniform(0.1, 0.9)).astype(np.uint8)
    skeleton = _core.thin(binary)
    assert skeleton.shape == binary.shape and skeleton.dtype == np.uint8
    assert not (skeleton.astype(bool) & ~binary.astype(bool)).any()


@pytest.mark.parametrize("filtered", [False, True])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("seed", range(4))
def test_native_skeleton_minutiae_survives_random_images(shape, seed, filtered):
    rng = np.random.default_rng(seed)
    binary = (rng.random(shape) < rng.uniform(0.1, 0.9)).astype(np.uint8)
    for skeleton in (binary, _core.thin(binary), np.ones(shape, np.uint8)):
        found = _core.skeleton_minutiae(skeleton, filter=filtered)
        n = len(found["x"])
        assert all(len(found[k]) == n for k in ("y", "direction", "type", "quality"))
        if n:
            assert found["x"].max() < shape[1] and found["y"].max() < shape[0]
            assert np.all((found["direction"] >= 0) & (found["direction"] < 2 * np.pi))
            assert set(found["type"].tolist()) <= {1, 2}


def test_native_functions_survive_extreme_values_in_a_child_process():
    """Everything above once more in a child interpreter, so a crash shows as a failure
    rather than killing the test run (the fuzz here is wider than the in-process cases)."""
    result = run_isolated(
        """
        for seed in range(60):
            rng = np.random.default_rng(seed)
            h, w = (int(v) for v in rng.integers(0, 80, 2))
            binary = (rng.random((h, w)) < rng.uniform(0.05, 0.95)).astype(np.uint8) * 255
            skeleton = _core.thin(binary)
            for filtered in (False, True):
                _core.skeleton_minutiae(binary, filtered)
                _core.skeleton_minutiae(skeleton, filtered)
            if min(h, w) >= 32:
                _core.extract(binary, 150, True)
        print("survived")
        """
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "survived"
