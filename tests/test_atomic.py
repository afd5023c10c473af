"""Files written whole or not at all (afis.atomic), as every layer writes them."""

from __future__ import annotations

import pytest

from afis.atomic import atomic_write


def test_a_failing_writer_leaves_the_old_file_and_no_temporary(tmp_path) -> None:
    target = atomic_write(tmp_path / "sub" / "f.bin", b"old")
    assert target.read_bytes() == b"old"

    def broken(f) -> None:
        f.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, broken)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in target.parent.iterdir()) == ["f.bin"]


def test_mode_and_wrong_data(tmp_path) -> None:
    secret = atomic_write(tmp_path / "key", b"k", mode=0o600)
    assert secret.stat().st_mode & 0o777 == 0o600
    with pytest.raises(TypeError, match="bytes or a writer"):
        atomic_write(tmp_path / "x", "text")  # type: ignore[arg-type]
    assert not (tmp_path / "x").exists()
