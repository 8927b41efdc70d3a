"""Possible moves: a detection that vanished and a like one that appeared nearby.

A boulder that rolled, a parachute shifted by wind or an ice block fallen from a scarp leaves
two detections: where it was (``vanished``) and where it is (``appeared``). They are linked
when both are more probably changes than not (``change_score``), lie within
``DetectParams.move_max_m`` (``move_max_px`` without a pixel size), are of like area and like
contrast magnitude, and mirror each other's polarity (a dark object brightens the ground it left
as much as it darkens the ground it reached). Under two suns an object's change is mostly its
cast shadow, whose length goes with tan *i*: the three likenesses are widened by the suns'
ratio of tan *i*. Each end takes part in one link at most, the nearest pairs first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from orbitscout.core.candidate import Candidate
from orbitscout.core.geometry import bearing_deg
from orbitscout.core.illumination import Sun
from orbitscout.detect.parameters import DEFAULT, DetectParams
from orbitscout.detect.shading import shading_slope


def link_moves(
    found: list[Candidate],
    gsd_m: float | None = None,
    params: DetectParams = DEFAULT,
    suns: Sequence[Sun] | None = None,
) -> list[Candidate]:
    """Link each vanished detection to a like appeared one nearby, as a possible move.

    Call it on the final, numbered detections (ids are what ``moved_from`` names). Every
    candidate's ``moved_from`` and ``move`` are set anew: on the appeared end of a link,
    ``moved_from`` is the vanished end's id and ``move`` holds ``distance_m`` (or
    ``distance_px`` without a pixel size) and ``bearing_deg`` (clockwise from north, from the
    vanished end to the appeared one; north is taken as up, -y in pixels); elsewhere both are
    None.

    Parameters
    ----------
    found : list of Candidate
        The detections, numbered.
    gsd_m : float or None
        The AFTER image's pixel size (m); None: distances and ``move_max_px`` in pixels.
    params : DetectParams
        The move tolerances (``move_max_m``, ``move_max_px``, ``move_size_ratio``,
        ``move_contrast_ratio``, ``move_polarity_tol``, ``move_sun_stretch_max``,
        ``move_min_change_score``).
    suns : sequence of two Sun, optional
        BEFORE's and AFTER's suns; None: taken as one sun.

    Returns
    -------
    list of Candidate
        ``found`` itself, in its order, with the links set.
    """
    for cand in found:
        cand.moved_from = None
        cand.move = None
    scale = gsd_m if gsd_m is not None and gsd_m > 0 else None
    reach = params.move_max_m if scale is not None else params.move_max_px
    stretch = sun_stretch(suns, params.move_sun_stretch_max)
    ends = [c for c in found if _probably_changed(c, params.move_min_change_score)]
    gone = [c for c in ends if c.change == "vanished"]
    new = [c for c in ends if c.change == "appeared"]
    pairs = []
    for a in new:
        for v in gone:
            distance = math.hypot(a.x - v.x, a.y - v.y) * (scale or 1.0)
            if distance <= reach and _alike(v, a, params, stretch):
                pairs.append((distance, v.id, a.id, v, a))
    used_gone: set[int] = set()
    used_new: set[int] = set()
    for distance, _, _, v, a in sorted(pairs, key=lambda p: p[:3]):
        if id(v) in used_gone or id(a) in used_new:
            continue
        used_gone.add(id(v))
        used_new.add(id(a))
        a.moved_from = v.id
        key = "distance_m" if scale is not None else "distance_px"
        a.move = {
            key: round(distance, 2),
            "bearing_deg": round(float(bearing_deg(a.x - v.x, v.y - a.y)), 1),
        }
    return found


def sun_stretch(suns: Sequence[Sun] | None, most: float) -> float:
    """How much more two ends of one moved object may differ under two suns: the larger
    tan *i* over the smaller (``shading.shading_slope``: incidence held within
    ``SHADING_INCIDENCE_DEG``), 1 for one sun or none known, at most ``most``.

    Parameters
    ----------
    suns : sequence of two Sun or None
        BEFORE's and AFTER's suns.
    most : float
        The largest stretch (>= 1).

    Returns
    -------
    float
        The factor, between 1 and ``most``.
    """
    if suns is None:
        return 1.0
    tans = [shading_slope(s) for s in suns]
    return min(most, max(tans) / min(tans))


def _probably_changed(cand: Candidate, least: float) -> bool:
    """Whether a detection's ``change_score`` reaches ``least`` (one without a score does)."""
    return cand.change_score is None or cand.change_score >= least


def _alike(
    gone: Candidate, new: Candidate, params: DetectParams = DEFAULT, stretch: float = 1.0
) -> bool:
    """Whether two detections may be one object at two places: areas and contrast
    magnitudes within their ratios, and one's bright share the other's dark share, each
    tolerance widened by ``stretch``."""
    if _ratio(gone.area_px, new.area_px) > params.move_size_ratio * stretch:
        return False
    magnitude = [c.contrast_bright - c.contrast_dark for c in (gone, new)]
    if _ratio(*magnitude) > params.move_contrast_ratio * stretch:
        return False
    polarity = abs(gone.bright_fraction - (1.0 - new.bright_fraction))
    return polarity <= min(1.0, params.move_polarity_tol * stretch)


def _ratio(a: float, b: float) -> float:
    """The larger of two positive values over the smaller (infinity if either is not
    positive)."""
    if not (a > 0 and b > 0):
        return math.inf
    return max(a, b) / min(a, b)
