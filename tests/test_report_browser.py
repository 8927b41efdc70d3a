"""report.html in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver``) driven by selenium, on the report of a small simulated find.

The tests skip, saying why, where selenium, Chromium or its driver is missing. Screenshots are
written into the test's tmp_path and, when ``ORBITSCOUT_ARTEFACTS`` names a folder, there too.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
DRIVERS = ("chromedriver", "chromium-driver")
INSTALL = "apt-get install -y chromium chromium-driver"


def _which(names: tuple[str, ...], extra: tuple[str, ...] = ()) -> str | None:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    return next((p for p in extra if Path(p).is_file()), None)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """A find output of the demo's kind (CaSSIS, Perseverance's layout), small and quick."""
    from orbitscout.pipeline import find
    from orbitscout.sim.render import simulate_pair, write_pair

    folder = tmp_path_factory.mktemp("browser")
    pair = simulate_pair("cassis", "perseverance", seed=304, size=768)
    paths = write_pair(pair, folder)
    find(paths["before.tif"], paths["after.tif"], folder / "out")
    return folder / "out" / "report.html"


@pytest.fixture(scope="module")
def changes_report(tmp_path_factory) -> Path:
    """A report of hand-made detections on a hand-made pair: a dark boulder of BEFORE gone
    (vanished), the like one 30 px (15 m) east of it in AFTER linked as its move, and an
    altered spot with a second class."""
    import cv2
    from affine import Affine

    from orbitscout.core.bodies import MARS, local_map_crs
    from orbitscout.core.candidate import Candidate
    from orbitscout.core.grid import PixelGrid
    from orbitscout.report.outputs import write_all

    width, height, gsd = 640, 512, 0.5
    rng = np.random.default_rng(7)
    small = rng.normal(1.0, 0.05, (height // 16, width // 16)).astype(np.float32)
    ground = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    before, after = ground.copy(), ground.copy()
    yy, xx = np.mgrid[0:height, 0:width]
    before -= 0.5 * np.exp(-((xx - 300) ** 2 + (yy - 300) ** 2) / (2 * 3.0**2))
    after -= 0.5 * np.exp(-((xx - 330) ** 2 + (yy - 300) ** 2) / (2 * 3.0**2))
    after += 0.4 * np.exp(-((xx - 150) ** 2 + (yy - 420) ** 2) / (2 * 4.0**2))

    def candidate(i, x, y, cls, **fields):
        return Candidate(
            id=i, x=x, y=y, area_px=80.0, length_px=10.0, width_px=10.0, orientation_deg=0.0,
            polarity="dark", contrast=-0.4, contrast_bright=0.0, contrast_dark=-0.4,
            bright_fraction=0.0, peak_sigma=25.0, score=0.8, bbox=(0, 0, 1, 1),
            bright_xy=None, dark_xy=None, linear=False, cls=cls, gsd_m=gsd, **fields,
        )  # fmt: skip

    found = [
        candidate(1, 300.0, 300.0, "unknown", change="vanished", change_score=0.91),
        candidate(
            2,
            330.0,
            300.0,
            "unknown",
            change_score=0.88,
            moved_from=1,
            move={"distance_m": 15.0, "bearing_deg": 90.0},
        ),  # fmt: skip
        candidate(
            3,
            150.0,
            420.0,
            "lander",
            change="altered",
            change_score=0.66,
            alternative="new_crater",
            alternative_score=0.27,
        ),  # fmt: skip
    ]
    crs = local_map_crs(MARS, 18.4, 77.5)
    transform = Affine.translation(-1000.0, 1_092_000.0) @ Affine.scale(gsd, -gsd)
    grid = PixelGrid(width, height, transform, crs.to_wkt())

    def read(image):
        def reader(window=None, out_shape=None):
            if window is None:
                if out_shape is None:
                    return image.copy()
                return cv2.resize(image, out_shape[::-1], interpolation=cv2.INTER_AREA)
            w = window
            return image[w.row_off : w.row_off + w.height, w.col_off : w.col_off + w.width]

        return reader

    summary = {
        "before": {"path": "before.tif"},
        "after": {"path": "after.tif", "width": width, "height": height, "gsd_m": gsd},
        "body": "mars",
        "registration": {"dx": 0.0, "dy": 0.0, "rotation_deg": 0.0, "residual_px": 0.1},
        "counts": {"lander": 1, "unknown": 2},
        "timings": {"detect_s": 1.0},
        "versions": {"orbitscout": "test"},
    }
    folder = tmp_path_factory.mktemp("changes")
    write_all(folder, grid, MARS, read(after), read(before), found, summary)
    return folder / "report.html"


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip(
        "selenium.webdriver", reason="selenium is not installed (pip install selenium)"
    )
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    binary = _which(BROWSERS)
    driver_path = _which(DRIVERS, ("/usr/lib/chromium/chromedriver",))
    if binary is None or driver_path is None:
        pytest.skip(f"no headless Chromium and chromedriver installed ({INSTALL})")
    options = Options()
    options.binary_location = binary
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        "--hide-scrollbars",
    ):
        options.add_argument(arg)
    # every request the page makes, from the DevTools Network domain
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def _open(browser, report: Path, width: int = 1280, height: int = 900) -> None:
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )
    browser.get_log("performance")  # drop what earlier pages logged
    browser.get(report.as_uri())
    _wait(browser, "return !!window.orbitscoutViewer")
    _wait_tiles(browser)


def _wait(browser, script: str, timeout: float = 15.0, args: tuple = ()):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = browser.execute_script(script, *args)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for: {script}")


def _wait_tiles(browser) -> int:
    """Wait until every tile image in the map has loaded; the number loaded."""
    script = """
        const tiles = [...document.querySelectorAll('#map img.leaflet-tile')];
        if (!tiles.length || tiles.some(t => !t.complete)) return 0;
        return tiles.filter(t => t.naturalWidth > 0).length;"""
    n = _wait(browser, script)
    time.sleep(0.3)  # fade-in of the last tiles
    return n


def _map_pixels(browser) -> np.ndarray:
    """The map as drawn on screen (RGB), cut from a screenshot of the page."""
    import cv2

    png = browser.get_screenshot_as_png()
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
    rect = browser.execute_script(
        "const r = document.getElementById('map').getBoundingClientRect();"
        "return [r.left, r.top, r.width, r.height];"
    )
    x, y, w, h = (round(v) for v in rect)
    return image[y : y + h, x : x + w].astype(np.int16)


def _artefact(browser, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    browser.save_screenshot(str(path))
    folder = os.environ.get("ORBITSCOUT_ARTEFACTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(folder) / name)
    return path


def _hide_overlays(browser) -> None:
    """Outlines, labels and controls off, so screenshots compare the images alone."""
    browser.execute_script(
        "for (const s of document.querySelectorAll('.leaflet-overlay-pane, "
        ".leaflet-tooltip-pane, .leaflet-control-container')) s.style.visibility = 'hidden';"
    )


def test_map_shows_the_image_tiles(browser, report, tmp_path):
    _open(browser, report)
    loaded = browser.execute_script(
        "return [...document.querySelectorAll('#map img.leaflet-tile')]"
        ".filter(t => t.naturalWidth > 0 && t.closest('.leaflet-after-pane')).length"
    )
    assert loaded >= 1
    pixels = _map_pixels(browser)
    assert pixels.std() > 10  # the image: texture, not a blank map
    assert _artefact(browser, tmp_path, "report_desktop.png").stat().st_size > 10_000
    # full-resolution tiles at zoom 0
    browser.execute_script("orbitscoutViewer.map.setView(orbitscoutViewer.ll(384, 384), 1)")
    _wait_tiles(browser)
    assert browser.execute_script("return orbitscoutViewer.map.getZoom()") == 1


def test_blink_and_swipe_change_what_is_drawn(browser, report):
    _open(browser, report)
    browser.execute_script("orbitscoutViewer.map.setView(orbitscoutViewer.ll(380, 380), 0)")
    _wait_tiles(browser)
    _hide_overlays(browser)
    after = _map_pixels(browser)
    state = "return orbitscoutViewer.state.base"
    browser.find_element("id", "blink").click()
    assert browser.execute_script(state) == "before"
    assert browser.execute_script(
        "return orbitscoutViewer.panes.before.style.visibility"
        " + orbitscoutViewer.panes.after.style.visibility"
    ) == ("visiblehidden")
    _wait_tiles(browser)
    before = _map_pixels(browser)
    changed = np.abs(before - after).max(axis=2) > 20
    assert changed.mean() > 0.01  # another image is on screen

    # swipe: BEFORE left of the divider, AFTER right of it
    browser.find_element("id", "blink").click()
    assert browser.execute_script(state) == "after"
    browser.find_element("id", "swipe").click()
    browser.execute_script("orbitscoutViewer.setSwipe(true, 0.5)")
    _wait_tiles(browser)
    assert browser.execute_script("return orbitscoutViewer.panes.before.style.clip").startswith(
        "rect("
    )
    assert browser.find_element("id", "divider").is_displayed()
    swiped = _map_pixels(browser)
    half = swiped.shape[1] // 2
    left, right = slice(0, half - 4), slice(half + 4, None)
    assert np.abs(swiped[:, left] - before[:, left]).mean() < 2
    assert np.abs(swiped[:, right] - after[:, right]).mean() < 2
    assert np.abs(swiped[:, left] - after[:, left]).mean() > 2
    # the divider follows a drag
    from selenium.webdriver.common.action_chains import ActionChains

    width = browser.execute_script("return document.getElementById('map').clientWidth")
    divider = browser.find_element("id", "divider")
    ActionChains(browser).drag_and_drop_by_offset(divider, -width // 4, 0).perform()
    share = browser.execute_script("return orbitscoutViewer.state.divider")
    assert share == pytest.approx(0.25, abs=0.03)
    browser.find_element("id", "swipe").click()
    assert browser.execute_script("return orbitscoutViewer.panes.before.style.clip") == ""

    # the difference map, a third layer
    browser.find_element("css selector", "input[name=layer][value=diff]").click()
    _wait_tiles(browser)
    diff = _map_pixels(browser)
    assert np.abs(diff - after).mean() > 10
    assert browser.find_element("id", "diff-legend").is_displayed()

    # automatic blink at a chosen rate
    browser.find_element("css selector", "input[name=layer][value=after]").click()
    rate = browser.find_element("id", "rate")
    rate.clear()
    rate.send_keys("8")
    browser.find_element("id", "auto").click()
    seen = set()
    for _ in range(20):
        seen.add(browser.execute_script(state))
        time.sleep(0.05)
    browser.find_element("id", "auto").click()
    assert seen == {"after", "before"}
    assert browser.execute_script("return orbitscoutViewer.state.blinking") is False


def test_clicking_a_detection_opens_its_details(browser, report, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains

    _open(browser, report)
    data = browser.execute_script("return window.ORBITSCOUT.detections")
    parachute = next(d for d in data if d["class"] == "parachute")
    browser.execute_script(
        "orbitscoutViewer.map.setView(orbitscoutViewer.ll(arguments[0], arguments[1]), 0)",
        parachute["x"],
        parachute["y"],
    )
    _wait_tiles(browser)
    shape = browser.find_element("css selector", "path.det-parachute")
    ActionChains(browser).move_to_element(shape).click().perform()
    details = browser.find_element("id", "details").text
    assert f"#{parachute['id']} parachute" in details
    assert "score" in details and "from lander" in details and "lat, lon" in details
    rel = parachute["from_lander"]
    assert f"{rel['distance_m']:.0f} m at {rel['bearing_deg']:.0f}° ({rel['compass']})" in details
    _wait(browser, "const i = document.querySelector('#details img'); return i && i.naturalWidth")
    # the table follows the map
    row = browser.find_element("css selector", "#detections tr.selected")
    assert row.get_attribute("data-id") == str(parachute["id"])
    _artefact(browser, tmp_path, "report_details.png")

    # and the map follows the table
    lander = next(d for d in data if d["class"] == "lander")
    browser.find_element("css selector", f"#detections tr[data-id='{lander['id']}']").click()
    assert browser.execute_script("return orbitscoutViewer.state.selected") == lander["id"]
    assert f"#{lander['id']} lander" in browser.find_element("id", "details").text
    _wait(  # the map pans to it
        browser,
        "const c = orbitscoutViewer.map.getCenter();"
        "return Math.hypot(c.lng - arguments[0], -c.lat - arguments[1]) < 2",
        args=(lander["x"] + 0.5, lander["y"] + 0.5),
    )

    # filter by class and minimum score
    browser.find_element("css selector", "input[data-class=unknown]").click()
    assert browser.find_elements("css selector", "path.det-unknown") == []
    hidden = browser.execute_script(
        "return [...document.querySelectorAll('#detections tr[data-id]')]"
        ".filter(r => r.hidden).length"
    )
    assert hidden == sum(d["class"] == "unknown" for d in data)
    browser.find_element("css selector", "input[data-class=unknown]").click()
    cut = math.floor(sorted(d["score"] for d in data)[len(data) // 2] * 100) / 100  # 0.01 steps
    browser.execute_script(
        "const s = document.getElementById('min-score'); s.value = arguments[0];"
        "s.dispatchEvent(new Event('input'));",
        cut,
    )
    shown = browser.execute_script(
        "return Object.values(orbitscoutViewer.shapes)"
        ".filter(s => orbitscoutViewer.map.hasLayer(s)).length"
    )
    assert shown == sum(d["score"] >= cut for d in data) < len(data)


def test_cursor_lonlat_scale_and_north(browser, report):
    from selenium.webdriver.common.action_chains import ActionChains

    _open(browser, report)
    geo = json.loads((report.parent / "detections.geojson").read_text())
    for feature in geo["features"]:
        p = feature["properties"]
        lon, lat = browser.execute_script(
            "return orbitscoutLonLat(arguments[0], arguments[1])", p["x"], p["y"]
        )
        lon0, lat0 = feature["geometry"]["coordinates"]
        assert abs(lon - lon0) < 1e-6 and abs(lat - lat0) < 1e-6
    ActionChains(browser).move_to_element(browser.find_element("id", "map")).perform()
    assert "lat " in browser.find_element("id", "cursor").text
    assert " m" in browser.find_element("css selector", ".scalebar").text
    assert browser.find_element("css selector", ".north").is_displayed()


def test_no_network_request_and_reads_at_420_px(browser, report, tmp_path):
    _open(browser, report, width=420, height=860)
    urls = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    assert any(u.endswith(".jpg") for u in urls)  # the tiles were asked for: the log works
    assert all(u.startswith(("file://", "data:")) for u in urls), [
        u for u in urls if not u.startswith(("file://", "data:"))
    ]
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []  # no missing file, no script error
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= 420  # nothing runs off the side: wide tables scroll in their own box
    assert browser.execute_script("return innerWidth") == 420
    _artefact(browser, tmp_path, "report_420px.png")


def test_vanished_move_and_alternative_show(browser, changes_report, tmp_path):
    """A vanished detection is outlined dashed, a move drawn as an arrow between its two ends;
    the details and the table say the change, its probability, the move and the second class."""
    from selenium.webdriver.common.action_chains import ActionChains

    _open(browser, changes_report)
    browser.execute_script("orbitscoutViewer.map.setView(orbitscoutViewer.ll(260, 340), 2)")
    _wait_tiles(browser)
    vanished = browser.find_element("css selector", "path.change-vanished")
    assert vanished.get_attribute("stroke-dasharray")  # dashed
    appeared = browser.find_element("css selector", "path.change-appeared")
    assert not appeared.get_attribute("stroke-dasharray")  # solid
    moves = browser.find_elements("css selector", "path.move")
    assert len(moves) == 1
    # the arrow runs between the two outlines, from the vanished end towards the other
    box = browser.execute_script(
        "const b = arguments[0].getBBox(); return [b.x, b.y, b.width, b.height];", moves[0]
    )
    start, end = (
        browser.execute_script(
            "const p = orbitscoutViewer.map.latLngToLayerPoint(orbitscoutViewer.ll(arguments[0],"
            " arguments[1])); return [p.x, p.y];",
            x,
            300.0,
        )
        for x in (300.0, 330.0)
    )
    assert start[0] < box[0] and box[0] + box[2] < end[0]
    assert "vanished" in browser.find_element("css selector", ".leaflet-tooltip-pane").text
    _artefact(browser, tmp_path, "report_vanished_move.png")

    ActionChains(browser).move_to_element(vanished).click().perform()
    details = browser.find_element("id", "details").text
    assert "#1 unknown" in details and "vanished (in BEFORE, gone in AFTER)" in details
    assert "changed (0–1) 0.91" in details
    assert "possible move to #2: 15 m at 90° (E)" in details
    assert vanished.get_attribute("stroke-dasharray")  # still dashed when selected
    browser.find_element("css selector", "#details a[data-go='2']").click()
    assert browser.execute_script("return orbitscoutViewer.state.selected") == 2
    assert "possible move from #1: 15 m at 90° (E)" in browser.find_element("id", "details").text
    assert vanished.get_attribute("stroke-dasharray")  # deselected: dashed again

    browser.find_element("css selector", "#detections tr[data-id='3']").click()
    details = browser.find_element("id", "details").text
    assert "altered" in details and "or else (0–1) new crater 0.27" in details
    _artefact(browser, tmp_path, "report_vanished_move_details.png")
    row = browser.find_element("css selector", "#detections tr[data-id='1']").text
    assert "vanished" in row and "0.91" in row and "to #2: 15 m at 90° (E)" in row

    # a move whose end is filtered out is not drawn
    browser.find_element("css selector", "input[data-class=unknown]").click()
    assert browser.find_elements("css selector", "path.move") == []
    browser.find_element("css selector", "input[data-class=unknown]").click()
    assert len(browser.find_elements("css selector", "path.move")) == 1
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []
