"""Connected regions over the significance thresholds and their additive moments."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from orbitscout.core.window import Window
from orbitscout.detect.parameters import DEFAULT, DetectParams
from orbitscout.detect.photometry import Photometry
from orbitscout.detect.shading import Reshading
from orbitscout.detect.significance import (
    PYRAMID,
    BlockNoise,
    Support,
    clutter_reach,
    halo,
    significance,
)

MOMENTS = (
    "n",
    "w",
    "wx",
    "wy",
    "wxx",
    "wyy",
    "wxy",
    "r",
    "rpos",
    "rneg",
    "level",
    "wpx",
    "wpy",
    "wp",
    "wnx",
    "wny",
    "wn",
    "npos",
    "nneg",
    "rr",
    "ss",
    "sa",
    "sab",
    "sb1",
    "sa1",
    "nsharp",
)


@dataclass
class Regions:
    """Additive moments of labelled regions, plus extremes, as parallel arrays."""

    sums: dict[str, np.ndarray]
    peak: np.ndarray  # largest |significance|
    seeded: np.ndarray  # holds a pixel over t_high
    bbox: np.ndarray  # (n, 4): x0, y0, x1, y1 inclusive

    @classmethod
    def empty(cls) -> Regions:
        return cls(
            {k: np.zeros(0) for k in MOMENTS}, np.zeros(0), np.zeros(0, bool), np.zeros((0, 4), int)
        )

    def __len__(self) -> int:
        return self.peak.size

    def subset(self, keep: np.ndarray) -> Regions:
        return Regions(
            {k: v[keep] for k, v in self.sums.items()},
            self.peak[keep],
            self.seeded[keep],
            self.bbox[keep],
        )


def measure_regions(
    labels: np.ndarray,
    count: int,
    resid: np.ndarray,
    sig: np.ndarray,
    level: np.ndarray,
    seed: np.ndarray,
    x0: int,
    y0: int,
    structure: np.ndarray | None = None,
    noise: BlockNoise | None = None,
    params: DetectParams = DEFAULT,
) -> Regions:
    """Moments of regions 1..count of ``labels`` (arrays cover the same pixels; the array's
    pixel (0, 0) is image pixel (x0, y0)). ``structure`` holds the BEFORE and AFTER images'
    own local structure (shape (2, *labels.shape)), whose sums (``sb1``, ``sa1``),
    energies (``ss``, ``sa``) and product (``sab``) the change is weighed against and told
    appeared, vanished or altered by; ``noise`` the per-pixel noise of the residual, which
    sets how much each pixel weighs in the centroid and shape; the pixels over
    ``params.t_low`` count towards the region's area."""
    rows, cols = np.divmod(np.flatnonzero(labels > 0), labels.shape[1])  # bool: numpy's fast path
    lab = labels[rows, cols] - 1
    r = resid[rows, cols].astype(np.float64)
    core = np.abs(sig[rows, cols]) >= params.t_low
    # centroid and shape weigh each pixel by how far its own change stands above the noise
    # (soft threshold at 2 sigma), so the noisy wings of a region barely count
    floor = 2.0 * noise.at(rows, cols) if noise is not None else 0.0
    w = np.maximum(np.abs(r) - floor, 0.0) + 1e-3 * np.abs(r)
    sharp = np.abs(r) >= 1.25 * floor
    x = cols + float(x0)
    y = rows + float(y0)
    pos = r > 0
    terms = {
        "n": core.astype(float),
        "w": w,
        "wx": w * x,
        "wy": w * y,
        "wxx": w * x * x,
        "wyy": w * y * y,
        "wxy": w * x * y,
        "r": r,
        "rpos": np.where(pos, r, 0.0),
        "rneg": np.where(pos, 0.0, r),
        "level": level[rows, cols].astype(np.float64),
        "wpx": np.where(pos, w * x, 0.0),
        "wpy": np.where(pos, w * y, 0.0),
        "wp": np.where(pos, w, 0.0),
        "wnx": np.where(pos, 0.0, w * x),
        "wny": np.where(pos, 0.0, w * y),
        "wn": np.where(pos, 0.0, w),
        "npos": (core & pos).astype(float),
        "nneg": (core & ~pos).astype(float),
        "rr": r * r,
        "nsharp": (sharp & core).astype(float),
    }
    sb, sa = (
        (structure[k][rows, cols].astype(np.float64) for k in (0, 1))
        if structure is not None
        else (np.zeros_like(r), np.zeros_like(r))
    )
    terms.update(ss=sb * sb, sa=sa * sa, sab=sb * sa, sb1=sb, sa1=sa)
    xs, ys = cols + x0, rows + y0
    boxes = np.column_stack([xs, ys, xs, ys])
    return _aggregate(lab, count, terms, np.abs(sig[rows, cols]), seed[rows, cols], boxes)


def combine_regions(parts: list[Regions], groups: np.ndarray) -> Regions:
    """Merge concatenated regions that share a group id (0..k-1)."""
    k = int(groups.max()) + 1 if groups.size else 0
    terms = {key: np.concatenate([p.sums[key] for p in parts]) for key in MOMENTS}
    return _aggregate(
        groups,
        k,
        terms,
        np.concatenate([p.peak for p in parts]),
        np.concatenate([p.seeded for p in parts]),
        np.concatenate([p.bbox for p in parts]),
    )


def _aggregate(
    groups: np.ndarray,
    k: int,
    terms: dict[str, np.ndarray],
    peak: np.ndarray,
    seeded: np.ndarray,
    boxes: np.ndarray,
) -> Regions:
    """Regions 0..k-1 from items labelled by ``groups``: moments add, peaks take the largest,
    seeds any, boxes (x0, y0, x1, y1) their union."""
    sums = {key: np.bincount(groups, terms[key], minlength=k) for key in MOMENTS}
    top = np.zeros(k)
    np.maximum.at(top, groups, peak)
    any_seed = np.zeros(k, bool)
    np.logical_or.at(any_seed, groups, seeded)
    bbox = np.empty((k, 4), int)
    bbox[:, 0:2] = np.iinfo(np.int64).max
    bbox[:, 2:4] = np.iinfo(np.int64).min
    for col in (0, 1):
        np.minimum.at(bbox[:, col], groups, boxes[:, col])
        np.maximum.at(bbox[:, col + 2], groups, boxes[:, col + 2])
    return Regions(sums, top, any_seed, bbox)


def components_meeting(mask: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """The 8-connected parts of boolean ``mask`` that hold a pixel of ``seeds``."""
    count, labels = cv2.connectedComponents(mask.view(np.uint8), connectivity=8, ltype=cv2.CV_32S)
    keep = np.zeros(count, bool)
    keep[labels[seeds & mask]] = True
    keep[0] = False  # the background
    return keep[labels]


def split_by_sign(
    labels: np.ndarray, count: int, sig: np.ndarray, seed: np.ndarray
) -> tuple[int, np.ndarray]:
    """Regions 1..count of ``labels`` with each one that holds seed pixels (``seed``) of both
    signs of ``sig`` cut in two or more: one part per 8-connected run of one sign that holds
    a seed, each of the region's other pixels given to the part whose pixel is nearest.

    The two ends of a short move (the object gone from one place, new at the other) touch
    at the significance that joins a region, and one region would stand for both; a bright
    object with a dark halo of its own stays one region unless the halo holds a seed, and
    then its parts, both new, merge again (``candidates``). Regions of one sign are
    unchanged. Returns the new count and labels: each cut region's first part keeps its
    number, the others are numbered after ``count``. In the tile loop a region is cut by the
    seeds in its tile; parts that touch across a tile border are joined again by the stitch."""
    from scipy import ndimage as ndi

    rows, cols = np.nonzero(seed & (labels > 0))
    lab, positive = labels[rows, cols], sig[rows, cols] > 0
    has_pos, has_neg = np.zeros(count + 1, bool), np.zeros(count + 1, bool)
    has_pos[lab[positive]] = True
    has_neg[lab[~positive]] = True
    both = has_pos & has_neg
    if not both.any():
        return count, labels
    out = labels.copy()
    objects = ndi.find_objects(labels)
    for k in np.flatnonzero(both):
        box = objects[k - 1]
        own = labels[box] == k
        runs = np.zeros(own.shape, np.int32)
        n_runs = 0
        for sign in (1, -1):
            side = own & (sign * sig[box] > 0)
            n, part = cv2.connectedComponents(side.view(np.uint8), connectivity=8, ltype=cv2.CV_32S)
            seeded = np.zeros(n, bool)
            seeded[part[side & seed[box]]] = True
            seeded[0] = False
            ids = np.zeros(n, np.int32)
            ids[seeded] = n_runs + 1 + np.arange(int(seeded.sum()))
            runs = np.where(side & seeded[part], ids[part], runs)
            n_runs += int(seeded.sum())
        _, (iy, ix) = ndi.distance_transform_edt(runs == 0, return_indices=True)
        nearest = runs[iy, ix]
        # the first part keeps the region's number, the others are numbered after the last
        new_id = np.concatenate([[0, k], count + np.arange(1, n_runs)])
        out[box] = np.where(own, new_id[nearest], out[box])
        count += n_runs - 1
    return count, out


class UnionFind:
    """Disjoint sets over 0..n-1."""

    def __init__(self, n: int):
        self.parent = np.arange(n)

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:
            self.parent[i], i = root, self.parent[i]
        return root

    def union(self, i: int, j: int) -> None:
        ri, rj = self.find(i), self.find(j)
        if ri != rj:
            self.parent[max(ri, rj)] = min(ri, rj)

    def groups(self) -> np.ndarray:
        """Consecutive group ids, one per set."""
        roots = self.parent.copy()
        while True:  # pointer jumping until every node points at its root
            nxt = roots[roots]
            if np.array_equal(nxt, roots):
                break
            roots = nxt
        _, ids = np.unique(roots, return_inverse=True)
        return ids


@dataclass
class TileMaps:
    """The per-pixel results of one tile core: significance (signed, and its absolute value
    ``strength``), residual, BEFORE's level, the local structure of BEFORE and of AFTER
    (shape (2, h, w), where the significance was computed: around every region that may
    count), the block noise and displacement, the valid pixels (None: all), the pixel
    (x0, y0) of the image at the core's (0, 0), and the parameters they were computed with."""

    sig: np.ndarray
    strength: np.ndarray
    resid: np.ndarray
    level: np.ndarray
    structure: np.ndarray
    noise: BlockNoise
    moved: BlockNoise
    ok: np.ndarray | None
    x0: int
    y0: int
    params: DetectParams = DEFAULT

    @property
    def seed(self) -> np.ndarray:
        """Pixels significant enough to make a candidate (``params.t_high``)."""
        seed = self.strength >= self.params.t_high
        return seed if self.ok is None else seed & self.ok

    @property
    def region(self) -> np.ndarray:
        """Pixels significant enough to join a candidate (``params.t_low``)."""
        region = self.strength >= self.params.t_low
        return region if self.ok is None else region & self.ok

    @property
    def valid_px(self) -> int:
        """Pixels of the core that were searched."""
        return self.strength.size if self.ok is None else int(self.ok.sum())

    def measure(self, labels: np.ndarray, count: int) -> Regions:
        """The moments of regions 1..count of ``labels`` (over the core)."""
        return measure_regions(
            labels,
            count,
            self.resid,
            self.sig,
            self.level,
            self.seed,
            self.x0,
            self.y0,
            self.structure,
            self.noise,
            self.params,
        )


def tile_maps(
    core: Window,
    read_after: Callable[[Window], np.ndarray],
    read_before: Callable[[Window], np.ndarray],
    phot: Photometry,
    width: int,
    height: int,
    params: DetectParams = DEFAULT,
    reshading: Reshading | None = None,
    read_dtm: Callable[[Window], np.ndarray] | None = None,
) -> TileMaps:
    """Residual and significance over ``core`` (read with ``significance.halo(params)`` px
    around it, or more for ``reshading``'s reach): the same values whatever the tiling, for
    any core whose edges lie on the BLOCK grid or the image's edge.

    Parameters
    ----------
    core : Window
        The tile's core, in AFTER's pixels.
    read_after, read_before : callable
        Read a window of AFTER, and of BEFORE registered onto AFTER's grid (NaN: no data).
    phot : Photometry
        Maps BEFORE onto AFTER's brightness.
    width, height : int
        The AFTER image's size (px).
    params : DetectParams
        The thresholds and filters.
    reshading : Reshading or None
        The changed sun's predicted residual, subtracted before the significance.
    read_dtm : callable or None
        Read a window of the DTM on AFTER's grid (m), for a ``"dtm"`` re-shading.

    Returns
    -------
    TileMaps
        The core's maps.
    """
    margin = halo(params)
    if reshading is not None:
        margin = max(margin, -(-(reshading.reach + clutter_reach(params)) // PYRAMID) * PYRAMID)
    x0 = max(0, core.col_off - margin)
    y0 = max(0, core.row_off - margin)
    x1 = min(width, core.col_off + int(core.width) + margin)
    y1 = min(height, core.row_off + int(core.height) + margin)
    window = Window(x0, y0, x1 - x0, y1 - y0)
    after = read_after(window)
    before = read_before(window)
    level = phot.level(before, window)
    resid = np.subtract(after, level, out=after)
    valid = np.isfinite(resid)
    if valid.all():
        support = Support(None)
    else:
        valid = cv2.erode(
            valid.astype(np.uint8),
            np.ones((2 * params.edge + 1,) * 2, np.uint8),
            borderType=cv2.BORDER_REPLICATE,
        ).astype(bool)
        resid[~valid] = 0.0
        level[~valid] = 0.0
        support = Support(valid)
    if reshading is not None:
        dtm = read_dtm(window) if read_dtm is not None else None
        resid -= reshading.predict(level, resid, support, (-y0, -x0), dtm)
    cy, cx = core.row_off - y0, core.col_off - x0
    sl = (slice(cy, cy + int(core.height)), slice(cx, cx + int(core.width)))
    # noise blocks are anchored at the image origin, in the core's array coordinates
    sig, strength, noise, structure, moved = significance(
        resid, support, level, sl, origin=(-core.row_off, -core.col_off), params=params
    )
    ok = None if support.mask is None else support.mask[sl]
    return TileMaps(
        sig,
        strength,
        resid[sl],
        level[sl],
        structure,
        noise,
        moved,
        ok,
        core.col_off,
        core.row_off,
        params,
    )
