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


def test_windows_beyond_the_coarse_step_are_false_peaks():
    """The case of a fitting-family HiRISE scene (dusty plains, seed 2): the coarse search was
    right to 0.4 px, but every fine window of the bland, striped ground locked onto a false
    peak 38-250 px away, two overlapping ones on the same, and their consensus moved the
    registration 75 px off. Shifts beyond the coarse search's reach are not used: the coarse
    shift stands, with no window."""
    wild = [(57.5, -136.4), (-176.3, 91.6), (76.2, 246.1), (75.0, 43.8), (75.2, 43.7)]
    wild += [(-50.1, 73.6), (38.2, 246.8), (38.3, 246.9), (-48.9, -233.5)]
    found = list(zip(GRID, wild, strict=True))
    assert _refine(_start(), found, CENTRE).n_tiles == 2  # without a reach: the false pair
    reg = _refine(_start(), found, CENTRE, reach=4.0)
    assert (reg.dx, reg.dy, reg.n_tiles) == (28.0, -14.0, 0)
    # one window within reach among the wild ones decides
    found[4] = (GRID[4], (-0.36, 0.04))
    reg = _refine(_start(), found, CENTRE, reach=4.0)
    assert reg.dx == pytest.approx(27.64) and reg.dy == pytest.approx(-13.96)
    assert reg.n_tiles == 1


def test_bland_striped_scene_keeps_the_coarse_shift_and_says_so(tmp_path):
    """That scene end to end: registered within a pixel of the truth, a warning in
    summary.json, and its three vanished objects found (none was, 75 px off)."""
    from orbitscout import pipeline
    from orbitscout.sim.evaluate import match
    from orbitscout.sim.render import simulate_pair, write_pair

    pair = simulate_pair(
        "hirise", "random", seed=2, size=1024, family="dusty_plains", vanished=2, moves=1
    )
    paths = write_pair(pair, tmp_path)
    result = pipeline.find(paths["before.tif"], paths["after.tif"], tmp_path / "out")
    truth = pair.truth["misregistration"]
    reg = result.registration
    assert math.hypot(reg.dx - truth["dx"], reg.dy - truth["dy"]) < 1.0
    assert reg.n_tiles == 0
    assert any("coarse search alone" in w for w in result.summary["warnings"])
    gone = [it for it in pair.truth["items"] if it.get("change") == "vanished"]
    rows = [{"x": c.x, "y": c.y} for c in result.detections]
    assert len(match(rows, gone, pair.truth["gsd_m"], min_radius_px=3.0)) == len(gone)
