"""Cast shadows that another sun lengthened, shortened or turned: shading, not change.

A rock or a crater rim casts a shadow on the side away from the sun, as long as its height
times the tangent of the solar incidence. Under another sun the shadow of BEFORE is lit and a
new one falls beside it: the difference is a strong bright lobe where the old shadow lay and a
dark one where the new one lies, both on ground that is among the darkest of the neighbourhood
in one image or the other, and at an obstacle that stands in both images. The linear
re-shading (``shading.py``) cannot predict it (Lambert shading clipped at zero is not linear),
and the structure damping (``kappa``) lets the strongest through.

A candidate is such a shadow change when, in a window around it:

- the change's energy lies mostly (``params.shadow_share``) on pixels that are dark in BEFORE
  or in AFTER (``params.shadow_sigma`` robust deviations below the window's level), dilated by
  a pixel for the blur;
- a dark patch of BEFORE and one of AFTER carrying that change, each deeper somewhere than
  ``params.shadow_core_sigma`` and darker than the ground by ``params.shadow_depth`` of its
  level (a shadow gets only the sky's light; a dip of the texture, or ground a few per cent
  darker, is no shadow), overlap by ``params.shadow_overlap_min`` at least (intersection over
  union: one obstacle's shadows both start at its foot; a dark object that merely touches a
  shadow is not one);
- their areas are within ``params.shadow_area_ratio`` of each other (a shadow's length goes
  with the tangent of the incidence: a new dark object beside a rock's shadow is not it);
- they are not one footprint (intersection over union below ``params.shadow_overlap``): a
  dark patch that only darkened or faded is a change of the ground, not of the light.

When both suns are known and one stands lower (by ``params.shading.min_change_deg`` at least),
a small obstacle's shadow under the higher sun may be too short to be deep after the blur (a
pixel or two long, 10-20 % dark). The geometry then stands in for the second depth: the lower
sun's patch is deep, the higher sun's patch is dark but no larger (a shadow's length goes with
tan(incidence)), the two overlap as above, and the longer one reaches further down-sun of the
lower sun than the shorter one.

An object that appeared or vanished has its dark part in one image only, so it is kept; so is
one that moved further than its own size.

Such an object's change is often mostly its own shadow: under a sun 70 deg from the zenith a
boulder half as high as wide casts one 1.4 times its width, and the ground it darkened, not
the object, holds most of the change. Its centroid then lies on the shadow, metres down-sun of
the object. :func:`object_under_shadow` finds the object where the shadow starts: when most of
the change lies on a shadow of the image that holds the object (BEFORE for a vanished one,
AFTER for an appeared one), the object stands at the shadow's near (up-sun) end, since a
rounded object under a low sun is in its own shadow from about its middle on (the terminator of
a sphere lit 70 deg from the zenith lies within a third of its radius of the centre, seen from
above). Only a shadow longer down-sun than across is one worth moving for (shorter, the object
lies within its own radius of the centroid anyway), and a dark spot is as long as wide. A sunlit
face, where there is one, must lie up-sun of the shadow: a crater's shadow falls inside it from
the up-sun rim, with the lit far wall down-sun, and is left where it is; so is a dark patch,
which is no shadow.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import numpy as np

from orbitscout.core.candidate import Candidate
from orbitscout.core.illumination import Sun
from orbitscout.core.window import Window
from orbitscout.detect.parameters import DEFAULT, DetectParams
from orbitscout.detect.photometry import Photometry
from orbitscout.detect.regions import components_meeting

_CELL = 512  # candidates' windows read together within cells of this side (px)
_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))


def _change_in(
    after: np.ndarray, before: np.ndarray, inside: np.ndarray
) -> tuple[np.ndarray, float]:
    """The change over the window less what the block photometry left locally (its median
    outside the candidate's box), and its robust spread there."""
    change = after - before
    offset, noise = _robust(change[~inside])
    return change - offset, noise


def _shadow_levels(level: float, spread: float, params: DetectParams) -> tuple[float, float]:
    """Brightness under which a pixel of a window of median ``level`` and robust spread
    ``spread`` may be shadow (``shadow_sigma`` deviations below the level), and under which a
    shadow's core lies: ``shadow_core_sigma`` deviations below it against the texture, and
    ``shadow_depth`` of it below it in brightness (a shadow is lit by the sky alone)."""
    dark = level - params.shadow_sigma * spread
    core = min(level - params.shadow_core_sigma * spread, (1.0 - params.shadow_depth) * level)
    return dark, core


def _robust(values: np.ndarray) -> tuple[float, float]:
    """Median and robust standard deviation (1.4826 MAD) of finite ``values``."""
    v = values[np.isfinite(values)]
    if v.size < 16:
        return float("nan"), float("nan")
    med = float(np.median(v))
    return med, 1.4826 * float(np.median(np.abs(v - med)))


def is_shadow_change(
    after: np.ndarray,
    before: np.ndarray,
    inside: np.ndarray,
    params: DetectParams = DEFAULT,
    suns: tuple[Sun, Sun] | None = None,
) -> bool:
    """Whether the change from ``before`` to ``after`` over ``inside`` is a cast shadow moved
    by another sun (see the module's description).

    Parameters
    ----------
    after, before : numpy.ndarray
        A window of AFTER and of BEFORE put on AFTER's grid and photometry (NaN: no data),
        larger than the candidate so that the ground around it sets the level.
    inside : numpy.ndarray
        Boolean, the candidate's box within the window.
    params : DetectParams
        ``t_low`` (what counts as changed) and the ``shadow_*`` thresholds.
    suns : tuple of Sun, optional
        BEFORE's and AFTER's sun on the window's grid (azimuth clockwise from its top). When
        their incidences differ, a shadow deep under the lower sun only is recognised by its
        length and direction.

    Returns
    -------
    bool
        True for a shadow change.
    """
    change, noise = _change_in(after, before, inside)
    level_a, spread_a = _robust(after)
    level_b, spread_b = _robust(before)
    if not all(np.isfinite(v) and v > 0 for v in (noise, spread_a, spread_b)):
        return False
    dark_at_a, core_at_a = _shadow_levels(level_a, spread_a, params)
    dark_at_b, core_at_b = _shadow_levels(level_b, spread_b, params)
    with np.errstate(invalid="ignore"):
        moved = inside & (np.abs(change) > params.t_low * noise)
        dark_a = after < dark_at_a
        dark_b = before < dark_at_b
    if not moved.any():
        return False
    near_a = cv2.dilate(dark_a.view(np.uint8), _CROSS).view(bool)
    near_b = cv2.dilate(dark_b.view(np.uint8), _CROSS).view(bool)
    energy = change[moved] ** 2
    on_dark = (near_a | near_b)[moved]
    if energy[on_dark].sum() < params.shadow_share * energy.sum():
        return False
    # the dark patches of each image that carry the change, and those deep somewhere, against
    # the texture (``shadow_core_sigma``) and in brightness (``shadow_depth``): a dip of the
    # ground's texture, or ground a few per cent darker, is not a shadow
    grown = cv2.dilate(moved.view(np.uint8), _CROSS).view(bool)
    with np.errstate(invalid="ignore"):
        deep_a = after < core_at_a
        deep_b = before < core_at_b
    patch_a = components_meeting(dark_a, grown)
    patch_b = components_meeting(dark_b, grown)
    deep_patch_a = patch_a & components_meeting(dark_a, deep_a)
    deep_patch_b = patch_b & components_meeting(dark_b, deep_b)
    if _paired(deep_patch_a, deep_patch_b, params):
        return True
    if suns is None:
        return False
    if abs(suns[1].incidence_deg - suns[0].incidence_deg) < params.shading.min_change_deg:
        return False
    # one sun lower: its shadow deep, the higher sun's dark and no longer, and further from it
    if suns[1].incidence_deg > suns[0].incidence_deg:
        low, high, low_sun = deep_patch_a, patch_b, suns[1]
    else:
        low, high, low_sun = deep_patch_b, patch_a, suns[0]
    if not (_paired(low, high, params) and high.sum() <= low.sum()):
        return False
    az = math.radians(low_sun.azimuth_deg)
    down_sun = np.array([-math.sin(az), math.cos(az)])  # (column, row), away from the sun
    return bool((_centroid(low) - _centroid(high)) @ down_sun > 0.0)


def object_under_shadow(
    after: np.ndarray,
    before: np.ndarray,
    inside: np.ndarray,
    change: str,
    suns: tuple[Sun, Sun],
    params: DetectParams = DEFAULT,
) -> tuple[float, float] | None:
    """Where an object stands whose change is mostly its own cast shadow (see the module's
    description), or None when it is not such a change.

    Parameters
    ----------
    after, before, inside : numpy.ndarray
        The windows and the candidate's box within them, as for :func:`is_shadow_change`.
    change : str
        The candidate's change: ``vanished`` (the object and its shadow are in BEFORE) or
        ``appeared`` (in AFTER); anything else is left where it is.
    suns : tuple of Sun
        BEFORE's and AFTER's sun on the window's grid (azimuth clockwise from its top).
    params : DetectParams
        ``t_low`` (what counts as changed), ``shadow_sigma``, ``shadow_core_sigma`` and
        ``shadow_depth`` (what is a deep shadow), ``shadow_share`` (how much of the change
        it must hold), ``shadow_lit_share`` (a lit part that must lie up-sun) and
        ``shadow_elongation`` (how much longer down-sun than across).

    Returns
    -------
    tuple of float or None
        The object's (column, row) in the window's pixels.
    """
    if change == "vanished":
        image, sun, sign = before, suns[0], 1.0  # the shadow gone: the ground brightened
    elif change == "appeared":
        image, sun, sign = after, suns[1], -1.0
    else:
        return None
    diff, noise = _change_in(after, before, inside)
    level, spread = _robust(image)
    if not all(np.isfinite(v) and v > 0 for v in (noise, level, spread)):
        return None
    dark_at, core_at = _shadow_levels(level, spread, params)
    with np.errstate(invalid="ignore"):
        changed = inside & (np.abs(diff) > params.t_low * noise)
        dark = image < dark_at
    near_dark = cv2.dilate(dark.view(np.uint8), _CROSS).view(bool)
    shadow = changed & (sign * diff > 0) & near_dark
    lit = changed & (sign * diff < 0)
    energy = np.where(changed, np.square(diff), 0.0)
    total = energy.sum()
    if not shadow.any() or energy[shadow].sum() < params.shadow_share * total:
        return None
    # the shadow as a whole deep (lit by the sky alone), not a patch of darker ground
    if not np.nanmedian(image[shadow]) < core_at:
        return None
    az = math.radians(sun.azimuth_deg)
    down_sun = np.array([-math.sin(az), math.cos(az)])  # (column, row), away from the sun
    rows, cols = np.nonzero(shadow)
    points = np.column_stack([cols, rows]).astype(np.float64)
    centre = points.mean(axis=0)
    if lit.any() and energy[lit].sum() >= params.shadow_lit_share * total:
        lit_rows, lit_cols = np.nonzero(lit)
        weights = energy[lit_rows, lit_cols]
        lit_centre = np.array([lit_cols @ weights, lit_rows @ weights]) / weights.sum()
        if (lit_centre - centre) @ down_sun >= 0.0:
            return None  # lit down-sun of its shadow: a hollow's far wall, not an object
    along = (points - centre) @ down_sun
    side = (points - centre) @ np.array([down_sun[1], -down_sun[0]])
    if along.std() <= params.shadow_elongation * side.std():
        return None  # no longer down-sun than across: a dark spot, or a shadow too short to matter
    col, row = centre + (float(along.min()) - 0.5) * down_sun  # the near end's pixel edge
    return float(col), float(row)


def _paired(patch_a: np.ndarray, patch_b: np.ndarray, params: DetectParams) -> bool:
    """Whether two dark patches can be one obstacle's shadows under two suns: both there,
    areas within ``shadow_area_ratio``, overlapping (IoU) from ``shadow_overlap_min`` to
    below ``shadow_overlap``."""
    area_a, area_b = int(patch_a.sum()), int(patch_b.sum())
    if not (area_a and area_b):
        return False
    if max(area_a, area_b) > params.shadow_area_ratio * min(area_a, area_b):
        return False  # a shadow lengthens with tan(incidence); it does not swallow a scene
    overlap = (patch_a & patch_b).sum() / max(int((patch_a | patch_b).sum()), 1)
    return bool(params.shadow_overlap_min <= overlap < params.shadow_overlap)


def _centroid(mask: np.ndarray) -> np.ndarray:
    """Mean (column, row) of a non-empty boolean mask."""
    rows, cols = np.nonzero(mask)
    return np.array([cols.mean(), rows.mean()])


def resolve_shadows(
    found: list[Candidate],
    read_after: Callable[[Window], np.ndarray],
    read_before: Callable[[Window], np.ndarray],
    phot: Photometry,
    width: int,
    height: int,
    params: DetectParams = DEFAULT,
    suns: tuple[Sun, Sun] | None = None,
    drop: bool = True,
) -> tuple[list[Candidate], int]:
    """``found`` less the candidates that are cast shadows moved by another sun
    (:func:`is_shadow_change`; when ``drop``), with those whose change is mostly an object's
    own shadow placed at the object (:func:`object_under_shadow`; when the suns are known and
    ``params.shadow_place``). Each is judged in a window of ``params.shadow_margin`` px (at
    least its own size) around its box; the windows within one 512-px cell are read at once.

    Parameters
    ----------
    found : list of Candidate
        Candidates with their boxes in AFTER's pixels (those placed are changed in place:
        ``x`` and ``y``, the change's centroid kept in ``features["centroid_xy"]``).
    read_after, read_before, phot, width, height
        The tile loop's readers (AFTER; BEFORE on AFTER's grid), photometry and image size.
    params : DetectParams
        The shadow test's parameters.
    suns : tuple of Sun, optional
        BEFORE's and AFTER's sun on AFTER's grid, when both are known.
    drop : bool
        Whether shadows moved by another sun are dropped (False: the suns are the same).

    Returns
    -------
    list of Candidate
        The candidates kept, in their order (not renumbered).
    int
        How many were placed at the object casting their shadow.
    """
    place = suns is not None and params.shadow_place
    boxes = [_window_of(c.bbox, params.shadow_margin, width, height) for c in found]
    # one read per cell of candidates (a flood of shadows is thousands of small windows)
    cells: dict[tuple[int, int], list[int]] = {}
    for i, (wx0, wy0, wx1, wy1) in enumerate(boxes):
        big = wx1 - wx0 > _CELL or wy1 - wy0 > _CELL
        cells.setdefault((-1 - i, 0) if big else (wx0 // _CELL, wy0 // _CELL), []).append(i)
    shadow = np.zeros(len(found), bool)
    placed = 0
    for members in cells.values():
        ux0, uy0 = min(boxes[i][0] for i in members), min(boxes[i][1] for i in members)
        ux1, uy1 = max(boxes[i][2] for i in members), max(boxes[i][3] for i in members)
        window = Window(ux0, uy0, ux1 - ux0, uy1 - uy0)
        after = np.asarray(read_after(window), np.float64)
        before = phot.level(np.array(read_before(window), np.float64), window)
        for i in members:
            wx0, wy0, wx1, wy1 = boxes[i]
            x0, y0, x1, y1 = found[i].bbox
            part = (slice(wy0 - uy0, wy1 - uy0), slice(wx0 - ux0, wx1 - ux0))
            inside = np.zeros((wy1 - wy0, wx1 - wx0), bool)
            inside[y0 - wy0 : y1 + 1 - wy0, x0 - wx0 : x1 + 1 - wx0] = True
            if drop:
                shadow[i] = is_shadow_change(after[part], before[part], inside, params, suns)
            if place and not shadow[i]:
                at = object_under_shadow(
                    after[part], before[part], inside, found[i].change, suns, params
                )
                if at is not None:
                    cand = found[i]
                    cand.features["centroid_xy"] = [round(cand.x, 2), round(cand.y, 2)]
                    cand.x, cand.y = wx0 + at[0], wy0 + at[1]
                    placed += 1
    return [c for c, s in zip(found, shadow, strict=True) if not s], placed


def _window_of(
    bbox: tuple[int, int, int, int], margin: int, width: int, height: int
) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1), x1 and y1 exclusive: ``bbox`` (inclusive) grown by ``margin`` px or
    its own size, whichever is more, clipped to the image."""
    x0, y0, x1, y1 = bbox
    m = max(margin, x1 - x0 + 1, y1 - y0 + 1)
    return max(0, x0 - m), max(0, y0 - m), min(width, x1 + 1 + m), min(height, y1 + 1 + m)
