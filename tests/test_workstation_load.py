"""Load on the workstation: 50 concurrent sessions, each logged in with its own cookie jar,
browse the queue and case pages for a bounded time against waitress on 127.0.0.1
(``afis-enrollment workstation serve`` in its own process). No request may fail; the 95th
percentile page time is printed (and kept in ``benchmarks/WORKSTATION.md``), never asserted.

``AFIS_WS_LOAD_SECONDS`` (default 60) and ``AFIS_WS_LOAD_SESSIONS`` (default 50) set the size;
``AFIS_WS_LOAD_THINK`` (default 1.0) the mean pause in seconds a session takes between pages
(drawn uniformly from 0.5 to 1.5 times it, seeded per session), as a person browsing looks at
a page before the next; 0 asks without pause (the server's capacity, a stress test).
"""

from __future__ import annotations

import http.cookiejar
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from _workstation import PASSWORD, make_case, person, toy_template

from enrollment.store import Store

pytestmark = pytest.mark.load

SECONDS = float(os.environ.get("AFIS_WS_LOAD_SECONDS", "60"))
SESSIONS = int(os.environ.get("AFIS_WS_LOAD_SESSIONS", "50"))
THINK = float(os.environ.get("AFIS_WS_LOAD_THINK", "1.0"))
CASES = 40


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _store(path: Path) -> None:
    from enrollment.store import Sample
    from enrollment.workstation.users import add_user

    store = Store(path)
    for n in range(SESSIONS):
        add_user(store, f"user{n:02d}", PASSWORD, role="adjudicator" if n % 5 else "auditor")
    for k in range(CASES):
        fingers = [
            Sample(position=p, template=toy_template(k * 10 + p, 30, p).to_bytes(), quality=60)
            for p in range(1, 11)
        ]
        make_case(
            store,
            (person(f"31710145019{k:05d}", f"PROBE {k}"), fingers),
            [
                (person(f"31710145018{k:05d}", f"CAND {k}"), fingers, [0.04] * 9 + [0.01]),
                (person(f"31710145017{k:05d}", f"OTHER {k}"), fingers, [0.03] * 10),
            ],
        )
    store.close()


def test_fifty_sessions_browse_queue_and_cases(tmp_path) -> None:
    db = tmp_path / "load.db"
    _store(db)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "enrollment",
            "workstation",
            "serve",
            "--db",
            str(db),
            "--port",
            str(port),
            "--threads",
            "8",
        ],
        stdout=subprocess.DEVNULL,
        # a file, not a pipe: an unread pipe fills up with waitress's queue-depth warnings
        # and blocks the server's logging
        stderr=(tmp_path / "server.log").open("wb"),
        env={**os.environ, "AFIS_WORKSTATION_SECRET": "load-test"},
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/login", timeout=2).read()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((tmp_path / "server.log").read_text()) from None
                time.sleep(0.2)
        times: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()
        # the logins (Argon2, memory-hard on purpose) come first; browsing starts together
        ready = threading.Barrier(SESSIONS)

        def session(n: int) -> None:
            jar = http.cookiejar.CookieJar()
            opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
            try:
                page = opener.open(base + "/login", timeout=30).read().decode()
                token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
                form = urllib.parse.urlencode(
                    {"username": f"user{n:02d}", "password": PASSWORD, "csrf_token": token}
                ).encode()
                landed = opener.open(base + "/login", form, timeout=30)
                assert landed.url.endswith("/queue"), landed.url
                queue = landed.read().decode()
                ids = [int(i) for i in re.findall(r'id="case-(\d+)"', queue)]
                assert len(ids) == CASES
            except Exception as exc:  # counted, the test fails below
                with lock:
                    errors.append(f"login {n}: {exc!r}")
                ready.wait()
                return
            ready.wait()
            k = n
            pauses = random.Random(n)
            stop = time.monotonic() + SECONDS
            while time.monotonic() < stop:
                k += 1
                rid = ids[k % len(ids)]
                url = ["/queue", f"/case/{rid}", f"/case/{rid}?candidate=2", "/queue?sort=score"][
                    k % 4
                ]
                started = time.perf_counter()
                try:
                    with opener.open(base + url, timeout=30) as response:
                        body = response.read()
                        ok = response.status == 200 and b"Log out" in body
                except Exception as exc:
                    ok = False
                    body = repr(exc).encode()
                took = time.perf_counter() - started
                with lock:
                    times.append(took)
                    if not ok:
                        errors.append(f"{url}: {body[:200]!r}")
                if THINK:
                    time.sleep(THINK * pauses.uniform(0.5, 1.5))

        threads = [threading.Thread(target=session, args=(n,)) for n in range(SESSIONS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        server.terminate()
        server.wait(timeout=30)
    times.sort()
    p95 = times[int(0.95 * (len(times) - 1))] if times else float("nan")
    p50 = times[len(times) // 2] if times else float("nan")
    print(
        f"\nworkstation load: {SESSIONS} sessions x {SECONDS:.0f} s, think {THINK:g} s: "
        f"{len(times)} pages, "
        f"{len(times) / SECONDS:.1f} pages/s, p50 {p50 * 1000:.0f} ms, "
        f"p95 {p95 * 1000:.0f} ms, {len(errors)} errors"
    )
    assert not errors, errors[:5]
    assert times
