"""Separating objects that touch: one candidate per object where their changes join.

A candidate is a connected region of significant change, so two objects joined only through
faint change (a lander's blast zone reaching its backshell, a dust patch or a dust-devil track
running between pieces of hardware) make one candidate that stands for neither. As in the
multi-threshold deblending of astronomical source extractors, the candidate's significance is
cut at rising levels: where it falls apart into parts that each rise far above the level still
joining them, each part becomes a candidate of its own, and every pixel of the region goes to
the part on whose slope it lies (a watershed), the faint ground that joined them to the part at
its centre. Objects joined by stronger change than the saddle (``DetectParams.saddle_sigma``:
the debris inside one crash fan, a crater and its rays) stay one candidate. The thresholds are
``DetectParams.deblend`` (``parameters.DeblendParams``).

The significance is recomputed over the candidate's noise blocks (``regions.tile_maps``), which
gives the values of the tile loop exactly: the split does not depend on the tiling.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import numpy as np
from skimage.segmentation import watershed

from orbitscout.core.candidate import Candidate
from orbitscout.core.window import Window
from orbitscout.detect import candidates, regions
from orbitscout.detect.parameters import DEFAULT, DeblendParams, DetectParams
from orbitscout.detect.photometry import Photometry
from orbitscout.detect.shading import Reshading
from orbitscout.detect.significance import BLOCK


def deblend(
    found: list[Candidate],
    read_after: Callable[[Window], np.ndarray],
    read_before: Callable[[Window], np.ndarray],
    phot: Photometry,
    width: int,
    height: int,
    gsd_m: float | None = None,
    params: DetectParams = DEFAULT,
    reshading: Reshading | None = None,
    read_dtm: Callable[[Window], np.ndarray] | None = None,
    sun_change_deg: float | None = None,
) -> list[Candidate]:
    """``found`` with every candidate that holds several objects replaced by one candidate per
    object, renumbered.

    Parameters
    ----------
    found : list of Candidate
        The tile loop's candidates (``candidates.candidates``).
    read_after, read_before, phot, width, height
        The readers, photometry and image size of the tile loop.
    gsd_m : float or None
        The AFTER image's pixel size (m).
    params : DetectParams
        The tile loop's parameters; ``params.deblend`` says how candidates are split
        (``enabled`` False: ``found`` is returned renumbered, unsplit).
    reshading : Reshading or None
        The tile loop's modelled re-shading (``tiles.detect_changes``), so that the recomputed
        significance is the tile loop's.
    read_dtm : callable or None
        The tile loop's DTM reader, for a ``"dtm"`` re-shading.
    sun_change_deg : float or None
        The angle between the images' suns (degrees; None: unknown), for the parts'
        ``change_score``.

    Returns
    -------
    list of Candidate
        Sorted by score and numbered from 1.
    """
    d = params.deblend
    out: list[Candidate] = []
    for cand in found:
        x0, y0, x1, y1 = cand.bbox
        parts = None
        # each object must reach the peak: a weaker candidate holds at most one
        side = max(x1 - x0, y1 - y0) + 1
        if d.enabled and d.min_side <= side <= d.max_side and cand.peak_sigma >= params.peak_sigma:
            core = _block_window(cand.bbox, width, height)
            maps = regions.tile_maps(
                core, read_after, read_before, phot, width, height, params, reshading, read_dtm
            )
            others = [c.bbox for c in found if c is not cand]
            parts = split(maps, cand.bbox, others, gsd_m, sun_change_deg)
        out.extend(parts or [cand])
    return candidates.numbered(out)


def _block_window(bbox: tuple[int, int, int, int], width: int, height: int) -> Window:
    """The noise blocks under ``bbox`` (x0, y0, x1, y1 inclusive), clipped to the image."""
    x0, y0 = bbox[0] // BLOCK * BLOCK, bbox[1] // BLOCK * BLOCK
    x1 = min(width, -(-(bbox[2] + 1) // BLOCK) * BLOCK)
    y1 = min(height, -(-(bbox[3] + 1) // BLOCK) * BLOCK)
    return Window(x0, y0, x1 - x0, y1 - y0)


def split(
    maps: regions.TileMaps,
    bbox: tuple[int, int, int, int],
    others: list[tuple[int, int, int, int]] = (),
    gsd_m: float | None = None,
    sun_change_deg: float | None = None,
) -> list[Candidate] | None:
    """The objects of the candidate whose box is ``bbox`` (image pixels, inclusive), measured
    as candidates (``sun_change_deg`` for their ``change_score``), or None where it holds
    one. ``others`` are the boxes of the other candidates: what lies inside one of them is
    theirs. The parameters are ``maps.params``.

    Each object keeps the pixels of its watershed basin down to a ``deblend.prominence``-th of
    its peak (not below the saddle); the fainter ground that joined them goes to the object
    nearest its centre (a blast zone to its lander, not to the backshell lying at its edge)."""
    params = maps.params
    box = (
        slice(bbox[1] - maps.y0, bbox[3] - maps.y0 + 1),
        slice(bbox[0] - maps.x0, bbox[2] - maps.x0 + 1),
    )
    member = regions.components_meeting(maps.region[box], maps.seed[box])  # its regions...
    gap = np.ones((2 * params.merge_gap + 1,) * 2, np.uint8)
    count, groups, stats, _ = cv2.connectedComponentsWithStats(  # ...joined within merge_gap
        cv2.dilate(member.view(np.uint8), gap), connectivity=8, ltype=cv2.CV_32S
    )
    theirs = np.zeros(count, bool)
    for k in range(1, count):
        gx0 = stats[k, cv2.CC_STAT_LEFT] + bbox[0]
        gy0 = stats[k, cv2.CC_STAT_TOP] + bbox[1]
        gx1 = gx0 + stats[k, cv2.CC_STAT_WIDTH] - 1
        gy1 = gy0 + stats[k, cv2.CC_STAT_HEIGHT] - 1
        theirs[k] = any(o[0] <= gx0 and o[1] <= gy0 and gx1 <= o[2] and gy1 <= o[3] for o in others)
    theirs[0] = True
    domain = ~theirs[groups]
    member &= domain
    # a bright object and its dark halo meet at a line of zero change: look across it
    level = cv2.dilate(maps.strength[box], gap)
    objects = _objects(level, domain, params.t_low, params)
    if len(objects) < 2:
        return None
    markers = np.zeros(domain.shape, np.int32)
    for k, core in enumerate(objects, start=1):
        markers[core] = k
    basins = watershed(-level, markers, mask=domain)
    peaks = np.zeros(len(objects) + 1, np.float32)
    np.maximum.at(peaks, basins[member], level[member])
    floor = np.maximum(params.saddle_sigma, peaks[basins] / params.deblend.prominence)
    own = member & (basins > 0) & (level >= floor)
    parts = _host_faint_ground(
        np.where(own, basins, 0).astype(np.int32), member & ~own, params.deblend
    )
    count = int(parts.max())
    if count < 2:
        return None
    whole = np.zeros(maps.strength.shape, np.int32)
    whole[box] = parts
    return candidates.measure_candidates(maps.measure(whole, count), gsd_m, params, sun_change_deg)


def _host_faint_ground(
    parts: np.ndarray, faint: np.ndarray, d: DeblendParams = DEFAULT.deblend
) -> np.ndarray:
    """``parts`` (each object's own pixels) with objects that lie closer than
    ``d.separation`` times the sum of their radii joined (the pieces of one crash fan), and
    the ``faint`` ground that joined them given to the object nearest its centre, along with
    every object within ``d.centre`` of its radius from that centre (a vehicle at the centre
    of its blast zone, a bright core inside its halo); labels made consecutive."""
    n = int(parts.max()) + 1
    rows, cols = np.nonzero(parts)
    label = parts[rows, cols]
    size = np.bincount(label, minlength=n).astype(np.float64)
    size[0] = 1.0
    cy, cx = np.bincount(label, rows, n) / size, np.bincount(label, cols, n) / size
    radius = np.sqrt(size / math.pi)
    uf = regions.UnionFind(n)
    for i in range(1, n):
        for j in range(i + 1, n):
            if math.hypot(cy[i] - cy[j], cx[i] - cx[j]) < d.separation * (radius[i] + radius[j]):
                uf.union(i, j)
    if faint.any():
        fy, fx = (float(v.mean()) for v in np.nonzero(faint))
        distance = np.hypot(cy - fy, cx - fx)
        distance[0] = np.inf
        host = int(np.argmin(distance))
        reach = d.centre * math.sqrt(np.count_nonzero(faint) / math.pi)
        for k in np.flatnonzero(distance < reach):
            uf.union(host, int(k))
        parts = np.where(faint, host, parts)
    return uf.groups()[parts].astype(np.int32)


def _objects(
    level: np.ndarray, domain: np.ndarray, start: float, params: DetectParams = DEFAULT
) -> list[np.ndarray]:
    """Cores of the objects in ``domain``: cut at levels rising by ``deblend.step`` from
    ``start`` (up to the saddle), the first parts that each reach the peak and
    ``deblend.prominence`` times the cut (with ``deblend.min_core_px`` pixels), split again
    the same way; ``[domain]`` where it does not fall apart."""
    d = params.deblend
    peak, saddle = params.peak_sigma, params.saddle_sigma
    cut = start * d.step
    while cut <= saddle:
        count, labels, stats, _ = cv2.connectedComponentsWithStats(
            ((level >= cut) & domain).view(np.uint8), connectivity=8, ltype=cv2.CV_32S
        )
        peaks = np.zeros(count, np.float32)
        np.maximum.at(peaks, labels[domain], level[domain])
        strong = [
            k
            for k in range(1, count)
            if peaks[k] >= max(peak, d.prominence * cut)
            and stats[k, cv2.CC_STAT_AREA] >= d.min_core_px
        ]
        if len(strong) >= 2:
            return [obj for k in strong for obj in _objects(level, labels == k, cut, params)]
        cut *= d.step
    return [domain]
