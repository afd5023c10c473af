"""The de-duplication benchmark of the people gallery (afis.bench.dedup, afis bench dedup)."""

import json

import pytest

from afis.bench.dedup import dedup_benchmark, dedup_growth
from afis.cli import main
from afis.people import shortlist_depth


def test_tiny_run_finds_planted_duplicates_and_flags_no_unique(tmp_path):
    report = dedup_benchmark(40, 10, duplicate_share=0.2, seed=5, folder=tmp_path / "g")
    assert (report.planted, report.unique) == (2, 8)
    assert report.missed == 0 and report.fnir == 0.0  # synthetic duplicates are found
    assert report.false_flags == 0 and report.fpir == 0.0
    assert report.depth == shortlist_depth(40) == 16 and report.k == 8 and report.threshold > 0
    assert report.built == 40 and report.shards == 1
    for seconds in (report.build_s, report.search_s, report.rerank_s, report.insert_s):
        assert 0 < seconds < 120
    assert report.bookkeeping_s >= 0
    stages = report.search_s + report.rerank_s + report.bookkeeping_s
    assert stages == pytest.approx(report.identify_s, rel=0.2)
    assert report.records_per_s > 0 and report.insert_rate > 0 and report.build_rate > 0
    assert report.disk_bytes > 0 and report.disk_per_person > 0
    assert report.peak_rss > 2**20
    assert len(report.lines()) >= 6
    assert (tmp_path / "g" / "shards.json").exists()


def test_cli_writes_json(tmp_path, capsys):
    out = tmp_path / "dedup.json"
    code = main(
        ["bench", "dedup", "--people", "8", "--batch", "2", "--duplicates", "0.5",
         "--json", str(out)]
    )  # fmt: skip
    assert code == 0
    data = json.loads(out.read_text())
    assert data["gallery_people"] == 8 and data["batch"] == 2 and data["planted"] == 1
    assert data["missed"] == 0 and data["disk_bytes"] > 0
    assert "FNIR" in capsys.readouterr().out


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"gallery_people": -1, "batch": 2}, "gallery_people must not be negative"),
        ({"gallery_people": 4, "batch": -2}, "batch must not be negative"),
        ({"gallery_people": 4, "batch": 2, "duplicate_share": 1.5}, r"\[0, 1\]"),
        ({"gallery_people": 4, "batch": 2, "duplicate_share": -0.1}, r"\[0, 1\]"),
        ({"gallery_people": 0, "batch": 2, "duplicate_share": 0.5}, "need a gallery"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        dedup_benchmark(**kwargs)


def test_cli_bad_arguments(capsys):
    assert main(["bench", "dedup", "--people", "-3", "--batch", "2"]) == 2
    assert "must not be negative" in capsys.readouterr().err
    assert main(["bench", "dedup", "--people", "3", "--batch", "2", "--duplicates", "2"]) == 2
    assert "[0, 1]" in capsys.readouterr().err


def test_growth_over_two_sizes_and_plot(tmp_path):
    run = dedup_growth([30, 60], 6, duplicate_share=0.5, seed=2, shards=2, folder=tmp_path / "g")
    first, second = run.reports
    assert (first.gallery_people, second.gallery_people) == (30, 60)
    # the first batch's 3 unique people joined the gallery before it grew to 60
    assert first.built == 30 and second.built == 27
    assert first.missed == second.missed == 0 and first.false_flags == second.false_flags == 0
    ratios = run.growth()
    assert ratios["people"] == 2 and ratios["insert"] > 0 and ratios["search"] > 0
    assert "growth x2 people" in "\n".join(run.lines())
    run.plot(tmp_path / "cost.png")
    assert (tmp_path / "cost.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="ascending"):
        dedup_growth([60, 30], 2)


def test_cli_growth_json_and_plot(tmp_path, capsys):
    out, png = tmp_path / "growth.json", tmp_path / "growth.png"
    code = main(
        ["bench", "dedup", "--people", "10,20", "--batch", "2", "--duplicates", "0.5",
         "--shards", "2", "--nlist", "1", "--json", str(out), "--plot", str(png)]
    )  # fmt: skip
    assert code == 0
    data = json.loads(out.read_text())
    assert [r["gallery_people"] for r in data["reports"]] == [10, 20]
    assert data["growth"]["people"] == 2 and png.exists()
    assert main(["bench", "dedup", "--people", "10,x", "--batch", "2"]) == 2
    assert "invalid literal" in capsys.readouterr().err


def test_synthesis_processes_build_the_same_gallery(tmp_path, monkeypatch):
    import afis.bench.dedup as bench
    from afis.people_shards import ShardedPeopleGallery

    # small chunks and inserts, so that two processes each synthesise several chunks
    monkeypatch.setattr(bench, "_SYNTH_CHUNK", 7)
    monkeypatch.setattr(bench, "INSERT_BATCH", 20)
    runs = {}
    for workers in (1, 2):
        run = dedup_growth(
            [25, 45], 4, duplicate_share=0.5, seed=3, workers=workers,
            folder=tmp_path / f"g{workers}",
        )  # fmt: skip
        runs[workers] = run
        assert [r.built for r in run.reports] == [25, 18]
        assert all(r.missed == 0 and r.false_flags == 0 for r in run.reports)
    one, two = (ShardedPeopleGallery.open(tmp_path / f"g{w}") for w in (1, 2))
    try:
        assert one.count() == two.count() == 47
        assert list(one.person_ids) == list(two.person_ids)
        for pid in (0, 6, 7, 24, 27, 46, 50):
            assert one.fingers(pid) == two.fingers(pid)
    finally:
        one.close()
        two.close()
    with pytest.raises(ValueError, match="workers must be a positive int"):
        dedup_growth([4], 2, workers=0)


def test_compacted_before_each_batch(tmp_path, monkeypatch, capsys):
    """With ``compact``, each size's gallery is one segment when its batch is searched (the
    compaction timed), and the batch is flagged as in the gallery of many segments."""
    import afis.bench.dedup as bench
    from afis.people import SEGMENTS
    from afis.people_shards import ShardedPeopleGallery

    monkeypatch.setattr(bench, "INSERT_BATCH", 10)  # several segments to compact
    plain = dedup_growth([30, 45], 6, duplicate_share=0.5, seed=4, folder=tmp_path / "a")
    run = dedup_growth(
        [30, 45], 6, duplicate_share=0.5, seed=4, folder=tmp_path / "b", compact=True
    )
    assert all(r.compact_s is not None and r.compact_s >= 0 for r in run.reports)
    assert all(r.compact_s is None for r in plain.reports)
    for a, b in zip(plain.reports, run.reports, strict=True):
        assert (a.missed, a.false_flags, a.gallery_people) == (
            b.missed,
            b.false_flags,
            b.gallery_people,
        )
    assert "compacted into one segment" in "\n".join(run.lines())
    # compacted before the last batch, whose unique people then made one more segment
    shard = next(p for p in (tmp_path / "b").iterdir() if p.is_dir())
    assert len(list((shard / SEGMENTS).iterdir())) == 2
    gallery = ShardedPeopleGallery.open(tmp_path / "b")
    try:
        assert gallery.count() == 45 + 3
    finally:
        gallery.close()
    assert (
        main(["bench", "dedup", "--people", "12", "--batch", "2", "--compact", "--nlist", "1"]) == 0
    )
    assert "compacted into one segment" in capsys.readouterr().out
