"""Issue 22, part 9: ``afis-enrollment capture script`` (a scripted session from a TOML or JSON
file) and ``capture batch`` (FVC-style folders, one synthetic resident per ten fingers,
resumable), on synthetic prints; the batch on real FVC2002 fingers with ``AFIS_DATASETS``."""

from __future__ import annotations

import datetime
import json
import shutil
from pathlib import Path

import pytest

from enrollment.capture import PopulationRegister
from enrollment.capture.synthetic import compose_slap, png, render_finger
from enrollment.cli import main
from enrollment.packet.keys import (
    new_key,
    public_pem,
    read_private_key,
    read_public_key,
    write_private_key,
)
from enrollment.scripted import ScriptError, load_script, run_batch, run_script
from enrollment.status import Status

NAMES = [
    "right_thumb", "right_index", "right_middle", "right_ring", "right_little",
    "left_thumb", "left_index", "left_middle", "left_ring", "left_little",
]  # fmt: skip
REGISTER_SIZE, REGISTER_SEED = 80, 11
OPERATOR, SUPERVISOR = 9001, 9002


def _write(path: Path, data: bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return str(path)


def _keys(folder: Path) -> tuple[Path, Path]:
    station, centre = folder / "station.pem", folder / "centre.pem"
    write_private_key(station, new_key())
    write_private_key(centre, new_key())
    (folder / "centre.pub.pem").write_text(public_pem(read_private_key(centre)))
    return station, folder / "centre.pub.pem"


def _resident():
    today = datetime.datetime.now(datetime.timezone.utc).date()
    register = PopulationRegister.synthetic(REGISTER_SIZE, REGISTER_SEED)
    return next(r for r in register.residents() if r.age_on(today) >= 20 and not r.kitap)


@pytest.fixture(scope="module")
def _prints(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The images of the script's devices and staff, drawn once for the module."""
    root = tmp_path_factory.mktemp("prints")
    person = 4242
    images = root / "images"
    for position, name in enumerate(NAMES, start=1):
        _write(images / "finger" / name / "1.png", png(render_finger(person * 10 + position, 0)))
    for position in (2, 7):  # re-verification: a second impression of the index fingers
        _write(
            images / "verify" / NAMES[position - 1] / "1.png",
            png(render_finger(person * 10 + position, 1)),
        )
    slap = compose_slap([render_finger(person * 10 + p, 0) for p in (2, 3, 4, 5)], seed=1)
    _write(images / "slap" / "right_slap" / "1.png", png(slap))
    face, iris = png(render_finger(1, 0)), png(render_finger(2, 0))  # any decodable image
    _write(images / "camera" / "face" / "1.png", face)
    for side in ("left_iris", "right_iris"):
        _write(images / "iris" / side / "1.png", iris)
    _write(images / "signature" / "signature" / "1.png", face)
    _write(images / "signature" / "signature" / "2.png", iris)  # the confirmation
    staff = root / "staff"
    for seed in (OPERATOR, SUPERVISOR):
        for impression in (0, 1):
            _write(staff / f"{seed}_{impression}.png", png(render_finger(seed, impression)))
    return root


@pytest.fixture
def script(tmp_path: Path, _prints: Path) -> dict:
    """A whole session's answers: a right slap, single fingers for the rest but the left
    little finger (amputated, approved), photos, re-verification, review."""
    for name in ("images", "staff"):
        shutil.copytree(_prints / name, tmp_path / name)
    key, centre = _keys(tmp_path)
    resident = _resident()
    return {
        "station": {
            "id": "ST-01",
            "folder": "station",
            "key": key.name,
            "centre_public": centre.name,
        },
        "register": {"synthetic": REGISTER_SIZE, "seed": REGISTER_SEED},
        "staff": [
            {
                "id": "op-1",
                "name": "ANA",
                "role": "operator",
                "fingers": {"right_index": f"staff/{OPERATOR}_0.png"},
            },
            {
                "id": "sv-1",
                "name": "BAYU",
                "role": "supervisor",
                "fingers": {"left_index": f"staff/{SUPERVISOR}_0.png"},
            },
        ],
        "operator": {"id": "op-1", "login_finger": f"staff/{OPERATOR}_1.png"},
        "resident": {"nik": resident.nik, "kk": resident.family_card},
        "issuance": {"type": "mass", "call_letter": "SP-2026/0001"},
        "devices": {
            n: f"images/{n}" for n in ("finger", "slap", "camera", "iris", "signature", "verify")
        },
        "fingers": {"slaps": ["right_slap"], "single": "rest"},
        "exceptions": [{"finger": "left_little", "kind": "amputated", "reason": "lost in 2019"}],
        "exception_approval": {"supervisor": "sv-1", "finger": f"staff/{SUPERVISOR}_1.png"},
        "review": {"supervisor": "sv-1", "finger": f"staff/{SUPERVISOR}_1.png", "approve": True},
    }


def _save(tmp_path: Path, data: dict, name: str = "session.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def _toml(data: dict) -> str:
    """Enough TOML for the fixture's shapes (tables, arrays of tables, inline tables)."""

    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + "}"
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return json.dumps(v)

    out = []
    for table, body in data.items():
        rows = body if isinstance(body, list) else [body]
        for row in rows:
            out.append(f"[[{table}]]" if isinstance(body, list) else f"[{table}]")
            out += [f"{k} = {value(v)}" for k, v in row.items()]
    return "\n".join(out) + "\n"


def test_a_toml_script_runs_a_session_and_queues_its_sealed_packet(
    tmp_path: Path, script: dict
) -> None:
    path = tmp_path / "session.toml"
    path.write_text(_toml(script))
    lines: list[str] = []
    result = run_script(path, progress=lines.append)
    assert result.status == Status.PROCESSING.value
    assert result.packet is not None and result.packet.stat().st_size > 10_000
    assert result.packet.name == f"{result.registration_id}.pkt"
    text = "\n".join(lines)
    assert "right_slap: RIGHT_INDEX" in text and "LEFT_THUMB: quality" in text
    assert "LEFT_LITTLE" not in text  # the amputated finger is not captured
    from enrollment.capture import OperatorRegister, Station

    station = Station("ST-01", tmp_path / "station", PopulationRegister([]), OperatorRegister())
    record = station.record(result.session_id)
    assert len(record.fingers) == 9 and [e.position.name for e in record.exceptions] == [
        "LEFT_LITTLE"
    ]
    assert record.review is not None and record.review.approved
    assert {v.position.name for v in record.verifications if v.verified} == {
        "RIGHT_INDEX",
        "LEFT_INDEX",
    }


def test_without_a_review_the_record_waits_for_the_supervisor(tmp_path: Path, script: dict) -> None:
    del script["review"]
    result = run_script(_save(tmp_path, script), progress=lambda _: None)
    assert result.status == Status.BIO_CAPTURED.value and result.packet is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s["resident"].pop("nik"), "resident.nik: missing"),
        (lambda s: s["resident"].update(nik="31710145"), "resident.nik: must be 16 digits"),
        (
            lambda s: s["exceptions"][0].update(finger="left_pinky"),
            r"exceptions\[0\].finger: unknown finger 'left_pinky'",
        ),
        (
            lambda s: s["fingers"].update(single=["right_thumb", 11]),
            r"fingers.single\[1\]: unknown finger 11",
        ),
        (lambda s: s["fingers"].update(slaps=["both_hands"]), r"fingers.slaps\[0\]: unknown slap"),
        (lambda s: s["issuance"].pop("call_letter"), "issuance.call_letter: missing"),
        (lambda s: s["issuance"].update(type="express"), "issuance.type: one of"),
        (lambda s: s["exceptions"][0].update(kind="lost"), r"exceptions\[0\].kind: one of"),
        (lambda s: s.pop("exception_approval"), "exception_approval: missing"),
        (
            lambda s: s["review"].update(supervisor="op-1"),
            "review.supervisor: 'op-1' is a operator",
        ),
        (lambda s: s["review"].update(approve=False), "review.reason: missing"),
        (
            lambda s: s["devices"].update(camera="images/nowhere"),
            "devices.camera: folder .* does not exist",
        ),
        (lambda s: s["operator"].update(speed=3), "operator.speed: unknown field"),
        (lambda s: s["station"].update(key="none.pem"), "station.key: file .* does not exist"),
        (
            lambda s: s["fingers"].update(single=["left_little"]),
            "fingers.single: left_little also marked",
        ),
    ],
)
def test_a_bad_script_is_refused_naming_the_file_and_the_field(
    tmp_path: Path, script: dict, change, message: str
) -> None:
    change(script)
    path = _save(tmp_path, script)
    with pytest.raises(ScriptError, match=f"^{path}: {message}"):
        load_script(path)
    assert not (tmp_path / "station").exists()  # nothing captured


def test_a_resident_the_register_refuses_names_the_step(tmp_path: Path, script: dict) -> None:
    script["resident"]["kk"] = "3171010000000000"
    with pytest.raises(ScriptError, match=r"resident: refused by the station: NIK .* family card"):
        run_script(_save(tmp_path, script), progress=lambda _: None)


def test_bad_toml_and_json_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text("[station\nid = 1\n")
    with pytest.raises(ScriptError, match=r"a.toml: not valid TOML"):
        load_script(tmp_path / "a.toml")
    (tmp_path / "a.json").write_text("{")
    with pytest.raises(ScriptError, match=r"a.json: not valid JSON"):
        load_script(tmp_path / "a.json")
    with pytest.raises(ScriptError, match=r"missing.json: cannot read the script"):
        load_script(tmp_path / "missing.json")


def test_the_cli_runs_a_script_and_reports_a_bad_one(
    tmp_path: Path, script: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    del script["exceptions"], script["exception_approval"]
    script["fingers"] = {
        "single": [
            "left_thumb",
            "left_index",
            "left_middle",
            "left_ring",
            "left_little",
            "right_thumb",
        ],
        "slaps": ["right_slap"],
    }
    assert main(["capture", "script", str(_save(tmp_path, script))]) == 0
    assert "PROCESSING" in capsys.readouterr().out
    script["resident"]["nik"] = "abc"
    assert main(["capture", "script", str(_save(tmp_path, script, "bad.json"))]) == 2
    assert "bad.json: resident.nik: must be 16 digits, got 'abc'" in capsys.readouterr().err


def _fvc_folder(folder: Path, sets: int) -> Path:
    """Synthetic fingers named FVC-style: ten fingers a set, two impressions each."""
    for finger in range(101, 101 + 10 * sets):
        for impression in (1, 2):
            _write(folder / f"{finger}_{impression}.png", png(render_finger(finger, impression)))
    (folder / "readme.txt").write_text("not an image")
    return folder


def test_a_batch_enrols_a_resident_per_ten_fingers_and_resumes(tmp_path: Path) -> None:
    folder = _fvc_folder(tmp_path / "fvc", 2)
    _write(folder / "999_1.png", png(render_finger(999, 1)))  # a finger short of a set
    key, centre = _keys(tmp_path)
    kwargs = {
        "station_id": "ST-B",
        "station_key": read_private_key(key),
        "centre_key": read_public_key(centre.read_text()),
        "register_size": 50,
        "seed": 3,
    }
    lines: list[str] = []
    report = run_batch(folder, tmp_path / "station", limit=1, progress=lines.append, **kwargs)
    assert len(report.captured) == 1 and report.queued == 1 and report.left_over == [999]
    assert lines[0].startswith("[1/1] NIK ") and "fingers 101..110: packet ST-B" in lines[0]
    lines.clear()
    report = run_batch(folder, tmp_path / "station", progress=lines.append, **kwargs)
    assert (len(report.skipped), len(report.captured), report.queued) == (1, 1, 2)
    assert "skipped, captured before" in lines[0] and "fingers 111..120: packet" in lines[1]
    assert len(list((tmp_path / "station" / "outbox").glob("*.pkt"))) == 2


def test_a_batch_of_nothing_or_too_many_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key, centre = _keys(tmp_path)
    (tmp_path / "empty").mkdir()
    args = ["capture", "batch", "--station-folder", str(tmp_path / "st"), "--station-id", "ST-B"]
    args += ["--key", str(key), "--centre-public", str(centre)]
    assert main([*args, str(tmp_path / "empty")]) == 2
    assert "empty: no image named <finger>_<impression>.tif" in capsys.readouterr().err
    folder = _fvc_folder(tmp_path / "fvc", 2)
    assert main([*args, "--register-size", "1", str(folder)]) == 2
    assert "2 sets of ten fingers but only" in capsys.readouterr().err


@pytest.mark.datasets
def test_a_batch_of_real_fvc_fingers(tmp_path: Path, datasets_root: Path) -> None:
    fvc = datasets_root / "fvc2002" / "DB1_B"
    if not (fvc / "101_1.tif").exists():
        pytest.skip(f"{fvc} holds no FVC images")
    key, centre = _keys(tmp_path)
    args = ["capture", "batch", str(fvc), "--station-folder", str(tmp_path / "st")]
    args += ["--station-id", "ST-F", "--key", str(key), "--centre-public", str(centre)]
    assert main(args) == 0
    assert len(list((tmp_path / "st" / "outbox").glob("*.pkt"))) == 1
