"""Candidates that the other sun's shading of unchanged relief accounts for.

With both suns known, the linear re-shading of ``shading`` needs no fit: BEFORE's shading
structure along its sun ``A`` and the slope across it ``R`` become, under AFTER's sun,
``rho (cos t A + sin t R)`` (``rho`` the ratio of the suns' ``tan i``, ``t`` the azimuths'
difference), so unchanged relief leaves ``(rho cos t - 1) A + rho sin t R`` in the residual.
A candidate is re-lit relief when that prediction accounts for most of its change energy: a
crater bowl whose walls another sun lights differently. Its one free coefficient is a gain
``g`` on AFTER's predicted structure ``rho (cos t A + sin t R)``, between 1 and
``ShadingParams.relit_gain``: the linear prediction is a floor of how much another sun
re-shades relief (the slope across BEFORE's sun is damped where its shading shows little of
it, and walls turned from a low sun darken faster than linearly, down to shadow), never a
ceiling. An object that appeared has no structure in BEFORE to predict it from; one that
vanished leaves AFTER with none of BEFORE's structure there, which a gain of at least 1 on
that structure only accounts for less.
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
from orbitscout.detect.shading import shading_slope, sun_kernels
from orbitscout.detect.significance import Support


def relief_structure(before: np.ndarray, params: DetectParams) -> np.ndarray:
    """BEFORE's shading structure that the prediction re-lights: ``before`` less its blur
    over ``params.shading.scale`` px.

    Parameters
    ----------
    before : numpy.ndarray
        A window of BEFORE on AFTER's grid and brightness (no NaN).
    params : DetectParams
        ``shading.scale``.

    Returns
    -------
    numpy.ndarray
        The structure, float32.
    """
    level = before.astype(np.float32)
    return level - Support(None).smoothed(level, params.shading.scale)


def relief_prediction(
    structure: np.ndarray, suns: tuple[Sun, Sun], params: DetectParams
) -> np.ndarray:
    """The residual AFTER - BEFORE that the suns' difference alone predicts for BEFORE's
    relief, over the same pixels.

    Parameters
    ----------
    structure : numpy.ndarray
        BEFORE's shading structure over a window (:func:`relief_structure`).
    suns : tuple of Sun
        BEFORE's and AFTER's suns on AFTER's grid.
    params : DetectParams
        ``shading.relit_kernel`` and ``shading.eps`` (the sun kernels).

    Returns
    -------
    numpy.ndarray
        The predicted residual, float32.
    """
    sun_b, sun_a = suns
    rho = shading_slope(sun_a) / shading_slope(sun_b)
    turn = math.radians(sun_a.azimuth_deg - sun_b.azimuth_deg)
    along, across = sun_kernels(sun_b.azimuth_deg, params.shading.relit_kernel, params.shading.eps)
    # one filter: the prediction is linear in both parts
    kernel = (rho * math.cos(turn) - 1.0) * along + rho * math.sin(turn) * across
    return cv2.filter2D(
        structure.astype(np.float32, copy=False),
        -1,
        kernel.astype(np.float32),
        borderType=cv2.BORDER_REFLECT,
    )


def unexplained_share(
    after: np.ndarray, before: np.ndarray, inside: np.ndarray, suns: tuple[Sun, Sun],
    params: DetectParams = DEFAULT,
) -> float:  # fmt: skip
    """The share of a candidate's change energy that the suns' re-shading of BEFORE's relief
    leaves unexplained.

    Over ``inside``, the energy of the change less the predicted one over the change's own,
    each less its median outside the box (what the block photometry left). The predicted
    change is AFTER's predicted structure (:func:`relief_prediction` plus BEFORE's,
    :func:`relief_structure`) times the gain that fits AFTER's structure best, held between 1
    and ``params.shading.relit_gain``, less BEFORE's structure.

    Parameters
    ----------
    after, before : numpy.ndarray
        A window of AFTER, and of BEFORE on AFTER's grid and brightness (NaN: no data).
    inside : numpy.ndarray
        Boolean, the candidate's box in the window.
    suns : tuple of Sun
        BEFORE's and AFTER's suns on AFTER's grid.
    params : DetectParams
        The prediction's filters (:func:`relief_prediction`) and the gain's upper bound
        (``shading.relit_gain``).

    Returns
    -------
    float
        1 where nothing is predicted, near 0 for re-lit relief, above 1 where the prediction
        runs against the change; NaN where the box or the ground around it holds no data.
    """
    ok = np.isfinite(after) & np.isfinite(before)
    if not ok[inside].any() or not ok[~inside].any():
        return math.nan
    fill = float(np.median(before[ok]))
    outside = ok & ~inside
    use = ok & inside
    change = after - before
    change = change - np.median(change[outside])
    structure = relief_structure(np.where(ok, before, fill), params)
    predicted = relief_prediction(structure, suns, params)
    predicted = predicted - np.median(predicted[outside])
    structure = structure - np.median(structure[outside])
    energy = float(np.sum(change[use] ** 2))
    if energy <= 0:
        return math.nan
    # AFTER's structure (the change plus BEFORE's) against its prediction, over the box
    seen, lit = change[use] + structure[use], predicted[use] + structure[use]
    power = float(np.sum(lit**2))
    gain = float(np.sum(seen * lit)) / power if power > 0 else 1.0
    gain = min(max(gain, 1.0), params.shading.relit_gain)
    return float(np.sum((seen - gain * lit) ** 2)) / energy


def drop_relit(
    found: list[Candidate],
    read_after: Callable[[Window], np.ndarray],
    read_before: Callable[[Window], np.ndarray],
    phot: Photometry,
    width: int,
    height: int,
    suns: tuple[Sun, Sun],
    params: DetectParams = DEFAULT,
) -> list[Candidate]:
    """``found`` less the candidates whose change the suns' re-shading of BEFORE's relief
    accounts for: at most ``params.relit_share`` of their change energy left
    (:func:`unexplained_share`).

    Parameters
    ----------
    found : list of Candidate
        Candidates with their boxes in AFTER's pixels; each gets its share in
        ``features["relit_unexplained"]`` (None: no data to judge it on, and it is kept).
    read_after, read_before, phot, width, height
        The tile loop's readers (AFTER; BEFORE on AFTER's grid), photometry and image size.
        Each candidate is judged in its box grown by the prediction's reach (three times the
        structure's blur and half the sun kernels).
    suns : tuple of Sun
        BEFORE's and AFTER's suns on AFTER's grid.
    params : DetectParams
        ``relit_share`` and the prediction's filters.

    Returns
    -------
    list of Candidate
        The candidates kept, in their order (not renumbered).
    """
    margin = math.ceil(3 * params.shading.scale) + params.shading.relit_kernel // 2
    kept = []
    for cand in found:
        x0, y0, x1, y1 = cand.bbox
        wx0, wy0 = max(0, x0 - margin), max(0, y0 - margin)
        wx1, wy1 = min(width, x1 + 1 + margin), min(height, y1 + 1 + margin)
        window = Window(wx0, wy0, wx1 - wx0, wy1 - wy0)
        after = np.asarray(read_after(window), np.float64)
        before = phot.level(np.array(read_before(window), np.float64), window)
        inside = np.zeros(after.shape, bool)
        inside[y0 - wy0 : y1 + 1 - wy0, x0 - wx0 : x1 + 1 - wx0] = True
        share = unexplained_share(after, before, inside, suns, params)
        cand.features["relit_unexplained"] = None if math.isnan(share) else round(share, 3)
        if not share <= params.relit_share:
            kept.append(cand)
    return kept
