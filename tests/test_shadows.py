"""Cast shadows moved by another sun are shading, not change (``detect/shadows.py``): boulders
on textured ground, their shadows ray-traced on a height map under two suns."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage as ndi

from orbitscout.core.illumination import Sun
from orbitscout.detect.parameters import DetectParams
from orbitscout.detect.shadows import is_shadow_change, object_under_shadow
from orbitscout.pipeline import find
from orbitscout.sim.evaluate import match_radius_px

SIZE = 80
ROCK = (40.0, 40.0, 4.0)  # x, y, radius (px); a hemisphere


def _heights(rock=ROCK) -> np.ndarray:
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(float)
    h = np.zeros((SIZE, SIZE))
    if rock is not None:
        x, y, r = rock
        h = np.sqrt(np.clip(r * r - (xx - x) ** 2 - (yy - y) ** 2, 0.0, None))
    return h


def _render(heights, albedo, incidence, azimuth, rng) -> np.ndarray:
    """Lambert shading with cast shadows (a ray toward the sun meets higher ground), plus a
    little noise; azimuth clockwise from the image's top."""
    gy, gx = np.gradient(heights)
    az, inc = math.radians(azimuth), math.radians(incidence)
    sun = np.array([math.sin(az) * math.sin(inc), -math.cos(az) * math.sin(inc), math.cos(inc)])
    normal = np.stack([-gx, -gy, np.ones_like(gx)])
    normal /= np.linalg.norm(normal, axis=0)
    light = np.clip(np.tensordot(sun, normal, axes=1), 0.0, None)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(float)
    lit = np.ones_like(heights, bool)
    rise = 1.0 / math.tan(inc)  # height gained per px toward the sun
    for t in np.arange(0.5, 30.0, 0.5):
        ahead = ndi.map_coordinates(
            heights, [yy - t * math.cos(az), xx + t * math.sin(az)], order=1, mode="nearest"
        )
        lit &= ahead <= heights + t * rise
    image = albedo * (0.15 + light * lit)
    return image + rng.normal(0.0, 0.004, image.shape)


def _ground(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 0.25 * (1.0 + 0.08 * ndi.gaussian_filter(rng.normal(size=(SIZE, SIZE)), 2.0) * 3)


def _inside() -> np.ndarray:
    inside = np.zeros((SIZE, SIZE), bool)
    inside[24:57, 24:57] = True
    return inside


SUN_BEFORE, SUN_AFTER = (52.0, 90.0), (37.0, 120.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_boulders_shadow_under_another_sun_is_shading(seed):
    rng = np.random.default_rng(seed)
    albedo, h = _ground(seed), _heights()
    before = _render(h, albedo, *SUN_BEFORE, rng)
    after = _render(h, albedo, *SUN_AFTER, rng)
    assert np.abs(after - before)[_inside()].max() > 0.1  # a strong change, to be explained
    assert is_shadow_change(after, before, _inside())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_boulder_gone_or_new_is_a_change(seed):
    rng = np.random.default_rng(seed)
    albedo = _ground(seed)
    with_rock = _render(_heights(), albedo, *SUN_BEFORE, rng)
    without = _render(_heights(None), albedo, *SUN_AFTER, rng)
    assert not is_shadow_change(without, with_rock, _inside())  # vanished
    with_rock = _render(_heights(), albedo, *SUN_AFTER, rng)
    without = _render(_heights(None), albedo, *SUN_BEFORE, rng)
    assert not is_shadow_change(with_rock, without, _inside())  # appeared


def test_a_dark_patch_that_darkened_is_a_change():
    """Same footprint in both images, only darker: the ground changed, not the light."""
    rng = np.random.default_rng(4)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    patch = np.hypot(xx - 40, yy - 40) <= 6
    flat = _heights(None)
    albedo = _ground(4)
    before = _render(flat, np.where(patch, 0.6 * albedo, albedo), *SUN_BEFORE, rng)
    after = _render(flat, np.where(patch, 0.3 * albedo, albedo), *SUN_AFTER, rng)
    assert not is_shadow_change(after, before, _inside())


def test_the_test_can_be_strict_about_overlap():
    """``shadow_overlap`` 0: no two shadows are different enough; nothing is shading."""
    rng = np.random.default_rng(0)
    albedo, h = _ground(0), _heights()
    before = _render(h, albedo, *SUN_BEFORE, rng)
    after = _render(h, albedo, *SUN_AFTER, rng)
    strict = DetectParams(shadow_overlap_min=0.0, shadow_overlap=0.0)
    assert not is_shadow_change(after, before, _inside(), strict)


@pytest.mark.parametrize("order", ["lower sun after", "lower sun before"])
def test_a_small_rocks_shallow_shadow_is_shading_when_the_suns_are_known(order):
    """A rock 3 px across, blurred by the PSF: under the higher sun its shadow is 10-20 % dark,
    too shallow for the test on depth alone. Given the suns, its length and direction make it
    a shadow in most scenes; not with the suns on the wrong side, and a rock gone or new under
    the same suns stays a change."""
    suns = [(30.0, 90.0), (55.0, 120.0)]  # (incidence, azimuth)
    if order == "lower sun before":
        suns.reverse()
    (inc_b, az_b), (inc_a, az_a) = suns
    known = (Sun(az_b, inc_b), Sun(az_a, inc_a))
    opposite = (Sun(az_b + 180.0, inc_b), Sun(az_a + 180.0, inc_a))
    blind = with_suns = wrong_side = gone_or_new = 0
    for seed in range(8):
        rng = np.random.default_rng(seed)
        albedo, rock, flat = _ground(seed), _heights((40.0, 40.0, 1.5)), _heights(None)
        before = ndi.gaussian_filter(_render(rock, albedo, inc_b, az_b, rng), 1.2)
        after = ndi.gaussian_filter(_render(rock, albedo, inc_a, az_a, rng), 1.2)
        blind += is_shadow_change(after, before, _inside())
        with_suns += is_shadow_change(after, before, _inside(), suns=known)
        wrong_side += is_shadow_change(after, before, _inside(), suns=opposite)
        bare_b = ndi.gaussian_filter(_render(flat, albedo, inc_b, az_b, rng), 1.2)
        bare_a = ndi.gaussian_filter(_render(flat, albedo, inc_a, az_a, rng), 1.2)
        gone_or_new += is_shadow_change(after, bare_b, _inside(), suns=known)
        gone_or_new += is_shadow_change(bare_a, before, _inside(), suns=known)
    assert blind == 0  # the depth test alone does not see these shadows
    assert with_suns >= 5
    assert wrong_side == 0 and gone_or_new == 0


LOW_SUN, HIGH_SUN = (70.0, 120.0), (55.0, 150.0)  # (incidence, azimuth)
SUNS = (Sun(LOW_SUN[1], LOW_SUN[0]), Sun(HIGH_SUN[1], HIGH_SUN[0]))


def _on_after(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """BEFORE on AFTER's photometry (a gain, as ``find``'s photometry gives it)."""
    return before * np.median(after) / np.median(before)


def _centroid_of_change(after: np.ndarray, before: np.ndarray) -> np.ndarray:
    """(column, row) of the change's energy centroid within the candidate's box."""
    energy = np.where(_inside(), (after - before) ** 2, 0.0)
    rows, cols = np.mgrid[0:SIZE, 0:SIZE]
    return np.array([(cols * energy).sum(), (rows * energy).sum()]) / energy.sum()


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("change", ["vanished", "appeared"])
def test_an_object_is_placed_at_the_foot_of_its_shadow(change, seed):
    """A dark block 8 px across and 6 px high under a sun 70 deg from the zenith casts a
    shadow 16 px long: the change's centroid lies on the shadow, the object stands where the
    shadow starts (within its own radius of there: a block in its own shadow from about its
    middle on, darker than the ground on its lit side)."""
    rng = np.random.default_rng(seed)
    albedo = _ground(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    rock = np.hypot(xx - ROCK[0], yy - ROCK[1]) <= ROCK[2]
    with_rock = _render(1.5 * _heights(), np.where(rock, 0.6 * albedo, albedo), *LOW_SUN, rng)
    without = _render(_heights(None), albedo, *HIGH_SUN, rng)
    suns = SUNS if change == "vanished" else SUNS[::-1]
    after, before = (without, with_rock) if change == "vanished" else (with_rock, without)
    before = _on_after(before, after)
    off = np.hypot(*(_centroid_of_change(after, before) - ROCK[:2]))
    assert off > ROCK[2]  # the change's centre lies off the object
    at = object_under_shadow(after, before, _inside(), change, suns)
    assert at is not None
    assert np.hypot(at[0] - ROCK[0], at[1] - ROCK[1]) < min(ROCK[2], off / 2)


def test_a_new_craters_shadow_leaves_it_in_place():
    """A bowl's shadow falls inside it from the up-sun rim, a crescent wider across the sun
    than along it: a hollow, not an object standing up-sun of a shadow."""
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(float)
    bowl = -2.5 * np.clip(1.0 - ((xx - 40) ** 2 + (yy - 40) ** 2) / 36.0, 0.0, None)
    albedo = _ground(5)
    before = _render(_heights(None), albedo, *HIGH_SUN, rng)
    after = _render(bowl, albedo, *LOW_SUN, rng)
    before = _on_after(before, after)
    assert object_under_shadow(after, before, _inside(), "appeared", SUNS[::-1]) is None


@pytest.mark.parametrize("lit_side", ["up-sun", "down-sun"])
def test_a_lit_part_must_lie_up_sun_of_the_shadow(lit_side):
    """An elongated shadow with a sunlit face beside it: up-sun, an object stands at the
    shadow's foot; down-sun, the face is a hollow's far wall and nothing is moved."""
    rng = np.random.default_rng(8)
    albedo, flat = _ground(8), _heights(None)
    before = _render(flat, albedo, *HIGH_SUN, rng)
    az = math.radians(LOW_SUN[1])
    down_sun = np.array([-math.sin(az), math.cos(az)])
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    offsets = np.stack([xx - 40.0, yy - 40.0], axis=-1)
    along = offsets @ down_sun
    across = np.abs(offsets @ np.array([down_sun[1], -down_sun[0]]))
    shadow = (along >= 0) & (along <= 12) & (across <= 2)
    face = (np.abs(along - (-2.5 if lit_side == "up-sun" else 14.5)) <= 1.5) & (across <= 2)
    after = _render(flat, albedo * np.where(shadow, 0.3, np.where(face, 1.6, 1.0)), *LOW_SUN, rng)
    before = _on_after(before, after)
    at = object_under_shadow(after, before, _inside(), "appeared", SUNS[::-1])
    if lit_side == "up-sun":
        assert at is not None and math.hypot(at[0] - 40, at[1] - 40) < 1.5
    else:
        assert at is None


def test_a_dark_patch_gone_is_no_shadow():
    """Ground 15 % darker is not a shadow (a shadow is lit by the sky alone)."""
    rng = np.random.default_rng(6)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    patch = np.hypot(xx - 40, yy - 40) <= 6
    albedo, flat = _ground(6), _heights(None)
    before = _render(flat, np.where(patch, 0.85 * albedo, albedo), *LOW_SUN, rng)
    after = _render(flat, albedo, *HIGH_SUN, rng)
    before = _on_after(before, after)
    assert object_under_shadow(after, before, _inside(), "vanished", SUNS) is None


def test_a_dark_spot_is_not_moved_to_its_edge():
    """A flat spot half as bright as the ground, as deep as a shadow but as long as it is
    wide: nothing casts it, and it stays where it is."""
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    spot = np.hypot(xx - 40, yy - 40) <= 5
    albedo, flat = _ground(7), _heights(None)
    before = _render(flat, albedo, *HIGH_SUN, rng)
    after = _render(flat, np.where(spot, 0.5 * albedo, albedo), *LOW_SUN, rng)
    before = _on_after(before, after)
    assert object_under_shadow(after, before, _inside(), "appeared", SUNS[::-1]) is None


def test_find_reports_vanished_boulders_where_they_stood(lunar_sun_pair, tmp_path):
    """End to end, the suns known: three lunar boulders gone (two vanished, one moved away)
    under a sun 70 deg from the zenith, whose changes are mostly their shadows (centroids 4-10
    px down-sun, beyond each one's match radius), are reported where they stood."""
    pair, suns, paths = lunar_sun_pair
    assert pair.truth["illumination"]["before"]["incidence_deg"] > 65.0
    result = find(
        paths["before.tif"], paths["after.tif"], tmp_path / "out",
        sun_before=suns[0], sun_after=suns[1],
    )  # fmt: skip
    gone = [it for it in pair.truth["items"] if it.get("change") == "vanished"]
    assert len(gone) == 3 and all(it["kind"] == "boulder" for it in gone)
    for it in gone:
        radius = match_radius_px(it, pair.truth["gsd_m"], 3.0)
        nearest = min(
            (c for c in result.detections if c.change == "vanished"),
            key=lambda c: math.hypot(c.x - it["x"], c.y - it["y"]),
        )
        assert math.hypot(nearest.x - it["x"], nearest.y - it["y"]) <= radius
        cx, cy = nearest.features["centroid_xy"]  # the change's centroid, kept
        assert math.hypot(cx - it["x"], cy - it["y"]) > radius
    assert result.summary["illumination"]["shadows"]["placed"] >= 3
