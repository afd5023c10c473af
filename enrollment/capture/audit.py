"""An append-only, hash-chained audit log of everything that happens at a station.

Each event is one JSON line holding its time, actor, action, details and the SHA-256 of
the previous line, so a line removed, changed or reordered breaks the chain where it
happened. Lines are appended with ``O_APPEND`` and fsynced before :meth:`AuditLog.append`
returns; a line cut short by a crash (the last, without its newline) is reported, not
skipped silently.

Examples
--------
>>> import tempfile, pathlib, datetime
>>> log = AuditLog(pathlib.Path(tempfile.mkdtemp()) / "audit.log")
>>> at = datetime.datetime(2026, 1, 5, 8, 0, tzinfo=datetime.timezone.utc)
>>> log.append("op-1", "session.started", {"nik": "3171014501900001"}, at=at)["seq"]
0
>>> [e["action"] for e in log.events()]
['session.started']
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

from enrollment.capture.errors import AuditLogError

__all__ = ["AuditLog"]

_GENESIS = "0" * 64


class AuditLog:
    """The station's audit log (one file, appended to, never rewritten)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._tail: tuple[int, str] | None = None  # (next seq, hash of the last line)

    def _last(self) -> tuple[int, str]:
        if self._tail is None:
            events = self.events()
            self._tail = (events[-1]["seq"] + 1, _digest(events[-1])) if events else (0, _GENESIS)
        return self._tail

    def append(
        self, actor: str, action: str, details: dict[str, Any], *, at: datetime.datetime
    ) -> dict[str, Any]:
        """Append one event; returns it as written."""
        with self._lock:
            seq, previous = self._last()
            event = {
                "seq": seq,
                "at": at.isoformat(),
                "actor": actor,
                "action": action,
                "details": details,
                "previous": previous,
            }
            line = json.dumps(event, sort_keys=True, separators=(",", ":")).encode() + b"\n"
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
            self._tail = (seq + 1, _digest(event))
            return event

    def events(self) -> list[dict[str, Any]]:
        """Every event, the chain checked; :class:`AuditLogError` names a broken line."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise AuditLogError(f"{self.path}: cannot read the audit log ({exc})") from exc
        if data and not data.endswith(b"\n"):
            raise AuditLogError(f"{self.path}: the last line is cut short (a crash mid-write?)")
        events: list[dict[str, Any]] = []
        previous = _GENESIS
        for number, line in enumerate(data.splitlines(), start=1):
            try:
                event = json.loads(line)
                ok = event["previous"] == previous and event["seq"] == len(events)
            except (ValueError, KeyError, TypeError):
                ok = False
            if not ok:
                raise AuditLogError(
                    f"{self.path}, line {number}: the hash chain is broken (line altered, "
                    "removed or reordered)"
                )
            events.append(event)
            previous = _digest(event)
        return events


def _digest(event: dict[str, Any]) -> str:
    return hashlib.sha256(
        json.dumps(event, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
