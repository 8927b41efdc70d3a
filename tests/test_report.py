"""The report's outputs without a browser: the viewer's folder, lon/lat and north, the overview
and the survey index."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from affine import Affine

from orbitscout.core.bodies import MARS, local_map_crs
from orbitscout.core.candidate import Candidate
from orbitscout.core.grid import PixelGrid
from orbitscout.core.window import Window
from orbitscout.report import geo, pictures, viewer
from orbitscout.report.index import index_page
from orbitscout.report.page import html_report

GSD = 0.5


def _grid(width: int, height: int, rotation: float = 0.0) -> PixelGrid:
    crs = local_map_crs(MARS, 18.4, 77.5)
    transform = (
        Affine.translation(-1000.0, 1_092_000.0)
        @ Affine.rotation(rotation)
        @ Affine.scale(GSD, -GSD)
    )
    return PixelGrid(width, height, transform, crs.to_wkt())


def _candidate(i: int, x: float, y: float, cls: str = "unknown", radius: float = 4.0) -> Candidate:
    return Candidate(
        id=i,
        x=x,
        y=y,
        area_px=math.pi * radius**2,
        length_px=2 * radius,
        width_px=2 * radius,
        orientation_deg=0.0,
        polarity="bright",
        contrast=0.3,
        contrast_bright=0.3,
        contrast_dark=0.0,
        bright_fraction=1.0,
        peak_sigma=20.0,
        score=0.5 + 0.05 * i,
        bbox=(int(x - radius), int(y - radius), int(x + radius), int(y + radius)),
        bright_xy=None,
        dark_xy=None,
        linear=False,
        cls=cls,
        gsd_m=GSD,
    )


class Scene:
    """An AFTER and a registered BEFORE in memory, read through callbacks that count."""

    def __init__(self, width: int, height: int, seed: int = 0):
        rng = np.random.default_rng(seed)
        small = rng.normal(1.0, 0.1, (height // 16 + 2, width // 16 + 2)).astype(np.float32)
        base = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
        self.before = base * 0.5 + 0.1  # another gain and offset
        self.after = base.copy()
        self.reads: list[Window] = []
        self.whole_reads = 0

    def plant(self, c: Candidate, amplitude: float) -> None:
        r = int(c.length_px)
        self.after[int(c.y) - r : int(c.y) + r + 1, int(c.x) - r : int(c.x) + r + 1] += amplitude

    def read_after(self, window=None, out_shape=None):
        if window is None:
            self.whole_reads += 1
            image = self.after
            if out_shape is not None:
                return cv2.resize(image, out_shape[::-1], interpolation=cv2.INTER_AREA)
            return image.copy()
        self.reads.append(window)
        w = window
        return self.after[w.row_off : w.row_off + w.height, w.col_off : w.col_off + w.width].copy()

    def read_before(self, w: Window):
        return self.before[w.row_off : w.row_off + w.height, w.col_off : w.col_off + w.width].copy()

    def reduced(self, factor: int = 8) -> tuple[np.ndarray, np.ndarray]:
        h, w = self.after.shape[0] // factor, self.after.shape[1] // factor

        def cut(a):
            return a[: h * factor, : w * factor].reshape(h, factor, w, factor).mean(axis=(1, 3))

        return cut(self.after).astype(np.float32), cut(self.before).astype(np.float32)


def _summary(width, height) -> dict:
    return {
        "before": {"path": "/data/b.tif"},
        "after": {"path": "/data/a.tif", "width": width, "height": height, "gsd_m": GSD},
        "body": "mars",
        "registration": {"dx": -18.149, "dy": 2.5, "rotation_deg": 0.01, "residual_px": 0.1},
        "counts": {},
        "timings": {"detect_s": 1.0},
        "versions": {"orbitscout": "test"},
    }


def _data(folder: Path) -> dict:
    text = (folder / "data.js").read_text()
    assert text.startswith("window.ORBITSCOUT = ")
    return json.loads(text[len("window.ORBITSCOUT = ") :].rstrip().rstrip(";"))


def test_large_image_reads_only_around_detections(tmp_path):
    """Above WHOLE_PX the pyramid comes from the reduced images handed in (no whole read) and
    full resolution only from windows around the detections."""
    width, height = 4096, 3072
    assert width * height > viewer.WHOLE_PX
    scene = Scene(width, height)
    found = [_candidate(1, 500.3, 400.7, "parachute"), _candidate(2, 3500.0, 2900.0)]
    found.append(_candidate(3, 520.0, 430.0, "backshell"))  # beside the first: one read
    for c in found:
        scene.plant(c, 0.5)
    after_small, before_small = scene.reduced()
    grid = _grid(width, height)
    out = tmp_path / "report"
    info = viewer.write_viewer(
        out, grid, MARS, scene.read_after, scene.read_before, found,
        _summary(width, height), after_small, before_small,
    )  # fmt: skip
    assert scene.whole_reads == 0
    assert len(scene.reads) == 2  # one window per group of touching tiles
    assert sum(w.width * w.height for w in scene.reads) < 0.02 * width * height
    data = _data(out)
    assert data["layers"] == ["after", "before", "diff"]
    assert data["top_zoom"] == -3 and data["min_zoom"] <= -4
    # every pyramid tile Leaflet can ask for is there; full resolution only where listed
    for name in data["layers"]:
        for z in range(data["min_zoom"], data["top_zoom"] + 1):
            nx = math.ceil(width * 2.0**z / data["tile"])
            ny = math.ceil(height * 2.0**z / data["tile"])
            for tx in range(nx):
                for ty in range(ny):
                    assert (out / "tiles" / name / str(z) / f"{tx}_{ty}.jpg").is_file()
        full = sorted(p.stem for p in (out / "tiles" / name / "0").glob("*.jpg"))
        assert full == sorted(data["detail"])
    side = data["detail_tile"]
    for c in found:  # each detection's own tile is at full resolution
        assert f"{int(c.x) // side}_{int(c.y) // side}" in data["detail"]
    assert len(data["detail"]) < 30
    # chips, the vendored library and its licence
    assert set(info["chips"]) == {1, 2, 3}
    for c in data["detections"]:
        assert (tmp_path / c["chip"]).is_file()
    assert (out / "leaflet" / "leaflet.js").is_file()
    assert (
        "BSD" in (out / "leaflet" / "LICENSE").read_text()
        or "Redistribution" in (out / "leaflet" / "LICENSE").read_text()
    )


def test_before_is_levelled_and_chips_share_one_stretch(tmp_path):
    """BEFORE (half as bright, plus an offset) shows at AFTER's brightness in the tiles, and a
    chip's halves use one black and white point: the planted bright spot is brighter in the
    AFTER half only."""
    width, height = 1024, 1024
    scene = Scene(width, height, seed=3)
    c = _candidate(1, 600.0, 500.0, "new_crater", radius=6)
    scene.plant(c, 0.6)
    after_small, before_small = scene.reduced()
    out = tmp_path / "report"
    viewer.write_viewer(
        out, _grid(width, height), MARS, scene.read_after, scene.read_before, [c],
        _summary(width, height), after_small, before_small,
    )  # fmt: skip
    after_tile = cv2.imread(str(out / "tiles" / "after" / "0" / "1_1.jpg"), cv2.IMREAD_GRAYSCALE)
    before_tile = cv2.imread(str(out / "tiles" / "before" / "0" / "1_1.jpg"), cv2.IMREAD_GRAYSCALE)
    assert abs(float(after_tile.mean()) - float(before_tile.mean())) < 6  # levelled
    chip = cv2.imread(str(out / "chips" / "1.png"), cv2.IMREAD_GRAYSCALE)
    half = (chip.shape[1] - 2) // 2
    assert chip.shape[0] == 2 * pictures.chip_half_px(c) + 1 >= 65
    left, right = chip[:, :half].astype(float), chip[:, half + 2 :].astype(float)
    mid = chip.shape[0] // 2
    spot = (slice(mid - 3, mid + 4), slice(half // 2 - 3, half // 2 + 4))
    ring = np.ones_like(left, bool)
    ring[mid - 12 : mid + 13, half // 2 - 12 : half // 2 + 13] = False
    assert right[spot].mean() > left[spot].mean() + 60  # the change, on one stretch
    assert abs(right[ring].mean() - left[ring].mean()) < 8  # the ground alike


def test_small_image_is_tiled_whole(tmp_path):
    scene = Scene(640, 480)
    found = [_candidate(1, 100.0, 100.0, "lander")]
    out = tmp_path / "report"
    viewer.write_viewer(
        out, _grid(640, 480), MARS, scene.read_after, scene.read_before, found,
        _summary(640, 480), None, None,
    )  # fmt: skip
    data = _data(out)
    assert data["top_zoom"] == 0 and data["detail"] == []
    assert {p.stem for p in (out / "tiles" / "diff" / "0").glob("*.jpg")} == {
        f"{x}_{y}" for x in range(3) for y in range(2)
    }


def test_no_crs_no_detections_and_a_partial_last_cell(tmp_path):
    """A plain image (no CRS, no body): pixels only; no detections: no full-resolution tiles;
    a width that is no multiple of 8 keeps the pyramid's top at 1/8."""
    width, height = 4100, 2050
    scene = Scene(width, height, seed=5)
    after_small, before_small = scene.reduced()
    out = tmp_path / "report"
    viewer.write_viewer(
        out, PixelGrid(width, height), None, scene.read_after, scene.read_before, [],
        _summary(width, height) | {"body": None}, after_small, before_small,
    )  # fmt: skip
    data = _data(out)
    assert data["lonlat"] is None and data["north_deg"] is None and data["body"] is None
    assert data["top_zoom"] == -3 and data["detail"] == [] and data["detections"] == []
    assert scene.reads == [] and scene.whole_reads == 0
    assert len(list((out / "tiles" / "after" / "-3").glob("*.jpg"))) == 3 * 2


def test_lonlat_control_grid_matches_pyproj():
    """The page's bilinear lon/lat between control points agrees with the exact projection to
    well under a pixel (0.5 m is 8e-6 degrees on Mars)."""
    from pyproj import CRS, Transformer

    grid = _grid(20000, 12000, rotation=7.0)
    control = geo.lonlat_grid(grid, MARS)
    forward = Transformer.from_crs(CRS(grid.crs_wkt), MARS.crs, always_xy=True)
    rng = np.random.default_rng(1)
    for x, y in rng.uniform((0, 0), (20000, 12000), (50, 2)):
        lon, lat = forward.transform(*(grid.transform @ (x + 0.5, y + 0.5)))
        got = geo.interpolate_lonlat(control, x, y)
        assert got[0] == pytest.approx(lon, abs=1e-6) and got[1] == pytest.approx(lat, abs=1e-6)
    assert geo.lonlat_grid(PixelGrid(100, 100), MARS) is None


def test_north_follows_the_grid():
    assert geo.north_deg(_grid(1000, 1000), MARS) == pytest.approx(0.0, abs=0.01)
    # map axes turned 30 degrees anticlockwise on the image: north lies 30 degrees to the right
    assert geo.north_deg(_grid(1000, 1000, rotation=30.0), MARS) == pytest.approx(30.0, abs=0.05)
    assert geo.north_deg(PixelGrid(10, 10), None) is None


def test_one_compass_rose_for_page_and_terminal():
    """The page names a bearing as the terminal does (core.geometry's 16-point rose): 250° is
    WSW in both, where the page used to say W."""
    c = _candidate(4, 10, 10, "parachute")
    c.features["from_lander"] = {"bearing_deg": 250.0, "distance_m": 1200.0}
    page = html_report([c], _summary(100, 100) | {"counts": {"parachute": 1}})
    assert "1200 m at 250° (WSW)" in page


def test_page_text_reads_on_a_phone_and_says_no_none():
    summary = _summary(100, 100) | {"body": None}
    summary["after"]["gsd_m"] = None
    page = html_report([], summary)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "Body: None" not in page and "not known" in page
    assert "x − 18.149" in page and "+ -" not in page
    assert "Registration" in page and "Landing hardware" in page
    assert not re.search(r"(src|href)=[\"']?(https?:)?//", page)  # nothing from the network


def test_overview_labels_once_with_legend_scale_and_north():
    """A label is drawn once: its ink spans the text's own width (drawing it again thicker,
    as before, shifted each glyph and widened it by a pixel or more per letter)."""
    canvas = np.zeros((40, 400, 3), np.uint8)
    text = "1 parachute backshell"
    pictures._text(canvas, text, (5, 25), "#ffffff", 0.5)
    (w, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
    white = np.nonzero((canvas == 255).all(axis=2).any(axis=0))[0]
    assert white.max() - white.min() <= w + 2
    assert pictures.CLASS_COLOURS["unknown"] not in ("#9e9e9e", "#808080")
    r, g, b = (int(pictures.CLASS_COLOURS["unknown"][i : i + 2], 16) for i in (1, 3, 5))
    assert max(r, g, b) - min(r, g, b) > 60  # a colour, not a grey
    grid = _grid(800, 600)
    image = np.full((600, 800), 0.5, np.float32)
    found = [_candidate(1, 200, 200, "lander"), _candidate(2, 400, 300)]
    png = pictures.overview_png(
        grid, lambda window=None, out_shape=None: image, found, "t", gsd_m=GSD, north_deg=0.0
    )
    picture = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    plain = cv2.imdecode(
        np.frombuffer(
            pictures.overview_png(grid, lambda window=None, out_shape=None: image, [], "t"),
            np.uint8,
        ),
        cv2.IMREAD_COLOR,
    )
    h, w = picture.shape[:2]
    assert (picture[h - 40 :, :200] != plain[h - 40 :, :200]).any()  # scale bar
    assert (picture[:100, w - 80 :] != plain[:100, w - 80 :]).any()  # north arrow
    cyan = np.array(pictures._bgr(pictures.CLASS_COLOURS["lander"]))
    legend = picture[h - 80 :, w - 200 :]
    assert (np.abs(legend.astype(int) - cyan).sum(axis=2) < 30).any()  # legend entry
    assert pictures.nice_length(740) == 500 and pictures.nice_length(0.3) == pytest.approx(0.2)


def test_index_page_links_each_pair(tmp_path):
    (tmp_path / "b<2>").mkdir()
    rows = [
        {"pair": "a1", "status": "ok", "lander": "1", "parachute": "1", "unknown": "3",
         "detections": "5", "seconds": "2.5", "error": ""},
        {"pair": "b<2>", "status": "failed", "lander": "", "detections": "",
         "error": "orbitscout: error: x.tif: file not found"},
    ]  # fmt: skip
    path = index_page(rows, tmp_path)
    assert path == tmp_path / "index.html"
    page = path.read_text()
    assert "href='a1/report.html'" in page
    assert "b&lt;2&gt;" in page and "<2>" not in page
    assert "file not found" in page and 'name="viewport"' in page
    assert re.search(r"<td class=''>1</td>", page)


def _changes() -> list[Candidate]:
    """A vanished object, a like one 30 px (15 m) east of it linked as its move, and an altered
    spot with a second class."""
    gone = _candidate(1, 300.0, 300.0, "unknown", radius=5)
    gone.change, gone.change_score, gone.polarity = "vanished", 0.91, "dark"
    moved = _candidate(2, 330.0, 300.0, "unknown", radius=5)
    moved.change_score, moved.moved_from = 0.88, 1
    moved.move = {"distance_m": 15.0, "bearing_deg": 90.0}
    other = _candidate(3, 150.0, 420.0, "lander", radius=6)
    other.change, other.change_score = "altered", 0.6649
    other.alternative, other.alternative_score = "new_crater", 0.271
    return [gone, moved, other]


def test_outputs_carry_change_move_and_alternative(tmp_path):
    """detections.geojson, detections.gpkg, the viewer's data, report.html and summary.json
    hold issue 16's and 17's fields with their types; a missing value is null, not a string."""
    import geopandas as gpd
    import pyogrio

    from orbitscout.report.outputs import write_all

    width, height = 640, 512
    scene = Scene(width, height, seed=2)
    found = _changes()
    for c in found:
        scene.plant(c, -0.4 if c.change == "vanished" else 0.4)
    write_all(
        tmp_path, _grid(width, height), MARS, scene.read_after, scene.read_before, found,
        _summary(width, height),
    )  # fmt: skip
    props = {
        f["properties"]["id"]: f["properties"]
        for f in json.loads((tmp_path / "detections.geojson").read_text())["features"]
    }
    assert props[1]["change"] == "vanished" and props[1]["change_score"] == 0.91
    assert props[1]["moved_from"] is None and props[1]["move"] is None
    assert props[2]["change"] == "appeared" and props[2]["moved_from"] == 1
    assert props[2]["move"] == {"distance_m": 15.0, "bearing_deg": 90.0}
    assert props[3]["change"] == "altered" and props[3]["change_score"] == pytest.approx(0.6649)
    assert props[3]["alternative"] == "new_crater" and props[3]["alternative_score"] == 0.271
    assert props[1]["alternative"] is None and props[1]["alternative_score"] is None
    assert isinstance(props[2]["moved_from"], int) and isinstance(props[3]["x"], float)

    frame = gpd.read_file(tmp_path / "detections.gpkg").set_index("id")
    assert list(frame.loc[[1, 2, 3], "change"]) == ["vanished", "appeared", "altered"]
    assert frame.loc[2, "moved_from"] == 1 and np.isnan(frame.loc[1, "moved_from"])
    assert frame.loc[2, "move_distance_m"] == 15.0 and frame.loc[2, "move_bearing_deg"] == 90.0
    assert np.isnan(frame.loc[2, "move_distance_px"]) and np.isnan(frame.loc[1, "move_bearing_deg"])
    assert frame.loc[3, "alternative"] == "new_crater" and pd_isna(frame.loc[1, "alternative"])
    assert frame.loc[3, "alternative_score"] == pytest.approx(0.271)
    info = pyogrio.read_info(tmp_path / "detections.gpkg")
    types = dict(zip(info["fields"], info["ogr_types"], strict=True))
    assert types["moved_from"] == "OFTInteger64" and types["change"] == "OFTString"
    for key in ("change_score", "alternative_score", "move_distance_m", "move_bearing_deg"):
        assert types[key] == "OFTReal"

    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["changes"] == {"appeared": 1, "vanished": 1, "altered": 1, "moves": 1}
    data = {d["id"]: d for d in _data(tmp_path / "report")["detections"]}
    assert data[2]["move"]["compass"] == "E" and data[1]["change"] == "vanished"
    page = (tmp_path / "report.html").read_text()
    assert "<tr data-id='1' data-change='vanished'>" in page
    assert "from #1: 15 m at 90° (E)" in page and "to #2: 15 m at 90° (E)" in page
    assert "new crater 0.27" in page and ">0.66<" in page
    assert "1 appeared, 1 vanished, 1 altered, 1 possible move." in page
    assert "lander (vanished)" not in page and "border:3px dashed" in page


def pd_isna(value) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


def test_empty_gpkg_keeps_its_column_types(tmp_path):
    """No detections: the GeoPackage still has every column, numbers as numbers."""
    import pyogrio

    from orbitscout.report.vectors import write_gpkg

    write_gpkg(tmp_path / "d.gpkg", [], _grid(100, 100))
    info = pyogrio.read_info(tmp_path / "d.gpkg")
    types = dict(zip(info["fields"], info["ogr_types"], strict=True))
    assert types["score"] == types["change_score"] == "OFTReal"
    assert types["id"] == types["moved_from"] == "OFTInteger64"
    assert info["features"] == 0


def test_move_in_pixels_and_counted_once():
    """Without a pixel size a move is in pixels; two detections naming each other are one
    move, drawn towards the one that did not vanish."""
    from orbitscout.report.outputs import change_counts
    from orbitscout.report.page import move_ends, move_text

    gone, moved, _ = _changes()
    moved.move = {"distance_px": 30.0, "bearing_deg": 270.0}
    gone.moved_from = 2
    assert change_counts([gone, moved]) == {"appeared": 1, "vanished": 1, "altered": 0, "moves": 1}
    assert pictures._moves([gone, moved]) == [(gone, moved)]
    assert move_text(moved, move_ends([gone, moved])) == "from #1: 30 px at 270° (W)"
    moved.moved_from = 99  # the other end not among the detections: no move counted
    gone.moved_from = None
    assert change_counts([gone, moved])["moves"] == 0 and pictures._moves([gone, moved]) == []


def test_overview_marks_vanished_dashed_and_moves_as_arrows():
    """A vanished detection's circle is dashed (gaps round it, where a solid one has none); a
    move is an arrow between the two; the legend says both."""
    grid = _grid(800, 600)
    image = np.tile(np.linspace(0.0, 1.0, 800, dtype=np.float32), (600, 1))  # grey ground

    def draw(found):
        png = pictures.overview_png(grid, lambda window=None, out_shape=None: image, found, "t")
        return cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR).astype(int)

    gone, moved, _ = _changes()
    solid = _candidate(1, 300.0, 300.0, "unknown", radius=5)
    plain = draw([])
    y0 = pictures.TITLE_PX

    def gaps(picture, c):
        """Gaps in the ink round ``c``'s circle (radius 8 here), walking round it by degrees."""
        angles = np.radians(np.arange(0, 360, 1))
        inked = np.abs(picture - plain).sum(axis=2) > 60
        ring = np.zeros(angles.size, bool)
        for r in (7.0, 7.5, 8.0, 8.5, 9.0):  # across the ring
            xs = np.round(c.x + r * np.cos(angles)).astype(int)
            ys = np.round(c.y + y0 + r * np.sin(angles)).astype(int)
            ring |= inked[ys, xs]
        assert ring.mean() > 0.3  # a circle is drawn
        return int((ring & ~np.roll(ring, -1)).sum())  # ink followed by ground

    assert gaps(draw([solid]), solid) == 0
    assert gaps(draw([gone]), gone) >= 5
    linked = draw([gone, moved])
    unlinked = draw([gone, Candidate(**{**vars(moved), "moved_from": None})])
    between = (slice(y0 + 296, y0 + 305), slice(310, 320))
    assert (np.abs(linked[between] - unlinked[between]).sum(axis=2) > 60).any()  # the arrow
    h, w = plain.shape[:2]
    legend = (slice(h - 100, h), slice(w - 220, w))
    assert (np.abs(linked[legend] - unlinked[legend]).sum(axis=2) > 60).any()  # its entry
