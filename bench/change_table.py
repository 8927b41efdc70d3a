"""Held-out detection benchmark: changes of both signs and moves under a changed sun.

Scenes per camera (CaSSIS, CTX, HiRISE, LRO NAC) x sun change (0, 5, 10, 15 deg incidence with
0, 10, 20, 30 deg azimuth), rendered with the ``holdout`` scene family (``orbitscout.sim.
families``: ground, relief, PSF, noise, compression, stripes that nothing was fit or tuned on),
the ``random`` layout (hardware and natural changes that appear) plus objects that vanish and
objects that move. ``orbitscout.find`` runs on each pair, given the two suns as a product's
labels would give them; detections are matched one-to-one to the truth (``sim.evaluate.match``,
within max(3 px, the item's radius) of the item or of its cast shadow). Printed and written
(``--markdown``) per camera and sun change: recall of appearing and of vanished changes >= 3 px
across (the item's visible extent), moves linked (both ends found and their detections linked
by ``moved_from``), and false detections (those within no truth item's reach) per 4k x 4k px
scene, with counts; and the same recall split by each change's ideal signal-to-noise ratio
(``ideal_snr``), so that a miss that no detector could see is told from one that ``find``
should have made.

    python bench/change_table.py                                 # print the table
    python bench/change_table.py --markdown docs/validation.md   # the table into that page
    python bench/change_table.py --json bench/.data/changes.json # per-detection records
    python bench/change_table.py --cameras hirise --suns 13/20    # other sun changes
"""

from __future__ import annotations

import argparse
import functools
import json
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CAMERAS = ("cassis", "ctx", "hirise", "nac")
SUNS = ((0.0, 0.0), (5.0, 10.0), (10.0, 20.0), (15.0, 30.0))  # (incidence, azimuth) change
SIZE = 1024
SEEDS = (0, 1, 2, 3)
VANISHED, MOVES = 2, 1
MIN_ACROSS_PX = 3.0
FOUR_K = 4096 * 4096
BEGIN, END = "<!-- change_table:begin -->", "<!-- change_table:end -->"


@functools.lru_cache(maxsize=64)
def ideal_snr(camera: str, seed: int, family: str, size: int) -> dict[int, float]:
    """Each truth item's signal-to-noise ratio to an ideal observer: the scene rendered again
    with no sun change and no shift, free of noise and compression with and without its
    changes (and once with both). The item's own change (what the changes add to AFTER, less
    what they add to BEFORE scaled onto AFTER) within its match radius of it or its cast
    shadow is the template of a filter matched to it exactly; its SNR is the template's
    energy over the spread (robust sigma) of that filter's response to the difference's noise
    (each image's noisy, compressed render less its clean one, less per-row medians for
    CaSSIS's framelet gains).
    The response, not a per-pixel sigma, because block compression makes the noise
    correlated: over white noise both give sqrt(sum of the template squared) / sigma.
    ``find`` needs ``t_high`` (5.5) on its best filter of 0-2 px."""
    import cv2

    from orbitscout.sim.evaluate import footprint_distance_px, match_radius_px
    from orbitscout.sim.render import simulate_pair

    kw = dict(
        camera=camera, layout="random", seed=seed, size=size, family=family,
        sun_change=(0.0, 0.0), vanished=VANISHED, moves=MOVES, shift_px=(0.0, 0.0),
    )  # fmt: skip
    noisy = simulate_pair(**kw)
    clean = simulate_pair(**kw, noise=False)
    bare = simulate_pair(**kw, noise=False, changes=False)

    def f64(a: np.ndarray) -> np.ndarray:
        return a.astype(np.float64)

    def noise_of(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        d = f64(a) - f64(b)
        return d - np.median(d, axis=1, keepdims=True)

    gain = float(np.median(f64(bare.after) / np.maximum(f64(bare.before), 1.0)))
    signal = (f64(clean.after) - f64(bare.after)) - gain * (f64(clean.before) - f64(bare.before))
    noise = (
        noise_of(noisy.after, clean.after) - gain * noise_of(noisy.before, clean.before)
    ).astype(np.float32)
    gsd = clean.truth["gsd_m"]
    out = {}
    for it in clean.truth["items"]:
        r = match_radius_px(it, gsd, MIN_ACROSS_PX)
        sx, sy = it.get("shadow_px") or (0.0, 0.0)
        x0, x1 = max(0, int(it["x"] + min(sx, 0) - r)), min(size, int(it["x"] + max(sx, 0) + r) + 2)
        y0, y1 = max(0, int(it["y"] + min(sy, 0) - r)), min(size, int(it["y"] + max(sy, 0) + r) + 2)
        yy, xx = np.mgrid[y0:y1, x0:x1]
        disc = footprint_distance_px(xx, yy, it) <= r  # the item and its cast shadow
        template = np.where(disc, signal[y0:y1, x0:x1], 0.0)
        energy = float(np.sum(template**2))
        response = cv2.filter2D(noise, cv2.CV_32F, template.astype(np.float32))
        m = max(y1 - y0, x1 - x0)  # the response's edge, where the border is reflected
        inner = response[m:-m, m:-m]
        spread = float(1.4826 * np.median(np.abs(inner - np.median(inner))))
        out[it["id"]] = energy / max(spread, 1e-9)
    return out


def run_scene(
    camera: str, sun: tuple[float, float], seed: int, family: str, size: int, detect=None
) -> dict:
    """One scene rendered, found (with ``detect``, a ``DetectParams``; the defaults by
    default) and matched: its truth items with whether each was found, the detections with
    whether each lies within a truth item's radius, and the moves."""
    from orbitscout import pipeline
    from orbitscout.core.errors import OrbitscoutError
    from orbitscout.core.illumination import sun_change
    from orbitscout.sim.evaluate import footprint_distance_px, match, match_radius_px
    from orbitscout.sim.render import simulate_pair, truth_suns, write_pair

    pair = simulate_pair(
        camera, "random", seed=seed, size=size, family=family, sun_change=sun,
        vanished=VANISHED, moves=MOVES,
    )  # fmt: skip
    truth = pair.truth
    suns = truth_suns(truth)
    angle = sun_change(suns["before"], suns["after"])["angle_deg"]
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_pair(pair, tmp)
        try:
            res = pipeline.find(
                paths["before.tif"], paths["after.tif"], Path(tmp) / "out",
                sun_before=suns["before"], sun_after=suns["after"], detect=detect,
            )  # fmt: skip
            dets = res.detections
        except OrbitscoutError as exc:
            print(f"  {camera} seed {seed}: find failed: {exc}", file=sys.stderr)
            dets = None
    seconds = time.perf_counter() - t0
    gsd = truth["gsd_m"]
    items = truth["items"]
    rows = [
        {
            "x": c.x,
            "y": c.y,
            "id": c.id,
            "change": c.change,
            "moved_from": c.moved_from,
            "peak_sigma": float(c.peak_sigma),
            "novelty": None if c.novelty == float("inf") else float(c.novelty),
            "change_score": c.change_score,
            "sun_angle_deg": angle,
            "score": float(c.score),
            "class": c.cls,
        }
        for c in dets or []
    ]
    pairs = match(rows, items, gsd, min_radius_px=MIN_ACROSS_PX)
    det_of = {ti: di for di, ti, _ in pairs}
    for di, ti, dist in pairs:
        rows[di].update(matched=True, truth_kind=items[ti]["kind"], distance_px=round(dist, 2))
        rows[di]["truth_change"] = items[ti].get("change", "appeared")
    for r in rows:
        r.setdefault("matched", False)
        r["near_truth"] = r["matched"] or any(
            footprint_distance_px(r["x"], r["y"], it) <= match_radius_px(it, gsd, MIN_ACROSS_PX)
            for it in items
        )
    ids = {it["id"]: i for i, it in enumerate(items)}
    moves = []
    ends = set()  # (appeared end, vanished end) detection ids of each truth move found
    for i, it in enumerate(items):
        old = ids.get(it.get("moved_from"))
        if old is None:
            continue
        linked = False
        if i in det_of and old in det_of:
            a, b = rows[det_of[i]], rows[det_of[old]]
            linked = a["moved_from"] == b["id"] or b["moved_from"] == a["id"]
            ends |= {(a["id"], b["id"]), (b["id"], a["id"])}
        moves.append({"kind": it["kind"], "linked": linked})
    links = [(r["id"], r["moved_from"]) for r in rows if r["moved_from"] is not None]
    for i, it in enumerate(items):
        it["found"] = i in det_of
        it["said"] = rows[det_of[i]]["change"] if i in det_of else None
        it["change_score"] = rows[det_of[i]]["change_score"] if i in det_of else None
        it["across_px"] = float(it.get("extent_m") or it["size_m"]) / gsd
    snr = ideal_snr(camera, seed, family, size)
    for it in items:
        it["ideal_snr"] = snr.get(it["id"])
    return {
        "camera": camera,
        "family": family,
        "sun": list(sun),
        "sun_change": truth.get("sun_change"),
        "seed": seed,
        "size": size,
        "failed": dets is None,
        "seconds": round(seconds, 2),
        "items": items,
        "detections": rows,
        "moves": moves,
        "links": len(links),
        "links_not_a_move": sum(link not in ends for link in links),
    }


def _by_camera_and_sun(scenes: list[dict]) -> list[tuple[str, tuple[float, float], list]]:
    """(camera, sun change, its scenes), in the tables' row order."""
    keys = sorted(
        {(s["camera"], tuple(s["sun"])) for s in scenes}, key=lambda k: (CAMERAS.index(k[0]), k[1])
    )
    return [
        (cam, sun, [s for s in scenes if s["camera"] == cam and tuple(s["sun"]) == sun])
        for cam, sun in keys
    ]


def _share(k: int, n: int) -> str:
    return f"{k / n:.2f} ({k}/{n})" if n else "-"


def table(scenes: list[dict]) -> str:
    """The markdown table: one row per camera and sun change."""
    out = [
        "| camera | sun change (inc / az) | scenes | recall appeared | recall vanished "
        "| vanished said vanished | moves linked | links that are no move "
        "| false detections per 4k scene "
        "| of them P(changed) ≥ 0.5 | of them score ≥ 0.8 | recall at P(changed) ≥ 0.5 "
        "| P(changed) ECE |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for cam, sun, group in _by_camera_and_sun(scenes):
        ok = [s for s in group if not s["failed"]]
        big = [it for s in ok for it in s["items"] if it["across_px"] >= MIN_ACROSS_PX]
        app = [it for it in big if it.get("change", "appeared") == "appeared"]
        van = [it for it in big if it.get("change") == "vanished"]
        mv = [m for s in ok for m in s["moves"]]
        dets = [d for s in ok for d in s["detections"]]
        false = sum(1 for d in dets if not d["near_truth"])
        sure = sum(1 for d in dets if not d["near_truth"] and d["change_score"] >= 0.5)
        high = sum(1 for d in dets if not d["near_truth"] and d["score"] >= 0.8)
        px = sum(s["size"] ** 2 for s in ok)
        per4k = f"{false * FOUR_K / px:.0f} ({false} in {len(ok)})" if px else "-"
        sure4k = f"{sure * FOUR_K / px:.0f} ({sure})" if px else "-"
        failed = f", {len(group) - len(ok)} failed" if len(ok) < len(group) else ""
        out.append(
            f"| {cam} | {sun[0]:g}° / {sun[1]:g}° | {len(ok)}{failed} "
            f"| {_share(sum(i['found'] for i in app), len(app))} "
            f"| {_share(sum(i['found'] for i in van), len(van))} "
            f"| {_share(sum(i.get('said') == 'vanished' for i in van), len(van))} "
            f"| {_share(sum(m['linked'] for m in mv), len(mv))} "
            f"| {_share(sum(s['links_not_a_move'] for s in ok), sum(s['links'] for s in ok))} "
            f"| {per4k} | {sure4k} | {high} "
            f"| {_share(sum((i['change_score'] or 0) >= 0.5 for i in app + van), len(app + van))} "
            f"| {change_ece(dets):.3f} |"
        )
    return "\n".join(out)


VISIBLE_SNR = 11.0  # twice t_high: room for find's filters not matching a change's shape


def visibility_table(scenes: list[dict]) -> str:
    """Recall of changes >= 3 px across split by their ideal signal-to-noise ratio
    (``ideal_snr``) at :data:`VISIBLE_SNR`: one row per camera and sun change (markdown)."""
    out = [
        f"| camera | sun change (inc / az) | appeared, ideal SNR < {VISIBLE_SNR:g} "
        f"| appeared, ideal SNR ≥ {VISIBLE_SNR:g} | vanished, ideal SNR < {VISIBLE_SNR:g} "
        f"| vanished, ideal SNR ≥ {VISIBLE_SNR:g} |",
        "|---|---|---|---|---|---|",
    ]
    for cam, sun, group in _by_camera_and_sun(scenes):
        items = [
            it
            for s in group
            if not s["failed"]
            for it in s["items"]
            if it["across_px"] >= MIN_ACROSS_PX
        ]
        cells = []
        for change in ("appeared", "vanished"):
            kind = [it for it in items if it.get("change", "appeared") == change]
            for visible in (False, True):
                part = [it for it in kind if (it["ideal_snr"] >= VISIBLE_SNR) == visible]
                cells.append(_share(sum(it["found"] for it in part), len(part)))
        out.append(f"| {cam} | {sun[0]:g}° / {sun[1]:g}° | " + " | ".join(cells) + " |")
    return "\n".join(out)


def change_ece(dets: list[dict]) -> float:
    """Expected calibration error of ``change_score`` as the probability that a detection
    lies on a real change (within a truth item's radius)."""
    from _scenes import expected_calibration_error

    return expected_calibration_error(
        [d["change_score"] for d in dets], [d["near_truth"] for d in dets]
    )


def fit_change_probability(scenes: list[dict]) -> dict:
    """Logistic fit of whether a detection lies on a real change, on the terms of
    ``detect.candidates.change_terms`` (maximum likelihood, a weak ridge): ``p_intercept``,
    ``p_sigma``, ``p_novelty``, ``p_sun`` for :class:`orbitscout.detect.parameters.
    DetectParams`."""
    from scipy.optimize import minimize

    from orbitscout.detect.candidates import change_terms

    dets = [d for s in scenes if not s["failed"] for d in s["detections"]]
    novelty = [np.inf if d["novelty"] is None else d["novelty"] for d in dets]
    x = np.array(
        [
            [float(t) for t in change_terms(d["peak_sigma"], n, sun_change_deg=d["sun_angle_deg"])]
            for d, n in zip(dets, novelty, strict=True)
        ]
    )
    y = np.array([d["near_truth"] for d in dets], float)
    a = np.column_stack([np.ones(len(x)), x])

    def loss(w):
        z = a @ w
        return float(np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 * 1e-3 * w[1:] @ w[1:])

    def grad(w):
        g = a.T @ (1.0 / (1.0 + np.exp(-(a @ w))) - y)
        g[1:] += 1e-3 * w[1:]
        return g

    w = minimize(loss, np.zeros(a.shape[1]), jac=grad, method="L-BFGS-B").x
    return {
        "p_intercept": round(float(w[0]), 3),
        "p_sigma": round(float(w[1]), 3),
        "p_novelty": round(float(w[2]), 3),
        "p_sun": round(float(w[3]), 3),
        "detections": len(dets),
        "real": int(y.sum()),
    }


def header(scenes: list[dict], families: list[str], seconds: float) -> str:
    """The table's first paragraph: the commit of the ``orbitscout`` measured (the checkout it
    is imported from), what was run, and what the columns count."""
    import orbitscout

    repo = Path(orbitscout.__file__).resolve().parent.parent
    commit = subprocess.run(
        ["git", "log", "-1", "--format=%h %cd", "--date=format:%Y-%m-%d %H:%M"],
        capture_output=True, text=True, cwd=repo,
    ).stdout.strip()  # fmt: skip
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "orbitscout"],
        capture_output=True, text=True, cwd=repo,
    ).stdout.strip()  # fmt: skip
    size = scenes[0]["size"] if scenes else SIZE
    state = " with uncommitted changes in orbitscout/" if dirty else ""
    role = (
        "**held out**, never fit or tuned on"
        if set(families) <= {"holdout"}
        else "**tuning data**: fitting families"
    )
    command = shlex.join(["python", "bench/change_table.py", *sys.argv[1:]])
    return (
        f"Measured at commit `{commit}`{state}"
        f" by `{command}` ({len(scenes)} scenes of {size} x {size} px, "
        f"family {', '.join(f'`{f}`' for f in families)}: {role}; "
        f"seeds {', '.join(str(s) for s in sorted({s['seed'] for s in scenes}))}; layout `random` "
        f"with {VANISHED} vanished objects and {MOVES} move per scene; {seconds:.0f} s). "
        "Recall counts changes whose visible extent is >= 3 px; a detection finds a change "
        "when it lies within the item's radius of the item or of its cast shadow under the sun "
        "of the look it is in; a move is linked when both ends "
        "are found and their detections name each other in `moved_from`; a link that is no "
        "move joins two detections that are not the two ends of one moved object (of all the "
        "links `find` made in the row); a false detection "
        "lies within no truth item's radius of it or its shadow (fragments of a real change "
        "are not counted), "
        "scaled to a 4096 x 4096 px scene; P(changed) is each detection's `change_score`, its "
        "ECE against whether the detection lies on a real change; 'of them score ≥ 0.8' "
        "counts the row's false detections (not scaled) whose `score` is so; "
        "recall at P(changed) >= 0.5 counts appeared and vanished changes found by a detection "
        "scored so."
    )


def write_markdown(path: Path, text: str) -> None:
    doc = path.read_text() if path.exists() else ""
    block = f"{BEGIN}\n{text}\n{END}"
    if BEGIN in doc and END in doc:
        doc = doc[: doc.index(BEGIN)] + block + doc[doc.index(END) + len(END) :]
    else:
        doc = (
            doc.rstrip()
            + "\n\n## Detection on held-out scenes (changes of both signs, moves, sun changes)\n\n"
            + block
            + "\n"
        )
    path.write_text(doc)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cameras", default=",".join(CAMERAS))
    ap.add_argument("--families", default="holdout", help="comma-separated scene families")
    ap.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    ap.add_argument("--size", type=int, default=SIZE)
    ap.add_argument(
        "--suns",
        default=",".join(f"{inc:g}/{az:g}" for inc, az in SUNS),
        help="comma-separated sun changes, each INCIDENCE/AZIMUTH in degrees",
    )
    ap.add_argument("--markdown", type=Path, help="write the table into this page")
    ap.add_argument("--json", type=Path, help="write the per-detection records here")
    ap.add_argument(
        "--fit-change-score",
        action="store_true",
        help="fit change_score's coefficients on these scenes (fitting families only)",
    )
    ap.add_argument(
        "--no-shadows",
        action="store_true",
        help="keep candidates that are cast shadows moved by another sun (the baseline)",
    )
    ap.add_argument(
        "--no-shadow-place",
        action="store_true",
        help="leave a change that is mostly an object's own shadow on its centroid",
    )
    ap.add_argument(
        "--no-sun-kappa",
        action="store_true",
        help="keep kappa as given whatever the suns (the baseline)",
    )
    args = ap.parse_args(argv)
    try:
        suns = [tuple(float(v) for v in text.split("/")) for text in args.suns.split(",")]
    except ValueError:
        suns = []
    if not suns or any(len(sun) != 2 or min(sun) < 0 for sun in suns):
        ap.error(
            f"--suns: expected INCIDENCE/AZIMUTH changes >= 0, e.g. 0/0,13/20 (got {args.suns})"
        )
    from _scenes import family_covers

    from orbitscout.detect.parameters import DetectParams, ShadingParams

    detect = DetectParams(
        shadows=not args.no_shadows,
        shadow_place=not args.no_shadow_place,
        shading=ShadingParams(kappa_from_suns=not args.no_sun_kappa),
    )
    if args.fit_change_score and "holdout" in args.families.split(","):
        ap.error("--fit-change-score fits on fitting families, never on holdout")
    t0 = time.perf_counter()
    families = args.families.split(",")
    scenes = []
    for cam in args.cameras.split(","):
        for sun in suns:
            for fam in families:
                if not family_covers(fam, cam):
                    continue
                for seed in map(int, args.seeds.split(",")):
                    s = run_scene(cam, sun, seed, fam, args.size, detect)
                    scenes.append(s)
                    print(
                        f"{cam} sun {sun} {fam} seed {seed}: {len(s['detections'])} detections, "
                        f"{s['seconds']:.1f} s",
                        flush=True,
                    )
    seconds = time.perf_counter() - t0
    text = (
        header(scenes, families, seconds)
        + "\n\n"
        + table(scenes)
        + "\n\nThe same changes split by how visible each is (`ideal_snr`: the change's own "
        "signal, rendered with and without it at no sun change free of noise and compression, "
        "as the template of a filter matched to it exactly; its energy over the spread of that "
        "filter's response to the pair's real noise, block-compression included; split at "
        f"{VISIBLE_SNR:g}, twice `t_high`):\n\n" + visibility_table(scenes)
    )
    print(text)
    if args.fit_change_score:
        print("change_score fit (DetectParams):", json.dumps(fit_change_probability(scenes)))
    if args.markdown:
        write_markdown(args.markdown, text)
    if args.json:
        recs = [
            {
                "camera": s["camera"], "family": s["family"], "seed": s["seed"],
                "sun_change": s["sun_change"], **d,
            }
            for s in scenes for d in s["detections"]
        ]  # fmt: skip
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(recs, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
