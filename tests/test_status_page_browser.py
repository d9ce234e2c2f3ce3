"""Issue #10, acceptance 4: the status page in a real browser. `syncd run --config …` as users start
it, its config naming an agreement file, against the emulators: its own cycles hand three contacts
over (one more is rejected, and one cycle fails), Sales logs calls on the three Leads in the
Salesforce emulator, and the daemon's tracking step reads them into state. Headless Chromium
(Debian's ``chromium`` and ``chromium-driver``, installed by ``make chromium``) loads the page the
daemon serves and finds the agreement's month as the daemon computed it, the two charts drawn with
its figures, the report table, the runs and the rejected record; it saves a screenshot, and every
resource it loaded came from the daemon itself.

A test cannot wait hours for Sales, so the calls are logged as made 2, 5 and 30 hours after each
lead's hand-over (``CreatedDate`` chosen, as a data load sets it; Salesforce stamps them now, which
is what the tracking step's window reads). Every expected figure follows from those offsets and
the agreement below, whatever the date (the suite also runs a year ahead: TEST_CLOCK_SHIFT_DAYS).

The screenshot goes to the test's tmp_path, and also to $SYNCD_SCREENSHOT_DIR when that is set."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.core.ports import ActivityQuery
from tests.conftest import Syncd, qualified
from tests.daemon import (
    ROOT,
    Daemon,
    assert_logs_are_documented_json_without_secrets,
    configure,
    free_port,
)

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")
if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    pytest.skip("Chromium and ChromeDriver are not installed (make chromium: apt-get install chromium "
                "chromium-driver, as root or with password-less sudo)", allow_module_level=True)

from selenium.webdriver.common.by import By  # after the skips above
from selenium.webdriver.support.ui import WebDriverWait

PIPELINE = "hubspot-to-salesforce"
AGREEMENT = """\
version: 1
time_zone: Europe/Berlin
target: {sqls_per_month: 5}
definition:
  need: {property: pain_points, exists: true}
first_contact: {within_hours: 8}
attempts:
  minimum: 2
  count: {task_subtypes: [Call], events: false}
"""
# Hours from each lead's hand-over to its first call: two within the agreement's 8 hours, one not.
FIRST_CALL_HOURS = (2.0, 5.0, 30.0)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    # The machine's network is closed: without the background-networking flags Chromium keeps
    # trying Google's hosts. None of it would be the page's doing, but it is noise.
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--window-size=1280,1600", f"--user-data-dir={tmp_path / 'chromium'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


def test_the_status_page_of_a_running_daemon_in_headless_chromium(syncd: Syncd, browser, tmp_path):
    mapping = tmp_path / "mapping.yaml"          # a template that fails for one contact: one rejected record
    bundled = (ROOT / "mappings" / "hubspot-to-salesforce.yaml").read_text()
    mapping.write_text(bundled.replace("  Title:\n    from: jobtitle\n", "  Title:\n    template: \"{% if jobtitle == "
                                       "'bad' %}{{ company + 1 }}{% else %}{{ jobtitle }}{% endif %}\"\n"))
    contacts = qualified(4)                       # three handed over, one rejected
    contacts[1]["jobtitle"] = "bad"
    syncd.hubspot.create_contacts(contacts)
    syncd.hubspot.inject_fault("POST", "/search", 401, times=1, body={    # the first cycle fails
        "status": "error", "message": "Authentication credentials not found.", "category": "INVALID_AUTHENTICATION"})
    agreement = tmp_path / "agreement.yaml"
    agreement.write_text(AGREEMENT)
    port = free_port()
    config = configure(syncd, interval=1, port=port, mapping=mapping, agreement=agreement)
    with Daemon(config) as daemon:                # `syncd run --config …`, no launcher
        daemon.wait_for("service.cycle_finished", where=lambda e: e["status"] == "partial")
        store = syncd.store()
        try:
            handed_over = store.tracked_leads(PIPELINE, query=ActivityQuery(task_subtypes=("Call",)))
        finally:
            store.close()
        assert len(handed_over) == 3
        for lead, hours in zip(handed_over, FIRST_CALL_HOURS):
            syncd.salesforce.insert("Task", {"WhoId": lead.lead_id, "Subject": "Call", "TaskSubtype": "Call",
                                             "CreatedDate": lead.handed_over_at + dt.timedelta(hours=hours)},
                                    validate=False)
        # A cycle of the daemon's own read all three calls into state (its window re-reads the look-back).
        daemon.wait_for("activities.read", where=lambda e: e["status"] == "ok" and e["tasks"] == 3)
        origin = f"http://127.0.0.1:{port}"
        browser.get_log("performance")          # drained: the browser's own start page is not the page's doing
        browser.get(origin + "/")
        WebDriverWait(browser, 20).until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-charts"))
        assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-charts") == "ready"

        def figure(testid: str) -> str:
            return browser.find_element(By.CSS_SELECTOR, f'[data-testid="{testid}"] .value').text

        # 3 delivered of 5; 2 of 3 called within 8 hours; the median of 2, 5 and 30 hours, and its p90.
        assert (figure("sla-delivered"), figure("sla-target"), figure("sla-contacted-within"),
                figure("sla-median-hours"), figure("sla-p90-hours")) == ("3", "5", "67%", "5.0", "25.0")
        states = browser.find_elements(By.CSS_SELECTOR, '[data-testid="sla-states"] tbody tr')
        assert {row.find_elements(By.TAG_NAME, "td")[0].text: row.find_elements(By.TAG_NAME, "td")[1].text
                for row in states} == {"on time": "2", "due soon": "0", "breached": "1",
                                       "closed too few attempts": "0"}
        drawn = {}
        for chart in ("chart-sqls", "chart-hours"):
            canvas = browser.find_element(By.ID, chart)
            assert canvas.size["width"] > 100 and canvas.size["height"] > 100, chart
            drawn[chart] = browser.execute_script("return Chart.getChart(arguments[0]).data.datasets[0].data",
                                                  canvas)
        # delivered and target; leads by hours to first contact (< 1, 1–4, 4–8, 8–24, 24–48, 48–72, ≥ 72)
        assert drawn == {"chart-sqls": [3, 5], "chart-hours": [0, 1, 1, 0, 1, 0, 0]}
        report = browser.find_elements(By.CSS_SELECTOR, '[data-testid="report-table"] tbody tr')
        assert [row.find_elements(By.TAG_NAME, "td")[0].text for row in report] == ["ORGANIC_SEARCH", "TOTAL"]
        assert report[0].find_elements(By.TAG_NAME, "td")[1].text == "3"                 # handed over
        runs = browser.find_elements(By.CSS_SELECTOR, '[data-testid="run-row"]')
        assert any("failed" in run.text and "INVALID_AUTHENTICATION" in run.text for run in runs)
        (rejected,) = browser.find_elements(By.CSS_SELECTOR, '[data-testid="rejected-row"]')
        assert "SYNCD_TEMPLATE_ERROR" in rejected.text and "Title" in rejected.text

        screenshot = tmp_path / "status-page.png"
        assert browser.save_screenshot(str(screenshot)) and screenshot.stat().st_size > 10_000
        if os.environ.get("SYNCD_SCREENSHOT_DIR"):
            target = Path(os.environ["SYNCD_SCREENSHOT_DIR"])
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy(screenshot, target / "status-page.png")

        # Nothing from elsewhere: what the page's timeline lists, and every request the browser sent.
        resources = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
        assert sorted(resources) == sorted(origin + path for path in (
            "/static/status.css", "/static/chart.umd.min.js", "/static/status.js"))
        sent = [json.loads(entry["message"])["message"] for entry in browser.get_log("performance")]
        urls = {m["params"]["request"]["url"] for m in sent if m["method"] == "Network.requestWillBeSent"}
        assert origin + "/" in urls and all(url.startswith((origin + "/", "data:")) for url in urls), urls
        console = [entry["message"] for entry in browser.get_log("browser")]
        assert not [line for line in console if "Content Security Policy" in line or "Refused" in line], console
        assert daemon.stop() == 0
    assert_logs_are_documented_json_without_secrets(daemon, syncd)
