"""Issue #10, acceptance 4: the status page in a real browser. A running daemon (against the
emulators: contacts synced, one record rejected, one cycle failed) serves the page; headless
Chromium (Debian's ``chromium`` and ``chromium-driver``, installed by ``make chromium``) loads it,
finds the agreement's figures, the two charts drawn, the report table, the runs and the rejected
record, saves a screenshot, and every resource it loaded came from the daemon itself.

The screenshot goes to the test's tmp_path, and also to $SYNCD_SCREENSHOT_DIR when that is set."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Syncd, qualified
from tests.daemon import ROOT, Daemon, assert_logs_are_documented_json_without_secrets, configure, free_port

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")
if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    pytest.skip("Chromium and ChromeDriver are not installed (make chromium: apt-get install chromium "
                "chromium-driver, as root or with password-less sudo)", allow_module_level=True)

from selenium.webdriver.common.by import By  # after the skips above
from selenium.webdriver.support.ui import WebDriverWait

MONTH = {"month": "2026-03", "time_zone": "Europe/Berlin", "target": 40, "delivered": 27,
         "part_shares": {"fit": 0.9, "intent": 0.75},
         "by_source": [{"key": "ORGANIC_SEARCH", "leads": 20, "share": 0.8}],
         "by_campaign": [{"key": "q1-seo", "leads": 20, "share": 0.8}],
         "contacted_within_share": 0.74, "hours_to_first_contact": [0.5, 2.0, 3.0, 5.0, 9.0, 30.0, 100.0],
         "median_hours": 5.0, "p90_hours": 65.0, "attempts_met_share": 0.5,
         "by_owner": [{"key": "005A", "leads": 10, "share": 0.9}],
         "states": {"on_time": 20, "due_soon": 3, "breached": 4}}


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
    contacts = qualified(3)
    contacts[1]["jobtitle"] = "bad"
    syncd.hubspot.create_contacts(contacts)
    syncd.hubspot.inject_fault("POST", "/search", 401, times=1, body={    # the first cycle fails
        "status": "error", "message": "Authentication credentials not found.", "category": "INVALID_AUTHENTICATION"})
    month = tmp_path / "month.json"
    month.write_text(json.dumps(MONTH))
    port = free_port()
    config = configure(syncd, interval=1, port=port, mapping=mapping)
    command = [sys.executable, "-P", str(ROOT / "tests" / "status_page_daemon.py"), str(config), str(month)]
    with Daemon(config, command=command) as daemon:
        daemon.wait_for("service.cycle_finished", where=lambda e: e["status"] == "partial")
        origin = f"http://127.0.0.1:{port}"
        browser.get_log("performance")          # drained: the browser's own start page is not the page's doing
        browser.get(origin + "/")
        WebDriverWait(browser, 20).until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-charts"))
        assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-charts") == "ready"

        def figure(testid: str) -> str:
            return browser.find_element(By.CSS_SELECTOR, f'[data-testid="{testid}"] .value').text

        assert (figure("sla-delivered"), figure("sla-target"), figure("sla-contacted-within"),
                figure("sla-median-hours")) == ("27", "40", "74%", "5.0")
        for chart in ("chart-sqls", "chart-hours"):
            canvas = browser.find_element(By.ID, chart)
            assert canvas.size["width"] > 100 and canvas.size["height"] > 100, chart
            assert browser.execute_script("return Chart.getChart(arguments[0]) !== undefined", canvas), chart
        report = browser.find_elements(By.CSS_SELECTOR, '[data-testid="report-table"] tbody tr')
        assert [row.find_elements(By.TAG_NAME, "td")[0].text for row in report] == ["ORGANIC_SEARCH", "TOTAL"]
        assert report[0].find_elements(By.TAG_NAME, "td")[1].text == "2"                 # handed over
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
