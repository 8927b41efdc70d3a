"""Change in both directions (issue 16): what vanished from AFTER is found as ``vanished``,
what is new as ``appeared``, an object replaced by another as ``altered``, a moved object's two
ends are linked, and unchanged relief under another sun makes few candidates, whichever image
has the lower sun. Small arrays through ``tiles.detect_changes`` with in-memory readers."""

from __future__ import annotations

import math
from dataclasses import replace

import cv2
import numpy as np
import pytest
from scipy import ndimage as ndi
from synth import shade

from orbitscout.core.candidate import Candidate
from orbitscout.detect import candidates, moves, photometry, regions, tiles
from orbitscout.detect.parameters import DetectParams
from orbitscout.detect.significance import BLOCK

SIZE = 512
DEFAULT = DetectParams()
# (x, y, radius px, brightness over the ground's mean): bright and dark, 6 to 12 px across
OBJECTS = [(120, 120, 4, 2.0), (380, 140, 5, 0.3), (140, 380, 3, 1.8), (390, 390, 6, 0.4)]


def _ground(seed: int, mean: float) -> np.ndarray:
    """Albedo texture of 5 % RMS at 1-12 px scales around ``mean``."""
    rng = np.random.default_rng(seed)
    tex = sum(ndi.gaussian_filter(rng.normal(size=(SIZE, SIZE)), s) * s**0.5 for s in (1, 3, 12))
    return mean * (1 + 0.05 * tex / tex.std())


def _disc(image: np.ndarray, x: float, y: float, r: float, value: float) -> np.ndarray:
    """``image`` with an opaque anti-aliased disc of ``value``."""
    yy, xx = np.mgrid[:SIZE, :SIZE]
    w = np.clip(r + 0.5 - np.hypot(xx - x, yy - y), 0, 1)
    return image * (1 - w) + value * w


def _detect(before, after, gsd_m=None, params=DEFAULT) -> list[Candidate]:
    """Candidates of AFTER against BEFORE (unit gain; 4 DN noise added to each), moves
    linked."""
    rng = np.random.default_rng(1)
    before = (before + rng.normal(0, 4.0, before.shape)).astype(np.float32)
    after = (after + rng.normal(0, 4.0, after.shape)).astype(np.float32)
    n = -(-SIZE // BLOCK)
    phot = photometry.Photometry(np.ones((n, n)), np.zeros((n, n)))

    def cut(image):
        return lambda w: image[
            w.row_off : w.row_off + int(w.height), w.col_off : w.col_off + int(w.width)
        ].copy()

    result = tiles.detect_changes(cut(after), cut(before), phot, SIZE, SIZE, params=params)
    return moves.link_moves(candidates.candidates(result, gsd_m, params), gsd_m, params)


def _at(found: list[Candidate], x: float, y: float) -> list[Candidate]:
    return [c for c in found if math.hypot(c.x - x, c.y - y) <= 2.0]


@pytest.mark.parametrize("mean", [1000.0, 300.0], ids=["bright_ground", "dark_ground"])
@pytest.mark.parametrize("direction", ["vanished", "appeared"])
def test_objects_gone_or_new_are_found_and_told_apart(mean, direction):
    """Bright and dark objects on bright and dark ground: each one found once, as the
    direction it changed, with a high probability; nothing else found."""
    ground = _ground(0, mean)
    with_objects = ground
    for x, y, r, k in OBJECTS:
        with_objects = _disc(with_objects, x, y, r, k * mean)
    pair = (with_objects, ground) if direction == "vanished" else (ground, with_objects)
    found = _detect(*pair)
    assert len(found) == len(OBJECTS)
    for x, y, _, _ in OBJECTS:
        (c,) = _at(found, x, y)
        assert c.change == direction
        assert c.change_score > 0.9
        assert c.novelty > 20


def test_an_object_replaced_by_another_is_altered():
    """A bright object replaced by a dark one of like contrast, same place: both images hold
    structure there: ``altered``, not cancelled."""
    ground = _ground(0, 1000.0)
    found = _detect(_disc(ground, 256, 256, 5, 1600.0), _disc(ground, 256, 256, 5, 400.0))
    (c,) = _at(found, 256, 256)
    assert c.change == "altered"
    assert c.novelty > 2


def test_a_moved_object_is_linked_with_distance_and_bearing():
    """A dark object moved 30 px east and a bright one 30 px north (0.5 m px): the appeared
    end names the vanished end, 15 m away, bearing 90 and 0 degrees; the vanished ends name
    nothing."""
    ground = _ground(0, 1000.0)
    before = _disc(_disc(ground, 200, 250, 4, 300.0), 300, 360, 3, 2000.0)
    after = _disc(_disc(ground, 230, 250, 4, 300.0), 300, 330, 3, 2000.0)
    found = _detect(before, after, gsd_m=0.5)
    assert len(found) == 4
    (east,) = _at(found, 230, 250)
    (west,) = _at(found, 200, 250)
    (north,) = _at(found, 300, 330)
    (south,) = _at(found, 300, 360)
    assert (west.change, south.change, east.change, north.change) == ("vanished",) * 2 + (
        "appeared",
    ) * 2
    assert east.moved_from == west.id and north.moved_from == south.id
    assert west.moved_from is None and west.move is None and south.moved_from is None
    assert east.move["distance_m"] == pytest.approx(15.0, abs=0.3)
    assert east.move["bearing_deg"] == pytest.approx(90.0, abs=2.0)
    assert north.move["distance_m"] == pytest.approx(15.0, abs=0.3)
    assert min(north.move["bearing_deg"], 360 - north.move["bearing_deg"]) < 2.0
    # without a pixel size, in pixels
    moves.link_moves(found, None)
    assert east.moved_from == west.id and east.move["distance_px"] == pytest.approx(30, abs=0.6)


@pytest.mark.parametrize("step", [5, 6, 8, 10])
@pytest.mark.parametrize("same_sun", [False, True], ids=["default", "same_sun"])
def test_a_short_move_is_two_ends_not_one_object(step, same_sun):
    """A bright object (8 px across) moved by about its size: the ends nearly touch, as a
    canopy shifted by wind does at CaSSIS's pixel size. The end it left is found as
    vanished, the one it reached as appeared, linked as a move; not one altered object
    between them. Also with the lower ``kappa`` and novelty gate of suns known to be the
    same, under which the ends of a 5-px move touch at ``t_low``
    (``regions.split_by_sign`` cuts them apart)."""
    params = DEFAULT
    if same_sun:
        shading = DEFAULT.shading
        params = replace(DEFAULT, kappa=shading.equal_kappa, novelty=shading.equal_novelty)
    ground = _ground(2, 1000.0)
    before = _disc(ground, 250, 250, 4, 2000.0)
    after = _disc(ground, 250 + step, 250, 4, 2000.0)
    found = _detect(before, after, gsd_m=4.6, params=params)
    assert len(found) == 2
    (old,) = _at(found, 250, 250)
    (new,) = _at(found, 250 + step, 250)
    assert (old.change, new.change) == ("vanished", "appeared")
    assert new.moved_from == old.id


def test_unlike_or_far_ends_are_not_linked():
    """Ends of unlike size, or farther apart than the tolerance, are not a move."""
    ground = _ground(0, 1000.0)
    big = _detect(_disc(ground, 200, 250, 4, 300.0), _disc(ground, 230, 250, 9, 300.0), 0.5)
    assert all(c.moved_from is None for c in big)
    far = _detect(
        _disc(ground, 100, 250, 4, 300.0),
        _disc(ground, 420, 250, 4, 300.0),
        0.5,
        DetectParams(move_max_m=100.0),
    )
    assert len(far) == 2 and all(c.moved_from is None for c in far)  # 160 m apart


def _relief(seed: int) -> np.ndarray:
    """Two dozen hills and hollows 5-14 px wide (slopes up to 30 degrees) on a plain."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:SIZE, :SIZE].astype(float)
    height = np.zeros((SIZE, SIZE))
    for _ in range(24):
        x, y = rng.uniform(30, SIZE - 30, 2)
        r = rng.uniform(5, 14)
        height += (
            rng.choice([-1, 1]) * 0.5 * r * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / r**2 / 2)
        )
    return height


@pytest.mark.parametrize(
    "sun_before, sun_after",
    [((50, 90), (40, 90)), ((40, 90), (50, 90)), ((45, 90), (45, 100)), ((45, 100), (45, 90))],
    ids=["higher_sun_after", "lower_sun_after", "azimuth_plus_10", "azimuth_minus_10"],
)
def test_unchanged_relief_under_another_sun_makes_few_candidates(sun_before, sun_after):
    """Lambert-shaded relief under two suns 10 degrees apart, either image with the lower
    sun: few candidates (none of them likely changes), at most half of those that the
    residual against its noise alone makes (no structure term, no novelty gate)."""
    height = _relief(5)
    albedo = _ground(3, 1.0)
    before = 4000 * shade(albedo, height, *sun_before)
    after = 4000 * shade(albedo, height, *sun_after)
    after *= before.mean() / after.mean()
    found = _detect(before, after)
    naive = _detect(before, after, params=DetectParams(kappa=0.0, novelty=1e-6))
    assert len(naive) >= 10
    assert len(found) <= 6 and len(found) <= len(naive) / 2
    assert sum(c.change_score > 0.9 for c in found) <= 1


def test_change_probability_rises_with_significance_and_novelty():
    p = DetectParams()
    at_gates = candidates.change_probability(p.t_high, p.novelty, p, sun_change_deg=0.0)
    assert at_gates == pytest.approx(1 / (1 + math.exp(-p.p_intercept)))
    assert at_gates < 0.5  # both gates just passed: likelier not a real change (fitted so)
    # the further the sun moved, the likelier re-shaded relief; an unknown sun counts as far
    strong = [candidates.change_probability(2 * p.t_high, 5.0, p, a) for a in (0, 5, 10, 15)]
    assert np.all(np.diff(strong) < 0)
    assert candidates.change_probability(2 * p.t_high, 5.0, p) == pytest.approx(
        candidates.change_probability(2 * p.t_high, 5.0, p, p.p_sun_unknown_deg)
    )
    assert candidates.change_probability(2 * p.t_high, 10.0, p) > candidates.change_probability(
        2 * p.t_high, 2.5, p
    )
    assert candidates.change_probability(4 * p.t_high, 10.0, p) > 0.9
    assert candidates.change_probability(p.t_high, math.inf, p) < 1.0
    assert np.all(np.diff(candidates.change_probability(np.linspace(5, 50, 10), 3.0, p)) > 0)


def test_regions_are_cut_only_between_seeds_of_both_signs():
    """Of three regions over ``t_low``: one with seeds of both signs is cut into its bright
    and its dark part (each keeping its joined, unseeded pixels); one whose dark side holds
    no seed (a bright object's faint halo) and one of a single sign stay whole."""
    sig = np.zeros((24, 40), np.float32)
    sig[2:8, 2:8], sig[2:8, 8:12], sig[2:8, 12:18] = 9.0, -4.0, -9.0  # both signs seeded
    sig[12:18, 2:8], sig[12:18, 8:12] = 9.0, -4.0  # a halo without a seed
    sig[12:18, 25:31] = -9.0
    region = np.abs(sig) >= DEFAULT.t_low
    count, labels = cv2.connectedComponents(region.view(np.uint8), connectivity=8)
    count, cut = regions.split_by_sign(labels, count - 1, sig, np.abs(sig) >= DEFAULT.t_high)
    assert count == 4
    bright, dark = cut[4, 4], cut[4, 14]
    assert bright != dark and (cut[2:8, 2:8] == bright).all()
    assert (cut[2:8, 8:18] == dark).all()  # the joined, unseeded part went with its own sign
    assert (cut[12:18, 2:12] == cut[14, 4]).all()
    assert (cut[12:18, 25:31] == labels[14, 27]).all()
    assert np.array_equal(cut == 0, ~region)
