"""The data centre's subcommands end to end on a small population."""

from __future__ import annotations

import re

from enrollment.cli import main


def test_demo_then_adjudicate_and_delete(tmp_path, capsys) -> None:
    db = tmp_path / "demo.db"
    code = main(
        [
            "demo",
            "--people",
            "60",
            "--duplicates",
            "0.05",
            "--mismatches",
            "2",
            "--seed",
            "4",
            "--db",
            str(db),
            "--work-dir",
            str(tmp_path / "work"),
            "--chunk-size",
            "32",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "planted duplicates 3: found 3" in out
    assert "planted NIK/sex mismatches 2: found 2" in out
    assert re.search(r"unique people flagged 0 of \d+", out)
    assert re.search(r"DUPLICATE_RECORD\s+3", out)

    assert main(["status", "--db", str(db)]) == 0
    assert re.search(r"PRINT_READY_RECORD\s+58", capsys.readouterr().out)
    assert main(["dedup", "--db", str(db), "--work-dir", str(tmp_path / "work")]) == 0
    assert "nothing to de-duplicate" in capsys.readouterr().out
    assert main(["adjudicate", "list", "--db", str(db)]) == 0
    assert "0 pending case(s)" in capsys.readouterr().out

    from enrollment.store import Store

    store = Store(db)
    duplicate = next(r for r, s in store.statuses().items() if s.value == "DUPLICATE_RECORD")
    args = ["deletion", "file", str(duplicate), "--actor", "region", "--reason", "same person"]
    assert main([*args, "--db", str(db)]) == 0
    assert "deletion request 1 filed" in capsys.readouterr().out
    assert main(["deletion", "list", "--db", str(db)]) == 0
    assert "1 pending request(s)" in capsys.readouterr().out
    args = ["deletion", "resolve", "1", "approve", "--actor", "centre", "--reason", "ok"]
    assert main([*args, "--db", str(db)]) == 0
    assert "approved: record now DELETED" in capsys.readouterr().out
    assert main(["status", "--db", str(db), "--record", str(duplicate)]) == 0
    assert "REQUEST_FOR_DELETION -> DELETED by centre" in capsys.readouterr().out
    # a decision on a record that is not pending is an error, not a traceback
    args = ["adjudicate", "decide", str(duplicate), "same_person", "--actor", "a", "--reason", "r"]
    assert main([*args, "--db", str(db)]) == 2
    assert "is in DELETED, not ADJUDICATE_RECORD" in capsys.readouterr().err
