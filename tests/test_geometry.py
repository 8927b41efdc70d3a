"""The shared bearing and compass helpers: conventions, vectorisation, edges, and agreement with
the helpers they replace."""

from __future__ import annotations

import math

import numpy as np
import pytest

from orbitscout.core.geometry import COMPASS_POINTS, bearing_deg, compass


@pytest.mark.parametrize(
    ("east", "north", "expected"),
    [(0, 1, 0), (1, 1, 45), (1, 0, 90), (0, -1, 180), (-1, 0, 270), (-1, 1, 315), (0, 0, 0)],
)
def test_bearing_is_clockwise_from_north(east, north, expected):
    b = bearing_deg(east, north)
    assert isinstance(b, float)
    assert b == pytest.approx(expected, abs=1e-12)


def test_bearing_stays_below_360():
    """A tiny westward offset due north is 359.99...° mathematically, and np.mod rounds it to
    360.0 exactly; the helper reports north (0) instead."""
    assert bearing_deg(-1e-20, 1.0) == 0.0
    assert bearing_deg(-0.0, 1.0) == 0.0
    b = bearing_deg(np.array([-1e-20, -1e-9, 0.0]), np.ones(3))
    assert np.all((b >= 0) & (b < 360))
    assert b[1] == pytest.approx(360.0 - math.degrees(1e-9), abs=1e-9)


def test_bearing_is_vectorised_and_agrees_with_the_helpers_it_replaces():
    rng = np.random.default_rng(0)
    east, north = rng.normal(size=(2, 500)) * 10.0 ** rng.uniform(-3, 4, (2, 500))
    b = bearing_deg(east, north)
    assert b.shape == (500,) and np.all((b >= 0) & (b < 360))
    # the old edl.debris.bearing / identify.classify.bearing_deg / sim.demo.offset_from formula
    pairs = list(zip(east.tolist(), north.tolist(), strict=True))
    old = np.array([math.degrees(math.atan2(e, n)) % 360.0 for e, n in pairs])
    assert np.allclose(b, old, atol=1e-12)
    from orbitscout.identify.classify import bearing_deg as identify_bearing

    assert np.allclose(b, [identify_bearing(e, n) for e, n in pairs], atol=1e-12)
    assert bearing_deg(east[:, None], north[None, :3]).shape == (500, 3)  # broadcasts
    assert np.isnan(bearing_deg(np.nan, 1.0))


def test_compass_16_points():
    names = [compass(22.5 * k) for k in range(16)]
    assert names == list(COMPASS_POINTS[16])
    assert names[:5] == ["N", "NNE", "NE", "ENE", "E"] and names[-1] == "NNW"
    assert compass(0) == "N" and compass(44) == "NE" and compass(315) == "NW"
    assert compass(359) == "N" and compass(250) == "WSW"
    assert compass(-90) == "W" and compass(720 + 180) == "S"
    # half-way goes clockwise; just short of it stays
    assert compass(11.25) == "NNE" and compass(11.2499) == "N" and compass(348.75) == "N"


def test_compass_agrees_with_the_demo_rose():
    old = ("N", "NNE", "NE", "ENE", "E", "ESE", "SE", "SSE", "S", "SSW", "SW", "WSW", "W", "WNW")
    old = (*old, "NW", "NNW")
    for b in np.linspace(-720, 720, 2881):
        assert compass(b) == old[int((b % 360) / 22.5 + 0.5) % 16]


def test_compass_smaller_roses_and_arrays():
    assert [compass(b, points=8) for b in (0, 44, 46, 180, 300)] == ["N", "NE", "NE", "S", "NW"]
    assert [compass(b, points=4) for b in (44, 46, 225, 314)] == ["N", "E", "W", "W"]
    names = compass(np.array([0.0, 90.0, 250.0]))
    assert isinstance(names, np.ndarray) and names.tolist() == ["N", "E", "WSW"]
    assert isinstance(compass(np.float64(90.0)), str)


@pytest.mark.parametrize(("bearing", "points"), [(10.0, 12), (10.0, 0), (math.nan, 16)])
def test_compass_refuses(bearing, points):
    with pytest.raises(ValueError):
        compass(bearing, points=points)
