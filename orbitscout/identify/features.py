"""What the model sees of each candidate: physical log-likelihoods and measurements.

Per candidate, a physical log-likelihood of each class from what the change map measured, in
metres (pixel sizes differ 20x between HiRISE and CTX, so every size is compared with the
object's physical size blurred by a few pixels): its length, its elongation, whether it is a
long thin line, how much of its change is brightening (a white parachute; a bright shell inside
a dark scar; a dark fan) and how strong it is (:func:`physical_loglik`, the sizes in
:class:`~orbitscout.identify.parameters.IdentifyParams`). With the measurements themselves and
the scene around the candidate (:func:`scene_context`) they make the feature row the fitted
model reads (:func:`features`, named by :data:`FEATURE_NAMES`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from orbitscout.core.candidate import Candidate
from orbitscout.core.classes import CLASSES, HARDWARE, PIECES
from orbitscout.identify.parameters import DEFAULT_PARAMS, IdentifyParams

# the columns of :func:`features`, in order (the model file names them, and must match)
FEATURE_NAMES = (
    *(f"loglik_{k}" for k in CLASSES),  # physical_loglik of each class, floored at -30
    "log_length",  # log length: metres, or pixels without a pixel size
    "log_length_px",
    "elongation",  # width / length, at most 1
    "bright_fraction",
    "bright_mixed",  # bright_fraction * (1 - bright_fraction)
    "log_peak_sigma",
    "moon",  # 1 on the Moon
    "moon_bright_fraction",
    "log_contrast_bright",
    "log_contrast_dark",
    "log1p_neighbours",  # strong changes within a blast zone's reach
    "log_sigma_of_strongest",  # peak significance relative to the scene's strongest
    "log_length_of_longest",  # length relative to the scene's longest compact change
    "log_fill",  # how much of the box its moments span the change fills
    "intercept",
)

Context = tuple[int, float, float]


def soft_range(value: float, lo: float, hi: float, sd: float) -> float:
    """Log weight of ``value`` lying in [lo, hi], with soft edges.

    Parameters
    ----------
    value, lo, hi : float
        The value and the range (same unit, positive).
    sd : float
        Log-width of the edges.

    Returns
    -------
    float
        0 inside [lo, hi], a Gaussian fall-off in log space outside.
    """
    v = math.log(max(value, 1e-6))
    if v < math.log(lo):
        return -0.5 * ((v - math.log(lo)) / sd) ** 2
    if v > math.log(hi):
        return -0.5 * ((v - math.log(hi)) / sd) ** 2
    return 0.0


def _bump(value: float, mean: float, sd: float) -> float:
    return -0.5 * ((value - mean) / sd) ** 2


def physical_loglik(
    c: Candidate, gsd: float | None, moon: bool = False, params: IdentifyParams = DEFAULT_PARAMS
) -> dict[str, float]:
    """Log-likelihood of each class for one candidate, hand-set from physical sizes.

    Parameters
    ----------
    c : Candidate
        The candidate (its length, width, brightening share and peak significance).
    gsd : float or None
        Pixel size (m); None leaves sizes out.
    moon : bool
        On the Moon: other brightening of craters and crashes, no jettisoned pieces.
    params : IdentifyParams
        Sizes, shares, priors and thresholds.

    Returns
    -------
    dict
        Class to log-likelihood (``-inf`` where the class cannot be).
    """
    sizes = dict(params.size_m)
    bright = dict(params.bright)
    elongation = dict(params.elongation)
    prior = dict(params.prior)
    out = {}
    bf = float(c.bright_fraction)
    length_px = float(c.length_px)
    width_px = float(c.width_px)
    elong = width_px / max(length_px, 1e-6)
    if gsd:
        blur = params.blur_px * gsd
        length_m = length_px * gsd
    for cls in CLASSES:
        ll = prior[cls]
        if gsd and cls in sizes:
            lo, hi = sizes[cls]
            ll += soft_range(length_m, math.hypot(lo, blur), math.hypot(hi, blur), params.size_sd)
        mean, sd = bright[cls]
        if moon and cls in ("new_crater", "lander"):
            mean, sd = (
                params.moon_crater_bright if cls == "new_crater" else params.moon_lander_bright
            )
        ll += _bump(bf, mean, sd)
        ll += _bump(min(elong, 1.0), *elongation[cls])
        if cls != "unknown":
            ll -= 0.8 * max(0.0, params.weak_sigma - float(c.peak_sigma))
        if cls == "lander":
            # the landed vehicle's blast zone or crash scar is among the strongest changes
            ll += min(2.5, math.log(max(float(c.peak_sigma), 1e-3) / params.weak_sigma))
        out[cls] = ll
    # a long thin line (dust-devil track, slope streak) is never hardware nor a crater
    long_line = elong < params.line_elongation and (
        length_m > params.line_m if gsd else length_px > 20
    )
    if long_line:
        for cls in (*HARDWARE, "new_crater"):
            out[cls] -= 10.0
    if moon:
        for cls in PIECES:
            out[cls] = -math.inf
    return out


def long_line(c: Candidate, gsd: float | None, params: IdentifyParams = DEFAULT_PARAMS) -> bool:
    """Whether ``c`` is a long thin line (a dust-devil track, a slope streak).

    Parameters
    ----------
    c : Candidate
        The candidate.
    gsd : float or None
        Pixel size (m); without it, longer than 20 px.
    params : IdentifyParams
        ``line_elongation`` and ``line_m``.

    Returns
    -------
    bool
        Thinner than ``line_elongation`` and longer than ``line_m``.
    """
    elong = float(c.width_px) / max(float(c.length_px), 1e-6)
    return elong < params.line_elongation and (
        c.length_px * gsd > params.line_m if gsd else c.length_px > 20
    )


def neighbours(
    found: Sequence[Candidate], gsd: float | None, params: IdentifyParams = DEFAULT_PARAMS
) -> np.ndarray:
    """How many other strong candidates lie within ``near_m`` of each.

    A blast zone breaks into pieces around the vehicle.

    Parameters
    ----------
    found : sequence of Candidate
        The scene's candidates.
    gsd : float or None
        Pixel size (m); without it, within 12 px.
    params : IdentifyParams
        ``near_m`` and ``weak_sigma`` (weaker ones are not counted).

    Returns
    -------
    numpy.ndarray
        (n,) int counts.
    """
    from scipy.spatial import cKDTree

    xy = np.array([[c.x, c.y] for c in found], dtype=float).reshape(-1, 2)
    r = params.near_m / gsd if gsd else 12.0
    strong = np.array([c.peak_sigma >= params.weak_sigma for c in found], dtype=bool)
    out = np.zeros(len(found), dtype=int)
    if strong.any():
        tree = cKDTree(xy[strong])
        out = np.array([len(v) for v in tree.query_ball_point(xy, r)], dtype=int)
    return out - strong.astype(int)


def scene_context(
    found: Sequence[Candidate], gsd: float | None, params: IdentifyParams = DEFAULT_PARAMS
) -> list[Context]:
    """What the scene around each candidate says of it.

    The landed vehicle's blast zone or crash is among the biggest and strongest changes.

    Parameters
    ----------
    found : sequence of Candidate
        The scene's candidates.
    gsd : float or None
        Pixel size (m).
    params : IdentifyParams
        Thresholds of :func:`neighbours` and :func:`long_line`.

    Returns
    -------
    list of (int, float, float)
        Per candidate: neighbours in a blast zone's reach, the log of its peak significance
        relative to the strongest change and of its length relative to the longest compact
        change in the scene.
    """
    near = neighbours(found, gsd, params)
    sig = np.array([max(float(c.peak_sigma), 1.0) for c in found])
    compact = [not long_line(c, gsd, params) for c in found]
    length = np.array([max(float(c.length_px), 0.5) for c in found])
    top_len = max((v for v, k in zip(length, compact, strict=True) if k), default=1.0)
    return [
        (int(k), math.log(s / sig.max()), math.log(min(v / top_len, 1.0)))
        for k, s, v in zip(near, sig, length, strict=True)
    ]


def features(
    c: Candidate,
    gsd: float | None,
    moon: bool = False,
    ctx: Context = (0, 0.0, 0.0),
    params: IdentifyParams = DEFAULT_PARAMS,
) -> np.ndarray:
    """The feature row the fitted model sees of a candidate (columns :data:`FEATURE_NAMES`).

    Parameters
    ----------
    c : Candidate
        The candidate.
    gsd : float or None
        Pixel size (m); without it lengths are in pixels.
    moon : bool
        On the Moon.
    ctx : (int, float, float)
        Its :func:`scene_context`.
    params : IdentifyParams
        Parameters of :func:`physical_loglik`.

    Returns
    -------
    numpy.ndarray
        (len(FEATURE_NAMES),) float64: the physical log-likelihoods, and the measurements
        themselves in forms that hold across cameras (metres and pixels).
    """
    phys = physical_loglik(c, gsd, moon, params)
    ll = [max(phys[k], -30.0) for k in CLASSES]
    length_px = max(float(c.length_px), 0.5)
    elong = min(float(c.width_px) / length_px, 1.0)
    length_m = length_px * gsd if gsd else length_px  # without a pixel size: pixels
    bf = float(c.bright_fraction)
    # how much of the box its moments span the change fills (log): a flat-topped patch fills
    # less of it than a centrally peaked halo (a new crater's blast zone)
    fill = math.log(max(float(c.area_px) / max(length_px * float(c.width_px), 1e-6), 1e-3))
    return np.array(
        [
            *ll,
            math.log(length_m),
            math.log(length_px),
            elong,
            bf,
            bf * (1 - bf),
            math.log(max(float(c.peak_sigma), 1.0)),
            float(moon),
            float(moon) * bf,
            # how strong the brightening and the darkening are, relative to the local level:
            # a white lander inside its dark halo against a new crater's halo alone
            math.log(max(float(c.contrast_bright), 1e-3)),
            math.log(max(-float(c.contrast_dark), 1e-3)),
            math.log1p(ctx[0]),
            ctx[1],
            ctx[2],
            fill,
            1.0,
        ]
    )
