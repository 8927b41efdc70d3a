"""Identification on simulated scenes: recall of hardware, class accuracy, false hardware
detections and calibration of the score, per camera, as a markdown table.

    python bench/identify_table.py            # REPORTING seeds (never used for tuning)
    python bench/identify_table.py --tuning   # the TUNING seeds
    python bench/identify_table.py --fit      # fit the score calibration on the TUNING seeds

Each scene is rendered by ``orbitscout.simulate`` (1024 x 1024 px), passed through ``find``'s
detection and then ``identify`` with no hint; candidates are cached in ``bench/.data``. Metrics:
- recall: hardware items at least 2 px across (their own size; the lander's blast zone or crash
  scar counts as the lander) matched by a detection of any class;
- class accuracy: matched truth items (hardware and natural) whose detection has their class;
- false hw / scene: detections given a hardware class that match no hardware item;
- calibration: expected calibration error of the score (all detections; an unmatched detection
  is right when it says ``unknown``) and the fraction right among scores >= 0.8.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _scenes import scene_candidates  # noqa: E402

from orbitscout import identify  # noqa: E402
from orbitscout.evaluate import evaluate_lists  # noqa: E402

HARDWARE = identify.HARDWARE
CAMERAS = {
    "cassis": ["random", "perseverance"],
    "hirise": ["random", "curiosity", "insight"],
    "ctx": ["random", "schiaparelli"],
    "nac": ["random", "vikram"],
}
TUNING_SEEDS = (0, 1, 2, 3, 4, 5)
REPORTING_SEEDS = (100, 101, 102, 103, 104, 105)
SIZE = 1024


class _Body:
    def __init__(self, name):
        self.name = name


class _After:
    """What identify needs of the AFTER product, from the truth of a simulated scene."""

    def __init__(self, truth):
        self.body = _Body(truth["body"])
        self.gsd_m = truth["gsd_m"]
        self.georeferenced = False


def run_scene(camera, layout, seed, size=SIZE, site=None, mission=None):
    found, truth = scene_candidates(camera, layout, seed, size)
    for c in found:
        c.cls, c.features = "unknown", {}
    identify.identify(found, after=_After(truth), site=site, mission=mission)
    return found, truth


def scene_metrics(found, truth) -> dict:
    dets = [{"x": c.x, "y": c.y, "class": c.cls, "score": c.score} for c in found]
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
        right = (m["truth_class"] == d["class"]) if m else d["class"] == "unknown"
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
        "pairs": pairs,
        "confusion": res["confusion"],
    }


def ece(pairs, bins=10) -> float:
    if not pairs:
        return math.nan
    s = np.array([p[0] for p in pairs])
    r = np.array([p[1] for p in pairs], float)
    idx = np.minimum((s * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        sel = idx == b
        if sel.any():
            total += sel.sum() * abs(s[sel].mean() - r[sel].mean())
    return total / len(s)


def table(seeds, site=False, mission=False, verbose=False) -> tuple[str, dict]:
    rows, allpairs = [], {}
    for cam, layouts in CAMERAS.items():
        agg = {
            "scenes": 0,
            "hw_total": 0,
            "hw_found": 0,
            "matched": 0,
            "right": 0,
            "hw_matched": 0,
            "hw_right": 0,
            "false_hw": 0,
        }
        pairs, conf = [], {}
        for layout in layouts:
            for seed in seeds:
                found, truth = run_scene(cam, layout, seed)
                m = scene_metrics(found, truth)
                agg["scenes"] += 1
                for k in agg:
                    if k != "scenes":
                        agg[k] += m[k]
                pairs += m["pairs"]
                for t, row in m["confusion"].items():
                    for d, v in row.items():
                        conf.setdefault(t, {}).setdefault(d, 0)
                        conf[t][d] += v
                if verbose:
                    print(cam, layout, seed, {k: m[k] for k in agg if k in m}, m["confusion"])
        allpairs[cam] = pairs
        hi = [p for p in pairs if p[0] >= 0.8]
        rows.append(
            (
                cam,
                agg["scenes"],
                agg["hw_found"] / agg["hw_total"] if agg["hw_total"] else math.nan,
                agg["hw_total"],
                agg["right"] / agg["matched"] if agg["matched"] else math.nan,
                agg["hw_right"] / agg["hw_matched"] if agg["hw_matched"] else math.nan,
                agg["false_hw"] / agg["scenes"],
                ece(pairs),
                (sum(p[1] for p in hi) / len(hi)) if hi else math.nan,
                len(hi),
            )
        )
        if verbose:
            print(cam, "confusion (truth -> detected):", conf)
    out = [
        "| camera | scenes | hardware recall (≥2 px) | class accuracy | hardware class "
        "accuracy | false hardware / scene | calibration error (ECE) | right when score ≥ 0.8 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for cam, n, rec, nhw, acc, hwacc, fh, e, hi, nhi in rows:
        out.append(
            f"| {cam} | {n} | {rec:.2f} (of {nhw}) | {acc:.2f} | {hwacc:.2f} | {fh:.2f} "
            f"| {e:.3f} | {hi:.2f} (of {nhi}) |"
        )
    return "\n".join(out), allpairs


def fit(seeds) -> None:
    """Platt scaling of the raw posterior logit per group (hardware / natural class)."""
    saved = dict(identify.CALIBRATION)
    identify.CALIBRATION.update({"hardware": (1.0, 0.0), "natural": (1.0, 0.0)})
    _, allpairs = table(seeds)
    pairs = [p for v in allpairs.values() for p in v]
    for group, classes in (("hardware", HARDWARE), ("natural", identify.NATURAL)):
        sel = [(s, r) for s, r, c in pairs if c in classes]
        if len(sel) < 10:
            print(group, "too few", len(sel))
            continue
        p = np.clip(np.array([s for s, _ in sel]), 1e-6, 1 - 1e-6)
        x = np.log(p / (1 - p))
        y = np.array([r for _, r in sel], float)
        a, b = 1.0, 0.0
        for _ in range(100):  # Newton on the logistic log-likelihood, lightly regularised
            z = 1 / (1 + np.exp(-(a * x + b)))
            g = np.array([np.sum((z - y) * x) + 0.01 * (a - 1), np.sum(z - y) + 0.01 * b])
            w = z * (1 - z)
            h = np.array(
                [[np.sum(w * x * x) + 0.01, np.sum(w * x)], [np.sum(w * x), np.sum(w) + 0.01]]
            )
            a, b = np.array([a, b]) - np.linalg.solve(h, g)
        print(f'"{group}": ({a:.3f}, {b:.3f}),  # n={len(sel)}, right {y.mean():.2f}')
    identify.CALIBRATION.update(saved)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tuning", action="store_true", help="the tuning seeds")
    ap.add_argument("--fit", action="store_true", help="fit the calibration on the tuning seeds")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    if args.fit:
        fit(TUNING_SEEDS)
        return
    seeds = TUNING_SEEDS if args.tuning else REPORTING_SEEDS
    text, _ = table(seeds, verbose=args.verbose)
    print(
        f"Seeds {', '.join(map(str, seeds))}; layouts per camera: "
        + "; ".join(f"{c}: {', '.join(v)}" for c, v in CAMERAS.items())
        + f"; {SIZE} px.\n"
    )
    print(text)


if __name__ == "__main__":
    main()
