"""Rendering: footprints, flux conservation, determinism, truth on the objects, misregistration,
GeoTIFFs on the body's sphere."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from orbitscout.core.bodies import MARS, MOON, body_from_crs
from orbitscout.observe.cameras import get_camera
from orbitscout.sim.evaluate import match_radius_px
from orbitscout.sim.render import (
    Grid,
    Illumination,
    TerrainModel,
    _splat,
    _splat_box,
    render_image,
    render_item_patch,
    rock_shadows,
    simulate_pair,
    supersampling,
    write_pair,
)
from orbitscout.sim.scene import make_item, make_scene


def _grid(gsd, n=64, ox=0.0, oy=0.0):
    return Grid(n, gsd, -(n / 2 - 0.5) * gsd, (n / 2 - 0.5) * gsd, ox, oy)


@pytest.mark.parametrize("camera", ["cassis", "hirise", "ctx", "nac"])
def test_rover_footprint_matches_its_size(camera):
    cam = get_camera(camera)
    g = cam.gsd(cam.nominal_altitude_m)
    rng = np.random.default_rng(0)
    rover = make_item("rover", 0.0, 0.0, rng, cam.body)
    n = int(4 * rover.extent_m / g) + 16
    for ox, oy in ((0.0, 0.0), (0.37, -0.21), (0.5, 0.5)):
        patch = render_item_patch(rover, _grid(g, n, ox, oy), (0.0, 1.0), 0.0)
        alpha = patch[3]
        # area covered = 3 m x 2.7 m, whatever the sub-pixel position
        assert alpha.sum() * g * g == pytest.approx(3.0 * 2.7, rel=0.03)
        # and its pixel footprint matches its size: pixels with any of it ~ (size/gsd + 1)^2
        if g < 1.0:
            touched = (alpha > 0.01).sum()
            assert touched == pytest.approx((3.0 / g + 1) * (2.7 / g + 1), rel=0.35)


def test_flux_conserved_through_supersampling():
    rng = np.random.default_rng(3)
    cam = get_camera("cassis")
    g = cam.gsd(400e3)
    for kind in ("rover", "parachute", "heat_shield"):
        it = make_item(kind, 1.3, -0.7, rng, MARS)
        sums = []
        auto = supersampling(it, g)
        for s in (auto, auto + 5, 2 * auto, 48):
            _, _, fac, alpha, refl, _ = render_item_patch(it, _grid(g, 64), (1.0, 0.0), 0.0, s=s)
            sums.append((alpha.sum(), refl.sum(), (1 - fac).sum()))
        sums = np.array(sums)
        assert np.allclose(sums, sums[-1], rtol=0.03, atol=1e-3), kind
    # bilinear and box splats keep every bit of flux that lands inside the image
    img = np.zeros((40, 40))
    x, y = rng.uniform(5, 35, 200), rng.uniform(5, 35, 200)
    w = rng.uniform(0, 1, 200)
    _splat(img, x, y, w)
    assert img.sum() == pytest.approx(w.sum())
    img2 = np.zeros((40, 40))
    _splat_box(img2, x, y, rng.uniform(0.2, 4, 200), rng.uniform(0.2, 4, 200), w, disc=True)
    assert img2.sum() == pytest.approx(w.sum())


@pytest.mark.parametrize("azimuth", [0.0, 30.0, 45.0, 70.0])
def test_a_rock_shadow_is_as_dark_at_any_sun_azimuth_and_lies_down_sun(azimuth):
    # a 3-px rock under a sun 76 deg from the zenith: its shadow 6 px long, crisp at every
    # azimuth (a box around it at an oblique sun spread it thin: another azimuth alone then
    # changed how dark an unchanged rock's shadow was)
    a = math.radians(azimuth)
    sun_en = (math.sin(a), math.cos(a))
    shadow = np.zeros((64, 64))
    one = np.array([1.0])
    rock_shadows(shadow, 32 * one, 32 * one, 3 * one, 4.0, sun_en)
    assert shadow.sum() == pytest.approx(18.0)
    assert (np.clip(shadow, 0, 1) >= 0.9).sum() >= 10  # most of the 14-px ellipse, not a smear
    rows, cols = np.nonzero(shadow > 0.05)
    weights = shadow[rows, cols]
    centre = np.array([cols @ weights, rows @ weights]) / weights.sum()
    down_sun = np.array([-sun_en[0], sun_en[1]])
    # its centre half the rock and half its shadow down-sun of the rock's
    assert (centre - 32) @ down_sun == pytest.approx(4.5, abs=0.5)
    _, vecs = np.linalg.eigh(np.cov(np.vstack([cols, rows]), aweights=weights))
    assert abs(vecs[:, 1] @ down_sun) > math.cos(math.radians(8))


def test_psf_and_noise_keep_the_rover_visible_at_cassis_scale():
    pair = simulate_pair("cassis", "perseverance", seed=1, size=768)
    rover = next(it for it in pair.truth["items"] if it["class"] == "lander")
    x, y = round(rover["x"]), round(rover["y"])
    after = pair.after_radiance
    local = after[y - 1 : y + 2, x - 1 : x + 2].max()
    ring = np.concatenate(
        [after[y - 6 : y + 7, x - 6].ravel(), after[y - 6 : y + 7, x + 6].ravel()]
    )
    assert local > np.median(ring) * 1.15  # a pale speck against its darker blast zone


def test_same_seed_same_images():
    a = simulate_pair("cassis", "random", seed=5, size=192)
    b = simulate_pair("cassis", "random", seed=5, size=192)
    c = simulate_pair("cassis", "random", seed=6, size=192)
    assert np.array_equal(a.before, b.before) and np.array_equal(a.after, b.after)
    assert a.truth == b.truth
    assert not np.array_equal(a.after, c.after)
    assert a.after.dtype == np.uint16
    shift = a.truth["misregistration"]
    mag = np.hypot(shift["dx"], shift["dy"])
    assert 5 <= mag <= 45 and (shift["dx"] % 1 != 0 or shift["dy"] % 1 != 0)


@pytest.mark.parametrize(
    "camera,layout,size",
    [("cassis", "perseverance", 768), ("hirise", "random", 512), ("nac", "random", 384)],
)
def test_truth_positions_land_on_the_rendered_objects(camera, layout, size):
    cam = get_camera(camera)
    pair = simulate_pair(cam, layout, seed=2, size=size, noise=False)
    g = pair.grid.gsd
    scene = make_scene(layout, seed=2, extent_m=size * g, body=cam.body)
    terrain = TerrainModel(scene, pair.grid, 40)
    ill = Illumination(scene.incidence_deg, scene.sun_azimuth_deg)
    rng = np.random.default_rng(0)
    kw = {"noise": False}
    with_ = render_image(scene, cam, pair.grid, terrain, ill, True, rng, **kw).radiance
    without = render_image(scene, cam, pair.grid, terrain, ill, False, rng, **kw).radiance
    diff = np.abs(with_ - without)
    assert pair.truth["items"]
    for it in pair.truth["items"]:
        r = match_radius_px(it, g)
        x, y = it["x"], it["y"]
        assert it["x"] == pytest.approx(round(x), abs=0.5)  # pixel centres are integers
        big = int(np.ceil(3 * r)) + 3
        y0, x0 = max(0, round(y) - big), max(0, round(x) - big)
        win = diff[y0 : round(y) + big + 1, x0 : round(x) + big + 1].copy()
        # look only at pixels nearer this item than any other (their changes are theirs)
        yy, xx = np.mgrid[y0 : y0 + win.shape[0], x0 : x0 + win.shape[1]]
        own = np.hypot(xx - x, yy - y)
        for other in pair.truth["items"]:
            if other is not it:
                win[np.hypot(xx - other["x"], yy - other["y"]) < own] = 0
        py, px = np.unravel_index(np.argmax(win), win.shape)
        err = np.hypot(px + x0 - x, py + y0 - y)
        if it["kind"] == "dust_devil_track":
            # a long line: the change passes through its truth point
            assert diff[round(y), round(x)] > 0.3 * win.max()
        else:
            assert err <= r, (it["class"], err, r)


def test_misregistration_sign_and_size():
    """A ground point at BEFORE pixel (x, y) lies at AFTER pixel (x + dx, y + dy)."""
    from skimage.registration import phase_cross_correlation

    cam = get_camera("ctx")
    pair = simulate_pair(cam, "schiaparelli", seed=3, size=256, shift_px=(7.3, -4.6), noise=False)
    scene = make_scene("schiaparelli", seed=3, body=MARS)
    ill = Illumination(scene.incidence_deg, scene.sun_azimuth_deg)
    terrain = TerrainModel(scene, pair.grid, 40)
    rng = np.random.default_rng(0)
    g = pair.grid
    before_grid = Grid(g.n, g.gsd, g.e0, g.n0, 7.3, -4.6)
    a = render_image(scene, cam, g, terrain, ill, False, rng, noise=False).radiance
    b = render_image(scene, cam, before_grid, terrain, ill, False, rng, noise=False).radiance
    shift, _, _ = phase_cross_correlation(a, b, upsample_factor=20)
    # shift (dy, dx) moves BEFORE onto AFTER
    assert shift[1] == pytest.approx(7.3, abs=0.1) and shift[0] == pytest.approx(-4.6, abs=0.1)
    assert pair.truth["misregistration"] == {"dx": 7.3, "dy": -4.6}


@pytest.mark.parametrize("camera", ["hirise", "cassis"])
def test_frames_shifted_by_whole_pixels_agree_to_their_edges(camera):
    """Two looks at frames a whole number of pixels apart see the same ground: where they
    overlap, their radiance agrees up to the frames' last rows and columns (the PSF sees
    ground beyond the frame, as a detector's edge pixels do, not the frame reflected)."""
    cam = get_camera(camera)
    scene = make_scene("random", seed=5, body=MARS)
    g = _grid(cam.gsd(cam.nominal_altitude_m), n=96)
    terrain = TerrainModel(scene, g, 40)
    ill = Illumination(scene.incidence_deg, scene.sun_azimuth_deg)
    rng = np.random.default_rng(0)
    a = render_image(scene, cam, g, terrain, ill, True, rng, noise=False).radiance
    shifted = Grid(g.n, g.gsd, g.e0, g.n0, 7.0, -5.0)  # its pixel (x, y) is g's (x + 7, y - 5)
    b = render_image(scene, cam, shifted, terrain, ill, True, rng, noise=False).radiance
    overlap_a, overlap_b = a[:-5, 7:], b[5:, :-7]
    assert np.abs(overlap_a - overlap_b).max() <= 1e-4 * np.abs(overlap_a).max()


@pytest.mark.parametrize(
    "camera,layout,body", [("ctx", "schiaparelli", MARS), ("nac", "random", MOON)]
)
def test_geotiffs_on_the_body_sphere_and_truth_roundtrip(tmp_path, camera, layout, body):
    import rasterio
    from pyproj import Transformer

    pair = simulate_pair(camera, layout, seed=4, size=320)
    paths = write_pair(pair, tmp_path)
    truth = json.loads(paths["truth.json"].read_text())
    with rasterio.open(paths["after.tif"]) as a, rasterio.open(paths["before.tif"]) as b:
        assert a.crs is not None and body_from_crs(a.crs.to_wkt()) is body
        assert a.crs.to_dict().get("proj") == "eqc"
        assert a.res == pytest.approx((truth["gsd_m"], truth["gsd_m"]))
        assert a.transform == b.transform and a.shape == b.shape == (320, 320)
        expected = np.uint8 if camera in ("ctx", "nac") else np.uint16
        assert a.read(1).dtype == expected
        assert np.array_equal(a.read(1), pair.after)
        to_geo = Transformer.from_crs(a.crs.to_wkt(), body.crs, always_xy=True)
        for it in truth["items"]:
            px, py = a.transform @ (it["x"] + 0.5, it["y"] + 0.5)
            lon, lat = to_geo.transform(px, py)
            assert lon == pytest.approx(it["lon"], abs=1e-7)
            assert lat == pytest.approx(it["lat"], abs=1e-7)
    site = truth["site"]
    lander = next(it for it in truth["items"] if it["class"] == "lander")
    assert lander["lat"] == pytest.approx(site["lat"], abs=1e-9)
    assert truth["crs"] == body.iau_code and truth["camera"] == camera


def test_cli_simulate(tmp_path):
    from typer.testing import CliRunner

    from orbitscout.cli import app

    res = CliRunner().invoke(
        app,
        [
            "simulate",
            "--camera",
            "ctx",
            "--layout",
            "schiaparelli",
            "--size",
            "200",
            "--seed",
            "1",
            "--out",
            str(tmp_path),
        ],
    )
    assert res.exit_code == 0, res.output
    assert {"before.tif", "after.tif", "truth.json"} <= {p.name for p in tmp_path.iterdir()}
    res = CliRunner().invoke(
        app,
        ["simulate", "--camera", "nac", "--layout", "perseverance", "--out", str(tmp_path / "x")],
    )
    assert res.exit_code != 0  # NAC looks at the Moon, Perseverance is on Mars


def test_a_pair_without_its_changes_differs_only_where_they_lie():
    """``changes=False`` renders the same frame, ground and looks with nothing on the ground:
    the noise-free pairs differ near the appeared items in AFTER and the vanished ones in
    BEFORE, and nowhere far from every item."""
    kw = dict(
        camera="cassis", layout="perseverance", seed=3, size=384, noise=False,
        family="holdout", vanished=2, shift_px=(0.0, 0.0),
    )  # fmt: skip
    full = simulate_pair(**kw)
    bare = simulate_pair(**kw, changes=False)
    assert full.truth["items"] == bare.truth["items"]
    gsd = full.truth["gsd_m"]
    yy, xx = np.mgrid[0:384, 0:384]
    far = np.ones((384, 384), bool)
    for it in full.truth["items"]:
        far &= np.hypot(xx - it["x"], yy - it["y"]) > 2 * match_radius_px(it, gsd) + 8
    for image in ("after", "before"):
        diff = np.abs(getattr(full, image).astype(float) - getattr(bare, image).astype(float))
        assert diff[far].max() <= 1.0  # digitisation only
    assert far.mean() > 0.5
    for it in full.truth["items"]:
        image = "before" if it.get("change") == "vanished" else "after"
        diff = np.abs(getattr(full, image).astype(float) - getattr(bare, image).astype(float))
        near = np.hypot(xx - it["x"], yy - it["y"]) <= match_radius_px(it, gsd)
        assert diff[near].max() > 3, it["kind"]


def test_truth_shadows_lie_where_the_render_casts_them():
    """A truth item's ``shadow_px`` points down-sun of its own look (BEFORE's for a vanished
    one) as far as its cast shadow reaches: on a noise-free lunar pair under a grazing BEFORE
    sun, the ground halfway along it is darker with the item than without, and the ground as
    far up-sun, clear of the item, unchanged."""
    kw = dict(
        camera="nac", layout="random", seed=7, size=384, noise=False, family="lunar_highlands",
        vanished=2, moves=1, sun_change=(15.0, 30.0), shift_px=(0.0, 0.0),
    )  # fmt: skip
    full = simulate_pair(**kw)
    bare = simulate_pair(**kw, changes=False)
    gsd = full.truth["gsd_m"]
    long_shadows = 0
    for it in full.truth["items"]:
        dx, dy = it.get("shadow_px") or (0.0, 0.0)
        length, across = math.hypot(dx, dy), it["size_m"] / gsd
        if length < 2 * across:
            continue  # a shadow too short to be told from the object's own outline
        long_shadows += 1
        image = "before" if it.get("change") == "vanished" else "after"
        diff = getattr(full, image).astype(float) - getattr(bare, image).astype(float)

        def at(f, it=it, dx=dx, dy=dy, diff=diff):
            return diff[int(round(it["y"] + f * dy)), int(round(it["x"] + f * dx))]

        assert at(0.5) < -10, it
        assert abs(at(-0.5)) <= 1, it
    assert long_shadows >= 2


def _block_edge_ratio(image: np.ndarray) -> float:
    """Mean step across the columns that end an 8-px block over the mean step elsewhere."""
    step = np.abs(np.diff(image.astype(float), axis=1)).mean(axis=0)
    return float(step[7::8].mean() / np.delete(step, np.s_[7::8]).mean())


def test_a_noise_free_render_carries_no_compression_artefacts():
    """The holdout family's looks are block-compressed (JPEG quality 70-92): the noisy pair
    shows 8-px block edges; the noise-free one, which measures each change's own signal, has
    none (its quantisation error would count as signal)."""
    kw = dict(camera="cassis", layout="perseverance", seed=3, size=384, family="holdout")
    noisy = simulate_pair(**kw)
    clean = simulate_pair(**kw, noise=False)
    for image in ("after", "before"):
        assert noisy.truth["family"]["looks"][image]["jpeg_quality"]
        assert _block_edge_ratio(getattr(noisy, image)) > 1.3
        assert _block_edge_ratio(getattr(clean, image)) < 1.05


def _phase_residual(monkeypatch, samples: int) -> np.ndarray:
    """|AFTER - BEFORE| of a noise-free crater-saturated pair with nothing changed, BEFORE
    warped onto AFTER's grid through the true half-pixel offset (cubic)."""
    import cv2

    import orbitscout.sim.render as render

    monkeypatch.setattr(render, "CRATER_SAMPLES", samples)
    p = simulate_pair(
        "nac", "random", seed=2, size=384, family="lunar_highlands", noise=False,
        changes=False, shift_px=(10.5, 7.5), sun_change=(0.0, 0.0),
    )  # fmt: skip
    dx, dy = p.truth["misregistration"]["dx"], p.truth["misregistration"]["dy"]
    warp = np.array([[1.0, 0.0, -dx], [0.0, 1.0, -dy]])
    before = cv2.warpAffine(
        p.before.astype(np.float32), warp, p.after.shape[::-1],
        flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
    )  # fmt: skip
    return np.abs(p.after.astype(np.float32) - before)[32:-32, 32:-32]


def test_craters_are_integrated_over_pixels_so_a_phase_shift_leaves_no_rim_residual(
    monkeypatch,
):
    """Crater slopes sampled only at pixel centres alias at the rim, where the slope turns
    over, differently at each sub-pixel offset between the looks; averaged over the pixel, as a
    detector integrates, the largest residuals of unchanged craters halve."""
    point = np.percentile(_phase_residual(monkeypatch, 1), 99.9)
    integrated = np.percentile(_phase_residual(monkeypatch, 3), 99.9)
    assert integrated < 0.6 * point
