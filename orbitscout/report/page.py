"""``report.html``: the viewer's page, with the tables and the registration as plain HTML (they
read without scripts too); the map, blink, swipe and the details come from ``report/``."""

from __future__ import annotations

import html

from orbitscout.core.candidate import Candidate
from orbitscout.core.classes import CLASSES
from orbitscout.core.geometry import compass
from orbitscout.report.pictures import CLASS_COLOURS
from orbitscout.report.viewer import FOLDER

HARDWARE = ("lander", "parachute", "backshell", "heat_shield", "descent_stage")
GALLERY = 24  # detections shown as before/after chips on the page (all in the viewer)


def _signed(value: float, digits: int = 3) -> str:
    """'+ 1.250' or '− 18.149': a term of a sum, never '+ -18.149'."""
    return f"{'−' if value < 0 else '+'} {abs(value):.{digits}f}"


def html_report(found: list[Candidate], summary: dict, viewer: dict | None = None) -> str:
    """The page of one ``find``: viewer, landing hardware, detections, registration, timings.

    Parameters
    ----------
    found : list of Candidate
        The detections.
    summary : dict
        What ``summary.json`` holds.
    viewer : dict, optional
        What ``viewer.write_viewer`` returned (layers present, chips); None: no viewer folder.

    Returns
    -------
    str
        The HTML.
    """
    esc = html.escape
    viewer = viewer or {"layers": [], "chips": {}}
    present = [k for k in CLASSES if any(c.cls == k for c in found)]
    rows = []
    ends = move_ends(found)
    for c in found:
        where = f"{c.lat:.5f}, {c.lon:.5f}" if c.lon is not None else "—"
        rows.append(
            f"<tr data-id='{c.id}' data-change='{esc(c.change)}'><td>{c.id}</td>"
            f"<td class='l'>{_swatch(c.cls, c.change)}{esc(c.cls)}</td>"
            f"<td>{c.score:.2f}</td><td class='l change'>{esc(c.change)}</td>"
            f"<td>{_fmt(c.change_score, 2)}</td><td class='l'>{esc(move_text(c, ends))}</td>"
            f"<td class='l'>{esc(_alternative(c))}</td>"
            f"<td>{c.x:.1f}, {c.y:.1f}</td><td>{where}</td>"
            f"<td>{esc(_from_lander(c))}</td><td class='l'>{esc(c.polarity)}</td>"
            f"<td>{_fmt(c.area_m2)}</td><td>{_fmt(c.length_m)}</td><td>{c.contrast:+.3f}</td>"
            f"<td>{c.peak_sigma:.1f}</td></tr>"
        )
    hardware = []
    for cls in HARDWARE:
        for c in (c for c in found if c.cls == cls):
            where = (
                f"{c.lat:.5f}, {c.lon:.5f}" if c.lon is not None else f"x {c.x:.0f}, y {c.y:.0f}"
            )
            hardware.append(
                f"<tr data-id='{c.id}'><td class='l'>{_swatch(cls, c.change)}"
                f"{esc(cls.replace('_', ' '))}{_vanished_mark(c)}</td><td>#{c.id}</td>"
                f"<td>{where}</td>"
                f"<td>{esc(_from_lander(c) or '—')}</td><td>{c.score:.2f}</td></tr>"
            )
    hardware_html = (
        "<div class='scroll'><table class='data'><tr><th class='l'>class</th><th>detection</th>"
        "<th>where (lat, lon °)</th><th>from lander</th><th>how sure (0–1)</th></tr>"
        + "".join(hardware)
        + "</table></div>"
        if hardware
        else "<p>No landing hardware identified.</p>"
    )
    filters = "".join(
        f"<label class='cls'><input type='checkbox' data-class='{esc(k)}' checked>"
        f"{_swatch(k)}{esc(k.replace('_', ' '))} ({sum(c.cls == k for c in found)})</label>"
        for k in present
    )
    shown = sorted(found, key=lambda c: (c.cls not in HARDWARE, -c.score))[:GALLERY]
    gallery = "".join(
        f"<figure class='chip' data-id='{c.id}'><img src='{esc(viewer['chips'][c.id])}' "
        f"alt='before and after of detection {c.id}' loading='lazy'>"
        f"<figcaption>#{c.id} {esc(c.cls.replace('_', ' '))} ({c.score:.2f}): before | after"
        "</figcaption>"
        "</figure>"
        for c in shown
        if c.id in viewer["chips"]
    )
    r = summary["registration"]
    n_tiles = r.get("tiles")
    if n_tiles is None:
        tiles = ""
    elif n_tiles == 0:
        tiles = " (the coarse search alone: no window agreed with it)"
    else:
        tiles = f" over {n_tiles} tiles"
    counts = ", ".join(f"{k}: {v}" for k, v in summary["counts"].items() if v) or "none"
    changes = summary.get("changes") or {}
    change_line = ", ".join(
        f"{v} {k if k != 'moves' else 'possible move' if v == 1 else 'possible moves'}"
        for k, v in changes.items()
        if v
    )
    body = summary.get("body")
    body_text = esc(str(body)) if body else "not known (the files do not say)"
    gsd = summary["after"].get("gsd_m")
    gsd_text = f"{gsd:.3f} m" if gsd else "not known (no map projection)"
    title = (
        f"orbitscout: {len(found)} detections, "
        f"{esc(_name(summary['after']['path']))} vs {esc(_name(summary['before']['path']))}"
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{FOLDER}/leaflet/leaflet.css">
<link rel="stylesheet" href="{FOLDER}/viewer.css">
</head><body><main>
<h1>orbitscout — what changed</h1>
<p class="paths">BEFORE <code>{esc(summary["before"]["path"])}</code><br>
AFTER <code>{esc(summary["after"]["path"])}</code><br>
Body: {body_text}; AFTER pixel size: {gsd_text}.</p>
<section id="viewer" aria-label="before and after viewer">
<div id="toolbar">
<fieldset><legend>layer</legend>
<label><input type="radio" name="layer" value="after" checked> after</label>
<label><input type="radio" name="layer" value="before"> before</label>
<label><input type="radio" name="layer" value="diff"> difference</label>
</fieldset>
<fieldset><legend>compare</legend>
<button id="blink" type="button" aria-pressed="false" title="before ⇄ after (key b)">blink</button>
<label><input type="checkbox" id="auto"> auto</label>
<label><input type="number" id="rate" min="0.25" max="10" step="0.25" value="2"> /s</label>
<label><input type="checkbox" id="swipe"> swipe</label>
</fieldset>
<fieldset><legend>detections</legend>{filters}
<label>score ≥ <input type="range" id="min-score" min="0" max="1" step="0.01" value="0">
<span id="min-score-value">0.00</span></label>
</fieldset>
</div>
<div id="mapcol"><div id="mapbox"><div id="map"></div><div id="divider" hidden tabindex="0"
 aria-label="swipe divider"></div></div>
<div id="status"><span>showing <span id="shown">AFTER</span>
<span id="diff-legend" hidden>(<i style="background:#ff9628"></i> brighter,
<i style="background:#288cff"></i> darker)</span></span>
<span id="shown-count"></span><span id="cursor">—</span></div></div>
<aside id="details"><p class="hint">Click a detection on the map or in the table.</p></aside>
</section>
<noscript><p>The viewer needs JavaScript; the tables below and
<a href="overview.png">overview.png</a> do not.</p></noscript>
<h2>Landing hardware</h2>
<p>Each class at most once. The score is calibrated on simulated scenes of orbitscout's own
renderer only; it has not been checked on real images or on scenes of another renderer.</p>
{hardware_html}
<h2>Detections</h2>
<p>{len(found)} detections ({esc(counts)}){"; " + esc(change_line) if change_line else ""}.
A vanished detection (something of BEFORE gone in AFTER) is outlined dashed; a possible move
(a vanished object and a like one that appeared nearby) is drawn as an arrow from the one to the
other. Click a row to see it on the map.</p>
<div class="scroll tall"><table class="data" id="detections"><tr><th>id</th>
<th class="l">class</th><th>score</th><th class="l">change</th>
<th title="probability that the ground really changed">changed (0–1)</th>
<th class="l">possible move</th><th class="l">or else (0–1)</th>
<th>x, y (px)</th><th>lat, lon (°)</th>
<th>from lander</th><th class="l">polarity</th><th>area (m²)</th><th>length (m)</th>
<th>contrast</th><th>peak σ</th></tr>
{"".join(rows)}
</table></div>
<p><a href="overview.png"><img class="overview" src="overview.png" alt="overview: the AFTER
image with each detection outlined and labelled" loading="lazy"></a></p>
<h2>Before and after</h2>
<p>Each pair on one stretch (the same black and white points for both halves), BEFORE levelled
onto AFTER's brightness; landing hardware first, then by score. Click one to see it on the
map.</p>
<div class="gallery">{gallery}</div>
<h2>Registration</h2>
<p>A ground point at BEFORE pixel (x, y) lies at AFTER pixel (x {_signed(r["dx"])},
y {_signed(r["dy"])}), rotated by {r["rotation_deg"]:.4f}° about the image centre; fit residual
{r["residual_px"]:.3f} px{tiles}. The viewer shows BEFORE resampled onto the
AFTER grid by this registration and levelled onto AFTER's brightness.</p>
<h2>Timings</h2>
<p>{esc(", ".join(f"{k} {v:.2f}" for k, v in summary["timings"].items()))}</p>
<footer>orbitscout {esc(summary["versions"]["orbitscout"])}. Map library: Leaflet 1.9.4
(BSD-2-Clause, <a href="{FOLDER}/leaflet/LICENSE">licence</a>), vendored; the page needs no
network.</footer>
</main>
<script src="{FOLDER}/leaflet/leaflet.js"></script>
<script src="{FOLDER}/data.js"></script>
<script src="{FOLDER}/viewer.js"></script>
</body></html>
"""


def _name(path: str) -> str:
    return str(path).replace("\\", "/").rsplit("/", 1)[-1]


def _swatch(cls: str, change: str = "appeared") -> str:
    style = "dashed" if change == "vanished" else "solid"
    colour = CLASS_COLOURS.get(cls, "#fff")
    return f"<span class='swatch' style='border:3px {style} {colour}'></span>"


def move_text(c: Candidate, ends: dict[int, Candidate]) -> str:
    """'from #3: 12 m at 45° (NE)' (or 'to #7: ...' at the move's other end, which names no
    ``moved_from`` of its own); '' for no possible move.

    Parameters
    ----------
    c : Candidate
        The detection.
    ends : dict
        Per id, the detection whose ``moved_from`` names it (``move_ends``).

    Returns
    -------
    str
        The text.
    """
    if c.moved_from is not None:
        return f"from #{c.moved_from}" + (f": {_distance_bearing(c.move)}" if c.move else "")
    other = ends.get(c.id)
    if other is None:
        return ""
    return f"to #{other.id}" + (f": {_distance_bearing(other.move)}" if other.move else "")


def move_ends(found: list[Candidate]) -> dict[int, Candidate]:
    """Per id, the detection whose ``moved_from`` names it (a move's far end)."""
    return {c.moved_from: c for c in found if c.moved_from is not None and c.moved_from != c.id}


def _vanished_mark(c: Candidate) -> str:
    return " (vanished)" if c.change == "vanished" else ""


def _distance_bearing(move: dict) -> str:
    bearing = move.get("bearing_deg")
    if move.get("distance_m") is not None:
        distance = f"{move['distance_m']:.0f} m"
    elif move.get("distance_px") is not None:
        distance = f"{move['distance_px']:.0f} px"
    else:
        distance = "?"
    if bearing is None:
        return distance
    return f"{distance} at {bearing:.0f}° ({compass(bearing)})"


def _alternative(c: Candidate) -> str:
    if c.alternative is None:
        return ""
    score = "" if c.alternative_score is None else f" {c.alternative_score:.2f}"
    return f"{c.alternative.replace('_', ' ')}{score}"


def _from_lander(c: Candidate) -> str:
    """'1200 m at 315° (NW)' from ``features['from_lander']``, in pixels without a pixel size."""
    rel = c.features.get("from_lander")
    if not rel:
        return ""
    if c.cls == "lander":
        return "— (the lander)"
    bearing = rel["bearing_deg"]
    if rel.get("distance_m") is not None:
        return f"{rel['distance_m']:.0f} m at {bearing:.0f}° ({compass(bearing)})"
    return f"{rel.get('distance_px', 0):.0f} px at {bearing:.0f}° ({compass(bearing)})"


def _fmt(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"
