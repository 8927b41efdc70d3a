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


def change_terms(
    peak_sigma: float | np.ndarray,
    novelty: float | np.ndarray,
    params: DetectParams = DEFAULT,
    sun_change_deg: float | None = None,
) -> tuple[np.ndarray, np.ndarray, float]:
    """The three terms of :func:`change_probability`: ``ln(peak_sigma / t_high)``,
    ``ln(novelty / params.p_novelty_ref)`` (novelty counted up to ``p_novelty_cap``; infinity, on
    ground with no structure, counts as the cap) and the angle between the suns in tens of
    degrees (``params.p_sun_unknown_deg`` where it is not known)."""
    peak = np.maximum(np.asarray(peak_sigma, np.float64), 1e-12)
    nov = np.clip(np.asarray(novelty, np.float64), 1e-12, params.p_novelty_cap)
    angle = params.p_sun_unknown_deg if sun_change_deg is None else float(sun_change_deg)
    return np.log(peak / params.t_high), np.log(nov / params.p_novelty_ref), angle / 10.0


def change_probability(
    peak_sigma: float | np.ndarray,
    novelty: float | np.ndarray,
    params: DetectParams = DEFAULT,
    sun_change_deg: float | None = None,
) -> float | np.ndarray:
    """The probability that the ground really changed (not noise, not re-shaded relief),
    from how far the change stands above the noise and above the structure already there,
    and how far the sun moved between the images.

    Logistic of ``p_intercept + p_sigma * ln(peak_sigma / t_high) + p_novelty *
    ln(novelty / params.p_novelty_ref) + p_sun * angle / 10`` (:func:`change_terms`; the ``params``
    coefficients, fitted by ``bench/change_table.py --fit-change-score`` on the fitting scene
    families).

    Parameters
    ----------
    peak_sigma : float or numpy.ndarray
        The candidate's peak significance (sigma of the local noise).
    novelty : float or numpy.ndarray
        Its change energy over the smaller of the two images' structure energies there.
    params : DetectParams
        The thresholds and the coefficients.
    sun_change_deg : float or None
        The angle between the two images' suns (degrees); None: not known
        (``params.p_sun_unknown_deg`` is assumed).

    Returns
    -------
    float or numpy.ndarray
        The probability, 0-1.
    """
    sigma_term, novelty_term, sun_term = change_terms(peak_sigma, novelty, params, sun_change_deg)
    z = (
        params.p_intercept
        + params.p_sigma * sigma_term
        + params.p_novelty * novelty_term
        + params.p_sun * sun_term
    )
    p = 1.0 / (1.0 + np.exp(-z))
    return float(p) if p.ndim == 0 else p


def change_novelty(sums: dict[str, np.ndarray]) -> np.ndarray:
    """Per region, its change energy beyond what a rescaling of either image's structure
    explains, over the energy of the local structure of whichever image has less there
    (infinity on ground with no structure), from the moments ``n``, ``rr``, ``ss``, ``sa``,
    ``sab``, ``sb1``, ``sa1``.

    Relief re-shaded by another sun has structure in both images, and a higher sun draws the
    same shading and cast shadows weaker: that part of the change is taken out
    (``rescaled_energy``). An object new in AFTER over ground seen in both gives about its
    energy over the ground's, as does one that vanished."""
    least = np.minimum(sums["ss"], sums["sa"])
    unexplained = np.maximum(sums["rr"] - rescaled_energy(sums), 0.0)
    return np.where(least > 0, unexplained / np.where(least > 0, least, 1.0), math.inf)


def rescaled_energy(sums: dict[str, np.ndarray]) -> np.ndarray:
    """Per region, the energy of the part of its change's local structure ``d = a - b``
    (``a``, ``b``: AFTER's and BEFORE's structure) that a rescaling of one image's structure
    explains: of the projections of ``d`` on ``a`` and on ``b`` (about their means over the
    region's ``n`` pixels), the smaller, less the ``1 / (n - 1)`` share that unrelated values
    reach on average; 0 below 3 px or where the two structures are opposed. Structure
    merely weakened or strengthened (``a = c b``, ``c > 0``) is all explained; an object new
    in AFTER (``a = b + o``) is not explained by ``b``, nor one that vanished
    (``b = a + o``) by ``a``."""
    n = np.maximum(sums["n"], 1.0)
    sb1, sa1 = sums["sb1"], sums["sa1"]
    vb = sums["ss"] - sb1 * sb1 / n
    va = sums["sa"] - sa1 * sa1 / n
    cov = sums["sab"] - sb1 * sa1 / n
    vd = np.maximum(va + vb - 2.0 * cov, 0.0)  # the change's structure, about its mean
    # a positive gain only: structure turned into its negative (a bright object replaced
    # by a dark one of its shape) is a change
    ok = (vb > 0) & (va > 0) & (vd > 0) & (cov > 0) & (n >= 3)
    on_b = np.where(ok, (cov - vb) ** 2 / np.where(ok, vb, 1.0), 0.0)
    on_a = np.where(ok, (va - cov) ** 2 / np.where(ok, va, 1.0), 0.0)
    share = np.minimum(on_b, on_a) / np.where(ok, vd, 1.0)
    chance = 1.0 / np.maximum(n - 1.0, 1.0)
    share = np.clip((share - chance) / np.maximum(1.0 - chance, 1e-12), 0.0, 1.0)
    return np.where(ok, share * vd, 0.0)


def appeared_share(sums: dict[str, np.ndarray]) -> np.ndarray:
    """Per region, the share of its change's local structure that AFTER holds (1: something
    new in AFTER, 0: something of BEFORE gone), from the moments ``ss``, ``sa``, ``sab``.

    The change's structure ``d = a - b`` (``a``, ``b``: the images' local structure) splits
    as ``|d|^2 = <a, d> + <-b, d>``: what AFTER holds of it and what BEFORE held. Ground
    texture common to both images adds to neither. 0.5 where the change has no structure."""
    after = np.maximum(sums["sa"] - sums["sab"], 0.0)
    before = np.maximum(sums["ss"] - sums["sab"], 0.0)
    total = after + before
    return np.where(total > 0, after / np.where(total > 0, total, 1.0), 0.5)


_CHANGES = ("vanished", "altered", "appeared")  # indexed by change_direction + 1


def change_direction(sums: dict[str, np.ndarray], params: DetectParams = DEFAULT) -> np.ndarray:
    """Per region, which way the ground changed: +1 appeared, -1 vanished, 0 altered. One-sided
    where one image holds ``params.change_ratio`` times the other's part of the change's
    structure (:func:`appeared_share`)."""
    share = appeared_share(sums)
    one_sided = params.change_ratio / (1.0 + params.change_ratio)
    return np.where(share >= one_sided, 1, np.where(share <= 1.0 - one_sided, -1, 0))


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


def _ends(x: float, y: float, length: float, angle_deg: float) -> np.ndarray:
    """The two ends of a region's long axis, ``length`` px through its centroid."""
    t = math.radians(angle_deg)
    half = 0.5 * length * np.array([math.cos(t), math.sin(t)])
    return np.array([[x, y] - half, [x, y] + half])


def _axis_angle(a: float, b: float) -> float:
    """The angle between two axes (directions modulo 180 deg), in degrees, 0-90."""
    return abs((a - b + 90) % 180 - 90)


def _continues(i: int, j: int, shape: tuple[np.ndarray, ...], params: DetectParams) -> bool:
    """Whether thin region ``j`` carries on the path of thin region ``i``: their nearest ends
    lie within ``params.line_gap_ratio`` of the shorter one's length (``line_gap`` at least,
    ``line_gap_max`` at most), and each one's axis is within ``params.line_angle_deg`` of the
    chord between their centroids (along a track that curves the chord halves the bend; a
    parallel neighbour or a crossing track is far off it)."""
    x, y, length, _, angle = shape
    ends_i = _ends(x[i], y[i], length[i], angle[i])
    ends_j = _ends(x[j], y[j], length[j], angle[j])
    gap = np.hypot(*(ends_i[:, None, :] - ends_j[None, :, :]).transpose(2, 0, 1)).min()
    reach = min(
        max(params.line_gap, params.line_gap_ratio * min(length[i], length[j])),
        params.line_gap_max,
    )
    if gap > reach:
        return False
    chord = math.degrees(math.atan2(y[j] - y[i], x[j] - x[i]))
    return all(_axis_angle(a, chord) <= params.line_angle_deg for a in angle[[i, j]])


def _merge_near(
    regions: Regions, shape: tuple[np.ndarray, ...], params: DetectParams = DEFAULT
) -> np.ndarray:
    """Group regions whose boxes lie within ``params.merge_gap`` px; thin ones (by their
    ``shape``, :func:`_shape` of their sums) also when their boxes lie within
    ``params.line_gap`` px and their directions differ by less than ``params.line_angle_deg``
    (fragments side by side), or when one carries on the other's path across a gap
    (:func:`_continues`: one track broken where it fell below the threshold). Never a region
    that appeared with one that vanished (each by :func:`change_direction`): those are two
    changes, such as the ends of a short move, not the parts of one object (a new lander's
    bright body and dark blast zone both appeared)."""
    n = len(regions)
    _, _, length, width, angle = shape
    thin = _thin(length, width, params)
    way = change_direction(regions.sums, params)
    uf = UnionFind(n)
    order = np.argsort(regions.bbox[:, 0])
    box = regions.bbox[order]
    reach = max(params.merge_gap, params.line_gap, params.line_gap_max)
    for a in range(n):
        for b in range(a + 1, n):
            if box[b, 0] > box[a, 2] + reach:
                break
            dx = max(0, box[b, 0] - box[a, 2], box[a, 0] - box[b, 2])
            dy = max(0, box[b, 1] - box[a, 3], box[a, 1] - box[b, 3])
            d = max(dx, dy)
            i, j = order[a], order[b]
            if way[i] * way[j] < 0:
                continue  # one gone, one new: two changes (a move's ends), not one object
            if d <= params.merge_gap:
                uf.union(i, j)
            elif d <= reach and thin[i] and thin[j]:
                diff = _axis_angle(angle[i], angle[j])
                side_by_side = d <= params.line_gap and diff < params.line_angle_deg
                if side_by_side or _continues(i, j, shape, params):
                    uf.union(i, j)
    return uf.groups()


def _thin(length: np.ndarray, width: np.ndarray, params: DetectParams = DEFAULT) -> np.ndarray:
    """Long, thin regions: tracks (dust devils) rather than spots (``params.thin_length_px``
    long, ``params.thin_aspect`` times longer than wide)."""
    return (length >= params.thin_length_px) & (
        length >= params.thin_aspect * np.maximum(width, 1.0)
    )


def candidates(
    result: ChangeResult,
    gsd_m: float | None = None,
    params: DetectParams = DEFAULT,
    sun_change_deg: float | None = None,
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
    sun_change_deg : float or None
        The angle between the images' suns (degrees; None: unknown), for ``change_score``.

    Returns
    -------
    list of Candidate
        Sorted by score and numbered from 1.
    """
    regions = result.regions.subset(result.regions.seeded)
    if not len(regions):
        return []
    groups = _merge_near(regions, _shape(regions.sums), params)
    merged = combine_regions([regions], groups)
    return numbered(measure_candidates(merged, gsd_m, params, sun_change_deg))


def measure_candidates(
    merged: Regions,
    gsd_m: float | None = None,
    params: DetectParams = DEFAULT,
    sun_change_deg: float | None = None,
) -> list[Candidate]:
    """One candidate per region (numbered later), less those whose change holds no more
    than ``params.novelty`` times the energy of the local structure of whichever image has
    less there, once what a rescaling of either image's structure explains is taken out
    (its ``novelty``: ``change_novelty``). Each says which way the ground changed (``change``:
    ``change_direction``) and how probably it changed at all (``change_score``:
    ``change_probability``).

    Parameters
    ----------
    merged : Regions
        One region per candidate.
    gsd_m : float or None
        The AFTER image's pixel size (m).
    params : DetectParams
        The thin-track test, polarity share, detection score, novelty gate, change share and
        change probability.
    sun_change_deg : float or None
        The angle between the images' suns (degrees; None: unknown), for ``change_score``.

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
    novelty = change_novelty(s)
    change = np.array(_CHANGES)[change_direction(s, params) + 1]
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
                novelty=float(novelty[k]),
                change=str(change[k]),
                change_score=float(
                    change_probability(merged.peak[k], novelty[k], params, sun_change_deg)
                ),
            )
        )
    # a change of sun redraws the shading of unchanged relief: what holds no more energy than
    # the structure there is not a change of the ground
    return [c for c in out if c.novelty >= params.novelty]


def numbered(found: list[Candidate]) -> list[Candidate]:
    """Candidates sorted by score (then peak, position) and numbered from 1."""
    found = sorted(found, key=lambda c: (-c.score, -c.peak_sigma, c.y, c.x))
    for i, cand in enumerate(found, start=1):
        cand.id = i
    return found
