"""The verification benchmark: error-rate metrics, FVC folders, protocols, verify(), CLI."""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import afis
from afis.bench import (
    ErrorRates,
    ScorerUnavailableError,
    det_curve,
    error_rates,
    folder_dpi,
    protocol_pairs,
    read_fvc_folder,
    verify,
)
from afis.cli import main

# ``afis.bench.verify`` the attribute is the function; the modules come from sys.modules
metrics_module = importlib.import_module("afis.bench.metrics")
verify_module = importlib.import_module("afis.bench.verify")

FVC_MANIFEST = Path(__file__).resolve().parent.parent / "datasets" / "fvc.json"

# ------------------------------------------------------------------------ metrics


def test_perfect_separation_gives_zero_errors() -> None:
    r = error_rates([0.8, 0.9, 0.95], [0.1, 0.2, 0.3, 0.79])
    assert (r.eer, r.eer_low, r.eer_high) == (0.0, 0.0, 0.0)
    assert (r.fmr100, r.fmr1000, r.zero_fmr) == (0.0, 0.0, 0.0)
    assert (r.n_genuine, r.n_impostor) == (3, 4)


def test_reversed_scores_give_full_errors() -> None:
    r = error_rates([0.1, 0.2], [0.8, 0.9])
    assert r.eer == 100.0
    assert r.zero_fmr == 100.0


def test_identical_distributions_give_eer_50() -> None:
    scores = [1.0, 2.0, 3.0, 4.0]
    assert error_rates(scores, scores).eer == pytest.approx(50.0)
    rng = np.random.default_rng(7)
    same = error_rates(rng.normal(size=4000), rng.normal(size=4000))
    assert same.eer == pytest.approx(50.0, abs=2.0)


def test_all_scores_equal() -> None:
    r = error_rates(np.full(5, 0.5), np.full(7, 0.5))
    # accepting everything: FMR 100, FNMR 0; rejecting everything: FMR 0, FNMR 100
    assert (r.eer_low, r.eer_high, r.eer) == (0.0, 100.0, 50.0)
    assert r.fmr100 == r.fmr1000 == r.zero_fmr == 100.0


def test_curves_crossing_between_thresholds_use_the_fvc_midpoint() -> None:
    # t:    0.1   0.5   0.6   0.7   0.9   inf
    # FMR:  100   66.7  66.7  33.3  0     0
    # FNMR: 0     0     50    50    50    100
    # t1 = 0.6 (FNMR <= FMR, sum 116.7), t2 = 0.7 (FNMR >= FMR, sum 83.3): the smaller
    # sum is at t2, so [EER_low, EER_high] = [FMR(t2), FNMR(t2)] = [33.3, 50].
    r = error_rates([0.5, 0.9], [0.1, 0.6, 0.7])
    assert r.eer_low == pytest.approx(100 / 3)
    assert r.eer_high == pytest.approx(50.0)
    assert r.eer == pytest.approx((100 / 3 + 50) / 2)
    assert r.fmr100 == r.fmr1000 == r.zero_fmr == pytest.approx(50.0)


def test_hand_example_fmr100_fmr1000() -> None:
    # 100 impostors: 98 at 0, one at 0.5, one at 0.8.  FMR is 2 % up to t = 0.5, 1 % up to
    # t = 0.8, then 0.  Genuine 0.3, 0.6, 0.7, 0.9.
    genuine = [0.3, 0.6, 0.7, 0.9]
    impostor = np.r_[np.zeros(98), 0.5, 0.8]
    r = error_rates(genuine, impostor)
    assert r.fmr100 == pytest.approx(25.0)  # t = 0.6: FMR 1 %, only 0.3 rejected
    assert r.fmr1000 == pytest.approx(75.0)  # t = 0.9: FMR 0, 0.3, 0.6, 0.7 rejected
    assert r.zero_fmr == pytest.approx(75.0)
    # t = 0.3: FNMR 0 <= FMR 2 (sum 2); t = 0.5: FNMR 25 >= FMR 2 (sum 27) -> [0, 2]
    assert (r.eer_low, r.eer_high) == (pytest.approx(0.0), pytest.approx(2.0))
    assert r.eer == pytest.approx(1.0)


def test_ties_between_genuine_and_impostor_scores() -> None:
    # a score equal to the threshold is a match: impostor 0.5 is accepted at t = 0.5
    # and genuine 0.5 is not rejected there.
    curve = det_curve([0.5, 0.5, 0.7], [0.3, 0.5])
    assert curve.thresholds.tolist() == [0.3, 0.5, 0.7, math.inf]
    assert curve.fmr.tolist() == [100.0, 50.0, 0.0, 0.0]
    assert curve.fnmr == pytest.approx([0.0, 0.0, 200 / 3, 100.0])
    r = error_rates([0.5, 0.5, 0.7], [0.3, 0.5])
    assert (r.eer_low, r.eer_high, r.eer) == (0.0, 50.0, 25.0)
    assert r.zero_fmr == pytest.approx(200 / 3)


def test_curves_meeting_at_a_threshold_give_a_point_eer() -> None:
    # at t = 0.2: FNMR = 1/3 (0.1 rejected), FMR = 2/6 (0.2 and 0.6 accepted)
    r = error_rates([0.1, 0.5, 0.9], [0.0, 0.0, 0.0, 0.0, 0.2, 0.6])
    assert r.eer_low == r.eer_high == pytest.approx(100 / 3)


@pytest.mark.parametrize("d", [1.0, 2.0, 3.0])
def test_normal_scores_match_the_analytic_eer(d: float) -> None:
    # genuine ~ N(d, 1), impostor ~ N(0, 1): the curves cross at d / 2, EER = Phi(-d / 2)
    rng = np.random.default_rng(int(d * 10))
    genuine, impostor = rng.normal(d, 1.0, 40_000), rng.normal(0.0, 1.0, 40_000)
    expected = 100 * 0.5 * math.erfc(d / 2 / math.sqrt(2))
    r = error_rates(genuine, impostor)
    assert r.eer == pytest.approx(expected, abs=0.6)
    assert r.eer_high - r.eer_low < 0.05
    # FMR100: threshold at the 99th impostor percentile (z = 2.326)
    fmr100 = 100 * 0.5 * math.erfc(-(2.3263 - d) / math.sqrt(2))
    assert r.fmr100 == pytest.approx(fmr100, abs=1.5)
    assert r.fmr100 <= r.fmr1000 <= r.zero_fmr


def test_det_curve_is_monotone() -> None:
    rng = np.random.default_rng(3)
    curve = det_curve(rng.normal(1, 1, 300), rng.normal(0, 1, 500))
    assert curve.fmr[0] == 100.0 and curve.fmr[-1] == 0.0
    assert curve.fnmr[0] == 0.0 and curve.fnmr[-1] == 100.0
    assert np.all(np.diff(curve.fmr) <= 0) and np.all(np.diff(curve.fnmr) >= 0)
    assert np.all(np.diff(curve.thresholds) > 0)


def test_error_rates_is_a_frozen_dataclass_with_to_dict() -> None:
    r = error_rates([0.9], [0.1])
    assert isinstance(r, ErrorRates)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.eer = 1.0  # type: ignore[misc]
    d = r.to_dict()
    assert {"eer", "fmr100", "fmr1000", "zero_fmr", "n_genuine", "n_impostor"} <= set(d)
    assert json.loads(json.dumps(d)) == d


@pytest.mark.parametrize(
    ("genuine", "impostor", "message"),
    [
        ([], [0.1], "no genuine scores"),
        ([0.5], [], "no impostor scores"),
        ([0.5, float("nan")], [0.1], "1 NaN"),
        ([0.5], [0.1, float("inf")], "1 infinite"),
        ([[0.5]], [0.1], "1-D"),
    ],
)
def test_bad_scores_raise_value_error(genuine: list, impostor: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        error_rates(genuine, impostor)
    with pytest.raises(ValueError, match=message):
        det_curve(genuine, impostor)


# ------------------------------------------------------------------------ protocols

FULL_KEYS = [(f, i) for f in range(101, 111) for i in range(1, 9)]


def test_protocol_pair_counts_on_a_full_set() -> None:
    genuine, impostor = protocol_pairs(FULL_KEYS, "fvc")
    assert (len(genuine), len(impostor)) == (280, 45)
    assert all(a[0] == b[0] and a < b for a, b in genuine)
    assert all(a[1] == b[1] == 1 and a[0] < b[0] for a, b in impostor)
    genuine_all, impostor_all = protocol_pairs(reversed(FULL_KEYS), "allpairs")
    assert genuine_all == genuine
    assert len(impostor_all) == 2880 == len(set(impostor_all))
    assert all(a[0] != b[0] and a < b for a, b in impostor_all)
    assert set(impostor) <= set(impostor_all)
    assert len(genuine_all) + len(impostor_all) == 80 * 79 // 2


def test_protocol_pairs_on_a_partial_set() -> None:
    keys = [(101, 1), (101, 2), (101, 3), (102, 2), (102, 4), (103, 1), (101, 2)]
    genuine, impostor = protocol_pairs(keys, "fvc")
    assert genuine == [
        ((101, 1), (101, 2)),
        ((101, 1), (101, 3)),
        ((101, 2), (101, 3)),
        ((102, 2), (102, 4)),
    ]
    # finger 102 has no impression 1: its lowest impression stands in
    assert impostor == [((101, 1), (102, 2)), ((101, 1), (103, 1)), ((102, 2), (103, 1))]
    _, impostor_all = protocol_pairs(keys, "allpairs")
    assert len(impostor_all) == 6 * 5 // 2 - 4
    assert ((102, 4), (103, 1)) in impostor_all


def test_unknown_protocol() -> None:
    with pytest.raises(ValueError, match="unknown protocol"):
        protocol_pairs(FULL_KEYS, "nist")


# ------------------------------------------------------------------------ folders


def test_read_fvc_folder(tmp_path: Path) -> None:
    for name in (
        "101_1.png",
        "101_2.TIF",
        "102_1.wsq",
        "102_10.jpeg",
        "junk.txt",
        "101_3.txt",
        "notes_1.png",
        "101-4.png",
        "101_5.png.part",
        "manifest.json",
    ):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "103_1.png").mkdir()
    found = read_fvc_folder(tmp_path)
    assert list(found) == [(101, 1), (101, 2), (102, 1), (102, 10)]
    assert found[(101, 2)] == tmp_path / "101_2.TIF"


def test_read_fvc_folder_errors(tmp_path: Path) -> None:
    (tmp_path / "junk.txt").write_bytes(b"")
    with pytest.raises(ValueError, match="no images named"):
        read_fvc_folder(tmp_path)
    with pytest.raises(ValueError, match="not a folder"):
        read_fvc_folder(tmp_path / "missing")
    (tmp_path / "101_1.png").write_bytes(b"")
    (tmp_path / "101_01.tif").write_bytes(b"")
    with pytest.raises(ValueError, match="both finger 101 impression 1"):
        read_fvc_folder(tmp_path)


def test_folder_dpi(tmp_path: Path) -> None:
    folder = tmp_path / "fvc2002" / "DB2_B"
    folder.mkdir(parents=True)
    manifest = tmp_path / "sets.json"
    manifest.write_text(json.dumps({"sets": {"fvc2002/DB2_B": {"dpi": 569}}}))
    assert folder_dpi(folder) is None
    assert folder_dpi(folder, manifest) == 569.0
    assert folder_dpi(tmp_path, manifest) is None  # no entry ends this path
    (folder / "manifest.json").write_text('{"dpi": 1000}')
    assert folder_dpi(folder, manifest) == 1000.0  # the folder's own manifest wins
    assert folder_dpi(FVC_MANIFEST.parent / "fvc2002" / "DB2_B", FVC_MANIFEST) == 569.0


def test_manifest_is_read_again_after_it_changes(tmp_path: Path) -> None:
    # the parsed manifest is cached per version of the file, never past an edit
    folder = tmp_path / "fvc2002" / "DB2_B"
    folder.mkdir(parents=True)
    manifest = tmp_path / "sets.json"
    manifest.write_text(json.dumps({"sets": {"fvc2002/DB2_B": {"dpi": 569}}}))
    found = verify_module.manifest_entry(folder, manifest)
    assert found is not None
    name, entry = found
    assert name == "fvc2002/DB2_B"
    entry["dpi"] = 1  # a caller's copy: the cached manifest is not changed
    assert folder_dpi(folder, manifest) == 569.0
    manifest.write_text(json.dumps({"sets": {"fvc2002/DB2_B": {"dpi": 1000}}}))
    assert folder_dpi(folder, manifest) == 1000.0
    manifest.write_text("{not json")
    with pytest.raises(ValueError):
        folder_dpi(folder, manifest)


# ------------------------------------------------------------------------ verify()

#: Finger -> image width: each finger of the synthetic set has its own size, so a scorer
#: comparing sizes separates genuine from impostor pairs perfectly.
WIDTHS = {101: 176, 102: 200, 103: 224}
HEIGHT = 208


def _ridges(finger: int, impression: int) -> np.ndarray:
    """A ridge pattern of its own per finger, shifted and noisy per impression."""
    rng = np.random.default_rng(100 * finger + impression)
    width = WIDTHS[finger]
    yy, xx = np.mgrid[0:HEIGHT, 0:width].astype(np.float64)
    x = xx - width / 2 + rng.uniform(-5, 5)
    y = yy - HEIGHT / 2 + rng.uniform(-5, 5)
    kind = finger % 3
    if kind == 0:
        phase = 2 * np.pi * (x * np.cos(0.6) + y * np.sin(0.6)) / 9.0
    elif kind == 1:
        phase = 2 * np.pi * np.hypot(x, y) / 10.0
    else:
        r, theta = np.hypot(x, y), np.arctan2(-y, x) - np.pi / 2
        phase = 2 * np.pi * 2 * r * np.cos(theta / 2) / 14.0
    grey = 127 + 100 * np.cos(phase) + rng.normal(0, 8, phase.shape)
    return np.clip(np.rint(grey), 0, 255).astype(np.uint8)


def _write_set(folder: Path, fingers: tuple[int, ...], impressions: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for finger in fingers:
        for impression in range(1, impressions + 1):
            pixels = _ridges(finger, impression)
            path = folder / f"{finger}_{impression}.png"
            Image.fromarray(pixels).save(path, dpi=(500, 500))
    (folder / "readme.txt").write_text("not an image")
    return folder


@pytest.fixture(scope="module")
def fvc_like(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 fingers x 3 impressions of synthetic ridges, PNG at 500 dpi."""
    return _write_set(tmp_path_factory.mktemp("bench") / "toy" / "DB1_B", tuple(WIDTHS), 3)


def size_scorer(a: afis.Template, b: afis.Template) -> float:
    return -float(abs(a.width - b.width) + abs(a.height - b.height))


@pytest.fixture(scope="module")
def report(fvc_like: Path) -> afis.bench.VerifyReport:
    return verify([fvc_like], scorer=size_scorer, progress=False)


def test_verify_rows(report: afis.bench.VerifyReport) -> None:
    assert [(r["kind"], r["protocol"]) for r in report.rows] == [
        ("set", "fvc"),
        ("macro", "fvc"),
        ("set", "allpairs"),
        ("macro", "allpairs"),
    ]
    fvc, _, allpairs, macro = report.rows
    assert fvc["set"] == "toy/DB1_B" and fvc["images"] == 9
    assert fvc["ppi"] == pytest.approx(500.0)
    assert (fvc["n_genuine"], fvc["n_impostor"]) == (9, 3)
    assert (allpairs["n_genuine"], allpairs["n_impostor"]) == (9, 27)
    for row in report.rows:
        assert row["eer"] == row["fmr100"] == row["fmr1000"] == row["zero_fmr"] == 0.0
        assert row["median_extract_ms"] > 0 and row["median_compare_us"] > 0
    assert macro["set"] == "macro-average"
    assert report.sets == ["toy/DB1_B"]
    genuine, impostor = report.scores[("toy/DB1_B", "allpairs")]
    assert genuine.tolist() == [0.0] * 9
    assert sorted(set(impostor.tolist())) == [-48.0, -24.0]
    assert report.meta["scorer"].endswith("size_scorer")


def test_verify_json_table_and_det(report: afis.bench.VerifyReport, tmp_path: Path) -> None:
    report.to_json(tmp_path / "r.json")
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["rows"] == report.rows and "scores" not in data
    report.to_json(tmp_path / "s.json", include_scores=True)
    scores = json.loads((tmp_path / "s.json").read_text())["scores"]["toy/DB1_B"]["fvc"]
    assert len(scores["genuine"]) == len(scores["genuine_pairs"]) == 9
    assert scores["impostor_pairs"][0] == [101, 1, 102, 1]

    table = report.format_table()
    lines = table.splitlines()
    assert len(lines) == 1 + len(report.rows)
    for word in ("EER", "FMR100", "FMR1000", "ZeroFMR", "extract ms", "compare µs"):
        assert word in lines[0]
    assert "toy/DB1_B" in lines[1] and "macro-average" in lines[2] and "allpairs" in lines[3]

    report.plot_det(tmp_path / "det.png")
    with Image.open(tmp_path / "det.png") as im:
        assert im.format == "PNG" and im.width > 300
    report.plot_det(tmp_path / "det_fvc.png", protocol="fvc")
    assert (tmp_path / "det_fvc.png").stat().st_size > 0
    fvc_only = dataclasses.replace(report, protocols=("fvc",))
    with pytest.raises(ValueError, match="was not run"):
        fvc_only.plot_det(tmp_path / "x.png", protocol="allpairs")


def test_det_axes_are_normal_deviates(tmp_path: Path) -> None:
    """The DET plot's axis transform is the probit Φ⁻¹(p), p in percent (ISO/IEC 19795-1)."""
    probit = verify_module._probit
    assert float(probit(50.0)) == 0.0
    assert float(probit(2.275)) == pytest.approx(-2.0, abs=1e-3)
    assert float(probit(15.866)) == pytest.approx(-1.0, abs=1e-3)
    assert float(probit(0.1)) == pytest.approx(-3.0902, abs=1e-4)
    assert np.all(np.diff(probit(np.array(verify_module._DET_TICKS))) > 0)
    assert probit(0.0) == -math.inf  # why zero rates are held at the edge

    # Scores normal within each class draw a straight DET line: on probit axes the
    # FNMR deviate is the FMR deviate shifted by the separation, with slope -1.
    rng = np.random.default_rng(5)
    genuine, impostor = rng.normal(2.0, 1.0, 20000), rng.normal(0.0, 1.0, 20000)
    curve = det_curve(genuine, impostor)
    inside = (curve.fmr > 1) & (curve.fmr < 50) & (curve.fnmr > 1) & (curve.fnmr < 50)
    slope, intercept = np.polyfit(probit(curve.fmr[inside]), probit(curve.fnmr[inside]), 1)
    assert slope == pytest.approx(-1.0, abs=0.05) and intercept == pytest.approx(-2.0, abs=0.1)

    rates = metrics_module.error_rates(genuine, impostor)
    report = afis.bench.VerifyReport(
        rows=[],
        rates={("normal", "allpairs"): rates},
        scores={("normal", "allpairs"): (genuine, impostor)},
        protocols=("allpairs",),
        sets=["normal"],
    )
    report.plot_det(tmp_path / "det.png")
    with Image.open(tmp_path / "det.png") as im:
        assert im.format == "PNG" and im.width > 300
    assert metrics_module.error_rates(genuine, impostor) == rates  # the numbers stay


def test_verify_scores_each_unordered_pair_once(fvc_like: Path) -> None:
    seen: list[frozenset[int]] = []

    def counting(a: afis.Template, b: afis.Template) -> float:
        seen.append(frozenset((id(a), id(b))))
        return size_scorer(a, b)

    one = verify(fvc_like, scorer=counting, progress=False)
    assert len(seen) == len(set(seen)) == 9 + 27  # fvc impostors are among allpairs'
    assert all(len(pair) == 2 for pair in seen)
    two = verify(fvc_like, scorer=size_scorer, threads=2, protocols="allpairs", progress=False)
    assert [r["protocol"] for r in two.rows] == ["allpairs", "allpairs"]
    for key in ("eer", "n_genuine", "n_impostor"):
        assert two.rows[0][key] == one.rows[2][key]


def test_verify_anti_scorer_and_macro_average(fvc_like: Path, tmp_path: Path) -> None:
    second = _write_set(tmp_path / "other" / "DB2_B", (101, 102), 2)

    def anti(a: afis.Template, b: afis.Template) -> float:
        return -size_scorer(a, b)

    rep = verify([fvc_like, second], scorer=anti, protocols=("fvc",), progress=False)
    rows = {r["set"]: r for r in rep.rows}
    assert set(rows) == {"toy/DB1_B", "other/DB2_B", "macro-average"}
    assert rows["toy/DB1_B"]["eer"] == rows["other/DB2_B"]["eer"] == 100.0
    assert rows["other/DB2_B"]["n_genuine"] == 2 and rows["other/DB2_B"]["n_impostor"] == 1
    assert rows["macro-average"]["eer"] == 100.0
    assert rows["macro-average"]["n_genuine"] == 11


def test_verify_resolution_precedence(tmp_path: Path) -> None:
    folder = _write_set(tmp_path / "set", (101, 102), 2)
    (folder / "manifest.json").write_text('{"dpi": 1000}')
    rep = verify(folder, scorer=size_scorer, protocols="fvc", progress=False)
    assert rep.rows[0]["ppi"] == 1000.0
    widths = set()
    rep = verify(
        folder,
        scorer=lambda a, b: widths.update((a.width, b.width)) or 0.0,
        protocols="fvc",
        progress=False,
    )
    assert widths == {WIDTHS[101] // 2, WIDTHS[102] // 2}  # resampled to 500 ppi
    rep = verify(folder, scorer=size_scorer, protocols="fvc", dpi=500, progress=False)
    assert rep.rows[0]["ppi"] == 500.0


def test_verify_progress_logs(fvc_like: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="afis.bench.verify"):
        verify(fvc_like, scorer=size_scorer, protocols="fvc", progress=True)
    assert "9 images, 12 comparisons, fvc EER 0.00 %" in caplog.text


def test_verify_errors(fvc_like: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="unknown protocol"):
        verify(fvc_like, scorer=size_scorer, protocols=("fvc", "bogus"))
    with pytest.raises(ValueError, match="no images named"):
        verify(tmp_path, scorer=size_scorer)
    with pytest.raises(ValueError, match=r"101_1 vs 101_2; scores must be finite"):
        verify(fvc_like, scorer=lambda a, b: float("nan"), progress=False)
    single = _write_set(tmp_path / "single", (101,), 2)
    with pytest.raises(ValueError, match="0 impostor pairs"):
        verify(single, scorer=size_scorer, progress=False)

    monkeypatch.delattr(afis, "compare", raising=False)
    monkeypatch.setattr(afis, "extract", lambda *a, **k: pytest.fail("extracted anyway"))
    with pytest.raises(ScorerUnavailableError, match=r"afis\.compare does not exist") as info:
        verify(fvc_like)
    assert isinstance(info.value, RuntimeError)


def test_verify_uses_afis_compare_by_default(
    fvc_like: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(afis, "compare", size_scorer, raising=False)
    rep = verify(fvc_like, protocols="fvc", progress=False)
    assert rep.meta["scorer"] == "afis.compare"
    assert rep.rows[0]["eer"] == 0.0


@pytest.mark.datasets
def test_verify_on_an_fvc_set_reads_the_manifest(datasets_root: Path) -> None:
    folder = datasets_root / "fvc2002" / "DB2_B"
    if not folder.is_dir():
        pytest.skip(f"{folder} is missing")
    rep = verify(
        folder,
        scorer=lambda a, b: -abs(len(a) - len(b)),
        manifest=FVC_MANIFEST,
        progress=False,
    )
    fvc, allpairs = rep.rows[0], rep.rows[2]
    assert fvc["ppi"] == 569.0 and fvc["images"] == 80
    assert (fvc["n_genuine"], fvc["n_impostor"]) == (280, 45)
    assert (allpairs["n_genuine"], allpairs["n_impostor"]) == (280, 2880)


# ------------------------------------------------------------------------ CLI


def test_cli_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["bench", "verify", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--dpi", "--manifest", "--protocol", "--json", "--det", "--threads"):
        assert option in out


def test_cli_without_compare_reports_a_clear_error(
    fvc_like: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delattr(afis, "compare", raising=False)
    assert main(["bench", "verify", str(fvc_like)]) != 0
    captured = capsys.readouterr()
    assert "afis.compare does not exist" in captured.err
    assert "Traceback" not in captured.err
    assert captured.out == ""


def test_cli_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "verify", str(tmp_path / "nowhere")]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_cli_verify_writes_table_json_and_det(
    fvc_like: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(afis, "compare", size_scorer, raising=False)
    out_json, out_png = tmp_path / "v.json", tmp_path / "det.png"
    argv = ["bench", "verify", str(fvc_like), "--protocol", "allpairs", "--threads", "2"]
    argv += ["--json", str(out_json), "--scores", "--det", str(out_png)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "toy/DB1_B" in out and "macro-average" in out and " fvc " not in out
    data = json.loads(out_json.read_text())
    assert [r["protocol"] for r in data["rows"]] == ["allpairs", "allpairs"]
    assert len(data["scores"]["toy/DB1_B"]["allpairs"]["impostor"]) == 27
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
