"""ISO/IEC 19794-4 finger image records (2005 and 2011 editions) and WSQ encoding.

Shared data: the 1,032 MOSIP mock-MDS records (ISO/IEC 19794-4:2011, JPEG 2000 or WSQ
inside) and the SourceAFIS WSQ file with its reference decoding.
"""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from afis._fuzz import fuzz
from afis.errors import FormatError, ImageError
from afis.image import FingerprintImage, encode_wsq, load_image
from afis.interchange import iso19794_4, iso19794_4_2005, iso19794_4_2011
from afis.interchange.iso19794_4_2005 import FingerImageRecord2005, FingerImageView2005
from afis.interchange.iso19794_4_2011 import (
    CertificationBlock,
    ExtendedDataBlock,
    FingerImageRecord2011,
    FingerImageRepresentation2011,
    QualityBlock,
)

MOSIP = "mosip_mockmds_iso19794-4"
#: Finger names used in the MOSIP file names -> ISO finger position codes.
POSITIONS = {
    "Finger_UKNOWN": 0,
    "Right_Thumb": 1,
    "Right_Index": 2,
    "Right_Middle": 3,
    "Right_Ring": 4,
    "Right_Little": 5,
    "Left_Thumb": 6,
    "Left_Index": 7,
    "Left_Middle": 8,
    "Left_Ring": 9,
    "Left_Little": 10,
}


def ridges(height: int = 96, width: int = 80, ppi: float = 500.0) -> FingerprintImage:
    """A small synthetic print: oblique sinusoidal ridges."""
    yy, xx = np.mgrid[0:height, 0:width]
    pixels = np.clip(128 + 100 * np.sin(xx / 2.0 + yy / 5.0), 0, 255).astype(np.uint8)
    return FingerprintImage(pixels, ppi)


def mosip_files(root: Path) -> list[Path]:
    files = sorted((root / MOSIP).rglob("*.iso"))
    if not files:
        pytest.skip(f"{root / MOSIP} holds no records")
    return files


def expected_position(path: Path) -> int:
    name = re.sub(r"^\d+", "", path.stem).removesuffix("_wsq")
    return POSITIONS[name]


def expected_codec(path: Path) -> str:
    """MOSIP's authentication samples are WSQ or lossy JPEG 2000, the others lossless."""
    if path.parent.name != "Default_Auth":
        return "jpeg2000-lossless"
    return "wsq" if path.stem.endswith("_wsq") else "jpeg2000"


# --------------------------------------------------------------------- the shared records


@pytest.mark.datasets
def test_every_mosip_record_parses_and_rewrites_identically(datasets_root):
    files = mosip_files(datasets_root)
    assert len(files) == 1032
    codecs: dict[str, int] = {}
    for path in files:
        data = path.read_bytes()
        record = iso19794_4.decode(data)
        assert isinstance(record, FingerImageRecord2011), path
        assert record.to_bytes() == data, path
        assert len(record.representations) == 1, path
        rep = record.representations[0]
        assert rep.position == expected_position(path), path
        assert rep.image_resolution == (500, 500) and rep.scale_units == 1, path
        assert rep.bit_depth == 8 and rep.impression == 29, path
        assert rep.codec == expected_codec(path), path
        assert 100 <= rep.width <= 600 and 100 <= rep.height <= 700, path
        codecs[rep.codec] = codecs.get(rep.codec, 0) + 1
    assert codecs == {"jpeg2000-lossless": 1010, "jpeg2000": 11, "wsq": 11}


@pytest.mark.datasets
def test_every_mosip_image_decodes_to_its_declared_size(datasets_root):
    for path in mosip_files(datasets_root):
        images = iso19794_4.load_finger_images(path.read_bytes())
        rep = iso19794_4.decode(path.read_bytes()).representations[0]
        assert len(images) == 1
        image = images[0]
        assert (image.width, image.height) == (rep.width, rep.height), path
        assert image.ppi == 500.0, path
        assert 20 < float(image.pixels.mean()) < 250, path  # a print, not a blank


@pytest.mark.datasets
def test_mosip_registration_records_carry_certification_and_extended_data(datasets_root):
    folder = datasets_root / MOSIP / "Default_Registration"
    files = sorted(folder.glob("*.iso"))
    if not files:
        pytest.skip(f"{folder} is missing")
    for path in files:
        record = iso19794_4_2011.decode(path.read_bytes())
        assert record.certification_flag == 1
        rep = record.representations[0]
        assert rep.certification_blocks == (CertificationBlock(64, 2), CertificationBlock(64, 2))
        assert [b.type for b in rep.extended_data] == [1, 2, 3]
        comment = rep.extended_data[2].data.decode("ascii")
        assert comment == f"This is of Finger ({rep.position})"
        assert rep.quality_blocks[0].score <= 100


@pytest.mark.datasets
def test_mosip_wsq_record_matches_its_own_wsq_decoding(datasets_root):
    path = datasets_root / MOSIP / "Default_Auth" / "Right_Middle_wsq.iso"
    if not path.exists():
        pytest.skip(f"{path} is missing")
    record = iso19794_4.decode(path.read_bytes())
    direct = load_image(record.representations[0].image_data)
    via_record = record.image(0)
    np.testing.assert_array_equal(direct.pixels, via_record.pixels)
    assert (via_record.width, via_record.height) == (238, 357)


# ----------------------------------------------------------------------- write, then read


LOSSLESS = ["raw", "png", "jpeg2000-lossless"]
LOSSY = {"wsq": (6.0, 60), "jpeg2000": (6.0, 60)}  # measured on ridges(): mean ~2-3


@pytest.mark.parametrize("edition", [2005, 2011])
@pytest.mark.parametrize("codec", LOSSLESS + list(LOSSY))
def test_write_then_read_keeps_pixels_resolution_and_position(edition, codec):
    image = ridges(ppi=1000.0)
    data = iso19794_4.encode([image], edition=edition, codec=codec, positions=[7])
    record = iso19794_4.decode(data)
    assert record.to_bytes() == data
    (decoded,) = iso19794_4.load_finger_images(data)
    assert decoded.ppi == 1000.0
    assert decoded.pixels.shape == image.pixels.shape
    diff = np.abs(decoded.pixels.astype(int) - image.pixels)
    if codec in LOSSLESS:
        assert diff.max() == 0
    else:
        mean_limit, max_limit = LOSSY[codec]
        assert diff.mean() < mean_limit and diff.max() <= max_limit
    if edition == 2005:
        assert record.views[0].position == 7
    else:
        assert record.representations[0].position == 7


def test_2005_record_numbers_the_views_of_each_position():
    images = [ridges(), ridges(64, 48), ridges(50, 60)]
    record = FingerImageRecord2005.from_images(images, codec="png", positions=[2, 3, 2])
    views = record.views
    assert [(v.position, v.view_count, v.view_number) for v in views] == [
        (2, 2, 1),
        (3, 1, 1),
        (2, 2, 2),
    ]
    again = iso19794_4_2005.decode(record.to_bytes())
    assert again == record
    assert [again.image(i).pixels.shape for i in range(3)] == [(96, 80), (64, 48), (50, 60)]


def test_2005_record_refuses_images_of_different_resolutions():
    with pytest.raises(ValueError, match="different resolutions"):
        FingerImageRecord2005.from_images([ridges(ppi=500.0), ridges(ppi=1000.0)])


def test_2011_record_keeps_optional_blocks_through_a_round_trip():
    image = ridges()
    rep = FingerImageRepresentation2011(
        position=4,
        width=image.width,
        height=image.height,
        image_data=image.pixels.tobytes(),
        compression=0,
        quality_blocks=(QualityBlock(77, 0x0F, 0x1234), QualityBlock(255, 1, 2)),
        certification_blocks=(CertificationBlock(3, 1),),
        extended_data=(ExtendedDataBlock(3, b"comment"), ExtendedDataBlock(1, b"\x01\x02")),
    )
    record = FingerImageRecord2011(representations=(rep, rep), certification_flag=1)
    data = record.to_bytes()
    again = iso19794_4_2011.decode(data)
    assert again == record
    assert again.position_count == 1
    np.testing.assert_array_equal(again.image(1).pixels, image.pixels)


def test_sixteen_bit_raw_images_are_reduced_to_eight_bits():
    image = ridges()
    wide = (image.pixels.astype(">u2") * 257).tobytes()
    rep = FingerImageRepresentation2011(
        position=1,
        width=image.width,
        height=image.height,
        image_data=wide,
        compression=0,
        bit_depth=16,
    )
    decoded = FingerImageRecord2011(representations=(rep,)).image(0)
    np.testing.assert_array_equal(decoded.pixels, image.pixels)


def test_centimetre_resolution_is_converted_to_whole_ppi():
    image = ridges()
    record = FingerImageRecord2005(
        views=(FingerImageView2005(1, 1, 1, 50, 0, image.width, image.height, b""),),
        scale_units=2,
        image_resolution=(197, 197),
        compression=0,
    )
    assert record.ppi == 500.0


# -------------------------------------------------------------- image payload inconsistencies


def test_a_payload_of_another_format_than_declared_is_a_format_error():
    image = ridges()
    png = iso19794_4.encode([image], edition=2011, codec="png")
    record = iso19794_4_2011.decode(png)
    rep = record.representations[0]
    as_wsq = FingerImageRecord2011(representations=(_replace(rep, compression=2),))
    with pytest.raises(FormatError, match=r"representation 1: image data: expected WSQ data"):
        as_wsq.image(0)


def test_a_payload_of_another_size_than_declared_is_a_format_error():
    rep = iso19794_4_2011.decode(iso19794_4.encode([ridges()])).representations[0]
    wrong = FingerImageRecord2011(representations=(_replace(rep, width=81),))
    with pytest.raises(FormatError, match=r"expected an image of the declared 81x96 pixels"):
        wrong.image(0)


def test_raw_data_of_the_wrong_length_is_a_format_error():
    rep = iso19794_4_2011.decode(iso19794_4.encode([ridges()], codec="raw")).representations[0]
    short = FingerImageRecord2011(representations=(_replace(rep, image_data=b"\x00" * 10),))
    with pytest.raises(FormatError, match=r"expected 7680 bytes of uncompressed 8-bit 80x96"):
        short.image(0)


def test_a_corrupt_payload_is_a_format_error_naming_the_record():
    data = bytearray(iso19794_4.encode([ridges()], codec="png"))
    data[-30:-20] = b"\xff" * 10  # inside the PNG's last chunks
    with pytest.raises(FormatError, match=r"ISO 19794-4:2011 record, representation 1"):
        iso19794_4.load_finger_images(bytes(data))


def test_non_square_pixels_are_refused():
    image = ridges()
    record = FingerImageRecord2005(
        views=(FingerImageView2005(1, 1, 1, 50, 0, image.width, image.height, b""),),
        image_resolution=(500, 250),
        compression=0,
    )
    with pytest.raises(FormatError, match="square pixels"):
        record.image(0)


def _replace(rep, **changes):
    import dataclasses

    return dataclasses.replace(rep, **changes)


# ---------------------------------------------------------------------------- hostile bytes


def small_2011() -> bytes:
    return iso19794_4.encode([ridges(40, 32)], edition=2011, codec="png", quality=60)


def small_2005() -> bytes:
    return iso19794_4.encode([ridges(40, 32), ridges(24, 20)], edition=2005, codec="raw")


def assert_format_error(data: bytes, *fragments: str) -> FormatError:
    with pytest.raises(FormatError) as info:
        iso19794_4.decode(data)
    message = str(info.value)
    assert "ISO 19794-4" in message and "expected" in message, message
    for fragment in fragments:
        assert fragment in message, message
    return info.value


def patch(data: bytes, offset: int, value: int, size: int) -> bytes:
    return data[:offset] + value.to_bytes(size, "big") + data[offset + size :]


@pytest.mark.parametrize("make", [small_2005, small_2011], ids=["2005", "2011"])
def test_wrong_magic_and_version(make):
    data = make()
    assert_format_error(b"FIX\x00" + data[4:], "format identifier")
    assert_format_error(data[:4] + b"030\x00" + data[8:], "version")
    assert_format_error(b"", "format identifier")
    with pytest.raises(TypeError):
        iso19794_4.decode("FIR")  # type: ignore[arg-type]


@pytest.mark.parametrize("make", [small_2005, small_2011], ids=["2005", "2011"])
def test_truncation_at_every_offset_is_a_format_error(make):
    data = make()
    for n in range(len(data)):
        with pytest.raises(FormatError):
            iso19794_4.decode(data[:n])
    with pytest.raises(FormatError):
        iso19794_4.decode(data + b"\x00")  # one byte too many


@pytest.mark.datasets
def test_truncation_of_a_real_record_at_every_offset(datasets_root):
    path = min(mosip_files(datasets_root), key=lambda p: p.stat().st_size)
    data = path.read_bytes()
    for n in range(len(data)):
        with pytest.raises(FormatError):
            iso19794_4.decode(data[:n])


def lies(true_value: int, size: int) -> list[int]:
    top = (1 << (8 * size)) - 1
    return sorted({0, 1, max(true_value - 1, 0), true_value + 1, top} - {true_value})


def test_2005_lying_lengths():
    data = small_2005()
    record_length = int.from_bytes(data[8:14], "big")
    for lie in lies(record_length, 6):
        assert_format_error(patch(data, 8, lie, 6), "record length")
    first_view = int.from_bytes(data[32:36], "big")
    for lie in lies(first_view, 4):
        assert_format_error(patch(data, 32, lie, 4))
    second = 32 + first_view
    second_view = int.from_bytes(data[second : second + 4], "big")
    for lie in lies(second_view, 4):
        assert_format_error(patch(data, second, lie, 4), "view")


def test_2011_lying_lengths():
    data = small_2011()
    for lie in lies(len(data), 4):
        assert_format_error(patch(data, 8, lie, 4), "record length")
    rep_length = int.from_bytes(data[16:20], "big")
    for lie in lies(rep_length, 4):
        assert_format_error(patch(data, 16, lie, 4), "representation")
    # the image data length: after 42 header bytes and one 5-byte quality block
    at = 16 + 42
    image_length = int.from_bytes(data[at : at + 4], "big")
    assert image_length == len(data) - at - 4
    for lie in lies(image_length, 4):
        assert_format_error(patch(data, at, lie, 4), "representation 1")


def test_2011_lying_extended_block_length():
    record = FingerImageRecord2011(
        representations=(
            FingerImageRepresentation2011(
                position=1,
                width=2,
                height=2,
                image_data=b"\x00" * 4,
                compression=0,
                extended_data=(ExtendedDataBlock(3, b"abcdef"),),
            ),
        )
    )
    data = record.to_bytes()
    at = len(data) - 6 - 2  # the block's length field
    for lie in lies(10, 2):
        assert_format_error(patch(data, at, lie, 2), "extended data block")
    assert_format_error(patch(data, at - 2, 0, 2), "extended data block 1")  # type 0


def test_huge_counts_are_format_errors():
    data = small_2011()
    assert_format_error(patch(data, 12, 0xFFFF, 2), "representations")
    assert_format_error(patch(data, 12, 0, 2), "number of representations")
    assert_format_error(patch(data, 16 + 18, 255, 1), "quality blocks")
    data5 = small_2005()
    assert_format_error(patch(data5, 18, 255, 1))
    assert_format_error(patch(data5, 18, 0, 1), "number of views")


@pytest.mark.parametrize(
    ("offset", "value", "field"),
    [
        (14, 2, "certification flag"),
        # offsets in a representation with one quality block and no certification blocks
        (16 + 26, 3, "scale units"),
        (16 + 35, 0, "bit depth"),
        (16 + 36, 7, "compression algorithm"),
        (16 + 37, 16, "impression type"),
        (16 + 24, 60, "finger position"),
        (16 + 19, 101, "quality block 1 score"),
    ],
)
def test_undefined_2011_codes_are_format_errors(offset, value, field):
    data = small_2011()
    assert_format_error(patch(data, offset, value, 1), field)


@pytest.mark.parametrize(
    ("offset", "value", "size", "field"),
    [
        (19, 3, 1, "scale units"),
        (28, 0, 1, "pixel depth"),
        (29, 6, 1, "image compression algorithm"),
        (16, 11, 2, "image acquisition level"),
        (32 + 4, 17, 1, "finger position"),
        (32 + 7, 101, 1, "finger image quality"),
        (32 + 8, 10, 1, "impression type"),
        (32 + 9, 0, 2, "line lengths"),
    ],
)
def test_undefined_2005_codes_are_format_errors(offset, value, size, field):
    assert_format_error(patch(small_2005(), offset, value, size), field)


def test_writers_refuse_values_that_do_not_fit_their_fields():
    image = ridges()
    view = FingerImageView2005(300, 1, 1, 50, 0, image.width, image.height, b"")
    with pytest.raises(FormatError, match=r"view 1: position: expected 0\.\.255, got 300"):
        FingerImageRecord2005(views=(view,)).to_bytes()
    rep = FingerImageRepresentation2011(position=1, width=70000, height=2, image_data=b"")
    with pytest.raises(FormatError, match=r"representation 1: width: expected 0\.\.65535"):
        FingerImageRecord2011(representations=(rep,)).to_bytes()
    rep = FingerImageRepresentation2011(position=1, width=1, height=1, image_data="x")
    with pytest.raises(FormatError, match="image data: expected bytes"):
        FingerImageRecord2011(representations=(rep,)).to_bytes()
    with pytest.raises(FormatError, match="certification blocks"):
        FingerImageRecord2011(
            representations=(
                FingerImageRepresentation2011(
                    position=1,
                    width=1,
                    height=1,
                    image_data=b"",
                    certification_blocks=(CertificationBlock(1, 1),),
                ),
            )
        ).to_bytes()


# ------------------------------------------------------------------------------------- WSQ


@pytest.mark.datasets
def test_sourceafis_wsq_decodes_within_a_grey_level_of_its_reference(datasets_root):
    folder = datasets_root / "sourceafis_java_testresources"
    if not (folder / "wsq-original.wsq").exists():
        pytest.skip(f"{folder} is missing")
    decoded = load_image(folder / "wsq-original.wsq")
    reference = load_image(folder / "wsq-converted.png")
    assert decoded.pixels.shape == reference.pixels.shape == (768, 832)
    diff = np.abs(decoded.pixels.astype(int) - reference.pixels.astype(int))
    # measured: mean 0.0, max 0 (the same NBIS decoder made the reference)
    assert diff.mean() < 0.5 and diff.max() <= 2


@pytest.mark.datasets
def test_wsq_encoding_of_a_real_print_at_two_bit_rates(datasets_root):
    path = datasets_root / "sourceafis_java_testresources" / "probe.png"
    if not path.exists():
        pytest.skip(f"{path} is missing")
    image = load_image(path, dpi=569)
    results = {}
    for bitrate in (0.75, 2.25):
        data = encode_wsq(image, bitrate)
        assert data[:2] == b"\xff\xa0"
        assert f"WSQ_BITRATE {bitrate:.6f}".encode() in data[:200]
        back = load_image(data)
        assert back.ppi == 569.0  # written into NIST_COM, read back
        diff = np.abs(back.pixels.astype(int) - image.pixels)
        results[bitrate] = (len(data), diff.mean())
    # measured on this 388x374 print: 9,718 bytes, mean 4.23 / 29,304 bytes, mean 1.31
    assert results[0.75][0] < results[2.25][0]
    assert results[0.75][1] < 5.0 and results[2.25][1] < 1.6
    assert results[2.25][1] < results[0.75][1]


def test_wsq_encode_accepts_arrays_and_refuses_bad_arguments():
    pixels = ridges().pixels
    assert load_image(encode_wsq(pixels)).pixels.shape == pixels.shape
    for rate in (0.0, 0.05, 6.5, float("nan"), float("inf"), -1.0):
        with pytest.raises(ImageError, match="bitrate"):
            encode_wsq(pixels, rate)
    with pytest.raises(TypeError):
        encode_wsq(pixels, "0.75")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        encode_wsq(pixels.tolist())  # type: ignore[arg-type]
    with pytest.raises(ImageError):
        encode_wsq(np.zeros((8, 8), np.uint8))  # below the minimum size
    with pytest.raises(ImageError):
        encode_wsq(np.zeros((20, 20, 3), np.uint8))  # not greyscale
    with pytest.raises(ImageError):
        encode_wsq(np.full((20, 20), np.nan))


def test_wsq_encoder_failure_is_an_image_error():
    # NBIS refuses small square images (status -33 below about 30x30 pixels); the worker
    # reports it as an ImageError and stays usable
    rng = np.random.default_rng(5)
    with pytest.raises(ImageError, match="WSQ encoder failed"):
        encode_wsq(rng.integers(0, 256, (20, 20)).astype(np.uint8))
    assert load_image(encode_wsq(ridges())).pixels.shape == (96, 80)  # worker still fine


def test_wsq_encoder_crash_becomes_an_image_error(monkeypatch):
    from afis import image as image_module

    crashing = image_module._WsqWorker()
    crashing.command = (sys.executable, "-c", "import os; os.abort()")
    monkeypatch.setattr(image_module, "_wsq_worker", crashing)
    with pytest.raises(ImageError, match="encoder crashed"):
        encode_wsq(ridges())


@pytest.mark.parametrize("seed", [1, 2])
def test_wsq_encoding_of_random_arrays_never_crashes(seed):
    rng = np.random.default_rng(seed)
    for _ in range(10):
        height, width = (int(v) for v in rng.integers(16, 200, 2))  # small ones may fail
        pixels = rng.integers(0, 256, (height, width)).astype(np.uint8)
        if rng.random() < 0.3:
            pixels[:] = pixels[0, 0]  # flat images too
        try:
            data = encode_wsq(pixels, float(rng.uniform(0.1, 6.0)))
        except ImageError:
            continue
        assert load_image(data).pixels.shape == (height, width)


# ------------------------------------------------------------------------------ bounded fuzz


def _fuzz_seeds() -> list[bytes]:
    cert = FingerImageRecord2011(
        representations=(
            FingerImageRepresentation2011(
                position=2,
                width=3,
                height=2,
                image_data=bytes(range(6)),
                compression=0,
                certification_blocks=(CertificationBlock(1, 2),),
                extended_data=(ExtendedDataBlock(3, b"hello"),),
                quality_blocks=(QualityBlock(50, 1, 2),),
            ),
        ),
        certification_flag=1,
    ).to_bytes()
    return [small_2005(), small_2011(), cert]


@pytest.mark.parametrize("decoder", ["iso19794_4", "iso19794_4_2005", "iso19794_4_2011"])
def test_bounded_fuzz_of_the_record_parsers(decoder):
    report = fuzz(decoder, _fuzz_seeds(), 3000, seed=11)
    assert report.ok(), report.summary() + repr(report.failures[:3])
    assert report.rejected > 1000 and report.accepted > 10


def test_bounded_fuzz_of_records_with_their_images():
    report = fuzz("iso19794_4_images", _fuzz_seeds(), 400, seed=12, slow_ms=3000)
    assert report.ok(), report.summary() + repr(report.failures[:3])


def test_bounded_fuzz_of_wsq_decoding():
    buffer = io.BytesIO()
    Image.fromarray(ridges(40, 48).pixels).save(buffer, format="PNG")
    seeds = [encode_wsq(ridges(40, 48)), buffer.getvalue()]
    report = fuzz("image", seeds, 1000, seed=13, slow_ms=5000)
    assert report.ok(), report.summary() + repr(report.failures[:3])


def test_bit_packed_data_is_read_at_8_bits_only():
    from afis.interchange._images import decode_image

    pixels = bytes(range(256)) * 2
    image = decode_image(pixels, "raw-bitpacked", width=32, height=16, ppi=500.0, record="r")
    assert image.pixels.shape == (16, 32) and image.pixels[0, :3].tolist() == [0, 1, 2]
    with pytest.raises(FormatError, match=r"r: pixel depth: expected 8 bits \(bit-packed"):
        decode_image(
            pixels,
            "raw-bitpacked",
            width=3,
            height=2,
            ppi=500.0,
            depth=1,
            record="r",
            depth_field="pixel depth",
        )
