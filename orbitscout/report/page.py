"""``report.html``: one self-contained page of the detections."""

from __future__ import annotations

import base64
import html
from collections.abc import Callable

import numpy as np

from orbitscout.core.candidate import Candidate
from orbitscout.core.grid import PixelGrid
from orbitscout.core.window import Window
from orbitscout.report.pictures import chips

CHIPS = 24  # detections shown as before/after chips in the report


def html_report(
    grid: PixelGrid,
    read_after: Callable[..., np.ndarray],
    read_before: Callable[[Window], np.ndarray],
    found: list[Candidate],
    summary: dict,
    overview: bytes,
) -> str:
    """One self-contained page: the overview, a table, chips and the registration."""
    esc = html.escape
    rows = []
    for c in found:
        where = f"{c.lat:.5f}, {c.lon:.5f}" if c.lon is not None else "—"
        rel_s = _from_lander(c)
        rows.append(
            f"<tr><td>{c.id}</td><td>{esc(c.cls)}</td><td>{c.score:.2f}</td>"
            f"<td>{c.x:.1f}, {c.y:.1f}</td><td>{where}</td><td>{rel_s}</td>"
            f"<td>{esc(c.polarity)}</td>"
            f"<td>{_fmt(c.area_m2)}</td><td>{_fmt(c.length_m)}</td><td>{c.contrast:+.3f}</td>"
            f"<td>{c.peak_sigma:.1f}</td></tr>"
        )
    hardware = []
    for cls in ("lander", "parachute", "backshell", "heat_shield", "descent_stage"):
        for c in (c for c in found if c.cls == cls):
            where = (
                f"{c.lat:.5f}, {c.lon:.5f}" if c.lon is not None else f"x {c.x:.0f}, y {c.y:.0f}"
            )
            hardware.append(
                f"<tr><td>{esc(cls.replace('_', ' '))}</td><td>#{c.id}</td><td>{where}</td>"
                f"<td>{esc(_from_lander(c) or '—')}</td><td>{c.score:.2f}</td></tr>"
            )
    hardware_html = (
        "<table><tr><th>class</th><th>detection</th><th>where (lat, lon °)</th>"
        "<th>from lander</th><th>how sure (0–1)</th></tr>" + "".join(hardware) + "</table>"
        if hardware
        else "<p>No landing hardware identified.</p>"
    )
    chip_html = []
    for c in found[:CHIPS]:
        before_png, after_png = chips(grid, read_after, read_before, c)
        chip_html.append(
            f"<figure><img src='data:image/png;base64,{before_png}' alt='before'>"
            f"<img src='data:image/png;base64,{after_png}' alt='after'>"
            f"<figcaption>#{c.id} {esc(c.cls)} ({c.score:.2f}) — before | after</figcaption>"
            "</figure>"
        )
    r = summary["registration"]
    counts = ", ".join(f"{k}: {v}" for k, v in summary["counts"].items() if v) or "none"
    overview_b64 = base64.b64encode(overview).decode("ascii")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>orbitscout find report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; font-size: 0.9em; }}
td, th {{ border: 1px solid #ccc; padding: 3px 8px; text-align: right; }}
th {{ background: #eee; }}
figure {{ display: inline-block; margin: 6px; font-size: 0.8em; }}
figure img {{ width: 128px; height: 128px; image-rendering: pixelated; margin-right: 2px; }}
img.overview {{ max-width: 100%; }}
</style></head><body>
<h1>orbitscout — what changed</h1>
<p>BEFORE <code>{esc(summary["before"]["path"])}</code><br>
AFTER <code>{esc(summary["after"]["path"])}</code><br>
Body: {esc(str(summary["body"]))}; AFTER pixel size: {_fmt(summary["after"]["gsd_m"])} m.</p>
<h2>Registration</h2>
<p>A ground point at BEFORE pixel (x, y) lies at AFTER pixel (x + {r["dx"]:.3f}, y + {r["dy"]:.3f}),
rotated by {r["rotation_deg"]:.4f}° about the image centre; fit residual {r["residual_px"]:.3f} px
over {r["tiles"]} tiles.</p>
<h2>Landing hardware</h2>
<p>Each class at most once. The score is calibrated on simulated scenes of orbitscout's own
renderer only; it has not been checked on real images or on scenes of another renderer.</p>
{hardware_html}
<h2>Detections</h2>
<p>{len(found)} detections ({esc(counts)}).</p>
<img class="overview" src="data:image/png;base64,{overview_b64}" alt="overview">
<table><tr><th>id</th><th>class</th><th>score</th><th>x, y (px)</th><th>lat, lon (°)</th>
<th>from lander</th><th>polarity</th><th>area (m²)</th><th>length (m)</th><th>contrast</th>
<th>peak σ</th></tr>
{"".join(rows)}
</table>
<h2>Before and after</h2>
{"".join(chip_html)}
<h2>Timings</h2>
<p>{esc(", ".join(f"{k} {v:.2f}" for k, v in summary["timings"].items()))}</p>
<p><small>orbitscout {esc(summary["versions"]["orbitscout"])}</small></p>
</body></html>
"""


def _from_lander(c: Candidate) -> str:
    """'1200 m at 315° (NW)' from ``features['from_lander']``, in pixels without a pixel size."""
    rel = c.features.get("from_lander")
    if not rel:
        return ""
    bearing = rel["bearing_deg"]
    compass = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")[int((bearing % 360) / 45 + 0.5) % 8]
    if rel.get("distance_m") is not None:
        return f"{rel['distance_m']:.0f} m at {bearing:.0f}° ({compass})"
    return f"{rel.get('distance_px', 0):.0f} px at {bearing:.0f}° ({compass})"


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"
