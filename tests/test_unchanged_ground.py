"""What unchanged ground leaves in the residual (issue 16), and what that must not hide: small
sharp craters that seem to move by half a pixel between looks are no change, a new spot among
them is, and how far they moved is measured, not assumed. Small arrays through
``tiles.detect_changes`` with in-memory readers (``test_detect_directions._detect``)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from synth import shade
from test_detect_directions import SIZE, _detect  # candidates of a pair with 4 DN noise each

from orbitscout.detect import significance
from orbitscout.detect.parameters import DetectParams

# nothing allowed for re-shading (no clutter term, no novelty gate): only the displacement
SAME_SUN = DetectParams(kappa=0.0, novelty=1e-9)
SPOT = (300.0, 260.0)  # where a new dark spot is put among the craters


def _cratered(moves: np.ndarray, seed: int = 0) -> np.ndarray:
    """Ground of 80 small bowls (1-1.6 px sigma, 0.5-1 px deep) lit from 60 deg, each moved by
    ``moves`` (px, one (dx, dy) per bowl), sampled at pixel centres."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(24, SIZE - 24, (80, 2))
    widths = rng.uniform(1.0, 1.6, 80)
    depths = rng.uniform(0.5, 1.0, 80)
    yy, xx = np.mgrid[:SIZE, :SIZE].astype(np.float64)
    height = np.zeros((SIZE, SIZE))
    for (x, y), (dx, dy), s, d in zip(centres, moves, widths, depths, strict=True):
        r2 = (xx - x - dx) ** 2 + (yy - y - dy) ** 2
        height -= d * np.exp(-r2 / (2 * s * s))
    return 1000.0 * shade(np.ones((SIZE, SIZE)), height, 60.0, 100.0) / math.cos(math.radians(60))


def _half_pixel_moves(seed: int) -> np.ndarray:
    angle = np.random.default_rng(seed).uniform(0, 2 * math.pi, 80)
    return 0.5 * np.stack([np.cos(angle), np.sin(angle)], axis=1)


def test_sharp_craters_moved_by_half_a_pixel_are_no_change_a_new_spot_among_them_is():
    still = np.zeros((80, 2))
    before = _cratered(still)
    after = _cratered(_half_pixel_moves(3))
    # without the allowance for re-shading and the displacement, the moved craters are changes
    assert len(_detect(before, after, params=replace(SAME_SUN, displacement=0.0))) >= 5
    assert len(_detect(before, after, params=SAME_SUN)) <= 1
    yy, xx = np.mgrid[:SIZE, :SIZE]
    spot = np.clip(2.5 - np.hypot(xx - SPOT[0], yy - SPOT[1]), 0, 1)  # 4 px across
    found = _detect(before, after * (1 - 0.4 * spot), params=SAME_SUN)
    assert [c for c in found if math.hypot(c.x - SPOT[0], c.y - SPOT[1]) <= 2.0]


def test_the_displacement_is_measured_not_assumed():
    """Per noise block: about half a pixel where the craters moved by half a pixel, about
    none where they did not (the same ground, other noise)."""
    rng = np.random.default_rng(2)
    before = _cratered(np.zeros((80, 2))) + rng.normal(0, 4.0, (SIZE, SIZE))
    core = (slice(0, SIZE), slice(0, SIZE))
    for moves, low, high in ((_half_pixel_moves(3), 0.25, 0.75), (np.zeros((80, 2)), 0.0, 0.1)):
        after = _cratered(moves) + rng.normal(0, 4.0, (SIZE, SIZE))
        moved = significance.block_displacement(after - before, before, core, None, (0, 0), 1.0)
        assert moved.sigmas.shape == (2, 2)
        assert low <= moved.sigmas.min() and moved.sigmas.max() <= high, moved.sigmas
