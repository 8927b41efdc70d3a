"""The faint list (``DetectParams.faint``): on a pair whose unchanged ground leaves little of
its structure, changes as contrasted as the ground's own texture are found, the first list's
candidates stay as they were, and a tiled run agrees with a whole-image one. Small arrays
through ``tiles.detect_changes`` with in-memory readers; the share measured by
``leftover.structure_leftover`` on pairs whose leftover is known."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage as ndi

from orbitscout.detect import candidates, leftover, photometry, tiles
from orbitscout.detect.parameters import DetectParams
from orbitscout.detect.significance import BLOCK

SIZE = 768
FIRST = DetectParams(faint=False)
FAINT = DetectParams(faint_kappa=(0.1, 0.1, 0.1))
# (x, y, radius px): small craters, some on tile borders (256 px) and corners
CRATERS = [(130, 140, 4), (380, 150, 7), (150, 390, 4), (400, 380, 7), (256, 600, 5), (512, 512, 6)]


def _ground(seed: int, rms: float) -> np.ndarray:
    """Albedo texture of ``rms`` (relative) at 1-12 px scales around 1000 DN."""
    rng = np.random.default_rng(seed)
    tex = sum(ndi.gaussian_filter(rng.normal(size=(SIZE, SIZE)), s) * s**0.5 for s in (1, 3, 12))
    return 1000.0 * (1 + rms * tex / tex.std())


def _craters(image: np.ndarray, contrast: float) -> np.ndarray:
    """``image`` with a dark bowl and a bright rim at each of CRATERS, ``contrast`` of the
    ground's level deep, added to the ground's texture (which stays)."""
    yy, xx = np.mgrid[:SIZE, :SIZE]
    change = np.zeros_like(image)
    for x, y, r in CRATERS:
        d = np.hypot(xx - x, yy - y)
        bowl = np.clip(r + 0.5 - d, 0, 1)
        rim = np.clip(1.4 * r + 0.5 - d, 0, 1) - bowl
        change += 0.6 * rim - bowl
    return image + 1000.0 * contrast * ndi.gaussian_filter(change, 1.0)


def _noisy(image: np.ndarray, seed: int) -> np.ndarray:
    return (image + np.random.default_rng(seed).normal(0, 4.0, image.shape)).astype(np.float32)


def _cut(image):
    return lambda w: image[
        w.row_off : w.row_off + int(w.height), w.col_off : w.col_off + int(w.width)
    ].copy()


def _detect(before, after, params, tile=None):
    n = -(-SIZE // BLOCK)
    phot = photometry.Photometry(np.ones((n, n)), np.zeros((n, n)))
    result = tiles.detect_changes(_cut(after), _cut(before), phot, SIZE, SIZE, tile, params=params)
    return candidates.candidates(result, None, params)


def _near(found, x, y, r):
    return [c for c in found if math.hypot(c.x - x, c.y - y) <= r + 2]


@pytest.fixture(scope="module")
def pair():
    ground = _ground(0, 0.2)
    return _noisy(ground, 1), _noisy(_craters(ground, 0.15), 2)


def test_craters_under_the_grounds_texture_are_found_by_the_faint_list(pair):
    """Craters 15 % deep on ground of 20 % texture, seen under the same sun: the first list
    finds at most one (its ``kappa`` weighs the texture as if another sun re-shaded it), the
    faint list half of them, and nothing where nothing changed."""
    first = _detect(*pair, FIRST)
    faint = _detect(*pair, FAINT)
    hit_first = [x for x, y, r in CRATERS if _near(first, x, y, r)]
    hit_faint = [x for x, y, r in CRATERS if _near(faint, x, y, r)]
    assert len(hit_first) <= 1
    assert len(hit_faint) >= 3
    assert all(any(_near([c], x, y, r) for x, y, r in CRATERS) for c in faint)
    # each added one reached the faint list's own threshold, and is scored in the first
    # list's terms: as a first-list candidate of half its significance
    added = [c for c in faint if not _near(first, c.x, c.y, 0)]
    assert added
    for c in added:
        assert c.peak_sigma >= FAINT.faint_peak * FAINT.t_high
        assert c.score == pytest.approx(float(candidates.detection_score(c.peak_sigma / 2)))


def test_the_first_lists_candidates_stay(pair):
    """What the first list finds is found the same with the faint list on: the faint list
    only adds candidates where the first list has none."""
    ground = _ground(3, 0.2)
    before = _noisy(ground, 1)
    after = _noisy(_craters(ground, 0.4), 2)  # deep enough for the first list
    first = _detect(before, after, FIRST)
    faint = _detect(before, after, FAINT)
    assert len(first) >= 4
    key = {(round(c.x, 3), round(c.y, 3), c.area_px, c.peak_sigma) for c in faint}
    assert all((round(c.x, 3), round(c.y, 3), c.area_px, c.peak_sigma) in key for c in first)


def test_faint_list_tiled_and_whole_agree(pair):
    tiled = _detect(*pair, FAINT, tile=256)
    whole = _detect(*pair, FAINT)
    assert len(tiled) == len(whole) >= 3

    def key(c):
        return (round(c.y, 1), round(c.x, 1))

    for t, w in zip(sorted(tiled, key=key), sorted(whole, key=key), strict=True):
        assert abs(t.x - w.x) < 1e-3 and abs(t.y - w.y) < 1e-3
        assert t.area_px == w.area_px and t.bbox == w.bbox
        assert t.peak_sigma == pytest.approx(w.peak_sigma, rel=1e-4)


@pytest.mark.parametrize("share", [0.0, 0.15, 0.3])
def test_leftover_measures_the_structure_the_residual_keeps(share):
    """A residual of noise plus ``share`` of BEFORE's structure (each image less its 10-px
    blur) at every filter: the share is measured back within 0.03."""
    level = _ground(5, 0.1).astype(np.float32)
    structure = level - ndi.gaussian_filter(level, 10.0)
    rng = np.random.default_rng(6)
    resid = (share * structure + rng.normal(0, 4.0, level.shape)).astype(np.float32)
    shares = leftover.structure_leftover(resid, level)
    assert len(shares) == len(DetectParams().scales)
    assert all(abs(s - share) <= 0.03 for s in shares)


def test_leftover_needs_valid_ground():
    level = np.full((128, 128), np.nan, np.float32)
    assert leftover.structure_leftover(level, level) is None


def test_faint_kappa_is_one_per_scale():
    with pytest.raises(ValueError, match="faint_kappa"):
        DetectParams(faint_kappa=(0.1, 0.1))
    assert not DetectParams().faint_used
    assert not DetectParams(faint_kappa=(0.5, 0.6, 0.5)).faint_used  # none below kappa
    assert DetectParams(faint_kappa=(0.5, 0.1, 0.5)).faint_weights == pytest.approx(
        (1.0, 0.04, 1.0)
    )
