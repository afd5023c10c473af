"""The adjudication workstation in a real browser: waitress on 127.0.0.1 in a thread, headless
Chromium driven by selenium, over a store of real FVC2002 prints.

Log in, open a case, see both prints with their minutiae (and the matched pairs), decide as
two adjudicators and see the status change; a conflict that a supervisor resolves; a
deletion request filed by the region and approved by the supervisor. Screenshots go to
``AFIS_TEST_ARTEFACTS`` (default: a temporary folder). Without chromium / chromedriver the
tests skip, except under ``CI=true`` where they fail.
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

import pytest
from _workstation import PASSWORD, fvc_store

import afis
from enrollment.status import Status
from enrollment.workstation import create_app

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
pytestmark = pytest.mark.datasets


def _browser_or_skip() -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium")
    if missing:
        message = f"{', '.join(missing)} missing (bash tools/install-browser.sh installs them)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def artefacts() -> Path:
    folder = Path(os.environ.get("AFIS_TEST_ARTEFACTS") or tempfile.mkdtemp(prefix="afis-ws-"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def site(tmp_path_factory, datasets_root):
    _browser_or_skip()
    from waitress import create_server

    data = fvc_store(tmp_path_factory.mktemp("ws") / "centre.db", datasets_root)
    app = create_app(data["store"], secret_key="browser-test")
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    port = server.effective_port
    yield {**data, "url": f"http://127.0.0.1:{port}"}
    server.close()
    thread.join(timeout=10)
    data["store"].close()


@pytest.fixture(scope="module")
def driver(site):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000"):
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='afis-chrome-')}")
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    browser.implicitly_wait(2)
    yield browser
    browser.quit()


def _by():
    from selenium.webdriver.common.by import By

    return By


def login(driver, site, name: str) -> None:
    By = _by()
    driver.delete_all_cookies()
    driver.get(site["url"] + "/login")
    driver.find_element(By.ID, "username").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login").click()
    assert name in driver.find_element(By.CLASS_NAME, "who").text


def decide(driver, site, rid: int, decision: str, reason: str) -> None:
    By = _by()
    driver.get(f"{site['url']}/case/{rid}")
    driver.find_element(By.ID, f"decision-{decision}").click()
    driver.find_element(By.ID, "reason").send_keys(reason)
    driver.find_element(By.ID, "submit-decision").click()
    assert "recorded" in driver.find_element(By.CLASS_NAME, "flash").text or "closed" in (
        driver.find_element(By.CLASS_NAME, "flash").text
    )


def test_case_viewer_and_two_adjudicators(driver, site, artefacts) -> None:
    By = _by()
    store = site["store"]
    rid, (cid, _), _ = site["case1"]
    login(driver, site, "ana")
    driver.get(site["url"] + "/queue")
    assert driver.find_element(By.ID, f"case-{rid}")
    driver.save_screenshot(str(artefacts / "01-queue.png"))
    driver.find_element(By.CSS_SELECTOR, f"#case-{rid} a.open-case").click()
    assert "candidate 1 of 2" in driver.find_element(By.ID, "candidate-of").text
    assert "no photo captured" in driver.page_source
    driver.save_screenshot(str(artefacts / "02-case.png"))
    driver.find_element(By.ID, "finger-1").click()
    probe = afis.Template.from_bytes(store.samples(rid)[0].template)
    candidate = afis.Template.from_bytes(store.samples(cid)[0].template)
    assert len(driver.find_elements(By.CSS_SELECTOR, "#side-probe .minutia")) == len(probe)
    assert len(driver.find_elements(By.CSS_SELECTOR, "#side-candidate .minutia")) == len(candidate)
    images = driver.find_elements(By.CSS_SELECTOR, "image.print")
    assert len(images) == 2
    for image in images:
        status = driver.execute_async_script(
            "var done = arguments[1]; fetch(arguments[0]).then(r => r.blob().then("
            "b => done([r.status, b.type, b.size])));",
            image.get_attribute("href"),
        )
        assert status[0] == 200 and status[1] == "image/png" and status[2] > 1000
    pairs = driver.find_elements(By.CSS_SELECTOR, "line.pair")
    assert len(pairs) == len(afis.explain(probe, candidate).pairs) > 0
    assert "local similarity" in driver.find_element(By.ID, "pairs-note").text
    driver.save_screenshot(str(artefacts / "03-viewer-original.png"))
    driver.find_element(By.CSS_SELECTOR, "[data-act=zoom-in]").click()
    driver.find_element(By.CSS_SELECTOR, "[data-act=rotate-right]").click()
    transforms = [
        e.get_attribute("transform") for e in driver.find_elements(By.CSS_SELECTOR, "g.view")
    ]
    assert "rotate(15)" in transforms[0] and "scale(1.25)" in transforms[0]
    driver.find_element(By.ID, "view-enhanced").click()
    kept = driver.find_elements(By.CSS_SELECTOR, "g.view")[0].get_attribute("transform")
    assert "rotate(15)" in kept and "scale(1.25)" in kept  # the view survives the switch
    driver.find_element(By.CSS_SELECTOR, "[data-act=zoom-in]").click()
    driver.save_screenshot(str(artefacts / "04-viewer-enhanced-zoomed.png"))
    driver.find_element(By.ID, "view-skeleton").click()
    driver.save_screenshot(str(artefacts / "05-viewer-skeleton.png"))
    decide(driver, site, rid, "same_person", "ridge flow and 4 fingers agree")
    login(driver, site, "bob")
    decide(driver, site, rid, "same_person", "same minutiae on thumb and index")
    assert driver.find_element(By.ID, "case-status").text == "DUPLICATE_RECORD"
    driver.save_screenshot(str(artefacts / "06-case-decided.png"))
    assert store.status(rid) == Status.DUPLICATE_RECORD


def test_conflict_resolved_by_supervisor(driver, site, artefacts) -> None:
    By = _by()
    rid = site["case2"][0]
    login(driver, site, "ana")
    decide(driver, site, rid, "same_person", "looks the same")
    login(driver, site, "bob")
    decide(driver, site, rid, "inconclusive", "impressions too dry")
    assert "Waiting for the supervisor" in driver.page_source
    login(driver, site, "sue")
    driver.get(f"{site['url']}/case/{rid}")
    assert "supervisor (final)" in driver.page_source
    driver.save_screenshot(str(artefacts / "07-supervisor-conflict.png"))
    decide(driver, site, rid, "different_people", "core positions differ")
    assert driver.find_element(By.ID, "case-status").text == "PRINT_READY_RECORD"
    assert site["store"].status(rid) == Status.PRINT_READY_RECORD


def test_deletion_request_filed_and_approved(driver, site, artefacts) -> None:
    By = _by()
    store = site["store"]
    rid, (cid, _), _ = site["case1"]
    if store.status(rid) == Status.ADJUDICATE_RECORD:  # run alone
        from enrollment.adjudication import decide as decide_api

        decide_api(store, rid, "same_person", actor="ana+bob", reason="setup")
    login(driver, site, "rio")
    driver.get(site["url"] + "/deletions")
    driver.find_element(By.CSS_SELECTOR, f"#record-id option[value='{rid}']").click()
    driver.find_element(By.ID, "counterpart-id").send_keys(str(cid))
    driver.find_element(By.ID, "analysis").send_keys("same fingers as the earlier record")
    driver.save_screenshot(str(artefacts / "08-deletion-file.png"))
    driver.find_element(By.ID, "file").click()
    assert "filed" in driver.find_element(By.CLASS_NAME, "flash").text
    assert store.status(rid) == Status.REQUEST_FOR_DELETION
    login(driver, site, "sue")
    driver.get(site["url"] + "/deletions")
    row = driver.find_element(By.ID, "request-1")
    row.find_element(By.CLASS_NAME, "resolve-reason").send_keys("analysis confirmed")
    row.find_element(By.CLASS_NAME, "approve").click()
    assert "approved" in driver.find_element(By.CLASS_NAME, "flash").text
    driver.save_screenshot(str(artefacts / "09-deletion-approved.png"))
    assert store.status(rid) == Status.DELETED
    login(driver, site, "aud")
    driver.get(site["url"] + "/reports")
    driver.save_screenshot(str(artefacts / "10-reports.png"))
