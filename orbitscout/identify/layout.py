"""The joint assignment over the scene: at most one lander, parachute, backshell, heat shield
and descent stage.

Each of the likeliest landers is tried (and none); given the lander, each of the likeliest
parachutes (and none); then the backshell, the heat shield and the descent stage as one
assignment problem: the backshell beside the parachute (10-150 m: an assumption that holds at
every landing in ``docs/facts.md``), a descent-stage fan and a heat-shield scar pointing
at the lander. Pieces must lie outside the blast zone's core; with EDL priors (a mission), the
density of each piece's distance from the lander counts; with a site hint, the lander is
expected near that point; with either hint a landing is in view, so a layout without a lander
costs. A piece with no lander in view, or a backshell with no parachute, costs. The layout of
highest total log-probability wins.

Positions are east/north offsets in metres on a north-up grid (pixels without a pixel size).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from orbitscout.core.candidate import Candidate
from orbitscout.core.classes import HARDWARE, PIECES
from orbitscout.identify.features import soft_range
from orbitscout.identify.parameters import DEFAULT_PARAMS, IdentifyParams

LATE_PIECES = PIECES[1:]  # assigned together once the lander and parachute are chosen
TOP = 8  # the likeliest landers and parachutes tried


@dataclass
class Layout:
    """One joint assignment: candidate index per hardware class (or None) and its log score;
    for the best one, every layout weighed (``considered``: the best completion of each
    lander and parachute tried)."""

    picks: dict
    logscore: float
    considered: list[Layout] = field(default_factory=list)


def holder_shares(held: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per hardware class, the probability that each candidate is the one that holds it,
    given that one does: :func:`held_shares` over their sum. Two candidates that could each
    be the lander in layouts of about the same score share it about evenly.

    Parameters
    ----------
    held : mapping
        :func:`held_shares` of the layout.

    Returns
    -------
    dict
        Class to an array of probabilities (summing to 1 over the candidates, or all 0 where
        no layout gives the class).
    """
    shares = {}
    for cls, share in held.items():
        total = share.sum()
        shares[cls] = share / total if total > 0 else share
    return shares


def held_shares(layout: Layout, n: int) -> dict[str, np.ndarray]:
    """Per hardware class, the probability that each of ``n`` candidates holds it: the
    layouts ``layout`` was chosen among (:func:`assign`'s ``considered``), each weighed by its
    share of their summed probability (a softmax of their log scores), summed over those that
    give it the class. What a runner-up layout makes of a candidate (the descent stage where
    the chosen layout saw the lander) shows here. Only the lander and the parachute are
    enumerated; the other pieces change hands only with them (each pair keeps its best
    assignment of the rest), so two heat shields about equally likely under the same lander
    do not share the class.

    Parameters
    ----------
    layout : Layout
        The best layout, with the layouts it was chosen among (itself alone if none).
    n : int
        The number of candidates.

    Returns
    -------
    dict
        Class to an (n,) array of probabilities (summing to at most 1 over the candidates; all
        0 where no layout of finite score gives the class).
    """
    shares = {cls: np.zeros(n) for cls in HARDWARE}
    rivals = [r for r in layout.considered or [layout] if r.logscore > -math.inf]
    if not rivals:
        return shares
    scores = np.array([r.logscore for r in rivals])
    weights = np.exp(scores - np.logaddexp.reduce(scores))
    for rival, w in zip(rivals, weights, strict=True):
        for cls, i in rival.picks.items():
            if i is not None:
                shares[cls][i] += w
    return shares


def offsets(found: Sequence[Candidate], gsd: float | None) -> np.ndarray:
    """East/north position of each candidate.

    Parameters
    ----------
    found : sequence of Candidate
        The candidates (pixel ``x``, ``y`` on a north-up grid).
    gsd : float or None
        Pixel size (m); without it, pixels.

    Returns
    -------
    numpy.ndarray
        (n, 2) east and north, in metres (pixels without a pixel size).
    """
    scale = gsd or 1.0
    return np.array([[c.x * scale, -c.y * scale] for c in found], dtype=float).reshape(-1, 2)


def axes(found: Sequence[Candidate | None]) -> np.ndarray:
    """Each candidate's long axis and elongation.

    Parameters
    ----------
    found : sequence of Candidate or None
        The candidates; None for a place with no shape.

    Returns
    -------
    numpy.ndarray
        (n, 3): the long axis as a unit vector (east, north) and the elongation (0 round, 1 a
        line); zeros for None.
    """
    out = np.zeros((len(found), 3))
    for i, c in enumerate(found):
        if c is not None:
            a = math.radians(-float(c.orientation_deg))  # rows run south
            e = 1.0 - min(float(c.width_px) / max(float(c.length_px), 1e-6), 1.0)
            out[i] = (math.cos(a), math.sin(a), e)
    return out


def piece_context(
    cls: str,
    k: int,
    lander: int | None,
    pos: np.ndarray,
    gsd: float | None,
    priors: Mapping[str, Any] | None,
    shape: np.ndarray | None = None,
    params: IdentifyParams = DEFAULT_PARAMS,
) -> float:
    """Log weight of candidate ``k`` being piece ``cls`` given the lander.

    Parameters
    ----------
    cls : str
        The piece (a class of ``PIECES``).
    k : int
        The candidate's index.
    lander : int or None
        The lander's index, None where there is none.
    pos : numpy.ndarray
        (n, 2) :func:`offsets`.
    gsd : float or None
        Pixel size (m).
    priors : mapping or None
        EDL priors per piece (``distance_m``, ``distance_sd_m``), as
        ``orbitscout.edl.debris.debris_priors`` returns them.
    shape : numpy.ndarray or None
        (n, 3) :func:`axes`; None leaves out the radial term.
    params : IdentifyParams
        Weights.

    Returns
    -------
    float
        The log weight.
    """
    if lander is None:
        return params.no_lander  # a jettisoned piece with no landed vehicle in view
    d = pos[k] - pos[lander]
    dist = float(np.hypot(*d))
    term = 0.0
    radial = dict(params.radial).get(cls)
    if shape is not None and dist > 0 and radial:
        ux, uy, e = shape[k]
        cos2 = 2.0 * ((ux * d[0] + uy * d[1]) / dist) ** 2 - 1.0  # 1 along, -1 across
        term += radial * e * cos2
    if gsd:
        # pieces land well away from where the vehicle hovered (>~30 m: outside the blast zone
        # core; 0.3-2 km at real landings, less in the small simulated frames)
        term += soft_range(dist, params.piece_min_m, 5000.0, 0.5)
        if priors is not None and cls in priors:
            p = priors[cls]
            # the EDL model's distances hold better than its bearings (those hang on the
            # approach heading and the wind): compare the distance alone
            sd = max(float(p.distance_sd_m), 0.25 * float(p.distance_m), 1.0)
            lp = -0.5 * ((dist - float(p.distance_m)) / sd) ** 2
            term += params.mission_weight * max(lp, params.mission_floor)
    else:
        term += soft_range(dist, 8.0, 1e6, 0.5)
    return term


def beside_parachute(
    at: np.ndarray,
    parachute: np.ndarray,
    gsd: float | None,
    params: IdentifyParams = DEFAULT_PARAMS,
) -> float:
    """Log weight of a backshell at ``at`` given its parachute's position.

    Parameters
    ----------
    at, parachute : numpy.ndarray
        (2,) positions (:func:`offsets`).
    gsd : float or None
        Pixel size (m); without it, 2-40 px apart.
    params : IdentifyParams
        ``pair_m`` and ``pair_sd``.

    Returns
    -------
    float
        The log weight (1 where they lie ``pair_m`` apart).
    """
    lo, hi = params.pair_m if gsd else (2.0, 40.0)
    return soft_range(float(np.hypot(*(at - parachute))), lo, hi, params.pair_sd) + 1.0


def assign(
    ll: Sequence[Mapping[str, float]],
    found: Sequence[Candidate | None],
    pos: np.ndarray,
    gsd: float | None,
    site_pos: np.ndarray | None,
    priors: Mapping[str, Any] | None,
    moon: bool,
    shape: np.ndarray | None = None,
    params: IdentifyParams = DEFAULT_PARAMS,
) -> Layout:
    """The best joint layout: the lander and parachute enumerated, the rest assigned.

    Parameters
    ----------
    ll : sequence of mapping
        Per candidate, log-probability of each class.
    found : sequence of Candidate or None
        The candidates (for their shape, where ``shape`` is not given).
    pos : numpy.ndarray
        (n, 2) :func:`offsets`.
    gsd : float or None
        Pixel size (m).
    site_pos : numpy.ndarray or None
        (2,) position of the site hint in :func:`offsets`' frame.
    priors : mapping or None
        EDL priors per piece (see :func:`piece_context`).
    moon : bool
        On the Moon: the lander alone.
    shape : numpy.ndarray or None
        (n, 3) :func:`axes` of ``found``, computed here when not given.
    params : IdentifyParams
        Weights.

    Returns
    -------
    Layout
        Candidate index per hardware class (or None) and the layout's log score; its
        ``considered``, every layout weighed (the best completion of each lander and
        parachute tried), for :func:`held_shares`.
    """
    from scipy.optimize import linear_sum_assignment

    n = len(found)
    shape = axes(found) if shape is None else shape
    alt = np.array([max(ll[i]["new_crater"], ll[i]["unknown"]) for i in range(n)])

    def gain(i, cls):
        return ll[i][cls] - alt[i]

    lander_opts = [None] + sorted(range(n), key=lambda i: -gain(i, "lander"))[:TOP]
    if site_pos is not None:  # and the candidates nearest the hinted site
        near_site = sorted(range(n), key=lambda i: float(np.hypot(*(pos[i] - site_pos))))[:3]
        lander_opts += [i for i in near_site if i not in lander_opts]
    best = Layout({}, -math.inf)
    considered: list[Layout] = []
    for lander in lander_opts:
        base = 0.0
        if lander is not None:
            base += gain(lander, "lander")
            if site_pos is not None:
                dd = float(np.hypot(*(pos[lander] - site_pos)))
                sd = params.site_sd_m if gsd else params.site_sd_m / 5.0
                base += -0.5 * (dd / sd) ** 2 + 0.5  # near the hinted site: a small bonus
        elif site_pos is not None or priors is not None:
            base -= params.no_lander_hinted  # a hint says a landing is in view
        if moon:
            considered.append(Layout({"lander": lander}, base))
            if base > best.logscore:
                best = considered[-1]
            continue
        rest = [i for i in range(n) if i != lander]
        ctx = {
            (cls, i): piece_context(cls, i, lander, pos, gsd, priors, shape, params)
            for cls in PIECES
            for i in rest
        }
        # a backshell beside its parachute came down with it: the parachute's place already
        # weighed the EDL priors' distance, which is not counted twice
        beside_ctx = {
            i: ctx[("backshell", i)]
            if priors is None
            else piece_context("backshell", i, lander, pos, gsd, None, shape, params)
            for i in rest
        }
        para_opts = [None] + sorted(rest, key=lambda i: -(gain(i, "parachute")))[:TOP]
        for para in para_opts:
            score = base
            picks = {"lander": lander, "parachute": para}
            used = {lander, para} - {None}
            if para is not None:
                score += gain(para, "parachute") + ctx[("parachute", para)]
            # backshell (beside the parachute), heat shield and descent stage: one
            # assignment problem over the rest, so a backshell does not take the heat shield
            free = [i for i in rest if i not in used]
            picks.update({c: None for c in LATE_PIECES})
            if free:
                g = np.array([[gain(i, c) + ctx[(c, i)] for c in LATE_PIECES] for i in free])
                if para is not None:
                    g[:, 0] = [
                        gain(i, "backshell")
                        + beside_ctx[i]
                        + beside_parachute(pos[i], pos[para], gsd, params)
                        for i in free
                    ]
                else:
                    g[:, 0] += params.no_parachute
                if lander is not None:
                    # a descent stage flew away from a vehicle that landed: one that looks
                    # more like a lander than the lander chosen is rather the lander, crashed
                    landed = gain(lander, "lander")
                    better = np.array([gain(i, "lander") > max(0.0, landed) for i in free])
                    g[better, LATE_PIECES.index("descent_stage")] += min(0.0, landed)
                g = np.maximum(g, -1e3)
                r, k = linear_sum_assignment(-np.maximum(g, 0.0))
                for ri, ki in zip(r, k, strict=True):
                    if g[ri, ki] > 0:
                        picks[LATE_PIECES[ki]] = free[ri]
                        score += g[ri, ki]
            considered.append(Layout(picks, score))
            if score > best.logscore:
                best = considered[-1]
    return Layout(best.picks, best.logscore, considered)  # a new one: no cycle


def context_gain(
    cls: str,
    i: int,
    layout: Layout,
    pos: np.ndarray,
    gsd: float | None,
    priors: Mapping[str, Any] | None,
    shape: np.ndarray | None = None,
    params: IdentifyParams = DEFAULT_PARAMS,
) -> float:
    """The context term candidate ``i`` would get as ``cls`` in ``layout``.

    Parameters
    ----------
    cls : str
        A hardware class.
    i : int
        The candidate's index.
    layout : Layout
        The chosen layout.
    pos, gsd, priors, shape, params
        As for :func:`piece_context`.

    Returns
    -------
    float
        The log weight (0 for the lander).
    """
    lander = layout.picks.get("lander")
    if cls == "lander":
        return 0.0
    if lander is None or lander == i:
        return params.no_lander
    para = layout.picks.get("parachute")
    beside = cls == "backshell" and para is not None and para != i
    # a backshell beside its parachute came down with it: the parachute's place already
    # weighed the EDL priors' distance, which is not counted twice
    g = piece_context(cls, i, lander, pos, gsd, None if beside else priors, shape, params)
    if beside:
        g += beside_parachute(pos[i], pos[para], gsd, params)
    return g


def place_on_vehicle(c: Candidate, moon: bool, params: IdentifyParams = DEFAULT_PARAMS) -> None:
    """Move the lander's position from the centroid of its whole change onto the vehicle.

    On Mars the vehicle is the bright part (a white rover or deck) inside its darker blast zone
    (HiRISE ESP_068360_1985, InSight); on the Moon the landers simulated are crashes, whose
    impact point is the dark crater inside bright ejecta (Vikram, LROC). Where that part holds
    under ``vehicle_share`` of the change (a crash on Mars shows no bright vehicle), the
    centroid stays. The centroid is kept in ``features["centroid_xy"]``.

    Parameters
    ----------
    c : Candidate
        The lander (changed in place).
    moon : bool
        On the Moon.
    params : IdentifyParams
        ``vehicle_share``.
    """
    part = c.dark_xy if moon else c.bright_xy
    share = 1.0 - float(c.bright_fraction) if moon else float(c.bright_fraction)
    if part is None or share < params.vehicle_share:
        return
    c.features.setdefault("centroid_xy", [round(c.x, 2), round(c.y, 2)])  # kept if placed before
    c.x, c.y = float(part[0]), float(part[1])
