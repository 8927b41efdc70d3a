"""Pictures for the planning commands: ``plan``, ``relay`` and ``edl`` with ``--plot FILE``.

Each function is pure over what its command has already computed (the JSON rows) and writes one
PNG or SVG file (chosen by the extension) whole or not at all. Whatever needs the orbit (ground
tracks, elevation profiles, sols) comes in as a callback, so this module imports only ``core``
(see ``tests/test_layout.py``). matplotlib (Agg) is imported inside the functions, so commands
that draw nothing stay light.

Every function returns the values it drew, read back from the drawn artists, so a test can
check that the picture shows the numbers of the command's ``--json`` output.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from orbitscout.core.atomic import atomic_file
from orbitscout.core.errors import OrbitscoutError

__all__ = [
    "FIGSIZE_IN",
    "DPI",
    "PIXELS",
    "check_plot_path",
    "plan_plot",
    "relay_plot",
    "edl_plot",
]

FIGSIZE_IN = (10.0, 7.5)  # width, height of every figure in inches
DPI = 100  # so every PNG is 1000 x 750 pixels
PIXELS = (round(FIGSIZE_IN[0] * DPI), round(FIGSIZE_IN[1] * DPI))  # (width, height) of a PNG
FORMATS = {".png": "png", ".svg": "svg"}
TRACK_HALF_S = 300.0  # ground track drawn from this long before a window's best time to after
TRACK_SAMPLES = 121
PROFILE_SAMPLES = 61  # elevation samples per relay pass (plus the time of its maximum)
MAP_HALF_DEG = 8.0  # the plan map spans the site +- this much latitude
# a chi-square quantile with 2 degrees of freedom: the ellipse holding 95 % of a 2-D Gaussian
# is the 1-sigma ellipse scaled by sqrt(-2 ln 0.05) = 2.448
SIGMA_95 = math.sqrt(-2.0 * math.log(0.05))
# dark enough to read on white (report.pictures' colours are made for dark images)
PIECE_COLOURS = {
    "heat_shield": "#d84315",
    "backshell": "#f9a825",
    "parachute": "#1565c0",
    "descent_stage": "#8e24aa",
}

Track = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def check_plot_path(path: str | Path) -> str:
    """The format to write ``path`` in, checked before any work is done.

    Parameters
    ----------
    path : str or pathlib.Path
        The ``--plot`` file: its extension chooses the format.

    Returns
    -------
    str
        ``"png"`` or ``"svg"``.

    Raises
    ------
    OrbitscoutError
        (about ``--plot``) for another extension, or a folder that does not exist.
    """
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        got = f"'{path.suffix}'" if path.suffix else "no extension"
        raise OrbitscoutError(f"{path} has {got}: give a file ending in .png or .svg", "--plot")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise OrbitscoutError(f"folder {parent} does not exist (for {path})", "--plot")
    return fmt


def _figure():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=FIGSIZE_IN, dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: str | Path, fmt: str) -> None:
    """Write the figure at its fixed size (no tight bounding box, so a PNG is ``PIXELS``)."""
    metadata = {"Date": None} if fmt == "svg" else {"Software": None}
    with atomic_file(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=DPI, metadata=metadata)


def _times(texts: Sequence[str]) -> np.ndarray:
    """ISO 8601 UTC texts of the rows (``...Z``) as ``datetime64[us]``."""
    return np.array([np.datetime64(str(t).rstrip("Zz"), "us") for t in texts], dtype="M8[us]")


def _illustrative(rows: Sequence[dict]) -> str:
    return (
        " — ILLUSTRATIVE pass times (placeholder elements)"
        if any(r.get("illustrative") for r in rows)
        else ""
    )


def _dates_back(x: np.ndarray) -> list[str]:
    """matplotlib date numbers back to ISO 8601 UTC texts to the millisecond."""
    from matplotlib import dates

    out = []
    for v in np.asarray(x, dtype=float):
        d = np.datetime64(dates.num2date(v).replace(tzinfo=None), "ms")
        out.append(f"{d}Z")
    return out


def _wrap(lon: np.ndarray, lon0: float) -> np.ndarray:
    """Longitudes unwrapped around ``lon0`` (no jump at the antimeridian)."""
    return lon0 + np.mod(np.asarray(lon, dtype=float) - lon0 + 180.0, 360.0) - 180.0


# ------------------------------------------------------------------------------------- plan
def plan_plot(
    rows: Sequence[dict],
    path: str | Path,
    *,
    site: tuple[float, float],
    start_utc: str,
    end_utc: str,
    ground_track: Track | None = None,
    title: str = "",
) -> dict[str, Any]:
    """The imaging windows of ``plan``: a timeline and the ground tracks near the site.

    Top: each window at its best time (x, UTC over the span asked) and solar incidence (y),
    coloured by GSD, its number written beside it. Bottom: a lon/lat map around the site with
    each window's ground track from ``TRACK_HALF_S`` before its best time to as long after,
    coloured by the same GSD, and the site marked.

    Parameters
    ----------
    rows : sequence of dict
        ``plan``'s JSON rows (``utc``, ``gsd_m``, ``incidence_deg``, ``illustrative``...).
    path : str or pathlib.Path
        The ``.png`` or ``.svg`` file to write.
    site : tuple of float
        (lat, lon) of the site, degrees.
    start_utc, end_utc : str
        The span asked (ISO 8601 UTC): the timeline's extent.
    ground_track : callable, optional
        ``ground_track(times)`` for ``datetime64[us]`` times gives (lat, lon) arrays in degrees
        of the sub-spacecraft point; no map tracks without it.
    title : str
        The figure's title (an illustrative orbiter's mark is added from the rows).

    Returns
    -------
    dict
        What was drawn: ``utc`` (texts), ``incidence_deg``, ``gsd_m`` (``None`` where not
        modelled), ``labels`` (window numbers), ``tracks`` (list of (lat, lon) arrays), ``site`` and
        ``title`` (marked ILLUSTRATIVE where a row is).
    """
    fmt = check_plot_path(path)
    from matplotlib import dates

    lat0, lon0 = float(site[0]), float(site[1])
    t = _times([r["utc"] for r in rows])
    inc = np.array([float(r["incidence_deg"]) for r in rows])
    gsd = np.array([np.nan if r.get("gsd_m") is None else float(r["gsd_m"]) for r in rows])
    has_gsd = bool(np.isfinite(gsd).any())

    fig = _figure()
    ax_t, ax_m = fig.subplots(2, 1, gridspec_kw={"height_ratios": [1.0, 1.6]})
    fig.subplots_adjust(left=0.08, right=0.92, top=0.91, bottom=0.07, hspace=0.3)
    heading = fig.suptitle((title or "Imaging windows") + _illustrative(rows), fontsize=11)

    # timeline
    span = _times([start_utc, end_utc])
    ax_t.set_xlim(dates.date2num(span[0]), dates.date2num(span[1]))
    x = dates.date2num(t) if t.size else np.zeros(0)
    norm = None
    if has_gsd:
        from matplotlib.colors import Normalize

        lo, hi = np.nanmin(gsd), np.nanmax(gsd)
        norm = Normalize(lo, hi if hi > lo else lo + 1e-6)
    sc = ax_t.scatter(
        x,
        inc,
        c=gsd if has_gsd else "0.4",
        cmap="viridis_r" if has_gsd else None,
        norm=norm,
        s=36,
        edgecolors="k",
        linewidths=0.4,
        zorder=3,
        plotnonfinite=True,
    )
    labels = [str(i + 1) for i in range(len(rows))]
    if len(rows) <= 60:
        for xi, yi, lab in zip(x, inc, labels, strict=True):
            ax_t.annotate(lab, (xi, yi), xytext=(3, 3), textcoords="offset points", fontsize=7)
    if has_gsd:
        fig.colorbar(sc, ax=[ax_t, ax_m], pad=0.02, fraction=0.04, label="GSD (m/px)")
    ax_t.set_ylabel("solar incidence (°)")
    ax_t.set_ylim(0.0, 90.0)
    ax_t.invert_yaxis()  # high Sun at the top
    ax_t.grid(alpha=0.3)
    locator = dates.AutoDateLocator()
    ax_t.xaxis.set_major_locator(locator)
    ax_t.xaxis.set_major_formatter(dates.ConciseDateFormatter(locator))
    ax_t.set_xlabel("UTC")
    if not rows:
        ax_t.text(0.5, 0.5, "no imaging windows", transform=ax_t.transAxes, ha="center")

    # map
    tracks: list[tuple[np.ndarray, np.ndarray]] = []
    if ground_track is not None and t.size:
        from matplotlib import colormaps

        cmap = colormaps["viridis_r"]
        offsets = np.round(np.linspace(-TRACK_HALF_S, TRACK_HALF_S, TRACK_SAMPLES) * 1e6)
        for i, ti in enumerate(t):
            times = ti + offsets.astype("int64").astype("m8[us]")
            tlat, tlon = ground_track(times)
            tlon = _wrap(tlon, lon0)
            colour = cmap(norm(gsd[i])) if has_gsd and np.isfinite(gsd[i]) else "0.4"
            (line,) = ax_m.plot(tlon, tlat, color=colour, lw=1.2)
            k = TRACK_SAMPLES // 2
            ax_m.plot(tlon[k], tlat[k], "o", color=colour, ms=3)
            if len(rows) <= 60:
                ax_m.annotate(labels[i], (tlon[k], tlat[k]), xytext=(3, 3),
                              textcoords="offset points", fontsize=7)  # fmt: skip
            xd, yd = line.get_data()
            tracks.append((np.asarray(yd, dtype=float), np.asarray(xd, dtype=float)))
    (site_mark,) = ax_m.plot(lon0, lat0, "*", color="crimson", ms=14, mec="k", label="site")
    coslat = max(math.cos(math.radians(lat0)), 0.1)
    # as much longitude as fills the map's box at true shape (1 deg of lon = cos(lat) of lat)
    box = ax_m.get_position()
    w_in, h_in = box.width * FIGSIZE_IN[0], box.height * FIGSIZE_IN[1]
    half_lon = min(MAP_HALF_DEG * w_in / (h_in * coslat), 180.0)
    ax_m.set_xlim(lon0 - half_lon, lon0 + half_lon)
    ax_m.set_ylim(max(lat0 - MAP_HALF_DEG, -90.0), min(lat0 + MAP_HALF_DEG, 90.0))
    ax_m.set_aspect(1.0 / coslat, adjustable="box")
    ax_m.set_xlabel("east longitude (°)")
    ax_m.set_ylabel("latitude (°)")
    ax_m.grid(alpha=0.3)
    ax_m.legend(loc="upper right", fontsize=8)
    ax_m.set_title(
        f"ground tracks ±{TRACK_HALF_S / 60:.0f} min around each window's best time", fontsize=9
    )
    _save(fig, path, fmt)

    off = np.asarray(sc.get_offsets(), dtype=float).reshape(-1, 2)
    colours = np.ma.filled(sc.get_array(), np.nan) if has_gsd else np.full(len(rows), np.nan)
    sx, sy = site_mark.get_data()
    return {
        "utc": _dates_back(off[:, 0]),
        "incidence_deg": off[:, 1].tolist(),
        "gsd_m": [None if not np.isfinite(g) else float(g) for g in colours],
        "labels": labels,
        "tracks": tracks,
        "site": (float(np.ravel(sy)[0]), float(np.ravel(sx)[0])),
        "title": heading.get_text(),
    }


# ------------------------------------------------------------------------------------ relay
def relay_plot(
    rows: Sequence[dict],
    path: str | Path,
    *,
    elevation: Callable[[np.ndarray], np.ndarray],
    sol_of: Callable[[np.ndarray], np.ndarray],
    sol_label: str = "sol",
    min_elevation_deg: float | None = None,
    title: str = "",
) -> dict[str, Any]:
    """The relay passes of ``relay``: elevation against time in each pass, data volume per sol.

    Top: each pass's elevation against minutes since its rise (sampled between rise and set
    and at the time of its maximum), its maximum marked. Bottom: the passes' data volume
    summed per sol (a pass counts in the sol of its maximum).

    Parameters
    ----------
    rows : sequence of dict
        ``relay``'s JSON rows (``rise_utc``, ``set_utc``, ``max_elevation_utc``,
        ``max_elevation_deg``, ``data_volume_mbit``, ``illustrative``...).
    path : str or pathlib.Path
        The ``.png`` or ``.svg`` file to write.
    elevation : callable
        ``elevation(times)`` for ``datetime64[us]`` times: the orbiter's elevation (deg) seen
        from the site.
    sol_of : callable
        ``sol_of(times)``: a day count whose integer part numbers the sol (e.g. the Mars sol
        date at the site's longitude).
    sol_label : str
        What the day count is, for the axis (``"sol"``, ``"UTC day"``).
    min_elevation_deg : float, optional
        The elevation mask, drawn as a line.
    title : str
        The figure's title (an illustrative orbiter's mark is added from the rows).

    Returns
    -------
    dict
        What was drawn: ``rise_utc`` (texts), ``max_elevation_deg`` (the marked maxima),
        ``profile_max_deg`` (the highest sample of each drawn profile), ``sols`` (ints) and
        ``volume_mbit`` (bar heights, one per sol) and ``title`` (marked ILLUSTRATIVE where a
        row is).
    """
    fmt = check_plot_path(path)
    from matplotlib import colormaps

    fig = _figure()
    ax_e, ax_v = fig.subplots(2, 1)
    fig.subplots_adjust(left=0.09, right=0.97, top=0.91, bottom=0.08, hspace=0.35)
    heading = fig.suptitle((title or "Relay passes") + _illustrative(rows), fontsize=11)

    rise = _times([r["rise_utc"] for r in rows])
    sets = _times([r["set_utc"] for r in rows])
    tmax = _times([r["max_elevation_utc"] for r in rows])
    cmap = colormaps["viridis"]
    peaks_x, peaks_y, profile_max = [], [], []
    for i in range(len(rows)):
        dur_us = float((sets[i] - rise[i]) / np.timedelta64(1, "us"))
        steps = np.linspace(0.0, dur_us, PROFILE_SAMPLES).astype("int64").astype("m8[us]")
        times = np.sort(np.concatenate([rise[i] + steps, tmax[i : i + 1]]))
        el = np.asarray(elevation(times), dtype=float)
        minutes = (times - rise[i]) / np.timedelta64(60, "s")
        colour = cmap(i / max(len(rows) - 1, 1))
        label = f"{i + 1}: {str(rows[i]['rise_utc'])[:16].replace('T', ' ')}"
        (line,) = ax_e.plot(minutes, el, color=colour, lw=1.2, label=label)
        profile_max.append(float(np.max(line.get_ydata())))
        m = float((tmax[i] - rise[i]) / np.timedelta64(60, "s"))
        peaks_x.append(m)
        peaks_y.append(float(rows[i]["max_elevation_deg"]))
    peaks = ax_e.scatter(peaks_x, peaks_y, c="k", marker="^", s=18, zorder=3, label="maximum")
    if min_elevation_deg is not None:
        ax_e.axhline(min_elevation_deg, color="0.5", ls="--", lw=0.8)
    ax_e.set_xlabel("minutes since rise")
    ax_e.set_ylabel("elevation (°)")
    ax_e.set_ylim(bottom=min(0.0, min_elevation_deg or 0.0), top=90.0)
    ax_e.grid(alpha=0.3)
    if 0 < len(rows) <= 12:
        ax_e.legend(fontsize=7, ncol=2, loc="upper right")
    if not rows:
        ax_e.text(0.5, 0.5, "no relay passes", transform=ax_e.transAxes, ha="center")

    sol = np.floor(np.asarray(sol_of(tmax), dtype=float)).astype(int) if rows else np.zeros(0, int)
    vol = np.array([float(r["data_volume_mbit"]) for r in rows])
    sols = np.unique(sol)
    per_sol = np.array([vol[sol == s].sum() for s in sols])
    bars = ax_v.bar(sols, per_sol, color="#1565c0", width=0.7)
    for s, v in zip(sols, per_sol, strict=True):
        ax_v.annotate(f"{v:.0f}", (s, v), xytext=(0, 2), textcoords="offset points",
                      ha="center", fontsize=7)  # fmt: skip
    ax_v.set_xlabel(sol_label)
    ax_v.ticklabel_format(axis="x", useOffset=False, style="plain")
    ax_v.set_ylabel("data volume (Mbit)")
    ax_v.grid(alpha=0.3, axis="y")
    if sols.size:
        ax_v.set_xticks(sols if sols.size <= 20 else sols[:: math.ceil(sols.size / 20)])
    _save(fig, path, fmt)

    off = np.asarray(peaks.get_offsets(), dtype=float).reshape(-1, 2)
    return {
        "rise_utc": [str(r["rise_utc"]) for r in rows],
        "max_elevation_deg": off[:, 1].tolist(),
        "profile_max_deg": profile_max,
        "sols": [int(round(b.get_x() + b.get_width() / 2)) for b in bars],
        "volume_mbit": [float(b.get_height()) for b in bars],
        "title": heading.get_text(),
    }


# -------------------------------------------------------------------------------------- edl
def _ellipse(centre: tuple[float, float], cov: np.ndarray, scale: float, **kw):
    """A matplotlib Ellipse of the covariance ``cov`` (east/north, m^2) scaled by ``scale``."""
    from matplotlib.patches import Ellipse

    w, v = np.linalg.eigh(np.asarray(cov, dtype=float))
    w = np.maximum(w, 0.0)
    angle = math.degrees(math.atan2(v[1, 1], v[0, 1]))  # major axis, anticlockwise from east
    return Ellipse(
        centre,
        width=2.0 * scale * math.sqrt(w[1]),
        height=2.0 * scale * math.sqrt(w[0]),
        angle=angle,
        **kw,
    )


def edl_plot(rows: Sequence[dict], path: str | Path, *, title: str = "") -> dict[str, Any]:
    """The debris ellipses of ``edl`` around the lander, the published positions marked.

    Each piece: its mean offset, its 1-sigma ellipse (solid) and 95 % ellipse (dashed); its
    published position where the distance and bearing are published (a dotted circle where
    only the distance is). The lander is at (0, 0); axes are metres east and north, equal.

    Parameters
    ----------
    rows : sequence of dict
        ``edl``'s JSON rows (``class``, ``east_m``, ``north_m``, ``cov``,
        ``published_distance_m``, ``published_bearing_deg``).
    path : str or pathlib.Path
        The ``.png`` or ``.svg`` file to write.
    title : str
        The figure's title.

    Returns
    -------
    dict
        What was drawn, per class: ``centres`` (east, north) of the ellipses,
        ``semi_axes_m`` (major, minor) of the 1-sigma ones, ``published`` (east, north) of the
        marked positions and ``published_circles_m`` (radius) where only a distance is known.
    """
    fmt = check_plot_path(path)
    fig = _figure()
    ax = fig.subplots()
    fig.subplots_adjust(left=0.1, right=0.97, top=0.92, bottom=0.09)
    ax.set_title(title or "EDL hardware around the lander", fontsize=11)

    centres: dict[str, tuple[float, float]] = {}
    semi: dict[str, tuple[float, float]] = {}
    published: dict[str, tuple[float, float]] = {}
    circles: dict[str, float] = {}
    extent = [1.0]
    at: dict[tuple[int, int], list[tuple[str, str]]] = {}  # published positions -> pieces
    for r in rows:
        cls = str(r["class"])
        colour = PIECE_COLOURS.get(cls, "0.3")
        centre = (float(r["east_m"]), float(r["north_m"]))
        cov = np.asarray(r["cov"], dtype=float)
        e1 = _ellipse(centre, cov, 1.0, fill=False, color=colour, lw=1.5, label=cls)
        e2 = _ellipse(centre, cov, SIGMA_95, fill=False, color=colour, lw=0.8, ls="--")
        ax.add_patch(e2)
        ax.add_patch(e1)
        ax.plot(*centre, "+", color=colour, ms=9)
        centres[cls] = (float(e1.center[0]), float(e1.center[1]))
        semi[cls] = (float(e1.width / 2), float(e1.height / 2))
        extent += [abs(centre[0]) + e2.width / 2, abs(centre[1]) + e2.width / 2]
        dist, bearing = r.get("published_distance_m"), r.get("published_bearing_deg")
        if dist is not None and bearing is not None:
            b = math.radians(float(bearing))
            pe, pn = float(dist) * math.sin(b), float(dist) * math.cos(b)
            (mark,) = ax.plot(pe, pn, "o", mfc="none", mec=colour, ms=10, mew=2)
            at.setdefault((round(pe), round(pn)), []).append((cls, colour))
            mx, my = mark.get_data()
            published[cls] = (float(np.ravel(mx)[0]), float(np.ravel(my)[0]))
            extent += [abs(pe), abs(pn)]
        elif dist is not None:
            from matplotlib.patches import Circle

            circle = Circle((0, 0), float(dist), fill=False, color=colour, ls=":", lw=1.0)
            ax.add_patch(circle)
            circles[cls] = float(circle.get_radius())
            extent.append(float(dist))
    for (pe, pn), pieces in at.items():  # one label per position (pieces may share one)
        names = ", ".join(c for c, _ in pieces)
        colour = pieces[0][1] if len(pieces) == 1 else "0.2"
        ax.annotate(f"{names} (published)", (pe, pn), xytext=(7, -12),
                    textcoords="offset points", fontsize=8, color=colour)  # fmt: skip
    ax.plot(0, 0, "s", color="k", ms=8, label="lander")
    from matplotlib.lines import Line2D

    handles, _ = ax.get_legend_handles_labels()
    handles += [
        Line2D([], [], color="0.3", lw=1.5, label="1σ ellipse"),
        Line2D([], [], color="0.3", lw=0.8, ls="--", label="95 % ellipse"),
        Line2D([], [], marker="o", mfc="none", mec="0.3", ls="none", ms=9, label="published"),
    ]
    if circles:
        handles.append(Line2D([], [], color="0.3", ls=":", lw=1.0, label="published distance"))
    ax.legend(handles=handles, fontsize=8, loc="upper right")
    half = 1.1 * max(extent)
    ax.set_xlim(-half, half)
    ax.set_ylim(-half, half)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("east of the lander (m)")
    ax.set_ylabel("north of the lander (m)")
    ax.grid(alpha=0.3)
    _save(fig, path, fmt)
    return {
        "centres": centres,
        "semi_axes_m": semi,
        "published": published,
        "published_circles_m": circles,
    }
