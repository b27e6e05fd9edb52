"""Issue 20: `vaestudio report`'s page in a real browser (Debian's chromium and chromium-driver, driven by
selenium): it loads with no console error and no network request, a run folder named like markup shows as
text and runs nothing, dragging on the latent plane changes the decoded picture, and that picture is the
NumPy VAE's decode of the same point within 2/255 (max abs difference on 0..255 pixel values: float32 in
TensorFlow.js's cpu backend against float32 NumPy, then rounding to 0..255, which may differ by one).

Skipped, with the reason, when chromium, its driver or selenium are missing, except on CI (CI=true), where
that is a failure: packaging/bootstrap.sh installs them for `test`.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from hostile_helpers import copy_run, tiny_idx, trained_runs

__all__ = ["tiny_idx", "trained_runs"]  # session fixtures

TOLERANCE = 2  # on 0..255
HOSTILE_PARENT = "<script>alert(1)<"  # with the run's own name below, the path reads <script>alert(1)</script>…
HOSTILE_NAME = 'script>"><img src=x onerror=alert(1)>'


def _missing(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (on CI the browser test must run: packaging/bootstrap.sh test installs it)")
    pytest.skip(reason)


def _browser_paths() -> tuple[str, str]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver") or next((p for p in ("/usr/lib/chromium/chromedriver",)
                                                   if Path(p).is_file()), None)
    if browser is None or driver is None:
        _missing("Chromium or its driver is not installed (apt-get install chromium chromium-driver)")
    return browser, driver


@pytest.fixture(scope="module")
def report_page(trained_runs, tmp_path_factory) -> tuple[Path, Path]:
    """(the page, its run folder) of a run whose folder names are markup."""
    from vaestudio.cli import main
    from vaestudio.report.tfjs import TfjsMissing, find_tfjs

    try:
        find_tfjs()
    except TfjsMissing as exc:
        _missing(str(exc))
    base = tmp_path_factory.mktemp("browser")
    run = copy_run(trained_runs.finished, base / HOSTILE_PARENT / HOSTILE_NAME)
    page = base / "report.html"
    assert main(["report", str(run), "--iwae-k", "10", "--out", str(page)]) == 0
    return page, run


@pytest.fixture(scope="module")
def browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing("selenium is not installed (pip install selenium: the test extra)")
    binary, driver_path = _browser_paths()
    options = Options()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1200,1600", "--no-first-run", "--disable-extensions"):
        options.add_argument(argument)
    options.binary_location = binary
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    yield driver
    driver.quit()


def _state(driver) -> dict:
    return driver.execute_script("return window.vaestudioReport || null") or {}


def _await(driver, condition, what: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while True:
        state = _state(driver)
        if state.get("error"):
            raise AssertionError(f"the page's latent plane failed: {state['error']}")
        if condition(state):
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; page state {state}")
        time.sleep(0.05)


def _decoded_pixels(driver) -> np.ndarray:
    values = driver.execute_script(
        "var c = document.getElementById('decoded'); "
        "return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data);")
    size = int(np.sqrt(len(values) // 4))
    return np.asarray(values, np.int16).reshape(size, size, 4)


@pytest.fixture(scope="module")
def loaded(browser, report_page):
    page, run = report_page
    browser.get(page.as_uri())
    _await(browser, lambda s: s.get("ready"), "TensorFlow.js to decode the first point")
    return browser, page, run


def test_the_page_loads_without_console_errors_or_network_requests(loaded):
    driver, page, _run = loaded
    errors = [entry for entry in driver.get_log("browser") if entry["level"] in ("SEVERE", "ERROR")]
    assert errors == []
    requested = set()
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            requested.add(message["params"]["request"]["url"])
    # data: URIs (the page's own pictures) are no request to anywhere; the document is its own file.
    assert {url for url in requested if not url.startswith("data:")} == {page.as_uri()}


def test_markup_in_folder_names_shows_as_text_and_runs_nothing(loaded):
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    driver, _page, run = loaded
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text
    assert driver.find_element(By.ID, "run-name").text == HOSTILE_NAME
    assert f"{HOSTILE_PARENT}/{HOSTILE_NAME}" in driver.find_element(By.TAG_NAME, "header").text
    assert driver.find_elements(By.CSS_SELECTOR, "img[src='x']") == []
    assert driver.execute_script("return document.scripts.length") == 3  # data, TensorFlow.js, the page's


def test_dragging_on_the_plane_decodes_what_the_numpy_vae_decodes(loaded):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    from vaestudio.core.numpy_vae import NumpyVAE
    from vaestudio.core.store.run_folder import RunFolder

    driver, _page, run = loaded
    before_state = _state(driver)
    before = _decoded_pixels(driver)
    plane = driver.find_element(By.ID, "latent-plane")
    assert "frame" in driver.find_element(By.ID, "plane-snapshot").text  # labelled with its snapshot
    ActionChains(driver).move_to_element_with_offset(plane, -60, 40).click_and_hold() \
        .move_by_offset(30, 20).move_by_offset(60, 30).release().perform()  # ends 30 px right, 90 px down
    state = _await(driver, lambda s: s["decodes"] > before_state["decodes"] and not s.get("busy"),
                   "the dragged point to be decoded")
    after = _decoded_pixels(driver)
    point = np.asarray(state["point"], np.float32)
    half = plane.size["width"] / 2  # the plane spans [-3, 3]: z = offset from the centre / half * 3
    assert np.allclose(point, [30 / half * 3, -90 / half * 3], atol=0.05), point  # where the drag ended
    assert np.abs(after - before).max() > 10, "dragging did not change the decoded picture"
    folder = RunFolder(run)
    folder.read_config()
    weights = folder.snapshots.load_weights(folder.snapshots.records()[-1])
    expected = NumpyVAE(weights).decode_uint8(point[None])[0].astype(np.int16)
    difference = np.abs(after[..., 0] - expected).max()
    print(f"max abs difference TensorFlow.js vs NumPy: {difference} (of 255)")
    assert difference <= TOLERANCE
    assert (after[..., 3] == 255).all()


@pytest.mark.parametrize("architecture, axes", [
    (dict(latent_dim=3, image_size=64, channels=3, likelihood="continuous_bernoulli"), (2, 0)),
    (dict(latent_dim=1, image_size=28, channels=1, likelihood="bernoulli"), (0, 0)),
], ids=["64x64-colour-continuous-bernoulli", "1-d-latent"])
def test_other_architectures_decode_in_the_page_as_in_numpy(browser, tmp_path, architecture, axes):
    """The TensorFlow.js decoder of a 64x64 colour continuous-Bernoulli model (three stride-2 layers) and of a
    1-d latent space, with random weights, against the NumPy VAE, before and after a drag."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    from random_weights import random_weights
    from vaestudio.core.architecture import Architecture
    from vaestudio.core.numpy_vae import NumpyVAE
    from vaestudio.report.content import Figures, ReportContent, Snapshot, png_data_uri
    from vaestudio.report.page import render_page
    from vaestudio.report.tfjs import TfjsMissing, read_tfjs

    try:
        script = read_tfjs()
    except TfjsMissing as exc:
        _missing(str(exc))
    weights = random_weights(Architecture(**architecture), seed=4)
    snapshot = Snapshot(0, 1, 10, "epoch 1", png_data_uri(np.zeros((8, 8), np.uint8)))
    content = ReportContent(tmp_path, "random", {}, weights.architecture.describe(), [], [], [snapshot], snapshot,
                            weights, axes, Figures(), None, [])
    page = tmp_path / "random.html"
    page.write_text(render_page(content, script), encoding="utf-8")
    browser.get(page.as_uri())
    state = _await(browser, lambda s: s.get("ready"), "TensorFlow.js to decode the first point")
    vae = NumpyVAE(weights)
    for moved in (False, True):
        if moved:
            plane = browser.find_element(By.ID, "latent-plane")
            ActionChains(browser).move_to_element_with_offset(plane, 20, 20).click_and_hold() \
                .move_by_offset(-60, -50).release().perform()
            state = _await(browser, lambda s, done=state["decodes"]: s["decodes"] > done and not s.get("busy"),
                           "the dragged point to be decoded")
        point = np.asarray(state["point"], np.float32)
        assert point.shape == (architecture["latent_dim"],)
        if moved:
            assert point[axes[0]] < -0.5 and (len(point) == 1 or point[axes[1]] > 0.5), point
            assert (len(point) == 1 or point[1] == 0), point  # the dimension off the plane stays at 0
        expected = vae.decode_uint8(point[None])[0].astype(np.int16)
        pixels = _decoded_pixels(browser)
        shown = pixels[..., 0] if architecture["channels"] == 1 else pixels[..., :3]
        print(f"max abs difference TensorFlow.js vs NumPy: {np.abs(shown - expected).max()} (of 255)")
        assert np.abs(shown - expected).max() <= TOLERANCE
