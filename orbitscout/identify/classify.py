"""What each change is: landed vehicle, parachute, backshell, heat shield, descent stage, new
crater or something else.

Three steps.

1. Per candidate, a physical log-likelihood of each class from what the change map measured,
   in metres (pixel sizes differ 20x between HiRISE and CTX, so every size is compared with the
   object's physical size blurred by a few pixels): its length, its elongation, whether it is a
   long thin line, how much of its change is brightening (a white parachute; a bright shell
   inside a dark scar; a dark fan) and how strong it is. Physical sizes from
   ``../shared/data/FACTS.md``: parachute 21.5 m (InSight 11.8 m, Schiaparelli 12 m), backshell
   and heat shield 4.5 m (2.4-2.6 m for the Phoenix-heritage and ExoMars aeroshells), rover
   3 x 2.7 m inside a blast zone tens of metres across, Schiaparelli's dark crash patch
   ~15 x 40 m; descent-stage crash fan tens of metres (uahirise.org ESP_068294_1985).
2. A multinomial logistic layer (``WEIGHTS``) over those log-likelihoods and the measurements
   themselves (length in metres and pixels, elongation, brightening share and strength,
   darkening strength, significance, how many other changes lie within a blast zone's reach,
   strength and length relative to the scene's strongest and longest change, and how much of
   the box its moments span the change fills: a flat patch of moved dust less than a new
   crater's centrally dark blast zone), and boosted trees over the same (``TREES_FILE``),
   their log-probabilities averaged; both fit on simulated scenes of TUNING seeds (landings,
   and scenes of natural changes only) by ``python bench/identify_table.py --fit-model`` and
   ``--fit-trees``: class log-probabilities of each candidate on its own.
3. A joint assignment over the scene: at most one lander, parachute, backshell, heat shield and
   descent stage. Each of the likeliest landers is tried (and none); given the lander, each of
   the likeliest parachutes (and none); then the backshell, the heat shield and the descent
   stage as one assignment problem: the backshell beside the parachute (10-150 m: an
   assumption that holds at every landing in ``hardware_offsets.md``), a descent-stage fan
   and a heat-shield scar pointing at the lander. Pieces must lie outside the blast zone's
   core; with ``mission``, the EDL priors' density of each piece's offset from the lander
   counts (``edl.debris_priors``) and a piece the mission never dropped is ruled out; with
   ``site``, the lander is expected near that point; with either hint a landing is in view, so
   a layout without a lander costs. A piece with no lander in view, or a backshell with no
   parachute, costs. The layout of highest total log-probability wins; what it does not assign
   is a new crater or unknown, whichever is likelier.

The score of each detection is the posterior of its class (a softmax over the classes with the
chosen layout as context) through an isotonic calibration fit on the TUNING seeds, on scores
of scenes the layer and trees were not fit on (``bench/identify_table.py --fit``); the
README's table checks it on REPORTING seeds. On the Moon there is no air: no parachute,
backshell or heat shield, so only the lander (or its crash site), new craters and unknown
changes are possible. Without a pixel size, sizes are left to the pixel-based features and
distances are in pixels (``from_lander`` then holds ``distance_px``).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HARDWARE = ("lander", "parachute", "backshell", "heat_shield", "descent_stage")
PIECES = HARDWARE[1:]
LATE_PIECES = PIECES[1:]  # assigned together once the lander and parachute are chosen
NATURAL = ("new_crater", "unknown")
CLASSES = (*HARDWARE, *NATURAL)

# Visible size on the ground (m) of each class: (low, high) of the change's long axis.
SIZE_M = {
    # blast zone of a rover (~90-140 m across in scene.py after HiRISE ESP_068360_1985; its
    # bright lobes ~20 m), InSight's dark halo (~50-80 m), a crash scar (Schiaparelli ~15 x 40 m,
    # JPL PIA21130; Vikram ~20 m crater with ejecta)
    "lander": (25.0, 160.0),
    # canopy 11.8-21.5 m (FACTS.md), crumpled to ~half its width
    "parachute": (7.0, 26.0),
    # shell 2.4-4.5 m (FACTS.md) and its small impact scar (a few shell sizes, assumption)
    "backshell": (2.0, 18.0),
    # shell 2.4-4.5 m inside an impact scar 10-30 m (assumption from the HiRISE images)
    "heat_shield": (3.0, 32.0),
    # crash fan tens of metres (uahirise.org ESP_068294_1985), debris specks around it
    "descent_stage": (10.0, 90.0),
    # Mars: 3-12 m craters with dark blast halos (Daubar et al. 2013); Moon: 2-43 m craters with
    # reflectance halos (Speyerer et al. 2016)
    "new_crater": (4.0, 250.0),
}
BLUR_PX = 4.0  # what PSF, sampling and the matched filters add to a length (px), from the sims
SIZE_SD = 0.3  # log-width of the soft edge of each size range
LINE_M = 60.0  # a thin line longer than this is a track, not hardware
# brightening share (bright_fraction) each class tends to show: (mean, sd) of a soft bump
BRIGHT = {
    "lander": (0.35, 0.5),
    "parachute": (0.97, 0.12),
    "backshell": (0.6, 0.35),
    "heat_shield": (0.35, 0.4),
    "descent_stage": (0.05, 0.2),
    "new_crater": (0.0, 0.15),
    "unknown": (0.5, 0.6),
}
# elongation (width / length) each class tends to show: (mean, sd); craters are round, the
# descent stage's fan is about twice as long as wide
ELONGATION = {
    "lander": (0.7, 0.3),
    "parachute": (0.65, 0.2),
    "backshell": (0.65, 0.25),
    "heat_shield": (0.65, 0.25),
    "descent_stage": (0.5, 0.15),
    "new_crater": (0.88, 0.1),
    "unknown": (0.5, 0.5),
}
LINE_ELONGATION = 0.15  # thinner than this and longer than LINE_M: a track
MOON_CRATER_BRIGHT = (0.8, 0.3)  # lunar new craters: bright and dark reflectance halos
MOON_LANDER_BRIGHT = (0.8, 0.4)  # a lunar crash throws out bright ejecta (Vikram, LROC)
PAIR_M = (5.0, 100.0)  # backshell to its parachute: ~20-60 m at the landings in scene.py (assumed)
PAIR_SD = 0.25  # log-width of the soft edge of PAIR_M
SITE_SD_M = 150.0  # how far the lander may be from a --site hint (1 sigma, assumption)
NO_LANDER = -2.0  # log weight of a jettisoned piece when no lander is in view
PIECE_MIN_M = 30.0  # pieces lie outside the core of the blast zone (assumption)
NO_PARACHUTE = -3.0  # log weight of a backshell with no parachute beside it
NO_LANDER_HINTED = 2.0  # cost of no lander when --site or --mission says a landing is in view
# least share of a lander's change in the vehicle's polarity for that part to be the vehicle
# (chosen on tuning seeds 0-43: median position error 0.1-1.1 m against 1.5-7.5 m for the
# centroid, Schiaparelli's crash unchanged)
VEHICLE_SHARE = 0.05
MISSION_WEIGHT = 0.1  # weight of the EDL priors (broad, ~0.5 km; chosen on tuning seeds 0-87)
MISSION_DISTANCE_ONLY = True  # False: the 2-D Gaussian logpdf of the offset (edl.Prior)
MISSION_FLOOR = -8.0  # the priors may favour a place but not veto one (the model is uncertain)
# log weight of a piece's change lying along the line to the lander against across it (times
# its elongation): the descent stage's debris V points back at the vehicle (uahirise.org
# ESP_068294_1985, FACTS.md); the heat shield's scar runs along its flight, the entry ground
# track the vehicle followed (assumption). Chosen on tuning seeds 0-87 from 0-4 and 0-3.
RADIAL = {"heat_shield": 2.0, "descent_stage": 3.0}

# Isotonic calibration of the raw posterior logit, per group (knots of logit, P(right)): fit by
# ``python bench/identify_table.py --fit`` on the TUNING seeds only, on the scores of each half
# of them given by the layer and the trees fit on the other half.
# fmt: off
CALIBRATION = {
    "hardware": (  # 2098 detections, 0.95 right
        [-2.77, -1.53, -0.23, 0.23, 0.64, 1.23, 1.81, 2.43, 2.8, 3.13, 3.7, 4.09, 5.73, 13.82],
        [0.143, 0.429, 0.529, 0.568, 0.643, 0.75, 0.826, 0.841, 0.857, 0.923, 0.931, 0.962,
         0.972, 0.998],
    ),
    "natural": (  # 30522 detections, 0.99 right
        [0.11, 0.86, 1.28, 1.45, 1.58, 2.01, 2.46, 2.72, 3.02, 3.58, 4.0, 4.7, 5.38, 5.62, 5.81,
         6.5, 7.82, 9.21, 13.82],
        [0.758, 0.844, 0.873, 0.885, 0.885, 0.918, 0.929, 0.945, 0.947, 0.971, 0.971, 0.984,
         0.986, 0.986, 0.996, 0.998, 0.998, 0.999, 1.0],
    ),
}
# fmt: on

# Per-class log prior of the physical model (the base rate of each class among candidates).
PRIOR = {
    "lander": -1.0,
    "parachute": -1.0,
    "backshell": -1.5,
    "heat_shield": -2.0,
    "descent_stage": -2.0,
    "new_crater": -1.5,
    "unknown": -3.0,
}
WEAK_SIGMA = 8.5  # changes weaker than this (sigma) are mostly noise and clutter


@dataclass
class Layout:
    """One joint assignment: candidate index per hardware class (or None) and its log score."""

    picks: dict
    logscore: float


def _soft_range(value: float, lo: float, hi: float, sd: float) -> float:
    """0 inside [lo, hi], a Gaussian fall-off in log space outside."""
    v = math.log(max(value, 1e-6))
    if v < math.log(lo):
        return -0.5 * ((v - math.log(lo)) / sd) ** 2
    if v > math.log(hi):
        return -0.5 * ((v - math.log(hi)) / sd) ** 2
    return 0.0


def _bump(value: float, mean: float, sd: float) -> float:
    return -0.5 * ((value - mean) / sd) ** 2


def physical_loglik(c, gsd: float | None, moon: bool = False) -> dict[str, float]:
    """Log-likelihood of each class for one candidate from its physical size, brightening share,
    elongation and strength (hand-set from the sizes above)."""
    out = {}
    bf = float(c.bright_fraction)
    length_px = float(c.length_px)
    width_px = float(c.width_px)
    elong = width_px / max(length_px, 1e-6)
    if gsd:
        blur = BLUR_PX * gsd
        length_m = length_px * gsd
    for cls in CLASSES:
        ll = PRIOR[cls]
        if gsd and cls in SIZE_M:
            lo, hi = SIZE_M[cls]
            ll += _soft_range(length_m, math.hypot(lo, blur), math.hypot(hi, blur), SIZE_SD)
        mean, sd = BRIGHT[cls]
        if moon and cls in ("new_crater", "lander"):
            mean, sd = MOON_CRATER_BRIGHT if cls == "new_crater" else MOON_LANDER_BRIGHT
        ll += _bump(bf, mean, sd)
        ll += _bump(min(elong, 1.0), *ELONGATION[cls])
        if cls != "unknown":
            ll -= 0.8 * max(0.0, WEAK_SIGMA - float(c.peak_sigma))
        if cls == "lander":
            # the landed vehicle's blast zone or crash scar is among the strongest changes
            ll += min(2.5, math.log(max(float(c.peak_sigma), 1e-3) / WEAK_SIGMA))
        out[cls] = ll
    # a long thin line (dust-devil track, slope streak) is never hardware nor a crater
    long_line = elong < LINE_ELONGATION and (length_m > LINE_M if gsd else length_px > 20)
    if long_line:
        for cls in (*HARDWARE, "new_crater"):
            out[cls] -= 10.0
    if moon:
        for cls in PIECES:
            out[cls] = -math.inf
    return out


NEAR_M = 60.0  # radius of a blast zone's neighbourhood (scene.py: halos 45-70 m)


def neighbours(found, gsd: float | None) -> np.ndarray:
    """How many other candidates lie within NEAR_M of each (a blast zone breaks into pieces
    around the vehicle; without a pixel size, within 12 px)."""
    from scipy.spatial import cKDTree

    xy = np.array([[c.x, c.y] for c in found], dtype=float).reshape(-1, 2)
    r = NEAR_M / gsd if gsd else 12.0
    strong = np.array([c.peak_sigma >= WEAK_SIGMA for c in found], dtype=bool)
    out = np.zeros(len(found), dtype=int)
    if strong.any():
        tree = cKDTree(xy[strong])
        out = np.array([len(v) for v in tree.query_ball_point(xy, r)], dtype=int)
    return out - strong.astype(int)


def scene_context(found, gsd: float | None) -> list[tuple[int, float, float]]:
    """Per candidate: neighbours in a blast zone's reach, and its peak significance and its
    length relative to the strongest and the longest compact change in the scene (the landed
    vehicle's blast zone or crash is among the biggest and strongest changes)."""
    near = neighbours(found, gsd)
    sig = np.array([max(float(c.peak_sigma), 1.0) for c in found])
    compact = [not _long_line(c, gsd) for c in found]
    length = np.array([max(float(c.length_px), 0.5) for c in found])
    top_len = max((v for v, k in zip(length, compact, strict=True) if k), default=1.0)
    return [
        (int(k), math.log(s / sig.max()), math.log(min(v / top_len, 1.0)))
        for k, s, v in zip(near, sig, length, strict=True)
    ]


def features(c, gsd: float | None, moon: bool = False, ctx=(0, 0.0, 0.0)) -> np.ndarray:
    """What the fitted layer sees of a candidate: the physical log-likelihoods, and the
    measurements themselves in forms that hold across cameras (metres and pixels)."""
    phys = physical_loglik(c, gsd, moon)
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


def candidate_logliks(found, gsd: float | None, moon: bool, context) -> list[dict]:
    """Log-probability of each class for each candidate from its own measurements (and its
    ``context``, :func:`scene_context`): the fitted layers over :func:`features`
    (:func:`layer_logprobs`), or the physical log-likelihoods where no fit is present."""
    if WEIGHTS is None:
        return [physical_loglik(c, gsd, moon) for c in found]
    x = np.array([features(c, gsd, moon, k) for c, k in zip(found, context, strict=True)])
    return [_restricted(c, gsd, moon, z) for c, z in zip(found, layer_logprobs(x), strict=True)]


def layer_logprobs(x: np.ndarray) -> np.ndarray:
    """(n, classes) class log-probabilities of the feature rows ``x``: the logistic layer's
    (``WEIGHTS``) and the boosted trees' (``TREES_FILE``, floored at TREES_FLOOR) averaged with
    weight TREES_WEIGHT on the trees, and renormalised."""
    z = x @ np.asarray(WEIGHTS).T
    z -= np.logaddexp.reduce(z, axis=1, keepdims=True)
    if TREES_WEIGHT:
        t = _trees().raw(x)
        t -= np.logaddexp.reduce(t, axis=1, keepdims=True)
        z = (1 - TREES_WEIGHT) * z + TREES_WEIGHT * np.maximum(t, TREES_FLOOR)
        z -= np.logaddexp.reduce(z, axis=1, keepdims=True)
    return z


def _restricted(c, gsd, moon: bool, z: np.ndarray) -> dict:
    """Class log-probabilities ``z`` as a dict, less what cannot be: no jettisoned piece on
    the Moon, no hardware or crater along a long thin line."""
    out = {k: float(v) for k, v in zip(CLASSES, z, strict=True)}
    if moon:
        for cls in PIECES:
            out[cls] = -math.inf
    if _long_line(c, gsd):
        for cls in (*HARDWARE, "new_crater"):
            out[cls] -= 10.0
    return out


def _long_line(c, gsd) -> bool:
    elong = float(c.width_px) / max(float(c.length_px), 1e-6)
    return elong < LINE_ELONGATION and (c.length_px * gsd > LINE_M if gsd else c.length_px > 20)


# Multinomial logistic weights (classes x features), fit by
# ``python bench/identify_table.py --fit-model`` on the TUNING seeds (0-87, scenes of natural
# changes only among them) only.
# fmt: off
WEIGHTS = [
    [
        -0.6232, 0.2781, -0.3401, 0.6364, -0.0264, 0.1075, -5.4703, 2.7357,
        1.5134, -6.4551, -10.9122, -0.3152, -1.5231, 11.5578, 4.0207, 0.5030,
        -0.3004, 0.5501, 0.5086, 0.3672, -0.7624, -5.8460,
    ],
    [
        1.3482, -0.9095, -1.2285, 2.6300, -1.0025, -0.6030, 3.0189, -0.7624,
        -4.3854, 5.0128, -0.4827, 2.1170, 3.6227, -0.2576, -0.2307, 4.7703,
        -0.2828, 0.9041, 2.9989, 0.1867, 4.1879, 0.0593,
    ],
    [
        0.2069, 0.4184, 1.2303, -2.7088, 0.8877, -0.0509, -2.2241, -2.5529,
        -2.4451, 5.5799, -1.5865, 3.3354, 3.4376, -8.4015, -7.6776, 0.5599,
        -0.8221, 1.6300, -1.5928, 0.2365, -2.9906, -0.4974,
    ],
    [
        -0.0165, 0.1264, 1.2388, -2.2392, 0.7543, -0.0250, -1.8253, -2.0184,
        -1.2134, 3.1416, -4.1629, 4.8065, 2.6061, -6.9804, -6.3218, 0.2604,
        -0.8324, -1.9113, -1.6019, -0.1256, -2.5117, -0.2176,
    ],
    [
        0.0903, -0.6693, -0.6463, 1.8153, -0.5599, -0.0992, 7.0802, 0.6781,
        -0.7391, -1.7100, 11.9630, -5.0207, 1.7994, -0.0045, -0.0032, -1.0528,
        1.7818, 2.4024, -1.4442, -0.0779, -5.4494, 1.4005,
    ],
    [
        -0.4492, 0.5112, 0.2546, -0.1553, -0.1863, 0.6062, 0.2241, 2.3128,
        4.4479, 0.1692, 4.6718, -3.1958, -4.2863, 4.8535, 12.6431, -3.7983,
        0.4010, -1.9739, 0.8533, -0.1110, 8.0244, -6.9602,
    ],
    [
        -0.5564, 0.2447, -0.5088, 0.0217, 0.1330, 0.0644, -0.8035, -0.3929,
        2.8217, -5.7384, 0.5096, -1.7272, -5.6564, -0.7672, -2.4306, -1.2424,
        0.0550, -1.6014, 0.2781, -0.4760, -0.4981, 12.0615,
    ],
]
# fmt: on


# Boosted trees over the same features, fit by ``python bench/identify_table.py --fit-trees``
# on the TUNING seeds (scikit-learn's HistGradientBoostingClassifier, exported to plain arrays:
# identification needs numpy alone). A linear layer cannot give one class two looks (a landed
# rover's bright speck in a dark halo, a crash's dark scar) nor cut a measurement at a size;
# the trees can, the layer is smoother: their log-probabilities are averaged. Fit both on seeds
# 0-65 and scored on 66-87 then 400-443: CTX 0.876 -> 0.905 and 0.896 -> 0.929 against the
# layer alone, HiRISE 0.914 -> 0.914 and 0.908 -> 0.929; the weight chosen on 66-87 from 0.5,
# 0.75 and 1 (the trees alone: HiRISE 0.87 there).
TREES_FILE = Path(__file__).resolve().parent / "data" / "identify_trees.npz"
TREES_WEIGHT = 0.5
TREES_FLOOR = math.log(1e-6)  # no tree ensemble is surer than this of a class being wrong


@dataclass(frozen=True)
class Trees:
    """Regression trees adding up to one raw score per class, stored flat: node arrays of all
    trees end to end (``left`` and ``right`` index into them; a leaf points at itself), the
    root and the class of each tree, and each class's baseline score. Inputs must be finite
    (:func:`features` are): a NaN would go right at every node."""

    feature: np.ndarray
    threshold: np.ndarray  # a row goes left when its feature <= threshold
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    roots: np.ndarray
    tree_class: np.ndarray
    baseline: np.ndarray
    depth: int

    @classmethod
    def load(cls, path: Path) -> Trees:
        with np.load(path) as data:
            arrays = {k: data[k] for k in data.files}
        arrays["depth"] = int(arrays["depth"])
        return cls(**arrays)

    @classmethod
    def from_sklearn(cls, model) -> Trees:
        """The trees of a fitted scikit-learn ``HistGradientBoostingClassifier`` (numerical
        features, no missing values; read from its private ``_predictors`` and
        ``_baseline_prediction``, so checked against ``predict_proba`` where it is fit)."""
        trees = [(k, tree.nodes) for rounds in model._predictors for k, tree in enumerate(rounds)]
        sizes = np.array([nodes.size for _, nodes in trees])
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        nodes = np.concatenate([n for _, n in trees])
        shift = np.repeat(starts, sizes)
        own = np.arange(nodes.size)
        leaf = nodes["is_leaf"].astype(bool)
        return cls(
            feature=nodes["feature_idx"].astype(np.int16),
            threshold=nodes["num_threshold"].astype(np.float64),
            left=np.where(leaf, own, nodes["left"] + shift).astype(np.int32),
            right=np.where(leaf, own, nodes["right"] + shift).astype(np.int32),
            value=nodes["value"].astype(np.float64),
            roots=starts.astype(np.int32),
            tree_class=np.array([k for k, _ in trees], dtype=np.int16),
            baseline=np.asarray(model._baseline_prediction, dtype=np.float64).ravel(),
            depth=int(nodes["depth"].max()),
        )

    def raw(self, x: np.ndarray, chunk: int = 1024) -> np.ndarray:
        """(n, classes) raw scores of the feature rows ``x``: every tree walked at once."""
        one_hot = np.eye(self.baseline.size)[self.tree_class]
        out = np.empty((x.shape[0], self.baseline.size))
        for start in range(0, x.shape[0], chunk):
            rows = x[start : start + chunk]
            node = np.broadcast_to(self.roots, (rows.shape[0], self.roots.size)).copy()
            index = np.arange(rows.shape[0])[:, None]
            for _ in range(self.depth):
                go_left = rows[index, self.feature[node]] <= self.threshold[node]
                node = np.where(go_left, self.left[node], self.right[node])
            out[start : start + chunk] = self.baseline + self.value[node] @ one_hot
        return out


@functools.cache
def _trees() -> Trees:
    return Trees.load(TREES_FILE)


@functools.lru_cache(maxsize=8)
def _priors(mission: str):
    from orbitscout.edl import debris as edl

    return edl.debris_priors(mission, n_samples=200, seed=0)


def _offsets(found, gsd: float | None) -> np.ndarray:
    """(n, 2) east/north offsets in metres (pixels without a pixel size), north-up grid."""
    scale = gsd or 1.0
    return np.array([[c.x * scale, -c.y * scale] for c in found], dtype=float).reshape(-1, 2)


def _site_xy(site, after) -> tuple[float, float] | None:
    """Pixel position (x, y) of the (lat, lon) ``site`` in the AFTER image, or None."""
    if site is None or after is None or not getattr(after, "georeferenced", False):
        return None
    from pyproj import CRS, Transformer

    lat, lon = site
    tr = Transformer.from_crs(
        after.body.crs, CRS.from_user_input(after.crs.to_wkt()), always_xy=True
    )
    mx, my = tr.transform(lon, lat)
    col, row = ~after.transform @ (mx, my)
    return float(col - 0.5), float(row - 0.5)


def bearing_deg(east: float, north: float) -> float:
    """Clockwise from north."""
    return math.degrees(math.atan2(east, north)) % 360.0


def _axes(found) -> np.ndarray:
    """(n, 3): each candidate's long axis as a unit vector (east, north) and its elongation
    (0 round, 1 a line); zeros for a candidate given as None."""
    out = np.zeros((len(found), 3))
    for i, c in enumerate(found):
        if c is not None:
            a = math.radians(-float(c.orientation_deg))  # rows run south
            e = 1.0 - min(float(c.width_px) / max(float(c.length_px), 1e-6), 1.0)
            out[i] = (math.cos(a), math.sin(a), e)
    return out


def _piece_context(cls, k, lander, pos, gsd, priors, axes=None) -> float:
    """Log weight of candidate ``k`` being piece ``cls`` given the lander index."""
    if lander is None:
        return NO_LANDER  # a jettisoned piece with no landed vehicle in view is less likely
    d = pos[k] - pos[lander]
    dist = float(np.hypot(*d))
    term = 0.0
    if axes is not None and dist > 0 and RADIAL.get(cls):
        ux, uy, e = axes[k]
        cos2 = 2.0 * ((ux * d[0] + uy * d[1]) / dist) ** 2 - 1.0  # 1 along, -1 across
        term += RADIAL[cls] * e * cos2
    if gsd:
        # pieces land well away from where the vehicle hovered (>~30 m: outside the blast zone
        # core; 0.3-2 km at real landings, less in the small simulated frames)
        term += _soft_range(dist, PIECE_MIN_M, 5000.0, 0.5)
        if priors is not None and cls in priors:
            p = priors[cls]
            if MISSION_DISTANCE_ONLY:
                # the EDL model's distances hold better than its bearings (those hang on the
                # approach heading and the wind): compare the distance alone
                sd = max(float(p.distance_sd_m), 0.25 * float(p.distance_m), 1.0)
                lp = -0.5 * ((dist - float(p.distance_m)) / sd) ** 2
            else:
                lp = p.logpdf(float(d[0]), float(d[1])) - p.logpdf(p.east_m, p.north_m)
            term += MISSION_WEIGHT * max(lp, MISSION_FLOOR)
    else:
        term += _soft_range(dist, 8.0, 1e6, 0.5)
    return term


def _assign(ll, found, pos, gsd, site_px, priors, moon, axes=None) -> Layout:
    """Best joint layout by enumerating the lander and parachute and assigning the rest
    (``axes``: :func:`_axes` of ``found``, computed here when not given)."""
    from scipy.optimize import linear_sum_assignment

    n = len(found)
    axes = _axes(found) if axes is None else axes
    alt = np.array([max(ll[i]["new_crater"], ll[i]["unknown"]) for i in range(n)])

    def gain(i, cls):
        return ll[i][cls] - alt[i]

    top = 8
    lander_opts = [None] + sorted(range(n), key=lambda i: -gain(i, "lander"))[:top]
    if site_px is not None:  # and the candidates nearest the hinted site
        near_site = sorted(range(n), key=lambda i: float(np.hypot(*(pos[i] - site_px))))[:3]
        lander_opts += [i for i in near_site if i not in lander_opts]
    best = Layout({}, -math.inf)
    for lander in lander_opts:
        base = 0.0
        if lander is not None:
            base += gain(lander, "lander")
            if site_px is not None:
                dd = float(np.hypot(*(pos[lander] - site_px)))
                sd = SITE_SD_M if gsd else SITE_SD_M / 5.0
                base += -0.5 * (dd / sd) ** 2 + 0.5  # near the hinted site: a small bonus
        elif site_px is not None or priors is not None:
            base -= NO_LANDER_HINTED  # a hint says a landing is in view
        if moon:
            if base > best.logscore:
                best = Layout({"lander": lander}, base)
            continue
        rest = [i for i in range(n) if i != lander]
        ctx = {
            (cls, i): _piece_context(cls, i, lander, pos, gsd, priors, axes)
            for cls in PIECES
            for i in rest
        }
        para_opts = [None] + sorted(rest, key=lambda i: -(gain(i, "parachute")))[:top]
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
                    g[:, 0] += [_beside_parachute(pos[i], pos[para], gsd) for i in free]
                else:
                    g[:, 0] += NO_PARACHUTE
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
            if score > best.logscore:
                best = Layout(picks, score)
    return best


def _calibrate(p_raw: float, group: str) -> float:
    """P(right) from the raw posterior: an isotonic map of its logit (CALIBRATION), or the raw
    posterior where no map is present."""
    if group not in CALIBRATION:
        return p_raw
    knots_x, knots_p = CALIBRATION[group]
    p = min(max(p_raw, 1e-6), 1 - 1e-6)
    return float(np.interp(math.log(p / (1 - p)), knots_x, knots_p))


def identify(found, after=None, site=None, mission=None) -> None:
    """Set ``cls``, ``score`` and ``features`` of each candidate in ``found`` (in place).

    ``after``: the AFTER :class:`~orbitscout.image.product.Product`; ``site``: (lat, lon)
    where the lander should be; ``mission``: a name known to :mod:`orbitscout.edl`."""
    if not found:
        return
    body = getattr(after, "body", None) if after is not None else None
    moon = body is not None and body.name.lower() == "moon"
    gsd = found[0].gsd_m
    if gsd is None and after is not None:
        gsd = getattr(after, "gsd_m", None)
    priors = _priors(mission.strip().lower()) if (mission and not moon) else None
    context = scene_context(found, gsd)
    ll = candidate_logliks(found, gsd, moon, context)
    if priors is not None:
        # a piece this mission did not drop (Schiaparelli and InSight had no descent stage)
        for row in ll:
            for cls in PIECES:
                if cls not in priors:
                    row[cls] = -math.inf
    pos = _offsets(found, gsd)
    site_px = _site_xy(site, after)
    site_pos = None
    if site_px is not None:
        scale = gsd or 1.0
        site_pos = np.array([site_px[0] * scale, -site_px[1] * scale])
    axes = _axes(found)
    layout = _assign(ll, found, pos, gsd, site_pos, priors, moon, axes)
    lander = layout.picks.get("lander")
    assigned = {i: cls for cls, i in layout.picks.items() if i is not None}
    for i, c in enumerate(found):
        # posterior over classes with the chosen layout as context: the hardware class this
        # candidate holds (if any) against its own non-hardware alternatives
        scores = {cls: ll[i][cls] for cls in NATURAL}
        if i in assigned:
            cls = assigned[i]
            scores[cls] = ll[i][cls] + _context_gain(cls, i, layout, pos, gsd, priors, axes)
        else:
            for cls in HARDWARE:
                scores[cls] = (
                    ll[i][cls] + _context_gain(cls, i, layout, pos, gsd, priors, axes) - 2.0
                )
        label = assigned.get(i) or max(NATURAL, key=lambda k: scores[k])
        vals = np.array([v for v in scores.values() if v > -math.inf])
        z = float(np.logaddexp.reduce(vals))
        p_raw = math.exp(scores[label] - z)
        c.cls = label
        c.score = round(_calibrate(p_raw, "hardware" if label in HARDWARE else "natural"), 4)
        c.features["class_loglik"] = {k: round(v, 2) for k, v in ll[i].items() if v > -math.inf}
    if lander is None:
        return
    _place_on_vehicle(found[lander], moon)
    pos = _offsets(found, gsd)
    for i, c in enumerate(found):
        d = pos[i] - pos[lander]
        rel = {"bearing_deg": round(bearing_deg(float(d[0]), float(d[1])), 1)}
        if gsd:
            rel["distance_m"] = round(float(np.hypot(*d)), 1)
        else:
            rel["distance_px"] = round(float(np.hypot(*d)), 1)
        c.features["from_lander"] = rel


def _place_on_vehicle(c, moon: bool) -> None:
    """Move the lander's position from the centroid of its whole change onto the vehicle. On
    Mars the vehicle is the bright part (a white rover or deck) inside its darker blast zone
    (HiRISE ESP_068360_1985, InSight); on the Moon the landers simulated are crashes, whose
    impact point is the dark crater inside bright ejecta (Vikram, LROC). Where that part holds
    under VEHICLE_SHARE of the change (a crash on Mars shows no bright vehicle), the centroid
    stays. The centroid is kept in ``features["centroid_xy"]``."""
    part = c.dark_xy if moon else c.bright_xy
    share = 1.0 - float(c.bright_fraction) if moon else float(c.bright_fraction)
    if part is None or share < VEHICLE_SHARE:
        return
    c.features["centroid_xy"] = [round(c.x, 2), round(c.y, 2)]
    c.x, c.y = float(part[0]), float(part[1])


def _context_gain(cls, i, layout, pos, gsd, priors, axes=None) -> float:
    """The context term candidate ``i`` would get as ``cls`` in ``layout``."""
    lander = layout.picks.get("lander")
    if cls == "lander":
        return 0.0
    if lander is None or lander == i:
        return NO_LANDER
    g = _piece_context(cls, i, lander, pos, gsd, priors, axes)
    para = layout.picks.get("parachute")
    if cls == "backshell" and para is not None and para != i:
        g += _beside_parachute(pos[i], pos[para], gsd)
    return g


def _beside_parachute(at, parachute, gsd) -> float:
    """Log weight of a backshell at ``at`` given its parachute's position (PAIR_M apart; 2-40
    px without a pixel size)."""
    lo, hi = PAIR_M if gsd else (2.0, 40.0)
    return _soft_range(float(np.hypot(*(at - parachute))), lo, hi, PAIR_SD) + 1.0
