"""The admin page in a real browser: Debian's Chromium, driven through Debian's chromedriver by selenium.

A real mock records a few Kling requests; a person's path is then walked: open `/__admin`, get sent to the
sign-in form, type the admin token, land on the page and read the requests with their verdicts and the task.
Neither token may appear in what the browser got. A screenshot is left in `reports/admin-page.png`.

Selenium never downloads a browser or a driver here: both paths are given. Without them the test is skipped,
except in CI (`$CI` set), where it must run.
"""

from __future__ import annotations

import os
import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from mock_server.client.process import MockProcess
from tests.support import CREATE_PATH, ROOT, skip_or_fail

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
REPORTS = ROOT / "reports"
SCREENSHOT = REPORTS / "admin-page.png"

ADMIN_TOKEN = "admin-token-for-the-browser-test-7f3a"
KLING_TOKEN = "sk-kling-browser-test-secret-91c2"
# Explicit waits: generous, since a loaded CI machine may be slow to start a browser.
WAIT_SECONDS = 60
# Marked up in a header the page shows; if the page ran it, the title would change.
HOSTILE_HEADER = "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">"

VALID_INPUT = {
    "video_url": "https://example.com/v.mp4",
    "mode": "text2video",
    "text": "hello",
    "voice_id": "v1",
    "voice_language": "en",
}


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    """A headless Chromium with a fresh profile, flags for root on a closed network."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not _executable(path)]
    if missing:
        skip_or_fail(
            f"needs Debian's chromium and chromium-driver ({', '.join(missing)} missing)",
            "CI must run the browser test (.ci/run installs them)",
            "apt-get install chromium chromium-driver",
        )
    with tempfile.TemporaryDirectory(prefix="kling-mock-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in (
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}",
            "--window-size=1400,1000",
        ):
            options.add_argument(flag)
        driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
        try:
            yield driver
        finally:
            driver.quit()


def _send_kling_requests(base_url: str) -> dict[str, Any]:
    """One valid create, one with a wrong `mode` (1201), one without Authorization (1001): their answers."""
    with httpx.Client(base_url=base_url, timeout=30) as http:
        authorized = {"Authorization": f"Bearer {KLING_TOKEN}"}
        created = http.post(CREATE_PATH, json={"input": VALID_INPUT}, headers={**authorized, "X-Note": HOSTILE_HEADER})
        # The token also sent inside the body, where the journal must blank it.
        wrong_mode = http.post(
            CREATE_PATH,
            json={"input": {**VALID_INPUT, "mode": "wrong", "text": f"my key is {KLING_TOKEN}"}},
            headers=authorized,
        )
        anonymous = http.post(CREATE_PATH, json={"input": VALID_INPUT})
    assert (created.status_code, created.json()["code"]) == (200, 0), created.text
    assert (wrong_mode.status_code, wrong_mode.json()["code"]) == (400, 1201), wrong_mode.text
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, 1001), anonymous.text
    return {"created": created.json(), "wrong_mode": wrong_mode.json(), "anonymous": anonymous.json()}


def _read_page(driver: WebDriver, request_ids: list[str], task_id: str) -> dict[str, Any]:
    """What the page shows for those requests and that task, once all of them are there.

    The page refreshes itself, so elements found a moment ago may be gone: the whole reading is retried
    when that happens, and until the rows appear.
    """

    def read(driver: WebDriver) -> dict[str, Any] | Literal[False]:
        rows: dict[str, Any] = {}
        for request_id in request_ids:
            found = driver.find_elements(By.CSS_SELECTOR, f'tr.entry[data-request-id="{request_id}"]')
            if not found:
                return False
            row = found[0]
            rows[request_id] = {
                "classes": (row.get_attribute("class") or "").split(),
                "badge": row.find_element(By.CSS_SELECTOR, "td.verdict .badge").text,
                "findings": [
                    (item.get_attribute("data-rule"), item.get_attribute("data-path"), item.text)
                    for item in row.find_elements(By.CSS_SELECTOR, "li.finding")
                ],
                "answer": row.find_element(By.CSS_SELECTOR, "td.answer").text,
                "caller": row.find_element(By.CSS_SELECTOR, "td.caller").text,
            }
        tasks = driver.find_elements(By.CSS_SELECTOR, f'tr.task[data-task-id="{task_id}"]')
        if not tasks:
            return False
        task = tasks[0]
        return {
            "rows": rows,
            "task": {
                "classes": (task.get_attribute("class") or "").split(),
                "status": task.find_element(By.CSS_SELECTOR, "td.status .badge").text,
                "caller": task.find_element(By.CSS_SELECTOR, "td.caller").text,
            },
            "counts": driver.find_element(By.ID, "counts").text,
            "scripts": len(driver.find_elements(By.TAG_NAME, "script")),
            "title": driver.title,
            "source": driver.page_source,
        }

    wait = WebDriverWait(driver, WAIT_SECONDS, poll_frequency=0.25, ignored_exceptions=[StaleElementReferenceException])
    result: dict[str, Any] = wait.until(read, message="the recorded requests and the task did not appear")
    return result


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_admin_page_in_a_real_browser(browser: WebDriver) -> None:
    with MockProcess("--admin", "--admin-token", ADMIN_TOKEN) as mock:
        answers = _send_kling_requests(mock.base_url)
        created, wrong_mode, anonymous = answers["created"], answers["wrong_mode"], answers["anonymous"]
        task_id = created["data"]["task_id"]

        # Not signed in: the page sends the browser to the sign-in form.
        browser.get(mock.base_url + "/__admin")
        wait = WebDriverWait(browser, WAIT_SECONDS)
        field = wait.until(
            lambda d: d.find_elements(By.CSS_SELECTOR, 'form[action="/__admin/login"] input[name="token"]'),
            message="no sign-in form at /__admin",
        )[0]
        assert browser.current_url.split("?")[0].endswith("/__admin/login")
        assert field.get_attribute("type") == "password"

        field.send_keys(ADMIN_TOKEN, Keys.ENTER)
        wait.until(lambda d: d.find_elements(By.ID, "requests"), message="signing in did not lead to the page")
        assert browser.current_url.split("?")[0].rstrip("/").endswith("/__admin")

        page = _read_page(browser, [created["request_id"], wrong_mode["request_id"], anonymous["request_id"]], task_id)

        REPORTS.mkdir(exist_ok=True)
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(1400, max(1000, min(int(height) + 50, 6000)))
        assert browser.save_screenshot(str(SCREENSHOT))

        # The page's empty icon kept the browser from asking for /favicon.ico, which the journal would record.
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        favicon = httpx.get(f"{mock.base_url}/__admin/journal", params={"path": "/favicon.ico"}, headers=admin)
        assert favicon.status_code == 200, favicon.text
        assert favicon.json()["entries"] == [], favicon.json()

    rows = page["rows"]
    error_row = rows[wrong_mode["request_id"]]
    assert "verdict-error" in error_row["classes"]
    assert error_row["badge"] == "error"
    assert "400" in error_row["answer"] and "1201" in error_row["answer"]
    assert any(rule == "enum" and path == "input.mode" for rule, path, _ in error_row["findings"]), error_row
    assert any(text.startswith("enum input.mode:") for _, _, text in error_row["findings"]), error_row

    anonymous_row = rows[anonymous["request_id"]]
    assert "verdict-error" in anonymous_row["classes"]
    assert "auth-missing" in [rule for rule, _, _ in anonymous_row["findings"]], anonymous_row
    assert "401" in anonymous_row["answer"] and "1001" in anonymous_row["answer"]
    assert anonymous_row["caller"] == "—"

    created_row = rows[created["request_id"]]
    assert "verdict-error" not in created_row["classes"]
    assert created_row["badge"] in ("clean", "warning")
    assert "200" in created_row["answer"]
    caller = created_row["caller"]
    assert len(caller) == 12 and all(digit in "0123456789abcdef" for digit in caller), caller
    assert error_row["caller"] == caller

    assert page["task"]["caller"] == caller
    assert page["task"]["status"] in ("submitted", "processing", "succeed", "failed")
    assert f"status-{page['task']['status']}" in page["task"]["classes"]
    assert "requests recorded" in page["counts"]

    # The hostile header was shown as text and not run.
    assert page["scripts"] == 0
    assert page["title"] != "pwned"
    # Neither secret reached the browser.
    assert KLING_TOKEN not in page["source"]
    assert ADMIN_TOKEN not in page["source"]

    width, height = _png_size(SCREENSHOT)
    assert width >= 800 and height >= 600
    assert SCREENSHOT.stat().st_size > 20_000
