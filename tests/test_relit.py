"""Candidates that the other sun's shading of unchanged relief accounts for (detect/relit.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from orbitscout.core.illumination import Sun
from orbitscout.detect.parameters import DetectParams, ShadingParams
from orbitscout.detect.relit import unexplained_share

SIZE = 256
BOWL = (128.0, 128.0, 8.0)  # x, y, width (px) of a Gaussian bowl


def _look(
    incidence: float, azimuth: float, albedo: np.ndarray, depth: float = 3.0, width: float = BOWL[2]
):
    """A Lambert look at a Gaussian bowl (``depth`` px deep, sigma ``width`` px) over its flat
    ground's level: 1 on flat ground; azimuth clockwise from the image's top, rows run south."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(float)
    x, y = BOWL[:2]
    height = -depth * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * width**2))
    gy, gx = np.gradient(height)
    i, a = math.radians(incidence), math.radians(azimuth)
    lit = math.cos(i) - math.sin(i) * (math.sin(a) * gx - math.cos(a) * gy)
    return albedo * np.clip(lit, 0, None) / np.sqrt(1 + gx * gx + gy * gy) / math.cos(i)


def _box(x: float, y: float, half: int) -> np.ndarray:
    inside = np.zeros((SIZE, SIZE), bool)
    inside[int(y) - half : int(y) + half + 1, int(x) - half : int(x) + half + 1] = True
    return inside


def _spot(x: float, y: float, radius: float, change: float) -> np.ndarray:
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    return 1 + change * np.clip(radius + 0.5 - np.hypot(xx - x, yy - y), 0, 1)


@pytest.mark.parametrize(
    "sun_after, most", [((60.0, 90.0), 0.1), ((60.0, 110.0), 0.5), ((40.0, 70.0), 0.5)]
)
def test_relief_lit_by_another_sun_is_accounted_for(sun_after, most):
    """A bowl's walls lit by another sun: the suns' prediction leaves little of the change
    when only the incidence changed (measured 0.03), more when the azimuth turned too (0.17,
    0.10: the slope across BEFORE's sun is damped where its shading shows nothing of it)."""
    sun_before = (50.0, 90.0)  # (incidence, azimuth)
    suns = (Sun(sun_before[1], sun_before[0]), Sun(sun_after[1], sun_after[0]))
    flat = np.ones((SIZE, SIZE))
    before, after = _look(*sun_before, flat), _look(*sun_after, flat)
    box = _box(128, 128, 12)
    assert unexplained_share(after, before, box, suns, DetectParams()) < most
    # BEFORE without the bowl: nothing to predict the change from, all of it is left
    assert unexplained_share(after, _look(*sun_before, flat, 0.0), box, suns) > 0.8


def _wide_bowl(sun_before: tuple[float, float], sun_after: tuple[float, float]):
    """AFTER, BEFORE, the box and the suns of a bowl about 50 px across (sigma 16 px) under
    two suns, each (incidence, azimuth)."""
    suns = (Sun(sun_before[1], sun_before[0]), Sun(sun_after[1], sun_after[0]))
    flat = np.ones((SIZE, SIZE))
    before, after = (_look(*sun, flat, depth=6.4, width=16.0) for sun in (sun_before, sun_after))
    return after, before, _box(128, 128, 24), suns


def test_a_wide_bowl_needs_kernels_that_reach_across_it():
    """A bowl about 50 px across (sigma 16 px) under suns 10 degrees of incidence and 20 of
    azimuth apart: the slope across BEFORE's sun is integrated from its shading over the
    bowl, which the 257-px ``relit_kernel`` reaches and 65-px kernels do not (measured: 0.26
    of the change left, against 0.53)."""
    after, before, box, suns = _wide_bowl((50.0, 90.0), (60.0, 110.0))
    params = DetectParams()
    assert unexplained_share(after, before, box, suns, params) <= params.relit_share
    short = DetectParams(shading=ShadingParams(relit_kernel=65))
    assert unexplained_share(after, before, box, suns, short) > params.relit_share


def test_the_prediction_may_be_exceeded_by_a_gain():
    """The wide bowl under suns 10 degrees of incidence and 30 of azimuth apart: the slope
    across BEFORE's sun is damped in the prediction, which falls short of AFTER's shading
    (measured: 0.33 of the change left, over ``relit_share``); a gain of up to
    ``relit_gain`` on AFTER's predicted structure accounts for it (0.27)."""
    after, before, box, suns = _wide_bowl((50.0, 90.0), (60.0, 120.0))
    params = DetectParams()
    linear = DetectParams(shading=ShadingParams(relit_gain=1.0))
    assert unexplained_share(after, before, box, suns, linear) > params.relit_share
    assert unexplained_share(after, before, box, suns, params) <= params.relit_share


def test_a_gain_explains_no_more_of_what_vanished_under_a_higher_sun():
    """AFTER's sun higher than BEFORE's (60 -> 45 degrees from the zenith): re-lit relief
    keeps less of its shading, as an object that vanished keeps none. The gain is at least 1,
    so it accounts for no more of the vanished object than the prediction as it is."""
    suns = (Sun(90.0, 60.0), Sun(90.0, 45.0))
    flat = np.ones((SIZE, SIZE))
    before = _look(60.0, 90.0, _spot(60.0, 190.0, 4.0, -0.4))
    after = _look(45.0, 90.0, flat)
    box = _box(60, 190, 6)
    linear = DetectParams(shading=ShadingParams(relit_gain=1.0))
    share = unexplained_share(after, before, box, suns)
    assert share == pytest.approx(unexplained_share(after, before, box, suns, linear))
    assert share > DetectParams().relit_share


def test_the_gain_is_at_least_one():
    with pytest.raises(ValueError, match="relit_gain"):
        ShadingParams(relit_gain=0.9)


@pytest.mark.parametrize("where", ["after", "before"])
def test_an_object_that_came_or_went_is_not_relit_relief(where):
    sun_before, sun_after = (50.0, 90.0), (60.0, 110.0)
    suns = (Sun(sun_before[1], sun_before[0]), Sun(sun_after[1], sun_after[0]))
    spot = _spot(60.0, 190.0, 4.0, -0.4)  # a dark object on flat ground beside the bowl
    flat = np.ones((SIZE, SIZE))
    albedo = {
        "before": spot if where == "before" else flat,
        "after": spot if where == "after" else flat,
    }
    before, after = _look(*sun_before, albedo["before"]), _look(*sun_after, albedo["after"])
    share = unexplained_share(after, before, _box(60, 190, 6), suns)
    assert share > 0.9


def test_no_data_gives_no_share():
    suns = (Sun(90.0, 50.0), Sun(110.0, 60.0))
    before = np.full((SIZE, SIZE), np.nan)
    after = np.ones((SIZE, SIZE))
    assert math.isnan(unexplained_share(after, before, _box(128, 128, 12), suns))
