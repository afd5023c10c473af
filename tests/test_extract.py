"""Tests of the extraction API: ``afis.extract``, ``extract_many``, ``trace``, options, the CLI."""

from __future__ import annotations

import json
import os
import statistics
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import afis
from afis import ExtractOptions, FingerPosition, Template
from afis.cli import main as cli_main
from afis.extract.render import render_stages

FVC_MANIFEST = json.loads((Path(__file__).parent.parent / "datasets" / "fvc.json").read_text())
FVC_SETS = list(FVC_MANIFEST["sets"])


# -------------------------------------------------------------------------------- FVC sets


class FvcCache:
    """Each FVC set loaded and extracted once per module."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._sets: dict[str, tuple[list[afis.FingerprintImage], list[Template]]] = {}

    def get(self, name: str) -> tuple[list[afis.FingerprintImage], list[Template]]:
        if name not in self._sets:
            dpi = FVC_MANIFEST["sets"][name]["dpi"]
            files = sorted((self._root / name).glob("*.tif"))
            if not files:
                pytest.skip(f"{self._root / name} holds no FVC images")
            images = [afis.load_image(p, dpi=dpi) for p in files]
            templates = afis.extract_many(images, threads=os.cpu_count() or 2)
            self._sets[name] = (images, templates)
        return self._sets[name]


@pytest.fixture(scope="module")
def fvc(datasets_root) -> FvcCache:
    return FvcCache(datasets_root)


@pytest.mark.datasets
@pytest.mark.parametrize("name", FVC_SETS)
def test_every_fvc_image_gives_a_template_on_the_500_ppi_grid(fvc, name):
    entry = FVC_MANIFEST["sets"][name]
    images, templates = fvc.get(name)
    assert len(images) == len(templates) == 80
    width, height = entry["size"]
    scale = 500 / entry["dpi"]
    for image, template in zip(images, templates, strict=True):
        assert (image.width, image.height) == (width, height)
        assert image.ppi == entry["dpi"]
        assert (template.width, template.height) == (round(width * scale), round(height * scale))
        assert template.resolution == 500.0 and template.source_resolution == entry["dpi"]
        assert 0 <= template.image_quality <= 100
        assert np.all(template.x < template.width) and np.all(template.y < template.height)
        assert np.all(template.singular_x < template.width)
        assert np.all(template.singular_y < template.height)
        direction = np.asarray(template.direction)
        assert np.all((direction >= 0) & (direction < 2 * np.pi))


@pytest.mark.datasets
@pytest.mark.parametrize("name", FVC_SETS)
def test_median_minutiae_count_of_each_fvc_set_is_between_25_and_80(fvc, name):
    counts = [len(t) for t in fvc.get(name)[1]]
    median = statistics.median(counts)
    assert 25 <= median <= 80, (
        f"{name}: median {median} minutiae (min {min(counts)}, max {max(counts)})"
    )


@pytest.mark.datasets
def test_fvc2002_db2_is_recorded_at_569_ppi_and_shrunk_to_500(fvc):
    templates = fvc.get("fvc2002/DB2_B")[1]
    for template in templates:
        assert template.source_resolution == 569.0
        assert template.width == round(296 * 500 / 569) == 260
        assert template.height == round(560 * 500 / 569)


@pytest.mark.datasets
@pytest.mark.parametrize("name", ["fvc2000/DB1_B", "fvc2002/DB2_B", "fvc2002/DB4_B"])
def test_extracted_templates_survive_a_round_trip_through_bytes(fvc, name):
    for template in fvc.get(name)[1]:
        data = template.to_bytes()
        again = Template.from_bytes(data)
        assert again == template
        assert again.to_bytes() == data


@pytest.mark.datasets
def test_fvc_prints_show_cores_and_deltas(fvc):
    kinds = [
        int(k) for name in FVC_SETS for t in fvc.get(name)[1] for k in np.asarray(t.singular_type)
    ]
    assert kinds.count(afis.SingularType.CORE) > 100
    assert kinds.count(afis.SingularType.DELTA) > 20


# ------------------------------------------------------------------------------ determinism


@pytest.fixture(scope="module")
def prints(synthetic) -> list[np.ndarray]:
    """Four synthetic prints (320x400, 500 ppi) with about 25-30 minutiae each."""
    return [synthetic.fingerprint(seed)[0] for seed in (3, 5, 8, 13)]


def test_the_same_image_gives_byte_identical_templates(prints):
    for image in prints:
        assert afis.extract(image).to_bytes() == afis.extract(image.copy()).to_bytes()


def test_extract_many_on_threads_equals_sequential_extraction_in_order(prints):
    images = prints + prints[::-1]
    sequential = [afis.extract(i).to_bytes() for i in images]
    assert len(set(sequential[:4])) == 4  # the images really differ
    threaded = [t.to_bytes() for t in afis.extract_many(images, threads=2)]
    assert threaded == sequential
    assert [t.to_bytes() for t in afis.extract_many(images, threads=1)] == sequential


def test_extract_many_accepts_any_iterable_and_empty_input(prints):
    assert afis.extract_many([]) == []
    assert afis.extract_many(iter(prints[:2]), threads=2) == [afis.extract(i) for i in prints[:2]]


@pytest.mark.parametrize("threads", [0, -1])
def test_extract_many_refuses_a_thread_count_below_one(prints, threads):
    with pytest.raises(ValueError, match="threads"):
        afis.extract_many(prints[:2], threads=threads)


@pytest.mark.parametrize("threads", [2.5, "2", True])
def test_extract_many_refuses_a_thread_count_that_is_not_an_int(prints, threads):
    with pytest.raises(TypeError, match="threads"):
        afis.extract_many(prints[:2], threads=threads)


def test_extract_many_raises_the_error_of_a_bad_image(prints):
    with pytest.raises(afis.ImageError, match="empty"):
        afis.extract_many([prints[0], b"", prints[1]], threads=2)


def test_threads_extracting_at_once_get_the_sequential_results(prints):
    """The GIL is released in native work; concurrent calls must not disturb each other."""
    expected = [afis.extract(i).to_bytes() for i in prints]
    results: dict[int, list[bytes]] = {0: [], 1: []}
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def work(worker: int) -> None:
        try:
            barrier.wait()
            for _ in range(3):
                for k in range(worker, len(prints), 2):
                    results[worker].append(afis.extract(prints[k]).to_bytes())
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    assert results[0] == [expected[0], expected[2]] * 3
    assert results[1] == [expected[1], expected[3]] * 3


# ----------------------------------------------------------------------------------- trace


def test_trace_arrays_have_consistent_shapes_and_types(prints):
    image = prints[0]
    steps = afis.trace(image)
    height, width = image.shape
    for name in ("image", "mask", "enhanced", "binary", "skeleton"):
        assert getattr(steps, name).shape == (height, width), name
    assert steps.image.dtype == np.uint8 and np.array_equal(steps.image, image)
    assert steps.mask.dtype == bool and steps.binary.dtype == bool
    assert steps.skeleton.dtype == bool and steps.enhanced.dtype == np.float32
    blocks = (-(-height // steps.orientation_block), -(-width // steps.orientation_block))
    assert steps.orientation.shape == steps.coherence.shape == blocks
    cells = (-(-height // steps.period_block), -(-width // steps.period_block))
    assert steps.period.shape == steps.period_strength.shape == cells
    assert steps.orientation.dtype == steps.coherence.dtype == np.float32
    assert np.all((steps.orientation >= 0) & (steps.orientation < np.pi))
    assert np.all((steps.coherence >= 0) & (steps.coherence <= 1))
    assert not (steps.skeleton & ~steps.binary).any()
    raw = steps.raw_minutiae
    assert set(raw) >= {"x", "y", "direction", "type"}
    assert len({len(v) for v in raw.values()}) == 1
    assert len(raw["x"]) >= len(steps.template)  # filters only remove
    assert steps.quality["score"] == steps.template.image_quality
    assert steps.quality["minutiae"] == len(steps.template)


def test_trace_gives_the_same_template_as_extract(prints):
    for image in prints[:2]:
        assert afis.trace(image).template == afis.extract(image)


def test_trace_works_on_the_resampled_grid(prints):
    steps = afis.trace(prints[0], dpi=569)
    height, width = prints[0].shape
    expected = (round(height * 500 / 569), round(width * 500 / 569))
    assert steps.image.shape == steps.skeleton.shape == expected
    assert steps.template.source_resolution == 569.0
    assert steps.template == afis.extract(prints[0], dpi=569)


def test_render_stages_draws_every_stage_at_the_image_size(prints):
    pictures = render_stages(afis.trace(prints[1]))
    assert list(pictures) == [
        "01-image",
        "02-mask",
        "03-orientation",
        "04-frequency",
        "05-enhanced",
        "06-binary",
        "07-skeleton",
        "08-minutiae",
    ]
    height, width = prints[1].shape
    assert all(p.size == (width, height) for p in pictures.values())


def test_rendered_marks_sit_on_the_minutiae_and_the_mask_boundary(prints):
    from skimage.segmentation import find_boundaries

    from afis.extract import render

    steps = afis.trace(prints[1])
    pictures = render_stages(steps)
    outline = np.asarray(pictures["02-mask"], dtype=int)
    edge = find_boundaries(steps.mask, mode="thick")
    assert edge.any() and (outline[edge] == render._BOUNDARY).all()
    assert not (outline[~edge] == render._BOUNDARY).all(axis=1).any()

    marks = np.asarray(pictures["08-minutiae"], dtype=int)
    t = steps.template
    assert len(t) > 5
    hits = []
    for x, y, angle, kind in zip(t.x, t.y, t.direction, t.type, strict=True):
        # a point 7 pixels along the tail is in the minutia's colour
        px, py = round(x + 7 * np.cos(angle)), round(y - 7 * np.sin(angle))
        r, g, b = marks[min(max(py, 0), t.height - 1), min(max(px, 0), t.width - 1)]
        hits.append(b - g > 60 if kind == afis.MinutiaType.BIFURCATION else r - g > 60)
    assert np.mean(hits) > 0.9


# --------------------------------------------------------------------------------- options


def test_max_minutiae_keeps_the_best_quality_minutiae(prints):
    image = prints[0]
    full = afis.extract(image)
    assert len(full) > 10
    capped = afis.extract(image, options=ExtractOptions(max_minutiae=10))
    assert len(capped) == 10

    def rows(t):
        return {(int(x), int(y), int(q)) for x, y, q in zip(t.x, t.y, t.quality, strict=True)}

    kept, everything = rows(capped), rows(full)
    assert kept <= everything
    dropped = everything - kept
    assert min(q for *_, q in kept) >= max(q for *_, q in dropped)


def test_max_minutiae_zero_gives_an_empty_template(prints):
    template = afis.extract(prints[0], options=ExtractOptions(max_minutiae=0))
    assert len(template) == 0 and template.width == prints[0].shape[1]


@pytest.mark.parametrize(
    ("value", "error"),
    [(-1, ValueError), (1001, ValueError), (2.5, TypeError), (True, TypeError), ("10", TypeError)],
)
def test_invalid_max_minutiae_is_refused(value, error):
    with pytest.raises(error, match="max_minutiae"):
        ExtractOptions(max_minutiae=value)


def test_extract_options_defaults_and_dict():
    assert ExtractOptions().max_minutiae == 150
    assert ExtractOptions(max_minutiae=np.int64(7)).to_dict() == {"max_minutiae": 7}
    assert ExtractOptions(max_minutiae=1000).max_minutiae == 1000


@pytest.mark.parametrize("position", [11, -1, 255])
def test_invalid_finger_position_is_refused(prints, position):
    with pytest.raises(ValueError, match="finger_position"):
        afis.extract(prints[0], finger_position=position)


@pytest.mark.parametrize("position", [FingerPosition.LEFT_INDEX, 2, 0, 10])
def test_finger_position_is_recorded(prints, position):
    template = afis.extract(prints[0], finger_position=position)
    assert template.finger_position == FingerPosition(position)
    assert Template.from_bytes(template.to_bytes()).finger_position == FingerPosition(position)


# ------------------------------------------------------------------------------------- CLI


@pytest.fixture
def png_prints(tmp_path, prints) -> list[Path]:
    """Three synthetic prints as PNG files in their own folder."""
    folder = tmp_path / "images"
    folder.mkdir()
    paths = []
    for k, image in enumerate(prints[:3], start=1):
        path = folder / f"print_{k}.png"
        Image.fromarray(image).save(path)
        paths.append(path)
    return paths


def test_cli_extract_writes_a_template_and_the_stage_pictures(tmp_path, png_prints):
    out, debug = tmp_path / "out", tmp_path / "debug"
    image = png_prints[0]
    assert cli_main(["extract", str(image), "--out", str(out), "--debug-dir", str(debug)]) == 0
    target = out / "print_1.aft"
    template = Template.from_bytes(target.read_bytes())
    assert template == afis.extract(image)
    pictures = sorted(p.name for p in debug.glob("*.png"))
    assert len(pictures) == 8
    assert all(name.startswith("print_1.") for name in pictures)
    for picture in debug.glob("*.png"):
        with Image.open(picture) as im:
            assert im.format == "PNG" and im.size == (320, 400)
    assert not list(out.glob("*.part"))


def test_cli_extract_skips_existing_templates_unless_told_to_overwrite(tmp_path, png_prints):
    out = tmp_path / "out"
    image = str(png_prints[0])
    assert cli_main(["extract", image, "--out", str(out)]) == 0
    target = out / "print_1.aft"
    old = 1_000_000_000
    os.utime(target, ns=(old, old))
    assert cli_main(["extract", image, "--out", str(out)]) == 0
    assert target.stat().st_mtime_ns == old  # untouched
    assert cli_main(["extract", image, "--out", str(out), "--overwrite"]) == 0
    assert target.stat().st_mtime_ns != old
    assert Template.from_bytes(target.read_bytes()) == afis.extract(image)


def test_cli_extract_reports_a_corrupt_image_and_goes_on(tmp_path, png_prints, caplog):
    folder = png_prints[0].parent
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    out = tmp_path / "out"
    assert cli_main(["extract", str(folder), "--out", str(out)]) == 1
    assert sorted(p.name for p in out.iterdir()) == ["print_1.aft", "print_2.aft", "print_3.aft"]
    assert "broken.png" in caplog.text


def test_cli_extract_max_minutiae_and_dpi_are_applied(tmp_path, png_prints):
    out = tmp_path / "out"
    args = ["extract", str(png_prints[0]), "--out", str(out), "--max-minutiae", "5"]
    assert cli_main([*args, "--dpi", "569"]) == 0
    template = Template.from_bytes((out / "print_1.aft").read_bytes())
    assert len(template) == 5 and template.source_resolution == 569.0
    assert template.width == round(320 * 500 / 569)


def test_cli_show_draws_the_minutiae_at_the_image_size(tmp_path, png_prints, capsys):
    output = tmp_path / "shown.png"
    assert cli_main(["show", str(png_prints[1]), "-o", str(output)]) == 0
    with Image.open(output) as im:
        assert im.format == "PNG" and im.size == (320, 400) and im.mode == "RGB"
        pixels = np.asarray(im)
    assert (pixels[..., 0] != pixels[..., 2]).any()  # coloured marks were drawn
    assert "shown.png" in capsys.readouterr().out


@pytest.mark.parametrize(
    "command", [[], ["extract"], ["show"], ["bench"], ["bench", "extract"]], ids=" ".join
)
def test_cli_help_of_every_command_exits_zero(command, capsys):
    with pytest.raises(SystemExit) as stop:
        cli_main([*command, "--help"])
    assert stop.value.code == 0
    assert "usage: afis" in capsys.readouterr().out


def test_cli_without_a_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as stop:
        cli_main([])
    assert stop.value.code == 2
    assert "usage" in capsys.readouterr().err


def test_cli_bench_extract_writes_json_rows(tmp_path, png_prints, capsys):
    report = tmp_path / "bench.json"
    folder = png_prints[0].parent
    assert cli_main(["bench", "extract", str(folder), "--repeat", "1", "--json", str(report)]) == 0
    rows = json.loads(report.read_text())
    assert len(rows) == 1
    row = rows[0]
    assert set(row) == {
        "set",
        "images",
        "median_minutiae",
        "median_extract_ms",
        "images_per_s_1_thread",
        "images_per_s_2_threads",
        "thread_speedup",
    }
    assert row["set"] == str(folder) and row["images"] == 3
    assert row["median_minutiae"] == statistics.median(len(afis.extract(p)) for p in png_prints)
    assert row["median_extract_ms"] > 0 and row["images_per_s_1_thread"] > 0
    assert row["thread_speedup"] == pytest.approx(
        row["images_per_s_2_threads"] / row["images_per_s_1_thread"]
    )
    assert str(folder) in capsys.readouterr().out


@pytest.mark.parametrize("where", ["beside the images", "--manifest"])
def test_cli_bench_extract_takes_the_resolution_from_a_manifest(tmp_path, png_prints, where):
    folder = png_prints[0].parent
    report = tmp_path / "bench.json"
    args = ["bench", "extract", str(folder), "--repeat", "1", "--json", str(report)]
    if where == "--manifest":
        manifest = tmp_path / "sets.json"
        manifest.write_text(json.dumps({"sets": {"some/images": {"dpi": 569}, "x": {"dpi": 1}}}))
        args += ["--manifest", str(manifest)]
        (folder.parent / "some").mkdir()
        folder = folder.rename(folder.parent / "some" / "images")
        args[2] = str(folder)
    else:
        (folder / "manifest.json").write_text(json.dumps({"dpi": 569}))
    assert cli_main(args) == 0
    row = json.loads(report.read_text())[0]
    paths = sorted(folder.glob("*.png"))
    at_569 = statistics.median(len(afis.extract(p, dpi=569)) for p in paths)
    at_500 = statistics.median(len(afis.extract(p, dpi=500)) for p in paths)
    assert at_569 != at_500  # so the row tells which resolution was used
    assert row["images"] == 3 and row["median_minutiae"] == at_569


def test_cli_bench_extract_on_an_empty_folder_fails(tmp_path):
    with pytest.raises(SystemExit, match="no images"):
        cli_main(["bench", "extract", str(tmp_path)])
