"""The adjudication workstation through Flask's test client, CSRF checks on: logins and
throttling, roles, the two-person decisions, conflicts, deletion requests, reports, and bad
input (injection and script payloads stay inert; no NIK or name reaches the server's log)."""

from __future__ import annotations

import datetime
import io
import logging
import re

import pytest
import sqlalchemy as sa

pytest.importorskip("flask")

from _workstation import PASSWORD, add_users, make_case, newer_result, person, toy_template

import afis
from enrollment.cli import main as cli_main
from enrollment.status import Status
from enrollment.store import (
    Sample,
    Store,
    adjudications,
    records,
    workstation_audit,
    workstation_claims,
    workstation_users,
    workstation_votes,
)
from enrollment.workstation import create_app

NIKS = ("3171014501900001", "3171014501900002", "3171010501910004", "3171010501910005")
NAMES = ("SITI AMINAH", "SITI AMINA", "BUDI SANTOSO", "BUDI SANTOSA")
SCRIPT = "<script>alert('x')</script>"
SQL = "'; DROP TABLE records; --"


def _fingers(seed: int) -> list[Sample]:
    out = []
    for position in (1, 2, 6, 7):
        t = toy_template(seed * 10 + position, n=15 + position, position=position)
        out.append(Sample(position=position, template=t.to_bytes(), quality=60))
    return out


@pytest.fixture
def env(tmp_path):
    store = Store(tmp_path / "centre.db")
    add_users(store)
    grey = [0.05, 0.06, 0.0, 0.0, 0.0, 0.04, 0.07, 0.0, 0.0, 0.15]  # fused 0.37
    case1 = make_case(
        store,
        (person(NIKS[0], NAMES[0]), _fingers(1)),
        [(person(NIKS[1], NAMES[1]), _fingers(2), grey)],
    )
    case2 = make_case(
        store,
        (person(NIKS[2], NAMES[2], sex="M"), _fingers(3)),
        [(person(NIKS[3], NAMES[3], sex="M", region="327301"), _fingers(4), grey)],
    )
    app = create_app(store, secret_key="test", csrf=True)
    app.config["TESTING"] = True
    yield {"store": store, "app": app, "case1": case1, "case2": case2}
    store.close()


def _token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def _client(env, name: str | None = None):
    client = env["app"].test_client()
    if name is not None:
        page = client.get("/login")
        response = client.post(
            "/login",
            data={"username": name, "password": PASSWORD, "csrf_token": _token(page.text)},
        )
        assert response.status_code == 302, response.text
    return client


def _post(client, page_url: str, url: str, data: dict):
    """Post a form with the token of the page it sits on."""
    token = _token(client.get(page_url).text)
    return client.post(url, data={**data, "csrf_token": token})


def _vote(client, rid: int, decision: str, reason: str = "ridge detail", result_id=None):
    page = client.get(f"/case/{rid}")
    if result_id is None:
        found = re.search(r'name="result_id" value="([^"]+)"', page.text)
        assert found, page.text
        result_id = found.group(1)
    return client.post(
        f"/case/{rid}/vote",
        data={
            "csrf_token": _token(page.text),
            "result_id": result_id,
            "decision": decision,
            "reason": reason,
        },
    )


def test_every_page_needs_login(env) -> None:
    rid, (cid,), _ = env["case1"]
    client = _client(env)
    for url in (
        "/",
        "/queue",
        f"/case/{rid}",
        f"/case/{rid}/finger/{cid}/1",
        f"/image/{rid}/1/original.png",
        "/deletions",
        "/reports",
        "/reports/export.csv",
        "/audit",
    ):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/login"), url
    token = _token(client.get("/login").text)
    for url in (
        f"/case/{rid}/vote",
        f"/case/{rid}/claim",
        "/deletions/file",
        "/deletions/1/resolve",
    ):
        response = client.post(url, data={"csrf_token": token, "decision": "same_person"})
        assert response.status_code == 401, url
        assert "Log in first" in response.text
    assert env["store"].status(rid) == Status.ADJUDICATE_RECORD


def test_session_cookie_flags(env) -> None:
    client = env["app"].test_client()
    page = client.get("/login")
    response = client.post(
        "/login", data={"username": "ana", "password": PASSWORD, "csrf_token": _token(page.text)}
    )
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("afis_ws="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    secure = create_app(env["store"], secret_key="x", secure_cookies=True)
    assert secure.config["SESSION_COOKIE_SECURE"] is True
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_roles_see_and_do_only_their_own(env) -> None:
    rid, _, _ = env["case1"]
    ana, aud, rio = _client(env, "ana"), _client(env, "aud"), _client(env, "rio")
    # an auditor reads queue, case, reports and the audit trail, and can change nothing
    for url in ("/queue", f"/case/{rid}", "/reports", "/audit", "/deletions"):
        assert aud.get(url).status_code == 200, url
    response = _vote(aud, rid, "same_person", result_id="1")
    assert response.status_code == 403
    assert "your role (Auditor (read-only)) may not decide cases" in response.text
    assert _post(aud, "/queue", f"/case/{rid}/claim", {}).status_code == 403
    assert "Read-only" in aud.get(f"/case/{rid}").text
    # an adjudicator cannot approve a deletion, see reports or the audit trail
    response = _post(ana, "/queue", "/deletions/1/resolve", {"verdict": "approve", "reason": "x"})
    assert response.status_code == 403
    assert "may not resolve deletion requests" in response.text
    for url in ("/reports", "/audit", "/deletions"):
        assert ana.get(url).status_code == 403, url
    # a regional officer files deletion requests and sees nothing of the queue
    for url in ("/queue", f"/case/{rid}", "/reports"):
        assert rio.get(url).status_code == 403, url
    assert rio.get("/").headers["Location"] == "/deletions"
    response = _post(rio, "/deletions", f"/case/{rid}/vote", {"decision": "same_person"})
    assert response.status_code == 403
    with env["store"].engine.connect() as conn:
        refused = conn.execute(
            sa.select(sa.func.count()).where(workstation_audit.c.action == "refused")
        ).scalar_one()
        assert conn.execute(sa.select(sa.func.count()).select_from(workstation_votes)).scalar() == 0
    assert refused >= 8
    assert env["store"].status(rid) == Status.ADJUDICATE_RECORD


def test_csrf_token_missing_or_wrong_is_refused(env) -> None:
    rid, _, _ = env["case1"]
    ana = _client(env, "ana")
    page = ana.get(f"/case/{rid}").text
    result_id = re.search(r'name="result_id" value="([^"]+)"', page).group(1)
    form = {"result_id": result_id, "decision": "same_person", "reason": "r"}
    for extra in ({}, {"csrf_token": "forged"}, {"csrf_token": _token(page)[:-4] + "AAAA"}):
        response = ana.post(f"/case/{rid}/vote", data={**form, **extra})
        assert response.status_code == 400
        assert "security token (CSRF) is missing or wrong" in response.text
    # the login form too
    fresh = env["app"].test_client()
    response = fresh.post("/login", data={"username": "ana", "password": PASSWORD})
    assert response.status_code == 400
    with env["store"].engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(workstation_votes)).scalar() == 0


def test_login_throttling(env) -> None:
    store = env["store"]
    client = env["app"].test_client()

    def attempt(password: str):
        page = client.get("/login")
        return client.post(
            "/login",
            data={"username": "bob", "password": password, "csrf_token": _token(page.text)},
        )

    for _ in range(5):
        response = attempt("wrong password")
        assert response.status_code == 401
        assert "wrong username or password" in response.text
    response = attempt(PASSWORD)  # the right password, but locked
    assert response.status_code == 401
    assert "account locked after 5 failed logins" in response.text
    with store.engine.connect() as conn:
        failures = (
            conn.execute(
                sa.select(workstation_audit.c.detail).where(
                    workstation_audit.c.username == "bob",
                    workstation_audit.c.action == "login_failed",
                )
            )
            .scalars()
            .all()
        )
    assert len(failures) == 6 and "locked for 15 minutes" in failures[4]
    with store.begin() as conn:  # 15 minutes later
        conn.execute(
            workstation_users.update()
            .where(workstation_users.c.username == "bob")
            .values(
                locked_until=datetime.datetime.now(datetime.timezone.utc)
                - datetime.timedelta(seconds=1)
            )
        )
    assert attempt(PASSWORD).status_code == 302
    # an unknown user is told the same as a wrong password, and audited
    page = client.get("/login")
    response = client.post(
        "/login", data={"username": "nobody", "password": "x", "csrf_token": _token(page.text)}
    )
    assert "wrong username or password" in response.text


def test_two_adjudicators_agree(env) -> None:
    store = env["store"]
    rid, _, result_id = env["case1"]
    ana, bob = _client(env, "ana"), _client(env, "bob")
    response = _vote(ana, rid, "different_people", "core and delta differ")
    assert response.status_code == 302
    assert "a second adjudicator must decide" in ana.get(f"/case/{rid}").text
    response = _vote(ana, rid, "different_people", result_id=str(result_id))  # not twice
    assert response.status_code == 409
    assert "a second adjudicator must decide" in response.text
    # bob decides independently: he does not see ana's decision
    page = bob.get(f"/case/{rid}").text
    assert "core and delta differ" not in page and "1 decision(s) recorded" in page
    assert _vote(bob, rid, "different_people", "ridge counts differ").status_code == 302
    assert store.status(rid) == Status.PRINT_READY_RECORD
    history = store.history(rid)[-1]
    assert history.actor == "ana+bob" and "ridge counts differ" in history.reason
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(adjudications)).one()
    assert row.decided_by == "ana+bob" and row.result_id == result_id
    page = bob.get(f"/case/{rid}").text
    assert "This case is closed" in page and "core and delta differ" in page


def test_conflict_goes_to_supervisor(env) -> None:
    store = env["store"]
    rid, _, _ = env["case1"]
    ana, bob, sue = _client(env, "ana"), _client(env, "bob"), _client(env, "sue")
    response = _vote(sue, rid, "same_person", result_id=str(env["case1"][2]))
    assert response.status_code == 409 and "waits for its primary adjudicator" in response.text
    _vote(ana, rid, "same_person", "same minutiae")
    _vote(bob, rid, "inconclusive", "too smudged")
    assert store.status(rid) == Status.ADJUDICATE_RECORD
    assert "Waiting for the supervisor decision" in ana.get(f"/case/{rid}").text
    assert _vote(_client(env, "aud"), rid, "same_person", result_id="1").status_code == 403
    page = sue.get(f"/case/{rid}").text
    assert "supervisor (final)" in page and 'value="inconclusive"' not in page
    assert _vote(sue, rid, "inconclusive", "?").status_code == 400
    assert _vote(sue, rid, "same_person", "12 minutiae agree").status_code == 302
    assert store.status(rid) == Status.DUPLICATE_RECORD
    assert store.history(rid)[-1].actor == "sue"


def test_claims_block_others_and_expire(env) -> None:
    store = env["store"]
    rid, _, _ = env["case1"]
    ana, bob = _client(env, "ana"), _client(env, "bob")
    assert _post(ana, "/queue", f"/case/{rid}/claim", {}).status_code == 302
    assert "ana" in bob.get("/queue").text
    page = bob.get(f"/case/{rid}").text
    assert "Claimed by ana: voting is blocked" in page
    response = _vote(bob, rid, "same_person", result_id=str(env["case1"][2]))
    assert response.status_code == 409 and "claimed by ana" in response.text
    assert _post(bob, "/queue", f"/case/{rid}/claim", {}).status_code == 409
    with store.begin() as conn:  # 31 minutes later the claim has expired
        conn.execute(
            workstation_claims.update().values(
                claimed_at=datetime.datetime.now(datetime.timezone.utc)
                - datetime.timedelta(minutes=31)
            )
        )
    assert _vote(bob, rid, "same_person", "x").status_code == 302
    assert _post(ana, "/queue", f"/case/{rid}/claim", {}).status_code == 302
    assert _post(ana, "/queue", f"/case/{rid}/release", {}).status_code == 302


def test_decided_meanwhile_is_refused(env) -> None:
    store = env["store"]
    rid, _, result_id = env["case1"]
    ana, bob, sue = _client(env, "ana"), _client(env, "bob"), _client(env, "sue")
    stale = sue.get(f"/case/{rid}")  # a page opened before the others decided
    _vote(ana, rid, "different_people")
    _vote(bob, rid, "different_people")
    response = sue.post(
        f"/case/{rid}/vote",
        data={
            "csrf_token": _token(stale.text),
            "result_id": str(result_id),
            "decision": "same_person",
            "reason": "late",
        },
    )
    assert response.status_code == 409
    assert "was decided by someone else meanwhile" in response.text
    assert "PRINT_READY_RECORD" in response.text
    assert store.status(rid) == Status.PRINT_READY_RECORD
    # a newer de-dup result than the one on the page
    rid2, _, old = env["case2"]
    newer_result(store, rid2)
    response = _vote(ana, rid2, "same_person", result_id=str(old))
    assert response.status_code == 409 and "newer de-duplication result" in response.text


def test_payloads_are_stored_and_shown_inert(env) -> None:
    store = env["store"]
    rid, _, _ = env["case1"]
    ana, bob, aud = _client(env, "ana"), _client(env, "bob"), _client(env, "aud")
    payload = f'{SCRIPT} {SQL} " onmouseover="alert(1)'
    _vote(ana, rid, "different_people", payload)
    _vote(bob, rid, "different_people", payload)
    assert store.status(rid) == Status.PRINT_READY_RECORD
    for url in (
        f"/case/{rid}",
        f"/queue?region={SCRIPT}&sort={SQL}",
        f"/queue?region={SQL}",
        f"/audit?user={SCRIPT}&action={SQL}",
        "/audit",
        f"/case/{rid}?candidate={SCRIPT}",
        f"/case/{rid}/finger/{env['case1'][1][0]}/1?view={SCRIPT}",
    ):
        page = aud.get(url)
        assert page.status_code == 200, url
        assert "<script>alert" not in page.text, url
        assert 'onmouseover="alert' not in page.text, url
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in aud.get(f"/case/{rid}").text
    assert "&lt;script&gt;" in aud.get(f"/audit?user={SCRIPT}").text
    # the login form: the username is audited verbatim and shown escaped
    fresh = env["app"].test_client()
    page = fresh.get("/login")
    fresh.post(
        "/login", data={"username": payload, "password": SQL, "csrf_token": _token(page.text)}
    )
    assert "<script>alert" not in aud.get("/audit").text
    # a deletion analysis with payloads (region officer), resolved with payloads (supervisor)
    rio, sue = _client(env, "rio"), _client(env, "sue")
    rid2 = env["case2"][0]
    _vote(ana, rid2, "same_person")
    _vote(bob, rid2, "same_person")
    assert store.status(rid2) == Status.DUPLICATE_RECORD
    response = _post(
        rio,
        "/deletions",
        "/deletions/file",
        {"record_id": str(rid2), "counterpart_id": "", "reason": payload},
    )
    assert response.status_code == 302
    page = sue.get("/deletions").text
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    response = _post(
        sue, "/deletions", "/deletions/1/resolve", {"verdict": "reject", "reason": payload}
    )
    assert response.status_code == 302
    assert "<script>alert" not in aud.get("/deletions").text
    # numbers that are not numbers
    response = _post(rio, "/deletions", "/deletions/file", {"record_id": SQL, "reason": "x"})
    assert response.status_code == 400 and "must be a number" in response.text
    assert aud.get(f"/case/{SQL}").status_code == 404
    # stored verbatim, and the tables are all there
    with store.engine.connect() as conn:
        reasons = conn.execute(sa.select(workstation_votes.c.reason)).scalars().all()
        assert payload in reasons
        assert conn.execute(sa.select(sa.func.count()).select_from(records)).scalar() == 4


def test_no_nik_or_name_in_the_logs(env, caplog) -> None:
    rid, (cid,), _ = env["case1"]
    caplog.set_level(logging.DEBUG)
    ana, bob = _client(env, "ana"), _client(env, "bob")
    for client in (ana, bob):
        client.get("/queue")
        client.get(f"/case/{rid}")
        client.get(f"/case/{rid}/finger/{cid}/1")
        client.get(f"/image/{rid}/1/original.png")
    _vote(ana, rid, "same_person", f"same as {NAMES[1]}")
    _vote(bob, rid, "same_person", "same")
    _vote(ana, rid, "same_person", "again", result_id="1")  # refused: closed
    _client(env, "sue").get("/reports/export.csv")
    text = caplog.text + " ".join(str(r.args) for r in caplog.records)
    assert f"case {rid}" in caplog.text  # the log does name record ids
    for secret in (*NIKS, *NAMES):
        assert secret not in text


def test_deletion_request_filed_and_approved(env) -> None:
    store = env["store"]
    rid, (cid,), _ = env["case1"]
    rid2, _, _ = env["case2"]
    ana, bob = _client(env, "ana"), _client(env, "bob")
    for r in (rid, rid2):
        _vote(ana, r, "same_person")
        _vote(bob, r, "same_person")
    rio, ria, sue = _client(env, "rio"), _client(env, "ria"), _client(env, "sue")
    page = rio.get("/deletions").text
    assert f'<option value="{rid}">' in page
    # the record of case 2 is in 317101, ria's region is 327301
    response = _post(
        ria, "/deletions", "/deletions/file", {"record_id": str(rid2), "reason": "analysis"}
    )
    assert response.status_code == 403 and "another region" in response.text
    response = _post(
        rio,
        "/deletions",
        "/deletions/file",
        {"record_id": str(rid), "counterpart_id": str(cid), "reason": ""},
    )
    assert response.status_code == 400
    response = _post(
        rio,
        "/deletions",
        "/deletions/file",
        {
            "record_id": str(rid),
            "counterpart_id": str(cid),
            "reason": "same person, enrolled twice",
        },
    )
    assert response.status_code == 302
    assert store.status(rid) == Status.REQUEST_FOR_DELETION
    response = _post(
        rio, "/deletions", "/deletions/1/resolve", {"verdict": "approve", "reason": "x"}
    )
    assert response.status_code == 403
    assert (
        _post(
            sue, "/deletions", "/deletions/1/resolve", {"verdict": "approve", "reason": ""}
        ).status_code
        == 400
    )
    response = _post(
        sue,
        "/deletions",
        "/deletions/1/resolve",
        {"verdict": "approve", "reason": "analysis confirmed"},
    )
    assert response.status_code == 302
    assert store.status(rid) == Status.DELETED
    response = _post(
        sue, "/deletions", "/deletions/1/resolve", {"verdict": "reject", "reason": "twice"}
    )
    assert response.status_code == 409 and "already approved" in response.text


def test_finger_viewer_without_images(env) -> None:
    rid, (cid,), _ = env["case1"]
    ana = _client(env, "ana")
    page = ana.get(f"/case/{rid}").text
    assert "candidate 1 of 1" in page and "no photo captured" in page
    assert NIKS[0] in page and NIKS[1] in page and "0.384" in page
    for position, n_probe in ((1, 16), (6, 21)):
        page = ana.get(f"/case/{rid}/finger/{cid}/{position}?view=skeleton").text
        probe = len(re.findall(r'class="minutia [a-z]+" id="probe-m', page))
        candidate = len(re.findall(r'class="minutia [a-z]+" id="candidate-m', page))
        assert (probe, candidate) == (n_probe, n_probe)
        assert "no image: minutiae on a blank canvas" in page
    page = ana.get(f"/case/{rid}/finger/{cid}/3").text  # not captured
    assert "no sample" in page
    response = ana.get(f"/image/{rid}/1/enhanced.png")
    assert response.status_code == 200 and response.data[:4] == b"\x89PNG"
    assert ana.get(f"/case/{rid}/finger/{rid}/1").status_code == 404
    assert ana.get(f"/image/{rid}/1/other.png").status_code == 404


def test_finger_viewer_pairs(env) -> None:
    rid, (cid,), _ = env["case1"]
    store = env["store"]
    a = afis.Template.from_bytes(store.samples(rid)[0].template)
    b = afis.Template.from_bytes(store.samples(cid)[0].template)
    page = _client(env, "ana").get(f"/case/{rid}/finger/{cid}/1").text
    assert len(re.findall(r'class="pair"', page)) == len(afis.explain(a, b).pairs)


def test_queue_filter_sort_and_reports(env) -> None:
    rid1, rid2 = env["case1"][0], env["case2"][0]
    sue = _client(env, "sue")
    page = sue.get("/queue?sort=score").text
    assert f"case-{rid1}" in page and f"case-{rid2}" in page and "0.370" in page
    assert f"case-{rid1}" not in sue.get("/queue?region=3273").text
    _vote(_client(env, "ana"), rid1, "different_people")
    _vote(_client(env, "bob"), rid1, "different_people")
    page = sue.get("/reports").text
    assert "1 case(s) pending" in page
    csv = sue.get("/reports/export.csv")
    assert csv.status_code == 200 and "decisions" in csv.text and "PRINT_READY_RECORD" in csv.text
    xlsx = sue.get("/reports/export.xlsx")
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    assert sheet.cell(1, 1).value == "section" and sheet.max_row >= 4
    audit = sue.get("/audit?action=view_case").text
    assert "127.0.0.1" in audit and f"record {rid1}" in audit


def test_cli_add_user(tmp_path, monkeypatch, capsys) -> None:
    db = tmp_path / "ws.db"
    monkeypatch.setattr("sys.stdin", io.StringIO("a fine passphrase\n"))
    assert (
        cli_main(["workstation", "add-user", "ana", "--role", "adjudicator", "--db", str(db)]) == 0
    )
    secret = tmp_path / "pw"
    secret.write_text("another passphrase\n")
    code = cli_main(
        [
            "workstation",
            "add-user",
            "rio",
            "--role",
            "regional_officer",
            "--region",
            "317101",
            "--password-file",
            str(secret),
            "--db",
            str(db),
        ]
    )
    assert code == 0
    assert (
        cli_main(
            [
                "workstation",
                "add-user",
                "x",
                "--role",
                "regional_officer",
                "--password-file",
                str(secret),
                "--db",
                str(db),
            ]
        )
        == 2
    )
    assert "needs --region" in capsys.readouterr().err
    from enrollment.workstation.users import authenticate

    assert authenticate(Store(db), "rio", "another passphrase").region == "317101"
    from enrollment.cli import build_parser

    args = build_parser().parse_args(["workstation", "serve", "--db", str(db), "--port", "9"])
    assert (args.host, args.port) == ("127.0.0.1", 9)


def test_cli_set_user_deactivates_and_resets_a_password(tmp_path, monkeypatch, capsys) -> None:
    from enrollment.workstation.users import LoginRefused, authenticate

    db = tmp_path / "ws.db"
    monkeypatch.setattr("sys.stdin", io.StringIO("a fine passphrase\n"))
    assert (
        cli_main(["workstation", "add-user", "ana", "--role", "adjudicator", "--db", str(db)]) == 0
    )
    store = Store(db)
    for _ in range(5):
        with pytest.raises(LoginRefused):
            authenticate(store, "ana", "wrong password")
    with pytest.raises(LoginRefused, match="locked"):
        authenticate(store, "ana", "a fine passphrase")
    monkeypatch.setattr("sys.stdin", io.StringIO("a new passphrase\n"))
    args = ["workstation", "set-user", "ana", "--password", "--actor", "sue", "--db", str(db)]
    assert cli_main(args) == 0
    assert authenticate(store, "ana", "a new passphrase").username == "ana"  # unlocked
    args = ["workstation", "set-user", "ana", "deactivate", "--actor", "sue", "--db", str(db)]
    assert cli_main(args) == 0
    with pytest.raises(LoginRefused):
        authenticate(store, "ana", "a new passphrase")
    assert (
        cli_main(
            ["workstation", "set-user", "nobody", "activate", "--actor", "sue", "--db", str(db)]
        )
        == 2
    )
    assert "no user 'nobody'" in capsys.readouterr().err
    assert cli_main(["workstation", "set-user", "ana", "--actor", "sue", "--db", str(db)]) == 2
    assert "nothing to change" in capsys.readouterr().err
