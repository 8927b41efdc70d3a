"""Candidates from stitched regions: merged, measured and numbered."""

from __future__ import annotations

import math

import numpy as np

from orbitscout.core.candidate import Candidate
from orbitscout.detect.parameters import DEFAULT, DetectParams
from orbitscout.detect.regions import Regions, UnionFind, combine_regions
from orbitscout.detect.tiles import ChangeResult


def detection_score(
    peak_sigma: float | np.ndarray, params: DetectParams = DEFAULT
) -> float | np.ndarray:
    """Confidence that a change is real from its peak significance (sigma): 0 at
    ``params.t_high``, 0.95 at twice."""
    return np.clip(1.0 - np.exp(1.0 - (np.asarray(peak_sigma) / params.t_high) ** 2), 0.0, 1.0)


def _shape(s: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    w = np.maximum(s["w"], 1e-12)
    x, y = s["wx"] / w, s["wy"] / w
    cxx = np.maximum(s["wxx"] / w - x * x, 0.0)
    cyy = np.maximum(s["wyy"] / w - y * y, 0.0)
    cxy = s["wxy"] / w - x * y
    half = np.sqrt(((cxx - cyy) / 2) ** 2 + cxy**2)
    l1 = (cxx + cyy) / 2 + half
    l2 = np.maximum((cxx + cyy) / 2 - half, 0.0)
    angle = np.degrees(0.5 * np.arctan2(2 * cxy, cxx - cyy))  # long axis, from +x towards +y
    return x, y, 4 * np.sqrt(l1), 4 * np.sqrt(l2), angle


def _merge_near(
    regions: Regions,
    gap: int,
    linear: np.ndarray,
    angle: np.ndarray,
    line_gap: int,
    line_angle_deg: float = DEFAULT.line_angle_deg,
) -> np.ndarray:
    """Group regions whose boxes lie within ``gap`` px (``line_gap`` for thin ones whose
    directions differ by less than ``line_angle_deg``)."""
    n = len(regions)
    uf = UnionFind(n)
    order = np.argsort(regions.bbox[:, 0])
    box = regions.bbox[order]
    reach = max(gap, line_gap)
    for a in range(n):
        for b in range(a + 1, n):
            if box[b, 0] > box[a, 2] + reach:
                break
            dx = max(0, box[b, 0] - box[a, 2], box[a, 0] - box[b, 2])
            dy = max(0, box[b, 1] - box[a, 3], box[a, 1] - box[b, 3])
            d = max(dx, dy)
            i, j = order[a], order[b]
            if d <= gap:
                uf.union(i, j)
            elif d <= line_gap and linear[i] and linear[j]:
                diff = abs((angle[i] - angle[j] + 90) % 180 - 90)
                if diff < line_angle_deg:
                    uf.union(i, j)
    return uf.groups()


def _thin(length: np.ndarray, width: np.ndarray, params: DetectParams = DEFAULT) -> np.ndarray:
    """Long, thin regions: tracks (dust devils) rather than spots (``params.thin_length_px``
    long, ``params.thin_aspect`` times longer than wide)."""
    return (length >= params.thin_length_px) & (
        length >= params.thin_aspect * np.maximum(width, 1.0)
    )


def candidates(
    result: ChangeResult, gsd_m: float | None = None, params: DetectParams = DEFAULT
) -> list[Candidate]:
    """Turn stitched regions into measured candidates: seeded regions, with the parts of one
    object (bright core, dark halo) and the fragments of one thin track merged.

    Parameters
    ----------
    result : ChangeResult
        The tile loop's stitched regions (made with the same ``params``).
    gsd_m : float or None
        The AFTER image's pixel size (m), recorded in each candidate.
    params : DetectParams
        The gaps within which regions merge, the thin-track test, the novelty gate.

    Returns
    -------
    list of Candidate
        Sorted by score and numbered from 1.
    """
    regions = result.regions.subset(result.regions.seeded)
    if not len(regions):
        return []
    _, _, length, width, angle = _shape(regions.sums)
    groups = _merge_near(
        regions,
        params.merge_gap,
        _thin(length, width, params),
        angle,
        params.line_gap,
        params.line_angle_deg,
    )
    return numbered(measure_candidates(combine_regions([regions], groups), gsd_m, params))


def measure_candidates(
    merged: Regions, gsd_m: float | None = None, params: DetectParams = DEFAULT
) -> list[Candidate]:
    """One candidate per region (numbered later), less those whose change holds no more
    than ``params.novelty`` times the energy of the BEFORE image's own local structure there.

    Parameters
    ----------
    merged : Regions
        One region per candidate.
    gsd_m : float or None
        The AFTER image's pixel size (m).
    params : DetectParams
        The thin-track test, polarity share, detection score and novelty gate.

    Returns
    -------
    list of Candidate
        Unnumbered (``id`` 0), in the order of ``merged``.
    """
    s = merged.sums
    x, y, length, width, angle = _shape(s)
    # area: pixels individually over 2.5 sigma for a compact, strong change; pixels significant
    # at any scale for a faint, extended one
    area = np.where(s["nsharp"] >= 0.25 * s["n"], s["nsharp"], s["n"])
    length = np.maximum(length, np.sqrt(np.maximum(area, 1.0)))
    width = np.clip(width, 1.0, length)
    linear = _thin(length, width, params)
    total = np.maximum(s["rpos"] - s["rneg"], 1e-12)
    bright = s["rpos"] / total
    level = np.maximum(np.abs(s["level"]), 1e-12)
    out = []
    for k in range(len(merged)):
        if bright[k] >= params.bright_share:
            polarity = "bright"
        elif bright[k] <= params.dark_share:
            polarity = "dark"
        else:
            polarity = "mixed"
        bxy = (s["wpx"][k] / s["wp"][k], s["wpy"][k] / s["wp"][k]) if s["wp"][k] > 0 else None
        dxy = (s["wnx"][k] / s["wn"][k], s["wny"][k] / s["wn"][k]) if s["wn"][k] > 0 else None
        out.append(
            Candidate(
                id=0,
                x=float(x[k]),
                y=float(y[k]),
                area_px=float(max(area[k], 1.0)),
                length_px=float(length[k]),
                width_px=float(width[k]),
                orientation_deg=float(angle[k]),
                polarity=polarity,
                contrast=float(s["r"][k] / level[k]),
                contrast_bright=float(s["rpos"][k] / level[k]),
                contrast_dark=float(s["rneg"][k] / level[k]),
                bright_fraction=float(bright[k]),
                peak_sigma=float(merged.peak[k]),
                score=float(detection_score(merged.peak[k], params)),
                bbox=tuple(int(v) for v in merged.bbox[k]),
                bright_xy=bxy,
                dark_xy=dxy,
                linear=bool(linear[k]),
                gsd_m=gsd_m,
                novelty=float(s["rr"][k] / s["ss"][k]) if s["ss"][k] > 0 else math.inf,
            )
        )
    # a change of sun redraws the shading of unchanged relief: what holds no more energy
    # than the BEFORE image already had there is not a change of the ground
    return [c for c in out if c.novelty >= params.novelty]


def numbered(found: list[Candidate]) -> list[Candidate]:
    """Candidates sorted by score (then peak, position) and numbered from 1."""
    found = sorted(found, key=lambda c: (-c.score, -c.peak_sigma, c.y, c.x))
    for i, cand in enumerate(found, start=1):
        cand.id = i
    return found
