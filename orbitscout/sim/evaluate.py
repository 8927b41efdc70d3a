"""Score detections against the truth of a simulated (or hand-labelled) scene.

Detections (``detections.geojson`` from ``orbitscout find``: Features with properties ``id``,
``class``, ``score``, ``x``, ``y`` in the AFTER pixel grid, ...) are matched one-to-one to truth
items (``truth.json`` from ``orbitscout simulate``) by distance, with the Hungarian algorithm
(``scipy.optimize.linear_sum_assignment``). A pair may match when the detection lies within a
radius that grows with the truth item's size in pixels (its visible extent: blast zone, scar,
debris fan), never less than ``min_radius_px``, of the item's centre or, for an item that casts
a shadow (``shadow_px``, where the shadow ends), of any point between its centre and there:
the ground an object changed includes its shadow.

Reported: recall (matched truth / truth), precision (matched detections / detections), class
accuracy (matched pairs whose classes agree), median localisation error in pixels and metres,
and the same per truth class.

Where the truth says which way the ground changed (items with ``change``: ``appeared``, the
default, or ``vanished``; and ``moved_from``: the id of the truth item at a move's other end),
also: recall per change, how often a matched detection's ``change`` agrees with its truth item's
(a detection without one counts as ``appeared``), and the moves found (both ends matched and
the two detections linked by ``moved_from``, either way). Truth without those keys gives the
same figures and keys as before.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from orbitscout.core.errors import OrbitscoutError


def _load_json(path: str | Path) -> dict | list:
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise OrbitscoutError("file not found", path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise OrbitscoutError(f"cannot read ({exc})", path) from None
    except json.JSONDecodeError as exc:
        raise OrbitscoutError(f"not valid JSON ({exc.msg} at line {exc.lineno})", path) from None


def load_detections(path: str | Path) -> list[dict]:
    """Detections as dicts with at least ``x``, ``y``, ``class`` (and ``score``, ``id``) from a
    GeoJSON FeatureCollection (or a plain JSON list of such dicts)."""
    data = _load_json(path)
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        rows = [dict(f.get("properties") or {}) for f in data.get("features", [])]
    elif isinstance(data, dict) and "detections" in data:
        rows = list(data["detections"])
    elif isinstance(data, list):
        rows = list(data)
    else:
        raise OrbitscoutError("not a GeoJSON FeatureCollection of detections", path)
    out = []
    for i, r in enumerate(rows):
        try:
            x, y = float(r["x"]), float(r["y"])
        except (KeyError, TypeError, ValueError, OverflowError):
            raise OrbitscoutError(f"detection {i} has no numeric x, y properties", path) from None
        r = dict(r)
        r["x"], r["y"] = x, y
        r["class"] = str(r.get("class", "unknown"))
        out.append(r)
    return out


def load_truth(path: str | Path) -> dict:
    data = _load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise OrbitscoutError("not a truth file (no 'items' list)", path)
    if data.get("gsd_m") is not None and not _finite(data["gsd_m"]):
        raise OrbitscoutError("gsd_m is not a number", path)
    for i, it in enumerate(data["items"]):
        if not isinstance(it, dict) or "x" not in it or "y" not in it or "class" not in it:
            raise OrbitscoutError(f"truth item {i} lacks x, y or class", path)
        numbers = [it["x"], it["y"], *(it[k] for k in ("size_m", "extent_m") if it.get(k))]
        shadow = it.get("shadow_px")
        if shadow is not None:
            if not isinstance(shadow, list) or len(shadow) != 2:
                raise OrbitscoutError(f"truth item {i}: shadow_px is not [dx, dy]", path)
            numbers += shadow
        if not all(_finite(v) for v in numbers):
            raise OrbitscoutError(f"truth item {i} has a position or size that is no number", path)
    return data


def _finite(value) -> bool:
    """Whether a JSON value is a finite number (not a bool, not an integer past float's range)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def match_radius_px(item: dict, gsd_m: float | None, min_radius_px: float = 2.0) -> float:
    """How far a detection may lie from a truth item and still be it: half the item's visible
    extent (or size) in pixels plus 1.5 px for blur and registration, at least
    ``min_radius_px``."""
    size = float(item.get("extent_m") or item.get("size_m") or 0.0)
    if gsd_m and gsd_m > 0:
        return max(min_radius_px, 0.5 * size / gsd_m + 1.5)
    return min_radius_px


def footprint_distance_px(x, y, item: dict) -> np.ndarray:
    """Distance (px) from points (x, y) to a truth item: to its centre, or where it casts a
    shadow (``shadow_px``: dx, dy of the shadow's far end from the centre), to the nearest point
    of the segment from its centre to that end.

    Parameters
    ----------
    x, y : float or array_like
        Points in the truth's pixel grid.
    item : dict
        A truth item (``x``, ``y``, optionally ``shadow_px``).

    Returns
    -------
    numpy.ndarray
        The distances, shaped as ``x``.
    """
    dx = np.asarray(x, dtype=float) - float(item["x"])
    dy = np.asarray(y, dtype=float) - float(item["y"])
    sx, sy = (float(v) for v in item.get("shadow_px") or (0.0, 0.0))
    length2 = sx * sx + sy * sy
    if length2 > 0:
        along = np.clip((dx * sx + dy * sy) / length2, 0.0, 1.0)
        dx, dy = dx - along * sx, dy - along * sy
    return np.hypot(dx, dy)


def match(
    detections: list[dict],
    truth_items: list[dict],
    gsd_m: float | None,
    min_radius_px: float = 2.0,
) -> list[tuple[int, int, float]]:
    """One-to-one matches (detection index, truth index, distance px from the item's
    centre: the localisation error), minimising the total distance to the items' footprints
    (``footprint_distance_px``) among pairs within each truth item's radius (Hungarian
    algorithm)."""
    from scipy.optimize import linear_sum_assignment

    if not detections or not truth_items:
        return []
    d = np.array([[r["x"], r["y"]] for r in detections], dtype=float)
    dist = np.stack([footprint_distance_px(d[:, 0], d[:, 1], it) for it in truth_items], axis=1)
    t = np.array([[it["x"], it["y"]] for it in truth_items], dtype=float)
    centre = np.hypot(d[:, None, 0] - t[None, :, 0], d[:, None, 1] - t[None, :, 1])
    radius = np.array([match_radius_px(it, gsd_m, min_radius_px) for it in truth_items])
    allowed = dist <= radius[None, :]
    big = 1e6
    # normalised distance, so a big item's loose radius doesn't outbid a small item's tight one
    cost = np.where(allowed, dist / radius[None, :], big)
    rows, cols = linear_sum_assignment(cost)
    return [
        (int(r), int(c), float(centre[r, c]))
        for r, c in zip(rows, cols, strict=True)
        if allowed[r, c]
    ]


def _median(values: list[float]) -> float | None:
    return float(np.median(values)) if values else None


def evaluate_lists(
    detections: list[dict],
    truth: dict,
    min_radius_px: float = 2.0,
    min_score: float = 0.0,
) -> dict:
    """Scores of ``detections`` against a loaded ``truth`` dict (see module doc)."""
    dets = [r for r in detections if float(r.get("score", 1.0) or 0.0) >= min_score]
    items = truth["items"]
    gsd = truth.get("gsd_m")
    pairs = match(dets, items, gsd, min_radius_px)
    matched_t = {ti: (di, dd) for di, ti, dd in pairs}
    n_t, n_d, n_m = len(items), len(dets), len(pairs)
    correct = sum(1 for di, ti, _ in pairs if dets[di]["class"] == items[ti]["class"])
    errs = [dd for _, _, dd in pairs]
    classes = sorted({it["class"] for it in items} | {r["class"] for r in dets})
    per_class = {}
    for c in classes:
        t_idx = [i for i, it in enumerate(items) if it["class"] == c]
        d_idx = [i for i, r in enumerate(dets) if r["class"] == c]
        found = [i for i in t_idx if i in matched_t]
        right = [i for i in found if dets[matched_t[i][0]]["class"] == c]
        # precision per class: detections labelled c that matched a truth item of class c
        d_right = sum(
            1 for di, ti, _ in pairs if dets[di]["class"] == c and items[ti]["class"] == c
        )
        e = [matched_t[i][1] for i in found]
        per_class[c] = {
            "truth": len(t_idx),
            "detections": len(d_idx),
            "found": len(found),
            "recall": len(found) / len(t_idx) if t_idx else None,
            "class_accuracy": len(right) / len(found) if found else None,
            "precision": d_right / len(d_idx) if d_idx else None,
            "median_error_px": _median(e),
        }
    confusion: dict[str, dict[str, int]] = {}
    for di, ti, _ in pairs:
        row = confusion.setdefault(items[ti]["class"], {})
        row[dets[di]["class"]] = row.get(dets[di]["class"], 0) + 1
    med = _median(errs)
    changes = _changes_in(items)
    matches = [
        {
            "truth_id": items[ti].get("id", ti),
            "truth_class": items[ti]["class"],
            "detection_id": dets[di].get("id", di),
            "detection_class": dets[di]["class"],
            "error_px": round(dd, 3),
            "error_m": round(dd * gsd, 3) if gsd else None,
            **(
                {"truth_change": _change(items[ti]), "detection_change": _change(dets[di])}
                if changes
                else {}
            ),
        }
        for di, ti, dd in sorted(pairs, key=lambda p: p[1])
    ]
    missed = [
        {"truth_id": it.get("id", i), "class": it["class"], "x": it["x"], "y": it["y"]}
        | ({"change": _change(it)} if changes else {})
        for i, it in enumerate(items)
        if i not in matched_t
    ]
    result = {
        "recall": n_m / n_t if n_t else None,
        "precision": n_m / n_d if n_d else None,
        "class_accuracy": correct / n_m if n_m else None,
        "median_error_px": med,
        "median_error_m": med * gsd if (med is not None and gsd) else None,
        "truth": n_t,
        "detections": n_d,
        "matched": n_m,
        "gsd_m": gsd,
        "min_radius_px": min_radius_px,
        "per_class": per_class,
        "confusion": confusion,
        "matches": matches,
        "missed": missed,
    }
    if changes:
        result.update(_by_change(dets, items, pairs))
    return result


CHANGES = ("appeared", "vanished")  # reported always when the truth has changes; others as met


def _change(row: dict) -> str:
    """Which way the ground changed at a truth item or detection (``appeared`` when unsaid)."""
    return str(row.get("change") or "appeared")


def _changes_in(items: list[dict]) -> bool:
    """Whether the truth says which way each change went (or names moves)."""
    return any("change" in it or "moved_from" in it for it in items)


def _move_pairs(rows: list[dict], key: str = "id") -> set[frozenset[int]]:
    """Unordered pairs of row indices linked by ``moved_from`` (naming another row's ``key``,
    or its index without one)."""
    index = {row.get(key, i): i for i, row in enumerate(rows)}
    pairs = set()
    for i, row in enumerate(rows):
        other = index.get(row.get("moved_from")) if row.get("moved_from") is not None else None
        if other is not None and other != i:
            pairs.add(frozenset((i, other)))
    return pairs


def _by_change(dets: list[dict], items: list[dict], pairs: list[tuple[int, int, float]]) -> dict:
    """Recall per change, agreement of the detections' ``change`` and the moves found."""
    det_of = {ti: di for di, ti, _ in pairs}
    per_change = {}
    kinds = list(CHANGES) + sorted({_change(it) for it in items} - set(CHANGES))
    for kind in kinds:
        t_idx = [i for i, it in enumerate(items) if _change(it) == kind]
        found = [i for i in t_idx if i in det_of]
        right = [i for i in found if _change(dets[det_of[i]]) == kind]
        per_change[kind] = {
            "truth": len(t_idx),
            "found": len(found),
            "recall": len(found) / len(t_idx) if t_idx else None,
            "change_right": len(right),
            "change_accuracy": len(right) / len(found) if found else None,
        }
    right = sum(1 for di, ti, _ in pairs if _change(dets[di]) == _change(items[ti]))
    truth_moves = _move_pairs(items)
    linked = _move_pairs(dets)
    # a truth move is found when both its ends matched detections that name each other
    as_detections = {m: frozenset(det_of[t] for t in m) for m in truth_moves if m <= det_of.keys()}
    found_moves = [m for m, ends in as_detections.items() if ends in linked]
    true_links = {as_detections[m] for m in found_moves}
    return {
        "change_accuracy": right / len(pairs) if pairs else None,
        "per_change": per_change,
        "moves": {
            "truth": len(truth_moves),
            "found": len(found_moves),
            "recall": len(found_moves) / len(truth_moves) if truth_moves else None,
            "linked": len(linked),
            "precision": len(true_links) / len(linked) if linked else None,
        },
    }


def evaluate(
    detections_path: str | Path,
    truth_path: str | Path,
    min_radius_px: float = 2.0,
    min_score: float = 0.0,
) -> dict:
    """Score ``detections.geojson`` against ``truth.json``: a dict with ``recall``,
    ``precision``, ``class_accuracy``, ``median_error_px``, ``median_error_m``, ``per_class``,
    ``confusion``, ``matches`` and ``missed``; where the truth has ``change`` or ``moved_from``
    also ``change_accuracy``, ``per_change`` (``appeared``, ``vanished``: truth, found, recall,
    change_right, change_accuracy) and ``moves`` (truth, found, recall, linked, precision)."""
    return evaluate_lists(
        load_detections(detections_path), load_truth(truth_path), min_radius_px, min_score
    )


def format_report(res: dict) -> str:
    """A short plain-text table of an evaluation."""

    def f(v, pct=True):
        if v is None:
            return "—"
        return f"{100 * v:.0f}%" if pct else f"{v:.2f}"

    lines = [
        f"truth {res['truth']}, detections {res['detections']}, matched {res['matched']}",
        f"recall {f(res['recall'])}  precision {f(res['precision'])}  "
        f"class accuracy {f(res['class_accuracy'])}  median error "
        f"{f(res['median_error_px'], False)} px"
        + (f" ({res['median_error_m']:.1f} m)" if res.get("median_error_m") is not None else ""),
        f"{'class':<14}{'truth':>6}{'found':>6}{'recall':>8}{'right':>7}{'dets':>6}{'prec':>7}",
    ]
    for c, r in res["per_class"].items():
        lines.append(
            f"{c:<14}{r['truth']:>6}{r['found']:>6}{f(r['recall']):>8}"
            f"{f(r['class_accuracy']):>7}{r['detections']:>6}{f(r['precision']):>7}"
        )
    if "per_change" in res:
        lines.append(f"{'change':<14}{'truth':>6}{'found':>6}{'recall':>8}{'right':>7}")
        for c, r in res["per_change"].items():
            lines.append(
                f"{c:<14}{r['truth']:>6}{r['found']:>6}{f(r['recall']):>8}"
                f"{f(r['change_accuracy']):>7}"
            )
        m = res["moves"]
        lines.append(
            f"change right {f(res['change_accuracy'])}  moves found {m['found']} of "
            f"{m['truth']}, {m['linked']} linked (precision {f(m['precision'])})"
        )
    return "\n".join(lines)
