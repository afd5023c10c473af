"""The workstation's reports: records per status and region, the adjudication backlog and
its throughput (decisions per day), exported as CSV or XLSX.

Examples
--------
>>> from enrollment.store import Store
>>> store = Store("sqlite://")
>>> report = build_report(store)
>>> report.backlog, report.by_status_region, report.per_day
(0, [], [])
>>> to_csv(report).splitlines()[0]
'section,status,region,day,count'
"""

from __future__ import annotations

import csv
import datetime
import io
from dataclasses import dataclass

import sqlalchemy as sa

from enrollment.status import Status
from enrollment.store import Store, adjudications, records, status_history

__all__ = ["Report", "build_report", "to_csv", "to_xlsx"]


@dataclass(frozen=True)
class Report:
    """Counts of the reports page."""

    by_status_region: list[tuple[str, str, int]]  # status, region, records
    backlog: int  # records in ADJUDICATE_RECORD
    oldest: datetime.datetime | None  # when the oldest pending case entered the queue
    per_day: list[tuple[str, int]]  # day (ISO), adjudication decisions


def build_report(store: Store) -> Report:
    """Count records per status and region, the backlog and the decisions per day."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(records.c.status, records.c.region, sa.func.count())
            .group_by(records.c.status, records.c.region)
            .order_by(records.c.status, records.c.region)
        ).all()
        backlog = sum(int(n) for s, _, n in rows if s == Status.ADJUDICATE_RECORD.value)
        oldest = conn.execute(
            sa.select(sa.func.min(status_history.c.at))
            .join(records, records.c.id == status_history.c.record_id)
            .where(
                records.c.status == Status.ADJUDICATE_RECORD.value,
                status_history.c.to_status == Status.ADJUDICATE_RECORD.value,
            )
        ).scalar_one_or_none()
        days: dict[str, int] = {}
        for (at,) in conn.execute(sa.select(adjudications.c.at)):
            key = at.date().isoformat()
            days[key] = days.get(key, 0) + 1
    return Report(
        by_status_region=[(s, r, int(n)) for s, r, n in rows],
        backlog=backlog,
        oldest=oldest,
        per_day=sorted(days.items()),
    )


def _rows(report: Report) -> list[list[object]]:
    out: list[list[object]] = [["section", "status", "region", "day", "count"]]
    out += [["records", s, r, "", n] for s, r, n in report.by_status_region]
    out.append(["backlog", Status.ADJUDICATE_RECORD.value, "", "", report.backlog])
    out += [["decisions", "", "", d, n] for d, n in report.per_day]
    return out


def _cell(value: object) -> object:
    # a spreadsheet must not run what a field holds: neutralise formula starts
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def to_csv(report: Report) -> str:
    """The report as CSV text (one section per row kind)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in _rows(report):
        writer.writerow([_cell(v) for v in row])
    return buffer.getvalue()


def to_xlsx(report: Report) -> bytes:
    """The report as an XLSX workbook (one sheet)."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "report"
    for row in _rows(report):
        sheet.append([_cell(v) for v in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
