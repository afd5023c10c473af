"""The adjudication workstation's web application (Flask, server-rendered, no external
scripts): login, the queue, case pages, the finger viewer, decisions, deletion requests,
reports and the audit trail.

Every page needs a login; every action checks the user's role and answers 403 with what the
role may not do. Every form carries a CSRF token (Flask-WTF). The session cookie is HttpOnly
and SameSite=Lax (Secure when ``secure_cookies``). Every view of a case and every decision
is written to the audit trail with the user, the time and the remote address; the server's
log names record ids only, never a NIK or a name.

Examples
--------
>>> from enrollment.store import Store
>>> app = create_app(Store("sqlite://"), secret_key="example")
>>> client = app.test_client()
>>> client.get("/queue").status_code, client.get("/queue").headers["Location"]
(302, '/login?next=/queue')
>>> sorted(ROLE_HOME)
['adjudicator', 'auditor', 'regional_officer', 'supervisor']
"""

from __future__ import annotations

import datetime
import functools
import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import (
    Flask,
    Response,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFError, CSRFProtect

from afis.template import FingerPosition, Template
from enrollment import adjudication
from enrollment.status import IllegalTransition, Status
from enrollment.store import (
    SampleState,
    Store,
    StoreError,
    deletion_requests,
    records,
    samples,
    workstation_audit,
)
from enrollment.workstation import cases, reports, viewer
from enrollment.workstation.users import ROLES, LoginRefused, audit, authenticate, get_user

__all__ = ["ROLE_HOME", "create_app", "serve"]

log = logging.getLogger("enrollment.workstation")

PACKAGE = Path(__file__).resolve().parent
#: Where each role lands after logging in.
ROLE_HOME = {
    "adjudicator": "queue_page",
    "supervisor": "queue_page",
    "auditor": "queue_page",
    "regional_officer": "deletions_page",
}
#: Who may do what (the pages say it in these words when they refuse).
PERMISSIONS = {
    "view cases": {"adjudicator", "supervisor", "auditor"},
    "claim cases": {"adjudicator", "supervisor"},
    "decide cases": {"adjudicator", "supervisor"},
    "see deletion requests": {"regional_officer", "supervisor", "auditor"},
    "file deletion requests": {"regional_officer"},
    "resolve deletion requests": {"supervisor"},
    "see reports": {"supervisor", "auditor"},
    "see the audit trail": {"supervisor", "auditor"},
}
#: Statuses a region may ask to delete (the lifecycle allows REQUEST_FOR_DELETION from them).
DELETABLE = (Status.DUPLICATE_RECORD, Status.REQUEST_VALIDATION)
FINGER_NAMES = {
    p: p.name.replace("_", " ").lower() for p in FingerPosition if p != FingerPosition.UNKNOWN
}
GAP = 40  # pixels between the two sides of the finger viewer


class Refused(Exception):
    """An action refused with an HTTP status and a message for the user."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _age(delta: datetime.timedelta | None) -> str:
    if delta is None:
        return "-"
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


def _time(value: datetime.datetime | None) -> str:
    if value is None:
        return "-"
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value.strftime("%Y-%m-%d %H:%M UTC")


def _safe_next(target: str | None) -> str | None:
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def create_app(
    store: Store | str | os.PathLike[str],
    *,
    secret_key: str | None = None,
    secure_cookies: bool = False,
    csrf: bool = True,
) -> Flask:
    """The workstation application over a store (or a store URL / SQLite path).

    Parameters
    ----------
    secret_key : str, optional
        Signs the session cookie; default ``AFIS_WORKSTATION_SECRET`` or a random key (all
        sessions end when the server restarts).
    secure_cookies : bool
        Send the session cookie over HTTPS only (set it behind a TLS proxy).
    csrf : bool
        Check CSRF tokens (always on in production; tests may turn it off).
    """
    if not isinstance(store, Store):
        store = Store(store)
    app = Flask(
        "enrollment.workstation",
        template_folder=str(PACKAGE / "templates"),
        static_folder=str(PACKAGE / "static"),
    )
    app.config.update(
        SECRET_KEY=secret_key or os.environ.get("AFIS_WORKSTATION_SECRET") or secrets.token_hex(32),
        SESSION_COOKIE_NAME="afis_ws",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=bool(secure_cookies),
        PERMANENT_SESSION_LIFETIME=datetime.timedelta(hours=8),
        WTF_CSRF_ENABLED=bool(csrf),
        WTF_CSRF_TIME_LIMIT=8 * 3600,
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    app.extensions["afis_store"] = store
    CSRFProtect(app)
    app.jinja_env.filters["age"] = _age
    app.jinja_env.filters["time"] = _time
    app.jinja_env.globals.update(
        ROLES=ROLES, VOTES=cases.VOTES, FINGER_NAMES=FINGER_NAMES, PERMISSIONS=PERMISSIONS
    )

    def remote() -> str:
        return request.remote_addr or ""

    def user() -> Any:
        return g.user

    def allowed(what: str) -> bool:
        return g.get("user") is not None and g.user.role in PERMISSIONS[what]

    app.jinja_env.globals["allowed"] = allowed

    def requires(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def wrap(view: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(view)
            def inner(*args: Any, **kwargs: Any) -> Any:
                if not allowed(what):
                    audit(
                        store,
                        g.user.username,
                        "refused",
                        request.path[:200],
                        f"role {g.user.role} may not {what}",
                        remote_addr=remote(),
                    )
                    raise Refused(
                        403,
                        f"Forbidden: your role ({ROLES[g.user.role]}) may not {what}.",
                    )
                return view(*args, **kwargs)

            return inner

        return wrap

    @app.before_request
    def load_user() -> Any:
        g.user = None
        uid = session.get("uid")
        if uid is not None:
            g.user = get_user(store, int(uid))
            if g.user is None:
                session.clear()
        if g.user is None and request.endpoint not in ("login", "static"):
            if request.method == "GET":
                return redirect(url_for("login", next=request.full_path.rstrip("?")))
            return render_template("error.html", title="Login needed", message="Log in first."), 401
        return None

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        if request.endpoint != "static":
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(Refused)
    def refused(exc: Refused) -> Any:
        title = {403: "Forbidden", 404: "Not found", 409: "Conflict"}.get(exc.code, "Refused")
        return render_template("error.html", title=title, message=exc.message), exc.code

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> Any:
        message = (
            "The form's security token (CSRF) is missing or wrong: nothing was changed. "
            "Reload the page and try again."
        )
        return render_template("error.html", title="Refused", message=message), 400

    @app.errorhandler(404)
    def not_found(exc: Any) -> Any:
        return render_template("error.html", title="Not found", message="No such page."), 404

    def int_arg(value: Any, name: str) -> int:
        try:
            number = int(str(value))
        except (TypeError, ValueError):
            raise Refused(400, f"{name} must be a number") from None
        if not 0 < number < 2**31:
            raise Refused(400, f"{name} is out of range")
        return number

    # -- login -----------------------------------------------------------------------------

    @app.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        error = None
        if request.method == "POST":
            username = request.form.get("username", "")
            try:
                account = authenticate(
                    store, username, request.form.get("password", ""), remote_addr=remote()
                )
            except LoginRefused as exc:
                log.info("login refused")
                error = str(exc)
            else:
                session.clear()
                session.permanent = True
                session["uid"] = account.id
                log.info("login: user %d", account.id)
                target = _safe_next(request.args.get("next")) or url_for(ROLE_HOME[account.role])
                return redirect(target)
        return render_template("login.html", error=error), 401 if error else 200

    @app.post("/logout")
    def logout() -> Any:
        audit(store, g.user.username, "logout", remote_addr=remote())
        session.clear()
        return redirect(url_for("login"))

    @app.get("/")
    def home() -> Any:
        return redirect(url_for(ROLE_HOME[g.user.role]))

    # -- queue and claims ------------------------------------------------------------------

    @app.get("/queue")
    @requires("view cases")
    def queue_page() -> Any:
        region = request.args.get("region", "")[:6]
        sort = request.args.get("sort", "age")
        if sort not in ("age", "score"):
            sort = "age"
        entries = cases.queue(store, region=region, sort=sort)
        return render_template(
            "queue.html",
            entries=entries,
            region=region,
            sort=sort,
            now=datetime.datetime.now(datetime.timezone.utc),
        )

    @app.post("/case/<int:record_id>/claim")
    @requires("claim cases")
    def claim(record_id: int) -> Any:
        try:
            cases.claim(store, record_id, g.user.username)
        except cases.CaseConflict as exc:
            raise Refused(409, str(exc)) from None
        except StoreError:
            raise Refused(404, f"No case {record_id}.") from None
        audit(store, g.user.username, "claim", f"record {record_id}", remote_addr=remote())
        log.info("case %d claimed by user %d", record_id, g.user.id)
        flash(f"You claimed case {record_id} for {cases.CLAIM_MINUTES} minutes.")
        return redirect(url_for("case_page", record_id=record_id))

    @app.post("/case/<int:record_id>/release")
    @requires("claim cases")
    def release(record_id: int) -> Any:
        try:
            cases.release(store, record_id, g.user.username, force=g.user.role == "supervisor")
        except cases.CaseConflict as exc:
            raise Refused(409, str(exc)) from None
        audit(store, g.user.username, "release", f"record {record_id}", remote_addr=remote())
        flash(f"Case {record_id} released.")
        return redirect(url_for("queue_page"))

    # -- case page and viewer --------------------------------------------------------------

    def load_case(record_id: int) -> cases.CaseView:
        try:
            return cases.case_view(store, record_id)
        except StoreError:
            raise Refused(404, f"No record {record_id}.") from None

    @app.get("/case/<int:record_id>")
    @requires("view cases")
    def case_page(record_id: int) -> Any:
        view = load_case(record_id)
        total = len(view.candidates)
        n = request.args.get("candidate", "1")
        n = int(n) if n.isdigit() and 1 <= int(n) <= max(total, 1) else 1
        candidate = view.candidates[n - 1] if total else None
        audit(
            store,
            g.user.username,
            "view_case",
            f"record {record_id}",
            f"candidate {candidate.record_id if candidate else '-'}",
            remote_addr=remote(),
        )
        log.info("case %d viewed by user %d", record_id, g.user.id)
        # adjudicators decide independently: they see the others' votes once the case closed
        show_votes = g.user.role != "adjudicator" or view.stage == "closed"
        return render_template(
            "case.html",
            case=view,
            n=n,
            total=total,
            candidate=candidate,
            show_votes=show_votes,
            my_vote=next((v for v in view.votes if v["username"] == g.user.username), None),
        )

    def template_of(record_id: int, position: int) -> tuple[Template | None, str | None, str]:
        with store.engine.connect() as conn:
            row = conn.execute(
                sa.select(samples).where(
                    samples.c.record_id == record_id, samples.c.position == position
                )
            ).first()
        if row is None:
            return None, None, "no sample"
        if row.state != SampleState.CAPTURED.value or row.template is None:
            return None, None, f"{row.state}: {row.reason}"
        try:
            return Template.from_bytes(bytes(row.template)), row.image_ref, ""
        except Exception:  # a template that no longer decodes is shown as such
            return None, None, "template does not decode"

    @app.get("/case/<int:record_id>/finger/<int:candidate_id>/<int:position>")
    @requires("view cases")
    def finger_page(record_id: int, candidate_id: int, position: int) -> Any:
        if not 1 <= position <= 10:
            raise Refused(404, "A finger position is 1..10.")
        view = load_case(record_id)
        ids = [c.record_id for c in view.candidates]
        if candidate_id not in ids:
            raise Refused(404, f"Record {candidate_id} is not a candidate of case {record_id}.")
        candidate = view.candidates[ids.index(candidate_id)]
        mode = request.args.get("view", "original")
        if mode not in viewer.VIEWS:
            mode = "original"
        sides = []
        for rid in (record_id, candidate_id):
            t, ref, why = template_of(rid, position)
            has_image = t is not None and viewer.stage_image(ref, "original") is not None
            sides.append(
                {
                    "record_id": rid,
                    "template": t,
                    "why": why,
                    "has_image": has_image,
                    "minutiae": viewer.minutiae(t) if t is not None else [],
                    "width": t.width if t is not None else 300,
                    "height": t.height if t is not None else 400,
                }
            )
        a, b = sides
        pairs, note = [], ""
        if a["template"] is not None and b["template"] is not None:
            pairs, note = viewer.matched_pairs(a["template"], b["template"])
        offset = a["width"] + GAP
        lines = [
            {
                "a": i,
                "b": j,
                "x1": a["minutiae"][i]["x"],
                "y1": a["minutiae"][i]["y"],
                "x2": offset + b["minutiae"][j]["x"],
                "y2": b["minutiae"][j]["y"],
            }
            for i, j in pairs
            if i < len(a["minutiae"]) and j < len(b["minutiae"])
        ]
        audit(
            store,
            g.user.username,
            "view_finger",
            f"record {record_id}",
            f"candidate {candidate_id} finger {position} {mode}",
            remote_addr=remote(),
        )
        log.info("finger %d of case %d viewed by user %d", position, record_id, g.user.id)
        return render_template(
            "finger.html",
            case=view,
            candidate=candidate,
            n=ids.index(candidate_id) + 1,
            position=position,
            mode=mode,
            a=a,
            b=b,
            offset=offset,
            width=offset + b["width"],
            height=max(a["height"], b["height"]),
            lines=lines,
            note=note,
            score=candidate.finger_scores[position - 1]
            if len(candidate.finger_scores) >= position
            else None,
        )

    @app.get("/image/<int:record_id>/<int:position>/<view>.png")
    @requires("view cases")
    def image(record_id: int, position: int, view: str) -> Any:
        if view not in viewer.VIEWS or not 1 <= position <= 10:
            raise Refused(404, "No such image.")
        t, ref, _ = template_of(record_id, position)
        pixels = viewer.stage_image(ref, view) if t is not None else None
        if pixels is None:
            data = viewer.blank_png(t.width if t else 300, t.height if t else 400)
        else:
            data = viewer.png(pixels)
        response = Response(data, mimetype="image/png")
        response.headers["Cache-Control"] = "private, max-age=300"
        return response

    # -- decisions -------------------------------------------------------------------------

    @app.post("/case/<int:record_id>/vote")
    @requires("decide cases")
    def vote(record_id: int) -> Any:
        raw = request.form.get("result_id", "")
        result_id = None if raw in ("", "none") else int_arg(raw, "result_id")
        decision = request.form.get("decision", "")
        reason = request.form.get("reason", "")
        try:
            outcome = cases.vote(store, record_id, result_id, g.user, decision, reason)
        except cases.CaseConflict as exc:
            audit(
                store,
                g.user.username,
                "vote_refused",
                f"record {record_id}",
                str(exc),
                remote_addr=remote(),
            )
            raise Refused(409, str(exc)) from None
        except StoreError as exc:
            if "no record" in str(exc):
                raise Refused(404, f"No record {record_id}.") from None
            raise Refused(400, f"Not recorded: {exc}.") from None
        audit(
            store,
            g.user.username,
            "vote",
            f"record {record_id}",
            f"{decision} (result {result_id}): {reason}"[:2000],
            remote_addr=remote(),
        )
        if outcome.status is not None:
            audit(
                store,
                g.user.username,
                "case_closed",
                f"record {record_id}",
                f"{decision} -> {outcome.status.value}",
                remote_addr=remote(),
            )
        log.info("case %d: vote by user %d", record_id, g.user.id)
        flash(f"Case {record_id}: {outcome.message}.")
        return redirect(url_for("case_page", record_id=record_id))

    # -- deletion requests -----------------------------------------------------------------

    @app.get("/deletions")
    @requires("see deletion requests")
    def deletions_page() -> Any:
        region = g.user.region if g.user.role == "regional_officer" else ""
        with store.engine.connect() as conn:
            query = (
                sa.select(deletion_requests, records.c.region, records.c.status)
                .join(records, records.c.id == deletion_requests.c.record_id)
                .order_by(deletion_requests.c.id.desc())
                .limit(500)
            )
            if region:
                query = query.where(records.c.region == region)
            requests_ = conn.execute(query).all()
            fileable = []
            if g.user.role == "regional_officer":
                fileable = conn.execute(
                    sa.select(records.c.id, records.c.status)
                    .where(
                        records.c.region == region,
                        records.c.status.in_([s.value for s in DELETABLE]),
                    )
                    .order_by(records.c.id)
                ).all()
        return render_template("deletions.html", requests=requests_, fileable=fileable)

    @app.post("/deletions/file")
    @requires("file deletion requests")
    def file_deletion() -> Any:
        record_id = int_arg(request.form.get("record_id"), "record")
        raw = request.form.get("counterpart_id", "").strip()
        counterpart = int_arg(raw, "counterpart") if raw else None
        reason = " ".join(request.form.get("reason", "").split())[:1000]
        with store.engine.connect() as conn:
            row = conn.execute(
                sa.select(records.c.region, records.c.status).where(records.c.id == record_id)
            ).first()
        if row is None:
            raise Refused(404, f"No record {record_id}.")
        if row.region != g.user.region:
            audit(
                store,
                g.user.username,
                "refused",
                f"record {record_id}",
                "deletion request for another region",
                remote_addr=remote(),
            )
            raise Refused(
                403,
                f"Forbidden: record {record_id} belongs to another region; a regional officer "
                "files deletion requests for records of their own region only.",
            )
        if Status(row.status) not in DELETABLE:
            raise Refused(409, f"Record {record_id} is {row.status}: it cannot be deleted.")
        if not reason:
            raise Refused(400, "A deletion request needs the region's analysis.")
        try:
            number = adjudication.file_deletion(
                store, record_id, actor=g.user.username, reason=reason, counterpart_id=counterpart
            )
        except IllegalTransition as exc:
            raise Refused(409, f"Not filed: {exc}.") from None
        except StoreError as exc:
            raise Refused(400, f"Not filed: {exc}.") from None
        audit(
            store,
            g.user.username,
            "file_deletion",
            f"record {record_id}",
            f"request {number}, counterpart {counterpart}: {reason}"[:2000],
            remote_addr=remote(),
        )
        log.info("deletion request %d filed for record %d", number, record_id)
        flash(f"Deletion request {number} filed for record {record_id}.")
        return redirect(url_for("deletions_page"))

    @app.post("/deletions/<int:request_id>/resolve")
    @requires("resolve deletion requests")
    def resolve_deletion(request_id: int) -> Any:
        verdict = request.form.get("verdict", "")
        if verdict not in ("approve", "reject"):
            raise Refused(400, "The verdict is approve or reject.")
        reason = " ".join(request.form.get("reason", "").split())[:1000]
        if not reason:
            raise Refused(400, "A resolution needs a reason.")
        try:
            new = adjudication.resolve_deletion(
                store, request_id, verdict == "approve", actor=g.user.username, reason=reason
            )
        except (IllegalTransition, StoreError) as exc:
            raise Refused(409, f"Not resolved: {exc}.") from None
        audit(
            store,
            g.user.username,
            f"{verdict}_deletion",
            f"request {request_id}",
            f"record now {new.value}: {reason}"[:2000],
            remote_addr=remote(),
        )
        log.info("deletion request %d: %s", request_id, verdict)
        flash(f"Deletion request {request_id} {verdict}d: the record is now {new.value}.")
        return redirect(url_for("deletions_page"))

    # -- reports and audit -----------------------------------------------------------------

    @app.get("/reports")
    @requires("see reports")
    def reports_page() -> Any:
        report = reports.build_report(store)
        return render_template("reports.html", report=report)

    @app.get("/reports/export.<fmt>")
    @requires("see reports")
    def export(fmt: str) -> Any:
        report = reports.build_report(store)
        audit(store, g.user.username, "export_report", fmt, remote_addr=remote())
        if fmt == "csv":
            data: bytes = reports.to_csv(report).encode()
            mime = "text/csv"
        elif fmt == "xlsx":
            data = reports.to_xlsx(report)
            mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        else:
            raise Refused(404, "Exports are .csv or .xlsx.")
        response = Response(data, mimetype=mime)
        response.headers["Content-Disposition"] = f"attachment; filename=report.{fmt}"
        return response

    @app.get("/audit")
    @requires("see the audit trail")
    def audit_page() -> Any:
        who = request.args.get("user", "")[:100]
        action = request.args.get("action", "")[:64]
        query = sa.select(workstation_audit).order_by(workstation_audit.c.id.desc()).limit(500)
        if who:
            query = query.where(workstation_audit.c.username == who)
        if action:
            query = query.where(workstation_audit.c.action == action)
        with store.engine.connect() as conn:
            rows = conn.execute(query).all()
        return render_template("audit.html", rows=rows, who=who, action=action)

    return app


def serve(app: Flask, host: str = "127.0.0.1", port: int = 8080, threads: int = 8) -> None:
    """Serve the application with waitress (blocks)."""
    from waitress import serve as waitress_serve

    log.info("workstation on http://%s:%d/", host, port)
    waitress_serve(app, host=host, port=port, threads=threads, ident="afis-workstation")
