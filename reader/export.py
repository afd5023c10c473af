"""What a reader user gets out of a read: demographics (.txt, .csv), the photo (.bmp), the
signature (.bmp), a preview of the card as read (.jpg), and a log worksheet (.xlsx) with one
row per read. Works offline.

Every file is written with :func:`afis.atomic.atomic_write` (a temporary file in the same
folder, fsynced and moved into place), so a failure never leaves a half-written export or log
behind.

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> row = LogRow("2026-11-23T10:00:00Z", "Virtual PCD 00 00", "317123******0001",
...              True, True, "berhasil", "RIGHT_INDEX 0.08; LEFT_INDEX 0.07", "")
>>> append_log(folder / "log.xlsx", row).name
'log.xlsx'
>>> read_log(folder / "log.xlsx")[0]["outcome"]
'berhasil'
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from dataclasses import astuple, dataclass, fields
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from afis.atomic import atomic_write
from reader.session import CardData
from reader.verify import Verification, mask

__all__ = ["LogRow", "append_log", "export_card", "log_row", "read_log"]

LOG_SHEET = "reads"


def _text(card: CardData) -> str:
    lines = [f"{k.replace('_', ' ').upper():16}: {v}" for k, v in card.biodata.as_dict().items()]
    lines.append(f"{'CARD UID':16}: {card.uid.hex().upper()}")
    return "\n".join(lines) + "\n"


def _csv(card: CardData) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    row = card.biodata.as_dict()
    writer.writerow(list(row))
    writer.writerow(list(row.values()))
    return out.getvalue().encode("ascii")


def _signature_image(card: CardData) -> Image.Image:
    return Image.fromarray(np.where(card.signature, 0, 255).astype(np.uint8)).convert("1")


def _preview(card: CardData, verification: Verification | None) -> Image.Image:
    width, height = 720, 420
    canvas = Image.new("RGB", (width, height), (235, 242, 250))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    draw.rectangle((0, 0, width, 28), fill=(20, 60, 120))
    draw.text(
        (10, 8), "KARTU TANDA PENDUDUK ELEKTRONIK (as read from the chip)", (255, 255, 255), font
    )
    photo = card.photo.convert("RGB")
    photo.thumbnail((180, 230))
    canvas.paste(photo, (width - 200, 45))
    y = 40
    for key, value in card.biodata.as_dict().items():
        draw.text((12, y), f"{key.replace('_', ' ').title():16} {value}", (0, 0, 0), font)
        y += 15
    sig = _signature_image(card).convert("RGB").resize((336, 88))
    canvas.paste(sig, (width - 350, 290))
    if verification is not None:
        ok = verification.outcome == "berhasil"
        colour = (20, 130, 40) if ok else (170, 20, 20)
        draw.rectangle((0, height - 40, width, height), fill=colour)
        scores = ", ".join(f"{p.name} {s:.4f}" for p, s in verification.best_scores.items())
        draw.text(
            (10, height - 28), f"{verification.outcome.upper()}  {scores}", (255, 255, 255), font
        )
    return canvas


def export_card(
    card: CardData, folder: str | Path, verification: Verification | None = None, stem: str = ""
) -> dict[str, Path]:
    """Write the demographics, photo, signature and preview of ``card`` into ``folder``.

    Returns kind -> path (``txt``, ``csv``, ``photo``, ``signature``, ``preview``). Files are
    named ``<stem>.txt``, ``<stem>.csv``, ``<stem>_photo.bmp``, ``<stem>_signature.bmp``,
    ``<stem>_preview.jpg``; the stem defaults to the NIK.
    """
    folder = Path(folder)
    stem = stem or card.biodata.nik
    out: dict[str, Path] = {}

    def image_writer(image: Image.Image, fmt: str, **kw: object) -> Callable:
        return lambda f: image.save(f, fmt, **kw)

    out["txt"] = atomic_write(folder / f"{stem}.txt", lambda f: f.write(_text(card).encode()))
    out["csv"] = atomic_write(folder / f"{stem}.csv", lambda f: f.write(_csv(card)))
    out["photo"] = atomic_write(
        folder / f"{stem}_photo.bmp", image_writer(card.photo.convert("RGB"), "BMP")
    )
    out["signature"] = atomic_write(
        folder / f"{stem}_signature.bmp", image_writer(_signature_image(card), "BMP")
    )
    out["preview"] = atomic_write(
        folder / f"{stem}_preview.jpg",
        image_writer(_preview(card, verification), "JPEG", quality=90),
    )
    return out


@dataclass(frozen=True)
class LogRow:
    """One row of the read log (no key material, the NIK masked)."""

    time: str
    reader: str
    nik: str
    mutual_authentication: bool
    passive_authentication: bool
    outcome: str
    scores: str
    message: str


def log_row(
    reader: str,
    verification: Verification | None = None,
    card: CardData | None = None,
    error: str = "",
) -> LogRow:
    """The log row of a read: from a verification, a plain read, or an error."""
    card = card if card is not None else (verification.card if verification else None)
    checks = verification.checks if verification is not None else (card.checks if card else {})
    if verification is not None:
        outcome, message = verification.outcome, verification.message
        scores = "; ".join(f"{p.name} {s:.4f}" for p, s in verification.best_scores.items())
    else:
        outcome, message, scores = ("error", error, "") if error else ("read", "", "")
    return LogRow(
        time=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        reader=reader,
        nik=mask(card.biodata.nik) if card is not None else "",
        mutual_authentication=bool(checks.get("mutual_authentication", False)),
        passive_authentication=bool(checks.get("passive_authentication", False)),
        outcome=outcome,
        scores=scores,
        message=message,
    )


def append_log(path: str | Path, row: LogRow) -> Path:
    """Append ``row`` to the log worksheet (created with a header when absent), atomically."""
    from openpyxl import Workbook, load_workbook

    path = Path(path)
    if path.exists():
        book = load_workbook(path)
        sheet = book[LOG_SHEET]
    else:
        book = Workbook()
        sheet = book.active
        sheet.title = LOG_SHEET
        sheet.append([f.name for f in fields(LogRow)])
    sheet.append(list(astuple(row)))
    return atomic_write(path, book.save)


def read_log(path: str | Path) -> list[dict[str, object]]:
    """The rows of a log worksheet as dicts (header -> value)."""
    from openpyxl import load_workbook

    book = load_workbook(Path(path), read_only=True)
    rows = list(book[LOG_SHEET].iter_rows(values_only=True))
    book.close()
    header = [str(h) for h in rows[0]]
    return [dict(zip(header, r, strict=True)) for r in rows[1:]]
