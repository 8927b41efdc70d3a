"""Identification on simulated scenes: recall of hardware, class accuracy, false hardware
detections and calibration of the score, per camera, as a markdown table.

    python bench/identify_table.py            # REPORTING seeds (never used for tuning)
    python bench/identify_table.py --tuning   # the TUNING seeds
    python bench/identify_table.py --seeds 400:444  # any other seeds (rendered on first use)
    python bench/identify_table.py --by-illumination  # class accuracy by the pair's sun change
    python bench/identify_table.py --markdown docs/validation.md  # the table into that page
    python bench/identify_table.py --fit      # fit the score calibration on the TUNING seeds
    python bench/identify_table.py --fit-model      # fit the logistic layer on them
    python bench/identify_table.py --fit-trees      # fit the boosted trees (scikit-learn)
    python bench/identify_table.py --fit-columns 1  # refit only its last feature's weights
    python bench/identify_table.py --ablation  # class accuracy without each feature group

The fits write the model file (``orbitscout/identify/data/model.npz``, atomically): the part
refit, the seeds it was fit on and ``git describe`` of the code, the other parts kept.

Each scene is rendered by ``orbitscout.simulate`` (1024 x 1024 px), passed through ``find``'s
detection and then ``identify`` with no hint (``--site``, ``--mission``: with the true site or the
layout's mission); candidates are kept in ``bench/.data/identify_frozen`` with the hash of the
rendering and detection sources they were made with, and are not made again when those change
(delete the files to): fits and tables compare models on the same candidates. Metrics:
- recall: hardware items at least 2 px across (their own size; the lander's blast zone or crash
  scar counts as the lander) matched by a detection of any class;
- class accuracy: matched truth items (hardware and natural) whose detection has their class;
- false hw / scene: detections given a hardware class that match no hardware item;
- calibration: expected calibration error of the score (all detections; an unmatched detection
  is right when it says ``unknown`` and lies on a truth item's ground, which changed:
  ``unknown`` claims a real change) and the fraction wrong among scores >= 0.8.
Scenes of natural changes only (layout ``natural``) are in the fits and reported apart.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import functools
import math
import pickle
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _scenes import (  # noqa: E402
    code_version,
    expected_calibration_error,
    family_covers,
    scene_candidates,
)

from orbitscout.core.classes import CLASSES, HARDWARE  # noqa: E402
from orbitscout.core.errors import OrbitscoutError  # noqa: E402
from orbitscout.core.illumination import sun_change  # noqa: E402
from orbitscout.detect.candidates import change_probability  # noqa: E402
from orbitscout.identify.classify import identify  # noqa: E402
from orbitscout.identify.features import FEATURE_NAMES, features, scene_context  # noqa: E402
from orbitscout.identify.model import (  # noqa: E402
    CALIBRATION_GROUPS,
    MODEL_FILE,
    Model,
    Trees,
    calibration_group,
)
from orbitscout.sim.evaluate import (  # noqa: E402
    evaluate_lists,
    footprint_distance_px,
    match_radius_px,
)
from orbitscout.sim.families import FITTING_FAMILIES  # noqa: E402
from orbitscout.sim.render import truth_suns  # noqa: E402

CAMERAS = {
    "cassis": ["random", "perseverance"],
    "hirise": ["random", "curiosity", "insight"],
    "ctx": ["random", "schiaparelli"],
    "nac": ["random", "vikram"],
}
# scenes of natural changes only (no hardware: a survey pair away from any landing), in the
# fits and reported apart: without them every training scene holds a lander, and the layer
# learns that the strongest change is one
NATURAL_LAYOUT = "natural"
TRAINING_LAYOUTS = {cam: [*layouts, NATURAL_LAYOUT] for cam, layouts in CAMERAS.items()}
TUNING_SEEDS = tuple(range(88))
REPORTING_SEEDS = tuple(range(100, 112))
ABLATION_FIT_SEEDS = tuple(range(24))  # tuning seeds the ablation's fits are made on
SIZE = 1024
FAMILY_SEEDS = tuple(range(8))  # seeds of each scene family for --families


class _After:
    """What :func:`~orbitscout.image.product.site_pixel` needs of the AFTER product (body, CRS
    and transform), from the truth of a simulated scene."""

    def __init__(self, truth):
        from affine import Affine

        from orbitscout.core.bodies import get_body, local_map_crs

        self.body = get_body(truth["body"])
        self.georeferenced = True
        self.crs = local_map_crs(self.body, truth["site"]["lat"], truth["site"]["lon"])
        self.transform = Affine(*truth["transform"])


@functools.lru_cache(maxsize=8)
def _priors(mission: str) -> dict:
    """The EDL priors identify gets with ``--mission`` (as ``find`` computes them)."""
    from orbitscout.edl.debris import debris_priors

    return debris_priors(mission, n_samples=200, seed=0)


BASE = "base"  # today's renderer, no family drawn
STORE = Path(__file__).resolve().parent / ".data" / "identify_frozen"
# find is given each pair's suns, as the products' labels give them; --no-suns: bare GeoTIFFs
GIVE_SUNS = True
STALE: set[str] = set()  # scenes whose kept candidates other detection code rendered


def scene(camera: str, layout: str, seed: int, family: str = BASE):
    """(candidates, truth) of one scene of ``family`` (``base``: the renderer's own ranges),
    identify not applied; None where ``find`` could not register the pair. Kept in
    :data:`STORE` with the detection code's hash of the day it was rendered, and not rendered
    again when that code changes (delete the file to): the fits and tables of one session
    see the same candidates while the detection is being worked on (``STALE`` names those
    kept from other code, and the table says how many); their ``change_score`` follows the
    current coefficients (``_rescored``). ``find`` is given the pair's suns
    unless ``GIVE_SUNS`` is off (``--no-suns``; kept apart)."""
    key = STORE / f"{family}_{camera}_{layout}_{seed}{'' if GIVE_SUNS else '_nosun'}.pkl"
    if key.exists():
        kept = pickle.loads(key.read_bytes())
        if kept["code"] != code_version():
            STALE.add(key.name)
        return _rescored(kept["out"])
    fam = None if family == BASE else family
    out = scene_candidates(camera, layout, seed, SIZE, cache=False, family=fam, suns=GIVE_SUNS)
    key.parent.mkdir(parents=True, exist_ok=True)
    key.write_bytes(pickle.dumps({"code": code_version(), "out": out}))
    return out


def _rescored(out):
    """Kept candidates with their ``change_score`` computed again from their peak
    significance, novelty and the pair's suns (as ``find`` was given them) by the current
    default ``DetectParams``' coefficients (``find``'s): kept scenes follow a refit of
    ``change_probability``."""
    if out is None:
        return None
    found, truth = out
    angle = None
    if GIVE_SUNS:
        suns = truth_suns(truth)
        angle = sun_change(suns["before"], suns["after"])["angle_deg"]
    for c in found:
        c.change_score = float(change_probability(c.peak_sigma, c.novelty, sun_change_deg=angle))
    return found, truth


def run_scene(camera, layout, seed, site=False, mission=False, model=None, family=BASE):
    """Candidates of one scene identified with no hint, or with the true site (``site``) or the
    layout's mission (``mission``, where edl knows it), by ``model`` (the shipped one by
    default)."""
    got = scene(camera, layout, seed, family)
    if got is None:
        return None
    found, truth = got
    for c in found:
        c.cls, c.features = "unknown", {}
    from orbitscout.edl.missions import mission_names
    from orbitscout.image.product import site_pixel

    moon = truth["body"].lower() == "moon"
    site_px = None
    if site:
        site_px = site_pixel(_After(truth), truth["site"]["lat"], truth["site"]["lon"])
    priors = None
    if mission and layout in mission_names() and not moon:
        priors = _priors(layout)
    gsd = found[0].gsd_m if found and found[0].gsd_m is not None else truth["gsd_m"]
    identify(found, gsd_m=gsd, moon=moon, site_px=site_px, priors=priors, model=model)
    return found, truth


def scene_metrics(found, truth) -> dict:
    """A scene's counts, and the (score, right, class) of each detection: a matched one is
    right when its class is the truth item's; an unmatched one when it says ``unknown`` and
    lies within a truth item's radius, on ground that did change (``unknown`` claims a real
    change: ``identify.classify.raw_score``)."""
    dets = [
        {"x": c.x, "y": c.y, "class": c.cls, "score": c.score, "alternative": c.alternative}
        for c in found
    ]
    res = evaluate_lists(dets, truth)
    gsd = truth["gsd_m"]
    items = truth["items"]
    by_truth = {m["truth_id"]: m for m in res["matches"]}
    hw_big = [
        it
        for it in items
        if it["class"] in HARDWARE
        and (it["extent_m"] if it["class"] == "lander" else it["size_m"]) >= 2 * gsd
    ]
    matched_det = {m["detection_id"]: m for m in res["matches"]}
    false_hw = 0
    pairs = []  # (score, right)
    for i, d in enumerate(dets):
        m = matched_det.get(i)
        if d["class"] in HARDWARE and (m is None or m["truth_class"] not in HARDWARE):
            false_hw += 1
        if m:
            right = m["truth_class"] == d["class"]
        else:
            right = d["class"] == "unknown" and _on_item(d["x"], d["y"], items, gsd)
        pairs.append((d["score"], right, d["class"]))
    matches = res["matches"]
    return {
        "hw_total": len(hw_big),
        "hw_found": sum(1 for it in hw_big if it["id"] in by_truth),
        "matched": len(matches),
        "right": sum(1 for m in matches if m["truth_class"] == m["detection_class"]),
        "hw_matched": sum(1 for m in matches if m["truth_class"] in HARDWARE),
        "hw_right": sum(
            1
            for m in matches
            if m["truth_class"] in HARDWARE and m["truth_class"] == m["detection_class"]
        ),
        "false_hw": false_hw,
        # wrong labels whose second class (``alternative``) is the truth
        "wrong_alt": sum(
            1
            for m in matches
            if m["truth_class"] != m["detection_class"]
            and dets[m["detection_id"]]["alternative"] == m["truth_class"]
        ),
        "pairs": pairs,
        "confusion": res["confusion"],
    }


def ece(pairs, bins=10) -> float:
    """Expected calibration error of the (score, right, class) ``pairs``."""
    return expected_calibration_error([p[0] for p in pairs], [p[1] for p in pairs], bins)


def ece_floor(pairs, draws: int = 200) -> float:
    """The ECE a perfectly calibrated score would read on ``pairs``' scores: the mean of
    :func:`ece` over ``draws`` sets of outcomes drawn right with each score's probability
    (seeded: the same pairs give the same figure). With a few hundred detections a row, binned
    ECE reads 0.04-0.07 from sampling alone."""
    scores = np.array([p[0] for p in pairs], float)
    if not scores.size:
        return math.nan
    rng = np.random.default_rng(0)
    return float(
        np.mean(
            [
                expected_calibration_error(scores, rng.random(scores.size) < scores)
                for _ in range(draws)
            ]
        )
    )


def _covers(family: str, camera: str) -> bool:
    """Whether ``family`` (``base``: the renderer's own look, every body) has scenes for
    ``camera``."""
    return family == BASE or family_covers(family, camera)


def _split(seeds) -> dict:
    """Family to seeds: ``seeds`` as given (a mapping) or of the base renderer."""
    return dict(seeds) if isinstance(seeds, dict) else {BASE: tuple(seeds)}


def camera_stats(seeds, site=False, mission=False, verbose=False, scenes=None, model=None):
    """Per camera, the counts over ``scenes`` (layouts per camera; CAMERAS by default) of
    ``seeds`` (a sequence of the base renderer, or family to seeds) identified by ``model``
    (the shipped one by default): scenes, recall, matched and right, false hardware, and the
    (score, right, class) of every detection."""
    stats = {}
    for cam, layouts in (scenes or CAMERAS).items():
        agg = dict.fromkeys(
            ("scenes", "hw_total", "hw_found", "matched", "right", "hw_matched", "hw_right"), 0
        )
        agg.update(false_hw=0, wrong_alt=0, failed=0, pairs=[], conf={})
        for family, fam_seeds in _split(seeds).items():
            if not _covers(family, cam):
                continue
            for layout in layouts:
                for seed in fam_seeds:
                    got = run_scene(cam, layout, seed, site, mission, model, family)
                    if got is None:
                        agg["failed"] += 1
                        continue
                    m = scene_metrics(*got)
                    agg["scenes"] += 1
                    for k in ("hw_total", "hw_found", "matched", "right", "hw_matched"):
                        agg[k] += m[k]
                    agg["hw_right"] += m["hw_right"]
                    agg["false_hw"] += m["false_hw"]
                    agg["wrong_alt"] += m["wrong_alt"]
                    agg["pairs"] += m["pairs"]
                    for t, row in m["confusion"].items():
                        for d, v in row.items():
                            agg["conf"].setdefault(t, {}).setdefault(d, 0)
                            agg["conf"][t][d] += v
                    if verbose:
                        print(cam, family, layout, seed, m["confusion"])
        if verbose:
            print(cam, "confusion (truth -> detected):", agg["conf"])
        stats[cam] = agg
    return stats


def _share(k: int, n: int, digits: int = 2) -> str:
    """``k / n`` with its counts, or a dash where ``n`` is 0."""
    return f"{k / n:.{digits}f} ({k}/{n})" if n else "–"


def wrong_when_sure(pairs, at=0.8) -> tuple[float, int]:
    """Share of the detections scored at least ``at`` whose label is wrong, and how many."""
    hi = [p for p in pairs if p[0] >= at]
    return (1 - sum(p[1] for p in hi) / len(hi)) if hi else math.nan, len(hi)


def table(
    seeds, site=False, mission=False, verbose=False, scenes=None, model=None
) -> tuple[str, dict]:
    """The markdown table of :func:`camera_stats`, and the (score, right, class) of every
    detection per camera."""
    stats = camera_stats(seeds, site, mission, verbose, scenes, model)
    out = [
        "| camera | scenes | hardware recall (≥2 px) | class accuracy | hardware class "
        "accuracy | false hardware / scene | calibration error (ECE) | wrong when score ≥ 0.8 "
        "| hardware labels: mean score / right |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for cam, a in stats.items():
        hw = [p for p in a["pairs"] if p[2] in HARDWARE]
        hw_s = np.mean([p[0] for p in hw]) if hw else math.nan
        hw_r = np.mean([p[1] for p in hw]) if hw else math.nan
        n = f"{a['scenes']}" + (f" (+{a['failed']} not registered)" if a["failed"] else "")
        rec = a["hw_found"] / a["hw_total"] if a["hw_total"] else math.nan
        acc = _share(a["right"], a["matched"], 3)
        hwacc = a["hw_right"] / a["hw_matched"] if a["hw_matched"] else math.nan
        wrong, nhi = wrong_when_sure(a["pairs"])
        out.append(
            f"| {cam} | {n} | {rec:.2f} (of {a['hw_total']}) | {acc} | {hwacc:.2f} "
            f"| {a['false_hw'] / max(a['scenes'], 1):.2f} | {ece(a['pairs']):.3f} "
            f"| {wrong:.3f} (of {nhi}) | {hw_s:.2f} / {hw_r:.2f} (of {len(hw)}) |"
        )
    return "\n".join(out), {cam: a["pairs"] for cam, a in stats.items()}


def _pav(y: np.ndarray, w: np.ndarray) -> list[list[float]]:
    """Pool adjacent violators: blocks [mean, weight, count] non-decreasing in mean."""
    blocks: list[list[float]] = []
    for v, wt in zip(y, w, strict=True):
        blocks.append([v, wt, 1])
        while len(blocks) > 1 and blocks[-2][0] >= blocks[-1][0]:
            m2, w2, n2 = blocks.pop()
            m1, w1, n1 = blocks.pop()
            blocks.append([(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2, n1 + n2])
    return blocks


def out_of_fold_pairs(folds, columns=None) -> list:
    """(score, right, class) of every detection of each fold's scored scenes, by a layer and
    trees fit on its fitting scenes (``folds``: (fit on, score on) pairs, each a family to
    seeds mapping) and not calibrated; ``columns``, where given, the features kept."""
    pairs = []
    for fit_on, score_on in folds:
        model = uncalibrated_model(fit_on, columns)
        _, allpairs = table(score_on, scenes=TRAINING_LAYOUTS, model=model)
        pairs += [p for v in allpairs.values() for p in v]
    return pairs


def uncalibrated_model(fit_on, columns=None, cameras=None) -> Model:
    """Layer and trees fit on ``fit_on`` (family to seeds; ``cameras``' scenes, all by
    default), features outside ``columns`` (indices; all by default) held at 0 so that neither
    part can use them."""
    x, y = training_set(fit_on, cameras)
    if columns is not None:
        keep = np.zeros(x.shape[1], bool)
        keep[list(columns)] = True
        keep[-1] = True  # the intercept
        x = np.where(keep, x, 0.0)
    weights = fit_model(fit_on, data=(x, y))
    trees = Trees.from_sklearn(_tree_model(x, y))
    return Model(weights=weights, trees=trees, calibration=None)


def isotonic(pairs) -> dict:
    """Isotonic map from the raw score's logit to P(right) per group
    (``model.CALIBRATION_GROUPS``) over (score, right, class) ``pairs``; each block's rate
    Laplace-smoothed."""
    calibration = {}
    for group in CALIBRATION_GROUPS:
        sel = sorted((s, r) for s, r, c in pairs if calibration_group(c) == group)
        p = np.clip(np.array([s for s, _ in sel]), 1e-6, 1 - 1e-6)
        x = np.log(p / (1 - p))
        y = np.array([r for _, r in sel], float)
        blocks = _pav(y, np.ones_like(y))
        knots_x, knots_p, start = [], [], 0
        for mean, _, n in blocks:
            n = int(n)
            knots_x.append(float(np.median(x[start : start + n])))
            knots_p.append((mean * n + 1) / (n + 2))
            start += n
        knots_p = np.maximum.accumulate(knots_p).tolist()
        # rounded as the knots always were (2 and 3 decimals)
        calibration[group] = (
            np.array([round(float(v), 2) for v in knots_x]),
            np.array([round(float(v), 3) for v in knots_p]),
        )
        print(f"# {group}: {len(y)} detections, {y.mean():.2f} right, {len(blocks)} knots")
    return calibration


def fit(seeds) -> None:
    """The score's calibration (:func:`isotonic`) written into the model file. The layer and
    the trees are refit on each half of ``seeds`` and score the other half, so the map sees the
    scores of scenes they were not fit on, as in use (the trees are surer of the scenes they
    were fit on)."""
    _require_sklearn()
    halves = ({BASE: seeds[::2]}, {BASE: seeds[1::2]})
    calibration = isotonic(out_of_fold_pairs((halves, halves[::-1])))
    _write_model(lambda m: dataclasses.replace(m, calibration=calibration), "calibration", seeds)


def _code_version() -> str:
    """``git describe --always --dirty`` of the checkout (``unknown`` outside git)."""
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def _command() -> str:
    return shlex.join(["python", "bench/identify_table.py", *sys.argv[1:]])


def _write_model(change, part: str, seeds) -> None:
    """Write the model file: the shipped model with ``change`` applied (a function of the
    model) and ``part``'s record (seeds, code version, command) updated."""
    model = change(Model.load(MODEL_FILE))
    record = {"seeds": list(seeds), "code_version": _code_version(), "command": _command()}
    model = dataclasses.replace(
        model, features=FEATURE_NAMES, classes=CLASSES, fit={**model.fit, part: record}
    )
    model.save(MODEL_FILE)
    print(f"# {part} fit on seeds {seeds[0]}-{seeds[-1]} -> {MODEL_FILE}")


def natural_line(seeds, model=None) -> str:
    """False hardware detections per scene and class accuracy on scenes of natural changes
    only, per camera."""
    stats = camera_stats(seeds, scenes={c: [NATURAL_LAYOUT] for c in CAMERAS}, model=model)
    parts = [
        f"{cam} {a['false_hw'] / max(a['scenes'], 1):.2f} false hardware / scene "
        f"(of {a['scenes']}), class accuracy {_share(a['right'], a['matched'])}"
        for cam, a in stats.items()
    ]
    return f"Scenes of natural changes only (layout `{NATURAL_LAYOUT}`): " + "; ".join(parts) + "."


def _on_item(x: float, y: float, items: list[dict], gsd: float) -> bool:
    """Whether (x, y) lies within one of ``items``' match radius of it or its cast shadow."""
    return any(footprint_distance_px(x, y, it) <= match_radius_px(it, gsd) for it in items)


def _inside_item(c, truth) -> bool:
    named = [it for it in truth["items"] if it["class"] != "unknown"]
    return _on_item(c.x, c.y, named, truth["gsd_m"])


def training_set(seeds, cameras=None):
    """Features and truth class of every candidate in the scenes of ``seeds`` (a sequence of
    the base renderer, or family to seeds) of ``cameras`` (all by default; a candidate that
    matches no truth item is ``unknown``: noise, clutter, a fragment)."""
    xs, ys = [], []
    for family, fam_seeds in _split(seeds).items():
        for cam, layouts in TRAINING_LAYOUTS.items():
            if (cameras is not None and cam not in cameras) or not _covers(family, cam):
                continue
            for layout in layouts:
                for seed in fam_seeds:
                    got = scene(cam, layout, seed, family)
                    if got is None:
                        continue
                    found, truth = got
                    x, y = _scene_rows(found, truth)
                    xs += x
                    ys += y
    return np.array(xs), np.array(ys)


def _scene_rows(found, truth) -> tuple[list, list]:
    """Feature rows and truth classes of one scene's candidates (fragments left out)."""
    moon = truth["body"].lower() == "moon"
    dets = [{"x": c.x, "y": c.y, "class": "unknown"} for c in found]
    res = evaluate_lists(dets, truth)
    cls = {m["detection_id"]: m["truth_class"] for m in res["matches"]}
    context = scene_context(found, truth["gsd_m"])
    xs, ys = [], []
    for i, c in enumerate(found):
        if i not in cls and _inside_item(c, truth):
            continue  # a fragment of a truth item: neither it nor something else
        xs.append(features(c, truth["gsd_m"], moon, context[i]))
        ys.append(CLASSES.index(cls.get(i, "unknown")))
    return xs, ys


def _class_weights(y: np.ndarray) -> np.ndarray:
    """Per-candidate weights for the fits: each class by 1/sqrt(its frequency), mean 1."""
    counts = np.bincount(y, minlength=len(CLASSES)).astype(float)
    w = (1.0 / np.sqrt(np.maximum(counts, 1.0)))[y]
    return w / w.mean()


def fit_model(seeds, l2=0.3, data=None) -> np.ndarray:
    """Multinomial logistic regression, classes weighted by 1/sqrt(frequency), L2 on all but
    the intercept (``data``: the seeds' training set, when already built)."""
    from scipy.optimize import minimize

    x, y = training_set(seeds) if data is None else data
    k, f = len(CLASSES), x.shape[1]
    w = _class_weights(y)
    onehot = np.eye(k)[y]
    reg = np.ones(f)
    reg[-1] = 0.0

    def loss(theta):
        wm = theta.reshape(k, f)
        z = x @ wm.T
        z -= z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        val = -(w * (onehot * logp).sum(axis=1)).sum() + 0.5 * l2 * np.sum(reg * wm**2)
        grad = -((w[:, None] * (onehot - np.exp(logp))).T @ x) + l2 * reg * wm
        return val, grad.ravel()

    res = minimize(loss, np.zeros(k * f), jac=True, method="L-BFGS-B", options={"maxiter": 2000})
    wm = res.x.reshape(k, f)
    pred = (x @ wm.T).argmax(axis=1)
    print(f"# fit on {len(y)} candidates, counts {np.bincount(y, minlength=k).tolist()}")
    for c in range(k):
        sel = y == c
        print(f"#   {CLASSES[c]}: training accuracy {np.mean(pred[sel] == c):.2f}")
    return wm


# boosted trees: small and shallow (seeds 0-65 fit, 66-87 scored: 100-300 rounds of 7-31
# leaves within a point of each other), early stopping on a tenth of the candidates
TREE_PARAMS = dict(
    learning_rate=0.05,
    max_iter=200,
    max_leaf_nodes=15,
    l2_regularization=1.0,
    early_stopping=True,
    validation_fraction=0.1,
    random_state=0,
)


def fit_trees(seeds) -> None:
    """Fit the boosted trees on ``seeds`` (classes weighted as the layer) and write them, as
    plain arrays, into the model file."""
    _require_sklearn()
    x, y = training_set(seeds)
    model = _tree_model(x, y)
    if list(model.classes_) != list(range(len(CLASSES))):
        raise SystemExit("every class must be in the training set")
    trees = Trees.from_sklearn(model)
    raw = trees.raw(x)
    p = np.exp(raw - np.logaddexp.reduce(raw, axis=1, keepdims=True))
    err = float(np.abs(p - model.predict_proba(x)).max())
    if err > 1e-9:
        raise SystemExit(f"exported trees disagree with scikit-learn by {err:.2g}")
    print(
        f"# {model.n_iter_} rounds x {len(CLASSES)} trees, {trees.value.size} "
        f"nodes, fit on {len(y)} candidates"
    )
    _write_model(lambda m: dataclasses.replace(m, trees=trees), "trees", seeds)


def _require_sklearn() -> None:
    """Fail at once, before any scene is read, where scikit-learn (for the trees) is missing."""
    import importlib.util

    if importlib.util.find_spec("sklearn") is None:
        raise SystemExit("fitting the trees needs scikit-learn: pip install -e '.[fit]'")


def _tree_model(x: np.ndarray, y: np.ndarray):
    """The boosted trees fit on a training set (:func:`training_set`), classes weighted as
    the layer's."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(**TREE_PARAMS).fit(x, y, sample_weight=_class_weights(y))


def fit_columns(seeds, n: int, l2=0.3) -> np.ndarray:
    """Refit only the weights of the ``n`` features before the intercept (the rest of the
    shipped weights held): how a feature is added without refitting, and overfitting, the
    whole layer. The shipped weights may lack those columns (they start at zero)."""
    from scipy.optimize import minimize

    x, y = training_set(seeds)
    k, f = len(CLASSES), x.shape[1]
    base = np.zeros((k, f))
    shipped = Model.load(MODEL_FILE).weights
    if shipped.shape[1] == f:
        base[:] = shipped
    else:  # columns to add, before the intercept
        base[:, : f - 1 - n] = shipped[:, : f - 1 - n]
        base[:, -1] = shipped[:, -1]
    cols = list(range(f - 1 - n, f - 1))
    w = _class_weights(y)
    onehot = np.eye(k)[y]

    def loss(theta):
        wm = base.copy()
        wm[:, cols] = theta.reshape(k, n)
        z = x @ wm.T
        z -= z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        val = -(w * (onehot * logp).sum(axis=1)).sum() + 0.5 * l2 * np.sum(theta**2)
        grad = -((w[:, None] * (onehot - np.exp(logp))).T @ x)[:, cols] + l2 * theta.reshape(k, n)
        return val, grad.ravel()

    res = minimize(loss, base[:, cols].ravel(), jac=True, method="L-BFGS-B")
    base[:, cols] = res.x.reshape(k, n)
    return base


def _seed_range(text: str) -> tuple[int, ...]:
    """``A:B`` -> seeds A .. B-1."""
    try:
        start, stop = (int(v) for v in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not A:B (two integers)") from None
    if stop <= start:
        raise argparse.ArgumentTypeError(f"{text!r} holds no seed")
    return tuple(range(start, stop))


# feature groups for the ablation (prefixes of FEATURE_NAMES); what is physics and should carry
# over to other scenes: sizes in metres against the classes' blurred sizes, polarity, where a
# change lies among the others; what a renderer sets: pixel lengths, strength and contrast (its
# reflectances, noise and PSF), how full the box is (its profiles)
GROUPS = {
    "physical log-likelihoods": ("loglik_",),
    "size in metres, elongation": ("log_length", "elongation"),
    "length in pixels": ("log_length_px",),
    "polarity": ("bright_fraction", "bright_mixed", "moon_bright_fraction"),
    "strength and contrast": ("log_peak_sigma", "log_contrast_"),
    "scene context": ("log1p_neighbours", "log_sigma_of_strongest", "log_length_of_longest"),
    "fill of its box": ("log_fill",),
}


def group_columns(name: str) -> list[int]:
    """Indices of the features of group ``name`` (exact names or prefixes ending in ``_``)."""
    prefixes = GROUPS[name]
    return [
        i
        for i, f in enumerate(FEATURE_NAMES)
        if any(f == p or (p.endswith("_") and f.startswith(p)) for p in prefixes)
    ]


def accuracy_row(fit_on, score_on, columns=None) -> tuple[list[str], dict]:
    """Class accuracy per camera (with counts) on ``score_on``'s landing and natural scenes
    by a layer and trees fit on ``fit_on`` with ``columns`` kept, not calibrated; and the
    per-camera stats."""
    model = uncalibrated_model(fit_on, columns)
    stats = camera_stats(score_on, scenes=TRAINING_LAYOUTS, model=model)
    return [_share(a["right"], a["matched"]) for a in stats.values()], stats


def camera_transfer(fit_on, score_on) -> str:
    """Leave one Mars camera out: class accuracy on each of CaSSIS, HiRISE and CTX by a layer
    and trees fit on the other two (scenes of other pixel sizes), with every feature and with
    the renderer-set groups left out (markdown)."""
    mars = ("cassis", "hirise", "ctx")
    out = ["| features | " + " | ".join(mars) + " |", "|---|" + "---|" * len(mars)]
    for label, columns in _variants()[:1] + _variants()[-1:]:
        cells = []
        for cam in mars:
            model = uncalibrated_model(fit_on, columns, [c for c in mars if c != cam])
            a = camera_stats(score_on, scenes={cam: TRAINING_LAYOUTS[cam]}, model=model)[cam]
            cells.append(_share(a["right"], a["matched"]))
        out.append(f"| {label} | " + " | ".join(cells) + " |")
        print(out[-1], flush=True)
    return "\n".join(out)


RENDERER_GROUPS = ("length in pixels", "strength and contrast", "fill of its box")


def _variants() -> list[tuple[str, list[int]]]:
    """(label, kept columns): every feature, without each group, physics only."""
    every = list(range(len(FEATURE_NAMES)))
    variants = [("all features", every)]
    for name in GROUPS:
        drop = set(group_columns(name))
        variants.append((f"without {name}", [i for i in every if i not in drop]))
    drop = {i for name in RENDERER_GROUPS for i in group_columns(name)}
    label = "physics only (" + ", ".join(RENDERER_GROUPS) + " left out)"
    variants.append((label, [i for i in every if i not in drop]))
    return variants


def ablation(fit_on, score_on) -> str:
    """Class accuracy per camera with every feature, without each group of :data:`GROUPS`,
    and with the groups that a renderer sets all left out (markdown)."""
    out = [
        "| features | " + " | ".join(CAMERAS) + " |",
        "|---|" + "---|" * len(CAMERAS),
    ]
    for label, columns in _variants():
        cells, _ = accuracy_row(fit_on, score_on, columns)
        out.append(f"| {label} | " + " | ".join(cells) + " |")
        print(out[-1], flush=True)
    return "\n".join(out)


def weight_table(splits: dict) -> str:
    """Weight of each feature group in the logistic layer fit on each of ``splits`` (label to
    family-to-seeds): the sum over classes and the group's features of |weight| times the
    feature's spread in that fit's training set, as a share of the sum over all groups
    (markdown)."""
    out = ["| feature group | " + " | ".join(splits) + " |", "|---|" + "---|" * len(splits)]
    shares = {}
    for label, split in splits.items():
        x, y = training_set(split)
        w = fit_model(split, data=(x, y))
        size = np.abs(w).sum(axis=0) * x.std(axis=0)
        total = sum(size[group_columns(g)].sum() for g in GROUPS)
        shares[label] = {g: size[group_columns(g)].sum() / total for g in GROUPS}
    for g in GROUPS:
        out.append(f"| {g} | " + " | ".join(f"{shares[k][g]:.2f}" for k in splits) + " |")
    return "\n".join(out)


def _calibrated(pairs, calibration) -> list:
    """(score, right, class) ``pairs`` of raw scores through ``calibration``."""
    model = Model(weights=np.zeros((1, 1)), trees=None, calibration=calibration)
    return [(model.calibrate(s, calibration_group(c)), r, c) for s, r, c in pairs]


def _family_rows(label: str, landing: dict, natural: dict) -> list[str]:
    """Markdown rows, one per camera, of landing and natural-only stats."""
    rows = []
    for cam in CAMERAS:
        a, n = landing[cam], natural[cam]
        if not a["scenes"] + n["scenes"]:
            continue  # the family has no ground on this camera's body
        pairs = a["pairs"] + n["pairs"]
        wrong, nhi = wrong_when_sure(pairs)
        rows.append(
            f"| {label} | {cam} | {a['scenes']} + {n['scenes']} "
            f"| {_share(a['right'], a['matched'])} "
            f"| {_share(a['hw_right'], a['hw_matched'])} "
            f"| {ece(pairs):.3f} | {ece_floor(pairs):.3f} | {wrong:.3f} (of {nhi}) "
            f"| {_share(a['wrong_alt'], a['matched'] - a['right'])} "
            f"| {n['false_hw'] / max(n['scenes'], 1):.2f} |"
        )
    return rows


FAMILY_HEADER = [
    "| scored on | camera | scenes (landing + natural) | class accuracy (landings) | hardware "
    "class accuracy | ECE | ECE of a calibrated score (sampling) | wrong when score ≥ 0.8 | "
    "wrong labels whose alternative is right | false hardware / natural scene |",
    "|---|---|---|---|---|---|---|---|---|---|",
]


def _stats_pair(split, model):
    """Landing and natural-only stats of ``split`` by ``model``."""
    natural = {c: [NATURAL_LAYOUT] for c in CAMERAS}
    return (
        camera_stats(split, scenes=CAMERAS, model=model),
        camera_stats(split, scenes=natural, model=model),
    )


def leave_family_out(fitting: dict, holdout, seeds, base_seeds=REPORTING_SEEDS, columns=None):
    """Leave one family out: for each family of ``fitting`` (family to its seeds; ``base``,
    the renderer's own look, may be one) a layer and trees fit on the others' scenes, scored
    on it (its scores calibrated on the other folds' held-out scores); then the model fit on
    every fitting family, calibrated on all the held-out scores, scored on ``holdout``'s
    ``seeds`` (never fit or calibrated on), on the fitting families' own scenes (tuned) and
    on the base renderer's ``base_seeds``; last, the shipped model (:data:`MODEL_FILE`) on
    every family for comparison. ``columns``: the features kept (all by default; the others
    held at 0 in every fit). Returns the markdown and the final model."""
    raw, scores = {}, {}
    for f in fitting:
        model = uncalibrated_model({g: v for g, v in fitting.items() if g != f}, columns)
        raw[f] = _stats_pair({f: fitting[f]}, model)
        scores[f] = [p for part in raw[f] for a in part.values() for p in a["pairs"]]
    rows = []
    for f in fitting:
        cal = isotonic([p for g in fitting if g != f for p in scores[g]])
        for part in raw[f]:
            for a in part.values():
                a["pairs"] = _calibrated(a["pairs"], cal)
        rows += _family_rows(f"{f} (held out)", *raw[f])
    final = dataclasses.replace(
        uncalibrated_model(dict(fitting), columns),
        calibration=isotonic([p for f in fitting for p in scores[f]]),
    )
    rows += _family_rows(f"{holdout} (holdout)", *_stats_pair({holdout: seeds}, final))
    rows += _family_rows("fitting families (tuned)", *_stats_pair(dict(fitting), final))
    if BASE not in fitting or not set(base_seeds) & set(fitting[BASE]):
        rows += _family_rows(
            f"base renderer, seeds {base_seeds[0]}-{base_seeds[-1]}",
            *_stats_pair({BASE: base_seeds}, final),
        )
    shipped = Model.load(MODEL_FILE)
    try:
        shipped.check()
    except OrbitscoutError as exc:  # fit for other code: nothing to compare
        print(f"# the shipped model is not compared: {exc}")
        return "\n".join(FAMILY_HEADER + rows), final
    for f, v in (*fitting.items(), (holdout, seeds), (BASE, base_seeds)):
        label = f"{f}, seeds {v[0]}-{v[-1]}, shipped model"
        rows += _family_rows(label, *_stats_pair({f: v}, shipped))
    return "\n".join(FAMILY_HEADER + rows), final


# |incidence AFTER - incidence BEFORE| bins (degrees): the simulated pairs differ by up to 12;
# LROC's survey took pairs within 3 (Speyerer et al. 2016, docs/facts.md)
INCIDENCE_BINS = (0.0, 3.0, 6.0, 9.0, 12.0)


def illumination_table(seeds) -> str:
    """Class accuracy per camera on landing scenes, by how much the incidence angle differs
    between the BEFORE and AFTER images (another sun turns unchanged relief into changes)."""
    edges = INCIDENCE_BINS
    labels = [f"{lo:g}-{hi:g}°" for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    out = [
        "| camera | " + " | ".join(f"Δ incidence {b}" for b in labels) + " |",
        "|---|" + "---|" * len(labels),
    ]
    for cam, layouts in CAMERAS.items():
        right, matched = np.zeros(len(labels)), np.zeros(len(labels))
        for layout in layouts:
            for seed in seeds:
                got = run_scene(cam, layout, seed)
                if got is None:
                    continue
                sun = got[1]["illumination"]
                change = abs(sun["after"]["incidence_deg"] - sun["before"]["incidence_deg"])
                b = min(int(np.searchsorted(edges, change, side="right")) - 1, len(labels) - 1)
                m = scene_metrics(*got)
                right[b] += m["right"]
                matched[b] += m["matched"]
        cells = [
            f"{r / n:.2f} (of {int(n)})" if n else "–" for r, n in zip(right, matched, strict=True)
        ]
        out.append(f"| {cam} | " + " | ".join(cells) + " |")
    return "\n".join(out)


BEGIN = "<!-- identify_table:begin -->"
END = "<!-- identify_table:end -->"
FAMILY_MARKERS = ("<!-- identify_families:begin -->", "<!-- identify_families:end -->")


def _seeds_said(seeds) -> str:
    """Which seeds a table is from, and whether the model was fit or tuned on them."""
    span = (
        f"{seeds[0]}-{seeds[-1]}"
        if list(seeds) == list(range(seeds[0], seeds[-1] + 1))
        else (", ".join(map(str, seeds)))
    )
    if tuple(seeds) == TUNING_SEEDS:
        return f"the TUNING seeds {span} (the model was fit and its parameters chosen on them)"
    tuning = set(seeds) & set(TUNING_SEEDS)
    if tuple(seeds) == REPORTING_SEEDS:
        kind = "the REPORTING seeds"
    else:
        kind = "seeds"
    if tuning:
        return f"{kind} {span}, {len(tuning)} of them TUNING seeds (not held out)"
    return f"{kind} {span}, held out (never used for fitting or tuning)"


def write_markdown(path: Path, body: str, seeds, markers=(BEGIN, END), said=None) -> None:
    """Write ``body`` into ``path`` between ``markers`` (replacing only that section, or
    appending it where the file has none), headed by the command, the UTC date, ``git
    describe`` and the seeds it is from (``said``, where given, says it instead); the file
    is written whole or not at all."""
    from orbitscout.core.atomic import write_file_atomic

    opening, closing = markers
    date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = (
        f"{opening}\n"
        f"`{_command()}` ({date}, code `{_code_version()}`), on {said or _seeds_said(seeds)}.\n\n"
        f"{body.rstrip()}\n"
        f"{closing}"
    )
    text = path.read_text() if path.exists() else ""
    begin, end = text.find(opening), text.find(closing)
    if begin >= 0 and end > begin:
        text = text[:begin] + section + text[end + len(closing) :]
    elif begin >= 0 or end >= 0:
        raise SystemExit(f"{path}: one of {opening} and {closing} without the other")
    else:
        text = (text.rstrip("\n") + "\n\n" if text.strip() else "") + section + "\n"
    write_file_atomic(path, text.encode())
    print(f"# table written into {path}")


def _suns_said() -> str:
    """How ``find`` was run, and whether kept candidates came from other detection code."""
    said = "find given each pair's suns" if GIVE_SUNS else "find not given the suns"
    if STALE:
        said += f" (candidates of {len(STALE)} scenes rendered by other detection code)"
    return said


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tuning", action="store_true", help="the tuning seeds")
    ap.add_argument(
        "--seeds",
        type=_seed_range,
        metavar="A:B",
        help="seeds A to B-1 instead (more scenes, less noise)",
    )
    ap.add_argument("--fit", action="store_true", help="fit the calibration on the tuning seeds")
    ap.add_argument(
        "--fit-model",
        action="store_true",
        help="fit the per-candidate logistic layer on the tuning seeds",
    )
    ap.add_argument(
        "--fit-trees",
        action="store_true",
        help="fit the boosted trees on the tuning seeds (needs scikit-learn)",
    )
    ap.add_argument(
        "--fit-columns",
        type=int,
        default=0,
        metavar="N",
        help="refit only the last N features' weights on the tuning seeds (the rest held)",
    )
    ap.add_argument("--site", action="store_true", help="give identify the true landing site")
    ap.add_argument(
        "--mission", action="store_true", help="give identify the mission (known layouts)"
    )
    ap.add_argument(
        "--by-illumination",
        action="store_true",
        help="class accuracy by the incidence change between the images (no hint)",
    )
    ap.add_argument(
        "--markdown",
        type=Path,
        metavar="FILE",
        help=f"also write the table into FILE between {BEGIN} and {END}",
    )
    ap.add_argument(
        "--ablation",
        action="store_true",
        help="class accuracy without each feature group: fit on seeds 0-23, scored on the "
        "reporting seeds (or --seeds), base renderer",
    )
    ap.add_argument(
        "--families",
        action="store_true",
        help="leave one scene family out: fit on the other fitting families' scenes of "
        f"--seeds (default {FAMILY_SEEDS[0]}-{FAMILY_SEEDS[-1]}), score on the one left out, "
        "then the final fit scored on the holdout family",
    )
    ap.add_argument(
        "--with-base",
        type=_seed_range,
        metavar="A:B",
        help="with --families: the base renderer's seeds A to B-1 are a fitting family too",
    )
    ap.add_argument(
        "--holdout-seeds",
        type=_seed_range,
        metavar="A:B",
        help="with --families: the holdout family's seeds A to B-1 (default: --seeds); more "
        "seeds than the fits use make its held-out figures less noisy",
    )
    ap.add_argument(
        "--physics-only",
        action="store_true",
        help="with --families: leave out the groups a renderer sets "
        f"({', '.join(RENDERER_GROUPS)})",
    )
    ap.add_argument(
        "--write-model",
        action="store_true",
        help="with --families: ship the final model (fit on every fitting family, calibrated "
        "on their held-out scores)",
    )
    ap.add_argument(
        "--no-suns",
        action="store_true",
        help="run find without the pairs' suns (bare GeoTIFFs; by default it is given them, "
        "as a product's labels give them); its candidates are kept apart",
    )
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    global GIVE_SUNS
    GIVE_SUNS = not args.no_suns
    if (
        args.write_model or args.physics_only or args.with_base or args.holdout_seeds
    ) and not args.families:
        ap.error(
            "--write-model, --physics-only, --with-base and --holdout-seeds go with --families"
        )
    if args.families:
        fam_seeds = tuple(args.seeds or FAMILY_SEEDS)
        columns = _variants()[-1][1] if args.physics_only else None
        fitting = {f: fam_seeds for f in FITTING_FAMILIES}
        if args.with_base:
            fitting = {BASE: args.with_base, **fitting}
        hold_seeds = tuple(args.holdout_seeds or fam_seeds)
        text, final = leave_family_out(fitting, "holdout", hold_seeds, columns=columns)
        weights = weight_table(
            {
                f"base renderer (seeds {REPORTING_SEEDS[0]}-{REPORTING_SEEDS[-1]})": {
                    BASE: REPORTING_SEEDS
                },
                "fitting families": {f: fam_seeds for f in FITTING_FAMILIES},
                **({"fitting families and base": fitting} if args.with_base else {}),
            }
        )
        text += (
            "\n\nWeight of each feature group in the logistic layer (share of |weight| x "
            "spread), fit on one renderer's scenes and on the families mixed:\n\n" + weights
        )
        head = (
            ("Physics only: " + ", ".join(RENDERER_GROUPS) + " left out. " if columns else "")
            + f"Families fit on: {', '.join(fitting)}; held out of every fit: holdout. "
            f"Seeds {fam_seeds[0]}-{fam_seeds[-1]} of each family"
            + (f", {args.with_base[0]}-{args.with_base[-1]} of base" if args.with_base else "")
            + f", {hold_seeds[0]}-{hold_seeds[-1]} of holdout"
            + "; layouts per camera: "
            + "; ".join(f"{c}: {', '.join(v)}" for c, v in TRAINING_LAYOUTS.items())
            + f"; {SIZE} px; no hint; {_suns_said()}.\n"
        )
        print(head + "\n" + text)
        if args.markdown:
            said = "scene families' seeds (each family's own draws; see the rows for what was fit)"
            write_markdown(args.markdown, head + "\n" + text, fam_seeds, FAMILY_MARKERS, said)
        if args.write_model:
            record = {
                "seeds": {f: list(v) for f, v in fitting.items()},
                "code_version": _code_version(),
                "command": _command(),
            }
            held_out = "the leave-one-family-out folds' held-out scores"
            fit = {
                "weights": record,
                "trees": record,
                "calibration": {**record, "note": f"isotonic on {held_out}"},
            }
            model = dataclasses.replace(final, features=FEATURE_NAMES, classes=CLASSES, fit=fit)
            model.save(MODEL_FILE)
            print(f"# model fit on families {', '.join(fitting)} -> {MODEL_FILE}")
        return
    fits = args.fit or args.fit_model or args.fit_trees or args.fit_columns
    if args.markdown and (fits or args.by_illumination or args.ablation):
        ap.error("--markdown writes the identification table only")
    if args.fit:
        fit(TUNING_SEEDS)
        return
    if args.fit_model:
        weights = fit_model(TUNING_SEEDS)
        _write_model(lambda m: dataclasses.replace(m, weights=weights), "weights", TUNING_SEEDS)
        return
    if args.fit_trees:
        fit_trees(TUNING_SEEDS)
        return
    if args.fit_columns:
        weights = fit_columns(TUNING_SEEDS, args.fit_columns)
        _write_model(lambda m: dataclasses.replace(m, weights=weights), "weights", TUNING_SEEDS)
        return
    seeds = TUNING_SEEDS if args.tuning else REPORTING_SEEDS
    if args.seeds:
        seeds = args.seeds
    if args.ablation:
        fit_on = {BASE: ABLATION_FIT_SEEDS}
        score_on = {BASE: args.seeds or REPORTING_SEEDS}
        print(ablation(fit_on, score_on))
        print()
        print(weight_table({"base": fit_on}))
        print()
        print(camera_transfer(fit_on, score_on))
        return
    if args.by_illumination:
        print(f"Seeds {seeds[0]}-{seeds[-1]}, landing layouts, no hint.\n")
        print(illumination_table(seeds))
        return
    text, _ = table(seeds, site=args.site, mission=args.mission, verbose=args.verbose)
    hints = [h for h, on in (("--site", args.site), ("--mission", args.mission)) if on]
    out = [
        f"Hints: {' '.join(hints) or 'none'}.",
        f"Seeds {', '.join(map(str, seeds))}; layouts per camera: "
        + "; ".join(f"{c}: {', '.join(v)}" for c, v in CAMERAS.items())
        + f"; {SIZE} px; {_suns_said()}.\n",
        text,
    ]
    if not (args.site or args.mission):
        out.append("\n" + natural_line(seeds))
    print("\n".join(out))
    if args.markdown:
        write_markdown(args.markdown, "\n".join(out), seeds)


if __name__ == "__main__":
    main()
