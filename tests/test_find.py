"""The find pipeline end to end on synthetic pairs with known truth, and on real data."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import rasterio
from synth import Spot, Track, make_pair

from orbitscout.detect.parameters import DetectParams
from orbitscout.pipeline import find

SPOTS = [
    Spot(100, 120, 0.5, 1.5),  # about one pixel, bright (a rover seen by CaSSIS)
    Spot(300, 90, 1.0, -0.6),  # small and dark
    Spot(420, 200, 3.0, 0.8),  # on a slope whose shading the sun change alters by ~16%
    Spot(150, 380, 8.0, -0.35),  # dark patch
    Spot(330, 400, 25.0, -0.25),  # a blast zone, 50 px across
]


def _found(result, spot: Spot, tolerance: float | None = None):
    tol = tolerance if tolerance is not None else max(1.5, 0.3 * spot.radius)
    near = [d for d in result.detections if np.hypot(d.x - spot.x, d.y - spot.y) <= tol]
    return near


@pytest.mark.parametrize("shift", [(7.3, -4.6), (-23.75, 31.2)])
def test_registration_error_under_a_fifth_of_a_pixel(tmp_path, shift):
    before, after = make_pair(tmp_path, shift=shift, spots=SPOTS, nodata_border=20)
    result = find(before, after, tmp_path / "out")
    reg = result.registration
    assert abs(reg.dx - shift[0]) <= 0.2 and abs(reg.dy - shift[1]) <= 0.2
    assert abs(reg.rotation_deg) < 0.05


def test_registration_survives_a_large_shift_and_a_different_sun(tmp_path):
    shift = (-61.4, 48.8)
    before, after = make_pair(
        tmp_path,
        size=768,
        shift=shift,
        sun_before=(60, 60),
        sun_after=(40, 120),
        gain=0.7,
        offset=-50,
    )
    reg = find(before, after, tmp_path / "out").registration
    assert abs(reg.dx - shift[0]) <= 0.2 and abs(reg.dy - shift[1]) <= 0.2


def test_every_planted_spot_is_found_where_it_was_put(tmp_path):
    before, after = make_pair(tmp_path, spots=SPOTS, nodata_border=12)
    result = find(before, after, tmp_path / "out")
    for spot in SPOTS:
        near = _found(result, spot)
        assert len(near) == 1, f"{spot} found {len(near)} times"
        polarity = near[0].polarity
        assert polarity in ("bright" if spot.amplitude > 0 else "dark", "mixed")
    # each detection is measured in metres (1 m pixels)
    blast = _found(result, SPOTS[-1])[0]
    assert 0.5 * np.pi * 25**2 < blast.area_m2 < 1.6 * np.pi * 25**2
    assert 35 < blast.length_m < 80


def test_untouched_ground_gives_almost_nothing(tmp_path):
    before, after = make_pair(tmp_path, spots=[], seed=5, nodata_border=16)
    result = find(before, after, tmp_path / "out")
    assert len(result.detections) <= 1


def test_bright_core_inside_dark_halo_is_one_candidate(tmp_path):
    spots = [Spot(250, 250, 10.0, -0.4), Spot(250, 250, 2.0, 2.5)]
    before, after = make_pair(tmp_path, spots=spots)
    result = find(before, after, tmp_path / "out")
    near = _found(result, spots[0], tolerance=8)
    assert len(near) == 1
    both = near[0]
    assert both.bright_xy is not None and both.dark_xy is not None
    assert 0.02 < both.bright_fraction < 0.5  # the dark scar outweighs the bright core
    assert np.hypot(both.bright_xy[0] - 250, both.bright_xy[1] - 250) < 1.5


@pytest.mark.parametrize("driver", ["GTiff", "ISIS3", "PDS4"])
def test_each_format_gdal_writes_gives_the_same_answer(tmp_path, driver):
    before, after = make_pair(tmp_path, spots=SPOTS[:3], driver=driver)
    result = find(before, after, tmp_path / "out")
    assert result.summary["body"] == "mars"
    for spot in SPOTS[:3]:
        assert len(_found(result, spot)) == 1, driver
    # lon/lat come from the product's own map projection
    d = _found(result, SPOTS[0])[0]
    assert d.lat == pytest.approx(
        18.4447 + (256 - 0.5 - SPOTS[0].y) / 3396190 * 180 / np.pi, abs=2e-5
    )


def test_outputs_follow_the_design_contract(tmp_path):
    before, after = make_pair(tmp_path, spots=SPOTS)
    out = tmp_path / "out"
    result = find(before, after, out)
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "detections.geojson",
        "detections.gpkg",
        "overview.png",
        "report",  # the viewer's folder: tiles, chips, data and the vendored map library
        "report.html",
        "summary.json",
    ]
    collection = json.loads((out / "detections.geojson").read_text())
    assert collection["body"] == "mars"
    assert collection["crs"]["properties"]["name"] == "IAU_2015:49900"
    props = collection["features"][0]["properties"]
    for key in ("id", "class", "score", "x", "y", "polarity", "area_m2", "length_m", "contrast"):
        assert key in props
    assert len(collection["features"]) == len(result.detections)
    summary = json.loads((out / "summary.json").read_text())
    for key in ("dx", "dy", "rotation_deg", "residual_px"):
        assert key in summary["registration"]
    assert sum(summary["counts"].values()) == len(result.detections)

    import geopandas as gpd
    from pyproj import CRS

    frame = gpd.read_file(out / "detections.gpkg")
    assert len(frame) == len(result.detections)
    with rasterio.open(after) as ds:
        assert CRS(frame.crs).equals(CRS(ds.crs.to_wkt()), ignore_axis_order=True)
        x, y = ds.transform @ (result.detections[0].x + 0.5, result.detections[0].y + 0.5)
    assert frame.geometry.iloc[0].x == pytest.approx(x)
    assert (out / "overview.png").read_bytes()[:4] == b"\x89PNG"
    assert "Registration" in (out / "report.html").read_text()


def _write_image(path, data: np.ndarray, driver: str):
    """``data`` as a one-band image without georeferencing; returns ``path``."""
    with rasterio.open(
        path,
        "w",
        driver=driver,
        width=data.shape[1],
        height=data.shape[0],
        count=1,
        dtype=data.dtype,
    ) as ds:
        ds.write(data, 1)
    return path


def test_plain_images_without_crs(tmp_path):
    before, after = make_pair(tmp_path, spots=SPOTS[:3])
    plain = []
    for path in (before, after):
        with rasterio.open(path) as ds:
            data = ds.read(1)
        plain.append(_write_image(path.with_suffix(".png"), data, "PNG"))
    result = find(*plain, tmp_path / "out", gsd_m=1.0)
    for spot in SPOTS[:3]:
        assert len(_found(result, spot)) == 1
    collection = json.loads((tmp_path / "out" / "detections.geojson").read_text())
    assert all(f["geometry"] is None for f in collection["features"])
    assert collection["features"][0]["properties"]["area_m2"] is not None


def test_real_hirise_crop_rover_found(tmp_path, shared_data):
    """The real HiRISE crop of Perseverance: before = the same ground with the rover painted
    out by neighbouring ground, shifted and re-noised; the rover must be found where it is."""
    from scipy import ndimage as ndi

    jpeg = shared_data / "real" / "ESP_068360_1985_perseverance_rover_crop.jpg"
    with rasterio.open(jpeg) as ds:
        after = ds.read(3).astype(np.float32)  # the blue band: the rover is saturated in it
    before = after.copy()
    x, y, half = 1042, 480, 14
    before[y - half : y + half, x - half : x + half] = after[
        y - half : y + half, x - half - 60 : x + half - 60
    ]
    before = ndi.shift(before, (2.4, -3.7), order=3, mode="nearest")
    before += np.random.default_rng(0).normal(0, 2.0, before.shape)
    paths = []
    for name, image in (("before", before), ("after", after)):
        paths.append(_write_image(tmp_path / f"{name}.tif", image.astype(np.float32), "GTiff"))
    result = find(paths[0], paths[1], tmp_path / "out", gsd_m=0.25)
    reg = result.registration
    assert abs(reg.dx - 3.7) <= 0.2 and abs(reg.dy + 2.4) <= 0.2
    best = result.detections[0]
    assert np.hypot(best.x - x, best.y - y) <= 6
    assert best.cls == "lander"  # with no hint


# --------------------------------------------------------------------------- bad input


def _run_cli(monkeypatch, capsys, *args) -> tuple[int, str]:
    from orbitscout import cli

    monkeypatch.setattr(sys, "argv", ["orbitscout", *map(str, args)])
    try:
        cli.main()
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().err


def _assert_clean_failure(code, err, out, name):
    assert code != 0
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert name in err
    assert not out.exists() or not any(out.iterdir())


def test_missing_file(tmp_path, monkeypatch, capsys):
    before, after = make_pair(tmp_path, size=128)
    out = tmp_path / "out"
    code, err = _run_cli(monkeypatch, capsys, "find", tmp_path / "nope.tif", after, "--out", out)
    _assert_clean_failure(code, err, out, "nope.tif")


def test_corrupt_file(tmp_path, monkeypatch, capsys):
    before, after = make_pair(tmp_path, size=128)
    bad = tmp_path / "bad.tif"
    bad.write_bytes(before.read_bytes()[:300])
    out = tmp_path / "out"
    code, err = _run_cli(monkeypatch, capsys, "find", bad, after, "--out", out)
    _assert_clean_failure(code, err, out, "bad.tif")


def test_images_that_do_not_overlap(tmp_path, monkeypatch, capsys):
    before, after = make_pair(tmp_path, size=128)
    far = tmp_path / "far.tif"
    with rasterio.open(before) as src:
        profile = src.profile
        profile["transform"] = rasterio.Affine.translation(50_000, 0) * src.transform
        with rasterio.open(far, "w", **profile) as dst:
            dst.write(src.read())
    out = tmp_path / "out"
    code, err = _run_cli(monkeypatch, capsys, "find", far, after, "--out", out)
    _assert_clean_failure(code, err, out, "far.tif")
    assert "overlap" in err


def test_images_of_different_bodies(tmp_path, monkeypatch, capsys):
    from orbitscout.core.bodies import MOON

    (tmp_path / "m").mkdir()
    moon_before, _ = make_pair(tmp_path / "m", size=128, body=MOON, site=(0.0, 23.47))
    _, after = make_pair(tmp_path, size=128)
    out = tmp_path / "out"
    code, err = _run_cli(monkeypatch, capsys, "find", moon_before, after, "--out", out)
    _assert_clean_failure(code, err, out, "before.tif")
    assert "Moon" in err and "Mars" in err


def test_all_nodata_image(tmp_path, monkeypatch, capsys):
    before, after = make_pair(tmp_path, size=128)
    empty = tmp_path / "empty.tif"
    with rasterio.open(after) as src:
        profile = src.profile
        with rasterio.open(empty, "w", **profile) as dst:
            dst.write(np.zeros((1, 128, 128), dtype=profile["dtype"]))
    out = tmp_path / "out"
    code, err = _run_cli(monkeypatch, capsys, "find", before, empty, "--out", out)
    _assert_clean_failure(code, err, out, "empty.tif")
    assert "no-data" in err


def test_multiband_image_needs_a_band(tmp_path, monkeypatch, capsys):
    before, after = make_pair(tmp_path, size=128)
    rgb = tmp_path / "rgb.tif"
    with rasterio.open(after) as src:
        profile = src.profile | {"count": 3}
        with rasterio.open(rgb, "w", **profile) as dst:
            dst.write(np.repeat(src.read(), 3, axis=0))
    out = tmp_path / "out"
    code, err = _run_cli(monkeypatch, capsys, "find", before, rgb, "--out", out)
    _assert_clean_failure(code, err, out, "rgb.tif")
    assert "--band" in err


def test_output_folder_that_is_a_file(tmp_path, monkeypatch, capsys):
    before, after = make_pair(tmp_path, size=128)
    out = tmp_path / "out.txt"
    out.write_text("keep me")
    code, err = _run_cli(monkeypatch, capsys, "find", before, after, "--out", out)
    assert code != 0 and "out.txt" in err and len(err.strip().splitlines()) == 1
    assert out.read_text() == "keep me"


def test_cli_find_writes_outputs(tmp_path, monkeypatch, capsys):
    before, after = make_pair(tmp_path, size=256, spots=[Spot(128, 128, 2.0, 1.0)])
    out = tmp_path / "out"
    code, err = _run_cli(monkeypatch, capsys, "find", before, after, "--out", out)
    assert code == 0, err
    assert (out / "summary.json").exists()


def _regrid(src_path, dst_path, crs=None, scale: float = 1.0, offset=(0.0, 0.0)):
    """Write ``src_path`` again on another grid (pixel size x ``scale``, origin moved by
    ``offset`` metres, optionally another CRS) with GDAL's warper."""
    from rasterio.warp import Resampling, calculate_default_transform, reproject

    with rasterio.open(src_path) as src:
        dst_crs = crs or src.crs
        transform, width, height = calculate_default_transform(
            src.crs,
            dst_crs,
            src.width,
            src.height,
            *src.bounds,
            resolution=None if crs else src.res[0] * scale,
        )
        transform = rasterio.Affine.translation(*offset) * transform
        profile = src.profile | {
            "crs": dst_crs,
            "transform": transform,
            "width": width,
            "height": height,
            "dtype": "float32",
            "nodata": -1.0,
        }
        with rasterio.open(dst_path, "w", **profile) as dst:
            reproject(
                rasterio.band(src, 1),
                rasterio.band(dst, 1),
                dst_nodata=-1.0,
                resampling=Resampling.cubic if scale <= 1 else Resampling.average,
            )


def test_before_on_another_grid_is_brought_onto_the_after_grid(tmp_path):
    shift = (6.4, -3.2)
    before, after = make_pair(tmp_path, spots=SPOTS[2:], shift=shift)
    coarse = tmp_path / "before_coarse.tif"
    _regrid(before, coarse, scale=1.5, offset=(-20.0, 35.0))  # other pixel size and extent
    result = find(coarse, after, tmp_path / "out")
    reg = result.registration
    # the grids are georeferenced alike, so only the true shift remains
    assert abs(reg.dx - shift[0]) <= 0.3 and abs(reg.dy - shift[1]) <= 0.3
    for spot in SPOTS[2:]:
        assert len(_found(result, spot)) == 1


def test_before_in_another_crs_is_warped_onto_the_after_grid(tmp_path):
    shift = (-5.5, 4.25)
    before, after = make_pair(tmp_path, spots=SPOTS[2:], shift=shift)
    other = tmp_path / "before_49910.tif"
    _regrid(before, other, crs="IAU_2015:49910")
    result = find(other, after, tmp_path / "out")
    reg = result.registration
    assert abs(reg.dx - shift[0]) <= 0.3 and abs(reg.dy - shift[1]) <= 0.3
    for spot in SPOTS[2:]:
        assert len(_found(result, spot)) == 1


def test_rotation_is_recovered(tmp_path):
    """BEFORE rotated by 0.3 degrees about the image centre: q = R(p - c) + c."""
    from scipy import ndimage as ndi

    before, after = make_pair(tmp_path, size=768, shift=(0.0, 0.0))
    with rasterio.open(before) as src:
        image, profile = src.read(1).astype(float), src.profile
    theta = np.radians(0.3)
    cos, sin = np.cos(theta), np.sin(theta)
    rot_rc = np.array([[cos, sin], [-sin, cos]])  # (row, col) form of R
    centre = np.array([383.5, 383.5])
    rotated = ndi.affine_transform(
        image, rot_rc, offset=centre - rot_rc @ centre, order=3, mode="nearest"
    )
    path = tmp_path / "rotated.tif"
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.clip(rotated, 1, 65535).astype("uint16"), 1)
    reg = find(path, after, tmp_path / "out").registration
    assert reg.rotation_deg == pytest.approx(0.3, abs=0.01)
    assert abs(reg.dx) <= 0.2 and abs(reg.dy) <= 0.2


def test_dust_devil_tracks_do_not_drown_the_rest(tmp_path):
    """Two long, thin, dark, curving tracks across the scene: each is at most a couple of
    candidates, marked linear, and every spot is still found once."""
    tracks = [
        Track([(10, 470), (120, 400), (260, 380), (380, 300), (500, 260)], 2.0, -0.3),
        Track([(40, 20), (90, 140), (200, 250), (230, 500)], 1.5, -0.25),
    ]
    spots = [Spot(100, 120, 0.5, 1.5), Spot(420, 200, 3.0, 0.8), Spot(330, 400, 12.0, -0.3)]
    before, after = make_pair(tmp_path, spots=spots, tracks=tracks)
    result = find(before, after, tmp_path / "out")
    for spot in spots:
        assert len(_found(result, spot)) == 1
    others = [d for d in result.detections if not any(_found_one(d, s) for s in spots)]
    assert 1 <= len(others) <= 2 * len(tracks)
    # every other detection is a piece of a track: on one, dark, and linear unless it is
    # too short for a direction (a few pixels over the threshold)
    assert all(min(_track_distance(d, t) for t in tracks) <= 3 for d in others)
    assert all(d.polarity == "dark" for d in others)
    assert all(d.linear for d in others if d.length_px >= 2 * DetectParams().thin_length_px)
    assert max(d.length_px for d in others) > 80


def _track_distance(d, track: Track) -> float:
    """Distance (px) of a detection's centre from a track's polyline."""
    p = np.array([d.x, d.y])
    best = np.inf
    for a, b in zip(track.points[:-1], track.points[1:], strict=True):
        a, b = np.asarray(a, float), np.asarray(b, float)
        t = np.clip(np.dot(p - a, b - a) / np.dot(b - a, b - a), 0.0, 1.0)
        best = min(best, float(np.hypot(*(p - a - t * (b - a)))))
    return best


def test_a_track_broken_by_gaps_is_one_candidate(tmp_path):
    """A bending track drawn in four pieces with gaps of 10-24 px between them (where a faint
    track falls under the threshold) is one candidate; a track crossing its path's line
    beyond its end is not part of it."""
    path = [(40, 300), (130, 270), (150, 263), (260, 240), (284, 236), (380, 230), (390, 229)]
    pieces = [path[0:2], path[2:4], path[4:6], path[6:] + [(470, 222)]]
    tracks = [Track(p, 2.0, -0.5) for p in pieces]
    tracks.append(Track([(250, 330), (330, 430)], 2.0, -0.5))
    before, after = make_pair(tmp_path, size=512, tracks=tracks, seed=3)
    found = find(before, after, tmp_path / "out").detections
    on_path = [d for d in found if 215 <= d.y <= 305 and d.bbox[3] < 320]
    assert len(on_path) == 1 and on_path[0].linear
    assert on_path[0].bbox[0] < 60 and on_path[0].bbox[2] > 450
    crossing = [d for d in found if d.bbox[1] >= 320]
    assert len(crossing) == 1 and crossing[0].linear


def _found_one(d, spot: Spot) -> bool:
    return np.hypot(d.x - spot.x, d.y - spot.y) <= max(1.5, 0.3 * spot.radius)


def test_unknown_mission_fails_before_any_work(tmp_path, monkeypatch, capsys):
    before, after = make_pair(tmp_path, size=128)
    out = tmp_path / "out"
    code, err = _run_cli(
        monkeypatch, capsys, "find", before, after, "--out", out, "--mission", "voyager"
    )
    _assert_clean_failure(code, err, out, "voyager")


@pytest.mark.parametrize("seed", [6, 7])
def test_small_simulated_hirise_frame_registered(tmp_path, seed):
    """A 1024-px HiRISE frame under another sun: at 1/8 (128 px) the coarse search of seed 6
    locked onto a false peak 80 px away; registration must land within half a pixel."""
    from orbitscout.sim.render import simulate_pair, write_pair

    pair = simulate_pair("hirise", "random", seed=seed, size=1024)
    paths = write_pair(pair, tmp_path)
    result = find(paths["before.tif"], paths["after.tif"], tmp_path / "out")
    truth = pair.truth["misregistration"]
    error = np.hypot(result.registration.dx - truth["dx"], result.registration.dy - truth["dy"])
    assert error <= 0.5


def test_detection_parameters_are_passed_in_and_recorded(tmp_path):
    """A higher t_high keeps only the changes that reach it (the planted spots peak at about
    6, 7, 8, 9 and 20 sigma), and summary.json says which parameters each run used."""
    from orbitscout.detect.parameters import DetectParams

    before, after = make_pair(tmp_path, spots=SPOTS)
    default = find(before, after, tmp_path / "default")
    strict = find(before, after, tmp_path / "strict", detect=DetectParams(t_high=12.0))
    assert len(default.detections) == len(SPOTS)
    assert len(strict.detections) == 1 and len(_found(strict, SPOTS[0])) == 1
    assert strict.detections[0].peak_sigma >= 12.0
    for run, t_high in ((default, 5.5), (strict, 12.0)):
        summary = json.loads((run.out_dir / "summary.json").read_text())
        record = summary["parameters"]["detect"]
        assert record["t_high"] == summary["detection"]["t_high_sigma"] == t_high
        assert DetectParams(**record) == DetectParams(t_high=t_high)


# --------------------------------------------------------------------------- hints and scale


def _plain_pair(tmp_path, spots):
    before, after = make_pair(tmp_path, spots=spots)
    plain = []
    for path in (before, after):
        with rasterio.open(path) as ds:
            data = ds.read(1)
        plain.append(_write_image(path.with_suffix(".png"), data, "PNG"))
    return plain


def test_no_scale_names_no_hardware(tmp_path, monkeypatch, capsys):
    """A PNG pair with no --gsd: changes found, no hardware class, one warning line, and
    summary.json says why (the old code named parachutes and landers from shapes alone)."""
    from orbitscout.core.classes import NATURAL

    before, after = _plain_pair(tmp_path, SPOTS)
    out = tmp_path / "out"
    code, err = _run_cli(monkeypatch, capsys, "find", before, after, "--out", out)
    assert code == 0, err
    collection = json.loads((out / "detections.geojson").read_text())
    assert len(collection["features"]) >= 4  # changes are still found
    assert {f["properties"]["class"] for f in collection["features"]} <= set(NATURAL)
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("orbitscout: warning: "), err
    assert "--gsd" in lines[0] and "no hardware class" in lines[0]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scale"] is None
    assert summary["identification"] == "no hardware classes without a pixel size"
    # with a scale, hardware can be named again, and no warning
    scaled = find(before, after, tmp_path / "scaled", gsd_m=0.25)
    assert scaled.summary["scale"] == {"gsd_m": 0.25, "from": "--gsd"}
    assert "identification" not in scaled.summary


def test_site_outside_the_image_is_warned_about_and_recorded(tmp_path, monkeypatch, capsys):
    """Latitude and longitude swapped: one warning line, the hint not used, and summary.json
    records it; a site on the image is recorded as in it, with no warning."""
    before, after = make_pair(tmp_path, size=256, spots=[Spot(128, 128, 2.0, 1.0)])
    out = tmp_path / "out"
    code, err = _run_cli(
        monkeypatch, capsys, "find", before, after, "--out", out, "--site", "77.4508,18.4447"
    )
    assert code == 0, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("orbitscout: warning: --site: "), err
    assert "outside the AFTER image" in lines[0]
    hints = json.loads((out / "summary.json").read_text())["hints"]
    assert hints["site"] == pytest.approx([77.4508, 18.4447])
    assert hints["site_in_image"] is False and "outside" in hints["site_warning"]
    on = tmp_path / "on"
    code, err = _run_cli(
        monkeypatch, capsys, "find", before, after, "--out", on, "--site", "18.4447,77.4508"
    )
    assert code == 0 and err == "", err
    hints = json.loads((on / "summary.json").read_text())["hints"]
    assert hints["site_in_image"] is True and hints["site_warning"] is None


def test_one_band_per_image(tmp_path, monkeypatch, capsys):
    """--band 2,1: band 2 of a three-band BEFORE, band 1 of AFTER; find(band=(2, 1)) alike."""
    before, after = make_pair(tmp_path, size=256, spots=[Spot(128, 128, 2.0, 1.0)])
    rgb = tmp_path / "rgb.tif"
    with rasterio.open(before) as src:
        profile = src.profile | {"count": 3}
        data = src.read(1)
    with rasterio.open(rgb, "w", **profile) as dst:
        dst.write(np.stack([np.full_like(data, 7), data, np.full_like(data, 9)]))
    result = find(rgb, after, tmp_path / "lib", band=(2, 1))
    assert any(np.hypot(d.x - 128, d.y - 128) < 3 for d in result.detections)
    out = tmp_path / "cli"
    code, err = _run_cli(monkeypatch, capsys, "find", rgb, after, "--out", out, "--band", "2,1")
    assert code == 0, err
    assert json.loads((out / "summary.json").read_text())["detections"] == len(result.detections)
    code, err = _run_cli(monkeypatch, capsys, "find", rgb, after, "--out", out, "--band", "2")
    assert code == 2 and "after.tif: has no band 2" in err
