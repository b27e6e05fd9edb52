"""The README's picture of `vaestudio report`'s page in Chromium (Debian's chromium and chromium-driver,
driven by selenium, headless), after a drag on the page's latent plane:

    vaestudio report RUN --out run.html
    python docs/screenshots/take_report.py run.html docs/screenshots/report.png

The window is 1400x1000; the page is scrolled to the snapshots and the latent plane beside them.
"""
from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

WINDOW = (1400, 1000)


def page_state(driver) -> dict:
    return driver.execute_script("return window.vaestudioReport || null") or {}


def await_state(driver, condition, what: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = page_state(driver)
        if state.get("error"):
            sys.exit(f"the page's latent plane failed: {state['error']}")
        if condition(state):
            return state
        time.sleep(0.05)
    sys.exit(f"timed out waiting for {what}")


def main(page: Path, out: Path) -> None:
    if not page.is_file():
        sys.exit(f"{page}: no such page (write it with `vaestudio report RUN --out {page}`)")
    options = Options()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     f"--window-size={WINDOW[0]},{WINDOW[1]}", "--hide-scrollbars", "--no-first-run",
                     "--disable-extensions"):
        options.add_argument(argument)
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"),
                              options=options)
    try:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",  # the page's view itself 1400x1000
                               {"width": WINDOW[0], "height": WINDOW[1], "deviceScaleFactor": 1, "mobile": False})
        driver.get(page.resolve().as_uri())
        before = await_state(driver, lambda s: s.get("ready"), "TensorFlow.js to decode the first point")
        plane = driver.find_element(By.ID, "latent-plane")
        # the snapshots' slider and grid, and beside them the latent plane, their headings in view
        driver.execute_script("(document.getElementById('snapshots') || arguments[0]).scrollIntoView();"
                              "window.scrollBy(0, -6);", plane)
        ActionChains(driver).move_to_element_with_offset(plane, -70, 50).click_and_hold() \
            .move_by_offset(40, -20).move_by_offset(60, -40).release().perform()
        await_state(driver, lambda s: s["decodes"] > before["decodes"] and not s.get("busy"), "the drag's decode")
        time.sleep(0.5)  # the drawn marker and picture
        driver.save_screenshot(str(out))
        errors = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        print("saved", out, "console errors:", errors or "none")
    finally:
        driver.quit()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]))
