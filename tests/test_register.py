"""The fine registration's fit of the windows' residual shifts: windows that locked onto false
peaks cannot pull it, a real rotation is still fitted."""

from __future__ import annotations

import math

import numpy as np
import pytest

from orbitscout.core.registration import Registration
from orbitscout.detect.register import _refine

CENTRE = (511.5, 511.5)
GRID = [(x, y) for y in (383.5, 511.5, 639.5) for x in (383.5, 511.5, 639.5)]


def _start() -> Registration:
    return Registration(28.0, -14.0, 0.0, float("nan"), CENTRE, 0)


def test_most_windows_wild_the_agreeing_few_decide():
    """The case of a held-out HiRISE scene (seed 2, sun 5 deg / 10 deg): four windows agree on
    (-0.34, 0.16), five land on false peaks tens to hundreds of px away. The fit had given
    dx 40.6 for 27.6, a 4.7 deg rotation and a 114 px residual."""
    wild = {0: (111.7, 5.2), 3: (98.2, 53.5), 4: (-194.1, 32.3), 5: (39.2, 8.4), 6: (80.7, 4.8)}
    rng = np.random.default_rng(0)
    found = [
        (p, wild.get(i, tuple(np.array([-0.34, 0.16]) + rng.normal(0, 0.02, 2))))
        for i, p in enumerate(GRID)
    ]
    reg = _refine(_start(), found, CENTRE)
    assert reg.dx == pytest.approx(27.66, abs=0.05)
    assert reg.dy == pytest.approx(-13.84, abs=0.05)
    assert abs(reg.rotation_deg) < 0.02 and reg.residual_px < 0.1
    assert reg.n_tiles == 4


def test_a_rotation_is_fitted_and_one_wild_window_dropped():
    theta = math.radians(0.3)
    found = []
    for i, (x, y) in enumerate(GRID):
        rx, ry = x - CENTRE[0], y - CENTRE[1]
        shift = (1.5 - theta * ry, -0.7 + theta * rx)
        found.append(((x, y), (60.0, -33.0) if i == 8 else shift))
    reg = _refine(_start(), found, CENTRE)
    assert reg.rotation_deg == pytest.approx(0.3, abs=0.005)
    assert reg.dx == pytest.approx(29.5, abs=0.02) and reg.dy == pytest.approx(-14.7, abs=0.02)
    assert reg.n_tiles == 8
