"""Chunked (tiled) and whole-image ``find`` give the same detections; spots on tile borders and
corners are found once."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from synth import make_textured_pair

from orbitscout.core.window import Window
from orbitscout.detect import candidates, photometry, regions, significance, tiles
from orbitscout.detect.parameters import DeblendParams, DetectParams
from orbitscout.pipeline import find

TILE = 256
DEFAULT = DetectParams()
# other filters and thresholds: a wider structure and matched filter (the halo grows to 92 px)
WIDE = DetectParams(
    scales=(0.0, 1.5, 3.0), structure=12.0, clutter=2.5, clutter_growth=1.0, kappa=0.8, t_low=3.5
)
# (x, y, radius px, amplitude in units of 120 DN; noise is 4 DN, texture ~70 DN) in AFTER:
# on tile corners, on tile edges, half a pixel off them, 1 px to 20 px across, bright and dark
SPOTS = [
    (256.0, 256.0, 1.5, 1.0),  # corner of four tiles
    (512.0, 512.0, 4.0, -1.0),  # corner, dark, 8 px across
    (256.0, 100.0, 0.5, 2.0),  # a single pixel on a vertical border
    (100.0, 512.0, 2.5, 1.0),  # horizontal border
    (511.5, 300.0, 1.0, -1.5),  # straddles a border between pixel columns 511 and 512
    (650.0, 256.0, 10.0, 0.6),  # 20 px across a border
    (256.0, 650.0, 6.0, -0.8),
    (400.0, 255.5, 0.7, 1.5),
    (512.0, 256.0, 0.5, -2.0),  # one dark pixel at a corner
    (255.5, 511.5, 3.0, 1.0),  # centred between the four pixels of a corner
]


@pytest.fixture(scope="module")
def border_pair(tmp_path_factory) -> tuple[Path, Path]:
    return make_textured_pair(tmp_path_factory.mktemp("chunked"), spots=SPOTS)


@pytest.fixture(scope="module")
def runs(border_pair, tmp_path_factory):
    before, after = border_pair
    out = tmp_path_factory.mktemp("chunked_out")
    return {tile: find(before, after, out / f"tile{tile}", tile=tile) for tile in (TILE, None)}


def _key(c):
    return (round(c.y, 1), round(c.x, 1))


def test_chunked_and_whole_agree(runs):
    tiled, whole = runs[TILE], runs[None]
    assert tiled.summary["detection"]["tiles"] == 9
    assert whole.summary["detection"]["tiles"] == 1
    # the same blocks, the same displacement measured in each (the pair is 768 px: 3 x 3)
    moved = tiled.summary["detection"]["displacement_px"]
    assert moved == whole.summary["detection"]["displacement_px"]
    assert moved["blocks"] == 9 and 0.0 <= moved["median"] <= moved["max"] <= 1.0
    assert len(tiled.detections) == len(whole.detections) == len(SPOTS)
    for t, w in zip(
        sorted(tiled.detections, key=_key), sorted(whole.detections, key=_key), strict=True
    ):
        assert abs(t.x - w.x) < 1e-3 and abs(t.y - w.y) < 1e-3
        assert t.area_px == w.area_px
        assert t.bbox == w.bbox
        assert t.polarity == w.polarity
        # BEFORE is resampled per window by OpenCV (float32 coordinates): values agree to
        # ~0.005 DN, significances to ~1e-4 relative
        assert t.peak_sigma == pytest.approx(w.peak_sigma, rel=1e-3)
        assert t.cls == w.cls


def test_each_border_spot_found_once(runs):
    found = runs[TILE].detections
    xy = np.array([(c.x, c.y) for c in found])
    matched = []
    for x, y, radius, amplitude in SPOTS:
        dist = np.hypot(xy[:, 0] - x, xy[:, 1] - y)
        near = np.flatnonzero(dist <= 1.0 + 0.3 * radius)
        assert near.size == 1, f"spot at ({x}, {y}) r={radius}: {near.size} detections"
        hit = found[int(near[0])]
        assert hit.polarity in (("bright", "mixed") if amplitude > 0 else ("dark", "mixed"))
        matched.append(int(near[0]))
    assert len(set(matched)) == len(SPOTS)


def test_registration_recovered(runs):
    reg = runs[TILE].registration
    assert reg.dx == pytest.approx(3.4, abs=0.05) and reg.dy == pytest.approx(-2.7, abs=0.05)


# ----------------------------------------------------------------- the tile loop on arrays


def _loop(
    resid: np.ndarray, tile: int | None, progress=None, threads=None, params=DEFAULT, before=None
) -> tiles.ChangeResult:
    """detect_changes on an AFTER array against BEFORE (default flat), unit gain."""
    height, width = resid.shape
    before = np.full_like(resid, 100.0) if before is None else before
    after = before + resid
    ny, nx = -(-height // significance.BLOCK), -(-width // significance.BLOCK)
    phot = photometry.Photometry(np.ones((ny, nx)), np.zeros((ny, nx)))

    def cut(image):
        return lambda w: image[
            w.row_off : w.row_off + int(w.height), w.col_off : w.col_off + int(w.width)
        ].copy()

    return tiles.detect_changes(
        read_after=cut(after),
        read_before=cut(before),
        phot=phot,
        width=width,
        height=height,
        tile=tile,
        progress=progress,
        threads=threads,
        params=params,
    )


def test_tile_loop_matches_whole_on_odd_sizes():
    """A 700 x 600 image (partial last tiles), a snake crossing several borders and corners."""
    rng = np.random.default_rng(3)
    resid = rng.normal(0, 1, (600, 700)).astype(np.float32)
    resid[250:262, 250:262] += 8  # a corner
    resid[100:103, 240:520] -= 6  # a long dark line across two vertical borders
    resid[300:560, 510:514] += 6  # a vertical one across a horizontal border
    resid[511, 255] += 40  # one pixel at a corner, diagonal neighbour of the next
    resid[512, 256] += 40
    done = []
    tiled = candidates.candidates(_loop(resid, 256, progress=done.append))
    whole = candidates.candidates(_loop(resid, None))
    assert sum(done) == 600 * 700  # the progress callback counts every pixel once
    assert len(tiled) == len(whole) >= 4
    for t, w in zip(sorted(tiled, key=_key), sorted(whole, key=_key), strict=True):
        assert (t.x, t.y, t.area_px) == pytest.approx((w.x, w.y, w.area_px), abs=1e-6)
        assert t.bbox == w.bbox

    def covers(c, x, y):
        return c.bbox[0] <= x <= c.bbox[2] and c.bbox[1] <= y <= c.bbox[3]

    corner = [c for c in tiled if covers(c, 255, 511) or covers(c, 256, 512)]
    assert len(corner) == 1 and covers(corner[0], 255, 511) and covers(corner[0], 256, 512)


def test_tile_loop_matches_whole_with_other_parameters():
    """Wider filters than the defaults widen the halo read around each tile: on textured
    BEFORE (whose structure enters the noise), tiled and whole runs still agree."""
    assert significance.halo(DEFAULT) == 84 > significance.HALO  # 48 + 33, on the 4-px grid
    # 56 + 35 (the 3-px filter, its gradient, the energy averaged over 2.5 + 1.0 * 3 px)
    assert significance.halo(WIDE) == 92
    rng = np.random.default_rng(5)
    shape = (600, 700)
    before = 100 + cv2.GaussianBlur(rng.normal(0, 30, shape).astype(np.float32), (0, 0), 3.0)
    resid = rng.normal(0, 1, shape).astype(np.float32)
    resid[250:262, 250:262] += 8
    resid[100:103, 240:520] -= 6
    resid[300:560, 510:514] += 6
    resid[500:504, 250:254] += 12
    tiled = candidates.candidates(_loop(resid, 256, params=WIDE, before=before), params=WIDE)
    whole = candidates.candidates(_loop(resid, None, params=WIDE, before=before), params=WIDE)
    assert len(tiled) == len(whole) >= 3
    for t, w in zip(sorted(tiled, key=_key), sorted(whole, key=_key), strict=True):
        assert (t.x, t.y, t.area_px) == pytest.approx((w.x, w.y, w.area_px), abs=1e-6)
        assert t.peak_sigma == pytest.approx(w.peak_sigma, rel=1e-6)
        assert t.bbox == w.bbox
    # and the parameters were used: the defaults find other regions
    default = candidates.candidates(_loop(resid, 256, before=before))
    assert sorted(c.bbox for c in default) != sorted(c.bbox for c in tiled)


def test_a_higher_t_high_keeps_only_the_stronger_candidates():
    rng = np.random.default_rng(6)
    resid = rng.normal(0, 1, (512, 512)).astype(np.float32)
    # peaks about 6.7, 8.6, 12.7, 20 and 24 sigma
    for k, amp in enumerate((2.0, 3.0, 4.0, 6.0, 8.0)):
        y, x = 60 + 70 * k, 60 + 65 * k
        resid[y - 2 : y + 2, x - 2 : x + 2] += amp
    strict = DetectParams(t_high=10.0)
    found = candidates.candidates(_loop(resid, 256))
    fewer = candidates.candidates(_loop(resid, 256, params=strict), params=strict)
    assert 0 < len(fewer) < len(found)
    assert all(c.peak_sigma >= 10.0 for c in fewer)
    assert {c.bbox for c in fewer} <= {c.bbox for c in found}
    assert len(found) == 5 and len(fewer) == 3
    # the score is 0 at t_high, 0.95 at twice
    assert candidates.detection_score(10.0, strict) == pytest.approx(0.0)
    assert candidates.detection_score(20.0, strict) == pytest.approx(1 - np.exp(-3))


def test_parameters_are_frozen_values_that_round_trip_through_json():
    import dataclasses
    import json

    params = DetectParams(t_high=7.0, scales=[0, 1], deblend=DeblendParams(enabled=False))
    assert params.scales == (0.0, 1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.t_high = 5.0
    record = json.loads(json.dumps(params.as_dict()))
    assert record["t_high"] == 7.0 and record["deblend"]["enabled"] is False
    assert DetectParams(**record) == params
    assert DEFAULT.saddle_sigma == 2 * DEFAULT.t_low and DEFAULT.peak_sigma == 4 * DEFAULT.t_high
    for bad in ({"t_low": 6.0}, {"scales": ()}, {"deblend": {"step": 1.0}}):
        with pytest.raises(ValueError):
            DetectParams(**{"t_high": 5.5, **bad})


def test_tile_windows_cover_the_image_once():
    cover = np.zeros((700, 1100), int)
    for w in tiles.tile_windows(1100, 700, 300):  # rounded up to 512
        assert int(w.width) <= 512 and w.col_off % significance.BLOCK == 0
        cover[w.row_off : w.row_off + int(w.height), w.col_off : w.col_off + int(w.width)] += 1
    assert (cover == 1).all()
    assert list(tiles.tile_windows(10, 20, None)) == [Window(0, 0, 10, 20)]


def test_tile_threads_do_not_change_the_result():
    rng = np.random.default_rng(4)
    resid = rng.normal(0, 1, (520, 530)).astype(np.float32)
    resid[250:262, 250:262] += 8
    resid[100:103, 40:500] -= 6
    one = _loop(resid, 256, threads=1).regions
    three = _loop(resid, 256, threads=3).regions
    assert len(one) == len(three) > 0
    for key in regions.MOMENTS:
        np.testing.assert_array_equal(one.sums[key], three.sums[key])
    np.testing.assert_array_equal(one.bbox, three.bbox)


def test_wide_blur_matches_a_full_resolution_gaussian():
    """The STRUCTURE blur, done on a 4x reduced grid, against OpenCV's full-size Gaussian on
    textured ground (any size, not a multiple of the reduction)."""
    rng = np.random.default_rng(3)
    ground = sum(
        cv2.resize(
            rng.normal(0, amp, (403 // cell + 2, 517 // cell + 2)).astype(np.float32),
            (517, 403),
            interpolation=cv2.INTER_CUBIC,
        )
        for cell, amp in ((2, 1.0), (8, 2.0), (32, 4.0))
    )
    exact = cv2.GaussianBlur(ground, (81, 81), DEFAULT.structure, borderType=cv2.BORDER_REFLECT)
    fast = significance._wide_blur(ground, DEFAULT.structure)
    inner = (slice(48, -48), slice(48, -48))
    detail = (ground - exact)[inner]
    assert fast.shape == ground.shape
    assert np.sqrt(np.mean((fast - exact)[inner] ** 2)) < 0.02 * detail.std()


def test_block_noise_per_block_and_per_pixel_agree():
    rng = np.random.default_rng(4)
    values = rng.normal(0, 1, (700, 600)).astype(np.float32) * np.repeat(
        np.repeat(rng.uniform(1, 5, (3, 3)), 256, axis=0), 256, axis=1
    )[:700, :600].astype(np.float32)
    noise = significance.block_noise(values, None, 256, origin=(-100, -30))
    # blocks start at rows -100 + 256 k and columns -30 + 256 k of this array
    rows, cols = (np.arange(700) + 100) // 256, (np.arange(600) + 30) // 256
    assert np.array_equal(noise.rows, rows) and np.array_equal(noise.cols, cols)
    expected = np.abs(values) / noise.sigmas[rows[:, None], cols[None, :]]
    assert np.allclose(significance._largest_ratio([values], [noise]), expected)
    # over scales, band by band: the largest ratio at each pixel
    other = rng.normal(0, 3, values.shape).astype(np.float32)
    other_noise = significance.block_noise(other, None, 256, origin=(-100, -30))
    expected_other = np.abs(other) / other_noise.sigmas[rows[:, None], cols[None, :]]
    both = significance._largest_ratio([values, other], [noise, other_noise])
    assert np.allclose(both, np.maximum(expected, expected_other))
    block = (slice(150, 170), slice(220, 240))
    assert np.array_equal(noise.box(block), noise.sigmas[np.ix_(rows[block[0]], cols[block[1]])])
    whole = values[156:412, 226:482][::4, ::4]
    assert noise.sigmas[1, 1] == pytest.approx(1.4826 * np.median(np.abs(whole - np.median(whole))))


def _whole_tile_significance(resid, support, level, core, origin, params=DEFAULT):
    """``significance.significance`` computed over the whole array (no boxes): the same
    unexplained variance, computed once over everything."""
    structures = [
        image - support.smoothed(image, params.structure) for image in (level, level + resid)
    ]
    ok = None if support.mask is None else support.mask[core]
    best = np.zeros(resid[core].shape, np.float32)
    strength = np.zeros_like(best)
    for sigma in params.scales:
        values = support.smoothed(resid, sigma)[core]
        noise = significance.block_noise(values, ok, significance.BLOCK, origin)
        moved = significance.block_displacement(resid, level, core, ok, origin, params.displacement)
        shift2 = np.square(moved.box((slice(None), slice(None))))
        seen = [support.smoothed(structure, sigma) for structure in structures]
        clutter = np.minimum(  # of the image that would leave less there
            *(
                significance._shading(s, support, core, sigma, params)
                + shift2 * significance._slope(s, support, core, sigma, params)
                for s in seen
            )
        )
        sig = values / np.sqrt(noise.box((slice(None), slice(None))) ** 2 + clutter)
        better = np.abs(sig) > strength
        best[better] = sig[better]
        strength[better] = np.abs(sig)[better]
    if ok is not None:
        best[~ok] = 0.0
        strength[~ok] = 0.0
    return best, strength


@pytest.mark.parametrize("params", [DEFAULT, WIDE], ids=["default", "wide"])
@pytest.mark.parametrize("masked", [False, True])
def test_significance_in_boxes_equals_the_whole_tile_on_every_region_that_counts(masked, params):
    """The clutter term is computed only in boxes (merged by side, sharing the tile's weights);
    every region that can count — seeded, or touching the core's edge — gets the values of the
    whole-tile computation, and the seeded regions are the same."""
    rng = np.random.default_rng(7)
    shape, halo = (640, 600), 40
    level = 100 + cv2.GaussianBlur(rng.normal(0, 3, shape).astype(np.float32), (0, 0), 2.0)
    resid = rng.normal(0, 1, shape).astype(np.float32) + 0.3 * (level - 100)
    for y, x, amp in ((200, 200, 9.0), (300, 420, -7.0), (45, 300, 8.0), (600, 100, 6.0)):
        resid[y - 3 : y + 3, x - 3 : x + 3] += amp
    resid[100:400, 500] += 5.0  # a line running off the core's right edge
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    bump = 60 * np.exp(-((yy - 480) ** 2 + (xx - 250) ** 2) / 8.0).astype(np.float32)
    level += bump  # relief that another sun shades 30 % deeper: shading alone holds it back
    resid += 0.3 * bump
    mask = None
    if masked:
        mask = np.ones(shape, bool)
        mask[:120, :90] = False  # a no-data corner
        resid[~mask] = 0.0
        level[~mask] = 0.0
    core = (slice(halo, shape[0] - halo), slice(halo, shape[1] - halo))
    origin = (-halo, -halo)
    best, strength, _, _, _ = significance.significance(
        resid, significance.Support(mask), level, core, origin, params
    )
    ref_best, ref_strength = _whole_tile_significance(
        resid, significance.Support(mask), level, core, origin, params
    )
    count, labels = cv2.connectedComponents(
        (ref_strength >= params.t_low).view(np.uint8), connectivity=8
    )
    seeded = np.unique(labels[ref_strength >= params.t_high])
    edges = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    counted = np.isin(labels, np.setdiff1d(np.union1d(seeded, edges), [0]))
    assert counted.sum() > 100 and len(seeded) > 4
    np.testing.assert_allclose(best[counted], ref_best[counted], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(strength[counted], ref_strength[counted], rtol=1e-5, atol=1e-5)
    assert ((strength >= params.t_high) == (ref_strength >= params.t_high)).all()


@pytest.mark.parametrize("masked", [False, True])
def test_local_structure_over_crops_equals_the_whole_array(masked):
    """The BEFORE image's structure is blurred only around the crops asked for (or once over
    the whole array when they cover most of it): the same values as over the whole array."""
    rng = np.random.default_rng(3)
    shape = (700, 650)
    level = 100 + cv2.GaussianBlur(rng.normal(0, 20, shape).astype(np.float32), (0, 0), 3.0)
    mask = None
    if masked:
        mask = np.ones(shape, bool)
        mask[500:, :200] = False
        level[~mask] = 0.0
    support = significance.Support(mask)
    whole = level - significance.Support(mask).smoothed(level, DEFAULT.structure)
    small = [(0, 30, 0, 650), (101, 151, 203, 259), (480, 530, 170, 230), (650, 700, 600, 650)]
    large = [(0, 700, 0, 400), (0, 350, 300, 650)]
    for crops in (small, large):
        parts = significance._local_structure(level, support, crops)
        for (y0, y1, x0, x1), part in zip(crops, parts, strict=True):
            np.testing.assert_allclose(part, whole[y0:y1, x0:x1], rtol=0, atol=1e-4)
