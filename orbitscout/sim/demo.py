"""``orbitscout demo``: the seed's scene, end to end, offline.

ExoMars TGO's CaSSIS, from about 400 km, looks at Jezero crater five days after Perseverance
landed (18.4447 N, 77.4508 E; docs/facts.md). ``simulate`` renders the before and after images with
their truth; ``find`` registers them and finds what changed, given the two suns as the products'
labels would give them (GeoTIFFs carry none); ``evaluate`` scores the result; the demo prints
where each piece of hardware was found relative to the rover.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path

from orbitscout.core.atomic import atomic_file, prepare_out_dir
from orbitscout.core.classes import HARDWARE
from orbitscout.core.geometry import bearing_deg, compass

SEED_SITE = (18.4447, 77.4508)  # Perseverance, Octavia E. Butler Landing (NASA/JPL, docs/facts.md)


def offset_from(x: float, y: float, x0: float, y0: float, gsd: float) -> tuple[float, float]:
    """(distance m, bearing deg clockwise from north) of pixel (x, y) from pixel (x0, y0) on a
    north-up grid of ``gsd`` metres per pixel."""
    east, north = (x - x0) * gsd, -(y - y0) * gsd
    return math.hypot(east, north), bearing_deg(east, north)


LIKELY = 0.5  # the change_score the demo's second count keeps


def add_evaluation_to_summary(out_dir: Path, evaluation: dict) -> Path:
    """Read ``summary.json`` back, add ``evaluation``, rewrite it atomically."""
    path = out_dir / "summary.json"
    summary = json.loads(path.read_text()) if path.exists() else {}
    summary["evaluation"] = {
        "recall": evaluation["recall"],
        "precision": evaluation["precision"],
        "class_accuracy": evaluation["class_accuracy"],
        "median_error_px": evaluation["median_error_px"],
        "median_error_m": evaluation.get("median_error_m"),
        "truth": evaluation["truth"],
        "detections": evaluation["detections"],
        "matched": evaluation["matched"],
        "per_class": {
            c: {k: r[k] for k in ("truth", "found", "recall", "class_accuracy")}
            for c, r in evaluation["per_class"].items()
        },
    }
    with atomic_file(path) as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
    return path


def hardware_table(detections: list, truth: dict) -> list[dict]:
    """Where each piece of hardware was found relative to the rover, beside where it truly is.

    The rover is the best-scored ``lander`` detection (or, if none, the detection matched to the
    true rover); each truth hardware item is paired with its matched detection."""
    from orbitscout.sim.evaluate import match

    gsd = truth["gsd_m"]
    items = [it for it in truth["items"] if it["class"] in HARDWARE]
    dets = [
        {"x": float(d.x), "y": float(d.y), "class": d.cls, "score": float(d.score), "id": d.id}
        for d in detections
    ]
    pairs = {ti: di for di, ti, _ in match(dets, items, gsd)}
    rover_t = next((i for i, it in enumerate(items) if it["class"] == "lander"), None)
    landers = sorted((d for d in dets if d["class"] == "lander"), key=lambda d: -d["score"])
    rover_d = landers[0] if landers else (dets[pairs[rover_t]] if rover_t in pairs else None)
    rows = []
    for i, it in enumerate(items):
        row = {"class": it["class"], "label": it.get("label", it["class"]), "found": i in pairs}
        if rover_t is not None and i != rover_t:
            rt = items[rover_t]
            row["true_distance_m"], row["true_bearing_deg"] = offset_from(
                it["x"], it["y"], rt["x"], rt["y"], gsd
            )
        if i in pairs:
            d = dets[pairs[i]]
            row["detected_as"] = d["class"]
            row["score"] = d["score"]
            row["error_m"] = math.hypot(d["x"] - it["x"], d["y"] - it["y"]) * gsd
            if rover_d is not None and d is not rover_d:
                row["distance_m"], row["bearing_deg"] = offset_from(
                    d["x"], d["y"], rover_d["x"], rover_d["y"], gsd
                )
        rows.append(row)
    return rows


def run_demo(
    out_dir: str | Path,
    seed: int = 0,
    size: int = 2048,
    progress: bool = True,
    echo: Callable[[str], None] = print,
) -> dict:
    """Simulate the seed's scene, run ``find``, evaluate, and report. Returns a dict with
    ``evaluation`` (every detection), ``likely`` (those with ``change_score`` >= LIKELY),
    ``hardware`` (rows of ``hardware_table``), ``timings`` and ``out_dir``."""
    from orbitscout.sim.render import simulate_pair, truth_suns, write_pair

    out = prepare_out_dir(out_dir)
    t0 = time.perf_counter()
    echo(
        "orbitscout demo: CaSSIS (ExoMars TGO, ~400 km) looks at Jezero crater five days after "
        "Perseverance landed"
    )
    pair = simulate_pair("cassis", "perseverance", site=SEED_SITE, seed=seed, size=size)
    write_pair(pair, out)
    t1 = time.perf_counter()
    truth = pair.truth
    mis = truth["misregistration"]
    echo(
        f"simulated {size}×{size} px at {truth['gsd_m']:.2f} m/px: before.tif, after.tif, "
        f"truth.json ({len(truth['items'])} items; true shift dx {mis['dx']:+.2f}, "
        f"dy {mis['dy']:+.2f} px) in {t1 - t0:.1f} s"
    )
    from orbitscout.pipeline import find

    suns = truth_suns(truth)
    sun_before, sun_after = suns["before"], suns["after"]
    echo(
        f"suns as the products' labels give them: before azimuth {sun_before.azimuth_deg:.0f}°, "
        f"incidence {sun_before.incidence_deg:.0f}°; after {sun_after.azimuth_deg:.0f}°, "
        f"{sun_after.incidence_deg:.0f}°"
    )
    result = find(
        out / "before.tif",
        out / "after.tif",
        out,
        site=SEED_SITE,
        mission="perseverance",
        sun_before=sun_before,
        sun_after=sun_after,
        progress=progress,
    )
    t2 = time.perf_counter()
    reg = result.registration
    echo(
        f"find: registration dx {reg.dx:+.2f}, dy {reg.dy:+.2f} px (true {mis['dx']:+.2f}, "
        f"{mis['dy']:+.2f}); {len(result.detections)} detections in {t2 - t1:.1f} s"
    )
    from orbitscout.sim.evaluate import evaluate_lists, format_report, load_detections, load_truth

    found = load_detections(out / "detections.geojson")
    truth_json = load_truth(out / "truth.json")
    ev = evaluate_lists(found, truth_json)
    add_evaluation_to_summary(out, ev)
    rows = hardware_table(result.detections, truth)
    echo("")
    echo("where each piece of hardware was found, relative to the rover:")
    for r in rows:
        truth_txt = ""
        if "true_distance_m" in r:
            truth_txt = f"(truth {r['true_distance_m']:,.0f} m {compass(r['true_bearing_deg'])})"
        if not r["found"]:
            echo(f"  {r['label']:<15} not found {truth_txt}")
        elif "distance_m" in r:
            echo(
                f"  {r['label']:<15} {r['distance_m']:>7,.0f} m {r['bearing_deg']:>5.0f}° "
                f"{compass(r['bearing_deg']):<3} as {r['detected_as']:<13} "
                f"score {r['score']:.2f} {truth_txt}"
            )
        else:
            echo(
                f"  {r['label']:<15} found as {r['detected_as']} (score {r['score']:.2f}, "
                f"{r['error_m']:.1f} m from truth)"
            )
    echo("")
    echo(format_report(ev))
    likely = [d for d in found if float(d.get("change_score") or 0.0) >= LIKELY]
    sure = evaluate_lists(likely, truth_json)
    echo(
        f"of them likely changes of the ground (change_score ≥ {LIKELY:g}): {sure['detections']}, "
        f"matched {sure['matched']} (recall {100 * sure['recall']:.0f}%, precision "
        f"{100 * (sure['precision'] or 0.0):.0f}%)"
    )
    echo(f"done in {time.perf_counter() - t0:.1f} s → {out}")
    return {
        "evaluation": ev,
        "likely": sure,
        "hardware": rows,
        "timings": {"simulate": t1 - t0, "find": t2 - t1, "total": time.perf_counter() - t0},
        "out_dir": out,
    }
